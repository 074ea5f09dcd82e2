//! PGPE, policy gradients with parameter-based exploration: Sehnke, Osendorfer, Rückstieß,
//! Graves, Peters & Schmidhuber (2010), "Parameter-exploring policy gradients", Neural Networks
//! 23(4):551–559, in its symmetric-sampling form, with the ClipUp optimizer of Toklu,
//! Liskowski & Srivastava (2020), "ClipUp: A Simple and Powerful Optimizer for
//! Distribution-based Policy Evolution", PPSN XVI, arXiv 2008.02387, on the centre and
//! centered-rank fitness shaping (Salimans et al. 2017), as EvoTorch's `PGPE` does. Genomes
//! index a shared noise table as in [`crate::openai_es`].
//!
//! # Search distribution and genomes
//!
//! The search distribution is `N(μ, diag(σ²))` with one `σ_j` per coordinate. Directions are
//! sampled in symmetric pairs: members `2k` and `2k + 1` are `μ + δ_k` and `μ − δ_k` with
//! `δ_k = σ ⊙ ε[i_k .. i_k + d]`, `ε` the shared [`NoiseTable`] (built once in [`Pgpe::new`],
//! never part of the state). The genome is `(i_k, ±1)` ([`Perturbation`]); the per-generation
//! context is `μ` and the vector `σ` ([`PgpeContext`]), and decoding is
//! [`crate::snes::decode_diagonal`]: `x_j = μ_j + (s·σ_j)·ε_j`, bit for bit what numpy's
//! `mu + (s*sigma) * eps.astype(f64)` gives.
//!
//! # Update and sign convention
//!
//! evoforge **minimises**. Fitness values are shaped into `u` (worse = larger, see
//! [`crate::openai_es::shape`]: centered ranks by default, or z-scores, or raw values); with
//! `u⁺_k`, `u⁻_k` those of the `+δ_k` and `−δ_k` members, `n = popsize/2` directions and the
//! baseline `b = mean(u)`:
//!
//! ```text
//! g_μ = 1/n · Σ_k (u⁺_k − u⁻_k)/2 · δ_k
//! g_σ = 1/n · Σ_k ((u⁺_k + u⁻_k)/2 − b) · (δ_k² − σ²)/σ      (element-wise; = σ (ε_k² − 1))
//! μ ← μ − optimizer_step(g_μ)                                    (then clipped into the box)
//! σ ← clip(σ − lr_σ · g_σ,  (1 − c)·σ,  (1 + c)·σ)              c = stdev_max_change
//! ```
//!
//! This is Sehnke et al.'s symmetric-sampling estimate (`ε (r⁺ − r⁻)/2` for the
//! centre, `((r⁺ + r⁻)/2 − b)(ε² − σ²)/σ` for σ, `ε` their perturbation, our `δ`), with ranks in
//! place of their reward normalisation, and it is EvoTorch's `SymmetricSeparableGaussian`
//! gradient divided by the number of directions, descended instead of ascended (EvoTorch's
//! weights are `−u`). `(δ² − σ²)/σ` is computed as `σ (ε² − 1)`, equal in exact arithmetic and
//! defined at `σ = 0`. For centered ranks and z-scores `b` is 0 up to rounding; EvoTorch
//! subtracts the mean only for the other rankings, which gives the same step.
//!
//! Centre optimizers (`optimizer`), all descending `g_μ`, as EvoTorch's (ClipUp its own, Adam
//! and SGD `torch.optim`'s):
//! * `clipup` (default): `v ← m·v + lr·g/‖g‖`, `v` clipped to norm `max_speed`, `μ ← μ − v`;
//!   `m = 0.9`, `max_speed = 2·lr`. A zero gradient (all members tied) only lets `v` decay.
//! * `adam`: `m ← β1 m + (1 − β1) g`, `v ← β2 v + (1 − β2) g²`,
//!   `μ ← μ − lr/(1 − β1^t) · m/(√v/√(1 − β2^t) + ε)`; β1 = 0.9, β2 = 0.999, ε = 1e-8.
//! * `sgd`: `b ← m·b + g`, `μ ← μ − lr·b`; `m = 0` (plain SGD) unless `momentum` is given.
//!
//! # Defaults and where they come from
//!
//! Verified in EvoTorch's source (`algorithms/distributed/gaussian.py`, `optimizers.py`,
//! `distributions.py`, 2025-05): symmetric sampling, `ranking_method = "centered"`,
//! `optimizer = "clipup"`, `stdev_max_change = 0.2` ("like Ha (2017)"), ClipUp `momentum = 0.9`
//! and `max_speed = 2 · center_learning_rate` when not given, the gradient formulas above
//! divided by the number of directions, and the relative clip `|σ_old| · stdev_max_change`.
//! EvoTorch has no defaults for `popsize`, `center_learning_rate`, `stdev_learning_rate` and
//! the initial σ; these follow evosax 0.3.2's `PGPE` (`std_init = 1.0`, `std_lr = 0.1`,
//! `std_max_change = 0.2`, `clipup(learning_rate = 0.01, max_velocity = 0.02)`), except
//! `popsize`, which neither library defaults: 256, as this crate's OpenAI-ES, so the two
//! noise-table strategies cost the same per generation. `mean0`, `noise_seed`, `noise_len` are
//! as OpenAI-ES. Assumed, not verified: the printed paper's equations (checked only through
//! these two implementations, which cite it).
//!
//! `best()` returns the genome and fitness of the best member seen; the state also keeps the
//! point itself ([`PgpeState::best_x`]). A new `ask` before the pending generation is complete
//! discards it. Not done: EvoTorch's `stdev_min`/`stdev_max`, `radius_init`, non-symmetric
//! sampling and adaptive population sizes (`num_interactions`).
use evoforge_core::{
    Candidate, ConfigError, Describe, Evaluated, Metrics, NoiseTable, ParamDoc, Rng, Space,
    Strategy, TellError,
};
use serde::{Deserialize, Serialize};

use crate::openai_es::{FitnessShaping, Perturbation, shape};
use crate::snes::{decode_diagonal, sigma_metrics};
use crate::util::{
    Batch, BestMember, accept_and_track, check_mean0, check_noise_len, clip_into, default_mean0,
    nf, numbered, perturbations, positive, tell_metrics, unit,
};

/// The step rule applied to the centre gradient.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum CenterOptimizer {
    /// ClipUp (Toklu et al. 2020): normalised gradient, momentum, speed clipping.
    #[default]
    Clipup,
    /// Adam (Kingma & Ba 2015), as `torch.optim.Adam`.
    Adam,
    /// SGD with optional heavy-ball momentum, as `torch.optim.SGD`.
    Sgd,
}

/// Configuration of [`Pgpe`] (YAML `kind: pgpe`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PgpeConfig {
    /// Members per generation; even (symmetric pairs).
    pub popsize: usize,
    /// Step size of the centre optimizer.
    pub center_learning_rate: f64,
    /// Initial σ of every coordinate.
    pub stdev_init: f64,
    /// Learning rate of σ (plain gradient step).
    pub stdev_learning_rate: f64,
    /// Largest relative change of each σ per generation, in (0, 1).
    pub stdev_max_change: f64,
    /// `clipup | adam | sgd`.
    pub optimizer: CenterOptimizer,
    /// Momentum of `clipup` and `sgd`; `None`: 0.9 for ClipUp, 0 for SGD.
    pub momentum: Option<f64>,
    /// Speed limit of `clipup`; `None`: `2 · center_learning_rate`.
    pub max_speed: Option<f64>,
    /// β1 of `adam`.
    pub beta1: f64,
    /// β2 of `adam`.
    pub beta2: f64,
    /// ε of `adam`.
    pub epsilon: f64,
    /// `centered_ranks | z_score | raw`.
    pub fitness_shaping: FitnessShaping,
    /// Initial centre; default 0 per coordinate where 0 is in the bounds, else the box centre.
    pub mean0: Option<Vec<f64>>,
    /// Seed of the noise table.
    pub noise_seed: u64,
    /// Values in the noise table (f32 each); must exceed the dimension.
    pub noise_len: usize,
}

impl Default for PgpeConfig {
    fn default() -> Self {
        Self {
            popsize: 256,
            center_learning_rate: 0.01,
            stdev_init: 1.0,
            stdev_learning_rate: 0.1,
            stdev_max_change: 0.2,
            optimizer: CenterOptimizer::Clipup,
            momentum: None,
            max_speed: None,
            beta1: 0.9,
            beta2: 0.999,
            epsilon: 1e-8,
            fitness_shaping: FitnessShaping::CenteredRanks,
            mean0: None,
            noise_seed: 0,
            noise_len: 1 << 25,
        }
    }
}

impl Describe for PgpeConfig {
    const KIND: &'static str = Pgpe::NAME;
    const SUMMARY: &'static str =
        "PGPE (Sehnke et al. 2010): symmetric noise-table sampling, per-coordinate sigma, ClipUp";
    fn params() -> Vec<ParamDoc> {
        vec![
            ParamDoc::opt(
                "popsize",
                "int",
                "256",
                "members per generation (even: symmetric pairs)",
            ),
            ParamDoc::opt("center_learning_rate", "float", "0.01", "centre optimizer step size"),
            ParamDoc::opt("stdev_init", "float", "1.0", "initial sigma of every coordinate"),
            ParamDoc::opt("stdev_learning_rate", "float", "0.1", "learning rate of sigma"),
            ParamDoc::opt(
                "stdev_max_change",
                "float",
                "0.2",
                "largest relative change of sigma per generation",
            ),
            ParamDoc::opt("optimizer", "clipup | adam | sgd", "clipup", "centre step rule"),
            ParamDoc::opt("momentum", "float", "null", "momentum; null: 0.9 (clipup), 0 (sgd)"),
            ParamDoc::opt("max_speed", "float", "null", "clipup speed limit; null: 2 lr"),
            ParamDoc::opt("beta1", "float", "0.9", "beta1 of adam"),
            ParamDoc::opt("beta2", "float", "0.999", "beta2 of adam"),
            ParamDoc::opt("epsilon", "float", "1e-8", "epsilon of adam"),
            ParamDoc::opt(
                "fitness_shaping",
                "centered_ranks | z_score | raw",
                "centered_ranks",
                "fitness to gradient weights",
            ),
            ParamDoc::opt("mean0", "[float]", "null", "initial centre; null: 0, or box centre"),
            ParamDoc::opt("noise_seed", "int", "0", "seed of the shared noise table"),
            ParamDoc::opt("noise_len", "int", "33554432", "noise table length (f32 values)"),
        ]
    }
}

/// What [`Pgpe::decode`] needs besides the genome: the centre and σ of the generation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PgpeContext {
    /// The centre μ.
    #[serde(with = "nf::vec")]
    pub center: Vec<f64>,
    /// Per-coordinate standard deviations.
    #[serde(with = "nf::vec")]
    pub stdev: Vec<f64>,
}

/// PGPE over the continuous encoding of the space.
#[derive(Debug, Clone)]
pub struct Pgpe {
    config: PgpeConfig,
    space: Space,
    table: NoiseTable,
    mean0: Vec<f64>,
    momentum: f64,
    max_speed: f64,
}

/// Optimizer memory (which vectors are used depends on the optimizer).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Moments {
    /// Steps taken (Adam's bias correction).
    t: u64,
    /// Velocity (ClipUp), first moment (Adam) or momentum buffer (SGD).
    #[serde(with = "nf::vec")]
    m: Vec<f64>,
    /// Second moment (Adam only; empty otherwise).
    #[serde(with = "nf::vec")]
    v: Vec<f64>,
}

/// State of [`Pgpe`]: centre, σ, optimizer memory, pending generation, best member.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PgpeState {
    next_id: u64,
    generation: u64,
    #[serde(with = "nf::vec")]
    center: Vec<f64>,
    #[serde(with = "nf::vec")]
    stdev: Vec<f64>,
    moments: Moments,
    /// Fitness per member of the pending generation.
    batch: Batch,
    /// Genomes of the pending generation, by slot.
    pending: Vec<Perturbation>,
    best: Option<BestMember<Perturbation>>,
}

impl PgpeState {
    /// The best point evaluated so far (genomes are relative to their generation's centre).
    pub fn best_x(&self) -> Option<&[f64]> {
        self.best.as_ref().map(|b| b.x.as_slice())
    }
    /// The current centre μ.
    pub fn center(&self) -> &[f64] {
        &self.center
    }
    /// The current per-coordinate σ.
    pub fn stdev(&self) -> &[f64] {
        &self.stdev
    }
    /// Generations completed.
    pub fn generation(&self) -> u64 {
        self.generation
    }
}

fn norm(x: &[f64]) -> f64 {
    x.iter().map(|v| v * v).sum::<f64>().sqrt()
}

/// `(g_μ, g_σ)` of the module doc for symmetric pairs `(2k, 2k + 1)` sharing a noise index,
/// shaped fitness `u` and the generation's σ.
fn gradients(
    table: &NoiseTable,
    genomes: &[Perturbation],
    u: &[f64],
    stdev: &[f64],
) -> (Vec<f64>, Vec<f64>) {
    let d = stdev.len();
    let baseline = u.iter().sum::<f64>() / u.len() as f64;
    let mut acc_m = vec![0.0; d];
    let mut acc_s = vec![0.0; d];
    for (pair, w) in genomes.chunks_exact(2).zip(u.chunks_exact(2)) {
        let (p, q) = (pair[0], pair[1]);
        debug_assert_eq!(p.index, q.index, "members 2k and 2k + 1 are a symmetric pair");
        // Signs are read, not assumed, so u⁺ − u⁻ holds whichever member carries +1.
        let a = 0.5 * (w[0] * f64::from(p.sign) + w[1] * f64::from(q.sign));
        let c = 0.5 * (w[0] + w[1]) - baseline;
        if a == 0.0 && c == 0.0 {
            continue;
        }
        let eps = table.slice(p.index as usize, d);
        for ((am, as_), &e) in acc_m.iter_mut().zip(&mut acc_s).zip(eps) {
            let e = f64::from(e);
            *am += a * e;
            *as_ += c * (e * e - 1.0);
        }
    }
    // σ factors out of every term: δ = σ ε and (δ² − σ²)/σ = σ (ε² − 1).
    let n = (genomes.len() / 2).max(1) as f64;
    let g_m = acc_m.iter().zip(stdev).map(|(a, s)| s * a / n).collect();
    let g_s = acc_s.iter().zip(stdev).map(|(a, s)| s * a / n).collect();
    (g_m, g_s)
}

impl Pgpe {
    /// The noise table the genomes index.
    pub fn table(&self) -> &NoiseTable {
        &self.table
    }

    /// One optimizer step on `center` for the (descent) gradient `g`.
    fn step(&self, mo: &mut Moments, center: &mut [f64], g: &[f64]) {
        let c = &self.config;
        let lr = c.center_learning_rate;
        mo.t += 1;
        match c.optimizer {
            CenterOptimizer::Clipup => {
                let gn = norm(g);
                let mu = self.momentum;
                for (m, &gi) in mo.m.iter_mut().zip(g) {
                    // A zero gradient only lets the velocity decay (no direction to normalise).
                    *m = mu * *m + if gn > 0.0 { lr * gi / gn } else { 0.0 };
                }
                let vn = norm(&mo.m);
                if vn > self.max_speed {
                    let s = self.max_speed / vn;
                    mo.m.iter_mut().for_each(|m| *m *= s);
                }
                for (x, m) in center.iter_mut().zip(&mo.m) {
                    *x -= m;
                }
            }
            CenterOptimizer::Adam => {
                let (b1, b2) = (c.beta1, c.beta2);
                let t = mo.t as f64;
                let step = lr / (1.0 - b1.powf(t));
                let bias2_sqrt = (1.0 - b2.powf(t)).sqrt();
                for (((x, m), v), &gi) in center.iter_mut().zip(&mut mo.m).zip(&mut mo.v).zip(g) {
                    *m = b1 * *m + (1.0 - b1) * gi;
                    *v = b2 * *v + (1.0 - b2) * gi * gi;
                    *x -= step * *m / (v.sqrt() / bias2_sqrt + c.epsilon);
                }
            }
            CenterOptimizer::Sgd => {
                let mu = self.momentum;
                for ((x, b), &gi) in center.iter_mut().zip(&mut mo.m).zip(g) {
                    *b = mu * *b + gi;
                    *x -= lr * *b;
                }
            }
        }
    }

    /// The point member `p` of the current generation was (repaired into the box).
    fn point(&self, center: &[f64], stdev: &[f64], p: &Perturbation) -> Vec<f64> {
        let mut x = vec![0.0; center.len()];
        decode_diagonal(&self.table, center, stdev, p, &mut x);
        self.space.repair(&mut x);
        x
    }

    /// Centre and σ steps at the end of a complete generation; returns the metrics.
    fn update(&self, s: &mut PgpeState) -> Metrics {
        let c = &self.config;
        let f = s.batch.values();
        let u = shape(&f, c.fitness_shaping);
        let (g_m, g_s) = gradients(&self.table, &s.pending, &u, &s.stdev);
        self.step(&mut s.moments, &mut s.center, &g_m);
        clip_into(&self.space, &mut s.center);
        let (lr_s, mc) = (c.stdev_learning_rate, c.stdev_max_change);
        for (sg, &g) in s.stdev.iter_mut().zip(&g_s) {
            // Ha's and EvoTorch's limiter: no σ moves by more than a fraction mc of itself.
            *sg = (*sg - lr_s * g).clamp(*sg * (1.0 - mc), *sg * (1.0 + mc));
        }
        s.generation += 1;
        let mut m = Metrics::new();
        sigma_metrics(&mut m, &s.stdev);
        m.insert("grad_norm".into(), norm(&g_m));
        m.insert("center_norm".into(), norm(&s.center));
        let finite: Vec<f64> = f.iter().copied().filter(|v| v.is_finite()).collect();
        if !finite.is_empty() {
            m.insert("mean_fitness".into(), finite.iter().sum::<f64>() / finite.len() as f64);
        }
        m
    }
}

impl Strategy for Pgpe {
    const NAME: &'static str = "pgpe";
    // Genomes are noise indices: the study journals and ships them, not the points.
    const COMPACT: bool = true;
    type Config = PgpeConfig;
    type State = PgpeState;
    type Genome = Perturbation;
    type Context = PgpeContext;

    fn new(config: Self::Config, space: &Space) -> Result<Self, ConfigError> {
        space.check()?;
        let c = &config;
        if c.popsize < 2 || c.popsize % 2 != 0 {
            return Err(ConfigError::new(
                "popsize",
                format!("must be even and at least 2 (symmetric pairs), got {}", c.popsize),
            ));
        }
        positive("center_learning_rate", c.center_learning_rate)?;
        positive("stdev_init", c.stdev_init)?;
        if !(c.stdev_learning_rate.is_finite() && c.stdev_learning_rate >= 0.0) {
            return Err(ConfigError::new(
                "stdev_learning_rate",
                format!("must be finite and non-negative, got {}", c.stdev_learning_rate),
            ));
        }
        if !(c.stdev_max_change > 0.0 && c.stdev_max_change < 1.0) {
            return Err(ConfigError::new(
                "stdev_max_change",
                format!("must be in (0, 1), got {}", c.stdev_max_change),
            ));
        }
        let momentum =
            c.momentum.unwrap_or(if c.optimizer == CenterOptimizer::Clipup { 0.9 } else { 0.0 });
        unit("momentum", momentum)?;
        let max_speed = c.max_speed.unwrap_or(2.0 * c.center_learning_rate);
        positive("max_speed", max_speed)?;
        unit("beta1", c.beta1)?;
        unit("beta2", c.beta2)?;
        positive("epsilon", c.epsilon)?;
        check_mean0(&c.mean0, space)?;
        check_noise_len(c.noise_len, space.dim())?;
        let mean0 = c.mean0.clone().unwrap_or_else(|| default_mean0(space));
        let table = NoiseTable::new(c.noise_seed, c.noise_len);
        Ok(Self { config, space: space.clone(), table, mean0, momentum, max_speed })
    }

    fn init(&self, _rng: &mut Rng) -> Self::State {
        let d = self.space.dim();
        let v =
            if self.config.optimizer == CenterOptimizer::Adam { vec![0.0; d] } else { Vec::new() };
        PgpeState {
            next_id: 0,
            generation: 0,
            center: self.mean0.clone(),
            stdev: vec![self.config.stdev_init; d],
            moments: Moments { t: 0, m: vec![0.0; d], v },
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
            self.point(&s.center, &s.stdev, g)
        })?;
        let mut m = if s.batch.complete() { self.update(s) } else { Metrics::new() };
        tell_metrics(&mut m, failures, &s.best);
        Ok(m)
    }

    fn context(&self, s: &Self::State) -> Self::Context {
        PgpeContext { center: s.center.clone(), stdev: s.stdev.clone() }
    }

    fn decode(&self, ctx: &Self::Context, g: &Self::Genome, out: &mut [f64]) {
        decode_diagonal(&self.table, &ctx.center, &ctx.stdev, g, out);
    }

    fn recommend(&self, s: &Self::State) -> Option<Vec<f64>> {
        Some(s.center.clone())
    }

    fn best(&self, s: &Self::State) -> Option<(Self::Genome, f64)> {
        s.best.as_ref().map(|b| (b.genome, b.fitness))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conformance::{self, sphere};
    use crate::openai_es::centered_ranks;
    use evoforge_core::{Evaluation, Outcome};

    fn small(cfg: PgpeConfig) -> PgpeConfig {
        PgpeConfig { noise_len: 1 << 16, ..cfg }
    }

    fn told(cands: &[Candidate<Perturbation>], f: &[f64]) -> Vec<Evaluated<Perturbation>> {
        cands
            .iter()
            .zip(f)
            .map(|(c, &v)| Evaluated {
                id: c.id,
                genome: c.genome,
                outcome: Outcome::Ok(Evaluation::value(v)),
            })
            .collect()
    }

    /// The module doc's `g_μ`, `g_σ` in EvoTorch's form: `δ = σ ε`, `(δ² − σ²)/σ`.
    fn dense_gradients(
        s: &Pgpe,
        c: &[Candidate<Perturbation>],
        u: &[f64],
        sigma: &[f64],
    ) -> (Vec<f64>, Vec<f64>) {
        let d = sigma.len();
        let n = (c.len() / 2) as f64;
        let b = u.iter().sum::<f64>() / u.len() as f64;
        let (mut gm, mut gs) = (vec![0.0; d], vec![0.0; d]);
        for k in 0..c.len() / 2 {
            let (up, um) = (u[2 * k], u[2 * k + 1]);
            for j in 0..d {
                let e = s.table().as_slice()[c[2 * k].genome.index as usize + j] as f64;
                let delta = sigma[j] * e;
                gm[j] += (up - um) / 2.0 * delta / n;
                gs[j] +=
                    ((up + um) / 2.0 - b) * (delta * delta - sigma[j] * sigma[j]) / sigma[j] / n;
            }
        }
        (gm, gs)
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-12 * b.abs().max(1e-3)
    }

    #[test]
    fn decode_is_center_plus_signed_stdev_times_noise_bit_for_bit() {
        let space = Space::real_box(4, -5.0, 5.0);
        let cfg = PgpeConfig {
            popsize: 6,
            mean0: Some(vec![0.5, -1.0, 2.0, 0.0]),
            ..small(PgpeConfig::default())
        };
        let s = Pgpe::new(cfg, &space).unwrap();
        let mut rng = evoforge_core::stream(1, &[2]);
        let mut st = s.init(&mut rng);
        st.stdev = vec![0.3, 1.7, 0.01, 2.5];
        let c = s.ask(&mut st, &mut rng);
        assert_eq!(c.len(), 6);
        let ctx = s.context(&st);
        for pair in c.chunks(2) {
            assert_eq!(pair[0].genome.index, pair[1].genome.index);
            assert_eq!((pair[0].genome.sign, pair[1].genome.sign), (1, -1));
            for cand in pair {
                let mut x = vec![0.0; 4];
                s.decode(&ctx, &cand.genome, &mut x);
                let eps = s.table().slice(cand.genome.index as usize, 4);
                let sign = f64::from(cand.genome.sign);
                for j in 0..4 {
                    let want = ctx.center[j] + (sign * ctx.stdev[j]) * eps[j] as f64;
                    assert_eq!(x[j].to_bits(), want.to_bits());
                }
            }
        }
    }

    /// One generation with fitness `f` from a state with the given σ; returns (before, after,
    /// candidates).
    fn one_generation(
        cfg: PgpeConfig,
        sigma: &[f64],
        f: &[f64],
    ) -> (PgpeState, PgpeState, Vec<Candidate<Perturbation>>, Pgpe) {
        let space = Space::real_box(sigma.len(), -10.0, 10.0);
        let s = Pgpe::new(small(cfg), &space).unwrap();
        let mut rng = evoforge_core::stream(4, &[1]);
        let mut st = s.init(&mut rng);
        st.stdev = sigma.to_vec();
        let c = s.ask(&mut st, &mut rng);
        let before = st.clone();
        s.tell(&mut st, &told(&c, f), &mut rng).unwrap();
        (before, st, c, s)
    }

    #[test]
    fn sgd_update_matches_a_dense_computation() {
        let sigma = [0.5, 1.5, 0.9];
        let f = [4.0, 1.0, 6.0, 2.0, 5.0, 3.0];
        for shaping in [FitnessShaping::CenteredRanks, FitnessShaping::Raw] {
            let cfg = PgpeConfig {
                popsize: 6,
                optimizer: CenterOptimizer::Sgd,
                center_learning_rate: 0.3,
                stdev_learning_rate: 0.05,
                stdev_max_change: 0.9,
                fitness_shaping: shaping,
                mean0: Some(vec![1.0, -2.0, 0.5]),
                ..PgpeConfig::default()
            };
            let (before, after, c, s) = one_generation(cfg, &sigma, &f);
            let u = shape(&f, shaping);
            if shaping == FitnessShaping::CenteredRanks {
                assert_eq!(u, centered_ranks(&f));
            }
            let (gm, gs) = dense_gradients(&s, &c, &u, &sigma);
            for j in 0..3 {
                let mu = before.center[j] - 0.3 * gm[j];
                let sg = sigma[j] - 0.05 * gs[j];
                assert!(
                    close(after.center[j], mu),
                    "{shaping:?} μ{j}: {} vs {mu}",
                    after.center[j]
                );
                assert!(close(after.stdev[j], sg), "{shaping:?} σ{j}: {} vs {sg}", after.stdev[j]);
            }
        }
    }

    #[test]
    fn the_centre_moves_towards_better_members() {
        // The +δ member of every pair is better: the centre moves along Σ δ_k.
        let sigma = [1.0; 3];
        let f = [1.0, 2.0, 1.5, 3.0];
        let cfg =
            PgpeConfig { popsize: 4, optimizer: CenterOptimizer::Sgd, ..PgpeConfig::default() };
        let (before, after, c, s) = one_generation(cfg, &sigma, &f);
        let mut dir = [0.0; 3];
        for k in [0, 2] {
            for (j, dj) in dir.iter_mut().enumerate() {
                *dj += s.table().as_slice()[c[k].genome.index as usize + j] as f64;
            }
        }
        let moved: f64 = (0..3).map(|j| (after.center[j] - before.center[j]) * dir[j]).sum();
        assert!(moved > 0.0);
    }

    #[test]
    fn clipup_and_adam_steps_match_a_dense_computation() {
        let sigma = [0.5, 1.5, 0.9, 0.2];
        let f = [4.0, 1.0, 6.0, 2.0, 5.0, 3.0, 0.5, 7.0];
        let u = centered_ranks(&f);
        // ClipUp, first step: v = lr g/‖g‖ (‖v‖ = lr below max_speed = 2 lr), μ ← μ − v.
        let cfg = PgpeConfig { popsize: 8, center_learning_rate: 0.2, ..PgpeConfig::default() };
        let (before, after, c, s) = one_generation(cfg, &sigma, &f);
        let (gm, _) = dense_gradients(&s, &c, &u, &sigma);
        let gn = norm(&gm);
        for (j, &g) in gm.iter().enumerate() {
            let mu = before.center[j] - 0.2 * g / gn;
            assert!(close(after.center[j], mu), "clipup μ{j}: {} vs {mu}", after.center[j]);
        }
        // A small max_speed clips the first step to that norm.
        let cfg = PgpeConfig {
            popsize: 8,
            center_learning_rate: 0.2,
            max_speed: Some(0.05),
            ..PgpeConfig::default()
        };
        let (before, after, _, _) = one_generation(cfg, &sigma, &f);
        let step: Vec<f64> = (0..4).map(|j| after.center[j] - before.center[j]).collect();
        assert!((norm(&step) - 0.05).abs() < 1e-15);
        for (&st, &g) in step.iter().zip(&gm) {
            assert!(close(-st, 0.05 * g / gn));
        }
        // Adam, first step: m̂ = g, v̂ = g², so μ ← μ − lr g/(|g| + ε).
        let cfg = PgpeConfig {
            popsize: 8,
            center_learning_rate: 0.2,
            optimizer: CenterOptimizer::Adam,
            ..PgpeConfig::default()
        };
        let (before, after, _, _) = one_generation(cfg, &sigma, &f);
        for (j, &g) in gm.iter().enumerate() {
            let mu = before.center[j] - 0.2 * g / (g.abs() + 1e-8);
            assert!(close(after.center[j], mu), "adam μ{j}: {} vs {mu}", after.center[j]);
        }
    }

    #[test]
    fn stdev_change_is_limited_relative_to_stdev() {
        let sigma = [0.5, 1.5, 0.9, 0.2];
        let f = [4.0, 1.0, 6.0, 2.0, 5.0, 3.0, 0.5, 7.0];
        let cfg = PgpeConfig { popsize: 8, stdev_learning_rate: 1e6, ..PgpeConfig::default() };
        let (_, after, c, s) = one_generation(cfg, &sigma, &f);
        let (_, gs) = dense_gradients(&s, &c, &centered_ranks(&f), &sigma);
        for j in 0..4 {
            // A huge step in the gradient's direction, cut to ±20 %.
            let want = if gs[j] > 0.0 { 0.8 * sigma[j] } else { 1.2 * sigma[j] };
            assert!(close(after.stdev[j], want), "σ{j}: {} vs {want}", after.stdev[j]);
        }
    }

    #[test]
    fn a_generation_of_ties_moves_nothing() {
        let cfg = PgpeConfig { popsize: 8, ..PgpeConfig::default() };
        let (before, after, _, _) = one_generation(cfg, &[1.0; 3], &[f64::INFINITY; 8]);
        assert_eq!(before.center, after.center);
        assert_eq!(before.stdev, after.stdev);
        assert!(after.best.is_none());
    }

    #[test]
    fn config_is_validated() {
        let space = Space::real_box(3, -1.0, 1.0);
        let err = |c: PgpeConfig| Pgpe::new(small(c), &space).unwrap_err().field;
        let d = PgpeConfig::default;
        assert_eq!(err(PgpeConfig { popsize: 5, ..d() }), "popsize");
        assert_eq!(err(PgpeConfig { popsize: 0, ..d() }), "popsize");
        assert_eq!(err(PgpeConfig { center_learning_rate: 0.0, ..d() }), "center_learning_rate");
        assert_eq!(err(PgpeConfig { stdev_init: -1.0, ..d() }), "stdev_init");
        assert_eq!(err(PgpeConfig { stdev_learning_rate: f64::NAN, ..d() }), "stdev_learning_rate");
        assert_eq!(err(PgpeConfig { stdev_max_change: 1.0, ..d() }), "stdev_max_change");
        assert_eq!(err(PgpeConfig { stdev_max_change: 0.0, ..d() }), "stdev_max_change");
        assert_eq!(err(PgpeConfig { momentum: Some(1.0), ..d() }), "momentum");
        assert_eq!(err(PgpeConfig { max_speed: Some(0.0), ..d() }), "max_speed");
        assert_eq!(err(PgpeConfig { beta1: 1.0, ..d() }), "beta1");
        assert_eq!(err(PgpeConfig { beta2: -0.1, ..d() }), "beta2");
        assert_eq!(err(PgpeConfig { epsilon: 0.0, ..d() }), "epsilon");
        assert_eq!(err(PgpeConfig { mean0: Some(vec![0.0; 2]), ..d() }), "mean0");
        let e = Pgpe::new(PgpeConfig { noise_len: 3, ..d() }, &space).unwrap_err();
        assert_eq!(e.field, "noise_len");
        let cfg: Result<PgpeConfig, _> = serde_json::from_str(r#"{"stdev_init": 0.1, "x": 1}"#);
        assert!(cfg.is_err());
        let cfg: Result<PgpeConfig, _> = serde_json::from_str(r#"{"optimizer": "lion"}"#);
        assert!(cfg.is_err());
        let cfg: PgpeConfig =
            serde_json::from_str(r#"{"optimizer": "adam", "fitness_shaping": "raw"}"#).unwrap();
        assert_eq!(
            (cfg.optimizer, cfg.fitness_shaping),
            (CenterOptimizer::Adam, FitnessShaping::Raw)
        );
        // Resolved defaults: ClipUp momentum 0.9 and max speed 2 lr; SGD momentum 0.
        let s = Pgpe::new(small(d()), &space).unwrap();
        assert_eq!((s.momentum, s.max_speed), (0.9, 0.02));
        let s = Pgpe::new(small(PgpeConfig { optimizer: CenterOptimizer::Sgd, ..d() }), &space)
            .unwrap();
        assert_eq!(s.momentum, 0.0);
    }

    #[test]
    fn every_optimizer_descends_the_sphere() {
        let d = 10;
        let space = Space::real_box(d, -10.0, 10.0);
        for (opt, lr) in [
            (CenterOptimizer::Clipup, 0.1),
            (CenterOptimizer::Adam, 0.1),
            (CenterOptimizer::Sgd, 1.0),
        ] {
            let cfg = PgpeConfig {
                popsize: 32,
                optimizer: opt,
                center_learning_rate: lr,
                stdev_init: 0.5,
                mean0: Some(vec![3.0; d]),
                ..small(PgpeConfig::default())
            };
            let s = Pgpe::new(cfg, &space).unwrap();
            let mut st = conformance::fresh(&s, 3).unwrap();
            let f0 = sphere(st.center());
            for g in 0..200 {
                conformance::step(&s, &space, &mut st, 3, g, &sphere).unwrap();
            }
            let f = sphere(st.center());
            assert!(f <= f0 / 100.0, "{opt:?}: f(μ) {f0} → {f}");
        }
    }
}
