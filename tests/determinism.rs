//! Same seed → same journal and summary at 1, 2 and 8 threads (every field but wall times).
mod common;
use common::*;

fn study(threads: usize, strategy: &str, dir: &str) -> String {
    format!(
        "name: det\nseed: 123\nproblem: {{kind: bbob, function: 10, dimension: 6, instance: 2}}\n\
         strategy: {strategy}\nbudget: {{evaluations: 3000}}\n\
         evaluator: {{kind: threads, threads: {threads}}}\noutput: {{dir: {dir}, checkpoint_generations: 7}}\n"
    )
}

#[test]
fn journal_and_summary_identical_at_1_2_8_threads() {
    let tmp = tempfile::tempdir().unwrap();
    for (si, strategy) in
        ["{kind: cmaes, restarts: ipop}", "{kind: random, popsize: 37}", "{kind: one_plus_one}"]
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
