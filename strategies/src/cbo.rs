//! Consensus-based optimization (CBO): Pinnau, Totzeck, Tse & Martin (2017), "A consensus-based
//! model for global optimization and its mean-field limit", M3AS 27(1), with anisotropic noise
//! from Carrillo, Jin, Li & Zhu (2021), "A consensus-based global optimization method for high
//! dimensional machine learning problems", ESAIM: COCV 27, and random mini-batches of
//! particles from the same paper; as **CBXpy** implements it (`PdIPS/CBXpy` 1ff2b4a = PyPI
//! `cbx` 1.0.4: `cbx/dynamics/pdyn.py`, `cbx/dynamics/cbo.py`, `cbx/noise.py`,
//! `cbx/scheduler.py`, `cbx/utils/termination.py`).
//!
//! # One step (CBXpy's `CBO.cbo_step`), per run
//!
//! `M = runs` independent runs of `N = particles` particles each. A step evaluates the energy
//! `E_i = f(x_i)` of the particles of the current batch `B` (all `N` unless `batch_size` is
//! set) — these are the candidates of one `ask` (all runs together) — and then, in `tell`:
//!
//! ```text
//! w_i   = −α E_i,  c = Σ_{i∈B} x_i exp(w_i − logsumexp_B(w))     (consensus, `compute_consensus_default`)
//! d_i   = x_i − c                                                 (drift, no correction)
//! x_i  ← x_i − λ dt d_i + σ n_i                                   (`cbo_update`)
//! ```
//!
//! for the particles that move (`B` with `batch_partial: true`, all `N` otherwise). The noise
//! `n_i` (`noise`), with `ξ_i ~ N(0, I_d)` drawn from the run's stream (one per run, derived
//! from `tell`'s stream and the run index, so that runs move in parallel; the moving particles
//! of a run in order, coordinates in order; standard normals by the ziggurat method, Marsaglia
//! & Tsang 2000, as rand_distr's, on counter-based SplitMix64 words keyed by the stream):
//! * `isotropic` (default): `√dt ‖d_i‖₂ ξ_i`;
//! * `anisotropic`: `√dt d_i ⊙ ξ_i`;
//! * `covariance`: `√(2 dt (1 + α)) Cov^{1/2} ξ_i` with `Cov = Σ_{j∈B} ω_j d_j d_jᵀ` (`ω` the
//!   consensus weights) and `Cov^{1/2}` the symmetric square root (negative eigenvalues set to
//!   0). The factor is `√(2 dt/λ')` with `λ' = 1/(1 + α)`: CBXpy's `covariance_noise` is built
//!   with its default `mode = 'sampling'` for both the `'covariance'` and `'sampling'` names, so
//!   its `λ' = 1` branch is never taken. Where CBXpy's shapes work (no batching) this is its
//!   `update_covariance`; with a batch, `Cov` is taken over the batch and applied to every
//!   moving particle (CBXpy's arrays do not broadcast there).
//! * `constant`: `√dt ξ_i`.
//!
//! After the move, as CBXpy's `post_process_default`: NaN coordinates become `1e8` and every
//! coordinate is clamped into `[−1e8, 1e8]`; then, with `bounds: clip` (the default), into the
//! box of the space (CBXpy has no box; `bounds: none` hands out unclipped particles, which the
//! study clamps for evaluation only).
//!
//! # α annealing (`alpha_schedule`), after every step
//!
//! * `multiply` (default, CBXpy's `optimize(sched='default')`): `α ← min(α · alpha_factor,
//!   alpha_max)`, factor 1.05, maximum 1e5.
//! * `effective_sample_size` (CBXpy's `effective_sample_size`, Carrillo, Hoffmann, Stuart & Vaes
//!   2022): α solves `J_eff(α) = (Σ_i w_i)² / Σ_i w_i² = η N`, `w_i = exp(−α E_i)` over the
//!   last known energies of all `N` particles of the run (`+inf` before a particle's first
//!   evaluation, as CBXpy's `dyn.energy`), by CBXpy's `bisection_solve` on `[1e-5,
//!   alpha_max]`: midpoint, `low ← mid` where the gap is `> 0`, `high ← mid` where `< 0`, stop
//!   once `|gap| ≤ 1e-2` or after 16 midpoints; then capped at `alpha_max`. With the default
//!   `alpha_max` the 16 midpoints cannot resolve α below `1e5/2^16 ≈ 1.53`, in CBXpy as here.
//!   (A run with no finite energy keeps its α instead of CBXpy's NaN gap.)
//! * `constant`: α stays `alpha`.
//!
//! # Mini-batches (`batch_size`, `batch_partial`, `batch_var`)
//!
//! As CBXpy's `set_batch_idx_batched`: each run holds a random permutation of its particle
//! indices; each step takes the next `batch_size` of them; when fewer remain, a new permutation
//! is drawn (`batch_var: resample` replaces the rest, `concat` appends to it). The
//! permutations are Fisher–Yates shuffles from `ask`'s random stream (CBXpy uses a separate
//! MT19937 seeded 42). Only the batch is evaluated and enters the consensus; `batch_partial:
//! true` moves only the batch, `false` moves all particles with the batch's consensus (the
//! others keep their last energy).
//!
//! # Runs, best, termination
//!
//! Each run has its own particles, α, batch, consensus and best point (the best evaluated
//! position, as CBXpy's `best_particle`; read them with [`CboState::run_bests`]). [`best`]
//! is the best over all runs, [`recommend`] the latest consensus of the run holding it.
//! The number of steps is the study's budget (CBXpy's `max_it`). A run stops, as CBXpy's
//! `energy_tol_term` / `diff_tol_term`, once the lowest last-known energy of its particles is
//! below `energy_tol`, or once `‖x_new − x_old‖_F / N < diff_tol` over its particles (both off
//! by default, as CBXpy's default criteria are only `max_it`); stopped runs are no longer asked
//! for, and [`Strategy::stop`] reports the reasons once every run has stopped. A step whose
//! batch failed completely does not count as "moved less" for `diff_tol`.
//!
//! # Defaults: CBXpy's real ones
//!
//! `dt = 0.01`, `sigma = 5.1`, `lambda = 1`, `alpha = 1`, `noise: isotropic`, `particles =
//! 20`, `runs = 1`, `α ← min(1.05 α, 1e5)` per step: `CBXDynamic.__init__`,
//! `ParticleDynamic.__init__` and `CBXDynamic.default_sched`. (The `CBO` docstring's "dt default
//! 0.1, sigma default 1.0" is wrong.) Initial particles: uniform in the space's box, or in the
//! `init: {lower, upper}` box (CBXpy draws `U(−1, 1)` without a box).
//!
//! # Failures
//!
//! A failed evaluation is an energy of `+inf`: weight 0 in the consensus, never NaN. When every
//! energy of a run's batch is `+inf` the run's particles stay where they are for that step. An
//! energy of `−inf` is the best possible: the consensus is then the mean of the `−inf`
//! particles (the limit of the weights).
//!
//! Not done: the Heaviside drift corrections (they evaluate f at the consensus), CBXpy's other
//! dynamics (PolarCBO, CBS, ...), `max_eval` / `max_time` (the study's budget covers them).
//!
//! [`best`]: Strategy::best
//! [`recommend`]: Strategy::recommend
use evoforge_core::{
    Candidate, ConfigError, Describe, Evaluated, Metrics, ParamDoc, Rng, Space, Strategy,
    TellError, stream,
};
use rand::{Rng as _, RngExt};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::util::{Batch, nf, non_negative, positive};

/// CBXpy's `post_process_default.max_thresh`: particles are clamped into `[−1e8, 1e8]`.
const MAX_THRESH: f64 = 1e8;
/// Lower end of the effective-sample-size bisection (CBXpy's `param_update.minimum`).
const ESS_ALPHA_MIN: f64 = 1e-5;
/// `|gap|` at which the bisection stops (CBXpy's `thresh=1e-2`).
const ESS_THRESH: f64 = 1e-2;
/// Bisection iterations: it stops when `it > 15`, i.e. after at most 16 midpoints.
const ESS_MAX_IT: u32 = 15;

/// The noise model of the CBO step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum CboNoise {
    /// `√dt ‖x − c‖₂ ξ`.
    #[default]
    Isotropic,
    /// `√dt (x − c) ⊙ ξ`.
    Anisotropic,
    /// `√(2 dt (1 + α)) Cov^{1/2} ξ` (CBXpy's `covariance` and `sampling`).
    Covariance,
    /// `√dt ξ`.
    Constant,
}

/// How α changes after every step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum AlphaSchedule {
    /// `α ← min(α · alpha_factor, alpha_max)`.
    #[default]
    Multiply,
    /// α from the effective sample size `J_eff(α) = η N`, by bisection.
    EffectiveSampleSize,
    /// α stays constant.
    Constant,
}

/// What a new permutation does to the unused rest of the old one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum BatchVar {
    /// The rest is dropped.
    #[default]
    Resample,
    /// The new permutation is appended to the rest.
    Concat,
}

/// Whether particles are kept inside the box of the space.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum CboBounds {
    /// Particles are clipped into the box after every move.
    #[default]
    Clip,
    /// Particles move freely (clamped to ±1e8 only); the study clamps them for evaluation.
    None,
}

/// The box the initial particles are drawn from, uniformly (the same for every coordinate).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InitBox {
    /// Lower end.
    pub lower: f64,
    /// Upper end.
    pub upper: f64,
}

/// Configuration of [`Cbo`] (YAML `kind: cbo`). The defaults are CBXpy's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CboConfig {
    /// Particles per run `N` (CBXpy's `N`, default 20).
    pub particles: usize,
    /// Independent runs `M` (CBXpy's `M`, default 1).
    pub runs: usize,
    /// Time step `dt` (default 0.01).
    pub dt: f64,
    /// Noise scale `σ` (default 5.1).
    pub sigma: f64,
    /// Drift strength `λ` (CBXpy's `lamda`, default 1).
    pub lambda: f64,
    /// Initial α (default 1).
    pub alpha: f64,
    /// `multiply | effective_sample_size | constant` (default `multiply`).
    pub alpha_schedule: AlphaSchedule,
    /// Factor of the `multiply` schedule (default 1.05).
    pub alpha_factor: f64,
    /// Upper limit of α under either schedule (default 1e5).
    pub alpha_max: f64,
    /// `η` of the effective-sample-size schedule (default 0.5).
    pub ess_eta: f64,
    /// `isotropic | anisotropic | covariance | constant` (default `isotropic`).
    pub noise: CboNoise,
    /// Particles per step and run; `None`: all (no batching).
    pub batch_size: Option<usize>,
    /// With a batch: move only the batch (`true`, CBXpy's default) or all particles.
    pub batch_partial: bool,
    /// `resample | concat`: what a new permutation does with the rest of the old one.
    pub batch_var: BatchVar,
    /// Initial box; `None`: the box of the space.
    pub init: Option<InitBox>,
    /// `clip | none`: keep particles inside the box of the space.
    pub bounds: CboBounds,
    /// Stop a run once its lowest known energy is below this; `None`: off.
    pub energy_tol: Option<f64>,
    /// Stop a run once `‖x_new − x_old‖_F / N` is below this; `None`: off.
    pub diff_tol: Option<f64>,
}

impl Default for CboConfig {
    fn default() -> Self {
        Self {
            particles: 20,
            runs: 1,
            dt: 0.01,
            sigma: 5.1,
            lambda: 1.0,
            alpha: 1.0,
            alpha_schedule: AlphaSchedule::Multiply,
            alpha_factor: 1.05,
            alpha_max: 1e5,
            ess_eta: 0.5,
            noise: CboNoise::Isotropic,
            batch_size: None,
            batch_partial: true,
            batch_var: BatchVar::Resample,
            init: None,
            bounds: CboBounds::Clip,
            energy_tol: None,
            diff_tol: None,
        }
    }
}

impl Describe for CboConfig {
    const KIND: &'static str = Cbo::NAME;
    const SUMMARY: &'static str =
        "Consensus-based optimization (Pinnau et al. 2017) as CBXpy: M runs, batches, α annealing";
    fn params() -> Vec<ParamDoc> {
        vec![
            ParamDoc::opt("particles", "int", "20", "particles per run (N)"),
            ParamDoc::opt("runs", "int", "1", "independent runs (M)"),
            ParamDoc::opt("dt", "float", "0.01", "time step"),
            ParamDoc::opt("sigma", "float", "5.1", "noise scale"),
            ParamDoc::opt("lambda", "float", "1.0", "drift strength"),
            ParamDoc::opt("alpha", "float", "1.0", "initial alpha (weights exp(-alpha f))"),
            ParamDoc::opt(
                "alpha_schedule",
                "multiply | effective_sample_size | constant",
                "multiply",
                "alpha after every step",
            ),
            ParamDoc::opt("alpha_factor", "float", "1.05", "alpha multiplier per step"),
            ParamDoc::opt("alpha_max", "float", "1e5", "upper limit of alpha"),
            ParamDoc::opt("ess_eta", "float", "0.5", "effective sample size target eta N"),
            ParamDoc::opt(
                "noise",
                "isotropic | anisotropic | covariance | constant",
                "isotropic",
                "noise model",
            ),
            ParamDoc::opt("batch_size", "int", "null", "particles per step and run; null: all"),
            ParamDoc::opt("batch_partial", "bool", "true", "move only the batch"),
            ParamDoc::opt("batch_var", "resample | concat", "resample", "batch permutation refill"),
            ParamDoc::opt(
                "init",
                "{lower: float, upper: float}",
                "null",
                "initial uniform box; null: the space's box",
            ),
            ParamDoc::opt("bounds", "clip | none", "clip", "keep particles inside the box"),
            ParamDoc::opt("energy_tol", "float", "null", "stop a run below this energy"),
            ParamDoc::opt("diff_tol", "float", "null", "stop a run when it moves less"),
        ]
    }
}

/// CBO with `M` independent runs over the continuous encoding of the space.
#[derive(Debug, Clone)]
pub struct Cbo {
    config: CboConfig,
    space: Space,
    d: usize,
    /// Particles per step and run.
    batch_size: usize,
    /// `bounds: clip`, and the box.
    clip: bool,
    lo: Vec<f64>,
    hi: Vec<f64>,
}

/// Buffers of one step of one run, kept per thread so that a step does not allocate its
/// weights and noise each time.
#[derive(Default)]
struct Scratch {
    /// Consensus weights of the batch.
    w: Vec<f64>,
    /// ξ of every moving particle.
    z: Vec<f64>,
    /// The ziggurat's scratch behind `z`.
    zig: ziggurat::Buffers,
    /// A particle before its move (`diff_tol` only).
    old: Vec<f64>,
}

/// Everything of one run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Run {
    /// Particle positions, `N × d` row-major.
    #[serde(with = "nf::vec")]
    x: Vec<f64>,
    /// Last known energy per particle (`+inf` before the first evaluation).
    #[serde(with = "nf::vec")]
    energy: Vec<f64>,
    #[serde(with = "nf")]
    alpha: f64,
    /// Unused rest of the batch permutation (batching only).
    perm: Vec<u32>,
    /// Particles of the pending batch, in slot order.
    batch: Vec<u32>,
    /// Slot of the first of them in the pending [`Batch`].
    slot0: usize,
    /// The latest consensus point.
    #[serde(with = "nf::vec")]
    consensus: Vec<f64>,
    /// `‖x_new − x_old‖_F / N` of the latest step.
    #[serde(with = "nf")]
    update_diff: f64,
    #[serde(with = "nf::best")]
    best: Option<(Vec<f64>, f64)>,
    /// Why the run stopped.
    stopped: Option<String>,
}

/// State of [`Cbo`]: the runs, the pending step, the best point.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CboState {
    next_id: u64,
    /// Steps completed.
    generation: u64,
    runs: Vec<Run>,
    batch: Batch,
    #[serde(with = "nf::best")]
    best: Option<(Vec<f64>, f64)>,
}

impl CboState {
    /// Steps completed (CBXpy's `it`).
    pub fn generation(&self) -> u64 {
        self.generation
    }
    /// Number of runs.
    pub fn runs(&self) -> usize {
        self.runs.len()
    }
    /// Best evaluated point and energy of every run (`None` before a finite evaluation).
    pub fn run_bests(&self) -> Vec<Option<(&[f64], f64)>> {
        self.runs.iter().map(|r| r.best.as_ref().map(|(x, f)| (x.as_slice(), *f))).collect()
    }
    /// Particle positions of run `m`, `N × d` row-major.
    pub fn particles(&self, m: usize) -> &[f64] {
        &self.runs[m].x
    }
    /// The latest consensus point of run `m` (empty before the first step).
    pub fn consensus(&self, m: usize) -> &[f64] {
        &self.runs[m].consensus
    }
    /// The current α of run `m`.
    pub fn alpha(&self, m: usize) -> f64 {
        self.runs[m].alpha
    }
    /// Why run `m` stopped, if it did.
    pub fn run_stopped(&self, m: usize) -> Option<&str> {
        self.runs[m].stopped.as_deref()
    }
}

/// Consensus weights `exp(w_i − logsumexp(w))`, `w_i = −α E_i`, as CBXpy's
/// `compute_consensus_default`; `+inf` energies get 0, and `−inf` energies share the whole
/// weight equally. `None` when no energy is below `+inf`.
pub fn consensus_weights(energy: &[f64], alpha: f64) -> Option<Vec<f64>> {
    let mut w = Vec::with_capacity(energy.len());
    consensus_weights_into(energy, alpha, &mut w).then_some(w)
}

/// [`consensus_weights`] into `w` (cleared first; the step reuses one buffer per thread);
/// `false` when no energy is below `+inf`.
fn consensus_weights_into(energy: &[f64], alpha: f64, w: &mut Vec<f64>) -> bool {
    w.clear();
    let n_neg = energy.iter().filter(|e| **e == f64::NEG_INFINITY).count();
    if n_neg > 0 {
        let v = 1.0 / n_neg as f64;
        w.extend(energy.iter().map(|&e| if e == f64::NEG_INFINITY { v } else { 0.0 }));
        return true;
    }
    let e_min = energy.iter().copied().filter(|e| e.is_finite()).fold(f64::INFINITY, f64::min);
    if !e_min.is_finite() {
        return false;
    }
    // w_i − max(w) = −α (E_i − E_min) ≤ 0, exactly 0 at the minimum, so the sum is ≥ 1 and the
    // logarithm finite (scipy's logsumexp subtracts the maximum the same way). A finite
    // difference whose product with α overflows gives exp(−inf) = 0.
    let shifted = |e: f64| {
        if e.is_finite() {
            let t = e - e_min;
            if t == 0.0 || alpha == 0.0 { 0.0 } else { -alpha * t }
        } else {
            f64::NEG_INFINITY
        }
    };
    // exp(w_i − max w) / Σ_j exp(w_j − max w): CBXpy's exp(w_i − logsumexp(w)) with one
    // exponential per particle (equal up to rounding).
    // exp(w) for w < −746 is 0 in f64; skipping the call is what most particles need once α
    // is large.
    w.extend(energy.iter().map(|&e| shifted(e)).map(|v| if v < -746.0 { 0.0 } else { v.exp() }));
    let sum: f64 = w.iter().sum();
    w.iter_mut().for_each(|v| *v /= sum);
    true
}

/// `J_eff(α) − η N` with `J_eff = (Σ w)² / Σ w²`, `w_i = exp(−α E_i)` (CBXpy's
/// `eff_sample_size_gap`), computed with the shift by the smallest energy. `None` when no
/// energy is finite.
fn ess_gap(energy: &[f64], alpha: f64, eta: f64) -> Option<f64> {
    let n = energy.len() as f64;
    let n_neg = energy.iter().filter(|e| **e == f64::NEG_INFINITY).count();
    if n_neg > 0 {
        return Some(n_neg as f64 - eta * n);
    }
    let e_min = energy.iter().copied().filter(|e| e.is_finite()).fold(f64::INFINITY, f64::min);
    if !e_min.is_finite() {
        return None;
    }
    let (mut s1, mut s2) = (0.0, 0.0);
    for &e in energy {
        if e.is_finite() {
            let t = e - e_min;
            let w = if t == 0.0 { 1.0 } else { (-alpha * t).exp() };
            s1 += w;
            s2 += w * w;
        }
    }
    Some(s1 * s1 / s2 - eta * n)
}

/// CBXpy's `bisection_solve` for one run: α with `J_eff(α) ≈ η N` on `[1e-5, alpha_max]`.
pub fn ess_alpha(energy: &[f64], eta: f64, alpha_max: f64) -> Option<f64> {
    let (mut lo, mut hi) = (ESS_ALPHA_MIN, alpha_max);
    let mut it = 0;
    loop {
        let x = (lo + hi) / 2.0;
        let fx = ess_gap(energy, x, eta)?;
        if fx > 0.0 {
            lo = x;
        } else if fx < 0.0 {
            hi = x;
        }
        it += 1;
        if fx.abs() <= ESS_THRESH || it > ESS_MAX_IT {
            return Some(x.min(alpha_max));
        }
    }
}

/// The symmetric square root of the `d × d` column-major matrix `a` (negative eigenvalues
/// clamped to 0, as CBXpy's `compute_mat_sqrt`); `None` when the decomposition fails.
fn mat_sqrt(a: &[f64], d: usize) -> Option<Vec<f64>> {
    use faer::dyn_stack::{MemBuffer, MemStack};
    use faer::linalg::evd::{self, ComputeEigenvectors, SelfAdjointEvdParams};
    use faer::{MatMut, MatRef, Par};
    let params: faer::Spec<SelfAdjointEvdParams, f64> = Default::default();
    let mut buf = MemBuffer::new(evd::self_adjoint_evd_scratch::<f64>(
        d,
        ComputeEigenvectors::Yes,
        Par::Seq,
        params,
    ));
    let mut s = faer::diag::Diag::<f64>::zeros(d);
    let mut u = vec![0.0; d * d];
    evd::self_adjoint_evd(
        MatRef::from_column_major_slice(a, d, d),
        s.as_mut(),
        Some(MatMut::from_column_major_slice_mut(&mut u, d, d)),
        Par::Seq,
        MemStack::new(&mut buf),
        params,
    )
    .ok()?;
    let ev: Vec<f64> = s.column_vector().iter().map(|e| e.max(0.0).sqrt()).collect();
    if ev.iter().any(|v| !v.is_finite()) {
        return None;
    }
    // V diag(√λ) Vᵀ, column-major.
    let mut out = vec![0.0; d * d];
    for j in 0..d {
        for i in 0..d {
            let mut acc = 0.0;
            for (k, e) in ev.iter().enumerate() {
                acc += u[k * d + i] * e * u[k * d + j];
            }
            out[j * d + i] = acc;
        }
    }
    Some(out)
}

/// Compiles the function it wraps for AVX-512, AVX2 + FMA and SSE4.2 as well, and picks the
/// clone at run time (`multiversion`). The targets are listed because the `"simd"` preset has
/// no AVX-512 entry on stable Rust.
macro_rules! simd_clones {
    ($f:item) => {
        #[multiversion::multiversion(targets(
            "x86_64+avx512f+avx512bw+avx512cd+avx512dq+avx512vl",
            "x86_64+avx2+fma",
            "x86_64+sse4.2"
        ))]
        $f
    };
}

/// Standard normal variates by the ziggurat method: Marsaglia & Tsang (2000), "The Ziggurat
/// Method for Generating Random Variables", J. Stat. Softw. 5(8), with 256 layers in the form
/// of Doornik (2005) and of rand_distr's `StandardNormal` (one `u64` per draw: 8 bits pick the
/// layer, the top 52 give a uniform in [−1, 1); the wedges and the tail beyond `R` by
/// rejection). Written out here so that the words, the fast path and the rejections are
/// separate passes that vectorise; the tables are computed once from `R` and the layer area
/// `V`, and match rand_distr's to the last digit printed there.
mod ziggurat {
    use std::sync::OnceLock;

    use evoforge_core::Rng;
    use rand::{Rng as _, RngExt};

    /// Right end of the base layer.
    const R: f64 = 3.654152885361009;
    /// Area of every layer.
    const V: f64 = 0.00492867323399;

    pub(super) struct Tables {
        x: [f64; 257],
        f: [f64; 257],
    }

    fn pdf(x: f64) -> f64 {
        (-0.5 * x * x).exp()
    }

    pub(super) fn tables() -> &'static Tables {
        static T: OnceLock<Tables> = OnceLock::new();
        T.get_or_init(|| {
            let mut x = [0.0; 257];
            x[0] = V / pdf(R);
            x[1] = R;
            for i in 1..255 {
                x[i + 1] = (-2.0 * (V / x[i] + pdf(x[i])).ln()).sqrt();
            }
            x[256] = 0.0;
            let f = x.map(pdf);
            Tables { x, f }
        })
    }

    #[cfg(test)]
    pub(super) fn x_table(t: &Tables) -> &[f64; 257] {
        &t.x
    }

    /// Fills `out` with N(0, 1) variates in three passes: counter-based words keyed by one draw
    /// of `rng` ([`splitmix_fill`]) into `buf`'s words, then the ziggurat's fast path over
    /// the whole slice (branch-free, so it vectorises with gathers on AVX2 / AVX-512), then the
    /// rare rejections (about 1.2%) one by one, in slice order, drawing what they need from
    /// `rng`. Same seed, same variates.
    pub(super) fn fill(t: &Tables, rng: &mut Rng, buf: &mut Buffers, out: &mut [f64]) {
        let Buffers { bits, rejected } = buf;
        bits.clear();
        bits.resize(out.len(), 0);
        splitmix_fill(rng.next_u64(), bits);
        fast_path(&t.x, bits, out);
        rejected_blocks(out, rejected);
        for (k, _) in rejected.iter().enumerate().filter(|(_, r)| **r) {
            for (o, &b) in out[8 * k..].iter_mut().zip(&bits[8 * k..]).take(8) {
                if o.is_nan() {
                    let i = (b & 0xff) as usize;
                    let u = f64::from_bits((b >> 12) | 0x4000_0000_0000_0000) - 3.0;
                    *o = slow(t, rng, i, u, u * t.x[i]);
                }
            }
        }
    }

    /// Scratch of [`fill`], overwritten by each call: the generator's words and which blocks
    /// of eight hold a rejection.
    #[derive(Default)]
    pub(super) struct Buffers {
        bits: Vec<u64>,
        rejected: Vec<bool>,
    }

    simd_clones! {
        /// SplitMix64 (Steele, Lea & Flood 2014) in counter form: word `k` is the SplitMix64
        /// finaliser of `base + (k + 1)·γ`. The xoshiro stream is a chain of dependent operations
        /// and yields a word every few cycles; these words depend on `k` alone, so the loop
        /// vectorises (eight words per AVX-512 instruction sequence). `base` is one draw of the
        /// caller's stream, so the words are a function of that stream.
        fn splitmix_fill(base: u64, out: &mut [u64]) {
            const GAMMA: u64 = 0x9e37_79b9_7f4a_7c15;
            for (k, o) in out.iter_mut().enumerate() {
                let mut z = base.wrapping_add((k as u64 + 1).wrapping_mul(GAMMA));
                z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
                z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
                *o = z ^ (z >> 31);
            }
        }
    }

    simd_clones! {
        /// `rejected[k]`: whether `out[8k..8k + 8]` holds a rejection (NaN). Most blocks hold
        /// none; a test over all of them vectorises, the repair loop then visits only the few.
        fn rejected_blocks(out: &[f64], rejected: &mut Vec<bool>) {
            rejected.clear();
            rejected.extend(out.chunks(8).map(|b| b.iter().fold(false, |acc, v| acc | v.is_nan())));
        }
    }

    simd_clones! {
        /// The fast path on every `bits[k]`: 8 bits pick the layer `i`, the top 52 give a uniform
        /// `u` in [−1, 1) (2 + [0, 2) − 3), and `x = u·x_i` is accepted when `|x| < x_{i+1}`; NaN
        /// marks a rejection.
        fn fast_path(tx: &[f64; 257], bits: &[u64], out: &mut [f64]) {
            for (o, &b) in out.iter_mut().zip(bits) {
                let i = (b & 0xff) as usize;
                let u = f64::from_bits((b >> 12) | 0x4000_0000_0000_0000) - 3.0;
                let x = u * tx[i];
                *o = if x.abs() < tx[i + 1] { x } else { f64::NAN };
            }
        }
    }

    #[cold]
    #[inline(never)]
    fn slow(t: &Tables, rng: &mut Rng, mut i: usize, mut u: f64, mut x: f64) -> f64 {
        loop {
            if i == 0 {
                // The tail beyond R (Marsaglia 1964).
                let (mut a, mut b) = (1.0f64, 0.0f64);
                while -2.0 * b < a * a {
                    let p: f64 = rng.sample(rand::distr::Open01);
                    let q: f64 = rng.sample(rand::distr::Open01);
                    a = p.ln() / R;
                    b = q.ln();
                }
                return if u < 0.0 { a - R } else { R - a };
            }
            if t.f[i + 1] + (t.f[i] - t.f[i + 1]) * rng.random::<f64>() < pdf(x) {
                return x;
            }
            let bits = rng.next_u64();
            i = (bits & 0xff) as usize;
            u = f64::from_bits((bits >> 12) | 0x4000_0000_0000_0000) - 3.0;
            x = u * t.x[i];
            if x.abs() < t.x[i + 1] {
                return x;
            }
        }
    }
}

simd_clones! {
    /// `cons += Σ_k w_k x_{batch_k}` over the rows of `x` (`cons.len()` columns): the consensus
    /// point's sum, skipping the weights that underflowed to 0.
    fn weighted_sum(cons: &mut [f64], x: &[f64], batch: &[u32], w: &[f64]) {
        let d = cons.len();
        for (&p, &wi) in batch.iter().zip(w) {
            if wi == 0.0 {
                continue;
            }
            let xi = &x[p as usize * d..(p as usize + 1) * d];
            for (cj, xj) in cons.iter_mut().zip(xi) {
                *cj += wi * xj;
            }
        }
    }
}

simd_clones! {
    /// CBXpy's `cbo_update` with anisotropic noise on one particle, `x ← x − λ dt d + σ √dt (d ∘ ξ)`
    /// with `d = x − c` (`a = −λ dt`), then its `post_process_default` (NaN → 1e8, clip to ±1e8).
    /// The hottest loop of the strategy: compiled for AVX2 and AVX-512 as well, picked at run time.
    fn move_anisotropic(x: &mut [f64], cons: &[f64], z: &[f64], a: f64, sigma: f64, sdt: f64) {
        for ((xj, cj), zj) in x.iter_mut().zip(cons).zip(z) {
            let dj = *xj - cj;
            let v = *xj + (a * dj + sigma * (sdt * (zj * dj)));
            *xj = if v.is_nan() { MAX_THRESH } else { v.clamp(-MAX_THRESH, MAX_THRESH) };
        }
    }
}

impl Cbo {
    /// A permutation of `0..n` (Fisher–Yates, from the back).
    fn permutation(n: usize, rng: &mut Rng) -> Vec<u32> {
        let mut p: Vec<u32> = (0..n as u32).collect();
        for i in (1..n).rev() {
            let j = rng.random_range(0..=i);
            p.swap(i, j);
        }
        p
    }

    /// Picks the next batch of run `r` (CBXpy's `set_batch_idx_batched`).
    fn next_batch(&self, r: &mut Run, rng: &mut Rng) {
        let n = self.config.particles;
        r.batch.clear();
        if self.batch_size == n {
            r.batch.extend(0..n as u32);
            return;
        }
        if r.perm.len() < self.batch_size {
            let p = Self::permutation(n, rng);
            match self.config.batch_var {
                BatchVar::Resample => r.perm = p,
                BatchVar::Concat => r.perm.extend(p),
            }
        }
        r.batch.extend(r.perm.drain(..self.batch_size));
    }

    /// The CBO step of one run whose batch energies `e` (slot order) are in.
    fn step_run(&self, r: &mut Run, e: &[f64], rng: &mut Rng) -> bool {
        thread_local! {
            static SCRATCH: std::cell::RefCell<Scratch> = std::cell::RefCell::default();
        }
        SCRATCH.with_borrow_mut(|sc| self.step_run_with(r, e, rng, sc))
    }

    fn step_run_with(&self, r: &mut Run, e: &[f64], rng: &mut Rng, sc: &mut Scratch) -> bool {
        let c = &self.config;
        let d = self.d;
        let n = c.particles;
        for (&p, &ei) in r.batch.iter().zip(e) {
            r.energy[p as usize] = ei;
        }
        let Scratch { w, z, zig, old } = sc;
        if !consensus_weights_into(e, r.alpha, w) {
            // Every energy of the batch is +inf: nothing moves (and that is no convergence).
            r.update_diff = f64::INFINITY;
            return false;
        }
        // The run keeps its consensus buffer: it is overwritten, not reallocated, each step.
        let mut cons = std::mem::take(&mut r.consensus);
        cons.clear();
        cons.resize(d, 0.0);
        weighted_sum(&mut cons, &r.x, &r.batch, w);
        let all: Vec<u32>;
        let moving: &[u32] = if c.batch_partial || self.batch_size == n {
            &r.batch
        } else {
            all = (0..n as u32).collect();
            &all
        };
        let a = -c.lambda * c.dt;
        let sdt = c.dt.sqrt();
        let sigma = c.sigma;
        let sqrt_cov = if c.noise == CboNoise::Covariance {
            // Cov = Σ_j ω_j d_j d_jᵀ over the batch, column-major.
            let mut cov = vec![0.0; d * d];
            let mut drift = vec![0.0; d];
            for (&p, &wi) in r.batch.iter().zip(w.iter()) {
                if wi == 0.0 {
                    continue;
                }
                let x = &r.x[p as usize * d..(p as usize + 1) * d];
                for (dj, (xj, cj)) in drift.iter_mut().zip(x.iter().zip(&cons)) {
                    *dj = xj - cj;
                }
                for j in 0..d {
                    let s = wi * drift[j];
                    for i in 0..d {
                        cov[j * d + i] += s * drift[i];
                    }
                }
            }
            mat_sqrt(&cov, d)
        } else {
            None
        };
        // ξ of every moving particle, particle by particle, coordinate by coordinate.
        z.resize(moving.len() * d, 0.0);
        let z = &mut z[..moving.len() * d];
        ziggurat::fill(ziggurat::tables(), rng, zig, z);
        let track = c.diff_tol.is_some();
        old.resize(if track { d } else { 0 }, 0.0);
        let mut noise = vec![0.0; if c.noise == CboNoise::Covariance { d } else { 0 }];
        let mut diff2 = 0.0;
        for (&p, zk) in moving.iter().zip(z.chunks_exact(d)) {
            let x = &mut r.x[p as usize * d..(p as usize + 1) * d];
            if track {
                old.copy_from_slice(x);
            }
            // x ← x − λ dt d + σ n with d = x − c (CBXpy's `cbo_update`), then CBXpy's
            // post_process_default: NaN → 1e8, clip to ±1e8.
            let post =
                |v: f64| if v.is_nan() { MAX_THRESH } else { v.clamp(-MAX_THRESH, MAX_THRESH) };
            match c.noise {
                CboNoise::Anisotropic => move_anisotropic(x, &cons, zk, a, sigma, sdt),
                CboNoise::Isotropic => {
                    let norm = x
                        .iter()
                        .zip(&cons)
                        .map(|(xj, cj)| (xj - cj) * (xj - cj))
                        .sum::<f64>()
                        .sqrt();
                    let b = sdt * norm;
                    for ((xj, cj), zj) in x.iter_mut().zip(&cons).zip(zk) {
                        let dj = *xj - cj;
                        *xj = post(*xj + (a * dj + sigma * (b * zj)));
                    }
                }
                CboNoise::Constant => {
                    for ((xj, cj), zj) in x.iter_mut().zip(&cons).zip(zk) {
                        let dj = *xj - cj;
                        *xj = post(*xj + (a * dj + sigma * (sdt * zj)));
                    }
                }
                CboNoise::Covariance => {
                    let b = (2.0 * c.dt * (1.0 + r.alpha)).sqrt();
                    noise.fill(0.0);
                    if let Some(sq) = &sqrt_cov {
                        for (j, zj) in zk.iter().enumerate() {
                            let col = &sq[j * d..(j + 1) * d];
                            for (v, s) in noise.iter_mut().zip(col) {
                                *v += s * zj;
                            }
                        }
                    }
                    for ((xj, cj), nj) in x.iter_mut().zip(&cons).zip(&noise) {
                        let dj = *xj - cj;
                        *xj = post(*xj + (a * dj + sigma * (b * nj)));
                    }
                }
            }
            if self.clip {
                for ((xj, lo), hi) in x.iter_mut().zip(&self.lo).zip(&self.hi) {
                    *xj = xj.clamp(*lo, *hi);
                }
            }
            if track {
                diff2 += x.iter().zip(old.iter()).map(|(v, o)| (v - o) * (v - o)).sum::<f64>();
            }
        }
        r.consensus = cons;
        // Only `diff_tol` reads it; +inf (never below a tolerance) when it is off.
        r.update_diff = if track { diff2.sqrt() / n as f64 } else { f64::INFINITY };
        true
    }

    /// α after a step.
    fn schedule(&self, r: &mut Run) {
        let c = &self.config;
        match c.alpha_schedule {
            AlphaSchedule::Constant => {}
            AlphaSchedule::Multiply => r.alpha = (r.alpha * c.alpha_factor).min(c.alpha_max),
            AlphaSchedule::EffectiveSampleSize => {
                if let Some(a) = ess_alpha(&r.energy, c.ess_eta, c.alpha_max) {
                    r.alpha = a;
                }
            }
        }
    }

    /// The termination criteria of one run after a step.
    fn check_stop(&self, r: &mut Run) {
        let f_min = r.energy.iter().copied().fold(f64::INFINITY, f64::min);
        if let Some(t) = self.config.energy_tol
            && f_min < t
        {
            r.stopped = Some(format!("energy_tol: lowest energy {f_min:e} < {t:e}"));
        } else if let Some(t) = self.config.diff_tol
            && r.update_diff < t
        {
            r.stopped = Some(format!("diff_tol: update {:e} < {t:e}", r.update_diff));
        }
    }
}

impl Strategy for Cbo {
    const NAME: &'static str = "cbo";
    type Config = CboConfig;
    type State = CboState;
    type Genome = Vec<f64>;
    type Context = ();

    fn new(config: Self::Config, space: &Space) -> Result<Self, ConfigError> {
        space.check()?;
        let c = &config;
        if c.particles == 0 {
            return Err(ConfigError::new("particles", "must be at least 1"));
        }
        if c.particles > u32::MAX as usize {
            return Err(ConfigError::new("particles", format!("must be at most {}", u32::MAX)));
        }
        if c.runs == 0 {
            return Err(ConfigError::new("runs", "must be at least 1"));
        }
        positive("dt", c.dt)?;
        non_negative("sigma", c.sigma)?;
        non_negative("lambda", c.lambda)?;
        non_negative("alpha", c.alpha)?;
        positive("alpha_factor", c.alpha_factor)?;
        positive("alpha_max", c.alpha_max)?;
        if c.alpha_schedule == AlphaSchedule::EffectiveSampleSize && c.alpha_max <= ESS_ALPHA_MIN {
            return Err(ConfigError::new(
                "alpha_max",
                format!("must exceed {ESS_ALPHA_MIN} for the effective_sample_size schedule"),
            ));
        }
        if !(c.ess_eta > 0.0 && c.ess_eta <= 1.0) {
            return Err(ConfigError::new(
                "ess_eta",
                format!("must be in (0, 1], got {}", c.ess_eta),
            ));
        }
        let batch_size = match c.batch_size {
            None => c.particles,
            Some(b) if b >= 1 => b.min(c.particles),
            Some(_) => return Err(ConfigError::new("batch_size", "must be at least 1")),
        };
        if let Some(ib) = &c.init {
            if !(ib.lower.is_finite() && ib.upper.is_finite() && ib.lower <= ib.upper) {
                return Err(ConfigError::new(
                    "init",
                    format!("needs finite lower <= upper, got [{}, {}]", ib.lower, ib.upper),
                ));
            }
            if let Some((i, dm)) =
                space.dims().iter().enumerate().find(|(_, dm)| ib.lower < dm.lo || ib.upper > dm.hi)
            {
                return Err(ConfigError::new(
                    "init",
                    format!(
                        "[{}, {}] is not inside the bounds [{}, {}] of coordinate {i}",
                        ib.lower, ib.upper, dm.lo, dm.hi
                    ),
                ));
            }
        }
        for (field, v) in [("energy_tol", c.energy_tol), ("diff_tol", c.diff_tol)] {
            if let Some(v) = v
                && v.is_nan()
            {
                return Err(ConfigError::new(field, "must be a number"));
            }
        }
        let clip = config.bounds == CboBounds::Clip;
        Ok(Self {
            config,
            space: space.clone(),
            d: space.dim(),
            batch_size,
            clip,
            lo: space.lower(),
            hi: space.upper(),
        })
    }

    fn init(&self, rng: &mut Rng) -> Self::State {
        let c = &self.config;
        let (n, d) = (c.particles, self.d);
        let runs = (0..c.runs)
            .map(|_| {
                let mut x = Vec::with_capacity(n * d);
                for _ in 0..n {
                    for dm in self.space.dims() {
                        let (lo, hi) = match &c.init {
                            Some(ib) => (ib.lower, ib.upper),
                            None => (dm.lo, dm.hi),
                        };
                        x.push(lo + (hi - lo) * rng.random::<f64>());
                    }
                }
                Run {
                    x,
                    energy: vec![f64::INFINITY; n],
                    alpha: c.alpha,
                    perm: Vec::new(),
                    batch: Vec::new(),
                    slot0: 0,
                    consensus: Vec::new(),
                    update_diff: f64::INFINITY,
                    best: None,
                    stopped: None,
                }
            })
            .collect();
        CboState { next_id: 0, generation: 0, runs, batch: Batch::default(), best: None }
    }

    fn ask(&self, s: &mut Self::State, rng: &mut Rng) -> Vec<Candidate<Self::Genome>> {
        let mut out = Vec::new();
        self.ask_into(s, rng, &mut out);
        out
    }

    fn ask_into(&self, s: &mut Self::State, rng: &mut Rng, out: &mut Vec<Candidate<Vec<f64>>>) {
        let d = self.d;
        let mut slot = 0;
        for r in &mut s.runs {
            r.slot0 = slot;
            if r.stopped.is_some() {
                r.batch.clear();
                continue;
            }
            self.next_batch(r, rng);
            slot += r.batch.len();
        }
        let first = s.next_id;
        out.truncate(slot);
        out.resize_with(slot, || Candidate { id: 0, genome: Vec::new() });
        // Each run's candidates are a contiguous part of `out` (slot order); the runs copy
        // their particles out on rayon, into the genomes already there when `out` is reused.
        let mut parts = Vec::with_capacity(s.runs.len());
        let mut rest = &mut out[..];
        for r in &s.runs {
            let (mine, tail) = rest.split_at_mut(r.batch.len());
            parts.push((r, mine));
            rest = tail;
        }
        parts.into_par_iter().for_each(|(r, cands)| {
            for (k, (c, &p)) in cands.iter_mut().zip(&r.batch).enumerate() {
                let p = p as usize;
                c.id = first + (r.slot0 + k) as u64;
                c.genome.clear();
                c.genome.extend_from_slice(&r.x[p * d..(p + 1) * d]);
            }
        });
        s.batch = Batch::new(first, slot);
        s.next_id += slot as u64;
    }

    fn tell(
        &self,
        s: &mut Self::State,
        results: &[Evaluated<Self::Genome>],
        rng: &mut Rng,
    ) -> Result<Metrics, TellError> {
        s.batch.accept(results)?;
        let mut m = Metrics::new();
        if !s.batch.complete() {
            m.insert("pending".into(), s.batch.missing() as f64);
            return Ok(m);
        }
        let d = self.d;
        let f = s.batch.values();
        let failures = f.iter().filter(|v| **v == f64::INFINITY).count();
        // The runs are independent: each moves on rayon with its own stream, (one draw of the
        // tell stream, run index), so the result does not depend on the thread count.
        let base = rng.next_u64();
        let moved = s
            .runs
            .par_iter_mut()
            .enumerate()
            .filter(|(_, r)| !r.batch.is_empty())
            .map(|(i, r)| {
                let e = &f[r.slot0..r.slot0 + r.batch.len()];
                // Best evaluated position of the run (slot order breaks ties), before the move.
                let mut bi = None;
                let mut bf = r.best.as_ref().map_or(f64::INFINITY, |b| b.1);
                for (k, &v) in e.iter().enumerate() {
                    if v < bf {
                        bf = v;
                        bi = Some(k);
                    }
                }
                if let Some(k) = bi {
                    let p = r.batch[k] as usize;
                    r.best = Some((r.x[p * d..(p + 1) * d].to_vec(), bf));
                }
                let mut run_rng = stream(base, &[i as u64]);
                let moved = self.step_run(r, e, &mut run_rng);
                self.schedule(r);
                self.check_stop(r);
                r.batch.clear();
                usize::from(moved)
            })
            .sum::<usize>();
        let active = s.runs.iter().filter(|r| r.stopped.is_none()).count();
        let alpha_sum: f64 = s.runs.iter().filter(|r| r.stopped.is_none()).map(|r| r.alpha).sum();
        // Best over all runs (run order breaks ties).
        for r in &s.runs {
            if let Some((x, v)) = &r.best
                && s.best.as_ref().is_none_or(|b| *v < b.1)
            {
                s.best = Some((x.clone(), *v));
            }
        }
        s.batch = Batch::default();
        s.generation += 1;
        m.insert("failures".into(), failures as f64);
        m.insert("active_runs".into(), active as f64);
        m.insert("moved_runs".into(), moved as f64);
        if active > 0 {
            m.insert("alpha".into(), alpha_sum / active as f64);
        }
        if let Some(b) = &s.best {
            m.insert("best_fitness".into(), b.1);
        }
        Ok(m)
    }

    fn context(&self, _s: &Self::State) {}

    fn decode(&self, _ctx: &(), g: &Self::Genome, out: &mut [f64]) {
        out.copy_from_slice(g);
    }

    fn recommend(&self, s: &Self::State) -> Option<Vec<f64>> {
        // The latest consensus of the run holding the best value.
        let mut best: Option<(&Run, f64)> = None;
        for r in &s.runs {
            if let Some((_, v)) = &r.best
                && best.is_none_or(|b| *v < b.1)
            {
                best = Some((r, *v));
            }
        }
        best.map(|(r, _)| r.consensus.clone()).filter(|c| !c.is_empty())
    }

    fn best(&self, s: &Self::State) -> Option<(Self::Genome, f64)> {
        s.best.clone()
    }

    fn stop(&self, s: &Self::State) -> Option<String> {
        if s.runs.iter().all(|r| r.stopped.is_some()) {
            let reasons: Vec<&str> = s.runs.iter().filter_map(|r| r.stopped.as_deref()).collect();
            if reasons.len() == 1 {
                Some(reasons[0].to_string())
            } else {
                let energy = reasons.iter().filter(|r| r.starts_with("energy_tol")).count();
                Some(format!(
                    "all {} runs stopped: {energy} by energy_tol, {} by diff_tol",
                    reasons.len(),
                    reasons.len() - energy
                ))
            }
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conformance::{self, sphere};
    use evoforge_core::{Evaluation, Outcome, stream};

    fn evaluated(c: &[Candidate<Vec<f64>>], f: impl Fn(&[f64]) -> f64) -> Vec<Evaluated<Vec<f64>>> {
        c.iter()
            .map(|c| Evaluated {
                id: c.id,
                genome: c.genome.clone(),
                outcome: Outcome::Ok(Evaluation::value(f(&c.genome))),
            })
            .collect()
    }

    #[test]
    fn ask_into_reuses_buffers_and_asks_what_ask_asks() {
        // Batches of 5 of 12 particles, one run stopping early: the candidate count changes
        // from step to step, so `ask_into` shrinks the buffer it is handed (first a stale one,
        // longer than any step) and overwrites genomes of the wrong length.
        let space = Space::real_box(4, -5.0, 5.0);
        let cfg = CboConfig {
            particles: 12,
            runs: 3,
            batch_size: Some(5),
            energy_tol: Some(4.0),
            ..Default::default()
        };
        let s = Cbo::new(cfg, &space).unwrap();
        let (mut a, mut b) = (s.init(&mut stream(8, &[0])), s.init(&mut stream(8, &[0])));
        // Stale genomes of other lengths, more of them than any step asks.
        let mut buf: Vec<Candidate<Vec<f64>>> =
            (0..40).map(|i| Candidate { id: 999, genome: vec![7.0; i % 6] }).collect();
        let mut lens = std::collections::BTreeSet::new();
        for g in 0..40 {
            let ca = s.ask(&mut a, &mut stream(8, &[1, g]));
            s.ask_into(&mut b, &mut stream(8, &[1, g]), &mut buf);
            assert_eq!(ca, buf, "step {g}");
            assert_eq!(a, b, "step {g}");
            lens.insert(buf.len());
            let r = evaluated(&ca, sphere);
            s.tell(&mut a, &r, &mut stream(8, &[2, g])).unwrap();
            s.tell(&mut b, &r, &mut stream(8, &[2, g])).unwrap();
        }
        assert!(lens.len() > 1, "the candidate count never changed: {lens:?}");
    }

    #[test]
    fn same_particles_at_1_and_4_threads() {
        // The runs move in parallel, each with its own stream: the thread count must not show.
        let space = Space::real_box(5, -5.0, 5.0);
        let cfg = CboConfig { particles: 12, runs: 9, ..Default::default() };
        let s = Cbo::new(cfg, &space).unwrap();
        let run = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            pool.install(|| {
                let mut st = s.init(&mut stream(4, &[0]));
                for g in 0..30 {
                    let c = s.ask(&mut st, &mut stream(4, &[1, g]));
                    let r = evaluated(&c, sphere);
                    s.tell(&mut st, &r, &mut stream(4, &[2, g])).unwrap();
                }
                (0..st.runs()).map(|m| st.particles(m).to_vec()).collect::<Vec<_>>()
            })
        };
        let one = run(1);
        assert_eq!(one, run(4));
        // And the particles did move apart from one another run to run.
        assert_ne!(one[0], one[1]);
    }

    #[test]
    fn consensus_weights_are_a_stable_softmax() {
        // exp(−α E_i) / Σ exp(−α E_j), computed directly where it does not underflow.
        let e = [1.0, 2.0, 0.5, 3.0];
        let alpha = 1.7;
        let w = consensus_weights(&e, alpha).unwrap();
        let z: f64 = e.iter().map(|v| (-alpha * v).exp()).sum();
        for (wi, ei) in w.iter().zip(&e) {
            let r = (-alpha * ei).exp() / z;
            assert!((wi - r).abs() <= 1e-15, "{wi} vs {r}");
        }
        // α = 1e5 with energies ~1e3: the direct form underflows to 0/0, this one does not.
        let w = consensus_weights(&[1000.0, 1000.001, 1001.0], 1e5).unwrap();
        assert_eq!(w[0], 1.0 / (1.0 + (-100.0f64).exp() + (-1e5f64).exp()));
        assert!(w[1] > 0.0 && w[1] < 1e-40 && w[2] == 0.0);
        // Failures weigh nothing; all failed: no consensus; −inf takes everything.
        let w = consensus_weights(&[f64::INFINITY, 2.0, f64::INFINITY], 3.0).unwrap();
        assert_eq!(w, vec![0.0, 1.0, 0.0]);
        assert!(consensus_weights(&[f64::INFINITY; 3], 3.0).is_none());
        let w = consensus_weights(&[f64::NEG_INFINITY, 2.0, f64::NEG_INFINITY], 3.0).unwrap();
        assert_eq!(w, vec![0.5, 0.0, 0.5]);
        // α = 0: the plain mean, even across huge energy differences.
        let w = consensus_weights(&[-1e308, 1e308], 0.0).unwrap();
        assert_eq!(w, vec![0.5, 0.5]);
    }

    #[test]
    fn ziggurat_tables_and_distribution() {
        let t = ziggurat::tables();
        // rand_distr's tables (ZIG_NORM_X[0], [2], [128], [255]).
        let close = |a: f64, b: f64| (a - b).abs() <= 1e-15 * b;
        let x = ziggurat::x_table(t);
        assert!(close(x[0], 3.91075795953709) && close(x[2], 3.4492782985609645));
        assert!(close(x[255], 0.2152418959132738) && x[256] == 0.0);
        assert!(close(x[128], 1.5353425714388431), "{}", x[128]);
        // Φ at a few points, from 2·10^6 draws (3.5 standard errors).
        let n = 2_000_000;
        let mut rng = stream(5, &[1]);
        // In slices of 1000, as the strategy fills its noise (the rejections of a slice draw
        // after its bits).
        let mut z = vec![0.0; n];
        let mut buf = ziggurat::Buffers::default();
        for chunk in z.chunks_mut(1000) {
            ziggurat::fill(t, &mut rng, &mut buf, chunk);
        }
        for (q, phi) in [
            (-3.8, 7.234804392511999e-5),
            (-2.0, 0.022750131948179195),
            (-1.0, 0.15865525393145707),
            (0.0, 0.5),
            (0.5, 0.6914624612740131),
            (1.5, 0.9331927987311419),
            (3.7, 0.9998921648680772),
        ] {
            let p = z.iter().filter(|v| **v < q).count() as f64 / n as f64;
            let se = (phi * (1.0 - phi) / n as f64).sqrt();
            assert!((p - phi).abs() < 3.5 * se, "P(Z < {q}) = {p}, Φ = {phi}");
        }
        let m4 = z.iter().map(|v| v.powi(4)).sum::<f64>() / n as f64;
        assert!((m4 - 3.0).abs() < 0.03, "E Z^4 = {m4}");
    }

    #[test]
    fn ess_bisection_hits_the_target_sample_size() {
        // Energies with a large root α (small spread): the bisection resolves it.
        let e: Vec<f64> =
            (0..40).map(|i| (i as f64 * 0.37).sin() * 3e-4 + i as f64 * 1e-4).collect();
        let a = ess_alpha(&e, 0.5, 1e5).unwrap();
        let gap = ess_gap(&e, a, 0.5).unwrap();
        assert!(gap.abs() <= ESS_THRESH, "J_eff − ηN = {gap} at α = {a}");
        // The gap falls with α (J_eff from N at α = 0 towards 1).
        assert!(ess_gap(&e, a / 2.0, 0.5).unwrap() > 0.0);
        assert!(ess_gap(&e, a * 2.0, 0.5).unwrap() < 0.0);
        // CBXpy's 16 midpoints on [1e-5, 1e5] cannot go below 1e5/2^16 ≈ 1.53: a root at
        // α ≈ 0.1 (spread ~10) ends there with the gap far from 0, as in CBXpy.
        let e: Vec<f64> = e.iter().map(|v| v * 1e4).collect();
        let a = ess_alpha(&e, 0.5, 1e5).unwrap();
        assert_eq!(a, 1e5 / 65536.0 + 1e-5 / 65536.0 * 65535.0);
        assert!(ess_gap(&e, a, 0.5).unwrap() < -1.0);
        // Equal energies: J_eff = N > ηN for every α; bisection climbs to the top.
        let a = ess_alpha(&[1.0; 10], 0.5, 1e5).unwrap();
        assert!(a > 0.99e5 && a <= 1e5);
        // No finite energy: no answer (the run keeps its α).
        assert!(ess_alpha(&[f64::INFINITY; 4], 0.5, 1e5).is_none());
    }

    #[test]
    fn one_step_matches_the_cbxpy_formula() {
        // Two particles in 2-D, no noise (σ = 0): x_i ← x_i − λ dt (x_i − c).
        let space = Space::real_box(2, -10.0, 10.0);
        let cfg = CboConfig {
            particles: 2,
            sigma: 0.0,
            alpha: 2.0,
            lambda: 3.0,
            dt: 0.1,
            ..Default::default()
        };
        let s = Cbo::new(cfg, &space).unwrap();
        let mut st = s.init(&mut stream(1, &[1]));
        st.runs[0].x = vec![1.0, 2.0, -1.0, 0.0];
        let c = s.ask(&mut st, &mut stream(1, &[2]));
        assert_eq!(c[0].genome, vec![1.0, 2.0]);
        let f = |x: &[f64]| x[0] * x[0] + x[1];
        let res = evaluated(&c, f);
        s.tell(&mut st, &res, &mut stream(1, &[3])).unwrap();
        // E = [3, 1]; weights e^{−6}, e^{−2}.
        let (w0, w1) = ((-6.0f64).exp(), (-2.0f64).exp());
        let cons = [(w0 - w1) / (w0 + w1), (w0 * 2.0) / (w0 + w1)];
        for (a, b) in st.consensus(0).iter().zip(&cons) {
            assert!((a - b).abs() < 1e-15);
        }
        let x = st.particles(0);
        let expect = [1.0 - 0.3 * (1.0 - cons[0]), 2.0 - 0.3 * (2.0 - cons[1])];
        assert!((x[0] - expect[0]).abs() < 1e-15 && (x[1] - expect[1]).abs() < 1e-15);
        // α was multiplied by 1.05 after the step; the best is particle 1.
        assert_eq!(st.alpha(0), 2.0 * 1.05);
        assert_eq!(s.best(&st), Some((vec![-1.0, 0.0], 1.0)));
    }

    #[test]
    fn three_noise_free_steps_match_cbxpy() {
        // Golden values from CBXpy 1.0.4 (numpy 2.4.6): `CBO(Rastrigin(), x=x0, sigma=0,
        // dt=0.1, lamda=1, alpha=2, max_it=3, f_dim='3D', noise='anisotropic').optimize()`
        // with M = 2 runs of N = 4 particles in d = 3; α ×1.05 after each step.
        let x0 = [
            [1.0, -2.0, 0.5, 0.3, 0.1, -0.7, -1.5, 2.0, 1.0, 0.2, -0.4, 0.9],
            [2.0, 1.0, -1.0, -0.6, 0.8, 0.25, 1.2, -0.3, 0.4, 0.0, 0.5, -1.8],
        ];
        let x3 = [
            0.7925826965567414,
            -1.667882081861555,
            0.541458692459082,
            0.28228269655674143,
            -0.13698208186155492,
            -0.33334130754091795,
            -1.0299173034432585,
            1.2481179181384452,
            0.905958692459082,
            0.20938269655674147,
            -0.501482081861555,
            0.833058692459082,
            1.9943646606142242,
            0.9995665123549402,
            -0.9972907022183769,
            0.09896466061422415,
            0.8537665123549403,
            -0.08604070221837692,
            1.4111646606142243,
            0.05186651235494026,
            0.023309297781623092,
            0.5363646606142242,
            0.6350665123549404,
            -1.580490702218377,
        ];
        let consensus = [
            -1.029917302994267,
            1.248117917420058,
            0.9059586923692848,
            1.9436466061422415,
            0.9956651235494025,
            -0.9729070221837692,
        ];
        let best = [
            (vec![-1.0299173034931464, 1.248117918218266, 0.9059586924690595], 15.19267902134799),
            (vec![2.0, 1.0, -1.0], 6.0),
        ];
        let rastrigin = |x: &[f64]| {
            30.0 + x
                .iter()
                .map(|v| v * v - 10.0 * (2.0 * std::f64::consts::PI * v).cos())
                .sum::<f64>()
        };
        let space = Space::real_box(3, -10.0, 10.0);
        let cfg = CboConfig {
            particles: 4,
            runs: 2,
            sigma: 0.0,
            dt: 0.1,
            alpha: 2.0,
            noise: CboNoise::Anisotropic,
            ..Default::default()
        };
        let s = Cbo::new(cfg, &space).unwrap();
        let mut st = s.init(&mut stream(1, &[1]));
        for (r, x) in st.runs.iter_mut().zip(&x0) {
            r.x = x.to_vec();
        }
        for g in 0..3 {
            conformance::step(&s, &space, &mut st, 1, g, &rastrigin).unwrap();
        }
        let close = |a: f64, b: f64| (a - b).abs() <= 1e-13 * b.abs().max(1.0);
        let x: Vec<f64> = [st.particles(0), st.particles(1)].concat();
        assert!(x.iter().zip(&x3).all(|(a, b)| close(*a, *b)), "{x:?}");
        let c: Vec<f64> = [st.consensus(0), st.consensus(1)].concat();
        assert!(c.iter().zip(&consensus).all(|(a, b)| close(*a, *b)), "{c:?}");
        for (m, (bx, bf)) in best.iter().enumerate() {
            let (x, f) = st.run_bests()[m].unwrap();
            assert!(close(f, *bf) && x.iter().zip(bx).all(|(a, b)| close(*a, *b)), "{x:?} {f}");
        }
        assert!(close(st.alpha(0), 2.3152500000000003) && close(st.alpha(1), 2.3152500000000003));
        // CBXpy's `bisection_solve(eff_sample_size_gap(e, 0.5), 1e-5, 1e5, max_it=15,
        // thresh=1e-2)` on these energies gives 1.5258889060974121.
        let e = [3.1, 0.4, 2.2, 5.0, 0.41, 1.7, f64::INFINITY, 0.9, 4.4, 2.8];
        assert_eq!(ess_alpha(&e, 0.5, 1e5), Some(1.5258889060974121));
    }

    #[test]
    fn anisotropic_noise_scales_each_coordinate_by_its_drift() {
        // A particle on the consensus in one coordinate gets no noise there.
        let space = Space::real_box(2, -10.0, 10.0);
        let cfg = CboConfig {
            particles: 2,
            alpha: 0.0,
            alpha_schedule: AlphaSchedule::Constant,
            noise: CboNoise::Anisotropic,
            ..Default::default()
        };
        let s = Cbo::new(cfg, &space).unwrap();
        let mut st = s.init(&mut stream(1, &[1]));
        st.runs[0].x = vec![1.0, 2.0, 1.0, -2.0];
        let c = s.ask(&mut st, &mut stream(1, &[2]));
        s.tell(&mut st, &evaluated(&c, sphere), &mut stream(1, &[3])).unwrap();
        let x = st.particles(0);
        assert_eq!((x[0], x[2]), (1.0, 1.0));
        assert_ne!(x[1], 2.0);
        assert_eq!(st.consensus(0), &[1.0, 0.0]);
    }

    #[test]
    fn batches_walk_through_permutations() {
        let space = Space::real_box(1, -1.0, 1.0);
        for var in [BatchVar::Resample, BatchVar::Concat] {
            let cfg = CboConfig {
                particles: 5,
                runs: 2,
                batch_size: Some(2),
                batch_var: var,
                ..Default::default()
            };
            let s = Cbo::new(cfg, &space).unwrap();
            let mut st = s.init(&mut stream(1, &[1]));
            let mut seen = [vec![], vec![]];
            for g in 0..2 {
                let c = s.ask(&mut st, &mut stream(1, &[2, g]));
                assert_eq!(c.len(), 4);
                for (m, sn) in seen.iter_mut().enumerate() {
                    sn.extend(st.runs[m].batch.iter().copied());
                }
                s.tell(&mut st, &evaluated(&c, sphere), &mut stream(1, &[3, g])).unwrap();
            }
            // The first four batch members of a run are distinct (one permutation of 5).
            for sn in &mut seen {
                sn.sort_unstable();
                sn.dedup();
                assert_eq!(sn.len(), 4, "{var:?}");
            }
            // The third batch needs a new permutation: resample drops the 5th index, concat
            // keeps it first.
            let left = st.runs[0].perm.clone();
            assert_eq!(left.len(), 1);
            s.ask(&mut st, &mut stream(1, &[2, 2]));
            match var {
                BatchVar::Resample => assert_eq!(st.runs[0].perm.len(), 3),
                BatchVar::Concat => {
                    assert_eq!(st.runs[0].batch[0], left[0]);
                    assert_eq!(st.runs[0].perm.len(), 4);
                }
            }
        }
    }

    #[test]
    fn partial_false_moves_every_particle() {
        let space = Space::real_box(2, -5.0, 5.0);
        for partial in [true, false] {
            let cfg = CboConfig {
                particles: 6,
                batch_size: Some(2),
                batch_partial: partial,
                ..Default::default()
            };
            let s = Cbo::new(cfg, &space).unwrap();
            let mut st = s.init(&mut stream(1, &[1]));
            let before = st.particles(0).to_vec();
            let c = s.ask(&mut st, &mut stream(1, &[2]));
            let batch = st.runs[0].batch.clone();
            s.tell(&mut st, &evaluated(&c, sphere), &mut stream(1, &[3])).unwrap();
            let after = st.particles(0);
            for p in 0..6 {
                let moved = before[2 * p..2 * p + 2] != after[2 * p..2 * p + 2];
                assert_eq!(moved, !partial || batch.contains(&(p as u32)), "partial {partial}");
            }
        }
    }

    #[test]
    fn a_failed_batch_leaves_the_run_in_place_and_runs_are_independent() {
        let space = Space::real_box(3, -5.0, 5.0);
        let cfg = CboConfig { particles: 4, runs: 2, ..Default::default() };
        let s = Cbo::new(cfg, &space).unwrap();
        let mut st = s.init(&mut stream(1, &[1]));
        let before = st.clone();
        let c = s.ask(&mut st, &mut stream(1, &[2]));
        assert_eq!(c.len(), 8);
        let mut res = evaluated(&c, sphere);
        for r in &mut res[..4] {
            r.outcome = Outcome::Failed("boom".into());
        }
        s.tell(&mut st, &res, &mut stream(1, &[3])).unwrap();
        assert_eq!(st.particles(0), before.particles(0));
        assert!(st.run_bests()[0].is_none());
        assert_ne!(st.particles(1), before.particles(1));
        assert!(st.particles(1).iter().all(|v| v.is_finite()));
        let (bx, bf) = s.best(&st).unwrap();
        assert_eq!(bf, st.run_bests()[1].unwrap().1);
        assert_eq!(sphere(&bx), bf);
    }

    #[test]
    fn termination_criteria_stop_runs() {
        let space = Space::real_box(2, -5.0, 5.0);
        // energy_tol: the sphere is below 1e9 at once.
        let cfg = CboConfig { runs: 3, energy_tol: Some(1e9), ..Default::default() };
        let s = Cbo::new(cfg, &space).unwrap();
        let mut st = conformance::fresh(&s, 1).unwrap();
        assert!(s.stop(&st).is_none());
        conformance::step(&s, &space, &mut st, 1, 0, &sphere).unwrap();
        let reason = s.stop(&st).unwrap();
        assert!(reason.contains("all 3 runs stopped: 3 by energy_tol"), "{reason}");
        // diff_tol: σ = 0 and λ dt small: the particles creep.
        let cfg =
            CboConfig { sigma: 0.0, lambda: 1e-9, diff_tol: Some(1e-6), ..Default::default() };
        let s = Cbo::new(cfg, &space).unwrap();
        let mut st = conformance::fresh(&s, 1).unwrap();
        conformance::step(&s, &space, &mut st, 1, 0, &sphere).unwrap();
        assert!(s.stop(&st).unwrap().starts_with("diff_tol"));
    }

    #[test]
    fn init_box_and_bounds() {
        let space = Space::real_box(4, -100.0, 100.0);
        let cfg = CboConfig {
            particles: 50,
            init: Some(InitBox { lower: -3.0, upper: 3.0 }),
            ..Default::default()
        };
        let s = Cbo::new(cfg.clone(), &space).unwrap();
        let st = s.init(&mut stream(1, &[1]));
        assert!(st.particles(0).iter().all(|v| (-3.0..3.0).contains(v)));
        // A box outside the space is refused; so are bad values.
        let err = |c: CboConfig| Cbo::new(c, &space).unwrap_err().field;
        let bad = CboConfig { init: Some(InitBox { lower: -300.0, upper: 3.0 }), ..cfg };
        assert_eq!(err(bad), "init");
        let d = CboConfig::default;
        assert_eq!(err(CboConfig { particles: 0, ..d() }), "particles");
        assert_eq!(err(CboConfig { runs: 0, ..d() }), "runs");
        assert_eq!(err(CboConfig { dt: 0.0, ..d() }), "dt");
        assert_eq!(err(CboConfig { sigma: -1.0, ..d() }), "sigma");
        assert_eq!(err(CboConfig { batch_size: Some(0), ..d() }), "batch_size");
        assert_eq!(err(CboConfig { ess_eta: 0.0, ..d() }), "ess_eta");
        assert_eq!(err(CboConfig { alpha_max: f64::NAN, ..d() }), "alpha_max");
        let cfg: Result<CboConfig, _> = serde_json::from_str(r#"{"init": {"lower": 0}}"#);
        assert!(cfg.is_err());
        let cfg: CboConfig = serde_json::from_str(
            r#"{"noise": "covariance", "alpha_schedule": "effective_sample_size", "batch_var": "concat", "bounds": "none", "init": {"lower": -1, "upper": 1}}"#,
        )
        .unwrap();
        assert_eq!(cfg.noise, CboNoise::Covariance);
        assert!(serde_json::from_str::<CboConfig>(r#"{"sigmaa": 1}"#).is_err());
        // With bounds: clip the particles never leave the box (large noise, tiny box).
        let small = Space::real_box(3, -0.5, 0.5);
        let cfg = CboConfig { sigma: 50.0, noise: CboNoise::Constant, ..Default::default() };
        let s = Cbo::new(cfg, &small).unwrap();
        let mut st = conformance::fresh(&s, 1).unwrap();
        for g in 0..5 {
            conformance::step(&s, &small, &mut st, 1, g, &sphere).unwrap();
            assert!(st.particles(0).iter().all(|v| (-0.5..=0.5).contains(v)));
        }
    }

    #[test]
    fn covariance_noise_follows_the_spread() {
        // All particles on a line: Cov has rank one and the noise stays on that line.
        let space = Space::real_box(2, -10.0, 10.0);
        let cfg = CboConfig {
            particles: 3,
            alpha: 0.0,
            alpha_schedule: AlphaSchedule::Constant,
            lambda: 0.0,
            noise: CboNoise::Covariance,
            ..Default::default()
        };
        let s = Cbo::new(cfg, &space).unwrap();
        let mut st = s.init(&mut stream(1, &[1]));
        st.runs[0].x = vec![0.0, 0.0, 1.0, 1.0, 2.0, 2.0];
        let c = s.ask(&mut st, &mut stream(1, &[2]));
        s.tell(&mut st, &evaluated(&c, sphere), &mut stream(1, &[3])).unwrap();
        let x = st.particles(0);
        for p in 0..3 {
            assert!((x[2 * p] - x[2 * p + 1]).abs() < 1e-12, "{x:?}");
        }
        assert_ne!(x[0], 0.0);
        // Cov^{1/2} of a known matrix.
        let sq = mat_sqrt(&[4.0, 0.0, 0.0, 9.0], 2).unwrap();
        for (a, b) in sq.iter().zip([2.0, 0.0, 0.0, 3.0]) {
            assert!((a - b).abs() < 1e-12);
        }
    }

    #[test]
    fn sphere_medians_match_cbxpy() {
        // 200 runs of 20 particles on the 5-D sphere, x0 ~ U(−5, 5), 300 steps, no box (as
        // CBXpy: bounds none in ±1e8). The medians of the runs' best values must lie within a
        // factor 3 of CBXpy 1.0.4's (numpy seed 1, same configuration, `optimize()`, or
        // `optimize(sched='effective')` for the ESS schedule): anisotropic σ 0.3 dt 0.05:
        // 9.94e-2; isotropic σ 0.5 dt 0.1: 5.56e-5; covariance σ 0.1 dt 0.1 with ESS: 1.01e-1.
        // (CBXpy's 10% / 90% quantiles: 1.7e-2 / 0.40, 4.6e-6 / 4.2e-3, 5.0e-4 / 0.63.)
        let space = Space::real_box(5, -1e8, 1e8);
        for (noise, sigma, dt, schedule, cbxpy) in [
            (CboNoise::Anisotropic, 0.3, 0.05, AlphaSchedule::Multiply, 9.94e-2),
            (CboNoise::Isotropic, 0.5, 0.1, AlphaSchedule::Multiply, 5.56e-5),
            (CboNoise::Covariance, 0.1, 0.1, AlphaSchedule::EffectiveSampleSize, 1.01e-1),
        ] {
            let cfg = CboConfig {
                particles: 20,
                runs: 200,
                sigma,
                dt,
                noise,
                alpha_schedule: schedule,
                bounds: CboBounds::None,
                init: Some(InitBox { lower: -5.0, upper: 5.0 }),
                ..Default::default()
            };
            let s = Cbo::new(cfg, &space).unwrap();
            let mut st = conformance::fresh(&s, 1).unwrap();
            for g in 0..300 {
                conformance::step(&s, &space, &mut st, 1, g, &sphere).unwrap();
            }
            let mut b: Vec<f64> = st.run_bests().iter().map(|b| b.unwrap().1).collect();
            b.sort_by(f64::total_cmp);
            let median = (b[99] + b[100]) / 2.0;
            assert!(
                median < 3.0 * cbxpy && median > cbxpy / 3.0,
                "{noise:?}: median {median:e}, CBXpy {cbxpy:e}"
            );
        }
        // Constant noise √dt σ ξ does not shrink: a noisy cloud around the optimum.
        let cfg =
            CboConfig { sigma: 0.1, dt: 0.1, noise: CboNoise::Constant, ..Default::default() };
        let small = Space::real_box(5, -5.0, 5.0);
        let s = Cbo::new(cfg, &small).unwrap();
        let r = conformance::run(&s, &small, 3, 20 * 300, &sphere, None).unwrap();
        assert!(r.best < 1e-2 * r.first, "{r:?}");
    }
}
