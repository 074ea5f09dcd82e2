//! Edge heatmaps `H_ij` in sparse row storage (CSR): SoftDist, the k-nearest-neighbour prior
//! ("GT-Prior"), the all-zero heatmap and heatmaps read from a file.
//!
//! Every heatmap keeps at most a few dozen entries per row, so TSP-10000 needs `O(N·k)` memory
//! and never an `N × N` matrix; entries not stored are 0.
//!
//! * SoftDist (Xia et al. 2024, "Position: Rethinking post-hoc search-based neural approaches
//!   for solving large-scale TSP", ICML): `H_ij = softmax_j(−d_ij / τ)` row-wise, `d_ii = +∞`.
//!   The softmax is normalised over the `k` nearest neighbours that are stored; with the τ of
//!   the paper (0.0066 for TSP-500) the mass beyond the 20th neighbour is below `e^{-9}`.
//! * k-NN prior (Pan et al. 2024, "Beyond the Heatmap", GT-Prior): `H[i, nbr_k(i)] = p_k / Σp`,
//!   `p_k` the frequency with which the optimal successor is the k-th nearest neighbour.
use std::path::Path;

use super::instance::{Instance, TspError};

/// A sparse heatmap: per row, the stored `(column, value)` pairs, largest value first.
#[derive(Debug, Clone, PartialEq)]
pub struct Heatmap {
    n: usize,
    start: Vec<usize>,
    cols: Vec<u32>,
    vals: Vec<f64>,
}

/// The k-NN prior frequencies of Pan et al. for TSP-500 (`testset/all_heatmap/gt`): the
/// probability that the optimal tour's successor of a city is its k-th nearest neighbour.
pub const KNN_PRIOR_500: [f64; 24] = [
    4.40078125e-01,
    2.56265625e-01,
    1.32750000e-01,
    7.32656250e-02,
    4.08125000e-02,
    2.35937500e-02,
    1.34062500e-02,
    7.75000000e-03,
    4.48437500e-03,
    2.73437500e-03,
    1.78125000e-03,
    1.18750000e-03,
    6.87500000e-04,
    3.75000000e-04,
    3.75000000e-04,
    1.87500000e-04,
    7.81250000e-05,
    1.56250000e-05,
    4.68750000e-05,
    1.56250000e-05,
    4.68750000e-05,
    3.12500000e-05,
    1.56250000e-05,
    1.56250000e-05,
];
/// The same for TSP-1000.
pub const KNN_PRIOR_1000: [f64; 23] = [
    4.37554687e-01,
    2.54718750e-01,
    1.37671875e-01,
    7.41093750e-02,
    3.97890625e-02,
    2.35156250e-02,
    1.32265625e-02,
    7.45312500e-03,
    4.73437500e-03,
    3.00781250e-03,
    1.59375000e-03,
    1.08593750e-03,
    5.62500000e-04,
    2.96875000e-04,
    2.65625000e-04,
    1.71875000e-04,
    1.01562500e-04,
    4.68750000e-05,
    1.56250000e-05,
    3.12500000e-05,
    2.34375000e-05,
    7.81250000e-06,
    1.56250000e-05,
];
/// The same for TSP-10000.
pub const KNN_PRIOR_10000: [f64; 30] = [
    4.4175625e-01,
    2.5409375e-01,
    1.3292500e-01,
    7.1950000e-02,
    3.9518750e-02,
    2.3750000e-02,
    1.4143750e-02,
    8.0937500e-03,
    4.9125000e-03,
    3.3312500e-03,
    1.8437500e-03,
    1.1125000e-03,
    8.3750000e-04,
    5.5625000e-04,
    3.7500000e-04,
    2.6250000e-04,
    1.8125000e-04,
    8.7500000e-05,
    6.8750000e-05,
    5.0000000e-05,
    5.0000000e-05,
    2.5000000e-05,
    2.5000000e-05,
    6.2500000e-06,
    1.2500000e-05,
    6.2500000e-06,
    6.2500000e-06,
    6.2500000e-06,
    6.2500000e-06,
    6.2500000e-06,
];

/// The k-NN prior table for an instance size: the table of the nearest of 500, 1000, 10000.
pub fn knn_prior_for(n: usize) -> &'static [f64] {
    if n < 750 {
        &KNN_PRIOR_500
    } else if n < 5500 {
        &KNN_PRIOR_1000
    } else {
        &KNN_PRIOR_10000
    }
}

/// The `k` nearest neighbours of every city, nearest first: `(start, cols, dists)` in CSR.
/// Brute force in `O(N² )` time but `O(N·k)` memory, with one reused scratch buffer.
pub fn nearest(inst: &Instance, k: usize) -> (Vec<usize>, Vec<u32>, Vec<f64>) {
    let n = inst.n();
    let k = k.min(n - 1);
    let mut start = Vec::with_capacity(n + 1);
    let mut cols = Vec::with_capacity(n * k);
    let mut dists = Vec::with_capacity(n * k);
    let mut buf: Vec<(f64, u32)> = Vec::with_capacity(n);
    start.push(0);
    for i in 0..n {
        buf.clear();
        let (xi, yi) = (inst.xs[i], inst.ys[i]);
        for j in 0..n {
            if j != i {
                let dx = inst.xs[j] - xi;
                let dy = inst.ys[j] - yi;
                buf.push((dx * dx + dy * dy, j as u32));
            }
        }
        // Ties broken by index so the order never depends on the selection algorithm.
        let cmp = |a: &(f64, u32), b: &(f64, u32)| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1));
        if k < buf.len() {
            buf.select_nth_unstable_by(k, cmp);
            buf.truncate(k);
        }
        buf.sort_unstable_by(cmp);
        for &(d2, j) in &buf {
            cols.push(j);
            dists.push(d2.sqrt());
        }
        start.push(cols.len());
    }
    (start, cols, dists)
}

impl Heatmap {
    /// Number of rows (cities).
    pub fn n(&self) -> usize {
        self.n
    }

    /// Row `i`: the stored columns and values, largest value first.
    pub fn row(&self, i: usize) -> (&[u32], &[f64]) {
        let r = self.start[i]..self.start[i + 1];
        (&self.cols[r.clone()], &self.vals[r])
    }

    /// Number of stored entries.
    pub fn nnz(&self) -> usize {
        self.cols.len()
    }

    /// `H_ij` (0 when not stored); a linear scan of row `i`.
    pub fn get(&self, i: usize, j: usize) -> f64 {
        let (c, v) = self.row(i);
        c.iter().position(|&x| x as usize == j).map_or(0.0, |p| v[p])
    }

    /// The all-zero heatmap (use it with `candidate_use_heatmap: false`).
    pub fn zero(n: usize) -> Self {
        Self { n, start: vec![0; n + 1], cols: Vec::new(), vals: Vec::new() }
    }

    /// Builds from per-row `(column, value)` lists: drops zeros, the diagonal and non-finite or
    /// negative values (errors), sorts each row by value (largest first, ties by column).
    pub fn from_rows(n: usize, rows: Vec<Vec<(u32, f64)>>) -> Result<Self, String> {
        let mut start = Vec::with_capacity(n + 1);
        let mut cols = Vec::new();
        let mut vals = Vec::new();
        start.push(0);
        for (i, mut r) in rows.into_iter().enumerate() {
            for &(j, v) in &r {
                if j as usize >= n {
                    return Err(format!("row {i}: column {j} outside 0..{n}"));
                }
                if !(v.is_finite() && v >= 0.0) {
                    return Err(format!(
                        "row {i}, column {j}: value {v} is not a finite number >= 0"
                    ));
                }
            }
            r.retain(|&(j, v)| v > 0.0 && j as usize != i);
            r.sort_unstable_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
            r.dedup_by_key(|e| e.0);
            for (j, v) in r {
                cols.push(j);
                vals.push(v);
            }
            start.push(cols.len());
        }
        Ok(Self { n, start, cols, vals })
    }

    /// SoftDist: `H_ij = exp(−d_ij/τ) / Σ_{l ∈ kNN(i)} exp(−d_il/τ)` over the `k` nearest `j`.
    pub fn softdist(inst: &Instance, tau: f64, k: usize) -> Self {
        let n = inst.n();
        let (start, cols, dists) = nearest(inst, k);
        let mut vals = vec![0.0; cols.len()];
        for i in 0..n {
            let r = start[i]..start[i + 1];
            // Shift by the smallest distance so the largest term is exp(0) (no underflow to 0/0).
            let d0 = dists[r.start];
            let mut s = 0.0;
            for p in r.clone() {
                vals[p] = (-(dists[p] - d0) / tau).exp();
                s += vals[p];
            }
            for v in &mut vals[r] {
                *v /= s;
            }
        }
        let rows = (0..n)
            .map(|i| (start[i]..start[i + 1]).map(|p| (cols[p], vals[p])).collect())
            .collect();
        Self::from_rows(n, rows).expect("softdist values are finite")
    }

    /// The k-NN prior: `H[i, nbr_k(i)] = p_k / Σ p`.
    pub fn knn_prior(inst: &Instance, prior: &[f64]) -> Self {
        let n = inst.n();
        let total: f64 = prior.iter().sum();
        let (start, cols, _) = nearest(inst, prior.len());
        let rows = (0..n)
            .map(|i| {
                (start[i]..start[i + 1])
                    .enumerate()
                    .map(|(k, p)| (cols[p], prior[k] / total))
                    .collect()
            })
            .collect();
        Self::from_rows(n, rows).expect("prior values are finite")
    }

    /// `(H + Hᵀ)/2` (the MCTS symmetrises its heatmap), still sparse: the union of both patterns.
    pub fn symmetrized(&self) -> Self {
        let n = self.n;
        let mut rows: Vec<Vec<(u32, f64)>> = vec![Vec::new(); n];
        for i in 0..n {
            let (c, v) = self.row(i);
            for (&j, &h) in c.iter().zip(v) {
                rows[i].push((j, 0.5 * h));
                rows[j as usize].push((i as u32, 0.5 * h));
            }
        }
        for r in &mut rows {
            r.sort_unstable_by_key(|e| e.0);
            // Merge the two halves of an entry present in both directions.
            let mut out: Vec<(u32, f64)> = Vec::with_capacity(r.len());
            for &(j, h) in r.iter() {
                match out.last_mut() {
                    Some(last) if last.0 == j => last.1 += h,
                    _ => out.push((j, h)),
                }
            }
            *r = out;
        }
        Self::from_rows(n, rows).expect("symmetrised values are finite")
    }

    /// Reads a heatmap file for an `n`-city instance. Two formats:
    /// * dense (the format of the public heatmap files): an optional first line `N`, then `N`
    ///   rows of `N` numbers; each row keeps its `top_k` largest entries;
    /// * sparse: a first line `sparse N`, then one `i j value` line per entry (0-based).
    pub fn read_file(path: &Path, n: usize, top_k: usize) -> Result<Self, TspError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path)
            .map_err(|e| TspError { place: file.clone(), message: format!("cannot read: {e}") })?;
        Self::parse(&text, &file, n, top_k)
    }

    /// Parses heatmap text; see [`Heatmap::read_file`].
    pub fn parse(text: &str, file: &str, n: usize, top_k: usize) -> Result<Self, TspError> {
        let e = |line: usize, m: String| TspError { place: format!("{file}:{line}"), message: m };
        let mut lines = text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()).peekable();
        let mut rows: Vec<Vec<(u32, f64)>> = vec![Vec::new(); n];
        let first = lines.peek().map(|(i, l)| (*i, l.split_whitespace().collect::<Vec<_>>()));
        let Some((fi, first)) = first else {
            return Err(e(1, "empty heatmap file".into()));
        };
        if first.first() == Some(&"sparse") {
            lines.next();
            let m: usize = first
                .get(1)
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| e(fi + 1, "expected `sparse N`".into()))?;
            if m != n {
                return Err(e(fi + 1, format!("heatmap is for {m} cities, the instance has {n}")));
            }
            for (li, l) in lines {
                let f: Vec<&str> = l.split_whitespace().collect();
                let bad = || e(li + 1, format!("expected `i j value`, got `{}`", l.trim()));
                if f.len() != 3 {
                    return Err(bad());
                }
                let i: usize = f[0].parse().map_err(|_| bad())?;
                let j: u32 = f[1].parse().map_err(|_| bad())?;
                let v: f64 = f[2].parse().map_err(|_| bad())?;
                if i >= n || j as usize >= n {
                    return Err(e(li + 1, format!("city index outside 0..{n}")));
                }
                rows[i].push((j, v));
            }
        } else {
            if first.len() == 1 && n > 1 {
                let m: usize = first[0]
                    .parse()
                    .map_err(|_| e(fi + 1, format!("expected N or a row of {n} numbers")))?;
                if m != n {
                    return Err(e(
                        fi + 1,
                        format!("heatmap is for {m} cities, the instance has {n}"),
                    ));
                }
                lines.next();
            }
            let mut row = 0;
            for (li, l) in lines {
                if row >= n {
                    return Err(e(li + 1, format!("more than {n} rows")));
                }
                let mut r: Vec<(u32, f64)> = Vec::new();
                let mut count = 0;
                for (j, tok) in l.split_whitespace().enumerate() {
                    let v: f64 = tok.parse().map_err(|_| {
                        e(li + 1, format!("column {}: `{tok}` is not a number", j + 1))
                    })?;
                    if j < n && v > 0.0 {
                        r.push((j as u32, v));
                    }
                    count += 1;
                }
                if count != n {
                    return Err(e(li + 1, format!("row has {count} numbers, expected {n}")));
                }
                if r.len() > top_k {
                    r.select_nth_unstable_by(top_k, |a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
                    r.truncate(top_k);
                }
                rows[row] = r;
                row += 1;
            }
            if row != n {
                return Err(e(text.lines().count(), format!("{row} rows, expected {n}")));
            }
        }
        Self::from_rows(n, rows).map_err(|m| e(0, m))
    }
}
