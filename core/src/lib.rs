//! evoforge-core: the vocabulary every other evoforge crate speaks.
//!
//! * [`Space`]: the search space a problem declares (real, integer or categorical coordinates
//!   with bounds).
//! * [`Strategy`]: the ask-tell contract every optimizer implements. Everything that changes lives
//!   in `Strategy::State`, so a checkpoint is `serde(State)` and continuing from a deserialized
//!   state gives the same future as continuing from the original.
//! * [`Problem`]: an objective that maps a point to an [`Evaluation`].
//! * [`noise`]: the shared noise table behind seed-based genomes, a counter-based N(0, 1)
//!   generator that Rust, numpy and CUDA rebuild bit for bit (`docs/noise-table.md`).
//! * [`rng`]: random streams derived from (study seed, generation, purpose, ...) and never from
//!   thread or rank order; this is what makes results independent of the worker count.
#![warn(missing_docs)]

pub mod describe;
pub mod error;
pub mod eval;
pub mod names;
pub mod noise;
pub mod problem;
pub mod rng;
pub mod space;
pub mod strategy;

pub use describe::{Describe, ParamDoc};
pub use error::{ConfigError, EvalError, TellError};
pub use eval::{EvalCtx, Evaluated, Evaluation, Outcome};
pub use noise::NoiseTable;
pub use problem::{FnProblem, Problem};
pub use rng::{Purpose, Rng, stream};
pub use space::{Dim, DimKind, Space};
pub use strategy::{Candidate, Metrics, Strategy};
