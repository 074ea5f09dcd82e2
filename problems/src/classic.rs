//! Classic test functions with known optima.
//!
//! Definitions, bounds and constants follow the Virtual Library of Simulation Experiments
//! (S. Surjanovic and D. Bingham, <https://www.sfu.ca/~ssurjano/optimization.html>), which
//! collects them from their original papers: Rosenbrock (1960), Rastrigin (1974), Ackley (1987,
//! a = 20, b = 0.2, c = 2π), Griewank (1981), Schwefel (1981, the `418.9829 d − Σ x sin √|x|`
//! form), Levy (Laguna & Martí 2002), Styblinski & Tang (1990), Branin (Dixon & Szegő 1978,
//! with the rescaled constants of Picheny et al.), Hartmann 3-D and 6-D (Dixon & Szegő 1978).
//! The ellipsoid is the separable one of the BBOB suite (condition number 10⁶, no rotation).
//!
//! [`Problem::optimum`] reports the optimal value only when an optimiser lies inside the
//! configured box, and reports the value that is actually attainable: Schwefel's constant
//! 418.9829 is rounded, so its minimum is `d · 1.2727566e-5`, not 0, and Hartmann's minima are
//! given to full double precision (computed with 40-digit arithmetic from the standard
//! constants) rather than the 5-6 digits usually quoted.

use std::f64::consts::{E, PI};

use evoforge_core::{
    ConfigError, Describe, EvalCtx, EvalError, Evaluation, ParamDoc, Problem, Space,
};
use serde::{Deserialize, Serialize};

/// Which classic function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClassicKind {
    /// `Σ x_i²`; bounds [-5.12, 5.12]; minimum 0 at 0.
    Sphere,
    /// `Σ 10^{6(i−1)/(d−1)} x_i²` (condition 10⁶); bounds [-5, 5]; minimum 0 at 0.
    Ellipsoid,
    /// `Σ 100 (x_{i+1} − x_i²)² + (1 − x_i)²`, d ≥ 2; bounds [-5, 10]; minimum 0 at 1.
    Rosenbrock,
    /// `10 d + Σ x_i² − 10 cos 2πx_i`; bounds [-5.12, 5.12]; minimum 0 at 0.
    Rastrigin,
    /// Ackley with a = 20, b = 0.2, c = 2π; bounds [-32.768, 32.768]; minimum 0 at 0.
    Ackley,
    /// `1 + Σ x_i²/4000 − Π cos(x_i/√i)`; bounds [-600, 600]; minimum 0 at 0.
    Griewank,
    /// `418.9829 d − Σ x_i sin √|x_i|`; bounds [-500, 500]; minimum ≈ 1.27e-5·d at 420.9687.
    Schwefel,
    /// Levy; bounds [-10, 10]; minimum 0 at 1.
    Levy,
    /// `½ Σ x_i⁴ − 16 x_i² + 5 x_i`; bounds [-5, 5]; minimum −39.16617·d at −2.903534.
    StyblinskiTang,
    /// Branin-Hoo, 2-D; bounds [-5, 10] × [0, 15]; minimum 0.397887 at three points.
    Branin,
    /// Hartmann 3-D; bounds [0, 1]³; minimum −3.86278.
    Hartmann3,
    /// Hartmann 6-D; bounds [0, 1]⁶; minimum −3.32237.
    Hartmann6,
}

impl ClassicKind {
    /// Every kind, in documentation order.
    pub const ALL: [ClassicKind; 12] = [
        ClassicKind::Sphere,
        ClassicKind::Ellipsoid,
        ClassicKind::Rosenbrock,
        ClassicKind::Rastrigin,
        ClassicKind::Ackley,
        ClassicKind::Griewank,
        ClassicKind::Schwefel,
        ClassicKind::Levy,
        ClassicKind::StyblinskiTang,
        ClassicKind::Branin,
        ClassicKind::Hartmann3,
        ClassicKind::Hartmann6,
    ];

    /// The name used in study files.
    pub fn name(self) -> &'static str {
        match self {
            ClassicKind::Sphere => "sphere",
            ClassicKind::Ellipsoid => "ellipsoid",
            ClassicKind::Rosenbrock => "rosenbrock",
            ClassicKind::Rastrigin => "rastrigin",
            ClassicKind::Ackley => "ackley",
            ClassicKind::Griewank => "griewank",
            ClassicKind::Schwefel => "schwefel",
            ClassicKind::Levy => "levy",
            ClassicKind::StyblinskiTang => "styblinski_tang",
            ClassicKind::Branin => "branin",
            ClassicKind::Hartmann3 => "hartmann3",
            ClassicKind::Hartmann6 => "hartmann6",
        }
    }

    /// The dimension of the functions that are only defined in one.
    pub fn fixed_dimension(self) -> Option<usize> {
        match self {
            ClassicKind::Branin => Some(2),
            ClassicKind::Hartmann3 => Some(3),
            ClassicKind::Hartmann6 => Some(6),
            _ => None,
        }
    }

    fn min_dimension(self) -> usize {
        match self {
            ClassicKind::Rosenbrock => 2,
            _ => 1,
        }
    }

    /// The standard box, per coordinate.
    fn standard_bounds(self, d: usize) -> (Vec<f64>, Vec<f64>) {
        let uniform = |lo: f64, hi: f64| (vec![lo; d], vec![hi; d]);
        match self {
            ClassicKind::Sphere | ClassicKind::Rastrigin => uniform(-5.12, 5.12),
            ClassicKind::Ellipsoid | ClassicKind::StyblinskiTang => uniform(-5.0, 5.0),
            ClassicKind::Rosenbrock => uniform(-5.0, 10.0),
            ClassicKind::Ackley => uniform(-32.768, 32.768),
            ClassicKind::Griewank => uniform(-600.0, 600.0),
            ClassicKind::Schwefel => uniform(-500.0, 500.0),
            ClassicKind::Levy => uniform(-10.0, 10.0),
            ClassicKind::Branin => (vec![-5.0, 0.0], vec![10.0, 15.0]),
            ClassicKind::Hartmann3 | ClassicKind::Hartmann6 => uniform(0.0, 1.0),
        }
    }

    /// All global minimisers in `d` dimensions.
    pub fn optimisers(self, d: usize) -> Vec<Vec<f64>> {
        match self {
            ClassicKind::Sphere
            | ClassicKind::Ellipsoid
            | ClassicKind::Rastrigin
            | ClassicKind::Ackley
            | ClassicKind::Griewank => vec![vec![0.0; d]],
            ClassicKind::Rosenbrock | ClassicKind::Levy => vec![vec![1.0; d]],
            ClassicKind::Schwefel => vec![vec![SCHWEFEL_ARGMIN; d]],
            ClassicKind::StyblinskiTang => vec![vec![STYBLINSKI_TANG_ARGMIN; d]],
            ClassicKind::Branin => vec![vec![-PI, 12.275], vec![PI, 2.275], vec![3.0 * PI, 2.475]],
            ClassicKind::Hartmann3 => vec![HARTMANN3_ARGMIN.to_vec()],
            ClassicKind::Hartmann6 => vec![HARTMANN6_ARGMIN.to_vec()],
        }
    }

    /// The global minimum in `d` dimensions.
    pub fn optimal_value(self, d: usize) -> f64 {
        match self {
            ClassicKind::Sphere
            | ClassicKind::Ellipsoid
            | ClassicKind::Rosenbrock
            | ClassicKind::Rastrigin
            | ClassicKind::Ackley
            | ClassicKind::Griewank
            | ClassicKind::Levy => 0.0,
            ClassicKind::Schwefel => d as f64 * (SCHWEFEL_CONSTANT - SCHWEFEL_MAX_TERM),
            ClassicKind::StyblinskiTang => d as f64 * STYBLINSKI_TANG_MIN_TERM,
            // s·t with s = 10, t = 1/(8π): the cosine term is −1 and the square vanishes.
            ClassicKind::Branin => 10.0 / (8.0 * PI),
            ClassicKind::Hartmann3 => HARTMANN3_MIN,
            ClassicKind::Hartmann6 => HARTMANN6_MIN,
        }
    }
}

/// The rounded constant of the usual Schwefel definition.
const SCHWEFEL_CONSTANT: f64 = 418.9829;
/// `max_{|x| ≤ 500} x sin √|x|` = 418.9828872724337... (40-digit root of sin t + t/2 cos t).
const SCHWEFEL_MAX_TERM: f64 = 418.9828872724337;
/// Where that maximum is attained.
const SCHWEFEL_ARGMIN: f64 = 420.96874635998205;
/// Root of 4t³ − 32t + 5 = 0 that minimises t⁴ − 16t² + 5t.
const STYBLINSKI_TANG_ARGMIN: f64 = -2.903534027771177;
/// `½(t⁴ − 16t² + 5t)` at that root.
const STYBLINSKI_TANG_MIN_TERM: f64 = -39.16616570377141;

const HARTMANN_ALPHA: [f64; 4] = [1.0, 1.2, 3.0, 3.2];
const HARTMANN3_A: [[f64; 3]; 4] =
    [[3.0, 10.0, 30.0], [0.1, 10.0, 35.0], [3.0, 10.0, 30.0], [0.1, 10.0, 35.0]];
const HARTMANN3_P: [[f64; 3]; 4] = [
    [0.3689, 0.1170, 0.2673],
    [0.4699, 0.4387, 0.7470],
    [0.1091, 0.8732, 0.5547],
    [0.0381, 0.5743, 0.8828],
];
const HARTMANN6_A: [[f64; 6]; 4] = [
    [10.0, 3.0, 17.0, 3.5, 1.7, 8.0],
    [0.05, 10.0, 17.0, 0.1, 8.0, 14.0],
    [3.0, 3.5, 1.7, 10.0, 17.0, 8.0],
    [17.0, 8.0, 0.05, 10.0, 0.1, 14.0],
];
const HARTMANN6_P: [[f64; 6]; 4] = [
    [0.1312, 0.1696, 0.5569, 0.0124, 0.8283, 0.5886],
    [0.2329, 0.4135, 0.8307, 0.3736, 0.1004, 0.9991],
    [0.2348, 0.1451, 0.3522, 0.2883, 0.3047, 0.6650],
    [0.4047, 0.8828, 0.8732, 0.5743, 0.1091, 0.0381],
];
/// Stationary point of Hartmann 3-D found by Newton's method in 40-digit arithmetic, started
/// from the published (0.114614, 0.555649, 0.852547).
const HARTMANN3_ARGMIN: [f64; 3] = [0.11458887665506896, 0.55564889461693, 0.8525469846866774];
const HARTMANN3_MIN: f64 = -3.862779787332663;
/// Likewise for Hartmann 6-D, from (0.20169, 0.150011, 0.476874, 0.275332, 0.311652, 0.6573).
const HARTMANN6_ARGMIN: [f64; 6] = [
    0.20168951100670543,
    0.15001069182345797,
    0.476873974221897,
    0.2753324304940561,
    0.31165161660011326,
    0.6573005340656203,
];
const HARTMANN6_MIN: f64 = -3.3223680114155147;

/// A classic function over a box.
#[derive(Debug, Clone)]
pub struct Classic {
    kind: ClassicKind,
    space: Space,
    /// The ellipsoid's per-coordinate weights (empty for the other functions).
    weights: Vec<f64>,
    optimum: Option<f64>,
}

impl Classic {
    /// `kind` in `dimension` variables over its standard box.
    pub fn new(kind: ClassicKind, dimension: usize) -> Result<Self, ConfigError> {
        ClassicConfig { function: kind, dimension: Some(dimension), lower: None, upper: None }
            .build()
    }

    /// Which function this is.
    pub fn kind(&self) -> ClassicKind {
        self.kind
    }

    /// Number of variables.
    pub fn dimension(&self) -> usize {
        self.space.dim()
    }

    /// The function value at `x`.
    ///
    /// # Panics
    /// If `x.len()` differs from the dimension.
    pub fn value(&self, x: &[f64]) -> f64 {
        let d = self.dimension();
        assert_eq!(
            x.len(),
            d,
            "{}: point has {} coordinates, expected {d}",
            self.kind.name(),
            x.len()
        );
        let n = d as f64;
        match self.kind {
            ClassicKind::Sphere => x.iter().map(|v| v * v).sum(),
            ClassicKind::Ellipsoid => x.iter().zip(&self.weights).map(|(v, w)| w * v * v).sum(),
            ClassicKind::Rosenbrock => x
                .windows(2)
                .map(|w| 100.0 * (w[1] - w[0] * w[0]).powi(2) + (1.0 - w[0]).powi(2))
                .sum(),
            ClassicKind::Rastrigin => {
                10.0 * n + x.iter().map(|v| v * v - 10.0 * (2.0 * PI * v).cos()).sum::<f64>()
            }
            ClassicKind::Ackley => {
                let sq = x.iter().map(|v| v * v).sum::<f64>() / n;
                let cs = x.iter().map(|v| (2.0 * PI * v).cos()).sum::<f64>() / n;
                -20.0 * (-0.2 * sq.sqrt()).exp() - cs.exp() + 20.0 + E
            }
            ClassicKind::Griewank => {
                let sum = x.iter().map(|v| v * v).sum::<f64>() / 4000.0;
                let prod: f64 = x
                    .iter()
                    .enumerate()
                    .map(|(i, v)| (v / ((i + 1) as f64).sqrt()).cos())
                    .product();
                1.0 + sum - prod
            }
            ClassicKind::Schwefel => {
                SCHWEFEL_CONSTANT * n - x.iter().map(|v| v * v.abs().sqrt().sin()).sum::<f64>()
            }
            ClassicKind::Levy => {
                let w = |v: f64| 1.0 + (v - 1.0) / 4.0;
                let first = (PI * w(x[0])).sin().powi(2);
                let wd = w(x[d - 1]);
                let last = (wd - 1.0).powi(2) * (1.0 + (2.0 * PI * wd).sin().powi(2));
                let middle: f64 = x[..d - 1]
                    .iter()
                    .map(|&v| {
                        let wi = w(v);
                        (wi - 1.0).powi(2) * (1.0 + 10.0 * (PI * wi + 1.0).sin().powi(2))
                    })
                    .sum();
                first + middle + last
            }
            ClassicKind::StyblinskiTang => {
                0.5 * x.iter().map(|v| v.powi(4) - 16.0 * v * v + 5.0 * v).sum::<f64>()
            }
            ClassicKind::Branin => {
                let (x1, x2) = (x[0], x[1]);
                let b = 5.1 / (4.0 * PI * PI);
                let c = 5.0 / PI;
                let t = 1.0 / (8.0 * PI);
                (x2 - b * x1 * x1 + c * x1 - 6.0).powi(2) + 10.0 * (1.0 - t) * x1.cos() + 10.0
            }
            ClassicKind::Hartmann3 => hartmann(x, &HARTMANN3_A, &HARTMANN3_P),
            ClassicKind::Hartmann6 => hartmann(x, &HARTMANN6_A, &HARTMANN6_P),
        }
    }
}

/// `−Σ_i α_i exp(−Σ_j A_ij (x_j − P_ij)²)`.
fn hartmann<const N: usize>(x: &[f64], a: &[[f64; N]; 4], p: &[[f64; N]; 4]) -> f64 {
    -(0..4)
        .map(|i| {
            let inner: f64 = (0..N).map(|j| a[i][j] * (x[j] - p[i][j]).powi(2)).sum();
            HARTMANN_ALPHA[i] * (-inner).exp()
        })
        .sum::<f64>()
}

impl Problem for Classic {
    fn space(&self) -> &Space {
        &self.space
    }

    fn evaluate(&self, x: &[f64], _ctx: &EvalCtx) -> Result<Evaluation, EvalError> {
        if x.len() != self.dimension() {
            return Err(EvalError(format!(
                "{} expects {} coordinates, got {}",
                self.kind.name(),
                self.dimension(),
                x.len()
            )));
        }
        Ok(Evaluation::value(self.value(x)))
    }

    fn optimum(&self) -> Option<f64> {
        self.optimum
    }
}

/// The study-file form of a classic function
/// (`problem: {kind: classic, function: rastrigin, dimension: 10}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClassicConfig {
    /// Which function.
    pub function: ClassicKind,
    /// Number of variables: required for the scalable functions; Branin (2), Hartmann 3 and
    /// Hartmann 6 have a fixed dimension and accept only that value or nothing.
    #[serde(default)]
    pub dimension: Option<usize>,
    /// Lower bound for every coordinate, replacing the standard one.
    #[serde(default)]
    pub lower: Option<f64>,
    /// Upper bound for every coordinate, replacing the standard one.
    #[serde(default)]
    pub upper: Option<f64>,
}

impl ClassicConfig {
    /// Validates the configuration and builds the problem. Errors name the YAML field.
    pub fn build(&self) -> Result<Classic, ConfigError> {
        let kind = self.function;
        let name = kind.name();
        let d = match (kind.fixed_dimension(), self.dimension) {
            (Some(fixed), None) => fixed,
            (Some(fixed), Some(given)) if given == fixed => fixed,
            (Some(fixed), Some(given)) => {
                return Err(ConfigError::new(
                    "dimension",
                    format!(
                        "{name} is defined in {fixed} dimensions only, got {given}; omit the field"
                    ),
                ));
            }
            (None, None) => {
                return Err(ConfigError::new("dimension", format!("{name} needs a dimension")));
            }
            (None, Some(given)) if given < kind.min_dimension() => {
                return Err(ConfigError::new(
                    "dimension",
                    format!("{name} needs dimension >= {}, got {given}", kind.min_dimension()),
                ));
            }
            (None, Some(given)) => given,
        };
        for (field, v) in [("lower", self.lower), ("upper", self.upper)] {
            if let Some(v) = v
                && !v.is_finite()
            {
                return Err(ConfigError::new(field, format!("must be finite, got {v}")));
            }
        }
        let (mut lo, mut hi) = kind.standard_bounds(d);
        if let Some(l) = self.lower {
            lo.fill(l);
        }
        if let Some(u) = self.upper {
            hi.fill(u);
        }
        if let Some(i) = (0..d).find(|&i| lo[i] >= hi[i]) {
            // Blame the field the user wrote; if both were given, `lower` is as good as `upper`.
            let field = if self.lower.is_some() { "lower" } else { "upper" };
            return Err(ConfigError::new(
                field,
                format!(
                    "lower bound {} is not below upper bound {} (coordinate {i})",
                    lo[i], hi[i]
                ),
            ));
        }
        let inside =
            |x: &[f64]| x.iter().zip(lo.iter().zip(&hi)).all(|(v, (l, h))| l <= v && v <= h);
        let optimum = kind.optimisers(d).iter().any(|x| inside(x)).then(|| kind.optimal_value(d));
        let weights = if kind == ClassicKind::Ellipsoid {
            (0..d)
                .map(|i| if d == 1 { 1.0 } else { 1e6_f64.powf(i as f64 / (d - 1) as f64) })
                .collect()
        } else {
            Vec::new()
        };
        Ok(Classic { kind, space: Space::real_bounds(&lo, &hi), weights, optimum })
    }
}

impl Describe for ClassicConfig {
    const KIND: &'static str = "classic";
    const SUMMARY: &'static str = "Classic test functions with known optima (sphere, Rosenbrock, Rastrigin, Ackley, Branin, Hartmann, ...)";
    fn params() -> Vec<ParamDoc> {
        vec![
            ParamDoc::req(
                "function",
                "sphere | ellipsoid | rosenbrock | rastrigin | ackley | griewank | schwefel | levy \
                 | styblinski_tang | branin | hartmann3 | hartmann6",
                "which function",
            ),
            ParamDoc::opt(
                "dimension",
                "int",
                "null",
                "number of variables; required except for branin (2), hartmann3, hartmann6",
            ),
            ParamDoc::opt(
                "lower",
                "float",
                "null",
                "lower bound of every coordinate (default: standard box)",
            ),
            ParamDoc::opt(
                "upper",
                "float",
                "null",
                "upper bound of every coordinate (default: standard box)",
            ),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dims(kind: ClassicKind) -> Vec<usize> {
        match kind.fixed_dimension() {
            Some(d) => vec![d],
            None => vec![kind.min_dimension(), 2, 5, 13],
        }
    }

    #[test]
    fn value_at_every_optimiser_is_the_optimum() {
        for kind in ClassicKind::ALL {
            for d in dims(kind) {
                let p =
                    ClassicConfig { function: kind, dimension: Some(d), lower: None, upper: None }
                        .build()
                        .unwrap();
                let want = p.optimum().expect("standard box contains the optimiser");
                for x in kind.optimisers(d) {
                    let got = p.value(&x);
                    // Schwefel sums d terms of size ~420 whose difference is ~1e-5: allow for the
                    // cancellation; every other function is exact to a few ulps.
                    let tol = if kind == ClassicKind::Schwefel { 1e-10 * d as f64 } else { 1e-12 };
                    assert!(
                        (got - want).abs() <= tol,
                        "{} d={d} at {x:?}: {got} vs {want}",
                        kind.name()
                    );
                }
            }
        }
    }

    #[test]
    fn optimisers_are_local_minima() {
        // Independent of the constants above: nudging any coordinate of any optimiser must not
        // lower the value (catches a wrong argmin or a wrong optimal value alike).
        for kind in ClassicKind::ALL {
            for d in dims(kind) {
                let p = Classic::new(kind, d).unwrap();
                for x in kind.optimisers(d) {
                    let f0 = p.value(&x);
                    for i in 0..d {
                        for h in [1e-4, -1e-4] {
                            let mut y = x.clone();
                            y[i] += h;
                            assert!(
                                p.value(&y) >= f0 - 1e-12,
                                "{} d={d}: lower at {y:?}",
                                kind.name()
                            );
                        }
                    }
                }
            }
        }
    }

    fn at(kind: ClassicKind, x: &[f64]) -> f64 {
        let d = kind.fixed_dimension().unwrap_or(x.len());
        Classic::new(kind, d).unwrap().value(x)
    }

    #[track_caller]
    fn close(got: f64, want: f64) {
        assert!((got - want).abs() <= 1e-12 * want.abs().max(1.0), "{got} vs {want}");
    }

    // One value per function away from its optimum, worked out by hand from the definition.
    #[test]
    fn hand_checked_values() {
        // 1 + 4 + 9.
        close(at(ClassicKind::Sphere, &[1.0, 2.0, 3.0]), 14.0);
        // Weights 1, 10³, 10⁶ in three dimensions.
        close(at(ClassicKind::Ellipsoid, &[1.0, 1.0, 1.0]), 1_001_001.0);
        // 100 (0 − 0)² + (1 − 0)².
        close(at(ClassicKind::Rosenbrock, &[0.0, 0.0]), 1.0);
        // 100 (2 − 1)² + (1 − 1)² + 100 (0 − 4)² + (1 − 2)² = 100 + 1600 + 1.
        close(at(ClassicKind::Rosenbrock, &[1.0, 2.0, 0.0]), 1701.0);
        // cos 2π = 1: 20 + 2·(1 − 10).
        close(at(ClassicKind::Rastrigin, &[1.0, 1.0]), 2.0);
        // mean x² = 1, mean cos = 1: −20 e^{−0.2} − e + 20 + e.
        close(at(ClassicKind::Ackley, &[1.0, 1.0]), 20.0 - 20.0 * (-0.2_f64).exp());
        // 1 + (2π)²/4000 − cos 2π.
        close(at(ClassicKind::Griewank, &[2.0 * PI]), (2.0 * PI).powi(2) / 4000.0);
        // 0 · sin 0 contributes nothing.
        close(at(ClassicKind::Schwefel, &[0.0, 0.0]), 2.0 * 418.9829);
        // w = (0, 1): sin² 0 + (0 − 1)²(1 + 10 sin² 1) + 0.
        close(at(ClassicKind::Levy, &[-3.0, 1.0]), 1.0 + 10.0 * 1.0_f64.sin().powi(2));
        // ½ (1 − 16 + 5) per coordinate.
        close(at(ClassicKind::StyblinskiTang, &[1.0, 1.0]), -10.0);
        // (−6)² + 10 (1 − 1/(8π)) + 10.
        close(at(ClassicKind::Branin, &[0.0, 0.0]), 56.0 - 10.0 / (8.0 * PI));
        // At P_1 the first term is −1; the others are tiny but computed from the same constants.
        let p1 = HARTMANN3_P[0];
        let rest: f64 = (1..4)
            .map(|i| {
                let s: f64 =
                    (0..3).map(|j| HARTMANN3_A[i][j] * (p1[j] - HARTMANN3_P[i][j]).powi(2)).sum();
                HARTMANN_ALPHA[i] * (-s).exp()
            })
            .sum();
        close(at(ClassicKind::Hartmann3, &p1), -1.0 - rest);
        // At the origin; evaluated independently in Python from the published tables.
        let h6 = at(ClassicKind::Hartmann6, &[0.0; 6]);
        assert!((h6 - -0.00508911288366444).abs() < 1e-15, "{h6}");
    }

    #[test]
    fn dimension_rules() {
        let cfg =
            |function, dimension| ClassicConfig { function, dimension, lower: None, upper: None };
        assert_eq!(cfg(ClassicKind::Sphere, None).build().unwrap_err().field, "dimension");
        assert_eq!(cfg(ClassicKind::Sphere, Some(0)).build().unwrap_err().field, "dimension");
        assert_eq!(cfg(ClassicKind::Rosenbrock, Some(1)).build().unwrap_err().field, "dimension");
        assert_eq!(cfg(ClassicKind::Branin, Some(3)).build().unwrap_err().field, "dimension");
        assert_eq!(cfg(ClassicKind::Branin, Some(2)).build().unwrap().dimension(), 2);
        assert_eq!(cfg(ClassicKind::Hartmann6, None).build().unwrap().dimension(), 6);
    }

    #[test]
    fn bounds_override_and_optimum_visibility() {
        let p = ClassicConfig {
            function: ClassicKind::Schwefel,
            dimension: Some(3),
            lower: None,
            upper: None,
        }
        .build()
        .unwrap();
        assert_eq!(p.space().lower(), vec![-500.0; 3]);
        assert_eq!(p.space().upper(), vec![500.0; 3]);
        let b = ClassicConfig {
            function: ClassicKind::Branin,
            dimension: None,
            lower: None,
            upper: None,
        }
        .build()
        .unwrap();
        assert_eq!(b.space().lower(), vec![-5.0, 0.0]);
        assert_eq!(b.space().upper(), vec![10.0, 15.0]);
        // A box that excludes the optimiser has no known optimum.
        let shifted = ClassicConfig {
            function: ClassicKind::Sphere,
            dimension: Some(2),
            lower: Some(1.0),
            upper: Some(2.0),
        }
        .build()
        .unwrap();
        assert_eq!(shifted.optimum(), None);
        assert_eq!(shifted.space().lower(), vec![1.0; 2]);
        let bad = ClassicConfig {
            function: ClassicKind::Sphere,
            dimension: Some(2),
            lower: Some(3.0),
            upper: Some(3.0),
        };
        assert_eq!(bad.build().unwrap_err().field, "lower");
        let bad = ClassicConfig {
            function: ClassicKind::Sphere,
            dimension: Some(2),
            lower: None,
            upper: Some(-6.0),
        };
        assert_eq!(bad.build().unwrap_err().field, "upper");
        let bad = ClassicConfig {
            function: ClassicKind::Sphere,
            dimension: Some(2),
            lower: Some(f64::NAN),
            upper: None,
        };
        assert_eq!(bad.build().unwrap_err().field, "lower");
    }

    #[test]
    fn config_parses_snake_case_and_rejects_unknown_fields() {
        let c: ClassicConfig =
            serde_json::from_str(r#"{"function": "styblinski_tang", "dimension": 4}"#).unwrap();
        assert_eq!(c.function, ClassicKind::StyblinskiTang);
        let c: ClassicConfig = serde_json::from_str(r#"{"function": "hartmann6"}"#).unwrap();
        assert_eq!(c.build().unwrap().dimension(), 6);
        assert!(
            serde_json::from_str::<ClassicConfig>(r#"{"function": "sphere", "dim": 4}"#).is_err()
        );
        assert!(
            serde_json::from_str::<ClassicConfig>(r#"{"function": "spheres", "dimension": 4}"#)
                .is_err()
        );
        for kind in ClassicKind::ALL {
            let json = serde_json::to_string(&kind).unwrap();
            assert_eq!(json, format!("\"{}\"", kind.name()));
        }
    }

    #[test]
    fn problem_trait_rejects_wrong_length() {
        let p = Classic::new(ClassicKind::Levy, 3).unwrap();
        let ctx = EvalCtx { id: 0, generation: 0, seed: 0 };
        assert!(p.evaluate(&[1.0, 1.0], &ctx).is_err());
        assert_eq!(p.evaluate(&[1.0; 3], &ctx).unwrap().values, vec![p.value(&[1.0; 3])]);
    }
}
