//! Scrambled Halton points in the unit cube: the quasi-random initial design and raw samples
//! of BO (`bo`). BoTorch uses a scrambled Sobol sequence; Halton needs no table of direction
//! numbers, and with random digit permutations it is an unbiased randomised QMC design.
//!
//! Specification (so another language can rebuild a design bit for bit):
//! * Coordinate `j` uses the `j`-th prime `b` (2, 3, 5, 7, ...).
//! * `digits = ⌈53 / log2 b⌉` digit positions are used (enough for double precision).
//! * For each coordinate and digit position `k`, a permutation `π_{j,k}` of `0..b` is drawn by a
//!   Fisher–Yates shuffle (from the last slot down, `r = rng.random_range(0..=slot)`), in the
//!   order coordinate-major, digit-minor. The permutation may move 0 ("random digit
//!   scrambling", Owen 1995; Matoušek 1998), so trailing zero digits are scrambled too.
//! * Point `i` (from 0), coordinate `j`: with `i = Σ a_k b^k`,
//!   `u = Σ_{k < digits} π_{j,k}(a_k) · b^{−(k+1)}`, summed from the last digit to the first;
//!   then clamped to at most `1 − 2⁻⁵³`.
use evoforge_core::Rng;
use rand::RngExt;
use serde::{Deserialize, Serialize};

/// The first `d` primes.
fn primes(d: usize) -> Vec<u32> {
    let mut p = Vec::with_capacity(d);
    let mut c = 2u32;
    while p.len() < d {
        if p.iter().take_while(|&&q| q * q <= c).all(|&q| !c.is_multiple_of(q)) {
            p.push(c);
        }
        c += 1;
    }
    p
}

/// A scrambled Halton design in `[0, 1)^d` (see the module doc).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Halton {
    bases: Vec<u32>,
    /// Per coordinate, the concatenated permutations of its digit positions.
    perms: Vec<Vec<u32>>,
    digits: Vec<usize>,
}

impl Halton {
    /// A design in `d` dimensions with permutations drawn from `rng`.
    pub fn new(d: usize, rng: &mut Rng) -> Self {
        let bases = primes(d);
        let mut perms = Vec::with_capacity(d);
        let mut digits = Vec::with_capacity(d);
        for &b in &bases {
            let nd = (53.0 / (b as f64).log2()).ceil() as usize;
            let mut p = Vec::with_capacity(nd * b as usize);
            for _ in 0..nd {
                let mut perm: Vec<u32> = (0..b).collect();
                for slot in (1..b as usize).rev() {
                    let r = rng.random_range(0..=slot);
                    perm.swap(slot, r);
                }
                p.extend(perm);
            }
            perms.push(p);
            digits.push(nd);
        }
        Self { bases, perms, digits }
    }

    /// Dimension of the design.
    pub fn dim(&self) -> usize {
        self.bases.len()
    }

    /// Point `i` of the design, written into `out` (length `dim`).
    pub fn point(&self, i: u64, out: &mut [f64]) {
        for (j, o) in out.iter_mut().enumerate() {
            let b = self.bases[j] as u64;
            let nd = self.digits[j];
            let mut a = [0u32; 64];
            let mut k = i;
            for slot in a.iter_mut().take(nd) {
                *slot = (k % b) as u32;
                k /= b;
            }
            let perm = &self.perms[j];
            let mut u = 0.0;
            for pos in (0..nd).rev() {
                u = (u + perm[pos * b as usize + a[pos] as usize] as f64) / b as f64;
            }
            *o = u.min(1.0 - f64::EPSILON / 2.0);
        }
    }

    /// Points `start .. start + n`, row-major (`n × dim`).
    pub fn points(&self, start: u64, n: usize) -> Vec<f64> {
        let d = self.dim();
        let mut out = vec![0.0; n * d];
        for (k, row) in out.chunks_mut(d.max(1)).enumerate() {
            self.point(start + k as u64, row);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use evoforge_core::stream;

    #[test]
    fn primes_and_stratification() {
        assert_eq!(primes(6), vec![2, 3, 5, 7, 11, 13]);
        let h = Halton::new(2, &mut stream(3, &[1]));
        // The first 2·3 = 6 points put one point in each of the 2 halves (x) 3 times, and
        // the first 4 points one in each quarter of coordinate 0.
        let p = h.points(0, 12);
        let mut q = [0; 4];
        for r in p.chunks(2).take(4) {
            assert!((0.0..1.0).contains(&r[0]) && (0.0..1.0).contains(&r[1]));
            q[(r[0] * 4.0) as usize] += 1;
        }
        assert_eq!(q, [1, 1, 1, 1]);
        let mut t = [0; 3];
        for r in p.chunks(2).take(9) {
            t[(r[1] * 3.0) as usize] += 1;
        }
        assert_eq!(t, [3, 3, 3]);
        // Mean of many points is close to 1/2.
        let m: f64 = h.points(0, 1000).iter().sum::<f64>() / 2000.0;
        assert!((m - 0.5).abs() < 0.01, "{m}");
    }
}
