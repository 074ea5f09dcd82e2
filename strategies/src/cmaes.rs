//! CMA-ES, the covariance matrix adaptation evolution strategy, with IPOP/BIPOP restarts and
//! the separable (diagonal) variant.
//!
//! # References
//!
//! * N. Hansen (2016), "The CMA Evolution Strategy: A Tutorial", arXiv:1604.00772. Equation
//!   numbers in comments (`eq. 43`) refer to its algorithm summary (Appendix A) and Table 1.
//! * R. Ros & N. Hansen (2008), "A Simple Modification in CMA-ES Achieving Linear Time and Space
//!   Complexity", PPSN X: sep-CMA-ES (`separable: true`), a diagonal C learned with the rates
//!   `c_1` and `c_μ` multiplied by `(n + 2)/3`.
//! * A. Auger & N. Hansen (2005), "A Restart CMA Evolution Strategy With Increasing Population
//!   Size", CEC 2005: IPOP (`restarts: ipop`), `λ ← incpopsize · λ` at each restart.
//! * N. Hansen (2009), "Benchmarking a BI-Population CMA-ES on the BBOB-2009 Function Testbed",
//!   GECCO workshop: BIPOP (`restarts: bipop`), interleaving large-population runs (IPOP) with
//!   small-population runs of random `λ` and `σ0` while their budget is the smaller one;
//!   `restarts: nbipop` takes NBIPOP's budget split from Loshchilov (2013), "CMA-ES with
//!   restarts for solving CEC 2013 benchmark problems": the regime that found the best solution
//!   so far may use twice the other's budget.
//! * N. Hansen, A. S. P. Niederberger, L. Guzzella & P. Koumoutsakos (2009), IEEE TEC 13(1),
//!   "A Method for Handling Uncertainty in Evolutionary Optimization...", Sec. IV-B: the adaptive
//!   boundary penalty (`bounds: penalty`), in the form pycma's `BoundPenalty` implements it.
//! * Termination criteria follow pycma 4.5 (`cma.evolution_strategy._CMAStopDict`) and the
//!   tutorial's Appendix B.3.
//!
//! # Algorithm in this file
//!
//! Each generation samples `z_k ~ N(0, I)` (eq. 38), `y_k = B D z_k` (eq. 39) and
//! `x_k = m + σ y_k` (eq. 40). The `y_k` of all candidates are kept in the state, so `tell`
//! matches results by id in any order (and across several `tell` calls); once all λ results
//! are in, it updates m, p_σ, σ, p_c and C (eqs. 41–47). By default (`active: true`, as pycma's
//! `CMA_active`) the rank-μ update of C is the active one of the tutorial: the λ − μ worse
//! candidates enter with the negative weights of eq. 53, rescaled by `n / ‖C^{-1/2} y‖²`
//! (eq. 46); the mean and the paths use the positive weights only (c_m = 1).
//! A second `ask` before a generation is completely told starts a new generation; the ids of
//! the earlier one are then unknown to `tell`. Unknown or repeated ids are a [`TellError`] that
//! leaves the state unchanged. Failed and NaN evaluations rank worst (`+inf`), ties by id.
//!
//! C is stored as its lower triangle only (column-major n×n, strict upper triangle unused),
//! so it is symmetric by construction; the eigendecomposition C = B D² Bᵀ reads the lower
//! triangle. As in the tutorial (Appendix B.2, "lazy update") and pycma, the decomposition is
//! refreshed only every `⌈max(1, 1/(10 n (c_1 + c_μ)))⌉` generations (option
//! `eigen_interval`; at n = 100 that is every second generation, and the decomposition is then
//! most of the cost of a generation);
//! between refreshes sampling uses the last B, D and `C^{-1/2} ⟨y⟩_w` is `B ⟨z⟩_w`, which is
//! exact for the B, D the samples were drawn with. The matrix products (`B·(D z)` for the whole
//! population, the rank-μ update of the lower triangle) use faer, single-threaded so that the
//! result never depends on the thread count.
//!
//! # Boundaries
//!
//! `bounds: none` hands out the raw samples (the problem side clamps them, see
//! `Space::repair`). `clip` hands out samples clipped into the box and learns from the unclipped
//! `y_k`. `penalty` (default) clips as well and ranks on `f(clip(x)) + Σ_i γ_i (x_i −
//! clip(x)_i)² / n`, with the weights `γ_i` adapted as in Hansen et al. (2009) / pycma's
//! `BoundPenalty`, which keeps the mean from drifting out of the box.
//!
//! # Restarts and termination
//!
//! After each update the pycma criteria are checked (`tolfun`, `tolfunhist`, `tolx`,
//! `tolconditioncov`, `noeffectaxis`, `noeffectcoord`, `tolstagnation`, `tolupsigma`, `tolfacupx`,
//! `tolflatfitness`, `maxiter`, `max_evals_per_run`, plus `numerical` when the state would
//! become non-finite). When one fires and a restart is left, the state is reinitialised inside
//! that `tell` — new mean uniform in the bounds (or in `mean0_range`, as Hansen 2009 drew in
//! `[-4, 4]^n` on BBOB) drawn from `tell`'s random stream, λ and σ0 by
//! the restart regime — and the next `ask` samples the new run. [`Strategy::stop`] reports a
//! reason only when no restart is left. The best point over all runs stays in the state.
use evoforge_core::{
    Candidate, ConfigError, Describe, Evaluated, Metrics, ParamDoc, Rng, Space, Strategy, TellError,
};
use faer::linalg::matmul::triangular::{self, BlockStructure};
use faer::{Accum, MatMut, MatRef, Par};
use rand::RngExt;
use rand_distr::StandardNormal;
use serde::{Deserialize, Serialize};

use crate::util::{Batch, check_mean0, improve_best, nf, rank, resolve_sigma0, uniform_in};

/// How samples outside the bounds of the space are treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum BoundHandling {
    /// Raw samples are handed out; the problem side clamps them.
    None,
    /// Samples are clipped into the box; the update uses the unclipped sample.
    Clip,
    /// Clipped, and ranked with an adaptive quadratic penalty on the clipped distance.
    #[default]
    Penalty,
}

/// Restart regime.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Restarts {
    /// One run; `stop()` reports the first criterion that fires.
    #[default]
    None,
    /// IPOP: each restart multiplies λ by `incpopsize` (Auger & Hansen 2005).
    Ipop,
    /// BIPOP: IPOP runs interleaved with small-population runs (Hansen 2009).
    Bipop,
    /// BIPOP with the budget split of NBIPOP (Loshchilov 2013): the regime that produced the
    /// best solution so far may use twice the budget of the other.
    Nbipop,
}

/// Configuration of [`CmaEs`] (YAML `kind: cmaes`). Every field has a default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CmaEsConfig {
    /// Initial mean; default: uniform in the bounds, drawn from the `init` random stream.
    pub mean0: Option<Vec<f64>>,
    /// `[lo, hi]`: every run's initial mean (the first one's unless `mean0` is given) is drawn
    /// uniformly in `[lo, hi]` on each coordinate, clipped to the bounds. Default: the bounds.
    /// Hansen's BBOB experiments with BIPOP (2009) and pycma's draw in `[-4, 4]^n`, inside the
    /// `[-5, 5]^n` region.
    pub mean0_range: Option<[f64; 2]>,
    /// Initial step size; default `0.3 × mean(hi − lo)` over the coordinates (C starts as I).
    pub sigma0: Option<f64>,
    /// λ of the first run; default `4 + ⌊3 ln n⌋` (eq. 48).
    pub popsize: Option<usize>,
    /// Treatment of samples outside the box.
    pub bounds: BoundHandling,
    /// sep-CMA-ES: diagonal covariance, O(n) per sample (Ros & Hansen 2008).
    pub separable: bool,
    /// Active CMA: the worse half of the population enters the rank-μ update with negative
    /// weights (tutorial eq. 46–47, 53). Default `true`, as pycma's `CMA_active`.
    pub active: bool,
    /// Restart regime.
    pub restarts: Restarts,
    /// Restarts allowed (BIPOP: large-population restarts; small ones do not count). Default 9.
    pub max_restarts: Option<u32>,
    /// Population growth factor per (large) restart.
    pub incpopsize: f64,
    /// End a run after this many evaluations.
    pub max_evals_per_run: Option<u64>,
    /// End a run after this many generations; default `100 + 150 (n+3)² / √λ` (pycma).
    pub max_iter_per_run: Option<u64>,
    /// Stop when the f-range of the generation and of the recent best values is below.
    pub tolfun: f64,
    /// Stop when the range of the recent best values is below.
    pub tolfunhist: f64,
    /// Stop when every σ·√C_ii and σ·|p_c,i| is below; default `1e-11 × sigma0`.
    pub tolx: Option<f64>,
    /// Stop when the condition number of C exceeds.
    pub tolconditioncov: f64,
    /// Stop when adding 0.1σ along a principal axis does not change the mean.
    pub noeffectaxis: bool,
    /// Stop when adding 0.2σ√C_ii to a coordinate does not change the mean.
    pub noeffectcoord: bool,
    /// Generations without progress of best and median; default `100 + 100 n^1.5 / λ0` with the
    /// first run's unrounded `λ0` for every run (as pycma), 0 = off.
    pub tolstagnation: Option<u64>,
    /// Stop when σ / max(D) exceeds `tolupsigma × σ0` (creeping).
    pub tolupsigma: f64,
    /// Stop when a standard deviation `σ √C_ii` exceeds `tolfacupx × σ0`: the initial step
    /// size was far too small (pycma's default 1e3). It ends BIPOP's small-σ runs that find
    /// better points far away, instead of letting them grow into large runs on the small
    /// regime's budget.
    pub tolfacupx: f64,
    /// Stop after more than this many generations whose best equals the 75th percentile.
    pub tolflatfitness: u32,
    /// Generations between eigendecompositions; default `max(1, 1/(10 n (c_1 + c_μ)))`.
    pub eigen_interval: Option<f64>,
}

impl Default for CmaEsConfig {
    fn default() -> Self {
        Self {
            mean0: None,
            mean0_range: None,
            sigma0: None,
            popsize: None,
            bounds: BoundHandling::Penalty,
            separable: false,
            active: true,
            restarts: Restarts::None,
            max_restarts: None,
            incpopsize: 2.0,
            max_evals_per_run: None,
            max_iter_per_run: None,
            tolfun: 1e-11,
            tolfunhist: 1e-12,
            tolx: None,
            tolconditioncov: 1e14,
            noeffectaxis: true,
            noeffectcoord: true,
            tolstagnation: None,
            tolupsigma: 1e20,
            tolfacupx: 1e3,
            tolflatfitness: 1,
            eigen_interval: None,
        }
    }
}

impl Describe for CmaEsConfig {
    const KIND: &'static str = CmaEs::NAME;
    const SUMMARY: &'static str =
        "CMA-ES (Hansen 2016) with IPOP/BIPOP restarts and the separable variant";
    fn params() -> Vec<ParamDoc> {
        // Defaults are YAML text; `null` means "computed", and the doc line says how.
        vec![
            ParamDoc::opt("mean0", "[float]", "null", "initial mean; null: uniform in the bounds"),
            ParamDoc::opt(
                "mean0_range",
                "[lo, hi]",
                "null",
                "every run's initial mean uniform in [lo, hi] per coordinate (within the bounds)",
            ),
            ParamDoc::opt("sigma0", "float", "null", "initial step size; null: 0.3 mean(hi - lo)"),
            ParamDoc::opt("popsize", "int", "null", "first run's lambda; null: 4 + floor(3 ln n)"),
            ParamDoc::opt("bounds", "none | clip | penalty", "penalty", "out-of-box samples"),
            ParamDoc::opt("separable", "bool", "false", "sep-CMA-ES: diagonal covariance"),
            ParamDoc::opt(
                "active",
                "bool",
                "true",
                "active CMA: negative weights for the worse half in the rank-mu update",
            ),
            ParamDoc::opt("restarts", "none | ipop | bipop | nbipop", "none", "restart regime"),
            ParamDoc::opt(
                "max_restarts",
                "int",
                "null",
                "restarts allowed (bipop: large ones); null: 9, or 0 without restarts",
            ),
            ParamDoc::opt("incpopsize", "float", "2.0", "population growth per large restart"),
            ParamDoc::opt("max_evals_per_run", "int", "null", "evaluations per run; null: no cap"),
            ParamDoc::opt(
                "max_iter_per_run",
                "int",
                "null",
                "generations per run; null: 100 + 150 (n+3)^2 / sqrt(popsize)",
            ),
            ParamDoc::opt("tolfun", "float", "1e-11", "stop: f-range of generation and history"),
            ParamDoc::opt("tolfunhist", "float", "1e-12", "stop: f-range of recent best values"),
            ParamDoc::opt(
                "tolx",
                "float",
                "null",
                "stop: all sigma sqrt(C_ii) and sigma |p_c| below; null: 1e-11 sigma0",
            ),
            ParamDoc::opt("tolconditioncov", "float", "1e14", "stop: condition number of C"),
            ParamDoc::opt("noeffectaxis", "bool", "true", "stop: 0.1 sigma along an axis is lost"),
            ParamDoc::opt(
                "noeffectcoord",
                "bool",
                "true",
                "stop: 0.2 sigma on a coordinate is lost",
            ),
            ParamDoc::opt(
                "tolstagnation",
                "int",
                "null",
                "stop: generations without progress; 0: off; null: 100 + 100 n^1.5 / popsize",
            ),
            ParamDoc::opt(
                "tolupsigma",
                "float",
                "1e20",
                "stop: sigma / max(D) > tolupsigma sigma0",
            ),
            ParamDoc::opt(
                "tolfacupx",
                "float",
                "1e3",
                "stop: a standard deviation sigma sqrt(C_ii) > tolfacupx sigma0",
            ),
            ParamDoc::opt("tolflatfitness", "int", "1", "stop: generations of flat fitness"),
            ParamDoc::opt(
                "eigen_interval",
                "float",
                "null",
                "generations between eigendecompositions; null: max(1, 1/(10 n (c1 + cmu)))",
            ),
        ]
    }
}

/// The strategy parameters of one run (Hansen 2016, Table 1), a function of `n` and `λ`.
#[derive(Debug, Clone, PartialEq)]
pub struct Params {
    /// Population size λ.
    pub lambda: usize,
    /// Number of parents μ = ⌊λ/2⌋ (eq. 49), the number of positive weights.
    pub mu: usize,
    /// Positive recombination weights `w_1 ≥ … ≥ w_μ`, summing to one (eq. 49, 53).
    pub weights: Vec<f64>,
    /// The weights `w_{μ+1} ≥ … ≥ w_λ` of the worse half (eq. 53), all `≤ 0`: the "active"
    /// weights of the rank-μ update (Jastrebski & Arnold 2006; tutorial eq. 46–47), scaled so
    /// that `Σ|w⁻| = min(α_μ⁻, α_μeff⁻, α_posdef⁻)`. All zero when active CMA is off.
    pub neg_weights: Vec<f64>,
    /// Variance-effective selection mass μ_eff = (Σw_i)² / Σw_i² over the positive weights (Table 1).
    pub mueff: f64,
    /// Cumulation constant of the σ path, c_σ (eq. 55).
    pub cs: f64,
    /// Damping of the step size, d_σ (eq. 55).
    pub ds: f64,
    /// Cumulation constant of the C path, c_c (eq. 56).
    pub cc: f64,
    /// Learning rate of the rank-one update, c_1 (Table 1; ×(n+2)/3 when separable).
    pub c1: f64,
    /// Learning rate of the rank-μ update, c_μ (Table 1; ×(n+2)/3 when separable).
    pub cmu: f64,
    /// E‖N(0, I)‖ ≈ √n (1 − 1/(4n) + 1/(21n²)) (tutorial, p. 28).
    pub chi_n: f64,
}

impl Params {
    /// The default parameters for dimension `n` and population size `lambda ≥ 2`, with active
    /// CMA (negative weights) as in pycma's default `CMA_active: True`.
    pub fn new(n: usize, lambda: usize, separable: bool) -> Self {
        Self::with_active(n, lambda, separable, true)
    }

    /// The parameters for dimension `n` and population size `lambda ≥ 2`; `active: false`
    /// leaves the negative weights at zero (the classic, positive-weights-only CMA-ES).
    pub fn with_active(n: usize, lambda: usize, separable: bool, active: bool) -> Self {
        let nf = n as f64;
        let mu = lambda / 2; // eq. 49
        // eq. 49: w'_i = ln((λ+1)/2) − ln i, positive for i ≤ μ, ≤ 0 beyond.
        let raw: Vec<f64> =
            (1..=lambda).map(|i| ((lambda as f64 + 1.0) / 2.0).ln() - (i as f64).ln()).collect();
        let (raw_pos, raw_neg) = raw.split_at(mu);
        let sum: f64 = raw_pos.iter().sum();
        // eq. 53, positive part: normalised to sum 1.
        let weights: Vec<f64> = raw_pos.iter().map(|w| w / sum).collect();
        let mueff = 1.0 / weights.iter().map(|w| w * w).sum::<f64>();
        // eq. 55. pycma 4.5 uses c_σ = (μ_eff + 2)/(n + μ_eff + 3) (capped at 1/2) and, for
        // large μ_eff, a larger d_σ (`CMAAdaptSigmaCSA.compute_damps`). With those, BIPOP on
        // BBOB f15 (Rastrigin, d = 10, instances 1–5, 40 seeds) solved 71 of 200 runs against
        // 119 with the tutorial's values (f21 164 against 152, f22 77 against 75, f23 29
        // against 38), so the tutorial's values stay.
        let cs = (mueff + 2.0) / (nf + mueff + 5.0);
        let ds = 1.0 + 2.0 * (((mueff - 1.0) / (nf + 1.0)).sqrt() - 1.0).max(0.0) + cs;
        // eq. 56
        let cc = (4.0 + mueff / nf) / (nf + 4.0 + 2.0 * mueff / nf);
        // Table 1 with α_cov = 2.
        let alpha_cov = 2.0;
        let mut c1 = alpha_cov / ((nf + 1.3).powi(2) + mueff);
        // (pycma adds 1/4 to the numerator of c_μ; see the test
        // `default_constants_match_the_tutorial_and_pycma_at_d10`.)
        let mut cmu = (alpha_cov * (mueff - 2.0 + 1.0 / mueff)
            / ((nf + 2.0).powi(2) + alpha_cov * mueff / 2.0))
            .min(1.0 - c1);
        if separable {
            // Ros & Hansen (2008), Sec. 2: c_cov,sep = (n + 2)/3 · c_cov.
            let f = (nf + 2.0) / 3.0;
            c1 = (c1 * f).min(1.0);
            cmu = (cmu * f).min(1.0 - c1);
        }
        // eq. 53, negative part (Table 1): Σ|w⁻| = min(α_μ⁻, α_μeff⁻, α_posdef⁻) with
        //   α_μ⁻ = 1 + c_1/c_μ            (no decay of C: c_1 + c_μ Σ_j w_j = 0),
        //   α_μeff⁻ = 1 + 2 μ⁻_eff/(μ_eff + 2),
        //   α_posdef⁻ = (1 − c_1 − c_μ)/(n c_μ)  (C stays positive definite, given eq. 46).
        // pycma's `RecombinationWeights.finalize_negative_weights` applies the same three in
        // sequence (set to α_μ⁻, limit to α_posdef⁻, limit to α_μeff⁻). With c_μ = 0 (λ = 2)
        // the first and third are infinite and the weights have no effect.
        let neg_sum: f64 = raw_neg.iter().map(|w| w.abs()).sum();
        let neg_weights: Vec<f64> = if active && neg_sum > 0.0 {
            let mueff_neg = neg_sum * neg_sum / raw_neg.iter().map(|w| w * w).sum::<f64>();
            let alpha_mu = 1.0 + c1 / cmu;
            let alpha_mueff = 1.0 + 2.0 * mueff_neg / (mueff + 2.0);
            let alpha_posdef = (1.0 - c1 - cmu) / (nf * cmu);
            let alpha = alpha_mu.min(alpha_mueff).min(alpha_posdef).max(0.0);
            raw_neg.iter().map(|w| alpha * w / neg_sum).collect()
        } else {
            vec![0.0; raw_neg.len()]
        };
        let chi_n = nf.sqrt() * (1.0 - 1.0 / (4.0 * nf) + 1.0 / (21.0 * nf * nf));
        Self { lambda, mu, weights, neg_weights, mueff, cs, ds, cc, c1, cmu, chi_n }
    }

    /// Sum of all λ weights, `Σ_j w_j = 1 + Σ w⁻` (the decay of C in eq. 47).
    pub fn weight_sum(&self) -> f64 {
        1.0 + self.neg_weights.iter().sum::<f64>()
    }

    /// The default population size `4 + ⌊3 ln n⌋` (eq. 48).
    pub fn default_popsize(n: usize) -> usize {
        Self::default_popsize_unrounded(n) as usize
    }

    /// `4 + 3 ln n` before rounding down: pycma's restarts and its `tolstagnation` and
    /// `maxiter` defaults derive from this value, not from the rounded λ.
    pub fn default_popsize_unrounded(n: usize) -> f64 {
        4.0 + 3.0 * (n as f64).ln()
    }
}

/// CMA-ES with optional restarts and the separable variant. See the module documentation.
#[derive(Debug, Clone)]
pub struct CmaEs {
    config: CmaEsConfig,
    space: Space,
    n: usize,
    sigma0: f64,
    /// The population size before rounding down (`4 + 3 ln n`, or `popsize`): pycma evaluates
    /// its option expressions once, with this value, and keeps them for every restart, so the
    /// `tolstagnation` and `maxiter` defaults and the restarts' population sizes derive from it.
    lambda0_f: f64,
    tolx: f64,
    max_restarts: u32,
    /// Where each run's initial mean is drawn: the bounds, or `mean0_range` within them.
    start: Space,
}

/// Which BIPOP regime a run belongs to (the first run is accounted as small, as in pycma).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Regime {
    First,
    Small,
    Large,
}

/// Everything of one run (between restarts).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Run {
    lambda: usize,
    regime: Regime,
    /// σ0 of this run (BIPOP's small runs scale it down).
    #[serde(with = "nf")]
    sigma0: f64,
    max_iter: u64,
    // Every float of the run goes through `nf` so that a state that went non-finite (the
    // `numerical` stop) still serializes and reads back.
    #[serde(with = "nf::vec")]
    mean: Vec<f64>,
    #[serde(with = "nf")]
    sigma: f64,
    #[serde(with = "nf::vec")]
    ps: Vec<f64>,
    #[serde(with = "nf::vec")]
    pc: Vec<f64>,
    /// Full: lower triangle of C, column-major n×n. Separable: the diagonal of C.
    #[serde(with = "nf::vec")]
    c: Vec<f64>,
    /// Eigenvectors of C (column-major n×n) at the last decomposition; empty when separable.
    #[serde(with = "nf::vec")]
    b: Vec<f64>,
    /// Square roots of the eigenvalues of C at the last decomposition (ascending when full).
    #[serde(with = "nf::vec")]
    d: Vec<f64>,
    /// Generations in this run, and the generation of the last eigendecomposition.
    gens: u64,
    eigen_gens: u64,
    evals: u64,
    /// Best (penalised) fitness of the recent generations, oldest first (pycma `fit.hist`).
    #[serde(with = "nf::vec")]
    hist: Vec<f64>,
    /// Best and median fitness every fifth generation, oldest first (pycma `histbest`).
    #[serde(with = "nf::vec")]
    hist_best: Vec<f64>,
    #[serde(with = "nf::vec")]
    hist_median: Vec<f64>,
    /// Best raw fitness of this run and the run's evaluation count when it was found.
    #[serde(with = "nf")]
    best_f: f64,
    best_evals: u64,
    flat_gens: u32,
    /// Boundary penalty weights (empty until initialised) and the history of
    /// normalised fitness spreads they are scaled with.
    #[serde(with = "nf::vec")]
    gamma: Vec<f64>,
    #[serde(with = "nf::vec")]
    dfit_hist: Vec<f64>,
}

fn inf() -> f64 {
    f64::INFINITY
}

/// State of [`CmaEs`]: the current run, the restart bookkeeping, the pending generation and the
/// best point over all runs. A checkpoint is its serde form.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CmaEsState {
    next_id: u64,
    generation: u64,
    evaluations: u64,
    restarts: u32,
    large_restarts: u32,
    small_evals: u64,
    large_evals: u64,
    /// Best raw fitness found by each regime (the first run counts as small), for NBIPOP.
    #[serde(with = "nf", default = "inf")]
    best_small: f64,
    #[serde(with = "nf", default = "inf")]
    best_large: f64,
    run: Run,
    batch: Batch,
    /// `z_k` and `y_k = B D z_k` of the pending generation, column k = candidate k.
    #[serde(with = "nf::vec")]
    z: Vec<f64>,
    #[serde(with = "nf::vec")]
    y: Vec<f64>,
    #[serde(with = "nf::best")]
    best: Option<(Vec<f64>, f64)>,
    stopped: Option<String>,
    last_stop: Option<String>,
    /// Scratch space for products; carries no information between calls.
    #[serde(skip)]
    work: Vec<f64>,
}

impl CmaEsState {
    /// The reason the last run ended (restart or final stop), if any.
    pub fn last_stop(&self) -> Option<&str> {
        self.last_stop.as_deref()
    }
    /// Number of restarts so far.
    pub fn restarts(&self) -> u32 {
        self.restarts
    }
    /// Current step size σ.
    pub fn sigma(&self) -> f64 {
        self.run.sigma
    }
    /// Current mean.
    pub fn mean(&self) -> &[f64] {
        &self.run.mean
    }
    /// Population size of the current run.
    pub fn popsize(&self) -> usize {
        self.run.lambda
    }
    /// Total evaluations told.
    pub fn evaluations(&self) -> u64 {
        self.evaluations
    }
}

impl CmaEs {
    fn params(&self, lambda: usize) -> Params {
        Params::with_active(self.n, lambda, self.config.separable, self.config.active)
    }

    /// The first run's population size, `⌊λ0⌋`.
    fn lambda0(&self) -> usize {
        self.lambda0_f as usize
    }

    /// pycma's `maxiter` default, `100 + 150 (n + 3)² / √λ0` with the unrounded λ0 of the first
    /// run, for every run (pycma keeps the value it evaluated for the first run).
    fn default_max_iter(&self) -> u64 {
        self.config.max_iter_per_run.unwrap_or_else(|| {
            (100.0 + 150.0 * (self.n as f64 + 3.0).powi(2) / self.lambda0_f.sqrt()) as u64
        })
    }

    fn eigen_interval(&self, p: &Params) -> f64 {
        self.config
            .eigen_interval
            .unwrap_or_else(|| 1.0 / (10.0 * self.n as f64 * (p.c1 + p.cmu)))
            .max(1.0)
    }

    fn new_run(
        &self,
        lambda: usize,
        sigma0: f64,
        mean: Vec<f64>,
        regime: Regime,
        max_iter: u64,
    ) -> Run {
        let n = self.n;
        let (c, b) = if self.config.separable {
            (vec![1.0; n], Vec::new())
        } else {
            let mut c = vec![0.0; n * n];
            let mut b = vec![0.0; n * n];
            for i in 0..n {
                c[i * n + i] = 1.0;
                b[i * n + i] = 1.0;
            }
            (c, b)
        };
        Run {
            lambda,
            regime,
            sigma0,
            max_iter,
            mean,
            sigma: sigma0,
            ps: vec![0.0; n],
            pc: vec![0.0; n],
            c,
            b,
            d: vec![1.0; n],
            gens: 0,
            eigen_gens: 0,
            evals: 0,
            hist: Vec::new(),
            hist_best: Vec::new(),
            hist_median: Vec::new(),
            best_f: f64::INFINITY,
            best_evals: 0,
            flat_gens: 0,
            gamma: Vec::new(),
            dfit_hist: Vec::new(),
        }
    }

    /// Diagonal of C: `C_ii` (full: from the lower triangle).
    fn c_diag(&self, run: &Run, i: usize) -> f64 {
        if self.config.separable { run.c[i] } else { run.c[i * self.n + i] }
    }

    /// Adapts the boundary penalty weights (Hansen et al. 2009; pycma `BoundPenalty.update`)
    /// from the raw fitness values `f` of this generation and the mean before the update.
    fn update_bound_weights(&self, run: &mut Run, f: &[f64], p: &Params) {
        let n = self.n;
        let nf = n as f64;
        let s2 = run.sigma * run.sigma;
        let mean_var = (0..n).map(|i| s2 * self.c_diag(run, i)).sum::<f64>() / nf;
        // Interquartile range of the fitness values, normalised by the mean variance.
        let mut sorted = f.to_vec();
        sorted.sort_by(f64::total_cmp);
        let l = 1 + sorted.len();
        let hi = sorted[(3 * l / 4).min(sorted.len() - 1)];
        let lo = sorted[(l / 4).min(sorted.len() - 1)];
        let val = (hi - lo) / mean_var;
        if val.is_finite() && val > 0.0 {
            run.dfit_hist.push(val);
        } else if val == f64::INFINITY && run.dfit_hist.len() > 1 {
            let m = run.dfit_hist.iter().copied().fold(f64::MIN, f64::max);
            run.dfit_hist.push(m);
        }
        let cap = 20 + (3 * n) / run.lambda;
        if run.dfit_hist.len() > cap {
            run.dfit_hist.remove(0);
        }
        if run.dfit_hist.is_empty() {
            return; // no spread measured yet: no scale for the weights
        }
        let dfit = median(&run.dfit_hist);
        let damp = (p.mueff / 10.0 / nf).min(1.0);
        // Distance of the mean from the box in standard deviations, per coordinate.
        let dmean: Vec<f64> = (0..n)
            .map(|i| {
                let d = self.space.dims()[i];
                let m = run.mean[i];
                (m - m.clamp(d.lo, d.hi)) / (s2 * self.c_diag(run, i)).sqrt()
            })
            .collect();
        if run.gamma.is_empty() {
            if dmean.iter().any(|&v| v != 0.0) {
                run.gamma = vec![2.0 * dfit; n];
            } else {
                return;
            }
        }
        let thresh = 3.0 * (nf.sqrt() / p.mueff).max(1.0);
        for (g, dm) in run.gamma.iter_mut().zip(&dmean) {
            let edist = dm.abs() - thresh;
            if edist > 0.0 {
                *g *= ((edist / 3.0).tanh() / 2.0).exp().powf(damp);
            }
            if *g > 5.0 * dfit {
                *g *= (-1.0f64 / 3.0).exp().powf(damp);
            }
        }
    }

    /// The termination criteria of pycma / the tutorial, in pycma's order; `f` is the sorted
    /// (penalised) fitness of this generation.
    fn check_stop(&self, run: &Run, f_sorted: &[f64]) -> Option<String> {
        let cfg = &self.config;
        let n = self.n;
        let sep = cfg.separable;
        let finite_range = |v: &[f64]| {
            let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
            for &x in v {
                lo = lo.min(x);
                hi = hi.max(x);
            }
            let r = hi - lo;
            if r.is_nan() { f64::INFINITY } else { r }
        };
        if !(run.sigma.is_finite() && run.sigma > 0.0)
            || run.mean.iter().any(|v| !v.is_finite())
            || run.d.iter().any(|v| !v.is_finite())
        {
            return Some("numerical: non-finite or zero step size, mean or eigenvalues".into());
        }
        if run.gens >= run.max_iter {
            return Some(format!("maxiter: {} generations", run.gens));
        }
        if let Some(m) = cfg.max_evals_per_run
            && run.evals >= m
        {
            return Some(format!("max_evals_per_run: {} evaluations", run.evals));
        }
        // One pass over the standard deviations σ √C_ii serves `tolfacupx` and `tolx`.
        let tolx = self.tolx;
        let (mut any_above, mut all_below) = (false, true);
        for i in 0..n {
            let sd = run.sigma * self.c_diag(run, i).sqrt();
            any_above |= sd > run.sigma0 * cfg.tolfacupx;
            all_below &= sd < tolx;
        }
        if any_above {
            return Some(format!(
                "tolfacupx: a standard deviation above {:e} sigma0",
                cfg.tolfacupx
            ));
        }
        if all_below && run.pc.iter().all(|p| (run.sigma * p).abs() < tolx) {
            return Some(format!("tolx: all standard deviations below {tolx:e}"));
        }
        let cur = finite_range(f_sorted);
        let histr = finite_range(&run.hist);
        if cur < cfg.tolfun && histr < cfg.tolfun {
            return Some(format!("tolfun: f-range {cur:e} < {:e}", cfg.tolfun));
        }
        if run.hist.len() > 9 && histr < cfg.tolfunhist {
            return Some(format!("tolfunhist: f-range of recent best {histr:e}"));
        }
        if let Some(r) = self.stagnation(run) {
            return Some(r);
        }
        let dmax = run.d.iter().copied().fold(0.0, f64::max);
        let dmin = run.d.iter().copied().fold(f64::INFINITY, f64::min);
        if run.sigma / dmax > run.sigma0 * cfg.tolupsigma {
            return Some(format!("tolupsigma: sigma / max(D) > {:e} sigma0", cfg.tolupsigma));
        }
        if cfg.noeffectcoord {
            for i in 0..n {
                let m = run.mean[i];
                if m == m + 0.2 * run.sigma * self.c_diag(run, i).sqrt() {
                    return Some(format!("noeffectcoord: coordinate {i}"));
                }
            }
        }
        if cfg.noeffectaxis {
            // One axis per generation, cycling, as pycma does.
            let i = (run.gens % n as u64) as usize;
            let step = 0.1 * run.sigma * run.d[i];
            let no_effect = if sep {
                run.mean[i] == run.mean[i] + step
            } else {
                let col = &run.b[i * n..(i + 1) * n];
                run.mean.iter().zip(col).all(|(m, b)| *m == *m + step * b)
            };
            if no_effect {
                return Some(format!("noeffectaxis: principal axis {i}"));
            }
        }
        if dmax > cfg.tolconditioncov.sqrt() * dmin {
            return Some(format!(
                "tolconditioncov: condition number of C above {:e}",
                cfg.tolconditioncov
            ));
        }
        if run.flat_gens > cfg.tolflatfitness {
            return Some(format!("tolflatfitness: {} generations of flat fitness", run.flat_gens));
        }
        None
    }

    /// pycma's `tolstagnation`: the medians of the recent best and median values are no
    /// better than those of the period before.
    fn stagnation(&self, run: &Run) -> Option<String> {
        let n = self.n as f64;
        let lam = run.lambda as f64;
        // The default is evaluated with the first run's unrounded λ0 and kept for every
        // restart, as pycma does (389 at n = 10 for all runs, large or small).
        let tol = self
            .config
            .tolstagnation
            .unwrap_or_else(|| (100.0 + 100.0 * n.powf(1.5) / self.lambda0_f) as u64);
        if tol == 0 {
            return None;
        }
        let len = run.hist_best.len();
        let l = (tol as f64 / 5.0 / 2.0).max(len as f64 / 10.0);
        if l > run.gens as f64 {
            return None;
        }
        let l = l as usize;
        let iters = run.gens as f64;
        let stale = (run.evals - run.best_evals) as f64 / lam;
        if !(iters > n * (5.0 + 100.0 / lam)
            && stale > tol as f64 / 2.0
            && len > 100
            && 2 * l < len)
        {
            return None;
        }
        // Newest l entries against the l before them.
        let recent = |h: &[f64]| median(&h[len - l..]);
        let before = |h: &[f64]| median(&h[len - 2 * l..len - l]);
        (recent(&run.hist_median) >= before(&run.hist_median)
            && recent(&run.hist_best) >= before(&run.hist_best))
        .then(|| format!("tolstagnation: no progress over {} generations", 5 * l))
    }

    /// Ends the current run: starts the next one per the restart regime, or marks the state
    /// stopped when none is left.
    fn end_run(&self, s: &mut CmaEsState, rng: &mut Rng, reason: String) {
        match s.run.regime {
            Regime::First | Regime::Small => {
                s.small_evals += s.run.evals;
                s.best_small = s.best_small.min(s.run.best_f);
            }
            Regime::Large => {
                s.large_evals += s.run.evals;
                s.best_large = s.best_large.min(s.run.best_f);
            }
        }
        let inc = self.config.incpopsize;
        // pycma: popsize0 · incpopsize^k with popsize0 the unrounded default (10.9 at n = 10:
        // 21, 43, 87, …).
        let large_lambda = |k: u32| ((self.lambda0_f * inc.powi(k as i32)).floor() as usize).max(2);
        let next = match self.config.restarts {
            Restarts::None => None,
            Restarts::Ipop => (s.large_restarts < self.max_restarts).then_some(Regime::Large),
            Restarts::Bipop | Restarts::Nbipop => {
                // Hansen (2009): the regime with the smaller budget used so far runs next.
                // Loshchilov (2013): the regime that found the best solution so far may use
                // twice the other's budget.
                let small_share = match self.config.restarts {
                    Restarts::Nbipop if s.best_large < s.best_small => 0.5,
                    Restarts::Nbipop if s.best_small < s.best_large => 2.0,
                    _ => 1.0,
                };
                if (s.small_evals as f64) < small_share * s.large_evals as f64 {
                    Some(Regime::Small)
                } else {
                    (s.large_restarts < self.max_restarts).then_some(Regime::Large)
                }
            }
        };
        s.batch = Batch::default();
        let Some(regime) = next else {
            s.stopped = Some(reason.clone());
            s.last_stop = Some(reason);
            return;
        };
        let (lambda, sigma0, max_iter) = if regime == Regime::Large {
            s.large_restarts += 1;
            let lambda = large_lambda(s.large_restarts);
            (lambda, self.sigma0, self.default_max_iter())
        } else {
            // Hansen (2009) as pycma has it: λ_s = ⌊λ0 (inc^k)^(U²)⌋ with k the large runs so
            // far and λ0 unrounded, σ_s = σ0 · 10^(−2U), and the run may use at most half the
            // large-regime budget (pycma's maxiter rule).
            let u1: f64 = rng.random();
            let u2: f64 = rng.random();
            let lambda =
                ((self.lambda0_f * inc.powi(s.large_restarts as i32).powf(u1 * u1)).floor()
                    as usize)
                    .max(2);
            let cap = (0.5 * s.large_evals as f64 / lambda as f64).ceil() as u64;
            (lambda, self.sigma0 * 0.01f64.powf(u2), self.default_max_iter().min(cap.max(1)))
        };
        let mean = uniform_in(&self.start, rng);
        s.run = self.new_run(lambda, sigma0, mean, regime, max_iter);
        s.restarts += 1;
        s.last_stop = Some(reason);
    }

    /// Refreshes B and D from the lower triangle of C (full CMA only).
    fn decompose(&self, run: &mut Run) -> Result<(), String> {
        use faer::dyn_stack::{MemBuffer, MemStack};
        use faer::linalg::evd::{self, ComputeEigenvectors, SelfAdjointEvdParams};
        let n = self.n;
        let params: faer::Spec<SelfAdjointEvdParams, f64> = Default::default();
        let mut buf = MemBuffer::new(evd::self_adjoint_evd_scratch::<f64>(
            n,
            ComputeEigenvectors::Yes,
            Par::Seq,
            params,
        ));
        let mut s = faer::diag::Diag::<f64>::zeros(n);
        {
            let a = MatRef::from_column_major_slice(&run.c, n, n);
            let u = MatMut::from_column_major_slice_mut(&mut run.b, n, n);
            evd::self_adjoint_evd(
                a,
                s.as_mut(),
                Some(u),
                Par::Seq,
                MemStack::new(&mut buf),
                params,
            )
            .map_err(|e| format!("numerical: eigendecomposition failed ({e:?})"))?;
        }
        let ev: Vec<f64> = s.column_vector().iter().copied().collect();
        if ev.iter().any(|v| !v.is_finite()) {
            return Err("numerical: non-finite eigenvalues".into());
        }
        let max = ev[n - 1];
        let min = ev[0];
        // Rounding can leave C barely indefinite; shift it (C and its eigenvalues alike) so
        // that it stays positive definite with condition below 1e14·1e2.
        let shift = if min <= max * 1e-16 { max * 1e-16 - min } else { 0.0 };
        if shift > 0.0 {
            for i in 0..n {
                run.c[i * n + i] += shift;
            }
        }
        for (d, e) in run.d.iter_mut().zip(&ev) {
            *d = (e + shift).sqrt();
        }
        run.eigen_gens = run.gens;
        Ok(())
    }
}

fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let k = s.len() / 2;
    if s.len() % 2 == 1 { s[k] } else { (s[k - 1] + s[k]) / 2.0 }
}

impl Strategy for CmaEs {
    const NAME: &'static str = "cmaes";
    type Config = CmaEsConfig;
    type State = CmaEsState;
    type Genome = Vec<f64>;
    type Context = ();

    fn new(config: Self::Config, space: &Space) -> Result<Self, ConfigError> {
        space.check()?;
        let n = space.dim();
        check_mean0(&config.mean0, space)?;
        let start = match config.mean0_range {
            None => space.clone(),
            Some([a, b]) => {
                if !(a.is_finite() && b.is_finite() && a < b) {
                    return Err(ConfigError::new(
                        "mean0_range",
                        format!("must be two finite numbers lo < hi, got [{a}, {b}]"),
                    ));
                }
                let (mut lo, mut hi) = (space.lower(), space.upper());
                for (i, (l, h)) in lo.iter_mut().zip(&mut hi).enumerate() {
                    (*l, *h) = (l.max(a), h.min(b));
                    if l > h {
                        return Err(ConfigError::new(
                            "mean0_range",
                            format!("[{a}, {b}] misses the bounds of coordinate {i}"),
                        ));
                    }
                }
                Space::real_bounds(&lo, &hi)
            }
        };
        let sigma0 = resolve_sigma0(config.sigma0, space)?;
        // The first run's λ is this rounded down: 4 + ⌊3 ln n⌋ by default (eq. 48).
        let lambda0_f = match config.popsize {
            None => Params::default_popsize_unrounded(n),
            Some(l) if l >= 2 => l as f64,
            Some(l) => {
                return Err(ConfigError::new("popsize", format!("must be at least 2, got {l}")));
            }
        };
        if !(config.incpopsize.is_finite() && config.incpopsize >= 1.0) {
            return Err(ConfigError::new("incpopsize", "must be a finite number >= 1"));
        }
        if config.restarts == Restarts::None && config.max_restarts.is_some_and(|m| m > 0) {
            return Err(ConfigError::new(
                "max_restarts",
                "restarts are off; set `restarts: ipop` or `restarts: bipop`",
            ));
        }
        let positive = |name: &str, v: f64| {
            if v.is_nan() || v < 0.0 {
                Err(ConfigError::new(name, format!("must be >= 0, got {v}")))
            } else {
                Ok(())
            }
        };
        positive("tolfun", config.tolfun)?;
        positive("tolfunhist", config.tolfunhist)?;
        positive("tolconditioncov", config.tolconditioncov)?;
        positive("tolupsigma", config.tolupsigma)?;
        positive("tolfacupx", config.tolfacupx)?;
        let tolx = config.tolx.unwrap_or(1e-11 * sigma0);
        positive("tolx", tolx)?;
        if let Some(e) = config.eigen_interval
            && !(e.is_finite() && e >= 1.0)
        {
            return Err(ConfigError::new("eigen_interval", "must be a finite number >= 1"));
        }
        if config.max_evals_per_run == Some(0) {
            return Err(ConfigError::new("max_evals_per_run", "must be at least 1"));
        }
        if config.max_iter_per_run == Some(0) {
            return Err(ConfigError::new("max_iter_per_run", "must be at least 1"));
        }
        let max_restarts = config.max_restarts.unwrap_or(match config.restarts {
            Restarts::None => 0,
            Restarts::Ipop | Restarts::Bipop | Restarts::Nbipop => 9,
        });
        Ok(Self { config, space: space.clone(), n, sigma0, lambda0_f, tolx, max_restarts, start })
    }

    fn init(&self, rng: &mut Rng) -> Self::State {
        let mean = self.config.mean0.clone().unwrap_or_else(|| uniform_in(&self.start, rng));
        let run =
            self.new_run(self.lambda0(), self.sigma0, mean, Regime::First, self.default_max_iter());
        CmaEsState {
            next_id: 0,
            generation: 0,
            evaluations: 0,
            restarts: 0,
            large_restarts: 0,
            small_evals: 0,
            large_evals: 0,
            best_small: f64::INFINITY,
            best_large: f64::INFINITY,
            run,
            batch: Batch::default(),
            z: Vec::new(),
            y: Vec::new(),
            best: None,
            stopped: None,
            last_stop: None,
            work: Vec::new(),
        }
    }

    fn ask(&self, s: &mut Self::State, rng: &mut Rng) -> Vec<Candidate<Self::Genome>> {
        let n = self.n;
        let lam = s.run.lambda;
        let run = &s.run;
        // eq. 38: z_k ~ N(0, I), candidate by candidate.
        s.z.resize(n * lam, 0.0);
        for z in s.z.iter_mut() {
            *z = rng.sample(StandardNormal);
        }
        // eq. 39: y_k = B D z_k, as one product B · (D Z) over the whole population.
        s.y.resize(n * lam, 0.0);
        if self.config.separable {
            for (yk, zk) in s.y.chunks_exact_mut(n).zip(s.z.chunks_exact(n)) {
                for ((y, z), d) in yk.iter_mut().zip(zk).zip(&run.d) {
                    *y = d * z;
                }
            }
        } else {
            s.work.resize(n * lam, 0.0);
            for (wk, zk) in s.work.chunks_exact_mut(n).zip(s.z.chunks_exact(n)) {
                for ((w, z), d) in wk.iter_mut().zip(zk).zip(&run.d) {
                    *w = d * z;
                }
            }
            faer::linalg::matmul::matmul(
                MatMut::from_column_major_slice_mut(&mut s.y, n, lam),
                Accum::Replace,
                MatRef::from_column_major_slice(&run.b, n, n),
                MatRef::from_column_major_slice(&s.work, n, lam),
                1.0,
                Par::Seq,
            );
        }
        // eq. 40: x_k = m + σ y_k, clipped unless `bounds: none`.
        let clip = self.config.bounds != BoundHandling::None;
        let dims = self.space.dims();
        let first = s.next_id;
        let out =
            s.y.chunks_exact(n)
                .enumerate()
                .map(|(k, yk)| {
                    let genome = yk
                        .iter()
                        .zip(&run.mean)
                        .zip(dims)
                        .map(|((y, m), d)| {
                            let x = m + run.sigma * y;
                            if clip { x.clamp(d.lo, d.hi) } else { x }
                        })
                        .collect();
                    Candidate { id: first + k as u64, genome }
                })
                .collect();
        s.batch = Batch::new(first, lam);
        s.next_id += lam as u64;
        out
    }

    fn tell(
        &self,
        s: &mut Self::State,
        results: &[Evaluated<Self::Genome>],
        rng: &mut Rng,
    ) -> Result<Metrics, TellError> {
        s.batch.accept(results)?;
        s.evaluations += results.len() as u64;
        for r in results {
            improve_best(&mut s.best, &r.genome, r.fitness());
        }
        let mut m = Metrics::new();
        if !s.batch.complete() {
            m.insert("pending".into(), s.batch.missing() as f64);
            return Ok(m);
        }
        let n = self.n;
        let lam = s.run.lambda;
        let p = self.params(lam);
        let f_raw = s.batch.values();
        let failures = f_raw.iter().filter(|f| **f == f64::INFINITY).count();
        let gen_best = f_raw.iter().copied().fold(f64::INFINITY, f64::min);

        // Ranking values: raw fitness, plus the boundary penalty of the clipped distance.
        let mut f = f_raw.clone();
        if self.config.bounds == BoundHandling::Penalty {
            self.update_bound_weights(&mut s.run, &f_raw, &p);
            if !s.run.gamma.is_empty() {
                let run = &s.run;
                for (k, yk) in s.y.chunks_exact(n).enumerate() {
                    let mut pen = 0.0;
                    for (((y, m), g), d) in
                        yk.iter().zip(&run.mean).zip(&run.gamma).zip(self.space.dims())
                    {
                        let x = m + run.sigma * y;
                        let dx = x - x.clamp(d.lo, d.hi);
                        pen += g * dx * dx;
                    }
                    f[k] += pen / n as f64;
                }
            }
        }
        let order = rank(&f);

        let run = &mut s.run;
        run.gens += 1;
        run.evals += lam as u64;
        s.generation += 1;
        if gen_best < run.best_f {
            run.best_f = gen_best;
            run.best_evals = run.evals;
        }

        // eq. 41: ⟨y⟩_w = Σ w_i y_{i:λ}; and ⟨z⟩_w likewise, for C^{-1/2}⟨y⟩_w = B⟨z⟩_w.
        let mut yw = vec![0.0; n];
        let mut zw = vec![0.0; n];
        for (w, &k) in p.weights.iter().zip(&order) {
            let yk = &s.y[k * n..(k + 1) * n];
            let zk = &s.z[k * n..(k + 1) * n];
            for i in 0..n {
                yw[i] += w * yk[i];
                zw[i] += w * zk[i];
            }
        }
        // eq. 42 with c_m = 1 (eq. 54).
        for (m, y) in run.mean.iter_mut().zip(&yw) {
            *m += run.sigma * y;
        }
        // eq. 43: p_σ ← (1 − c_σ) p_σ + √(c_σ (2 − c_σ) μ_eff) C^{-1/2} ⟨y⟩_w.
        let a_s = (p.cs * (2.0 - p.cs) * p.mueff).sqrt();
        for v in run.ps.iter_mut() {
            *v *= 1.0 - p.cs;
        }
        if self.config.separable {
            for (v, z) in run.ps.iter_mut().zip(&zw) {
                *v += a_s * z;
            }
        } else {
            for (j, z) in zw.iter().enumerate() {
                let col = &run.b[j * n..(j + 1) * n];
                let a = a_s * z;
                for (v, b) in run.ps.iter_mut().zip(col) {
                    *v += a * b;
                }
            }
        }
        let ps_norm = run.ps.iter().map(|v| v * v).sum::<f64>().sqrt();
        // eq. 44: σ ← σ exp(c_σ/d_σ (‖p_σ‖ / E‖N(0, I)‖ − 1)).
        run.sigma *= ((p.cs / p.ds) * (ps_norm / p.chi_n - 1.0)).exp();
        // h_σ (tutorial p. 28): stall p_c when ‖p_σ‖ is large.
        let g = run.gens as f64;
        let hsig = ps_norm / (1.0 - (1.0 - p.cs).powf(2.0 * g)).sqrt()
            < (1.4 + 2.0 / (n as f64 + 1.0)) * p.chi_n;
        let hsig = if hsig { 1.0 } else { 0.0 };
        // eq. 45: p_c ← (1 − c_c) p_c + h_σ √(c_c (2 − c_c) μ_eff) ⟨y⟩_w.
        let a_c = hsig * (p.cc * (2.0 - p.cc) * p.mueff).sqrt();
        for (v, y) in run.pc.iter_mut().zip(&yw) {
            *v = (1.0 - p.cc) * *v + a_c * y;
        }
        // eq. 47: C ← (1 + c_1 δ(h_σ) − c_1 − c_μ Σw_j) C + c_1 p_c p_cᵀ
        //              + c_μ Σ_{i=1}^{λ} w°_i y_{i:λ} y_{i:λ}ᵀ,
        // δ(h_σ) = (1 − h_σ) c_c (2 − c_c), Σw_j over all λ weights (1 without active CMA).
        // eq. 46: w°_i = w_i for w_i ≥ 0, else w_i n / ‖C^{-1/2} y_{i:λ}‖², and
        // C^{-1/2} y_k = B D⁻¹ Bᵀ B D z_k = B z_k has the norm ‖z_k‖ (the B, D the sample was
        // drawn with), as in pycma's `GaussFullSampler.update` (which adds 1e-9 to the norm).
        let delta = (1.0 - hsig) * p.cc * (2.0 - p.cc);
        let decay = 1.0 + p.c1 * delta - p.c1 - p.cmu * p.weight_sum();
        let nf = n as f64;
        let active = p.neg_weights.iter().any(|w| *w < 0.0);
        let neg: Vec<(f64, usize)> = if active {
            p.neg_weights
                .iter()
                .zip(&order[p.mu..])
                .map(|(w, &k)| {
                    let z2: f64 = s.z[k * n..(k + 1) * n].iter().map(|z| z * z).sum();
                    (w * nf / z2.max(f64::MIN_POSITIVE), k)
                })
                .filter(|(w, _)| *w < 0.0)
                .collect()
        } else {
            Vec::new()
        };
        if self.config.separable {
            for (c, pc) in run.c.iter_mut().zip(&run.pc) {
                *c = decay * *c + p.c1 * pc * pc;
            }
            let pos = p.weights.iter().copied().zip(order.iter().copied());
            for (w, k) in pos.chain(neg.iter().copied()) {
                let a = p.cmu * w;
                for (c, y) in run.c.iter_mut().zip(&s.y[k * n..(k + 1) * n]) {
                    *c += a * y * y;
                }
            }
            for (d, c) in run.d.iter_mut().zip(&run.c) {
                *d = c.sqrt();
            }
            run.eigen_gens = run.gens;
        } else {
            for j in 0..n {
                for v in &mut run.c[j * n + j..(j + 1) * n] {
                    *v *= decay;
                }
            }
            // W = [√(c_μ w_i) y_{i:λ} …, √c_1 p_c] over the positive weights, then
            // lower(C) += W Wᵀ in one product; the negative ones likewise with
            // V = [√(c_μ |w°_i|) y_{i:λ} …] and lower(C) −= V Vᵀ.
            let cols = p.mu + 1;
            s.work.resize(n * (cols + neg.len()), 0.0);
            for (c, (w, &k)) in p.weights.iter().zip(&order).enumerate() {
                let a = (p.cmu * w).sqrt();
                let yk = &s.y[k * n..(k + 1) * n];
                for (o, y) in s.work[c * n..(c + 1) * n].iter_mut().zip(yk) {
                    *o = a * y;
                }
            }
            let a = p.c1.sqrt();
            for (o, pc) in s.work[p.mu * n..cols * n].iter_mut().zip(&run.pc) {
                *o = a * pc;
            }
            for ((w, k), o) in neg.iter().zip(s.work[cols * n..].chunks_exact_mut(n)) {
                let a = (-p.cmu * w).sqrt();
                for (o, y) in o.iter_mut().zip(&s.y[k * n..(k + 1) * n]) {
                    *o = a * y;
                }
            }
            let (wpos, wneg) = s.work.split_at(n * cols);
            let parts = [(wpos, cols, 1.0), (wneg, neg.len(), -1.0)];
            for (w, c, alpha) in parts {
                if c == 0 {
                    continue;
                }
                let w = MatRef::from_column_major_slice(w, n, c);
                triangular::matmul(
                    MatMut::from_column_major_slice_mut(&mut run.c, n, n),
                    BlockStructure::TriangularLower,
                    Accum::Add,
                    w,
                    BlockStructure::Rectangular,
                    w.transpose(),
                    BlockStructure::Rectangular,
                    alpha,
                    Par::Seq,
                );
            }
        }

        // Fitness histories for the termination criteria (pycma `fit.hist`, `histbest`).
        let f_sorted: Vec<f64> = order.iter().map(|&k| f[k]).collect();
        run.hist.push(f_sorted[0]);
        if run.hist.len() > 10 + (30 * n) / lam {
            run.hist.remove(0);
        }
        if run.gens % 5 == 0 {
            let i = lam / 2;
            let med =
                if lam % 2 == 1 { f_sorted[i] } else { (f_sorted[i - 1] + f_sorted[i]) / 2.0 };
            run.hist_best.push(f_sorted[0]);
            run.hist_median.push(med);
            if run.hist_best.len() > 20_000 {
                run.hist_best.remove(0);
                run.hist_median.remove(0);
            }
        }
        if f_sorted[0] < f_sorted[(0.75 * lam as f64) as usize] {
            run.flat_gens = 0;
        } else {
            run.flat_gens += 1;
        }

        let mut reason = None;
        if !self.config.separable
            && (run.gens - run.eigen_gens) as f64 >= self.eigen_interval(&p)
            && let Err(e) = self.decompose(run)
        {
            reason = Some(e);
        }
        let reason = reason.or_else(|| self.check_stop(&s.run, &f_sorted));

        let run = &s.run;
        let dmax = run.d.iter().copied().fold(0.0, f64::max);
        let dmin = run.d.iter().copied().fold(f64::INFINITY, f64::min);
        m.insert("sigma".into(), run.sigma);
        m.insert("popsize".into(), lam as f64);
        m.insert("condition".into(), (dmax / dmin).powi(2));
        m.insert("generation_best".into(), gen_best);
        m.insert("failures".into(), failures as f64);
        m.insert("run_generation".into(), run.gens as f64);
        if let Some((_, b)) = &s.best {
            m.insert("best_fitness".into(), *b);
        }
        if let Some(r) = reason
            && s.stopped.is_none()
        {
            self.end_run(s, rng, r);
        }
        m.insert("restarts".into(), s.restarts as f64);
        Ok(m)
    }

    fn context(&self, _s: &Self::State) -> Self::Context {}

    fn decode(&self, _ctx: &Self::Context, g: &Self::Genome, out: &mut [f64]) {
        out.copy_from_slice(g);
    }

    fn best(&self, s: &Self::State) -> Option<(Self::Genome, f64)> {
        s.best.clone()
    }

    fn stop(&self, s: &Self::State) -> Option<String> {
        s.stopped.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conformance::{run, sphere};
    use evoforge_core::{Evaluation, Outcome, stream};

    fn close(a: f64, b: f64, rel: f64) -> bool {
        (a - b).abs() <= rel * b.abs().max(1e-300)
    }

    #[test]
    fn default_constants_match_the_tutorial_and_pycma_at_d10() {
        // pycma 4.5.0, printed with
        //   /work/peers/bin/python -c "import cma; es = cma.CMAEvolutionStrategy(10*[0.1], 0.3,
        //     {'verbose':-9, 'CMA_active': False}); p = es.sp; print(es.popsize, p.weights.mu,
        //     repr(p.weights.mueff), repr(es.adapt_sigma.cs), repr(es.adapt_sigma.damps),
        //     repr(p.cc), repr(p.c1), repr(p.cmu), [repr(w) for w in p.weights[:5]])"
        let p = Params::new(10, Params::default_popsize(10), false);
        assert_eq!(p.lambda, 10);
        assert_eq!(p.mu, 5);
        let pycma_w = [
            0.45627264690340597,
            0.2707530970017852,
            0.16223111715866978,
            0.08523354710016448,
            0.025509591835974777,
        ];
        for (w, q) in p.weights.iter().zip(pycma_w) {
            assert!(close(*w, q, 1e-14), "{w} vs {q}");
        }
        assert!((p.weights.iter().sum::<f64>() - 1.0).abs() < 1e-15);
        assert!(close(p.mueff, 3.1672992814107017, 1e-14));
        assert!(close(p.cc, 0.29499038303562225, 1e-14));
        assert!(close(p.c1, 0.015283824524751714, 1e-14));
        // c_σ, d_σ, c_μ follow the tutorial's Table 1 (eq. 55, Table 1), which pycma changes
        // on purpose: pycma's c_σ = (μ_eff + 2)/(n + μ_eff + 3) = 0.3196142529106334 and its
        // c_μ has the extra offset 1/4 in the numerator, c_μ = 0.02355177665041747.
        let (n, mueff) = (10.0, p.mueff);
        assert!(close(p.cs, (mueff + 2.0) / (n + mueff + 5.0), 1e-15));
        assert!(close(p.cs, 0.28442858794636744, 1e-14));
        assert!(close((mueff + 2.0) / (n + mueff + 3.0), 0.3196142529106334, 1e-14));
        assert!(close(p.ds, 1.0 + p.cs, 1e-15)); // √((μ_eff − 1)/(n + 1)) < 1
        assert!(close(p.cmu, 2.0 * (mueff - 2.0 + 1.0 / mueff) / (144.0 + mueff), 1e-15));
        assert!(close(
            2.0 * (0.25 + mueff - 2.0 + 1.0 / mueff) / (144.0 + mueff),
            0.02355177665041747,
            1e-14
        ));
        assert!(close(p.chi_n, 3.0847265651690123, 1e-14));
    }

    #[test]
    fn negative_weights_match_pycma_at_d10() {
        // pycma 4.5.0's `RecombinationWeights`, finalised with the tutorial's c_1 and c_μ
        // (pycma's own c_μ has the extra 1/4, see above), printed with
        //   /work/peers/bin/python -c "import cma; w = cma.recombination_weights.
        //     RecombinationWeights(10); c1 = 2/((10+1.3)**2+w.mueff); cmu = min(1-c1,
        //     2*(w.mueff-2+1/w.mueff)/(144+w.mueff)); w.finalize_negative_weights(10, c1, cmu);
        //     print([repr(x) for x in w], repr(w.mueffminus))"
        let p = Params::new(10, 10, false);
        let pycma = [
            0.45627264690340597,
            0.2707530970017852,
            0.16223111715866978,
            0.08523354710016448,
            0.025509591835974777,
            -0.08532086250759856,
            -0.23647660114809707,
            -0.3674136577116646,
            -0.48290832678423457,
            -0.5862218287788356,
        ];
        let ours: Vec<f64> = p.weights.iter().chain(&p.neg_weights).copied().collect();
        assert_eq!(ours.len(), 10);
        for (w, q) in ours.iter().zip(pycma) {
            assert!(close(*w, q, 1e-13), "{w} vs {q}");
        }
        // At the default λ the bound α_μ⁻ = 1 + c_1/c_μ is the active one: no decay of C.
        assert!(close(-p.neg_weights.iter().sum::<f64>(), 1.0 + p.c1 / p.cmu, 1e-14));
        assert!((p.c1 + p.cmu * p.weight_sum()).abs() < 1e-15);
        // pycma's default weights (`es.sp.weights` with `CMA_active: True`), which use its
        // c_μ = 0.02355177665041747, end in -0.5497499176973853 and sum to
        // -0.6489457144406467: the same formula with that c_μ.
        let c1 = p.c1;
        let cmu_pycma = 0.02355177665041747;
        let raw_last = 5.5f64.ln() - 10f64.ln();
        let raw_neg: f64 = (6..=10).map(|i| (5.5f64.ln() - (i as f64).ln()).abs()).sum();
        assert!(close((1.0 + c1 / cmu_pycma) * raw_last / raw_neg, -0.5497499176973853, 1e-13));
        // Passive: zero negative weights, and the classic decay 1 − c_1 − c_μ.
        let q = Params::with_active(10, 10, false, false);
        assert!(q.neg_weights.iter().all(|w| *w == 0.0) && q.weight_sum() == 1.0);
        // Large λ: α_posdef⁻ = (1 − c_1 − c_μ)/(n c_μ) limits the sum (pycma agrees:
        // RecombinationWeights(200) finalised as above has Σw⁻ = -0.09203726543303793).
        let big = Params::new(10, 200, false);
        let sneg = -big.neg_weights.iter().sum::<f64>();
        assert!(close(sneg, (1.0 - big.c1 - big.cmu) / (10.0 * big.cmu), 1e-14));
        assert!(close(sneg, 0.09203726543303793, 1e-12), "{sneg}");
    }

    #[test]
    fn weights_sum_to_one_and_separable_rates_scale() {
        for n in [1, 2, 5, 40, 1000] {
            for lambda in [2, 3, Params::default_popsize(n), 200] {
                let p = Params::new(n, lambda, false);
                assert!((p.weights.iter().sum::<f64>() - 1.0).abs() < 1e-14);
                assert!(p.weights.windows(2).all(|w| w[0] > w[1]));
                assert!(p.c1 + p.cmu <= 1.0 && p.cs < 1.0 && p.cc <= 1.0);
                let s = Params::new(n, lambda, true);
                let f = (n as f64 + 2.0) / 3.0;
                assert!(close(s.c1, (p.c1 * f).min(1.0), 1e-15));
                assert!(s.c1 + s.cmu <= 1.0 + 1e-15);
            }
        }
    }

    fn tell_all(
        s: &CmaEs,
        st: &mut CmaEsState,
        rng: &mut Rng,
        f: impl Fn(&[f64]) -> f64,
    ) -> Metrics {
        let c = s.ask(st, rng);
        assert_eq!(c.len(), st.popsize(), "one generation is λ candidates");
        let r: Vec<_> = c
            .into_iter()
            .map(|c| Evaluated {
                id: c.id,
                outcome: Outcome::Ok(Evaluation::value(f(&c.genome))),
                genome: c.genome,
            })
            .collect();
        s.tell(st, &r, rng).unwrap()
    }

    #[test]
    fn every_run_starts_inside_mean0_range() {
        // A flat function ends each run after two generations, so a BIPOP study restarts many
        // times; every run's initial mean must lie in the range (bounds [-5, 5], range
        // [-1, 2]).
        let space = Space::real_box(3, -5.0, 5.0);
        let cfg = CmaEsConfig {
            restarts: Restarts::Bipop,
            mean0_range: Some([-1.0, 2.0]),
            max_restarts: Some(1000),
            ..Default::default()
        };
        let s = CmaEs::new(cfg, &space).unwrap();
        let mut rng = stream(9, &[0]);
        let mut st = s.init(&mut rng);
        let mut starts = vec![st.mean().to_vec()];
        while starts.len() < 40 && s.stop(&st).is_none() {
            let r = st.restarts();
            tell_all(&s, &mut st, &mut rng, |_| 1.0);
            if st.restarts() != r {
                starts.push(st.mean().to_vec());
            }
        }
        assert_eq!(starts.len(), 40);
        let all: Vec<f64> = starts.concat();
        assert!(all.iter().all(|v| (-1.0..=2.0).contains(v)), "{starts:?}");
        // Uniform on the range, not a corner of it: both halves are used.
        assert!(all.iter().any(|v| *v < 0.5) && all.iter().any(|v| *v > 0.5));
    }

    #[test]
    fn lazy_eigendecomposition_reproduces_c() {
        // An ill-conditioned ellipsoid makes C far from I; after a decomposition,
        // B D² Bᵀ must equal the (lower triangle of) C it was computed from.
        let n = 8;
        let space = Space::real_box(n, -5.0, 5.0);
        let cfg = CmaEsConfig { eigen_interval: Some(1.0), ..Default::default() };
        let s = CmaEs::new(cfg, &space).unwrap();
        let mut rng = stream(3, &[1]);
        let mut st = s.init(&mut rng);
        let elli = |x: &[f64]| {
            x.iter().enumerate().map(|(i, v)| 1e4f64.powf(i as f64 / 7.0) * v * v).sum::<f64>()
        };
        for _ in 0..150 {
            tell_all(&s, &mut st, &mut rng, elli);
        }
        let r = &st.run;
        assert_eq!(r.eigen_gens, r.gens);
        let mut err: f64 = 0.0;
        let mut scale: f64 = 0.0;
        for j in 0..n {
            for i in j..n {
                let v: f64 =
                    (0..n).map(|k| r.b[k * n + i] * r.d[k] * r.d[k] * r.b[k * n + j]).sum();
                err = err.max((v - r.c[j * n + i]).abs());
                scale = scale.max(r.c[j * n + i].abs());
            }
        }
        assert!(err <= 1e-12 * scale, "reconstruction error {err} (scale {scale})");
        // B is orthonormal.
        for a in 0..n {
            for b in 0..n {
                let dot: f64 = (0..n).map(|i| r.b[a * n + i] * r.b[b * n + i]).sum();
                assert!((dot - if a == b { 1.0 } else { 0.0 }).abs() < 1e-12);
            }
        }
        let cond = (r.d[n - 1] / r.d[0]).powi(2);
        assert!(cond > 100.0, "C did not learn the ellipsoid (condition {cond})");
    }

    fn rosenbrock(x: &[f64]) -> f64 {
        x.windows(2).map(|w| 100.0 * (w[1] - w[0] * w[0]).powi(2) + (1.0 - w[0]).powi(2)).sum()
    }

    fn rastrigin(x: &[f64]) -> f64 {
        10.0 * x.len() as f64
            + x.iter().map(|v| v * v - 10.0 * (2.0 * std::f64::consts::PI * v).cos()).sum::<f64>()
    }

    #[test]
    fn solves_rosenbrock_10d() {
        // Hansen's reference runs of the (5/5_w,10)-CMA-ES need about 6,000–10,000 evaluations
        // for f < 1e-8 on the 10-D Rosenbrock function (a local optimum is found in ~20% of runs,
        // hence IPOP).
        let space = Space::real_box(10, -5.0, 5.0);
        let cfg = CmaEsConfig { restarts: Restarts::Ipop, ..Default::default() };
        let s = CmaEs::new(cfg, &space).unwrap();
        for seed in 0..3 {
            let r = run(&s, &space, seed, 60_000, &rosenbrock, Some(1e-8)).unwrap();
            eprintln!("rosenbrock 10-D, seed {seed}: {r:?}");
            assert!(r.best <= 1e-8, "seed {seed}: best {:e} after {}", r.best, r.evaluations);
            assert!(r.evaluations < 40_000, "seed {seed}: {} evaluations", r.evaluations);
        }
    }

    #[test]
    fn sep_cma_solves_sphere_and_ellipsoid_40d() {
        let n = 40;
        let space = Space::real_box(n, -5.0, 5.0);
        let cfg = CmaEsConfig { separable: true, ..Default::default() };
        let s = CmaEs::new(cfg, &space).unwrap();
        let elli = |x: &[f64]| {
            x.iter()
                .enumerate()
                .map(|(i, v)| 1e6f64.powf(i as f64 / (n - 1) as f64) * v * v)
                .sum::<f64>()
        };
        let r = run(&s, &space, 1, 200_000, &sphere, Some(1e-10)).unwrap();
        eprintln!("sep-CMA sphere 40-D: {r:?}");
        assert!(r.best <= 1e-10, "sphere: {r:?}");
        let r = run(&s, &space, 1, 200_000, &elli, Some(1e-10)).unwrap();
        eprintln!("sep-CMA ellipsoid 40-D: {r:?}");
        // sep-CMA learns a diagonal scaling, so the separable ellipsoid costs about as much as
        // the sphere times a small factor (Ros & Hansen 2008, Fig. 2).
        assert!(r.best <= 1e-10, "ellipsoid: {r:?}");
    }

    #[test]
    fn bipop_solves_rastrigin_5d() {
        let space = Space::real_box(5, -5.12, 5.12);
        let cfg = CmaEsConfig { restarts: Restarts::Bipop, ..Default::default() };
        let s = CmaEs::new(cfg, &space).unwrap();
        for seed in 0..2 {
            let r = run(&s, &space, seed, 100_000, &rastrigin, Some(1e-8)).unwrap();
            eprintln!("rastrigin 5-D, seed {seed}: {r:?}");
            assert!(r.best <= 1e-8, "seed {seed}: {r:?}");
        }
    }

    #[test]
    fn ipop_doubles_the_population_and_stops_after_max_restarts() {
        let space = Space::real_box(4, -1.0, 1.0);
        let cfg = CmaEsConfig {
            restarts: Restarts::Ipop,
            max_restarts: Some(3),
            max_evals_per_run: Some(200),
            ..Default::default()
        };
        let s = CmaEs::new(cfg, &space).unwrap();
        let mut rng = stream(5, &[0]);
        let mut st = s.init(&mut rng);
        let mut seen = vec![st.popsize()];
        while s.stop(&st).is_none() {
            tell_all(&s, &mut st, &mut rng, sphere);
            if *seen.last().unwrap() != st.popsize() {
                seen.push(st.popsize());
            }
        }
        // pycma: ⌊popsize0 · 2^k⌋ with the unrounded popsize0 = 4 + 3 ln 4 = 8.16.
        assert_eq!(seen, vec![8, 16, 32, 65]);
        assert_eq!(st.restarts(), 3);
        assert!(s.stop(&st).unwrap().starts_with("max_evals_per_run"));
    }

    #[test]
    fn bipop_alternates_regimes_by_budget() {
        let space = Space::real_box(4, -1.0, 1.0);
        let cfg = CmaEsConfig {
            restarts: Restarts::Bipop,
            max_restarts: Some(4),
            max_iter_per_run: Some(20),
            ..Default::default()
        };
        let s = CmaEs::new(cfg, &space).unwrap();
        let mut rng = stream(5, &[0]);
        let mut st = s.init(&mut rng);
        let mut runs = vec![(st.run.regime, st.popsize(), st.run.sigma0)];
        while s.stop(&st).is_none() {
            let r = st.restarts();
            tell_all(&s, &mut st, &mut rng, sphere);
            if st.restarts() != r {
                runs.push((st.run.regime, st.popsize(), st.run.sigma0));
            }
        }
        let large: Vec<usize> = runs.iter().filter(|r| r.0 == Regime::Large).map(|r| r.1).collect();
        assert_eq!(large, vec![16, 32, 65, 130], "{runs:?}");
        assert_eq!(runs[1].0, Regime::Large, "the first restart is large: {runs:?}");
        let small: Vec<_> = runs.iter().filter(|r| r.0 == Regime::Small).collect();
        assert!(!small.is_empty(), "{runs:?}");
        for r in small {
            assert!(r.1 >= 8 && r.1 <= 130 && r.2 <= s.sigma0 && r.2 >= 0.01 * s.sigma0, "{r:?}");
        }
        assert_eq!(st.small_evals + st.large_evals, st.evaluations());
    }

    #[test]
    fn penalty_keeps_the_mean_near_the_box() {
        // Optimum outside the box: the best feasible point is the corner (1, …, 1).
        let n = 5;
        let space = Space::real_box(n, -1.0, 1.0);
        let f = |x: &[f64]| x.iter().map(|v| (v - 3.0) * (v - 3.0)).sum::<f64>();
        for bounds in [BoundHandling::Penalty, BoundHandling::Clip] {
            let cfg = CmaEsConfig { bounds, ..Default::default() };
            let s = CmaEs::new(cfg, &space).unwrap();
            let mut rng = stream(2, &[0]);
            let mut st = s.init(&mut rng);
            for _ in 0..300 {
                tell_all(&s, &mut st, &mut rng, f);
            }
            let best = s.best(&st).unwrap();
            assert!((best.1 - 20.0).abs() < 1e-6, "{bounds:?}: {}", best.1);
            if bounds == BoundHandling::Penalty {
                assert!(st.mean().iter().all(|m| *m < 1.5), "{:?}", st.mean());
            }
        }
    }

    #[test]
    fn a_diverged_run_stops_and_its_state_still_round_trips() {
        // f = x_0 without bounds: σ grows until a criterion (tolupsigma or numerical) ends the
        // run; the state must still serialize, read back and keep working.
        let space = Space::real_box(3, -1.0, 1.0);
        let cfg = CmaEsConfig { bounds: BoundHandling::None, ..Default::default() };
        let s = CmaEs::new(cfg, &space).unwrap();
        let mut rng = stream(4, &[0]);
        let mut st = s.init(&mut rng);
        let mut gens = 0;
        while s.stop(&st).is_none() {
            tell_all(&s, &mut st, &mut rng, |x| x[0]);
            gens += 1;
            assert!(gens < 100_000);
        }
        for _ in 0..5 {
            tell_all(&s, &mut st, &mut rng, |x| x[0]);
        }
        let json = serde_json::to_string(&st).unwrap();
        let back: CmaEsState = serde_json::from_str(&json).unwrap();
        assert_eq!(serde_json::to_string(&back).unwrap(), json);
        assert!(s.stop(&back).is_some(), "{:?}", s.stop(&st));
        eprintln!("diverged run: {gens} generations, {:?}", s.stop(&st));
    }

    #[test]
    fn config_errors_name_the_field() {
        let space = Space::real_box(3, 0.0, 1.0);
        let err = |cfg: CmaEsConfig| CmaEs::new(cfg, &space).unwrap_err().field;
        assert_eq!(err(CmaEsConfig { popsize: Some(1), ..Default::default() }), "popsize");
        assert_eq!(err(CmaEsConfig { sigma0: Some(0.0), ..Default::default() }), "sigma0");
        assert_eq!(err(CmaEsConfig { mean0: Some(vec![0.5]), ..Default::default() }), "mean0");
        assert_eq!(
            err(CmaEsConfig { mean0: Some(vec![0.5, 0.5, f64::NAN]), ..Default::default() }),
            "mean0[2]"
        );
        assert_eq!(
            err(CmaEsConfig { max_restarts: Some(3), ..Default::default() }),
            "max_restarts"
        );
        assert_eq!(err(CmaEsConfig { incpopsize: 0.5, ..Default::default() }), "incpopsize");
        let range = |r| err(CmaEsConfig { mean0_range: Some(r), ..Default::default() });
        assert_eq!(range([0.5, 0.5]), "mean0_range");
        assert_eq!(range([2.0, 3.0]), "mean0_range");
        assert_eq!(
            err(CmaEsConfig { eigen_interval: Some(0.0), ..Default::default() }),
            "eigen_interval"
        );
        let e: Result<CmaEsConfig, _> = serde_json::from_str(r#"{"sigma": 1.0}"#);
        assert!(e.unwrap_err().to_string().contains("unknown field `sigma`"));
        let c: CmaEsConfig =
            serde_json::from_str(r#"{"restarts": "bipop", "bounds": "clip"}"#).unwrap();
        assert_eq!((c.restarts, c.bounds), (Restarts::Bipop, BoundHandling::Clip));
        crate::conformance::check_describe::<CmaEsConfig>().unwrap();
    }
}
