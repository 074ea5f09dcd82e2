//! From a validated study file to a running study: strategy dispatch, output directory, resume.
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Result, bail};
use evoforge_core::{Problem, Strategy};

use crate::diag::StudyError;
use crate::driver::{Driver, Settings, Summary};
use crate::progress::ProgressMode;
use crate::spec::{EvaluatorSpec, StrategyVisitor, StudyFile};

/// A study ready to run: the strategy is built and checked against the problem's space.
pub trait StudyRun {
    /// Runs from the start.
    fn run(&mut self) -> Result<Summary>;
    /// Continues from the output directory's checkpoint and journal.
    fn resume(&mut self) -> Result<Summary>;
}

impl<S: Strategy> StudyRun for Driver<S> {
    fn run(&mut self) -> Result<Summary> {
        Driver::run(self)
    }
    fn resume(&mut self) -> Result<Summary> {
        Driver::resume(self)
    }
}

/// Validates everything in `study` (types were checked by the parser; here: values, the
/// problem, the strategy against the problem's space) and returns the runner. Nothing is
/// written.
pub fn prepare(
    study: &StudyFile,
    dir: Option<PathBuf>,
    progress: ProgressMode,
) -> Result<Box<dyn StudyRun>, StudyError> {
    let problem = study.check()?;
    let s = &study.spec;
    let EvaluatorSpec::Threads(t) = &s.evaluator;
    let settings = Settings {
        name: s.name.clone(),
        seed: s.seed,
        direction: s.direction,
        budget: s.budget.clone(),
        threads: t.resolved(),
        dir,
        output: s.output.clone(),
        progress,
    };
    struct Build<'a> {
        study: &'a StudyFile,
        problem: Arc<dyn Problem>,
        settings: Settings,
    }
    impl StrategyVisitor for Build<'_> {
        type Out = Result<Box<dyn StudyRun>, StudyError>;
        fn visit<S: Strategy>(self, c: &S::Config) -> Self::Out {
            let strategy = S::new(c.clone(), self.problem.space())
                .map_err(|e| self.study.error(&format!("strategy.{}", e.field), e.message))?;
            Ok(Box::new(Driver::new(strategy, self.problem, self.settings)))
        }
    }
    s.strategy.visit(Build { study, problem, settings })
}

/// The output directory a study writes to.
pub fn output_dir(study: &StudyFile, overridden: Option<&Path>) -> PathBuf {
    match (overridden, &study.spec.output.dir) {
        (Some(d), _) => d.to_path_buf(),
        (None, Some(d)) => PathBuf::from(d),
        (None, None) => PathBuf::from("runs").join(&study.spec.name),
    }
}

/// `evoforge run`: validates, creates the output directory (refusing one that holds a study
/// unless `overwrite`), stores the study file as run, and runs.
pub fn run_file(
    path: &Path,
    out: Option<&Path>,
    overwrite: bool,
    progress: ProgressMode,
) -> Result<Summary> {
    let study = StudyFile::read(path)?;
    let dir = output_dir(&study, out);
    let mut runner = prepare(&study, Some(dir.clone()), progress)?;
    if dir.join("journal.jsonl").exists() || dir.join("study.yaml").exists() {
        if !overwrite {
            bail!(
                "{} already holds a study: continue it with `evoforge resume {}`, or pass --overwrite to start over",
                dir.display(),
                dir.display()
            );
        }
        for f in ["journal.jsonl", "checkpoint.json", "summary.json", "study.yaml"] {
            let p = dir.join(f);
            if p.exists() {
                std::fs::remove_file(&p)?;
            }
        }
    }
    std::fs::create_dir_all(&dir)?;
    crate::driver::write_atomic(&dir.join("study.yaml"), study.source.as_bytes())?;
    runner.run()
}

/// `evoforge resume DIR`.
pub fn resume_dir(dir: &Path, progress: ProgressMode) -> Result<Summary> {
    let study = StudyFile::read(&dir.join("study.yaml"))?;
    let summary_path = dir.join("summary.json");
    if summary_path.exists() {
        let s: Summary = serde_json::from_slice(&std::fs::read(&summary_path)?)?;
        return Ok(s);
    }
    let mut runner = prepare(&study, Some(dir.to_path_buf()), progress)?;
    runner.resume()
}
