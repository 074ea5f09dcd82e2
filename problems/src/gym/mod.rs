//! Gymnasium's classic-control environments, step for step as gymnasium 1.4.0 computes them.
//!
//! | id                         | type                      | obs | action          | steps |
//! |----------------------------|---------------------------|-----|-----------------|-------|
//! | `CartPole-v1`              | [`CartPole`]              | 4   | Discrete(2)     | 500   |
//! | `Acrobot-v1`               | [`Acrobot`]               | 6   | Discrete(3)     | 500   |
//! | `MountainCar-v0`           | [`MountainCar`]           | 2   | Discrete(3)     | 200   |
//! | `MountainCarContinuous-v0` | [`MountainCarContinuous`] | 2   | Box([-1, 1], 1) | 999   |
//! | `Pendulum-v1`              | [`Pendulum`]              | 3   | Box([-2, 2], 1) | 200   |
//!
//! "steps" is the `max_episode_steps` of gymnasium's registration: the `TimeLimit` wrapper that
//! `gymnasium.make` adds sets `truncated` on the step that reaches it (see [`Env::step`]).
//!
//! Sources: gymnasium 1.4.0, `gymnasium/envs/classic_control/*.py` and
//! `gymnasium/envs/__init__.py` (<https://github.com/Farama-Foundation/Gymnasium>). The
//! problems themselves come from A. G. Barto, R. S. Sutton, C. W. Anderson (1983), "Neuronlike
//! adaptive elements that can solve difficult learning control problems", IEEE Trans. SMC 13(5)
//! (cart-pole); R. S. Sutton (1996), "Generalization in reinforcement learning: successful
//! examples using sparse coarse coding", NIPS 8, with the dynamics of Sutton & Barto,
//! "Reinforcement Learning: An Introduction" (acrobot); A. W. Moore (1990), "Efficient
//! memory-based learning for robot control", PhD thesis, University of Cambridge (mountain car).
//! Pendulum is gymnasium's own swing-up task.
//!
//! # What "exact" means here
//!
//! Given the same internal state and actions, [`Env::step`] returns the observation, reward,
//! `terminated` and `truncated` that gymnasium returns, and leaves the same internal state
//! ([`Env::state`]). The arithmetic follows gymnasium's operation order and numpy's dtypes,
//! including where numpy computes in `float32` (the continuous actions are `float32`, the
//! observations are cast to `float32`, and MountainCarContinuous keeps its state in `float32`).
//! The remaining difference is the platform's `sin`/`cos`: Rust and numpy both call the C
//! library's, so on one machine they agree bit for bit; `tests/gym_trajectories.rs` checks
//! states and observations to 1e-6 and rewards exactly against gymnasium's own trajectories.
//!
//! [`Env::reset`] draws the initial state from gymnasium's distributions, but from an
//! [`evoforge_core::Rng`], so it does not reproduce numpy's numbers for a seed; to replay a
//! gymnasium episode, set its post-reset state with [`Env::set_state`].

mod acrobot;
mod cartpole;
mod mountain_car;
mod pendulum;

use std::fmt;

use evoforge_core::Rng;
use rand::RngExt;

pub use acrobot::Acrobot;
pub use cartpole::CartPole;
pub use mountain_car::{MountainCar, MountainCarContinuous};
pub use pendulum::Pendulum;

/// The gymnasium ids [`make`] knows, in the order of the module table.
pub const ENV_IDS: [&str; 5] =
    ["CartPole-v1", "Acrobot-v1", "MountainCar-v0", "MountainCarContinuous-v0", "Pendulum-v1"];

/// The actions an environment accepts (gymnasium's `action_space`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ActionSpace {
    /// `Discrete(n)`: an integer in `0..n`.
    Discrete(usize),
    /// `Box(low, high, (dim,), float32)`: `dim` reals in `[low, high]`. Values outside are
    /// accepted and handled as gymnasium handles them (the environments clip the force or
    /// torque; MountainCarContinuous's reward uses the unclipped value).
    Box {
        /// Lower bound of every coordinate.
        low: f64,
        /// Upper bound of every coordinate.
        high: f64,
        /// Number of coordinates.
        dim: usize,
    },
}

/// One action. Continuous values are rounded to `f32` first, because gymnasium's action
/// spaces are `float32` and the environments compute with that dtype.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Action<'a> {
    /// For [`ActionSpace::Discrete`].
    Discrete(usize),
    /// For [`ActionSpace::Box`]; borrowed so a policy can reuse its output buffer.
    Continuous(&'a [f64]),
}

/// What [`Env::step_into`] returns besides the observation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Transition {
    /// The reward of this step.
    pub reward: f64,
    /// The environment reached a terminal state (gymnasium's `terminated`).
    pub terminated: bool,
    /// The time limit was reached on this step (gymnasium's `truncated`, set by `TimeLimit`).
    pub truncated: bool,
}

/// What [`Env::step`] returns: gymnasium's `(obs, reward, terminated, truncated)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// The observation after the step, as gymnasium returns it (`float32` values, widened).
    pub obs: Vec<f64>,
    /// The reward of this step.
    pub reward: f64,
    /// The environment reached a terminal state.
    pub terminated: bool,
    /// The time limit was reached on this step.
    pub truncated: bool,
}

/// A gymnasium environment behind `gymnasium.make(id)`: the environment with its `TimeLimit`.
///
/// # Panics
///
/// Stepping panics on an action that does not fit [`Env::action_space`] (the wrong variant, a
/// discrete action `>= n`, a continuous action of the wrong length), as gymnasium's
/// `action_space.contains` assertion fails. [`Env::set_state`] panics on a state of the wrong
/// length, and the `*_into` methods on a buffer of the wrong length.
pub trait Env: Send {
    /// The gymnasium id, e.g. `"CartPole-v1"`.
    fn id(&self) -> &'static str;

    /// Length of an observation.
    fn obs_dim(&self) -> usize;

    /// Length of the internal state ([`Env::state`]).
    fn state_dim(&self) -> usize;

    /// The actions [`Env::step`] accepts.
    fn action_space(&self) -> ActionSpace;

    /// The time limit: the step that brings [`Env::elapsed_steps`] to this value is truncated.
    fn max_episode_steps(&self) -> usize;

    /// Steps taken since the last [`Env::reset`] or [`Env::set_state`].
    fn elapsed_steps(&self) -> usize;

    /// Starts an episode: draws the initial state from gymnasium's distribution (not numpy's
    /// numbers: see the module documentation) and returns the first observation.
    fn reset(&mut self, rng: &mut Rng) -> Vec<f64>;

    /// Puts the environment where gymnasium's `reset` leaves it, with `state` as the drawn
    /// initial state: the step counter restarts and per-episode flags clear. Meant for the
    /// state right after a reset; where the state's numpy dtype changes during an episode
    /// (MountainCarContinuous), the dtype is the one reset leaves.
    fn set_state(&mut self, state: &[f64]);

    /// Writes the internal state (gymnasium's `env.unwrapped.state`, widened to `f64`) to `out`.
    fn state_into(&self, out: &mut [f64]);

    /// Writes the current observation to `out`.
    fn obs_into(&self, out: &mut [f64]);

    /// Advances one step and writes the observation to `obs`; allocates nothing.
    ///
    /// Stepping on after `terminated` or `truncated` is allowed and does what gymnasium does
    /// (CartPole, for instance, rewards 0 after its first terminal step).
    fn step_into(&mut self, action: &Action<'_>, obs: &mut [f64]) -> Transition;

    /// The internal state, as [`Env::state_into`] writes it.
    fn state(&self) -> Vec<f64> {
        let mut out = vec![0.0; self.state_dim()];
        self.state_into(&mut out);
        out
    }

    /// The current observation, as [`Env::obs_into`] writes it.
    fn obs(&self) -> Vec<f64> {
        let mut out = vec![0.0; self.obs_dim()];
        self.obs_into(&mut out);
        out
    }

    /// Advances one step: gymnasium's `env.step(action)`.
    fn step(&mut self, action: &Action<'_>) -> Step {
        let mut obs = vec![0.0; self.obs_dim()];
        let t = self.step_into(action, &mut obs);
        Step { obs, reward: t.reward, terminated: t.terminated, truncated: t.truncated }
    }
}

/// Any classic-control environment, chosen by gymnasium id ([`make`]).
#[derive(Debug, Clone, PartialEq)]
pub enum ClassicControl {
    /// `CartPole-v1`.
    CartPole(CartPole),
    /// `Acrobot-v1`.
    Acrobot(Acrobot),
    /// `MountainCar-v0`.
    MountainCar(MountainCar),
    /// `MountainCarContinuous-v0`.
    MountainCarContinuous(MountainCarContinuous),
    /// `Pendulum-v1`.
    Pendulum(Pendulum),
}

/// An id [`make`] does not know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownEnv(pub String);

impl fmt::Display for UnknownEnv {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown environment {:?}; known: {}", self.0, ENV_IDS.join(", "))
    }
}

impl std::error::Error for UnknownEnv {}

/// `gymnasium.make(id)` for the ids in [`ENV_IDS`], with the registered time limit.
pub fn make(id: &str) -> Result<ClassicControl, UnknownEnv> {
    Ok(match id {
        "CartPole-v1" => ClassicControl::CartPole(CartPole::new()),
        "Acrobot-v1" => ClassicControl::Acrobot(Acrobot::new()),
        "MountainCar-v0" => ClassicControl::MountainCar(MountainCar::new()),
        "MountainCarContinuous-v0" => {
            ClassicControl::MountainCarContinuous(MountainCarContinuous::new())
        }
        "Pendulum-v1" => ClassicControl::Pendulum(Pendulum::new()),
        _ => return Err(UnknownEnv(id.to_string())),
    })
}

impl ClassicControl {
    /// The same environment with another time limit (`gymnasium.make(id, max_episode_steps=n)`).
    pub fn with_max_episode_steps(self, n: usize) -> Self {
        match self {
            Self::CartPole(e) => Self::CartPole(e.with_max_episode_steps(n)),
            Self::Acrobot(e) => Self::Acrobot(e.with_max_episode_steps(n)),
            Self::MountainCar(e) => Self::MountainCar(e.with_max_episode_steps(n)),
            Self::MountainCarContinuous(e) => {
                Self::MountainCarContinuous(e.with_max_episode_steps(n))
            }
            Self::Pendulum(e) => Self::Pendulum(e.with_max_episode_steps(n)),
        }
    }
}

/// Forwards a method call to whichever environment the enum holds.
macro_rules! dispatch {
    ($self:expr, $e:ident => $call:expr) => {
        match $self {
            ClassicControl::CartPole($e) => $call,
            ClassicControl::Acrobot($e) => $call,
            ClassicControl::MountainCar($e) => $call,
            ClassicControl::MountainCarContinuous($e) => $call,
            ClassicControl::Pendulum($e) => $call,
        }
    };
}

impl Env for ClassicControl {
    fn id(&self) -> &'static str {
        dispatch!(self, e => e.id())
    }
    fn obs_dim(&self) -> usize {
        dispatch!(self, e => e.obs_dim())
    }
    fn state_dim(&self) -> usize {
        dispatch!(self, e => e.state_dim())
    }
    fn action_space(&self) -> ActionSpace {
        dispatch!(self, e => e.action_space())
    }
    fn max_episode_steps(&self) -> usize {
        dispatch!(self, e => e.max_episode_steps())
    }
    fn elapsed_steps(&self) -> usize {
        dispatch!(self, e => e.elapsed_steps())
    }
    fn reset(&mut self, rng: &mut Rng) -> Vec<f64> {
        dispatch!(self, e => e.reset(rng))
    }
    fn set_state(&mut self, state: &[f64]) {
        dispatch!(self, e => e.set_state(state))
    }
    fn state_into(&self, out: &mut [f64]) {
        dispatch!(self, e => e.state_into(out))
    }
    fn obs_into(&self, out: &mut [f64]) {
        dispatch!(self, e => e.obs_into(out))
    }
    fn step_into(&mut self, action: &Action<'_>, obs: &mut [f64]) -> Transition {
        dispatch!(self, e => e.step_into(action, obs))
    }
}

/// Gymnasium's `TimeLimit` wrapper: counts steps since the reset and truncates at the limit.
#[derive(Debug, Clone, PartialEq)]
struct TimeLimit {
    max: usize,
    elapsed: usize,
}

impl TimeLimit {
    fn new(max: usize) -> Self {
        Self { max, elapsed: 0 }
    }

    /// Counts one step; true when it reaches the limit (`elapsed >= max`, as `TimeLimit.step`).
    fn tick(&mut self) -> bool {
        self.elapsed += 1;
        self.elapsed >= self.max
    }
}

/// `numpy.random.Generator.uniform(low, high)`'s formula, `low + (high - low) · U[0, 1)`.
fn uniform(rng: &mut Rng, low: f64, high: f64) -> f64 {
    low + (high - low) * rng.random::<f64>()
}

/// The action index of a discrete environment with `n` actions.
fn discrete(action: &Action<'_>, n: usize, id: &str) -> usize {
    match *action {
        Action::Discrete(a) if a < n => a,
        _ => panic!("{id}: action {action:?} is not in Discrete({n})"),
    }
}

/// The one coordinate of a continuous action, rounded to `f32` as gymnasium's `float32`
/// action space holds it.
fn continuous1(action: &Action<'_>, id: &str) -> f32 {
    match *action {
        Action::Continuous([a]) => *a as f32,
        _ => panic!("{id}: action {action:?} is not a continuous action of dimension 1"),
    }
}

/// Checks a state or output slice length (a programming error when wrong).
fn check_len(what: &str, id: &str, got: usize, want: usize) {
    assert_eq!(got, want, "{id}: {what} has length {got}, expected {want}");
}

/// Python's `x ** 2` on a float (and numpy's on a `float64` scalar): the C library's
/// `pow(x, 2.0)`. glibc's `pow` is not correctly rounded, and `pow(x, 2)` differs from `x * x`
/// in the last bit for roughly one input in a thousand; the rewards would then differ. The
/// exponent goes through `black_box` because LLVM would otherwise rewrite `pow(x, 2.0)` as
/// `x * x`.
fn py_square(x: f64) -> f64 {
    x.powf(std::hint::black_box(2.0))
}

/// numpy's `x ** 2` on a `float32` scalar: the C library's `powf(x, 2.0f)` (see [`py_square`]).
fn py_square_f32(x: f32) -> f32 {
    x.powf(std::hint::black_box(2.0))
}

/// Widens an observation component the way gymnasium builds it: `np.array(..., float32)`.
fn f32w(x: f64) -> f64 {
    x as f32 as f64
}
