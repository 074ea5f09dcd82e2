//! Same seed → same journal and summary at 1, 2 and 8 threads (every field but wall times).
mod common;
use common::*;

fn study(threads: usize, strategy: &str, dir: &str) -> String {
    study_on(threads, strategy, dir, "{kind: bbob, function: 10, dimension: 6, instance: 2}", 3000)
}

fn study_on(threads: usize, strategy: &str, dir: &str, problem: &str, evals: u64) -> String {
    format!(
        "name: det\nseed: 123\nproblem: {problem}\n\
         strategy: {strategy}\nbudget: {{evaluations: {evals}}}\n\
         evaluator: {{kind: threads, threads: {threads}}}\noutput: {{dir: {dir}, checkpoint_generations: 7}}\n"
    )
}

#[test]
fn journal_and_summary_identical_at_1_2_8_threads() {
    let tmp = tempfile::tempdir().unwrap();
    for (si, strategy) in [
        "{kind: cmaes, restarts: ipop}",
        "{kind: random, popsize: 37}",
        "{kind: one_plus_one}",
        "{kind: openai_es, popsize: 20, sigma: 0.3, learning_rate: 0.1, noise_len: 100000}",
        "{kind: deep_ga, popsize: 30, truncation: 5, sigma: 0.3, validation_size: 3, validation_evals: 4, noise_len: 100000}",
        "{kind: snes, sigma0: 1.0, noise_len: 100000}",
        "{kind: pgpe, popsize: 20, stdev_init: 1.0, center_learning_rate: 0.3, noise_len: 100000}",
    ]
    .into_iter()
    .enumerate()
    {
        let mut journals = Vec::new();
        let mut summaries = Vec::new();
        for threads in [1, 2, 8] {
            let dir = format!("out-{si}-{threads}");
            let p = write(tmp.path(), &format!("{dir}.yaml"), &study(threads, strategy, &dir));
            let o = evoforge(&["run", p.to_str().unwrap()], tmp.path());
            assert!(o.status.success(), "{}", stderr(&o));
            let d = tmp.path().join(&dir);
            journals.push(normalized_journal(&d));
            summaries.push(summary(&d));
        }
        assert!(journals[0].len() > 3000, "journal has every evaluation");
        assert_eq!(journals[0], journals[1], "{strategy}: 1 vs 2 threads");
        assert_eq!(journals[0], journals[2], "{strategy}: 1 vs 8 threads");
        assert_eq!(summaries[0], summaries[1]);
        assert_eq!(summaries[0], summaries[2]);
    }
}

/// Above `JOURNAL_X_MAX` coordinates, seed-based strategies journal genomes only and the
/// worker threads decode them (the Deep GA through its shared parent cache): still the same
/// journal and summary at any thread count.
#[test]
fn compact_genomes_decoded_on_workers_are_thread_count_independent() {
    let tmp = tempfile::tempdir().unwrap();
    let problem = "{kind: classic, function: sphere, dimension: 5000}";
    for (si, strategy) in [
        "{kind: openai_es, popsize: 16, sigma: 0.1, noise_len: 200000}",
        "{kind: deep_ga, popsize: 24, truncation: 4, sigma: 0.05, validation_size: 2, validation_evals: 2, noise_len: 200000}",
    ]
    .into_iter()
    .enumerate()
    {
        let mut journals = Vec::new();
        let mut summaries = Vec::new();
        for threads in [1, 2, 8] {
            let dir = format!("big-{si}-{threads}");
            let text = study_on(threads, strategy, &dir, problem, 300);
            let p = write(tmp.path(), &format!("{dir}.yaml"), &text);
            let o = evoforge(&["run", p.to_str().unwrap()], tmp.path());
            assert!(o.status.success(), "{}", stderr(&o));
            let d = tmp.path().join(&dir);
            journals.push(normalized_journal(&d));
            summaries.push(summary(&d));
        }
        let j = serde_json::to_string(&journals[0]).unwrap();
        assert!(j.contains("\"genome\"") && !j.contains("\"x\""), "{strategy}: genomes only");
        assert_eq!(journals[0], journals[1], "{strategy}: 1 vs 2 threads");
        assert_eq!(journals[0], journals[2], "{strategy}: 1 vs 8 threads");
        assert_eq!(summaries[0], summaries[1]);
        assert_eq!(summaries[0], summaries[2]);
    }
}
