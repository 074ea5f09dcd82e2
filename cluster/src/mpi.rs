//! MPI ranks as evaluators (feature `mpi`, rsmpi over the system's Open MPI or MPICH).
//!
//! Every rank of `mpirun -n N evoforge run study.yaml` parses the same study. Two modes:
//!
//! * **Leader/worker** ([`LeaderEvaluator`] on rank 0, [`serve`] on the others), for strategies
//!   whose genome is the point itself (CMA-ES, CBO, BO, ...): rank 0 owns the strategy state,
//!   the journal and the checkpoints; each generation's tasks are cut into `N` contiguous
//!   blocks by task index (block `r` to rank `r`, rank 0 evaluates block 0 itself), points
//!   travel to the ranks and (id, outcome) pairs come back.
//! * **Replicated** ([`ReplicatedEvaluator`] on every rank), for seed-based strategies
//!   (`Strategy::COMPACT`: OpenAI-ES, Deep GA, SNES, PGPE): every rank runs ask and tell itself
//!   (they are deterministic in the state and the (study seed, generation) streams, so all
//!   ranks hold the same state), evaluates its block of the generation and the ranks
//!   all-gather only (id, outcome, wall) records; the centre θ never travels after start-up.
//!   Rank 0 alone writes the journal, checkpoints and summary ([`Group`] is how the study loop
//!   learns that, and how rank 0's state reaches the others on resume).
//!
//! Both modes give the journal of a one-thread run bit for bit: results are put back in ask
//! order by the study loop, and an evaluation depends on (point, per-evaluation seed) only.
//!
//! Wire format: a little-endian byte codec ([`encode_tasks`], [`encode_results`]); floats
//! travel as their bits. Every byte this process hands to MPI is counted ([`Stats`]), which is
//! how BENCHMARKS.md measures the traffic per generation.
//!
//! Waiting ranks probe with a short back-off sleep instead of blocking in MPI: Open MPI's
//! blocking calls spin, which on an oversubscribed node (tests run 4 ranks on 2 cores) would
//! steal the CPU from the ranks that are evaluating.
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use evoforge_core::{Evaluation, Outcome, Problem};
use mpi::Threading;
use mpi::datatype::PartitionMut;
use mpi::environment::Universe;
use mpi::point_to_point::MatchedReceiveVec;
use mpi::topology::SimpleCommunicator;
use mpi::traits::*;

use crate::threads::run_one;
use crate::{
    ClusterError, Decoder, Evaluator, Group, Point, Task, TaskResult, ThreadEvaluator, Wait,
};

/// Rank 0 → worker: a block of tasks.
const TAG_TASKS: i32 = 11;
/// Worker → rank 0: the results of a block.
const TAG_RESULTS: i32 = 12;
/// Rank 0 → worker: the study is over.
const TAG_STOP: i32 = 13;
/// Rank 0 → worker: the problem's per-generation state (`Problem::set_state`).
const TAG_STATE: i32 = 14;

/// The MPI environment lives as long as the process (until [`finalize`]); a static so that no
/// destructor finalizes MPI while other ranks still wait in a collective (error paths abort).
static UNIVERSE: Mutex<Option<Universe>> = Mutex::new(None);

/// Bytes and time this process spent in MPI.
#[derive(Debug, Default)]
pub struct Stats {
    /// Payload bytes handed to MPI sends, broadcasts (as root) and all-gathers, from the first
    /// generation on.
    pub bytes_sent: AtomicU64,
    /// Bytes sent before the first generation (the resume state broadcast).
    pub startup_bytes: AtomicU64,
    /// Nanoseconds spent inside MPI calls and waiting for messages.
    pub mpi_nanos: AtomicU64,
    /// Generations (batches of tasks) coordinated.
    pub generations: AtomicU64,
}

/// This process's place in `MPI_COMM_WORLD`. Cheap to clone; all clones share the counters.
#[derive(Debug, Clone)]
pub struct MpiWorld {
    rank: usize,
    size: usize,
    stats: Arc<Stats>,
}

/// Initialises MPI once per process (later calls return the same world). Not under `mpirun`,
/// MPI starts as a singleton: one rank, a local run.
pub fn init() -> Result<MpiWorld, ClusterError> {
    static WORLD: Mutex<Option<MpiWorld>> = Mutex::new(None);
    let mut w = WORLD.lock().expect("MPI world lock");
    if let Some(w) = w.as_ref() {
        return Ok(w.clone());
    }
    if mpi::environment::is_finalized() {
        return Err(ClusterError::Start("MPI was already finalized in this process".into()));
    }
    // Only the study loop's thread calls MPI; evaluation threads never do.
    let (universe, _) = mpi::initialize_with_threading(Threading::Funneled)
        .ok_or_else(|| ClusterError::Start("MPI was initialised elsewhere".into()))?;
    let comm = universe.world();
    let world = MpiWorld {
        rank: comm.rank() as usize,
        size: comm.size() as usize,
        stats: Arc::new(Stats::default()),
    };
    *UNIVERSE.lock().expect("MPI universe lock") = Some(universe);
    *w = Some(world.clone());
    Ok(world)
}

/// Finalizes MPI (a collective call: every rank must reach it). After a successful study only;
/// error paths call [`MpiWorld::abort`] instead.
pub fn finalize() {
    if let Ok(mut u) = UNIVERSE.lock() {
        drop(u.take());
    }
}

fn comm() -> SimpleCommunicator {
    SimpleCommunicator::world()
}

impl MpiWorld {
    /// This process's rank.
    pub fn rank(&self) -> usize {
        self.rank
    }
    /// Number of ranks.
    pub fn size(&self) -> usize {
        self.size
    }
    /// The traffic counters.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// Prints `message` as this rank's error and ends every rank of the job (`MPI_Abort`), so a
    /// failure anywhere is a clear error, never a hang in a collective.
    pub fn abort(&self, message: &str) -> ! {
        eprintln!("error (MPI rank {} of {}): {message}", self.rank, self.size);
        comm().abort(1)
    }

    /// The counters as one JSON line (`EVOFORGE_MPI_STATS=1` prints it at the end of a study).
    pub fn stats_json(&self) -> String {
        let s = &self.stats;
        let g = s.generations.load(Ordering::Relaxed);
        let b = s.bytes_sent.load(Ordering::Relaxed);
        let t = s.mpi_nanos.load(Ordering::Relaxed) as f64 * 1e-9;
        format!(
            "{{\"rank\":{},\"size\":{},\"generations\":{g},\"bytes_sent\":{b},\"startup_bytes\":{},\
             \"bytes_per_generation\":{},\"mpi_seconds\":{t},\"mpi_seconds_per_generation\":{}}}",
            self.rank,
            self.size,
            s.startup_bytes.load(Ordering::Relaxed),
            if g > 0 { b as f64 / g as f64 } else { 0.0 },
            if g > 0 { t / g as f64 } else { 0.0 },
        )
    }

    fn timed<T>(&self, f: impl FnOnce() -> T) -> T {
        let start = Instant::now();
        let out = f();
        self.stats.mpi_nanos.fetch_add(start.elapsed().as_nanos() as u64, Ordering::Relaxed);
        out
    }

    fn count(&self, bytes: usize) {
        self.stats.bytes_sent.fetch_add(bytes as u64, Ordering::Relaxed);
    }

    fn send(&self, to: usize, tag: i32, bytes: &[u8]) {
        self.count(bytes.len());
        self.timed(|| comm().process_at_rank(to as i32).send_with_tag(bytes, tag));
    }

    /// A message from `from` (any rank when `None`) if one has arrived: (source, tag, bytes).
    fn try_receive(&self, from: Option<usize>) -> Option<(usize, i32, Vec<u8>)> {
        self.timed(|| {
            let c = comm();
            let probe = match from {
                Some(r) => c.process_at_rank(r as i32).immediate_matched_probe(),
                None => c.any_process().immediate_matched_probe(),
            };
            probe.map(|(msg, status)| {
                let (source, tag) = (status.source_rank() as usize, status.tag());
                let (bytes, _) = (msg, status).matched_receive_vec::<u8>();
                (source, tag, bytes)
            })
        })
    }

    /// Waits for a message from `from`, sleeping between probes (see the module notes).
    fn receive(&self, from: usize) -> (i32, Vec<u8>) {
        let mut backoff = Backoff::default();
        loop {
            if let Some((_, tag, bytes)) = self.try_receive(Some(from)) {
                return (tag, bytes);
            }
            backoff.wait();
        }
    }

    /// Rank 0's `bytes` on every rank (the others pass anything, e.g. an empty vector).
    pub fn broadcast_bytes(&self, mut bytes: Vec<u8>, startup: bool) -> Vec<u8> {
        let mut len = [bytes.len() as u64];
        if self.rank == 0 {
            let c = if startup { &self.stats.startup_bytes } else { &self.stats.bytes_sent };
            c.fetch_add(8 + bytes.len() as u64, Ordering::Relaxed);
        }
        self.timed(|| {
            let c = comm();
            let root = c.process_at_rank(0);
            root.broadcast_into(&mut len[..]);
            bytes.resize(len[0] as usize, 0);
            if len[0] > 0 {
                root.broadcast_into(&mut bytes[..]);
            }
        });
        bytes
    }

    /// Every rank's `mine`, in rank order, on every rank.
    fn all_gather_bytes(&self, mine: &[u8]) -> Vec<Vec<u8>> {
        self.count(8 + mine.len());
        self.timed(|| {
            let c = comm();
            let mut lens = vec![0u64; self.size];
            c.all_gather_into(&(mine.len() as u64), &mut lens[..]);
            let counts: Vec<i32> = lens.iter().map(|&l| l as i32).collect();
            let displs: Vec<i32> = counts
                .iter()
                .scan(0i32, |acc, &n| {
                    let d = *acc;
                    *acc += n;
                    Some(d)
                })
                .collect();
            let total = lens.iter().sum::<u64>() as usize;
            let mut all = vec![0u8; total];
            {
                let mut part = PartitionMut::new(&mut all[..], &counts[..], &displs[..]);
                c.all_gather_varcount_into(mine, &mut part);
            }
            counts
                .iter()
                .zip(&displs)
                .map(|(&n, &d)| all[d as usize..(d + n) as usize].to_vec())
                .collect()
        })
    }
}

impl Group for MpiWorld {
    fn rank(&self) -> usize {
        self.rank
    }
    fn size(&self) -> usize {
        self.size
    }
    fn broadcast(&self, bytes: Vec<u8>) -> Result<Vec<u8>, ClusterError> {
        Ok(self.broadcast_bytes(bytes, false))
    }
    fn broadcast_startup(&self, bytes: Vec<u8>) -> Result<Vec<u8>, ClusterError> {
        Ok(self.broadcast_bytes(bytes, true))
    }
}

/// Sleeps a little longer each time nothing has arrived: microseconds at first (a fast
/// generation pays little latency), at most a millisecond (an idle rank costs no CPU).
#[derive(Default)]
struct Backoff(u32);

impl Backoff {
    fn wait(&mut self) {
        if self.0 < 64 {
            std::thread::yield_now();
        } else {
            let us = (10u64 << ((self.0 - 64) / 16).min(7)).min(1000);
            std::thread::sleep(Duration::from_micros(us));
        }
        self.0 = self.0.saturating_add(1);
    }
}

/// Task indices `[lo, hi)` of `rank`'s block when `n` tasks go to `size` ranks: contiguous,
/// sizes differing by at most one, fixed by (n, rank, size) alone.
pub fn block(n: usize, rank: usize, size: usize) -> (usize, usize) {
    (n * rank / size, n * (rank + 1) / size)
}

/// The leader's side of leader/worker mode (rank 0): blocks of tasks to the other ranks, its
/// own block on a local thread pool.
pub struct LeaderEvaluator {
    world: MpiWorld,
    local: ThreadEvaluator,
    remote_pending: usize,
    threads: usize,
}

impl LeaderEvaluator {
    /// The leader of `world` (must be rank 0), evaluating its own block on `threads` threads.
    pub fn new(
        world: MpiWorld,
        problem: Arc<dyn Problem>,
        threads: usize,
    ) -> Result<Self, ClusterError> {
        if world.rank != 0 {
            return Err(ClusterError::Start("the MPI leader must be rank 0".into()));
        }
        let local = ThreadEvaluator::new(problem, threads)?;
        Ok(Self { world, local, remote_pending: 0, threads: threads.max(1) })
    }
}

impl Evaluator for LeaderEvaluator {
    fn slots(&self) -> usize {
        self.threads * self.world.size
    }

    fn set_decoder(&mut self, _decoder: Arc<dyn Decoder>) -> Result<(), ClusterError> {
        // Leader/worker mode carries points, not genomes (compact strategies run replicated).
        Err(ClusterError::Start(
            "leader/worker MPI mode evaluates points; strategies with compact genomes run replicated"
                .into(),
        ))
    }

    /// Sent to every worker rank (messages between two ranks arrive in order, so before the
    /// generation's tasks) and set on the leader's own pool.
    fn set_problem_state(&mut self, state: &[f64]) -> Result<(), ClusterError> {
        let mut w = Writer(Vec::with_capacity(4 + 8 * state.len()));
        w.f64s(state);
        for r in 1..self.world.size {
            self.world.send(r, TAG_STATE, &w.0);
        }
        self.local.set_problem_state(state)
    }

    fn submit(&mut self, tasks: Vec<Task>) -> Result<(), ClusterError> {
        if tasks.is_empty() {
            return Ok(());
        }
        self.world.stats.generations.fetch_add(1, Ordering::Relaxed);
        let n = tasks.len();
        for r in 1..self.world.size {
            let (lo, hi) = block(n, r, self.world.size);
            if lo < hi {
                let bytes = encode_tasks(&tasks[lo..hi])?;
                self.world.send(r, TAG_TASKS, &bytes);
                self.remote_pending += hi - lo;
            }
        }
        let (lo, hi) = block(n, 0, self.world.size);
        let mut tasks = tasks;
        tasks.truncate(hi);
        tasks.drain(..lo);
        self.local.submit(tasks)
    }

    fn poll(&mut self, wait: Wait) -> Result<Vec<TaskResult>, ClusterError> {
        if self.pending() == 0 {
            return Err(ClusterError::Idle);
        }
        let deadline = match wait {
            Wait::No => Some(Instant::now()),
            Wait::Up(d) => Some(Instant::now() + d),
            Wait::Block => None,
        };
        let mut backoff = Backoff::default();
        loop {
            let mut out = Vec::new();
            if self.local.pending() > 0 {
                out.extend(self.local.poll(Wait::No)?);
            }
            while self.remote_pending > 0 {
                let Some((source, tag, bytes)) = self.world.try_receive(None) else { break };
                if tag != TAG_RESULTS {
                    return Err(ClusterError::Workers(format!(
                        "MPI rank {source} sent an unexpected message (tag {tag})"
                    )));
                }
                let results = decode_results(&bytes).map_err(|e| {
                    ClusterError::Workers(format!("MPI rank {source} sent unreadable results: {e}"))
                })?;
                self.remote_pending = self.remote_pending.saturating_sub(results.len());
                out.extend(results);
            }
            if !out.is_empty() || deadline.is_some_and(|d| Instant::now() >= d) {
                return Ok(out);
            }
            backoff.wait();
        }
    }

    fn pending(&self) -> usize {
        self.local.pending() + self.remote_pending
    }
}

impl Drop for LeaderEvaluator {
    /// Releases the worker ranks from [`serve`].
    fn drop(&mut self) {
        for r in 1..self.world.size {
            self.world.send(r, TAG_STOP, &[]);
        }
    }
}

/// A worker rank of leader/worker mode: evaluates the blocks rank 0 sends, on `threads`
/// threads, until rank 0 says stop. A message it cannot read ends the job with a clear error.
pub fn serve(
    world: &MpiWorld,
    problem: Arc<dyn Problem>,
    threads: usize,
) -> Result<(), ClusterError> {
    let mut local = ThreadEvaluator::new(problem, threads)?;
    loop {
        let (tag, bytes) = world.receive(0);
        match tag {
            TAG_STOP => return Ok(()),
            TAG_STATE => {
                let state = Reader(&bytes).f64s().map_err(|e| {
                    ClusterError::Workers(format!("unreadable problem state from rank 0: {e}"))
                })?;
                local.set_problem_state(&state)?;
            }
            TAG_TASKS => {
                let tasks = decode_tasks(&bytes).map_err(|e| {
                    ClusterError::Workers(format!("unreadable tasks from rank 0: {e}"))
                })?;
                local.submit(tasks)?;
                let mut results = Vec::new();
                while local.pending() > 0 {
                    results.extend(local.poll(Wait::Block)?);
                }
                world.send(0, TAG_RESULTS, &encode_results(&results));
            }
            t => {
                return Err(ClusterError::Workers(format!(
                    "unexpected message from rank 0 (tag {t})"
                )));
            }
        }
    }
}

/// Replicated mode: every rank runs the study loop; each evaluates its block of the
/// generation and the ranks all-gather the (id, outcome, wall) records.
pub struct ReplicatedEvaluator {
    world: MpiWorld,
    local: ThreadEvaluator,
    pending: usize,
    threads: usize,
    /// With one thread per rank the block is evaluated right here, in `poll` (no hop through
    /// a pool: the generation's latency is what replicated mode is about).
    inline: Option<Inline>,
}

/// The problem, the generation's decoder and this rank's block, for inline evaluation.
type Inline = (Arc<dyn Problem>, Option<Arc<dyn Decoder>>, Vec<Task>);

impl ReplicatedEvaluator {
    /// This rank's evaluator, with `threads` threads for its block.
    pub fn new(
        world: MpiWorld,
        problem: Arc<dyn Problem>,
        threads: usize,
    ) -> Result<Self, ClusterError> {
        let inline = (threads <= 1).then(|| (problem.clone(), None, Vec::new()));
        let local = ThreadEvaluator::new(problem, threads)?;
        Ok(Self { world, local, pending: 0, threads: threads.max(1), inline })
    }
}

impl Evaluator for ReplicatedEvaluator {
    fn slots(&self) -> usize {
        self.threads * self.world.size
    }

    fn set_decoder(&mut self, decoder: Arc<dyn Decoder>) -> Result<(), ClusterError> {
        // Every rank holds the same state, hence the same decoder: nothing travels.
        if let Some((_, d, _)) = self.inline.as_mut() {
            *d = Some(decoder.clone());
        }
        self.local.set_decoder(decoder)
    }

    /// Every rank folds the same gathered statistics into the same state: nothing travels.
    fn set_problem_state(&mut self, state: &[f64]) -> Result<(), ClusterError> {
        self.local.set_problem_state(state)
    }

    fn submit(&mut self, tasks: Vec<Task>) -> Result<(), ClusterError> {
        if tasks.is_empty() {
            return Ok(());
        }
        if self.pending > 0 {
            return Err(ClusterError::Start(
                "replicated MPI mode takes one batch at a time".into(),
            ));
        }
        self.world.stats.generations.fetch_add(1, Ordering::Relaxed);
        self.pending = tasks.len();
        let (lo, hi) = block(tasks.len(), self.world.rank, self.world.size);
        let mut tasks = tasks;
        tasks.truncate(hi);
        tasks.drain(..lo);
        match self.inline.as_mut() {
            Some((_, _, mine)) => {
                *mine = tasks;
                Ok(())
            }
            None => self.local.submit(tasks),
        }
    }

    /// Waits for this rank's block whatever `wait` says (the all-gather needs it), then returns
    /// the whole batch.
    fn poll(&mut self, _wait: Wait) -> Result<Vec<TaskResult>, ClusterError> {
        if self.pending == 0 {
            return Err(ClusterError::Idle);
        }
        let mut mine = Vec::new();
        if let Some((problem, decoder, tasks)) = self.inline.as_mut() {
            mine = tasks.iter().map(|t| run_one(problem.as_ref(), decoder.as_deref(), t)).collect();
            tasks.clear();
        }
        while self.local.pending() > 0 {
            mine.extend(self.local.poll(Wait::Block)?);
        }
        let parts = self.world.all_gather_bytes(&encode_results(&mine));
        let mut all = Vec::with_capacity(self.pending);
        for (rank, part) in parts.iter().enumerate() {
            if rank == self.world.rank {
                all.append(&mut mine);
                continue;
            }
            all.extend(decode_results(part).map_err(|e| {
                ClusterError::Workers(format!("MPI rank {rank} sent unreadable results: {e}"))
            })?);
        }
        if all.len() != self.pending {
            return Err(ClusterError::Workers(format!(
                "the ranks returned {} results for a batch of {}: do all ranks run the same study?",
                all.len(),
                self.pending
            )));
        }
        self.pending = 0;
        Ok(all)
    }

    fn pending(&self) -> usize {
        self.pending
    }

    fn is_leader(&self) -> bool {
        self.world.rank == 0
    }
}

// ---- wire codec ---------------------------------------------------------------------------

struct Writer(Vec<u8>);

impl Writer {
    fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn f64(&mut self, v: f64) {
        self.u64(v.to_bits());
    }
    fn f64s(&mut self, v: &[f64]) {
        self.u32(v.len() as u32);
        self.0.reserve(8 * v.len());
        for &x in v {
            self.f64(x);
        }
    }
    fn str(&mut self, s: &str) {
        self.u32(s.len() as u32);
        self.0.extend_from_slice(s.as_bytes());
    }
}

struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], String> {
        if self.0.len() < n {
            return Err(format!("message ends early ({} bytes short)", n - self.0.len()));
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Ok(head)
    }
    fn u8(&mut self) -> Result<u8, String> {
        Ok(self.take(1)?[0])
    }
    fn u32(&mut self) -> Result<u32, String> {
        Ok(u32::from_le_bytes(self.take(4)?.try_into().expect("4 bytes")))
    }
    fn u64(&mut self) -> Result<u64, String> {
        Ok(u64::from_le_bytes(self.take(8)?.try_into().expect("8 bytes")))
    }
    fn f64(&mut self) -> Result<f64, String> {
        Ok(f64::from_bits(self.u64()?))
    }
    fn f64s(&mut self) -> Result<Vec<f64>, String> {
        let n = self.u32()? as usize;
        if self.0.len() < 8 * n {
            return Err(format!("{n} floats announced, {} bytes left", self.0.len()));
        }
        (0..n).map(|_| self.f64()).collect()
    }
    fn str(&mut self) -> Result<String, String> {
        let n = self.u32()? as usize;
        String::from_utf8(self.take(n)?.to_vec()).map_err(|e| e.to_string())
    }
}

const POINT_X: u8 = 0;
const POINT_GENOME: u8 = 1;

/// Tasks as bytes: count, then per task id, generation, seed and the point.
pub fn encode_tasks(tasks: &[Task]) -> Result<Vec<u8>, ClusterError> {
    let mut w = Writer(Vec::new());
    w.u32(tasks.len() as u32);
    for t in tasks {
        w.u64(t.id);
        w.u64(t.generation);
        w.u64(t.seed);
        match &t.point {
            Point::X(x) => {
                w.u8(POINT_X);
                w.f64s(x);
            }
            Point::Genome(g) => {
                w.u8(POINT_GENOME);
                w.str(g);
            }
        }
    }
    Ok(w.0)
}

/// The inverse of [`encode_tasks`].
pub fn decode_tasks(bytes: &[u8]) -> Result<Vec<Task>, String> {
    let mut r = Reader(bytes);
    let n = r.u32()? as usize;
    let mut out = Vec::with_capacity(n.min(1 << 20));
    for _ in 0..n {
        let (id, generation, seed) = (r.u64()?, r.u64()?, r.u64()?);
        let point = match r.u8()? {
            POINT_X => Point::X(r.f64s()?),
            POINT_GENOME => Point::Genome(r.str()?),
            k => return Err(format!("unknown point kind {k}")),
        };
        out.push(Task { id, generation, seed, point });
    }
    if !r.0.is_empty() {
        return Err(format!("{} bytes after the last task", r.0.len()));
    }
    Ok(out)
}

const FAILED: u8 = 1;
const CONSTRAINTS: u8 = 2;
const COST: u8 = 4;
const EXTRAS: u8 = 8;
const STATS: u8 = 16;

/// Results as bytes: count, then per result id, wall, a flag byte and the values (optional
/// parts only when present: a single-objective result is 29 bytes).
pub fn encode_results(results: &[TaskResult]) -> Vec<u8> {
    let mut w = Writer(Vec::with_capacity(4 + 29 * results.len()));
    w.u32(results.len() as u32);
    for r in results {
        w.u64(r.id);
        w.f64(r.wall);
        match &r.outcome {
            Outcome::Failed(m) => {
                w.u8(FAILED);
                w.str(m);
            }
            Outcome::Ok(e) => {
                let mut flags = 0;
                if !e.constraints.is_empty() {
                    flags |= CONSTRAINTS;
                }
                if e.cost != 0.0 {
                    flags |= COST;
                }
                if e.extras.is_some() {
                    flags |= EXTRAS;
                }
                if e.stats.is_some() {
                    flags |= STATS;
                }
                w.u8(flags);
                w.f64s(&e.values);
                if flags & CONSTRAINTS != 0 {
                    w.f64s(&e.constraints);
                }
                if flags & COST != 0 {
                    w.f64(e.cost);
                }
                if let Some(x) = &e.extras {
                    w.f64s(x);
                }
                if let Some(x) = &e.stats {
                    w.f64s(x);
                }
            }
        }
    }
    w.0
}

/// The inverse of [`encode_results`].
pub fn decode_results(bytes: &[u8]) -> Result<Vec<TaskResult>, String> {
    let mut r = Reader(bytes);
    let n = r.u32()? as usize;
    let mut out = Vec::with_capacity(n.min(1 << 20));
    for _ in 0..n {
        let (id, wall) = (r.u64()?, r.f64()?);
        let flags = r.u8()?;
        let outcome = if flags & FAILED != 0 {
            Outcome::Failed(r.str()?)
        } else {
            let values = r.f64s()?;
            let constraints = if flags & CONSTRAINTS != 0 { r.f64s()? } else { Vec::new() };
            let cost = if flags & COST != 0 { r.f64()? } else { 0.0 };
            let extras = if flags & EXTRAS != 0 { Some(r.f64s()?) } else { None };
            let stats = if flags & STATS != 0 { Some(r.f64s()?) } else { None };
            Outcome::Ok(Evaluation { values, constraints, cost, extras, stats })
        };
        out.push(TaskResult { id, outcome, wall });
    }
    if !r.0.is_empty() {
        return Err(format!("{} bytes after the last result", r.0.len()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_cover_every_task_once() {
        for n in 0..40 {
            for size in 1..9 {
                let mut next = 0;
                for r in 0..size {
                    let (lo, hi) = block(n, r, size);
                    assert_eq!(lo, next);
                    assert!(hi - lo <= n.div_ceil(size));
                    next = hi;
                }
                assert_eq!(next, n);
            }
        }
    }

    #[test]
    fn codec_round_trips_bit_for_bit() {
        let tasks = vec![
            Task {
                id: 7,
                generation: 2,
                seed: u64::MAX,
                point: Point::X(vec![-0.0, 1e-310, f64::NAN]),
            },
            Task { id: 8, generation: 2, seed: 1, point: Point::Genome("[3,\"é\"]".into()) },
        ];
        let back = decode_tasks(&encode_tasks(&tasks).unwrap()).unwrap();
        assert_eq!(format!("{back:?}"), format!("{tasks:?}"));
        let Point::X(x) = &back[0].point else { panic!() };
        assert_eq!(x[0].to_bits(), (-0.0f64).to_bits());
        let results = vec![
            TaskResult { id: 1, outcome: Outcome::Ok(Evaluation::value(0.1 + 0.2)), wall: 0.5 },
            TaskResult { id: 2, outcome: Outcome::Failed("boom".into()), wall: 0.0 },
            TaskResult {
                id: 3,
                outcome: Outcome::Ok(Evaluation {
                    values: vec![1.0, 2.0],
                    constraints: vec![0.5],
                    cost: 200.0,
                    extras: Some(vec![4.0, -4.0]),
                    stats: Some(vec![1.0, 9.5, 0.25]),
                }),
                wall: 1.0,
            },
        ];
        let bytes = encode_results(&results);
        assert_eq!(decode_results(&bytes).unwrap(), results);
        assert_eq!(encode_results(&results[..1]).len(), 4 + 29);
        assert!(decode_results(&bytes[..bytes.len() - 1]).is_err());
        assert!(decode_tasks(&[1, 0, 0, 0, 9]).is_err());
    }
}
