//! The command line end to end: validation errors, list, evaluate, bench, example studies.
mod common;
use common::*;

const GOOD: &str = "name: t\nseed: 1\nproblem:\n  kind: classic\n  function: rosenbrock\n  dimension: 4\n\
strategy:\n  kind: cmaes\n  sigma0: 1.0\nbudget:\n  evaluations: 2000\noutput:\n  dir: out\n";

/// Runs `validate` and `run` on a bad study: both fail, name file:line:column and field, and
/// write nothing.
fn rejects(text: &str, line: usize, field: &str, words: &[&str]) {
    let tmp = tempfile::tempdir().unwrap();
    let p = write(tmp.path(), "bad.yaml", text);
    for cmd in ["validate", "run"] {
        let o = evoforge(&[cmd, "bad.yaml"], tmp.path());
        assert!(!o.status.success(), "{cmd} accepted:\n{text}");
        let e = stderr(&o);
        // line 0: the parser reports the end of the mapping; any line will do.
        let loc = if line == 0 { "bad.yaml:".to_string() } else { format!("bad.yaml:{line}:") };
        assert!(e.contains(&loc), "{cmd}: expected {loc} in:\n{e}");
        assert!(
            e.contains(&format!("field `{field}`")),
            "{cmd}: expected field `{field}` in:\n{e}"
        );
        for w in words {
            assert!(e.contains(w), "{cmd}: expected `{w}` in:\n{e}");
        }
        assert!(!tmp.path().join("out").exists(), "{cmd} wrote output for a bad study");
        assert!(!tmp.path().join("runs").exists(), "{cmd} wrote output for a bad study");
    }
    drop(p);
}

#[test]
fn good_study_validates() {
    let tmp = tempfile::tempdir().unwrap();
    write(tmp.path(), "good.yaml", GOOD);
    let o = evoforge(&["validate", "good.yaml"], tmp.path());
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn unknown_field_is_located_with_suggestion() {
    rejects(
        &GOOD.replace("sigma0: 1.0", "sigma0: 1.0\n  popsiz: 8"),
        10,
        "strategy.popsiz",
        &["unknown field `popsiz`", "did you mean `popsize`?"],
    );
    rejects(&GOOD.replace("budget:", "budgett:"), 10, "budgett", &["did you mean `budget`?"]);
}

#[test]
fn unknown_kind_is_located_with_suggestion() {
    rejects(
        &GOOD.replace("kind: cmaes", "kind: cmaez"),
        8,
        "strategy.kind",
        &["unknown variant `cmaez`", "did you mean `cmaes`?"],
    );
    rejects(
        &GOOD.replace("function: rosenbrock", "function: rosenbrok"),
        5,
        "problem.function",
        &["did you mean `rosenbrock`?"],
    );
}

#[test]
fn wrong_type_and_missing_field() {
    rejects(&GOOD.replace("sigma0: 1.0", "sigma0: wide"), 9, "strategy.sigma0", &[]);
    rejects(&GOOD.replace("seed: 1", "seed: [1]"), 2, "seed", &[]);
    rejects(&GOOD.replace("name: t\n", ""), 0, "name", &["missing field `name`"]);
}

#[test]
fn impossible_values() {
    rejects(&GOOD.replace("evaluations: 2000", "evaluations: -5"), 11, "budget.evaluations", &[]);
    rejects(
        &GOOD.replace("evaluations: 2000", "evaluations: 0"),
        11,
        "budget.evaluations",
        &["positive"],
    );
    rejects(&GOOD.replace("sigma0: 1.0", "sigma0: -1.0"), 9, "strategy.sigma0", &[]);
    rejects(
        &GOOD.replace("dimension: 4", "dimension: 4\n  lower: 3\n  upper: -3"),
        7,
        "problem.lower",
        &["not below"],
    );
}
