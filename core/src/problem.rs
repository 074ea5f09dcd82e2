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

impl<P: Problem + ?Sized> Problem for Box<P> {
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
}

impl<P: Problem + ?Sized> Problem for std::sync::Arc<P> {
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
}
