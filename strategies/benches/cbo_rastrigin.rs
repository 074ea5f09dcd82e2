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
//!   `Space::repair`, then CBXpy's Rastrigin `10 d + Σ (x² − 10 cos 2πx)`), `tell` (stream
//!   (seed, Tell, g)). **The objective is inside the timed region**, as it is in CBXpy's
//!   `optimize()` (which evaluates it with numpy over the whole (M, N, d) array), so both sides
//!   time the same work: 100 × 40 × 5000 = 2·10^7 evaluations of a 20-D Rastrigin plus the CBO
//!   updates. The timed objective is [`rastrigin_vec`], `cos 2πx` by fdlibm's kernels in a
//!   loop the compiler vectorises (numpy's `cos` is vectorised too); it is checked against the
//!   plain libm form at start-up, and one optimisation with the plain form is reported beside.
//!   The results buffer (and each `Evaluation`) is reused from step to step, as an evaluator
//!   can; the genomes are the ones `ask` allocated.
//! * Success: a run succeeds when its best evaluated point has `‖x − 0‖∞ < 0.25` (CBXpy's
//!   `dist_to_min`).
//!
//! The objective and the runs' moves go on rayon (`RAYON_NUM_THREADS` sets the threads).
//! Before criterion's samples, one optimisation with the plain objective (seed 1), one with
//! the vectorised objective on one thread (seed 1) and one with it on all threads per seed
//! 1..=3 are run and reported with their success count, wall time and the CPU time of the
//! process (Linux `/proc/self/stat`, all threads, comparable to the peer's
//! `time.process_time()`); a filter that matches nothing (`-- nomatch`) runs only those.
//!
//! Run: `cargo bench -p evoforge-strategies --bench cbo_rastrigin -- --noplot` (criterion's
//! samples take about 10 whole optimisations). The default build targets baseline x86-64
//! (SSE2); `RUSTFLAGS="-C target-cpu=native"` lets the loops use the machine's AVX-512, as
//! numpy's run-time dispatch does.
use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, SamplingMode, criterion_group, criterion_main};
use evoforge_core::{Evaluated, Evaluation, Outcome, Purpose, Space, Strategy, stream};
use evoforge_strategies::{Cbo, CboBounds, CboConfig, CboNoise, InitBox};
use rayon::prelude::*;

/// The `evoforge` binary's allocator (src/main.rs), so that the bench allocates as a study does.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

const RUNS: usize = 100;
const DIM: usize = 20;
const STEPS: u64 = 5000;

/// CBXpy's `Rastrigin()` (b = c = 0, A = 10), the plain form (libm's `cos`): the reference
/// [`rastrigin_vec`] is checked against.
fn rastrigin(x: &[f64]) -> f64 {
    10.0 * x.len() as f64
        + x.iter().map(|v| v * v - 10.0 * (2.0 * std::f64::consts::PI * v).cos()).sum::<f64>()
}

/// `cos(2π x)`, branch-free so that a loop over many `x` vectorises: `r = x − round(x)`
/// (exact), `q = round(4r)`, `t = r − q/4 ∈ [−1/8, 1/8]` (exact), then fdlibm's
/// `__kernel_cos` / `__kernel_sin` polynomials at `θ = 2π t ∈ [−π/4, π/4]` and the quadrant
/// `q` picks `±cos θ` or `±sin θ`. Within 1e-15 of libm's `cos(2π x)` for |x| ≤ 1e4 (checked
/// at start-up); rounding is by adding and subtracting 1.5·2^52 (|x| < 2^51).
// The coefficients are written as fdlibm's k_cos.c / k_sin.c print them.
#[allow(clippy::excessive_precision)]
#[inline(always)]
fn cos_2pi(x: f64) -> f64 {
    const SHIFT: f64 = 6755399441055744.0;
    const C1: f64 = 4.16666666666666019037e-02;
    const C2: f64 = -1.38888888888741095749e-03;
    const C3: f64 = 2.48015872894767294178e-05;
    const C4: f64 = -2.75573143513906633035e-07;
    const C5: f64 = 2.08757232129817482790e-09;
    const C6: f64 = -1.13596475577881948265e-11;
    const S1: f64 = -1.66666666666666324348e-01;
    const S2: f64 = 8.33333333332248946124e-03;
    const S3: f64 = -1.98412698298579493134e-04;
    const S4: f64 = 2.75573137070700676789e-06;
    const S5: f64 = -2.50507602534068634195e-08;
    const S6: f64 = 1.58969099521155010221e-10;
    let r = x - ((x + SHIFT) - SHIFT);
    let q = (4.0 * r + SHIFT) - SHIFT;
    let t = r - 0.25 * q;
    let th = 2.0 * std::f64::consts::PI * t;
    let z = th * th;
    let rc = z * (C1 + z * (C2 + z * (C3 + z * (C4 + z * (C5 + z * C6)))));
    let hz = 0.5 * z;
    let w = 1.0 - hz;
    let c = w + (((1.0 - w) - hz) + z * rc);
    let rs = S2 + z * (S3 + z * (S4 + z * (S5 + z * S6)));
    let s = th + z * th * (S1 + z * rs);
    let aq = q.abs();
    let v = if aq == 1.0 { s } else { c };
    // q ≡ 1 or 2 (mod 4) → negative: q ∈ {1, 2, −2}.
    let neg = (q == 1.0) | (aq == 2.0);
    if neg { -v } else { v }
}

/// Rastrigin of one point of `DIM` coordinates with [`cos_2pi`] in a loop the compiler
/// vectorises (as CBXpy's `f_dim='3D'` objective is one numpy expression over the whole
/// `(M, N, d)` array), compiled for AVX2 and AVX-512 as well and picked at run time (as numpy
/// dispatches its `cos`).
#[multiversion::multiversion(targets = "simd")]
fn rastrigin_vec(x: &[f64; DIM]) -> f64 {
    let mut c = [0.0; DIM];
    for (cj, &v) in c.iter_mut().zip(x) {
        *cj = cos_2pi(v);
    }
    10.0 * DIM as f64 + x.iter().zip(&c).map(|(v, cv)| v * v - 10.0 * cv).sum::<f64>()
}

/// Largest relative `|rastrigin_vec − rastrigin|` over random points (|x| ≤ 10 and ≤ 1e4).
fn check_vec_objective() -> f64 {
    use rand::RngExt;
    let mut rng = stream(9, &[Purpose::Other as u64]);
    let mut worst: f64 = 0.0;
    for scale in [10.0, 1e4] {
        for _ in 0..100_000 {
            let x: [f64; DIM] = std::array::from_fn(|_| scale * (2.0 * rng.random::<f64>() - 1.0));
            let (a, b) = (rastrigin_vec(&x), rastrigin(&x));
            worst = worst.max((a - b).abs() / b.abs().max(1.0));
        }
    }
    worst
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

/// One whole optimisation; returns the number of successful runs. `vec`: the vectorised
/// objective [`rastrigin_vec`] (else the plain [`rastrigin`] with libm's `cos`).
fn optimise(s: &Cbo, space: &Space, seed: u64, vec: bool) -> usize {
    let mut st = s.init(&mut stream(seed, &[Purpose::Init as u64]));
    // Buffers reused from step to step, as an evaluator would.
    let mut results: Vec<Evaluated<Vec<f64>>> = Vec::new();
    for g in 0..STEPS {
        let cands = s.ask(&mut st, &mut stream(seed, &[Purpose::Ask as u64, g]));
        // Results reuse their `Evaluation` from the previous step (same count every step).
        results.resize_with(cands.len(), || Evaluated {
            id: 0,
            genome: Vec::new(),
            outcome: Outcome::Ok(Evaluation::value(0.0)),
        });
        // The objective on rayon, as the study's `threads` evaluator runs it.
        results.par_iter_mut().zip(cands.into_par_iter()).for_each(|(r, c)| {
            let mut x = c.genome;
            // The study's clamp into the box, then the objective.
            space.repair(&mut x);
            let fk = if vec {
                rastrigin_vec(x.as_slice().try_into().expect("DIM coordinates"))
            } else {
                rastrigin(&x)
            };
            r.id = c.id;
            r.genome = x;
            match &mut r.outcome {
                Outcome::Ok(e) => e.values[0] = fk,
                o => *o = Outcome::Ok(Evaluation::value(fk)),
            }
        });
        s.tell(&mut st, &results, &mut stream(seed, &[Purpose::Tell as u64, g]))
            .expect("complete generation");
    }
    st.run_bests()
        .iter()
        .filter(|b| b.is_some_and(|(x, _)| x.iter().all(|v| v.abs() < 0.25)))
        .count()
}

/// CPU time of the whole process, all threads (Linux `/proc/self/stat`: utime + stime, in
/// clock ticks of 10 ms), if readable.
fn process_cpu() -> Option<Duration> {
    let s = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which may hold spaces) start after the last ')'.
    let rest = &s[s.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    Some(Duration::from_millis(ticks * 10))
}

fn cbo_rastrigin(c: &mut Criterion) {
    let (s, space) = setup();
    println!(
        "cbo_rastrigin: vectorised Rastrigin vs libm: largest relative difference {:e}",
        check_vec_objective()
    );
    let threads = rayon::current_num_threads();
    for (seed, vec, nt) in [
        (1, false, threads),
        (1, true, 1),
        (1, true, threads),
        (2, true, threads),
        (3, true, threads),
    ] {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(nt).build().expect("thread pool");
        let (c0, w0) = (process_cpu(), Instant::now());
        let ok = pool.install(|| optimise(&s, &space, seed, vec));
        let wall = w0.elapsed().as_secs_f64();
        let cpu = match (c0, process_cpu()) {
            (Some(a), Some(b)) => format!("{:.2} s", (b - a).as_secs_f64()),
            _ => "n/a".into(),
        };
        let objective = if vec { "vectorised objective" } else { "plain objective (libm cos)" };
        println!(
            "cbo_rastrigin seed {seed}, {objective}, {nt} thread(s): success {ok}/{RUNS}, \
             cpu {cpu}, wall {wall:.2} s ({STEPS} steps, d = {DIM}, N = 40, M = {RUNS})"
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
            black_box(optimise(&s, &space, seed, true))
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
