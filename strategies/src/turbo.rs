//! TuRBO-1: trust-region Bayesian optimization (`kind: turbo`), Eriksson, Pearce, Gardner,
//! Turner & Poloczek (2019), "Scalable Global Optimization via Local Bayesian Optimization",
//! NeurIPS, arXiv 1910.01739, with the defaults of the authors' `turbo_1.py` and of BoTorch's
//! TuRBO tutorial. Also the Thompson-sampling helpers that `bo`'s `acquisition: thompson`
//! shares.
//!
//! # Loop (Algorithm 1 of the paper with one trust region)
//!
//! * A restart begins with `n_init` (default `2d`) points of a scrambled Halton sequence in the
//!   box (the paper: a Latin hypercube), side length `L = length_init = 0.8` and both counters
//!   at 0.
//! * Each `ask` fits the GP of [`crate::gp`] (Matérn-5/2 ARD, MAP with BoTorch's priors) to the
//!   points of the current restart only (the local model), in the unit cube. The trust region
//!   is the box centred on the restart's best point `x_c` with side `w_j L` per coordinate,
//!   clipped to `[0, 1]`, where `w = ℓ / mean(ℓ)` rescaled to geometric mean 1 (`ℓ` the GP
//!   length scales): long where the model is flat, short where it varies (paper §2,
//!   "the side lengths are rescaled according to the length scales ... while maintaining a
//!   total volume of L^d").
//! * Candidates (`n_candidates`, default `min(100 d, 5000)`): scrambled Halton points `p` in the
//!   trust region; each coordinate of candidate `i` is `p_ij` with probability
//!   `min(1, 20/d)` and `x_cj` otherwise (at least one coordinate perturbed), so in high
//!   dimension the candidates are sparse perturbations of the centre (the perturbation mask of
//!   `turbo_1.py`, Regis & Shoemaker's DYCORS).
//! * Thompson sampling (Thompson 1933; Russo et al. 2018, "A Tutorial on Thompson Sampling"):
//!   `q` joint draws `f⁽ᵏ⁾ ~ GP posterior` on the whole candidate set ([`Gp::sample_unit`]);
//!   point `k` of the batch is `argmin_i f⁽ᵏ⁾(c_i)` among candidates not yet chosen (the
//!   reference sets the chosen row to +∞).
//! * After a batch is complete: success if `min(batch) < min(restart before) − 10⁻³
//!   |min(restart before)|`, else failure. `succ_tol = 3` successes in a row double `L` (at
//!   most `length_max = 1.6`); `fail_tol = ⌈max(4/q, d/q)⌉` failures in a row halve it. When
//!   `L < length_min = 0.5⁷` the trust region has collapsed: the local data are dropped and a
//!   new restart begins (the global best is kept for `best()`).
//!
//! # Asynchrony
//!
//! Tells may arrive in any order and in pieces: every told point joins the restart's data at
//! once (in id order), and the success/failure update of a batch runs when its last point is
//! told. Pending points of the current restart are fantasised at their posterior mean (Kriging
//! believer) before sampling. Points of an earlier restart only update the global best.
//! Failed evaluations enter the local GP at the worst finite value of the restart.
use evoforge_core::{
    Candidate, ConfigError, Describe, Evaluated, Metrics, ParamDoc, Rng, Space, Strategy,
    TellError, stream,
};
use rand::RngExt;
use serde::{Deserialize, Serialize};

use crate::bo::gp_targets;
use crate::gp::{FitOptions, Gp, GpParams, Kernel};
use crate::halton::Halton;
use crate::util::{improve_best, nf};

/// Candidates for Thompson sampling around `center` (unit cube): scrambled Halton points in
/// the box `[lo, hi]`, each coordinate taken from the Halton point with probability `prob`
/// (at least one per candidate) and from `center` otherwise. Row-major `n × d`.
pub(crate) fn perturbation_candidates(
    center: &[f64],
    lo: &[f64],
    hi: &[f64],
    n: usize,
    prob: f64,
    rng: &mut Rng,
) -> Vec<f64> {
    let d = center.len();
    let h = Halton::new(d, rng).points(0, n);
    let mut out = Vec::with_capacity(n * d);
    for row in h.chunks(d) {
        let start = out.len();
        let mut any = false;
        for j in 0..d {
            let take = prob >= 1.0 || rng.random::<f64>() < prob;
            any |= take;
            out.push(if take { lo[j] + (hi[j] - lo[j]) * row[j] } else { center[j] });
        }
        if !any {
            let j = rng.random_range(0..d);
            out[start + j] = lo[j] + (hi[j] - lo[j]) * row[j];
        }
    }
    out
}

/// Trust-region weights `w = ℓ/mean(ℓ)`, rescaled to geometric mean 1 (`turbo_1.py`).
pub(crate) fn tr_weights(lengthscales: &[f64]) -> Vec<f64> {
    let d = lengthscales.len() as f64;
    let mean = lengthscales.iter().sum::<f64>() / d;
    let w: Vec<f64> = lengthscales.iter().map(|l| l / mean).collect();
    let gm = (w.iter().map(|v| v.ln()).sum::<f64>() / d).exp();
    w.iter().map(|v| v / gm).collect()
}

/// Thompson sampling over the candidate set `cands` (row-major, unit cube): `q` joint posterior
/// draws, point `k` the argmin of draw `k` among candidates not chosen before. When the joint
/// covariance cannot be factored, the posterior mean ranks the candidates instead.
pub(crate) fn thompson_select(
    gp: &Gp,
    cands: &[f64],
    d: usize,
    q: usize,
    rng: &mut Rng,
) -> Vec<Vec<f64>> {
    let m = cands.len() / d;
    let q = q.min(m);
    let draws = match gp.sample_unit(cands, q, rng) {
        Ok(v) => v,
        Err(_) => {
            let means: Vec<f64> = cands.chunks(d).map(|u| gp.predict_unit(u, None).0).collect();
            (0..q).flat_map(|_| means.iter().copied()).collect()
        }
    };
    let mut taken = vec![false; m];
    let mut out = Vec::with_capacity(q);
    for k in 0..q {
        let draw = &draws[k * m..(k + 1) * m];
        let best = (0..m)
            .filter(|&i| !taken[i])
            .min_by(|&a, &b| draw[a].total_cmp(&draw[b]).then(a.cmp(&b)))
            .expect("q <= m");
        taken[best] = true;
        out.push(cands[best * d..(best + 1) * d].to_vec());
    }
    out
}

/// Configuration of [`Turbo`] (YAML `kind: turbo`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TurboConfig {
    /// Points per `ask` (batch size) after the initial design.
    pub q: usize,
    /// Initial design points of each restart; `null`: `2d`.
    pub n_init: Option<usize>,
    /// GP kernel.
    pub kernel: Kernel,
    /// Initial side length of the trust region (unit cube).
    pub length_init: f64,
    /// Side length below which the region has collapsed and TuRBO restarts.
    pub length_min: f64,
    /// Largest side length.
    pub length_max: f64,
    /// Consecutive successes that double the side.
    pub succ_tol: usize,
    /// Consecutive failures that halve the side; `null`: `⌈max(4/q, d/q)⌉`.
    pub fail_tol: Option<usize>,
    /// Thompson-sampling candidates per ask; `null`: `min(100 d, 5000)`.
    pub n_candidates: Option<usize>,
    /// Probability of perturbing each coordinate of a candidate; `null`: `min(1, 20/d)`.
    pub prob_perturb: Option<f64>,
    /// Starts of the hyperparameter fit.
    pub fit_starts: usize,
    /// Lower bound of the GP noise variance (standardised outputs).
    pub noise_min: f64,
}

impl Default for TurboConfig {
    fn default() -> Self {
        Self {
            q: 1,
            n_init: None,
            kernel: Kernel::Matern52,
            length_init: 0.8,
            length_min: 0.5f64.powi(7),
            length_max: 1.6,
            succ_tol: 3,
            fail_tol: None,
            n_candidates: None,
            prob_perturb: None,
            fit_starts: 2,
            noise_min: 1e-6,
        }
    }
}

impl Describe for TurboConfig {
    const KIND: &'static str = Turbo::NAME;
    const SUMMARY: &'static str =
        "TuRBO-1 (Eriksson et al. 2019): local GP in a trust region, Thompson sampling, restarts";
    fn params() -> Vec<ParamDoc> {
        vec![
            ParamDoc::opt("q", "int", "1", "points per ask (batch) after the initial design"),
            ParamDoc::opt("n_init", "int | null", "null", "initial points per restart (null: 2d)"),
            ParamDoc::opt("kernel", "matern52 | rbf", "matern52", "GP kernel (ARD)"),
            ParamDoc::opt("length_init", "float", "0.8", "initial trust-region side (unit cube)"),
            ParamDoc::opt(
                "length_min",
                "float",
                "0.0078125",
                "side that triggers a restart (0.5^7)",
            ),
            ParamDoc::opt("length_max", "float", "1.6", "largest side"),
            ParamDoc::opt("succ_tol", "int", "3", "successes in a row that double the side"),
            ParamDoc::opt(
                "fail_tol",
                "int | null",
                "null",
                "failures in a row that halve the side (null: ceil(max(4/q, d/q)))",
            ),
            ParamDoc::opt(
                "n_candidates",
                "int | null",
                "null",
                "Thompson-sampling candidates (null: min(100d, 5000))",
            ),
            ParamDoc::opt(
                "prob_perturb",
                "float | null",
                "null",
                "probability of perturbing a coordinate (null: min(1, 20/d))",
            ),
            ParamDoc::opt("fit_starts", "int", "2", "L-BFGS starts of the hyperparameter fit"),
            ParamDoc::opt("noise_min", "float", "1e-6", "lower bound of the noise variance"),
        ]
    }
}

/// TuRBO-1 (see the module doc).
#[derive(Debug, Clone)]
pub struct Turbo {
    config: TurboConfig,
    space: Space,
    n_init: usize,
    fail_tol: usize,
    n_candidates: usize,
    prob: f64,
}

/// One told result of the current restart.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct LocalObs {
    id: u64,
    batch: u64,
    /// Unit-cube coordinates.
    u: Vec<f64>,
    #[serde(with = "nf")]
    y: f64,
}

/// One asked point without a result yet.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct TPending {
    id: u64,
    batch: u64,
    restart: u64,
    design: bool,
    x: Vec<f64>,
}

/// State of [`Turbo`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TurboState {
    next_id: u64,
    generation: u64,
    design_seed: u64,
    design_used: u64,
    /// Index of the current restart.
    restart: u64,
    /// Whether the current restart's design has been asked.
    design_asked: bool,
    length: f64,
    succ: usize,
    fail: usize,
    local: Vec<LocalObs>,
    pending: Vec<TPending>,
    evaluations: u64,
    #[serde(with = "nf::best")]
    best: Option<(Vec<f64>, f64)>,
    params: Option<GpParams>,
}

impl Turbo {
    fn to_unit(&self, x: &[f64]) -> Vec<f64> {
        self.space
            .dims()
            .iter()
            .zip(x)
            .map(|(d, &v)| if d.hi > d.lo { (v - d.lo) / (d.hi - d.lo) } else { 0.0 })
            .collect()
    }

    fn unit_to_x(&self, u: &[f64]) -> Vec<f64> {
        self.space
            .dims()
            .iter()
            .zip(u)
            .map(|(d, &v)| (d.lo + (d.hi - d.lo) * v).clamp(d.lo, d.hi))
            .collect()
    }

    fn design(&self, s: &mut TurboState, n: usize) -> Vec<Vec<f64>> {
        let d = self.space.dim();
        let h = Halton::new(d, &mut stream(s.design_seed, &[]));
        let pts = h.points(s.design_used, n);
        s.design_used += n as u64;
        pts.chunks(d).map(|u| self.unit_to_x(u)).collect()
    }

    /// The local GP (unit cube) on the restart's data, or `None` with fewer than two finite
    /// values.
    fn fit(&self, s: &mut TurboState, rng: &mut Rng) -> Option<(Gp, Vec<f64>)> {
        let ys = gp_targets(s.local.iter().map(|o| o.y))?;
        let xs: Vec<Vec<f64>> = s.local.iter().map(|o| o.u.clone()).collect();
        let d = self.space.dim();
        let opts = FitOptions {
            kernel: self.config.kernel,
            learn_outputscale: false,
            unbiased_std: false,
            noise_min: self.config.noise_min,
            starts: self.config.fit_starts,
            max_iters: 100,
            noise_prior: crate::gp::NoisePrior::LogNormal,
            categorical: Vec::new(),
        };
        let gp =
            Gp::fit(&vec![0.0; d], &vec![1.0; d], &xs, &ys, &opts, s.params.as_ref(), rng).ok()?;
        s.params = Some(gp.params().clone());
        let k = (0..ys.len())
            .min_by(|&a, &b| ys[a].total_cmp(&ys[b]).then(a.cmp(&b)))
            .expect("non-empty");
        Some((gp, xs[k].clone()))
    }

    /// Applies the success/failure rule of a completed batch `b` and restarts on collapse.
    fn finish_batch(&self, s: &mut TurboState, b: u64) {
        let fin = |it: &mut dyn Iterator<Item = f64>| {
            it.filter(|y| y.is_finite()).fold(f64::INFINITY, f64::min)
        };
        let batch_best = fin(&mut s.local.iter().filter(|o| o.batch == b).map(|o| o.y));
        let before = fin(&mut s.local.iter().filter(|o| o.batch != b).map(|o| o.y));
        if batch_best < before - 1e-3 * before.abs() {
            s.succ += 1;
            s.fail = 0;
        } else {
            s.succ = 0;
            s.fail += 1;
        }
        if s.succ == self.config.succ_tol {
            s.length = (2.0 * s.length).min(self.config.length_max);
            s.succ = 0;
        } else if s.fail == self.fail_tol {
            s.length /= 2.0;
            s.fail = 0;
        }
        if s.length < self.config.length_min {
            s.restart += 1;
            s.design_asked = false;
            s.length = self.config.length_init;
            s.succ = 0;
            s.fail = 0;
            s.local.clear();
            s.params = None;
        }
    }
}

impl Strategy for Turbo {
    const NAME: &'static str = "turbo";
    type Config = TurboConfig;
    type State = TurboState;
    type Genome = Vec<f64>;
    type Context = ();

    fn new(config: Self::Config, space: &Space) -> Result<Self, ConfigError> {
        space.check()?;
        if !space.is_real() {
            return Err(ConfigError::new(
                "space",
                "turbo handles real coordinates only (its candidates are continuous perturbations)",
            ));
        }
        let c = &config;
        let d = space.dim();
        if c.q == 0 {
            return Err(ConfigError::new("q", "must be at least 1"));
        }
        if c.n_init.is_some_and(|n| n < 2) {
            return Err(ConfigError::new("n_init", "must be at least 2"));
        }
        let lengths_ok = c.length_min > 0.0
            && c.length_min <= c.length_init
            && c.length_init <= c.length_max
            && c.length_max.is_finite();
        if !lengths_ok {
            return Err(ConfigError::new(
                "length_init",
                "need 0 < length_min <= length_init <= length_max < inf",
            ));
        }
        if c.succ_tol == 0 {
            return Err(ConfigError::new("succ_tol", "must be at least 1"));
        }
        if c.fail_tol == Some(0) {
            return Err(ConfigError::new("fail_tol", "must be at least 1"));
        }
        if c.n_candidates.is_some_and(|n| n < c.q) {
            return Err(ConfigError::new("n_candidates", "must be at least q"));
        }
        if c.prob_perturb.is_some_and(|p| !(p > 0.0 && p <= 1.0)) {
            return Err(ConfigError::new("prob_perturb", "must be in (0, 1]"));
        }
        if c.fit_starts == 0 {
            return Err(ConfigError::new("fit_starts", "must be at least 1"));
        }
        if !(c.noise_min.is_finite() && c.noise_min > 0.0 && c.noise_min < 1.0) {
            return Err(ConfigError::new("noise_min", "must be in (0, 1)"));
        }
        let q = c.q as f64;
        let fail_tol = c.fail_tol.unwrap_or_else(|| (4.0 / q).max(d as f64 / q).ceil() as usize);
        let n_candidates = c.n_candidates.unwrap_or((100 * d).min(5000)).max(c.q);
        let prob = c.prob_perturb.unwrap_or((20.0 / d as f64).min(1.0));
        Ok(Self {
            n_init: c.n_init.unwrap_or(2 * d).max(2),
            config,
            space: space.clone(),
            fail_tol,
            n_candidates,
            prob,
        })
    }

    fn init(&self, rng: &mut Rng) -> Self::State {
        TurboState {
            next_id: 0,
            generation: 0,
            design_seed: rng.random(),
            design_used: 0,
            restart: 0,
            design_asked: false,
            length: self.config.length_init,
            succ: 0,
            fail: 0,
            local: Vec::new(),
            pending: Vec::new(),
            evaluations: 0,
            best: None,
            params: None,
        }
    }

    fn ask(&self, s: &mut Self::State, rng: &mut Rng) -> Vec<Candidate<Self::Genome>> {
        let d = self.space.dim();
        let batch = s.generation;
        let (xs, design) = if !s.design_asked {
            s.design_asked = true;
            (self.design(s, self.n_init), true)
        } else {
            match self.fit(s, rng) {
                // Too few results of this restart yet: more of the design.
                None => (self.design(s, self.config.q), true),
                Some((mut gp, center)) => {
                    for p in s.pending.iter().filter(|p| p.restart == s.restart) {
                        let u = self.to_unit(&p.x);
                        let (m, _) = gp.predict_unit(&u, None);
                        if let Ok(g) = gp.with_fantasy(&u, m) {
                            gp = g;
                        }
                    }
                    let w = tr_weights(&gp.params().lengthscales);
                    let half: Vec<f64> = w.iter().map(|w| w * s.length / 2.0).collect();
                    let lo: Vec<f64> =
                        center.iter().zip(&half).map(|(c, h)| (c - h).max(0.0)).collect();
                    let hi: Vec<f64> =
                        center.iter().zip(&half).map(|(c, h)| (c + h).min(1.0)).collect();
                    let cands = perturbation_candidates(
                        &center,
                        &lo,
                        &hi,
                        self.n_candidates,
                        self.prob,
                        rng,
                    );
                    let us = thompson_select(&gp, &cands, d, self.config.q, rng);
                    (us.iter().map(|u| self.unit_to_x(u)).collect(), false)
                }
            }
        };
        s.generation += 1;
        let mut out = Vec::with_capacity(xs.len());
        for x in xs {
            let id = s.next_id;
            s.next_id += 1;
            s.pending.push(TPending { id, batch, restart: s.restart, design, x: x.clone() });
            out.push(Candidate { id, genome: x });
        }
        out
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
        // Process in id order so a split or reordered tell gives the same state.
        let mut order: Vec<&Evaluated<Vec<f64>>> = results.iter().collect();
        order.sort_by_key(|r| r.id);
        let mut failures = 0.0;
        let restarts_before = s.restart;
        for r in order {
            let k = s.pending.iter().position(|p| p.id == r.id).expect("validated above");
            let p = s.pending.remove(k);
            let y = r.fitness();
            if r.failed() || y == f64::INFINITY {
                failures += 1.0;
            }
            s.evaluations += 1;
            improve_best(&mut s.best, &p.x, y);
            if p.restart != s.restart {
                continue;
            }
            let at = s.local.partition_point(|o| o.id < p.id);
            let u = self.to_unit(&p.x);
            s.local.insert(at, LocalObs { id: p.id, batch: p.batch, u, y });
            let done = !s.pending.iter().any(|q| q.batch == p.batch);
            if done && !p.design {
                self.finish_batch(s, p.batch);
            }
        }
        let mut m = Metrics::new();
        m.insert("failures".into(), failures);
        m.insert("tr_length".into(), s.length);
        m.insert("restarts".into(), s.restart as f64);
        m.insert("restarted".into(), (s.restart - restarts_before) as f64);
        m.insert("local_points".into(), s.local.len() as f64);
        m.insert("pending".into(), s.pending.len() as f64);
        if let Some((_, f)) = &s.best {
            m.insert("best_fitness".into(), *f);
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
