//! Replays gymnasium 1.4.0 trajectories through `evoforge_problems::gym` and compares every step.
//!
//! Fixture: `tests/fixtures/gym_classic_control.json` (see `fixtures/SOURCE.md`). Set
//! `EVOFORGE_GYM_TRAJECTORIES` to a file of the same format (for instance the full
//! `../shared/data/gym/classic_control.json`) to replay that one as well.
//!
//! Tolerance rule: observations and internal states agree to 1e-6 absolute (they are the same
//! doubles when the C library's `sin`/`cos`/`pow` are the ones gymnasium's numpy called, but an
//! RK4 or Euler trajectory may drift by an ulp or so elsewhere; observations are `float32`, so
//! 1e-6 is about one `float32` ulp at the largest magnitudes seen). Rewards, `terminated` and
//! `truncated` must be equal exactly: a reward is a value gymnasium returns, not an
//! approximation, and any difference there means different arithmetic.
//!
//! With `EVOFORGE_GYM_BITEXACT=1` observations and states must be equal too. On the Linux/glibc
//! machines the references were recorded on they are (every state of the full shared set), and
//! only this mode sees some precision slips: treating MountainCarContinuous's clipped force as a
//! `float32` instead of a Python float, for instance, moves states by up to 4e-7 and no reward.
use std::collections::BTreeMap;

use evoforge_core::{Purpose, stream};
use evoforge_problems::gym::{self, Action, ActionSpace, ENV_IDS, Env};
use serde::Deserialize;

const TOL: f64 = 1e-6;

/// The tolerance for observations and states: [`TOL`], or 0 under `EVOFORGE_GYM_BITEXACT=1`.
fn tolerance() -> f64 {
    if std::env::var("EVOFORGE_GYM_BITEXACT").is_ok_and(|v| v == "1") { 0.0 } else { TOL }
}

#[derive(Deserialize)]
struct File {
    episodes: Vec<Episode>,
}

#[derive(Deserialize)]
struct Episode {
    env: String,
    seed: u64,
    max_episode_steps: usize,
    reset_obs: Vec<f64>,
    reset_state: Vec<f64>,
    steps: Vec<StepRecord>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum ActionRecord {
    Discrete(usize),
    Continuous(Vec<f64>),
}

#[derive(Deserialize)]
struct StepRecord {
    action: ActionRecord,
    obs: Vec<f64>,
    reward: f64,
    terminated: bool,
    truncated: bool,
    state: Vec<f64>,
}

/// Largest absolute difference, or `None` when the lengths differ.
fn max_abs_diff(a: &[f64], b: &[f64]) -> Option<f64> {
    (a.len() == b.len()).then(|| a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f64::max))
}

#[derive(Default)]
struct Summary {
    episodes: usize,
    steps: usize,
    max_obs_diff: f64,
    max_state_diff: f64,
    /// Steps whose state equals gymnasium's bit for bit.
    exact_states: usize,
}

/// Replays every episode of `path`; returns the mismatches (at most the first per episode).
fn replay(path: &str, summary: &mut BTreeMap<String, Summary>) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let file: File = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
    let tol = tolerance();
    let mut failures = Vec::new();
    for ep in &file.episodes {
        let who = format!("{} seed {}", ep.env, ep.seed);
        let sum = summary.entry(ep.env.clone()).or_default();
        sum.episodes += 1;
        let mut env = gym::make(&ep.env).unwrap_or_else(|e| panic!("{who}: {e}"));
        if env.max_episode_steps() != ep.max_episode_steps {
            failures.push(format!(
                "{who}: max_episode_steps {} != {}",
                env.max_episode_steps(),
                ep.max_episode_steps
            ));
            continue;
        }
        env.set_state(&ep.reset_state);
        match max_abs_diff(&env.obs(), &ep.reset_obs) {
            Some(d) if d <= tol => sum.max_obs_diff = sum.max_obs_diff.max(d),
            _ => {
                failures.push(format!("{who}: reset obs {:?} != {:?}", env.obs(), ep.reset_obs));
                continue;
            }
        }
        let mut obs = vec![0.0; env.obs_dim()];
        for (i, rec) in ep.steps.iter().enumerate() {
            let action = match &rec.action {
                ActionRecord::Discrete(a) => Action::Discrete(*a),
                ActionRecord::Continuous(a) => Action::Continuous(a),
            };
            let t = env.step_into(&action, &mut obs);
            let state = env.state();
            let obs_diff = max_abs_diff(&obs, &rec.obs);
            let state_diff = max_abs_diff(&state, &rec.state);
            sum.steps += 1;
            sum.exact_states += usize::from(state == rec.state);
            let mut bad = Vec::new();
            match obs_diff {
                Some(d) if d <= tol => sum.max_obs_diff = sum.max_obs_diff.max(d),
                _ => bad.push(format!("obs {obs:?} != {:?}", rec.obs)),
            }
            match state_diff {
                Some(d) if d <= tol => sum.max_state_diff = sum.max_state_diff.max(d),
                _ => bad.push(format!("state {state:?} != {:?}", rec.state)),
            }
            // Exact: see the tolerance rule at the top of the file.
            if t.reward != rec.reward {
                bad.push(format!("reward {:e} != {:e}", t.reward, rec.reward));
            }
            if t.terminated != rec.terminated || t.truncated != rec.truncated {
                bad.push(format!(
                    "terminated/truncated {}/{} != {}/{}",
                    t.terminated, t.truncated, rec.terminated, rec.truncated
                ));
            }
            if !bad.is_empty() {
                failures.push(format!("{who} step {i}: {}", bad.join("; ")));
                break;
            }
        }
    }
    failures
}

fn check(paths: &[String]) {
    let mut summary = BTreeMap::new();
    let mut failures = Vec::new();
    for p in paths {
        failures.extend(replay(p, &mut summary));
    }
    for (env, s) in &summary {
        println!(
            "{env}: {} episodes, {} steps, {} states bit-exact, max |Δobs| {:e}, max |Δstate| {:e}",
            s.episodes, s.steps, s.exact_states, s.max_obs_diff, s.max_state_diff
        );
    }
    assert!(failures.is_empty(), "{} episodes differ:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn fixture_trajectories_match_gymnasium() {
    let fixture = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/gym_classic_control.json");
    let mut paths = vec![fixture.to_string()];
    if let Ok(extra) = std::env::var("EVOFORGE_GYM_TRAJECTORIES") {
        paths.push(extra);
    }
    check(&paths);
}

#[test]
fn fixture_covers_every_env_with_terminated_and_truncated_episodes() {
    let fixture = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/gym_classic_control.json");
    let file: File = serde_json::from_str(&std::fs::read_to_string(fixture).unwrap()).unwrap();
    for id in ENV_IDS {
        let ends: Vec<(bool, bool)> = file
            .episodes
            .iter()
            .filter(|e| e.env == id)
            .map(|e| e.steps.last().map_or((false, false), |s| (s.terminated, s.truncated)))
            .collect();
        assert!(ends.iter().any(|e| e.1), "{id}: no truncated episode in the fixture");
        // Pendulum never terminates.
        if id != "Pendulum-v1" {
            assert!(ends.iter().any(|e| e.0), "{id}: no terminated episode in the fixture");
        }
    }
}

#[test]
fn make_reset_and_step_agree() {
    assert!(gym::make("CartPole-v0").is_err());
    for (k, id) in ENV_IDS.into_iter().enumerate() {
        let mut env = gym::make(id).unwrap();
        assert_eq!(env.id(), id);
        let mut rng = stream(7, &[Purpose::Other as u64, k as u64]);
        let obs = env.reset(&mut rng);
        assert_eq!(obs.len(), env.obs_dim());
        assert_eq!(obs, env.obs());
        let s0 = env.state();
        // The reset distributions of gymnasium 1.4.0.
        let ok = match id {
            "CartPole-v1" => s0.iter().all(|v| v.abs() <= 0.05),
            "Acrobot-v1" => s0.iter().all(|v| v.abs() <= 0.1 && *v == *v as f32 as f64),
            "Pendulum-v1" => s0[0].abs() <= std::f64::consts::PI && s0[1].abs() <= 1.0,
            _ => (-0.6..=-0.4).contains(&s0[0]) && s0[1] == 0.0,
        };
        assert!(ok, "{id}: reset state {s0:?}");
        let action_buf = [0.25];
        let action = match env.action_space() {
            ActionSpace::Discrete(n) => Action::Discrete(n - 1),
            ActionSpace::Box { dim, .. } => Action::Continuous(&action_buf[..dim]),
        };
        // step and step_into are the same computation; set_state restarts the time limit.
        let mut twin = env.clone();
        let a = env.step(&action);
        let mut obs = vec![0.0; env.obs_dim()];
        let b = twin.step_into(&action, &mut obs);
        assert_eq!((a.obs, a.reward, a.terminated), (obs, b.reward, b.terminated), "{id}");
        assert_eq!(env.elapsed_steps(), 1);
        env.set_state(&s0);
        assert_eq!(env.elapsed_steps(), 0);
        let mut short = gym::make(id).unwrap().with_max_episode_steps(2);
        short.set_state(&s0);
        assert!(!short.step(&action).truncated);
        assert!(short.step(&action).truncated, "{id}: truncated on the second of 2 steps");
    }
}

#[test]
#[should_panic(expected = "not in Discrete(2)")]
fn out_of_range_discrete_action_panics() {
    let mut env = gym::make("CartPole-v1").unwrap();
    env.step(&Action::Discrete(2));
}
