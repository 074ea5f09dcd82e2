//! `Pendulum-v1`: gymnasium 1.4.0's `PendulumEnv`, the inverted-pendulum swing-up.

use std::f64::consts::PI;

use evoforge_core::Rng;

use super::{
    Action, ActionSpace, Env, TimeLimit, Transition, check_len, continuous1, f32w, py_square,
    py_square_f32, uniform,
};

const ID: &str = "Pendulum-v1";
/// Bound of the angular velocity (an int in gymnasium; the clip is a float64 one all the same).
const MAX_SPEED: f64 = 8.0;
const MAX_TORQUE: f64 = 2.0;
const DT: f64 = 0.05;
/// gymnasium's default `g`.
const G: f64 = 10.0;
const M: f64 = 1.0;
const L: f64 = 1.0;

/// A pendulum pivoting at one end; apply a torque in [-2, 2] to swing it up and hold it.
///
/// State `[θ, θ̇]` in `f64` (θ = 0 upright); observation `[cos θ, sin θ, θ̇]` rounded to `f32`.
/// Each step: `u` = the torque clipped to ±2 (`float32`), cost `norm(θ)² + 0.1·θ̇² + 0.001·u²`
/// on the state *before* the step (`norm` wraps into [-π, π)), then semi-implicit Euler:
/// `θ̇ += (3g/2l·sin θ + 3/(ml²)·u)·dt` clipped to ±8, `θ += θ̇·dt`. Reward `-cost`; never
/// terminates; 200 steps. Reset draws θ from U(-π, π) and θ̇ from U(-1, 1).
///
/// The `u` terms are `float32` arithmetic in gymnasium (a `float32` scalar times a Python float
/// stays `float32` in numpy 2), widened when added to the `float64` terms; this type does the
/// same, so rewards match bit for bit.
#[derive(Debug, Clone, PartialEq)]
pub struct Pendulum {
    state: [f64; 2],
    limit: TimeLimit,
}

impl Default for Pendulum {
    fn default() -> Self {
        Self::new()
    }
}

impl Pendulum {
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

/// gymnasium's `angle_normalize`: `(x + π) % 2π − π` with Python's (numpy's) floored modulo,
/// whose result takes the sign of the divisor.
fn angle_normalize(x: f64) -> f64 {
    py_mod(x + PI, 2.0 * PI) - PI
}

/// Python's `a % b` for floats: C's `fmod`, shifted by `b` when the signs differ, and `+0`
/// (the sign of a positive `b`) for a zero result.
fn py_mod(a: f64, b: f64) -> f64 {
    let m = a % b;
    if m == 0.0 {
        0.0_f64.copysign(b)
    } else if (b < 0.0) != (m < 0.0) {
        m + b
    } else {
        m
    }
}

impl Env for Pendulum {
    fn id(&self) -> &'static str {
        ID
    }
    fn obs_dim(&self) -> usize {
        3
    }
    fn state_dim(&self) -> usize {
        2
    }
    fn action_space(&self) -> ActionSpace {
        ActionSpace::Box { low: -MAX_TORQUE, high: MAX_TORQUE, dim: 1 }
    }
    fn max_episode_steps(&self) -> usize {
        self.limit.max
    }
    fn elapsed_steps(&self) -> usize {
        self.limit.elapsed
    }

    fn reset(&mut self, rng: &mut Rng) -> Vec<f64> {
        let theta = uniform(rng, -PI, PI);
        let theta_dot = uniform(rng, -1.0, 1.0);
        self.set_state(&[theta, theta_dot]);
        self.obs()
    }

    fn set_state(&mut self, state: &[f64]) {
        check_len("state", ID, state.len(), 2);
        self.state.copy_from_slice(state);
        self.limit.elapsed = 0;
    }

    fn state_into(&self, out: &mut [f64]) {
        check_len("state buffer", ID, out.len(), 2);
        out.copy_from_slice(&self.state);
    }

    fn obs_into(&self, out: &mut [f64]) {
        check_len("observation buffer", ID, out.len(), 3);
        let [theta, theta_dot] = self.state;
        out[0] = f32w(theta.cos());
        out[1] = f32w(theta.sin());
        out[2] = f32w(theta_dot);
    }

    fn step_into(&mut self, action: &Action<'_>, obs: &mut [f64]) -> Transition {
        let u = continuous1(action, ID).clamp(-MAX_TORQUE as f32, MAX_TORQUE as f32);
        let [th, thdot] = self.state;
        // ((norm(θ)² + 0.1·θ̇²) + 0.001·u²), the last term a float32 product.
        let costs = py_square(angle_normalize(th))
            + 0.1 * py_square(thdot)
            + (0.001_f64 as f32 * py_square_f32(u)) as f64;
        let gravity = 3.0 * G / (2.0 * L) * th.sin();
        let torque = ((3.0 / (M * py_square(L))) as f32 * u) as f64;
        let newthdot = (thdot + (gravity + torque) * DT).clamp(-MAX_SPEED, MAX_SPEED);
        let newth = th + newthdot * DT;
        self.state = [newth, newthdot];
        self.obs_into(obs);
        Transition { reward: -costs, terminated: false, truncated: self.limit.tick() }
    }
}
