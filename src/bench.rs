//! `evoforge bench bbob`: one strategy over BBOB functions × dimensions × instances.
//!
//! Each run is the same ask-tell loop a study runs (same random streams for the same seed), with
//! the objective evaluated in line; runs go in parallel over a rayon pool. For each run the CSV
//! holds the number of evaluations at which f − f_opt first fell below each target 1e1 … 1e-8
//! (empty when never), as COCO counts them: evaluations are numbered in ask order.
use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result, anyhow, bail};
use evoforge_core::{EvalCtx, Evaluated, Evaluation, Outcome, Problem, Purpose, Strategy, rng};
use evoforge_problems::Bbob;
use rayon::prelude::*;

use crate::spec::{StrategySpec, StrategyVisitor};

/// Targets f − f_opt, from 1e1 down to 1e-8.
pub const TARGETS: [f64; 10] = [1e1, 1e0, 1e-1, 1e-2, 1e-3, 1e-4, 1e-5, 1e-6, 1e-7, 1e-8];

/// Arguments of `evoforge bench bbob`.
#[derive(clap::Args, Debug, Clone)]
pub struct BbobArgs {
    /// Strategy as an inline YAML mapping.
    #[arg(long, default_value = "{kind: cmaes, restarts: bipop}")]
    pub strategy: String,
    /// Functions, e.g. `1-24` or `1,8,15`.
    #[arg(long, default_value = "1-24")]
    pub functions: String,
    /// Dimensions, e.g. `2,3,5,10,20`.
    #[arg(long, default_value = "2,3,5,10,20")]
    pub dimensions: String,
    /// Instances, e.g. `1-15`.
    #[arg(long, default_value = "1-5")]
    pub instances: String,
    /// Evaluation budget per run as a multiple of the dimension.
    #[arg(long, default_value_t = 1e4)]
    pub budget_per_dim: f64,
    /// Absolute evaluation budget per run (overrides --budget-per-dim).
    #[arg(long)]
    pub evaluations: Option<u64>,
    /// Seed; each run uses a stream derived from (seed, function, dimension, instance).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Parallel runs (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
    /// CSV output file (default: stdout).
    #[arg(long)]
    pub output: Option<PathBuf>,
    /// Also write COCO's "bbob-new2" data format (.info, .dat, .tdat) to this folder, for
    /// `python -m cocopp FOLDER`.
    #[arg(long)]
    pub cocopp: Option<PathBuf>,
    /// Algorithm name in the COCO output.
    #[arg(long, default_value = "evoforge")]
    pub name: String,
}

/// One run's row.
#[derive(Debug, Clone)]
pub struct Row {
    /// BBOB function.
    pub function: u32,
    /// Dimension.
    pub dimension: usize,
    /// Instance.
    pub instance: u32,
    /// Evaluations to reach each of [`TARGETS`].
    pub hits: [Option<u64>; 10],
    /// Best f − f_opt.
    pub best_delta: f64,
    /// Evaluations used.
    pub evaluations: u64,
    /// Wall seconds.
    pub wall: f64,
    /// Every improvement of the best value (only when asked for, for COCO output).
    pub trace: Vec<Improvement>,
}

/// An evaluation that improved the best value of a run.
#[derive(Debug, Clone)]
pub struct Improvement {
    /// Evaluation number (1-based, ask order).
    pub evals: u64,
    /// Its f − f_opt (the new best).
    pub delta: f64,
    /// Its f.
    pub f: f64,
    /// Its point.
    pub x: Vec<f64>,
}

/// Parses `1-5,8,10-12`.
pub fn parse_list(s: &str) -> Result<Vec<u64>> {
    let mut out = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b): (u64, u64) = (a.trim().parse()?, b.trim().parse()?);
                if a > b {
                    bail!("range {part} is empty");
                }
                out.extend(a..=b);
            }
            None => out.push(part.parse().with_context(|| format!("`{part}` is not a number"))?),
        }
    }
    if out.is_empty() {
        bail!("empty list `{s}`");
    }
    Ok(out)
}

/// Runs `S` on one BBOB problem until the budget is spent or the final target is reached.
pub fn run_one<S: Strategy>(
    config: &S::Config,
    problem: &Bbob,
    budget: u64,
    seed: u64,
    trace: bool,
) -> Result<Row> {
    let space = problem.space();
    let s = S::new(config.clone(), space)
        .map_err(|e| anyhow!("strategy.{}: {}", e.field, e.message))?;
    let fopt = problem.f_opt();
    let t0 = Instant::now();
    let mut state = s.init(&mut rng::stream(seed, &[Purpose::Init as u64]));
    let mut hits = [None; 10];
    let mut best = f64::INFINITY;
    let mut evals = 0u64;
    let mut generation = 0u64;
    let mut x = vec![0.0; space.dim()];
    let mut improvements = Vec::new();
    'outer: while evals < budget {
        let cands = s.ask(&mut state, &mut rng::stream(seed, &[Purpose::Ask as u64, generation]));
        if cands.is_empty() {
            break;
        }
        let ctx = s.context(&state);
        let mut results = Vec::with_capacity(cands.len());
        for c in cands {
            s.decode(&ctx, &c.genome, &mut x);
            let ectx = EvalCtx { id: c.id, generation, seed: 0 };
            let f = problem.evaluate(&x, &ectx).map(|e| e.values[0]).unwrap_or(f64::NAN);
            evals += 1;
            let delta = f - fopt;
            if delta < best {
                best = delta;
                if trace {
                    improvements.push(Improvement { evals, delta, f, x: x.clone() });
                }
                for (k, t) in TARGETS.iter().enumerate() {
                    if hits[k].is_none() && delta < *t {
                        hits[k] = Some(evals);
                    }
                }
            }
            let outcome = if f.is_finite() {
                Outcome::Ok(Evaluation::value(f))
            } else {
                Outcome::Failed("non-finite".into())
            };
            results.push(Evaluated { id: c.id, genome: c.genome, outcome });
        }
        s.tell(&mut state, &results, &mut rng::stream(seed, &[Purpose::Tell as u64, generation]))
            .map_err(|e| anyhow!("{e}"))?;
        generation += 1;
        if hits[9].is_some() || s.stop(&state).is_some() {
            break 'outer;
        }
    }
    Ok(Row {
        function: 0,
        dimension: space.dim(),
        instance: 0,
        hits,
        best_delta: best,
        evaluations: evals,
        wall: t0.elapsed().as_secs_f64(),
        trace: improvements,
    })
}

struct RunOne<'a> {
    problem: &'a Bbob,
    budget: u64,
    seed: u64,
    trace: bool,
}

impl StrategyVisitor for RunOne<'_> {
    type Out = Result<Row>;
    fn visit<S: Strategy>(self, c: &S::Config) -> Result<Row> {
        run_one::<S>(c, self.problem, self.budget, self.seed, self.trace)
    }
}

/// Runs the whole grid and returns rows ordered by (function, dimension, instance).
pub fn run_grid(
    spec: &StrategySpec,
    jobs: &[(u32, usize, u32)],
    budget: impl Fn(usize) -> u64 + Sync,
    seed: u64,
    threads: usize,
    trace: bool,
) -> Result<Vec<Row>> {
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads.max(1)).build()?;
    pool.install(|| {
        jobs.par_iter()
            .map(|&(f, d, i)| {
                let problem =
                    Bbob::new(f, d, i).map_err(|e| anyhow!("{}: {}", e.field, e.message))?;
                let run_seed =
                    rng::derive(seed, &[Purpose::Other as u64, f as u64, d as u64, i as u64]);
                let b = budget(d);
                let mut row =
                    spec.visit(RunOne { problem: &problem, budget: b, seed: run_seed, trace })?;
                row.function = f;
                row.instance = i;
                Ok(row)
            })
            .collect()
    })
}

/// Writes the CSV header and rows.
pub fn write_csv(w: &mut dyn Write, rows: &[Row]) -> Result<()> {
    write!(w, "function,dimension,instance")?;
    for t in TARGETS {
        write!(w, ",evals_to_{t:e}")?;
    }
    writeln!(w, ",best_f_minus_fopt,evaluations,wall_seconds")?;
    for r in rows {
        write!(w, "{},{},{}", r.function, r.dimension, r.instance)?;
        for h in r.hits {
            match h {
                Some(n) => write!(w, ",{n}")?,
                None => write!(w, ",")?,
            }
        }
        writeln!(w, ",{},{},{:.6}", crate::cli::f64_text(r.best_delta), r.evaluations, r.wall)?;
    }
    Ok(())
}

/// Writes COCO's `bbob-new2` format, as cocoex's "bbob" observer does: per function an
/// `.info` file listing, per dimension, the data file and `instance:evaluations|final f−f_opt`
/// of each run; per (function, dimension) a `.dat` file (target-triggered lines) and a `.tdat`
/// file (budget-triggered lines), one `%` header per run. Every improvement of the best value
/// is written to both, plus a last line at the final evaluation: a superset of the lines COCO's
/// triggers would write, from which cocopp derives the same runtimes.
pub fn write_coco(dir: &std::path::Path, name: &str, strategy: &str, rows: &[Row]) -> Result<()> {
    use std::collections::BTreeMap;
    use std::fmt::Write as _;
    let mut by_f: BTreeMap<u32, BTreeMap<usize, Vec<&Row>>> = BTreeMap::new();
    for r in rows {
        by_f.entry(r.function).or_default().entry(r.dimension).or_default().push(r);
    }
    let algo = name.replace('\'', "");
    let settings = strategy.replace('\'', "");
    for (f, dims) in &by_f {
        let sub = format!("data_f{f}");
        std::fs::create_dir_all(dir.join(&sub))?;
        let mut info = String::new();
        for (d, runs) in dims {
            let stem = format!("{sub}/bbobexp_f{f}_DIM{d}");
            let mut dat = String::new();
            for r in runs {
                let fopt =
                    Bbob::new(*f, *d, r.instance).map_err(|e| anyhow!("{}", e.message))?.f_opt();
                writeln!(
                    dat,
                    "% f evaluations | g evaluations | best noise-free fitness - Fopt ({}) + sum g_i+ | measured fitness | best measured fitness or single-digit g-values | x1 | x2...",
                    c_exp(fopt, 12, false)
                )?;
                let mut line = |evals: u64, imp: &Improvement| -> std::fmt::Result {
                    let (d, f) = (c_exp(imp.delta, 9, true), c_exp(imp.f, 9, true));
                    write!(dat, "{evals} 0 {d} {f} {f}")?;
                    for v in &imp.x {
                        write!(dat, " {}", c_exp(*v, 4, true))?;
                    }
                    writeln!(dat)
                };
                for imp in &r.trace {
                    line(imp.evals, imp)?;
                }
                if let Some(last) = r.trace.last()
                    && last.evals < r.evaluations
                {
                    line(r.evaluations, last)?;
                }
            }
            std::fs::write(dir.join(format!("{stem}.dat")), &dat)?;
            std::fs::write(dir.join(format!("{stem}.tdat")), &dat)?;
            writeln!(
                info,
                "suite = 'bbob', funcId = {f}, DIM = {d}, Precision = 1.000e-08, algId = '{algo}', coco_version = 'evoforge-{}', logger = 'bbob', data_format = 'bbob-new2'",
                env!("CARGO_PKG_VERSION")
            )?;
            writeln!(info, "% {settings}")?;
            write!(info, "{stem}.dat")?;
            for r in runs {
                write!(
                    info,
                    ", {}:{}|{}",
                    r.instance,
                    r.evaluations,
                    c_exp(r.best_delta, 1, false)
                )?;
            }
            writeln!(info)?;
        }
        std::fs::write(dir.join(format!("bbobexp_f{f}.info")), info)?;
    }
    Ok(())
}

/// C's `%.{prec}e` (`%+.{prec}e` with `plus`): a signed exponent of at least two digits, as
/// COCO writes and cocopp expects.
pub fn c_exp(v: f64, prec: usize, plus: bool) -> String {
    let s = format!("{v:.prec$e}");
    let Some((mant, exp)) = s.split_once('e') else { return s };
    let (sign, digits) = match exp.strip_prefix('-') {
        Some(d) => ('-', d),
        None => ('+', exp),
    };
    let lead = if plus && !mant.starts_with('-') { "+" } else { "" };
    format!("{lead}{mant}e{sign}{digits:0>2}")
}

/// `evoforge bench bbob`.
pub fn bbob(args: &BbobArgs) -> Result<()> {
    let spec: StrategySpec = serde_saphyr::from_str(&args.strategy).map_err(|e| {
        anyhow!("{}", crate::diag::from_yaml_error("--strategy", &args.strategy, &e))
    })?;
    let fs = parse_list(&args.functions).context("--functions")?;
    let ds = parse_list(&args.dimensions).context("--dimensions")?;
    let is = parse_list(&args.instances).context("--instances")?;
    let mut jobs = Vec::new();
    for &f in &fs {
        for &d in &ds {
            for &i in &is {
                jobs.push((f as u32, d as usize, i as u32));
            }
        }
    }
    let threads = args
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1));
    let per_dim = args.budget_per_dim;
    let abs = args.evaluations;
    let mut rows = run_grid(
        &spec,
        &jobs,
        |d| abs.unwrap_or((per_dim * d as f64).ceil() as u64),
        args.seed,
        threads,
        args.cocopp.is_some(),
    )?;
    rows.sort_by_key(|r| (r.function, r.dimension, r.instance));
    if let Some(dir) = &args.cocopp {
        write_coco(dir, &args.name, &args.strategy, &rows)?;
    }
    match &args.output {
        Some(p) => {
            let mut f = std::io::BufWriter::new(
                std::fs::File::create(p).with_context(|| format!("creating {}", p.display()))?,
            );
            write_csv(&mut f, &rows)?;
            f.flush()?;
        }
        None => write_csv(&mut std::io::stdout().lock(), &rows)?,
    }
    let solved = rows.iter().filter(|r| r.hits[9].is_some()).count();
    eprintln!("solved (f - f_opt < 1e-8): {solved} of {} runs", rows.len());
    Ok(())
}
