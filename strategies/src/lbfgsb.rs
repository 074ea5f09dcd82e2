//! A compact projected L-BFGS for box constraints ("L-BFGS-B" in the sense BoTorch uses
//! scipy's: minimise a smooth function inside `lo <= x <= hi`), used by the GP's
//! hyperparameter fit and by the acquisition maximisation of BO.
//!
//! Algorithm (Nocedal & Wright 2006, Alg. 7.4 two-loop recursion; projected-path backtracking
//! as in Bertsekas 1982 / Kelley 1999, "Iterative Methods for Optimization", §5.5.2):
//!
//! * The *active* set holds the coordinates on a bound whose gradient points out of the box;
//!   the search direction is `−H g` with the L-BFGS inverse-Hessian approximation `H` (memory
//!   `m`), restricted to the free coordinates (active coordinates get 0).
//! * The step is `x(t) = P(x + t d)` (`P` clips into the box), backtracking `t ← t/2` from 1
//!   until the Armijo condition `f(x(t)) ≤ f(x) + 1e-4 · gᵀ(x(t) − x)` holds.
//! * A pair `(s, y)` enters the memory only when `sᵀy > 1e-10 · yᵀy` (curvature condition), so
//!   `H` stays positive definite; a non-descent direction resets the memory to steepest descent.
//! * Stops when the projected gradient's ∞-norm is below `pgtol`, the relative decrease of `f`
//!   is below `ftol`, the line search fails, or after `max_iters` iterations.
//!
//! Why not argmin 0.11: its L-BFGS is unconstrained (no L-BFGS-B), it calls the cost and the
//! gradient separately (each is one Cholesky here), and it brings a second `rand` major version.
//! Everything here is deterministic (no randomness, fixed iteration order).

/// Options of [`minimize`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Options {
    /// L-BFGS memory.
    pub memory: usize,
    /// Maximum iterations (each costs at least one evaluation).
    pub max_iters: usize,
    /// Stop when `max |projected gradient| < pgtol`.
    pub pgtol: f64,
    /// Stop when `(f_old − f_new) / max(|f_old|, |f_new|, 1) < ftol`.
    pub ftol: f64,
}

impl Default for Options {
    fn default() -> Self {
        Self { memory: 10, max_iters: 200, pgtol: 1e-6, ftol: 1e-10 }
    }
}

/// Result of [`minimize`].
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Minimum {
    /// The best point found (inside the box).
    pub x: Vec<f64>,
    /// Its value.
    pub f: f64,
    /// Objective evaluations used.
    pub evaluations: usize,
}

fn project(x: &mut [f64], lo: &[f64], hi: &[f64]) {
    for ((v, l), h) in x.iter_mut().zip(lo).zip(hi) {
        *v = v.clamp(*l, *h);
    }
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Minimises `fg` (value and gradient written into its second argument; a non-finite value
/// means "outside the domain" and makes the line search back off) over the box `[lo, hi]`
/// from `x0` (projected into the box first).
pub(crate) fn minimize(
    mut fg: impl FnMut(&[f64], &mut [f64]) -> f64,
    x0: &[f64],
    lo: &[f64],
    hi: &[f64],
    opts: &Options,
) -> Minimum {
    let n = x0.len();
    let mut x = x0.to_vec();
    project(&mut x, lo, hi);
    let mut g = vec![0.0; n];
    let mut f = fg(&x, &mut g);
    let mut evaluations = 1;
    if !f.is_finite() || g.iter().any(|v| !v.is_finite()) {
        return Minimum { x, f: if f.is_nan() { f64::INFINITY } else { f }, evaluations };
    }
    let mut s_mem: Vec<Vec<f64>> = Vec::new();
    let mut y_mem: Vec<Vec<f64>> = Vec::new();
    let mut rho: Vec<f64> = Vec::new();
    let mut d = vec![0.0; n];
    let mut xn = vec![0.0; n];
    let mut gn = vec![0.0; n];
    let mut alpha = vec![0.0; opts.memory.max(1)];
    for _ in 0..opts.max_iters {
        // Free coordinates: not pinned on a bound by the gradient.
        let free: Vec<bool> = (0..n)
            .map(|i| !((x[i] <= lo[i] && g[i] > 0.0) || (x[i] >= hi[i] && g[i] < 0.0)))
            .collect();
        let pg = (0..n).filter(|&i| free[i]).map(|i| g[i].abs()).fold(0.0, f64::max);
        if pg < opts.pgtol {
            break;
        }
        // Two-loop recursion on the free coordinates.
        for i in 0..n {
            d[i] = if free[i] { -g[i] } else { 0.0 };
        }
        let k = s_mem.len();
        for j in (0..k).rev() {
            let a = rho[j] * dot(&s_mem[j], &d);
            alpha[j] = a;
            for i in 0..n {
                if free[i] {
                    d[i] -= a * y_mem[j][i];
                }
            }
        }
        if k > 0 {
            let gamma = dot(&s_mem[k - 1], &y_mem[k - 1]) / dot(&y_mem[k - 1], &y_mem[k - 1]);
            d.iter_mut().for_each(|v| *v *= gamma);
        }
        for j in 0..k {
            let b = rho[j] * dot(&y_mem[j], &d);
            for i in 0..n {
                if free[i] {
                    d[i] += (alpha[j] - b) * s_mem[j][i];
                }
            }
        }
        if dot(&g, &d) >= 0.0 || d.iter().any(|v| !v.is_finite()) {
            s_mem.clear();
            y_mem.clear();
            rho.clear();
            for i in 0..n {
                d[i] = if free[i] { -g[i] } else { 0.0 };
            }
        }
        // First step of steepest descent: at most a unit move in the largest coordinate.
        let mut t = if s_mem.is_empty() {
            let m = d.iter().fold(0.0f64, |a, v| a.max(v.abs()));
            if m > 0.0 { (1.0 / m).min(1.0) } else { 1.0 }
        } else {
            1.0
        };
        let mut accepted = None;
        for _ in 0..40 {
            for i in 0..n {
                xn[i] = x[i] + t * d[i];
            }
            project(&mut xn, lo, hi);
            let fv = fg(&xn, &mut gn);
            evaluations += 1;
            let dec: f64 = (0..n).map(|i| g[i] * (xn[i] - x[i])).sum();
            if fv.is_finite() && gn.iter().all(|v| v.is_finite()) && fv <= f + 1e-4 * dec {
                accepted = Some(fv);
                break;
            }
            t *= 0.5;
        }
        let Some(fv) = accepted else { break };
        let s: Vec<f64> = (0..n).map(|i| xn[i] - x[i]).collect();
        let y: Vec<f64> = (0..n).map(|i| gn[i] - g[i]).collect();
        let sy = dot(&s, &y);
        if sy > 1e-10 * dot(&y, &y) && sy > 0.0 {
            if s_mem.len() == opts.memory.max(1) {
                s_mem.remove(0);
                y_mem.remove(0);
                rho.remove(0);
            }
            rho.push(1.0 / sy);
            s_mem.push(s);
            y_mem.push(y);
        }
        let rel = (f - fv) / f.abs().max(fv.abs()).max(1.0);
        std::mem::swap(&mut x, &mut xn);
        std::mem::swap(&mut g, &mut gn);
        f = fv;
        if rel < opts.ftol {
            break;
        }
    }
    Minimum { x, f, evaluations }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rosenbrock_unconstrained_and_boxed() {
        let rosen = |x: &[f64], g: &mut [f64]| {
            let (a, b) = (x[0], x[1]);
            g[0] = -2.0 * (1.0 - a) - 400.0 * a * (b - a * a);
            g[1] = 200.0 * (b - a * a);
            (1.0 - a).powi(2) + 100.0 * (b - a * a).powi(2)
        };
        let o = Options { max_iters: 500, ..Default::default() };
        let m = minimize(rosen, &[-1.2, 1.0], &[-5.0, -5.0], &[5.0, 5.0], &o);
        assert!((m.x[0] - 1.0).abs() < 1e-4 && (m.x[1] - 1.0).abs() < 1e-4, "{m:?}");
        // With x0 <= 0.5 the constrained minimum is on the bound: (0.5, 0.25).
        let m = minimize(rosen, &[-1.2, 1.0], &[-5.0, -5.0], &[0.5, 5.0], &o);
        assert!((m.x[0] - 0.5).abs() < 1e-9 && (m.x[1] - 0.25).abs() < 1e-4, "{m:?}");
    }

    #[test]
    fn non_finite_regions_are_avoided() {
        // log barrier: undefined for x <= 0; minimum of x - log x at 1.
        let f = |x: &[f64], g: &mut [f64]| {
            if x[0] <= 0.0 {
                return f64::NAN;
            }
            g[0] = 1.0 - 1.0 / x[0];
            x[0] - x[0].ln()
        };
        let m = minimize(f, &[5.0], &[-10.0], &[10.0], &Options::default());
        assert!((m.x[0] - 1.0).abs() < 1e-5, "{m:?}");
    }
}
