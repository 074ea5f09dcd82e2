//! OpenAI-ES: the natural-evolution-strategy gradient estimator of Salimans, Ho, Chen, Sidor &
//! Sutskever (2017), "Evolution Strategies as a Scalable Alternative to Reinforcement
//! Learning", arXiv 1703.03864, with mirrored sampling, rank-based fitness shaping, weight decay
//! and a shared noise table, as in the reference code `openai/evolution-strategies-starter`
//! (`es_distributed/es.py`).
//!
//! # Genomes are noise indices
//!
//! A candidate is `θ + s·σ·ε[i..i + d]` with `ε` the shared [`NoiseTable`] (built once in
//! [`OpenAiEs::new`], held by `&self`, never part of the state), `i` a start index and
//! `s ∈ {+1, −1}`. The genome is only `(i, s)` ([`Perturbation`]); the per-generation context is
//! the centre `θ` and the current `σ` ([`OpenAiEsContext`]), so a worker holding the same table
//! rebuilds any candidate from a few bytes. Members `2k` and `2k + 1` are a mirrored pair: they
//! share the index, drawn with [`NoiseTable::sample_index`] from the `ask` stream, with signs
//! `+1` and `−1`.
//!
//! # Update and sign convention
//!
//! evoforge **minimises**. Fitness values are shaped into `u_i` so that a *worse* (larger)
//! fitness gives a *larger* `u_i`; then
//!
//! ```text
//! g = 1/(n σ) · Σ_i u_i · s_i · ε[i_i]      (an estimate of ∇θ E[f(θ + σ ε)])
//! g ← g + weight_decay · θ                  (the reference's l2coeff)
//! θ ← θ − optimizer_step(g)                  (gradient *descent*)
//! ```
//!
//! The reference maximises returns: it computes `g = batched_weighted_sum(proc, eps) / n`
//! (`proc = compute_centered_ranks(returns)`, best = +0.5) and hands `−g + l2coeff·θ` to its
//! descending Adam. Flipping the sign of the returns flips the ranks, so with centered ranks
//! this is the same step up to the factor `1/σ` the paper's Algorithm 1 has and the reference
//! code omits (invisible to Adam, Lion and ClipUp, which are invariant or nearly invariant to the
//! gradient's scale; it only rescales `learning_rate` for `sgd`).
//!
//! Fitness shaping (`fitness_shaping`):
//! * `centered_ranks` (default): `rank/(n − 1) − 0.5` with ranks from 0 (best) to `n − 1`
//!   (worst), as `compute_centered_ranks`; ties get the average of their ranks (as evosax), so
//!   an all-failed generation gives all-zero weights instead of a gradient made of tie-breaks.
//!   For fitness `[3, 1, 2]` the weights are `[0.5, −0.5, 0]`. Failures (`+inf`, NaN) rank worst.
//! * `z_score`: `(f − mean)/std` (zero when the std is zero).
//! * `raw`: `f` itself (mirrored pairs cancel the constant offset).
//!
//!   For `z_score` and `raw`, non-finite values are first replaced: `+inf` (failures, NaN) by the
//!   worst finite fitness of the generation, `−inf` by the best finite one; a generation with no
//!   finite value gives zero weights.
//!
//! Optimizers (`optimizer`), all minimising `g` above:
//! * `adam` (default, the reference's): `a = lr·√(1 − β2^t)/(1 − β1^t)`, `m ← β1 m + (1−β1) g`,
//!   `v ← β2 v + (1−β2) g²`, `θ ← θ − a·m/(√v + ε)`; β1 = 0.9, β2 = 0.999, ε = 1e-8.
//! * `sgd` with momentum as the reference: `v ← μ v + (1 − μ) g`, `θ ← θ − lr·v`, μ = 0.9.
//! * `lion` (Chen et al. 2023, "Symbolic Discovery of Optimization Algorithms", arXiv
//!   2302.06675): `θ ← θ − lr·sign(β1 m + (1 − β1) g)`, `m ← β2 m + (1 − β2) g`; β1 = 0.9,
//!   β2 = 0.99 (the paper's defaults; `beta2: null` picks 0.999 for Adam and 0.99 for Lion).
//! * `clipup` (Toklu, Liskowski & Srivastava 2020, "ClipUp: A Simple and Powerful Optimizer for
//!   Distribution-based Policy Evolution", arXiv 2008.02387): `v ← μ v + lr·g/‖g‖`, then `v` is
//!   clipped to norm `max_speed`, `θ ← θ − v`; μ = 0.9, `max_speed` default `2·lr` (the paper's
//!   advice `lr = max_speed / 2`).
//!
//! After each step `θ` is clipped into the box of the space: samples are repaired into the box
//! by the study anyway, and a centre far outside it would only see clamped (flat) fitness.
//! `σ ← max(σ · sigma_decay, sigma_min)` after every generation.
//!
//! Initial centre `mean0`: given, or per coordinate 0 when 0 lies in the bounds, else the box
//! centre (the reference initialises network weights around 0).
//!
//! `best()` returns the genome and fitness of the best member seen. That genome is relative to
//! the centre of its own generation, so the state also keeps the point itself
//! ([`OpenAiEsState::best_x`], repaired into the box as it was evaluated).
//!
//! A new `ask` before the pending generation is complete discards it (its results are then
//! unknown ids). Not done yet: observation normalisation and virtual batch norm (these belong to
//! the neuroevolution problems), the reference's `timesteps_per_batch` (a generation is exactly
//! `popsize` members), learning-rate schedules; SNES and PGPE are separate strategies, not here.
use evoforge_core::{
    Candidate, ConfigError, Describe, Evaluated, Metrics, NoiseTable, ParamDoc, Rng, Space,
    Strategy, TellError,
};
use serde::{Deserialize, Serialize};

use crate::util::{
    Batch, BestMember, accept_and_track, check_mean0, check_noise_len, clip_into, default_mean0,
    nf, numbered, perturbations, positive, tell_metrics, unit,
};

/// Denominator guard of the z-score: a generation of equal values gives zero weights.
const Z_EPS: f64 = 1e-12;

/// The step rule applied to the ES gradient.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Optimizer {
    /// SGD with momentum, `v ← μ v + (1 − μ) g` (the reference's `SGD`).
    Sgd,
    /// Adam (Kingma & Ba 2015), as the reference's `Adam`.
    #[default]
    Adam,
    /// Lion (Chen et al. 2023): the sign of an interpolated momentum.
    Lion,
    /// ClipUp (Toklu et al. 2020): normalised gradient, momentum, speed clipping.
    Clipup,
}

/// How fitness values become weights of the gradient estimate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum FitnessShaping {
    /// `rank/(n − 1) − 0.5`, ties averaged; worst = +0.5.
    #[default]
    CenteredRanks,
    /// `(f − mean)/std`.
    ZScore,
    /// The fitness values themselves.
    Raw,
}

/// Configuration of [`OpenAiEs`] (YAML `kind: openai_es`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OpenAiEsConfig {
    /// Members per generation; even (mirrored pairs).
    pub popsize: usize,
    /// Noise standard deviation σ (the reference's `noise_stdev`).
    pub sigma: f64,
    /// Multiplicative σ decay per generation.
    pub sigma_decay: f64,
    /// Lower limit of σ under decay.
    pub sigma_min: f64,
    /// Step size of the optimizer (the reference's `stepsize`).
    pub learning_rate: f64,
    /// `sgd | adam | lion | clipup`.
    pub optimizer: Optimizer,
    /// Momentum μ of `sgd` and `clipup`.
    pub momentum: f64,
    /// β1 of `adam` and `lion`.
    pub beta1: f64,
    /// β2 of `adam` / `lion`; `None`: 0.999 for Adam, 0.99 for Lion.
    pub beta2: Option<f64>,
    /// ε of `adam`.
    pub epsilon: f64,
    /// Speed limit of `clipup`; `None`: `2 · learning_rate`.
    pub max_speed: Option<f64>,
    /// L2 coefficient added to the gradient as `weight_decay · θ` (the reference's `l2coeff`).
    pub weight_decay: f64,
    /// `centered_ranks | z_score | raw`.
    pub fitness_shaping: FitnessShaping,
    /// Initial centre; default 0 per coordinate where 0 is in the bounds, else the box centre.
    pub mean0: Option<Vec<f64>>,
    /// Seed of the noise table.
    pub noise_seed: u64,
    /// Values in the noise table (f32 each); must exceed the dimension.
    pub noise_len: usize,
    /// Evaluate both members of a mirrored pair with the same evaluation seed (the same
    /// episodes): common random numbers, so a pair's return difference measures `±σε`, not
    /// the episodes' luck.
    pub common_random_numbers: bool,
}

impl Default for OpenAiEsConfig {
    fn default() -> Self {
        Self {
            popsize: 256,
            sigma: 0.02,
            sigma_decay: 1.0,
            sigma_min: 0.0,
            learning_rate: 0.01,
            optimizer: Optimizer::Adam,
            momentum: 0.9,
            beta1: 0.9,
            beta2: None,
            epsilon: 1e-8,
            max_speed: None,
            weight_decay: 0.005,
            fitness_shaping: FitnessShaping::CenteredRanks,
            mean0: None,
            noise_seed: 0,
            noise_len: 1 << 25,
            common_random_numbers: false,
        }
    }
}

impl Describe for OpenAiEsConfig {
    const KIND: &'static str = OpenAiEs::NAME;
    const SUMMARY: &'static str =
        "OpenAI-ES (Salimans et al. 2017): mirrored noise-table perturbations, ranked gradient";
    fn params() -> Vec<ParamDoc> {
        vec![
            ParamDoc::opt("popsize", "int", "256", "members per generation (even: mirrored pairs)"),
            ParamDoc::opt("sigma", "float", "0.02", "noise standard deviation"),
            ParamDoc::opt("sigma_decay", "float", "1.0", "sigma multiplier per generation"),
            ParamDoc::opt("sigma_min", "float", "0.0", "lower limit of sigma under decay"),
            ParamDoc::opt("learning_rate", "float", "0.01", "optimizer step size"),
            ParamDoc::opt("optimizer", "sgd | adam | lion | clipup", "adam", "step rule"),
            ParamDoc::opt("momentum", "float", "0.9", "momentum of sgd and clipup"),
            ParamDoc::opt("beta1", "float", "0.9", "beta1 of adam and lion"),
            ParamDoc::opt("beta2", "float", "null", "beta2; null: 0.999 (adam), 0.99 (lion)"),
            ParamDoc::opt("epsilon", "float", "1e-8", "epsilon of adam"),
            ParamDoc::opt("max_speed", "float", "null", "clipup speed limit; null: 2 lr"),
            ParamDoc::opt("weight_decay", "float", "0.005", "L2 coefficient (l2coeff)"),
            ParamDoc::opt(
                "fitness_shaping",
                "centered_ranks | z_score | raw",
                "centered_ranks",
                "fitness to gradient weights",
            ),
            ParamDoc::opt("mean0", "[float]", "null", "initial centre; null: 0, or box centre"),
            ParamDoc::opt("noise_seed", "int", "0", "seed of the shared noise table"),
            ParamDoc::opt("noise_len", "int", "33554432", "noise table length (f32 values)"),
            ParamDoc::opt(
                "common_random_numbers",
                "bool",
                false,
                "both members of a mirrored pair get the same evaluation seed (same episodes)",
            ),
        ]
    }
}

/// One member: the perturbation `sign · σ · ε[index .. index + d]` of the generation's centre.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Perturbation {
    /// Start of the noise slice.
    pub index: u64,
    /// `+1` or `−1`.
    pub sign: i8,
}

/// What [`OpenAiEs::decode`] needs besides the genome: the centre and σ of the generation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OpenAiEsContext {
    /// The centre θ.
    #[serde(with = "nf::vec")]
    pub theta: Vec<f64>,
    /// The noise standard deviation.
    pub sigma: f64,
}

/// OpenAI-ES over the continuous encoding of the space.
#[derive(Debug, Clone)]
pub struct OpenAiEs {
    config: OpenAiEsConfig,
    space: Space,
    table: NoiseTable,
    mean0: Vec<f64>,
    beta2: f64,
    max_speed: f64,
}

/// Optimizer moments (which vectors are used depends on the optimizer).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Moments {
    /// Steps taken (Adam's bias correction).
    t: u64,
    /// First moment (Adam, Lion) or velocity (SGD, ClipUp).
    #[serde(with = "nf::vec")]
    m: Vec<f64>,
    /// Second moment (Adam only; empty otherwise).
    #[serde(with = "nf::vec")]
    v: Vec<f64>,
}

/// State of [`OpenAiEs`]: centre, σ, optimizer moments, pending generation, best member.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OpenAiEsState {
    next_id: u64,
    generation: u64,
    #[serde(with = "nf::vec")]
    theta: Vec<f64>,
    sigma: f64,
    moments: Moments,
    /// Fitness per member of the pending generation.
    batch: Batch,
    /// Genomes of the pending generation, by slot.
    pending: Vec<Perturbation>,
    best: Option<BestMember<Perturbation>>,
}

impl OpenAiEsState {
    /// The best point evaluated so far (genomes are relative to their generation's centre).
    pub fn best_x(&self) -> Option<&[f64]> {
        self.best.as_ref().map(|b| b.x.as_slice())
    }
    /// The current centre θ.
    pub fn theta(&self) -> &[f64] {
        &self.theta
    }
    /// The current noise standard deviation.
    pub fn sigma(&self) -> f64 {
        self.sigma
    }
    /// Generations completed.
    pub fn generation(&self) -> u64 {
        self.generation
    }
}

/// Centered ranks: `rank/(n − 1) − 0.5`, ranks 0 (smallest f) .. n − 1, ties averaged, NaN
/// ranked as `+inf`. A single value gets 0.
pub fn centered_ranks(f: &[f64]) -> Vec<f64> {
    let n = f.len();
    if n <= 1 {
        return vec![0.0; n];
    }
    let key = |v: f64| if v.is_nan() { f64::INFINITY } else { v };
    let mut idx: Vec<usize> = (0..n).collect();
    idx.sort_by(|&a, &b| key(f[a]).total_cmp(&key(f[b])).then(a.cmp(&b)));
    let mut ranks = vec![0.0; n];
    let mut start = 0;
    while start < n {
        let mut end = start + 1;
        while end < n && key(f[idx[end]]) == key(f[idx[start]]) {
            end += 1;
        }
        // Average of the ranks start..end-1.
        let r = (start + end - 1) as f64 / 2.0;
        for &i in &idx[start..end] {
            ranks[i] = r;
        }
        start = end;
    }
    let denom = (n - 1) as f64;
    ranks.iter().map(|r| r / denom - 0.5).collect()
}

/// Replaces `+inf`/NaN by the worst finite value and `−inf` by the best; `None` when no value is
/// finite.
fn finite_substitute(f: &[f64]) -> Option<Vec<f64>> {
    let finite = f.iter().copied().filter(|v| v.is_finite());
    let worst = finite.clone().fold(f64::NEG_INFINITY, f64::max);
    let best = finite.fold(f64::INFINITY, f64::min);
    if !worst.is_finite() {
        return None;
    }
    Some(
        f.iter()
            .map(|&v| {
                if v.is_finite() {
                    v
                } else if v == f64::NEG_INFINITY {
                    best
                } else {
                    worst
                }
            })
            .collect(),
    )
}

/// Weights `u_i` of the gradient estimate for fitness values `f` (larger = worse).
pub fn shape(f: &[f64], how: FitnessShaping) -> Vec<f64> {
    match how {
        FitnessShaping::CenteredRanks => centered_ranks(f),
        FitnessShaping::Raw => finite_substitute(f).unwrap_or_else(|| vec![0.0; f.len()]),
        FitnessShaping::ZScore => {
            let Some(v) = finite_substitute(f) else { return vec![0.0; f.len()] };
            let n = v.len() as f64;
            let mean = v.iter().sum::<f64>() / n;
            let std = (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n).sqrt();
            if std <= Z_EPS * mean.abs().max(1.0) {
                return vec![0.0; v.len()];
            }
            v.iter().map(|x| (x - mean) / std).collect()
        }
    }
}

/// `1/(n σ) · Σ_i u_i · s_i · ε[index_i .. index_i + d]`, assembled from table slices. A
/// mirrored pair (consecutive members sharing an index) is one term.
///
/// The sum runs over blocks of coordinates that stay in cache, four terms per pass over a
/// block, instead of one pass over all `d` per term (which streams the `8·d`-byte accumulator
/// from memory once per member). Each coordinate still accumulates `g ← g + c_i·ε_i` in member
/// order with the same rounded operations, so the result is bit for bit that of the term-by-term
/// sum ([`NoiseTable::axpy`] per term), on any machine.
pub fn assemble_gradient(
    table: &NoiseTable,
    genomes: &[Perturbation],
    weights: &[f64],
    sigma: f64,
    d: usize,
) -> Vec<f64> {
    let mut terms: Vec<(usize, f64)> = Vec::with_capacity(genomes.len());
    let mut k = 0;
    while k < genomes.len() {
        let p = genomes[k];
        let mut coef = weights[k] * f64::from(p.sign);
        let mut next = k + 1;
        if let Some(q) = genomes.get(k + 1).filter(|q| q.index == p.index) {
            coef += weights[k + 1] * f64::from(q.sign);
            next = k + 2;
        }
        if coef != 0.0 {
            terms.push((p.index as usize, coef));
        }
        k = next;
    }
    let scale = 1.0 / (genomes.len() as f64 * sigma);
    // 2048 f64 = 16 KiB of accumulator plus 4 × 8 KiB of noise: within L1/L2.
    const BLOCK: usize = 2048;
    let mut g = vec![0.0f64; d];
    for start in (0..d).step_by(BLOCK) {
        let acc = &mut g[start..(start + BLOCK).min(d)];
        let n = acc.len();
        let mut quads = terms.chunks_exact(4);
        for q in &mut quads {
            let e0 = table.slice(q[0].0 + start, n);
            let e1 = table.slice(q[1].0 + start, n);
            let e2 = table.slice(q[2].0 + start, n);
            let e3 = table.slice(q[3].0 + start, n);
            let (c0, c1, c2, c3) = (q[0].1, q[1].1, q[2].1, q[3].1);
            for j in 0..n {
                let mut t = acc[j];
                t += c0 * f64::from(e0[j]);
                t += c1 * f64::from(e1[j]);
                t += c2 * f64::from(e2[j]);
                t += c3 * f64::from(e3[j]);
                acc[j] = t;
            }
        }
        for &(i, c) in quads.remainder() {
            let e = table.slice(i + start, n);
            for (t, &v) in acc.iter_mut().zip(e) {
                *t += c * f64::from(v);
            }
        }
        for v in acc.iter_mut() {
            *v *= scale;
        }
    }
    g
}

fn norm(x: &[f64]) -> f64 {
    x.iter().map(|v| v * v).sum::<f64>().sqrt()
}

/// `sign(x)` with `sign(0) = 0` (`f64::signum(0.0)` is 1, which would move every coordinate).
fn sign0(x: f64) -> f64 {
    if x > 0.0 {
        1.0
    } else if x < 0.0 {
        -1.0
    } else {
        0.0
    }
}

impl OpenAiEs {
    /// The noise table the genomes index.
    pub fn table(&self) -> &NoiseTable {
        &self.table
    }

    /// Zero optimizer moments for the configured optimizer.
    pub(crate) fn fresh_moments(&self) -> Moments {
        let d = self.space.dim();
        let v = if self.config.optimizer == Optimizer::Adam { vec![0.0; d] } else { Vec::new() };
        Moments { t: 0, m: vec![0.0; d], v }
    }

    /// The initial centre.
    pub(crate) fn mean0(&self) -> &[f64] {
        &self.mean0
    }

    /// One optimizer step on `theta` for the (descent) gradient `g`.
    pub(crate) fn step(&self, mo: &mut Moments, theta: &mut [f64], g: &[f64]) {
        let c = &self.config;
        let lr = c.learning_rate;
        mo.t += 1;
        match c.optimizer {
            Optimizer::Sgd => {
                let mu = c.momentum;
                for ((t, m), &gi) in theta.iter_mut().zip(&mut mo.m).zip(g) {
                    *m = mu * *m + (1.0 - mu) * gi;
                    *t -= lr * *m;
                }
            }
            Optimizer::Adam => {
                let (b1, b2) = (c.beta1, self.beta2);
                let t = mo.t as f64;
                let a = lr * (1.0 - b2.powf(t)).sqrt() / (1.0 - b1.powf(t));
                for (((th, m), v), &gi) in theta.iter_mut().zip(&mut mo.m).zip(&mut mo.v).zip(g) {
                    *m = b1 * *m + (1.0 - b1) * gi;
                    *v = b2 * *v + (1.0 - b2) * gi * gi;
                    *th -= a * *m / (v.sqrt() + c.epsilon);
                }
            }
            Optimizer::Lion => {
                let (b1, b2) = (c.beta1, self.beta2);
                for ((th, m), &gi) in theta.iter_mut().zip(&mut mo.m).zip(g) {
                    *th -= lr * sign0(b1 * *m + (1.0 - b1) * gi);
                    *m = b2 * *m + (1.0 - b2) * gi;
                }
            }
            Optimizer::Clipup => {
                let gn = norm(g);
                let mu = c.momentum;
                for (m, &gi) in mo.m.iter_mut().zip(g) {
                    // A zero gradient only lets the velocity decay (no direction to normalise).
                    *m = mu * *m + if gn > 0.0 { lr * gi / gn } else { 0.0 };
                }
                let vn = norm(&mo.m);
                if vn > self.max_speed {
                    let s = self.max_speed / vn;
                    mo.m.iter_mut().for_each(|m| *m *= s);
                }
                for (th, m) in theta.iter_mut().zip(&mo.m) {
                    *th -= m;
                }
            }
        }
    }

    /// The point member `p` of the current generation was (repaired into the box).
    fn point(&self, theta: &[f64], sigma: f64, p: &Perturbation) -> Vec<f64> {
        let mut x = theta.to_vec();
        self.table.axpy(&mut x, f64::from(p.sign) * sigma, p.index as usize);
        self.space.repair(&mut x);
        x
    }

    /// Gradient step at the end of a complete generation; returns the metrics.
    fn update(&self, s: &mut OpenAiEsState) -> Metrics {
        let f = s.batch.values();
        let w = shape(&f, self.config.fitness_shaping);
        let d = self.space.dim();
        let mut g = assemble_gradient(&self.table, &s.pending, &w, s.sigma, d);
        let wd = self.config.weight_decay;
        if wd != 0.0 {
            for (gi, &t) in g.iter_mut().zip(&s.theta) {
                *gi += wd * t;
            }
        }
        let grad_norm = norm(&g);
        self.step(&mut s.moments, &mut s.theta, &g);
        clip_into(&self.space, &mut s.theta);
        let finite: Vec<f64> = f.iter().copied().filter(|v| v.is_finite()).collect();
        let mut m = Metrics::new();
        m.insert("sigma".into(), s.sigma);
        s.sigma = (s.sigma * self.config.sigma_decay).max(self.config.sigma_min);
        s.generation += 1;
        m.insert("grad_norm".into(), grad_norm);
        m.insert("theta_norm".into(), norm(&s.theta));
        if !finite.is_empty() {
            m.insert("mean_fitness".into(), finite.iter().sum::<f64>() / finite.len() as f64);
        }
        m
    }
}

impl Strategy for OpenAiEs {
    const NAME: &'static str = "openai_es";
    const COMPACT: bool = true;
    type Config = OpenAiEsConfig;
    type State = OpenAiEsState;
    type Genome = Perturbation;
    type Context = OpenAiEsContext;

    fn new(config: Self::Config, space: &Space) -> Result<Self, ConfigError> {
        space.check()?;
        let c = &config;
        if c.popsize < 2 || c.popsize % 2 != 0 {
            return Err(ConfigError::new(
                "popsize",
                format!("must be even and at least 2 (mirrored pairs), got {}", c.popsize),
            ));
        }
        positive("sigma", c.sigma)?;
        positive("sigma_decay", c.sigma_decay)?;
        if !(c.sigma_min.is_finite() && c.sigma_min >= 0.0) {
            return Err(ConfigError::new("sigma_min", "must be finite and non-negative"));
        }
        positive("learning_rate", c.learning_rate)?;
        unit("momentum", c.momentum)?;
        unit("beta1", c.beta1)?;
        let beta2 = c.beta2.unwrap_or(if c.optimizer == Optimizer::Lion { 0.99 } else { 0.999 });
        unit("beta2", beta2)?;
        positive("epsilon", c.epsilon)?;
        let max_speed = c.max_speed.unwrap_or(2.0 * c.learning_rate);
        positive("max_speed", max_speed)?;
        if !(c.weight_decay.is_finite() && c.weight_decay >= 0.0) {
            return Err(ConfigError::new("weight_decay", "must be finite and non-negative"));
        }
        check_mean0(&c.mean0, space)?;
        let d = space.dim();
        check_noise_len(c.noise_len, d)?;
        let mean0 = c.mean0.clone().unwrap_or_else(|| default_mean0(space));
        let table = NoiseTable::new(c.noise_seed, c.noise_len);
        Ok(Self { config, space: space.clone(), table, mean0, beta2, max_speed })
    }

    fn init(&self, _rng: &mut Rng) -> Self::State {
        OpenAiEsState {
            next_id: 0,
            generation: 0,
            theta: self.mean0.clone(),
            sigma: self.config.sigma,
            moments: self.fresh_moments(),
            batch: Batch::default(),
            pending: Vec::new(),
            best: None,
        }
    }

    fn ask(&self, s: &mut Self::State, rng: &mut Rng) -> Vec<Candidate<Self::Genome>> {
        let n = self.config.popsize;
        let d = self.space.dim();
        s.batch = Batch::new(s.next_id, n);
        s.pending = perturbations(&self.table, rng, n, d, true);
        let out = numbered(s.next_id, &s.pending);
        s.next_id += n as u64;
        out
    }

    fn tell(
        &self,
        s: &mut Self::State,
        results: &[Evaluated<Self::Genome>],
        _rng: &mut Rng,
    ) -> Result<Metrics, TellError> {
        let failures = accept_and_track(&mut s.batch, &s.pending, &mut s.best, results, |g| {
            self.point(&s.theta, s.sigma, g)
        })?;
        let mut m = if s.batch.complete() { self.update(s) } else { Metrics::new() };
        tell_metrics(&mut m, failures, &s.best);
        Ok(m)
    }

    fn context(&self, s: &Self::State) -> Self::Context {
        OpenAiEsContext { theta: s.theta.clone(), sigma: s.sigma }
    }

    fn decode(&self, ctx: &Self::Context, g: &Self::Genome, out: &mut [f64]) {
        out.copy_from_slice(&ctx.theta);
        self.table.axpy(out, f64::from(g.sign) * ctx.sigma, g.index as usize);
    }

    fn recommend(&self, s: &Self::State) -> Option<Vec<f64>> {
        Some(s.theta.clone())
    }

    fn eval_key(&self, s: &Self::State, id: u64) -> u64 {
        match s.batch.slot(id) {
            // Members 2k and 2k + 1 are the pair (index, ±1).
            Some(k) if self.config.common_random_numbers => s.batch.first_id + (k as u64 & !1),
            _ => id,
        }
    }

    fn best(&self, s: &Self::State) -> Option<(Self::Genome, f64)> {
        s.best.as_ref().map(|b| (b.genome, b.fitness))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conformance::{self, sphere};

    fn small(cfg: OpenAiEsConfig) -> OpenAiEsConfig {
        OpenAiEsConfig { noise_len: 1 << 16, ..cfg }
    }

    #[test]
    fn centered_ranks_example() {
        assert_eq!(centered_ranks(&[3.0, 1.0, 2.0]), vec![0.5, -0.5, 0.0]);
        // Failures rank worst; ties are averaged.
        assert_eq!(centered_ranks(&[f64::INFINITY, 1.0, f64::NAN]), vec![0.25, -0.5, 0.25]);
        assert_eq!(centered_ranks(&[2.0, 2.0]), vec![0.0, 0.0]);
        assert_eq!(shape(&[1.0, f64::INFINITY, 3.0], FitnessShaping::Raw), vec![1.0, 3.0, 3.0]);
        let z = shape(&[1.0, 3.0], FitnessShaping::ZScore);
        assert_eq!(z, vec![-1.0, 1.0]);
        assert_eq!(shape(&[f64::INFINITY; 2], FitnessShaping::ZScore), vec![0.0, 0.0]);
    }

    #[test]
    fn gradient_matches_a_dense_computation() {
        let table = NoiseTable::new(3, 1000);
        let d = 7;
        let genomes = [
            Perturbation { index: 10, sign: 1 },
            Perturbation { index: 10, sign: -1 },
            Perturbation { index: 500, sign: 1 },
            Perturbation { index: 500, sign: -1 },
            Perturbation { index: 993, sign: -1 },
            Perturbation { index: 0, sign: 1 },
        ];
        let w = [0.3, -0.1, 0.5, 0.2, -0.4, 0.25];
        let sigma = 0.07;
        let g = assemble_gradient(&table, &genomes, &w, sigma, d);
        let mut dense = vec![0.0; d];
        for (p, &wi) in genomes.iter().zip(&w) {
            let eps: Vec<f64> =
                (0..d).map(|j| table.as_slice()[p.index as usize + j] as f64).collect();
            for j in 0..d {
                dense[j] += wi * f64::from(p.sign) * eps[j];
            }
        }
        for j in 0..d {
            let r = dense[j] / (genomes.len() as f64 * sigma);
            assert!((g[j] - r).abs() <= 1e-12 * r.abs().max(1.0), "{j}: {} vs {r}", g[j]);
        }
    }

    #[test]
    fn blocked_gradient_equals_the_term_by_term_sum_bit_for_bit() {
        // d spans several blocks and a ragged end; 11 terms leave a remainder after the quads.
        let table = NoiseTable::new(5, 20_000);
        let d = 5000;
        let mut rng = evoforge_core::stream(4, &[]);
        let mut genomes = Vec::new();
        for k in 0..11 {
            let index = table.sample_index(&mut rng, d) as u64;
            genomes.push(Perturbation { index, sign: 1 });
            if k % 3 != 0 {
                genomes.push(Perturbation { index, sign: -1 });
            }
        }
        let w: Vec<f64> =
            (0..genomes.len()).map(|i| ((i * 7919) % 13) as f64 / 13.0 - 0.4).collect();
        let g = assemble_gradient(&table, &genomes, &w, 0.03, d);
        let mut r = vec![0.0f64; d];
        let mut k = 0;
        while k < genomes.len() {
            let mut coef = w[k] * f64::from(genomes[k].sign);
            let mut next = k + 1;
            if k + 1 < genomes.len() && genomes[k + 1].index == genomes[k].index {
                coef += w[k + 1] * f64::from(genomes[k + 1].sign);
                next = k + 2;
            }
            if coef != 0.0 {
                table.axpy(&mut r, coef, genomes[k].index as usize);
            }
            k = next;
        }
        let scale = 1.0 / (genomes.len() as f64 * 0.03);
        for j in 0..d {
            assert_eq!(g[j].to_bits(), (r[j] * scale).to_bits(), "coordinate {j}");
        }
    }

    #[test]
    fn decode_is_theta_plus_signed_noise_and_pairs_are_mirrored() {
        let space = Space::real_box(4, -5.0, 5.0);
        let s = OpenAiEs::new(small(OpenAiEsConfig { popsize: 6, ..Default::default() }), &space)
            .unwrap();
        let mut rng = evoforge_core::stream(1, &[2]);
        let mut st = s.init(&mut rng);
        let c = s.ask(&mut st, &mut rng);
        assert_eq!(c.len(), 6);
        let ctx = s.context(&st);
        for pair in c.chunks(2) {
            assert_eq!(pair[0].genome.index, pair[1].genome.index);
            assert_eq!((pair[0].genome.sign, pair[1].genome.sign), (1, -1));
            let (mut a, mut b) = (vec![0.0; 4], vec![0.0; 4]);
            s.decode(&ctx, &pair[0].genome, &mut a);
            s.decode(&ctx, &pair[1].genome, &mut b);
            let eps = s.table().slice(pair[0].genome.index as usize, 4);
            for j in 0..4 {
                assert_eq!(a[j], 0.0 + 0.02 * eps[j] as f64);
                assert_eq!(a[j], -b[j]);
            }
        }
    }

    #[test]
    fn config_is_validated() {
        let space = Space::real_box(3, -1.0, 1.0);
        let err = |c: OpenAiEsConfig| OpenAiEs::new(small(c), &space).unwrap_err().field;
        let d = OpenAiEsConfig::default;
        assert_eq!(err(OpenAiEsConfig { popsize: 5, ..d() }), "popsize");
        assert_eq!(err(OpenAiEsConfig { sigma: 0.0, ..d() }), "sigma");
        assert_eq!(err(OpenAiEsConfig { beta2: Some(1.0), ..d() }), "beta2");
        assert_eq!(err(OpenAiEsConfig { mean0: Some(vec![0.0; 2]), ..d() }), "mean0");
        let e = OpenAiEs::new(OpenAiEsConfig { noise_len: 3, ..d() }, &space).unwrap_err();
        assert_eq!(e.field, "noise_len");
        let cfg: Result<OpenAiEsConfig, _> = serde_json::from_str(r#"{"sigma": 0.1, "x": 1}"#);
        assert!(cfg.is_err());
        let cfg: OpenAiEsConfig =
            serde_json::from_str(r#"{"optimizer": "clipup", "fitness_shaping": "z_score"}"#)
                .unwrap();
        assert_eq!(
            (cfg.optimizer, cfg.fitness_shaping),
            (Optimizer::Clipup, FitnessShaping::ZScore)
        );
        // The default centre: 0 where 0 is in the bounds, else the box centre.
        let s = OpenAiEs::new(small(d()), &Space::real_bounds(&[-1.0, 2.0], &[1.0, 4.0])).unwrap();
        assert_eq!(s.init(&mut evoforge_core::stream(0, &[])).theta, vec![0.0, 3.0]);
    }

    fn sphere_run(optimizer: Optimizer, lr: f64) -> (f64, f64) {
        let space = Space::real_box(10, -10.0, 10.0);
        let cfg = OpenAiEsConfig {
            popsize: 64,
            sigma: 0.1,
            learning_rate: lr,
            optimizer,
            weight_decay: 0.0,
            mean0: Some(vec![3.0; 10]),
            ..small(Default::default())
        };
        let s = OpenAiEs::new(cfg, &space).unwrap();
        let mut st = conformance::fresh(&s, 3).unwrap();
        let f0 = sphere(st.theta());
        for g in 0..200 {
            conformance::step(&s, &space, &mut st, 3, g, &sphere).unwrap();
        }
        (f0, sphere(st.theta()))
    }

    #[test]
    fn every_optimizer_descends_the_sphere() {
        // θ from 3·1 (f = 90): at least 100× lower within 200 generations.
        for (opt, lr) in [
            (Optimizer::Adam, 0.05),
            (Optimizer::Sgd, 0.05),
            (Optimizer::Lion, 0.05),
            (Optimizer::Clipup, 0.1),
        ] {
            let (f0, f) = sphere_run(opt, lr);
            assert!(f <= f0 / 100.0, "{opt:?}: f(θ) {f0} → {f}");
        }
    }
}
