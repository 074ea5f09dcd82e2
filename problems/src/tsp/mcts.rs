//! The Monte Carlo tree search of Fu, Qiu & Zha (2021), "Generalize a small pre-trained model to
//! arbitrarily large TSP instances" (AAAI; Att-GCN+MCTS), as used by DIMES, DIFUSCO, UTSP and
//! the heatmap studies of Xia et al. (2024) and Pan et al. (2024): heatmap-guided construction,
//! 2-opt on candidate pairs, sampled k-opt actions scored by a UCB-style potential, weight
//! back-propagation and random restarts.
//!
//! Step by step (`neo-pan/mcts_tsp`, `src/code/TSP_MCTS.h`):
//! * `W_ij ← 100·H_ij` (H symmetrised), `Chosen_ij ← 0`, `TotalSim ← 0`.
//! * Construction: from a random city, the next city is an unvisited `j` with probability
//!   `∝ exp(W_cur,j)`; then 2-opt on candidate pairs, first improvement, until none improves.
//! * MCTS step: sample up to `H·N` actions, stop at the first improving one. An action starts at
//!   a random `a₁`, breaks `(a₁, b₁ = succ a₁)`; from `b_i` it picks `a_{i+1}` among the
//!   candidates of `b_i` with potential
//!   `Z = W_{b_i j}/W̄_{b_i} + α·sqrt(ln(TotalSim+1) / (ln 2.718 · (Chosen_{b_i j}+1)))`,
//!   keeping only `Z ≥ 1`, with probability `∝ Z`; `b_{i+1}` is the path-predecessor of
//!   `a_{i+1}`; it stops when closing `(b_{i+1}, a₁)` gains or at `max_depth`. The action is its
//!   prefix of largest closed gain. Back-propagation: each new edge of an improving action gets
//!   `W += β·(exp(Δ/L) − 1)` (both directions). No improving action: random restart.
//!
//! Differences from the C++ (for speed or memory; the dropped increments, the exact probabilities
//! and the mirror 2-opt move change the search slightly, the rest does not):
//! * The tour is an array with a position index (`succ`, `pred` and positions in O(1)). Every
//!   step of a k-opt action is a 2-opt move reversing the shorter side; a simulation never
//!   touches the tour: it keeps its reversals as pending position ranges and answers position
//!   queries through them in O(k), and only the chosen action is applied (the C++ copies the
//!   whole tour for every sample).
//! * `W` and `Chosen` are stored only for a city's candidates and its stored heatmap entries;
//!   increments of other edges count in the row total `Σ_j W_bj` (so `W̄` is exact, kept in O(1)
//!   instead of an O(N) sum per step) but are otherwise dropped. Unstored edges keep `W = 0`,
//!   which the construction samples as `exp(0)` exactly as the dense C++ does for `H = 0`.
//! * Probabilities are exact (the C++ rounds them to thousandths); a row with `W̄ = 0` (the zero
//!   heatmap before any reward) scores `W/W̄` as 1; the 2-opt search also tries the mirror move
//!   `(pred i, pred c)` and counts `Chosen` only for the candidate edge it evaluates.
//! * Lengths are integers `round(d · scale)`, as the C++ (`Magnify_Rate`), with a finer scale
//!   (the coordinate span maps to 10⁷; TSPLIB `EUC_2D` uses its own `nint`, scale 1).
//! * Budgets: `T·N` seconds of wall time from the start of the instance (heatmap included) and/or
//!   a deterministic work budget counting elementary operations (candidate scans, reversal
//!   swaps, 2-opt evaluations), so a seed gives the same tour on any machine.
use std::time::Instant;

use rand::Rng as _;

use super::heatmap::{Heatmap, nearest};
use super::instance::{Instance, Metric};

/// Every parameter of the reference MCTS, plus the budgets.
#[derive(Debug, Clone, PartialEq)]
pub struct MctsParams {
    /// `Alpha`: weight of the exploration term of the potential.
    pub alpha: f64,
    /// `Beta`: scale of the back-propagated reward.
    pub beta: f64,
    /// `H`: actions sampled per MCTS step, `H·N`.
    pub h: f64,
    /// `T`: time budget `T·N` seconds per instance; `None`: only the work budget.
    pub t: Option<f64>,
    /// `max_candidate_num`: candidates per city.
    pub max_candidate_num: usize,
    /// `max_depth`: largest k of a k-opt action.
    pub max_depth: usize,
    /// `candidate_use_heatmap`: candidates by heatmap value (`true`) or by distance.
    pub candidate_use_heatmap: bool,
    /// Deterministic budget in work units; `None`: only the time budget.
    pub work: Option<u64>,
}

impl Default for MctsParams {
    /// Fu et al.'s defaults (`TSP_IO.h`): α 1, β 10, H 10, T 0.1, 1000 candidates, depth 10,
    /// heatmap candidates.
    fn default() -> Self {
        Self {
            alpha: 1.0,
            beta: 10.0,
            h: 10.0,
            t: Some(0.1),
            max_candidate_num: 1000,
            max_depth: 10,
            candidate_use_heatmap: true,
            work: None,
        }
    }
}

impl MctsParams {
    /// Checks the values; `Err((field, message))`.
    pub fn check(&self) -> Result<(), (&'static str, String)> {
        let fin = |f: &'static str, v: f64, lo: f64| {
            if v.is_finite() && v >= lo {
                Ok(())
            } else {
                Err((f, format!("must be a finite number >= {lo}, got {v}")))
            }
        };
        fin("alpha", self.alpha, 0.0)?;
        fin("beta", self.beta, 0.0)?;
        fin("h", self.h, 0.0)?;
        if let Some(t) = self.t
            && !(t > 0.0 && t.is_finite())
        {
            return Err(("t", format!("must be positive, got {t}")));
        }
        if self.max_candidate_num == 0 {
            return Err(("max_candidate_num", "must be at least 1".into()));
        }
        if self.max_depth < 2 {
            return Err(("max_depth", format!("must be at least 2, got {}", self.max_depth)));
        }
        if self.t.is_none() && self.work.is_none() {
            return Err(("t", "give a time factor `t` or a `work` budget (or both)".into()));
        }
        if self.work == Some(0) {
            return Err(("work", "must be positive".into()));
        }
        Ok(())
    }
}

/// What a run returns.
#[derive(Debug, Clone)]
pub struct SolveResult {
    /// The best tour (0-based permutation).
    pub tour: Vec<u32>,
    /// Its length in the instance's metric.
    pub length: f64,
    /// Wall-clock seconds, heatmap included.
    pub seconds: f64,
    /// Work units spent.
    pub work: u64,
    /// Random restarts (constructions after the first).
    pub restarts: u64,
    /// Sampled k-opt actions.
    pub simulations: u64,
}

const INV_LN_E: f64 = 1.0 / 0.999_896_315_728_952_f64; // 1 / ln(2.718), as the C++ divides.

#[inline]
fn unif(rng: &mut evoforge_core::Rng) -> f64 {
    (rng.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

#[inline]
fn below(rng: &mut evoforge_core::Rng, n: usize) -> usize {
    ((rng.next_u64() as u128 * n as u128) >> 64) as usize
}

/// One solver run on one instance; the buffers are sized once, nothing allocates per step.
struct Solver<'a> {
    p: &'a MctsParams,
    n: usize,
    xs: Vec<f64>,
    ys: Vec<f64>,
    rng: evoforge_core::Rng,
    tour: Vec<u32>,
    pos: Vec<u32>,
    len: i64,
    best_tour: Vec<u32>,
    best_len: i64,
    // Per-city rows: the candidates first (`ncand`), then the other stored heatmap entries.
    rstart: Vec<usize>,
    ncand: Vec<u32>,
    rnbr: Vec<u32>,
    rdist: Vec<i64>,
    rw: Vec<f64>,
    rchosen: Vec<u32>,
    /// `1/sqrt(Chosen+1)`, kept with `rchosen` (the potential needs it for every candidate scan).
    rinvsq: Vec<f64>,
    rtotal: Vec<f64>,
    total_sim: u64,
    work: u64,
    simulations: u64,
    start: Instant,
    deadline: Option<f64>,
    // Scratch.
    moves: Vec<(u32, u32)>,
    seq: Vec<(u32, u32, u32)>,
    best_moves: Vec<(u32, u32)>,
    best_seq: Vec<(u32, u32, u32)>,
    zval: Vec<f64>,
    zidx: Vec<u32>,
    unsel: Vec<u32>,
    unsel_pos: Vec<u32>,
    stamp: Vec<u32>,
    stamp_id: u32,
    sim_a1: u32,
    best_a1: u32,
    /// Tests: verify the length bookkeeping after every executed action.
    check: bool,
}

impl<'a> Solver<'a> {
    fn new(inst: &Instance, heat: &Heatmap, p: &'a MctsParams, seed: u64, start: Instant) -> Self {
        let n = inst.n();
        let scale = match inst.metric {
            Metric::Euc2d => 1.0,
            Metric::Euclid => {
                let span = |v: &[f64]| {
                    v.iter().cloned().fold(f64::NEG_INFINITY, f64::max)
                        - v.iter().cloned().fold(f64::INFINITY, f64::min)
                };
                let s = span(&inst.xs).max(span(&inst.ys));
                if s > 0.0 { 1e7 / s } else { 1.0 }
            }
        };
        let xs = inst.xs.iter().map(|v| v * scale).collect();
        let ys = inst.ys.iter().map(|v| v * scale).collect();
        let deadline = p.t.map(|t| t * n as f64);
        let mut s = Self {
            p,
            n,
            xs,
            ys,
            rng: evoforge_core::stream(seed, &[evoforge_core::Purpose::Other as u64, 0x7359]),
            tour: (0..n as u32).collect(),
            pos: (0..n as u32).collect(),
            len: 0,
            best_tour: Vec::new(),
            best_len: i64::MAX,
            rstart: Vec::with_capacity(n + 1),
            ncand: Vec::with_capacity(n),
            rnbr: Vec::new(),
            rdist: Vec::new(),
            rw: Vec::new(),
            rchosen: Vec::new(),
            rinvsq: Vec::new(),
            rtotal: vec![0.0; n],
            total_sim: 0,
            work: 0,
            simulations: 0,
            start,
            deadline,
            moves: Vec::with_capacity(p.max_depth + 1),
            seq: Vec::with_capacity(p.max_depth + 1),
            best_moves: Vec::with_capacity(p.max_depth + 1),
            best_seq: Vec::with_capacity(p.max_depth + 1),
            zval: Vec::with_capacity(n),
            zidx: Vec::with_capacity(n),
            unsel: Vec::with_capacity(n),
            unsel_pos: vec![0; n],
            stamp: vec![0; n],
            stamp_id: 0,
            sim_a1: 0,
            best_a1: 0,
            check: false,
        };
        s.build_rows(inst, heat);
        s
    }

    /// Candidate lists and the sparse `W`, `Chosen` rows (`MCTS_Init` + `Identify_Candidate_Set`).
    fn build_rows(&mut self, inst: &Instance, heat: &Heatmap) {
        let n = self.n;
        let hs = heat.symmetrized();
        let maxc = self.p.max_candidate_num.min(n - 1);
        let by_dist = if self.p.candidate_use_heatmap { None } else { Some(nearest(inst, maxc)) };
        let mut val = vec![0.0f64; n];
        self.rstart.push(0);
        for i in 0..n {
            let (hc, hv) = hs.row(i);
            for (&j, &v) in hc.iter().zip(hv) {
                val[j as usize] = v;
            }
            self.stamp_id += 1;
            let id = self.stamp_id;
            let mut nc = 0u32;
            let push = |s: &mut Self, j: u32| {
                s.stamp[j as usize] = id;
                s.rnbr.push(j);
                let d = s.d(i as u32, j);
                s.rdist.push(d);
                s.rw.push(100.0 * val[j as usize]);
                s.rchosen.push(0);
                s.rinvsq.push(1.0);
            };
            match &by_dist {
                Some((st, cols, _)) => {
                    for &j in &cols[st[i]..st[i + 1]] {
                        push(self, j);
                        nc += 1;
                    }
                }
                None => {
                    // Ranked by heatmap value; the C++ stops below 1e-4.
                    for (&j, &v) in hc.iter().zip(hv) {
                        if nc as usize >= maxc || v < 1e-4 {
                            break;
                        }
                        push(self, j);
                        nc += 1;
                    }
                }
            }
            for &j in hc {
                if self.stamp[j as usize] != id {
                    push(self, j);
                }
            }
            self.rtotal[i] = 100.0 * hv.iter().sum::<f64>();
            for &j in hc {
                val[j as usize] = 0.0;
            }
            self.ncand.push(nc);
            self.rstart.push(self.rnbr.len());
        }
    }

    #[inline]
    fn d(&self, i: u32, j: u32) -> i64 {
        let dx = self.xs[i as usize] - self.xs[j as usize];
        let dy = self.ys[i as usize] - self.ys[j as usize];
        let e = (dx * dx + dy * dy).sqrt();
        // Truncation of a non-negative value: nint for EUC_2D, round otherwise (no libm call).
        (e + 0.5) as i64
    }

    #[inline]
    fn succ(&self, c: u32) -> u32 {
        let p = self.pos[c as usize] as usize + 1;
        self.tour[if p == self.n { 0 } else { p }]
    }

    #[inline]
    fn pred(&self, c: u32) -> u32 {
        let p = self.pos[c as usize] as usize;
        self.tour[if p == 0 { self.n - 1 } else { p - 1 }]
    }

    /// Reverses `len` tour positions starting at `i` (cyclically). An involution: replaying the
    /// same range undoes it.
    fn reverse_range(&mut self, i: u32, len: u32) {
        let n = self.n;
        let (mut a, mut b) = (i as usize, (i as usize + len as usize + n - 1) % n);
        for _ in 0..len / 2 {
            let (ca, cb) = (self.tour[a], self.tour[b]);
            self.tour[a] = cb;
            self.tour[b] = ca;
            self.pos[cb as usize] = a as u32;
            self.pos[ca as usize] = b as u32;
            a = if a + 1 == n { 0 } else { a + 1 };
            b = if b == 0 { n - 1 } else { b - 1 };
        }
        self.work += (len / 2) as u64 + 1;
    }

    /// The 2-opt move that removes `(t1,t2)`, `(t3,t4)` (with `t2 = succ t1`, `t4 = succ t3`)
    /// and adds `(t1,t3)`, `(t2,t4)`: reverse the path `t2..t3` or, if shorter, the rest.
    /// Returns the reversed range.
    fn two_opt(&mut self, t2: u32, t3: u32) -> (u32, u32) {
        let n = self.n as u32;
        let (i, j) = (self.pos[t2 as usize], self.pos[t3 as usize]);
        let len = (j + n - i) % n + 1;
        let r = if 2 * len <= n { (i, len) } else { ((j + 1) % n, n - len) };
        self.reverse_range(r.0, r.1);
        r
    }

    fn find(&self, x: u32, y: u32) -> Option<usize> {
        let r = self.rstart[x as usize]..self.rstart[x as usize + 1];
        self.rnbr[r.clone()].iter().position(|&j| j == y).map(|k| r.start + k)
    }

    fn reward(&mut self, x: u32, y: u32, inc: f64) {
        for (u, v) in [(x, y), (y, x)] {
            self.rtotal[u as usize] += inc;
            if let Some(k) = self.find(u, v) {
                self.rw[k] += inc;
            }
        }
    }

    fn exhausted(&self) -> bool {
        if let Some(w) = self.p.work
            && self.work >= w
        {
            return true;
        }
        if let Some(dl) = self.deadline {
            return self.start.elapsed().as_secs_f64() >= dl;
        }
        false
    }

    fn tour_len(&self) -> i64 {
        (0..self.n).map(|k| self.d(self.tour[k], self.tour[(k + 1) % self.n])).sum()
    }

    /// Heatmap-guided random construction (`Generate_Initial_Solution`).
    fn construct(&mut self) {
        let n = self.n;
        self.unsel.clear();
        for c in 0..n as u32 {
            self.unsel_pos[c as usize] = c;
            self.unsel.push(c);
        }
        let mut cur = below(&mut self.rng, n) as u32;
        self.take(cur);
        self.tour[0] = cur;
        for k in 1..n {
            self.stamp_id += 1;
            let id = self.stamp_id;
            self.zidx.clear();
            self.zval.clear();
            let r = self.rstart[cur as usize]..self.rstart[cur as usize + 1];
            let mut m = 0.0f64;
            for idx in r.clone() {
                let j = self.rnbr[idx] as usize;
                self.stamp[j] = id;
                if self.unsel_pos[j] != u32::MAX {
                    self.zidx.push(idx as u32);
                    m = m.max(self.rw[idx]);
                }
            }
            self.work += r.len() as u64 + 1;
            let mut total = 0.0;
            for &idx in &self.zidx {
                let v = (self.rw[idx as usize] - m).exp();
                self.zval.push(v);
                total += v;
            }
            let rest = self.unsel.len() - self.zidx.len();
            let rest_mass = rest as f64 * (-m).exp();
            let mut x = unif(&mut self.rng) * (total + rest_mass);
            let mut next = None;
            if x < total || rest == 0 {
                for (t, &v) in self.zval.iter().enumerate() {
                    if x < v {
                        next = Some(self.rnbr[self.zidx[t] as usize]);
                        break;
                    }
                    x -= v;
                }
                if next.is_none() {
                    next = self.zidx.last().map(|&i| self.rnbr[i as usize]);
                }
            }
            let next = match next {
                Some(j) => j,
                None => loop {
                    // A uniform unvisited city outside the row (all have W = 0).
                    let j = self.unsel[below(&mut self.rng, self.unsel.len())];
                    self.work += 1;
                    if self.stamp[j as usize] != id {
                        break j;
                    }
                },
            };
            self.take(next);
            self.tour[k] = next;
            cur = next;
        }
        for (p, &c) in self.tour.iter().enumerate() {
            self.pos[c as usize] = p as u32;
        }
        self.len = self.tour_len();
        self.work += n as u64;
    }

    fn take(&mut self, c: u32) {
        let p = self.unsel_pos[c as usize] as usize;
        let last = self.unsel.pop().expect("city to take");
        if last != c {
            self.unsel[p] = last;
            self.unsel_pos[last as usize] = p as u32;
        }
        self.unsel_pos[c as usize] = u32::MAX;
    }

    /// 2-opt on candidate pairs until no move improves (`Local_Search_by_2Opt_Move`).
    fn local_search(&mut self) {
        loop {
            let mut improved = false;
            for i in 0..self.n as u32 {
                let r = self.rstart[i as usize]
                    ..self.rstart[i as usize] + self.ncand[i as usize] as usize;
                for idx in r {
                    let c = self.rnbr[idx];
                    let dac = self.rdist[idx];
                    // (i, succ i), (c, succ c) → (i, c), (succ i, succ c).
                    let (b, e) = (self.succ(i), self.succ(c));
                    if c != b && e != i {
                        let delta = self.d(i, b) + self.d(c, e) - dac - self.d(b, e);
                        self.note_2opt(idx);
                        if delta > 0 {
                            self.apply_2opt(b, c, delta, (i, c), (b, e));
                            improved = true;
                            break;
                        }
                    }
                    // Mirror: (pred i, i), (pred c, c) → (i, c), (pred i, pred c).
                    let (b, e) = (self.pred(i), self.pred(c));
                    if c != b && e != i {
                        let delta = self.d(b, i) + self.d(e, c) - dac - self.d(b, e);
                        self.note_2opt(idx);
                        if delta > 0 {
                            self.apply_2opt(i, e, delta, (i, c), (b, e));
                            improved = true;
                            break;
                        }
                    }
                }
            }
            if !improved {
                break;
            }
        }
    }

    #[inline]
    fn bump(&mut self, idx: usize) {
        self.rchosen[idx] += 1;
        self.rinvsq[idx] = 1.0 / (self.rchosen[idx] as f64 + 1.0).sqrt();
    }

    #[inline]
    fn note_2opt(&mut self, idx: usize) {
        self.bump(idx);
        self.total_sim += 1;
        self.work += 1;
    }

    fn apply_2opt(&mut self, t2: u32, t3: u32, delta: i64, e1: (u32, u32), e2: (u32, u32)) {
        let inc = self.p.beta * ((delta as f64 / self.len as f64).exp() - 1.0);
        self.two_opt(t2, t3);
        self.len -= delta;
        self.reward(e1.0, e1.1, inc);
        self.reward(e2.0, e2.1, inc);
    }

    /// Picks `a_{i+1}` among the candidates of `b` (`Choose_City_To_Connect`); returns the row
    /// index of the chosen edge.
    fn choose(&mut self, b: u32, a1: u32, excluded: u32, lnt: f64) -> Option<usize> {
        let r = self.rstart[b as usize]..self.rstart[b as usize] + self.ncand[b as usize] as usize;
        let avg = self.rtotal[b as usize] / (self.n - 1) as f64;
        let inv_avg = if avg > 0.0 { 1.0 / avg } else { 0.0 };
        let explore = self.p.alpha * lnt.sqrt();
        self.zidx.clear();
        self.zval.clear();
        let mut total = 0.0;
        self.work += r.len() as u64 + 1;
        for idx in r {
            let j = self.rnbr[idx];
            if j == a1 || j == excluded {
                continue;
            }
            let w = if avg > 0.0 { self.rw[idx] * inv_avg } else { 1.0 };
            let z = w + explore * self.rinvsq[idx];
            if z >= 1.0 {
                self.zidx.push(idx as u32);
                self.zval.push(z);
                total += z;
            }
        }
        if self.zidx.is_empty() {
            return None;
        }
        let mut x = unif(&mut self.rng) * total;
        for (t, &z) in self.zval.iter().enumerate() {
            if x < z {
                return Some(self.zidx[t] as usize);
            }
            x -= z;
        }
        self.zidx.last().map(|&i| i as usize)
    }

    /// Reflects position `q` through the cyclic range `(s, l)` (identity outside it).
    #[inline]
    fn reflect(&self, q: usize, s: u32, l: u32) -> usize {
        // Branches instead of `%`: this runs O(k) times per query of a k-step simulation.
        let n = self.n;
        let (s, l) = (s as usize, l as usize);
        let o = if q >= s { q - s } else { q + n - s };
        if o < l {
            let t = s + l - 1 - o;
            if t >= n { t - n } else { t }
        } else {
            q
        }
    }

    /// Position of `c` after the pending reversals `moves` (applied in order).
    #[inline]
    fn lpos(&self, c: u32) -> usize {
        let mut q = self.pos[c as usize] as usize;
        for &(s, l) in &self.moves {
            q = self.reflect(q, s, l);
        }
        q
    }

    /// The city at position `p` after the pending reversals (each is an involution: undo them
    /// backwards on the position).
    #[inline]
    fn lat(&self, p: usize) -> u32 {
        let mut q = p;
        for &(s, l) in self.moves.iter().rev() {
            q = self.reflect(q, s, l);
        }
        self.tour[q]
    }

    /// Samples one k-opt action (`Get_Simulated_Action_Delta`). The tour itself is never
    /// touched: each step's 2-opt reversal is kept as a pending position range, and positions
    /// in the changed tour are computed through them (O(k) per query instead of an O(N)
    /// reversal and its undo). The orientation of `a₁ → b_i` and the position of `b_i` are
    /// carried from step to step, so a step costs three O(k) queries. The best prefix is
    /// `moves[..k]`, `k` returned with its gain.
    fn simulate(&mut self) -> (i64, usize) {
        let n = self.n;
        let a1 = below(&mut self.rng, n) as u32;
        let b1 = self.succ(a1);
        self.sim_a1 = a1;
        self.moves.clear();
        self.seq.clear();
        let lnt = ((self.total_sim + 1) as f64).ln() * INV_LN_E;
        let mut gain = self.d(a1, b1);
        let mut cur = b1;
        let mut pcur = self.pos[b1 as usize] as usize;
        // `forward`: b_i follows a₁ in the array order (else it precedes it).
        let mut forward = true;
        let (mut best, mut best_k) = (i64::MIN, 0);
        let mut depth = 1;
        let next = |p: usize| if p + 1 == n { 0 } else { p + 1 };
        let prev = |p: usize| if p == 0 { n - 1 } else { p - 1 };
        loop {
            let excluded = self.lat(if forward { next(pcur) } else { prev(pcur) });
            let Some(idx) = self.choose(cur, a1, excluded, lnt) else { break };
            let a = self.rnbr[idx];
            self.bump(idx);
            if let Some(k) = self.find(a, cur) {
                self.bump(k);
            }
            let pa = self.lpos(a);
            let pb = if forward { prev(pa) } else { next(pa) };
            let b = self.lat(pb);
            gain = gain - self.rdist[idx] + self.d(a, b);
            let real = gain - self.d(b, a1);
            // Remove (a1, cur), (b, a); add (cur, a), (b, a1): reverse the path cur..b
            // (forward) or b..cur (backward), or the complement if shorter — which flips the
            // orientation of a₁'s side.
            let (i, j) = if forward { (pcur, pb) } else { (pb, pcur) };
            let len = (j + n - i) % n + 1;
            let (r, flip) = if 2 * len <= n {
                ((i as u32, len as u32), false)
            } else {
                ((((j + 1) % n) as u32, (n - len) as u32), true)
            };
            self.moves.push(r);
            forward ^= flip;
            pcur = self.reflect(pb, r.0, r.1);
            self.seq.push((cur, a, b));
            self.work += 3 * self.moves.len() as u64 + 3;
            depth += 1;
            if real > best {
                best = real;
                best_k = self.moves.len();
            }
            cur = b;
            if real > 0 || depth > self.p.max_depth {
                break;
            }
        }
        (best, best_k)
    }

    /// `MCTS()`: improving k-opt actions until the sampling pool finds none.
    fn mcts(&mut self) {
        let sims = ((self.p.h * self.n as f64).round() as u64).max(1);
        'outer: while !self.exhausted() {
            let before = self.len;
            let mut best = i64::MIN;
            for _ in 0..sims {
                if self.exhausted() {
                    break 'outer;
                }
                let (g, k) = self.simulate();
                self.total_sim += 1;
                self.simulations += 1;
                if g > best {
                    best = g;
                    self.best_moves.clear();
                    self.best_moves.extend_from_slice(&self.moves[..k]);
                    self.best_seq.clear();
                    self.best_seq.extend_from_slice(&self.seq[..k]);
                    self.best_a1 = self.sim_a1;
                }
                if best > 0 {
                    break;
                }
            }
            if best <= 0 {
                break;
            }
            // Back-propagation over the action's new edges (b_i, a_{i+1}) and (b_{k+1}, a_1).
            let inc = self.p.beta * ((best as f64 / before as f64).exp() - 1.0);
            let a1 = self.best_a1;
            for t in 0..self.best_seq.len() {
                let (b, a, _) = self.best_seq[t];
                self.reward(b, a, inc);
            }
            let last = self.best_seq[self.best_seq.len() - 1].2;
            self.reward(last, a1, inc);
            for t in 0..self.best_moves.len() {
                let (i, l) = self.best_moves[t];
                self.reverse_range(i, l);
            }
            self.len -= best;
            if self.check {
                assert_eq!(self.len, self.tour_len(), "k-opt gain bookkeeping");
                let mut seen = vec![false; self.n];
                for &c in &self.tour {
                    assert!(!std::mem::replace(&mut seen[c as usize], true));
                }
            }
        }
        self.keep_best();
    }

    fn keep_best(&mut self) {
        if self.len < self.best_len {
            self.best_len = self.len;
            self.best_tour.clear();
            self.best_tour.extend_from_slice(&self.tour);
        }
    }

    fn run(&mut self) -> u64 {
        let mut restarts = 0;
        loop {
            self.construct();
            self.local_search();
            self.keep_best();
            self.mcts();
            if self.exhausted() {
                return restarts;
            }
            restarts += 1;
        }
    }
}

/// Solves one instance with `heat` (the raw heatmap; the solver symmetrises it) and the stream
/// `seed`. `start` is when the instance's clock started (the time budget counts from it).
pub fn solve(
    inst: &Instance,
    heat: &Heatmap,
    p: &MctsParams,
    seed: u64,
    start: Instant,
) -> SolveResult {
    let mut s = Solver::new(inst, heat, p, seed, start);
    let restarts = s.run();
    let tour = std::mem::take(&mut s.best_tour);
    let length = inst.tour_length(&tour);
    SolveResult {
        tour,
        length,
        seconds: start.elapsed().as_secs_f64(),
        work: s.work,
        restarts,
        simulations: s.simulations,
    }
}

/// Test hooks on the solver's moves (hand-checked instances).
#[doc(hidden)]
pub mod testing {
    use super::*;

    /// Solves with a check after every executed k-opt action that the tracked length equals the
    /// recomputed one and the tour is a permutation (panics otherwise); returns the result.
    pub fn solve_checked(
        inst: &Instance,
        heat: &Heatmap,
        p: &MctsParams,
        seed: u64,
    ) -> (i64, i64, u64) {
        let mut s = Solver::new(inst, heat, p, seed, Instant::now());
        s.check = true;
        s.run();
        (s.best_len, s.tour_len(), s.simulations)
    }

    /// Applies one candidate 2-opt pass from `tour` (no heatmap, distance candidates) and
    /// returns the tour after the local search.
    pub fn two_opt_from(inst: &Instance, tour: &[u32], cands: usize) -> Vec<u32> {
        let p = MctsParams {
            max_candidate_num: cands,
            candidate_use_heatmap: false,
            work: Some(u64::MAX),
            t: None,
            ..MctsParams::default()
        };
        let heat = Heatmap::zero(inst.n());
        let mut s = Solver::new(inst, &heat, &p, 0, Instant::now());
        s.set_tour(tour);
        s.local_search();
        s.tour_from(0)
    }

    /// Applies the sequential k-opt step list `steps` = `[(b_i, a_{i+1})...]` starting by
    /// cutting `(a1, succ a1)`, exactly as a simulated action does, and returns the tour and the
    /// closed gain of the full action (in the solver's integer units).
    pub fn kopt_from(inst: &Instance, tour: &[u32], a1: u32, steps: &[u32]) -> (Vec<u32>, i64) {
        let p = MctsParams { work: Some(u64::MAX), t: None, ..MctsParams::default() };
        let heat = Heatmap::zero(inst.n());
        let mut s = Solver::new(inst, &heat, &p, 0, Instant::now());
        s.set_tour(tour);
        let before = s.len;
        let mut cur = s.succ(a1);
        for &a in steps {
            let forward = s.succ(a1) == cur;
            let b = if forward { s.pred(a) } else { s.succ(a) };
            if forward {
                s.two_opt(cur, b)
            } else {
                s.two_opt(b, cur)
            };
            cur = b;
        }
        let after = s.tour_len();
        (s.tour_from(0), before - after)
    }
}

impl Solver<'_> {
    fn set_tour(&mut self, tour: &[u32]) {
        self.tour.copy_from_slice(tour);
        for (p, &c) in tour.iter().enumerate() {
            self.pos[c as usize] = p as u32;
        }
        self.len = self.tour_len();
    }

    /// The tour read from city `c` in the direction that makes it canonical (second city
    /// smaller than the last), so equal cycles compare equal.
    fn tour_from(&self, c: u32) -> Vec<u32> {
        let n = self.n;
        let p = self.pos[c as usize] as usize;
        let fwd: Vec<u32> = (0..n).map(|k| self.tour[(p + k) % n]).collect();
        if n > 2 && fwd[1] > fwd[n - 1] {
            let mut r = vec![fwd[0]];
            r.extend(fwd[1..].iter().rev());
            r
        } else {
            fwd
        }
    }
}
