//! The library API: closure problems, failures that never stop a study, maximisation.
use evoforge::prelude::*;

#[test]
fn failed_nan_and_panicking_evaluations_are_journaled_and_rank_worst() {
    let dir = tempfile::tempdir().unwrap();
    let problem = FnProblem::new(Space::real_box(4, -3.0, 3.0), |x: &[f64]| {
        if x[0] > 2.0 {
            panic!("objective crashed");
        }
        if x[1] > 2.0 {
            return f64::NAN;
        }
        if x[2] > 2.5 {
            return f64::INFINITY;
        }
        x.iter().map(|v| v * v).sum()
    });
    let es = CmaEs::new(CmaEsConfig { sigma0: Some(2.0), ..Default::default() }, problem.space())
        .unwrap();
    let s = Study::new(es, problem)
        .seed(3)
        .evaluations(3000)
        .threads(2)
        .output(dir.path())
        .run()
        .unwrap();
    assert!(s.failures > 0, "the start spreads over the failing regions");
    assert!(s.best_f.unwrap() < 1e-8, "failures did not derail the search: {:?}", s.best_f);
    let journal = std::fs::read_to_string(dir.path().join("journal.jsonl")).unwrap();
    let errors: Vec<&str> = journal.lines().filter(|l| l.contains("\"error\"")).collect();
    assert_eq!(errors.len() as u64, s.failures);
    assert!(errors.iter().any(|l| l.contains("objective crashed")));
    assert!(errors.iter().any(|l| l.contains("NaN")));
    assert!(errors.iter().any(|l| l.contains("inf")));
}

#[test]
fn maximize_is_handled_at_the_study_edge() {
    let problem = FnProblem::new(Space::real_box(3, -2.0, 2.0), |x: &[f64]| {
        5.0 - x.iter().map(|v| (v - 1.0).powi(2)).sum::<f64>()
    });
    let es = CmaEs::new(CmaEsConfig::default(), problem.space()).unwrap();
    let s = Study::new(es, problem)
        .seed(1)
        .evaluations(2000)
        .direction(Direction::Maximize)
        .target(5.0 - 1e-10)
        .run()
        .unwrap();
    assert!(s.best_f.unwrap() > 5.0 - 1e-10, "{s:?}");
    assert_eq!(s.stop_reason, "target");
    for v in s.best_x.unwrap() {
        assert!((v - 1.0).abs() < 1e-4);
    }
}

#[test]
fn a_budget_is_required() {
    let problem = FnProblem::new(Space::real_box(2, -1.0, 1.0), |x: &[f64]| x[0]);
    let rs = RandomSearch::new(RandomSearchConfig::default(), problem.space()).unwrap();
    assert!(Study::new(rs, problem).run().is_err());
}
