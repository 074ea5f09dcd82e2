//! From a validated study file to a running study: strategy dispatch, output directory, resume;
//! and, for `evaluator: {kind: mpi}`, this process's part in the MPI job.
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
    /// Runs from the start. `None` on an MPI worker rank, which has no study loop.
    fn run(&mut self) -> Result<Option<Summary>>;
    /// Continues from the output directory's checkpoint and journal.
    fn resume(&mut self) -> Result<Option<Summary>>;
}

impl<S: Strategy> StudyRun for Driver<S> {
    fn run(&mut self) -> Result<Option<Summary>> {
        Driver::run(self).map(Some)
    }
    fn resume(&mut self) -> Result<Option<Summary>> {
        Driver::resume(self).map(Some)
    }
}

/// This process's place in the study's job.
#[derive(Clone)]
enum Place {
    /// One machine (also `kind: mpi` when only validating).
    Local,
    /// A rank of an MPI job.
    #[cfg(feature = "mpi")]
    Mpi(evoforge_cluster::mpi::MpiWorld),
}

impl Place {
    /// Starts MPI for `kind: mpi` studies (a singleton, i.e. a local run, without `mpirun`).
    fn of(study: &StudyFile) -> Result<Self> {
        match &study.spec.evaluator {
            #[cfg(feature = "mpi")]
            EvaluatorSpec::Mpi(_) => Ok(Place::Mpi(evoforge_cluster::mpi::init()?)),
            #[cfg(not(feature = "mpi"))]
            EvaluatorSpec::Mpi(_) => Err(study.error("evaluator.kind", NO_MPI).into()),
            _ => Ok(Place::Local),
        }
    }

    /// Whether this process writes the output directory and prints the summary.
    fn leader(&self) -> bool {
        match self {
            Place::Local => true,
            #[cfg(feature = "mpi")]
            Place::Mpi(w) => w.rank() == 0,
        }
    }

    /// Runs `f` as this process's part of the study. Under MPI an error on any rank ends the
    /// whole job (`MPI_Abort`) with that rank's message instead of leaving the others waiting;
    /// after success MPI is finalized (with `EVOFORGE_MPI_STATS` set, each rank first prints
    /// its traffic counters to stderr as a JSON line).
    fn finish<T>(&self, f: impl FnOnce() -> Result<T>) -> Result<T> {
        let out = f();
        #[cfg(feature = "mpi")]
        if let Place::Mpi(w) = self {
            match &out {
                Err(e) if w.size() > 1 => w.abort(&format!("{e:#}")),
                _ => {
                    if std::env::var_os("EVOFORGE_MPI_STATS").is_some() {
                        // One write, so the lines of ranks sharing a stderr do not interleave.
                        use std::io::Write;
                        let line = format!("mpi-stats {}\n", w.stats_json());
                        let _ = std::io::stderr().write_all(line.as_bytes());
                    }
                    evoforge_cluster::mpi::finalize();
                }
            }
        }
        out
    }
}

#[cfg(not(feature = "mpi"))]
const NO_MPI: &str = "this evoforge was built without MPI support: rebuild it with `cargo build --release --features mpi` \
     (needs Open MPI or MPICH and libclang) and start the study with `mpirun -n N evoforge run STUDY`";

/// Validates everything in `study` (types were checked by the parser; here: values, the
/// problem, the strategy against the problem's space) and returns the runner. Nothing is
/// written.
pub fn prepare(
    study: &StudyFile,
    dir: Option<PathBuf>,
    progress: ProgressMode,
) -> Result<Box<dyn StudyRun>, StudyError> {
    prepare_at(study, dir, progress, &Place::Local)
}

fn prepare_at(
    study: &StudyFile,
    dir: Option<PathBuf>,
    progress: ProgressMode,
    place: &Place,
) -> Result<Box<dyn StudyRun>, StudyError> {
    let problem = study.check()?;
    let s = &study.spec;
    let threads = match &s.evaluator {
        EvaluatorSpec::Threads(t) => t.resolved(),
        EvaluatorSpec::Processes(_) => 1,
        EvaluatorSpec::Mpi(m) => m.resolved(),
    };
    let progress = if place.leader() { progress } else { ProgressMode::Quiet };
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
        #[cfg_attr(not(feature = "mpi"), allow(dead_code))]
        place: &'a Place,
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
                #[cfg(feature = "mpi")]
                EvaluatorSpec::Mpi(m) => match self.place {
                    Place::Mpi(world) if world.size() > 1 => {
                        return mpi_run::<S>(
                            self.study,
                            strategy,
                            self.problem,
                            self.settings,
                            world,
                            m,
                        );
                    }
                    _ => None,
                },
                #[cfg(not(feature = "mpi"))]
                EvaluatorSpec::Mpi(_) => return Err(self.study.error("evaluator.kind", NO_MPI)),
            };
            let driver = Driver::new(strategy, self.problem, self.settings);
            Ok(Box::new(match evaluator {
                Some(e) => driver.with_evaluator(e),
                None => driver,
            }))
        }
    }
    s.strategy.visit(Build { study, problem, settings, place })
}

/// This rank's part of an MPI study (see `evoforge_cluster::mpi`): replicated for seed-based
/// strategies, else the leader's study loop on rank 0 and an evaluation server on the others.
#[cfg(feature = "mpi")]
fn mpi_run<S: Strategy>(
    study: &StudyFile,
    strategy: S,
    problem: Arc<dyn Problem>,
    settings: Settings,
    world: &evoforge_cluster::mpi::MpiWorld,
    m: &crate::spec::MpiConfig,
) -> Result<Box<dyn StudyRun>, StudyError> {
    use evoforge_cluster::mpi::{LeaderEvaluator, ReplicatedEvaluator};
    let start = |e: evoforge_cluster::ClusterError| study.error("evaluator", e.to_string());
    let threads = m.resolved();
    if S::COMPACT {
        let e = ReplicatedEvaluator::new(world.clone(), problem.clone(), threads).map_err(start)?;
        let driver = Driver::new(strategy, problem, settings).with_evaluator(Box::new(e));
        return Ok(Box::new(driver.with_group(Arc::new(world.clone()))));
    }
    if world.rank() == 0 {
        let e = LeaderEvaluator::new(world.clone(), problem.clone(), threads).map_err(start)?;
        return Ok(Box::new(Driver::new(strategy, problem, settings).with_evaluator(Box::new(e))));
    }
    /// A worker rank of leader/worker mode: evaluates what rank 0 sends until it says stop.
    struct Serve {
        world: evoforge_cluster::mpi::MpiWorld,
        problem: Arc<dyn Problem>,
        threads: usize,
    }
    impl StudyRun for Serve {
        fn run(&mut self) -> Result<Option<Summary>> {
            evoforge_cluster::mpi::serve(&self.world, self.problem.clone(), self.threads)?;
            Ok(None)
        }
        fn resume(&mut self) -> Result<Option<Summary>> {
            self.run()
        }
    }
    Ok(Box::new(Serve { world: world.clone(), problem, threads }))
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
///
/// Returns the summary, or `None` on MPI ranks other than 0 (rank 0 writes and reports).
pub fn run_file(
    path: &Path,
    out: Option<&Path>,
    overwrite: bool,
    progress: ProgressMode,
) -> Result<Option<Summary>> {
    run_file_seeded(path, out, overwrite, None, progress)
}

/// [`run_file`] with the study's seed replaced by `seed` when given (`evoforge run --seed`).
pub fn run_file_seeded(
    path: &Path,
    out: Option<&Path>,
    overwrite: bool,
    seed: Option<u64>,
    progress: ProgressMode,
) -> Result<Option<Summary>> {
    let study = StudyFile::read(path)?;
    let study = match seed {
        Some(s) => study.with_seed(s)?,
        None => study,
    };
    let place = Place::of(&study)?;
    place.finish(|| {
        let dir = output_dir(&study, out);
        let mut runner = prepare_at(&study, Some(dir.clone()), progress, &place)?;
        if place.leader() {
            prepare_dir(&study, &dir, overwrite)?;
        }
        let summary = runner.run()?;
        Ok(summary.filter(|_| place.leader()))
    })
}

/// Refuses a directory that holds a study (unless `overwrite`), creates it and stores the
/// study file as run.
fn prepare_dir(study: &StudyFile, dir: &Path, overwrite: bool) -> Result<()> {
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
    std::fs::create_dir_all(dir)?;
    crate::driver::write_atomic(&dir.join("study.yaml"), study.source.as_bytes())
}

/// `evoforge resume DIR`. Under MPI every rank reads `DIR/study.yaml` (a shared file system,
/// as `mpirun` jobs usually have), rank 0 alone the journal and checkpoint; the rank count may
/// differ from the interrupted run's. Returns `None` on MPI ranks other than 0.
pub fn resume_dir(dir: &Path, progress: ProgressMode) -> Result<Option<Summary>> {
    let study = StudyFile::read(&dir.join("study.yaml"))?;
    let summary_path = dir.join("summary.json");
    let finished =
        || -> Result<Summary> { Ok(serde_json::from_slice(&std::fs::read(&summary_path)?)?) };
    let place = match Place::of(&study) {
        // A finished `kind: mpi` study is still reported by a build without MPI.
        Err(_) if summary_path.exists() => return Ok(Some(finished()?)),
        p => p?,
    };
    place.finish(|| {
        // A finished study is reported as it is, once (by the leader under MPI).
        if summary_path.exists() {
            return Ok(Some(finished()?).filter(|_| place.leader()));
        }
        let mut runner = prepare_at(&study, Some(dir.to_path_buf()), progress, &place)?;
        let summary = runner.resume()?;
        Ok(summary.filter(|_| place.leader()))
    })
}
