//! `kind: mixed_quadratic`: a mixed-variable toy with a known optimum, for optimizers that
//! handle integer and categorical coordinates (BO's mixed kernel and alternating search).
//!
//! Two reals `x ∈ [−2, 2]²`, an integer `k ∈ {−5, …, 10}` and a categorical `c ∈ {0, 1, 2, 3}`:
//!
//! `f(x, k, c) = (x₀ − s_c)² + (x₁ + ½)² + (k − 3)²/10 + p_c`,
//! `s = (−1, ½, 0.3, 1.5)`, `p = (0.8, 0.5, 0, 1.2)`.
//!
//! The category moves the best `x₀` (so it interacts with the reals) and adds its own offset;
//! the codes carry no order (the best category, 2, is neither an end nor a neighbour of the
//! second best, 1, in value). The minimum is 0 at `(0.3, −0.5, 3, 2)`. Points off the grid
//! (a non-integer `k` or `c`) are rejected with an error, so a strategy that rounds nothing
//! must propose grid points itself.
use evoforge_core::{
    ConfigError, Describe, Dim, DimKind, EvalCtx, EvalError, Evaluation, ParamDoc, Problem, Space,
};
use serde::{Deserialize, Serialize};

const SHIFT: [f64; 4] = [-1.0, 0.5, 0.3, 1.5];
const OFFSET: [f64; 4] = [0.8, 0.5, 0.0, 1.2];

/// The mixed quadratic (see the module doc).
#[derive(Debug, Clone)]
pub struct MixedQuadratic {
    space: Space,
}

impl MixedQuadratic {
    /// The problem with its fixed space `[x₀, x₁, k, c]`.
    pub fn new() -> Self {
        let real = Dim { kind: DimKind::Real, lo: -2.0, hi: 2.0 };
        Self {
            space: Space::new(vec![
                real,
                real,
                Dim { kind: DimKind::Integer, lo: -5.0, hi: 10.0 },
                Dim { kind: DimKind::Categorical { n: 4 }, lo: 0.0, hi: 3.0 },
            ]),
        }
    }

    /// The value at `x = [x₀, x₁, k, c]`, or why the point is not in the space.
    pub fn value(&self, x: &[f64]) -> Result<f64, EvalError> {
        if x.len() != 4 {
            return Err(EvalError(format!(
                "mixed_quadratic expects 4 coordinates, got {}",
                x.len()
            )));
        }
        for (i, (v, d)) in x.iter().zip(self.space.dims()).enumerate() {
            if !(d.lo..=d.hi).contains(v) || (d.kind != DimKind::Real && v.fract() != 0.0) {
                return Err(EvalError(format!(
                    "coordinate {i} = {v} is not a value of {:?} in [{}, {}]",
                    d.kind, d.lo, d.hi
                )));
            }
        }
        let c = x[3] as usize;
        Ok((x[0] - SHIFT[c]).powi(2)
            + (x[1] + 0.5).powi(2)
            + (x[2] - 3.0).powi(2) / 10.0
            + OFFSET[c])
    }
}

impl Default for MixedQuadratic {
    fn default() -> Self {
        Self::new()
    }
}

impl Problem for MixedQuadratic {
    fn space(&self) -> &Space {
        &self.space
    }

    fn evaluate(&self, x: &[f64], _ctx: &EvalCtx) -> Result<Evaluation, EvalError> {
        self.value(x).map(Evaluation::value)
    }

    fn optimum(&self) -> Option<f64> {
        Some(0.0)
    }
}

/// The study-file form (`problem: {kind: mixed_quadratic}`; no parameters).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MixedQuadraticConfig {}

impl MixedQuadraticConfig {
    /// Builds the problem (nothing to validate).
    pub fn build(&self) -> Result<MixedQuadratic, ConfigError> {
        Ok(MixedQuadratic::new())
    }
}

impl Describe for MixedQuadraticConfig {
    const KIND: &'static str = "mixed_quadratic";
    const SUMMARY: &'static str = "Mixed-variable toy: 2 reals, an integer in -5..10, a categorical of 4; minimum 0 at (0.3, -0.5, 3, 2)";
    fn params() -> Vec<ParamDoc> {
        Vec::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn optimum_and_grid_checks() {
        let p = MixedQuadratic::new();
        assert_eq!(p.value(&[0.3, -0.5, 3.0, 2.0]).unwrap(), 0.0);
        // Every other grid point of the discrete part is worse at its best reals.
        for k in -5..=10 {
            for (c, shift) in SHIFT.iter().enumerate() {
                let f = p.value(&[*shift, -0.5, f64::from(k), c as f64]).unwrap();
                assert!(f > 0.0 || (k == 3 && c == 2));
            }
        }
        assert!(p.value(&[0.0, 0.0, 2.5, 1.0]).is_err());
        assert!(p.value(&[0.0, 0.0, 2.0, 1.5]).is_err());
        assert!(p.value(&[0.0, 0.0, 2.0, 4.0]).is_err());
        assert!(p.value(&[3.0, 0.0, 2.0, 1.0]).is_err());
        assert!(p.value(&[0.0, 0.0, 2.0]).is_err());
        assert!(p.space().check().is_ok());
    }
}
