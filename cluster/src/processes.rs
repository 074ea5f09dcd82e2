//! Worker processes: N children speaking the line protocol of [`crate::protocol`]
//! (`docs/worker-protocol.md`) on their stdin and stdout.
//!
//! This is how GPU-evaluated fitness plugs in (a PyTorch worker per GPU, `CUDA_VISIBLE_DEVICES`
//! set per worker) and how evaluations are isolated from the study: a worker that crashes, hangs
//! or talks nonsense is killed and replaced, and its tasks are re-issued to the others.
//!
//! # Threads and channels
//!
//! Each worker has three helper threads: a writer (the leader never blocks on a full pipe of a
//! worker that stopped reading), a reader that parses every stdout line into a
//! [`WorkerMsg`] and sends it to one channel shared by all workers, and a stderr forwarder that
//! prefixes each line with `[worker i]` and keeps the last lines for error messages. Messages
//! carry the worker's *incarnation*, so lines still in the pipe of a worker that was replaced
//! are dropped, never attributed to its successor.
//!
//! # Never lost, never counted twice
//!
//! The evaluator keeps every submitted task until its first result. A task is in exactly one
//! place: the queue, or the in-flight list of one worker. Only that worker's result for it is
//! accepted (a result for a task that was already answered is ignored; one for a task the worker
//! was never given is a protocol violation). When a worker fails — its process exits, it sends a
//! line that is not protocol, it reports `fatal`, it is silent longer than
//! `heartbeat_timeout` while holding tasks, or it returns no result for `task_timeout` — it is
//! killed, its in-flight tasks go back to the front of the queue, and a new process takes its
//! slot. The oldest of its in-flight tasks (the one it was most likely running) is charged an
//! attempt; a task charged `task_attempts` times is answered as a failed evaluation (ranked
//! worst, as a timeout should be), so one poisonous point cannot stop a study. A slot whose
//! workers fail `max_restarts + 1` times in a row without returning a single result stops the
//! study with an error naming the last failure.
//!
//! # Load balance
//!
//! Tasks go out in batches (`batch`, by default a quarter of an even share:
//! `⌈n / (4 · workers)⌉`), and each worker holds at most two batches, so it never waits for
//! work while the leader has some, and an expensive batch does not hold the others up.
//! `task_timeout` is measured as progress: a worker holding tasks must return a result at least
//! that often (for a worker that evaluates its tasks one at a time, this is the per-task limit).
use std::collections::{HashMap, HashSet, VecDeque};
use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, unbounded};
use evoforge_core::Outcome;

use crate::protocol::{self, Hello, WorkerMsg};
use crate::{ClusterError, Decoder, Evaluator, Point, Task, TaskResult, Wait};

/// Lines of a worker's stderr kept for error messages.
const STDERR_TAIL: usize = 20;
/// How long `Drop` waits for workers to exit after `shutdown` before killing them.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);
/// Longest line accepted from a worker (a runaway line is a protocol violation).
const MAX_LINE: usize = 64 << 20;
/// Timeouts are checked at least this often.
const TICK: Duration = Duration::from_millis(50);

/// How to run and supervise the workers.
#[derive(Debug, Clone)]
pub struct ProcessConfig {
    /// Program and arguments of a worker.
    pub command: Vec<String>,
    /// Number of workers.
    pub workers: usize,
    /// Extra environment variables of every worker.
    pub env: Vec<(String, String)>,
    /// `CUDA_VISIBLE_DEVICES` of worker `i` is `gpus[i % gpus.len()]` (unset when empty).
    pub gpus: Vec<String>,
    /// A worker holding tasks must return a result at least this often.
    pub task_timeout: Duration,
    /// A worker holding tasks must send some line (a heartbeat at least) at least this often.
    pub heartbeat_timeout: Duration,
    /// A worker must answer the handshake within this time.
    pub startup_timeout: Duration,
    /// Tasks per message; `None`: `⌈n / (4 · workers)⌉` for a submission of `n` tasks.
    pub batch: Option<usize>,
    /// Consecutive failures of one worker slot tolerated before the study stops.
    pub max_restarts: u32,
    /// Failed workers a task may be charged with before it is answered as a failure.
    pub task_attempts: u32,
    /// The handshake (its `worker` field is set per worker).
    pub hello: Hello,
}

impl ProcessConfig {
    /// `workers` workers running `command`, with default limits: tasks 300 s, heartbeats 10 s,
    /// startup 120 s, 3 restarts in a row, 3 attempts per task.
    pub fn new(command: Vec<String>, workers: usize, hello: Hello) -> Self {
        Self {
            command,
            workers: workers.max(1),
            env: Vec::new(),
            gpus: Vec::new(),
            task_timeout: Duration::from_secs(300),
            heartbeat_timeout: Duration::from_secs(10),
            startup_timeout: Duration::from_secs(120),
            batch: None,
            max_restarts: 3,
            task_attempts: 3,
            hello,
        }
    }
}

/// What a worker's reader thread saw.
enum Event {
    /// A line, parsed (or why it is not protocol, with the start of the line).
    Msg(Result<WorkerMsg, String>),
    /// End of its stdout: the process exited or closed it.
    Closed,
}

struct Envelope {
    slot: usize,
    incarnation: u64,
    event: Event,
}

/// One running worker process.
struct Worker {
    incarnation: u64,
    start: u32,
    child: Child,
    pid: u32,
    input: Option<Sender<String>>,
    ready: bool,
    spawned: Instant,
    /// Task ids sent and not answered, oldest first.
    inflight: VecDeque<u64>,
    /// Context sequence number the worker holds (0: none).
    ctx: u64,
    /// Problem-state sequence number the worker holds (0: none).
    state: u64,
    last_heard: Instant,
    last_progress: Instant,
    stderr_tail: Arc<Mutex<VecDeque<String>>>,
    stderr_done: Receiver<()>,
}

impl Worker {
    fn send(&self, line: String) {
        // A send error means the writer thread stopped because the process is gone; its reader
        // reports that, and the failure is handled there.
        if let Some(tx) = &self.input {
            let _ = tx.send(line);
        }
    }

    /// Kills the process (if alive) and describes how it ended.
    fn kill(&mut self) -> String {
        self.input = None;
        let _ = self.child.kill();
        let status = self.child.wait().map(|s| s.to_string()).unwrap_or_else(|e| e.to_string());
        // Let the forwarder drain what the process wrote last (bounded: a grandchild may
        // keep the pipe open).
        let _ = self.stderr_done.recv_timeout(Duration::from_millis(300));
        status
    }

    fn stderr_tail(&self) -> String {
        let tail = self.stderr_tail.lock().map(|t| t.iter().cloned().collect::<Vec<_>>());
        match tail {
            Ok(lines) if !lines.is_empty() => {
                format!("; its last stderr lines:\n  {}", lines.join("\n  "))
            }
            _ => String::new(),
        }
    }
}

struct Slot {
    worker: Option<Worker>,
    /// Processes started in this slot so far.
    starts: u32,
    failures_in_row: u32,
}

struct Pending {
    task: Task,
    /// Context sequence number the task must be decoded with (0: a point, no context).
    ctx: u64,
    attempts: u32,
}

/// Evaluates tasks in worker processes; see the module documentation.
pub struct ProcessEvaluator {
    config: ProcessConfig,
    slots: Vec<Slot>,
    started: bool,
    events_tx: Sender<Envelope>,
    events_rx: Receiver<Envelope>,
    next_incarnation: u64,
    /// Submitted tasks without a result yet.
    pending: HashMap<u64, Pending>,
    /// Ids waiting for a worker, front first.
    queue: VecDeque<u64>,
    /// Results to hand out at the next poll.
    out: Vec<TaskResult>,
    /// Ids answered in the current and the previous submission round (late duplicates).
    answered: [HashSet<u64>; 2],
    contexts: HashMap<u64, Arc<str>>,
    ctx_seq: u64,
    /// The problem's current per-generation state as a `problem_state` line, and its sequence
    /// number (0: none). Tasks in flight always belong to the current generation (the study
    /// sets a state only with nothing pending), so one state suffices.
    problem_state: Option<(u64, Arc<str>)>,
    batch: usize,
    fatal: Option<String>,
    rr: usize,
}

impl ProcessEvaluator {
    /// An evaluator; the workers start at the first `set_decoder`, `submit` or `poll`, so that
    /// building one (to validate a study) runs nothing.
    pub fn new(config: ProcessConfig) -> Result<Self, ClusterError> {
        if config.command.is_empty() {
            return Err(ClusterError::Start("the worker command is empty".into()));
        }
        let (events_tx, events_rx) = unbounded();
        let slots = (0..config.workers.max(1))
            .map(|_| Slot { worker: None, starts: 0, failures_in_row: 0 })
            .collect();
        Ok(Self {
            config,
            slots,
            started: false,
            events_tx,
            events_rx,
            next_incarnation: 0,
            pending: HashMap::new(),
            queue: VecDeque::new(),
            out: Vec::new(),
            answered: [HashSet::new(), HashSet::new()],
            contexts: HashMap::new(),
            ctx_seq: 0,
            problem_state: None,
            batch: 1,
            fatal: None,
            rr: 0,
        })
    }

    /// Process ids of the live workers, by slot (for tests and diagnostics).
    pub fn pids(&self) -> Vec<Option<u32>> {
        self.slots.iter().map(|s| s.worker.as_ref().map(|w| w.pid)).collect()
    }

    fn spawn(&mut self, slot: usize) -> Result<Worker, String> {
        let cfg = &self.config;
        let start = self.slots[slot].starts;
        self.slots[slot].starts += 1;
        let mut cmd = Command::new(&cfg.command[0]);
        cmd.args(&cfg.command[1..])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in &cfg.env {
            cmd.env(k, v);
        }
        cmd.env("EVOFORGE_WORKER", slot.to_string());
        cmd.env("EVOFORGE_WORKER_START", start.to_string());
        if !cfg.gpus.is_empty() {
            cmd.env("CUDA_VISIBLE_DEVICES", &cfg.gpus[slot % cfg.gpus.len()]);
        }
        let mut child =
            cmd.spawn().map_err(|e| format!("cannot run {}: {e}", shell_words(&cfg.command)))?;
        let pid = child.id();
        let incarnation = self.next_incarnation;
        self.next_incarnation += 1;

        let stdin = child.stdin.take().expect("piped stdin");
        let (input, lines) = unbounded::<String>();
        std::thread::Builder::new()
            .name(format!("evoforge-w{slot}-in"))
            .spawn(move || {
                let mut w = BufWriter::new(stdin);
                for line in lines.iter() {
                    let ok = w.write_all(line.as_bytes()).and_then(|_| w.write_all(b"\n"));
                    if ok.and_then(|_| if lines.is_empty() { w.flush() } else { Ok(()) }).is_err() {
                        break;
                    }
                }
            })
            .map_err(|e| e.to_string())?;

        let stdout = child.stdout.take().expect("piped stdout");
        let tx = self.events_tx.clone();
        std::thread::Builder::new()
            .name(format!("evoforge-w{slot}-out"))
            .spawn(move || read_worker(stdout, slot, incarnation, tx))
            .map_err(|e| e.to_string())?;

        let stderr = child.stderr.take().expect("piped stderr");
        let tail = Arc::new(Mutex::new(VecDeque::new()));
        let (done_tx, stderr_done) = crossbeam_channel::bounded(1);
        let t = tail.clone();
        std::thread::Builder::new()
            .name(format!("evoforge-w{slot}-err"))
            .spawn(move || {
                for line in BufReader::new(stderr).lines() {
                    let Ok(line) = line else { break };
                    eprintln!("[worker {slot}] {line}");
                    if let Ok(mut t) = t.lock() {
                        if t.len() == STDERR_TAIL {
                            t.pop_front();
                        }
                        t.push_back(line);
                    }
                }
                let _ = done_tx.send(());
            })
            .map_err(|e| e.to_string())?;

        let now = Instant::now();
        let w = Worker {
            incarnation,
            start,
            child,
            pid,
            input: Some(input),
            ready: false,
            spawned: now,
            inflight: VecDeque::new(),
            ctx: 0,
            state: 0,
            last_heard: now,
            last_progress: now,
            stderr_tail: tail,
            stderr_done,
        };
        let hello = Hello { worker: slot, ..self.config.hello.clone() };
        w.send(protocol::hello_line(&hello));
        Ok(w)
    }

    /// Starts every worker and waits for all handshakes. A worker that fails here stops the
    /// study at once (a wrong command or problem would fail again on every restart).
    fn ensure_started(&mut self) -> Result<(), ClusterError> {
        if self.started {
            return Ok(());
        }
        self.started = true;
        for s in 0..self.slots.len() {
            match self.spawn(s) {
                Ok(w) => self.slots[s].worker = Some(w),
                Err(e) => return Err(self.abort_start(format!("worker {s}: {e}"))),
            }
        }
        let deadline = Instant::now() + self.config.startup_timeout;
        while self.slots.iter().any(|s| s.worker.as_ref().is_some_and(|w| !w.ready)) {
            let env = match self.events_rx.recv_deadline(deadline) {
                Ok(env) => env,
                Err(_) => {
                    let s = self
                        .slots
                        .iter()
                        .position(|s| s.worker.as_ref().is_some_and(|w| !w.ready))
                        .expect("a worker is not ready");
                    let msg = format!(
                        "worker {s} did not answer the handshake within {} s (evaluator.startup_timeout_seconds)",
                        self.config.startup_timeout.as_secs_f64()
                    );
                    return Err(self.abort_start_slot(s, msg));
                }
            };
            let s = env.slot;
            let Some(w) = self.slots[s].worker.as_mut() else { continue };
            if w.incarnation != env.incarnation {
                continue;
            }
            let problem = match env.event {
                Event::Msg(Ok(WorkerMsg::Ready { version, .. }))
                    if version == protocol::VERSION =>
                {
                    w.ready = true;
                    continue;
                }
                Event::Msg(Ok(WorkerMsg::Ready { version, .. })) => format!(
                    "speaks protocol version {version}, this evoforge speaks {}",
                    protocol::VERSION
                ),
                Event::Msg(Ok(WorkerMsg::Heartbeat)) => continue,
                Event::Msg(Ok(WorkerMsg::Fatal(m))) => format!("refused to start: {m}"),
                Event::Msg(Ok(WorkerMsg::Result(r))) => {
                    format!("sent a result (task {}) before `ready`", r.id)
                }
                Event::Msg(Err(e)) => format!("answered the handshake with {e}"),
                Event::Closed => "exited during the handshake".to_string(),
            };
            return Err(self.abort_start_slot(s, format!("worker {s} {problem}")));
        }
        Ok(())
    }

    fn abort_start_slot(&mut self, s: usize, msg: String) -> ClusterError {
        let detail = match self.slots[s].worker.as_mut() {
            Some(w) => {
                let status = w.kill();
                format!(" ({status}){}", w.stderr_tail())
            }
            None => String::new(),
        };
        self.abort_start(format!("{msg}{detail}"))
    }

    fn abort_start(&mut self, msg: String) -> ClusterError {
        for slot in &mut self.slots {
            if let Some(mut w) = slot.worker.take() {
                w.kill();
            }
        }
        let msg = format!("{msg}\n  command: {}", shell_words(&self.config.command));
        self.fatal = Some(msg.clone());
        ClusterError::Start(msg)
    }

    /// Replaces the worker of slot `s`: kills it, re-queues its tasks (charging the oldest one
    /// an attempt) and starts a new process, or stops the study after too many failures.
    fn fail(&mut self, s: usize, reason: String) {
        let Some(mut w) = self.slots[s].worker.take() else { return };
        let status = w.kill();
        let inflight = std::mem::take(&mut w.inflight);
        let n = inflight.len();
        let mut charged = None;
        if let Some(&first) = inflight.front()
            && let Some(p) = self.pending.get_mut(&first)
        {
            p.attempts += 1;
            if p.attempts >= self.config.task_attempts {
                charged = Some(first);
            }
        }
        for &id in inflight.iter().rev() {
            if Some(id) == charged {
                continue;
            }
            self.queue.push_front(id);
        }
        if let Some(id) = charged {
            let p = self.pending.remove(&id).expect("charged task is pending");
            eprintln!(
                "evoforge: task {id} failed: {} workers failed while holding it (evaluator.task_attempts)",
                p.attempts
            );
            self.answered[0].insert(id);
            self.out.push(TaskResult {
                id,
                outcome: Outcome::Failed(format!(
                    "worker failed {} times while evaluating it; last: {reason}",
                    p.attempts
                )),
                wall: 0.0,
            });
        }
        let slot = &mut self.slots[s];
        slot.failures_in_row += 1;
        let max = self.config.max_restarts;
        let tail = w.stderr_tail();
        if slot.failures_in_row > max {
            self.fatal = Some(format!(
                "worker {s} failed {} times in a row without returning a result (evaluator.max_restarts = {max}); \
                 last (pid {}, start {}): {reason} ({status}){tail}\n  command: {}",
                slot.failures_in_row,
                w.pid,
                w.start,
                shell_words(&self.config.command)
            ));
            return;
        }
        eprintln!(
            "evoforge: worker {s} (pid {}) {reason} ({status}); {n} task(s) re-queued; restarting it ({}/{max})",
            w.pid, slot.failures_in_row
        );
        match self.spawn(s) {
            Ok(nw) => self.slots[s].worker = Some(nw),
            Err(e) => self.fatal = Some(format!("worker {s}: {e}")),
        }
    }

    fn handle(&mut self, env: Envelope) {
        let s = env.slot;
        let Some(w) = self.slots[s].worker.as_mut() else { return };
        if w.incarnation != env.incarnation {
            return; // a line from a process that was already replaced
        }
        w.last_heard = Instant::now();
        let problem = match env.event {
            Event::Msg(Ok(WorkerMsg::Heartbeat)) => return,
            Event::Msg(Ok(WorkerMsg::Ready { version, .. })) => {
                if w.ready {
                    "sent `ready` twice".to_string()
                } else if version != protocol::VERSION {
                    self.fatal = Some(format!(
                        "worker {s} speaks protocol version {version}, this evoforge speaks {}",
                        protocol::VERSION
                    ));
                    return;
                } else {
                    w.ready = true;
                    return;
                }
            }
            Event::Msg(Ok(WorkerMsg::Result(r))) => {
                if let Some(pos) = w.inflight.iter().position(|&id| id == r.id) {
                    w.inflight.remove(pos);
                    w.last_progress = Instant::now();
                    self.slots[s].failures_in_row = 0;
                    self.pending.remove(&r.id);
                    self.answered[0].insert(r.id);
                    self.out.push(r);
                    return;
                }
                if self.answered.iter().any(|a| a.contains(&r.id)) {
                    eprintln!("evoforge: worker {s} answered task {} again; ignored", r.id);
                    return;
                }
                format!("sent a result for task {}, which it was not given", r.id)
            }
            Event::Msg(Ok(WorkerMsg::Fatal(m))) => format!("reported a fatal error: {m}"),
            Event::Msg(Err(e)) => format!("sent a line that is not protocol: {e}"),
            Event::Closed => "exited".to_string(),
        };
        self.fail(s, problem);
    }

    fn check_timeouts(&mut self) {
        let now = Instant::now();
        let c = &self.config;
        let mut failed = Vec::new();
        for (s, slot) in self.slots.iter().enumerate() {
            let Some(w) = &slot.worker else { continue };
            if !w.ready {
                if now - w.spawned > c.startup_timeout {
                    failed.push((
                        s,
                        format!(
                            "did not answer the handshake within {} s (startup_timeout_seconds)",
                            c.startup_timeout.as_secs_f64()
                        ),
                    ));
                }
            } else if !w.inflight.is_empty() {
                if now - w.last_heard > c.heartbeat_timeout {
                    failed.push((
                        s,
                        format!(
                            "sent nothing for {} s while holding tasks (heartbeat_timeout_seconds)",
                            c.heartbeat_timeout.as_secs_f64()
                        ),
                    ));
                } else if now - w.last_progress > c.task_timeout {
                    failed.push((
                        s,
                        format!(
                            "returned no result for {} s (task_timeout_seconds)",
                            c.task_timeout.as_secs_f64()
                        ),
                    ));
                }
            }
        }
        for (s, reason) in failed {
            self.fail(s, reason);
        }
    }

    /// Sends queued tasks to ready workers with room, one batch per worker per round.
    fn dispatch(&mut self) {
        let n = self.slots.len();
        let batch = self.batch.max(1);
        loop {
            let mut sent = false;
            for k in 0..n {
                if self.queue.is_empty() {
                    return;
                }
                let s = (self.rr + k) % n;
                let Some(w) = self.slots[s].worker.as_mut() else { continue };
                if !w.ready || w.inflight.len() + batch > 2 * batch {
                    continue;
                }
                // One batch: tasks that need no context or the same one as the first.
                let first_ctx = self.pending[self.queue.front().expect("not empty")].ctx;
                let mut ids = Vec::with_capacity(batch);
                let mut ctx = first_ctx;
                while ids.len() < batch
                    && let Some(&id) = self.queue.front()
                {
                    let c = self.pending[&id].ctx;
                    if c != 0 && ctx != 0 && c != ctx {
                        break;
                    }
                    if c != 0 {
                        ctx = c;
                    }
                    ids.push(id);
                    self.queue.pop_front();
                }
                if let Some((seq, line)) = &self.problem_state
                    && w.state != *seq
                {
                    w.send(line.to_string());
                    w.state = *seq;
                }
                if ctx != 0 && w.ctx != ctx {
                    let first = ids.iter().map(|id| &self.pending[id]).find(|p| p.ctx == ctx);
                    let generation = first.map_or(0, |p| p.task.generation);
                    w.send(protocol::context_line(generation, &self.contexts[&ctx]));
                    w.ctx = ctx;
                }
                w.send(protocol::tasks_line(ids.iter().map(|id| &self.pending[id].task)));
                if w.inflight.is_empty() {
                    let now = Instant::now();
                    w.last_progress = now;
                    w.last_heard = now;
                }
                w.inflight.extend(ids);
                sent = true;
            }
            self.rr = (self.rr + 1) % n;
            if !sent {
                return;
            }
        }
    }

    fn check_fatal(&self) -> Result<(), ClusterError> {
        match &self.fatal {
            Some(f) => Err(ClusterError::Workers(f.clone())),
            None => Ok(()),
        }
    }
}

/// Reads a worker's stdout line by line until it closes.
fn read_worker(stdout: impl Read, slot: usize, incarnation: u64, tx: Sender<Envelope>) {
    let mut r = BufReader::new(stdout);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        let n = (&mut r).take(MAX_LINE as u64 + 1).read_until(b'\n', &mut buf).unwrap_or(0);
        if n == 0 {
            let _ = tx.send(Envelope { slot, incarnation, event: Event::Closed });
            return;
        }
        let event = if buf.len() > MAX_LINE {
            Event::Msg(Err(format!("a line longer than {MAX_LINE} bytes")))
        } else {
            let line = String::from_utf8_lossy(&buf);
            let line = line.trim_end_matches(['\n', '\r']);
            Event::Msg(
                protocol::parse_worker(line).map_err(|e| format!("{e} in {:?}", snippet(line))),
            )
        };
        let stop = matches!(event, Event::Msg(Err(_)));
        if tx.send(Envelope { slot, incarnation, event }).is_err() || stop {
            // After a violation the worker is replaced; nothing more is read from it.
            return;
        }
    }
}

fn snippet(line: &str) -> String {
    const N: usize = 120;
    match line.char_indices().nth(N) {
        Some((i, _)) => format!("{}…", &line[..i]),
        None => line.to_string(),
    }
}

fn shell_words(words: &[String]) -> String {
    words
        .iter()
        .map(|w| {
            if !w.is_empty()
                && w.chars().all(|c| c.is_ascii_alphanumeric() || "-_./=:,@+".contains(c))
            {
                w.clone()
            } else {
                format!("'{}'", w.replace('\'', r"'\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

impl Evaluator for ProcessEvaluator {
    fn slots(&self) -> usize {
        self.slots.len()
    }

    fn set_decoder(&mut self, decoder: Arc<dyn Decoder>) -> Result<(), ClusterError> {
        self.check_fatal()?;
        self.ensure_started()?;
        self.ctx_seq += 1;
        let referenced: HashSet<u64> = self.pending.values().map(|p| p.ctx).collect();
        self.contexts.retain(|c, _| referenced.contains(c));
        self.contexts.insert(self.ctx_seq, decoder.context_json().into());
        Ok(())
    }

    fn set_problem_state(&mut self, state: &[f64]) -> Result<(), ClusterError> {
        let seq = self.problem_state.as_ref().map_or(0, |(s, _)| *s) + 1;
        self.problem_state = Some((seq, protocol::problem_state_line(state).into()));
        Ok(())
    }

    fn submit(&mut self, tasks: Vec<Task>) -> Result<(), ClusterError> {
        self.check_fatal()?;
        self.ensure_started()?;
        if tasks.is_empty() {
            return Ok(());
        }
        if self.pending.is_empty() && self.out.is_empty() {
            // A new round: ids answered two rounds ago can no longer come back.
            let [cur, prev] = &mut self.answered;
            std::mem::swap(cur, prev);
            cur.clear();
        }
        self.batch =
            self.config.batch.unwrap_or_else(|| tasks.len().div_ceil(4 * self.slots.len())).max(1);
        for t in tasks {
            let ctx = match t.point {
                Point::Genome(_) if self.ctx_seq > 0 => self.ctx_seq,
                _ => 0,
            };
            self.queue.push_back(t.id);
            self.pending.insert(t.id, Pending { task: t, ctx, attempts: 0 });
        }
        self.dispatch();
        Ok(())
    }

    fn poll(&mut self, wait: Wait) -> Result<Vec<TaskResult>, ClusterError> {
        if self.pending.is_empty() && self.out.is_empty() {
            return Err(ClusterError::Idle);
        }
        self.ensure_started()?;
        let start = Instant::now();
        let deadline = match wait {
            Wait::No => Some(start),
            Wait::Up(d) => Some(start + d),
            Wait::Block => None,
        };
        loop {
            self.check_fatal()?;
            self.dispatch();
            if !self.out.is_empty() {
                return Ok(std::mem::take(&mut self.out));
            }
            let now = Instant::now();
            if deadline.is_some_and(|d| now >= d) {
                // Still drain what is already there.
                while let Ok(env) = self.events_rx.try_recv() {
                    self.handle(env);
                }
                self.check_fatal()?;
                return Ok(std::mem::take(&mut self.out));
            }
            let until = deadline.map_or(now + TICK, |d| d.min(now + TICK));
            match self.events_rx.recv_deadline(until) {
                Ok(env) => self.handle(env),
                Err(crossbeam_channel::RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return Err(ClusterError::Disconnected),
            }
            while let Ok(env) = self.events_rx.try_recv() {
                self.handle(env);
            }
            self.check_timeouts();
        }
    }

    fn pending(&self) -> usize {
        self.pending.len() + self.out.len()
    }
}

impl Drop for ProcessEvaluator {
    fn drop(&mut self) {
        let mut live: Vec<Worker> = self.slots.iter_mut().filter_map(|s| s.worker.take()).collect();
        for w in &mut live {
            w.send(protocol::SHUTDOWN_LINE.to_string());
            w.input = None; // end of input too
        }
        let deadline = Instant::now() + SHUTDOWN_GRACE;
        for w in &mut live {
            while Instant::now() < deadline && matches!(w.child.try_wait(), Ok(None)) {
                std::thread::sleep(Duration::from_millis(5));
            }
            let _ = w.child.kill();
            let _ = w.child.wait();
        }
    }
}
