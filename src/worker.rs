//! `evoforge worker`: the default worker process of `evaluator: {kind: processes}`.
//!
//! It speaks the protocol of `docs/worker-protocol.md` on stdin/stdout: from the handshake it
//! builds the study's problem through the same registry as the study ([`ProblemSpec`]) and,
//! for compact genomes, the strategy ([`StrategySpec`]), whose own `decode` turns each genome
//! into a point with the generation's context. Each task then runs exactly as on a thread of
//! the thread evaluator ([`evoforge_cluster::evaluate_task`]: same decode, same objective, same
//! failure messages), which is why a study gives the same journal with threads and with
//! worker processes.
//!
//! `--misbehave MODE-after:N[@W][!]` makes the worker fail on purpose after `N` results, for
//! the fault tests: `crash` (aborts), `hang` (keeps sending heartbeats but never answers
//! again), `stall` (sends nothing at all), `garbage` (prints a line that is not protocol). It
//! applies to worker `W` only when given (`EVOFORGE_WORKER`), and only to a worker's first
//! start (`EVOFORGE_WORKER_START=0`) unless it ends in `!`.
use std::io::{BufRead, Write};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Result, anyhow};
use crossbeam_channel::{select, unbounded};
use evoforge_cluster::protocol::{self, Hello, LeaderMsg};
use evoforge_cluster::{Decoder, Task, TaskResult, evaluate_task};
use evoforge_core::{Problem, Space, Strategy};

use crate::spec::{ProblemSpec, StrategySpec, StrategyVisitor};

/// How a worker misbehaves on purpose (fault tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Abort the process.
    Crash,
    /// Stop answering, keep sending heartbeats.
    Hang,
    /// Stop sending anything.
    Stall,
    /// Print a line that is not protocol, then carry on.
    Garbage,
}

/// `MODE-after:N[@W][!]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Misbehave {
    /// What to do.
    pub fault: Fault,
    /// After this many results.
    pub after: u64,
    /// Only in this worker (`EVOFORGE_WORKER`).
    pub worker: Option<usize>,
    /// Also after restarts.
    pub always: bool,
}

impl std::str::FromStr for Misbehave {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || {
            format!("`{s}`: expected MODE-after:N[@W][!], MODE one of crash, hang, stall, garbage")
        };
        let (s2, always) = match s.strip_suffix('!') {
            Some(r) => (r, true),
            None => (s, false),
        };
        let (spec, worker) = match s2.split_once('@') {
            Some((a, w)) => (a, Some(w.parse::<usize>().map_err(|_| bad())?)),
            None => (s2, None),
        };
        let (mode, n) = spec.split_once("-after:").ok_or_else(bad)?;
        let fault = match mode {
            "crash" => Fault::Crash,
            "hang" => Fault::Hang,
            "stall" => Fault::Stall,
            "garbage" => Fault::Garbage,
            _ => return Err(bad()),
        };
        Ok(Misbehave { fault, after: n.parse().map_err(|_| bad())?, worker, always })
    }
}

impl Misbehave {
    /// Whether it applies to this process (from `EVOFORGE_WORKER`, `EVOFORGE_WORKER_START`).
    fn applies(&self) -> bool {
        let var = |k: &str| std::env::var(k).ok().and_then(|v| v.parse::<usize>().ok());
        let worker_ok = self.worker.is_none() || self.worker == var("EVOFORGE_WORKER");
        let start_ok = self.always || var("EVOFORGE_WORKER_START").unwrap_or(0) == 0;
        worker_ok && start_ok
    }
}

/// Turns a `context` line into the generation's decoder.
type DecoderFactory = Box<dyn Fn(&str) -> Result<Arc<dyn Decoder>, String>>;

/// The strategy's `decode` with one generation's context (as the study's own decoder).
struct ContextDecoder<S: Strategy> {
    strategy: Arc<S>,
    ctx: S::Context,
    dim: usize,
}

impl<S: Strategy> Decoder for ContextDecoder<S> {
    fn dim(&self) -> usize {
        self.dim
    }
    fn decode(&self, genome: &str, out: &mut [f64]) -> Result<(), String> {
        let g: S::Genome = serde_json::from_str(genome).map_err(|e| e.to_string())?;
        self.strategy.decode(&self.ctx, &g, out);
        Ok(())
    }
    fn context_json(&self) -> String {
        serde_json::to_string(&self.ctx).expect("contexts serialise")
    }
}

struct BuildFactory<'a> {
    space: &'a Space,
}

impl StrategyVisitor for BuildFactory<'_> {
    type Out = Result<DecoderFactory, String>;
    fn visit<S: Strategy>(self, c: &S::Config) -> Self::Out {
        let strategy = Arc::new(
            S::new(c.clone(), self.space)
                .map_err(|e| format!("strategy.{}: {}", e.field, e.message))?,
        );
        let dim = self.space.dim();
        Ok(Box::new(move |line: &str| {
            let ctx: S::Context = protocol::context_of(line)?;
            Ok(Arc::new(ContextDecoder { strategy: strategy.clone(), ctx, dim })
                as Arc<dyn Decoder>)
        }))
    }
}

/// What the handshake sets up: the problem and, for compact genomes, the decoder factory.
fn setup(h: &Hello) -> Result<(Arc<dyn Problem>, Option<DecoderFactory>), String> {
    if h.version != protocol::VERSION {
        return Err(format!(
            "the leader speaks protocol version {}, this worker speaks {}",
            h.version,
            protocol::VERSION
        ));
    }
    let spec: ProblemSpec =
        serde_json::from_value(h.problem.clone()).map_err(|e| format!("problem: {e}"))?;
    let problem = spec.build().map_err(|e| format!("problem.{}: {}", e.field, e.message))?;
    let dim = problem.space().dim();
    if dim != h.dimension {
        return Err(format!("the problem has dimension {dim}, the leader says {}", h.dimension));
    }
    let factory = if h.compact {
        let spec: StrategySpec =
            serde_json::from_value(h.strategy.clone()).map_err(|e| format!("strategy: {e}"))?;
        Some(spec.visit(BuildFactory { space: problem.space() })?)
    } else {
        None
    };
    Ok((problem, factory))
}

/// Runs the worker until its input ends or the leader says `shutdown`.
pub fn run(misbehave: Option<Misbehave>, threads: usize) -> Result<ExitCode> {
    let misbehave = misbehave.filter(Misbehave::applies);
    let (line_tx, line_rx) = unbounded::<String>();
    std::thread::Builder::new().name("evoforge-worker-stdin".into()).spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            if line_tx.send(line).is_err() {
                break;
            }
        }
    })?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());

    let Ok(first) = line_rx.recv() else { return Ok(ExitCode::SUCCESS) };
    let hello = match protocol::parse_leader(&first) {
        Ok(LeaderMsg::Hello(h)) => h,
        Ok(_) => return Err(fatal(&mut out, "the first message must be `hello`")),
        Err(e) => return Err(fatal(&mut out, &e)),
    };
    let (problem, factory) = match setup(&hello) {
        Ok(s) => s,
        Err(e) => return Err(fatal(&mut out, &e)),
    };
    say(&mut out, &protocol::ready_line(std::process::id()))?;
    out.flush()?;

    // Evaluation threads: tasks in, results out.
    let (job_tx, job_rx) = unbounded::<(Task, Option<Arc<dyn Decoder>>)>();
    let (res_tx, res_rx) = unbounded::<TaskResult>();
    for i in 0..threads.max(1) {
        let (job_rx, res_tx, problem) = (job_rx.clone(), res_tx.clone(), problem.clone());
        std::thread::Builder::new().name(format!("evoforge-worker-eval-{i}")).spawn(move || {
            for (task, decoder) in job_rx.iter() {
                let r = evaluate_task(problem.as_ref(), decoder.as_deref(), &task);
                if res_tx.send(r).is_err() {
                    break;
                }
            }
        })?;
    }
    drop(res_tx);

    let mut decoder: Option<Arc<dyn Decoder>> = None;
    let mut outstanding = 0usize;
    let mut answered = 0u64;
    let mut hung = false;
    let mut last_said = Instant::now();
    let beat = Duration::from_secs(1);
    loop {
        let mut said = false;
        select! {
            recv(line_rx) -> line => {
                let Ok(line) = line else { break }; // end of input: the leader is gone
                match protocol::parse_leader(&line) {
                    Ok(LeaderMsg::Tasks(tasks)) => {
                        for t in tasks {
                            outstanding += 1;
                            job_tx.send((t, decoder.clone()))?;
                        }
                    }
                    Ok(LeaderMsg::Context { line, .. }) => {
                        let Some(f) = &factory else {
                            return Err(fatal(&mut out, "a context for a strategy without genomes"));
                        };
                        match f(&line) {
                            Ok(d) => decoder = Some(d),
                            Err(e) => return Err(fatal(&mut out, &e)),
                        }
                    }
                    Ok(LeaderMsg::ProblemState(state)) => {
                        // The leader sends a state only between generations, when this worker
                        // holds no task, so no running evaluation sees it change.
                        if let Err(e) = problem.set_state(&state) {
                            return Err(fatal(&mut out, &format!("problem_state: {}", e.0)));
                        }
                    }
                    Ok(LeaderMsg::Shutdown) => break,
                    Ok(LeaderMsg::Hello(_)) => return Err(fatal(&mut out, "a second `hello`")),
                    Err(e) => return Err(fatal(&mut out, &format!("the leader sent {e}"))),
                }
            }
            recv(res_rx) -> r => {
                let Ok(r) = r else { break };
                // A hung worker keeps its tasks (and its heartbeats) but never answers.
                if !hung {
                    outstanding -= 1;
                    say(&mut out, &protocol::result_line(&r))?;
                    said = true;
                    answered += 1;
                }
            }
            default(beat) => {}
        }
        if let Some(m) = misbehave
            && answered >= m.after
            && outstanding > 0
            && !hung
        {
            out.flush()?;
            match m.fault {
                Fault::Crash => {
                    eprintln!("misbehaving on purpose: crash after {answered} results");
                    std::process::abort();
                }
                Fault::Hang => {
                    eprintln!("misbehaving on purpose: hang after {answered} results");
                    hung = true;
                }
                Fault::Stall => {
                    eprintln!("misbehaving on purpose: stall after {answered} results");
                    loop {
                        std::thread::sleep(Duration::from_secs(3600));
                    }
                }
                Fault::Garbage => {
                    eprintln!("misbehaving on purpose: garbage after {answered} results");
                    say(&mut out, "this is not a protocol message")?;
                    said = true;
                    answered = 0;
                }
            }
        }
        if outstanding > 0 && !said && last_said.elapsed() >= beat {
            say(&mut out, protocol::HEARTBEAT_LINE)?;
            said = true;
        }
        if said && (res_rx.is_empty() || last_said.elapsed() >= beat) {
            out.flush()?;
            last_said = Instant::now();
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

fn say(out: &mut impl Write, line: &str) -> Result<()> {
    out.write_all(line.as_bytes())?;
    out.write_all(b"\n")?;
    Ok(())
}

/// Tells the leader why the worker cannot go on; the error to stop with.
fn fatal(out: &mut impl Write, message: &str) -> anyhow::Error {
    let _ = writeln!(out, "{}", protocol::fatal_line(message));
    let _ = out.flush();
    anyhow!("{message}")
}

/// Parses `--misbehave`.
pub fn parse_misbehave(s: &str) -> Result<Misbehave> {
    s.parse().map_err(|e: String| anyhow!(e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn misbehave_specs() {
        let m: Misbehave = "crash-after:3@1".parse().unwrap();
        assert_eq!(m, Misbehave { fault: Fault::Crash, after: 3, worker: Some(1), always: false });
        let m: Misbehave = "garbage-after:0!".parse().unwrap();
        assert_eq!(m, Misbehave { fault: Fault::Garbage, after: 0, worker: None, always: true });
        for bad in ["crash", "crash-after:x", "boom-after:1", "hang-after:1@a"] {
            assert!(bad.parse::<Misbehave>().is_err(), "{bad}");
        }
    }
}
