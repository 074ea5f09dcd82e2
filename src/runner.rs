//! From a validated study file to a running study: strategy dispatch, output directory, resume.
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Result, bail};
use evoforge_cluster::protocol::Hello;
use evoforge_cluster::{Evaluator, ProcessConfig, ProcessEvaluator};
use evoforge_core::{Problem, Strategy};

use crate::diag::StudyError;
use crate::driver::{Driver, Settings, Summary};
use crate::progress::ProgressMode;
use crate::spec::{EvaluatorSpec, ProcessesConfig, StrategyVisitor, StudyFile};

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
    let threads = match &s.evaluator {
        EvaluatorSpec::Threads(t) => t.resolved(),
        EvaluatorSpec::Processes(_) => 1,
    };
    let settings = Settings {
        name: s.name.clone(),
        seed: s.seed,
        direction: s.direction,
        budget: s.budget.clone(),
        threads,
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
            let spec = &self.study.spec;
            let evaluator = match &spec.evaluator {
                EvaluatorSpec::Threads(_) => None,
                EvaluatorSpec::Processes(p) => {
                    let hello = Hello {
                        version: evoforge_cluster::protocol::VERSION,
                        worker: 0,
                        problem: spec.problem.to_json(),
                        strategy: crate::spec::tagged_json(S::NAME, c),
                        dimension: self.problem.space().dim(),
                        compact: S::COMPACT,
                    };
                    Some(process_evaluator(self.study, p, hello)?)
                }
            };
            let driver = Driver::new(strategy, self.problem, self.settings);
            Ok(Box::new(match evaluator {
                Some(e) => driver.with_evaluator(e),
                None => driver,
            }))
        }
    }
    s.strategy.visit(Build { study, problem, settings })
}

/// The worker-process evaluator of `evaluator: {kind: processes, ...}` (its workers start at
/// the first evaluation, so validating a study runs nothing).
fn process_evaluator(
    study: &StudyFile,
    p: &ProcessesConfig,
    hello: Hello,
) -> Result<Box<dyn Evaluator>, StudyError> {
    let command = p.resolved_command().map_err(|m| study.error("evaluator.command", m))?;
    let mut config = ProcessConfig::new(command, p.resolved_workers(), hello);
    config.env = p.env.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    config.gpus = p.gpus.iter().map(|g| g.to_string()).collect();
    config.task_timeout = Duration::from_secs_f64(p.task_timeout_seconds);
    config.heartbeat_timeout = Duration::from_secs_f64(p.heartbeat_timeout_seconds);
    config.startup_timeout = Duration::from_secs_f64(p.startup_timeout_seconds);
    config.batch = p.batch;
    config.max_restarts = p.max_restarts;
    config.task_attempts = p.task_attempts;
    let e = ProcessEvaluator::new(config).map_err(|e| study.error("evaluator", e.to_string()))?;
    Ok(Box::new(e))
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
    run_file_seeded(path, out, overwrite, None, progress)
}

/// [`run_file`] with the study's seed replaced by `seed` when given (`evoforge run --seed`).
pub fn run_file_seeded(
    path: &Path,
    out: Option<&Path>,
    overwrite: bool,
    seed: Option<u64>,
    progress: ProgressMode,
) -> Result<Summary> {
    let study = StudyFile::read(path)?;
    let study = match seed {
        Some(s) => study.with_seed(s)?,
        None => study,
    };
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
