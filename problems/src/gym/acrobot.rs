//! `Acrobot-v1`: gymnasium 1.4.0's `AcrobotEnv` (Sutton 1996; dynamics of Sutton & Barto's
//! book, gymnasium's `book_or_nips = "book"`).

use std::f64::consts::PI;

use evoforge_core::Rng;

use super::{
    Action, ActionSpace, Env, TimeLimit, Transition, check_len, discrete, f32w, py_square, uniform,
};

const ID: &str = "Acrobot-v1";
/// Seconds per step, integrated by one RK4 step.
const DT: f64 = 0.2;
const LINK_LENGTH_1: f64 = 1.0;
const LINK_MASS_1: f64 = 1.0;
const LINK_MASS_2: f64 = 1.0;
const LINK_COM_POS_1: f64 = 0.5;
const LINK_COM_POS_2: f64 = 0.5;
const LINK_MOI: f64 = 1.0;
const MAX_VEL_1: f64 = 4.0 * PI;
const MAX_VEL_2: f64 = 9.0 * PI;
const GRAVITY: f64 = 9.8;
/// Torque on the second joint for actions 0, 1, 2. gymnasium's `torque_noise_max` is 0.
const AVAIL_TORQUE: [f64; 3] = [-1.0, 0.0, 1.0];

/// A two-link pendulum actuated at the elbow; swing the tip above the bar.
///
/// State `[θ1, θ2, θ̇1, θ̇2]` (θ1 = 0: first link hanging down; θ2 relative to the first link);
/// observation `[cos θ1, sin θ1, cos θ2, sin θ2, θ̇1, θ̇2]` rounded to `f32`. Actions 0, 1, 2
/// apply torque -1, 0, +1. Reward -1 per step and 0 on the terminal step, which is the first
/// with `-cos θ1 - cos(θ1 + θ2) > 1`. After each RK4 step the angles are wrapped into
/// [-π, π] and the velocities bounded to ±4π and ±9π. Reset draws the four components from
/// U(-0.1, 0.1) and rounds them to `f32`, as gymnasium does.
#[derive(Debug, Clone, PartialEq)]
pub struct Acrobot {
    state: [f64; 4],
    limit: TimeLimit,
}

impl Default for Acrobot {
    fn default() -> Self {
        Self::new()
    }
}

impl Acrobot {
    /// The environment with its registered time limit (500 steps), state all zeros until
    /// [`Env::reset`] or [`Env::set_state`].
    pub fn new() -> Self {
        Self { state: [0.0; 4], limit: TimeLimit::new(500) }
    }

    /// The same environment with another time limit.
    pub fn with_max_episode_steps(mut self, n: usize) -> Self {
        self.limit.max = n;
        self
    }
}

/// Time derivative of `[θ1, θ2, θ̇1, θ̇2]` under torque `a` (gymnasium's `_dsdt`, "book"
/// variant: the θ̇1² sin θ2 term in θ̈2 is what distinguishes it from the NIPS paper).
/// Written in gymnasium's operation order so that every intermediate is the same double; its
/// squares are Python's `** 2`, hence [`py_square`].
fn dsdt(s: &[f64; 4], a: f64) -> [f64; 4] {
    let (m1, m2) = (LINK_MASS_1, LINK_MASS_2);
    let l1 = LINK_LENGTH_1;
    let (lc1, lc2) = (LINK_COM_POS_1, LINK_COM_POS_2);
    let (i1, i2) = (LINK_MOI, LINK_MOI);
    let g = GRAVITY;
    let sq = py_square;
    let [theta1, theta2, dtheta1, dtheta2] = *s;
    let d1 = m1 * sq(lc1) + m2 * (sq(l1) + sq(lc2) + 2.0 * l1 * lc2 * theta2.cos()) + i1 + i2;
    let d2 = m2 * (sq(lc2) + l1 * lc2 * theta2.cos()) + i2;
    let phi2 = m2 * lc2 * g * (theta1 + theta2 - PI / 2.0).cos();
    let phi1 = -m2 * l1 * lc2 * sq(dtheta2) * theta2.sin()
        - 2.0 * m2 * l1 * lc2 * dtheta2 * dtheta1 * theta2.sin()
        + (m1 * lc1 + m2 * l1) * g * (theta1 - PI / 2.0).cos()
        + phi2;
    let ddtheta2 = (a + d2 / d1 * phi1 - m2 * l1 * lc2 * sq(dtheta1) * theta2.sin() - phi2)
        / (m2 * sq(lc2) + i2 - sq(d2) / d1);
    let ddtheta1 = -(d2 * ddtheta2 + phi1) / d1;
    [dtheta1, dtheta2, ddtheta1, ddtheta2]
}

/// One classic Runge-Kutta step of length [`DT`] (gymnasium's `rk4` over `t = [0, dt]`). The
/// torque, which gymnasium carries as a fifth state component with derivative 0, stays `a`.
fn rk4(y0: &[f64; 4], a: f64) -> [f64; 4] {
    let dt = DT;
    let dt2 = dt / 2.0;
    let shifted = |k: &[f64; 4], h: f64| -> [f64; 4] { std::array::from_fn(|i| y0[i] + h * k[i]) };
    let k1 = dsdt(y0, a);
    let k2 = dsdt(&shifted(&k1, dt2), a);
    let k3 = dsdt(&shifted(&k2, dt2), a);
    let k4 = dsdt(&shifted(&k3, dt), a);
    std::array::from_fn(|i| y0[i] + dt / 6.0 * (k1[i] + 2.0 * k2[i] + 2.0 * k3[i] + k4[i]))
}

/// gymnasium's `wrap`: shifts by whole periods `M - m` until `m <= x <= M`.
fn wrap(mut x: f64, m: f64, big_m: f64) -> f64 {
    // An infinite angle would loop forever (in gymnasium too); hand it back unchanged.
    if !x.is_finite() {
        return x;
    }
    let diff = big_m - m;
    while x > big_m {
        x -= diff;
    }
    while x < m {
        x += diff;
    }
    x
}

/// gymnasium's `bound`: Python's `min(max(x, m), M)`.
fn bound(x: f64, m: f64, big_m: f64) -> f64 {
    let y = if m > x { m } else { x };
    if big_m < y { big_m } else { y }
}

impl Acrobot {
    fn terminal(&self) -> bool {
        let [t1, t2, ..] = self.state;
        -t1.cos() - (t2 + t1).cos() > 1.0
    }
}

impl Env for Acrobot {
    fn id(&self) -> &'static str {
        ID
    }
    fn obs_dim(&self) -> usize {
        6
    }
    fn state_dim(&self) -> usize {
        4
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
        // gymnasium draws in float64 and stores `.astype(np.float32)`.
        let s: [f64; 4] = std::array::from_fn(|_| f32w(uniform(rng, -0.1, 0.1)));
        self.set_state(&s);
        self.obs()
    }

    fn set_state(&mut self, state: &[f64]) {
        check_len("state", ID, state.len(), 4);
        self.state.copy_from_slice(state);
        self.limit.elapsed = 0;
    }

    fn state_into(&self, out: &mut [f64]) {
        check_len("state buffer", ID, out.len(), 4);
        out.copy_from_slice(&self.state);
    }

    fn obs_into(&self, out: &mut [f64]) {
        check_len("observation buffer", ID, out.len(), 6);
        let [t1, t2, d1, d2] = self.state;
        let o = [t1.cos(), t1.sin(), t2.cos(), t2.sin(), d1, d2];
        for (out, v) in out.iter_mut().zip(o) {
            *out = f32w(v);
        }
    }

    fn step_into(&mut self, action: &Action<'_>, obs: &mut [f64]) -> Transition {
        let torque = AVAIL_TORQUE[discrete(action, 3, ID)];
        // The state after a reset is float32 in gymnasium, but `np.append(s, torque)` widens
        // it to float64, so the integration is all double precision.
        let ns = rk4(&self.state, torque);
        self.state = [
            wrap(ns[0], -PI, PI),
            wrap(ns[1], -PI, PI),
            bound(ns[2], -MAX_VEL_1, MAX_VEL_1),
            bound(ns[3], -MAX_VEL_2, MAX_VEL_2),
        ];
        let terminated = self.terminal();
        let reward = if terminated { 0.0 } else { -1.0 };
        self.obs_into(obs);
        Transition { reward, terminated, truncated: self.limit.tick() }
    }
}
