//! The objective side of the contract.
use crate::{EvalCtx, EvalError, Evaluation, Space};

/// An objective function over a [`Space`]. Problems know nothing of strategies.
pub trait Problem: Send + Sync {
    /// The space points are drawn from.
    fn space(&self) -> &Space;

    /// Evaluates one point. Errors become failed evaluations, never panics.
    fn evaluate(&self, x: &[f64], ctx: &EvalCtx) -> Result<Evaluation, EvalError>;

    /// Evaluates several points; override when a batch is cheaper than its parts.
    fn evaluate_batch(
        &self,
        xs: &[&[f64]],
        ctxs: &[EvalCtx],
    ) -> Vec<Result<Evaluation, EvalError>> {
        xs.iter().zip(ctxs).map(|(x, c)| self.evaluate(x, c)).collect()
    }

    /// The optimal value when it is known (BBOB's f_opt, 0 for sphere); used for targets.
    fn optimum(&self) -> Option<f64> {
        None
    }

    /// The initial per-generation state, for problems that have one (a policy's running
    /// observation statistics); `None` (the default) for stateless problems.
    ///
    /// The contract: the study sets the state with [`Problem::set_state`] before a
    /// generation's evaluations and keeps it fixed while they run; each evaluation may return
    /// [`crate::Evaluation::stats`]; after the generation the study folds them, in ask order,
    /// with [`Problem::state_update`]. The state is checkpointed with the strategy, so resume
    /// and any thread, process or rank count give the same states bit for bit.
    fn state_init(&self) -> Option<Vec<f64>> {
        None
    }

    /// Makes `state` the one used by the following evaluations (interior mutability: it is
    /// called between generations, never while an evaluation runs).
    fn set_state(&self, _state: &[f64]) -> Result<(), EvalError> {
        Err(EvalError("this problem has no per-generation state".into()))
    }

    /// Folds one generation's evaluation statistics (in ask order) into `state`. Pure: the
    /// same inputs give the same state bit for bit.
    fn state_update(&self, _state: &mut [f64], _stats: &[&[f64]]) {}

    /// The state in named parts for `summary.json` (for a policy: `obs_mean`, `obs_std`).
    fn describe_state(&self, state: &[f64]) -> Vec<(String, Vec<f64>)> {
        vec![("state".into(), state.to_vec())]
    }
}

/// A problem from a closure: `FnProblem::new(Space::real_box(5, -5.0, 5.0), |x| x.iter().map(|v| v * v).sum())`.
pub struct FnProblem<F> {
    space: Space,
    f: F,
}

impl<F: Fn(&[f64]) -> f64 + Send + Sync> FnProblem<F> {
    /// Wraps `f` (a scalar objective to minimise) over `space`.
    pub fn new(space: Space, f: F) -> Self {
        Self { space, f }
    }
}

impl<F: Fn(&[f64]) -> f64 + Send + Sync> Problem for FnProblem<F> {
    fn space(&self) -> &Space {
        &self.space
    }
    fn evaluate(&self, x: &[f64], _ctx: &EvalCtx) -> Result<Evaluation, EvalError> {
        Ok(Evaluation::value((self.f)(x)))
    }
}

/// `Problem` for a pointer to a problem (`Box<dyn Problem>`, `Arc<P>`): every method forwards,
/// so a problem's own `evaluate_batch` or state survives being boxed or shared.
macro_rules! forward_problem {
    ($($ptr:ident)::+) => {
        impl<P: Problem + ?Sized> Problem for $($ptr)::+<P> {
            fn space(&self) -> &Space {
                (**self).space()
            }
            fn evaluate(&self, x: &[f64], ctx: &EvalCtx) -> Result<Evaluation, EvalError> {
                (**self).evaluate(x, ctx)
            }
            fn evaluate_batch(
                &self,
                xs: &[&[f64]],
                ctxs: &[EvalCtx],
            ) -> Vec<Result<Evaluation, EvalError>> {
                (**self).evaluate_batch(xs, ctxs)
            }
            fn optimum(&self) -> Option<f64> {
                (**self).optimum()
            }
            fn state_init(&self) -> Option<Vec<f64>> {
                (**self).state_init()
            }
            fn set_state(&self, state: &[f64]) -> Result<(), EvalError> {
                (**self).set_state(state)
            }
            fn state_update(&self, state: &mut [f64], stats: &[&[f64]]) {
                (**self).state_update(state, stats)
            }
            fn describe_state(&self, state: &[f64]) -> Vec<(String, Vec<f64>)> {
                (**self).describe_state(state)
            }
        }
    };
}

forward_problem!(Box);
forward_problem!(std::sync::Arc);
