//! SNES, separable natural evolution strategies: Schaul, Glasmachers & Schmidhuber (2011),
//! "High Dimensions and Heavy Tails for Natural Evolution Strategies", GECCO 2011 (the SNES
//! algorithm and its default parameters, also listed in Wierstra et al. 2014, "Natural
//! Evolution Strategies", JMLR 15:949–980), with noise-table genomes as [`crate::openai_es`].
//!
//! # Search distribution and genomes
//!
//! The search distribution is `N(μ, diag(σ²))` with one `σ_j` per coordinate. Member `k` is
//! `x_k = μ + σ ⊙ z_k` with `z_k = s_k · ε[i_k .. i_k + d]`, `ε` the shared [`NoiseTable`]
//! (built once in [`Snes::new`], never part of the state), `i_k` a start index and
//! `s_k ∈ {+1, −1}`. The genome is only `(i_k, s_k)` ([`Perturbation`]); the per-generation
//! context is `μ` and the vector `σ` ([`SnesContext`]), so a worker holding the same table
//! rebuilds any member from a few bytes: [`decode_diagonal`] computes
//! `x_j = μ_j + (s·σ_j)·ε_j` with one rounded multiply and one rounded add per coordinate (as
//! [`NoiseTable::axpy`]; `s·σ_j` is exact), so numpy's `mu + (s*sigma) * eps.astype(f64)` gives
//! the same bits.
//!
//! # Update (the paper's, for minimisation)
//!
//! The `λ` members are sorted by fitness, best (smallest) first, and member of rank `k`
//! (`k = 1` best) gets the utility
//!
//! ```text
//! u_k = max(0, ln(λ/2 + 1) − ln k) / Σ_l max(0, ln(λ/2 + 1) − ln l)  −  1/λ      (Σ_k u_k = 0)
//! ∇μ = Σ_k u_k z_k            ∇σ = Σ_k u_k (z_k² − 1)                (element-wise)
//! μ ← μ + η_μ · σ ⊙ ∇μ        σ ← σ ⊙ exp(η_σ/2 · ∇σ)
//! ```
//!
//! (`μ` is moved with the `σ` of the generation that was sampled.) Members with equal fitness
//! share the mean of their utilities, so the utilities still sum to 0 and a generation that
//! failed completely (all `+inf`; NaN ranks as `+inf`) leaves `μ` and `σ` unchanged. evosax
//! instead indexes the utility table with the truncated average rank. After the update `μ` is
//! clipped into the box of the space, as in OpenAI-ES: samples are repaired into the box by the
//! study anyway, and a mean outside it would only see clamped (flat) fitness.
//!
//! # Defaults (`d` the dimension)
//!
//! * `popsize`: `λ = 4 + ⌊3 ln d⌋` (the paper), rounded up to even when `mirrored`.
//! * `lr_mean`: `η_μ = 1` (the paper).
//! * `lr_sigma`: `η_σ = (3 + ln d)/(5 √d)` (the paper).
//! * `sigma0`: `1.0`, evosax's `std_init` (the paper leaves the initial σ to the problem).
//! * `mean0`: 0 where 0 lies in the bounds, else the box centre (as OpenAI-ES).
//! * `noise_seed 0`, `noise_len 2^25`: as OpenAI-ES, so the two can share one table.
//!
//! These match evosax 0.3.2 `SNES` (`get_weights`, `lr_std_init`, `std * exp(0.5 · lr_std ·
//! grad_std)`, an SGD step of 1 on the mean) and EvoTorch's `SNES` (`nes` ranking, the same
//! population size and `0.2 (3 + ln d)/√d`).
//!
//! # Deviation: mirrored sampling
//!
//! The paper draws `λ` independent `z_k`. With `mirrored: true` (the default) members `2k` and
//! `2k + 1` share one noise index with signs `+1` and `−1` (mirrored sampling, Brockhoff,
//! Auger, Hansen, Arnold & Hohm 2010, "Mirrored Sampling and Sequential Selection for
//! Evolution Strategies", PPSN XI), as OpenAI-ES here does. It halves the table reads, cancels
//! the odd terms of the estimate of `∇μ`, and lets one index describe a pair; the pair shares
//! `z²`, so `∇σ` sees `λ/2` independent directions. Because of the pairs, `popsize` must be
//! even. `mirrored: false` gives the paper's independent sampling (each member its own index,
//! sign `+1`, any `λ ≥ 2`). Either way the `z_k` come from overlapping slices of one finite
//! table of `f32` normals, not from fresh draws: the same approximation as OpenAI-ES.
//!
//! `best()` returns the genome and fitness of the best member seen; that genome is relative to
//! its own generation's `μ` and `σ`, so the state also keeps the point itself
//! ([`SnesState::best_x`], repaired into the box as it was evaluated). A new `ask` before the
//! pending generation is complete discards it. Not done: the heavy-tailed (Cauchy) sampling of
//! the same paper, restarts, and importance mixing (Wierstra et al. 2014).
use evoforge_core::{
    Candidate, ConfigError, Describe, Evaluated, Metrics, NoiseTable, ParamDoc, Rng, Space,
    Strategy, TellError,
};
use serde::{Deserialize, Serialize};

use crate::openai_es::Perturbation;
use crate::util::{
    Batch, BestMember, accept_and_track, check_mean0, check_noise_len, clip_into, default_mean0,
    nf, numbered, perturbations, positive, tell_metrics,
};

/// Configuration of [`Snes`] (YAML `kind: snes`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SnesConfig {
    /// Members per generation `λ`; `None`: `4 + ⌊3 ln d⌋`, rounded up to even when mirrored.
    pub popsize: Option<usize>,
    /// Initial σ of every coordinate.
    pub sigma0: f64,
    /// Learning rate `η_μ` of the mean.
    pub lr_mean: f64,
    /// Learning rate `η_σ` of σ; `None`: `(3 + ln d)/(5 √d)`.
    pub lr_sigma: Option<f64>,
    /// Mirrored pairs (members `2k`, `2k + 1` share a noise index with opposite signs).
    pub mirrored: bool,
    /// Initial mean; default 0 per coordinate where 0 is in the bounds, else the box centre.
    pub mean0: Option<Vec<f64>>,
    /// Seed of the noise table.
    pub noise_seed: u64,
    /// Values in the noise table (f32 each); must exceed the dimension.
    pub noise_len: usize,
}

impl Default for SnesConfig {
    fn default() -> Self {
        Self {
            popsize: None,
            sigma0: 1.0,
            lr_mean: 1.0,
            lr_sigma: None,
            mirrored: true,
            mean0: None,
            noise_seed: 0,
            noise_len: 1 << 25,
        }
    }
}

impl Describe for SnesConfig {
    const KIND: &'static str = Snes::NAME;
    const SUMMARY: &'static str =
        "SNES (Schaul et al. 2011): separable natural ES, noise-table genomes, rank utilities";
    fn params() -> Vec<ParamDoc> {
        vec![
            ParamDoc::opt(
                "popsize",
                "int",
                "null",
                "members per generation; null: 4 + floor(3 ln d), even if mirrored",
            ),
            ParamDoc::opt("sigma0", "float", "1.0", "initial sigma of every coordinate"),
            ParamDoc::opt("lr_mean", "float", "1.0", "learning rate of the mean"),
            ParamDoc::opt(
                "lr_sigma",
                "float",
                "null",
                "learning rate of sigma; null: (3 + ln d)/(5 sqrt d)",
            ),
            ParamDoc::opt("mirrored", "bool", "true", "mirrored pairs share a noise index"),
            ParamDoc::opt("mean0", "[float]", "null", "initial mean; null: 0, or box centre"),
            ParamDoc::opt("noise_seed", "int", "0", "seed of the shared noise table"),
            ParamDoc::opt("noise_len", "int", "33554432", "noise table length (f32 values)"),
        ]
    }
}

/// What [`Snes::decode`] needs besides the genome: the mean and σ of the generation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SnesContext {
    /// The mean μ.
    #[serde(with = "nf::vec")]
    pub mean: Vec<f64>,
    /// Per-coordinate standard deviations.
    #[serde(with = "nf::vec")]
    pub sigma: Vec<f64>,
}

/// SNES over the continuous encoding of the space.
#[derive(Debug, Clone)]
pub struct Snes {
    config: SnesConfig,
    space: Space,
    table: NoiseTable,
    mean0: Vec<f64>,
    popsize: usize,
    lr_sigma: f64,
    /// `u_k` by rank, best first.
    utilities: Vec<f64>,
}

/// State of [`Snes`]: mean, σ, pending generation, best member.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SnesState {
    next_id: u64,
    generation: u64,
    #[serde(with = "nf::vec")]
    mean: Vec<f64>,
    #[serde(with = "nf::vec")]
    sigma: Vec<f64>,
    /// Fitness per member of the pending generation.
    batch: Batch,
    /// Genomes of the pending generation, by slot.
    pending: Vec<Perturbation>,
    best: Option<BestMember<Perturbation>>,
}

impl SnesState {
    /// The best point evaluated so far (genomes are relative to their generation's mean).
    pub fn best_x(&self) -> Option<&[f64]> {
        self.best.as_ref().map(|b| b.x.as_slice())
    }
    /// The current mean μ.
    pub fn mean(&self) -> &[f64] {
        &self.mean
    }
    /// The current per-coordinate σ.
    pub fn sigma(&self) -> &[f64] {
        &self.sigma
    }
    /// Generations completed.
    pub fn generation(&self) -> u64 {
        self.generation
    }
}

/// `out = mean + s·σ ⊙ ε[g.index .. g.index + d]`: per coordinate `mean_j + (s·σ_j)·ε_j`, the
/// noise widened to `f64`, one rounded multiply and one rounded add, never fused.
pub fn decode_diagonal(
    table: &NoiseTable,
    mean: &[f64],
    sigma: &[f64],
    g: &Perturbation,
    out: &mut [f64],
) {
    let s = f64::from(g.sign);
    let eps = table.slice(g.index as usize, out.len());
    for (((o, &m), &sg), &e) in out.iter_mut().zip(mean).zip(sigma).zip(eps) {
        *o = m + (s * sg) * f64::from(e);
    }
}

/// The paper's default population size `4 + ⌊3 ln d⌋`, rounded up to even when `mirrored`.
pub fn default_popsize(d: usize, mirrored: bool) -> usize {
    let n = 4 + (3.0 * (d.max(1) as f64).ln()).floor() as usize;
    if mirrored { n + n % 2 } else { n }
}

/// The paper's default σ learning rate `(3 + ln d)/(5 √d)`.
pub fn default_lr_sigma(d: usize) -> f64 {
    let d = d.max(1) as f64;
    (3.0 + d.ln()) / (5.0 * d.sqrt())
}

/// Utilities `u_k` by rank for `n` members, best (`k = 1`) first:
/// `max(0, ln(n/2 + 1) − ln k) / Σ − 1/n`. They sum to 0.
pub fn utilities(n: usize) -> Vec<f64> {
    let top = (n as f64 / 2.0 + 1.0).ln();
    let raw: Vec<f64> = (1..=n).map(|k| (top - (k as f64).ln()).max(0.0)).collect();
    let total: f64 = raw.iter().sum();
    let inv_n = 1.0 / n as f64;
    raw.iter().map(|r| r / total - inv_n).collect()
}

/// Utility of each member for fitness values `f` (smaller is better, NaN ranks as `+inf`):
/// `by_rank[r]` for the member of rank `r` (0 = best), members with equal fitness sharing the
/// mean of their ranks' utilities.
pub fn rank_utilities(f: &[f64], by_rank: &[f64]) -> Vec<f64> {
    let n = f.len();
    let key = |v: f64| if v.is_nan() { f64::INFINITY } else { v };
    let mut idx: Vec<usize> = (0..n).collect();
    idx.sort_by(|&a, &b| key(f[a]).total_cmp(&key(f[b])).then(a.cmp(&b)));
    let mut u = vec![0.0; n];
    let mut start = 0;
    while start < n {
        let mut end = start + 1;
        while end < n && key(f[idx[end]]) == key(f[idx[start]]) {
            end += 1;
        }
        // One group of everything shares the mean of all utilities, exactly 0 (a rounded sum
        // would move μ by a few ulps on a generation that carries no information).
        let share = if end - start == n {
            0.0
        } else {
            by_rank[start..end].iter().sum::<f64>() / (end - start) as f64
        };
        for &i in &idx[start..end] {
            u[i] = share;
        }
        start = end;
    }
    u
}

/// `(Σ_k u_k z_k, Σ_k u_k (z_k² − 1))` with `z_k = s_k ε[i_k ..]`, from table slices.
/// Consecutive members sharing an index (a mirrored pair) cost one pass over the slice.
pub fn natural_gradients(
    table: &NoiseTable,
    genomes: &[Perturbation],
    u: &[f64],
    d: usize,
) -> (Vec<f64>, Vec<f64>) {
    let mut g_mean = vec![0.0; d];
    let mut g_sigma = vec![0.0; d];
    let mut k = 0;
    while k < genomes.len() {
        let p = genomes[k];
        // u·z = (u s) ε and u (z² − 1) = u (ε² − 1): the pair's terms add up before the pass.
        let mut a = u[k] * f64::from(p.sign);
        let mut b = u[k];
        let mut next = k + 1;
        if let Some(q) = genomes.get(k + 1).filter(|q| q.index == p.index) {
            a += u[k + 1] * f64::from(q.sign);
            b += u[k + 1];
            next = k + 2;
        }
        if a != 0.0 || b != 0.0 {
            let eps = table.slice(p.index as usize, d);
            for ((gm, gs), &e) in g_mean.iter_mut().zip(&mut g_sigma).zip(eps) {
                let e = f64::from(e);
                *gm += a * e;
                *gs += b * (e * e - 1.0);
            }
        }
        k = next;
    }
    (g_mean, g_sigma)
}

fn norm(x: &[f64]) -> f64 {
    x.iter().map(|v| v * v).sum::<f64>().sqrt()
}

/// `sigma_mean`, `sigma_min`, `sigma_max` of a σ vector.
pub(crate) fn sigma_metrics(m: &mut Metrics, sigma: &[f64]) {
    let n = sigma.len().max(1) as f64;
    m.insert("sigma_mean".into(), sigma.iter().sum::<f64>() / n);
    m.insert("sigma_min".into(), sigma.iter().copied().fold(f64::INFINITY, f64::min));
    m.insert("sigma_max".into(), sigma.iter().copied().fold(f64::NEG_INFINITY, f64::max));
}

impl Snes {
    /// The noise table the genomes index.
    pub fn table(&self) -> &NoiseTable {
        &self.table
    }

    /// The population size in use (the default resolved).
    pub fn popsize(&self) -> usize {
        self.popsize
    }

    /// The σ learning rate in use (the default resolved).
    pub fn lr_sigma(&self) -> f64 {
        self.lr_sigma
    }

    /// The point member `p` of the current generation was (repaired into the box).
    fn point(&self, mean: &[f64], sigma: &[f64], p: &Perturbation) -> Vec<f64> {
        let mut x = vec![0.0; mean.len()];
        decode_diagonal(&self.table, mean, sigma, p, &mut x);
        self.space.repair(&mut x);
        x
    }

    /// The natural-gradient step at the end of a complete generation; returns the metrics.
    fn update(&self, s: &mut SnesState) -> Metrics {
        let f = s.batch.values();
        let u = rank_utilities(&f, &self.utilities);
        let d = self.space.dim();
        let (g_mean, g_sigma) = natural_gradients(&self.table, &s.pending, &u, d);
        let (lr_m, half_lr_s) = (self.config.lr_mean, 0.5 * self.lr_sigma);
        for (((m, sg), &gm), &gs) in s.mean.iter_mut().zip(&mut s.sigma).zip(&g_mean).zip(&g_sigma)
        {
            *m += lr_m * *sg * gm;
            *sg *= (half_lr_s * gs).exp();
        }
        clip_into(&self.space, &mut s.mean);
        s.generation += 1;
        let mut m = Metrics::new();
        sigma_metrics(&mut m, &s.sigma);
        m.insert("mean_norm".into(), norm(&s.mean));
        let finite: Vec<f64> = f.iter().copied().filter(|v| v.is_finite()).collect();
        if !finite.is_empty() {
            m.insert("mean_fitness".into(), finite.iter().sum::<f64>() / finite.len() as f64);
        }
        m
    }
}

impl Strategy for Snes {
    const NAME: &'static str = "snes";
    // Genomes are noise indices: the study journals and ships them, not the points.
    const COMPACT: bool = true;
    type Config = SnesConfig;
    type State = SnesState;
    type Genome = Perturbation;
    type Context = SnesContext;

    fn new(config: Self::Config, space: &Space) -> Result<Self, ConfigError> {
        space.check()?;
        let c = &config;
        let d = space.dim();
        let popsize = c.popsize.unwrap_or_else(|| default_popsize(d, c.mirrored));
        if popsize < 2 {
            return Err(ConfigError::new("popsize", format!("must be at least 2, got {popsize}")));
        }
        if c.mirrored && popsize % 2 != 0 {
            return Err(ConfigError::new(
                "popsize",
                format!("must be even with mirrored sampling (pairs), got {popsize}"),
            ));
        }
        positive("sigma0", c.sigma0)?;
        positive("lr_mean", c.lr_mean)?;
        let lr_sigma = c.lr_sigma.unwrap_or_else(|| default_lr_sigma(d));
        positive("lr_sigma", lr_sigma)?;
        check_mean0(&c.mean0, space)?;
        check_noise_len(c.noise_len, d)?;
        let mean0 = c.mean0.clone().unwrap_or_else(|| default_mean0(space));
        let table = NoiseTable::new(c.noise_seed, c.noise_len);
        let utilities = utilities(popsize);
        Ok(Self { config, space: space.clone(), table, mean0, popsize, lr_sigma, utilities })
    }

    fn init(&self, _rng: &mut Rng) -> Self::State {
        SnesState {
            next_id: 0,
            generation: 0,
            mean: self.mean0.clone(),
            sigma: vec![self.config.sigma0; self.space.dim()],
            batch: Batch::default(),
            pending: Vec::new(),
            best: None,
        }
    }

    fn ask(&self, s: &mut Self::State, rng: &mut Rng) -> Vec<Candidate<Self::Genome>> {
        let n = self.popsize;
        let d = self.space.dim();
        s.batch = Batch::new(s.next_id, n);
        s.pending = perturbations(&self.table, rng, n, d, self.config.mirrored);
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
            self.point(&s.mean, &s.sigma, g)
        })?;
        let mut m = if s.batch.complete() { self.update(s) } else { Metrics::new() };
        tell_metrics(&mut m, failures, &s.best);
        Ok(m)
    }

    fn context(&self, s: &Self::State) -> Self::Context {
        SnesContext { mean: s.mean.clone(), sigma: s.sigma.clone() }
    }

    fn decode(&self, ctx: &Self::Context, g: &Self::Genome, out: &mut [f64]) {
        decode_diagonal(&self.table, &ctx.mean, &ctx.sigma, g, out);
    }

    fn recommend(&self, s: &Self::State) -> Option<Vec<f64>> {
        Some(s.mean.clone())
    }

    fn best(&self, s: &Self::State) -> Option<(Self::Genome, f64)> {
        s.best.as_ref().map(|b| (b.genome, b.fitness))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conformance::{self, sphere};
    use evoforge_core::{Evaluation, Outcome};

    fn small(cfg: SnesConfig) -> SnesConfig {
        SnesConfig { noise_len: 1 << 16, ..cfg }
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

    #[test]
    fn utilities_follow_the_formula_and_sum_to_zero() {
        for n in [2, 3, 4, 7, 8, 16, 101] {
            let u = utilities(n);
            let sum: f64 = u.iter().sum();
            assert!(sum.abs() < 1e-15, "n {n}: sum {sum}");
            // Non-increasing with rank; the worst half gets exactly −1/n.
            assert!(u.windows(2).all(|w| w[0] >= w[1]), "{u:?}");
            assert_eq!(u[n - 1], -1.0 / n as f64);
        }
        // λ = 4: ln 3 − ln k for k = 1, 2, 3 (0 for k = 4), normalised, minus 1/4.
        let raw = [3f64.ln(), 3f64.ln() - 2f64.ln(), 0.0, 0.0];
        let total: f64 = raw.iter().sum();
        let u = utilities(4);
        for k in 0..4 {
            assert!((u[k] - (raw[k] / total - 0.25)).abs() < 1e-15, "{k}: {u:?}");
        }
    }

    #[test]
    fn rank_utilities_rank_failures_worst_and_average_ties() {
        let by_rank = utilities(4);
        let u = rank_utilities(&[3.0, 1.0, f64::NAN, 2.0], &by_rank);
        assert_eq!(u, vec![by_rank[2], by_rank[0], by_rank[3], by_rank[1]]);
        let u = rank_utilities(&[f64::INFINITY, 1.0, f64::NAN, 1.0], &by_rank);
        let top = 0.5 * (by_rank[0] + by_rank[1]);
        let bottom = 0.5 * (by_rank[2] + by_rank[3]);
        assert_eq!(u, vec![bottom, top, bottom, top]);
        // Everything failed: all equal, summing to 0, so no update.
        let u = rank_utilities(&[f64::INFINITY; 4], &by_rank);
        assert_eq!(u, vec![0.0; 4]);
    }

    #[test]
    fn defaults_are_the_papers() {
        assert_eq!(default_popsize(1, false), 4);
        assert_eq!(default_popsize(5, false), 8); // 3 ln 5 = 4.83
        assert_eq!(default_popsize(10, false), 10); // 3 ln 10 = 6.91
        assert_eq!(default_popsize(10, true), 10);
        assert_eq!(default_popsize(100, false), 17); // 3 ln 100 = 13.8
        assert_eq!(default_popsize(100, true), 18);
        assert_eq!(default_lr_sigma(1), 0.6);
        assert!((default_lr_sigma(100) - (3.0 + 100f64.ln()) / 50.0).abs() < 1e-15);
        let s = Snes::new(small(SnesConfig::default()), &Space::real_box(100, -1.0, 1.0)).unwrap();
        assert_eq!((s.popsize(), s.lr_sigma()), (18, default_lr_sigma(100)));
    }

    #[test]
    fn decode_is_mean_plus_signed_sigma_times_noise_bit_for_bit() {
        let space = Space::real_box(4, -5.0, 5.0);
        let cfg = SnesConfig {
            popsize: Some(6),
            mean0: Some(vec![0.5, -1.0, 2.0, 0.0]),
            ..small(SnesConfig::default())
        };
        let s = Snes::new(cfg, &space).unwrap();
        let mut rng = evoforge_core::stream(1, &[2]);
        let mut st = s.init(&mut rng);
        st.sigma = vec![0.3, 1.7, 0.01, 2.5];
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
                    let want = ctx.mean[j] + (sign * ctx.sigma[j]) * eps[j] as f64;
                    assert_eq!(x[j].to_bits(), want.to_bits());
                }
            }
        }
        // Without mirroring every member has its own index, sign +1.
        let cfg = SnesConfig { popsize: Some(5), mirrored: false, ..small(SnesConfig::default()) };
        let s = Snes::new(cfg, &space).unwrap();
        let mut st = s.init(&mut rng);
        let c = s.ask(&mut st, &mut rng);
        assert_eq!(c.len(), 5);
        assert!(c.iter().all(|c| c.genome.sign == 1));
    }

    #[test]
    fn update_matches_a_dense_computation() {
        let d = 3;
        let space = Space::real_box(d, -10.0, 10.0);
        for mirrored in [true, false] {
            let cfg = SnesConfig {
                popsize: Some(6),
                mirrored,
                lr_mean: 0.7,
                mean0: Some(vec![1.0, -2.0, 0.5]),
                ..small(SnesConfig::default())
            };
            let s = Snes::new(cfg, &space).unwrap();
            let mut rng = evoforge_core::stream(4, &[1]);
            let mut st = s.init(&mut rng);
            st.sigma = vec![0.5, 1.5, 0.9];
            let (mu, sigma) = (st.mean.clone(), st.sigma.clone());
            let c = s.ask(&mut st, &mut rng);
            let f = [4.0, 1.0, 6.0, 2.0, 5.0, 3.0];
            s.tell(&mut st, &told(&c, &f), &mut rng).unwrap();
            // Rank of each member (0 best): 3, 0, 5, 1, 4, 2.
            let u_rank = utilities(6);
            let u: Vec<f64> = [3, 0, 5, 1, 4, 2].iter().map(|&r| u_rank[r]).collect();
            let eta_s = default_lr_sigma(d);
            for j in 0..d {
                let (mut gm, mut gs) = (0.0, 0.0);
                for (k, cand) in c.iter().enumerate() {
                    let z = f64::from(cand.genome.sign)
                        * s.table().as_slice()[cand.genome.index as usize + j] as f64;
                    gm += u[k] * z;
                    gs += u[k] * (z * z - 1.0);
                }
                let m = mu[j] + 0.7 * sigma[j] * gm;
                let sg = sigma[j] * (0.5 * eta_s * gs).exp();
                assert!((st.mean[j] - m).abs() <= 1e-13, "{mirrored} μ{j}: {} vs {m}", st.mean[j]);
                assert!((st.sigma[j] - sg).abs() <= 1e-13 * sg, "σ{j}: {} vs {sg}", st.sigma[j]);
            }
            assert_eq!(st.generation(), 1);
        }
    }

    #[test]
    fn a_failed_generation_changes_nothing() {
        let space = Space::real_box(3, -1.0, 1.0);
        let s = Snes::new(small(SnesConfig::default()), &space).unwrap();
        let mut rng = evoforge_core::stream(0, &[]);
        let mut st = s.init(&mut rng);
        let c = s.ask(&mut st, &mut rng);
        let results: Vec<_> = c
            .iter()
            .map(|c| Evaluated {
                id: c.id,
                genome: c.genome,
                outcome: Outcome::Failed("worker crashed".into()),
            })
            .collect();
        let m = s.tell(&mut st, &results, &mut rng).unwrap();
        assert_eq!(m["failures"], c.len() as f64);
        assert_eq!(st.mean, vec![0.0; 3]);
        assert_eq!(st.sigma, vec![1.0; 3]);
        assert!(s.best(&st).is_none());
        assert_eq!(st.generation(), 1);
    }

    #[test]
    fn config_is_validated() {
        let space = Space::real_box(3, -1.0, 1.0);
        let err = |c: SnesConfig| Snes::new(small(c), &space).unwrap_err().field;
        let d = SnesConfig::default;
        assert_eq!(err(SnesConfig { popsize: Some(5), ..d() }), "popsize");
        assert_eq!(err(SnesConfig { popsize: Some(1), mirrored: false, ..d() }), "popsize");
        assert!(
            Snes::new(small(SnesConfig { popsize: Some(5), mirrored: false, ..d() }), &space)
                .is_ok()
        );
        assert_eq!(err(SnesConfig { sigma0: 0.0, ..d() }), "sigma0");
        assert_eq!(err(SnesConfig { sigma0: f64::INFINITY, ..d() }), "sigma0");
        assert_eq!(err(SnesConfig { lr_mean: -1.0, ..d() }), "lr_mean");
        assert_eq!(err(SnesConfig { lr_sigma: Some(f64::NAN), ..d() }), "lr_sigma");
        assert_eq!(err(SnesConfig { mean0: Some(vec![0.0; 2]), ..d() }), "mean0");
        assert_eq!(err(SnesConfig { mean0: Some(vec![0.0, 3.0, 0.0]), ..d() }), "mean0[1]");
        let e = Snes::new(SnesConfig { noise_len: 3, ..d() }, &space).unwrap_err();
        assert_eq!(e.field, "noise_len");
        let cfg: Result<SnesConfig, _> = serde_json::from_str(r#"{"sigma0": 0.1, "x": 1}"#);
        assert!(cfg.is_err());
        let cfg: SnesConfig =
            serde_json::from_str(r#"{"popsize": 12, "mirrored": false}"#).unwrap();
        assert_eq!((cfg.popsize, cfg.mirrored), (Some(12), false));
        // The default centre: 0 where 0 is in the bounds, else the box centre.
        let s = Snes::new(small(d()), &Space::real_bounds(&[-1.0, 2.0], &[1.0, 4.0])).unwrap();
        assert_eq!(s.init(&mut evoforge_core::stream(0, &[])).mean, vec![0.0, 3.0]);
    }

    #[test]
    fn sigma_shrinks_and_the_mean_converges_on_the_sphere() {
        let d = 10;
        let space = Space::real_box(d, -10.0, 10.0);
        for mirrored in [true, false] {
            let cfg =
                SnesConfig { mirrored, mean0: Some(vec![3.0; d]), ..small(SnesConfig::default()) };
            let s = Snes::new(cfg, &space).unwrap();
            let mut st = conformance::fresh(&s, 3).unwrap();
            for g in 0..400 {
                conformance::step(&s, &space, &mut st, 3, g, &sphere).unwrap();
            }
            assert!(sphere(st.mean()) < 1e-8, "{mirrored}: f(μ) = {}", sphere(st.mean()));
            assert!(st.sigma().iter().all(|&v| v < 1e-3), "{mirrored}: σ = {:?}", st.sigma());
        }
    }
}
