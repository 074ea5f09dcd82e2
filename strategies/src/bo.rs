//! Bayesian optimization with a Gaussian-process surrogate (`kind: bo`), following Frazier
//! (2018), "A Tutorial on Bayesian Optimization", arXiv 1807.02811, with BoTorch's defaults
//! (`SingleTaskGP` since 0.12, `optimize_acqf`) where the tutorial leaves a choice, with two
//! exceptions in the GP's defaults: the output scale is learned (`learn_outputscale`,
//! `Gamma(2, 0.15)` prior, BoTorch's earlier default) and the noise prior is Optuna's
//! `Gamma(1.1, 30)` (`noise_prior`), which lets the fit drive the relative noise `σ²_n/s`
//! towards its floor on a deterministic objective; with BoTorch's fixed `s = 1` and
//! `LogNormal(−4, 1)` noise the GP cannot resolve the last digits near the optimum
//! (Hartmann-6 median regret 0.0102 against 0.0001; BENCHMARKS.md).
//!
//! # Loop
//!
//! * Generation 0 is the initial design: `n_init` (default `2d + 1`) points of a scrambled
//!   Halton sequence ([`crate::halton`]) in the box, its scrambling drawn from the `init`
//!   stream (BoTorch uses scrambled Sobol; Halton needs no direction-number table).
//! * Every later `ask` fits the GP of [`crate::gp`] (MAP with BoTorch's priors, warm-started
//!   from the previous fit) to every result told so far, and returns `q` points that maximise
//!   the acquisition function in the unit cube.
//! * `q > 1` and points still pending from earlier asks: Kriging believer (Ginsbourger et al.
//!   2010, "Kriging is well-suited to parallelize optimization"): each chosen or pending point
//!   enters the GP as a fantasy observation equal to its posterior mean (hyperparameters kept),
//!   which shrinks the variance there and steers the next point elsewhere. So tells may arrive
//!   in any order and in pieces, and an `ask` while points are pending is legal: the pending
//!   points are fantasised, never forgotten.
//! * Until two finite results are known, asks continue the Halton sequence.
//!
//! # Acquisition functions (minimisation; `μ, σ` the GP posterior in standardised units,
//! `f*` the best standardised value observed, `u = (f* − μ)/σ`)
//!
//! * `log_ei` (default, Ament et al. 2023, "Unexpected Improvements to Expected Improvement",
//!   arXiv 2310.20708): `log EI = log σ + log h(u)`, `h(u) = φ(u) + u Φ(u)`; for `u < −1`,
//!   `h(u) = φ(u)·(1 − t√π·erfcx(t))` with `t = −u/√2`, and for `u < −15` the asymptotic
//!   series `h(u) = φ(u) Σ_{k≥1} (−1)^{k+1} (2k−1)!!/u^{2k}`, so it stays accurate and has a
//!   useful gradient far in the tail where EI underflows to 0.
//! * `ei`: `σ h(u)` (Frazier eq. for EI; Jones et al. 1998).
//! * `pi`: probability of improvement `Φ(u)`, maximised as `log Φ(u)` (same maximiser).
//! * `ucb`: the lower confidence bound for minimisation, maximising `−μ + √β σ`
//!   (BoTorch's `UpperConfidenceBound` with `beta`).
//! * `noisy_ei`: noisy expected improvement (Letham, Karrer, Ottoni & Bakshy 2019, "Constrained
//!   Bayesian Optimization with Noisy Experiments", Bayesian Analysis; BoTorch's
//!   `qNoisyExpectedImprovement` with `q = 1`): the incumbent value is itself uncertain, so EI
//!   is averaged over the joint posterior of `f` at the observed points `X_b` and at `x`:
//!   `NEI(x) = E[max(min_b f(x_b) − f(x), 0)]`. Sample-average approximation: `S = mc_samples`
//!   base samples `(e_b⁽ˢ⁾, e_x⁽ˢ⁾)` are drawn once per maximisation, and
//!   `f_b⁽ˢ⁾ = μ_b + L_b e_b⁽ˢ⁾`, `f_x⁽ˢ⁾ = μ(x) + lᵀ e_b⁽ˢ⁾ + √(σ²(x) − lᵀl) e_x⁽ˢ⁾` with
//!   `L_b L_bᵀ = Σ_bb`, `l = L_b⁻¹ Σ_bx` (the Cholesky factor of the joint covariance, grown by
//!   the row of `x`), so the acquisition is a deterministic, almost everywhere differentiable
//!   function of `x` within an ask, maximised like the analytic ones. At training points
//!   `Σ_bx = ν (K_y⁻¹ k(X, x))_b` and `Σ_bb = ν I − ν² (K_y⁻¹)_bb` (`ν` the noise plus jitter),
//!   so the gradient needs `d` more solves with the training factor. The baseline is pruned
//!   (as BoTorch's `prune_baseline`) to the points whose `μ ± 3σ` band can hold the minimum,
//!   at most 64. With a near-noiseless GP it reduces to EI with the best observed value.
//! * `kg`: knowledge gradient (Frazier 2018, §4.2; Frazier, Powell & Dayanik 2009): the
//!   expected gain in the best posterior mean from one more observation at `x`,
//!   `KG(x) = E[min_a μ_n(a) − min_a μ_{n+1}(a) | x_{n+1} = x]`, over the discrete set
//!   `A` = the observed points ∪ `kg_points` scrambled Halton points (fresh per ask) ∪ `{x}`.
//!   On `A` the updated mean is affine in one standard normal, `μ_{n+1}(a) = μ_n(a) −
//!   σ̃(a, x) Z` with `σ̃(a, x) = Σ_n(a, x)/√(σ²_n(x) + σ²_noise)`, so the expectation of the
//!   maximum of affine functions is computed exactly by the upper-envelope algorithm of
//!   Frazier, Powell & Dayanik (sort by slope, breakpoints `c_k`, `Σ (b_{k+1} − b_k)
//!   f(−|c_k|)`, `f(z) = zΦ(z) + φ(z)`). KG is maximised like the other acquisitions, with its
//!   gradient by central differences.
//! * `thompson`: Thompson sampling (Thompson 1933; Russo et al. 2018, "A Tutorial on Thompson
//!   Sampling"; BoTorch's `MaxPosteriorSampling`): one joint draw of the posterior over a
//!   discrete candidate set, and its argmin. The `n_candidates` candidates are half scrambled
//!   Halton points in the cube and half perturbations of the incumbent (each coordinate with
//!   probability `min(1, 20/d)` replaced by a Halton coordinate of the box of half-side
//!   `0.1 w_j` around it, `w` the TuRBO length-scale weights of [`crate::turbo`]), so both the
//!   global and the local picture are sampled. A q-batch is `q` independent draws (their
//!   argmins, without repeats); pending points are fantasised as for the other acquisitions.
//!   Draws come from the ask's seeded stream.
//!
//! # Maximising the acquisition (BoTorch's `optimize_acqf`, `gen_batch_initial_conditions`)
//!
//! `raw_samples` scrambled Halton points are scored; `num_restarts` starts are the best raw
//! point plus Boltzmann draws without replacement with weights `exp(η z)` on the standardised
//! scores (`η = 2`, `initialize_q_batch`); each start runs the projected L-BFGS of
//! [`crate::lbfgsb`] in the unit box (BoTorch: scipy L-BFGS-B) with analytic gradients; the best
//! end point wins.
//!
//! # Mixed spaces (integer and categorical coordinates)
//!
//! Handled in the model and in the search, never by rounding a continuous proposal:
//! * Kernel (as Optuna's `GPSampler`): an integer coordinate is a distance on the unit scale
//!   like a real one; a categorical coordinate (codes `0..n`) contributes the indicator
//!   `[c ≠ c']` to `r²`, with its own length scale, so the codes carry no order (see
//!   [`crate::gp`]).
//! * Initial design and raw samples: the quasi-random coordinate is mapped to the value whose
//!   equal-width bin holds it, so every value has the same mass and every point is a grid
//!   point.
//! * Search: BoTorch's `optimize_acqf_mixed_alternating` — from each start, L-BFGS-B over
//!   the reals with the discrete coordinates held, then the best move to a discrete
//!   neighbour (another category; an integer `±1, ±2, ±4, …` away), alternating until
//!   neither improves. Thompson candidates are binned (quasi-random ones) or moved to the
//!   nearest grid value (perturbations of the incumbent) before the posterior is drawn on
//!   them.
//! * Integer bounds must be integers and a categorical coordinate with `n` categories must
//!   have the bounds `[0, n − 1]`; anything else is a configuration error naming
//!   `bounds[i]`.
//!
//! # Failures and state
//!
//! A failed or NaN evaluation enters the GP at the worst finite value seen (so the region is
//! not proposed again); `best()` never reports it. The state holds the observations (in id
//! order, so the tell order never matters), the pending points, the Halton seed and the last
//! hyperparameters (the warm start); the GP itself is refitted at every `ask`.
//!
//! TuRBO-1 is its own strategy, [`crate::turbo`]. Not done yet (issue 4): integer and
//! categorical coordinates in the kernel (such spaces are refused rather than rounded after
//! the fact).
use evoforge_core::{
    Candidate, ConfigError, Describe, DimKind, Evaluated, Metrics, ParamDoc, Rng, Space, Strategy,
    TellError, stream,
};
use rand::RngExt;
use rand_distr::{Distribution, StandardNormal};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::gp::{FitOptions, Gp, GpParams, Kernel, NoisePrior, factor_with_jitter, forward};
use crate::halton::Halton;
use crate::lbfgsb;
use crate::turbo::{perturbation_candidates, thompson_select, tr_weights};
use crate::util::{improve_best, nf};

const LN_2PI: f64 = 1.837_877_066_409_345_5;
const SQRT_2: f64 = std::f64::consts::SQRT_2;
const SQRT_PI: f64 = 1.772_453_850_905_516;
/// BoTorch's `initialize_q_batch` temperature.
const ETA: f64 = 2.0;

/// The acquisition function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Acquisition {
    /// Log expected improvement (Ament et al. 2023).
    #[default]
    LogEi,
    /// Expected improvement.
    Ei,
    /// Probability of improvement.
    Pi,
    /// Confidence bound `−μ + √β σ`.
    Ucb,
    /// Thompson sampling: argmin of a joint posterior draw over a discrete candidate set.
    Thompson,
    /// Noisy expected improvement (Letham et al. 2019), Monte Carlo with fixed base samples.
    NoisyEi,
    /// Knowledge gradient over a discrete set (Frazier, Powell & Dayanik 2009).
    Kg,
}

/// GP targets from observed values: a failure (`+inf`, NaN) becomes the worst finite value and
/// `-inf` the best, so the surrogate stays finite. `None` with fewer than two finite values.
pub(crate) fn gp_targets(values: impl Iterator<Item = f64> + Clone) -> Option<Vec<f64>> {
    let finite = values.clone().filter(|y| y.is_finite());
    if finite.clone().count() < 2 {
        return None;
    }
    let worst = finite.clone().fold(f64::NEG_INFINITY, f64::max);
    let best = finite.fold(f64::INFINITY, f64::min);
    Some(
        values
            .map(|y| {
                if y.is_finite() {
                    y
                } else if y == f64::NEG_INFINITY {
                    best
                } else {
                    worst
                }
            })
            .collect(),
    )
}

/// Configuration of [`Bo`] (YAML `kind: bo`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BoConfig {
    /// Points per `ask` after the initial design.
    pub q: usize,
    /// Points of the initial design; `null`: `2d + 1`.
    pub n_init: Option<usize>,
    /// GP kernel.
    pub kernel: Kernel,
    /// Acquisition function.
    pub acquisition: Acquisition,
    /// `β` of `ucb`.
    pub beta: f64,
    /// Quasi-random points scored to choose the starts of the acquisition search.
    pub raw_samples: usize,
    /// Starts of the acquisition search (L-BFGS-B runs).
    pub num_restarts: usize,
    /// Starts of the hyperparameter fit (warm start, prior mode, prior draws).
    pub fit_starts: usize,
    /// Lower bound of the GP noise variance (standardised outputs).
    pub noise_min: f64,
    /// Learn the kernel's output scale (Gamma(2, 0.15) prior) instead of fixing it to 1.
    pub learn_outputscale: bool,
    /// Prior on the GP noise variance: BoTorch's `log_normal` or Optuna's `gamma`.
    pub noise_prior: NoisePrior,
    /// Candidates of `thompson`; `null`: `min(max(1000, 100 d), 5000)`.
    pub n_candidates: Option<usize>,
    /// Monte-Carlo samples of `noisy_ei`.
    pub mc_samples: usize,
    /// Quasi-random points added to the observed ones in the discrete set of `kg`.
    pub kg_points: usize,
}

impl Default for BoConfig {
    fn default() -> Self {
        Self {
            q: 1,
            n_init: None,
            kernel: Kernel::Matern52,
            acquisition: Acquisition::LogEi,
            beta: 2.0,
            raw_samples: 512,
            num_restarts: 10,
            fit_starts: 2,
            noise_min: 1e-6,
            // Both differ from BoTorch's `SingleTaskGP` (fixed output scale, LogNormal(−4, 1)
            // noise): with them the GP can interpolate a deterministic objective to its last
            // digits (BENCHMARKS.md, "Why Hartmann-6": median regret 0.0001 against 0.0102 on
            // Hartmann-6, ahead on Branin and Ackley-5 too).
            learn_outputscale: true,
            noise_prior: NoisePrior::Gamma,
            n_candidates: None,
            mc_samples: 128,
            kg_points: 128,
        }
    }
}

impl Describe for BoConfig {
    const KIND: &'static str = Bo::NAME;
    const SUMMARY: &'static str = "Bayesian optimization: exact GP (MAP, BoTorch priors) + LogEI/EI/PI/UCB/noisy EI/KG or Thompson sampling, q-batch by Kriging believer";
    fn params() -> Vec<ParamDoc> {
        vec![
            ParamDoc::opt("q", "int", "1", "points per ask after the initial design"),
            ParamDoc::opt(
                "n_init",
                "int | null",
                "null",
                "initial quasi-random points (null: 2d+1)",
            ),
            ParamDoc::opt(
                "kernel",
                "matern52 | rbf",
                "matern52",
                "GP kernel, one length scale per dimension",
            ),
            ParamDoc::opt(
                "acquisition",
                "log_ei | ei | pi | ucb | thompson | noisy_ei | kg",
                "log_ei",
                "acquisition function",
            ),
            ParamDoc::opt("beta", "float", "2.0", "beta of ucb (-mu + sqrt(beta) sigma)"),
            ParamDoc::opt("raw_samples", "int", "512", "quasi-random points scored for the starts"),
            ParamDoc::opt("num_restarts", "int", "10", "L-BFGS-B starts of the acquisition search"),
            ParamDoc::opt("fit_starts", "int", "2", "L-BFGS starts of the hyperparameter fit"),
            ParamDoc::opt(
                "noise_min",
                "float",
                "1e-6",
                "lower bound of the noise variance (standardised)",
            ),
            ParamDoc::opt(
                "learn_outputscale",
                "bool",
                "true",
                "learn the kernel output scale (Gamma(2, 0.15) prior); false: fixed to 1 as BoTorch",
            ),
            ParamDoc::opt(
                "noise_prior",
                "log_normal | gamma",
                "gamma",
                "GP noise prior: Optuna's Gamma(1.1, 30) or BoTorch's LogNormal(-4, 1)",
            ),
            ParamDoc::opt(
                "n_candidates",
                "int | null",
                "null",
                "thompson candidates (null: min(max(1000, 100d), 5000))",
            ),
            ParamDoc::opt("mc_samples", "int", "128", "Monte-Carlo samples of noisy_ei"),
            ParamDoc::opt("kg_points", "int", "128", "quasi-random points in the set of kg"),
        ]
    }
}

/// Bayesian optimization (see the module doc).
#[derive(Debug, Clone)]
pub struct Bo {
    config: BoConfig,
    space: Space,
    n_init: usize,
    /// One entry per coordinate: `None` for a real one, the grid of an integer or categorical
    /// one.
    grid: Vec<Option<Grid>>,
}

/// The values of an integer or categorical coordinate: the integers `a..=b` (categories are
/// coded `0..n`), in the unit cube at `(v − lo)/(hi − lo)`.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Grid {
    a: f64,
    b: f64,
    lo: f64,
    width: f64,
    categorical: bool,
}

impl Grid {
    /// Unit coordinate of the value `v`.
    fn unit(&self, v: f64) -> f64 {
        if self.width > 0.0 { (v - self.lo) / self.width } else { 0.0 }
    }

    /// The value whose equal-width bin holds the uniform `u` (each value gets mass
    /// `1/(b − a + 1)`): how quasi-random points are put on the grid.
    fn bin(&self, u: f64) -> f64 {
        let count = self.b - self.a + 1.0;
        self.a + (u.clamp(0.0, 1.0) * count).floor().min(count - 1.0)
    }

    /// The value nearest to unit coordinate `u`.
    fn nearest(&self, u: f64) -> f64 {
        (self.lo + u * self.width).round().clamp(self.a, self.b)
    }

    /// Unit coordinates of the discrete neighbours of value `v`: every other category, or the
    /// integers `v ± 1, ±2, ±4, …` inside the range (so a long integer range is crossed in
    /// logarithmically many moves).
    fn neighbours(&self, v: f64) -> Vec<f64> {
        let mut out = Vec::new();
        if self.categorical {
            let mut c = self.a;
            while c <= self.b {
                if c != v {
                    out.push(self.unit(c));
                }
                c += 1.0;
            }
        } else {
            let mut step = 1.0;
            while step <= self.b - self.a {
                for w in [v - step, v + step] {
                    if (self.a..=self.b).contains(&w) {
                        out.push(self.unit(w));
                    }
                }
                step *= 2.0;
            }
        }
        out
    }
}

/// One told result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Obs {
    id: u64,
    x: Vec<f64>,
    #[serde(with = "nf")]
    y: f64,
}

/// One asked point without a result yet.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Pending {
    id: u64,
    x: Vec<f64>,
}

/// State of [`Bo`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BoState {
    next_id: u64,
    generation: u64,
    /// Seed of the scrambled Halton design (rebuilt on demand).
    design_seed: u64,
    /// Halton points handed out so far.
    design_used: u64,
    observations: Vec<Obs>,
    pending: Vec<Pending>,
    #[serde(with = "nf::best")]
    best: Option<(Vec<f64>, f64)>,
    /// The last fit's hyperparameters (warm start of the next).
    params: Option<GpParams>,
    /// Log marginal likelihood of the last fit (for metrics).
    #[serde(with = "nf::opt")]
    last_lml: Option<f64>,
}

// ---------------------------------------------------------------------------------------------
// Normal distribution and the EI helper h(u) = φ(u) + u Φ(u).

fn log_phi(u: f64) -> f64 {
    -0.5 * u * u - 0.5 * LN_2PI
}

fn ndtr(u: f64) -> f64 {
    0.5 * libm::erfc(-u / SQRT_2)
}

/// `exp(x²) erfc(x)` for `x ≥ 0`.
fn erfcx(x: f64) -> f64 {
    if x < 10.0 {
        (x * x).exp() * libm::erfc(x)
    } else {
        // Abramowitz & Stegun 7.1.23: 1/(x√π) Σ (−1)^k (2k−1)!!/(2x²)^k.
        let t = 1.0 / (2.0 * x * x);
        let (mut sum, mut term) = (1.0, 1.0);
        for k in 1..14 {
            term *= -((2 * k - 1) as f64) * t;
            sum += term;
        }
        sum / (x * SQRT_PI)
    }
}

/// `log Φ(u)`, accurate in both tails.
fn log_ndtr(u: f64) -> f64 {
    if u > 0.0 {
        (-0.5 * libm::erfc(u / SQRT_2)).ln_1p()
    } else if u > -5.0 {
        ndtr(u).ln()
    } else {
        -0.5 * u * u + (0.5 * erfcx(-u / SQRT_2)).ln()
    }
}

/// `log h(u)`, `h(u) = φ(u) + u Φ(u)` (see the module doc).
fn log_h(u: f64) -> f64 {
    if u > -1.0 {
        (log_phi(u).exp() + u * ndtr(u)).ln()
    } else if u > -15.0 {
        let t = -u / SQRT_2;
        log_phi(u) + (1.0 - t * SQRT_PI * erfcx(t)).ln()
    } else {
        let iu2 = 1.0 / (u * u);
        let (mut sum, mut term) = (0.0, 1.0);
        for k in 1..16 {
            term *= if k == 1 { iu2 } else { -((2 * k - 1) as f64) * iu2 };
            sum += term;
        }
        log_phi(u) + sum.ln()
    }
}

/// Acquisition value (to maximise) at unit-cube `u` and its gradient.
fn acquisition(
    gp: &Gp,
    kind: Acquisition,
    beta: f64,
    f_best: f64,
    x: &[f64],
    grad: Option<&mut [f64]>,
    scratch: &mut (Vec<f64>, Vec<f64>),
) -> f64 {
    let want = grad.is_some();
    let (m, v) = if want {
        gp.predict_unit(x, Some((&mut scratch.0, &mut scratch.1)))
    } else {
        gp.predict_unit(x, None)
    };
    let sigma = v.sqrt();
    let z = (f_best - m) / sigma;
    // a = value; (ca, cs): ∂a/∂μ and ∂a/∂σ.
    let (a, ca, cs) = match kind {
        Acquisition::LogEi => {
            let lh = log_h(z);
            let r = (log_ndtr(z) - lh).exp(); // Φ(z)/h(z)
            // ∂z/∂μ = −1/σ, ∂z/∂σ = −z/σ.
            (sigma.ln() + lh, -r / sigma, 1.0 / sigma - r * z / sigma)
        }
        Acquisition::Ei => {
            let h = log_h(z).exp();
            (sigma * h, -ndtr(z), log_phi(z).exp())
        }
        Acquisition::Pi => {
            let r = (log_phi(z) - log_ndtr(z)).exp();
            (log_ndtr(z), -r / sigma, -r * z / sigma)
        }
        Acquisition::Ucb => (-m + beta.sqrt() * sigma, -1.0, beta.sqrt()),
        // Not maximised by gradient (see `Bo::thompson`); the posterior mean stands in.
        Acquisition::Thompson | Acquisition::NoisyEi | Acquisition::Kg => (-m, -1.0, 0.0),
    };
    if let Some(g) = grad {
        for ((gj, dm), dv) in g.iter_mut().zip(&scratch.0).zip(&scratch.1) {
            // ∂σ/∂u = (∂σ²/∂u)/(2σ).
            *gj = ca * dm + cs * dv / (2.0 * sigma);
        }
    }
    a
}

impl Bo {
    fn fit_options(&self) -> FitOptions {
        FitOptions {
            kernel: self.config.kernel,
            learn_outputscale: self.config.learn_outputscale,
            unbiased_std: false,
            noise_min: self.config.noise_min,
            starts: self.config.fit_starts,
            max_iters: 100,
            noise_prior: self.config.noise_prior,
            categorical: self.grid.iter().map(|g| g.is_some_and(|g| g.categorical)).collect(),
        }
    }

    /// Box coordinates of a unit-cube point. Integer and categorical coordinates of `u` are
    /// already on the grid (every path puts them there in the unit cube, where the GP and the
    /// search work); the rounding only removes the floating-point error of `lo + w·u`.
    fn unit_to_x(&self, u: &[f64]) -> Vec<f64> {
        self.space
            .dims()
            .iter()
            .zip(u)
            .zip(&self.grid)
            .map(|((d, &v), g)| match g {
                None => (d.lo + (d.hi - d.lo) * v).clamp(d.lo, d.hi),
                Some(g) => {
                    debug_assert!((g.nearest(v) - (d.lo + (d.hi - d.lo) * v)).abs() < 1e-6);
                    g.nearest(v)
                }
            })
            .collect()
    }

    /// Puts the discrete coordinates of quasi-random unit points (row-major) on the grid, each
    /// value with equal mass.
    fn bin_points(&self, pts: &mut [f64]) {
        if self.grid.iter().all(Option::is_none) {
            return;
        }
        let d = self.space.dim();
        for row in pts.chunks_mut(d) {
            for (v, g) in row.iter_mut().zip(&self.grid) {
                if let Some(g) = g {
                    *v = g.unit(g.bin(*v));
                }
            }
        }
    }

    /// Moves the discrete coordinates of unit points (row-major) to the nearest grid value
    /// (for candidate sets built around a point, never for a proposal).
    fn snap_points(&self, pts: &mut [f64]) {
        let d = self.space.dim();
        for row in pts.chunks_mut(d) {
            for (v, g) in row.iter_mut().zip(&self.grid) {
                if let Some(g) = g {
                    *v = g.unit(g.nearest(*v));
                }
            }
        }
    }

    fn to_unit(&self, x: &[f64]) -> Vec<f64> {
        self.space
            .dims()
            .iter()
            .zip(x)
            .map(|(d, &v)| if d.hi > d.lo { (v - d.lo) / (d.hi - d.lo) } else { 0.0 })
            .collect()
    }

    fn design(&self, s: &mut BoState, n: usize) -> Vec<Vec<f64>> {
        let h = Halton::new(self.space.dim(), &mut stream(s.design_seed, &[]));
        let d = self.space.dim();
        let mut pts = h.points(s.design_used, n);
        s.design_used += n as u64;
        self.bin_points(&mut pts);
        pts.chunks(d).map(|u| self.unit_to_x(u)).collect()
    }

    /// The GP on the observations (failures at the worst finite value), or `None` with fewer
    /// than two finite results.
    fn fit(&self, s: &mut BoState, rng: &mut Rng) -> Option<Gp> {
        let ys = gp_targets(s.observations.iter().map(|o| o.y))?;
        let xs: Vec<Vec<f64>> = s.observations.iter().map(|o| o.x.clone()).collect();
        let (lo, hi) = (self.space.lower(), self.space.upper());
        let gp = Gp::fit(&lo, &hi, &xs, &ys, &self.fit_options(), s.params.as_ref(), rng).ok()?;
        s.params = Some(gp.params().clone());
        s.last_lml = Some(gp.log_marginal_likelihood());
        Some(gp)
    }

    /// Maximises the acquisition of `gp` in the unit cube; returns the point.
    fn maximise(&self, gp: &Gp, raw: &[f64], rng: &mut Rng) -> Vec<f64> {
        let d = self.space.dim();
        let (kind, beta) = (self.config.acquisition, self.config.beta);
        match kind {
            Acquisition::NoisyEi => {
                let nei = NoisyEi::new(gp, self.config.mc_samples, rng);
                self.maximise_with(&|x, g| nei.value(gp, x, g), raw, rng)
            }
            Acquisition::Kg => {
                let extra = Halton::new(d, rng).points(0, self.config.kg_points);
                let kg = KnowledgeGradient::new(gp, &extra);
                // KG is piecewise smooth in x; its gradient by central differences.
                self.maximise_with(
                    &|x, g| {
                        if let Some(g) = g {
                            let mut y = x.to_vec();
                            for j in 0..d {
                                let e = 1e-6;
                                y[j] = x[j] + e;
                                let up = kg.value(gp, &y);
                                y[j] = x[j] - e;
                                let dn = kg.value(gp, &y);
                                y[j] = x[j];
                                g[j] = (up - dn) / (2.0 * e);
                            }
                        }
                        kg.value(gp, x)
                    },
                    raw,
                    rng,
                )
            }
            _ => {
                let f_best = gp.z_min();
                self.maximise_with(
                    &|x, g| {
                        let mut sc = (vec![0.0; d], vec![0.0; d]);
                        acquisition(gp, kind, beta, f_best, x, g, &mut sc)
                    },
                    raw,
                    rng,
                )
            }
        }
    }

    /// BoTorch's `optimize_acqf` on `score` (value and, when asked, gradient): raw samples,
    /// Boltzmann starts, L-BFGS-B in the unit box; the best end point.
    fn maximise_with(&self, score: &Score, raw: &[f64], rng: &mut Rng) -> Vec<f64> {
        let d = self.space.dim();
        let scores: Vec<f64> = raw
            .par_chunks(d)
            .map(|u| score(u, None))
            .map(|a| if a.is_nan() { f64::NEG_INFINITY } else { a })
            .collect();
        let starts = boltzmann_starts(&scores, self.config.num_restarts, rng);
        if self.grid.iter().any(Option::is_some) {
            return self.maximise_mixed(score, raw, &scores, &starts);
        }
        let (lo, hi) = (vec![0.0; d], vec![1.0; d]);
        let opts =
            lbfgsb::Options { max_iters: 100, pgtol: 1e-6, ftol: 1e-10, ..Default::default() };
        // Independent restarts in parallel, compared in start order (same result at any thread
        // count).
        let runs: Vec<lbfgsb::Minimum> = starts
            .par_iter()
            .map(|&k| {
                lbfgsb::minimize(
                    |x, g| {
                        let a = score(x, Some(&mut *g));
                        g.iter_mut().for_each(|v| *v = -*v);
                        -a
                    },
                    &raw[k * d..(k + 1) * d],
                    &lo,
                    &hi,
                    &opts,
                )
            })
            .collect();
        let mut best: Option<(Vec<f64>, f64)> = None;
        for (&k, m) in starts.iter().zip(runs) {
            let x0 = &raw[k * d..(k + 1) * d];
            let (x, f) = if m.f <= -scores[k] { (m.x, m.f) } else { (x0.to_vec(), -scores[k]) };
            if f.is_finite() && best.as_ref().is_none_or(|b| f < b.1) {
                best = Some((x, f));
            }
        }
        best.map(|b| b.0)
            .unwrap_or_else(|| raw[starts.first().copied().unwrap_or(0) * d..][..d].to_vec())
    }
}

impl Bo {
    /// The search of [`Bo::maximise_with`] when some coordinates are integer or categorical:
    /// BoTorch's `optimize_acqf_mixed_alternating` (Daulton et al. 2022, "Bayesian
    /// Optimization over Discrete and Mixed Spaces via Probabilistic Reparameterization", the
    /// alternating baseline). From each start (raw points are already on the grid), alternate
    /// (a) L-BFGS-B over the real coordinates with the discrete ones held fixed (their bounds
    /// collapsed to the current value, their gradient zeroed) and (b) a best-improvement move
    /// to a discrete neighbour (one coordinate changed: another category, or an integer
    /// `±1, ±2, ±4, …` away), until neither improves (at most `MIXED_ROUNDS` rounds). Every
    /// point scored is on the grid, so the proposal is too: nothing is rounded afterwards.
    fn maximise_mixed(
        &self,
        score: &Score,
        raw: &[f64],
        scores: &[f64],
        starts: &[usize],
    ) -> Vec<f64> {
        const MIXED_ROUNDS: usize = 25;
        let d = self.space.dim();
        let has_real = self.grid.iter().any(Option::is_none);
        let opts =
            lbfgsb::Options { max_iters: 100, pgtol: 1e-6, ftol: 1e-10, ..Default::default() };
        let neg = |x: &[f64]| {
            let a = score(x, None);
            if a.is_nan() { f64::INFINITY } else { -a }
        };
        let runs: Vec<(Vec<f64>, f64)> = starts
            .par_iter()
            .map(|&k| {
                let mut x = raw[k * d..(k + 1) * d].to_vec();
                let mut f = -scores[k];
                for _ in 0..MIXED_ROUNDS {
                    let mut moved = false;
                    if has_real {
                        let mut lo = vec![0.0; d];
                        let mut hi = vec![1.0; d];
                        for j in (0..d).filter(|&j| self.grid[j].is_some()) {
                            (lo[j], hi[j]) = (x[j], x[j]);
                        }
                        let m = lbfgsb::minimize(
                            |y, g| {
                                let a = score(y, Some(&mut *g));
                                for (j, v) in g.iter_mut().enumerate() {
                                    *v = if self.grid[j].is_some() { 0.0 } else { -*v };
                                }
                                -a
                            },
                            &x,
                            &lo,
                            &hi,
                            &opts,
                        );
                        if m.f < f {
                            moved = m.f < f - 1e-12 * f.abs().max(1.0);
                            (x, f) = (m.x, m.f);
                        }
                    }
                    let mut best: Option<(Vec<f64>, f64)> = None;
                    for (j, g) in self.grid.iter().enumerate() {
                        let Some(g) = g else { continue };
                        for u in g.neighbours(g.nearest(x[j])) {
                            let mut y = x.clone();
                            y[j] = u;
                            let fy = neg(&y);
                            if best.as_ref().is_none_or(|b| fy < b.1) {
                                best = Some((y, fy));
                            }
                        }
                    }
                    if let Some((y, fy)) = best
                        && fy < f - 1e-12 * f.abs().max(1.0)
                    {
                        (x, f) = (y, fy);
                        moved = true;
                    }
                    if !moved {
                        break;
                    }
                }
                (x, f)
            })
            .collect();
        let mut best: Option<(Vec<f64>, f64)> = None;
        for (x, f) in runs {
            if f.is_finite() && best.as_ref().is_none_or(|b| f < b.1) {
                best = Some((x, f));
            }
        }
        best.map(|b| b.0)
            .unwrap_or_else(|| raw[starts.first().copied().unwrap_or(0) * d..][..d].to_vec())
    }
}

/// The grid of every integer or categorical coordinate of `space` (`None` for a real one), or
/// a configuration error naming the coordinate: integer bounds must be integers, and a
/// categorical coordinate with `n` categories must have the bounds `[0, n − 1]`.
fn discrete_grid(space: &Space) -> Result<Vec<Option<Grid>>, ConfigError> {
    space
        .dims()
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let width = d.hi - d.lo;
            match d.kind {
                DimKind::Real => Ok(None),
                DimKind::Integer => {
                    if d.lo.fract() != 0.0 || d.hi.fract() != 0.0 {
                        return Err(ConfigError::new(
                            format!("bounds[{i}]"),
                            format!(
                                "an integer coordinate needs integer bounds, got [{}, {}]",
                                d.lo, d.hi
                            ),
                        ));
                    }
                    Ok(Some(Grid { a: d.lo, b: d.hi, lo: d.lo, width, categorical: false }))
                }
                DimKind::Categorical { n } => {
                    if n == 0 || d.lo != 0.0 || d.hi != f64::from(n - 1) {
                        return Err(ConfigError::new(
                            format!("bounds[{i}]"),
                            format!(
                                "a categorical coordinate with {n} categories needs the bounds \
                                 [0, {}] (codes 0..{n}), got [{}, {}]",
                                n.saturating_sub(1),
                                d.lo,
                                d.hi
                            ),
                        ));
                    }
                    Ok(Some(Grid { a: 0.0, b: d.hi, lo: 0.0, width, categorical: true }))
                }
            }
        })
        .collect()
}

/// Discrete knowledge gradient for one maximisation (see the module doc): the set
/// `A = observed ∪ quasi-random ∪ {x}`.
struct KnowledgeGradient {
    /// `A` without `x`: unit-cube points, row-major.
    pts: Vec<f64>,
    /// `−μ` there (maximisation form).
    neg_mean: Vec<f64>,
    /// `L⁻¹ k(X, a)` per point, `n` each.
    v: Vec<f64>,
}

impl KnowledgeGradient {
    fn new(gp: &Gp, extra: &[f64]) -> Self {
        let mut pts = gp.train_unit().to_vec();
        pts.extend_from_slice(extra);
        let d = gp.params().lengthscales.len();
        let mut neg_mean = Vec::with_capacity(pts.len() / d);
        let mut v = Vec::with_capacity(pts.len() / d * gp.len());
        for a in pts.chunks(d) {
            let (m, va) = gp.whiten(a);
            neg_mean.push(-m);
            v.extend(va);
        }
        Self { pts, neg_mean, v }
    }

    /// `KG(x) = E[max_a −μ_{n+1}(a)] − max_a −μ_n(a)` over `A`, exactly.
    fn value(&self, gp: &Gp, x: &[f64]) -> f64 {
        let (d, n) = (x.len(), gp.len());
        let (mx, vx) = gp.whiten(x);
        let s = gp.params().outputscale;
        let var = (s - vx.iter().map(|t| t * t).sum::<f64>()).max(1e-12 * s);
        let denom = (var + gp.diag_noise()).sqrt();
        let mut a = self.neg_mean.clone();
        let mut b: Vec<f64> = self
            .pts
            .chunks(d)
            .zip(self.v.chunks(n.max(1)))
            .map(|(p, va)| {
                (gp.prior_cov(p, x) - va.iter().zip(&vx).map(|(u, w)| u * w).sum::<f64>()) / denom
            })
            .collect();
        a.push(-mx);
        b.push(var / denom);
        expected_max_affine(&a, &b)
    }
}

/// `E[max_i (a_i + b_i Z)] − max_i a_i`, `Z ~ N(0, 1)`: Frazier, Powell & Dayanik (2009), "The
/// Knowledge-Gradient Policy for Correlated Normal Beliefs", INFORMS J. Computing, Alg. 1 —
/// sort by slope, drop equal slopes but the highest line, keep the upper envelope with its
/// breakpoints `c_k`, then `Σ_k (b_{k+1} − b_k) f(−|c_k|)`, `f(z) = z Φ(z) + φ(z)`.
fn expected_max_affine(a: &[f64], b: &[f64]) -> f64 {
    let m = a.len();
    let mut idx: Vec<usize> = (0..m).collect();
    idx.sort_by(|&i, &j| b[i].total_cmp(&b[j]).then(a[i].total_cmp(&a[j])));
    let mut env: Vec<usize> = Vec::with_capacity(m);
    let mut cs: Vec<f64> = Vec::with_capacity(m);
    for (k, &i) in idx.iter().enumerate() {
        if idx.get(k + 1).is_some_and(|&next| b[next] == b[i]) {
            continue; // a higher line with the same slope follows
        }
        loop {
            match env.last() {
                None => {
                    env.push(i);
                    cs.push(f64::NEG_INFINITY);
                    break;
                }
                Some(&j) => {
                    let c = (a[j] - a[i]) / (b[i] - b[j]);
                    if c <= *cs.last().expect("same length as env") {
                        env.pop();
                        cs.pop();
                    } else {
                        env.push(i);
                        cs.push(c);
                        break;
                    }
                }
            }
        }
    }
    (1..env.len()).map(|k| (b[env[k]] - b[env[k - 1]]) * log_h(-cs[k].abs()).exp()).sum()
}

/// An acquisition value at a unit-cube point, with its gradient when asked.
type Score<'a> = dyn Fn(&[f64], Option<&mut [f64]>) -> f64 + Sync + 'a;

/// Noisy EI with fixed base samples for one maximisation (see the module doc).
struct NoisyEi {
    /// Baseline training indices.
    base: Vec<usize>,
    /// Lower factor of the posterior covariance at the baseline, column-major.
    lb: Vec<f64>,
    /// Base samples: `S` rows of `|base|` normals (row-major), and one normal per row for `x`.
    eb: Vec<f64>,
    ex: Vec<f64>,
    /// `min_b f_b⁽ˢ⁾` per sample (the baseline draws do not depend on `x`).
    fmin: Vec<f64>,
}

/// Most baseline points kept by the pruning.
const NEI_MAX_BASELINE: usize = 64;

impl NoisyEi {
    fn new(gp: &Gp, samples: usize, rng: &mut Rng) -> Self {
        let n = gp.len();
        let all: Vec<usize> = (0..n).collect();
        let (mean, cov) = gp.train_posterior(&all);
        let sd: Vec<f64> = (0..n).map(|i| cov[i + i * n].max(0.0).sqrt()).collect();
        // Prune to the points that can plausibly be the minimum (3 sd bands overlap the best
        // upper band), the lowest lower bands first.
        let best_upper = (0..n).map(|i| mean[i] + 3.0 * sd[i]).fold(f64::INFINITY, f64::min);
        let mut base: Vec<usize> =
            (0..n).filter(|&i| mean[i] - 3.0 * sd[i] <= best_upper).collect();
        base.sort_by(|&a, &b| {
            (mean[a] - 3.0 * sd[a]).total_cmp(&(mean[b] - 3.0 * sd[b])).then(a.cmp(&b))
        });
        base.truncate(NEI_MAX_BASELINE);
        base.sort_unstable();
        let nb = base.len();
        let mut sub = vec![0.0; nb * nb];
        for (b, &ib) in base.iter().enumerate() {
            for (a, &ia) in base.iter().enumerate() {
                sub[a + b * nb] = if a >= b { cov[ia + ib * n] } else { 0.0 };
            }
        }
        let scale = sd.iter().fold(0.0f64, |m, v| m.max(v * v)).max(1e-12);
        let mut lb = factor_with_jitter(&sub, nb, scale).map(|f| f.0).unwrap_or_else(|| {
            // Degenerate: independent baseline values with their own variances.
            let mut l = vec![0.0; nb * nb];
            for (a, &ia) in base.iter().enumerate() {
                l[a + a * nb] = sd[ia].max(1e-9);
            }
            l
        });
        for b in 0..nb {
            for a in 0..b {
                lb[a + b * nb] = 0.0;
            }
        }
        let eb: Vec<f64> = (0..samples * nb).map(|_| StandardNormal.sample(rng)).collect();
        let ex: Vec<f64> = (0..samples).map(|_| StandardNormal.sample(rng)).collect();
        let fmin = (0..samples)
            .map(|s| {
                let e = &eb[s * nb..(s + 1) * nb];
                (0..nb)
                    .map(|a| mean[base[a]] + (0..=a).map(|c| lb[a + c * nb] * e[c]).sum::<f64>())
                    .fold(f64::INFINITY, f64::min)
            })
            .collect();
        Self { base, lb, eb, ex, fmin }
    }

    /// `(1/S) Σ_s max(min_b f_b⁽ˢ⁾ − f_x⁽ˢ⁾, 0)` at unit-cube `x`, with its gradient.
    fn value(&self, gp: &Gp, x: &[f64], grad: Option<&mut [f64]>) -> f64 {
        let d = x.len();
        let nb = self.base.len();
        let samples = self.ex.len();
        let (mut dm, mut dv) = (vec![0.0; d], vec![0.0; d]);
        let (m, v) = if grad.is_some() {
            gp.predict_unit(x, Some((&mut dm, &mut dv)))
        } else {
            gp.predict_unit(x, None)
        };
        let nu = gp.diag_noise();
        let mut dk = vec![Vec::new(); if grad.is_some() { d } else { 0 }];
        let w = gp.solve_cross(x, grad.is_some().then_some(&mut dk[..]));
        // l = L_b⁻¹ Σ_bx, r² = σ²(x) − ‖l‖².
        let mut l: Vec<f64> = self.base.iter().map(|&i| nu * w[i]).collect();
        forward(&self.lb, nb, &mut l);
        let r2 = v - l.iter().map(|t| t * t).sum::<f64>();
        let r = r2.max(0.0).sqrt();
        let (mut total, mut count, mut sum_x) = (0.0, 0.0, 0.0);
        let mut sum_e = vec![0.0; nb];
        for s in 0..samples {
            let e = &self.eb[s * nb..(s + 1) * nb];
            let f = m + l.iter().zip(e).map(|(a, b)| a * b).sum::<f64>() + r * self.ex[s];
            let imp = self.fmin[s] - f;
            if imp > 0.0 {
                total += imp;
                count += 1.0;
                sum_x += self.ex[s];
                sum_e.iter_mut().zip(e).for_each(|(a, b)| *a += b);
            }
        }
        if let Some(g) = grad {
            for j in 0..d {
                let mut dl: Vec<f64> = self.base.iter().map(|&i| nu * dk[j][i]).collect();
                forward(&self.lb, nb, &mut dl);
                let dr = if r > 1e-9 {
                    (dv[j] - 2.0 * l.iter().zip(&dl).map(|(a, b)| a * b).sum::<f64>()) / (2.0 * r)
                } else {
                    0.0
                };
                let df = count * dm[j]
                    + dl.iter().zip(&sum_e).map(|(a, b)| a * b).sum::<f64>()
                    + dr * sum_x;
                g[j] = -df / samples as f64;
            }
        }
        total / samples as f64
    }
}

/// The best index, then Boltzmann draws without replacement, `exp(η z)` on standardised scores.
fn boltzmann_starts(scores: &[f64], count: usize, rng: &mut Rng) -> Vec<usize> {
    let n = scores.len();
    let fin: Vec<f64> = scores.iter().copied().filter(|v| v.is_finite()).collect();
    let mean = fin.iter().sum::<f64>() / fin.len().max(1) as f64;
    let sd = (fin.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / fin.len().max(1) as f64).sqrt();
    let mut w: Vec<f64> = scores
        .iter()
        .map(|&v| {
            if !v.is_finite() {
                0.0
            } else if sd > 0.0 {
                ETA * (v - mean) / sd
            } else {
                0.0
            }
        })
        .collect();
    let top = w.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    for (wi, s) in w.iter_mut().zip(scores) {
        *wi = if s.is_finite() { (*wi - top).exp() } else { 0.0 };
    }
    if w.iter().all(|v| *v == 0.0) {
        w.iter_mut().for_each(|v| *v = 1.0);
    }
    let first =
        (0..n).max_by(|&a, &b| scores[a].total_cmp(&scores[b]).then(b.cmp(&a))).unwrap_or(0);
    let mut out = vec![first];
    w[first] = 0.0;
    while out.len() < count.min(n) {
        let total: f64 = w.iter().sum();
        if total <= 0.0 {
            break;
        }
        let mut r = rng.random::<f64>() * total;
        let mut pick = n - 1;
        for (i, wi) in w.iter().enumerate() {
            if *wi > 0.0 {
                pick = i;
                if r < *wi {
                    break;
                }
                r -= wi;
            }
        }
        out.push(pick);
        w[pick] = 0.0;
    }
    out
}

impl Strategy for Bo {
    const NAME: &'static str = "bo";
    type Config = BoConfig;
    type State = BoState;
    type Genome = Vec<f64>;
    type Context = ();

    fn new(config: Self::Config, space: &Space) -> Result<Self, ConfigError> {
        space.check()?;
        let grid = discrete_grid(space)?;
        let c = &config;
        if c.q == 0 {
            return Err(ConfigError::new("q", "must be at least 1"));
        }
        if c.n_init == Some(0) {
            return Err(ConfigError::new("n_init", "must be at least 1"));
        }
        if !(c.beta.is_finite() && c.beta >= 0.0) {
            return Err(ConfigError::new("beta", "must be finite and non-negative"));
        }
        if c.raw_samples == 0 {
            return Err(ConfigError::new("raw_samples", "must be at least 1"));
        }
        if c.num_restarts == 0 || c.num_restarts > c.raw_samples {
            return Err(ConfigError::new("num_restarts", "must be between 1 and raw_samples"));
        }
        if c.kg_points == 0 {
            return Err(ConfigError::new("kg_points", "must be at least 1"));
        }
        if c.mc_samples == 0 {
            return Err(ConfigError::new("mc_samples", "must be at least 1"));
        }
        if c.fit_starts == 0 {
            return Err(ConfigError::new("fit_starts", "must be at least 1"));
        }
        if !(c.noise_min.is_finite() && c.noise_min > 0.0 && c.noise_min < 1.0) {
            return Err(ConfigError::new("noise_min", "must be in (0, 1)"));
        }
        let n_init = c.n_init.unwrap_or(2 * space.dim() + 1);
        Ok(Self { config, space: space.clone(), n_init, grid })
    }

    fn init(&self, rng: &mut Rng) -> Self::State {
        BoState {
            next_id: 0,
            generation: 0,
            design_seed: rng.random(),
            design_used: 0,
            observations: Vec::new(),
            pending: Vec::new(),
            best: None,
            params: None,
            last_lml: None,
        }
    }

    fn ask(&self, s: &mut Self::State, rng: &mut Rng) -> Vec<Candidate<Self::Genome>> {
        let xs = if s.generation == 0 {
            self.design(s, self.n_init)
        } else {
            match self.fit(s, rng) {
                None => self.design(s, self.config.q),
                Some(mut gp) => {
                    let d = self.space.dim();
                    // Kriging believer: pending points first, then each new point.
                    for p in &s.pending {
                        let u = self.to_unit(&p.x);
                        let (m, _) = gp.predict_unit(&u, None);
                        if let Ok(g) = gp.with_fantasy(&u, m) {
                            gp = g;
                        }
                    }
                    if self.config.acquisition == Acquisition::Thompson {
                        let us = self.thompson(&gp, s, rng);
                        return self.hand_out(s, us.iter().map(|u| self.unit_to_x(u)).collect());
                    }
                    let mut raw = Halton::new(d, rng).points(0, self.config.raw_samples);
                    self.bin_points(&mut raw);
                    let mut out = Vec::with_capacity(self.config.q);
                    for k in 0..self.config.q {
                        let u = self.maximise(&gp, &raw, rng);
                        if k + 1 < self.config.q {
                            let (m, _) = gp.predict_unit(&u, None);
                            if let Ok(g) = gp.with_fantasy(&u, m) {
                                gp = g;
                            }
                        }
                        out.push(self.unit_to_x(&u));
                    }
                    out
                }
            }
        };
        self.hand_out(s, xs)
    }

    fn tell(
        &self,
        s: &mut Self::State,
        results: &[Evaluated<Self::Genome>],
        _rng: &mut Rng,
    ) -> Result<Metrics, TellError> {
        self.tell_results(s, results)
    }

    fn context(&self, _s: &Self::State) -> Self::Context {}

    fn decode(&self, _ctx: &Self::Context, g: &Self::Genome, out: &mut [f64]) {
        out.copy_from_slice(g);
    }

    fn best(&self, s: &Self::State) -> Option<(Self::Genome, f64)> {
        s.best.clone()
    }
}

impl Bo {
    /// Registers `xs` as pending under fresh ids and ends the generation.
    fn hand_out(&self, s: &mut BoState, xs: Vec<Vec<f64>>) -> Vec<Candidate<Vec<f64>>> {
        s.generation += 1;
        let mut cands = Vec::with_capacity(xs.len());
        for x in xs {
            let id = s.next_id;
            s.next_id += 1;
            s.pending.push(Pending { id, x: x.clone() });
            cands.push(Candidate { id, genome: x });
        }
        cands
    }

    fn tell_results(
        &self,
        s: &mut BoState,
        results: &[Evaluated<Vec<f64>>],
    ) -> Result<Metrics, TellError> {
        let mut slots = Vec::with_capacity(results.len());
        for r in results {
            let Some(k) = s.pending.iter().position(|p| p.id == r.id) else {
                return Err(TellError(format!("unknown or already told candidate id {}", r.id)));
            };
            if slots.contains(&k) {
                return Err(TellError(format!("candidate id {} was told twice", r.id)));
            }
            slots.push(k);
        }
        let mut failures = 0.0;
        for r in results {
            let k = s.pending.iter().position(|p| p.id == r.id).expect("validated above");
            let p = s.pending.remove(k);
            let y = r.fitness();
            if r.failed() || y == f64::INFINITY {
                failures += 1.0;
            }
            improve_best(&mut s.best, &p.x, y);
            let at = s.observations.partition_point(|o| o.id < p.id);
            s.observations.insert(at, Obs { id: p.id, x: p.x, y });
        }
        let mut m = Metrics::new();
        m.insert("failures".into(), failures);
        m.insert("observations".into(), s.observations.len() as f64);
        m.insert("pending".into(), s.pending.len() as f64);
        if let Some((_, f)) = &s.best {
            m.insert("best_fitness".into(), *f);
        }
        if let Some(l) = s.last_lml {
            m.insert("gp_lml".into(), l);
        }
        if let Some(p) = &s.params {
            m.insert("gp_noise".into(), p.noise);
        }
        Ok(m)
    }

    /// Thompson sampling (see the module doc): `q` joint posterior draws over half
    /// quasi-random, half perturbed-incumbent candidates; the argmins, without repeats.
    fn thompson(&self, gp: &Gp, s: &BoState, rng: &mut Rng) -> Vec<Vec<f64>> {
        let d = self.space.dim();
        let n = self.config.n_candidates.unwrap_or((100 * d).clamp(1000, 5000)).max(self.config.q);
        let n_local = if s.best.is_some() { n / 2 } else { 0 };
        let mut cands = Halton::new(d, rng).points(0, n - n_local);
        self.bin_points(&mut cands);
        if let Some((xb, _)) = &s.best {
            let center = self.to_unit(xb);
            let w = tr_weights(&gp.params().lengthscales);
            let lo: Vec<f64> = center.iter().zip(&w).map(|(c, w)| (c - 0.1 * w).max(0.0)).collect();
            let hi: Vec<f64> = center.iter().zip(&w).map(|(c, w)| (c + 0.1 * w).min(1.0)).collect();
            let prob = (20.0 / d as f64).min(1.0);
            let mut local = perturbation_candidates(&center, &lo, &hi, n_local, prob, rng);
            self.snap_points(&mut local);
            cands.extend(local);
        }
        thompson_select(gp, &cands, d, self.config.q, rng)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h_direct(u: f64) -> f64 {
        log_phi(u).exp() + u * ndtr(u)
    }

    #[test]
    fn log_h_is_accurate_and_continuous() {
        for u in [2.0, 0.5, 0.0, -0.5, -0.999, -1.0, -2.0, -4.0] {
            let a = log_h(u);
            let b = h_direct(u).ln();
            assert!((a - b).abs() < 1e-9 * b.abs().max(1.0), "u={u}: {a} vs {b}");
        }
        // Both sides of the switch points agree.
        for u in [-1.0f64, -15.0] {
            let (a, b) = (log_h(u + 1e-9), log_h(u - 1e-9));
            assert!((a - b).abs() < 1e-6, "switch at {u}: {a} {b}");
        }
        // Far tail: h(u) ~ φ(u)/u² (1 − 3/u² + 15/u⁴).
        for u in [-40.0f64, -1e3, -1e8] {
            let approx =
                log_phi(u) - 2.0 * u.abs().ln() + (1.0 - 3.0 / (u * u) + 15.0 / u.powi(4)).ln();
            assert!((log_h(u) - approx).abs() < 1e-10 * approx.abs(), "u={u}");
            assert!(log_h(u).is_finite());
        }
        // log Φ in both tails.
        assert!((log_ndtr(-40.0) - (-804.608_442_013_754_7)).abs() < 1e-9);
        assert!((log_ndtr(3.0) - (-0.001_350_809_964_748_202_6)).abs() < 1e-15);
    }

    #[test]
    fn ei_matches_its_definition_by_quadrature() {
        // EI(μ, σ; f*) = E[max(f* − Y, 0)], Y ~ N(μ, σ²), by the trapezoid rule.
        for (mu, sigma, fb) in [(0.3, 0.7, 0.0), (-1.0, 0.2, 0.5), (2.0, 0.5, 0.0)] {
            let (n, lo, hi) = (200_000, mu - 12.0 * sigma, mu + 12.0 * sigma);
            let dx = (hi - lo) / n as f64;
            let mut q = 0.0;
            for i in 0..=n {
                let y: f64 = lo + i as f64 * dx;
                let w = if i == 0 || i == n { 0.5 } else { 1.0 };
                let dens = (-(y - mu).powi(2) / (2.0 * sigma * sigma)).exp()
                    / (sigma * (2.0 * std::f64::consts::PI).sqrt());
                q += w * (fb - y).max(0.0) * dens * dx;
            }
            let z = (fb - mu) / sigma;
            let ei = sigma * log_h(z).exp();
            assert!((ei - q).abs() < 1e-7 * q.max(1e-12) + 1e-12, "{mu} {sigma}: {ei} vs {q}");
        }
    }

    #[test]
    fn acquisition_gradients_match_finite_differences() {
        let xs: Vec<Vec<f64>> =
            (0..9).map(|i| vec![(i as f64 * 0.37) % 1.0, (i as f64 * 0.61) % 1.0]).collect();
        let ys: Vec<f64> = xs.iter().map(|x| (x[0] - 0.3).powi(2) + (x[1] - 0.6).powi(2)).collect();
        let gp = Gp::fit(
            &[0.0; 2],
            &[1.0; 2],
            &xs,
            &ys,
            &FitOptions::default(),
            None,
            &mut stream(1, &[1]),
        )
        .unwrap();
        let fb = gp.z_min();
        let mut sc = (vec![0.0; 2], vec![0.0; 2]);
        for kind in [Acquisition::LogEi, Acquisition::Ei, Acquisition::Pi, Acquisition::Ucb] {
            for u in [[0.45, 0.2], [0.9, 0.95]] {
                let mut g = [0.0; 2];
                acquisition(&gp, kind, 2.0, fb, &u, Some(&mut g), &mut sc);
                for j in 0..2 {
                    let e = 1e-6;
                    let (mut up, mut um) = (u, u);
                    up[j] += e;
                    um[j] -= e;
                    let fd = (acquisition(&gp, kind, 2.0, fb, &up, None, &mut sc)
                        - acquisition(&gp, kind, 2.0, fb, &um, None, &mut sc))
                        / (2.0 * e);
                    assert!(
                        (fd - g[j]).abs() < 1e-5 * (1.0 + fd.abs()),
                        "{kind:?} {u:?} {j}: {fd} vs {}",
                        g[j]
                    );
                }
            }
        }
    }

    /// A noisy GP on 10 points of a 2-D quadratic, hyperparameters fixed, unit box.
    fn noisy_gp() -> Gp {
        let xs: Vec<Vec<f64>> =
            (0..10).map(|i| vec![(i as f64 * 0.37) % 1.0, (i as f64 * 0.61) % 1.0]).collect();
        let ys: Vec<f64> = xs
            .iter()
            .enumerate()
            .map(|(i, x)| (x[0] - 0.3).powi(2) + (x[1] - 0.6).powi(2) + 0.05 * (i as f64).sin())
            .collect();
        let params =
            GpParams { mean: 0.0, outputscale: 1.0, lengthscales: vec![0.4, 0.5], noise: 0.08 };
        Gp::new(Kernel::Matern52, &[0.0; 2], &[1.0; 2], &xs, &ys, params).unwrap()
    }

    #[test]
    fn noisy_ei_matches_brute_force_monte_carlo() {
        let gp = noisy_gp();
        let nei = NoisyEi::new(&gp, 100_000, &mut stream(3, &[1]));
        assert!(nei.base.len() >= 2 && nei.base.len() <= gp.len(), "{:?}", nei.base);
        let (_, ystd) = gp.standardisation();
        let xs: Vec<Vec<f64>> =
            (0..10).map(|i| vec![(i as f64 * 0.37) % 1.0, (i as f64 * 0.61) % 1.0]).collect();
        for x in [[0.3, 0.6], [0.35, 0.5], [0.2, 0.75]] {
            let a = nei.value(&gp, &x, None);
            // Joint draws at every training point and x, straight from the posterior.
            let mut pts = xs.clone();
            pts.push(x.to_vec());
            let draws = gp.sample(&pts, 100_000, &mut stream(4, &[2])).unwrap();
            let imp: Vec<f64> = draws
                .iter()
                .map(|f| {
                    let fmin = f[..10].iter().copied().fold(f64::INFINITY, f64::min);
                    (fmin - f[10]).max(0.0) / ystd
                })
                .collect();
            let mean = imp.iter().sum::<f64>() / imp.len() as f64;
            let sd = (imp.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / imp.len() as f64)
                .sqrt()
                / (imp.len() as f64).sqrt();
            // Two independent estimates of the same expectation: within 4.5 combined sd.
            assert!(
                (a - mean).abs() < 4.5 * sd * 2f64.sqrt() + 1e-6,
                "{x:?}: nei {a} vs brute force {mean} ± {sd}"
            );
            assert!(mean > 1e-4, "a test point with no improvement at all is no test");
        }
    }

    #[test]
    fn noisy_ei_gradient_matches_finite_differences() {
        let gp = noisy_gp();
        let nei = NoisyEi::new(&gp, 128, &mut stream(5, &[1]));
        for u in [[0.45, 0.2], [0.25, 0.65], [0.9, 0.95]] {
            let mut g = [0.0; 2];
            nei.value(&gp, &u, Some(&mut g));
            for j in 0..2 {
                let e = 1e-6;
                let (mut up, mut um) = (u, u);
                up[j] += e;
                um[j] -= e;
                let fd = (nei.value(&gp, &up, None) - nei.value(&gp, &um, None)) / (2.0 * e);
                assert!((fd - g[j]).abs() < 1e-5 * (1.0 + fd.abs()), "{u:?} {j}: {fd} vs {}", g[j]);
            }
        }
    }

    #[test]
    fn expected_max_of_affine_lines_matches_quadrature() {
        let mut rng = stream(8, &[1]);
        for m in [1usize, 2, 5, 40] {
            let a: Vec<f64> = (0..m).map(|_| rng.random_range(-1.0..1.0)).collect();
            let mut b: Vec<f64> = (0..m).map(|_| rng.random_range(-1.0..1.0)).collect();
            if m == 40 {
                b[3] = b[7]; // equal slopes
            }
            let (n, lo, hi) = (400_000, -12.0, 12.0);
            let dz = (hi - lo) / n as f64;
            let mut q = 0.0;
            for i in 0..=n {
                let z: f64 = lo + i as f64 * dz;
                let w = if i == 0 || i == n { 0.5 } else { 1.0 };
                let mx = a.iter().zip(&b).map(|(a, b)| a + b * z).fold(f64::NEG_INFINITY, f64::max);
                q += w * mx * log_phi(z).exp() * dz;
            }
            let amax = a.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let e = expected_max_affine(&a, &b);
            assert!((e - (q - amax)).abs() < 1e-8, "m={m}: {e} vs {}", q - amax);
        }
    }

    #[test]
    fn knowledge_gradient_matches_brute_force_fantasies() {
        let gp = noisy_gp();
        let extra = Halton::new(2, &mut stream(6, &[1])).points(0, 32);
        let kg = KnowledgeGradient::new(&gp, &extra);
        let mut rng = stream(7, &[1]);
        for x in [[0.3, 0.6], [0.8, 0.1], [0.5, 0.5]] {
            let exact = kg.value(&gp, &x);
            let mut set: Vec<f64> = kg.pts.clone();
            set.extend_from_slice(&x);
            let best_now = set
                .chunks(2)
                .map(|a| -gp.predict_unit(a, None).0)
                .fold(f64::NEG_INFINITY, f64::max);
            let (m, v) = gp.predict_unit(&x, None);
            let sd = (v + gp.diag_noise()).sqrt();
            let draws = 20_000;
            let gains: Vec<f64> = (0..draws)
                .map(|_| {
                    let e: f64 = StandardNormal.sample(&mut rng);
                    let g = gp.with_fantasy(&x, m + sd * e).unwrap();
                    set.chunks(2)
                        .map(|a| -g.predict_unit(a, None).0)
                        .fold(f64::NEG_INFINITY, f64::max)
                        - best_now
                })
                .collect();
            let mean = gains.iter().sum::<f64>() / draws as f64;
            let se = (gains.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / draws as f64).sqrt()
                / (draws as f64).sqrt();
            assert!(exact > 0.0, "{x:?}");
            assert!(
                (exact - mean).abs() < 4.5 * se + 1e-9,
                "{x:?}: kg {exact} vs mc {mean} ± {se}"
            );
        }
    }
}
