//! # evoforge
//!
//! A black-box and evolutionary optimization engine: one ask-tell contract
//! ([`evoforge_core::Strategy`]) for every method, YAML study files with located errors, an
//! append-only journal with exact, crash-safe resume, and results that do not depend on the
//! number of threads.
//!
//! The command line (`evoforge run study.yaml`) and the library share one study loop,
//! [`Driver`]. From Rust, a study is a few lines, with a problem from a closure:
//!
//! ```
//! use evoforge::prelude::*;
//!
//! let problem = FnProblem::new(Space::real_box(5, -5.0, 5.0), |x: &[f64]| {
//!     x.iter().map(|v| (v - 1.0).powi(2)).sum::<f64>()
//! });
//! let cmaes = CmaEs::new(CmaEsConfig { sigma0: Some(2.0), ..Default::default() }, problem.space())?;
//! let summary = Study::new(cmaes, problem).seed(7).evaluations(3000).threads(2).run()?;
//! assert!(summary.best_f.unwrap() < 1e-8);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! or a hand-driven ask/tell loop, with the same random streams the study loop uses:
//!
//! ```
//! use evoforge::prelude::*;
//!
//! let space = Space::real_box(3, -5.0, 5.0);
//! let es = CmaEs::new(CmaEsConfig::default(), &space)?;
//! let seed = 1;
//! let mut state = es.init(&mut stream(seed, &[Purpose::Init as u64]));
//! for generation in 0..200 {
//!     let asked = es.ask(&mut state, &mut stream(seed, &[Purpose::Ask as u64, generation]));
//!     let ctx = es.context(&state);
//!     let told: Vec<_> = asked
//!         .into_iter()
//!         .map(|c| {
//!             let mut x = vec![0.0; 3];
//!             es.decode(&ctx, &c.genome, &mut x);
//!             let f = x.iter().map(|v| v * v).sum::<f64>();
//!             Evaluated { id: c.id, genome: c.genome, outcome: Outcome::Ok(Evaluation::value(f)) }
//!         })
//!         .collect();
//!     es.tell(&mut state, &told, &mut stream(seed, &[Purpose::Tell as u64, generation]))?;
//! }
//! assert!(es.best(&state).unwrap().1 < 1e-10);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![warn(missing_docs)]

pub mod bench;
pub mod cli;
pub mod diag;
pub mod driver;
pub mod journal;
pub mod progress;
pub mod runner;
pub mod spec;
pub mod tsp_cli;
pub mod worker;

use std::path::PathBuf;
use std::sync::Arc;

pub use driver::{Driver, Settings, Summary};
pub use evoforge_cluster as cluster;
pub use evoforge_core as core;
use evoforge_core::{Problem, Strategy};
pub use evoforge_problems as problems;
pub use evoforge_strategies as strategies;
pub use progress::ProgressMode;
pub use spec::{Budget, Direction, OutputSpec, StudyFile};

/// The names a library user needs.
pub mod prelude {
    pub use crate::{Direction, Study, Summary};
    pub use evoforge_core::{
        Candidate, EvalCtx, EvalError, Evaluated, Evaluation, FnProblem, Outcome, Problem, Purpose,
        Space, Strategy, stream,
    };
    pub use evoforge_problems::{Bbob, Classic};
    pub use evoforge_strategies::{
        CmaEs, CmaEsConfig, OnePlusOne, OnePlusOneConfig, OpenAiEs, OpenAiEsConfig, RandomSearch,
        RandomSearchConfig,
    };
}

/// A study built in code: a strategy, a problem and the settings a study file would hold.
pub struct Study<S: Strategy> {
    strategy: S,
    problem: Arc<dyn Problem>,
    settings: Settings,
}

impl<S: Strategy> Study<S> {
    /// A study of `strategy` on `problem`, seed 0, minimising, one thread, no output directory.
    /// Set a budget before [`Study::run`].
    pub fn new(strategy: S, problem: impl Problem + 'static) -> Self {
        Self {
            strategy,
            problem: Arc::new(problem),
            settings: Settings {
                name: "study".into(),
                seed: 0,
                direction: Direction::Minimize,
                budget: Budget::default(),
                threads: 1,
                dir: None,
                output: OutputSpec::default(),
                progress: ProgressMode::Quiet,
            },
        }
    }
    /// Seed of every random stream.
    pub fn seed(mut self, seed: u64) -> Self {
        self.settings.seed = seed;
        self
    }
    /// Stop after this many evaluations (checked after each generation).
    pub fn evaluations(mut self, n: u64) -> Self {
        self.settings.budget.evaluations = Some(n);
        self
    }
    /// Stop after this many generations.
    pub fn generations(mut self, n: u64) -> Self {
        self.settings.budget.generations = Some(n);
        self
    }
    /// Stop once the best value reaches `target`.
    pub fn target(mut self, target: f64) -> Self {
        self.settings.budget.target = Some(target);
        self
    }
    /// Maximise instead of minimise.
    pub fn direction(mut self, d: Direction) -> Self {
        self.settings.direction = d;
        self
    }
    /// Evaluate on a pool of `n` threads.
    pub fn threads(mut self, n: usize) -> Self {
        self.settings.threads = n.max(1);
        self
    }
    /// Write journal, checkpoints and summary to `dir`.
    pub fn output(mut self, dir: impl Into<PathBuf>) -> Self {
        self.settings.dir = Some(dir.into());
        self
    }
    /// Runs the study.
    pub fn run(self) -> anyhow::Result<Summary> {
        let b = &self.settings.budget;
        if b.evaluations.is_none() && b.generations.is_none() && b.seconds.is_none() {
            anyhow::bail!("set a budget (evaluations or generations) before running a study");
        }
        if let Some(d) = &self.settings.dir {
            std::fs::create_dir_all(d)?;
        }
        Driver::new(self.strategy, self.problem, self.settings).run()
    }
}
