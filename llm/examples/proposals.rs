//! A one-step probe of EvoLLM prompt designs: does the model's proposed mean beat "the best
//! point so far" (Gaussian hill climbing's mean)?
//!
//! Contexts come from Gaussian hill-climbing runs (mean = best so far, popsize 8, EvoLLM's σ
//! schedule 0.2·0.9^g of the range, bounds [-5, 5]) stopped after a few generations, on
//! sphere, ellipsoid, Rosenbrock and Rastrigin with a random optimum, at d = 2 and 5
//! (CONTEXTS_PER_CELL each): the 8 best members, shown worst to best, fitness as 10..100. For
//! each context a variant (prompt text / resolution / temperature / samples, whose
//! coordinate-wise median is the mean) proposes a mean; 8 points are sampled around it and
//! around the best so far with the same normal draws (the mean itself first). Printed: in how
//! many contexts the proposal's population found a better point than hill climbing's, the
//! median log10 ratio of the two (negative: the model helps), and the median distance of the
//! proposal from the best in grid steps. BENCHMARKS.md ("Variants tried") has the results.
//!
//! ```text
//! cargo run --release -p evoforge-llm --example proposals -- MODEL [CONTEXTS_PER_CELL] [VARIANT-PREFIX...]
//! SHOW=1 ...   # also print one prompt and its answers per cell
//! ```
//! Variants are named `PROMPT/rRESOLUTION/tTEMPERATURE/sSAMPLES`, PROMPT one of `current` (the
//! strategy's completion prompt), `chat`, `ffirst` (f first, target line `f: 9` below the
//! best's 10), `ffirst_header` (the same with a one-line header), `ffirst_copy` (target = the
//! best's value), `xonly` (the points alone, one per line).
use evoforge_llm::embedded::{EmbeddedModel, EmbeddedOptions, Weights};
use evoforge_llm::prompt::{self, Grid, Line, PromptStyle};
use evoforge_llm::{LanguageModel, Request};
use rand::RngExt;
use rand_distr::StandardNormal;

fn f_eval(kind: usize, x: &[f64], opt: &[f64]) -> f64 {
    let z: Vec<f64> = x.iter().zip(opt).map(|(a, b)| a - b).collect();
    let d = z.len();
    match kind {
        0 => z.iter().map(|v| v * v).sum(),
        1 => z
            .iter()
            .enumerate()
            .map(|(i, v)| 1e6f64.powf(i as f64 / (d as f64 - 1.0).max(1.0)) * v * v)
            .sum(),
        2 => (0..d - 1)
            .map(|i| {
                let a = z[i] + 1.0;
                let b = z[i + 1] + 1.0;
                100.0 * (a * a - b).powi(2) + (a - 1.0).powi(2)
            })
            .sum(),
        _ => {
            10.0 * d as f64
                + z.iter()
                    .map(|v| v * v - 10.0 * (2.0 * std::f64::consts::PI * v).cos())
                    .sum::<f64>()
        }
    }
}

struct Ctx {
    kind: usize,
    opt: Vec<f64>,
    top: Vec<(Vec<f64>, f64)>, // best first
    sigma: f64,
}

fn contexts(per_cell: usize) -> Vec<Ctx> {
    let mut out = Vec::new();
    let mut seed = 0u64;
    for d in [2usize, 5] {
        for kind in [0usize, 1, 2, 3] {
            for c in 0..per_cell {
                seed += 1;
                let mut rng = evoforge_core::stream(seed, &[7]);
                let opt: Vec<f64> = (0..d).map(|_| -4.0 + 8.0 * rng.random::<f64>()).collect();
                let stop = 2 + (c * 7 % (if d == 2 { 8 } else { 23 }));
                let mut top: Vec<(Vec<f64>, f64)> = Vec::new();
                let mut sigma = 0.2;
                for g in 0..=stop {
                    let pts: Vec<Vec<f64>> = (0..8)
                        .map(|k| {
                            (0..d)
                                .map(|i| {
                                    if g == 0 {
                                        -5.0 + 10.0 * rng.random::<f64>()
                                    } else if k == 0 {
                                        top[0].0[i]
                                    } else {
                                        (top[0].0[i]
                                            + sigma * 10.0 * rng.sample::<f64, _>(StandardNormal))
                                        .clamp(-5.0, 5.0)
                                    }
                                })
                                .collect()
                        })
                        .collect();
                    if g == stop {
                        break;
                    }
                    for p in pts {
                        let f = f_eval(kind, &p, &opt);
                        top.push((p, f));
                    }
                    top.sort_by(|a, b| a.1.total_cmp(&b.1));
                    top.dedup_by(|a, b| a.0 == b.0);
                    top.truncate(8);
                    if g > 0 {
                        sigma = (sigma * 0.9f64).max(0.002);
                    }
                }
                out.push(Ctx { kind, opt, top, sigma });
            }
        }
    }
    out
}

/// A prompt variant: the text, the resolution, temperature, samples (coordinate median).
struct Variant {
    name: String,
    res: u64,
    temp: f64,
    samples: usize,
    build: fn(&[Line], u64, usize) -> evoforge_llm::Prompt,
}

fn ffirst(lines: &[Line], res: u64, _d: usize) -> evoforge_llm::Prompt {
    // Fitness first, worst → best, shown 10..100; the target line is lower than the best.
    let mut s = String::new();
    for l in lines {
        s.push_str(&format!(
            "f: {} x: {}\n",
            l.f,
            l.x.iter().map(u64::to_string).collect::<Vec<_>>().join(", ")
        ));
    }
    let _ = res;
    s.push_str("f: 9 x: ");
    evoforge_llm::Prompt::Text(s)
}

fn ffirst_copy(lines: &[Line], res: u64, d: usize) -> evoforge_llm::Prompt {
    let evoforge_llm::Prompt::Text(t) = ffirst(lines, res, d) else { unreachable!() };
    evoforge_llm::Prompt::Text(t.replace("f: 9 x: ", "f: 10 x: "))
}

fn ffirst_header(lines: &[Line], res: u64, d: usize) -> evoforge_llm::Prompt {
    let evoforge_llm::Prompt::Text(t) = ffirst(lines, res, d) else { unreachable!() };
    evoforge_llm::Prompt::Text(format!(
        "Each line is a value f (lower is better) and a point x of {d} integers from 0 to {res}. Every line improves on the one before it.\n{t}"
    ))
}

fn xonly(lines: &[Line], _res: u64, _d: usize) -> evoforge_llm::Prompt {
    let mut s = String::new();
    for l in lines {
        s.push_str(&l.x.iter().map(u64::to_string).collect::<Vec<_>>().join(", "));
        s.push('\n');
    }
    evoforge_llm::Prompt::Text(s)
}

fn current(lines: &[Line], res: u64, _d: usize) -> evoforge_llm::Prompt {
    prompt::build(PromptStyle::Completion, lines, res, 100)
}

fn chat(lines: &[Line], res: u64, _d: usize) -> evoforge_llm::Prompt {
    prompt::build(PromptStyle::Chat, lines, res, 100)
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    if n % 2 == 1 { v[n / 2] } else { 0.5 * (v[n / 2 - 1] + v[n / 2]) }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let m = EmbeddedModel::load(
        std::path::Path::new(&args[0]),
        &EmbeddedOptions { weights: Weights::F32, threads: 1 },
    )
    .unwrap();
    let per_cell: usize = args.get(1).map_or(6, |a| a.parse().unwrap());
    let only: Vec<&String> = args.iter().skip(2).collect();
    let show = std::env::var("SHOW").is_ok();
    let mut variants = Vec::new();
    for (name, b) in [
        ("current", current as fn(&[Line], u64, usize) -> evoforge_llm::Prompt),
        ("chat", chat),
        ("ffirst", ffirst),
        ("ffirst_header", ffirst_header),
        ("xonly", xonly),
        ("ffirst_copy", ffirst_copy),
    ] {
        for res in [1000u64, 100] {
            for temp in [0.7, 0.3, 0.0] {
                for samples in [1usize, 5] {
                    if temp == 0.0 && samples > 1 {
                        continue;
                    }
                    variants.push(Variant {
                        name: format!("{name}/r{res}/t{temp}/s{samples}"),
                        res,
                        temp,
                        samples,
                        build: b,
                    });
                }
            }
        }
    }
    let variants: Vec<Variant> = variants
        .into_iter()
        .filter(|v| only.is_empty() || only.iter().any(|o| v.name.starts_with(o.as_str())))
        .collect();
    let ctxs = contexts(per_cell);
    // Reference proposals: the best (hill climbing), and the context mean (intermediate
    // recombination) for scale.
    for v in variants.iter() {
        let t0 = std::time::Instant::now();
        let (mut wins, mut ties, mut n) = (0, 0, 0);
        let mut dl = Vec::new();
        let mut dmean = Vec::new();
        let mut per_kind = [[0usize; 2]; 8];
        let mut dist = Vec::new();
        for (ci, c) in ctxs.iter().enumerate() {
            let d = c.opt.len();
            let grid = Grid::new(vec![-5.0; d], vec![5.0; d], v.res);
            let mut ctx: Vec<_> = c.top.clone();
            ctx.reverse(); // worst first
            let fs = prompt::discretise_fitness(&ctx.iter().map(|m| m.1).collect::<Vec<_>>(), 90);
            let lines: Vec<Line> = ctx
                .iter()
                .zip(fs)
                .map(|(m, f)| Line {
                    x: (0..d).map(|i| grid.to_int(i, m.0[i])).collect(),
                    f: f + 10,
                })
                .collect();
            let p = (v.build)(&lines, v.res, d);
            let mut answers = Vec::new();
            for s in 0..v.samples {
                let r = Request {
                    prompt: p.clone(),
                    max_tokens: 64,
                    temperature: v.temp,
                    seed: 1000 * ci as u64 + s as u64,
                    constraint: Some(prompt::constraint(d, v.res)),
                };
                let a = m.complete(&r).unwrap();
                answers.push(prompt::parse(&a.text, d, v.res).unwrap());
            }
            let prop: Vec<f64> = (0..d)
                .map(|i| {
                    let mut col: Vec<f64> = answers.iter().map(|a| a[i] as f64).collect();
                    grid.to_real(i, median(&mut col).round() as u64)
                })
                .collect();
            if show && ci % per_cell == 0 {
                println!("{}{:?}", EmbeddedModel::render(&p), answers);
            }
            let best = &c.top[0].0;
            // distance of the proposal to the best, in grid steps
            let step = 10.0 / v.res as f64;
            dist.push(
                prop.iter().zip(best).map(|(a, b)| ((a - b) / step).abs()).fold(0.0, f64::max),
            );
            let fo = |x: &[f64]| f_eval(c.kind, x, &c.opt);
            let cm: Vec<f64> = (0..d)
                .map(|i| c.top.iter().map(|m| m.0[i]).sum::<f64>() / c.top.len() as f64)
                .collect();
            let mut rng = evoforge_core::stream(ci as u64, &[99]);
            let (mut bp, mut bb, mut bm) = (fo(&prop), fo(best), fo(&cm));
            for _ in 1..8 {
                let e: Vec<f64> = (0..d).map(|_| rng.sample::<f64, _>(StandardNormal)).collect();
                let around = |m: &[f64]| -> Vec<f64> {
                    m.iter()
                        .zip(&e)
                        .map(|(a, z)| (a + c.sigma * 10.0 * z).clamp(-5.0, 5.0))
                        .collect()
                };
                bp = bp.min(fo(&around(&prop)));
                bb = bb.min(fo(&around(best)));
                bm = bm.min(fo(&around(&cm)));
            }
            n += 1;
            if bp < bb {
                wins += 1;
                per_kind[c.kind + 4 * (d == 5) as usize][0] += 1;
            } else if bp == bb {
                ties += 1;
            }
            per_kind[c.kind + 4 * (d == 5) as usize][1] += 1;
            dl.push((bp + 1e-12).log10() - (bb + 1e-12).log10());
            dmean.push((bm + 1e-12).log10() - (bb + 1e-12).log10());
        }
        println!(
            "{:28} pop-best beats GHC's {:3}/{n} ties {ties}  median log10 ratio {:+.3} (context mean {:+.3})  median dist to best {:.0} steps  wins per (kind,d) {:?}  {:.0}s",
            v.name,
            wins,
            median(&mut dl),
            median(&mut dmean),
            median(&mut dist),
            per_kind.iter().map(|k| format!("{}/{}", k[0], k[1])).collect::<Vec<_>>().join(" "),
            t0.elapsed().as_secs_f64()
        );
    }
}
