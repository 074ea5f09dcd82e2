//! CBO and SPSA / SPSA-GC through the shared conformance suite (their own test binary), plus
//! the figures of the issue that a test can hold: CBO's success rate on Rastrigin d = 20 (the
//! CBXpy notebook's configuration, at 20 runs instead of 100), SPSA-GC's step-by-step oracle,
//! and SPSA-GC on a noisy 100-dimensional quadratic.
use std::cell::RefCell;

use evoforge_core::{Describe, Rng, Space, Strategy, stream};
use evoforge_strategies::conformance::{
    self, Options, Progress, check_all, check_describe, sphere,
};
use evoforge_strategies::{
    AlphaSchedule, BatchVar, Cbo, CboBounds, CboConfig, CboNoise, InitBox, Spsa, SpsaConfig,
    SpsaDelta, SpsaMode,
};
use rand_distr::{Distribution, StandardNormal};

fn space() -> Space {
    Space::real_box(5, -5.0, 5.0)
}

fn cbo_variants() -> Vec<(&'static str, CboConfig)> {
    // σ below CBXpy's 5.1: isotropic noise in d = 5 contracts only when 2λ > σ² d.
    let base = || CboConfig { particles: 20, sigma: 0.5, dt: 0.1, ..Default::default() };
    vec![
        ("isotropic", base()),
        ("anisotropic", CboConfig { noise: CboNoise::Anisotropic, sigma: 0.3, dt: 0.05, ..base() }),
        (
            "covariance-ess",
            CboConfig {
                noise: CboNoise::Covariance,
                sigma: 0.1,
                alpha_schedule: AlphaSchedule::EffectiveSampleSize,
                ..base()
            },
        ),
        ("runs-3", CboConfig { runs: 3, ..base() }),
        ("batched", CboConfig { batch_size: Some(7), ..base() }),
        (
            "batched-all-concat",
            CboConfig {
                batch_size: Some(7),
                batch_partial: false,
                batch_var: BatchVar::Concat,
                ..base()
            },
        ),
        ("bounds-none", CboConfig { bounds: CboBounds::None, ..base() }),
        ("init-box", CboConfig { init: Some(InitBox { lower: 1.0, upper: 4.0 }), ..base() }),
    ]
}

#[test]
fn cbo_variants_conform() {
    let mut failed = Vec::new();
    for (name, cfg) in cbo_variants() {
        // From the best of the first step (≈ 18) to 1e-4 of it within 300 steps of 20
        // particles per run. On this 5-D sphere anisotropic and
        // covariance noise collapse the particles onto the consensus early and then creep
        // (CBXpy's runs alike: medians 0.1 after 300 steps, see the unit test
        // `sphere_medians_match_cbxpy`), so they must only gain 2 orders.
        let orders = if cfg.noise == CboNoise::Isotropic { 4.0 } else { 2.0 };
        // M runs share the evaluations: each gets the 300 steps of a single run. (With 100 steps
        // per run, 3 runs gain only ~3 orders: seed 7 passed at 6000 by luck, 2 of 20 seeds do.)
        let budget = 6000 * cfg.runs as u64;
        let s = Cbo::new(cfg, &space()).unwrap();
        let opts = Options { budget, progress: Progress::Orders(orders), ..Default::default() };
        if let Err(e) = check_all(&s, &space(), &opts) {
            failed.push(format!("cbo {name}: {e}"));
        }
    }
    assert!(failed.is_empty(), "{failed:#?}");
}

#[test]
fn cbo_round_trip_with_stopped_runs() {
    // energy_tol stops some runs early; the round trip and the tell order still hold, and a
    // study's loop ends on `stop()`.
    let cfg =
        CboConfig { runs: 4, energy_tol: Some(5.0), sigma: 0.5, dt: 0.1, ..Default::default() };
    let s = Cbo::new(cfg, &space()).unwrap();
    conformance::check_serde_round_trip(&s, &space(), 3, 2, 6).unwrap();
    conformance::check_tell_order(&s, &space(), 3).unwrap();
    let r = conformance::run(&s, &space(), 3, 100_000, &sphere, None).unwrap();
    assert!(r.evaluations < 100_000 && r.best < 5.0, "{r:?}");
}

fn spsa_variants() -> Vec<(&'static str, SpsaConfig)> {
    // Gains for the 5-D sphere (curvature 2): Spall's exponents, a small enough for the
    // momentum's amplification 1/(1 − β) = 10.
    let base = || SpsaConfig {
        a: 0.03,
        c: 0.01,
        o: 50.0,
        alpha: 0.602,
        gamma: 0.101,
        mean0: Some(vec![2.0; 5]),
        ..Default::default()
    };
    vec![
        ("spsa_gc", base()),
        ("spsa_gc-q1", SpsaConfig { q: 1, ..base() }),
        ("spsa_gc-rademacher", SpsaConfig { delta: SpsaDelta::Rademacher, ..base() }),
        ("spsa", SpsaConfig { mode: SpsaMode::Spsa, a: 0.2, ..base() }),
        ("spsa-ones", SpsaConfig { delta: SpsaDelta::Ones, q: 1, ..base() }),
    ]
}

#[test]
fn spsa_variants_conform() {
    let mut failed = Vec::new();
    for (name, cfg) in spsa_variants() {
        let s = Spsa::new(cfg, &space()).unwrap();
        // From f ≈ 20 to 1e-5 of that within 5000 evaluations (500 steps at q = 5).
        let opts = Options { budget: 5000, progress: Progress::Orders(5.0), ..Default::default() };
        if let Err(e) = check_all(&s, &space(), &opts) {
            failed.push(format!("spsa {name}: {e}"));
        }
    }
    assert!(failed.is_empty(), "{failed:#?}");
}

#[test]
fn describe_matches_config() {
    assert_eq!(<CboConfig as Describe>::KIND, Cbo::NAME);
    assert_eq!(<SpsaConfig as Describe>::KIND, Spsa::NAME);
    assert_eq!((Cbo::NAME, Spsa::NAME), ("cbo", "spsa"));
    check_describe::<CboConfig>().unwrap();
    check_describe::<SpsaConfig>().unwrap();
    // The defaults are CBXpy's and BlackVIP's (see the module docs for the sources).
    let c = CboConfig::default();
    assert_eq!((c.dt, c.sigma, c.lambda, c.alpha), (0.01, 5.1, 1.0, 1.0));
    assert_eq!((c.particles, c.runs, c.alpha_factor, c.alpha_max), (20, 1, 1.05, 1e5));
    assert_eq!(c.noise, CboNoise::Isotropic);
    let p = SpsaConfig::default();
    assert_eq!((p.o, p.c, p.a, p.alpha, p.gamma), (0.0, 0.001, 40.0, 0.6, 0.1));
    assert_eq!(
        (p.beta, p.q, p.mode, p.delta),
        (0.9, 5, SpsaMode::SpsaGc, SpsaDelta::SegmentedUniform)
    );
}

/// CBXpy's Rastrigin (`cbx.objectives.Rastrigin`, b = c = 0): `10 d + Σ (x² − 10 cos 2πx)`.
fn rastrigin(x: &[f64]) -> f64 {
    10.0 * x.len() as f64
        + x.iter().map(|v| v * v - 10.0 * (2.0 * std::f64::consts::PI * v).cos()).sum::<f64>()
}

/// The CBXpy notebook's configuration (`docs/examples/success_evaluation.ipynb`).
fn notebook_config(runs: usize) -> CboConfig {
    CboConfig {
        particles: 40,
        runs,
        sigma: 10.1,
        noise: CboNoise::Anisotropic,
        alpha: 30.0,
        dt: 0.01,
        init: Some(InitBox { lower: -3.0, upper: 3.0 }),
        ..Default::default()
    }
}

/// The box of the figure: CBXpy has none but clamps particles into ±1e8; a box that wide
/// with `bounds: none` is the same dynamics. (A [−100, 100] box with `bounds: clip` gives the
/// same success count; see `cbo_success_rate_in_a_clipped_box`.)
fn figure_space() -> Space {
    Space::real_box(20, -1e8, 1e8)
}

/// Successful runs (`‖x_best − 0‖∞ < 0.25`, CBXpy's `dist_to_min`) after `steps` steps.
fn success_count(s: &Cbo, space: &Space, seed: u64, steps: u64) -> usize {
    let mut st = conformance::fresh(s, seed).unwrap();
    for g in 0..steps {
        conformance::step(s, space, &mut st, seed, g, &rastrigin).unwrap();
    }
    st.run_bests()
        .iter()
        .filter(|b| b.is_some_and(|(x, _)| x.iter().all(|v| v.abs() < 0.25)))
        .count()
}

#[test]
fn cbo_success_rate_on_rastrigin_d20() {
    // Figure (1) of the issue at a fifth of the runs: 20 runs × 40 particles × 5000 steps in
    // d = 20; CBXpy gets 100/100 on 100 runs, the issue asks for ≥ 99/100, here ≥ 19/20.
    let cfg = CboConfig { bounds: CboBounds::None, ..notebook_config(20) };
    let space = figure_space();
    let s = Cbo::new(cfg, &space).unwrap();
    let ok = success_count(&s, &space, 2026, 5000);
    println!("bounds none, [-1e8, 1e8]^20: {ok}/20 runs succeed");
    assert!(ok >= 19, "{ok}/20 runs reached ‖x − 0‖∞ < 0.25");
}

#[test]
fn cbo_success_rate_in_a_clipped_box() {
    // The same in a user's box: [−100, 100]^20 with the default `bounds: clip`.
    let space = Space::real_box(20, -100.0, 100.0);
    let s = Cbo::new(notebook_config(20), &space).unwrap();
    let ok = success_count(&s, &space, 7, 5000);
    println!("bounds clip, [-100, 100]^20: {ok}/20 runs succeed");
    assert!(ok >= 19, "{ok}/20 runs reached ‖x − 0‖∞ < 0.25");
}

#[test]
fn spsa_gc_follows_its_oracle_step_by_step() {
    // SEEDS §5 / BlackVIP `forward_backward` with q = 1, Δ ≡ 1 on a quadratic, written out
    // independently: c_k = c/k^γ, ĝ = (L(w + c_k) − L(w − c_k)) / (2 c_k · 1), m_1 = ĝ_1,
    // m_k = β m_{k−1} + ĝ_k, w ← w − a_k (ĝ_k + β m_k), a_k = a/(k + o)^α.
    let h = [1.0, 3.0, 0.5, 2.0];
    let t = [0.3, -0.7, 1.1, 0.0];
    let loss = |x: &[f64]| -> f64 {
        x.iter().zip(h.iter().zip(&t)).map(|(xi, (hi, ti))| hi * (xi - ti) * (xi - ti)).sum()
    };
    let (a, c, o, alpha, gamma, beta) = (0.05, 0.02, 2.0, 0.602, 0.101, 0.9);
    let w0 = vec![1.0, 1.0, -1.0, 0.5];
    let space = Space::real_box(4, -1e6, 1e6);
    for mode in [SpsaMode::SpsaGc, SpsaMode::Spsa] {
        let cfg = SpsaConfig {
            mode,
            q: 1,
            delta: SpsaDelta::Ones,
            a,
            c,
            o,
            alpha,
            gamma,
            beta,
            mean0: Some(w0.clone()),
        };
        let s = Spsa::new(cfg, &space).unwrap();
        let mut st = conformance::fresh(&s, 5).unwrap();
        // The plain loop.
        let mut w = w0.clone();
        let mut m = vec![0.0; 4];
        for k in 1..=60u64 {
            let ak = a / (k as f64 + o).powf(alpha);
            let ck = c / (k as f64).powf(gamma);
            let wp: Vec<f64> = w.iter().map(|v| v + ck * 1.0).collect();
            let wm: Vec<f64> = w.iter().map(|v| v - ck * 1.0).collect();
            let (lp, lm) = (loss(&wp), loss(&wm));
            let g: Vec<f64> = (0..4).map(|_| (lp - lm) / ((2.0 * ck) * 1.0)).collect();
            let upd: Vec<f64> = if mode == SpsaMode::SpsaGc {
                for i in 0..4 {
                    m[i] = if k > 1 { beta * m[i] + g[i] } else { g[i] };
                }
                (0..4).map(|i| g[i] + beta * m[i]).collect()
            } else {
                g.clone()
            };
            for i in 0..4 {
                w[i] -= ak * upd[i];
            }
            // The strategy.
            let (cands, _) = conformance::step(&s, &space, &mut st, 5, k - 1, &loss).unwrap();
            assert_eq!(
                (cands[0].genome.as_slice(), cands[1].genome.as_slice()),
                (&wp[..], &wm[..])
            );
            let same = |x: &[f64], y: &[f64]| {
                x.iter().zip(y).all(|(p, q)| (p - q).abs() <= 1e-15 * q.abs().max(1e-300))
            };
            assert!(same(st.w(), &w), "{mode:?} step {k}: {:?} vs {w:?}", st.w());
            if mode == SpsaMode::SpsaGc {
                assert!(same(st.momentum(), &m), "step {k}: momentum");
            }
        }
        // The loop converges to the diagonal direction's best point, not to t (Δ ≡ 1 only
        // sees the diagonal): the oracle is about the arithmetic, not about optimisation.
        assert!(w.iter().all(|v| v.is_finite()));
    }
}

#[test]
fn spsa_gc_solves_a_noisy_100d_quadratic() {
    // f(x) = Σ h_i (x_i − t_i)² + ε, h_i ∈ [0.5, 2], t ~ U(−1, 1)^100, ε ~ N(0, 0.1²) per
    // evaluation (a seeded stream, drawn in evaluation order). Start at 0 (f ≈ 42); the
    // noise-free value at the final w must be within 1e-3 of the optimum 0. Central
    // differences are exact on a quadratic whatever c, so a large c only divides the noise
    // (Spall 1998: c of the order of the noise or above); the steady-state error is about
    // a_k (noise / c_k)², hence the small a and the long stability constant o.
    let d = 100;
    let mut r = stream(11, &[1]);
    let h: Vec<f64> = (0..d).map(|i| 0.5 + 1.5 * i as f64 / (d - 1) as f64).collect();
    let t: Vec<f64> = (0..d).map(|_| 2.0 * rand::RngExt::random::<f64>(&mut r) - 1.0).collect();
    let exact = |x: &[f64]| -> f64 {
        x.iter().zip(h.iter().zip(&t)).map(|(xi, (hi, ti))| hi * (xi - ti) * (xi - ti)).sum()
    };
    let noise: RefCell<Rng> = RefCell::new(stream(11, &[2]));
    let noisy = |x: &[f64]| -> f64 {
        let e: f64 = StandardNormal.sample(&mut *noise.borrow_mut());
        exact(x) + 0.1 * e
    };
    let space = Space::real_box(d, -5.0, 5.0);
    let cfg = SpsaConfig {
        a: 0.01,
        c: 1.0,
        o: 100.0,
        alpha: 0.602,
        gamma: 0.101,
        q: 5,
        ..Default::default()
    };
    let s = Spsa::new(cfg, &space).unwrap();
    let mut st = conformance::fresh(&s, 11).unwrap();
    let f0 = exact(st.w());
    let steps = 8000;
    for g in 0..steps {
        conformance::step(&s, &space, &mut st, 11, g, &noisy).unwrap();
    }
    let f = exact(st.w());
    println!("noisy 100-D quadratic: f(w) = {f:e} after {steps} steps (from {f0})");
    assert!(f <= 1e-3, "f(w) = {f:e} after {steps} steps (from {f0})");
    assert_eq!(s.recommend(&st).unwrap(), st.w());
}
