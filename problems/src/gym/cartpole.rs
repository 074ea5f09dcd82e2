//! `CartPole-v1`: gymnasium 1.4.0's `CartPoleEnv` (Barto, Sutton & Anderson 1983).

use evoforge_core::Rng;

use super::{Action, ActionSpace, Env, TimeLimit, Transition, check_len, discrete, f32w, uniform};

const ID: &str = "CartPole-v1";
const GRAVITY: f64 = 9.8;
const MASSCART: f64 = 1.0;
const MASSPOLE: f64 = 0.1;
const TOTAL_MASS: f64 = MASSPOLE + MASSCART;
/// Half the pole's length, as in gymnasium.
const LENGTH: f64 = 0.5;
const POLEMASS_LENGTH: f64 = MASSPOLE * LENGTH;
const FORCE_MAG: f64 = 10.0;
/// Seconds between state updates.
const TAU: f64 = 0.02;
/// 12°, computed as gymnasium does (`12 * 2 * math.pi / 360`) so the threshold is the same
/// double.
const THETA_THRESHOLD_RADIANS: f64 = 12.0 * 2.0 * std::f64::consts::PI / 360.0;
const X_THRESHOLD: f64 = 2.4;

/// A pole balanced on a cart; push left (action 0) or right (action 1) with 10 N.
///
/// State `[x, ẋ, θ, θ̇]` in `f64` (gymnasium keeps it in `float64`); the observation is the same
/// four values rounded to `f32`. Reward 1 per step, including the terminal one; the episode
/// terminates when `|x| > 2.4` or `|θ| > 12°`. Explicit Euler integration (gymnasium's default
/// `kinematics_integrator = "euler"`). Reset draws all four components from U(-0.05, 0.05).
#[derive(Debug, Clone, PartialEq)]
pub struct CartPole {
    state: [f64; 4],
    /// gymnasium's `steps_beyond_terminated is not None`: a terminal step was already rewarded.
    terminated_before: bool,
    limit: TimeLimit,
}

impl Default for CartPole {
    fn default() -> Self {
        Self::new()
    }
}

impl CartPole {
    /// The environment with its registered time limit (500 steps), state all zeros until
    /// [`Env::reset`] or [`Env::set_state`].
    pub fn new() -> Self {
        Self { state: [0.0; 4], terminated_before: false, limit: TimeLimit::new(500) }
    }

    /// The same environment with another time limit.
    pub fn with_max_episode_steps(mut self, n: usize) -> Self {
        self.limit.max = n;
        self
    }
}

impl Env for CartPole {
    fn id(&self) -> &'static str {
        ID
    }
    fn obs_dim(&self) -> usize {
        4
    }
    fn state_dim(&self) -> usize {
        4
    }
    fn action_space(&self) -> ActionSpace {
        ActionSpace::Discrete(2)
    }
    fn max_episode_steps(&self) -> usize {
        self.limit.max
    }
    fn elapsed_steps(&self) -> usize {
        self.limit.elapsed
    }

    fn reset(&mut self, rng: &mut Rng) -> Vec<f64> {
        let s: [f64; 4] = std::array::from_fn(|_| uniform(rng, -0.05, 0.05));
        self.set_state(&s);
        self.obs()
    }

    fn set_state(&mut self, state: &[f64]) {
        check_len("state", ID, state.len(), 4);
        self.state.copy_from_slice(state);
        self.terminated_before = false;
        self.limit.elapsed = 0;
    }

    fn state_into(&self, out: &mut [f64]) {
        check_len("state buffer", ID, out.len(), 4);
        out.copy_from_slice(&self.state);
    }

    fn obs_into(&self, out: &mut [f64]) {
        check_len("observation buffer", ID, out.len(), 4);
        for (o, &s) in out.iter_mut().zip(&self.state) {
            *o = f32w(s);
        }
    }

    fn step_into(&mut self, action: &Action<'_>, obs: &mut [f64]) -> Transition {
        let a = discrete(action, 2, ID);
        let [x, x_dot, theta, theta_dot] = self.state;
        let force = if a == 1 { FORCE_MAG } else { -FORCE_MAG };
        let costheta = theta.cos();
        let sintheta = theta.sin();
        // The equations of motion of Barto et al. (1983) without friction, in gymnasium's
        // operation order (every product and quotient associates left to right there too).
        let temp = (force + POLEMASS_LENGTH * (theta_dot * theta_dot) * sintheta) / TOTAL_MASS;
        let thetaacc = (GRAVITY * sintheta - costheta * temp)
            / (LENGTH * (4.0 / 3.0 - MASSPOLE * (costheta * costheta) / TOTAL_MASS));
        let xacc = temp - POLEMASS_LENGTH * thetaacc * costheta / TOTAL_MASS;
        // Explicit Euler: positions advance with the old velocities.
        let x = x + TAU * x_dot;
        let x_dot = x_dot + TAU * xacc;
        let theta = theta + TAU * theta_dot;
        let theta_dot = theta_dot + TAU * thetaacc;
        self.state = [x, x_dot, theta, theta_dot];

        // gymnasium's four comparisons, kept as such: a NaN state does not terminate there,
        // whereas `!range.contains(&x)` would say it does.
        #[allow(clippy::manual_range_contains)]
        let terminated = x < -X_THRESHOLD
            || x > X_THRESHOLD
            || theta < -THETA_THRESHOLD_RADIANS
            || theta > THETA_THRESHOLD_RADIANS;
        // gymnasium rewards the first terminal step with 1 and any step after it with 0.
        let reward = if !terminated {
            1.0
        } else if !self.terminated_before {
            self.terminated_before = true;
            1.0
        } else {
            0.0
        };
        self.obs_into(obs);
        Transition { reward, terminated, truncated: self.limit.tick() }
    }
}
