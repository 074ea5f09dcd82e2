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

/// A problem whose value is the evaluation seed it was given (scaled into [0, 1)).
struct SeedEcho(Space);

impl Problem for SeedEcho {
    fn space(&self) -> &Space {
        &self.0
    }
    fn evaluate(&self, _x: &[f64], ctx: &EvalCtx) -> Result<Evaluation, EvalError> {
        Ok(Evaluation::value((ctx.seed >> 11) as f64 / (1u64 << 53) as f64))
    }
}

/// `common_random_numbers`: the two members of each mirrored pair see the same evaluation
/// seed (so the same episodes); without it every member has its own.
#[test]
fn common_random_numbers_give_a_mirrored_pair_one_seed() {
    for crn in [true, false] {
        let dir = tempfile::tempdir().unwrap();
        let problem = SeedEcho(Space::real_box(3, -1.0, 1.0));
        let cfg = OpenAiEsConfig {
            popsize: 8,
            noise_len: 1000,
            common_random_numbers: crn,
            ..Default::default()
        };
        let es = OpenAiEs::new(cfg, problem.space()).unwrap();
        Study::new(es, problem).seed(5).evaluations(40).output(dir.path()).run().unwrap();
        let journal = std::fs::read_to_string(dir.path().join("journal.jsonl")).unwrap();
        let f: Vec<f64> = journal
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .filter(|v| v.get("f").is_some())
            .map(|v| v["f"].as_f64().unwrap())
            .collect();
        assert_eq!(f.len(), 40);
        for pair in f.chunks(2) {
            assert_eq!(pair[0] == pair[1], crn, "crn {crn}: {f:?}");
        }
        // Different pairs always get different seeds.
        let mut firsts: Vec<f64> = f.chunks(2).map(|p| p[0]).collect();
        firsts.dedup();
        assert_eq!(firsts.len(), 20);
    }
}
