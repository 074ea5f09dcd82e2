//! The study loop: ask, evaluate on the evaluator, journal, tell, checkpoint; and its exact
//! resume.
//!
//! Every random number comes from `stream(seed, [purpose, generation])`, so re-running the loop
//! from a checkpoint re-asks exactly the same candidates. On resume, candidates whose results
//! are in the journal are answered from it (never re-run, never re-written); the others (those
//! in flight at the crash) are evaluated again.
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use evoforge_cluster::{Decoder, Evaluator, Group, Point, Task, ThreadEvaluator, Wait};
use evoforge_core::{Evaluated, Evaluation, Outcome, Problem, Purpose, Strategy, rng};
use serde::{Deserialize, Serialize, de::DeserializeOwned};

use crate::journal::{EvalLine, JournalWriter};
use crate::progress::{Progress, ProgressMode};
use crate::spec::{Budget, Direction, OutputSpec};

/// The best evaluation of a study, in the user's sign.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Best {
    /// Candidate id.
    pub id: u64,
    /// The point (absent for compact genomes above [`BEST_X_MAX`] coordinates).
    pub x: Option<Vec<f64>>,
    /// The genome, for strategies with compact genomes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub genome: Option<serde_json::Value>,
    /// Its value (first objective, as the problem returned it).
    pub f: f64,
}

/// Strategies with compact genomes journal the point too up to this dimension (beyond, only
/// the genome: a million-coordinate point per line would make the journal the bottleneck).
pub const JOURNAL_X_MAX: usize = 4096;

/// Strategies with compact genomes keep the best point (checkpoint, summary) up to this
/// dimension; beyond, the best genome stands for it.
pub const BEST_X_MAX: usize = 100_000;

/// The [`Decoder`] of one generation: the strategy's `decode` with that generation's context.
struct StrategyDecoder<S: Strategy> {
    strategy: Arc<S>,
    ctx: S::Context,
    dim: usize,
}

impl<S: Strategy> StrategyDecoder<S> {
    fn point(&self, g: &S::Genome) -> Vec<f64> {
        let mut x = vec![0.0; self.dim];
        self.strategy.decode(&self.ctx, g, &mut x);
        x
    }
}

impl<S: Strategy> Decoder for StrategyDecoder<S> {
    fn dim(&self) -> usize {
        self.dim
    }
    fn decode(&self, genome: &str, out: &mut [f64]) -> std::result::Result<(), String> {
        let g: S::Genome = serde_json::from_str(genome).map_err(|e| e.to_string())?;
        self.strategy.decode(&self.ctx, &g, out);
        Ok(())
    }
    fn context_json(&self) -> String {
        serde_json::to_string(&self.ctx).expect("contexts serialise")
    }
}

/// `summary.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Study name.
    pub name: String,
    /// Strategy kind.
    pub strategy: String,
    /// Study seed.
    pub seed: u64,
    /// Best point, if any evaluation succeeded (and, for compact genomes, the dimension is at
    /// most [`BEST_X_MAX`]).
    pub best_x: Option<Vec<f64>>,
    /// Best genome, for strategies with compact genomes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub best_genome: Option<serde_json::Value>,
    /// Best value, if any evaluation succeeded.
    pub best_f: Option<f64>,
    /// The strategy's own recommendation (`Strategy::recommend`: the validated elite of the
    /// Deep GA, the centre of an ES), when it has one and the dimension is at most
    /// [`BEST_X_MAX`]. On noisy objectives, the point to use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recommended_x: Option<Vec<f64>>,
    /// The problem's per-generation state after the last generation, in named parts (for a
    /// policy with running observation normalisation: `obs_mean`, `obs_std`, the statistics
    /// to deploy `recommended_x` with); absent for stateless problems.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub problem_state: Option<serde_json::Map<String, serde_json::Value>>,
    /// Id of the best evaluation.
    pub best_id: Option<u64>,
    /// Evaluations done.
    pub evaluations: u64,
    /// Failed evaluations among them.
    pub failures: u64,
    /// Generations (tells) done.
    pub generations: u64,
    /// Wall-clock seconds over all sessions of the study.
    pub wall_seconds: f64,
    /// Why the study stopped.
    pub stop_reason: String,
    /// The strategy's own counters (`Strategy::report`), when it has any.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub strategy_report: evoforge_core::Metrics,
}

/// A checkpoint: the full strategy state and the loop's counters after a generation's tell.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Checkpoint<St> {
    /// Journal format version.
    pub version: u32,
    /// Strategy kind (a checkpoint of another strategy is refused).
    pub strategy: String,
    /// Generations done.
    pub generations: u64,
    /// Evaluations done.
    pub evaluations: u64,
    /// Failed evaluations.
    pub failures: u64,
    /// Best so far.
    pub best: Option<Best>,
    /// Wall seconds so far.
    pub elapsed: f64,
    /// The problem's per-generation state after `generations` generations (`None` for
    /// stateless problems).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub problem_state: Option<Vec<f64>>,
    /// The strategy state.
    pub state: St,
}

/// Everything about a study that is not the strategy: seed, direction, budget, output.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Study name.
    pub name: String,
    /// Seed of all streams.
    pub seed: u64,
    /// Minimise or maximise.
    pub direction: Direction,
    /// When to stop.
    pub budget: Budget,
    /// Threads for the evaluator.
    pub threads: usize,
    /// Output directory (no journal, checkpoint or summary when `None`).
    pub dir: Option<PathBuf>,
    /// Output timings.
    pub output: OutputSpec,
    /// How progress is shown.
    pub progress: ProgressMode,
}

/// Runs one strategy on one problem.
pub struct Driver<S: Strategy> {
    strategy: Arc<S>,
    problem: Arc<dyn Problem>,
    settings: Settings,
    evaluator: Option<Box<dyn Evaluator>>,
    group: Option<Arc<dyn Group>>,
}

struct Loop<St> {
    generations: u64,
    evaluations: u64,
    failures: u64,
    best: Option<Best>,
    elapsed_before: f64,
    problem_state: Option<Vec<f64>>,
    state: St,
}

const CHECKPOINT: &str = "checkpoint.json";
const JOURNAL: &str = "journal.jsonl";
const SUMMARY: &str = "summary.json";

impl<S: Strategy> Driver<S>
where
    S::State: DeserializeOwned,
{
    /// A driver; the evaluator (a rayon pool of `settings.threads`) is started on first use.
    pub fn new(strategy: S, problem: Arc<dyn Problem>, settings: Settings) -> Self {
        Self { strategy: Arc::new(strategy), problem, settings, evaluator: None, group: None }
    }

    /// Runs this loop as one process of `group` (replicated MPI mode): every process runs ask
    /// and tell, only the leader writes; see [`Group`].
    pub fn with_group(mut self, group: Arc<dyn Group>) -> Self {
        self.group = Some(group);
        self
    }

    /// Whether this process writes the journal, checkpoints and summary.
    fn leader(&self) -> bool {
        self.group.as_ref().is_none_or(|g| g.is_leader())
    }

    /// Uses `evaluator` instead of the default thread pool.
    pub fn with_evaluator(mut self, evaluator: Box<dyn Evaluator>) -> Self {
        self.evaluator = Some(evaluator);
        self
    }

    /// Runs a new study from generation 0.
    pub fn run(&mut self) -> Result<Summary> {
        let mut init_rng = rng::stream(self.settings.seed, &[Purpose::Init as u64]);
        let state = self.strategy.init(&mut init_rng);
        let lp = Loop {
            generations: 0,
            evaluations: 0,
            failures: 0,
            best: None,
            elapsed_before: 0.0,
            problem_state: self.problem.state_init(),
            state,
        };
        let journal = match &self.settings.dir {
            Some(d) if self.leader() => {
                let mut j =
                    JournalWriter::open(&d.join(JOURNAL), self.settings.output.fsync_seconds)?;
                j.header(
                    &self.settings.name,
                    self.settings.seed,
                    S::NAME,
                    self.problem.space().dim(),
                )?;
                j.sync()?;
                Some(j)
            }
            _ => None,
        };
        self.drive(lp, journal, Replay::default())
    }

    /// Continues a study from `settings.dir`: the latest checkpoint, then the journal.
    pub fn resume(&mut self) -> Result<Summary> {
        let dir =
            self.settings.dir.clone().ok_or_else(|| anyhow!("resume needs an output directory"))?;
        let cp_path = dir.join(CHECKPOINT);
        // The leader reads (and repairs) the journal and reads the checkpoint; the other
        // processes of a group get both from it, so only one process touches the files.
        let (cp_text, contents) = if self.leader() {
            let contents =
                crate::journal::read_and_repair(&dir.join(JOURNAL)).map_err(|e| anyhow!(e))?;
            let cp_text = if cp_path.exists() {
                Some(
                    std::fs::read_to_string(&cp_path)
                        .with_context(|| format!("reading {}", cp_path.display()))?,
                )
            } else {
                None
            };
            (cp_text, Some(contents))
        } else {
            (None, None)
        };
        let (cp_text, evals) = match &self.group {
            Some(g) if g.size() > 1 => {
                #[derive(Serialize, Deserialize)]
                struct StartUp {
                    checkpoint: Option<String>,
                    evals: Vec<EvalLine>,
                }
                let mine = StartUp {
                    checkpoint: cp_text,
                    evals: contents
                        .as_ref()
                        .map(|c| c.evals.values().cloned().collect())
                        .unwrap_or_default(),
                };
                let bytes = g.broadcast_startup(serde_json::to_vec(&mine)?)?;
                let got: StartUp =
                    serde_json::from_slice(&bytes).context("reading the leader's resume state")?;
                (got.checkpoint, got.evals.into_iter().map(|e| (e.id, e)).collect())
            }
            _ => (cp_text, contents.as_ref().map(|c| c.evals.clone()).unwrap_or_default()),
        };
        let lp = if let Some(text) = cp_text {
            let cp: Checkpoint<S::State> = serde_json::from_str(&text).with_context(|| {
                format!("{} is not a checkpoint of this study", cp_path.display())
            })?;
            if cp.strategy != S::NAME {
                bail!(
                    "{}: checkpoint is of strategy `{}`, the study says `{}`",
                    cp_path.display(),
                    cp.strategy,
                    S::NAME
                );
            }
            Loop {
                generations: cp.generations,
                evaluations: cp.evaluations,
                failures: cp.failures,
                best: cp.best,
                elapsed_before: cp.elapsed,
                problem_state: cp.problem_state,
                state: cp.state,
            }
        } else {
            let mut init_rng = rng::stream(self.settings.seed, &[Purpose::Init as u64]);
            Loop {
                generations: 0,
                evaluations: 0,
                failures: 0,
                best: None,
                elapsed_before: 0.0,
                problem_state: self.problem.state_init(),
                state: self.strategy.init(&mut init_rng),
            }
        };
        let Some(contents) = contents else {
            // Not the leader: no journal, and nothing to skip writing.
            let replay = Replay { evals, ..Replay::default() };
            return self.drive(lp, None, replay);
        };
        let mut j = JournalWriter::open(&dir.join(JOURNAL), self.settings.output.fsync_seconds)?;
        if !contents.has_header {
            j.header(&self.settings.name, self.settings.seed, S::NAME, self.problem.space().dim())?;
        }
        j.resume(lp.generations, lp.evaluations)?;
        j.sync()?;
        let replay = Replay { evals, asks: contents.asks, tells: contents.tells };
        self.drive(lp, Some(j), replay)
    }

    fn stop_reason(&self, lp: &Loop<S::State>, started: Instant) -> Option<String> {
        let b = &self.settings.budget;
        if let (Some(t), Some(best)) = (b.target, &lp.best) {
            let reached = match self.settings.direction {
                Direction::Minimize => best.f <= t,
                Direction::Maximize => best.f >= t,
            };
            if reached {
                return Some("target".into());
            }
        }
        if let (Some(gap), Some(opt), Some(best)) = (b.target_gap, self.problem.optimum(), &lp.best)
        {
            let sign = self.settings.direction.sign();
            if sign * (best.f - opt) <= gap {
                return Some("target".into());
            }
        }
        if b.evaluations.is_some_and(|n| lp.evaluations >= n) {
            return Some("evaluations".into());
        }
        if b.generations.is_some_and(|n| lp.generations >= n) {
            return Some("generations".into());
        }
        if b.seconds.is_some_and(|s| lp.elapsed_before + started.elapsed().as_secs_f64() >= s) {
            return Some("seconds".into());
        }
        self.strategy.stop(&lp.state).map(|r| format!("strategy: {r}"))
    }

    /// [`Self::stop_reason`], the same on every process of a group: only the wall-clock budget
    /// can differ between processes, so then the leader's decision is broadcast.
    fn agreed_stop(&self, lp: &Loop<S::State>, started: Instant) -> Result<Option<String>> {
        let mine = self.stop_reason(lp, started);
        match &self.group {
            Some(g) if g.size() > 1 && self.settings.budget.seconds.is_some() => {
                let bytes = g.broadcast(serde_json::to_vec(&mine)?)?;
                Ok(serde_json::from_slice(&bytes)?)
            }
            _ => Ok(mine),
        }
    }

    fn drive(
        &mut self,
        mut lp: Loop<S::State>,
        mut journal: Option<JournalWriter>,
        replay: Replay,
    ) -> Result<Summary> {
        let started = Instant::now();
        if self.evaluator.is_none() {
            self.evaluator =
                Some(Box::new(ThreadEvaluator::new(self.problem.clone(), self.settings.threads)?));
        }
        let dim = self.problem.space().dim();
        let sign = self.settings.direction.sign();
        let seed = self.settings.seed;
        let mut progress = Progress::new(
            self.settings.progress,
            self.settings.output.progress_seconds,
            &self.settings.budget,
        );
        let mut last_checkpoint = Instant::now();
        let session_evals_start = lp.evaluations;
        let mut slots: Vec<Option<(Outcome, f64)>> = Vec::new();
        let stop = loop {
            if let Some(r) = self.agreed_stop(&lp, started)? {
                break r;
            }
            let generation = lp.generations;
            let mut ask_rng = rng::stream(seed, &[Purpose::Ask as u64, generation]);
            let cands = self.strategy.ask(&mut lp.state, &mut ask_rng);
            if cands.is_empty() {
                bail!("strategy `{}` asked no candidates in generation {generation}", S::NAME);
            }
            let decoder = Arc::new(StrategyDecoder {
                strategy: self.strategy.clone(),
                ctx: self.strategy.context(&lp.state),
                dim,
            });
            // Compact genomes are decoded where they are evaluated; the leader decodes them
            // only when the journal keeps points.
            let xs: Vec<Option<Vec<f64>>> = if !S::COMPACT || dim <= JOURNAL_X_MAX {
                cands.iter().map(|c| Some(decoder.point(&c.genome))).collect()
            } else {
                vec![None; cands.len()]
            };
            let genomes: Vec<String> = if S::COMPACT {
                cands.iter().map(|c| serde_json::to_string(&c.genome)).collect::<Result<_, _>>()?
            } else {
                Vec::new()
            };
            if let Some(j) = journal.as_mut()
                && !replay.asks.contains(&generation)
            {
                let ids: Vec<u64> = cands.iter().map(|c| c.id).collect();
                j.ask(generation, &ids)?;
            }
            // Results go into ask-order slots; recorded ones are answered from the journal.
            slots.clear();
            slots.resize(cands.len(), None);
            let mut recorded = vec![false; cands.len()];
            let mut tasks = Vec::new();
            let mut pos_of: HashMap<u64, usize> = HashMap::with_capacity(cands.len());
            for (i, (c, x)) in cands.iter().zip(&xs).enumerate() {
                if let Some(line) = replay.evals.get(&c.id) {
                    let same = if S::COMPACT {
                        line.genome
                            .as_ref()
                            .and_then(|g| serde_json::from_value::<S::Genome>(g.clone()).ok())
                            .and_then(|g| serde_json::to_string(&g).ok())
                            .is_some_and(|g| g == genomes[i])
                    } else {
                        match (&line.x, x) {
                            (Some(a), Some(b)) => {
                                a.len() == b.len()
                                    && a.iter().zip(b).all(|(u, v)| u.to_bits() == v.to_bits())
                            }
                            _ => false,
                        }
                    };
                    if !same {
                        bail!(
                            "the journal's evaluation {} (generation {generation}) is at another point than this study asks: \
                             was the study file or the evoforge version changed?",
                            c.id
                        );
                    }
                    slots[i] = Some((line.outcome(), line.wall));
                    recorded[i] = true;
                } else {
                    pos_of.insert(c.id, i);
                    tasks.push(Task {
                        id: c.id,
                        generation,
                        seed: rng::derive(
                            seed,
                            &[Purpose::Eval as u64, self.strategy.eval_key(&lp.state, c.id)],
                        ),
                        point: if S::COMPACT {
                            Point::Genome(genomes[i].clone())
                        } else {
                            Point::X(x.clone().expect("non-compact genomes are decoded"))
                        },
                    });
                }
            }
            let evaluator = self.evaluator.as_mut().expect("evaluator started above");
            if let Some(st) = &lp.problem_state {
                evaluator.set_problem_state(st)?;
            }
            if S::COMPACT {
                evaluator.set_decoder(decoder.clone())?;
            }
            let n_tasks = tasks.len();
            evaluator.submit(tasks)?;
            let mut next_to_write = 0usize;
            let mut received = 0usize;
            loop {
                // Write every result whose predecessors are all in: ask order, any thread count.
                while next_to_write < slots.len() && slots[next_to_write].is_some() {
                    if let Some(j) = journal.as_mut()
                        && !recorded[next_to_write]
                    {
                        let (o, wall) = slots[next_to_write].as_ref().expect("checked is_some");
                        let id = cands[next_to_write].id;
                        let genome = if S::COMPACT {
                            Some(serde_json::from_str(&genomes[next_to_write])?)
                        } else {
                            None
                        };
                        j.eval(&EvalLine::new(
                            id,
                            generation,
                            xs[next_to_write].clone(),
                            genome,
                            o,
                            *wall,
                        ))?;
                    }
                    next_to_write += 1;
                }
                if received == n_tasks {
                    break;
                }
                let wait = match journal.as_mut() {
                    Some(j) => {
                        j.flush()?;
                        Wait::Up(j.sync_due_in().max(Duration::from_millis(1)))
                    }
                    None => Wait::Block,
                };
                for r in evaluator.poll(wait)? {
                    let Some(&i) = pos_of.get(&r.id) else { continue };
                    if slots[i].is_none() {
                        slots[i] = Some((sanitize(r.outcome), r.wall));
                        received += 1;
                    }
                }
            }
            // The problem's state advances from this generation's statistics, in ask order, so
            // it is the same whatever order the results arrived in.
            if let Some(st) = lp.problem_state.as_mut() {
                let stats: Vec<&[f64]> = slots
                    .iter()
                    .filter_map(|s| match s {
                        Some((Outcome::Ok(e), _)) => e.stats.as_deref(),
                        _ => None,
                    })
                    .collect();
                self.problem.state_update(st, &stats);
            }
            // Tell, in ask order, with values turned into minimisation.
            let mut results = Vec::with_capacity(cands.len());
            for ((c, slot), x) in cands.into_iter().zip(slots.iter()).zip(&xs) {
                let (outcome, _) = slot.as_ref().expect("all results in");
                lp.evaluations += 1;
                match outcome {
                    Outcome::Ok(e) => {
                        let f = e.values[0];
                        if lp.best.as_ref().is_none_or(|b| sign * f < sign * b.f) {
                            let x = match x {
                                Some(x) => Some(x.clone()),
                                None if dim <= BEST_X_MAX => Some(decoder.point(&c.genome)),
                                None => None,
                            };
                            let genome = if S::COMPACT {
                                Some(serde_json::to_value(&c.genome)?)
                            } else {
                                None
                            };
                            lp.best = Some(Best { id: c.id, x, genome, f });
                        }
                    }
                    Outcome::Failed(_) => lp.failures += 1,
                }
                let outcome = match outcome {
                    Outcome::Ok(e) if sign < 0.0 => {
                        let mut e = e.clone();
                        e.values.iter_mut().for_each(|v| *v = -*v);
                        Outcome::Ok(e)
                    }
                    o => o.clone(),
                };
                results.push(Evaluated { id: c.id, genome: c.genome, outcome });
            }
            let mut tell_rng = rng::stream(seed, &[Purpose::Tell as u64, generation]);
            let metrics = self
                .strategy
                .tell(&mut lp.state, &results, &mut tell_rng)
                .map_err(|e| anyhow!("strategy `{}`: {e}", S::NAME))?;
            lp.generations += 1;
            if let Some(j) = journal.as_mut() {
                if !replay.tells.contains(&generation) {
                    j.tell(generation, lp.evaluations, lp.best.as_ref().map(|b| b.f), &metrics)?;
                }
                j.flush()?;
            }
            let elapsed = lp.elapsed_before + started.elapsed().as_secs_f64();
            progress.update(
                lp.generations,
                lp.evaluations,
                lp.best.as_ref().map(|b| b.f),
                lp.evaluations - session_evals_start,
                started.elapsed().as_secs_f64(),
            );
            let o = &self.settings.output;
            let due = last_checkpoint.elapsed().as_secs_f64() >= o.checkpoint_seconds
                || (o.checkpoint_generations > 0
                    && lp.generations.is_multiple_of(o.checkpoint_generations));
            if due && let (Some(d), Some(j)) = (&self.settings.dir, journal.as_mut()) {
                // The journal is made durable first, so a checkpoint never gets ahead of it.
                j.sync()?;
                write_checkpoint::<S>(d, &lp, elapsed)?;
                last_checkpoint = Instant::now();
            }
        };
        let elapsed = lp.elapsed_before + started.elapsed().as_secs_f64();
        progress.finish(lp.generations, lp.evaluations, lp.best.as_ref().map(|b| b.f), &stop);
        let summary = Summary {
            name: self.settings.name.clone(),
            strategy: S::NAME.to_string(),
            seed,
            best_x: lp.best.as_ref().and_then(|b| b.x.clone()),
            best_genome: lp.best.as_ref().and_then(|b| b.genome.clone()),
            best_f: lp.best.as_ref().map(|b| b.f),
            recommended_x: if dim <= BEST_X_MAX {
                self.strategy.recommend(&lp.state)
            } else {
                None
            },
            problem_state: lp.problem_state.as_ref().map(|st| {
                self.problem
                    .describe_state(st)
                    .into_iter()
                    .map(|(k, v)| (k, serde_json::json!(v)))
                    .collect()
            }),
            best_id: lp.best.as_ref().map(|b| b.id),
            evaluations: lp.evaluations,
            failures: lp.failures,
            generations: lp.generations,
            wall_seconds: elapsed,
            stop_reason: stop,
            strategy_report: self.strategy.report(&lp.state),
        };
        if let (Some(d), Some(j)) = (&self.settings.dir, journal.as_mut()) {
            j.sync()?;
            write_checkpoint::<S>(d, &lp, elapsed)?;
            write_atomic(&d.join(SUMMARY), &serde_json::to_vec_pretty(&summary)?)?;
        }
        Ok(summary)
    }
}

/// Journal records available on resume.
#[derive(Default)]
struct Replay {
    evals: HashMap<u64, EvalLine>,
    asks: std::collections::HashSet<u64>,
    tells: std::collections::HashSet<u64>,
}

/// NaN, ±inf and empty value lists are failures: they rank worst and are journaled as errors.
fn sanitize(o: Outcome) -> Outcome {
    match o {
        Outcome::Ok(Evaluation { values, .. }) if values.is_empty() => {
            Outcome::Failed("objective returned no value".into())
        }
        Outcome::Ok(e) if !e.values[0].is_finite() => {
            Outcome::Failed(format!("objective returned {}", e.values[0]))
        }
        o => o,
    }
}

fn write_checkpoint<S: Strategy>(dir: &Path, lp: &Loop<S::State>, elapsed: f64) -> Result<()> {
    #[derive(Serialize)]
    struct CpRef<'a, St> {
        version: u32,
        strategy: &'a str,
        generations: u64,
        evaluations: u64,
        failures: u64,
        best: &'a Option<Best>,
        elapsed: f64,
        #[serde(skip_serializing_if = "Option::is_none")]
        problem_state: &'a Option<Vec<f64>>,
        state: &'a St,
    }
    let cp = CpRef {
        version: crate::journal::JOURNAL_VERSION,
        strategy: S::NAME,
        generations: lp.generations,
        evaluations: lp.evaluations,
        failures: lp.failures,
        best: &lp.best,
        elapsed,
        problem_state: &lp.problem_state,
        state: &lp.state,
    };
    write_atomic(&dir.join(CHECKPOINT), &serde_json::to_vec(&cp)?)
}

/// Write-then-rename, with fsyncs of the file and the directory, so a reader sees the old or
/// the new file and never a mix.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let tmp = path.with_extension("tmp");
    {
        let mut f =
            std::fs::File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path).with_context(|| format!("renaming to {}", path.display()))?;
    if let Some(parent) = path.parent()
        && let Ok(d) = std::fs::File::open(parent)
    {
        // Directory fsync makes the rename durable; not supported everywhere, hence best effort.
        let _ = d.sync_all();
    }
    Ok(())
}
