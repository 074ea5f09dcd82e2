//! A rayon pool owned by the evaluator (never the global pool, so a library user's own rayon
//! work is not disturbed and the thread count is exactly what the study file says).
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::time::Instant;

use crossbeam_channel::{Receiver, Sender, unbounded};
use evoforge_core::{EvalCtx, Outcome, Problem};

use crate::{ClusterError, Evaluator, Task, TaskResult, Wait};

/// Evaluates tasks on its own rayon pool.
pub struct ThreadEvaluator {
    pool: rayon::ThreadPool,
    problem: Arc<dyn Problem>,
    tx: Sender<Vec<TaskResult>>,
    rx: Receiver<Vec<TaskResult>>,
    pending: usize,
    threads: usize,
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
        Ok(Self { pool, problem, tx, rx, pending: 0, threads })
    }
}

/// Evaluates one task; a panicking objective becomes a failed evaluation, not a dead study.
fn run_one(problem: &dyn Problem, t: &Task) -> TaskResult {
    let ctx = EvalCtx { id: t.id, generation: t.generation, seed: t.seed };
    let start = Instant::now();
    let outcome = match catch_unwind(AssertUnwindSafe(|| problem.evaluate(&t.x, &ctx))) {
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
            self.pool.spawn(move || {
                let out: Vec<TaskResult> =
                    tasks[start..end].iter().map(|t| run_one(problem.as_ref(), t)).collect();
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
            .map(|i| Task { id: i, generation: 0, seed: i, x: vec![i as f64 / 50.0, 1.0] })
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
}
