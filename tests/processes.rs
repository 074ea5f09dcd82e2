//! The worker-process evaluator end to end: the same journal and summary as one thread (with
//! `evoforge worker` and with the Python reference worker), workers that crash, hang, stall or
//! print nonsense in the middle of a batch, the restart limit, `CUDA_VISIBLE_DEVICES` per
//! worker, and located errors for bad configurations.
//!
//! The Python tests need `python3` with numpy. Without it they print a note and pass, unless
//! `EVOFORGE_REQUIRE_PYTHON=1` (set by CI, which installs numpy).
mod common;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;

fn python_worker() -> String {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("workers/python/evoforge_worker.py");
    p.to_str().unwrap().to_string()
}

/// `true` if `python3` can import numpy (else a note, or a failure under
/// `EVOFORGE_REQUIRE_PYTHON=1`).
fn python_with_numpy(test: &str) -> bool {
    let ok = Command::new("python3")
        .args(["-c", "import numpy"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !ok {
        let required = std::env::var("EVOFORGE_REQUIRE_PYTHON").is_ok_and(|v| v == "1");
        assert!(
            !required,
            "{test}: EVOFORGE_REQUIRE_PYTHON=1 but `python3 -c 'import numpy'` fails"
        );
        eprintln!("note: {test} skipped: python3 with numpy is not available");
    }
    ok
}

fn study(problem: &str, strategy: &str, evaluator: &str, dir: &str, evals: u64) -> String {
    format!(
        "name: proc\nseed: 31\nproblem: {problem}\nstrategy: {strategy}\n\
         budget: {{evaluations: {evals}}}\nevaluator: {evaluator}\n\
         output: {{dir: {dir}, checkpoint_generations: 5}}\n"
    )
}

/// Runs a study file; returns its output directory and the run's stderr.
fn run(tmp: &Path, dir: &str, text: &str) -> (PathBuf, String) {
    let p = write(tmp, &format!("{dir}.yaml"), text);
    let o = evoforge(&["run", p.to_str().unwrap()], tmp);
    assert!(o.status.success(), "{dir}: {}", stderr(&o));
    (tmp.join(dir), stderr(&o))
}

/// A flow sequence of YAML strings.
fn yaml_list(words: &[&str]) -> String {
    let quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
    format!("[{}]", quoted.join(", "))
}

/// Every asked id has exactly one evaluation line.
fn each_id_once(dir: &Path) {
    let mut asked = Vec::new();
    let mut evals: HashMap<u64, usize> = HashMap::new();
    for v in normalized_journal(dir) {
        match v["type"].as_str() {
            Some("ask") => {
                asked.extend(v["ids"].as_array().unwrap().iter().map(|i| i.as_u64().unwrap()))
            }
            None => *evals.entry(v["id"].as_u64().unwrap()).or_default() += 1,
            _ => {}
        }
    }
    assert!(!asked.is_empty());
    for id in &asked {
        assert_eq!(evals.get(id), Some(&1), "evaluation {id} in {}", dir.display());
    }
    assert_eq!(evals.len(), asked.len(), "no evaluation of an id that was not asked");
}

fn same_result(a: &Path, b: &Path, what: &str) {
    assert_eq!(normalized_journal(a), normalized_journal(b), "{what}: journals differ");
    assert_eq!(summary(a), summary(b), "{what}: summaries differ");
}

const THREADS_1: &str = "{kind: threads, threads: 1}";

#[test]
fn evoforge_workers_give_the_journal_of_one_thread() {
    let tmp = tempfile::tempdir().unwrap();
    let bbob = "{kind: bbob, function: 10, dimension: 6, instance: 2}";
    let big = "{kind: classic, function: sphere, dimension: 5000}";
    for (i, (problem, strategy, evals)) in [
        (bbob, "{kind: cmaes, restarts: ipop}", 1500),
        (bbob, "{kind: openai_es, popsize: 20, sigma: 0.3, learning_rate: 0.1, noise_len: 100000}", 600),
        (
            bbob,
            "{kind: deep_ga, popsize: 30, truncation: 5, sigma: 0.3, validation_size: 3, validation_evals: 4, noise_len: 100000}",
            600,
        ),
        // Above the journal's point limit: only genomes travel and are journaled.
        (big, "{kind: openai_es, popsize: 16, sigma: 0.1, noise_len: 200000}", 160),
        (
            big,
            "{kind: deep_ga, popsize: 24, truncation: 4, sigma: 0.05, validation_size: 2, validation_evals: 2, noise_len: 200000}",
            150,
        ),
    ]
    .into_iter()
    .enumerate()
    {
        let (t, _) = run(tmp.path(), &format!("t{i}"), &study(problem, strategy, THREADS_1, &format!("t{i}"), evals));
        let procs = "{kind: processes, workers: 4}";
        let (p, _) = run(tmp.path(), &format!("p{i}"), &study(problem, strategy, procs, &format!("p{i}"), evals));
        same_result(&t, &p, strategy);
        each_id_once(&p);
        if problem == big {
            let j = serde_json::to_string(&normalized_journal(&p)).unwrap();
            assert!(j.contains("\"genome\"") && !j.contains("\"x\""), "{strategy}: genomes only");
        }
    }
}

/// Running observation normalisation: the statistics are the problem's per-generation state,
/// sent to every worker before a generation and folded from the results in ask order, so 1
/// thread, 3 threads and 4 worker processes give the same journal and the same final state.
#[test]
fn running_observation_statistics_are_the_same_on_threads_and_workers() {
    let tmp = tempfile::tempdir().unwrap();
    let problem = "{kind: gym_policy, env: Pendulum-v1, hidden: [4], episodes: 2, obs_norm: true}";
    for (i, strategy) in
        ["{kind: openai_es, popsize: 10, sigma: 0.1, noise_len: 100000}", "{kind: cmaes}"]
            .into_iter()
            .enumerate()
    {
        let s = |ev: &str, dir: &str| {
            study(problem, strategy, ev, dir, 200)
                .replace("seed: 31", "seed: 31\ndirection: maximize")
        };
        let (t, _) = run(tmp.path(), &format!("t{i}"), &s(THREADS_1, &format!("t{i}")));
        let (t3, _) =
            run(tmp.path(), &format!("u{i}"), &s("{kind: threads, threads: 3}", &format!("u{i}")));
        let (p, _) = run(
            tmp.path(),
            &format!("p{i}"),
            &s("{kind: processes, workers: 4}", &format!("p{i}")),
        );
        same_result(&t, &t3, strategy);
        same_result(&t, &p, strategy);
        let st = &summary(&t)["problem_state"];
        let count = st["obs_count"][0].as_f64().unwrap();
        // Every evaluation: 2 episodes of 200 steps; plus RunningStat's 1e-2.
        let evals = summary(&t)["evaluations"].as_f64().unwrap();
        assert!((count - (0.01 + evals * 400.0)).abs() < 1e-6, "{st}");
        let mean = st["obs_mean"].as_array().unwrap();
        assert_eq!(mean.len(), 3);
        // Pendulum's observation is (cos θ, sin θ, θ̇): |cos| ≤ 1, and the statistics moved
        // away from the initial mean 0, std 1.
        assert!(mean[0].as_f64().unwrap().abs() <= 1.0 && mean[0].as_f64().unwrap() != 0.0, "{st}");
        let j = serde_json::to_string(&normalized_journal(&t)).unwrap();
        assert!(j.contains("\"stats\""), "the journal keeps each evaluation's statistics");
    }
}

#[test]
fn python_worker_gives_the_journal_of_one_thread() {
    if !python_with_numpy("python_worker_gives_the_journal_of_one_thread") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let py = format!(
        "{{kind: processes, workers: 3, command: {}}}",
        yaml_list(&["python3", &python_worker()])
    );
    for (i, (problem, strategy, evals)) in [
        (
            "{kind: classic, function: sphere, dimension: 40}",
            "{kind: openai_es, popsize: 20, sigma: 0.1, learning_rate: 0.05, noise_len: 100000}",
            400,
        ),
        ("{kind: classic, function: rastrigin, dimension: 5}", "{kind: cmaes, sigma0: 2.0}", 300),
        ("{kind: classic, function: rosenbrock, dimension: 4}", "{kind: random, popsize: 25}", 100),
    ]
    .into_iter()
    .enumerate()
    {
        let (t, _) = run(
            tmp.path(),
            &format!("t{i}"),
            &study(problem, strategy, THREADS_1, &format!("t{i}"), evals),
        );
        let (p, _) = run(
            tmp.path(),
            &format!("py{i}"),
            &study(problem, strategy, &py, &format!("py{i}"), evals),
        );
        same_result(&t, &p, strategy);
    }
}

/// The fault-free reference of the fault tests: OpenAI-ES on a 30-dimensional sphere.
const FAULT_PROBLEM: &str = "{kind: classic, function: sphere, dimension: 30}";
const FAULT_STRATEGY: &str =
    "{kind: openai_es, popsize: 24, sigma: 0.1, learning_rate: 0.05, noise_len: 100000}";
const FAULT_EVALS: u64 = 144;

fn faulty(tmp: &Path, name: &str, command: &[&str], extra: &str) -> (PathBuf, String) {
    let evaluator = format!(
        "{{kind: processes, workers: 3, batch: 3, command: {}{extra}}}",
        yaml_list(command)
    );
    run(tmp, name, &study(FAULT_PROBLEM, FAULT_STRATEGY, &evaluator, name, FAULT_EVALS))
}

#[test]
fn crashed_hung_stalled_and_babbling_workers_are_replaced() {
    let tmp = tempfile::tempdir().unwrap();
    let (reference, _) = run(
        tmp.path(),
        "ref",
        &study(FAULT_PROBLEM, FAULT_STRATEGY, THREADS_1, "ref", FAULT_EVALS),
    );
    let bin = bin();
    let bin = bin.to_str().unwrap();
    let py = python_worker();
    let mut cases: Vec<(&str, Vec<&str>, &str, &str)> = vec![
        // (name, command, extra evaluator fields, what the leader must have said)
        ("rs-crash", vec![bin, "worker", "--misbehave", "crash-after:4@1"], "", "exited"),
        (
            "rs-stall",
            vec![bin, "worker", "--misbehave", "stall-after:5@2"],
            ", heartbeat_timeout_seconds: 1.5",
            "heartbeat_timeout_seconds",
        ),
        (
            "rs-hang",
            vec![bin, "worker", "--misbehave", "hang-after:2@0"],
            ", task_timeout_seconds: 1",
            "task_timeout_seconds",
        ),
    ];
    if python_with_numpy("crashed_hung_stalled_and_babbling_workers_are_replaced") {
        cases.extend([
            ("py-crash", vec!["python3", &py, "--misbehave", "crash-after:4@1"], "", "exited"),
            (
                "py-hang",
                vec!["python3", &py, "--misbehave", "hang-after:7@0"],
                ", task_timeout_seconds: 1",
                "task_timeout_seconds",
            ),
            (
                "py-garbage",
                vec!["python3", &py, "--misbehave", "garbage-after:5@2"],
                "",
                "not protocol",
            ),
        ]);
    }
    for (name, command, extra, said) in cases {
        let (d, err) = faulty(tmp.path(), name, &command, extra);
        assert!(err.contains("misbehaving on purpose"), "{name}: the fault did not happen:\n{err}");
        assert!(err.contains(said) && err.contains("restarting it"), "{name}:\n{err}");
        same_result(&reference, &d, name);
        each_id_once(&d);
    }
}

#[test]
fn a_worker_that_always_crashes_stops_the_study_with_a_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    let bin = bin();
    let command = yaml_list(&[bin.to_str().unwrap(), "worker", "--misbehave", "crash-after:0!"]);
    let evaluator = format!(
        "{{kind: processes, workers: 2, max_restarts: 2, task_attempts: 10, command: {command}}}"
    );
    let p =
        write(tmp.path(), "s.yaml", &study(FAULT_PROBLEM, FAULT_STRATEGY, &evaluator, "s", 100));
    let o = evoforge(&["run", "s.yaml"], tmp.path());
    let err = stderr(&o);
    assert!(!o.status.success(), "{err}");
    assert!(err.contains("failed 3 times in a row") && err.contains("max_restarts = 2"), "{err}");
    drop(p);
}

#[test]
fn a_task_that_kills_every_worker_becomes_a_failed_evaluation() {
    // Every worker start crashes on its first task: with one attempt per task, each crash fails
    // the task it held, and the study goes on to its end with failed evaluations.
    let tmp = tempfile::tempdir().unwrap();
    let bin = bin();
    let command = yaml_list(&[bin.to_str().unwrap(), "worker", "--misbehave", "crash-after:0!"]);
    let evaluator = format!(
        "{{kind: processes, workers: 1, batch: 1, task_attempts: 1, max_restarts: 100, command: {command}}}"
    );
    let text = study(
        "{kind: classic, function: sphere, dimension: 3}",
        "{kind: random, popsize: 4}",
        &evaluator,
        "s",
        4,
    );
    let (d, _) = run(tmp.path(), "s", &text);
    let s = summary(&d);
    assert_eq!((s["evaluations"].as_u64(), s["failures"].as_u64()), (Some(4), Some(4)), "{s}");
    let j = serde_json::to_string(&normalized_journal(&d)).unwrap();
    assert!(j.contains("worker failed 1 times while evaluating it"), "{j}");
    each_id_once(&d);
}

#[test]
fn gpus_and_env_reach_each_worker() {
    if !python_with_numpy("gpus_and_env_reach_each_worker") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let script = format!(
        "echo \"env FOO=$FOO worker=$EVOFORGE_WORKER\" >&2; exec python3 {}",
        python_worker()
    );
    let evaluator = format!(
        "{{kind: processes, workers: 3, gpus: [3, GPU-abc], env: {{FOO: bar}}, command: {}}}",
        yaml_list(&["sh", "-c", &script])
    );
    let text = study(
        "{kind: classic, function: sphere, dimension: 3}",
        "{kind: random, popsize: 6}",
        &evaluator,
        "g",
        6,
    );
    let (_, err) = run(tmp.path(), "g", &text);
    for (w, gpu) in [(0, "3"), (1, "GPU-abc"), (2, "3")] {
        assert!(err.contains(&format!("[worker {w}] env FOO=bar worker={w}")), "{err}");
        assert!(err.contains(&format!("CUDA_VISIBLE_DEVICES={gpu}")), "{err}");
        let line = err
            .lines()
            .find(|l| l.starts_with(&format!("[worker {w}] evoforge_worker.py")))
            .unwrap();
        assert!(line.ends_with(&format!("CUDA_VISIBLE_DEVICES={gpu}")), "{line}");
    }
}

/// `evoforge validate` on a study whose evaluator is `evaluator`: the error text.
fn invalid(evaluator: &str) -> String {
    let tmp = tempfile::tempdir().unwrap();
    let text = format!(
        "name: bad\nproblem: {{kind: classic, function: sphere, dimension: 3}}\n\
         strategy: {{kind: cmaes}}\nbudget: {{evaluations: 10}}\nevaluator:\n  kind: processes\n{evaluator}\n"
    );
    write(tmp.path(), "bad.yaml", &text);
    let o = evoforge(&["validate", "bad.yaml"], tmp.path());
    assert!(!o.status.success(), "{evaluator}: accepted");
    stderr(&o)
}

#[test]
fn bad_evaluator_configurations_are_located() {
    for (yaml, line, field, words) in [
        ("  workers: 0", 7, "evaluator.workers", "at least 1"),
        ("  command: []", 7, "evaluator.command", "must name a program"),
        ("  task_timeout_seconds: 0", 7, "evaluator.task_timeout_seconds", "positive"),
        (
            "  workers: 2\n  heartbeat_timeout_seconds: -1",
            8,
            "evaluator.heartbeat_timeout_seconds",
            "positive",
        ),
        ("  batch: 0", 7, "evaluator.batch", "at least 1"),
        (
            "  heartbeat_timeout_seconds: 0.5",
            7,
            "evaluator.heartbeat_timeout_seconds",
            "more than 1",
        ),
        ("  task_attempts: 0", 7, "evaluator.task_attempts", "at least 1"),
        ("  env: {A=B: x}", 7, "evaluator.env", "not a valid variable name"),
        ("  wokers: 2", 7, "evaluator.wokers", "did you mean `workers`?"),
        ("  workers: two", 7, "evaluator.workers", ""),
        ("  gpus: [[0]]", 7, "evaluator.gpus", ""),
    ] {
        let err = invalid(yaml);
        assert!(err.contains(&format!("bad.yaml:{line}:")), "{yaml}: {err}");
        assert!(err.contains(field) && err.contains(words), "{yaml}: {err}");
    }
}

#[test]
fn workers_that_cannot_start_say_why() {
    let tmp = tempfile::tempdir().unwrap();
    let problem = "{kind: classic, function: sphere, dimension: 3}";
    let evaluator = "{kind: processes, workers: 2, command: [/nonexistent/worker]}";
    write(tmp.path(), "a.yaml", &study(problem, "{kind: cmaes}", evaluator, "a", 10));
    let o = evoforge(&["run", "a.yaml"], tmp.path());
    assert!(!o.status.success());
    assert!(stderr(&o).contains("cannot run /nonexistent/worker"), "{}", stderr(&o));
    if python_with_numpy("workers_that_cannot_start_say_why") {
        // The Python worker does not know BBOB: its `fatal` message reaches the user.
        let evaluator = format!(
            "{{kind: processes, workers: 2, command: {}}}",
            yaml_list(&["python3", &python_worker()])
        );
        let bbob = "{kind: bbob, function: 1, dimension: 2}";
        write(tmp.path(), "b.yaml", &study(bbob, "{kind: cmaes}", &evaluator, "b", 10));
        let o = evoforge(&["run", "b.yaml"], tmp.path());
        assert!(!o.status.success());
        assert!(
            stderr(&o).contains("refused to start: this Python worker knows the problems classic"),
            "{}",
            stderr(&o)
        );
    }
}

/// Children of `pid`, from /proc (empty where /proc is not available).
fn children_of(pid: u32) -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else { return Vec::new() };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|p| {
            let stat = std::fs::read_to_string(format!("/proc/{p}/stat")).unwrap_or_default();
            // pid (comm) state ppid ...: comm may hold spaces, so split after the last ')'.
            let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
            rest.split_whitespace().nth(1).and_then(|s| s.parse::<u32>().ok()) == Some(pid)
        })
        .collect()
}

fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .is_ok_and(|s| s.rsplit_once(')').is_some_and(|(_, r)| !r.trim_start().starts_with('Z')))
}

/// `kill -9` of the leader mid-study: its workers see the end of their input and exit, and
/// `evoforge resume` ends with the journal and summary of one uninterrupted thread.
#[test]
fn killed_leader_takes_its_workers_along_and_resume_is_exact() {
    let tmp = tempfile::tempdir().unwrap();
    let problem = "{kind: sleep, dimension: 4, milliseconds: 3}";
    let strategy = "{kind: cmaes, popsize: 12, sigma0: 1.0}";
    let (reference, _) = run(tmp.path(), "ref", &study(problem, strategy, THREADS_1, "ref", 480));
    let text = study(problem, strategy, "{kind: processes, workers: 3}", "killed", 480)
        .replace("checkpoint_generations: 5", "checkpoint_generations: 3, fsync_seconds: 0.05");
    let p = write(tmp.path(), "killed.yaml", &text);
    let mut child = Command::new(bin())
        .args(["run", p.to_str().unwrap()])
        .current_dir(tmp.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut workers = Vec::new();
    while workers.len() < 3 && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
        workers = children_of(child.id());
    }
    std::thread::sleep(std::time::Duration::from_millis(150));
    let killed = child.try_wait().unwrap().is_none();
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(killed, "the study ended before it could be killed; make it longer");
    if std::path::Path::new("/proc/self/stat").exists() {
        assert_eq!(workers.len(), 3, "worker processes of the leader: {workers:?}");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while workers.iter().any(|&w| alive(w)) && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let left: Vec<_> = workers.iter().filter(|&&w| alive(w)).collect();
        assert!(left.is_empty(), "workers outlived their leader: {left:?}");
    }
    let dir = tmp.path().join("killed");
    let o = evoforge(&["resume", dir.to_str().unwrap()], tmp.path());
    assert!(o.status.success(), "{}", stderr(&o));
    same_result(&reference, &dir, "resumed");
    each_id_once(&dir);
}

/// What a worker is told in its handshake reads back to the same problem and strategy, for
/// every example study and every strategy.
#[test]
fn handshake_configurations_round_trip() {
    use evoforge::spec::{ProblemSpec, StrategySpec, StrategyVisitor, tagged_json};
    struct Json;
    impl StrategyVisitor for Json {
        type Out = serde_json::Value;
        fn visit<S: evoforge::core::Strategy>(self, c: &S::Config) -> serde_json::Value {
            tagged_json(S::NAME, c)
        }
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut n = 0;
    for e in std::fs::read_dir(root.join("studies")).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_none_or(|x| x != "yaml") {
            continue;
        }
        let s = evoforge::StudyFile::read(&p).unwrap().spec;
        let pj = s.problem.to_json();
        let back: ProblemSpec = serde_json::from_value(pj.clone()).unwrap();
        assert_eq!(back.to_json(), pj, "{}", p.display());
        assert_eq!(back.build().unwrap().space().dim(), s.problem.build().unwrap().space().dim());
        let sj = s.strategy.visit(Json);
        let back: StrategySpec = serde_json::from_value(sj.clone()).unwrap();
        assert_eq!(back.visit(Json), sj, "{}", p.display());
        n += 1;
    }
    assert!(n >= 2);
    // Every strategy with its defaults (a configuration of `{kind}` alone).
    for kind in StrategySpec::KINDS {
        let s: StrategySpec = serde_json::from_value(serde_json::json!({ "kind": kind })).unwrap();
        let sj = s.visit(Json);
        let back: StrategySpec = serde_json::from_value(sj.clone()).unwrap();
        assert_eq!(back.visit(Json), sj, "{kind}");
    }
}
