//! EvoLLM end to end with the real model (SmolLM2-135M-Instruct): the example study is
//! reproducible with its seed, a killed study resumes to the same journal, a study through
//! `evoforge llm serve` (started here on a free loopback port) equals the embedded one, and an
//! unreachable server stops the study with a clear reason and counted fallbacks.
//!
//! The model is looked for where `kind: evollm` looks (EVOFORGE_MODEL_DIR, else
//! ~/.cache/evoforge/models); without it these tests skip with a message, unless
//! `EVOFORGE_REQUIRE_MODEL=1` (set by CI, which downloads it), where they fail.
mod common;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use common::*;

fn have_model(test: &str) -> bool {
    let p = evoforge_llm::evollm::default_model_path();
    if p.is_file() {
        return true;
    }
    assert!(
        !std::env::var("EVOFORGE_REQUIRE_MODEL").is_ok_and(|v| v == "1"),
        "{test}: EVOFORGE_REQUIRE_MODEL=1 but {} is missing",
        p.display()
    );
    eprintln!("SKIPPED {test}: no model at {}", p.display());
    false
}

/// The journal without wall-clock values: `wall` and the tell metric `llm_seconds`.
fn timeless_journal(dir: &std::path::Path) -> Vec<serde_json::Value> {
    normalized_journal(dir)
        .into_iter()
        .map(|mut v| {
            if let Some(m) = v.get_mut("metrics").and_then(|m| m.as_object_mut()) {
                m.remove("llm_seconds");
            }
            v
        })
        .collect()
}

fn timeless_summary(dir: &std::path::Path) -> serde_json::Value {
    let mut s = summary(dir);
    if let Some(r) = s.get_mut("strategy_report").and_then(|r| r.as_object_mut()) {
        r.remove("llm_seconds");
    }
    s
}

const STUDY: &str = "name: e\nseed: 5\nproblem: {kind: bbob, function: 1, dimension: 3, instance: 1}\n\
strategy: {kind: evollm, popsize: 6, context_size: 5, block_size: 2, MODEL}\n\
budget: {evaluations: 60}\nevaluator: {kind: threads, threads: THREADS}\n\
output: {dir: DIR, checkpoint_generations: 1}\n";

fn study(dir: &str, threads: usize, model: &str) -> String {
    STUDY.replace("DIR", dir).replace("THREADS", &threads.to_string()).replace("MODEL", model)
}

#[test]
fn evollm_study_is_reproducible_and_resumes_exactly() {
    if !have_model("evollm_study_is_reproducible_and_resumes_exactly") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let mut dirs = Vec::new();
    for (name, threads) in [("a", 1), ("b", 2)] {
        let p = write(
            tmp.path(),
            &format!("{name}.yaml"),
            &study(name, threads, "model: {kind: embedded}"),
        );
        let o = evoforge(&["run", p.to_str().unwrap()], tmp.path());
        assert!(o.status.success(), "{}", stderr(&o));
        dirs.push(tmp.path().join(name));
    }
    let ja = timeless_journal(&dirs[0]);
    assert_eq!(ja, timeless_journal(&dirs[1]), "same seed, same journal at 1 and 2 threads");
    assert_eq!(timeless_summary(&dirs[0]), timeless_summary(&dirs[1]));
    let s = summary(&dirs[0]);
    assert_eq!(s["evaluations"], 60);
    let r = &s["strategy_report"];
    // Generation 0 is uniform; 9 generations × 2 blocks asked the model.
    assert_eq!(r["queries"], 18.0, "{s}");
    assert_eq!(r["fallbacks"], 0.0);
    assert!(r["prompt_tokens"].as_f64().unwrap() > 18.0 * 50.0);
    let tells: Vec<_> = ja.iter().filter(|v| v["type"] == "tell").collect();
    assert!(tells[1]["metrics"]["generated_tokens"].as_f64().unwrap() >= 2.0 * 4.0);

    // Kill it after a few generations, then resume: the journal ends as the uninterrupted one.
    let p = write(tmp.path(), "k.yaml", &study("k", 1, "model: {kind: embedded}"));
    let mut child = Command::new(bin())
        .args(["run", p.to_str().unwrap()])
        .current_dir(tmp.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let journal = tmp.path().join("k/journal.jsonl");
    let t0 = std::time::Instant::now();
    while std::fs::read_to_string(&journal).map_or(0, |t| t.matches("\"tell\"").count()) < 4 {
        assert!(t0.elapsed().as_secs() < 300, "the study makes no progress");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(!tmp.path().join("k/summary.json").exists(), "killed before the end");
    let o = evoforge(&["resume", "k"], tmp.path());
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(timeless_journal(&tmp.path().join("k")), ja, "resumed journal");
}

#[test]
fn study_through_llm_serve_equals_the_embedded_study() {
    if !have_model("study_through_llm_serve_equals_the_embedded_study") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let mut server = Command::new(bin())
        .args(["llm", "serve", "--port", "0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(server.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let url = line.trim().rsplit(' ').next().unwrap().to_string();
    assert!(url.starts_with("http://127.0.0.1:") && url.ends_with("/v1"), "{line}");
    let run = |name: &str, model: &str| {
        let p = write(tmp.path(), &format!("{name}.yaml"), &study(name, 1, model));
        let o = evoforge(&["run", p.to_str().unwrap()], tmp.path());
        assert!(o.status.success(), "{}", stderr(&o));
        tmp.path().join(name)
    };
    let http = run("h", &format!("model: {{kind: http, url: \"{url}\", retries: 0}}"));
    let _ = server.kill();
    let _ = server.wait();
    let embedded = run("e", "model: {kind: embedded}");
    assert_eq!(timeless_journal(&http), timeless_journal(&embedded));
    assert_eq!(summary(&http)["strategy_report"]["fallbacks"], 0.0);
}

#[test]
fn unreachable_server_stops_the_study_with_counted_fallbacks() {
    let tmp = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let model = format!(
        "model: {{kind: http, url: \"http://127.0.0.1:{port}/v1\", retries: 0, timeout_seconds: 2}}, max_model_errors: 3"
    );
    let p = write(tmp.path(), "u.yaml", &study("u", 1, &model));
    let o = evoforge(&["run", p.to_str().unwrap()], tmp.path());
    assert!(o.status.success(), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains(&format!("127.0.0.1:{port}/v1/completions")), "{err}");
    let s = summary(&tmp.path().join("u"));
    let reason = s["stop_reason"].as_str().unwrap();
    assert!(
        reason.contains("failed 4 times in a row") && reason.contains("cannot get an answer"),
        "{reason}"
    );
    // Generation 0 (uniform), then two generations whose two blocks each fell back: the third
    // failure in a row comes in the second of them, which is still evaluated.
    assert_eq!(s["evaluations"], 18);
    assert_eq!(s["strategy_report"]["model_errors"], 4.0);
    assert_eq!(s["strategy_report"]["fallbacks"], 4.0);
}
