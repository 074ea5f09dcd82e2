//! evoforge-strategies: pure ask-tell optimization algorithms.
//!
//! Every strategy implements [`evoforge_core::Strategy`]: `&self` holds the validated
//! configuration, everything that changes lives in the serde-able state, and randomness comes
//! only from the random streams passed in. No I/O and no problems. Threads only where a
//! strategy's own independent work (BO's fit starts and acquisition restarts) runs on rayon,
//! with results combined in a fixed order, so proposals do not depend on the thread count.
//!
//! * [`random_search::RandomSearch`] (`kind: random`): uniform sampling in the bounds.
//! * [`one_plus_one::OnePlusOne`] (`kind: one_plus_one`): (1+1)-ES with the one-fifth rule.
//! * [`hill_climbing::HillClimbing`] (`kind: hill_climbing`): Gaussian hill climbing around the
//!   best point with a scheduled σ (evosax's baseline in the EvoLLM paper).
//! * [`cmaes::CmaEs`] (`kind: cmaes`): CMA-ES with IPOP/BIPOP restarts and sep-CMA-ES.
//! * [`openai_es::OpenAiEs`] (`kind: openai_es`): OpenAI-ES (Salimans et al. 2017) with
//!   noise-table genomes, mirrored sampling, centered ranks and Adam/SGD/Lion/ClipUp.
//! * [`deep_ga::DeepGa`] (`kind: deep_ga`): the Deep GA (Such et al. 2017) with seed-chain
//!   genomes, a parent θ cache, validated elites, and novelty search (GA-NS).
//! * [`ns_es::NsEs`] (`kind: ns_es`): NS-ES and NSR-ES (Conti et al. 2018), a meta-population
//!   of novelty-seeking OpenAI-ES agents sharing an archive.
//! * [`snes::Snes`] (`kind: snes`): separable natural ES (Schaul et al. 2011) with noise-table
//!   genomes, per-coordinate σ and rank utilities.
//! * [`pgpe::Pgpe`] (`kind: pgpe`): PGPE (Sehnke et al. 2010) with noise-table genomes,
//!   symmetric sampling, per-coordinate σ and ClipUp/Adam/SGD on the centre.
//! * [`cbo::Cbo`] (`kind: cbo`): consensus-based optimization (Pinnau et al. 2017) as CBXpy
//!   implements it: M independent runs, isotropic/anisotropic/covariance noise, α annealing,
//!   random mini-batches of particles.
//! * [`spsa::Spsa`] (`kind: spsa`): SPSA (Spall 1992) and BlackVIP's SPSA-GC (Oh et al. 2023),
//!   two-sided estimates averaged over q perturbations, Nesterov-style gradient correction.
//! * [`bo::Bo`] (`kind: bo`): Bayesian optimization, GP + LogEI/EI/PI/UCB/noisy EI/knowledge
//!   gradient maximised as BoTorch does, or Thompson sampling; q-batches and asynchronous tells
//!   by Kriging believer.
//! * [`turbo::Turbo`] (`kind: turbo`): TuRBO-1 (Eriksson et al. 2019), a local GP in a trust
//!   region with Thompson sampling and restarts, for d ≥ 20.
//! * [`gp::Gp`]: exact Gaussian-process regression (RBF / Matérn-5/2 ARD, MAP fit with
//!   BoTorch's priors), the surrogate of BO and a library type of its own.
//!
//! [`conformance`] is the shared suite every strategy passes: ids, failures, serde round trip,
//! order of results, progress on the sphere.
#![warn(missing_docs)]
#![forbid(unsafe_code)]

pub mod bo;
pub mod cbo;
pub mod cmaes;
pub mod conformance;
pub mod deep_ga;
pub mod gp;
pub mod halton;
pub mod hill_climbing;
mod lbfgsb;
pub mod ns_es;
pub mod one_plus_one;
pub mod openai_es;
pub mod pgpe;
pub mod random_search;
pub mod snes;
pub mod spsa;
pub mod turbo;
mod util;

pub use bo::{Acquisition, Bo, BoConfig, BoState};
pub use cbo::{AlphaSchedule, BatchVar, Cbo, CboBounds, CboConfig, CboNoise, CboState, InitBox};
pub use cmaes::{BoundHandling, CmaEs, CmaEsConfig, CmaEsState, Restarts};
pub use deep_ga::{DeepGa, DeepGaConfig, DeepGaState, NoveltyConfig, SeedChain};
pub use gp::{FitOptions, Gp, GpError, GpParams, Kernel, NoisePrior};
pub use hill_climbing::{HillClimbing, HillClimbingConfig, HillClimbingState};
pub use ns_es::{AgentSelection, NsEs, NsEsConfig, NsEsState};
pub use one_plus_one::{OnePlusOne, OnePlusOneConfig, OnePlusOneState};
pub use openai_es::{
    FitnessShaping, OpenAiEs, OpenAiEsConfig, OpenAiEsContext, OpenAiEsState, Optimizer,
    Perturbation,
};
pub use pgpe::{CenterOptimizer, Pgpe, PgpeConfig, PgpeContext, PgpeState};
pub use random_search::{RandomSearch, RandomSearchConfig, RandomSearchState};
pub use snes::{Snes, SnesConfig, SnesContext, SnesState};
pub use spsa::{Spsa, SpsaConfig, SpsaDelta, SpsaMode, SpsaState};
pub use turbo::{Turbo, TurboConfig, TurboState};
