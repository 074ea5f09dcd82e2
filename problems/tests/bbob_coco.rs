//! Checks every BBOB function against values computed by COCO itself (cocoex 2.8.2).
//!
//! * `fixtures/bbob_reference.json`: all 24 functions × d ∈ {2, 5, 10, 20} × instances 1-3,
//!   20 uniform points each plus the origin, three points near x_opt and four outside the box.
//! * `fixtures/bbob_extra.json` (made by `fixtures/make_bbob_extra.py`): d ∈ {3, 40} × instances
//!   {4, 15, 101}, so the construction is checked beyond the sample above.
//!
//! Tolerance rule, for every f, f_opt and x_opt coordinate: `|got − want| ≤ 1e-9 · max(1, |want|)`,
//! i.e. a relative error of 1e-9 where `|want| ≥ 1` and an absolute error of 1e-9 below.

use std::path::Path;

use evoforge_problems::Bbob;
use serde_json::Value;

const TOL: f64 = 1e-9;

fn close(got: f64, want: f64) -> bool {
    (got - want).abs() <= TOL * want.abs().max(1.0)
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array().expect("array").iter().map(|x| x.as_f64().expect("number")).collect()
}

fn points(v: &Value) -> Vec<Vec<f64>> {
    v.as_array().expect("array of points").iter().map(floats).collect()
}

/// Checks one fixture file; returns (values checked, problems seen) and panics listing the
/// first mismatches if any value is off.
fn check_fixture(name: &str) -> (usize, usize) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let doc: Value = serde_json::from_str(&text).expect("fixture is JSON");
    let problems = doc["problems"].as_array().expect("problems array");
    let mut checked = 0;
    let mut failures = Vec::new();
    let mut worst = 0.0_f64;
    for p in problems {
        let f = p["function"].as_u64().unwrap() as u32;
        let d = p["dimension"].as_u64().unwrap() as usize;
        let i = p["instance"].as_u64().unwrap() as u32;
        let id = format!("f{f} d{d} i{i}");
        let bbob = Bbob::new(f, d, i).unwrap_or_else(|e| panic!("{id}: {e}"));

        let want = p["f_opt"].as_f64().unwrap();
        checked += 1;
        if !close(bbob.f_opt(), want) {
            failures.push(format!("{id}: f_opt {} vs COCO {want}", bbob.f_opt()));
        }
        let want_x = floats(&p["x_opt"]);
        assert_eq!(bbob.x_opt().len(), want_x.len(), "{id}: x_opt length");
        for (k, (&g, &w)) in bbob.x_opt().iter().zip(&want_x).enumerate() {
            checked += 1;
            if !close(g, w) {
                failures.push(format!("{id}: x_opt[{k}] {g} vs COCO {w}"));
            }
        }

        let mut xs = points(&p["x"]);
        let mut fs = floats(&p["f"]);
        if let Some(extra) = p.get("extra_x") {
            xs.extend(points(extra));
            fs.extend(floats(&p["extra_f"]));
        }
        assert_eq!(xs.len(), fs.len(), "{id}: points and values differ in number");
        for (x, &want) in xs.iter().zip(&fs) {
            let got = bbob.eval(x);
            checked += 1;
            worst = worst.max((got - want).abs() / want.abs().max(1.0));
            if !close(got, want) {
                failures.push(format!("{id}: f({x:?}) = {got} vs COCO {want}"));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{name}: {} of {checked} values off (first 20):\n{}",
        failures.len(),
        failures.iter().take(20).cloned().collect::<Vec<_>>().join("\n")
    );
    eprintln!(
        "{name}: {checked} values over {} problems, worst scaled error {worst:.2e}",
        problems.len()
    );
    (checked, problems.len())
}

#[test]
fn matches_coco_reference_fixture() {
    let (checked, problems) = check_fixture("bbob_reference.json");
    // 24 functions × 4 dimensions × 3 instances; guards against a truncated fixture passing.
    assert_eq!(problems, 288);
    assert!(checked > 288 * 28);
}

#[test]
fn matches_coco_on_other_dimensions_and_instances() {
    let (_, problems) = check_fixture("bbob_extra.json");
    assert!(problems >= 24 * 2 * 2, "extra fixture covers too little: {problems} problems");
}

#[test]
fn tolerance_rule_can_fail() {
    assert!(close(1.0, 1.0 + 0.5e-9));
    assert!(!close(1.0, 1.0 + 2e-9));
    assert!(close(1e6 + 1e-4, 1e6));
    assert!(!close(1e-3, 0.0));
}
