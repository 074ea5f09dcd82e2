//! BO figures of issue 4 (a plain `main`, no criterion: one number per configuration).
//!
//! * `time`: one `ask` at n = 200 observations, d = 6 (Hartmann-6 values at 200 scrambled
//!   Halton points, told as the initial design), default `BoConfig` (Matérn-5/2, LogEI, 512 raw
//!   samples, 10 restarts, 2 fit starts); the median over `--reps` asks, each from a clone of
//!   the same state with a different ask stream (the warm start of the fit is not set: the fit
//!   starts cold, as BoTorch's `fit_gpytorch_mll` does).
//! * `regret`: Branin (30 evaluations), Hartmann-6 (60) and Ackley-5 (60), 2d + 1 quasi-random
//!   initial points then one BO point per ask, seeds 0..`--seeds`: the median final simple
//!   regret `min f − f*`. The peers are `benches/peers/bo_peers.py` (BoTorch SingleTaskGP +
//!   LogEI, Optuna GPSampler).
//!
//! * `turbo`: Ackley-20 on the TuRBO paper's box `[−5, 10]^20` (`--classic`: the classic box
//!   `[−32.768, 32.768]^20`, optimum at its centre), `--budget` (default 200) evaluations, seeds
//!   0..`--seeds`: TuRBO-1 (`q = --q`, default 4, defaults otherwise), plain BO (defaults,
//!   `q = 1`, 2d + 1 initial points) and random search, the same budget; median and quartiles
//!   of the final best value (the minimum is 0).
//!
//! * `mixed`: the mixed quadratic of `evoforge_problems::mixed` (2 reals, an integer, a
//!   categorical; minimum 0), `bo` defaults, `--budget` (default 40) evaluations, seeds
//!   0..`--seeds`: the median best value and how often the discrete optimum was found.
//!
//! Run: `cargo bench -p evoforge-strategies --bench bo_efficiency -- time|regret|turbo|mixed
//! [--seeds 10] [--reps 5] [--budget 200] [--only branin] [--acq log_ei|thompson|noisy_ei|kg]
//! [--config '{"noise_prior": "log_normal", "learn_outputscale": false}']`.
use std::time::Instant;

use evoforge_core::{Evaluated, Evaluation, Outcome, Purpose, Strategy, stream};
use evoforge_problems::{Classic, ClassicKind, MixedQuadratic};
use evoforge_strategies::conformance;
use evoforge_strategies::{Bo, BoConfig, RandomSearch, RandomSearchConfig, Turbo, TurboConfig};

fn tell_all(
    s: &Bo,
    st: &mut <Bo as Strategy>::State,
    p: &Classic,
    c: &[evoforge_core::Candidate<Vec<f64>>],
    g: u64,
    seed: u64,
) -> f64 {
    let mut best = f64::INFINITY;
    let res: Vec<_> = c
        .iter()
        .map(|c| {
            let f = p.value(&c.genome);
            best = best.min(f);
            Evaluated {
                id: c.id,
                genome: c.genome.clone(),
                outcome: Outcome::Ok(Evaluation::value(f)),
            }
        })
        .collect();
    s.tell(st, &res, &mut stream(seed, &[Purpose::Tell as u64, g])).unwrap();
    best
}

fn run(kind: ClassicKind, d: usize, budget: usize, seed: u64, cfg: &BoConfig) -> (f64, f64) {
    let p = Classic::new(kind, d).unwrap();
    let space = evoforge_core::Problem::space(&p).clone();
    let s = Bo::new(cfg.clone(), &space).unwrap();
    let mut st = s.init(&mut stream(seed, &[Purpose::Init as u64]));
    let (mut used, mut best, mut g) = (0, f64::INFINITY, 0u64);
    let t = Instant::now();
    while used < budget {
        let c = s.ask(&mut st, &mut stream(seed, &[Purpose::Ask as u64, g]));
        used += c.len();
        best = best.min(tell_all(&s, &mut st, &p, &c, g, seed));
        g += 1;
    }
    (best - kind.optimal_value(d), t.elapsed().as_secs_f64())
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 { v[n / 2] } else { 0.5 * (v[n / 2 - 1] + v[n / 2]) }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let opt = |name: &str, def: u64| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .map_or(def, |v| v.parse().unwrap())
    };
    let only = args.iter().position(|a| a == "--only").and_then(|i| args.get(i + 1)).cloned();
    if args.iter().any(|a| a == "time") {
        let p = Classic::new(ClassicKind::Hartmann6, 6).unwrap();
        let space = evoforge_core::Problem::space(&p).clone();
        let cfg = BoConfig { n_init: Some(200), ..Default::default() };
        let s = Bo::new(cfg, &space).unwrap();
        let mut st = s.init(&mut stream(1, &[Purpose::Init as u64]));
        let c = s.ask(&mut st, &mut stream(1, &[Purpose::Ask as u64, 0]));
        tell_all(&s, &mut st, &p, &c, 0, 1);
        let mut times = Vec::new();
        for r in 0..opt("--reps", 5) {
            let mut st2 = st.clone();
            let t = Instant::now();
            let c = s.ask(&mut st2, &mut stream(1, &[Purpose::Ask as u64, 1 + r]));
            times.push(t.elapsed().as_secs_f64());
            assert_eq!(c.len(), 1);
        }
        println!(
            "bo ask at n=200, d=6: median {:.4} s over {} asks ({times:.4?})",
            median(times.clone()),
            times.len()
        );
    }
    if args.iter().any(|a| a == "turbo") {
        let p = Classic::new(ClassicKind::Ackley, 20).unwrap();
        let classic = args.iter().any(|a| a == "--classic");
        let space = if classic {
            evoforge_core::Problem::space(&p).clone()
        } else {
            evoforge_core::Space::real_box(20, -5.0, 10.0)
        };
        let f = |x: &[f64]| p.value(x);
        let (seeds, budget) = (opt("--seeds", 5), opt("--budget", 200));
        let q = opt("--q", 4) as usize;
        let turbo = Turbo::new(TurboConfig { q, ..Default::default() }, &space).unwrap();
        let bo = Bo::new(BoConfig::default(), &space).unwrap();
        let random = RandomSearch::new(RandomSearchConfig { popsize: 4 }, &space).unwrap();
        let quart = |v: &[f64]| {
            let mut v = v.to_vec();
            v.sort_by(f64::total_cmp);
            let n = v.len() - 1;
            (v[n / 4], median(v.clone()), v[(3 * n).div_ceil(4)])
        };
        for name in ["turbo", "bo", "random"] {
            if only.as_ref().is_some_and(|o| o != name) {
                continue;
            }
            let t = Instant::now();
            let best: Vec<f64> = (0..seeds)
                .map(|seed| {
                    let r = match name {
                        "turbo" => conformance::run(&turbo, &space, seed, budget, &f, None),
                        "bo" => conformance::run(&bo, &space, seed, budget, &f, None),
                        _ => conformance::run(&random, &space, seed, budget, &f, None),
                    };
                    r.unwrap().best
                })
                .collect();
            let (q1, q2, q3) = quart(&best);
            println!(
                "ackley20 ({}) {name}{}: median best {q2:.3} (quartiles {q1:.3} .. {q3:.3}) over {seeds} seeds, {budget} evaluations, {:.1} s per run {best:.3?}",
                if classic { "classic box" } else { "[-5, 10]^20" },
                if name == "turbo" { format!(" q={q}") } else { String::new() },
                t.elapsed().as_secs_f64() / seeds as f64
            );
        }
    }
    if args.iter().any(|a| a == "mixed") {
        // The mixed quadratic (2 reals, an integer, a categorical of 4; minimum 0), `bo`
        // defaults, seeds 0..`--seeds`, `--budget` (default 40) evaluations.
        let p = MixedQuadratic::new();
        let space = evoforge_core::Problem::space(&p).clone();
        let s = Bo::new(BoConfig::default(), &space).unwrap();
        let f = |x: &[f64]| p.value(x).unwrap_or(f64::INFINITY);
        let (seeds, budget) = (opt("--seeds", 10), opt("--budget", 40));
        let t = Instant::now();
        let mut best = Vec::new();
        let mut exact = 0;
        for seed in 0..seeds {
            let mut st = s.init(&mut stream(seed, &[Purpose::Init as u64]));
            let (mut used, mut g) = (0, 0u64);
            while used < budget {
                let c = s.ask(&mut st, &mut stream(seed, &[Purpose::Ask as u64, g]));
                let res: Vec<_> = c
                    .iter()
                    .map(|c| Evaluated {
                        id: c.id,
                        genome: c.genome.clone(),
                        outcome: Outcome::Ok(Evaluation::value(f(&c.genome))),
                    })
                    .collect();
                s.tell(&mut st, &res, &mut stream(seed, &[Purpose::Tell as u64, g])).unwrap();
                used += c.len() as u64;
                g += 1;
            }
            let (x, fb) = s.best(&st).unwrap();
            exact += usize::from(x[2] == 3.0 && x[3] == 2.0);
            best.push(fb);
        }
        println!(
            "mixed_quadratic: median best {:.4} over {seeds} seeds ({budget} evaluations; {:.2} s per run); discrete optimum (3, 2) found in {exact}/{seeds}; {best:.4?}",
            median(best.clone()),
            t.elapsed().as_secs_f64() / seeds as f64
        );
    }
    if args.iter().any(|a| a == "regret") {
        let seeds = opt("--seeds", 10);
        let acq = args.iter().position(|a| a == "--acq").and_then(|i| args.get(i + 1));
        // `--config JSON`: any other `bo` settings, e.g. '{"noise_prior": "log_normal"}'.
        let mut json: serde_json::Value = args
            .iter()
            .position(|a| a == "--config")
            .and_then(|i| args.get(i + 1))
            .map_or(serde_json::json!({}), |c| serde_json::from_str(c).unwrap());
        if let Some(a) = acq {
            json["acquisition"] = a.as_str().into();
        }
        let cfg: BoConfig = serde_json::from_value(json).unwrap();
        for (name, kind, d, budget) in [
            ("branin", ClassicKind::Branin, 2, 30),
            ("hartmann6", ClassicKind::Hartmann6, 6, 60),
            ("ackley5", ClassicKind::Ackley, 5, 60),
        ] {
            if only.as_ref().is_some_and(|o| o != name) {
                continue;
            }
            let mut regrets = Vec::new();
            let mut secs = 0.0;
            for seed in 0..seeds {
                let (r, t) = run(kind, d, budget, seed, &cfg);
                regrets.push(r);
                secs += t;
            }
            println!(
                "{name} ({:?}, {}): median simple regret {:.4} over {seeds} seeds ({budget} evaluations; {:.1} s per run) {regrets:.4?}",
                cfg.acquisition,
                serde_json::to_string(&cfg).unwrap(),
                median(regrets.clone()),
                secs / seeds as f64
            );
        }
    }
}
