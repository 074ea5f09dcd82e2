//! Search spaces: bounds and kind per coordinate.
use serde::{Deserialize, Serialize};

/// The kind of one coordinate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DimKind {
    /// A real number in `[lo, hi]`.
    Real,
    /// An integer in `[lo, hi]`; continuous strategies propose reals, the problem rounds.
    Integer,
    /// One of `n` categories encoded as `0..n` (bounds `[0, n-1]`).
    Categorical {
        /// Number of categories.
        n: u32,
    },
}

/// One coordinate of a [`Space`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Dim {
    /// Kind of the coordinate.
    pub kind: DimKind,
    /// Lower bound (inclusive).
    pub lo: f64,
    /// Upper bound (inclusive).
    pub hi: f64,
}

/// A search space: one [`Dim`] per coordinate.
///
/// A problem that knows the natural scale of its coordinates (a network's fan-in initialisation)
/// can attach it with [`Space::with_init_scale`]; strategies that draw initial points from
/// N(0, scale²) (the Deep GA) use it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(from = "SpaceData", into = "SpaceData")]
pub struct Space {
    dims: Vec<Dim>,
    init_scale: Option<Vec<f64>>,
    /// The bounds as two arrays and whether every coordinate is real, derived from `dims`:
    /// [`Space::repair`] runs on every evaluated point, and over plain arrays it vectorises.
    lo: Vec<f64>,
    hi: Vec<f64>,
    real: bool,
}

/// What a [`Space`] is made of, as it is written (the derived arrays are not).
#[derive(Serialize, Deserialize)]
struct SpaceData {
    dims: Vec<Dim>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    init_scale: Option<Vec<f64>>,
}

impl From<SpaceData> for Space {
    fn from(d: SpaceData) -> Self {
        let mut s = Space::new(d.dims);
        s.init_scale = d.init_scale;
        s
    }
}

impl From<Space> for SpaceData {
    fn from(s: Space) -> Self {
        SpaceData { dims: s.dims, init_scale: s.init_scale }
    }
}

impl Space {
    /// A space from its coordinates. Panics never: invalid bounds are reported by [`Space::check`].
    pub fn new(dims: Vec<Dim>) -> Self {
        let lo = dims.iter().map(|d| d.lo).collect();
        let hi = dims.iter().map(|d| d.hi).collect();
        let real = dims.iter().all(|d| d.kind == DimKind::Real);
        Self { dims, init_scale: None, lo, hi, real }
    }

    /// `d` real coordinates, all in `[lo, hi]`.
    pub fn real_box(d: usize, lo: f64, hi: f64) -> Self {
        Self::new(vec![Dim { kind: DimKind::Real, lo, hi }; d])
    }

    /// Real coordinates with per-coordinate bounds.
    pub fn real_bounds(lo: &[f64], hi: &[f64]) -> Self {
        Self::new(lo.iter().zip(hi).map(|(&lo, &hi)| Dim { kind: DimKind::Real, lo, hi }).collect())
    }

    /// Attaches a per-coordinate initialisation scale (standard deviation around 0); its length
    /// must be the dimension (checked by [`Space::check`]).
    pub fn with_init_scale(mut self, scale: Vec<f64>) -> Self {
        self.init_scale = Some(scale);
        self
    }

    /// The per-coordinate initialisation scale, when the problem gave one.
    pub fn init_scale(&self) -> Option<&[f64]> {
        self.init_scale.as_deref()
    }

    /// Number of coordinates.
    pub fn dim(&self) -> usize {
        self.dims.len()
    }

    /// The coordinates.
    pub fn dims(&self) -> &[Dim] {
        &self.dims
    }

    /// Lower bounds.
    pub fn lower(&self) -> Vec<f64> {
        self.lo.clone()
    }

    /// Upper bounds.
    pub fn upper(&self) -> Vec<f64> {
        self.hi.clone()
    }

    /// Whether every coordinate is real.
    pub fn is_real(&self) -> bool {
        self.real
    }

    /// Checks that the space is usable: at least one coordinate, finite bounds, `lo <= hi`.
    pub fn check(&self) -> Result<(), crate::ConfigError> {
        if self.dims.is_empty() {
            return Err(crate::ConfigError::new("dimension", "the space has no coordinates"));
        }
        if let Some(sc) = &self.init_scale
            && (sc.len() != self.dims.len() || sc.iter().any(|v| !(v.is_finite() && *v >= 0.0)))
        {
            return Err(crate::ConfigError::new(
                "init_scale",
                "needs one finite, non-negative value per coordinate",
            ));
        }
        for (i, d) in self.dims.iter().enumerate() {
            if !(d.lo.is_finite() && d.hi.is_finite()) {
                return Err(crate::ConfigError::new(
                    format!("bounds[{i}]"),
                    "bounds must be finite",
                ));
            }
            if d.lo > d.hi {
                return Err(crate::ConfigError::new(
                    format!("bounds[{i}]"),
                    format!("lower bound {} is above upper bound {}", d.lo, d.hi),
                ));
            }
        }
        Ok(())
    }

    /// Maps a point of the continuous encoding onto the space: clamps into bounds, rounds
    /// integer and categorical coordinates.
    pub fn repair(&self, x: &mut [f64]) {
        // Comparisons, not `f64::clamp`: its check of lo <= hi is a branch per coordinate that
        // keeps the loop scalar, and `check` has already refused such bounds. NaN stays NaN, as
        // with `clamp`.
        let clamp = |v: f64, lo: f64, hi: f64| {
            let v = if v < lo { lo } else { v };
            if v > hi { hi } else { v }
        };
        for ((v, &lo), &hi) in x.iter_mut().zip(&self.lo).zip(&self.hi) {
            *v = clamp(*v, lo, hi);
        }
        if !self.real {
            for (v, d) in x.iter_mut().zip(&self.dims) {
                if d.kind != DimKind::Real {
                    *v = clamp(v.round(), d.lo, d.hi);
                }
            }
        }
    }
}
