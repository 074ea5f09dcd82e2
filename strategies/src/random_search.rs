//! Pure random search: every candidate is drawn uniformly in the bounds of the space,
//! independently of everything seen so far (Brooks 1958; Bergstra & Bengio 2012, JMLR 13,
//! "Random Search for Hyper-Parameter Optimization").
//!
//! It is the baseline every other strategy has to beat, and a sanity check of the study
//! machinery: its `tell` only records the best point.
use evoforge_core::{
    Candidate, ConfigError, Describe, Evaluated, Metrics, ParamDoc, Rng, Space, Strategy, TellError,
};
use serde::{Deserialize, Serialize};

use crate::util::{Batch, improve_best, nf, uniform_in};

/// Configuration of [`RandomSearch`] (YAML `kind: random`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RandomSearchConfig {
    /// Candidates per `ask`.
    pub popsize: usize,
}

impl Default for RandomSearchConfig {
    fn default() -> Self {
        Self { popsize: 16 }
    }
}

impl Describe for RandomSearchConfig {
    const KIND: &'static str = RandomSearch::NAME;
    const SUMMARY: &'static str = "uniform random sampling in the bounds (baseline)";
    fn params() -> Vec<ParamDoc> {
        vec![ParamDoc::opt("popsize", "int", "16", "candidates per generation")]
    }
}

/// Uniform random sampling in the bounds of the space.
#[derive(Debug, Clone)]
pub struct RandomSearch {
    config: RandomSearchConfig,
    space: Space,
}

/// State of [`RandomSearch`]: id counter, pending batch and best point.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RandomSearchState {
    next_id: u64,
    generation: u64,
    evaluations: u64,
    batch: Batch,
    #[serde(with = "nf::best")]
    best: Option<(Vec<f64>, f64)>,
}

impl Strategy for RandomSearch {
    const NAME: &'static str = "random";
    type Config = RandomSearchConfig;
    type State = RandomSearchState;
    type Genome = Vec<f64>;
    type Context = ();

    fn new(config: Self::Config, space: &Space) -> Result<Self, ConfigError> {
        space.check()?;
        if config.popsize == 0 {
            return Err(ConfigError::new("popsize", "must be at least 1"));
        }
        Ok(Self { config, space: space.clone() })
    }

    fn init(&self, _rng: &mut Rng) -> Self::State {
        RandomSearchState {
            next_id: 0,
            generation: 0,
            evaluations: 0,
            batch: Batch::default(),
            best: None,
        }
    }

    fn ask(&self, s: &mut Self::State, rng: &mut Rng) -> Vec<Candidate<Self::Genome>> {
        let n = self.config.popsize;
        s.batch = Batch::new(s.next_id, n);
        let out = (0..n as u64)
            .map(|k| Candidate { id: s.next_id + k, genome: uniform_in(&self.space, rng) })
            .collect();
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
        s.evaluations += results.len() as u64;
        let mut failures = 0.0;
        for r in results {
            if r.failed() {
                failures += 1.0;
            }
            improve_best(&mut s.best, &r.genome, r.fitness());
        }
        if s.batch.complete() {
            s.generation += 1;
        }
        let mut m = Metrics::new();
        m.insert("failures".into(), failures);
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
    use evoforge_core::stream;

    #[test]
    fn samples_stay_in_bounds_and_config_is_checked() {
        let space = Space::real_bounds(&[-1.0, 2.0], &[1.0, 2.5]);
        let s = RandomSearch::new(RandomSearchConfig::default(), &space).unwrap();
        let mut rng = stream(1, &[1]);
        let mut st = s.init(&mut rng);
        for c in s.ask(&mut st, &mut rng) {
            assert!((-1.0..=1.0).contains(&c.genome[0]) && (2.0..=2.5).contains(&c.genome[1]));
        }
        let e = RandomSearch::new(RandomSearchConfig { popsize: 0 }, &space).unwrap_err();
        assert_eq!(e.field, "popsize");
        let cfg: Result<RandomSearchConfig, _> = serde_json::from_str(r#"{"popsize": 4, "x": 1}"#);
        assert!(cfg.is_err());
    }
}
