//! SPSA and SPSA-GC: simultaneous perturbation stochastic approximation (Spall 1992,
//! "Multivariate stochastic approximation using a simultaneous perturbation gradient
//! approximation", IEEE TAC 37(3); gains as in Spall 1998, "Implementation of the simultaneous
//! perturbation algorithm for stochastic optimization", IEEE TAES 34(3)) with the gradient
//! correction of BlackVIP (Oh, Hwang, Park, Jang, Oh, Kang & Ahn, CVPR 2023, "BlackVIP:
//! Black-Box Visual Prompting for Robust Transfer Learning"), as the BlackVIP code has it
//! (`changdaeoh/BlackVIP` 66606fb, `trainers/blackvip.py`: `forward_backward`,
//! `spsa_grad_estimate_bi`; defaults in `train.py`).
//!
//! # One generation = one step `k = 1, 2, …`
//!
//! ```text
//! a_k = a / (k + o)^α            c_k = c / k^γ                  (`o`: Spall's stability constant A)
//! Δ_j, j = 1..q                  (`delta`, per coordinate, drawn in `ask`)
//! candidates  w + c_k Δ_j, w − c_k Δ_j   (ids 2(j−1) and 2(j−1)+1 of the generation)
//! ĝ_j = (L+_j − L−_j) / ((2 c_k) Δ_j)    (element-wise)      ĝ = (1/q) Σ_j ĝ_j
//! spsa_gc:  m ← ĝ (k = 1),  m ← β m + ĝ (k > 1);   w ← w − a_k (ĝ + β m)
//! spsa:     w ← w − a_k ĝ
//! ```
//!
//! The `spsa_gc` update is the code's "momentum + look-ahead" form of Nesterov's method; it does
//! not evaluate the gradient at a look-ahead point (the paper's Algorithm 1 writes it as
//! `φ_{k+1} = φ_k + m_{k+1}`, `m_{k+1} = β m_k − a_k ĝ(φ_k + β m_k)`; the code is followed here).
//!
//! Perturbations (`delta`):
//! * `segmented_uniform` (default, the code's): each coordinate `±u`, `u ~ U[0.5, 1)`, sign
//!   `±1` with probability 1/2 (the code's `(rand + 1)/2` and a Bernoulli gather).
//! * `rademacher`: each coordinate `±1` with probability 1/2 (present but commented out in
//!   the code; Spall's usual choice).
//! * `ones`: `Δ ≡ 1`, deterministic; for tests and oracles (a plain finite difference along the
//!   diagonal, not a useful optimizer).
//!
//! # Defaults (BlackVIP `train.py`, `cfg.TRAINER.BLACKVIP`)
//!
//! `SPSA_PARAMS = [o, c, a, alpha, gamma] = [0.0, 0.001, 40.0, 0.6, 0.1]`, `MOMS` β = 0.9,
//! `SP_AVG` q = 5, `OPT_TYPE = "spsa-gc"`. They were chosen for a visual-prompt network trained
//! with a cross-entropy loss; `a = 40` is a large gain for most problems (on `Σ x²` the first
//! step is `w ← w − 40·3.8 w`), so set `a`, `c` (and `o`) for the problem at hand: Spall
//! (1998) suggests `α = 0.602`, `γ = 0.101`, `o` about 10% of the planned steps, `c` about the
//! standard deviation of the noise in `f`, and `a` such that the first steps move `w` by the
//! desired amount. The BlackVIP scripts themselves use `o = 1, α = 0.4, a = 0.01` per dataset
//! (`scripts/blackvip/tl_bench.sh`).
//!
//! # Points, bounds, failures
//!
//! The initial point is `mean0`, or 0 where 0 lies in the bounds and the box centre otherwise
//! (as OpenAI-ES). Candidates are clipped into the box of the space (what is asked is what is
//! evaluated), and `w` is clipped into the box after every step. A pair with a failed or
//! non-finite member (`L+ − L−` not finite) is left out of the average; a generation with no
//! usable pair leaves `w` and `m` unchanged (`k` still advances, so the gains follow the
//! generation count). `best()` is the best evaluated candidate; `recommend()` is `w`, the
//! answer to use on a noisy objective. A new `ask` before the pending generation is complete
//! discards it.
use evoforge_core::{
    Candidate, ConfigError, Describe, Evaluated, Metrics, ParamDoc, Rng, Space, Strategy, TellError,
};
use rand::RngExt;
use serde::{Deserialize, Serialize};

use crate::util::{Batch, check_mean0, clip_into, nf};

/// The update rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum SpsaMode {
    /// BlackVIP's SPSA with gradient correction (Nesterov-style momentum `β`).
    #[default]
    SpsaGc,
    /// Plain SPSA: `w ← w − a_k ĝ`.
    Spsa,
}

/// The distribution of each coordinate of a perturbation `Δ`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum SpsaDelta {
    /// `±u`, `u ~ U[0.5, 1)`, random sign (BlackVIP's).
    #[default]
    SegmentedUniform,
    /// `±1`, random sign.
    Rademacher,
    /// `1` (deterministic; for tests and oracles).
    Ones,
}

/// Configuration of [`Spsa`] (YAML `kind: spsa`). Defaults: BlackVIP's `train.py`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SpsaConfig {
    /// `spsa_gc | spsa`.
    pub mode: SpsaMode,
    /// Perturbations per step `q` (BlackVIP's `SP_AVG`); a generation has `2q` candidates.
    pub q: usize,
    /// `segmented_uniform | rademacher | ones`.
    pub delta: SpsaDelta,
    /// Gain numerator `a` of `a_k = a / (k + o)^α`.
    pub a: f64,
    /// Perturbation size `c` of `c_k = c / k^γ`.
    pub c: f64,
    /// Stability constant `o` (Spall's `A`) of `a_k`.
    pub o: f64,
    /// Gain decay exponent `α`.
    pub alpha: f64,
    /// Perturbation decay exponent `γ`.
    pub gamma: f64,
    /// Momentum `β` of `spsa_gc` (BlackVIP's `MOMS`).
    pub beta: f64,
    /// Initial point; default 0 per coordinate where 0 is in the bounds, else the box centre.
    pub mean0: Option<Vec<f64>>,
}

impl Default for SpsaConfig {
    fn default() -> Self {
        Self {
            mode: SpsaMode::SpsaGc,
            q: 5,
            delta: SpsaDelta::SegmentedUniform,
            a: 40.0,
            c: 0.001,
            o: 0.0,
            alpha: 0.6,
            gamma: 0.1,
            beta: 0.9,
            mean0: None,
        }
    }
}

impl Describe for SpsaConfig {
    const KIND: &'static str = Spsa::NAME;
    const SUMMARY: &'static str =
        "SPSA (Spall 1992) and BlackVIP's SPSA-GC (Oh et al. 2023): 2q evaluations per step";
    fn params() -> Vec<ParamDoc> {
        vec![
            ParamDoc::opt("mode", "spsa_gc | spsa", "spsa_gc", "update rule"),
            ParamDoc::opt("q", "int", "5", "perturbations averaged per step (2q evaluations)"),
            ParamDoc::opt(
                "delta",
                "segmented_uniform | rademacher | ones",
                "segmented_uniform",
                "perturbation distribution per coordinate",
            ),
            ParamDoc::opt("a", "float", "40.0", "gain a of a_k = a / (k + o)^alpha"),
            ParamDoc::opt("c", "float", "0.001", "perturbation c of c_k = c / k^gamma"),
            ParamDoc::opt("o", "float", "0.0", "stability constant of a_k (Spall's A)"),
            ParamDoc::opt("alpha", "float", "0.6", "gain decay exponent"),
            ParamDoc::opt("gamma", "float", "0.1", "perturbation decay exponent"),
            ParamDoc::opt("beta", "float", "0.9", "momentum of spsa_gc"),
            ParamDoc::opt("mean0", "[float]", "null", "initial point; null: 0, or box centre"),
        ]
    }
}

/// SPSA / SPSA-GC over the continuous encoding of the space.
#[derive(Debug, Clone)]
pub struct Spsa {
    config: SpsaConfig,
    space: Space,
    mean0: Vec<f64>,
}

/// State of [`Spsa`]: the point, the momentum, the pending generation, the best candidate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpsaState {
    next_id: u64,
    /// Steps completed; the pending generation is step `k + 1`.
    k: u64,
    #[serde(with = "nf::vec")]
    w: Vec<f64>,
    /// Momentum of `spsa_gc`.
    #[serde(with = "nf::vec")]
    m: Vec<f64>,
    /// `c_k` of the pending generation.
    ck: f64,
    /// The `q` perturbations of the pending generation, `q × d` row-major.
    deltas: Vec<f64>,
    batch: Batch,
    #[serde(with = "nf::best")]
    best: Option<(Vec<f64>, f64)>,
}

impl SpsaState {
    /// The current point `w`.
    pub fn w(&self) -> &[f64] {
        &self.w
    }
    /// The momentum `m` of `spsa_gc`.
    pub fn momentum(&self) -> &[f64] {
        &self.m
    }
    /// Steps completed.
    pub fn steps(&self) -> u64 {
        self.k
    }
}

/// `a_k = a / (k + o)^α` (BlackVIP's `ak`).
pub fn gain_a(c: &SpsaConfig, k: u64) -> f64 {
    c.a / (k as f64 + c.o).powf(c.alpha)
}

/// `c_k = c / k^γ` (BlackVIP's `ck`).
pub fn gain_c(c: &SpsaConfig, k: u64) -> f64 {
    c.c / (k as f64).powf(c.gamma)
}

fn finite_non_negative(field: &str, v: f64) -> Result<(), ConfigError> {
    if v.is_finite() && v >= 0.0 {
        Ok(())
    } else {
        Err(ConfigError::new(field, format!("must be finite and non-negative, got {v}")))
    }
}

impl Spsa {
    /// The estimate `ĝ` of a complete generation and the number of usable pairs.
    fn gradient(&self, s: &SpsaState, f: &[f64]) -> (Vec<f64>, usize, f64) {
        let d = self.space.dim();
        let mut g = vec![0.0; d];
        let mut used = 0;
        let mut loss = f64::NAN;
        let two_ck = 2.0 * s.ck;
        for (j, delta) in s.deltas.chunks_exact(d).enumerate() {
            let (lp, lm) = (f[2 * j], f[2 * j + 1]);
            let diff = lp - lm;
            if !diff.is_finite() {
                continue;
            }
            used += 1;
            loss = (lp + lm) / 2.0;
            if self.config.q == 1 {
                // The code's `if self.sp_avg == 1: pass` (no mean taken).
                for (gi, di) in g.iter_mut().zip(delta) {
                    *gi = diff / (two_ck * di);
                }
            } else {
                for (gi, di) in g.iter_mut().zip(delta) {
                    *gi += diff / (two_ck * di);
                }
            }
        }
        if used > 1 {
            let n = used as f64;
            g.iter_mut().for_each(|v| *v /= n);
        }
        (g, used, loss)
    }
}

impl Strategy for Spsa {
    const NAME: &'static str = "spsa";
    type Config = SpsaConfig;
    type State = SpsaState;
    type Genome = Vec<f64>;
    type Context = ();

    fn new(config: Self::Config, space: &Space) -> Result<Self, ConfigError> {
        space.check()?;
        let c = &config;
        if c.q == 0 {
            return Err(ConfigError::new("q", "must be at least 1"));
        }
        if !(c.a.is_finite() && c.a > 0.0) {
            return Err(ConfigError::new("a", format!("must be positive and finite, got {}", c.a)));
        }
        if !(c.c.is_finite() && c.c > 0.0) {
            return Err(ConfigError::new("c", format!("must be positive and finite, got {}", c.c)));
        }
        // k + o > 0 for every k ≥ 1.
        if !(c.o.is_finite() && c.o > -1.0) {
            return Err(ConfigError::new("o", format!("must be finite and > -1, got {}", c.o)));
        }
        finite_non_negative("alpha", c.alpha)?;
        finite_non_negative("gamma", c.gamma)?;
        if !(0.0..1.0).contains(&c.beta) {
            return Err(ConfigError::new("beta", format!("must be in [0, 1), got {}", c.beta)));
        }
        check_mean0(&c.mean0, space)?;
        let mean0 = c.mean0.clone().unwrap_or_else(|| {
            space
                .dims()
                .iter()
                .map(|dm| if dm.lo <= 0.0 && 0.0 <= dm.hi { 0.0 } else { 0.5 * (dm.lo + dm.hi) })
                .collect()
        });
        Ok(Self { config, space: space.clone(), mean0 })
    }

    fn init(&self, _rng: &mut Rng) -> Self::State {
        let d = self.space.dim();
        SpsaState {
            next_id: 0,
            k: 0,
            w: self.mean0.clone(),
            m: vec![0.0; d],
            ck: 0.0,
            deltas: Vec::new(),
            batch: Batch::default(),
            best: None,
        }
    }

    fn ask(&self, s: &mut Self::State, rng: &mut Rng) -> Vec<Candidate<Self::Genome>> {
        let c = &self.config;
        let d = self.space.dim();
        s.ck = gain_c(c, s.k + 1);
        s.deltas.clear();
        s.deltas.reserve(c.q * d);
        for _ in 0..c.q * d {
            let v = match c.delta {
                SpsaDelta::SegmentedUniform => {
                    let u = (rng.random::<f64>() + 1.0) / 2.0;
                    if rng.random::<bool>() { -u } else { u }
                }
                SpsaDelta::Rademacher => {
                    if rng.random::<bool>() {
                        -1.0
                    } else {
                        1.0
                    }
                }
                SpsaDelta::Ones => 1.0,
            };
            s.deltas.push(v);
        }
        let first = s.next_id;
        let mut out = Vec::with_capacity(2 * c.q);
        for delta in s.deltas.chunks_exact(d) {
            for sign in [1.0, -1.0] {
                let mut x: Vec<f64> =
                    s.w.iter().zip(delta).map(|(w, dl)| w + sign * (s.ck * dl)).collect();
                clip_into(&self.space, &mut x);
                out.push(Candidate { id: first + out.len() as u64, genome: x });
            }
        }
        s.batch = Batch::new(first, out.len());
        s.next_id += out.len() as u64;
        out
    }

    fn tell(
        &self,
        s: &mut Self::State,
        results: &[Evaluated<Self::Genome>],
        _rng: &mut Rng,
    ) -> Result<Metrics, TellError> {
        s.batch.accept(results)?;
        let mut m = Metrics::new();
        if !s.batch.complete() {
            m.insert("pending".into(), s.batch.missing() as f64);
            return Ok(m);
        }
        let c = &self.config;
        let d = self.space.dim();
        let f = s.batch.values();
        // Best candidate (slot order breaks ties); the point is rebuilt from the state.
        let mut bk = None;
        let mut bf = s.best.as_ref().map_or(f64::INFINITY, |b| b.1);
        for (k, &v) in f.iter().enumerate() {
            if v < bf {
                bf = v;
                bk = Some(k);
            }
        }
        if let Some(k) = bk {
            let (j, sign) = (k / 2, if k % 2 == 0 { 1.0 } else { -1.0 });
            let delta = &s.deltas[j * d..(j + 1) * d];
            let mut x: Vec<f64> =
                s.w.iter().zip(delta).map(|(w, dl)| w + sign * (s.ck * dl)).collect();
            clip_into(&self.space, &mut x);
            s.best = Some((x, bf));
        }
        let k = s.k + 1;
        let ak = gain_a(c, k);
        let (g, used, loss) = self.gradient(s, &f);
        if used > 0 {
            let update: Vec<f64> = match c.mode {
                SpsaMode::SpsaGc => {
                    if k > 1 {
                        for (mi, gi) in s.m.iter_mut().zip(&g) {
                            *mi = c.beta * *mi + gi;
                        }
                    } else {
                        s.m.copy_from_slice(&g);
                    }
                    g.iter().zip(&s.m).map(|(gi, mi)| gi + c.beta * mi).collect()
                }
                SpsaMode::Spsa => g.clone(),
            };
            for (wi, ui) in s.w.iter_mut().zip(&update) {
                *wi -= ak * ui;
            }
            clip_into(&self.space, &mut s.w);
            m.insert("grad_norm".into(), g.iter().map(|v| v * v).sum::<f64>().sqrt());
            m.insert("loss".into(), loss);
        }
        s.k = k;
        s.batch = Batch::default();
        m.insert("ak".into(), ak);
        m.insert("ck".into(), s.ck);
        m.insert("pairs_used".into(), used as f64);
        if let Some(b) = &s.best {
            m.insert("best_fitness".into(), b.1);
        }
        Ok(m)
    }

    fn context(&self, _s: &Self::State) {}

    fn decode(&self, _ctx: &(), g: &Self::Genome, out: &mut [f64]) {
        out.copy_from_slice(g);
    }

    fn recommend(&self, s: &Self::State) -> Option<Vec<f64>> {
        Some(s.w.clone())
    }

    fn best(&self, s: &Self::State) -> Option<(Self::Genome, f64)> {
        s.best.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conformance::{self, sphere};
    use evoforge_core::stream;

    #[test]
    fn gains_follow_the_code() {
        let c = SpsaConfig::default();
        assert_eq!(gain_a(&c, 1), 40.0);
        assert_eq!(gain_c(&c, 1), 0.001);
        assert_eq!(gain_a(&c, 32), 40.0 / 32f64.powf(0.6));
        assert_eq!(gain_c(&c, 32), 0.001 / 32f64.powf(0.1));
        let c = SpsaConfig { o: 1.0, ..c };
        assert_eq!(gain_a(&c, 1), 40.0 / 2f64.powf(0.6));
    }

    #[test]
    fn hand_computed_first_steps() {
        // f(x) = x², w0 = 1, a = c = 0.1, α = γ = 0 (constant gains), β = 0.9, q = 1, Δ ≡ 1.
        // Step 1: L± = 1.21, 0.81, ĝ = 0.4/0.2 = 2 (central differences are exact on a
        // quadratic), m = 2, w = 1 − 0.1 (2 + 0.9·2) = 0.62.
        // Step 2: ĝ = 1.24, m = 0.9·2 + 1.24 = 3.04, w = 0.62 − 0.1 (1.24 + 0.9·3.04) = 0.2224.
        let space = Space::real_box(1, -10.0, 10.0);
        let cfg = SpsaConfig {
            q: 1,
            delta: SpsaDelta::Ones,
            a: 0.1,
            c: 0.1,
            alpha: 0.0,
            gamma: 0.0,
            mean0: Some(vec![1.0]),
            ..Default::default()
        };
        let s = Spsa::new(cfg, &space).unwrap();
        let mut st = conformance::fresh(&s, 1).unwrap();
        let (c, _) = conformance::step(&s, &space, &mut st, 1, 0, &sphere).unwrap();
        assert_eq!(c.len(), 2);
        assert!((c[0].genome[0] - 1.1).abs() < 1e-15 && (c[1].genome[0] - 0.9).abs() < 1e-15);
        let close = |a: f64, b: f64| (a - b).abs() <= 1e-15 * b.abs();
        assert!(close(st.momentum()[0], 2.0) && close(st.w()[0], 0.62), "{:?}", st.w());
        conformance::step(&s, &space, &mut st, 1, 1, &sphere).unwrap();
        assert!(close(st.momentum()[0], 3.04), "{:?}", st.momentum());
        assert!(close(st.w()[0], 0.2224), "{:?}", st.w());
        // Plain SPSA: w = 1 − 0.1·2 = 0.8, then 0.8 − 0.1·1.6 = 0.64.
        let s = Spsa::new(SpsaConfig { mode: SpsaMode::Spsa, ..s.config.clone() }, &space).unwrap();
        let mut st = conformance::fresh(&s, 1).unwrap();
        conformance::step(&s, &space, &mut st, 1, 0, &sphere).unwrap();
        assert!(close(st.w()[0], 0.8));
        conformance::step(&s, &space, &mut st, 1, 1, &sphere).unwrap();
        assert!(close(st.w()[0], 0.64));
    }

    #[test]
    fn perturbations_have_the_configured_law() {
        let space = Space::real_box(1000, -1.0, 1.0);
        for delta in [SpsaDelta::SegmentedUniform, SpsaDelta::Rademacher, SpsaDelta::Ones] {
            let cfg = SpsaConfig { q: 2, delta, c: 0.5, gamma: 0.0, ..Default::default() };
            let s = Spsa::new(cfg, &space).unwrap();
            let mut st = s.init(&mut stream(1, &[1]));
            let c = s.ask(&mut st, &mut stream(1, &[2]));
            assert_eq!(c.len(), 4);
            // w = 0: candidates are ±c Δ_j, mirrored within a pair.
            for pair in c.chunks(2) {
                for (p, m) in pair[0].genome.iter().zip(&pair[1].genome) {
                    assert_eq!(*p, -m);
                }
            }
            let d: Vec<f64> = c[0].genome.iter().map(|v| v / 0.5).collect();
            let neg = d.iter().filter(|v| **v < 0.0).count();
            match delta {
                SpsaDelta::SegmentedUniform => {
                    assert!(d.iter().all(|v| (0.5..1.0).contains(&v.abs())));
                    assert!((400..600).contains(&neg), "{neg}");
                    let mean_abs = d.iter().map(|v| v.abs()).sum::<f64>() / 1000.0;
                    assert!((mean_abs - 0.75).abs() < 0.02, "{mean_abs}");
                }
                SpsaDelta::Rademacher => {
                    assert!(d.iter().all(|v| v.abs() == 1.0));
                    assert!((400..600).contains(&neg), "{neg}");
                }
                SpsaDelta::Ones => assert!(d.iter().all(|v| *v == 1.0)),
            }
        }
    }

    #[test]
    fn failed_pairs_are_left_out() {
        let space = Space::real_box(2, -10.0, 10.0);
        let cfg = SpsaConfig {
            q: 2,
            delta: SpsaDelta::Ones,
            a: 0.1,
            c: 0.1,
            mean0: Some(vec![1.0, 1.0]),
            ..Default::default()
        };
        let s = Spsa::new(cfg, &space).unwrap();
        let mut st = s.init(&mut stream(1, &[1]));
        let c = s.ask(&mut st, &mut stream(1, &[2]));
        let mut res = conformance::evaluate(&s, &st, &space, &c, &sphere);
        res[1].outcome = evoforge_core::Outcome::Failed("x".into());
        let m = s.tell(&mut st, &res, &mut stream(1, &[3])).unwrap();
        assert_eq!(m["pairs_used"], 1.0);
        // The remaining pair gives the exact derivative along Δ ≡ 1: Σ_j 2 w_j = 4.
        assert!((st.momentum()[0] - 4.0).abs() < 1e-14, "{:?}", st.momentum());
        // Everything failed: w and m stay, k advances.
        let (w, mo) = (st.w().to_vec(), st.momentum().to_vec());
        let c = s.ask(&mut st, &mut stream(1, &[4]));
        let mut res = conformance::evaluate(&s, &st, &space, &c, &sphere);
        for r in &mut res {
            r.outcome = evoforge_core::Outcome::Failed("x".into());
        }
        s.tell(&mut st, &res, &mut stream(1, &[5])).unwrap();
        assert_eq!((st.w(), st.momentum(), st.steps()), (&w[..], &mo[..], 2));
    }

    #[test]
    fn config_is_validated() {
        let space = Space::real_box(3, -1.0, 1.0);
        let err = |c: SpsaConfig| Spsa::new(c, &space).unwrap_err().field;
        let d = SpsaConfig::default;
        assert_eq!(err(SpsaConfig { q: 0, ..d() }), "q");
        assert_eq!(err(SpsaConfig { a: 0.0, ..d() }), "a");
        assert_eq!(err(SpsaConfig { c: -1.0, ..d() }), "c");
        assert_eq!(err(SpsaConfig { o: -1.0, ..d() }), "o");
        assert_eq!(err(SpsaConfig { alpha: -0.1, ..d() }), "alpha");
        assert_eq!(err(SpsaConfig { gamma: f64::NAN, ..d() }), "gamma");
        assert_eq!(err(SpsaConfig { beta: 1.0, ..d() }), "beta");
        assert_eq!(err(SpsaConfig { mean0: Some(vec![0.0; 2]), ..d() }), "mean0");
        let cfg: SpsaConfig =
            serde_json::from_str(r#"{"mode": "spsa", "delta": "rademacher"}"#).unwrap();
        assert_eq!((cfg.mode, cfg.delta), (SpsaMode::Spsa, SpsaDelta::Rademacher));
        assert!(serde_json::from_str::<SpsaConfig>(r#"{"A": 1}"#).is_err());
        // Default start: 0 in the bounds, else the box centre.
        let s = Spsa::new(d(), &Space::real_bounds(&[-1.0, 2.0], &[1.0, 4.0])).unwrap();
        assert_eq!(s.init(&mut stream(0, &[])).w, vec![0.0, 3.0]);
    }
}
