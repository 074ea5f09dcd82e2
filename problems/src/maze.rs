//! A deceptive maze for novelty search: a point robot among walls, driven by a neural
//! controller whose weights are the search point; the behaviour is the robot's final position.
//!
//! The task is the one of J. Lehman and K. O. Stanley (2011), "Abandoning Objectives:
//! Evolution through the Search for Novelty Alone", Evolutionary Computation 19(2), 189–223
//! (a robot in a maze, fitness = closeness of the final position to the goal, behaviour = the
//! final `(x, y)`), which F. P. Such et al. (2017, "Deep Neuroevolution", arXiv:1712.06567,
//! the "Image Hard Maze") and E. Conti et al. (2018, "Improving Exploration in Evolution
//! Strategies for Deep Reinforcement Learning via a Population of Novelty-Seeking Agents",
//! NeurIPS) reuse. The reward is *deceptive*: the direction that brings the robot closer to the
//! goal in a straight line leads into a cul-de-sac, while the path that actually reaches the
//! goal first moves away from it, so maximising the reward gets stuck where rewarding novel
//! final positions (novelty search) does not.

//! # Objective and direction
//!
//! [`Maze::evaluate`] returns the **Euclidean distance** from the final position to the goal, a
//! quantity to *minimise* (`direction: minimize`; Lehman & Stanley maximise a constant minus the
//! distance, the same ranking). [`Evaluation::extras`] is `[final_x, final_y]`, the behaviour
//! characterisation novelty search compares, and [`Evaluation::cost`] the number of simulation
//! steps. [`Maze::reached`] tells whether a behaviour is a success (final position within
//! `goal_radius` of the goal); an episode stops as soon as the robot is within `goal_radius`,
//! as in Lehman & Stanley's simulator, so a success is exactly a final distance `≤ goal_radius`.
//!
//! # The world
//!
//! Walls are line segments; [`MazeLayout`] describes the two maps: `medium`, designed here to
//! be strongly deceptive yet quick to solve by novelty search, and `hard`, Lehman & Stanley's
//! hard map wall for wall. The robot and its sensors are those of Lehman & Stanley's simulator
//! (their C++ code, ported to Go in yaricom/goNEAT_NS), except for the output mapping:
//!
//! * The robot is a disc of radius [`ROBOT_RADIUS`] (8) with a position and a heading. A step
//!   first turns it, then moves it along its new heading; if the new position would be closer
//!   than the radius to any wall, the robot stays where it was (Lehman & Stanley's collision
//!   rule). Because a step is at most [`MAX_SPEED`] (3) < the radius, a robot can never tunnel
//!   through a wall.
//! * Sensors ([`N_INPUTS`] = 10, all in `[0, 1]`): six rangefinders at −90°, −45°, 0°, 45°, 90°
//!   and 180° from the heading ([`RANGEFINDER_ANGLES`]), each the distance along its ray to the
//!   nearest wall divided by the range [`RANGEFINDER_RANGE`] (100; 1 when nothing is within
//!   range); then four pie-slice radars (front `[−45°, 45°)`, left `[45°, 135°)`, back
//!   `[135°, 225°)`, right `[225°, 315°)`, angles counter-clockwise from the heading), the one
//!   containing the direction of the goal reading 1 and the others 0. Lehman & Stanley's sensor
//!   suite, normalised the way they normalise it.
//! * Controller: an [`Mlp`] (the one of [`crate::policy`]) from the ten sensors to two outputs
//!   `(o₁, o₂)`, mapped to a forward speed `MAX_SPEED · tanh(o₁)` (backwards allowed, as in
//!   Lehman & Stanley) and a turn `MAX_TURN · tanh(o₂)` radians. Lehman & Stanley's network
//!   output *accelerations*, added to a speed and a turn rate clipped to ±3 (units and degrees
//!   per step); direct velocity commands are the simpler mapping for a fixed-topology network
//!   evolved by weight perturbation, and the one the measurements in [`MazeLayout`] use.
//!
//! # Search space
//!
//! The controller's parameters in [`Mlp`]'s layout, each in `[−param_bound, param_bound]`
//! (default [`DEFAULT_PARAM_BOUND`] = 1), with the network's fan-in initialisation scale
//! attached ([`Mlp::init_scale`]: weights `N(0, 1/fan_in)` on hidden layers, `N(0, 0.01/fan_in)`
//! on the output layer, biases 0), from which the Deep GA draws its first generation. That
//! start matters: a near-zero output layer makes every first controller a slow, smooth driver,
//! and novelty search then solved the hard map in 5 of 5 seeds (median about 6 000
//! evaluations), against 2 of 4 seeds within 40 000 evaluations when starting uniformly in
//! `[−1, 1]^d`. The sensors lie in `[0, 1]`, so weights of order one already
//! saturate the outputs; the box is a search region, the simulator is defined for any finite
//! weights.
//!
//! # Determinism and robustness
//!
//! No randomness at all: the same parameters give the same result bit for bit (on one platform:
//! `sin`, `cos`, `atan2` and `tanh` come from the platform's math library), whatever
//! [`EvalCtx`]. A non-finite parameter fails the evaluation with an [`EvalError`]; a network
//! output that overflows to NaN is read as 0 (no move, no turn), so the robot's position is
//! always finite and nothing panics.

use std::f64::consts::{FRAC_1_SQRT_2, FRAC_PI_2, FRAC_PI_4, PI, TAU};

use evoforge_core::{
    ConfigError, Describe, EvalCtx, EvalError, Evaluation, ParamDoc, Problem, Space,
};
use serde::{Deserialize, Serialize};

use crate::policy::{Activation, Mlp};

/// Radius of the robot's body: a position closer than this to a wall is a collision.
pub const ROBOT_RADIUS: f64 = 8.0;
/// Largest distance covered in one step (Lehman & Stanley's speed limit).
pub const MAX_SPEED: f64 = 3.0;
/// Largest turn in one step, in radians (about 11.5°).
pub const MAX_TURN: f64 = 0.2;
/// Range of the rangefinders.
pub const RANGEFINDER_RANGE: f64 = 100.0;
/// Directions of the rangefinders relative to the heading, in radians (counter-clockwise).
pub const RANGEFINDER_ANGLES: [f64; 6] = [-FRAC_PI_2, -FRAC_PI_4, 0.0, FRAC_PI_4, FRAC_PI_2, PI];
/// `[cos, sin]` of [`RANGEFINDER_ANGLES`], exact (`cos(π/2)` is 6e-17 in floating point).
const RANGEFINDER_DIRS: [[f64; 2]; 6] = [
    [0.0, -1.0],
    [FRAC_1_SQRT_2, -FRAC_1_SQRT_2],
    [1.0, 0.0],
    [FRAC_1_SQRT_2, FRAC_1_SQRT_2],
    [0.0, 1.0],
    [-1.0, 0.0],
];
/// Number of pie-slice radars (front, left, back, right).
pub const N_RADARS: usize = 4;
/// Number of controller inputs: the rangefinders, then the radars.
pub const N_INPUTS: usize = RANGEFINDER_ANGLES.len() + N_RADARS;
/// Number of controller outputs: speed, then turn.
pub const N_OUTPUTS: usize = 2;
/// Default half-width of the search box.
pub const DEFAULT_PARAM_BOUND: f64 = 1.0;

/// A point `[x, y]` of the maze plane.
pub type Point = [f64; 2];

/// A wall: the segment from `a` to `b`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Wall {
    /// One end.
    pub a: Point,
    /// The other end.
    pub b: Point,
}

impl Wall {
    const fn new(ax: f64, ay: f64, bx: f64, by: f64) -> Self {
        Self { a: [ax, ay], b: [bx, by] }
    }

    /// Distance from `p` to the closest point of the segment.
    pub fn distance(&self, p: Point) -> f64 {
        self.distance2(p).sqrt()
    }

    /// Squared distance from `p` to the closest point of the segment.
    fn distance2(&self, p: Point) -> f64 {
        let (dx, dy) = (self.b[0] - self.a[0], self.b[1] - self.a[1]);
        let (px, py) = (p[0] - self.a[0], p[1] - self.a[1]);
        let len2 = dx * dx + dy * dy;
        let u = if len2 > 0.0 { ((px * dx + py * dy) / len2).clamp(0.0, 1.0) } else { 0.0 };
        let (ex, ey) = (px - u * dx, py - u * dy);
        ex * ex + ey * ey
    }

    /// Distance `t ≥ 0` along the ray `origin + t · (cos, sin)` to where it meets the segment,
    /// or `None` when it does not (parallel rays included).
    fn ray_hit(&self, origin: Point, cos: f64, sin: f64) -> Option<f64> {
        let (ex, ey) = (self.b[0] - self.a[0], self.b[1] - self.a[1]);
        let (wx, wy) = (self.a[0] - origin[0], self.a[1] - origin[1]);
        // origin + t·d = a + s·e  ⇔  t·d − s·e = w, by Cramer's rule: t = tn / det and
        // s = sn / det. The signs are tested before dividing (most walls are missed).
        let det = ex * sin - ey * cos;
        let tn = ex * wy - ey * wx;
        let sn = cos * wy - sin * wx;
        let hit = if det > 0.0 {
            tn >= 0.0 && sn >= 0.0 && sn <= det
        } else if det < 0.0 {
            tn <= 0.0 && sn <= 0.0 && sn >= det
        } else {
            false
        };
        hit.then(|| tn / det)
    }
}

/// One of the two built-in maps (coordinates in the units of Lehman & Stanley's simulator,
/// `x` right and `y` up). [`Maze::walls`] lists the segments, the outer boundary first.
///
/// Both are *deceptive*: driving toward the goal ends in a cul-de-sac a few dozen units from
/// it, and every way in first leads away from the goal. The measurements below come from
/// `contrast_experiment` in `problems/tests/maze.rs`, with the default configuration and
/// searches started from the fan-in scale: a generational truncation GA (population 100, the
/// best 20 as parents, Gaussian mutations σ = 0.1, one elite) ranked either by the reward or by
/// novelty (mean distance of the final position to its 10 nearest neighbours among the
/// generation and an archive fed two random members per generation), and a (1+1) hill climber
/// on the reward (σ = 0.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MazeLayout {
    /// Designed for evoforge: a 200 × 200 arena with two rooms stacked in its middle. The start
    /// room (`x ∈ [50, 150]`, `y ∈ [40, 105]`) is open at the bottom; the goal room above it
    /// (`x ∈ [40, 160]`, `y ∈ [105, 165]`) shares its floor with the start room's ceiling and
    /// has a single 35-wide door at the right end of its roof. Start `(100, 70)` heading +y,
    /// toward the goal `(100, 130)` 60 units away. Driving toward the goal ends against the
    /// shared wall, 33 from the goal; the way in leaves the start room downwards (the distance
    /// grows to about 135), climbs a side corridor, and enters the goal room through the door:
    /// about 400 units, 140 steps at full speed.
    ///
    /// Measured over 10 000 evaluations per run: novelty search reached the goal in 10 of 10
    /// seeds (after 650 to 6 500 evaluations, median about 1 500); the GA on the reward in 0 of
    /// 20, every run ending against the shared wall 33 from the goal; the hill climber in 3 of
    /// 20. Lehman & Stanley's own medium map was tried first and set aside: it is only mildly
    /// deceptive (the hill climber, started uniformly in the box, solved it in 5 of 8 seeds), as
    /// their paper reports for fitness-based NEAT.
    #[default]
    Medium,
    /// Lehman & Stanley's *hard* map, wall for wall (their file is in a `y`-down frame, read here
    /// as `y`-up, so it is their figure mirrored top to bottom): a 195 × 195 arena
    /// (`[5, 200]²`), start `(36, 184)` heading +x, goal `(31, 20)`, seven inner walls. Straight
    /// toward the goal lies a corridor along the left wall that ends under the wall
    /// `(5, 49)–(57, 53)`, 39 units from the goal; the way through leads right, away from the
    /// goal, through a 26-wide gap, up a diagonal corridor, right again and back left along
    /// the far wall (about 600 units). Its gaps leave the robot's centre windows of 7 to 17
    /// units.
    ///
    /// Measured over 50 000 evaluations per run: novelty search reached the goal in 5 of 5
    /// seeds (after 2 000 to 39 000 evaluations, median about 5 700); the GA on the reward and
    /// the hill climber in 0 of 5, every run ending at `(28, 59)`, 38.9 from the goal.
    Hard,
}

const MEDIUM_WALLS: [Wall; 10] = [
    Wall::new(0.0, 0.0, 200.0, 0.0),
    Wall::new(200.0, 0.0, 200.0, 200.0),
    Wall::new(200.0, 200.0, 0.0, 200.0),
    Wall::new(0.0, 200.0, 0.0, 0.0),
    // The start room's ceiling and the goal room's floor.
    Wall::new(40.0, 105.0, 160.0, 105.0),
    // The start room's sides, open below y = 40.
    Wall::new(50.0, 105.0, 50.0, 40.0),
    Wall::new(150.0, 105.0, 150.0, 40.0),
    // The goal room's sides and roof; the door is x ∈ (125, 160) at y = 165.
    Wall::new(40.0, 105.0, 40.0, 165.0),
    Wall::new(160.0, 105.0, 160.0, 165.0),
    Wall::new(40.0, 165.0, 125.0, 165.0),
];

/// From `hard_maze.txt` of Lehman & Stanley's novelty-search code.
const HARD_WALLS: [Wall; 11] = [
    Wall::new(5.0, 5.0, 5.0, 200.0),
    Wall::new(5.0, 200.0, 200.0, 200.0),
    Wall::new(200.0, 200.0, 200.0, 5.0),
    Wall::new(200.0, 5.0, 5.0, 5.0),
    Wall::new(5.0, 49.0, 57.0, 53.0),
    Wall::new(56.0, 54.0, 56.0, 157.0),
    Wall::new(57.0, 106.0, 158.0, 162.0),
    Wall::new(77.0, 200.0, 108.0, 164.0),
    Wall::new(5.0, 80.0, 33.0, 121.0),
    Wall::new(200.0, 146.0, 87.0, 91.0),
    Wall::new(56.0, 55.0, 133.0, 30.0),
];

impl MazeLayout {
    /// Both layouts.
    pub const ALL: [MazeLayout; 2] = [MazeLayout::Medium, MazeLayout::Hard];

    /// The name used in study files.
    pub fn name(self) -> &'static str {
        match self {
            MazeLayout::Medium => "medium",
            MazeLayout::Hard => "hard",
        }
    }

    /// The wall segments, the outer boundary first.
    pub fn walls(self) -> &'static [Wall] {
        match self {
            MazeLayout::Medium => &MEDIUM_WALLS,
            MazeLayout::Hard => &HARD_WALLS,
        }
    }

    /// Where the robot starts.
    pub fn start(self) -> Point {
        match self {
            MazeLayout::Medium => [100.0, 70.0],
            MazeLayout::Hard => [36.0, 184.0],
        }
    }

    /// The robot's initial heading, radians counter-clockwise from +x.
    pub fn start_heading(self) -> f64 {
        match self {
            MazeLayout::Medium => FRAC_PI_2,
            MazeLayout::Hard => 0.0,
        }
    }

    /// The goal.
    pub fn goal(self) -> Point {
        match self {
            MazeLayout::Medium => [100.0, 130.0],
            MazeLayout::Hard => [31.0, 20.0],
        }
    }

    /// The outer boundary as `(lower corner, upper corner)`, for plotting.
    pub fn bounds(self) -> (Point, Point) {
        match self {
            MazeLayout::Medium => ([0.0, 0.0], [200.0, 200.0]),
            MazeLayout::Hard => ([5.0, 5.0], [200.0, 200.0]),
        }
    }
}

/// The controller family. Only [`MazeController::Mlp`] exists today; the field is there so
/// that study files keep their meaning when other controllers (pixel inputs, as in Such et
/// al.'s Image Hard Maze) are added.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MazeController {
    /// A fully connected network from the ten sensors to speed and turn (module docs).
    #[default]
    Mlp,
}

/// The study-file form (`problem: {kind: maze, layout: hard, steps: 400}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MazeConfig {
    /// Which map.
    #[serde(default)]
    pub layout: MazeLayout,
    /// Episode length in simulation steps (fewer when the goal is reached).
    #[serde(default = "default_steps")]
    pub steps: usize,
    /// The controller family.
    #[serde(default)]
    pub controller: MazeController,
    /// Hidden layer widths of the MLP; `[]` makes a linear controller.
    #[serde(default = "default_hidden")]
    pub hidden: Vec<usize>,
    /// Activation of the hidden layers.
    #[serde(default)]
    pub activation: Activation,
    /// Success radius around the goal; the episode stops once the robot is within it.
    #[serde(default = "default_goal_radius")]
    pub goal_radius: f64,
    /// Half-width of the search box: every parameter in `[-param_bound, param_bound]`.
    #[serde(default = "default_param_bound")]
    pub param_bound: f64,
}

/// 400: Lehman & Stanley's episode length.
fn default_steps() -> usize {
    400
}
fn default_hidden() -> Vec<usize> {
    vec![8]
}
/// 5: Lehman & Stanley's "within 5 units" success test.
fn default_goal_radius() -> f64 {
    5.0
}
fn default_param_bound() -> f64 {
    DEFAULT_PARAM_BOUND
}

impl Default for MazeConfig {
    fn default() -> Self {
        Self::new(MazeLayout::default())
    }
}

impl MazeConfig {
    /// A configuration for `layout` with every other field at its default.
    pub fn new(layout: MazeLayout) -> Self {
        Self {
            layout,
            steps: default_steps(),
            controller: MazeController::default(),
            hidden: default_hidden(),
            activation: Activation::default(),
            goal_radius: default_goal_radius(),
            param_bound: default_param_bound(),
        }
    }

    /// Validates the configuration and builds the problem. Errors name the YAML field.
    pub fn build(&self) -> Result<Maze, ConfigError> {
        if self.steps == 0 {
            return Err(ConfigError::new("steps", "needs at least 1 step"));
        }
        if let Some(i) = self.hidden.iter().position(|&h| h == 0) {
            return Err(ConfigError::new(
                format!("hidden[{i}]"),
                "a hidden layer needs width >= 1",
            ));
        }
        if !(self.goal_radius.is_finite() && self.goal_radius > 0.0) {
            return Err(ConfigError::new(
                "goal_radius",
                format!("must be finite and > 0, got {}", self.goal_radius),
            ));
        }
        if !(self.param_bound.is_finite() && self.param_bound > 0.0) {
            return Err(ConfigError::new(
                "param_bound",
                format!("must be finite and > 0, got {}", self.param_bound),
            ));
        }
        let mlp = match self.controller {
            MazeController::Mlp => {
                let mut sizes = vec![N_INPUTS];
                sizes.extend(&self.hidden);
                sizes.push(N_OUTPUTS);
                Mlp::uniform(&sizes, self.activation)
            }
        };
        let space = Space::real_box(mlp.n_params(), -self.param_bound, self.param_bound)
            .with_init_scale(mlp.init_scale());
        let layout = self.layout;
        Ok(Maze {
            layout,
            walls: layout.walls().to_vec(),
            start: RobotState { pos: layout.start(), heading: layout.start_heading() },
            goal: layout.goal(),
            steps: self.steps,
            goal_radius: self.goal_radius,
            mlp,
            space,
        })
    }
}

impl Describe for MazeConfig {
    const KIND: &'static str = "maze";
    const SUMMARY: &'static str = "Deceptive maze (Lehman & Stanley 2011): MLP-driven robot, distance of its final position to the goal (minimize); extras = final (x, y) for novelty search";
    fn params() -> Vec<ParamDoc> {
        vec![
            ParamDoc::opt(
                "layout",
                "medium | hard",
                "medium",
                "which map (see the maze module docs)",
            ),
            ParamDoc::opt("steps", "int", default_steps(), "episode length in simulation steps"),
            ParamDoc::opt("controller", "mlp", "mlp", "controller family"),
            ParamDoc::opt("hidden", "[int]", "[8]", "hidden layer widths; [] = linear controller"),
            ParamDoc::opt("activation", "tanh | relu", "tanh", "activation of the hidden layers"),
            ParamDoc::opt(
                "goal_radius",
                "float",
                default_goal_radius(),
                "success radius around the goal; the episode stops inside it",
            ),
            ParamDoc::opt(
                "param_bound",
                "float",
                DEFAULT_PARAM_BOUND,
                "search box [-b, b] for every weight",
            ),
        ]
    }
}

/// Where the robot is and where it faces.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RobotState {
    /// Position.
    pub pos: Point,
    /// Heading in radians counter-clockwise from +x, kept in `[0, 2π)`.
    pub heading: f64,
}

/// What one episode produced.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Episode {
    /// Where the robot ended.
    pub final_state: RobotState,
    /// Distance from the final position to the goal.
    pub distance: f64,
    /// Simulation steps taken (fewer than the episode length when the goal was reached).
    pub steps: usize,
    /// Whether the robot ended within the goal radius.
    pub reached: bool,
}

/// The maze problem: [`MazeConfig::build`] makes one.
#[derive(Debug, Clone, PartialEq)]
pub struct Maze {
    layout: MazeLayout,
    walls: Vec<Wall>,
    start: RobotState,
    goal: Point,
    steps: usize,
    goal_radius: f64,
    mlp: Mlp,
    space: Space,
}

fn dist(a: Point, b: Point) -> f64 {
    let (dx, dy) = (a[0] - b[0], a[1] - b[1]);
    (dx * dx + dy * dy).sqrt()
}

impl Maze {
    /// Which map.
    pub fn layout(&self) -> MazeLayout {
        self.layout
    }

    /// The wall segments.
    pub fn walls(&self) -> &[Wall] {
        &self.walls
    }

    /// The robot's initial state.
    pub fn start(&self) -> RobotState {
        self.start
    }

    /// The goal.
    pub fn goal(&self) -> Point {
        self.goal
    }

    /// The success radius around the goal.
    pub fn goal_radius(&self) -> f64 {
        self.goal_radius
    }

    /// Episode length in steps.
    pub fn steps(&self) -> usize {
        self.steps
    }

    /// The controller network.
    pub fn mlp(&self) -> &Mlp {
        &self.mlp
    }

    /// Number of parameters (the dimension of the search space).
    pub fn n_params(&self) -> usize {
        self.mlp.n_params()
    }

    /// Whether the behaviour `[x, y]` (a final position, as in [`Evaluation::extras`]) is within
    /// the goal radius; `false` for anything that is not two finite numbers.
    pub fn reached(&self, behaviour: &[f64]) -> bool {
        match behaviour {
            [x, y] => dist([*x, *y], self.goal) <= self.goal_radius,
            _ => false,
        }
    }

    /// Distance from `p` to the goal.
    pub fn distance_to_goal(&self, p: Point) -> f64 {
        dist(p, self.goal)
    }

    /// Whether a robot centred at `p` touches a wall (is closer than [`ROBOT_RADIUS`] to one).
    pub fn collides(&self, p: Point) -> bool {
        self.walls.iter().any(|w| w.distance2(p) < ROBOT_RADIUS * ROBOT_RADIUS)
    }

    /// Distance from `p` along the direction `angle` (radians, absolute) to the nearest wall,
    /// capped at [`RANGEFINDER_RANGE`].
    pub fn range(&self, p: Point, angle: f64) -> f64 {
        self.range_cs(p, angle.cos(), angle.sin())
    }

    fn range_cs(&self, p: Point, cos: f64, sin: f64) -> f64 {
        self.walls.iter().filter_map(|w| w.ray_hit(p, cos, sin)).fold(RANGEFINDER_RANGE, f64::min)
    }

    /// The controller's inputs in `state`: the six normalised rangefinders, then the four radars
    /// (module documentation), written to `out`.
    pub fn sense(&self, state: &RobotState, out: &mut [f64; N_INPUTS]) {
        let (sh, ch) = state.heading.sin_cos();
        for (o, [ca, sa]) in out.iter_mut().zip(RANGEFINDER_DIRS) {
            // cos/sin of heading + angle by the addition formulas.
            let (c, s) = (ch * ca - sh * sa, sh * ca + ch * sa);
            *o = self.range_cs(state.pos, c, s) / RANGEFINDER_RANGE;
        }
        let (dx, dy) = (self.goal[0] - state.pos[0], self.goal[1] - state.pos[1]);
        // Direction of the goal relative to the heading, in [0, 2π), shifted by 45° so that
        // slice k covers [k·90°, (k+1)·90°): front, left, back, right.
        let rel = (dy.atan2(dx) - state.heading + FRAC_PI_4).rem_euclid(TAU);
        let slice = ((rel / FRAC_PI_2) as usize).min(N_RADARS - 1);
        let radar = &mut out[RANGEFINDER_ANGLES.len()..];
        radar.fill(0.0);
        radar[slice] = 1.0;
    }

    /// One simulation step with commanded `speed` (clamped to `±MAX_SPEED`) and `turn` (clamped
    /// to `±MAX_TURN`): turn, then move along the new heading unless that collides. NaN commands
    /// count as 0, and a state with a non-finite heading or position stays where it is.
    /// Returns whether the robot moved.
    pub fn step(&self, state: &mut RobotState, speed: f64, turn: f64) -> bool {
        let clean = |v: f64, m: f64| if v.is_nan() { 0.0 } else { v.clamp(-m, m) };
        let (speed, turn) = (clean(speed, MAX_SPEED), clean(turn, MAX_TURN));
        state.heading = (state.heading + turn).rem_euclid(TAU);
        // rem_euclid can round up to exactly TAU for tiny negative values.
        if state.heading >= TAU {
            state.heading = 0.0;
        }
        let (s, c) = state.heading.sin_cos();
        let next = [state.pos[0] + speed * c, state.pos[1] + speed * s];
        if speed == 0.0 || !(next[0].is_finite() && next[1].is_finite()) || self.collides(next) {
            return false;
        }
        state.pos = next;
        true
    }

    /// Runs one episode of the controller with weights `params` from the start.
    ///
    /// # Panics
    ///
    /// When `params` does not have [`Maze::n_params`] entries ([`Maze::evaluate`] checks it).
    pub fn rollout(&self, params: &[f64]) -> Episode {
        self.run(params, |_| {})
    }

    /// The positions visited by one episode, the start included (for plotting).
    ///
    /// # Panics
    ///
    /// As [`Maze::rollout`].
    pub fn trajectory(&self, params: &[f64]) -> Vec<Point> {
        let mut path = vec![self.start.pos];
        self.run(params, |s| path.push(s.pos));
        path
    }

    /// The episode loop; `visit` sees the state after every step.
    fn run(&self, params: &[f64], mut visit: impl FnMut(&RobotState)) -> Episode {
        let mut state = self.start;
        let mut input = [0.0; N_INPUTS];
        let mut scratch = vec![0.0; self.mlp.scratch_len()];
        let mut out = [0.0; N_OUTPUTS];
        let mut steps = 0;
        let mut d = self.distance_to_goal(state.pos);
        while steps < self.steps && d > self.goal_radius {
            self.sense(&state, &mut input);
            self.mlp.forward(params, &input, &mut scratch, &mut out);
            self.step(&mut state, MAX_SPEED * out[0].tanh(), MAX_TURN * out[1].tanh());
            steps += 1;
            d = self.distance_to_goal(state.pos);
            visit(&state);
        }
        Episode { final_state: state, distance: d, steps, reached: d <= self.goal_radius }
    }
}

impl Problem for Maze {
    fn space(&self) -> &Space {
        &self.space
    }

    /// The distance from the final position to the goal (minimise it); `extras` is the final
    /// `[x, y]`, `cost` the number of simulation steps. Points outside the search box are
    /// evaluated as they are.
    fn evaluate(&self, x: &[f64], _ctx: &EvalCtx) -> Result<Evaluation, EvalError> {
        if x.len() != self.n_params() {
            return Err(EvalError(format!(
                "maze: expects {} parameters, got {}",
                self.n_params(),
                x.len()
            )));
        }
        if let Some(i) = x.iter().position(|v| !v.is_finite()) {
            return Err(EvalError(format!("maze: parameter {i} is {}", x[i])));
        }
        let e = self.rollout(x);
        Ok(Evaluation {
            values: vec![e.distance],
            cost: e.steps as f64,
            extras: Some(e.final_state.pos.to_vec()),
            ..Default::default()
        })
    }
}
