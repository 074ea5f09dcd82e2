//! Evaluations: what a problem returns and what a strategy is told.
use serde::{Deserialize, Serialize};

/// Context handed to a problem with each point: enough to make a stochastic objective
/// reproducible (episode seeds come from `seed`, never from the evaluating thread).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvalCtx {
    /// Candidate id (unique within a study).
    pub id: u64,
    /// Generation the candidate was asked in.
    pub generation: u64,
    /// Seed derived from (study seed, id); see [`crate::rng`].
    pub seed: u64,
}

/// The result of evaluating one point.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Evaluation {
    /// Objective values (one for single-objective problems). Minimised inside the engine.
    pub values: Vec<f64>,
    /// Constraint violations (`> 0` violated), empty when unconstrained.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub constraints: Vec<f64>,
    /// Cost of the evaluation (environment steps, seconds), 0 when not reported.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub cost: f64,
    /// Optional extras (a behaviour descriptor for novelty search).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extras: Option<Vec<f64>>,
    /// Statistics for the problem's per-generation state ([`crate::Problem::state_update`]),
    /// such as the observation sums of a policy rollout; `None` for stateless problems.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stats: Option<Vec<f64>>,
}

fn is_zero(x: &f64) -> bool {
    *x == 0.0
}

impl Evaluation {
    /// A single-objective evaluation.
    pub fn value(f: f64) -> Self {
        Self { values: vec![f], ..Default::default() }
    }
}

/// An evaluation or the reason it failed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Outcome {
    /// The problem returned values.
    Ok(Evaluation),
    /// Error, timeout or a crashed worker; ranks worst.
    Failed(String),
}

/// A candidate with its outcome, as given to [`crate::Strategy::tell`]. The first objective
/// value is already the minimised scalar (the study layer handles `direction: maximize`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evaluated<G> {
    /// Candidate id from `ask`.
    pub id: u64,
    /// The genome that was asked.
    pub genome: G,
    /// What happened.
    pub outcome: Outcome,
}

impl<G> Evaluated<G> {
    /// The scalar fitness to minimise: failures, NaN and -inf-from-failure rank worst (`+inf`).
    ///
    /// `-inf` from a problem is kept as a legitimate (best possible) value only when the problem
    /// reports it deliberately; NaN is always treated as a failure.
    pub fn fitness(&self) -> f64 {
        match &self.outcome {
            Outcome::Ok(e) => match e.values.first() {
                Some(f) if !f.is_nan() => *f,
                _ => f64::INFINITY,
            },
            Outcome::Failed(_) => f64::INFINITY,
        }
    }

    /// Whether the evaluation failed (error, timeout, NaN).
    pub fn failed(&self) -> bool {
        match &self.outcome {
            Outcome::Ok(e) => e.values.first().is_none_or(|f| f.is_nan()),
            Outcome::Failed(_) => true,
        }
    }
}

/// Sorts indices of `results` by fitness (ascending), ties broken by id so the order never
/// depends on the order results arrived in.
pub fn rank_order<G>(results: &[Evaluated<G>]) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..results.len()).collect();
    idx.sort_by(|&a, &b| {
        results[a]
            .fitness()
            .total_cmp(&results[b].fitness())
            .then(results[a].id.cmp(&results[b].id))
    });
    idx
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_and_nan_rank_worst() {
        let r = vec![
            Evaluated { id: 0, genome: (), outcome: Outcome::Failed("boom".into()) },
            Evaluated { id: 1, genome: (), outcome: Outcome::Ok(Evaluation::value(f64::NAN)) },
            Evaluated { id: 2, genome: (), outcome: Outcome::Ok(Evaluation::value(3.0)) },
            Evaluated { id: 3, genome: (), outcome: Outcome::Ok(Evaluation::value(-1.0)) },
        ];
        assert_eq!(rank_order(&r), vec![3, 2, 0, 1]);
        assert!(r[1].failed() && r[0].failed() && !r[2].failed());
    }
}
