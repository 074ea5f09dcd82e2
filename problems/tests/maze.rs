//! The deceptive maze: geometry (walls stop the robot, rangefinders and radars read what a hand
//! computation gives), configuration, determinism, robustness, and the property the problem
//! exists for — reward-only search gets stuck in the cul-de-sac where novelty search on the
//! final position reaches the goal.
//!
//! The multi-seed version of that last check is `contrast_experiment`, ignored by default
//! (about a minute of CPU); run it with
//! `cargo test --release -p evoforge-problems --test maze -- --ignored --nocapture`
//! and the environment variables it reads (`MAZE=medium|hard`, `BUDGET`, `SEEDS`, ...).

use std::f64::consts::{FRAC_PI_2, SQRT_2};

use evoforge_core::{Describe, EvalCtx, Problem, Rng, stream};
use evoforge_problems::maze::{
    Episode, MAX_SPEED, N_INPUTS, RANGEFINDER_RANGE, ROBOT_RADIUS, RobotState,
};
use evoforge_problems::{Activation, Maze, MazeConfig, MazeController, MazeLayout};
use rand::RngExt;

fn ctx(seed: u64) -> EvalCtx {
    EvalCtx { id: 0, generation: 0, seed }
}

fn maze(layout: MazeLayout) -> Maze {
    MazeConfig::new(layout).build().unwrap()
}

#[track_caller]
fn close(got: f64, want: f64) {
    assert!((got - want).abs() < 1e-12, "{got} vs {want}");
}

// ---------------------------------------------------------------------------------------------
// Configuration.

#[test]
fn defaults_and_parameter_count() {
    let c = MazeConfig::default();
    assert_eq!(c.layout, MazeLayout::Medium);
    assert_eq!(c.steps, 400);
    assert_eq!(c.controller, MazeController::Mlp);
    assert_eq!(c.hidden, vec![8]);
    assert_eq!(c.activation, Activation::Tanh);
    assert_eq!(c.goal_radius, 5.0);
    assert_eq!(c.param_bound, 1.0);
    let m = c.build().unwrap();
    // 10 sensors → 8 → 2: (10 + 1)·8 + (8 + 1)·2.
    assert_eq!(m.n_params(), 106);
    assert_eq!(m.space().dim(), 106);
    assert_eq!(m.space().lower()[0], -1.0);
    assert_eq!(m.space().upper()[105], 1.0);
    assert_eq!(m.mlp().sizes(), &[N_INPUTS, 8, 2]);
    assert_eq!(m.optimum(), None);
    let linear = MazeConfig { hidden: vec![], ..MazeConfig::new(MazeLayout::Hard) };
    assert_eq!(linear.build().unwrap().n_params(), 22);
}

#[test]
fn config_parses_and_rejects_unknown_fields() {
    let c: MazeConfig = serde_json::from_str(
        r#"{"layout": "hard", "steps": 250, "controller": "mlp", "hidden": [16, 4],
            "activation": "relu", "goal_radius": 8.0, "param_bound": 3.0}"#,
    )
    .unwrap();
    assert_eq!(c.layout, MazeLayout::Hard);
    let m = c.build().unwrap();
    assert_eq!((m.steps(), m.goal_radius(), m.layout()), (250, 8.0, MazeLayout::Hard));
    assert_eq!(m.mlp().activations(), &[Activation::Relu, Activation::Relu]);
    assert_eq!(m.space().upper()[0], 3.0);
    let d: MazeConfig = serde_json::from_str("{}").unwrap();
    assert_eq!(d, MazeConfig::default());
    assert!(serde_json::from_str::<MazeConfig>(r#"{"layout": "easy"}"#).is_err());
    assert!(serde_json::from_str::<MazeConfig>(r#"{"controller": "cnn"}"#).is_err());
    assert!(serde_json::from_str::<MazeConfig>(r#"{"step": 100}"#).is_err());
    for l in MazeLayout::ALL {
        assert_eq!(serde_json::to_string(&l).unwrap(), format!("\"{}\"", l.name()));
    }
}

#[test]
fn build_errors_name_the_field() {
    let err = |c: MazeConfig| c.build().unwrap_err().field;
    let d = MazeConfig::default;
    assert_eq!(err(MazeConfig { steps: 0, ..d() }), "steps");
    assert_eq!(err(MazeConfig { hidden: vec![4, 0], ..d() }), "hidden[1]");
    assert_eq!(err(MazeConfig { goal_radius: 0.0, ..d() }), "goal_radius");
    assert_eq!(err(MazeConfig { goal_radius: f64::NAN, ..d() }), "goal_radius");
    assert_eq!(err(MazeConfig { param_bound: -1.0, ..d() }), "param_bound");
    assert_eq!(err(MazeConfig { param_bound: f64::INFINITY, ..d() }), "param_bound");
}

#[test]
fn describe_lists_every_field_with_its_default() {
    assert_eq!(MazeConfig::KIND, "maze");
    let params = MazeConfig::params();
    let names: Vec<&str> = params.iter().map(|p| p.name).collect();
    assert_eq!(
        names,
        ["layout", "steps", "controller", "hidden", "activation", "goal_radius", "param_bound"]
    );
    let default = |n: &str| params.iter().find(|p| p.name == n).unwrap().default.clone().unwrap();
    assert_eq!(default("layout"), "medium");
    assert_eq!(default("steps"), "400");
    assert_eq!(default("goal_radius"), "5");
    assert_eq!(default("param_bound"), "1");
}

// ---------------------------------------------------------------------------------------------
// Geometry.

#[test]
fn layouts_are_well_formed() {
    for l in MazeLayout::ALL {
        let m = maze(l);
        let (lo, hi) = l.bounds();
        for p in [m.start().pos, m.goal()] {
            assert!(!m.collides(p), "{l:?}: {p:?} touches a wall");
            assert!(lo[0] < p[0] && p[0] < hi[0] && lo[1] < p[1] && p[1] < hi[1]);
        }
        for w in m.walls() {
            for q in [w.a, w.b] {
                assert!(lo[0] <= q[0] && q[0] <= hi[0] && lo[1] <= q[1] && q[1] <= hi[1]);
            }
        }
        assert_eq!(m.walls(), l.walls());
    }
}

#[test]
fn walls_stop_a_straight_drive() {
    // Medium: from (100, 70) heading +y at full speed, the ceiling is y = 105, so the robot's
    // centre stops at 105 − 8 = 97 after 9 steps of 3, and stays there.
    let m = maze(MazeLayout::Medium);
    let mut s = m.start();
    assert_eq!(s.heading, FRAC_PI_2);
    for _ in 0..9 {
        assert!(m.step(&mut s, MAX_SPEED, 0.0));
    }
    close(s.pos[1], 97.0);
    close(s.pos[0], 100.0);
    for _ in 0..20 {
        assert!(!m.step(&mut s, MAX_SPEED, 0.0), "a blocked robot does not move");
    }
    close(s.pos[1], 97.0);
    // That is the cul-de-sac: 130 − 97 = 33 from the goal.
    close(m.distance_to_goal(s.pos), 33.0);
    // Backwards, the floor y = 0 stops it at 70 − 3·20 = 10 (7 would be closer than 8).
    let mut s = m.start();
    while m.step(&mut s, -MAX_SPEED, 0.0) {}
    close(s.pos[1], 10.0);
    // Commands beyond the limits are clamped.
    let mut s = m.start();
    m.step(&mut s, 100.0, 0.0);
    close(s.pos[1], 73.0);

    // Hard: from (36, 184) heading +x, the wall (77, 200)–(108, 164) is at distance
    // (3268 − 36 x) / √(31² + 36²) from (x, 184); x = 78 is the last multiple-of-3 step with
    // distance ≥ 8 (81 gives 7.41).
    let h = maze(MazeLayout::Hard);
    let mut s = h.start();
    let mut n = 0;
    while h.step(&mut s, MAX_SPEED, 0.0) {
        n += 1;
    }
    assert_eq!(n, 14);
    close(s.pos[0], 78.0);
    close(s.pos[1], 184.0);
    let d = |x: f64| (3268.0 - 36.0 * x) / (31.0f64.powi(2) + 36.0f64.powi(2)).sqrt();
    assert!(d(78.0) >= ROBOT_RADIUS && d(81.0) < ROBOT_RADIUS);
    close(h.walls()[7].distance(s.pos), d(78.0));
}

#[test]
fn turning_and_nan_commands() {
    let m = maze(MazeLayout::Medium);
    let mut s = m.start();
    // A turn command is clamped to MAX_TURN (0.2 rad) and applied before the move.
    m.step(&mut s, 0.0, -10.0);
    close(s.heading, FRAC_PI_2 - 0.2);
    assert_eq!(s.pos, m.start().pos, "speed 0 does not move");
    m.step(&mut s, 2.0, 0.0);
    close(s.pos[0], 100.0 + 2.0 * (FRAC_PI_2 - 0.2).cos());
    close(s.pos[1], 70.0 + 2.0 * (FRAC_PI_2 - 0.2).sin());
    // NaN commands are no command; the heading stays in [0, 2π).
    let before = s;
    assert!(!m.step(&mut s, f64::NAN, f64::NAN));
    assert_eq!(s, before);
    let mut lost = RobotState { pos: [100.0, 70.0], heading: f64::NAN };
    assert!(!m.step(&mut lost, MAX_SPEED, 0.0));
    assert_eq!(lost.pos, [100.0, 70.0]);
    let mut s = RobotState { pos: [100.0, 70.0], heading: 0.0 };
    m.step(&mut s, 0.0, -0.1);
    assert!((0.0..std::f64::consts::TAU).contains(&s.heading));
    close(s.heading, std::f64::consts::TAU - 0.1);
}

#[test]
fn sensors_at_the_start_match_a_hand_computation() {
    // Medium: at (100, 70) facing +y inside the start room x ∈ [50, 150], y < 105.
    let m = maze(MazeLayout::Medium);
    let mut x = [0.0; N_INPUTS];
    m.sense(&m.start(), &mut x);
    let want = [
        0.50,          // −90°: facing +x, the side x = 150 at 50
        0.35 * SQRT_2, // −45°: the ceiling y = 105 at 35√2 (hit at x = 135)
        0.35,          // 0°: the ceiling at 35
        0.35 * SQRT_2, // 45°: the ceiling at x = 65
        0.50,          // 90°: the side x = 50
        0.70,          // 180°: the room is open below y = 40, so the floor y = 0 at 70
        1.0,           // the goal (100, 130) is straight ahead: front radar
        0.0,
        0.0,
        0.0,
    ];
    for (g, w) in x.iter().zip(want) {
        close(*g, w);
    }

    // Hard: at (36, 184) facing +x.
    let h = maze(MazeLayout::Hard);
    h.sense(&h.start(), &mut x);
    // −90° looks along −y: the first wall down the line x = 36 is (5, 49)–(57, 53) at
    // y = 49 + 4·31/52 ≈ 51.4, 132.6 away: beyond the range.
    close(x[0], 1.0);
    // −45°: (36 + u, 184 − u) meets (57, 106)–(158, 162), y = 106 + 56 (x − 57) / 101, at
    // u = (184 − 106 + 21·56/101) / (1 + 56/101).
    let u = (184.0 - 106.0 + 21.0 * 56.0 / 101.0) / (1.0 + 56.0 / 101.0);
    assert!((57.0..158.0).contains(&(36.0 + u)));
    close(x[1], u * SQRT_2 / RANGEFINDER_RANGE);
    // 0°: (77, 200)–(108, 164) crosses y = 184 at s = 4/9, x = 77 + 31·4/9.
    close(x[2], (77.0 + 31.0 * 4.0 / 9.0 - 36.0) / RANGEFINDER_RANGE);
    // 45°: the boundary y = 200 at 16√2; 90°: the same boundary at 16; 180°: x = 5 at 31.
    close(x[3], 0.16 * SQRT_2);
    close(x[4], 0.16);
    close(x[5], 0.31);
    // The goal (31, 20) is at −(5, 164) from the start, 268° counter-clockwise from +x:
    // the right radar ([225°, 315°)).
    assert_eq!(&x[6..], &[0.0, 0.0, 0.0, 1.0]);

    // And each radar fires when the robot faces the matching way.
    let mut s = m.start();
    for (heading, slice) in [(FRAC_PI_2, 0), (0.0, 1), (-FRAC_PI_2, 2), (std::f64::consts::PI, 3)] {
        s.heading = heading.rem_euclid(std::f64::consts::TAU);
        m.sense(&s, &mut x);
        let mut want = [0.0; 4];
        want[slice] = 1.0;
        assert_eq!(&x[6..], &want, "heading {heading}");
    }
}

#[test]
fn range_is_capped() {
    let m = maze(MazeLayout::Medium);
    // From (20, 60) in the left corridor: clear up to y = 200 (capped), the floor 60 below,
    // the boundary x = 0 at 20, the start room's side x = 50 at 30.
    assert_eq!(m.range([20.0, 60.0], FRAC_PI_2), RANGEFINDER_RANGE);
    close(m.range([20.0, 60.0], -FRAC_PI_2), 60.0);
    close(m.range([20.0, 60.0], std::f64::consts::PI), 20.0);
    close(m.range([20.0, 60.0], 0.0), 30.0);
    // Below the start room's sides (they end at y = 40) the ray along +x runs on.
    close(m.range([20.0, 20.0], 0.0), RANGEFINDER_RANGE);
}

// ---------------------------------------------------------------------------------------------
// The problem contract.

fn uniform_point(m: &Maze, r: &mut Rng) -> Vec<f64> {
    let (lo, hi) = (m.space().lower(), m.space().upper());
    lo.iter().zip(&hi).map(|(l, h)| l + (h - l) * r.random::<f64>()).collect()
}

#[test]
fn evaluation_reports_distance_behaviour_and_steps_deterministically() {
    for layout in MazeLayout::ALL {
        let m = maze(layout);
        let mut r = stream(3, &[layout as u64]);
        for _ in 0..20 {
            let x = uniform_point(&m, &mut r);
            let a = m.evaluate(&x, &ctx(1)).unwrap();
            let b = m.evaluate(&x, &ctx(99)).unwrap();
            assert_eq!(a, b, "no randomness: the seed changes nothing");
            let bits = |e: &evoforge_core::Evaluation| {
                e.values
                    .iter()
                    .chain(e.extras.as_ref().unwrap())
                    .map(|v| v.to_bits())
                    .collect::<Vec<_>>()
            };
            assert_eq!(bits(&a), bits(&b));
            let ep: Episode = m.rollout(&x);
            let behaviour = a.extras.clone().unwrap();
            assert_eq!(behaviour, ep.final_state.pos.to_vec());
            assert_eq!(a.values, vec![ep.distance]);
            close(a.values[0], m.distance_to_goal(ep.final_state.pos));
            assert_eq!(a.cost, ep.steps as f64);
            assert!(ep.steps <= m.steps() && ep.steps >= 1);
            assert_eq!(ep.reached, m.reached(&behaviour));
            assert_eq!(ep.reached, ep.steps < m.steps() || ep.distance <= m.goal_radius());
            // The trajectory is the same episode, step by step, and never touches a wall.
            let path = m.trajectory(&x);
            assert_eq!(path.len(), ep.steps + 1);
            assert_eq!(path[0], m.start().pos);
            assert_eq!(*path.last().unwrap(), ep.final_state.pos);
            assert!(path.iter().all(|p| !m.collides(*p)));
            for w in path.windows(2) {
                let step = (w[1][0] - w[0][0]).hypot(w[1][1] - w[0][1]);
                assert!(step <= MAX_SPEED + 1e-12);
            }
        }
    }
}

#[test]
fn reached_reads_a_behaviour() {
    let m = maze(MazeLayout::Medium);
    let g = m.goal();
    assert!(m.reached(&g));
    assert!(m.reached(&[g[0] + 5.0, g[1]]));
    assert!(!m.reached(&[g[0] + 5.01, g[1]]));
    assert!(!m.reached(&[]));
    assert!(!m.reached(&[g[0], g[1], 0.0]));
    assert!(!m.reached(&[f64::NAN, g[1]]));
}

#[test]
fn bad_inputs_fail_or_stay_finite_never_panic() {
    let m = maze(MazeLayout::Hard);
    let n = m.n_params();
    assert!(m.evaluate(&vec![0.0; n - 1], &ctx(0)).is_err());
    assert!(m.evaluate(&vec![0.0; n + 1], &ctx(0)).is_err());
    for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        let mut x = vec![0.1; n];
        x[7] = bad;
        let e = m.evaluate(&x, &ctx(0)).unwrap_err();
        assert!(e.0.contains("parameter 7"), "{e}");
    }
    // Huge finite weights overflow the network (inf − inf = NaN): the robot then stands still
    // or saturates, but every number reported is finite.
    for scale in [1e300, -1e300, 1e154, 0.0] {
        let x: Vec<f64> = (0..n).map(|i| if i % 3 == 0 { scale } else { -scale }).collect();
        let e = m.evaluate(&x, &ctx(0)).unwrap();
        assert!(e.values[0].is_finite());
        assert!(e.extras.unwrap().iter().all(|v| v.is_finite()));
    }
    // All-zero weights: zero speed, the robot never leaves the start.
    let e = m.evaluate(&vec![0.0; n], &ctx(0)).unwrap();
    assert_eq!(e.extras.unwrap(), m.start().pos.to_vec());
    assert_eq!(e.cost, 400.0);
}

#[test]
fn an_episode_stops_at_the_goal() {
    // At the medium start the goal is 60 away, straight ahead; with goal radius 58 one
    // full-speed step toward it (all-zero weights except the speed bias) ends the episode.
    let m =
        MazeConfig { goal_radius: 58.0, hidden: vec![], ..MazeConfig::default() }.build().unwrap();
    // Linear controller: W (2 × 10) then b (2); a large speed bias gives tanh ≈ 1.
    let mut x = vec![0.0; m.n_params()];
    x[20] = 50.0;
    let ep = m.rollout(&x);
    assert_eq!(ep.steps, 1);
    assert!(ep.reached);
    close(ep.distance, 57.0);
    let e = m.evaluate(&x, &ctx(0)).unwrap();
    assert_eq!(e.cost, 1.0);
    assert!(m.reached(&e.extras.unwrap()));
}

// ---------------------------------------------------------------------------------------------
// Deception: reward-only search gets stuck, novelty search does not.

fn gauss(r: &mut Rng) -> f64 {
    // Box–Muller; 1 − u keeps the logarithm finite.
    let u1: f64 = 1.0 - r.random::<f64>();
    let u2: f64 = r.random::<f64>();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// A starting point for a search: `init_scale ⊙ N(0, I)`, the space's own initialisation (the
/// fan-in scale the Deep GA draws from), or uniform in the box with `INIT=uniform`.
fn init_point(m: &Maze, r: &mut Rng) -> Vec<f64> {
    match m.space().init_scale() {
        Some(s) if std::env::var("INIT").as_deref() != Ok("uniform") => {
            s.iter().map(|s| s * gauss(r)).collect()
        }
        _ => uniform_point(m, r),
    }
}

fn eval(m: &Maze, x: &[f64]) -> (f64, [f64; 2]) {
    let e = m.evaluate(x, &ctx(0)).unwrap();
    let b = e.extras.unwrap();
    (e.values[0], [b[0], b[1]])
}

/// What one search run achieved.
#[derive(Debug, Clone, Copy)]
struct Outcome {
    /// Smallest final distance to the goal seen.
    best: f64,
    /// Where that best individual ended.
    best_pos: [f64; 2],
    /// Evaluations until the goal was reached, if it was.
    solved_at: Option<usize>,
}

/// (1+1) random search on the reward: Gaussian steps of `sigma`, kept when not worse.
fn hill_climb(m: &Maze, seed: u64, budget: usize, sigma: f64) -> Outcome {
    let mut r = stream(seed, &[1]);
    let mut x = init_point(m, &mut r);
    let (mut f, mut pos) = eval(m, &x);
    for k in 1..=budget {
        if m.reached(&pos) {
            return Outcome { best: f, best_pos: pos, solved_at: Some(k) };
        }
        if k == budget {
            break;
        }
        let y: Vec<f64> = x.iter().map(|v| v + sigma * gauss(&mut r)).collect();
        let (g, p) = eval(m, &y);
        if g <= f {
            (x, f, pos) = (y, g, p);
        }
    }
    Outcome { best: f, best_pos: pos, solved_at: None }
}

#[derive(Clone, Copy, PartialEq, Debug)]
enum Score {
    Reward,
    Novelty,
}

/// A generational truncation GA in the shape of Such et al.'s Deep GA: `pop` members, the
/// `top` best become parents, the best one survives unchanged (not re-evaluated), the others
/// are Gaussian mutations (`sigma`) of random parents. Scored by the reward (−distance) or by
/// novelty (Lehman & Stanley): the mean distance of the final position to its `k` nearest
/// neighbours among the current generation and an archive that receives two random members of
/// each generation.
fn ga(m: &Maze, seed: u64, budget: usize, score: Score, pop: usize, top: usize) -> Outcome {
    let (sigma, k, per_gen_archive) = (0.1, 10, 2);
    let mut r = stream(seed, &[2]);
    let mut children: Vec<Vec<f64>> = (0..pop).map(|_| init_point(m, &mut r)).collect();
    let mut archive: Vec<[f64; 2]> = Vec::new();
    let mut elite: Option<(Vec<f64>, f64, [f64; 2])> = None;
    let (mut evals, mut best) = (0, (f64::INFINITY, [f64::NAN; 2]));
    loop {
        let mut members: Vec<(Vec<f64>, f64, [f64; 2])> = Vec::with_capacity(pop);
        for x in children.drain(..) {
            let (f, b) = eval(m, &x);
            evals += 1;
            if f < best.0 {
                best = (f, b);
            }
            if m.reached(&b) {
                return Outcome { best: f, best_pos: b, solved_at: Some(evals) };
            }
            members.push((x, f, b));
        }
        if evals >= budget {
            return Outcome { best: best.0, best_pos: best.1, solved_at: None };
        }
        members.extend(elite.take());
        let scores: Vec<f64> = match score {
            Score::Reward => members.iter().map(|a| -a.1).collect(),
            Score::Novelty => {
                let pts: Vec<[f64; 2]> =
                    members.iter().map(|a| a.2).chain(archive.iter().copied()).collect();
                (0..members.len())
                    .map(|i| {
                        let b = members[i].2;
                        let mut d: Vec<f64> = (0..pts.len())
                            .filter(|&j| j != i)
                            .map(|j| (pts[j][0] - b[0]).hypot(pts[j][1] - b[1]))
                            .collect();
                        d.sort_by(f64::total_cmp);
                        let n = k.min(d.len());
                        d[..n].iter().sum::<f64>() / n as f64
                    })
                    .collect()
            }
        };
        if score == Score::Novelty {
            for _ in 0..per_gen_archive {
                let j = r.random_range(0..members.len());
                archive.push(members[j].2);
            }
        }
        let mut order: Vec<usize> = (0..members.len()).collect();
        order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]).then(a.cmp(&b)));
        for _ in 1..pop {
            let p = &members[order[r.random_range(0..top)]].0;
            children.push(p.iter().map(|v| v + sigma * gauss(&mut r)).collect());
        }
        elite = Some(members.swap_remove(order[0]));
    }
}

/// Whether `p` is in the medium map's cul-de-sac: inside the start room, against its ceiling.
fn in_medium_cul_de_sac(p: [f64; 2]) -> bool {
    (50.0..150.0).contains(&p[0]) && (85.0..=97.0 + 1e-9).contains(&p[1])
}

#[test]
fn reward_only_search_is_trapped_where_novelty_search_reaches_the_goal() {
    let m = maze(MazeLayout::Medium);
    let budget = 4000;
    // The hill climber climbs into the cul-de-sac (33 from the goal) and stays there.
    let hc = hill_climb(&m, 0, budget, 0.1);
    assert_eq!(hc.solved_at, None, "{hc:?}");
    assert!(hc.best > 30.0 && in_medium_cul_de_sac(hc.best_pos), "{hc:?}");
    // Novelty search with the same budget finds the way round.
    let ns = ga(&m, 0, budget, Score::Novelty, 100, 20);
    let at = ns.solved_at.unwrap_or_else(|| panic!("novelty search did not solve: {ns:?}"));
    assert!(at <= budget, "{ns:?}");
    assert!(m.reached(&ns.best_pos));
}

fn env<T: std::str::FromStr>(k: &str, default: T) -> T {
    std::env::var(k).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// Multi-seed contrast: `MAZE` (medium | hard), `BUDGET` evaluations per run, `SEEDS`, `POP`,
/// `ALGOS` (a subset of `hc,ga,ns`), `INIT=uniform` to start from the box instead of the
/// fan-in scale. Prints one line per seed and the success counts.
#[test]
#[ignore]
fn contrast_experiment() {
    let layout = match std::env::var("MAZE").as_deref() {
        Ok("hard") => MazeLayout::Hard,
        _ => MazeLayout::Medium,
    };
    let budget: usize = env("BUDGET", 10_000);
    let seeds: u64 = env("SEEDS", 10);
    let pop: usize = env("POP", 100);
    let algos: String = env("ALGOS", "hc,ga,ns".to_string());
    let m = maze(layout);
    let t = std::time::Instant::now();
    let results: Vec<[Option<Outcome>; 3]> = std::thread::scope(|sc| {
        let handles: Vec<_> = (0..seeds)
            .map(|s| {
                let (m, algos) = (&m, &algos);
                sc.spawn(move || {
                    let hc = algos.contains("hc").then(|| hill_climb(m, s, budget, 0.1));
                    let ga_r =
                        algos.contains("ga").then(|| ga(m, s, budget, Score::Reward, pop, pop / 5));
                    let ns = algos
                        .contains("ns")
                        .then(|| ga(m, s, budget, Score::Novelty, pop, pop / 5));
                    [hc, ga_r, ns]
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let show = |o: &Option<Outcome>| match o {
        None => "-".to_string(),
        Some(Outcome { solved_at: Some(n), .. }) => format!("solved@{n}"),
        Some(o) => format!("best {:.1} at ({:.0}, {:.0})", o.best, o.best_pos[0], o.best_pos[1]),
    };
    println!("{layout:?}, budget {budget}, pop {pop}, {:?}", t.elapsed());
    for (s, r) in results.iter().enumerate() {
        println!(
            "seed {s}: hc {} | ga-reward {} | ga-ns {}",
            show(&r[0]),
            show(&r[1]),
            show(&r[2])
        );
    }
    for (i, name) in ["hc", "ga-reward", "ga-ns"].iter().enumerate() {
        let solved = results.iter().filter(|r| r[i].is_some_and(|o| o.solved_at.is_some())).count();
        println!("{name}: {solved} of {seeds} reach the goal");
    }
}
