//! A rayon pool owned by the evaluator (never the global pool, so a library user's own rayon
//! work is not disturbed and the thread count is exactly what the study file says).
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::time::Instant;

use crossbeam_channel::{Receiver, Sender, unbounded};
use evoforge_core::{EvalCtx, Outcome, Problem};

use crate::{ClusterError, Decoder, Evaluator, Point, Task, TaskResult, Wait};

/// Evaluates tasks on its own rayon pool.
pub struct ThreadEvaluator {
    pool: rayon::ThreadPool,
    problem: Arc<dyn Problem>,
    tx: Sender<Vec<TaskResult>>,
    rx: Receiver<Vec<TaskResult>>,
    pending: usize,
    threads: usize,
    decoder: Option<Arc<dyn Decoder>>,
}

impl ThreadEvaluator {
    /// A pool of `threads` threads (at least 1) evaluating `problem`.
    pub fn new(problem: Arc<dyn Problem>, threads: usize) -> Result<Self, ClusterError> {
        let threads = threads.max(1);
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|i| format!("evoforge-eval-{i}"))
            .build()
            .map_err(|e| ClusterError::Start(e.to_string()))?;
        let (tx, rx) = unbounded();
        Ok(Self { pool, problem, tx, rx, pending: 0, threads, decoder: None })
    }
}

/// Evaluates one task; a panicking objective becomes a failed evaluation, not a dead study.
/// (Also what `evoforge worker` runs for each task, so its failures read the same.)
pub fn run_one(problem: &dyn Problem, decoder: Option<&dyn Decoder>, t: &Task) -> TaskResult {
    let ctx = EvalCtx { id: t.id, generation: t.generation, seed: t.seed };
    let start = Instant::now();
    let decoded;
    let x: &[f64] = match &t.point {
        Point::X(x) => x,
        Point::Genome(g) => {
            let decoded_x =
                decoder.ok_or_else(|| "genome task without a decoder".to_string()).and_then(|d| {
                    let mut x = vec![0.0; d.dim()];
                    catch_unwind(AssertUnwindSafe(|| d.decode(g, &mut x)))
                        .map_err(|p| format!("decoder panicked: {}", panic_message(&p)))??;
                    Ok(x)
                });
            match decoded_x {
                Ok(x) => {
                    decoded = x;
                    &decoded
                }
                Err(m) => {
                    let outcome = Outcome::Failed(format!("cannot decode genome: {m}"));
                    return TaskResult { id: t.id, outcome, wall: start.elapsed().as_secs_f64() };
                }
            }
        }
    };
    let outcome = match catch_unwind(AssertUnwindSafe(|| problem.evaluate(x, &ctx))) {
        Ok(Ok(e)) => Outcome::Ok(e),
        Ok(Err(e)) => Outcome::Failed(e.0),
        Err(p) => Outcome::Failed(format!("objective panicked: {}", panic_message(&p))),
    };
    TaskResult { id: t.id, outcome, wall: start.elapsed().as_secs_f64() }
}

fn panic_message(p: &Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic".to_string()
    }
}

impl Evaluator for ThreadEvaluator {
    fn slots(&self) -> usize {
        self.threads
    }

    fn set_problem_state(&mut self, state: &[f64]) -> Result<(), ClusterError> {
        self.problem.set_state(state).map_err(|e| ClusterError::Start(e.0))
    }
    fn set_decoder(&mut self, decoder: Arc<dyn Decoder>) -> Result<(), ClusterError> {
        self.decoder = Some(decoder);
        Ok(())
    }

    fn submit(&mut self, tasks: Vec<Task>) -> Result<(), ClusterError> {
        if tasks.is_empty() {
            return Ok(());
        }
        self.pending += tasks.len();
        // A few chunks per thread: cheap objectives amortise the spawn and channel cost,
        // expensive ones still balance across threads.
        let chunk = tasks.len().div_ceil(self.threads * 4).max(1);
        let tasks = Arc::new(tasks);
        for start in (0..tasks.len()).step_by(chunk) {
            let end = (start + chunk).min(tasks.len());
            let (tasks, problem, tx) = (tasks.clone(), self.problem.clone(), self.tx.clone());
            let decoder = self.decoder.clone();
            self.pool.spawn(move || {
                let out: Vec<TaskResult> = tasks[start..end]
                    .iter()
                    .map(|t| run_one(problem.as_ref(), decoder.as_deref(), t))
                    .collect();
                // The receiver lives as long as the evaluator; a send error means the study is
                // gone and nobody wants the result.
                let _ = tx.send(out);
            });
        }
        Ok(())
    }

    fn poll(&mut self, wait: Wait) -> Result<Vec<TaskResult>, ClusterError> {
        if self.pending == 0 {
            return Err(ClusterError::Idle);
        }
        let mut out = match wait {
            Wait::No => self.rx.try_recv().unwrap_or_default(),
            Wait::Up(d) => match self.rx.recv_timeout(d) {
                Ok(v) => v,
                Err(crossbeam_channel::RecvTimeoutError::Timeout) => Vec::new(),
                Err(_) => return Err(ClusterError::Disconnected),
            },
            Wait::Block => self.rx.recv().map_err(|_| ClusterError::Disconnected)?,
        };
        while let Ok(more) = self.rx.try_recv() {
            out.extend(more);
        }
        self.pending -= out.len();
        Ok(out)
    }

    fn pending(&self) -> usize {
        self.pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use evoforge_core::{FnProblem, Space};

    #[test]
    fn evaluates_all_and_survives_panics() {
        let p = FnProblem::new(Space::real_box(2, -1.0, 1.0), |x: &[f64]| {
            if x[0] > 0.5 {
                panic!("bad point");
            }
            x[0] + x[1]
        });
        let mut ev = ThreadEvaluator::new(Arc::new(p), 3).unwrap();
        let tasks: Vec<Task> = (0..50)
            .map(|i| Task {
                id: i,
                generation: 0,
                seed: i,
                point: Point::X(vec![i as f64 / 50.0, 1.0]),
            })
            .collect();
        ev.submit(tasks).unwrap();
        let mut got = Vec::new();
        while ev.pending() > 0 {
            got.extend(ev.poll(Wait::Block).unwrap());
        }
        got.sort_by_key(|r| r.id);
        assert_eq!(got.len(), 50);
        for r in &got {
            let x0 = r.id as f64 / 50.0;
            match &r.outcome {
                Outcome::Ok(e) => assert_eq!(e.values[0], x0 + 1.0),
                Outcome::Failed(m) => {
                    assert!(x0 > 0.5);
                    assert!(m.contains("bad point"), "{m}");
                }
            }
        }
        assert!(matches!(ev.poll(Wait::No), Err(ClusterError::Idle)));
    }

    /// Decodes `[a, b]` genomes as the point `[a + b, a - b]`.
    struct SumDiff;
    impl Decoder for SumDiff {
        fn dim(&self) -> usize {
            2
        }
        fn decode(&self, genome: &str, out: &mut [f64]) -> Result<(), String> {
            let g: Vec<f64> = serde_json::from_str(genome).map_err(|e| e.to_string())?;
            if g.len() != 2 {
                return Err(format!("{} values", g.len()));
            }
            out.copy_from_slice(&[g[0] + g[1], g[0] - g[1]]);
            Ok(())
        }
        fn context_json(&self) -> String {
            "null".into()
        }
    }

    #[test]
    fn genomes_are_decoded_on_the_workers() {
        let p = FnProblem::new(Space::real_box(2, -9.0, 9.0), |x: &[f64]| 10.0 * x[0] + x[1]);
        let mut ev = ThreadEvaluator::new(Arc::new(p), 2).unwrap();
        let task = |id: u64, g: &str| Task {
            id,
            generation: 0,
            seed: id,
            point: Point::Genome(g.to_string()),
        };
        // Before a decoder is set, a genome task fails cleanly.
        ev.submit(vec![task(0, "[1, 2]")]).unwrap();
        let r = ev.poll(Wait::Block).unwrap();
        assert!(matches!(&r[0].outcome, Outcome::Failed(m) if m.contains("without a decoder")));
        ev.set_decoder(Arc::new(SumDiff)).unwrap();
        ev.submit(vec![task(1, "[1, 2]"), task(2, "[1]"), task(3, "nonsense")]).unwrap();
        let mut got = Vec::new();
        while ev.pending() > 0 {
            got.extend(ev.poll(Wait::Block).unwrap());
        }
        got.sort_by_key(|r| r.id);
        assert_eq!(got[0].outcome, Outcome::Ok(evoforge_core::Evaluation::value(29.0)));
        for r in &got[1..] {
            assert!(matches!(&r.outcome, Outcome::Failed(m) if m.contains("cannot decode")));
        }
    }
}
