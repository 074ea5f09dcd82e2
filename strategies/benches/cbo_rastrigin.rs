//! CBO on Rastrigin d = 20: the time of a whole optimisation in the configuration of CBXpy's
//! notebook `docs/examples/success_evaluation.ipynb`, and its success count.
//!
//! Configuration (as the notebook, see `benches/peers/cbxpy_rastrigin.py` for the peer):
//! `Cbo` with `particles: 40, runs: 100, sigma: 10.1, noise: anisotropic, alpha: 30` (×1.05
//! per step, capped at 1e5, the default schedule), `dt: 0.01`, `lambda: 1`, `init: {lower: -3,
//! upper: 3}`, 5000 steps; `bounds: none` in the box `[−1e8, 1e8]^20` (CBXpy has no box and
//! clamps particles into ±1e8, which `bounds: none` does too). One optimisation:
//!
//! * `init` from the stream (seed, Init); then 5000 times: `ask_into` (stream (seed, Ask, g):
//!   the 4000 particles of all runs as candidates), the objective on every candidate (the
//!   study's `Space::repair`, then CBXpy's Rastrigin `10 d + Σ (x² − 10 cos 2πx)`), `tell`
//!   (stream (seed, Tell, g)). **The objective is inside the timed region**, as it is in
//!   CBXpy's `optimize()` (which evaluates it with numpy over the whole (M, N, d) array), so
//!   both sides time the same work: 100 × 40 × 5000 = 2·10^7 evaluations of a 20-D Rastrigin
//!   plus the CBO updates.
//! * The timed objective is [`rastrigin_rows`]: 40 candidates per call (a batch, as
//!   `Problem::evaluate_batch` takes one), their 800 cosines in one stream, eight lanes at a
//!   time with AVX-512 and FMA when the CPU has them (numpy's `cos` dispatches to AVX-512 code
//!   on such a CPU too), else [`rastrigin_vec`], a loop the compiler vectorises. `cos 2πx` is
//!   computed by fdlibm's kernels after an exact reduction; it is checked against the plain
//!   libm form at start-up, and one optimisation with the plain form is reported beside.
//! * The evaluator's buffers live from step to step, as a generation loop can keep them: the
//!   results (each `Evaluation` is overwritten), and the candidates, whose genomes
//!   `ask_into` overwrites in place; a result takes its candidate's genome and hands back
//!   the one it held, so no step allocates a genome.
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
//! samples take about 10 whole optimisations). The default build targets baseline x86-64;
//! the strategy's hot loops carry AVX2 and AVX-512 clones picked at run time (`multiversion`),
//! as numpy's ufuncs do, so no `RUSTFLAGS` are needed.
use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, SamplingMode, criterion_group, criterion_main};
use evoforge_core::{Candidate, Evaluated, Evaluation, Outcome, Purpose, Space, Strategy, stream};
use evoforge_strategies::{Cbo, CboBounds, CboConfig, CboNoise, InitBox};
use rayon::prelude::*;

/// The `evoforge` binary's allocator (src/main.rs), so that the bench allocates as a study does.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

const RUNS: usize = 100;
const DIM: usize = 20;
const STEPS: u64 = 5000;
/// Candidates per evaluation task (one run's particles).
const CHUNK: usize = 40;

/// CBXpy's `Rastrigin()` (b = c = 0, A = 10), the plain form (libm's `cos`): the reference
/// [`rastrigin_rows`] and [`rastrigin_vec`] are checked against.
fn rastrigin(x: &[f64]) -> f64 {
    10.0 * x.len() as f64
        + x.iter().map(|v| v * v - 10.0 * (2.0 * std::f64::consts::PI * v).cos()).sum::<f64>()
}

/// `cos(2π x)`, branch-free so that a loop over many `x` vectorises: `r = x − round(x)`
/// (exact), `q = round(4r)`, `t = r − q/4 ∈ [−1/8, 1/8]` (exact), then fdlibm's
/// `__kernel_cos` / `__kernel_sin` polynomials at `θ = 2π t ∈ [−π/4, π/4]` and the quadrant
/// `q` picks `±cos θ` or `±sin θ`. Within 1e-15 of libm's `cos(2π x)` for |x| ≤ 1e4 (checked
/// at start-up); rounding is by adding and subtracting 1.5·2^52 (|x| < 2^51).
/// Rounding by adding and subtracting 1.5·2^52.
const SHIFT: f64 = 6755399441055744.0;
/// fdlibm's `__kernel_cos` coefficients C1..C6 and `__kernel_sin` S1..S6, written as k_cos.c
/// and k_sin.c print them.
#[allow(clippy::excessive_precision)]
const KC: [f64; 6] = [
    4.16666666666666019037e-02,
    -1.38888888888741095749e-03,
    2.48015872894767294178e-05,
    -2.75573143513906633035e-07,
    2.08757232129817482790e-09,
    -1.13596475577881948265e-11,
];
#[allow(clippy::excessive_precision)]
const KS: [f64; 6] = [
    -1.66666666666666324348e-01,
    8.33333333332248946124e-03,
    -1.98412698298579493134e-04,
    2.75573137070700676789e-06,
    -2.50507602534068634195e-08,
    1.58969099521155010221e-10,
];

#[inline(always)]
fn cos_2pi(x: f64) -> f64 {
    let [c1, c2, c3, c4, c5, c6] = KC;
    let [s1, s2, s3, s4, s5, s6] = KS;
    let r = x - ((x + SHIFT) - SHIFT);
    let q = (4.0 * r + SHIFT) - SHIFT;
    let t = r - 0.25 * q;
    let th = 2.0 * std::f64::consts::PI * t;
    let z = th * th;
    let rc = z * (c1 + z * (c2 + z * (c3 + z * (c4 + z * (c5 + z * c6)))));
    let hz = 0.5 * z;
    let w = 1.0 - hz;
    let c = w + (((1.0 - w) - hz) + z * rc);
    let rs = s2 + z * (s3 + z * (s4 + z * (s5 + z * s6)));
    let s = th + z * th * (s1 + z * rs);
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
#[multiversion::multiversion(targets(
    "x86_64+avx512f+avx512bw+avx512cd+avx512dq+avx512vl",
    "x86_64+avx2+fma",
    "x86_64+sse4.2"
))]
fn rastrigin_vec(x: &[f64; DIM]) -> f64 {
    let mut c = [0.0; DIM];
    for (cj, &v) in c.iter_mut().zip(x) {
        *cj = cos_2pi(v);
    }
    10.0 * DIM as f64 + x.iter().zip(&c).map(|(v, cv)| v * v - 10.0 * cv).sum::<f64>()
}

/// Rastrigin of several points at once, `f[k]` of the point `xs[k·DIM..(k+1)·DIM]`: the cosines
/// of all coordinates in one stream (as CBXpy's objective is one numpy expression over the
/// whole array), eight lanes at a time with AVX-512 when the CPU has it, so that the long
/// polynomial chains of neighbouring vectors overlap.
fn rastrigin_rows(xs: &mut [f64], f: &mut [f64]) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx512f") {
        // SAFETY: `terms` only needs AVX-512F, which the CPU was just found to have.
        unsafe { avx512::terms(xs) };
        for (fk, t) in f.iter_mut().zip(xs.chunks_exact(DIM)) {
            *fk = 10.0 * DIM as f64 + t.iter().sum::<f64>();
        }
        return;
    }
    for (fk, x) in f.iter_mut().zip(xs.chunks_exact(DIM)) {
        *fk = rastrigin_vec(x.try_into().expect("DIM coordinates"));
    }
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use std::arch::x86_64::*;

    /// `cos(2π x)` on eight lanes: [`super::cos_2pi`]'s steps with FMA.
    #[target_feature(enable = "avx512f")]
    fn cos_2pi(x: __m512d) -> __m512d {
        let k = _mm512_set1_pd;
        // c[0] + z (c[1] + z (…)) by Horner's rule.
        let poly =
            |z, c: &[f64]| c.iter().rev().fold(k(0.0), |acc, &ci| _mm512_fmadd_pd(acc, z, k(ci)));
        let shift = k(super::SHIFT);
        let r = _mm512_sub_pd(x, _mm512_sub_pd(_mm512_add_pd(x, shift), shift));
        let q = _mm512_sub_pd(_mm512_fmadd_pd(k(4.0), r, shift), shift);
        let t = _mm512_fnmadd_pd(k(0.25), q, r);
        let th = _mm512_mul_pd(k(2.0 * std::f64::consts::PI), t);
        let z = _mm512_mul_pd(th, th);
        let rc = _mm512_mul_pd(z, poly(z, &super::KC));
        let hz = _mm512_mul_pd(k(0.5), z);
        let w = _mm512_sub_pd(k(1.0), hz);
        let c =
            _mm512_add_pd(w, _mm512_fmadd_pd(z, rc, _mm512_sub_pd(_mm512_sub_pd(k(1.0), w), hz)));
        let rs = poly(z, &super::KS[1..]);
        let s = _mm512_fmadd_pd(_mm512_mul_pd(z, th), _mm512_fmadd_pd(z, rs, k(super::KS[0])), th);
        let aq = _mm512_abs_pd(q);
        let is_sin = _mm512_cmp_pd_mask::<_CMP_EQ_OQ>(aq, k(1.0));
        let v = _mm512_mask_blend_pd(is_sin, c, s);
        let neg = _mm512_cmp_pd_mask::<_CMP_EQ_OQ>(q, k(1.0))
            | _mm512_cmp_pd_mask::<_CMP_EQ_OQ>(aq, k(2.0));
        _mm512_mask_sub_pd(v, neg, _mm512_setzero_pd(), v)
    }

    /// `x ← x² − 10 cos 2πx` on every element.
    #[target_feature(enable = "avx512f")]
    pub(super) fn terms(xs: &mut [f64]) {
        let mut chunks = xs.chunks_exact_mut(8);
        for c in &mut chunks {
            let a: &mut [f64; 8] = c.try_into().expect("eight lanes");
            // SAFETY: `a` is eight contiguous, initialised f64s.
            let v = unsafe { _mm512_loadu_pd(a.as_ptr()) };
            let t = _mm512_fnmadd_pd(_mm512_set1_pd(10.0), cos_2pi(v), _mm512_mul_pd(v, v));
            // SAFETY: as the load.
            unsafe { _mm512_storeu_pd(a.as_mut_ptr(), t) };
        }
        for v in chunks.into_remainder() {
            *v = *v * *v - 10.0 * super::cos_2pi(*v);
        }
    }
}

/// Largest relative `|rastrigin_rows − rastrigin|` over random points (|x| ≤ 10 and ≤ 1e4).
fn check_vec_objective() -> f64 {
    use rand::RngExt;
    let mut rng = stream(9, &[Purpose::Other as u64]);
    let mut worst: f64 = 0.0;
    for scale in [10.0, 1e4] {
        for _ in 0..100_000 {
            let x: [f64; DIM] = std::array::from_fn(|_| scale * (2.0 * rng.random::<f64>() - 1.0));
            let (mut xs, mut f) = (x, [0.0]);
            rastrigin_rows(&mut xs, &mut f);
            for a in [f[0], rastrigin_vec(&x)] {
                let b = rastrigin(&x);
                worst = worst.max((a - b).abs() / b.abs().max(1.0));
            }
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
/// objective [`rastrigin_rows`] (else the plain [`rastrigin`] with libm's `cos`).
fn optimise(s: &Cbo, space: &Space, seed: u64, vec: bool) -> usize {
    let mut st = s.init(&mut stream(seed, &[Purpose::Init as u64]));
    // Buffers reused from step to step, as an evaluator would: the candidates (`ask_into`
    // overwrites the genomes in place) and the results.
    let mut cands: Vec<Candidate<Vec<f64>>> = Vec::new();
    let mut results: Vec<Evaluated<Vec<f64>>> = Vec::new();
    for g in 0..STEPS {
        s.ask_into(&mut st, &mut stream(seed, &[Purpose::Ask as u64, g]), &mut cands);
        // Results reuse their `Evaluation` from the previous step (same count every step).
        results.resize_with(cands.len(), || Evaluated {
            id: 0,
            genome: Vec::new(),
            outcome: Outcome::Ok(Evaluation::value(0.0)),
        });
        // The objective on rayon, as the study's `threads` evaluator runs it, CHUNK candidates
        // per task (one call of the objective on a batch, as `Problem::evaluate_batch`).
        results.par_chunks_mut(CHUNK).zip(cands.par_chunks_mut(CHUNK)).for_each(|(rs, cs)| {
            let mut xs = [0.0; CHUNK * DIM];
            let mut f = [0.0; CHUNK];
            for (k, (r, c)) in rs.iter_mut().zip(cs.iter_mut()).enumerate() {
                // The result takes the candidate's genome; the candidate keeps the result's
                // old one, a buffer for the next `ask_into`.
                std::mem::swap(&mut r.genome, &mut c.genome);
                r.id = c.id;
                // The study's clamp into the box, then the objective.
                space.repair(&mut r.genome);
                let x: &[f64; DIM] = r.genome.as_slice().try_into().expect("DIM coordinates");
                if vec {
                    xs[k * DIM..(k + 1) * DIM].copy_from_slice(x);
                } else {
                    f[k] = rastrigin(x);
                }
            }
            if vec {
                rastrigin_rows(&mut xs[..rs.len() * DIM], &mut f[..rs.len()]);
            }
            for (r, &fk) in rs.iter_mut().zip(&f) {
                match &mut r.outcome {
                    Outcome::Ok(e) => e.values[0] = fk,
                    o => *o = Outcome::Ok(Evaluation::value(fk)),
                }
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
