//! `MountainCar-v0` and `MountainCarContinuous-v0`: gymnasium 1.4.0's `MountainCarEnv` and
//! `Continuous_MountainCarEnv` (Moore 1990).

use evoforge_core::Rng;

use super::{
    Action, ActionSpace, Env, TimeLimit, Transition, check_len, continuous1, discrete, f32w,
    py_square, uniform,
};

const MIN_POSITION: f64 = -1.2;
const MAX_POSITION: f64 = 0.6;
const MAX_SPEED: f64 = 0.07;
/// `goal_velocity` of both environments (gymnasium's default 0).
const GOAL_VELOCITY: f64 = 0.0;
const GRAVITY: f64 = 0.0025;

/// Reset draws the position from U(-0.6, -0.4); the velocity starts at 0.
fn initial_state(rng: &mut Rng) -> [f64; 2] {
    [uniform(rng, -0.6, -0.4), 0.0]
}

/// A car in a valley, too weak to drive up the right hill directly; actions 0, 1, 2 push left,
/// not at all, right.
///
/// State `[position, velocity]` in `f64`; observation the same rounded to `f32`. Each step:
/// `v += (a − 1)·0.001 − 0.0025·cos(3x)`, `v` clipped to ±0.07, `x += v`, `x` clipped to
/// [-1.2, 0.6], and `v = 0` when the car hits the left wall moving left. Reward -1 per step;
/// terminates at `x >= 0.5` with `v >= 0`. 200 steps.
#[derive(Debug, Clone, PartialEq)]
pub struct MountainCar {
    state: [f64; 2],
    limit: TimeLimit,
}

impl Default for MountainCar {
    fn default() -> Self {
        Self::new()
    }
}

impl MountainCar {
    const ID: &'static str = "MountainCar-v0";
    const FORCE: f64 = 0.001;
    const GOAL_POSITION: f64 = 0.5;

    /// The environment with its registered time limit (200 steps), state all zeros until
    /// [`Env::reset`] or [`Env::set_state`].
    pub fn new() -> Self {
        Self { state: [0.0; 2], limit: TimeLimit::new(200) }
    }

    /// The same environment with another time limit.
    pub fn with_max_episode_steps(mut self, n: usize) -> Self {
        self.limit.max = n;
        self
    }
}

impl Env for MountainCar {
    fn id(&self) -> &'static str {
        Self::ID
    }
    fn obs_dim(&self) -> usize {
        2
    }
    fn state_dim(&self) -> usize {
        2
    }
    fn action_space(&self) -> ActionSpace {
        ActionSpace::Discrete(3)
    }
    fn max_episode_steps(&self) -> usize {
        self.limit.max
    }
    fn elapsed_steps(&self) -> usize {
        self.limit.elapsed
    }

    fn reset(&mut self, rng: &mut Rng) -> Vec<f64> {
        self.set_state(&initial_state(rng));
        self.obs()
    }

    fn set_state(&mut self, state: &[f64]) {
        check_len("state", Self::ID, state.len(), 2);
        self.state.copy_from_slice(state);
        self.limit.elapsed = 0;
    }

    fn state_into(&self, out: &mut [f64]) {
        check_len("state buffer", Self::ID, out.len(), 2);
        out.copy_from_slice(&self.state);
    }

    fn obs_into(&self, out: &mut [f64]) {
        check_len("observation buffer", Self::ID, out.len(), 2);
        out[0] = f32w(self.state[0]);
        out[1] = f32w(self.state[1]);
    }

    fn step_into(&mut self, action: &Action<'_>, obs: &mut [f64]) -> Transition {
        let a = discrete(action, 3, Self::ID);
        let [mut position, mut velocity] = self.state;
        // `(action - 1) * force` is an int times a float in gymnasium: -0.001, 0.0 or 0.001.
        velocity += (a as f64 - 1.0) * Self::FORCE + (3.0 * position).cos() * -GRAVITY;
        velocity = velocity.clamp(-MAX_SPEED, MAX_SPEED);
        position += velocity;
        position = position.clamp(MIN_POSITION, MAX_POSITION);
        // The left wall is inelastic.
        if position == MIN_POSITION && velocity < 0.0 {
            velocity = 0.0;
        }
        let terminated = position >= Self::GOAL_POSITION && velocity >= GOAL_VELOCITY;
        self.state = [position, velocity];
        self.obs_into(obs);
        Transition { reward: -1.0, terminated, truncated: self.limit.tick() }
    }
}

/// The numpy dtype MountainCarContinuous's state has: `float64` right after reset, `float32`
/// after any step (gymnasium stores `np.array([position, velocity], dtype=np.float32)`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dtype {
    F64,
    F32,
}

/// The same valley with a continuous force in [-1, 1] (`power` 0.0015).
///
/// Each step: the force is the action clipped to [-1, 1], `v += force·0.0015 − 0.0025·cos(3x)`,
/// then the clipping and wall of [`MountainCar`]. Reward `100·[terminated] − 0.1·a²` with the
/// unclipped action `a`; terminates at `x >= 0.45` with `v >= 0`. 999 steps.
///
/// This environment mixes precisions the way numpy 2 does, and this type reproduces it: the
/// state is `float64` after reset but `float32` after a step, so later steps compute in
/// `float32` (numpy casts Python float operands to the `float32` of the other operand, NEP 50),
/// except `0.0025·cos(3x)`, which `math.cos` evaluates in `f64`. A force in [-1, 1] is a
/// `float32`, so `force·power` is a `float32` product; a clipped force is the Python float ±1
/// and that product is `f64`. The state returned by [`Env::state`] and the observation are the
/// same values.
#[derive(Debug, Clone, PartialEq)]
pub struct MountainCarContinuous {
    state: [f64; 2],
    dtype: Dtype,
    limit: TimeLimit,
}

impl Default for MountainCarContinuous {
    fn default() -> Self {
        Self::new()
    }
}

/// A value that in gymnasium is either a `float32` numpy scalar or a Python float.
#[derive(Debug, Clone, Copy)]
enum Num {
    F32(f32),
    Py(f64),
}

impl MountainCarContinuous {
    const ID: &'static str = "MountainCarContinuous-v0";
    const MIN_ACTION: f64 = -1.0;
    const MAX_ACTION: f64 = 1.0;
    const POWER: f64 = 0.0015;
    const GOAL_POSITION: f64 = 0.45;

    /// The environment with its registered time limit (999 steps), state all zeros until
    /// [`Env::reset`] or [`Env::set_state`].
    pub fn new() -> Self {
        Self { state: [0.0; 2], dtype: Dtype::F64, limit: TimeLimit::new(999) }
    }

    /// The same environment with another time limit.
    pub fn with_max_episode_steps(mut self, n: usize) -> Self {
        self.limit.max = n;
        self
    }

    /// The first step after a reset, on the `float64` state.
    fn advance_f64(&self, force: Num) -> (f64, f64, bool) {
        let [mut position, mut velocity] = self.state;
        let gravity_term = 0.0025 * (3.0 * position).cos();
        // float32 − Python float is a float32 subtraction; float64 + float32 widens.
        velocity += match force {
            Num::F32(f) => (f * Self::POWER as f32 - gravity_term as f32) as f64,
            Num::Py(f) => f * Self::POWER - gravity_term,
        };
        velocity = velocity.clamp(-MAX_SPEED, MAX_SPEED);
        position += velocity;
        position = position.clamp(MIN_POSITION, MAX_POSITION);
        if position == MIN_POSITION && velocity < 0.0 {
            velocity = 0.0;
        }
        let terminated = position >= Self::GOAL_POSITION && velocity >= GOAL_VELOCITY;
        (position, velocity, terminated)
    }

    /// Any later step, on the `float32` state. Comparisons of a `float32` with a Python float
    /// are `float32` comparisons in numpy 2, and a clipped value (a Python float) enters every
    /// later operation cast to `float32`, so clipping to the `f32` bound is equivalent.
    fn advance_f32(&self, force: Num) -> (f64, f64, bool) {
        let mut position = self.state[0] as f32;
        let mut velocity = self.state[1] as f32;
        let gravity_term = 0.0025 * ((3.0 * position) as f64).cos();
        let increment = match force {
            Num::F32(f) => f * Self::POWER as f32 - gravity_term as f32,
            Num::Py(f) => (f * Self::POWER - gravity_term) as f32,
        };
        velocity += increment;
        velocity = velocity.clamp(-MAX_SPEED as f32, MAX_SPEED as f32);
        position += velocity;
        position = position.clamp(MIN_POSITION as f32, MAX_POSITION as f32);
        if position == MIN_POSITION as f32 && velocity < 0.0 {
            velocity = 0.0;
        }
        let terminated = position >= Self::GOAL_POSITION as f32 && velocity >= GOAL_VELOCITY as f32;
        (position as f64, velocity as f64, terminated)
    }
}

impl Env for MountainCarContinuous {
    fn id(&self) -> &'static str {
        Self::ID
    }
    fn obs_dim(&self) -> usize {
        2
    }
    fn state_dim(&self) -> usize {
        2
    }
    fn action_space(&self) -> ActionSpace {
        ActionSpace::Box { low: Self::MIN_ACTION, high: Self::MAX_ACTION, dim: 1 }
    }
    fn max_episode_steps(&self) -> usize {
        self.limit.max
    }
    fn elapsed_steps(&self) -> usize {
        self.limit.elapsed
    }

    fn reset(&mut self, rng: &mut Rng) -> Vec<f64> {
        self.set_state(&initial_state(rng));
        self.obs()
    }

    /// Sets the `float64` state reset leaves; the next step computes as the first step of an
    /// episode does.
    fn set_state(&mut self, state: &[f64]) {
        check_len("state", Self::ID, state.len(), 2);
        self.state.copy_from_slice(state);
        self.dtype = Dtype::F64;
        self.limit.elapsed = 0;
    }

    fn state_into(&self, out: &mut [f64]) {
        check_len("state buffer", Self::ID, out.len(), 2);
        out.copy_from_slice(&self.state);
    }

    fn obs_into(&self, out: &mut [f64]) {
        check_len("observation buffer", Self::ID, out.len(), 2);
        out[0] = f32w(self.state[0]);
        out[1] = f32w(self.state[1]);
    }

    fn step_into(&mut self, action: &Action<'_>, obs: &mut [f64]) -> Transition {
        let a = continuous1(action, Self::ID);
        // Python's `min(max(a, -1.0), 1.0)`: the float32 action unless a bound replaces it.
        let force = if (Self::MIN_ACTION as f32) > a {
            Num::Py(Self::MIN_ACTION)
        } else if (Self::MAX_ACTION as f32) < a {
            Num::Py(Self::MAX_ACTION)
        } else {
            Num::F32(a)
        };
        let (position, velocity, terminated) = match self.dtype {
            Dtype::F64 => self.advance_f64(force),
            Dtype::F32 => self.advance_f32(force),
        };
        self.state = [f32w(position), f32w(velocity)];
        self.dtype = Dtype::F32;
        // gymnasium's `reward = 0; if terminated: reward = 100.0; reward -= math.pow(a, 2) * 0.1`
        // with the unclipped float32 action.
        let base = if terminated { 100.0 } else { 0.0 };
        let reward = base - py_square(a as f64) * 0.1;
        self.obs_into(obs);
        Transition { reward, terminated, truncated: self.limit.tick() }
    }
}
