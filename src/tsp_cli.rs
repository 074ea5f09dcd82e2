//! `evoforge tsp solve`: the heatmap-guided MCTS on an instance file (test-set lines or a TSPLIB
//! `EUC_2D` file), instances in parallel; a per-instance table (length, reference, gap, time)
//! and a summary, optionally the tours and a CSV.
use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Subcommand};
use evoforge_problems::tsp::{self, HeatmapKind, Instance, MctsParams, problem::TuneHeatmap};

/// `evoforge tsp ...`.
#[derive(Subcommand)]
pub enum TspCmd {
    /// Solve every instance of a file with the MCTS and report lengths, gaps and times.
    Solve(Box<SolveArgs>),
    /// Write the generated training instances of `kind: tsp_mcts` (coordinates only, one
    /// test-set line each), e.g. for `tools/tsp_lkh.py --tours` to add reference tours.
    Generate(GenerateArgs),
}

/// Arguments of `evoforge tsp generate`.
#[derive(Args)]
pub struct GenerateArgs {
    /// Output file.
    pub out: PathBuf,
    /// Cities per instance.
    #[arg(long)]
    pub nodes: usize,
    /// Number of instances.
    #[arg(long)]
    pub count: usize,
    /// Seed (`instance_seed` of `kind: tsp_mcts`).
    #[arg(long, default_value_t = 1234)]
    pub seed: u64,
}

/// Arguments of `evoforge tsp solve`.
#[derive(Args)]
pub struct SolveArgs {
    /// Instance file: one instance per line (`x1 y1 … output t1 … t1`) or a TSPLIB `.tsp`.
    pub instances: PathBuf,
    /// Heatmap: softdist, softdist:TAU, knn, zero, or file:PATTERN (`{}` = 0-based instance index).
    #[arg(long, default_value = "softdist")]
    pub heatmap: String,
    /// Entries kept per heatmap row (SoftDist neighbours, top-k of a heatmap file).
    #[arg(long, default_value_t = tsp::problem::SOFTDIST_K)]
    pub heatmap_k: usize,
    /// A point of `kind: tsp_mcts` (JSON array, e.g. the `best_x` of a tuning study): sets alpha,
    /// beta, h, max_candidate_num, max_depth, candidate_use_heatmap and, with SoftDist, tau.
    #[arg(long)]
    pub point: Option<String>,
    /// Alpha (UCB exploration).
    #[arg(long)]
    pub alpha: Option<f64>,
    /// Beta (back-propagation reward scale).
    #[arg(long)]
    pub beta: Option<f64>,
    /// H: H·N sampled actions per MCTS step.
    #[arg(long)]
    pub h: Option<f64>,
    /// T: time budget T·N seconds per instance (0: none; then give --work).
    #[arg(long, default_value_t = 0.1)]
    pub t: f64,
    /// Deterministic work budget per instance (elementary operations).
    #[arg(long)]
    pub work: Option<u64>,
    /// max_candidate_num.
    #[arg(long)]
    pub max_candidate_num: Option<usize>,
    /// max_depth (largest k of a k-opt action).
    #[arg(long)]
    pub max_depth: Option<usize>,
    /// candidate_use_heatmap (true: candidates by heatmap value, false: by distance).
    #[arg(long)]
    pub candidate_use_heatmap: Option<bool>,
    /// Seed of the runs (instance i uses a stream derived from it).
    #[arg(long, default_value_t = 489_663_920)]
    pub seed: u64,
    /// Threads (instances solved in parallel); default: all cores.
    #[arg(long)]
    pub threads: Option<usize>,
    /// Solve only the first N instances.
    #[arg(long)]
    pub limit: Option<usize>,
    /// Write the tours here (test-set format, one line per instance).
    #[arg(long)]
    pub tours: Option<PathBuf>,
    /// Write the per-instance table here as CSV.
    #[arg(long)]
    pub csv: Option<PathBuf>,
}

/// Runs a `tsp` subcommand.
pub fn run(cmd: TspCmd) -> anyhow::Result<()> {
    match cmd {
        TspCmd::Solve(a) => solve(*a),
        TspCmd::Generate(a) => generate(a),
    }
}

fn generate(a: GenerateArgs) -> anyhow::Result<()> {
    if !(5..=100_000).contains(&a.nodes) {
        anyhow::bail!("--nodes must be between 5 and 100000, got {}", a.nodes);
    }
    let mut text = String::new();
    for i in 0..a.count {
        // The same stream as `kind: tsp_mcts`, so a reference cache built from this file matches.
        let inst = Instance::uniform(a.nodes, a.seed, i as u64);
        for k in 0..inst.n() {
            text.push_str(&format!("{} {} ", inst.xs[k], inst.ys[k]));
        }
        text.truncate(text.len() - 1);
        text.push('\n');
    }
    std::fs::write(&a.out, text).with_context(|| format!("cannot write {}", a.out.display()))?;
    eprintln!("wrote {} instances of {} cities to {}", a.count, a.nodes, a.out.display());
    Ok(())
}

fn solve(a: SolveArgs) -> anyhow::Result<()> {
    let mut instances = Instance::read_any(&a.instances)?;
    if let Some(l) = a.limit {
        instances.truncate(l);
    }
    let mut heat = HeatmapKind::parse(&a.heatmap, a.heatmap_k)
        .map_err(|e| anyhow::anyhow!("--heatmap: {e}"))?;
    let mut p = MctsParams::default();
    if let Some(pt) = &a.point {
        let x: Vec<f64> =
            serde_json::from_str(pt).context("--point: not a JSON array of numbers")?;
        let which = match heat {
            HeatmapKind::Softdist { .. } => TuneHeatmap::Softdist,
            HeatmapKind::Knn => TuneHeatmap::Knn,
            _ => TuneHeatmap::Zero,
        };
        let d = if which == TuneHeatmap::Softdist { 7 } else { 6 };
        if x.len() != d {
            anyhow::bail!(
                "--point: expected {d} numbers ({}), got {}",
                tsp::problem::PARAM_NAMES[..d].join(", "),
                x.len()
            );
        }
        let (q, h) = tsp::problem::decode(&x, which);
        p = q;
        if let HeatmapKind::Softdist { tau, .. } = h {
            heat = HeatmapKind::Softdist { tau, k: a.heatmap_k };
        }
    }
    if let Some(v) = a.alpha {
        p.alpha = v;
    }
    if let Some(v) = a.beta {
        p.beta = v;
    }
    if let Some(v) = a.h {
        p.h = v;
    }
    if let Some(v) = a.max_candidate_num {
        p.max_candidate_num = v;
    }
    if let Some(v) = a.max_depth {
        p.max_depth = v;
    }
    if let Some(v) = a.candidate_use_heatmap {
        p.candidate_use_heatmap = v;
    }
    p.t = if a.t > 0.0 { Some(a.t) } else { None };
    p.work = a.work;
    p.check().map_err(|(f, m)| anyhow::anyhow!("--{}: {m}", f.replace('_', "-")))?;
    let threads =
        a.threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    if threads == 0 {
        anyhow::bail!("--threads must be at least 1");
    }
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build()?;
    eprintln!(
        "{} instances of {} cities, heatmap {:?}, alpha {} beta {} h {} max_candidate_num {} max_depth {} candidate_use_heatmap {}, T {:?} (per instance {} s), work {:?}, {threads} threads",
        instances.len(),
        instances.first().map_or(0, |i| i.n()),
        heat,
        p.alpha,
        p.beta,
        p.h,
        p.max_candidate_num,
        p.max_depth,
        p.candidate_use_heatmap,
        p.t,
        p.t.map_or("-".to_string(), |t| format!(
            "{}",
            t * instances.first().map_or(0, |i| i.n()) as f64
        )),
        p.work,
    );
    let wall = std::time::Instant::now();
    let results = pool.install(|| tsp::solve_all(&instances, &heat, &p, a.seed));
    let wall = wall.elapsed().as_secs_f64();
    let mut out = std::io::stdout().lock();
    let mut csv = String::from(
        "instance,cities,length,reference,gap_percent,seconds,work,restarts,simulations\n",
    );
    writeln!(
        out,
        "{:>5} {:>7} {:>12} {:>12} {:>9} {:>8} {:>9} {:>9}",
        "inst", "cities", "length", "reference", "gap%", "time_s", "restarts", "sims"
    )?;
    let (mut sl, mut sr, mut sg, mut st, mut ng, mut nr) = (0.0, 0.0, 0.0, 0.0, 0usize, 0usize);
    let mut tours = String::new();
    for (i, (r, inst)) in results.into_iter().zip(&instances).enumerate() {
        let r = r?;
        inst.check_tour(&r.result.tour)
            .map_err(|m| anyhow::anyhow!("instance {}: invalid tour: {m}", i + 1))?;
        let gap = r.gap_percent();
        let fmt = |v: Option<f64>, p: usize| v.map_or("-".to_string(), |v| format!("{v:.p$}"));
        writeln!(
            out,
            "{:>5} {:>7} {:>12.6} {:>12} {:>9} {:>8.3} {:>9} {:>9}",
            i + 1,
            inst.n(),
            r.result.length,
            fmt(r.reference, 6),
            fmt(gap, 4),
            r.result.seconds,
            r.result.restarts,
            r.result.simulations
        )?;
        csv.push_str(&format!(
            "{},{},{},{},{},{},{},{},{}\n",
            i + 1,
            inst.n(),
            r.result.length,
            r.reference.map_or(String::new(), |v| v.to_string()),
            gap.map_or(String::new(), |v| v.to_string()),
            r.result.seconds,
            r.result.work,
            r.result.restarts,
            r.result.simulations
        ));
        sl += r.result.length;
        st += r.result.seconds;
        if let (Some(g), Some(rf)) = (gap, r.reference) {
            sg += g;
            sr += rf;
            ng += 1;
        }
        nr += 1;
        if a.tours.is_some() {
            tours.push_str(&inst.to_line(&r.result.tour));
            tours.push('\n');
        }
    }
    let n = nr as f64;
    writeln!(
        out,
        "summary: instances {nr}, mean length {:.4}, mean time per instance {:.3} s, wall {:.1} s on {threads} threads",
        sl / n,
        st / n,
        wall
    )?;
    if ng > 0 {
        writeln!(
            out,
            "summary: mean reference length {:.4}, mean gap {:.4}% ({ng} instances with a reference)",
            sr / ng as f64,
            sg / ng as f64
        )?;
    }
    if let Some(path) = &a.tours {
        std::fs::write(path, tours).with_context(|| format!("cannot write {}", path.display()))?;
    }
    if let Some(path) = &a.csv {
        std::fs::write(path, csv).with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}
