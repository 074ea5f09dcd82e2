//! Exact Gaussian-process regression: the surrogate of BO (`bo`), and a library type of its
//! own ([`Gp`]: fit, predict mean and variance, sample, log marginal likelihood).
//!
//! # Model (Rasmussen & Williams 2006, "Gaussian Processes for Machine Learning", ch. 2 and 5)
//!
//! * Inputs are scaled to the unit cube by the bounds given (`u = (x − lo)/(hi − lo)`; a
//!   coordinate with `hi = lo` maps to 0). Outputs are standardised: `z = (y − ȳ)/s_y` with the
//!   population standard deviation (`ddof = 0`, as scikit-learn's `normalize_y`; 1 when it is 0).
//!   Hyperparameters live in these units.
//! * `z ~ GP(c, k)` plus Gaussian noise of variance `σ²_n`, with constant mean `c` and an ARD
//!   kernel `k(u, u') = s · κ(r)`, `r² = Σ_j (u_j − u'_j)²/ℓ_j²`:
//!   RBF `κ = exp(−r²/2)`, Matérn-5/2 `κ = (1 + √5 r + 5r²/3) exp(−√5 r)`.
//! * `K = k(U, U) + σ²_n I = L Lᵀ` (Cholesky by faer, sequential). When it fails, a jitter
//!   `10⁻⁹, 10⁻⁸, … 10⁻⁴` (times `s`) is added to the diagonal until it succeeds (as gpytorch's
//!   `psd_safe_cholesky`); [`Gp::jitter`] reports what was used. Systems are solved with the
//!   factor, never with an explicit inverse (R&W Alg. 2.1): `α = L⁻ᵀ L⁻¹ (z − c)`,
//!   `μ(u) = c + k*ᵀ α`, `σ²(u) = s − ‖L⁻¹ k*‖²` (latent variance, without the noise).
//! * Log marginal likelihood in standardised units (R&W eq. 2.30), the quantity scikit-learn
//!   reports as `log_marginal_likelihood_value_`:
//!   `log p(z) = −½ (z − c)ᵀ α − Σ log L_ii − n/2 log 2π`.
//!
//! # Fit: maximum a posteriori, as BoTorch's `SingleTaskGP` since 0.12
//!
//! Maximises `log p(z | θ) + log p(θ)` with analytic gradients (R&W eq. 5.9,
//! `∂/∂θ log p = ½ tr((ααᵀ − K⁻¹) ∂K/∂θ)`, summed entrywise: `Σ_ij W_ij ∂K_ij` with
//! `W = ααᵀ − K⁻¹`) by the projected L-BFGS of `lbfgsb`, in log coordinates, from several
//! starts: the previous fit (warm start) when given, the prior mode, then draws from the
//! priors. The starts run in parallel and the best is chosen in start order, so the fit does
//! not depend on the thread count. The trace needs every entry of `K⁻¹`; they come from the
//! factor (`L⁻¹` by triangular inversion, then `L⁻ᵀ L⁻¹`, LAPACK's `potri`, which is also what
//! the backward pass of gpytorch's Cholesky log-determinant computes), once per evaluation and
//! for this trace only: `2n³/3` flops against the factor's `n³/3`. No system is ever solved
//! with it (α and every prediction use the factor). A cheaper route does not exist for the
//! exact gradient: `tr(K⁻¹ ∂K_q)` for `d + 1` dense `∂K_q` by solves would cost `n³` per
//! hyperparameter; stochastic trace estimators (as gpytorch's CG mode) are not exact. Priors (Hvarfner et al. 2024, "Vanilla Bayesian Optimization Performs Great in High
//! Dimensions"; BoTorch `get_covar_module_with_dim_scaled_prior`,
//! `get_gaussian_likelihood_with_lognormal_prior`):
//! * length scales `ℓ_j ~ LogNormal(√2 + ½ log d, √3)`, constrained to `[0.025, 1000]`;
//! * noise `σ²_n ~ LogNormal(−4, 1)` (or Optuna's `Gamma(1.1, 30)`, [`NoisePrior`]),
//!   constrained to `[noise_min, 10]`;
//! * the output scale `s` is fixed to 1 (BoTorch ≥ 0.12 has no `ScaleKernel`), unless
//!   `learn_outputscale`, then `s ~ Gamma(2, 0.15)` (BoTorch's earlier default), in
//!   `[0.01, 100]`;
//! * the constant mean `c` has a flat prior, in `[−10, 10]`.
//!
//! Categorical coordinates ([`FitOptions::categorical`]) enter `r²` as the indicator
//! `[u_j ≠ u'_j]/ℓ_j²` instead of `(u_j − u'_j)²/ℓ_j²` (Optuna's `GPSampler`); the
//! length-scale gradient uses the same indicator, and the gradient of a prediction along such a
//! coordinate is 0 (it is searched discretely).
//!
//! The log prior enters without a Jacobian term, as in gpytorch (the mode is that of the
//! density in the natural parameters, whatever coordinates the optimiser uses).
use evoforge_core::Rng;
use faer::dyn_stack::{MemBuffer, MemStack};
use faer::linalg::cholesky::llt;
use faer::{MatMut, MatRef, Par};
use rand::RngExt;
use rand_distr::{Distribution, StandardNormal};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::lbfgsb;

const SQRT5: f64 = 2.236_067_977_499_79;
const LN_2PI: f64 = 1.837_877_066_409_345_5;
/// BoTorch's length-scale constraint (`> 0.025`) and an upper bound that keeps `r` finite.
const LENGTHSCALE_BOUNDS: (f64, f64) = (0.025, 1000.0);
const NOISE_MAX: f64 = 10.0;
const OUTPUTSCALE_BOUNDS: (f64, f64) = (0.01, 100.0);
const MEAN_BOUNDS: (f64, f64) = (-10.0, 10.0);
/// BoTorch's noise prior `LogNormal(−4, 1)`.
const NOISE_PRIOR: (f64, f64) = (-4.0, 1.0);
/// Optuna's noise prior `Gamma(1.1, 30)` (concentration, rate).
const NOISE_GAMMA: (f64, f64) = (1.1, 30.0);

/// The prior on the noise variance `σ²_n` (standardised units).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum NoisePrior {
    /// `LogNormal(−4, 1)`, BoTorch's `get_gaussian_likelihood_with_lognormal_prior`: keeps
    /// `σ²_n` near `e⁻⁴` (log density −48 at `10⁻⁶`), robust to noisy objectives.
    #[default]
    LogNormal,
    /// `Gamma(1.1, 30)`, Optuna's `GPSampler` (`optuna/_gp/prior.py`): mode `1/300`, but
    /// almost flat towards 0 (log density only 0.7 lower at `10⁻⁶` than at the mode), so a
    /// deterministic objective can be interpolated to its last digits.
    Gamma,
}

impl NoisePrior {
    /// `(log p(σ²_n), ∂/∂t)` at `t = ln σ²_n`, without the normalising constant.
    fn log_density(self, t: f64) -> (f64, f64) {
        match self {
            NoisePrior::LogNormal => {
                let (m, s2) = (NOISE_PRIOR.0, NOISE_PRIOR.1 * NOISE_PRIOR.1);
                (-t - (t - m).powi(2) / (2.0 * s2), -1.0 - (t - m) / s2)
            }
            NoisePrior::Gamma => {
                let (a, b) = NOISE_GAMMA;
                ((a - 1.0) * t - b * t.exp(), (a - 1.0) - b * t.exp())
            }
        }
    }
}

/// The kernel family (both with one length scale per dimension).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Kernel {
    /// Squared exponential `exp(−r²/2)`.
    Rbf,
    /// Matérn ν = 5/2, `(1 + √5 r + 5r²/3) exp(−√5 r)`.
    #[default]
    Matern52,
}

impl Kernel {
    /// `(κ(r), h)` where `∂κ/∂(r²) = −h/2`, so `∂k/∂ℓ_j = s·h·δ_j²/ℓ_j³` and
    /// `∂k/∂u_j = −s·h·(u_j − u'_j)/ℓ_j²`.
    #[inline]
    fn eval(self, r2: f64) -> (f64, f64) {
        match self {
            Kernel::Rbf => {
                let k = (-0.5 * r2).exp();
                (k, k)
            }
            Kernel::Matern52 => {
                let r = r2.sqrt();
                let e = (-SQRT5 * r).exp();
                ((1.0 + SQRT5 * r + 5.0 / 3.0 * r2) * e, 5.0 / 3.0 * (1.0 + SQRT5 * r) * e)
            }
        }
    }
}

/// Hyperparameters in the GP's internal units (unit cube, standardised outputs).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GpParams {
    /// Constant mean `c`.
    pub mean: f64,
    /// Output scale `s` (kernel variance).
    pub outputscale: f64,
    /// One length scale per input dimension.
    pub lengthscales: Vec<f64>,
    /// Noise variance `σ²_n`.
    pub noise: f64,
}

/// Options of [`Gp::fit`].
#[derive(Debug, Clone, PartialEq)]
pub struct FitOptions {
    /// Kernel family.
    pub kernel: Kernel,
    /// Learn the output scale (with a `Gamma(2, 0.15)` prior) instead of fixing it to 1.
    pub learn_outputscale: bool,
    /// Standardise the outputs with the unbiased standard deviation (divisor n − 1), as
    /// BoTorch's `Standardize` does, instead of the divisor n. With it and the defaults
    /// otherwise (RBF, fixed output scale, `LogNormal` noise prior), the fitted model is
    /// exactly BoTorch's `SingleTaskGP`.
    pub unbiased_std: bool,
    /// Lower bound of the noise variance (standardised units).
    pub noise_min: f64,
    /// L-BFGS starts (at least 1): warm start if given, prior mode, then prior draws.
    pub starts: usize,
    /// L-BFGS iterations per start.
    pub max_iters: usize,
    /// Prior on the noise variance.
    pub noise_prior: NoisePrior,
    /// Which coordinates are categorical (empty: none): their distance in the kernel is the
    /// indicator `[x_j ≠ x'_j]` with its own length scale (Optuna's `GPSampler`), so the
    /// category codes carry no order. Integer coordinates need no flag: they are distances
    /// on the unit scale like the reals.
    pub categorical: Vec<bool>,
}

impl Default for FitOptions {
    fn default() -> Self {
        Self {
            kernel: Kernel::Matern52,
            learn_outputscale: false,
            unbiased_std: false,
            noise_min: 1e-6,
            starts: 3,
            max_iters: 100,
            noise_prior: NoisePrior::LogNormal,
            categorical: Vec::new(),
        }
    }
}

/// Why a GP could not be built.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum GpError {
    /// Inputs of the wrong shape or non-finite values.
    #[error("bad input: {0}")]
    Input(String),
    /// The covariance stayed indefinite with the largest jitter.
    #[error("the covariance matrix is not positive definite even with jitter")]
    NotPositiveDefinite,
}

/// An exact GP conditioned on data (see the module doc).
#[derive(Debug, Clone)]
pub struct Gp {
    kernel: Kernel,
    /// Categorical coordinates (empty when there are none).
    cat: Vec<bool>,
    d: usize,
    lo: Vec<f64>,
    width: Vec<f64>,
    /// Training inputs in the unit cube, row-major `n × d`.
    u: Vec<f64>,
    /// Standardised outputs.
    z: Vec<f64>,
    y_mean: f64,
    y_std: f64,
    params: GpParams,
    /// Cholesky factor of `K`, column-major, lower triangle.
    l: Vec<f64>,
    /// `K⁻¹ (z − c)`.
    alpha: Vec<f64>,
    jitter: f64,
    lml: f64,
}

/// `r²` between two unit-cube points with inverse squared length scales `il2`; coordinates
/// flagged in `cat` (empty: none) are categorical and contribute the indicator `[a_j ≠ b_j]`
/// instead of `(a_j − b_j)²`.
#[inline]
fn r2(a: &[f64], b: &[f64], il2: &[f64], cat: &[bool]) -> f64 {
    let mut s = 0.0;
    if cat.is_empty() {
        for j in 0..a.len() {
            let t = a[j] - b[j];
            s += t * t * il2[j];
        }
    } else {
        for j in 0..a.len() {
            s += dist2(a[j], b[j], cat[j]) * il2[j];
        }
    }
    s
}

/// The per-coordinate squared distance of [`r2`].
#[inline]
fn dist2(a: f64, b: f64, cat: bool) -> f64 {
    if cat { if a == b { 0.0 } else { 1.0 } } else { (a - b) * (a - b) }
}

/// Cholesky in place (column-major, lower), sequential. `false` when not positive definite.
fn cholesky(a: &mut [f64], n: usize) -> bool {
    let params = Default::default();
    let mut buf =
        MemBuffer::new(llt::factor::cholesky_in_place_scratch::<f64>(n, Par::Seq, params));
    let m = MatMut::from_column_major_slice_mut(a, n, n);
    llt::factor::cholesky_in_place(m, Default::default(), Par::Seq, MemStack::new(&mut buf), params)
        .is_ok()
        && (0..n).all(|i| a[i + i * n] > 0.0 && a[i + i * n].is_finite())
}

/// Solves `L x = b` in place (`l` column-major lower `n × n`).
pub(crate) fn forward(l: &[f64], n: usize, b: &mut [f64]) {
    for j in 0..n {
        let v = b[j] / l[j + j * n];
        b[j] = v;
        let col = &l[j * n..(j + 1) * n];
        for i in j + 1..n {
            b[i] -= col[i] * v;
        }
    }
}

/// Solves `Lᵀ x = b` in place.
fn backward(l: &[f64], n: usize, b: &mut [f64]) {
    for i in (0..n).rev() {
        let col = &l[i * n..(i + 1) * n];
        let mut s = b[i];
        for j in i + 1..n {
            s -= col[j] * b[j];
        }
        b[i] = s / col[i];
    }
}

/// Factors `a` (a copy of K, column-major) with jitter escalation; returns the jitter used.
pub(crate) fn factor_with_jitter(k: &[f64], n: usize, scale: f64) -> Option<(Vec<f64>, f64)> {
    let mut jitter = 0.0;
    for step in 0..7 {
        let mut a = k.to_vec();
        for i in 0..n {
            a[i + i * n] += jitter;
        }
        if cholesky(&mut a, n) {
            return Some((a, jitter));
        }
        jitter = scale * 10f64.powi(step - 9);
    }
    None
}

struct Data<'a> {
    kernel: Kernel,
    noise_prior: NoisePrior,
    /// Categorical coordinates (empty: none), see [`r2`].
    cat: &'a [bool],
    d: usize,
    n: usize,
    u: &'a [f64],
    z: &'a [f64],
}

/// Negative log posterior / n and its gradient in the optimiser's coordinates
/// `[c, ln ℓ_1.. ln ℓ_d, ln σ²_n, (ln s)]`; `None` when K is not positive definite.
fn neg_log_posterior(data: &Data, theta: &[f64], grad: &mut [f64], learn_s: bool) -> f64 {
    let (d, n) = (data.d, data.n);
    let c = theta[0];
    let ls: Vec<f64> = theta[1..=d].iter().map(|t| t.exp()).collect();
    let il2: Vec<f64> = ls.iter().map(|l| 1.0 / (l * l)).collect();
    let noise = theta[d + 1].exp();
    let s = if learn_s { theta[d + 2].exp() } else { 1.0 };
    // K (column-major, lower triangle) and h per pair.
    let mut k = vec![0.0; n * n];
    let mut h = vec![0.0; n * n];
    for j in 0..n {
        let uj = &data.u[j * d..(j + 1) * d];
        k[j + j * n] = s + noise;
        for i in j + 1..n {
            let (kv, hv) = data.kernel.eval(r2(&data.u[i * d..(i + 1) * d], uj, &il2, data.cat));
            k[i + j * n] = s * kv;
            h[i + j * n] = s * hv;
        }
    }
    let kf_lower = k.clone();
    if !cholesky(&mut k, n) {
        return f64::INFINITY;
    }
    let l = k;
    let mut alpha: Vec<f64> = data.z.iter().map(|z| z - c).collect();
    let r = alpha.clone();
    forward(&l, n, &mut alpha);
    backward(&l, n, &mut alpha);
    let mut lml =
        -0.5 * r.iter().zip(&alpha).map(|(a, b)| a * b).sum::<f64>() - 0.5 * n as f64 * LN_2PI;
    for i in 0..n {
        lml -= l[i + i * n].ln();
    }
    // K⁻¹ (lower triangle) for the trace terms.
    let mut kinv = vec![0.0; n * n];
    {
        let mut buf = MemBuffer::new(llt::inverse::inverse_scratch::<f64>(n, Par::Seq));
        llt::inverse::inverse(
            MatMut::from_column_major_slice_mut(&mut kinv, n, n),
            MatRef::from_column_major_slice(&l, n, n),
            Par::Seq,
            MemStack::new(&mut buf),
        );
    }
    let mut g_ls = vec![0.0; d];
    let mut g_s = 0.0;
    let mut tr_w = 0.0;
    for j in 0..n {
        tr_w += alpha[j] * alpha[j] - kinv[j + j * n];
        let uj = &data.u[j * d..(j + 1) * d];
        for i in j + 1..n {
            let w = alpha[i] * alpha[j] - kinv[i + j * n];
            g_s += w * kf_lower[i + j * n];
            let wh = w * h[i + j * n];
            let ui = &data.u[i * d..(i + 1) * d];
            if data.cat.is_empty() {
                for q in 0..d {
                    let t = ui[q] - uj[q];
                    g_ls[q] += wh * t * t;
                }
            } else {
                for q in 0..d {
                    g_ls[q] += wh * dist2(ui[q], uj[q], data.cat[q]);
                }
            }
        }
    }
    // ∂ log p / ∂ ln ℓ_q = Σ_{i>j} W_ij s h_ij δ²/ℓ_q².
    let mut logp = lml;
    grad[0] = alpha.iter().sum::<f64>();
    let (mu, sig) = (2f64.sqrt() + 0.5 * (d as f64).ln(), 3f64.sqrt());
    for q in 0..d {
        grad[1 + q] = g_ls[q] * il2[q];
        let t = theta[1 + q];
        logp += -t - (t - mu).powi(2) / (2.0 * sig * sig);
        grad[1 + q] += -1.0 - (t - mu) / (sig * sig);
    }
    grad[d + 1] = 0.5 * noise * tr_w;
    let (lp, dlp) = data.noise_prior.log_density(theta[d + 1]);
    logp += lp;
    grad[d + 1] += dlp;
    if learn_s {
        // ∂/∂ ln s: Σ_{i>j} W_ij Kf_ij + ½ s Σ_i W_ii; Gamma(2, 0.15): (2−1) ln s − 0.15 s.
        grad[d + 2] = g_s + 0.5 * s * tr_w + 1.0 - 0.15 * s;
        logp += theta[d + 2] - 0.15 * s;
    }
    let scale = -1.0 / n as f64;
    grad.iter_mut().for_each(|g| *g *= scale);
    logp * scale
}

impl Gp {
    fn check_data(lo: &[f64], hi: &[f64], x: &[Vec<f64>], y: &[f64]) -> Result<(), GpError> {
        let d = lo.len();
        if d == 0 || hi.len() != d {
            return Err(GpError::Input("bounds must have the same, non-zero length".into()));
        }
        if x.is_empty() || x.len() != y.len() {
            return Err(GpError::Input(format!("{} inputs but {} outputs", x.len(), y.len())));
        }
        if x.iter().any(|r| r.len() != d || r.iter().any(|v| !v.is_finite())) {
            return Err(GpError::Input(format!("every input needs {d} finite coordinates")));
        }
        if y.iter().any(|v| !v.is_finite()) {
            return Err(GpError::Input("outputs must be finite".into()));
        }
        Ok(())
    }

    /// Scales a point into the unit cube of the bounds.
    fn to_unit(&self, x: &[f64], out: &mut [f64]) {
        for j in 0..self.d {
            out[j] = if self.width[j] > 0.0 { (x[j] - self.lo[j]) / self.width[j] } else { 0.0 };
        }
    }

    fn prepare(
        kernel: Kernel,
        lo: &[f64],
        hi: &[f64],
        x: &[Vec<f64>],
        y: &[f64],
        params: GpParams,
        unbiased: bool,
    ) -> Result<Self, GpError> {
        Self::check_data(lo, hi, x, y)?;
        let d = lo.len();
        let n = y.len() as f64;
        let y_mean = y.iter().sum::<f64>() / n;
        let divisor = if unbiased && n > 1.0 { n - 1.0 } else { n };
        let var = y.iter().map(|v| (v - y_mean).powi(2)).sum::<f64>() / divisor;
        let y_std = if var > 0.0 && var.is_finite() { var.sqrt() } else { 1.0 };
        let width: Vec<f64> = lo.iter().zip(hi).map(|(l, h)| h - l).collect();
        let mut gp = Self {
            kernel,
            cat: Vec::new(),
            d,
            lo: lo.to_vec(),
            width,
            u: vec![0.0; x.len() * d],
            z: y.iter().map(|v| (v - y_mean) / y_std).collect(),
            y_mean,
            y_std,
            params,
            l: Vec::new(),
            alpha: Vec::new(),
            jitter: 0.0,
            lml: f64::NAN,
        };
        for (i, r) in x.iter().enumerate() {
            let mut row = vec![0.0; d];
            gp.to_unit(r, &mut row);
            gp.u[i * d..(i + 1) * d].copy_from_slice(&row);
        }
        Ok(gp)
    }

    /// A GP with fixed hyperparameters `params` (internal units), conditioned on `(x, y)` with
    /// inputs scaled by the box `[lo, hi]`.
    pub fn new(
        kernel: Kernel,
        lo: &[f64],
        hi: &[f64],
        x: &[Vec<f64>],
        y: &[f64],
        params: GpParams,
    ) -> Result<Self, GpError> {
        if params.lengthscales.len() != lo.len()
            || params.lengthscales.iter().any(|l| !(*l > 0.0 && l.is_finite()))
            || !(params.outputscale > 0.0 && params.noise >= 0.0 && params.mean.is_finite())
        {
            return Err(GpError::Input("hyperparameters out of range".into()));
        }
        let mut gp = Self::prepare(kernel, lo, hi, x, y, params, false)?;
        gp.condition()?;
        Ok(gp)
    }

    /// Fits the hyperparameters by MAP (see the module doc) and conditions on `(x, y)`.
    /// `warm` (a previous fit's [`Gp::params`]) is the first start when given; prior draws for
    /// further starts come from `rng`.
    pub fn fit(
        lo: &[f64],
        hi: &[f64],
        x: &[Vec<f64>],
        y: &[f64],
        opts: &FitOptions,
        warm: Option<&GpParams>,
        rng: &mut Rng,
    ) -> Result<Self, GpError> {
        let d = lo.len();
        let init =
            GpParams { mean: 0.0, outputscale: 1.0, lengthscales: vec![1.0; d], noise: 1e-2 };
        let mut gp = Self::prepare(opts.kernel, lo, hi, x, y, init, opts.unbiased_std)?;
        if opts.categorical.iter().any(|c| *c) {
            if opts.categorical.len() != d {
                return Err(GpError::Input(format!(
                    "{} categorical flags for {d} coordinates",
                    opts.categorical.len()
                )));
            }
            gp.cat = opts.categorical.clone();
        }
        let learn_s = opts.learn_outputscale;
        let np = d + 2 + learn_s as usize;
        let mut blo = vec![MEAN_BOUNDS.0];
        let mut bhi = vec![MEAN_BOUNDS.1];
        blo.extend(std::iter::repeat_n(LENGTHSCALE_BOUNDS.0.ln(), d));
        bhi.extend(std::iter::repeat_n(LENGTHSCALE_BOUNDS.1.ln(), d));
        let noise_min = opts.noise_min.max(1e-12);
        blo.push(noise_min.ln());
        bhi.push(NOISE_MAX.ln().max(noise_min.ln()));
        if learn_s {
            blo.push(OUTPUTSCALE_BOUNDS.0.ln());
            bhi.push(OUTPUTSCALE_BOUNDS.1.ln());
        }
        let (mu, sig) = (2f64.sqrt() + 0.5 * (d as f64).ln(), 3f64.sqrt());
        let to_theta = |p: &GpParams| {
            let mut t = vec![p.mean];
            t.extend(p.lengthscales.iter().map(|l| l.ln()));
            t.push(p.noise.max(1e-300).ln());
            if learn_s {
                t.push(p.outputscale.ln());
            }
            t
        };
        let mut starts: Vec<Vec<f64>> = Vec::new();
        if let Some(w) = warm.filter(|w| w.lengthscales.len() == d) {
            starts.push(to_theta(w));
        }
        // Prior modes: ln ℓ = μ − σ², ln σ²_n = −4 − 1, s = mode of Gamma(2, 0.15) clipped.
        let mut mode = vec![0.0];
        mode.extend(std::iter::repeat_n(mu - sig * sig, d));
        mode.push(NOISE_PRIOR.0 - NOISE_PRIOR.1 * NOISE_PRIOR.1);
        if learn_s {
            mode.push(1.0f64.ln());
        }
        starts.push(mode);
        while starts.len() < opts.starts.max(1) {
            let mut t = vec![0.0];
            for _ in 0..d {
                let e: f64 = rng.sample(StandardNormal);
                t.push(mu - sig * sig + e);
            }
            let e: f64 = rng.sample(StandardNormal);
            t.push(NOISE_PRIOR.0 - 1.0 + e);
            if learn_s {
                t.push(rng.random_range(-1.0..1.0));
            }
            starts.push(t);
        }
        starts.truncate(opts.starts.max(1));
        let data = Data {
            kernel: opts.kernel,
            noise_prior: opts.noise_prior,
            cat: &gp.cat,
            d,
            n: y.len(),
            u: &gp.u,
            z: &gp.z,
        };
        let lopts = lbfgsb::Options {
            max_iters: opts.max_iters,
            pgtol: 1e-5,
            ftol: 1e-9,
            ..Default::default()
        };
        // The starts are independent: run them in parallel, then pick the best in start order
        // (first wins ties), so the fit is the same at any thread count.
        let runs: Vec<lbfgsb::Minimum> = starts
            .par_iter()
            .map(|s0| {
                debug_assert_eq!(s0.len(), np);
                lbfgsb::minimize(
                    |t, g| neg_log_posterior(&data, t, g, learn_s),
                    s0,
                    &blo,
                    &bhi,
                    &lopts,
                )
            })
            .collect();
        let mut best: Option<lbfgsb::Minimum> = None;
        for m in runs {
            if m.f.is_finite() && best.as_ref().is_none_or(|b| m.f < b.f) {
                best = Some(m);
            }
        }
        let theta = match best {
            Some(b) => b.x,
            None => {
                let mut t = starts.last().cloned().unwrap_or_default();
                t.iter_mut().zip(blo.iter().zip(&bhi)).for_each(|(v, (l, h))| *v = v.clamp(*l, *h));
                t
            }
        };
        gp.params = GpParams {
            mean: theta[0],
            outputscale: if learn_s { theta[d + 2].exp() } else { 1.0 },
            lengthscales: theta[1..=d].iter().map(|t| t.exp()).collect(),
            noise: theta[d + 1].exp(),
        };
        gp.condition()?;
        Ok(gp)
    }

    /// Factors K for the current parameters and solves for α.
    fn condition(&mut self) -> Result<(), GpError> {
        let (n, d) = (self.z.len(), self.d);
        let p = &self.params;
        let il2: Vec<f64> = p.lengthscales.iter().map(|l| 1.0 / (l * l)).collect();
        let mut k = vec![0.0; n * n];
        for j in 0..n {
            let uj = &self.u[j * d..(j + 1) * d];
            k[j + j * n] = p.outputscale + p.noise;
            for i in j + 1..n {
                let (kv, _) =
                    self.kernel.eval(r2(&self.u[i * d..(i + 1) * d], uj, &il2, &self.cat));
                k[i + j * n] = p.outputscale * kv;
            }
        }
        let (l, jitter) =
            factor_with_jitter(&k, n, p.outputscale).ok_or(GpError::NotPositiveDefinite)?;
        let mut alpha: Vec<f64> = self.z.iter().map(|z| z - p.mean).collect();
        let r = alpha.clone();
        forward(&l, n, &mut alpha);
        backward(&l, n, &mut alpha);
        let mut lml =
            -0.5 * r.iter().zip(&alpha).map(|(a, b)| a * b).sum::<f64>() - 0.5 * n as f64 * LN_2PI;
        for i in 0..n {
            lml -= l[i + i * n].ln();
        }
        self.l = l;
        self.alpha = alpha;
        self.jitter = jitter;
        self.lml = lml;
        Ok(())
    }

    /// Hyperparameters (internal units: unit cube, standardised outputs).
    pub fn params(&self) -> &GpParams {
        &self.params
    }

    /// Kernel family.
    pub fn kernel(&self) -> Kernel {
        self.kernel
    }

    /// Number of training points.
    pub fn len(&self) -> usize {
        self.z.len()
    }

    /// Whether the GP has no training points (never true for a built GP).
    pub fn is_empty(&self) -> bool {
        self.z.is_empty()
    }

    /// Jitter added to the diagonal of K to factor it (0 when none was needed).
    pub fn jitter(&self) -> f64 {
        self.jitter
    }

    /// Log marginal likelihood of the standardised outputs (see the module doc).
    pub fn log_marginal_likelihood(&self) -> f64 {
        self.lml
    }

    /// `(ȳ, s_y)`: the output standardisation.
    pub fn standardisation(&self) -> (f64, f64) {
        (self.y_mean, self.y_std)
    }

    /// Posterior mean and latent variance (without the noise) at `x`, in the units of `y`.
    pub fn predict(&self, x: &[f64]) -> (f64, f64) {
        let mut u = vec![0.0; self.d];
        self.to_unit(x, &mut u);
        let (m, v) = self.predict_unit(&u, None);
        (self.y_mean + self.y_std * m, v * self.y_std * self.y_std)
    }

    /// The noise variance in the units of `y` (add it to [`Gp::predict`]'s variance for the
    /// variance of a new observation).
    pub fn noise_variance(&self) -> f64 {
        self.params.noise * self.y_std * self.y_std
    }

    /// Mean and latent variance in standardised units at unit-cube point `u`; with `grad`,
    /// also `(∂μ/∂u, ∂σ²/∂u)` written into the two slices.
    pub(crate) fn predict_unit(
        &self,
        u: &[f64],
        grad: Option<(&mut [f64], &mut [f64])>,
    ) -> (f64, f64) {
        let (n, d) = (self.z.len(), self.d);
        let p = &self.params;
        let il2: Vec<f64> = p.lengthscales.iter().map(|l| 1.0 / (l * l)).collect();
        let mut k = vec![0.0; n];
        let mut h = vec![0.0; n];
        let mut m = p.mean;
        for i in 0..n {
            let (kv, hv) = self.kernel.eval(r2(u, &self.u[i * d..(i + 1) * d], &il2, &self.cat));
            k[i] = p.outputscale * kv;
            h[i] = p.outputscale * hv;
            m += k[i] * self.alpha[i];
        }
        let mut w = k;
        forward(&self.l, n, &mut w);
        let v = (p.outputscale - w.iter().map(|t| t * t).sum::<f64>()).max(1e-12 * p.outputscale);
        if let Some((dm, dv)) = grad {
            backward(&self.l, n, &mut w);
            dm.iter_mut().for_each(|g| *g = 0.0);
            dv.iter_mut().for_each(|g| *g = 0.0);
            for i in 0..n {
                let xi = &self.u[i * d..(i + 1) * d];
                let (a, b) = (self.alpha[i] * h[i], w[i] * h[i]);
                for j in 0..d {
                    // ∂k/∂u_j = −h (u_j − x_ij)/ℓ_j² (0 for a categorical coordinate: the
                    // indicator is flat, and the search never moves it continuously).
                    if self.is_cat(j) {
                        continue;
                    }
                    let t = (u[j] - xi[j]) * il2[j];
                    dm[j] -= a * t;
                    dv[j] += 2.0 * b * t;
                }
            }
        }
        (m, v)
    }

    /// Whether coordinate `j` is categorical.
    #[inline]
    fn is_cat(&self, j: usize) -> bool {
        self.cat.get(j).copied().unwrap_or(false)
    }

    /// `ν = σ²_n + jitter`: what the factored matrix adds to the latent kernel's diagonal,
    /// `K_y = K_f + ν I`.
    pub(crate) fn diag_noise(&self) -> f64 {
        self.params.noise + self.jitter
    }

    /// `K_y⁻¹ k(U, u)` at unit-cube `u`; with `dk` (`d` vectors of length `n`), also
    /// `K_y⁻¹ ∂k(U, u)/∂u_j` into `dk[j]`. Since `K_f K_y⁻¹ = I − ν K_y⁻¹`, the posterior
    /// covariance between training point `i` and `u` is `ν (K_y⁻¹ k(U, u))_i`.
    pub(crate) fn solve_cross(&self, u: &[f64], dk: Option<&mut [Vec<f64>]>) -> Vec<f64> {
        let (n, d) = (self.z.len(), self.d);
        let p = &self.params;
        let il2: Vec<f64> = p.lengthscales.iter().map(|l| 1.0 / (l * l)).collect();
        let mut k = vec![0.0; n];
        let mut h = vec![0.0; n];
        for i in 0..n {
            let (kv, hv) = self.kernel.eval(r2(u, &self.u[i * d..(i + 1) * d], &il2, &self.cat));
            k[i] = p.outputscale * kv;
            h[i] = p.outputscale * hv;
        }
        forward(&self.l, n, &mut k);
        backward(&self.l, n, &mut k);
        if let Some(dk) = dk {
            for (j, col) in dk.iter_mut().enumerate() {
                col.resize(n, 0.0);
                let cat = self.is_cat(j);
                for i in 0..n {
                    col[i] = if cat { 0.0 } else { -h[i] * (u[j] - self.u[i * d + j]) * il2[j] };
                }
                forward(&self.l, n, col);
                backward(&self.l, n, col);
            }
        }
        k
    }

    /// Posterior mean and latent covariance (column-major `m × m`, standardised units) at the
    /// training points `idx`: `μ_i = z_i − ν α_i`, `Σ = ν I − ν² (K_y⁻¹)_{idx, idx}`.
    pub(crate) fn train_posterior(&self, idx: &[usize]) -> (Vec<f64>, Vec<f64>) {
        let n = self.z.len();
        let nu = self.diag_noise();
        let m = idx.len();
        let mean = idx.iter().map(|&i| self.z[i] - nu * self.alpha[i]).collect();
        let mut cov = vec![0.0; m * m];
        for (b, &ib) in idx.iter().enumerate() {
            let mut e = vec![0.0; n];
            e[ib] = 1.0;
            forward(&self.l, n, &mut e);
            backward(&self.l, n, &mut e);
            for (a, &ia) in idx.iter().enumerate() {
                cov[a + b * m] = -nu * nu * e[ia] + if a == b { nu } else { 0.0 };
            }
        }
        (mean, cov)
    }

    /// Prior covariance `k(a, b)` of two unit-cube points.
    pub(crate) fn prior_cov(&self, a: &[f64], b: &[f64]) -> f64 {
        let il2: Vec<f64> = self.params.lengthscales.iter().map(|l| 1.0 / (l * l)).collect();
        self.params.outputscale * self.kernel.eval(r2(a, b, &il2, &self.cat)).0
    }

    /// Posterior mean at unit-cube `u` and `L⁻¹ k(U, u)`: the posterior covariance of two
    /// points is `k(a, b) − v_aᵀ v_b`.
    pub(crate) fn whiten(&self, u: &[f64]) -> (f64, Vec<f64>) {
        let (n, d) = (self.z.len(), self.d);
        let p = &self.params;
        let il2: Vec<f64> = p.lengthscales.iter().map(|l| 1.0 / (l * l)).collect();
        let mut m = p.mean;
        let mut v: Vec<f64> = (0..n)
            .map(|i| {
                p.outputscale
                    * self.kernel.eval(r2(u, &self.u[i * d..(i + 1) * d], &il2, &self.cat)).0
            })
            .collect();
        for (vi, a) in v.iter().zip(&self.alpha) {
            m += vi * a;
        }
        forward(&self.l, n, &mut v);
        (m, v)
    }

    /// Training inputs in the unit cube, row-major.
    pub(crate) fn train_unit(&self) -> &[f64] {
        &self.u
    }

    /// Minimum of the standardised training outputs.
    pub(crate) fn z_min(&self) -> f64 {
        self.z.iter().copied().fold(f64::INFINITY, f64::min)
    }

    /// The same GP with one more training point at unit-cube `u` with standardised output `z`
    /// (a fantasy: hyperparameters and standardisation unchanged). The factor grows by one row
    /// (`l = L⁻¹k`, `λ = √(s + σ²_n − ‖l‖²)`), O(n²).
    pub(crate) fn with_fantasy(&self, u: &[f64], z: f64) -> Result<Self, GpError> {
        let (n, d) = (self.z.len(), self.d);
        let p = &self.params;
        let il2: Vec<f64> = p.lengthscales.iter().map(|l| 1.0 / (l * l)).collect();
        let mut k: Vec<f64> = (0..n)
            .map(|i| {
                p.outputscale
                    * self.kernel.eval(r2(u, &self.u[i * d..(i + 1) * d], &il2, &self.cat)).0
            })
            .collect();
        forward(&self.l, n, &mut k);
        let diag = p.outputscale + p.noise + self.jitter - k.iter().map(|t| t * t).sum::<f64>();
        let lam = diag.max(1e-10 * p.outputscale).sqrt();
        let m = n + 1;
        let mut l = vec![0.0; m * m];
        for j in 0..n {
            l[j * m..j * m + n].copy_from_slice(&self.l[j * n..(j + 1) * n]);
            l[n + j * m] = k[j];
        }
        l[n + n * m] = lam;
        let mut g = self.clone();
        g.u.extend_from_slice(u);
        g.z.push(z);
        let mut alpha: Vec<f64> = g.z.iter().map(|v| v - p.mean).collect();
        forward(&l, m, &mut alpha);
        backward(&l, m, &mut alpha);
        g.l = l;
        g.alpha = alpha;
        g.lml = f64::NAN;
        Ok(g)
    }

    /// `count` joint draws of the posterior of the latent function at `xs` (units of `y`),
    /// with standard normals from `rng`; one `Vec` of length `xs.len()` per draw.
    pub fn sample(
        &self,
        xs: &[Vec<f64>],
        count: usize,
        rng: &mut Rng,
    ) -> Result<Vec<Vec<f64>>, GpError> {
        let (d, m) = (self.d, xs.len());
        if xs.iter().any(|x| x.len() != d) {
            return Err(GpError::Input(format!("every point needs {d} coordinates")));
        }
        let mut us = vec![0.0; m * d];
        for (a, x) in xs.iter().enumerate() {
            self.to_unit(x, &mut us[a * d..(a + 1) * d]);
        }
        let draws = self.sample_unit(&us, count, rng)?;
        Ok(draws
            .chunks(m.max(1))
            .take(count)
            .map(|c| c.iter().map(|f| self.y_mean + self.y_std * f).collect())
            .collect())
    }

    /// `count` joint posterior draws of the latent function in standardised units at the `m`
    /// unit-cube points `us` (row-major `m × d`), draw `k` at `[k m, (k + 1) m)`.
    ///
    /// `f = μ + L_c E` with `L_c L_cᵀ = K_cc − Vᵀ V`, `V = L⁻¹ K_xc` (R&W eq. 2.24), the
    /// factor with jitter escalation; `E` is `m × count` standard normals drawn column by
    /// column from `rng`. The products and the triangular solve use faer, sequentially (the
    /// result does not depend on the thread count). O(n² m + n m² + m³).
    pub(crate) fn sample_unit(
        &self,
        us: &[f64],
        count: usize,
        rng: &mut Rng,
    ) -> Result<Vec<f64>, GpError> {
        let (n, d) = (self.z.len(), self.d);
        let m = us.len() / d;
        if m == 0 || count == 0 {
            return Ok(Vec::new());
        }
        let p = &self.params;
        let il2: Vec<f64> = p.lengthscales.iter().map(|l| 1.0 / (l * l)).collect();
        let mut mean = vec![p.mean; m];
        let mut v = vec![0.0; n * m]; // column a: k(U, u_a), then L⁻¹ k(U, u_a)
        for a in 0..m {
            let ua = &us[a * d..(a + 1) * d];
            let col = &mut v[a * n..(a + 1) * n];
            for (i, c) in col.iter_mut().enumerate() {
                *c = p.outputscale
                    * self.kernel.eval(r2(ua, &self.u[i * d..(i + 1) * d], &il2, &self.cat)).0;
                mean[a] += *c * self.alpha[i];
            }
        }
        faer::linalg::triangular_solve::solve_lower_triangular_in_place(
            MatRef::from_column_major_slice(&self.l, n, n),
            MatMut::from_column_major_slice_mut(&mut v, n, m),
            Par::Seq,
        );
        let mut cov = vec![0.0; m * m];
        for b in 0..m {
            let ub = &us[b * d..(b + 1) * d];
            cov[b + b * m] = p.outputscale;
            for a in b + 1..m {
                cov[a + b * m] = p.outputscale
                    * self.kernel.eval(r2(&us[a * d..(a + 1) * d], ub, &il2, &self.cat)).0;
            }
        }
        let vr = MatRef::from_column_major_slice(&v, n, m);
        faer::linalg::matmul::triangular::matmul(
            MatMut::from_column_major_slice_mut(&mut cov, m, m),
            faer::linalg::matmul::triangular::BlockStructure::TriangularLower,
            faer::Accum::Add,
            vr.transpose(),
            faer::linalg::matmul::triangular::BlockStructure::Rectangular,
            vr,
            faer::linalg::matmul::triangular::BlockStructure::Rectangular,
            -1.0,
            Par::Seq,
        );
        let (mut lc, _) =
            factor_with_jitter(&cov, m, p.outputscale).ok_or(GpError::NotPositiveDefinite)?;
        // Zero the strict upper triangle (the factorisation leaves the input there).
        for b in 0..m {
            for a in 0..b {
                lc[a + b * m] = 0.0;
            }
        }
        let e: Vec<f64> = (0..m * count).map(|_| StandardNormal.sample(rng)).collect();
        let mut out: Vec<f64> = (0..count).flat_map(|_| mean.iter().copied()).collect();
        faer::linalg::matmul::matmul(
            MatMut::from_column_major_slice_mut(&mut out, m, count),
            faer::Accum::Add,
            MatRef::from_column_major_slice(&lc, m, m),
            MatRef::from_column_major_slice(&e, m, count),
            1.0,
            Par::Seq,
        );
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use evoforge_core::stream;

    fn data(n: usize, d: usize, seed: u64) -> (Vec<Vec<f64>>, Vec<f64>) {
        let mut rng = stream(seed, &[5]);
        let x: Vec<Vec<f64>> =
            (0..n).map(|_| (0..d).map(|_| rng.random_range(-2.0..3.0)).collect()).collect();
        let y = x.iter().map(|r| r.iter().map(|v| (1.3 * v).sin() + 0.1 * v * v).sum()).collect();
        (x, y)
    }

    #[test]
    fn gradient_matches_finite_differences() {
        let (mut x, y) = data(15, 3, 1);
        // Coordinate 1 takes three values only: categorical in the third case.
        for (i, r) in x.iter_mut().enumerate() {
            r[1] = [-2.0, 0.5, 3.0][i % 3];
        }
        let cat = [false, true, false];
        for (kernel, learn_s, cat, noise_prior) in [
            (Kernel::Rbf, false, &[][..], NoisePrior::LogNormal),
            (Kernel::Matern52, true, &[][..], NoisePrior::Gamma),
            (Kernel::Matern52, false, &cat[..], NoisePrior::LogNormal),
        ] {
            let gp = Gp::prepare(
                kernel,
                &[-2.0; 3],
                &[3.0; 3],
                &x,
                &y,
                GpParams { mean: 0.0, outputscale: 1.0, lengthscales: vec![1.0; 3], noise: 0.1 },
                false,
            )
            .unwrap();
            let data = Data { kernel, noise_prior, cat, d: 3, n: 15, u: &gp.u, z: &gp.z };
            let mut theta = vec![0.2, -0.5, 0.1, 0.4, -3.0];
            if learn_s {
                theta.push(0.3);
            }
            let mut g = vec![0.0; theta.len()];
            neg_log_posterior(&data, &theta, &mut g, learn_s);
            for q in 0..theta.len() {
                let e = 1e-6;
                let mut tp = theta.clone();
                tp[q] += e;
                let mut tm = theta.clone();
                tm[q] -= e;
                let mut gg = vec![0.0; theta.len()];
                let fd = (neg_log_posterior(&data, &tp, &mut gg, learn_s)
                    - neg_log_posterior(&data, &tm, &mut gg, learn_s))
                    / (2.0 * e);
                assert!(
                    (fd - g[q]).abs() < 1e-6 * (1.0 + fd.abs()),
                    "{kernel:?} q={q} {fd} {}",
                    g[q]
                );
            }
        }
    }

    #[test]
    fn prediction_gradient_matches_finite_differences() {
        let (x, y) = data(12, 2, 2);
        let mut rng = stream(1, &[2]);
        for kernel in [Kernel::Rbf, Kernel::Matern52] {
            let opts = FitOptions { kernel, ..Default::default() };
            let gp = Gp::fit(&[-2.0; 2], &[3.0; 2], &x, &y, &opts, None, &mut rng).unwrap();
            let u = [0.31, 0.72];
            let (mut dm, mut dv) = ([0.0; 2], [0.0; 2]);
            gp.predict_unit(&u, Some((&mut dm, &mut dv)));
            for j in 0..2 {
                let e = 1e-6;
                let mut up = u;
                up[j] += e;
                let mut um = u;
                um[j] -= e;
                let (mp, vp) = gp.predict_unit(&up, None);
                let (mm, vm) = gp.predict_unit(&um, None);
                assert!(((mp - mm) / (2.0 * e) - dm[j]).abs() < 1e-6, "{kernel:?}");
                assert!(((vp - vm) / (2.0 * e) - dv[j]).abs() < 1e-6, "{kernel:?}");
            }
        }
    }

    #[test]
    fn fit_interpolates_and_fantasy_matches_refit() {
        let (x, y) = data(30, 2, 3);
        let mut rng = stream(1, &[3]);
        let gp =
            Gp::fit(&[-2.0; 2], &[3.0; 2], &x, &y, &FitOptions::default(), None, &mut rng).unwrap();
        for (xi, yi) in x.iter().zip(&y).take(5) {
            let (m, v) = gp.predict(xi);
            assert!((m - yi).abs() < 0.05, "{m} {yi}");
            assert!(v < 0.01);
        }
        // MAP beats the prior mode start on the posterior objective: LML is sensible.
        assert!(gp.log_marginal_likelihood().is_finite());
        // A fantasy point equals conditioning from scratch with the same hyperparameters and
        // standardisation.
        let u = [0.4, 0.6];
        let f = gp.with_fantasy(&u, 0.3).unwrap();
        let mut g2 = gp.clone();
        g2.u.extend_from_slice(&u);
        g2.z.push(0.3);
        g2.condition().unwrap();
        let (a, b) = (f.predict_unit(&[0.1, 0.9], None), g2.predict_unit(&[0.1, 0.9], None));
        assert!((a.0 - b.0).abs() < 1e-9 && (a.1 - b.1).abs() < 1e-9, "{a:?} {b:?}");
    }

    #[test]
    fn samples_have_the_posterior_moments_and_duplicates_need_jitter() {
        let (x, y) = data(8, 1, 4);
        let params = GpParams { mean: 0.0, outputscale: 1.0, lengthscales: vec![0.3], noise: 1e-4 };
        let gp = Gp::new(Kernel::Rbf, &[-2.0], &[3.0], &x, &y, params.clone()).unwrap();
        let xs = vec![vec![0.5], vec![1.5]];
        let draws = gp.sample(&xs, 4000, &mut stream(9, &[1])).unwrap();
        let (m, v) = gp.predict(&xs[0]);
        let mean = draws.iter().map(|d| d[0]).sum::<f64>() / 4000.0;
        let var = draws.iter().map(|d| (d[0] - mean).powi(2)).sum::<f64>() / 4000.0;
        assert!((mean - m).abs() < 4.0 * (v / 4000.0).sqrt() + 1e-9, "{mean} {m}");
        assert!((var / v - 1.0).abs() < 0.1, "{var} {v}");
        // Exact duplicates with zero noise: the factor needs jitter, and still works.
        let xd = vec![vec![0.1], vec![0.1], vec![0.2]];
        let p0 = GpParams { noise: 0.0, ..params };
        let gp = Gp::new(Kernel::Rbf, &[-2.0], &[3.0], &xd, &[1.0, 1.0, 2.0], p0).unwrap();
        assert!(gp.jitter() > 0.0);
        assert!(gp.predict(&[0.15]).0.is_finite());
    }
}
