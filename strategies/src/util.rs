//! Pieces every strategy in this crate shares: id bookkeeping of an asked batch, serde of
//! floats that may be non-finite, validation of common options, and the ask/tell bookkeeping of
//! the noise-table ES family (mirrored perturbations, best member, failure counts).
use evoforge_core::{
    Candidate, ConfigError, Evaluated, Metrics, NoiseTable, Outcome, Rng, Space, TellError,
};

use crate::openai_es::Perturbation;
use rand::RngExt;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Serde for `f64` values that may be `±inf` or NaN (a failed evaluation ranks `+inf`, a
/// problem may report `-inf`). serde_json writes non-finite floats as `null`, which does not
/// read back; these helpers write them as the strings `"inf"`, `"-inf"` and `"NaN"` and finite
/// values as plain numbers (bit exact with serde_json's `float_roundtrip`).
pub(crate) mod nf {
    use super::*;

    struct V;
    impl serde::de::Visitor<'_> for V {
        type Value = f64;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a number or one of \"inf\", \"-inf\", \"NaN\"")
        }
        fn visit_f64<E>(self, v: f64) -> Result<f64, E> {
            Ok(v)
        }
        fn visit_u64<E>(self, v: u64) -> Result<f64, E> {
            Ok(v as f64)
        }
        fn visit_i64<E>(self, v: i64) -> Result<f64, E> {
            Ok(v as f64)
        }
        fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<f64, E> {
            match v {
                "inf" => Ok(f64::INFINITY),
                "-inf" => Ok(f64::NEG_INFINITY),
                "NaN" => Ok(f64::NAN),
                _ => Err(E::invalid_value(serde::de::Unexpected::Str(v), &self)),
            }
        }
    }

    /// One float, as described in the module doc.
    #[derive(Clone, Copy, Debug, PartialEq)]
    pub(crate) struct F(pub f64);

    impl Serialize for F {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            let v = self.0;
            if v.is_finite() {
                s.serialize_f64(v)
            } else if v.is_nan() {
                s.serialize_str("NaN")
            } else if v > 0.0 {
                s.serialize_str("inf")
            } else {
                s.serialize_str("-inf")
            }
        }
    }

    impl<'de> Deserialize<'de> for F {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            d.deserialize_any(V).map(F)
        }
    }

    /// `#[serde(with = "nf")]` on an `f64` field.
    pub(crate) fn serialize<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
        F(*v).serialize(s)
    }
    /// `#[serde(with = "nf")]` on an `f64` field.
    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        F::deserialize(d).map(|f| f.0)
    }

    /// `#[serde(with = "nf::vec")]` on a `Vec<f64>` field.
    pub(crate) mod vec {
        use super::*;
        pub(crate) fn serialize<S: Serializer>(v: &[f64], s: S) -> Result<S::Ok, S::Error> {
            s.collect_seq(v.iter().map(|&x| F(x)))
        }
        pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<f64>, D::Error> {
            Vec::<F>::deserialize(d).map(|v| v.into_iter().map(|f| f.0).collect())
        }
    }

    /// `#[serde(with = "nf::opt")]` on an `Option<f64>` field.
    pub(crate) mod opt {
        use super::*;
        pub(crate) fn serialize<S: Serializer>(v: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
            v.map(F).serialize(s)
        }
        pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
            d: D,
        ) -> Result<Option<f64>, D::Error> {
            Option::<F>::deserialize(d).map(|f| f.map(|f| f.0))
        }
    }

    /// `#[serde(with = "nf::opt_vec")]` on a `Vec<Option<f64>>` field.
    pub(crate) mod opt_vec {
        use super::*;
        pub(crate) fn serialize<S: Serializer>(v: &[Option<f64>], s: S) -> Result<S::Ok, S::Error> {
            s.collect_seq(v.iter().map(|x| x.map(F)))
        }
        pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
            d: D,
        ) -> Result<Vec<Option<f64>>, D::Error> {
            Vec::<Option<F>>::deserialize(d)
                .map(|v| v.into_iter().map(|f| f.map(|f| f.0)).collect())
        }
    }

    /// `#[serde(with = "nf::best")]` on an `Option<(Vec<f64>, f64)>` field (best point and value).
    pub(crate) mod best {
        use super::*;
        #[derive(Serialize, Deserialize)]
        struct Best {
            #[serde(with = "super::vec")]
            x: Vec<f64>,
            f: F,
        }
        pub(crate) fn serialize<S: Serializer>(
            v: &Option<(Vec<f64>, f64)>,
            s: S,
        ) -> Result<S::Ok, S::Error> {
            v.as_ref().map(|(x, f)| Best { x: x.clone(), f: F(*f) }).serialize(s)
        }
        pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
            d: D,
        ) -> Result<Option<(Vec<f64>, f64)>, D::Error> {
            Option::<Best>::deserialize(d).map(|b| b.map(|b| (b.x, b.f.0)))
        }
    }
}

/// The candidates of the latest `ask` that have not been told yet.
///
/// Ids of one batch are contiguous (`first_id .. first_id + len`). `tell` may deliver results
/// in any order and in several calls; a result for an id outside the batch, or for an id
/// already told, is rejected and leaves the batch unchanged.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Batch {
    /// Id of the first candidate of the batch.
    pub first_id: u64,
    /// Fitness per candidate (`None` until told); `+inf` for failures.
    #[serde(with = "nf::opt_vec")]
    pub fitness: Vec<Option<f64>>,
}

impl Batch {
    /// A new batch of `len` candidates starting at `first_id`.
    pub fn new(first_id: u64, len: usize) -> Self {
        Self { first_id, fitness: vec![None; len] }
    }

    /// Slot of `id` in the batch.
    pub fn slot(&self, id: u64) -> Option<usize> {
        let k = id.checked_sub(self.first_id)?;
        (k < self.fitness.len() as u64).then_some(k as usize)
    }

    /// Records the fitness of every result, or rejects them all (unknown or repeated id).
    pub fn accept<G>(&mut self, results: &[Evaluated<G>]) -> Result<(), TellError> {
        // The usual tell: the whole batch at once, in ask order. One pass checks that, with no
        // bookkeeping of which slots were seen.
        if results.len() == self.fitness.len()
            && results.iter().enumerate().all(|(k, r)| r.id == self.first_id.wrapping_add(k as u64))
            && self.fitness.iter().all(Option::is_none)
        {
            for (f, r) in self.fitness.iter_mut().zip(results) {
                *f = Some(r.fitness());
            }
            return Ok(());
        }
        // Validate everything first so an error leaves the batch untouched.
        let mut seen = vec![false; self.fitness.len()];
        for r in results {
            let Some(k) = self.slot(r.id) else {
                return Err(TellError(format!(
                    "unknown candidate id {} (the pending batch is {}..{})",
                    r.id,
                    self.first_id,
                    self.first_id + self.fitness.len() as u64
                )));
            };
            if self.fitness[k].is_some() || seen[k] {
                return Err(TellError(format!("candidate id {} was told twice", r.id)));
            }
            seen[k] = true;
        }
        for r in results {
            let k = (r.id - self.first_id) as usize;
            self.fitness[k] = Some(r.fitness());
        }
        Ok(())
    }

    /// Whether every candidate of the batch has been told.
    pub fn complete(&self) -> bool {
        !self.fitness.is_empty() && self.fitness.iter().all(Option::is_some)
    }

    /// Fitness values of a complete batch (failures `+inf`).
    pub fn values(&self) -> Vec<f64> {
        self.fitness.iter().map(|f| f.unwrap_or(f64::INFINITY)).collect()
    }

    /// Number of candidates still waiting for a result.
    pub fn missing(&self) -> usize {
        self.fitness.iter().filter(|f| f.is_none()).count()
    }
}

/// Slots of a batch's fitness values `f` sorted ascending, ties broken by id (as [`evoforge_core::eval::rank_order`]
/// does), so the order never depends on the order results arrived in.
pub(crate) fn rank(f: &[f64]) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..f.len()).collect();
    // Slots are in id order, so the slot index is the id tie breaker.
    idx.sort_by(|&a, &b| f[a].total_cmp(&f[b]).then(a.cmp(&b)));
    idx
}

/// A point drawn uniformly in the bounds of `space` (degenerate coordinates give `lo`).
pub(crate) fn uniform_in(space: &Space, rng: &mut Rng) -> Vec<f64> {
    space.dims().iter().map(|d| d.lo + (d.hi - d.lo) * rng.random::<f64>()).collect()
}

/// Validates an optional `mean0` against `space`: right length, finite, inside the bounds.
pub(crate) fn check_mean0(mean0: &Option<Vec<f64>>, space: &Space) -> Result<(), ConfigError> {
    let Some(m) = mean0 else { return Ok(()) };
    if m.len() != space.dim() {
        return Err(ConfigError::new(
            "mean0",
            format!("has {} entries but the space has {} coordinates", m.len(), space.dim()),
        ));
    }
    for (i, (v, d)) in m.iter().zip(space.dims()).enumerate() {
        if !v.is_finite() {
            return Err(ConfigError::new(format!("mean0[{i}]"), "must be finite"));
        }
        if *v < d.lo || *v > d.hi {
            return Err(ConfigError::new(
                format!("mean0[{i}]"),
                format!("{v} is outside the bounds [{}, {}]", d.lo, d.hi),
            ));
        }
    }
    Ok(())
}

/// The default initial step size: 0.3 times the mean width of the box (documented in each
/// strategy's config), or the given `sigma0` after checking it is positive and finite.
pub(crate) fn resolve_sigma0(sigma0: Option<f64>, space: &Space) -> Result<f64, ConfigError> {
    match sigma0 {
        Some(s) if s.is_finite() && s > 0.0 => Ok(s),
        Some(s) => Err(ConfigError::new("sigma0", format!("must be positive and finite, got {s}"))),
        None => {
            let w = space.dims().iter().map(|d| d.hi - d.lo).sum::<f64>() / space.dim() as f64;
            if w > 0.0 && w.is_finite() {
                Ok(0.3 * w)
            } else {
                Err(ConfigError::new(
                    "sigma0",
                    "the space has zero width, so there is no default; give sigma0 explicitly",
                ))
            }
        }
    }
}

/// Clips `x` into the box of `space`.
pub(crate) fn clip_into(space: &Space, x: &mut [f64]) {
    for (v, d) in x.iter_mut().zip(space.dims()) {
        *v = v.clamp(d.lo, d.hi);
    }
}

/// Updates `best` with `(x, f)` when `f` is better; failures (`+inf`, NaN) never become best.
pub(crate) fn improve_best(best: &mut Option<(Vec<f64>, f64)>, x: &[f64], f: f64) {
    if f.is_nan() || f == f64::INFINITY {
        return;
    }
    if best.as_ref().is_none_or(|(_, b)| f < *b) {
        *best = Some((x.to_vec(), f));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize, Deserialize, PartialEq, Debug)]
    struct T {
        #[serde(with = "nf")]
        a: f64,
        #[serde(with = "nf::vec")]
        b: Vec<f64>,
        #[serde(with = "nf::opt_vec")]
        c: Vec<Option<f64>>,
    }

    #[test]
    fn non_finite_floats_round_trip() {
        let t = T {
            a: f64::NEG_INFINITY,
            b: vec![0.1, f64::INFINITY, -3.0, 1e-310, 7.0],
            c: vec![None, Some(f64::INFINITY), Some(0.30000000000000004)],
        };
        let s = serde_json::to_string(&t).unwrap();
        let u: T = serde_json::from_str(&s).unwrap();
        assert_eq!(t, u);
        let n: f64 = serde_json::from_str::<nf::F>("\"NaN\"").unwrap().0;
        assert!(n.is_nan());
    }

    #[test]
    fn batch_rejects_unknown_and_repeated_ids_atomically() {
        use evoforge_core::{Evaluation, Outcome};
        let ev = |id| Evaluated { id, genome: (), outcome: Outcome::Ok(Evaluation::value(1.0)) };
        let mut b = Batch::new(10, 3);
        assert!(b.accept(&[ev(10), ev(13)]).is_err());
        assert_eq!(b.missing(), 3);
        assert!(b.accept(&[ev(11), ev(11)]).is_err());
        assert_eq!(b.missing(), 3);
        b.accept(&[ev(12), ev(10)]).unwrap();
        assert!(b.accept(&[ev(10)]).is_err());
        assert!(!b.complete());
        b.accept(&[ev(11)]).unwrap();
        assert!(b.complete());
    }
}

/// `Ok` when `v` is positive and finite, else the error for `field`.
pub(crate) fn positive(field: &str, v: f64) -> Result<(), ConfigError> {
    if v.is_finite() && v > 0.0 {
        Ok(())
    } else {
        Err(ConfigError::new(field, format!("must be positive and finite, got {v}")))
    }
}

/// `Ok` when `v` is finite and `>= 0`, else the error for `field`.
pub(crate) fn non_negative(field: &str, v: f64) -> Result<(), ConfigError> {
    if v.is_finite() && v >= 0.0 {
        Ok(())
    } else {
        Err(ConfigError::new(field, format!("must be finite and non-negative, got {v}")))
    }
}

/// `Ok` when `v` is in `[0, 1)` (momenta, decay factors), else the error for `field`.
pub(crate) fn unit(field: &str, v: f64) -> Result<(), ConfigError> {
    if (0.0..1.0).contains(&v) {
        Ok(())
    } else {
        Err(ConfigError::new(field, format!("must be in [0, 1), got {v}")))
    }
}

/// `n` perturbations of one generation: `n/2` mirrored pairs `(i, +1), (i, −1)` (antithetic
/// sampling), or `n` independent `(i, +1)` when `mirrored` is false. Indices are drawn from the
/// table for slices of `d` values.
pub(crate) fn perturbations(
    table: &NoiseTable,
    rng: &mut Rng,
    n: usize,
    d: usize,
    mirrored: bool,
) -> Vec<Perturbation> {
    let mut out = Vec::with_capacity(n);
    if mirrored {
        for _ in 0..n / 2 {
            let index = table.sample_index(rng, d) as u64;
            out.push(Perturbation { index, sign: 1 });
            out.push(Perturbation { index, sign: -1 });
        }
    } else {
        for _ in 0..n {
            out.push(Perturbation { index: table.sample_index(rng, d) as u64, sign: 1 });
        }
    }
    out
}

/// The candidates for `genomes`, numbered `first_id, first_id + 1, …`.
pub(crate) fn numbered<G: Clone>(first_id: u64, genomes: &[G]) -> Vec<Candidate<G>> {
    genomes
        .iter()
        .enumerate()
        .map(|(k, g)| Candidate { id: first_id + k as u64, genome: g.clone() })
        .collect()
}

/// The best member seen so far: its genome, fitness and evaluated point.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct BestMember<G> {
    pub genome: G,
    #[serde(with = "nf")]
    pub fitness: f64,
    /// The evaluated point (repaired into the box).
    #[serde(with = "nf::vec")]
    pub x: Vec<f64>,
}

/// The tell bookkeeping of a strategy with a pending batch of `pending` genomes: accepts the
/// results into `batch` (rejecting unknown or repeated ids), replaces `best` by any better
/// member (its point from `point`; failures are `+inf` and never become best), and returns the
/// number of failed evaluations.
pub(crate) fn accept_and_track<G: Clone>(
    batch: &mut Batch,
    pending: &[G],
    best: &mut Option<BestMember<G>>,
    results: &[Evaluated<G>],
    point: impl Fn(&G) -> Vec<f64>,
) -> Result<f64, TellError> {
    // Ids are matched against the pending generation; its stored genomes are authoritative.
    batch.accept(results)?;
    let mut failures = 0.0;
    for r in results {
        if r.failed() {
            failures += 1.0;
        }
        let f = r.fitness();
        if f < best.as_ref().map_or(f64::INFINITY, |b| b.fitness) {
            let genome = pending[(r.id - batch.first_id) as usize].clone();
            let x = point(&genome);
            *best = Some(BestMember { genome, fitness: f, x });
        }
    }
    Ok(failures)
}

/// Adds the `failures` and `best_fitness` metrics of a tell.
pub(crate) fn tell_metrics<G>(m: &mut Metrics, failures: f64, best: &Option<BestMember<G>>) {
    m.insert("failures".into(), failures);
    if let Some(b) = best {
        m.insert("best_fitness".into(), b.fitness);
    }
}

/// Stores each successful result's behaviour descriptor (`Evaluation::extras`, all finite) in
/// the slot of its id within the batch starting at `first_id`; novelty search reads them.
pub(crate) fn record_behaviours<G>(
    first_id: u64,
    behaviours: &mut [Option<Vec<f64>>],
    results: &[Evaluated<G>],
) {
    for r in results {
        let k = (r.id - first_id) as usize;
        if let Outcome::Ok(e) = &r.outcome
            && let Some(b) = &e.extras
            && b.iter().all(|v| v.is_finite())
        {
            behaviours[k] = Some(b.clone());
        }
    }
}

/// Checks that a noise table of `len` values holds slices of `d` values and is addressable by
/// the `u64` indices of [`Perturbation`].
pub(crate) fn check_noise_len(len: usize, d: usize) -> Result<(), ConfigError> {
    if len <= d {
        return Err(ConfigError::new(
            "noise_len",
            format!("must exceed the dimension {d}, got {len}"),
        ));
    }
    if u64::try_from(len).is_err() {
        return Err(ConfigError::new("noise_len", "too large"));
    }
    Ok(())
}

/// The default initial centre: 0 where 0 lies in the bounds, else the box centre.
pub(crate) fn default_mean0(space: &Space) -> Vec<f64> {
    space
        .dims()
        .iter()
        .map(|dm| if dm.lo <= 0.0 && 0.0 <= dm.hi { 0.0 } else { 0.5 * (dm.lo + dm.hi) })
        .collect()
}
