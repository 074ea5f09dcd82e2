//! CBO on Rastrigin d = 20: the time of a whole optimisation in the configuration of CBXpy's
//! notebook `docs/examples/success_evaluation.ipynb`, and its success count.
//!
//! Configuration (as the notebook, see `benches/peers/cbxpy_rastrigin.py` for the peer):
//! `Cbo` with `particles: 40, runs: 100, sigma: 10.1, noise: anisotropic, alpha: 30` (×1.05
//! per step, capped at 1e5, the default schedule), `dt: 0.01`, `lambda: 1`, `init: {lower: -3,
//! upper: 3}`, 5000 steps; `bounds: none` in the box `[−1e8, 1e8]^20` (CBXpy has no box and
//! clamps particles into ±1e8, which `bounds: none` does too). One optimisation:
//!
//! * `init` from the stream (seed, Init); then 5000 times: `ask` (stream (seed, Ask, g): the
//!   4000 particles of all runs as candidates), the objective on every candidate (the study's
//!   clamp into the box, then CBXpy's Rastrigin `10 d + Σ (x² − 10 cos 2πx)`), `tell` (stream
//!   (seed, Tell, g)). **The objective is inside the timed region**, as it is in CBXpy's
//!   `optimize()` (which evaluates it vectorised over the whole (M, N, d) array), so both sides
//!   time the same work: 100 × 40 × 5000 = 2·10^7 evaluations of a 20-D Rastrigin plus the CBO
//!   updates.
//! * Success: a run succeeds when its best evaluated point has `‖x − 0‖∞ < 0.25` (CBXpy's
//!   `dist_to_min`).
//!
//! Single-threaded (evoforge-strategies has no threads). Before criterion's samples, one
//! optimisation per seed 1..=3 is run and reported with its success count, wall time and the
//! CPU time of the thread (Linux `/proc/thread-self/schedstat`, comparable to the peer's
//! `time.process_time()`).
//!
//! Run: `cargo bench -p evoforge-strategies --bench cbo_rastrigin` (criterion's samples take
//! about 10 whole optimisations; `-- --noplot`).
use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, SamplingMode, criterion_group, criterion_main};
use evoforge_core::{Evaluated, Evaluation, Outcome, Purpose, Space, Strategy, stream};
use evoforge_strategies::{Cbo, CboBounds, CboConfig, CboNoise, InitBox};

const RUNS: usize = 100;
const DIM: usize = 20;
const STEPS: u64 = 5000;

/// CBXpy's `Rastrigin()` (b = c = 0, A = 10).
fn rastrigin(x: &[f64]) -> f64 {
    10.0 * x.len() as f64
        + x.iter().map(|v| v * v - 10.0 * (2.0 * std::f64::consts::PI * v).cos()).sum::<f64>()
}

fn setup() -> (Cbo, Space) {
    let space = Space::real_box(DIM, -1e8, 1e8);
    let cfg = CboConfig {
        particles: 40,
        runs: RUNS,
        sigma: 10.1,
        noise: CboNoise::Anisotropic,
        alpha: 30.0,
        dt: 0.01,
        init: Some(InitBox { lower: -3.0, upper: 3.0 }),
        bounds: CboBounds::None,
        ..Default::default()
    };
    (Cbo::new(cfg, &space).expect("valid config"), space)
}

/// One whole optimisation; returns the number of successful runs.
fn optimise(s: &Cbo, space: &Space, seed: u64) -> usize {
    let mut st = s.init(&mut stream(seed, &[Purpose::Init as u64]));
    for g in 0..STEPS {
        let cands = s.ask(&mut st, &mut stream(seed, &[Purpose::Ask as u64, g]));
        let results: Vec<_> = cands
            .into_iter()
            .map(|c| {
                let mut x = c.genome;
                space.repair(&mut x);
                let f = rastrigin(&x);
                Evaluated { id: c.id, genome: x, outcome: Outcome::Ok(Evaluation::value(f)) }
            })
            .collect();
        s.tell(&mut st, &results, &mut stream(seed, &[Purpose::Tell as u64, g]))
            .expect("complete generation");
    }
    st.run_bests()
        .iter()
        .filter(|b| b.is_some_and(|(x, _)| x.iter().all(|v| v.abs() < 0.25)))
        .count()
}

/// CPU time of the current thread (Linux), if readable.
fn thread_cpu() -> Option<Duration> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: u64 = s.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_nanos(ns))
}

fn cbo_rastrigin(c: &mut Criterion) {
    let (s, space) = setup();
    for seed in 1..=3 {
        let (c0, w0) = (thread_cpu(), Instant::now());
        let ok = optimise(&s, &space, seed);
        let wall = w0.elapsed().as_secs_f64();
        let cpu = match (c0, thread_cpu()) {
            (Some(a), Some(b)) => format!("{:.2} s", (b - a).as_secs_f64()),
            _ => "n/a".into(),
        };
        println!(
            "cbo_rastrigin seed {seed}: success {ok}/{RUNS}, cpu {cpu}, wall {wall:.2} s \
             ({STEPS} steps, d = {DIM}, N = 40, M = {RUNS})"
        );
    }
    let mut group = c.benchmark_group("cbo_rastrigin_d20");
    group
        .sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(30));
    let mut seed = 100;
    group.bench_function("runs100_n40_steps5000", |b| {
        b.iter(|| {
            seed += 1;
            black_box(optimise(&s, &space, seed))
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().without_plots();
    targets = cbo_rastrigin
}
criterion_main!(benches);
