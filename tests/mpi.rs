//! `evaluator: {kind: mpi}` under a real `mpirun` (built only with `--features mpi`; needs Open
//! MPI or MPICH): the same journal and summary as one thread, two threads and four worker
//! processes, at 2 and 4 ranks, in leader/worker mode (CMA-ES) and replicated mode (OpenAI-ES,
//! Deep GA); resume under another rank count; a failing rank ends the job instead of hanging it.
#![cfg(feature = "mpi")]
mod common;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::*;

/// One MPI job at a time: the tests oversubscribe the cores already, and a failing test must
/// not poison the others (hence the `unwrap_or_else`).
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// `mpirun -n ranks evoforge args...` in `cwd` (as CI runs it: root allowed, more ranks than
/// cores allowed).
fn mpirun_command(ranks: usize, args: &[&str], cwd: &Path) -> Command {
    let mut c = Command::new("mpirun");
    c.args(["--oversubscribe", "--allow-run-as-root", "-n", &ranks.to_string()])
        .arg(bin())
        .args(args)
        .current_dir(cwd);
    ompi_env(&mut c);
    c
}

/// Open MPI settings for a container with fewer cores than ranks.
fn ompi_env(c: &mut Command) {
    // Containers often forbid the cross-memory attach of Open MPI's shared-memory transport.
    c.env("OMPI_MCA_btl_vader_single_copy_mechanism", "none")
        // Waiting ranks give their core back instead of spinning: with 4 ranks on 2 cores a
        // spinning rank can hold the core that the rank it waits for needs (50 ms per exchange
        // instead of 1 ms, measured with tools/mpi_figures.sh).
        .env("OMPI_MCA_mpi_yield_when_idle", "1");
}

/// An MPMD job of two ranks, `evoforge first...` on rank 0 and `evoforge second...` on rank 1,
/// run to the end with a deadline.
fn mpmd(first: &[&str], second: &[&str], cwd: &Path) -> Output {
    let mut c = Command::new("mpirun");
    c.args(["--oversubscribe", "--allow-run-as-root", "-n", "1"])
        .arg(bin())
        .args(first)
        .args([":", "-n", "1"])
        .arg(bin())
        .args(second)
        .current_dir(cwd);
    ompi_env(&mut c);
    with_deadline(c, Duration::from_secs(60))
}

/// Runs to the end, with a deadline: a hang is a test failure, not a stuck CI.
fn mpirun(ranks: usize, args: &[&str], cwd: &Path) -> Output {
    with_deadline(mpirun_command(ranks, args, cwd), Duration::from_secs(120))
}

fn with_deadline(mut c: Command, limit: Duration) -> Output {
    let child = c.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn mpirun");
    let pid = child.id();
    // Output is read while waiting (a full pipe would stall the job and look like a hang).
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || tx.send(child.wait_with_output().unwrap()));
    match rx.recv_timeout(limit) {
        Ok(o) => o,
        Err(_) => {
            let _ = Command::new("kill").arg("-TERM").arg(pid.to_string()).status();
            let o = rx.recv_timeout(Duration::from_secs(10));
            panic!(
                "mpirun hung past {limit:?}; stderr:\n{}",
                o.map(|o| stderr(&o)).unwrap_or_default()
            );
        }
    }
}

fn study(strategy: &str, evaluator: &str, dir: &str, evals: u64) -> String {
    format!(
        "name: mpi\nseed: 77\nproblem: {{kind: bbob, function: 10, dimension: 6, instance: 2}}\n\
         strategy: {strategy}\nbudget: {{evaluations: {evals}}}\nevaluator: {evaluator}\n\
         output: {{dir: {dir}, checkpoint_generations: 7}}\n"
    )
}

fn assert_same(a: &Path, b: &Path, what: &str) {
    let (ja, jb) = (normalized_journal(a), normalized_journal(b));
    assert_eq!(ja.len(), jb.len(), "{what}: journal lengths");
    for (i, (x, y)) in ja.iter().zip(&jb).enumerate() {
        assert_eq!(x, y, "{what}: journal line {i}");
    }
    assert_eq!(summary(a), summary(b), "{what}: summary");
}

const STRATEGIES: [(&str, &str); 3] = [
    ("cmaes", "{kind: cmaes, restarts: ipop}"),
    (
        "openai_es",
        "{kind: openai_es, popsize: 20, sigma: 0.3, learning_rate: 0.1, noise_len: 100000}",
    ),
    (
        "deep_ga",
        "{kind: deep_ga, popsize: 30, truncation: 5, sigma: 0.3, validation_size: 3, validation_evals: 4, noise_len: 100000}",
    ),
];

/// The determinism table of BENCHMARKS.md: 1 thread, 2 threads, 4 worker processes,
/// `mpirun -n 2` and `mpirun -n 4` give the same journal and summary (wall times aside).
#[test]
fn same_journal_on_threads_processes_and_2_or_4_ranks() {
    let _serial = serial();
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    for (name, strategy) in STRATEGIES {
        let local = [
            ("t1", "{kind: threads, threads: 1}"),
            ("t2", "{kind: threads, threads: 2}"),
            ("p4", "{kind: processes, workers: 4}"),
        ];
        let mut dirs: Vec<(String, PathBuf)> = Vec::new();
        for (tag, evaluator) in local {
            let dir = format!("{name}-{tag}");
            let p = write(t, &format!("{dir}.yaml"), &study(strategy, evaluator, &dir, 1500));
            let o = evoforge(&["run", p.to_str().unwrap()], t);
            assert!(o.status.success(), "{dir}: {}", stderr(&o));
            dirs.push((dir.clone(), t.join(dir)));
        }
        for ranks in [2, 4] {
            let dir = format!("{name}-mpi{ranks}");
            let p = write(t, &format!("{dir}.yaml"), &study(strategy, "{kind: mpi}", &dir, 1500));
            let o = mpirun(ranks, &["run", p.to_str().unwrap()], t);
            assert!(o.status.success(), "{dir}: {}", stderr(&o));
            // One summary on stdout (rank 0's), not one per rank.
            assert_eq!(stdout(&o).matches("\"best_f\"").count(), 1, "{dir}: {}", stdout(&o));
            dirs.push((dir.clone(), t.join(dir)));
        }
        assert!(normalized_journal(&dirs[0].1).len() > 1500, "{name}: every evaluation journaled");
        for (dir, path) in &dirs[1..] {
            assert_same(&dirs[0].1, path, &format!("{name}: t1 vs {dir}"));
        }
    }
}

/// Seed-based strategies above the journal's point limit: genomes only in the journal, the
/// decoding done on each rank from its own replicated state.
#[test]
fn replicated_mode_with_genome_only_journal_matches_one_thread() {
    let _serial = serial();
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let text = |evaluator: &str, dir: &str| {
        format!(
            "name: big\nseed: 5\nproblem: {{kind: classic, function: sphere, dimension: 5000}}\n\
             strategy: {{kind: openai_es, popsize: 16, sigma: 0.1, noise_len: 200000}}\n\
             budget: {{evaluations: 320}}\nevaluator: {evaluator}\noutput: {{dir: {dir}}}\n"
        )
    };
    let p = write(t, "ref.yaml", &text("{kind: threads, threads: 1}", "ref"));
    assert!(evoforge(&["run", p.to_str().unwrap()], t).status.success());
    let p = write(t, "m.yaml", &text("{kind: mpi, threads: 2}", "m"));
    let o = mpirun(3, &["run", p.to_str().unwrap()], t);
    assert!(o.status.success(), "{}", stderr(&o));
    let j = serde_json::to_string(&normalized_journal(&t.join("m"))).unwrap();
    assert!(j.contains("\"genome\"") && !j.contains("\"x\""), "genomes only");
    assert_same(&t.join("ref"), &t.join("m"), "openai_es d=5000: 1 thread vs 3 ranks × 2 threads");
}

/// A study killed under `mpirun -n 2` (SIGTERM to mpirun, which kills every rank mid-flight),
/// resumed under `-n 4`, killed again, resumed under `-n 3`: the uninterrupted result.
#[test]
fn killed_under_2_ranks_resumed_under_4_is_exact() {
    let _serial = serial();
    for (name, strategy) in [
        ("cmaes", "{kind: cmaes, popsize: 12}"),
        ("openai_es", "{kind: openai_es, popsize: 12, sigma: 0.3, noise_len: 100000}"),
    ] {
        let tmp = tempfile::tempdir().unwrap();
        let t = tmp.path();
        let text = |evaluator: &str, dir: &str| {
            format!(
                "name: kill\nseed: 3\nproblem: {{kind: sleep, dimension: 4, milliseconds: 3}}\n\
                 strategy: {strategy}\nbudget: {{evaluations: 2400}}\nevaluator: {evaluator}\n\
                 output: {{dir: {dir}, checkpoint_generations: 3, fsync_seconds: 0.05}}\n"
            )
        };
        let p = write(t, "ref.yaml", &text("{kind: threads, threads: 2}", "ref"));
        let o = evoforge(&["run", p.to_str().unwrap()], t);
        assert!(o.status.success(), "{}", stderr(&o));

        let p = write(t, "k.yaml", &text("{kind: mpi}", "k"));
        let dir = t.join("k");
        let mut killed = 0;
        for (i, ranks) in [2usize, 4, 3].into_iter().enumerate() {
            let mut c = if i == 0 {
                mpirun_command(ranks, &["run", p.to_str().unwrap()], t)
            } else {
                mpirun_command(ranks, &["resume", dir.to_str().unwrap()], t)
            };
            if i == 2 {
                let o = with_deadline(c, Duration::from_secs(120));
                assert!(o.status.success(), "{name}: final resume: {}", stderr(&o));
                break;
            }
            let mut child = c.stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
            // Let it get going (MPI start-up included) until this session has journaled some
            // evaluations, then kill it part-way: a fixed delay raced the whole study on an idle
            // machine.
            let lines = |d: &std::path::Path| {
                std::fs::read_to_string(d.join("journal.jsonl"))
                    .map(|j| j.lines().filter(|l| l.contains("\"wall\"")).count())
                    .unwrap_or(0)
            };
            let before = lines(&dir);
            let start = Instant::now();
            while lines(&dir) < before + 60
                && child.try_wait().unwrap().is_none()
                && start.elapsed() < Duration::from_secs(60)
            {
                std::thread::sleep(Duration::from_millis(5));
            }
            if child.try_wait().unwrap().is_none() {
                let _ = Command::new("kill").arg("-TERM").arg(child.id().to_string()).status();
                killed += 1;
            }
            let start = Instant::now();
            while child.try_wait().unwrap().is_none() {
                assert!(start.elapsed() < Duration::from_secs(30), "mpirun ignored SIGTERM");
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        assert!(killed >= 1, "{name}: the study ended before it could be killed");
        assert!(
            killed >= 2,
            "{name}: the first resume ended before it could be killed; make the study longer"
        );
        let raw = std::fs::read_to_string(dir.join("journal.jsonl")).unwrap();
        assert!(raw.contains("\"resume\""), "{name}: the study was never resumed");
        let j = normalized_journal(&dir);
        let mut ids: Vec<u64> = j.iter().filter_map(|v| v.get("id")?.as_u64()).collect();
        let n = ids.len();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), n, "{name}: an evaluation journaled twice");
        assert_same(&t.join("ref"), &dir, &format!("{name}: killed -n 2, resumed -n 4 / -n 3"));

        // Resuming the finished study reports its summary once, not once per rank.
        let o = with_deadline(
            mpirun_command(2, &["resume", dir.to_str().unwrap()], t),
            Duration::from_secs(60),
        );
        assert!(o.status.success(), "{name}: resume of a finished study: {}", stderr(&o));
        let out = String::from_utf8_lossy(&o.stdout);
        assert_eq!(out.matches("\"best_f\"").count(), 1, "{name}: {out}");
    }
}

/// Not under `mpirun`, `kind: mpi` is one rank: a local run with the journal of one thread.
#[test]
fn without_mpirun_kind_mpi_is_a_local_run() {
    let _serial = serial();
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let (_, strategy) = STRATEGIES[0];
    let p = write(t, "a.yaml", &study(strategy, "{kind: threads, threads: 1}", "a", 300));
    assert!(evoforge(&["run", p.to_str().unwrap()], t).status.success());
    let p = write(t, "b.yaml", &study(strategy, "{kind: mpi, threads: 2}", "b", 300));
    let o = evoforge(&["run", p.to_str().unwrap()], t);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_same(&t.join("a"), &t.join("b"), "singleton MPI vs one thread");
}

/// A rank that disagrees with the others (here: another population size, as a stale study
/// file on one node would) or that cannot start ends the whole job with its message; nobody
/// waits forever.
#[test]
fn a_failing_rank_ends_the_job_with_a_clear_error() {
    let _serial = serial();
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let es = |popsize: usize| {
        format!("{{kind: openai_es, popsize: {popsize}, sigma: 0.3, noise_len: 100000}}")
    };
    let a = write(t, "a.yaml", &study(&es(20), "{kind: mpi}", "a", 2000));
    let b = write(t, "b.yaml", &study(&es(22), "{kind: mpi}", "b", 2000));
    // MPMD launch: rank 0 runs a.yaml, rank 1 runs b.yaml.
    let o = mpmd(&["run", a.to_str().unwrap()], &["run", b.to_str().unwrap()], t);
    assert!(!o.status.success());
    let err = stderr(&o);
    assert!(err.contains("MPI rank") && err.contains("same study"), "{err}");

    // A rank whose study does not even validate (a missing file on its node) exits before MPI
    // starts; mpirun ends the others.
    let bad = write(t, "bad.yaml", "name: x\nseed: 1\nproblem: {kind: nope}\n");
    let o = mpmd(&["run", a.to_str().unwrap(), "--overwrite"], &["run", bad.to_str().unwrap()], t);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("problem.kind"), "{}", stderr(&o));
}

/// Running observation normalisation (a per-generation problem state): sent to the worker
/// ranks in leader/worker mode, folded by every rank from the gathered statistics in replicated
/// mode; the journal and final statistics of one thread either way.
#[test]
fn running_observation_statistics_match_one_thread() {
    let _serial = serial();
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    for (name, strategy) in [
        ("es", "{kind: openai_es, popsize: 10, sigma: 0.1, noise_len: 100000}"),
        ("cma", "{kind: cmaes}"),
    ] {
        let text = |evaluator: &str, dir: &str| {
            format!(
                "name: obs\nseed: 31\ndirection: maximize\n\
                 problem: {{kind: gym_policy, env: Pendulum-v1, hidden: [4], episodes: 2, obs_norm: true}}\n\
                 strategy: {strategy}\nbudget: {{evaluations: 200}}\nevaluator: {evaluator}\n\
                 output: {{dir: {dir}}}\n"
            )
        };
        let a = format!("{name}-t1");
        let p = write(t, &format!("{a}.yaml"), &text("{kind: threads, threads: 1}", &a));
        let o = evoforge(&["run", p.to_str().unwrap()], t);
        assert!(o.status.success(), "{}", stderr(&o));
        let b = format!("{name}-mpi3");
        let p = write(t, &format!("{b}.yaml"), &text("{kind: mpi}", &b));
        let o = mpirun(3, &["run", p.to_str().unwrap()], t);
        assert!(o.status.success(), "{}", stderr(&o));
        assert!(summary(&t.join(&a))["problem_state"]["obs_mean"].is_array());
        assert_same(&t.join(&a), &t.join(&b), &format!("{name}: obs_norm, 1 thread vs 3 ranks"));
    }
}
