//! evoforge-cluster: where evaluations run, not what they are.
//!
//! The study layer holds a `Box<dyn Evaluator>` and talks to it in batches: `submit` a
//! generation's tasks, then `poll` results as they complete. Results may arrive in any order;
//! the study puts them back in ask order, which is why the journal does not depend on the
//! number of threads or processes.
//!
//! * [`ThreadEvaluator`]: a rayon pool owned by the evaluator.
//! * [`ProcessEvaluator`]: worker processes speaking the line protocol of [`protocol`]
//!   (`docs/worker-protocol.md`), restarted when they crash, hang or talk nonsense.
//! * `mpi` (feature `mpi`): MPI ranks, leader/worker for point genomes, replicated for
//!   seed-based ones; the study loop learns its place among the ranks through [`Group`].
#![warn(missing_docs)]

#[cfg(feature = "mpi")]
pub mod mpi;
mod processes;
pub mod protocol;
mod threads;

use std::sync::Arc;
use std::time::Duration;

use evoforge_core::Outcome;
use serde::{Deserialize, Serialize};
use thiserror::Error;

pub use processes::{ProcessConfig, ProcessEvaluator};
pub use threads::{ThreadEvaluator, run_one as evaluate_task};

/// What a [`Task`] evaluates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Point {
    /// The point itself, in the problem's continuous encoding.
    X(Vec<f64>),
    /// A compact genome as JSON, decoded where the task runs by the generation's [`Decoder`].
    Genome(String),
}

/// One point to evaluate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Task {
    /// Candidate id.
    pub id: u64,
    /// Generation it was asked in.
    pub generation: u64,
    /// Per-evaluation seed (see `evoforge_core::rng`).
    pub seed: u64,
    /// The point or its genome.
    pub point: Point,
}

/// Turns the genomes of one generation into points: the strategy's `decode` with the
/// generation's context. Shared by all threads of an evaluator.
pub trait Decoder: Send + Sync {
    /// Length of a decoded point.
    fn dim(&self) -> usize;
    /// Decodes a genome given as JSON into `out` (`out.len() == dim()`).
    fn decode(&self, genome: &str, out: &mut [f64]) -> Result<(), String>;
    /// The generation's context as JSON, for evaluators that decode in other processes.
    fn context_json(&self) -> String;
}

/// The outcome of one [`Task`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskResult {
    /// Candidate id of the task.
    pub id: u64,
    /// Values or the reason for failure.
    pub outcome: Outcome,
    /// Wall-clock seconds the evaluation took.
    pub wall: f64,
}

/// How long `poll` may block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wait {
    /// Return at once with what is ready.
    No,
    /// Wait for at least one result, at most this long.
    Up(Duration),
    /// Wait until at least one result is ready.
    Block,
}

/// Failures of the evaluation machinery itself (not of an objective).
#[derive(Debug, Error)]
pub enum ClusterError {
    /// A pool or worker could not be started.
    #[error("cannot start evaluator: {0}")]
    Start(String),
    /// Results were polled while nothing was pending.
    #[error("poll with no task pending")]
    Idle,
    /// The evaluator has shut down.
    #[error("evaluator disconnected")]
    Disconnected,
    /// Worker processes kept failing (or cannot be used); the message says which and why.
    #[error("worker processes: {0}")]
    Workers(String),
}

/// Runs tasks somewhere. Object-safe: the study holds a `Box<dyn Evaluator>`.
pub trait Evaluator: Send {
    /// How many evaluations can run at once.
    fn slots(&self) -> usize;
    /// The decoder for the [`Point::Genome`] tasks submitted from now on (one per generation).
    fn set_decoder(&mut self, decoder: Arc<dyn Decoder>) -> Result<(), ClusterError>;
    /// The problem's per-generation state (`Problem::set_state`) for the tasks submitted from
    /// now on. Only called between generations, with nothing pending.
    fn set_problem_state(&mut self, _state: &[f64]) -> Result<(), ClusterError> {
        Err(ClusterError::Start(
            "this evaluator cannot carry a problem's per-generation state".into(),
        ))
    }
    /// Queues tasks.
    fn submit(&mut self, tasks: Vec<Task>) -> Result<(), ClusterError>;
    /// Returns finished results (possibly out of order).
    fn poll(&mut self, wait: Wait) -> Result<Vec<TaskResult>, ClusterError>;
    /// Number of submitted tasks without a result yet.
    fn pending(&self) -> usize;
    /// Only the leader writes the journal.
    fn is_leader(&self) -> bool {
        true
    }
}

/// The processes that run one study loop together: the ranks of replicated MPI mode, each
/// running ask and tell on the same state. Only the leader (rank 0) writes the journal,
/// checkpoints and summary; what only the leader knows (the state read back on resume, a
/// wall-clock stop) reaches the others by [`Group::broadcast`]. A study on one machine has no
/// group.
pub trait Group: Send + Sync {
    /// This process's rank, 0 for the leader.
    fn rank(&self) -> usize;
    /// Number of processes.
    fn size(&self) -> usize;
    /// Whether this process writes the journal.
    fn is_leader(&self) -> bool {
        self.rank() == 0
    }
    /// The leader's `bytes` on every process (the others pass anything, e.g. nothing).
    fn broadcast(&self, bytes: Vec<u8>) -> Result<Vec<u8>, ClusterError>;
    /// [`Group::broadcast`] before the first generation (counted apart from the per-generation
    /// traffic).
    fn broadcast_startup(&self, bytes: Vec<u8>) -> Result<Vec<u8>, ClusterError> {
        self.broadcast(bytes)
    }
}
