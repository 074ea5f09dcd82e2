//! `kind: tsp_mcts`: tune the MCTS parameters (and SoftDist's τ) on generated instances.
//!
//! Pan et al. (arXiv 2411.09238, `tune_mcts.py`) tune MCTS per heatmap and size with SMAC on
//! generated uniform instances; here any engine strategy (BO, CMA-ES) does it. The point is, in
//! natural units, `[alpha, beta, h, max_candidate_num, max_depth, candidate_use_heatmap, tau]`
//! (`tau` only with the SoftDist heatmap); integers are rounded, `candidate_use_heatmap` is
//! `x ≥ 0.5`. The fitness is the mean gap in percent of the tours to reference tours over the
//! training instances, every solve with the same seed and a work budget (so a point always gets
//! the same value, on any machine and thread count).
//!
//! Reference tours: the MCTS itself with the default parameters and SoftDist, run with
//! `reference_work` units (by default 20× the evaluation budget) — a strong tour, not a proven
//! optimum, so a tuned MCTS may reach a negative gap. They are computed when the problem is
//! built (or read from `reference_cache`, written after the first computation). The cache may
//! hold tours from elsewhere: `evoforge tsp generate` writes the training coordinates and
//! `tools/tsp_lkh.py --tours` adds LKH-3 tours, near-optimal, so every gap stays positive and
//! `objective: log_gap` (the logarithm of the mean gap) is defined. The log keeps a few
//! catastrophic points (a one-hot heatmap at tiny τ scores 80 %) from flattening the GP over
//! the 0.5–2 % region where the good parameters differ — the failure of the session-4 tuning.
//!
//! Coordinate kinds: `max_candidate_num` and `max_depth` are integer coordinates and
//! `candidate_use_heatmap` a two-category one (`0` distance, `1` heatmap), so `kind: bo` models
//! and searches them as such (its mixed-space kernel and search); strategies for real spaces
//! propose reals and [`decode`] rounds them.
use std::path::PathBuf;

use evoforge_core::{
    ConfigError, Describe, Dim, DimKind, EvalCtx, EvalError, Evaluation, ParamDoc, Problem, Space,
};
use serde::{Deserialize, Serialize};

use super::{HeatmapKind, Instance, MctsParams, default_tau, solve_all};

/// Names of the coordinates of the search space, in order.
pub const PARAM_NAMES: [&str; 7] =
    ["alpha", "beta", "h", "max_candidate_num", "max_depth", "candidate_use_heatmap", "tau"];

/// Which heatmap the tuned MCTS uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TuneHeatmap {
    /// SoftDist; τ is the 7th coordinate.
    Softdist,
    /// The k-NN prior.
    Knn,
    /// The zero heatmap.
    Zero,
}

/// The study-file form.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TspMctsConfig {
    /// Cities per training instance.
    pub nodes: usize,
    /// Number of training instances.
    #[serde(default = "default_instances")]
    pub instances: usize,
    /// Seed of the generated training instances (coordinates U[0,1]²).
    #[serde(default = "default_instance_seed")]
    pub instance_seed: u64,
    /// Seed of every MCTS run of an evaluation (fixed: the fitness is deterministic).
    #[serde(default = "default_solver_seed")]
    pub solver_seed: u64,
    /// The heatmap.
    #[serde(default = "default_heatmap")]
    pub heatmap: TuneHeatmap,
    /// Work budget per instance and evaluation.
    pub work: u64,
    /// Work budget of the reference runs; default 20 × `work`.
    #[serde(default)]
    pub reference_work: Option<u64>,
    /// A file holding the reference tours (test-set format); written when missing.
    #[serde(default)]
    pub reference_cache: Option<PathBuf>,
    /// Lower bounds of the 7 (6 without SoftDist) coordinates.
    #[serde(default)]
    pub lower: Option<Vec<f64>>,
    /// Upper bounds.
    #[serde(default)]
    pub upper: Option<Vec<f64>>,
    /// What an evaluation returns.
    #[serde(default)]
    pub objective: TuneObjective,
}

/// The value of an evaluation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TuneObjective {
    /// The mean gap (%) to the reference tours.
    #[default]
    Gap,
    /// `ln` of the mean gap (%); an error when the mean gap is not positive (the reference
    /// tours must be better than the tuned MCTS, e.g. LKH-3's).
    LogGap,
}

fn default_instances() -> usize {
    16
}
fn default_instance_seed() -> u64 {
    1234
}
fn default_solver_seed() -> u64 {
    489_663_920
}
fn default_heatmap() -> TuneHeatmap {
    TuneHeatmap::Softdist
}

/// Default bounds `[alpha, beta, h, max_candidate_num, max_depth, candidate_use_heatmap, tau]`.
pub const DEFAULT_LOWER: [f64; 7] = [0.0, 1.0, 1.0, 4.0, 5.0, 0.0, 0.002];
/// Default upper bounds.
pub const DEFAULT_UPPER: [f64; 7] = [3.0, 200.0, 20.0, 50.0, 200.0, 1.0, 0.03];

/// SoftDist rows store this many neighbours.
pub const SOFTDIST_K: usize = 50;

/// Decodes a point into MCTS parameters and the heatmap (`tau` read only for SoftDist).
pub fn decode(x: &[f64], heatmap: TuneHeatmap) -> (MctsParams, HeatmapKind) {
    let p = MctsParams {
        alpha: x[0].max(0.0),
        beta: x[1].max(0.0),
        h: x[2].max(0.0),
        t: None,
        max_candidate_num: x[3].round().max(1.0) as usize,
        max_depth: x[4].round().max(2.0) as usize,
        candidate_use_heatmap: x[5] >= 0.5,
        work: None,
    };
    let h = match heatmap {
        TuneHeatmap::Softdist => HeatmapKind::Softdist { tau: Some(x[6].max(1e-6)), k: SOFTDIST_K },
        TuneHeatmap::Knn => HeatmapKind::Knn,
        TuneHeatmap::Zero => HeatmapKind::Zero,
    };
    (p, h)
}

/// The kind of coordinate `i`: integer for the candidate count and the depth, two categories
/// for `candidate_use_heatmap` (one category when its bounds are equal), real otherwise.
fn dim_kind(i: usize, lo: f64, hi: f64) -> DimKind {
    match i {
        3 | 4 => DimKind::Integer,
        5 if lo < hi => DimKind::Categorical { n: 2 },
        5 => DimKind::Integer,
        _ => DimKind::Real,
    }
}

/// The tuning problem.
#[derive(Debug, Clone)]
pub struct TspMcts {
    space: Space,
    config: TspMctsConfig,
    instances: Vec<Instance>,
    references: Vec<f64>,
}

impl TspMcts {
    /// The training instances (with their reference tours).
    pub fn instances(&self) -> &[Instance] {
        &self.instances
    }

    /// The configuration the problem was built from.
    pub fn config(&self) -> &TspMctsConfig {
        &self.config
    }

    /// Mean gap (percent) of the MCTS with point `x` over the training set.
    pub fn mean_gap(&self, x: &[f64]) -> Result<f64, String> {
        let (mut p, heat) = decode(x, self.config.heatmap);
        p.work = Some(self.config.work);
        p.check().map_err(|(f, m)| format!("{f}: {m}"))?;
        let rs = solve_all(&self.instances, &heat, &p, self.config.solver_seed);
        let mut s = 0.0;
        for (r, &reference) in rs.into_iter().zip(&self.references) {
            let r = r.map_err(|e| e.to_string())?;
            s += 100.0 * (r.result.length / reference - 1.0);
        }
        Ok(s / self.instances.len() as f64)
    }
}

impl Problem for TspMcts {
    fn space(&self) -> &Space {
        &self.space
    }

    fn evaluate(&self, x: &[f64], _ctx: &EvalCtx) -> Result<Evaluation, EvalError> {
        if x.len() != self.space.dim() {
            return Err(EvalError(format!(
                "tsp_mcts expects {} coordinates, got {}",
                self.space.dim(),
                x.len()
            )));
        }
        if x.iter().any(|v| !v.is_finite()) {
            return Err(EvalError("tsp_mcts: non-finite coordinate".into()));
        }
        let g = self.mean_gap(x).map_err(EvalError)?;
        match self.config.objective {
            TuneObjective::Gap => Ok(Evaluation::value(g)),
            TuneObjective::LogGap if g > 0.0 => Ok(Evaluation::value(g.ln())),
            TuneObjective::LogGap => Err(EvalError(format!(
                "tsp_mcts: objective log_gap needs a positive mean gap, got {g}% (use stronger reference tours, e.g. LKH-3's)"
            ))),
        }
    }
}

impl TspMctsConfig {
    /// Validates, generates the training set and computes (or reads) the reference tours.
    pub fn build(&self) -> Result<TspMcts, ConfigError> {
        if !(5..=100_000).contains(&self.nodes) {
            return Err(ConfigError::new(
                "nodes",
                format!("must be between 5 and 100000, got {}", self.nodes),
            ));
        }
        if self.instances == 0 {
            return Err(ConfigError::new("instances", "must be at least 1"));
        }
        if self.work == 0 {
            return Err(ConfigError::new("work", "must be positive"));
        }
        if self.reference_work == Some(0) {
            return Err(ConfigError::new("reference_work", "must be positive"));
        }
        let d = if self.heatmap == TuneHeatmap::Softdist { 7 } else { 6 };
        let lo = self.lower.clone().unwrap_or_else(|| DEFAULT_LOWER[..d].to_vec());
        let hi = self.upper.clone().unwrap_or_else(|| DEFAULT_UPPER[..d].to_vec());
        for (f, b) in [("lower", &lo), ("upper", &hi)] {
            if b.len() != d {
                return Err(ConfigError::new(
                    f,
                    format!("needs {d} values ({}), got {}", PARAM_NAMES[..d].join(", "), b.len()),
                ));
            }
        }
        for i in 0..d {
            let ok_lo = match i {
                3 => lo[i] >= 1.0,
                4 => lo[i] >= 2.0,
                6 => lo[i] > 0.0,
                _ => lo[i] >= 0.0,
            };
            if !(ok_lo && lo[i].is_finite() && hi[i].is_finite() && lo[i] <= hi[i]) {
                return Err(ConfigError::new(
                    format!("lower[{i}]"),
                    format!("bad bounds for {}: [{}, {}]", PARAM_NAMES[i], lo[i], hi[i]),
                ));
            }
            // Integer and categorical coordinates need integer bounds (BO enumerates them).
            let whole = match i {
                3 | 4 => lo[i].fract() == 0.0 && hi[i].fract() == 0.0,
                5 => (lo[i] == 0.0 || lo[i] == 1.0) && (hi[i] == 0.0 || hi[i] == 1.0),
                _ => true,
            };
            if !whole {
                return Err(ConfigError::new(
                    format!("lower[{i}]"),
                    format!(
                        "{} is {}: its bounds must be {}, got [{}, {}]",
                        PARAM_NAMES[i],
                        if i == 5 { "categorical" } else { "an integer" },
                        if i == 5 { "0 or 1" } else { "integers" },
                        lo[i],
                        hi[i]
                    ),
                ));
            }
        }
        let mut instances: Vec<Instance> = (0..self.instances)
            .map(|i| Instance::uniform(self.nodes, self.instance_seed, i as u64))
            .collect();
        let have_cache = self.reference_cache.as_ref().is_some_and(|p| p.exists());
        if self.objective == TuneObjective::LogGap && !have_cache {
            // The default-MCTS references are no better than a tuned MCTS: gaps near or below 0.
            return Err(ConfigError::new(
                "reference_cache",
                "objective log_gap needs an existing file of near-optimal reference tours (`evoforge tsp generate` + `tools/tsp_lkh.py --tours`)",
            ));
        }
        let cached = match &self.reference_cache {
            Some(path) if path.exists() => Some(self.read_cache(path, &instances)?),
            _ => None,
        };
        let tours = match cached {
            Some(t) => t,
            None => {
                let p = MctsParams {
                    t: None,
                    work: Some(self.reference_work.unwrap_or(self.work.saturating_mul(20))),
                    ..MctsParams::default()
                };
                let heat =
                    HeatmapKind::Softdist { tau: Some(default_tau(self.nodes)), k: SOFTDIST_K };
                let rs = solve_all(&instances, &heat, &p, self.solver_seed ^ 0x5eed);
                let tours: Vec<Vec<u32>> = rs
                    .into_iter()
                    .map(|r| {
                        r.map(|r| r.result.tour)
                            .map_err(|e| ConfigError::new("nodes", e.to_string()))
                    })
                    .collect::<Result<_, _>>()?;
                if let Some(path) = &self.reference_cache {
                    let text: String = instances
                        .iter()
                        .zip(&tours)
                        .map(|(inst, t)| inst.to_line(t) + "\n")
                        .collect();
                    std::fs::write(path, text).map_err(|e| {
                        ConfigError::new(
                            "reference_cache",
                            format!("cannot write {}: {e}", path.display()),
                        )
                    })?;
                }
                tours
            }
        };
        let mut references = Vec::with_capacity(tours.len());
        for (inst, t) in instances.iter_mut().zip(tours) {
            references.push(inst.tour_length(&t));
            inst.reference = Some(t);
        }
        Ok(TspMcts {
            space: Space::new(
                (0..d)
                    .map(|i| Dim { kind: dim_kind(i, lo[i], hi[i]), lo: lo[i], hi: hi[i] })
                    .collect(),
            ),
            config: self.clone(),
            instances,
            references,
        })
    }

    fn read_cache(
        &self,
        path: &std::path::Path,
        generated: &[Instance],
    ) -> Result<Vec<Vec<u32>>, ConfigError> {
        let bad = |m: String| ConfigError::new("reference_cache", m);
        let read = Instance::read_test_set(path).map_err(|e| bad(e.to_string()))?;
        if read.len() != generated.len() {
            return Err(bad(format!(
                "{} holds {} instances, the configuration {}",
                path.display(),
                read.len(),
                generated.len()
            )));
        }
        let mut out = Vec::new();
        for (i, (r, g)) in read.into_iter().zip(generated).enumerate() {
            // Text round-trips f64 exactly, so the coordinates must be identical.
            if r.xs != g.xs || r.ys != g.ys {
                return Err(bad(format!(
                    "{}: instance {} differs from the generated one (other nodes or instance_seed?): delete the file",
                    path.display(),
                    i + 1
                )));
            }
            out.push(r.reference.ok_or_else(|| {
                bad(format!("{}: instance {} has no tour", path.display(), i + 1))
            })?);
        }
        Ok(out)
    }
}

impl Describe for TspMctsConfig {
    const KIND: &'static str = "tsp_mcts";
    const SUMMARY: &'static str = "Tune the heatmap-guided MCTS of Fu et al. for the TSP: mean gap (%) on generated uniform instances; x = [alpha, beta, h, max_candidate_num, max_depth, candidate_use_heatmap, tau]";
    fn params() -> Vec<ParamDoc> {
        vec![
            ParamDoc::req("nodes", "int", "cities per generated training instance"),
            ParamDoc::opt("instances", "int", default_instances(), "training instances"),
            ParamDoc::opt(
                "instance_seed",
                "int",
                default_instance_seed(),
                "seed of the training coordinates (U[0,1]²)",
            ),
            ParamDoc::opt(
                "solver_seed",
                "int",
                default_solver_seed(),
                "seed of every MCTS run (deterministic fitness)",
            ),
            ParamDoc::opt(
                "heatmap",
                "softdist | knn | zero",
                "softdist",
                "heatmap of the tuned MCTS (softdist adds tau)",
            ),
            ParamDoc::req(
                "work",
                "int",
                "work budget per instance (elementary operations; deterministic)",
            ),
            ParamDoc::opt(
                "reference_work",
                "int",
                "20 × work",
                "budget of the default-MCTS reference runs",
            ),
            ParamDoc::opt(
                "reference_cache",
                "path",
                "none",
                "file for the reference tours (written once, then read)",
            ),
            ParamDoc::opt(
                "lower",
                "[float]",
                "[0, 1, 1, 4, 5, 0, 0.002]",
                "lower bounds of the point",
            ),
            ParamDoc::opt(
                "upper",
                "[float]",
                "[3, 200, 20, 50, 200, 1, 0.03]",
                "upper bounds of the point",
            ),
            ParamDoc::opt(
                "objective",
                "gap | log_gap",
                "gap",
                "the mean gap (%) to the reference tours, or its logarithm (needs a positive gap: LKH-3 references)",
            ),
        ]
    }
}
