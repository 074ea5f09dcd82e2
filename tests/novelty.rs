//! The novelty-search figure, end to end through the CLI: GA-NS reaches the deceptive
//! maze's goal in at least 4 of 5 seeds, the reward-only Deep GA in at most 1, with the same
//! budget (10,000 evaluations) and the same GA settings (studies/maze_ga_*.yaml).
mod common;
use common::*;

/// Runs `study` with `seed`; whether the robot ended within the goal radius (5).
fn reaches_goal(study: &str, seed: u64, tmp: &std::path::Path) -> bool {
    let text =
        std::fs::read_to_string(format!("{}/studies/{study}.yaml", env!("CARGO_MANIFEST_DIR")))
            .unwrap();
    let dir = format!("{study}-{seed}");
    let text = text
        .lines()
        .map(|l| {
            if l.starts_with("seed:") {
                format!("seed: {seed}")
            } else if l.starts_with("output:") {
                format!("output: {{dir: {dir}}}")
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    let p = write(tmp, &format!("{dir}.yaml"), &text);
    let o = evoforge(&["run", p.to_str().unwrap()], tmp);
    assert!(o.status.success(), "{}", stderr(&o));
    let s = summary(&tmp.join(&dir));
    s["best_f"].as_f64().unwrap() <= 5.0
}

#[test]
fn ga_ns_solves_the_deceptive_maze_where_the_reward_ga_does_not() {
    let tmp = tempfile::tempdir().unwrap();
    let ns = (1..=5).filter(|&s| reaches_goal("maze_ga_ns", s, tmp.path())).count();
    let reward = (1..=5).filter(|&s| reaches_goal("maze_ga_reward", s, tmp.path())).count();
    assert!(ns >= 4, "GA-NS reached the goal in {ns} of 5 seeds");
    assert!(reward <= 1, "the reward-only GA reached the goal in {reward} of 5 seeds");
}
