//! Gaussian hill climbing: each generation samples λ points around the best point found so far,
//! with a step size that follows a fixed schedule (no success rule).
//!
//! This is the "Gaussian Hill Climbing" baseline of Lange, Tian & Tang (2024), "Large Language
//! Models As Evolution Strategies" (arXiv 2402.18381), as evosax implements it
//! (`evosax.algorithms.HillClimbing`: the mean is the best solution so far, the standard deviation
//! comes from a schedule, constant by default):
//!
//! ```text
//!   generation 0:   x_k ~ U(lo, hi)                         (or mean0 + σ_0 w ε_k)
//!   generation g:   x_k = clip(x_best + σ_g · w ⊙ ε_k),  ε_k ~ N(0, I),  k = 1..λ
//!                   σ_{g+1} = max(σ_g · sigma_decay, sigma_min)
//! ```
//!
//! `w` is the width of each coordinate's range, so σ is a fraction of the box. The defaults
//! (λ = 8, σ_0 = 0.2, decay 0.9, floor 0.002) are those of `kind: evollm`: with them this
//! strategy is EvoLLM with the language model replaced by "propose the best point so far",
//! the ablation that shows what the model adds. Unlike the (1+1)-ES (`kind: one_plus_one`) it
//! never adapts σ to its success rate.
use evoforge_core::{
    Candidate, ConfigError, Describe, Evaluated, Metrics, ParamDoc, Rng, Space, Strategy, TellError,
};
use rand::RngExt;
use rand_distr::StandardNormal;
use serde::{Deserialize, Serialize};

use crate::util::{Batch, check_mean0, improve_best, nf, positive, uniform_in};

/// Configuration of [`HillClimbing`] (YAML `kind: hill_climbing`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HillClimbingConfig {
    /// Candidates per generation (λ).
    pub popsize: usize,
    /// Initial σ, a fraction of each coordinate's range.
    pub sigma0: f64,
    /// Factor applied to σ after each generation (1 keeps it constant).
    pub sigma_decay: f64,
    /// Floor of σ, a fraction of each coordinate's range.
    pub sigma_min: f64,
    /// Centre of the first generation; default: the first generation is uniform in the bounds.
    pub mean0: Option<Vec<f64>>,
}

impl Default for HillClimbingConfig {
    fn default() -> Self {
        Self { popsize: 8, sigma0: 0.2, sigma_decay: 0.9, sigma_min: 0.002, mean0: None }
    }
}

impl Describe for HillClimbingConfig {
    const KIND: &'static str = HillClimbing::NAME;
    const SUMMARY: &'static str =
        "Gaussian hill climbing: λ samples around the best point, scheduled σ (evosax)";
    fn params() -> Vec<ParamDoc> {
        let d = Self::default();
        vec![
            ParamDoc::opt("popsize", "int", d.popsize, "candidates per generation"),
            ParamDoc::opt("sigma0", "float", d.sigma0, "initial sigma, fraction of each range"),
            ParamDoc::opt("sigma_decay", "float", d.sigma_decay, "sigma factor per generation"),
            ParamDoc::opt("sigma_min", "float", d.sigma_min, "floor of sigma, fraction of range"),
            ParamDoc::opt(
                "mean0",
                "[float]",
                "null",
                "centre of the first generation; null: uniform in the bounds",
            ),
        ]
    }
}

/// Gaussian hill climbing around the best point so far.
#[derive(Debug, Clone)]
pub struct HillClimbing {
    config: HillClimbingConfig,
    space: Space,
}

/// State of [`HillClimbing`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HillClimbingState {
    next_id: u64,
    /// Current σ (fraction of each range).
    sigma: f64,
    batch: Batch,
    #[serde(with = "nf::best")]
    best: Option<(Vec<f64>, f64)>,
}

impl Strategy for HillClimbing {
    const NAME: &'static str = "hill_climbing";
    type Config = HillClimbingConfig;
    type State = HillClimbingState;
    type Genome = Vec<f64>;
    type Context = ();

    fn new(config: Self::Config, space: &Space) -> Result<Self, ConfigError> {
        space.check()?;
        if config.popsize == 0 {
            return Err(ConfigError::new("popsize", "must be at least 1"));
        }
        positive("sigma0", config.sigma0)?;
        if !(config.sigma_decay > 0.0 && config.sigma_decay <= 1.0) {
            return Err(ConfigError::new(
                "sigma_decay",
                format!("must be in (0, 1], got {}", config.sigma_decay),
            ));
        }
        if !(config.sigma_min >= 0.0 && config.sigma_min <= config.sigma0) {
            return Err(ConfigError::new(
                "sigma_min",
                format!("must be in [0, sigma0], got {}", config.sigma_min),
            ));
        }
        check_mean0(&config.mean0, space)?;
        Ok(Self { config, space: space.clone() })
    }

    fn init(&self, _rng: &mut Rng) -> Self::State {
        HillClimbingState {
            next_id: 0,
            sigma: self.config.sigma0,
            batch: Batch::default(),
            best: None,
        }
    }

    fn ask(&self, s: &mut Self::State, rng: &mut Rng) -> Vec<Candidate<Self::Genome>> {
        let n = self.config.popsize;
        let centre = s.best.as_ref().map(|(x, _)| x.clone()).or_else(|| self.config.mean0.clone());
        let out = (0..n as u64)
            .map(|k| {
                let genome = match &centre {
                    None => uniform_in(&self.space, rng),
                    Some(m) => m
                        .iter()
                        .zip(self.space.dims())
                        .map(|(&v, d)| {
                            let e = rng.sample::<f64, _>(StandardNormal);
                            (v + s.sigma * (d.hi - d.lo) * e).clamp(d.lo, d.hi)
                        })
                        .collect(),
                };
                Candidate { id: s.next_id + k, genome }
            })
            .collect();
        s.batch = Batch::new(s.next_id, n);
        s.next_id += n as u64;
        out
    }

    fn tell(
        &self,
        s: &mut Self::State,
        results: &[Evaluated<Self::Genome>],
        _rng: &mut Rng,
    ) -> Result<Metrics, TellError> {
        s.batch.accept(results)?;
        let mut failures = 0.0;
        for r in results {
            if r.failed() {
                failures += 1.0;
            }
            improve_best(&mut s.best, &r.genome, r.fitness());
        }
        let mut m = Metrics::new();
        if s.batch.complete() {
            // After every generation, the uniform first one included, as `kind: evollm` does.
            s.sigma = (s.sigma * self.config.sigma_decay).max(self.config.sigma_min);
        }
        m.insert("failures".into(), failures);
        m.insert("sigma".into(), s.sigma);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conformance;
    use evoforge_core::stream;

    #[test]
    fn samples_centre_on_the_best_point_and_sigma_follows_the_schedule() {
        let space = Space::real_box(2, -1.0, 1.0);
        let cfg = HillClimbingConfig { popsize: 400, ..Default::default() };
        let s = HillClimbing::new(cfg, &space).unwrap();
        let mut rng = stream(1, &[1]);
        let mut st = s.init(&mut rng);
        let f = |x: &[f64]| (x[0] - 0.5).powi(2) + (x[1] + 0.25).powi(2);
        let mut sigmas = vec![];
        for _ in 0..4 {
            let asked = s.ask(&mut st, &mut rng);
            let results = conformance::evaluate(&s, &st, &space, &asked, &f);
            let m = s.tell(&mut st, &results, &mut rng).unwrap();
            sigmas.push(m["sigma"]);
        }
        let expect: Vec<f64> = (1..=4).map(|g| 0.2 * 0.9f64.powi(g)).collect();
        for (a, b) in sigmas.iter().zip(&expect) {
            assert!((a - b).abs() < 1e-15, "{sigmas:?} vs {expect:?}");
        }
        // The next generation is centred on the best point with σ·width per coordinate.
        let best = s.best(&st).unwrap().0;
        let asked = s.ask(&mut st, &mut rng);
        let n = asked.len() as f64;
        for (i, &b) in best.iter().enumerate() {
            let mean = asked.iter().map(|c| c.genome[i]).sum::<f64>() / n;
            let var = asked.iter().map(|c| (c.genome[i] - mean).powi(2)).sum::<f64>() / n;
            let sd = st.sigma * 2.0;
            // 400 draws: the mean is within 4 standard errors, the std within 15%.
            assert!((mean - b).abs() < 4.0 * sd / n.sqrt(), "{i}: {mean} vs {b}");
            assert!((var.sqrt() / sd - 1.0).abs() < 0.15, "{i}: {} vs {sd}", var.sqrt());
        }
    }

    #[test]
    fn bad_configuration_names_the_field() {
        let space = Space::real_box(2, -1.0, 1.0);
        let bad = |c: HillClimbingConfig| HillClimbing::new(c, &space).unwrap_err().field;
        let d = HillClimbingConfig::default;
        assert_eq!(bad(HillClimbingConfig { popsize: 0, ..d() }), "popsize");
        assert_eq!(bad(HillClimbingConfig { sigma0: 0.0, ..d() }), "sigma0");
        assert_eq!(bad(HillClimbingConfig { sigma_decay: 1.5, ..d() }), "sigma_decay");
        assert_eq!(bad(HillClimbingConfig { sigma_min: 0.3, ..d() }), "sigma_min");
        assert_eq!(bad(HillClimbingConfig { mean0: Some(vec![0.0]), ..d() }), "mean0");
    }
}
