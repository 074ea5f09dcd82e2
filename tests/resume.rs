//! Resume after a real `kill -9` at random moments ends with the uninterrupted result, and a
//! torn journal line is discarded, not a crash.
mod common;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;

const STUDY: &str = "name: res\nseed: 9\nproblem: {kind: bbob, function: 15, dimension: 8, instance: 3}\n\
strategy: {kind: cmaes, restarts: bipop}\nbudget: {evaluations: 200000}\n\
evaluator: {kind: threads, threads: 2}\noutput: {dir: DIR, checkpoint_seconds: 0.05, fsync_seconds: 0.2}\n";

/// A Deep GA with validation rounds on CartPole: compact seed-chain genomes, two study
/// generations per GA generation, a parent cache rebuilt from nothing after each kill.
const GA_STUDY: &str = "name: res-ga\nseed: 4\ndirection: maximize\n\
problem: {kind: gym_policy, env: CartPole-v1, hidden: [8], episodes: 1}\n\
strategy: {kind: deep_ga, popsize: 60, truncation: 6, sigma: 0.05, validation_size: 4, validation_evals: 5, noise_len: 100000}\n\
budget: {evaluations: 40000}\nevaluator: {kind: threads, threads: 2}\n\
output: {dir: DIR, checkpoint_seconds: 0.05, fsync_seconds: 0.2}\n";

/// OpenAI-ES above the journal's point limit: the journal holds genomes only.
const ES_STUDY: &str = "name: res-es\nseed: 6\n\
problem: {kind: classic, function: sphere, dimension: 6000}\n\
strategy: {kind: openai_es, popsize: 20, sigma: 0.1, noise_len: 200000}\n\
budget: {evaluations: 2000}\nevaluator: {kind: threads, threads: 2}\n\
output: {dir: DIR, checkpoint_seconds: 0.05, fsync_seconds: 0.2}\n";

/// OpenAI-ES on Pendulum with running observation statistics: the problem's state must come
/// back exactly from the checkpoint and the journal's statistics.
const OBS_STUDY: &str = "name: res-obs\nseed: 8\ndirection: maximize\n\
problem: {kind: gym_policy, env: Pendulum-v1, hidden: [4], episodes: 1, obs_norm: true}\n\
strategy: {kind: openai_es, popsize: 20, sigma: 0.1, noise_len: 100000}\n\
budget: {evaluations: 12000}\nevaluator: {kind: threads, threads: 2}\n\
output: {dir: DIR, checkpoint_seconds: 0.05, fsync_seconds: 0.2}\n";

fn run_study_to_end(tmp: &std::path::Path, dir: &str, study: &str) -> std::path::PathBuf {
    let p = write(tmp, &format!("{dir}.yaml"), &study.replace("DIR", dir));
    let o = evoforge(&["run", p.to_str().unwrap()], tmp);
    assert!(o.status.success(), "{}", stderr(&o));
    tmp.join(dir)
}

/// Deterministic pseudo-random kill delays (the test itself must be reproducible).
fn delays(n: usize) -> Vec<u64> {
    let mut s = 0x9e37_79b9_7f4a_7c15u64;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            30 + s % 400
        })
        .collect()
}

#[test]
fn kill_at_random_points_then_resume_is_exact() {
    kill_and_resume(STUDY);
}

#[test]
fn kill_and_resume_is_exact_for_the_deep_ga() {
    kill_and_resume(GA_STUDY);
}

#[test]
fn kill_and_resume_is_exact_with_running_observation_statistics() {
    kill_and_resume(OBS_STUDY);
}

fn kill_and_resume(study: &str) {
    let tmp = tempfile::tempdir().unwrap();
    let reference = run_study_to_end(tmp.path(), "ref", study);

    let p = write(tmp.path(), "killed.yaml", &study.replace("DIR", "killed"));
    let dir = tmp.path().join("killed");
    let mut kills = 0;
    let mut first = true;
    for ms in delays(6) {
        let mut cmd = Command::new(bin());
        if first {
            cmd.args(["run", p.to_str().unwrap()]);
        } else {
            cmd.args(["resume", dir.to_str().unwrap()]);
        }
        let mut child = cmd
            .current_dir(tmp.path())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(ms));
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap(); // SIGKILL
            kills += 1;
        }
        let status = child.wait().unwrap();
        first = false;
        if status.success() {
            break;
        }
    }
    assert!(kills >= 2, "the study finished before it could be killed twice; make it longer");
    let o = evoforge(&["resume", dir.to_str().unwrap()], tmp.path());
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(summary(&dir), summary(&reference));
    assert_eq!(normalized_journal(&dir), normalized_journal(&reference));
    // The journal never holds an evaluation twice.
    let ids: Vec<u64> = normalized_journal(&dir)
        .iter()
        .filter(|v| v.get("type").is_none())
        .map(|v| v["id"].as_u64().unwrap())
        .collect();
    let mut uniq = ids.clone();
    uniq.dedup();
    assert_eq!(ids, uniq);
}

#[test]
fn torn_last_line_is_discarded() {
    torn_then_resume(STUDY);
}

#[test]
fn resume_from_a_genome_only_journal_is_exact() {
    torn_then_resume(ES_STUDY);
    torn_then_resume(GA_STUDY);
}

#[test]
fn resume_from_the_journal_alone_rebuilds_observation_statistics() {
    torn_then_resume(OBS_STUDY);
}

fn torn_then_resume(study: &str) {
    let tmp = tempfile::tempdir().unwrap();
    let reference = run_study_to_end(tmp.path(), "ref", study);
    // Simulate a crash mid-write: cut the finished study's journal in the middle of a line
    // about half-way through, drop the summary (the study is "unfinished") and keep the
    // checkpoint from the end — the checkpoint may be ahead of the journal only if the journal
    // lost data, so take the checkpoint away too: resume starts from the journal alone.
    let dir = tmp.path().join("torn");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(reference.join("study.yaml"), dir.join("study.yaml")).unwrap();
    let j = std::fs::read(reference.join("journal.jsonl")).unwrap();
    let cut = j.len() / 2;
    let cut = cut + j[cut..].iter().position(|&b| b == b'\n').unwrap() + 10;
    std::fs::write(dir.join("journal.jsonl"), &j[..cut]).unwrap();
    let o = evoforge(&["resume", dir.to_str().unwrap()], tmp.path());
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(summary(&dir), summary(&reference));
    assert_eq!(normalized_journal(&dir), normalized_journal(&reference));
}
