//! evoforge-strategies: pure ask-tell optimization algorithms.
//!
//! Every strategy implements [`evoforge_core::Strategy`]: `&self` holds the validated
//! configuration, everything that changes lives in the serde-able state, and randomness comes
//! only from the random streams passed in. No I/O, no threads, no problems.
//!
//! * [`random_search::RandomSearch`] (`kind: random`): uniform sampling in the bounds.
//! * [`one_plus_one::OnePlusOne`] (`kind: one_plus_one`): (1+1)-ES with the one-fifth rule.
//! * [`cmaes::CmaEs`] (`kind: cmaes`): CMA-ES with IPOP/BIPOP restarts and sep-CMA-ES.
//! * [`openai_es::OpenAiEs`] (`kind: openai_es`): OpenAI-ES (Salimans et al. 2017) with
//!   noise-table genomes, mirrored sampling, centered ranks and Adam/SGD/Lion/ClipUp.
//!
//! [`conformance`] is the shared suite every strategy passes: ids, failures, serde round trip,
//! order of results, progress on the sphere.
#![warn(missing_docs)]
#![forbid(unsafe_code)]

pub mod cmaes;
pub mod conformance;
pub mod one_plus_one;
pub mod openai_es;
pub mod random_search;
mod util;

pub use cmaes::{BoundHandling, CmaEs, CmaEsConfig, CmaEsState, Restarts};
pub use one_plus_one::{OnePlusOne, OnePlusOneConfig, OnePlusOneState};
pub use openai_es::{
    FitnessShaping, OpenAiEs, OpenAiEsConfig, OpenAiEsContext, OpenAiEsState, Optimizer,
    Perturbation,
};
pub use random_search::{RandomSearch, RandomSearchConfig, RandomSearchState};
