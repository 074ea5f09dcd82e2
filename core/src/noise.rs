//! The shared noise table behind seed-based genomes (OpenAI-ES, Deep GA).
//!
//! A seed-based genome is a list of table indices; a perturbation is the slice
//! `ε[idx..idx + d]` of one big table of N(0, 1) values. Only indices travel, so every process
//! that applies a perturbation must hold the same table, bit for bit, whatever language or
//! accelerator it runs on. The reference implementations (numpy's `RandomState.randn`) draw the
//! table sequentially with a libm `log`, which neither allows rebuilding one slice alone nor
//! gives the same last bit on every platform. This table is instead:
//!
//! * **counter-based**: the value at index `i` depends only on `(seed, i)` ([`value`]), so any
//!   slice can be computed without the rest ([`fill`]) and a table is built in parallel;
//! * **made of correctly rounded operations only**: integer hashing, `+ − × ÷`, `sqrt`, one
//!   conversion to `f32`, and a logarithm that is spelled out here as plain `f64` arithmetic
//!   (fdlibm's polynomial). Libm `log`, `exp`, `sin` and `cos` are not correctly rounded and
//!   differ in the last bit between glibc, numpy's SIMD loops and CUDA's libdevice; IEEE 754
//!   requires `+ − × ÷ sqrt` to be correctly rounded, so these agree everywhere as long as the
//!   evaluation order is fixed and nothing is fused into an FMA (Rust never contracts `a * b + c`).
//!
//! # Specification in brief
//!
//! The full specification, with every constant as a decimal and as an `f64` bit pattern, is
//! `docs/noise-table.md`; `tools/noise_table.py` is a numpy reference and
//! `core/tests/fixtures/noise_golden.json` holds golden vectors that both implementations check.
//!
//! 1. Key: `key = mix(seed ^ 0xbb67ae8584caa73b)` with `mix` the SplitMix64 finaliser
//!    ([`crate::rng::mix`]).
//! 2. Hash of index `i`, all arithmetic mod 2^64:
//!    `h = mix(key ^ mix((i + 1) · 0x9e3779b97f4a7c15))`.
//! 3. Sign and magnitude: `negative = h >> 63`, `m = (h >> 11) & (2^52 − 1)`,
//!    `r = (2m + 1) · 2^-54` (an exact `f64` in (0, ½)), `q = 0.5 − r` (exact).
//! 4. `z = Φ⁻¹(1 − r)` by Wichura's AS241 (PPND16): the central rational function in `q` when
//!    `q ≤ 0.425`, otherwise one of the two tail rational functions in `sqrt(−ln r)`, with `ln` as
//!    in [`ln`] below. Polynomials are evaluated by Horner's rule, highest coefficient first.
//! 5. The value is `(negative ? −z : z)` rounded to `f32` (round to nearest, ties to even).
//!
//! Building the sign from a separate bit makes the distribution exactly symmetric, and taking the
//! magnitude from `r = min(p, 1 − p)` directly avoids the cancellation in `1 − p`.
use rayon::prelude::*;

use crate::rng::mix;

/// Name of this generator; golden files carry it, and a change of any output bit must change it.
pub const GENERATOR: &str = "evoforge-noise-v1";

/// SplitMix64's increment, 2^64/φ rounded to odd: consecutive indices become far-apart inputs of
/// the first `mix`, which is how SplitMix64 itself feeds its finaliser.
const GOLDEN: u64 = 0x9e37_79b9_7f4a_7c15;

/// Domain constant (the first 64 fractional bits of √3, SHA-256's second IV word), distinct from
/// the one [`crate::rng::derive`] uses, so that a noise table never reproduces a random stream.
const DOMAIN: u64 = 0xbb67_ae85_84ca_a73b;

/// 2^-54: `(2m + 1) · 2^-54` maps the 52-bit `m` onto odd multiples of 2^-54 in (0, ½).
const TWO_POW_M54: f64 = f64::from_bits(0x3c90_0000_0000_0000);

// AS241 (Wichura 1988, Appl. Statist. 37(3), 477-484), PPND16: relative accuracy about 1e-16,
// far below the f32 rounding of the output. Decimal literals exactly as published (hence the
// allowed excessive precision: the text must match the paper and docs/noise-table.md); the
// nearest f64 of each is the constant (Rust and Python both parse decimals correctly rounded).
const SPLIT1: f64 = 0.425;
const SPLIT2: f64 = 5.0;
const CONST1: f64 = 0.180625;
const CONST2: f64 = 1.6;
/// Central numerator, A0..A7.
#[allow(clippy::excessive_precision)]
const A: [f64; 8] = [
    3.3871328727963666080e0,
    1.3314166789178437745e+2,
    1.9715909503065514427e+3,
    1.3731693765509461125e+4,
    4.5921953931549871457e+4,
    6.7265770927008700853e+4,
    3.3430575583588128105e+4,
    2.5090809287301226727e+3,
];
/// Central denominator, B0 (= 1) ..B7.
#[allow(clippy::excessive_precision)]
const B: [f64; 8] = [
    1.0,
    4.2313330701600911252e+1,
    6.8718700749205790830e+2,
    5.3941960214247511077e+3,
    2.1213794301586595867e+4,
    3.9307895800092710610e+4,
    2.8729085735721942674e+4,
    5.2264952788528545610e+3,
];
/// Near-tail numerator, C0..C7 (used when `sqrt(−ln r) ≤ 5`).
#[allow(clippy::excessive_precision)]
const C: [f64; 8] = [
    1.42343711074968357734e0,
    4.63033784615654529590e0,
    5.76949722146069140550e0,
    3.64784832476320460504e0,
    1.27045825245236838258e0,
    2.41780725177450611770e-1,
    2.27238449892691845833e-2,
    7.74545014278341407640e-4,
];
/// Near-tail denominator, D0 (= 1) ..D7.
#[allow(clippy::excessive_precision)]
const D: [f64; 8] = [
    1.0,
    2.05319162663775882187e0,
    1.67638483018380384940e0,
    6.89767334985100004550e-1,
    1.48103976427480074590e-1,
    1.51986665636164571966e-2,
    5.47593808499534494600e-4,
    1.05075007164441684324e-9,
];
/// Far-tail numerator, E0..E7 (used when `sqrt(−ln r) > 5`, i.e. r < e^-25).
#[allow(clippy::excessive_precision)]
const E: [f64; 8] = [
    6.65790464350110377720e0,
    5.46378491116411436990e0,
    1.78482653991729133580e0,
    2.96560571828504891230e-1,
    2.65321895265761230930e-2,
    1.24266094738807843860e-3,
    2.71155556874348757815e-5,
    2.01033439929228813265e-7,
];
/// Far-tail denominator, F0 (= 1) ..F7.
#[allow(clippy::excessive_precision)]
const F: [f64; 8] = [
    1.0,
    5.99832206555887937690e-1,
    1.36929880922735805310e-1,
    1.48753612908506148525e-2,
    7.86869131145613259100e-4,
    1.84631831751005468180e-5,
    1.42151175831644588870e-7,
    2.04426310338993978564e-15,
];

// fdlibm's e_log.c (Sun Microsystems, 1993): error below 1 ulp. Given as bit patterns, the
// form in which fdlibm documents them.
const LN2_HI: f64 = f64::from_bits(0x3fe6_2e42_fee0_0000);
const LN2_LO: f64 = f64::from_bits(0x3dea_39ef_3579_3c76);
const LG1: f64 = f64::from_bits(0x3fe5_5555_5555_5593);
const LG2: f64 = f64::from_bits(0x3fd9_9999_9997_fa04);
const LG3: f64 = f64::from_bits(0x3fd2_4924_9422_9359);
const LG4: f64 = f64::from_bits(0x3fcc_71c5_1d8e_78af);
const LG5: f64 = f64::from_bits(0x3fc7_4664_96cb_03de);
const LG6: f64 = f64::from_bits(0x3fc3_9a09_d078_c69f);
const LG7: f64 = f64::from_bits(0x3fc2_f112_df3e_5244);
/// √2 rounded to nearest: the mantissa is brought into [√2/2, √2] so that `f = m − 1` is small.
const SQRT2: f64 = f64::from_bits(0x3ff6_a09e_667f_3bcd);

/// The per-seed key (step 1 of the specification).
#[inline]
pub fn seed_key(seed: u64) -> u64 {
    mix(seed ^ DOMAIN)
}

/// The 64-bit hash of index `i` under `key` (step 2). For a fixed key it is a bijection of `i`
/// (both `mix` and the xor are), so no two indices of one table share a hash.
#[inline]
pub fn hash(key: u64, i: u64) -> u64 {
    mix(key ^ mix(i.wrapping_add(1).wrapping_mul(GOLDEN)))
}

/// Natural logarithm of a positive, finite, normal `x`, in plain `f64` arithmetic so that every
/// implementation of the table gets the same bits (libm `log` is not correctly rounded, and its
/// last bit differs between libraries). This is fdlibm's `__ieee754_log` with its special cases
/// removed (they only matter for `x ≤ 0`, subnormals, infinities and `x` near 1, none of which
/// the table reaches: it calls this for `x ∈ [2^-54, 0.075]`); error below 1 ulp. The evaluation
/// order below is normative.
#[inline]
pub fn ln(x: f64) -> f64 {
    let bits = x.to_bits();
    // x = 2^k · m with m ∈ [1, 2), read off the bits (exact).
    let mut k = ((bits >> 52) & 0x7ff) as i64 - 1023;
    let mut m = f64::from_bits((bits & 0x000f_ffff_ffff_ffff) | 0x3ff0_0000_0000_0000);
    if m > SQRT2 {
        // Exact: halving only changes the exponent.
        m *= 0.5;
        k += 1;
    }
    // Exact by Sterbenz's lemma (m ∈ [0.5, 2]).
    let f = m - 1.0;
    let s = f / (2.0 + f);
    let z = s * s;
    let w = z * z;
    let t1 = w * (LG2 + w * (LG4 + w * LG6));
    let t2 = z * (LG1 + w * (LG3 + w * (LG5 + w * LG7)));
    let r = t2 + t1;
    let hfsq = 0.5 * f * f;
    let dk = k as f64;
    dk * LN2_HI - ((hfsq - (s * (hfsq + r) + dk * LN2_LO)) - f)
}

/// Horner's rule, highest coefficient first: `(…(c7·t + c6)·t + …)·t + c0`, one rounding per
/// operation and no FMA, as in the published Fortran.
#[inline(always)]
fn horner(t: f64, c: &[f64; 8]) -> f64 {
    let mut acc = c[7];
    for k in (0..7).rev() {
        acc = acc * t + c[k];
    }
    acc
}

/// `Φ⁻¹(1 − r)` for `r ∈ (0, ½)` by AS241 (steps 3 and 4), before the sign and the `f32`
/// rounding.
#[inline]
pub fn upper_quantile(r: f64) -> f64 {
    let q = 0.5 - r;
    if q <= SPLIT1 {
        let t = CONST1 - q * q;
        q * horner(t, &A) / horner(t, &B)
    } else {
        let t = (-ln(r)).sqrt();
        if t <= SPLIT2 {
            let t = t - CONST2;
            horner(t, &C) / horner(t, &D)
        } else {
            let t = t - SPLIT2;
            horner(t, &E) / horner(t, &F)
        }
    }
}

/// The table value for a 64-bit hash word (steps 3 to 5). Exposed so that implementations can
/// be checked on chosen words, such as those that reach the far tail (about one index in 3.6e10
/// does).
#[inline]
pub fn normal_from_bits(h: u64) -> f32 {
    let m = (h >> 11) & ((1 << 52) - 1);
    // 2m + 1 < 2^53, so the conversion and the scaling by a power of two are exact.
    let r = (2 * m + 1) as f64 * TWO_POW_M54;
    let z = upper_quantile(r);
    let z = if h >> 63 == 1 { -z } else { z };
    // Round to nearest, ties to even, as numpy's astype(float32) and CUDA's __double2float_rn.
    z as f32
}

/// The value at index `i` of the table of `seed`.
#[inline]
pub fn value(seed: u64, i: u64) -> f32 {
    normal_from_bits(hash(seed_key(seed), i))
}

/// Writes the values at indices `start, start + 1, …` (mod 2^64) of the table of `seed` into
/// `out`, on the calling thread. Equal, bit for bit, to calling [`value`] for each index.
pub fn fill(seed: u64, start: u64, out: &mut [f32]) {
    let key = seed_key(seed);
    let mut i = start;
    for block in out.chunks_mut(BLOCK) {
        fill_block(key, i, block);
        i = i.wrapping_add(block.len() as u64);
    }
}

/// Values per block of [`fill_block`]: enough to fill the vector units, small enough for the
/// block's scratch arrays to stay in L1.
const BLOCK: usize = 64;

/// [`normal_from_bits`] for a block of consecutive indices, restructured for speed. Branches
/// on the data defeat both vectorisation and branch prediction (15 % of values take the tail),
/// so: the central rational function is evaluated for every lane in a loop without branches;
/// the tail lanes are gathered and the near-tail function is evaluated for all of them in a
/// second such loop; the far tail (about one value in 3.6e10) is patched last. Each lane still
/// sees exactly the operations of the scalar path (vector `+ − × ÷ sqrt` round like scalar
/// ones), so the bits are the same; `fill_agrees_with_value_at_any_offset` and the golden tests
/// check it.
#[inline]
fn fill_block(key: u64, start: u64, out: &mut [f32]) {
    debug_assert!(out.len() <= BLOCK);
    // Unused lanes keep r = 0.25, a harmless central argument.
    let mut r = [0.25f64; BLOCK];
    let mut sign = [0u64; BLOCK];
    for (j, (rj, sj)) in r.iter_mut().zip(sign.iter_mut()).take(out.len()).enumerate() {
        let h = hash(key, start.wrapping_add(j as u64));
        let m = (h >> 11) & ((1 << 52) - 1);
        *rj = (2 * m + 1) as f64 * TWO_POW_M54;
        *sj = h & (1 << 63);
    }
    let mut z = [0.0f64; BLOCK];
    for (zj, &rj) in z.iter_mut().zip(&r) {
        let q = 0.5 - rj;
        let t = CONST1 - q * q;
        *zj = q * horner(t, &A) / horner(t, &B);
    }
    // Branch-free compaction of the tail lanes.
    let mut lane = [0u8; BLOCK];
    let mut tail_r = [0.25f64; BLOCK];
    let mut n = 0;
    for (j, &rj) in r.iter().enumerate() {
        lane[n] = j as u8;
        tail_r[n] = rj;
        n += (0.5 - rj > SPLIT1) as usize;
    }
    let mut tail_t = [0.0f64; BLOCK];
    let mut tail_z = [0.0f64; BLOCK];
    for ((tz, tt), &rr) in tail_z.iter_mut().zip(tail_t.iter_mut()).zip(&tail_r).take(n) {
        *tt = (-ln(rr)).sqrt();
        let t = *tt - CONST2;
        *tz = horner(t, &C) / horner(t, &D);
    }
    for k in 0..n {
        if tail_t[k] > SPLIT2 {
            let t = tail_t[k] - SPLIT2;
            tail_z[k] = horner(t, &E) / horner(t, &F);
        }
        z[lane[k] as usize] = tail_z[k];
    }
    for ((o, &zj), &sj) in out.iter_mut().zip(&z).zip(&sign) {
        // Flipping the sign bit is exactly negation.
        *o = f64::from_bits(zj.to_bits() ^ sj) as f32;
    }
}

/// Values per rayon task: large enough that scheduling is negligible (about 1 ms of work),
/// small enough to balance over many threads.
const PAR_CHUNK: usize = 1 << 16;

/// [`fill`] on the rayon pool. Each value depends only on its index, so the result does not
/// depend on the number of threads.
pub fn fill_par(seed: u64, start: u64, out: &mut [f32]) {
    out.par_chunks_mut(PAR_CHUNK).enumerate().for_each(|(c, chunk)| {
        fill(seed, start.wrapping_add((c * PAR_CHUNK) as u64), chunk);
    });
}

/// Maps a uniform 64-bit word to an index in `0..=len − dim`, the start of a slice of `dim`
/// values: `⌊word · n / 2^64⌋` with `n = len − dim + 1` (Lemire's multiply-shift without the
/// rejection step). Spelled out rather than taken from `rand` so that recorded runs keep their
/// indices across `rand` versions and other languages can draw the same ones; the bias, at most
/// `n / 2^64` per index, is below 2^-24 for any table that fits in memory.
///
/// # Panics
/// If `dim > len`.
pub fn index_from_word(word: u64, len: usize, dim: usize) -> usize {
    assert!(dim <= len, "a slice of {dim} values does not fit in a table of {len}");
    let n = (len - dim) as u128 + 1;
    ((word as u128 * n) >> 64) as usize
}

/// A materialised table: the values at indices `0..len` of the table of `seed`.
#[derive(Clone, PartialEq)]
pub struct NoiseTable {
    seed: u64,
    data: Vec<f32>,
}

impl std::fmt::Debug for NoiseTable {
    // Not derived: a table is typically 2^25 to 2^28 values.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NoiseTable").field("seed", &self.seed).field("len", &self.len()).finish()
    }
}

impl NoiseTable {
    /// Builds the table of `seed` with `len` values, in parallel on the rayon pool.
    pub fn new(seed: u64, len: usize) -> Self {
        // Zeroed allocation is lazy (calloc), so the pages are first touched by the workers that
        // fill them.
        let mut data = vec![0.0f32; len];
        fill_par(seed, 0, &mut data);
        Self { seed, data }
    }

    /// The seed the table was built from.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// Number of values.
    pub fn len(&self) -> usize {
        self.data.len()
    }

    /// Whether the table has no values.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// All values.
    pub fn as_slice(&self) -> &[f32] {
        &self.data
    }

    /// `ε[i..i + dim]`.
    ///
    /// # Panics
    /// If `i + dim > len`.
    pub fn slice(&self, i: usize, dim: usize) -> &[f32] {
        let end = i.checked_add(dim).filter(|&e| e <= self.data.len());
        let Some(end) = end else {
            panic!("slice {i}..{i}+{dim} is outside a noise table of {}", self.data.len())
        };
        &self.data[i..end]
    }

    /// A uniform start index in `0..=len − dim` for a slice of `dim` values, from one
    /// `next_u64` of `rng` (see [`index_from_word`]).
    ///
    /// # Panics
    /// If `dim > len`.
    pub fn sample_index<R: rand::Rng + ?Sized>(&self, rng: &mut R, dim: usize) -> usize {
        index_from_word(rng.next_u64(), self.data.len(), dim)
    }

    /// `θ[j] += scale · ε[idx + j]` for `j < θ.len()`: applies the perturbation of index `idx`.
    /// The noise value is widened to `T` (exact for `f64`), then one rounded multiply and one
    /// rounded add, never fused, so `theta + scale * eps.astype(theta.dtype)` in numpy gives the
    /// same bits.
    ///
    /// # Panics
    /// If `idx + θ.len() > len`.
    pub fn axpy<T>(&self, theta: &mut [T], scale: T, idx: usize)
    where
        T: Copy + From<f32> + std::ops::Mul<Output = T> + std::ops::Add<Output = T>,
    {
        let eps = self.slice(idx, theta.len());
        for (t, &e) in theta.iter_mut().zip(eps) {
            *t = *t + scale * T::from(e);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constants_are_what_the_specification_says() {
        assert_eq!(TWO_POW_M54, 2f64.powi(-54));
        assert_eq!(SQRT2, std::f64::consts::SQRT_2);
        assert_eq!(LN2_HI + LN2_LO, std::f64::consts::LN_2);
        // Bit patterns of the decimal literals (docs/noise-table.md lists all of them).
        assert_eq!(A[0].to_bits(), 0x400b_18d9_1e9e_ef75);
        assert_eq!(F[7].to_bits(), 0x3ce2_69bf_f1f8_c190);
    }

    #[test]
    fn ln_is_within_one_ulp_of_libm() {
        // Over the table's range [2^-54, 0.075] and beyond, on a dense geometric grid.
        let mut x = 2f64.powi(-60);
        let mut worst = 0u64;
        while x < 4.0 {
            let (a, b) = (ln(x), x.ln());
            worst = worst.max(a.to_bits().abs_diff(b.to_bits()));
            x *= 1.000_013_7;
        }
        assert!(worst <= 1, "ln differs from libm by {worst} ulp");
        assert_eq!(ln(1.0), 0.0);
        assert_eq!(ln(2.0), std::f64::consts::LN_2);
    }

    #[test]
    fn quantiles_match_as241_reference_values() {
        // Φ⁻¹(1 − r) from Python's statistics.NormalDist (also AS241, with libm log).
        let cases = [
            (0.3, 0.5244005127080407),
            (0.1, 1.2815515655446008),
            (0.025, 1.9599639845400538),
            (0.001, 3.090232306167813),
            (1e-10, 6.361340902404056),
            (1e-12, 7.034483825301132),
            (1e-15, 7.941345326170995),
            (TWO_POW_M54, 8.292361075813595),
        ];
        for (r, z) in cases {
            let got = upper_quantile(r);
            assert!(((got - z) / z).abs() < 1e-15, "r = {r}: {got} vs {z}");
        }
    }

    #[test]
    fn extreme_words() {
        // m = 0: the smallest r, the largest magnitude the table can hold.
        assert_eq!(normal_from_bits(0), 8.292361075813595_f64 as f32);
        assert_eq!(normal_from_bits(1 << 63), -(8.292361075813595_f64 as f32));
        // m = 2^52 − 1: r = ½ − 2^-54, the value nearest 0.
        let tiny = normal_from_bits(u64::MAX >> 1);
        assert!(tiny > 0.0 && tiny < 1e-15);
        // The low 11 bits are not used.
        assert_eq!(
            normal_from_bits(0x1234_5678_9abc_d000),
            normal_from_bits(0x1234_5678_9abc_d7ff)
        );
    }

    #[test]
    fn sign_bit_gives_exact_symmetry() {
        let key = seed_key(7);
        for i in 0..10_000 {
            let h = hash(key, i);
            assert_eq!(normal_from_bits(h ^ (1 << 63)), -normal_from_bits(h));
        }
    }

    #[test]
    fn fill_agrees_with_value_at_any_offset() {
        // Thousands of tail values, and a length that ends in a partial block.
        let starts = [0u64, 1 << 32, (1 << 40) + 17, u64::MAX - 3];
        for &start in &starts {
            let mut out = vec![0.0; 20_000 + 37];
            fill(99, start, &mut out);
            for (j, &v) in out.iter().enumerate() {
                assert_eq!(v.to_bits(), value(99, start.wrapping_add(j as u64)).to_bits());
            }
        }
        // Slices of a table are fills at their offset, and the parallel fill is the serial one.
        let table = NoiseTable::new(5, 3 * PAR_CHUNK + 11);
        let mut out = vec![0.0; 1000];
        fill(5, (PAR_CHUNK - 500) as u64, &mut out);
        assert_eq!(table.slice(PAR_CHUNK - 500, 1000), &out[..]);
        let mut serial = vec![0.0; table.len()];
        fill(5, 0, &mut serial);
        assert_eq!(table.as_slice(), &serial[..]);
        assert_ne!(NoiseTable::new(6, 10).as_slice(), table.slice(0, 10));
    }

    #[test]
    fn index_sampling_covers_exactly_the_valid_range() {
        assert_eq!(index_from_word(0, 100, 10), 0);
        assert_eq!(index_from_word(u64::MAX, 100, 10), 90);
        assert_eq!(index_from_word(u64::MAX, 100, 100), 0);
        assert_eq!(index_from_word(1 << 63, 100, 0), 50);
        let table = NoiseTable::new(1, 20);
        let mut rng = crate::stream(3, &[]);
        let mut seen = [0u32; 6];
        for _ in 0..6000 {
            seen[table.sample_index(&mut rng, 15)] += 1;
        }
        // 1000 expected per index; ±200 is more than 6 standard deviations.
        assert!(seen.iter().all(|&c| (800..1200).contains(&c)), "{seen:?}");
    }

    #[test]
    #[should_panic(expected = "outside a noise table")]
    fn slice_out_of_range_panics() {
        NoiseTable::new(1, 10).slice(5, 6);
    }

    #[test]
    fn axpy_adds_the_scaled_slice() {
        let table = NoiseTable::new(11, 1000);
        let mut t64 = vec![1.0f64; 50];
        table.axpy(&mut t64, 0.5, 300);
        let mut t32 = vec![1.0f32; 50];
        table.axpy(&mut t32, 0.5, 300);
        for j in 0..50 {
            let e = table.as_slice()[300 + j];
            assert_eq!(t64[j], 1.0 + 0.5 * e as f64);
            assert_eq!(t32[j], 1.0 + 0.5 * e);
        }
    }

    /// Φ(x) through erfc with Numerical Recipes' Chebyshev fit (fractional error < 1.2e-7, far
    /// below the KS tolerance of 2e-3).
    fn normal_cdf(x: f64) -> f64 {
        let z = x.abs() / std::f64::consts::SQRT_2;
        let t = 1.0 / (1.0 + 0.5 * z);
        let poly = -z * z - 1.265_512_23
            + t * (1.000_023_68
                + t * (0.374_091_96
                    + t * (0.096_784_18
                        + t * (-0.186_288_06
                            + t * (0.278_868_07
                                + t * (-1.135_203_98
                                    + t * (1.488_515_87
                                        + t * (-0.822_152_23 + t * 0.170_872_77))))))));
        let erfc = t * poly.exp();
        if x >= 0.0 { 1.0 - 0.5 * erfc } else { 0.5 * erfc }
    }

    /// Statistical quality on 10^6 values. Tolerances are 5 standard errors (the KS bound is the
    /// 0.1 % critical value), so a correct generator fails none of them by chance in practice;
    /// the seed is fixed, so the outcome is too.
    #[test]
    fn statistics_of_a_million_values() {
        let n = 1_000_000usize;
        let nf = n as f64;
        let mut v = vec![0.0f32; n];
        fill_par(0x5eed, 1 << 33, &mut v);
        let x: Vec<f64> = v.iter().map(|&a| a as f64).collect();

        let mean = x.iter().sum::<f64>() / nf;
        let var = x.iter().map(|a| (a - mean).powi(2)).sum::<f64>() / nf;
        let skew = x.iter().map(|a| (a - mean).powi(3)).sum::<f64>() / nf;
        let kurt = x.iter().map(|a| (a - mean).powi(4)).sum::<f64>() / nf;
        // Standard errors: 1/√n, √(2/n), √(15/n), √(96/n).
        assert!(mean.abs() < 5.0 / nf.sqrt(), "mean {mean}");
        assert!((var - 1.0).abs() < 5.0 * (2.0 / nf).sqrt(), "variance {var}");
        assert!(skew.abs() < 5.0 * (15.0 / nf).sqrt(), "third moment {skew}");
        assert!((kurt - 3.0).abs() < 5.0 * (96.0 / nf).sqrt(), "fourth moment {kurt}");

        // Two-sided tail fractions P(|Z| > k), k = 1..4.
        let tails = [
            (1.0, 0.317_310_507_862_914_1),
            (2.0, 0.045_500_263_896_358_4),
            (3.0, 0.002_699_796_063_260_2),
            (4.0, 6.334_248_366_624e-5),
        ];
        for (k, p) in tails {
            let frac = x.iter().filter(|a| a.abs() > k).count() as f64 / nf;
            let se = (p * (1.0 - p) / nf).sqrt();
            assert!((frac - p).abs() < 5.0 * se, "P(|Z| > {k}) = {frac}, expected {p}");
        }

        // Kolmogorov–Smirnov distance to Φ.
        let mut sorted = x.clone();
        sorted.sort_by(f64::total_cmp);
        let mut d = 0.0f64;
        for (i, &a) in sorted.iter().enumerate() {
            let f = normal_cdf(a);
            d = d.max((i + 1) as f64 / nf - f).max(f - i as f64 / nf);
        }
        assert!(d < 1.95 / nf.sqrt(), "KS distance {d}");

        // Lag-1 autocorrelation, and correlation with the table of the next seed.
        let mut other = vec![0.0f32; n];
        fill_par(0x5eee, 1 << 33, &mut other);
        let lag1 = x.windows(2).map(|w| w[0] * w[1]).sum::<f64>() / nf;
        let cross = x.iter().zip(&other).map(|(a, &b)| a * b as f64).sum::<f64>() / nf;
        assert!(lag1.abs() < 5.0 / nf.sqrt(), "lag-1 autocorrelation {lag1}");
        assert!(cross.abs() < 5.0 / nf.sqrt(), "cross-seed correlation {cross}");
    }
}
