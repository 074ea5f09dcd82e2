//! The travelling salesman problem with the "heatmap + MCTS" paradigm for large instances.
//!
//! * [`instance`]: the uniform test sets of Fu et al. (one instance per line,
//!   `x1 y1 … output t1 … tN t1`), TSPLIB `EUC_2D` files, a seeded uniform generator, tour checks.
//! * [`heatmap`]: SoftDist (Xia et al., ICML 2024, arXiv 2406.03503), the k-NN prior of Pan et
//!   al. ("Beyond the Heatmap", arXiv 2411.09238), the zero heatmap and heatmap files — all sparse.
//! * [`mcts`]: the MCTS of Fu et al. (AAAI 2021) with all its parameters.
//! * [`problem`]: `kind: tsp_mcts`, the MCTS parameters as a search space whose fitness is the mean
//!   gap on generated training instances, so the engine tunes MCTS (the SMAC step of Pan et al.).
pub mod heatmap;
pub mod instance;
pub mod mcts;
pub mod problem;

use std::time::Instant;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

pub use heatmap::Heatmap;
pub use instance::{Instance, Metric, TspError};
pub use mcts::{MctsParams, SolveResult, solve};
pub use problem::{TspMcts, TspMctsConfig};

/// Which heatmap to build for an instance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HeatmapKind {
    /// SoftDist with temperature τ (`None`: the paper's τ for the instance size) over the `k`
    /// nearest neighbours.
    Softdist {
        /// Temperature; default [`default_tau`].
        tau: Option<f64>,
        /// Stored neighbours per row.
        k: usize,
    },
    /// The k-NN prior of Pan et al. (table by instance size).
    Knn,
    /// The all-zero heatmap.
    Zero,
    /// A file per instance: `{}` in the pattern is replaced by the instance's 0-based index;
    /// each row keeps its `top_k` largest entries.
    File {
        /// Path pattern.
        pattern: String,
        /// Entries kept per row.
        top_k: usize,
    },
}

/// The SoftDist temperature of Xia et al.'s README commands: 0.0066 (TSP-500), 0.0051
/// (TSP-1000), 0.0018 (TSP-10000); the nearest size's value.
pub fn default_tau(n: usize) -> f64 {
    if n < 750 {
        0.0066
    } else if n < 5500 {
        0.0051
    } else {
        0.0018
    }
}

impl HeatmapKind {
    /// Parses the CLI form: `softdist`, `softdist:TAU`, `knn`, `zero`, `file:PATTERN`.
    pub fn parse(s: &str, k: usize) -> Result<Self, String> {
        let (head, arg) = match s.split_once(':') {
            Some((h, a)) => (h, Some(a)),
            None => (s, None),
        };
        match (head, arg) {
            ("softdist", None) => Ok(Self::Softdist { tau: None, k }),
            ("softdist", Some(t)) => {
                let tau: f64 = t.parse().map_err(|_| format!("bad SoftDist temperature `{t}`"))?;
                if !(tau > 0.0 && tau.is_finite()) {
                    return Err(format!("SoftDist temperature must be positive, got {tau}"));
                }
                Ok(Self::Softdist { tau: Some(tau), k })
            }
            ("knn", None) => Ok(Self::Knn),
            ("zero", None) => Ok(Self::Zero),
            ("file", Some(p)) if !p.is_empty() => {
                Ok(Self::File { pattern: p.to_string(), top_k: k })
            }
            _ => Err(format!(
                "unknown heatmap `{s}`: use softdist, softdist:TAU, knn, zero or file:PATTERN"
            )),
        }
    }

    /// Builds the heatmap of instance number `index`.
    pub fn build(&self, inst: &Instance, index: usize) -> Result<Heatmap, TspError> {
        Ok(match self {
            Self::Softdist { tau, k } => {
                Heatmap::softdist(inst, tau.unwrap_or_else(|| default_tau(inst.n())), *k)
            }
            Self::Knn => Heatmap::knn_prior(inst, heatmap::knn_prior_for(inst.n())),
            Self::Zero => Heatmap::zero(inst.n()),
            Self::File { pattern, top_k } => {
                let path = pattern.replace("{}", &index.to_string());
                Heatmap::read_file(std::path::Path::new(&path), inst.n(), *top_k)?
            }
        })
    }
}

/// The result of one instance of a set.
#[derive(Debug, Clone)]
pub struct InstanceResult {
    /// The solver's result (time includes building the heatmap).
    pub result: SolveResult,
    /// Reference length, when the instance has a reference tour.
    pub reference: Option<f64>,
}

impl InstanceResult {
    /// Gap to the reference in percent.
    pub fn gap_percent(&self) -> Option<f64> {
        self.reference.map(|r| 100.0 * (self.result.length / r - 1.0))
    }
}

/// The seed of instance `index` of a run seeded `seed` (independent of thread scheduling).
pub fn instance_seed(seed: u64, index: usize) -> u64 {
    evoforge_core::rng::derive(seed, &[index as u64])
}

/// Solves every instance in parallel on the current rayon pool; each instance's clock starts
/// when its task starts, so the time budget includes building its heatmap.
pub fn solve_all(
    instances: &[Instance],
    heat: &HeatmapKind,
    p: &MctsParams,
    seed: u64,
) -> Vec<Result<InstanceResult, TspError>> {
    instances
        .par_iter()
        .enumerate()
        .with_max_len(1)
        .map(|(i, inst)| {
            let start = Instant::now();
            let h = heat.build(inst, i)?;
            let result = solve(inst, &h, p, instance_seed(seed, i), start);
            Ok(InstanceResult { result, reference: inst.reference_length() })
        })
        .collect()
}
