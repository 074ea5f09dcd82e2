//! Bayesian optimization with a Gaussian-process surrogate (`kind: bo`), following Frazier
//! (2018), "A Tutorial on Bayesian Optimization", arXiv 1807.02811, with BoTorch's defaults
//! (`SingleTaskGP` since 0.12, `optimize_acqf`) where the tutorial leaves a choice.
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
//!
//! # Maximising the acquisition (BoTorch's `optimize_acqf`, `gen_batch_initial_conditions`)
//!
//! `raw_samples` scrambled Halton points are scored; `num_restarts` starts are the best raw
//! point plus Boltzmann draws without replacement with weights `exp(η z)` on the standardised
//! scores (`η = 2`, `initialize_q_batch`); each start runs the projected L-BFGS of
//! [`crate::lbfgsb`] in the unit box (BoTorch: scipy L-BFGS-B) with analytic gradients; the best
//! end point wins.
//!
//! # Failures and state
//!
//! A failed or NaN evaluation enters the GP at the worst finite value seen (so the region is
//! not proposed again); `best()` never reports it. The state holds the observations (in id
//! order, so the tell order never matters), the pending points, the Halton seed and the last
//! hyperparameters (the warm start); the GP itself is refitted at every `ask`.
//!
//! Not done yet (issue 4): noisy EI, knowledge gradient, Thompson sampling, integer and
//! categorical coordinates in the kernel (such spaces are refused rather than rounded after
//! the fact), TuRBO.
use evoforge_core::{
    Candidate, ConfigError, Describe, Evaluated, Metrics, ParamDoc, Rng, Space, Strategy,
    TellError, stream,
};
use rand::RngExt;
use serde::{Deserialize, Serialize};

use crate::gp::{FitOptions, Gp, GpParams, Kernel};
use crate::halton::Halton;
use crate::lbfgsb;
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
            learn_outputscale: false,
        }
    }
}

impl Describe for BoConfig {
    const KIND: &'static str = Bo::NAME;
    const SUMMARY: &'static str = "Bayesian optimization: exact GP (MAP, BoTorch priors) + LogEI/EI/PI/UCB, q-batch by Kriging believer";
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
                "log_ei | ei | pi | ucb",
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
            ParamDoc::opt("learn_outputscale", "bool", "false", "learn the kernel output scale"),
        ]
    }
}

/// Bayesian optimization (see the module doc).
#[derive(Debug, Clone)]
pub struct Bo {
    config: BoConfig,
    space: Space,
    n_init: usize,
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
            noise_min: self.config.noise_min,
            starts: self.config.fit_starts,
            max_iters: 100,
        }
    }

    fn unit_to_x(&self, u: &[f64]) -> Vec<f64> {
        self.space
            .dims()
            .iter()
            .zip(u)
            .map(|(d, &v)| (d.lo + (d.hi - d.lo) * v).clamp(d.lo, d.hi))
            .collect()
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
        let pts = h.points(s.design_used, n);
        s.design_used += n as u64;
        pts.chunks(d).map(|u| self.unit_to_x(u)).collect()
    }

    /// The GP on the observations (failures at the worst finite value), or `None` with fewer
    /// than two finite results.
    fn fit(&self, s: &mut BoState, rng: &mut Rng) -> Option<Gp> {
        let finite: Vec<f64> =
            s.observations.iter().map(|o| o.y).filter(|y| y.is_finite()).collect();
        if finite.len() < 2 {
            return None;
        }
        let worst = finite.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let bestv = finite.iter().copied().fold(f64::INFINITY, f64::min);
        let xs: Vec<Vec<f64>> = s.observations.iter().map(|o| o.x.clone()).collect();
        let ys: Vec<f64> = s
            .observations
            .iter()
            .map(|o| {
                if o.y.is_finite() {
                    o.y
                } else if o.y == f64::NEG_INFINITY {
                    bestv
                } else {
                    worst
                }
            })
            .collect();
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
        let f_best = gp.z_min();
        let mut scratch = (vec![0.0; d], vec![0.0; d]);
        let scores: Vec<f64> = raw
            .chunks(d)
            .map(|u| acquisition(gp, kind, beta, f_best, u, None, &mut scratch))
            .map(|a| if a.is_nan() { f64::NEG_INFINITY } else { a })
            .collect();
        let starts = boltzmann_starts(&scores, self.config.num_restarts, rng);
        let (lo, hi) = (vec![0.0; d], vec![1.0; d]);
        let opts =
            lbfgsb::Options { max_iters: 100, pgtol: 1e-6, ftol: 1e-10, ..Default::default() };
        let mut best: Option<(Vec<f64>, f64)> = None;
        for &k in &starts {
            let x0 = &raw[k * d..(k + 1) * d];
            let m = lbfgsb::minimize(
                |x, g| {
                    let a = acquisition(gp, kind, beta, f_best, x, Some(&mut *g), &mut scratch);
                    g.iter_mut().for_each(|v| *v = -*v);
                    -a
                },
                x0,
                &lo,
                &hi,
                &opts,
            );
            let (x, f) = if m.f <= -scores[k] { (m.x, m.f) } else { (x0.to_vec(), -scores[k]) };
            if f.is_finite() && best.as_ref().is_none_or(|b| f < b.1) {
                best = Some((x, f));
            }
        }
        best.map(|b| b.0)
            .unwrap_or_else(|| raw[starts.first().copied().unwrap_or(0) * d..][..d].to_vec())
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
        if !space.is_real() {
            return Err(ConfigError::new(
                "space",
                "bo handles real coordinates only so far (integer and categorical kernels are not \
                 implemented; it would have to round its proposals after the fact)",
            ));
        }
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
        if c.fit_starts == 0 {
            return Err(ConfigError::new("fit_starts", "must be at least 1"));
        }
        if !(c.noise_min.is_finite() && c.noise_min > 0.0 && c.noise_min < 1.0) {
            return Err(ConfigError::new("noise_min", "must be in (0, 1)"));
        }
        let n_init = c.n_init.unwrap_or(2 * space.dim() + 1);
        Ok(Self { config, space: space.clone(), n_init })
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
                    let raw = Halton::new(d, rng).points(0, self.config.raw_samples);
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

    fn tell(
        &self,
        s: &mut Self::State,
        results: &[Evaluated<Self::Genome>],
        _rng: &mut Rng,
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

    fn context(&self, _s: &Self::State) -> Self::Context {}

    fn decode(&self, _ctx: &Self::Context, g: &Self::Genome, out: &mut [f64]) {
        out.copy_from_slice(g);
    }

    fn best(&self, s: &Self::State) -> Option<(Self::Genome, f64)> {
        s.best.clone()
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
}
