//! evoforge-problems: objective functions for evoforge. Problems know nothing of strategies.
//!
//! * [`bbob`]: the 24 noiseless functions of the BBOB testbed, value for value as COCO
//!   (<https://github.com/numbbo/coco>, `code-experiments/src`) computes them, for any dimension
//!   ≥ 2 and any instance. Definitions: N. Hansen, S. Finck, R. Ros, A. Auger (2009),
//!   "Real-parameter black-box optimization benchmarking 2009: noiseless functions
//!   definitions", INRIA research report RR-6829.
//! * [`classic`]: textbook test functions with known optima (sphere, Rosenbrock, Rastrigin,
//!   Ackley, Branin, Hartmann, ...), with the constants and bounds of the Virtual Library of
//!   Simulation Experiments (Surjanovic & Bingham).
//! * [`gym`]: gymnasium 1.4.0's classic-control environments (CartPole, Acrobot, MountainCar,
//!   MountainCarContinuous, Pendulum) with gymnasium's dynamics, rewards, termination and time
//!   limits, step for step; `gym::make("CartPole-v1")`.
//! * [`policy`]: neuroevolution — an MLP policy whose weights are the search point, scored by
//!   the mean return of rollouts in a [`gym`] environment (Salimans et al. 2017, Such et al.
//!   2017); `kind: gym_policy`, to maximise.
//! * [`maze`]: Lehman & Stanley's (2011) deceptive mazes for novelty search — a robot driven by
//!   an MLP controller, scored by the distance of its final position to the goal (to minimise),
//!   with the final position as the behaviour descriptor; `kind: maze`.
//! * [`tsp`]: the travelling salesman problem solved by the heatmap-guided MCTS of Fu et al.
//!   (2021), and `kind: tsp_mcts`, which tunes that MCTS on generated instances (Pan et al. 2024).
//! * [`mixed`]: a mixed-variable toy (reals, an integer, a categorical) with a known optimum;
//!   `kind: mixed_quadratic`.
//! * [`sleep`]: the sphere after a fixed sleep, a simulated expensive objective for scaling
//!   measurements; `kind: sleep`.
//!
//! Each family comes with a `serde` configuration (`BbobConfig`, `ClassicConfig`,
//! `PolicyConfig`) that the study layer embeds under `problem: {kind: ...}`; `build()` validates
//! it and names the offending YAML field in its [`evoforge_core::ConfigError`].
#![warn(missing_docs)]
#![forbid(unsafe_code)]

pub mod bbob;
pub mod classic;
pub mod gym;
pub mod maze;
pub mod mixed;
pub mod policy;
pub mod sleep;
pub mod tsp;

pub use bbob::{Bbob, BbobConfig, bbob_function_name};
pub use classic::{Classic, ClassicConfig, ClassicKind};
pub use gym::{Action, ActionSpace, ClassicControl, Env, Step, Transition};
pub use maze::{Maze, MazeConfig, MazeController, MazeLayout};
pub use mixed::{MixedQuadratic, MixedQuadraticConfig};
pub use policy::{Activation, GymPolicy, Mlp, PolicyConfig};
pub use sleep::{Sleep, SleepConfig};
pub use tsp::{TspMcts, TspMctsConfig};
