//! The 24 noiseless BBOB functions, as defined by Hansen, Finck, Ros and Auger (2009),
//! "Real-parameter black-box optimization benchmarking 2009: noiseless functions definitions"
//! (INRIA RR-6829), and as implemented by COCO (`code-experiments/src`: `suite_bbob.c`, the
//! `f_*.c` files, the `transform_vars_*` / `transform_obj_*` wrappers and
//! `suite_bbob_legacy_code.c`).
//!
//! The reference is COCO, not the paper: where the two disagree (the extra `|x_opt|` on the even
//! coordinates of f4, the rotation seed of f12's optimum, the 4.2096874633 versus 4.2096874637 of
//! f20, the boundary handling of f5) the values here follow COCO, because those are the numbers
//! every published BBOB result was measured on. `tests/bbob_coco.rs` checks them against values
//! computed by COCO 2.8.2.
//!
//! Notation as in the paper: `z` is the transformed point fed to the raw function, `T_osz` the
//! oscillation (section 0.2, eq. for `T_osz`), `T_asy^β` the asymmetric map, `Λ^α` the diagonal
//! conditioning `α^{½·i/(d−1)}`, `R` and `Q` the two rotations, `f_pen` the boundary penalty
//! `Σ max(0, |x_i| − 5)²`.
//!
//! Everything that depends only on (function, dimension, instance) — `x_opt`, `f_opt`, rotations,
//! their products with the conditioning matrices, Gallagher's peaks — is computed once in
//! [`Bbob::new`]; [`Bbob::eval`] only does the per-point work, using a per-thread scratch buffer
//! instead of allocating.

mod legacy;

use std::cell::RefCell;
use std::f64::consts::PI;

use evoforge_core::{
    ConfigError, Describe, EvalCtx, EvalError, Evaluation, ParamDoc, Problem, Space,
};
use serde::{Deserialize, Serialize};

/// Short name of BBOB function `f` (1..=24), as COCO and the paper name them; `"unknown"`
/// outside that range.
pub fn bbob_function_name(f: u32) -> &'static str {
    match f {
        1 => "sphere",
        2 => "ellipsoid",
        3 => "rastrigin",
        4 => "bueche_rastrigin",
        5 => "linear_slope",
        6 => "attractive_sector",
        7 => "step_ellipsoid",
        8 => "rosenbrock",
        9 => "rosenbrock_rotated",
        10 => "ellipsoid_rotated",
        11 => "discus",
        12 => "bent_cigar",
        13 => "sharp_ridge",
        14 => "different_powers",
        15 => "rastrigin_rotated",
        16 => "weierstrass",
        17 => "schaffers_f7",
        18 => "schaffers_f7_ill_conditioned",
        19 => "griewank_rosenbrock",
        20 => "schwefel",
        21 => "gallagher_101",
        22 => "gallagher_21",
        23 => "katsuura",
        24 => "lunacek_bi_rastrigin",
        _ => "unknown",
    }
}

/// Number of summands `k_max + 1` of the Weierstrass function (f16).
const WEIERSTRASS_TERMS: usize = 12;

/// `2^j` for j = 1..=32, the scales of the Katsuura function (f23). COCO calls `pow(2, j)`
/// inside the loop; powers of two are exact, so the table gives the same numbers 32× cheaper.
const KATSUURA_POWERS: [f64; 32] = {
    let mut p = [0.0; 32];
    let mut j = 0;
    let mut v = 1.0;
    while j < 32 {
        v *= 2.0;
        p[j] = v;
        j += 1;
    }
    p
};

/// One BBOB problem: a function, a dimension and an instance.
#[derive(Debug, Clone)]
pub struct Bbob {
    function: u32,
    dimension: usize,
    instance: u32,
    /// The instance's additive offset (`bbob2009_compute_fopt`).
    offset: f64,
    /// The optimal value as COCO reports it (`best_value`): `offset` plus the raw function at its
    /// optimum, which is not exactly zero for every function.
    f_opt: f64,
    x_opt: Vec<f64>,
    /// The point subtracted from `x` first (`x_opt` of the paper); for f5, f9, f19, f20 and
    /// f21/22, which do not start with a shift, it is unused or means something else (see
    /// [`Core`]).
    shift: Vec<f64>,
    core: Core,
    space: Space,
}

/// The per-function data computed in [`Bbob::new`]. Matrices are `d × d`, row-major.
#[derive(Debug, Clone)]
enum Core {
    /// f1: `‖z‖²`, `z = x − x_opt`.
    Sphere,
    /// f2: `Σ 10^{6(i−1)/(d−1)} z_i²`, `z = T_osz(x − x_opt)`; `coef` holds the powers.
    Ellipsoid { coef: Vec<f64> },
    /// f3: Rastrigin of `z = Λ^{10} T_asy^{0.2}(T_osz(x − x_opt))`.
    Rastrigin { asym: Vec<f64>, cond: Vec<f64> },
    /// f4: Rastrigin of `z = s ⊙ T_osz(x − x_opt)` with `s_i = 10^{½(i−1)/(d−1)}`, times 10 on
    /// positive odd (1-based) coordinates; plus `100 f_pen`.
    BuecheRastrigin { scale: Vec<f64>, scale_pos: Vec<f64> },
    /// f5: `Σ 5|s_i| − s_i z_i`, with `z_i = x_i` inside the box and the corner beyond it.
    LinearSlope { s: Vec<f64>, corner: Vec<f64> },
    /// f6: `(T_osz(Σ (s_i z_i)²))^{0.9}`, `z = Q Λ^{10} R (x − x_opt)`.
    AttractiveSector { m: Vec<f64> },
    /// f7: computed monolithically, as in COCO (`m` is `Λ^{10} R`, `rot` is `Q`).
    StepEllipsoid { m: Vec<f64>, rot: Vec<f64>, coef: Vec<f64> },
    /// f8: Rosenbrock of `z = max(1, √d/8)(x − x_opt) + 1`.
    Rosenbrock { factor: f64 },
    /// f9: Rosenbrock of `z = max(1, √d/8) R x + ½`; `m` is the scaled `R`.
    RosenbrockRotated { m: Vec<f64> },
    /// f10: the f2 ellipsoid of `z = T_osz(R (x − x_opt))`.
    EllipsoidRotated { rot: Vec<f64>, coef: Vec<f64> },
    /// f11: `10⁶ z_1² + Σ_{i>1} z_i²`, `z = T_osz(R (x − x_opt))`.
    Discus { rot: Vec<f64> },
    /// f12: `z_1² + 10⁶ Σ_{i>1} z_i²`, `z = R T_asy^{0.5}(R (x − x_opt))`.
    BentCigar { rot: Vec<f64>, asym: Vec<f64> },
    /// f13: `z_1² + 100 ‖z_{2..d}‖`, `z = Q Λ^{10} R (x − x_opt)`.
    SharpRidge { m: Vec<f64> },
    /// f14: `√(Σ |z_i|^{2+4(i−1)/(d−1)})`, `z = R (x − x_opt)`.
    DifferentPowers { rot: Vec<f64>, exps: Vec<f64> },
    /// f15: Rastrigin of `z = R Λ^{10} Q T_asy^{0.2}(T_osz(R (x − x_opt)))`; `m` is `R Λ Q`.
    RastriginRotated { rot: Vec<f64>, m: Vec<f64>, asym: Vec<f64> },
    /// f16: Weierstrass of `z = R Λ^{1/100} Q T_osz(R (x − x_opt))`, plus `10/d f_pen`.
    Weierstrass {
        rot: Vec<f64>,
        m: Vec<f64>,
        ak: [f64; WEIERSTRASS_TERMS],
        bk: [f64; WEIERSTRASS_TERMS],
        f0: f64,
    },
    /// f17/f18: Schaffers F7 of `z = Λ^{cond} Q T_asy^{0.5}(R (x − x_opt))`, plus `10 f_pen`.
    Schaffers { rot: Vec<f64>, m: Vec<f64>, asym: Vec<f64> },
    /// f19: Griewank–Rosenbrock F8F2 of `z = max(1, √d/8) R x + ½`.
    GriewankRosenbrock { m: Vec<f64> },
    /// f20: Schwefel `x sin √|x|` on `z = 100(Λ^{10}(ẑ − 2|x_opt|) + 2|x_opt|)`, where
    /// `ẑ` is `2 (1± ⊗ x)` with each coordinate coupled to its predecessor.
    Schwefel { sign: Vec<f64>, two_abs_xopt: Vec<f64>, cond: Vec<f64> },
    /// f21/f22: Gallagher's Gaussian peaks.
    Gallagher(Box<Gallagher>),
    /// f23: Katsuura of `z = Q Λ^{100} R (x − x_opt)`, plus `f_pen`.
    Katsuura { m: Vec<f64> },
    /// f24: Lunacek bi-Rastrigin, computed monolithically as in COCO (`m` is `Λ^{100} R`,
    /// `rot` is `Q`, `flip` the sign of each `x_opt` coordinate).
    Lunacek { flip: Vec<f64>, m: Vec<f64>, rot: Vec<f64>, s: f64, mu1: f64 },
}

/// Precomputed peaks of f21 (101 peaks) and f22 (21 peaks).
#[derive(Debug, Clone)]
struct Gallagher {
    rot: Vec<f64>,
    /// `peaks × d`: the peak locations in rotated coordinates (`R y_i`).
    centres: Vec<f64>,
    /// `peaks × d`: the diagonal of each peak's conditioning `C_i`.
    scales: Vec<f64>,
    /// The peak heights `w_i`.
    heights: Vec<f64>,
}

thread_local! {
    static SCRATCH: RefCell<Vec<f64>> = const { RefCell::new(Vec::new()) };
}

/// Runs `f` on three zeroed-as-needed scratch vectors of length `d`, reused across calls on the
/// same thread so that evaluation never allocates after warm-up.
fn with_scratch<R>(d: usize, f: impl FnOnce(&mut [f64], &mut [f64], &mut [f64]) -> R) -> R {
    SCRATCH.with(|cell| match cell.try_borrow_mut() {
        Ok(mut buf) => {
            if buf.len() < 3 * d {
                buf.resize(3 * d, 0.0);
            }
            let (a, rest) = buf[..3 * d].split_at_mut(d);
            let (b, c) = rest.split_at_mut(d);
            f(a, b, c)
        }
        // Only reachable if `f` itself evaluated a BBOB function; fall back to fresh memory.
        Err(_) => {
            let mut buf = vec![0.0; 3 * d];
            let (a, rest) = buf.split_at_mut(d);
            let (b, c) = rest.split_at_mut(d);
            f(a, b, c)
        }
    })
}

/// `i / (d − 1)`, the exponent of every per-coordinate conditioning.
fn ramp(i: usize, d: usize) -> f64 {
    i as f64 / (d as f64 - 1.0)
}

/// `out = M v` with `M` row-major `d × d`, summed left to right as COCO's affine transform does.
fn mat_vec(m: &[f64], v: &[f64], out: &mut [f64]) {
    affine(m, v, 0.0, out);
}

/// `out = M v + b·1`, accumulated from `b` as `transform_vars_affine.c` does (the order of the
/// additions decides the last bit).
fn affine(m: &[f64], v: &[f64], b: f64, out: &mut [f64]) {
    let d = v.len();
    for (row, o) in m.chunks_exact(d).zip(out.iter_mut()) {
        let mut acc = b;
        for (&mij, &vj) in row.iter().zip(v) {
            acc += vj * mij;
        }
        *o = acc;
    }
}

/// `out = x − shift`.
fn sub(x: &[f64], shift: &[f64], out: &mut [f64]) {
    for ((o, &xi), &si) in out.iter_mut().zip(x).zip(shift) {
        *o = xi - si;
    }
}

/// The oscillation `T_osz` of Hansen et al. (2009), section 0.2 (`transform_vars_oscillate.c`);
/// also used on objective values (`transform_obj_oscillate.c`, Gallagher).
fn t_osz(x: f64) -> f64 {
    if x > 0.0 {
        let t = x.ln() / 0.1;
        let base = (t + 0.49 * (t.sin() + (0.79 * t).sin())).exp();
        base.powf(0.1)
    } else if x < 0.0 {
        let t = (-x).ln() / 0.1;
        let base = (t + 0.49 * ((0.55 * t).sin() + (0.31 * t).sin())).exp();
        -base.powf(0.1)
    } else {
        0.0
    }
}

/// `T_asy^β` in place; `a_i = β (i−1)/(d−1)` is precomputed by [`asym_coefs`].
fn t_asy(v: &mut [f64], a: &[f64]) {
    for (vi, &ai) in v.iter_mut().zip(a) {
        if *vi > 0.0 {
            *vi = vi.powf(1.0 + ai * vi.sqrt());
        }
    }
}

fn asym_coefs(beta: f64, d: usize) -> Vec<f64> {
    (0..d).map(|i| (beta * i as f64) / (d as f64 - 1.0)).collect()
}

/// `f_pen = Σ max(0, |x_i| − 5)²` (`transform_obj_penalize.c` with the [-5, 5] box).
fn boundary_penalty(x: &[f64]) -> f64 {
    let mut pen = 0.0;
    for &xi in x {
        let above = xi - 5.0;
        let below = -5.0 - xi;
        if above > 0.0 {
            pen += above * above;
        } else if below > 0.0 {
            pen += below * below;
        }
    }
    pen
}

/// `Q Λ R` with `Λ = diag(base^{(k−1)/(d−1)})`, summed in COCO's order.
fn conditioned_product(q: &[f64], base: f64, r: &[f64], d: usize) -> Vec<f64> {
    let lambda: Vec<f64> = (0..d).map(|k| base.powf(ramp(k, d))).collect();
    let mut m = vec![0.0; d * d];
    for i in 0..d {
        for j in 0..d {
            let mut acc = 0.0;
            for k in 0..d {
                acc += q[i * d + k] * lambda[k] * r[k * d + j];
            }
            m[i * d + j] = acc;
        }
    }
    m
}

/// `diag(c) · R`: row `i` of `R` scaled by `c_i`, multiplied in COCO's order (`c_i · R_ij`).
fn scale_rows(c: &[f64], r: &[f64]) -> Vec<f64> {
    let d = c.len();
    let mut m = r.to_vec();
    for (row, &ci) in m.chunks_exact_mut(d).zip(c) {
        for v in row {
            *v *= ci;
        }
    }
    m
}

/// The separable ellipsoid's powers `10^{6 (i−1)/(d−1)}`.
fn ellipsoid_coefs(d: usize) -> Vec<f64> {
    (0..d).map(|i| 1.0e6_f64.powf(1.0 * i as f64 / (d as f64 - 1.0))).collect()
}

fn ellipsoid_raw(z: &[f64], coef: &[f64]) -> f64 {
    let mut r = z[0] * z[0];
    for i in 1..z.len() {
        r += coef[i] * z[i] * z[i];
    }
    r
}

fn rastrigin_raw(z: &[f64]) -> f64 {
    let mut cos_sum = 0.0;
    let mut sq_sum = 0.0;
    for &zi in z {
        cos_sum += (2.0 * PI * zi).cos();
        sq_sum += zi * zi;
    }
    10.0 * (z.len() as f64 - cos_sum) + sq_sum
}

fn rosenbrock_raw(z: &[f64]) -> f64 {
    let mut s1 = 0.0;
    let mut s2 = 0.0;
    for w in z.windows(2) {
        let t = w[0] * w[0] - w[1];
        s1 += t * t;
        let t = w[0] - 1.0;
        s2 += t * t;
    }
    100.0 * s1 + s2
}

fn schwefel_raw(z: &[f64]) -> f64 {
    let mut pen = 0.0;
    for &zi in z {
        let t = zi.abs() - 500.0;
        if t > 0.0 {
            pen += t * t;
        }
    }
    let mut sum = 0.0;
    for &zi in z {
        sum += zi * zi.abs().sqrt().sin();
    }
    0.01 * (pen + 418.9828872724339 - sum / z.len() as f64)
}

impl Bbob {
    /// Builds function `function` (1..=24) in `dimension` (≥ 2) variables, instance `instance`
    /// (≥ 1), with the same `x_opt`, `f_opt` and rotations as COCO's `bbob` suite.
    pub fn new(function: u32, dimension: usize, instance: u32) -> Result<Self, ConfigError> {
        if !(1..=24).contains(&function) {
            return Err(ConfigError::new(
                "function",
                format!("BBOB functions are numbered 1 to 24, got {function}"),
            ));
        }
        if dimension == 0 {
            return Err(ConfigError::new("dimension", "dimension must be at least 2, got 0"));
        }
        if dimension == 1 {
            // Every conditioning exponent is (i−1)/(d−1); COCO's functions are undefined at d = 1.
            return Err(ConfigError::new(
                "dimension",
                "BBOB functions are defined for dimension 2 and above (their conditioning \
                 divides by d - 1), got 1",
            ));
        }
        if instance == 0 {
            return Err(ConfigError::new("instance", "BBOB instances are numbered from 1, got 0"));
        }
        let d = dimension;
        // f4 and f18 reuse the random numbers of f3 and f17 (`rseed_3`, `rseed_17` in suite_bbob.c).
        let seed_function = match function {
            4 => 3,
            18 => 17,
            f => f,
        };
        let rseed = legacy::instance_seed(seed_function, instance);
        let offset = legacy::fopt(function, instance);
        let xopt = || legacy::xopt(rseed, d);
        // COCO draws two rotations per instance, from `rseed + 1e6` and from `rseed`; the paper
        // calls the first R in one-rotation functions but Q (the outer one) in Q Λ R products.
        let rot_seed_1e6 = || legacy::rotation(rseed + 1_000_000, d);
        let rot_seed = || legacy::rotation(rseed, d);

        let mut raw_at_opt = 0.0;
        let (shift, x_opt, core) = match function {
            1 => {
                let s = xopt();
                (s.clone(), s, Core::Sphere)
            }
            2 => {
                let s = xopt();
                (s.clone(), s, Core::Ellipsoid { coef: ellipsoid_coefs(d) })
            }
            3 => {
                let s = xopt();
                let cond =
                    (0..d).map(|i| 10.0_f64.powf(0.5 * i as f64 / (d as f64 - 1.0))).collect();
                (s.clone(), s, Core::Rastrigin { asym: asym_coefs(0.2, d), cond })
            }
            4 => {
                // "This step is in the legacy C code but not in the function description."
                let mut s = xopt();
                for v in s.iter_mut().step_by(2) {
                    *v = v.abs();
                }
                let scale: Vec<f64> = (0..d).map(|i| 10.0_f64.sqrt().powf(ramp(i, d))).collect();
                let scale_pos = scale
                    .iter()
                    .enumerate()
                    .map(|(i, &c)| if i % 2 == 0 { c * 10.0 } else { c })
                    .collect();
                (s.clone(), s, Core::BuecheRastrigin { scale, scale_pos })
            }
            5 => {
                let s = xopt();
                let corner: Vec<f64> =
                    s.iter().map(|&v| if v < 0.0 { -5.0 } else { 5.0 }).collect();
                let slope = corner
                    .iter()
                    .enumerate()
                    .map(|(i, &c)| {
                        let si = 100.0_f64.sqrt().powf(ramp(i, d));
                        if c > 0.0 { si } else { -si }
                    })
                    .collect();
                (Vec::new(), corner.clone(), Core::LinearSlope { s: slope, corner })
            }
            6 => {
                let s = xopt();
                let m = conditioned_product(&rot_seed_1e6(), 10.0_f64.sqrt(), &rot_seed(), d);
                (s.clone(), s, Core::AttractiveSector { m })
            }
            7 => {
                let s = xopt();
                let c: Vec<f64> =
                    (0..d).map(|i| (100.0_f64 / 10.0).powf(ramp(i, d)).sqrt()).collect();
                let m = scale_rows(&c, &rot_seed());
                let coef = (0..d).map(|i| 100.0_f64.powf(ramp(i, d))).collect();
                (s.clone(), s, Core::StepEllipsoid { m, rot: rot_seed_1e6(), coef })
            }
            8 => {
                let s: Vec<f64> = xopt().into_iter().map(|v| v * 0.75).collect();
                let factor = 1.0_f64.max((d as f64).sqrt() / 8.0);
                (s.clone(), s, Core::Rosenbrock { factor })
            }
            9 => {
                let r = rot_seed();
                let factor = 1.0_f64.max((d as f64).sqrt() / 8.0);
                let m: Vec<f64> = r.iter().map(|&v| factor * v).collect();
                // z = factor R x + ½ reaches the Rosenbrock optimum z = 1 at x = Rᵀ 1 / (2 factor).
                let x_opt = (0..d)
                    .map(|col| {
                        let mut t = 0.0;
                        for row in 0..d {
                            t += r[row * d + col];
                        }
                        t / (2.0 * factor)
                    })
                    .collect();
                (Vec::new(), x_opt, Core::RosenbrockRotated { m })
            }
            10 => {
                let s = xopt();
                (
                    s.clone(),
                    s,
                    Core::EllipsoidRotated { rot: rot_seed_1e6(), coef: ellipsoid_coefs(d) },
                )
            }
            11 => {
                let s = xopt();
                (s.clone(), s, Core::Discus { rot: rot_seed_1e6() })
            }
            12 => {
                // COCO draws f12's optimum from the rotation's seed, not from `rseed`.
                let s = legacy::xopt(rseed + 1_000_000, d);
                (s.clone(), s, Core::BentCigar { rot: rot_seed_1e6(), asym: asym_coefs(0.5, d) })
            }
            13 => {
                let s = xopt();
                let m = conditioned_product(&rot_seed_1e6(), 10.0_f64.sqrt(), &rot_seed(), d);
                (s.clone(), s, Core::SharpRidge { m })
            }
            14 => {
                let s = xopt();
                let exps = (0..d).map(|i| 2.0 + (4.0 * i as f64) / (d as f64 - 1.0)).collect();
                (s.clone(), s, Core::DifferentPowers { rot: rot_seed_1e6(), exps })
            }
            15 => {
                let s = xopt();
                let r = rot_seed_1e6();
                let m = conditioned_product(&r, 10.0_f64.sqrt(), &rot_seed(), d);
                (s.clone(), s, Core::RastriginRotated { rot: r, m, asym: asym_coefs(0.2, d) })
            }
            16 => {
                let s = xopt();
                let r = rot_seed_1e6();
                let m = conditioned_product(&r, 1.0 / 100.0_f64.sqrt(), &rot_seed(), d);
                let mut ak = [0.0; WEIERSTRASS_TERMS];
                let mut bk = [0.0; WEIERSTRASS_TERMS];
                let mut f0 = 0.0;
                for k in 0..WEIERSTRASS_TERMS {
                    ak[k] = 0.5_f64.powf(k as f64);
                    bk[k] = 3.0_f64.powf(k as f64);
                    f0 += ak[k] * (2.0 * PI * bk[k] * 0.5).cos();
                }
                (s.clone(), s, Core::Weierstrass { rot: r, m, ak, bk, f0 })
            }
            17 | 18 => {
                let s = xopt();
                let conditioning: f64 = if function == 17 { 10.0 } else { 1000.0 };
                let c: Vec<f64> = (0..d).map(|i| conditioning.sqrt().powf(ramp(i, d))).collect();
                let q = rot_seed();
                let mut m = vec![0.0; d * d];
                for i in 0..d {
                    for j in 0..d {
                        m[i * d + j] = q[i * d + j] * c[i];
                    }
                }
                (s.clone(), s, Core::Schaffers { rot: rot_seed_1e6(), m, asym: asym_coefs(0.5, d) })
            }
            19 => {
                let r = rot_seed();
                let scale = 1.0_f64.max((d as f64).sqrt() / 8.0);
                let m: Vec<f64> = r.iter().map(|&v| v * scale).collect();
                // z = scale R x + ½ reaches the F8F2 optimum z = 1 at x = Rᵀ 1 / (2 scale). COCO
                // writes Σ_i (scale R)_ij / (2 scale), which is the same number for d ≤ 64
                // (scale = 1) and misses the optimum above; COCO cannot build d > 44 anyway.
                let x_opt = (0..d)
                    .map(|col| {
                        let mut t = 0.0;
                        for row in 0..d {
                            t += r[row * d + col];
                        }
                        t / (2.0 * scale)
                    })
                    .collect();
                (Vec::new(), x_opt, Core::GriewankRosenbrock { m })
            }
            20 => {
                let u = legacy::unif(d, rseed);
                let sign: Vec<f64> =
                    u.iter().map(|&v| if v - 0.5 < 0.0 { -1.0 } else { 1.0 }).collect();
                let two_abs_xopt =
                    sign.iter().map(|_| 2.0 * (0.5 * 4.2096874637_f64).abs()).collect();
                let cond = (0..d)
                    .map(|i| 10.0_f64.sqrt().powf(1.0 * i as f64 / (d as f64 - 1.0)))
                    .collect();
                // COCO reports the optimum with 4.2096874633 and its value at the raw
                // function's optimum 420.96874633, not at the transformed x_opt.
                let x_opt = sign.iter().map(|&s| s * (0.5 * 4.2096874633)).collect();
                raw_at_opt = schwefel_raw(&vec![420.96874633; d]);
                (Vec::new(), x_opt, Core::Schwefel { sign, two_abs_xopt, cond })
            }
            21 | 22 => {
                let peaks = if function == 21 { 101 } else { 21 };
                let (g, x_opt) = Gallagher::new(peaks, rseed, d);
                (Vec::new(), x_opt, Core::Gallagher(Box::new(g)))
            }
            23 => {
                let s = xopt();
                let m = conditioned_product(&rot_seed_1e6(), 100.0_f64.sqrt(), &rot_seed(), d);
                (s.clone(), s, Core::Katsuura { m })
            }
            24 => {
                // The optimum is ±μ0/2 by the sign of a Gaussian draw; `compute_xopt` is not used.
                let mu0 = 2.5;
                let g = legacy::gauss(d, rseed);
                let x_opt: Vec<f64> =
                    g.iter().map(|&v| if v < 0.0 { -0.5 * mu0 } else { 0.5 * mu0 }).collect();
                let flip = x_opt.iter().map(|&v| if v < 0.0 { -1.0 } else { 1.0 }).collect();
                let c: Vec<f64> =
                    (0..d).map(|i| 100.0_f64.sqrt().powf(i as f64 / (d - 1) as f64)).collect();
                let m = scale_rows(&c, &rot_seed());
                let s = 1.0 - 0.5 / (((d + 20) as f64).sqrt() - 4.1);
                let mu1 = -((mu0 * mu0 - 1.0) / s).sqrt();
                (Vec::new(), x_opt, Core::Lunacek { flip, m, rot: rot_seed_1e6(), s, mu1 })
            }
            _ => unreachable!("function checked above"),
        };

        let mut problem = Self {
            function,
            dimension: d,
            instance,
            offset,
            f_opt: offset,
            x_opt,
            shift,
            core,
            space: Space::real_box(d, -5.0, 5.0),
        };
        let f_opt = match function {
            // COCO evaluates these at x_opt to get `best_value`; the raw value there can differ
            // from zero by rounding (Weierstrass: 10 (Σ/d − f0)³; Gallagher: the 0.8-scaled peak).
            16 | 21 | 22 | 24 => problem.eval(&problem.x_opt),
            20 => raw_at_opt + offset,
            _ => offset,
        };
        problem.f_opt = f_opt;
        Ok(problem)
    }

    /// The function number (1..=24).
    pub fn function(&self) -> u32 {
        self.function
    }

    /// The number of variables.
    pub fn dimension(&self) -> usize {
        self.dimension
    }

    /// The instance number.
    pub fn instance(&self) -> u32 {
        self.instance
    }

    /// The optimal value, as COCO reports it (`best_value()`).
    pub fn f_opt(&self) -> f64 {
        self.f_opt
    }

    /// The optimiser, as COCO reports it (`best_parameter()`); for f5 the corner of the box the
    /// slope descends to.
    pub fn x_opt(&self) -> &[f64] {
        &self.x_opt
    }

    /// The function value at `x` (any point of R^d; outside [-5, 5]^d the functions that define
    /// a boundary penalty add it).
    ///
    /// # Panics
    /// If `x.len()` differs from the dimension.
    pub fn eval(&self, x: &[f64]) -> f64 {
        let d = self.dimension;
        assert_eq!(
            x.len(),
            d,
            "BBOB f{}: point has {} coordinates, expected {d}",
            self.function,
            x.len()
        );
        let xo = &self.shift;
        let fopt = self.offset;
        with_scratch(d, |a, b, c| match &self.core {
            Core::Sphere => {
                sub(x, xo, a);
                let mut r = 0.0;
                for &z in a.iter() {
                    r += z * z;
                }
                r + fopt
            }
            Core::Ellipsoid { coef } => {
                sub(x, xo, a);
                a.iter_mut().for_each(|v| *v = t_osz(*v));
                ellipsoid_raw(a, coef) + fopt
            }
            Core::Rastrigin { asym, cond } => {
                sub(x, xo, a);
                a.iter_mut().for_each(|v| *v = t_osz(*v));
                t_asy(a, asym);
                for (v, &ci) in a.iter_mut().zip(cond) {
                    *v *= ci;
                }
                rastrigin_raw(a) + fopt
            }
            Core::BuecheRastrigin { scale, scale_pos } => {
                sub(x, xo, a);
                for ((v, &s), &sp) in a.iter_mut().zip(scale).zip(scale_pos) {
                    let o = t_osz(*v);
                    *v = if o > 0.0 { sp * o } else { s * o };
                }
                // COCO's raw Bueche–Rastrigin is Rastrigin plus 0.
                (rastrigin_raw(a) + 0.0 + fopt) + 100.0 * boundary_penalty(x)
            }
            Core::LinearSlope { s, corner } => {
                let mut r = 0.0;
                for ((&xi, &si), &ci) in x.iter().zip(s).zip(corner) {
                    // Beyond the optimal corner the slope is flat (boundary handling of COCO).
                    let z = if xi * ci < 25.0 { xi } else { ci };
                    r += 5.0 * si.abs() - si * z;
                }
                r + fopt
            }
            Core::AttractiveSector { m } => {
                sub(x, xo, a);
                mat_vec(m, a, b);
                let mut r = 0.0;
                for (&z, &o) in b.iter().zip(xo) {
                    r += if o * z > 0.0 { 100.0 * 100.0 * z * z } else { z * z };
                }
                t_osz(r).powf(0.9) + fopt
            }
            Core::StepEllipsoid { m, rot, coef } => {
                let pen = boundary_penalty(x);
                sub(x, xo, a);
                mat_vec(m, a, b);
                let z1 = b[0];
                for v in b.iter_mut() {
                    *v = if v.abs() > 0.5 {
                        legacy::round_half_up(*v)
                    } else {
                        legacy::round_half_up(10.0 * *v) / 10.0
                    };
                }
                mat_vec(rot, b, c);
                let mut r = 0.0;
                for (&z, &ci) in c.iter().zip(coef) {
                    r += ci * z * z;
                }
                0.1 * (z1.abs() * 1.0e-4).max(r) + pen + fopt
            }
            Core::Rosenbrock { factor } => {
                for ((v, &xi), &o) in a.iter_mut().zip(x).zip(xo) {
                    *v = factor * (xi - o) - (-1.0);
                }
                rosenbrock_raw(a) + fopt
            }
            Core::RosenbrockRotated { m } => {
                affine(m, x, 0.5, a);
                rosenbrock_raw(a) + fopt
            }
            Core::EllipsoidRotated { rot, coef } => {
                sub(x, xo, a);
                mat_vec(rot, a, b);
                b.iter_mut().for_each(|v| *v = t_osz(*v));
                ellipsoid_raw(b, coef) + fopt
            }
            Core::Discus { rot } => {
                sub(x, xo, a);
                mat_vec(rot, a, b);
                b.iter_mut().for_each(|v| *v = t_osz(*v));
                let mut r = 1.0e6 * b[0] * b[0];
                for &z in &b[1..] {
                    r += z * z;
                }
                r + fopt
            }
            Core::BentCigar { rot, asym } => {
                sub(x, xo, a);
                mat_vec(rot, a, b);
                t_asy(b, asym);
                mat_vec(rot, b, c);
                let mut r = c[0] * c[0];
                for &z in &c[1..] {
                    r += 1.0e6 * z * z;
                }
                r + fopt
            }
            Core::SharpRidge { m } => {
                sub(x, xo, a);
                mat_vec(m, a, b);
                let mut r = 0.0;
                for &z in &b[1..] {
                    r += z * z;
                }
                100.0 * r.sqrt() + b[0] * b[0] + fopt
            }
            Core::DifferentPowers { rot, exps } => {
                sub(x, xo, a);
                mat_vec(rot, a, b);
                let mut r = 0.0;
                for (&z, &e) in b.iter().zip(exps) {
                    r += z.abs().powf(e);
                }
                r.sqrt() + fopt
            }
            Core::RastriginRotated { rot, m, asym } => {
                sub(x, xo, a);
                mat_vec(rot, a, b);
                b.iter_mut().for_each(|v| *v = t_osz(*v));
                t_asy(b, asym);
                mat_vec(m, b, c);
                rastrigin_raw(c) + fopt
            }
            Core::Weierstrass { rot, m, ak, bk, f0 } => {
                sub(x, xo, a);
                mat_vec(rot, a, b);
                b.iter_mut().for_each(|v| *v = t_osz(*v));
                mat_vec(m, b, c);
                let mut r = 0.0;
                for &z in c.iter() {
                    let arg = 2.0 * PI * (z + 0.5);
                    for k in 0..WEIERSTRASS_TERMS {
                        r += (arg * bk[k]).cos() * ak[k];
                    }
                }
                let raw = 10.0 * (r / d as f64 - f0).powf(3.0);
                (raw + fopt) + 10.0 / d as f64 * boundary_penalty(x)
            }
            Core::Schaffers { rot, m, asym } => {
                sub(x, xo, a);
                mat_vec(rot, a, b);
                t_asy(b, asym);
                mat_vec(m, b, c);
                let mut r = 0.0;
                for w in c.windows(2) {
                    let t = w[0] * w[0] + w[1] * w[1];
                    r += t.powf(0.25) * (1.0 + (50.0 * t.powf(0.1)).sin().powf(2.0));
                }
                let raw = (r / (d as f64 - 1.0)).powf(2.0);
                (raw + fopt) + 10.0 * boundary_penalty(x)
            }
            Core::GriewankRosenbrock { m } => {
                mat_vec(m, x, a);
                a.iter_mut().for_each(|v| *v -= -0.5);
                let mut r = 0.0;
                for w in a.windows(2) {
                    let c1 = w[0] * w[0] - w[1];
                    let c2 = 1.0 - w[0];
                    let t = 100.0 * c1 * c1 + c2 * c2;
                    r += t / 4000.0 - t.cos();
                }
                10.0 + 10.0 * r / (d as f64 - 1.0) + fopt
            }
            Core::Schwefel { sign, two_abs_xopt, cond } => {
                for ((v, &xi), &s) in a.iter_mut().zip(x).zip(sign) {
                    *v = 2.0 * if s < 0.0 { -xi } else { xi };
                }
                b[0] = a[0];
                for i in 1..d {
                    b[i] = a[i] + 0.25 * (a[i - 1] - two_abs_xopt[i - 1]);
                }
                for i in 0..d {
                    let t = (b[i] - two_abs_xopt[i]) * cond[i];
                    c[i] = 100.0 * (t - (-two_abs_xopt[i]));
                }
                schwefel_raw(c) + fopt
            }
            Core::Gallagher(g) => g.eval(x, b) + fopt,
            Core::Katsuura { m } => {
                sub(x, xo, a);
                mat_vec(m, a, b);
                let mut prod = 1.0;
                for (i, &z) in b.iter().enumerate() {
                    let mut t = 0.0;
                    for &p in &KATSUURA_POWERS {
                        t += (p * z - legacy::round_half_up(p * z)).abs() / p;
                    }
                    prod *= 1.0 + (i as f64 + 1.0) * t;
                }
                let df = d as f64;
                let raw = 10.0 / df / df * (-1.0 + prod.powf(10.0 / df.powf(1.2)));
                (raw + fopt) + boundary_penalty(x)
            }
            Core::Lunacek { flip, m, rot, s, mu1 } => {
                let mu0 = 2.5;
                let mut pen = 0.0;
                for &xi in x {
                    let t = xi.abs() - 5.0;
                    if t > 0.0 {
                        pen += t * t;
                    }
                }
                for ((v, &xi), &f) in a.iter_mut().zip(x).zip(flip) {
                    let h = 2.0 * xi;
                    *v = if f < 0.0 { -h } else { h };
                }
                for (i, row) in m.chunks_exact(d).enumerate() {
                    let mut acc = 0.0;
                    for (&mij, &h) in row.iter().zip(a.iter()) {
                        acc += mij * (h - mu0);
                    }
                    b[i] = acc;
                }
                mat_vec(rot, b, c);
                let (mut s1, mut s2, mut s3) = (0.0, 0.0, 0.0);
                for (&h, &z) in a.iter().zip(c.iter()) {
                    s1 += (h - mu0) * (h - mu0);
                    s2 += (h - mu1) * (h - mu1);
                    s3 += (2.0 * PI * z).cos();
                }
                let df = d as f64;
                let second = 1.0 * df + s * s2;
                let bi = if s1 < second { s1 } else { second };
                bi + 10.0 * (df - s3) + 1e4 * pen + fopt
            }
        })
    }
}

impl Gallagher {
    /// Peaks as `f_gallagher_bbob_problem_allocate` draws them. Returns the data and `x_opt`.
    fn new(peaks: usize, rseed: i64, d: usize) -> (Self, Vec<f64>) {
        let max_condition: f64 = 1000.0;
        // The global peak's conditioning: √1000 for 101 peaks, 1000 for 21 (as in COCO and the
        // 2009 code, though the paper's text says otherwise for f21).
        let (first_condition, b, c) = if peaks == 101 {
            (max_condition.sqrt(), 10.0, 5.0)
        } else {
            (max_condition, 9.8, 4.9)
        };
        let rot = legacy::rotation(rseed, d);

        // Condition numbers of the local peaks: a random permutation of 1000^{k/(peaks−2)}.
        let u = legacy::unif(peaks - 1, rseed);
        let order = argsort(&u);
        let fit_lo = 1.1;
        let fit_hi = 9.1;
        let mut conditions = vec![first_condition; peaks];
        let mut heights = vec![10.0; peaks];
        for i in 1..peaks {
            conditions[i] = max_condition.powf(order[i - 1] as f64 / (peaks - 2) as f64);
            heights[i] = (i - 1) as f64 / (peaks - 2) as f64 * (fit_hi - fit_lo) + fit_lo;
        }

        // Each peak's axis scales: a random permutation of condition^{j/(d−1) − ½}.
        let mut scales = vec![0.0; peaks * d];
        for i in 0..peaks {
            let u = legacy::unif(d, rseed + 1000 * i as i64);
            let order = argsort(&u);
            for j in 0..d {
                scales[i * d + j] = conditions[i].powf(order[j] as f64 / (d - 1) as f64 - 0.5);
            }
        }

        // Peak locations: uniform in [-c, b − c]^d, the global one shrunk by 0.8, then rotated.
        let u = legacy::unif(d * peaks, rseed);
        let x_opt: Vec<f64> = (0..d).map(|i| 0.8 * (b * u[i] - c)).collect();
        let mut centres = vec![0.0; peaks * d];
        for i in 0..d {
            for j in 0..peaks {
                let mut acc = 0.0;
                for k in 0..d {
                    acc += rot[i * d + k] * (b * u[j * d + k] - c);
                }
                if j == 0 {
                    acc *= 0.8;
                }
                centres[j * d + i] = acc;
            }
        }
        (Self { rot, centres, scales, heights }, x_opt)
    }

    /// The raw Gallagher value (without `f_opt`); `tmp` is scratch of length d.
    fn eval(&self, x: &[f64], tmp: &mut [f64]) -> f64 {
        let d = x.len();
        let fac = -0.5 / d as f64;
        let mut pen = 0.0;
        for &xi in x {
            let t = xi.abs() - 5.0;
            if t > 0.0 {
                pen += t * t;
            }
        }
        mat_vec(&self.rot, x, tmp);
        let mut best: f64 = 0.0;
        for ((centre, scale), &h) in
            self.centres.chunks_exact(d).zip(self.scales.chunks_exact(d)).zip(&self.heights)
        {
            let mut q = 0.0;
            for ((&t, &y), &s) in tmp.iter().zip(centre).zip(scale) {
                let diff = t - y;
                q += s * diff * diff;
            }
            let v = h * (fac * q).exp();
            if v > best {
                best = v;
            }
        }
        let f = t_osz(10.0 - best);
        f * f + pen
    }
}

/// Indices that sort `v` ascending (COCO's `qsort` of (value, index) pairs; the legacy
/// generator never repeats a value within one draw, so ties cannot reorder anything).
fn argsort(v: &[f64]) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..v.len()).collect();
    idx.sort_by(|&a, &b| v[a].total_cmp(&v[b]));
    idx
}

impl Problem for Bbob {
    fn space(&self) -> &Space {
        &self.space
    }

    fn evaluate(&self, x: &[f64], _ctx: &EvalCtx) -> Result<Evaluation, EvalError> {
        if x.len() != self.dimension {
            return Err(EvalError(format!(
                "BBOB f{} expects {} coordinates, got {}",
                self.function,
                self.dimension,
                x.len()
            )));
        }
        Ok(Evaluation::value(self.eval(x)))
    }

    fn optimum(&self) -> Option<f64> {
        Some(self.f_opt)
    }
}

fn one() -> u32 {
    1
}

/// The study-file form of a BBOB problem (`problem: {kind: bbob, function: 8, dimension: 10}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BbobConfig {
    /// Function number, 1..=24.
    pub function: u32,
    /// Number of variables, at least 2.
    pub dimension: usize,
    /// Instance number (selects `x_opt`, `f_opt` and the rotations), at least 1.
    #[serde(default = "one")]
    pub instance: u32,
}

impl BbobConfig {
    /// Validates the configuration and builds the problem. Errors name the YAML field.
    pub fn build(&self) -> Result<Bbob, ConfigError> {
        Bbob::new(self.function, self.dimension, self.instance)
    }
}

impl Describe for BbobConfig {
    const KIND: &'static str = "bbob";
    const SUMMARY: &'static str =
        "The 24 noiseless BBOB functions of COCO (Hansen et al. 2009), any dimension and instance";
    fn params() -> Vec<ParamDoc> {
        vec![
            ParamDoc::req("function", "int", "function number, 1..=24 (1 sphere ... 24 Lunacek)"),
            ParamDoc::req("dimension", "int", "number of variables, at least 2"),
            ParamDoc::opt("instance", "int", 1, "instance number: selects x_opt, f_opt, rotations"),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_bad_configuration_with_field_names() {
        assert_eq!(Bbob::new(0, 2, 1).unwrap_err().field, "function");
        assert_eq!(Bbob::new(25, 2, 1).unwrap_err().field, "function");
        assert_eq!(Bbob::new(1, 0, 1).unwrap_err().field, "dimension");
        assert_eq!(Bbob::new(1, 1, 1).unwrap_err().field, "dimension");
        assert_eq!(Bbob::new(1, 2, 0).unwrap_err().field, "instance");
    }

    #[test]
    fn value_at_optimum_is_f_opt_for_every_function() {
        for f in 1..=24 {
            for &d in &[2, 3, 7, 40] {
                let p = Bbob::new(f, d, 5).unwrap();
                let v = p.eval(p.x_opt());
                let tol = 1e-8 * p.f_opt().abs().max(1.0);
                assert!(
                    (v - p.f_opt()).abs() <= tol,
                    "f{f} d{d}: f(x_opt) = {v}, f_opt = {}",
                    p.f_opt()
                );
            }
        }
    }

    #[test]
    fn optimum_is_a_minimum_nearby() {
        // A cheap sanity check independent of COCO: small random steps never go below f_opt.
        let mut state = 12345_u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 11) as f64 / (1u64 << 53) as f64 - 0.5
        };
        for f in 1..=24 {
            let p = Bbob::new(f, 5, 3).unwrap();
            for _ in 0..200 {
                let x: Vec<f64> =
                    p.x_opt().iter().map(|&v| (v + 0.01 * next()).clamp(-5.0, 5.0)).collect();
                assert!(p.eval(&x) >= p.f_opt() - 1e-9, "f{f} below f_opt at {x:?}");
            }
        }
    }

    #[test]
    fn problem_trait_checks_dimension_and_reports_optimum() {
        let p = Bbob::new(8, 4, 2).unwrap();
        let ctx = EvalCtx { id: 0, generation: 0, seed: 0 };
        assert!(p.evaluate(&[0.0; 3], &ctx).is_err());
        let e = p.evaluate(&[0.0; 4], &ctx).unwrap();
        assert_eq!(e.values, vec![p.eval(&[0.0; 4])]);
        assert_eq!(p.optimum(), Some(p.f_opt()));
        assert_eq!(p.space().dim(), 4);
        assert_eq!(p.space().lower(), vec![-5.0; 4]);
        assert_eq!(p.space().upper(), vec![5.0; 4]);
    }

    #[test]
    fn config_defaults_instance_and_builds() {
        let c: BbobConfig = serde_json::from_str(r#"{"function": 3, "dimension": 5}"#).unwrap();
        assert_eq!(c.instance, 1);
        let p = c.build().unwrap();
        assert_eq!((p.function(), p.dimension(), p.instance()), (3, 5, 1));
        assert!(
            serde_json::from_str::<BbobConfig>(r#"{"function": 3, "dimension": 5, "dim": 2}"#)
                .is_err()
        );
        let bad = BbobConfig { function: 30, dimension: 5, instance: 1 };
        assert_eq!(bad.build().unwrap_err().field, "function");
    }

    #[test]
    fn names_cover_all_functions() {
        assert_eq!(bbob_function_name(1), "sphere");
        assert_eq!(bbob_function_name(8), "rosenbrock");
        assert_eq!(bbob_function_name(24), "lunacek_bi_rastrigin");
        assert_eq!(bbob_function_name(0), "unknown");
        let names: std::collections::HashSet<_> = (1..=24).map(bbob_function_name).collect();
        assert_eq!(names.len(), 24);
    }
}
