//! `kind: sleep`: the sphere `Σ x_i²` after a fixed sleep — a simulated expensive objective.
//!
//! It measures what an evaluator adds to an objective that costs wall-clock time but no CPU
//! (a simulator waiting on a GPU, a remote service): with 10 ms per evaluation, any evaluator
//! with `n` slots should run a generation of `λ` members in about `⌈λ / n⌉ · 10 ms`. The scaling
//! figures of the worker-process evaluator use it (`tools/process_scaling.sh`). The value is
//! summed left to right, as the classic sphere, so every worker that implements it (the Python
//! reference worker does) gives the same bits.
use std::time::Duration;

use evoforge_core::{
    ConfigError, Describe, EvalCtx, EvalError, Evaluation, ParamDoc, Problem, Space,
};
use serde::{Deserialize, Serialize};

/// The sphere over `[-5, 5]^d`, evaluated after sleeping `milliseconds`.
#[derive(Debug, Clone)]
pub struct Sleep {
    space: Space,
    pause: Duration,
}

impl Problem for Sleep {
    fn space(&self) -> &Space {
        &self.space
    }

    fn evaluate(&self, x: &[f64], _ctx: &EvalCtx) -> Result<Evaluation, EvalError> {
        if x.len() != self.space.dim() {
            return Err(EvalError(format!(
                "sleep expects {} coordinates, got {}",
                self.space.dim(),
                x.len()
            )));
        }
        std::thread::sleep(self.pause);
        Ok(Evaluation::value(x.iter().map(|v| v * v).sum()))
    }

    fn optimum(&self) -> Option<f64> {
        Some(0.0)
    }
}

/// The study-file form (`problem: {kind: sleep, dimension: 10, milliseconds: 10}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SleepConfig {
    /// Number of variables.
    pub dimension: usize,
    /// Wall-clock milliseconds each evaluation sleeps.
    #[serde(default = "default_milliseconds")]
    pub milliseconds: f64,
}

fn default_milliseconds() -> f64 {
    10.0
}

impl SleepConfig {
    /// Validates the configuration and builds the problem. Errors name the YAML field.
    pub fn build(&self) -> Result<Sleep, ConfigError> {
        if self.dimension == 0 {
            return Err(ConfigError::new("dimension", "must be at least 1"));
        }
        let ms = self.milliseconds;
        if !(0.0..=3.6e6).contains(&ms) {
            return Err(ConfigError::new(
                "milliseconds",
                format!("must be between 0 and 3600000, got {ms}"),
            ));
        }
        Ok(Sleep {
            space: Space::real_box(self.dimension, -5.0, 5.0),
            pause: Duration::from_secs_f64(ms / 1000.0),
        })
    }
}

impl Describe for SleepConfig {
    const KIND: &'static str = "sleep";
    const SUMMARY: &'static str =
        "The sphere after a fixed sleep: a simulated expensive objective for scaling measurements";
    fn params() -> Vec<ParamDoc> {
        vec![
            ParamDoc::req("dimension", "int", "number of variables (box [-5, 5])"),
            ParamDoc::opt("milliseconds", "float", "10", "wall-clock sleep per evaluation"),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sleeps_then_sums_squares() {
        let p = SleepConfig { dimension: 3, milliseconds: 20.0 }.build().unwrap();
        let ctx = EvalCtx { id: 0, generation: 0, seed: 0 };
        let t = std::time::Instant::now();
        let e = p.evaluate(&[1.0, 2.0, -3.0], &ctx).unwrap();
        assert!(t.elapsed() >= Duration::from_millis(20));
        assert_eq!(e.values, vec![14.0]);
        assert!(p.evaluate(&[1.0], &ctx).is_err());
        let bad = SleepConfig { dimension: 0, milliseconds: 1.0 }.build().unwrap_err();
        assert_eq!(bad.field, "dimension");
        let bad = SleepConfig { dimension: 1, milliseconds: -1.0 }.build().unwrap_err();
        assert_eq!(bad.field, "milliseconds");
    }
}
