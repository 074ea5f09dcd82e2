//! Bayesian optimization through the shared conformance suite, plus what only BO has: a
//! q-batch, tells that arrive while other points are pending, asks in between.
use evoforge_core::{
    Describe, DimKind, Evaluated, Evaluation, Outcome, Problem, Purpose, Space, Strategy, stream,
};
use evoforge_problems::MixedQuadratic;
use evoforge_strategies::conformance::{Options, Progress, check_all, check_describe, run, sphere};
use evoforge_strategies::{
    Acquisition, Bo, BoConfig, Kernel, NoisePrior, RandomSearch, RandomSearchConfig, Turbo,
    TurboConfig,
};

fn space() -> Space {
    Space::real_box(3, -5.0, 5.0)
}

/// Small and fast: the suite runs ~70 generations per variant.
fn base() -> BoConfig {
    BoConfig { raw_samples: 128, num_restarts: 4, ..Default::default() }
}

#[test]
fn bo_variants_conform() {
    let variants = [
        ("log_ei", base()),
        // Plain EI underflows to 0 away from the incumbent once the default (low-noise) GP is
        // confident, and stalls at 0.106 on this sphere (the failure LogEI exists to fix): run
        // it on BoTorch's GP (fixed output scale, LogNormal noise), where it still moves.
        (
            "ei-rbf",
            BoConfig {
                acquisition: Acquisition::Ei,
                kernel: Kernel::Rbf,
                learn_outputscale: false,
                noise_prior: NoisePrior::LogNormal,
                ..base()
            },
        ),
        ("pi", BoConfig { acquisition: Acquisition::Pi, ..base() }),
        ("ucb-q3", BoConfig { acquisition: Acquisition::Ucb, q: 3, ..base() }),
        (
            "botorch-gp",
            BoConfig { learn_outputscale: false, noise_prior: NoisePrior::LogNormal, ..base() },
        ),
        ("noisy_ei", BoConfig { acquisition: Acquisition::NoisyEi, mc_samples: 64, ..base() }),
        ("kg", BoConfig { acquisition: Acquisition::Kg, kg_points: 32, ..base() }),
    ];
    for (name, cfg) in variants {
        let s = Bo::new(cfg, &space()).unwrap();
        // The sphere from the best of 7 quasi-random points (~O(1-10)) down 2 orders of
        // magnitude within 40 evaluations in 3-D.
        let opts = Options { budget: 40, progress: Progress::Orders(2.0), ..Default::default() };
        check_all(&s, &space(), &opts).unwrap_or_else(|e| panic!("bo {name}: {e}"));
    }
}

#[test]
fn describe_and_config_checks() {
    assert_eq!(<BoConfig as Describe>::KIND, Bo::NAME);
    assert_eq!(Bo::NAME, "bo");
    check_describe::<BoConfig>().unwrap();
    let e = Bo::new(BoConfig { q: 0, ..base() }, &space()).unwrap_err();
    assert_eq!(e.field, "q");
    let e = Bo::new(BoConfig { num_restarts: 1000, ..base() }, &space()).unwrap_err();
    assert_eq!(e.field, "num_restarts");
    let cfg: Result<BoConfig, _> = serde_json::from_str(r#"{"acquisition": "log_ei", "qq": 2}"#);
    assert!(cfg.is_err());
    let cfg: BoConfig = serde_json::from_str(r#"{"acquisition": "ucb", "kernel": "rbf"}"#).unwrap();
    assert_eq!((cfg.acquisition, cfg.kernel), (Acquisition::Ucb, Kernel::Rbf));
    // Mixed spaces are accepted; a grid that cannot be represented is refused, naming the
    // coordinate.
    let dim = |kind, lo, hi| evoforge_core::Dim { kind, lo, hi };
    let int = evoforge_core::DimKind::Integer;
    let cat = evoforge_core::DimKind::Categorical { n: 3 };
    assert!(Bo::new(base(), &Space::new(vec![dim(int, 0.0, 4.0)])).is_ok());
    let e = Bo::new(base(), &Space::new(vec![dim(int, 0.0, 4.0), dim(int, 0.5, 4.0)])).unwrap_err();
    assert_eq!(e.field, "bounds[1]");
    assert!(e.to_string().contains("integer bounds"), "{e}");
    let e = Bo::new(base(), &Space::new(vec![dim(cat, 0.0, 3.0)])).unwrap_err();
    assert_eq!(e.field, "bounds[0]");
    assert!(e.to_string().contains("3 categories"), "{e}");
}

fn told(c: &evoforge_core::Candidate<Vec<f64>>) -> Evaluated<Vec<f64>> {
    Evaluated {
        id: c.id,
        genome: c.genome.clone(),
        outcome: Outcome::Ok(Evaluation::value(sphere(&c.genome))),
    }
}

#[test]
fn asynchronous_asks_and_tells() {
    let sp = space();
    let s = Bo::new(BoConfig { q: 2, ..base() }, &sp).unwrap();
    let mut st = s.init(&mut stream(1, &[Purpose::Init as u64]));
    let init = s.ask(&mut st, &mut stream(1, &[Purpose::Ask as u64, 0]));
    assert_eq!(init.len(), 7);
    // Tell only part of the design, then ask: the rest is fantasised, not lost.
    let results: Vec<_> = init.iter().map(told).collect();
    s.tell(&mut st, &results[..4], &mut stream(1, &[3])).unwrap();
    let a = s.ask(&mut st, &mut stream(1, &[Purpose::Ask as u64, 1]));
    assert_eq!(a.len(), 2);
    // The two points of a batch differ, and differ from the pending ones.
    let dist = |x: &[f64], y: &[f64]| x.iter().zip(y).map(|(a, b)| (a - b).powi(2)).sum::<f64>();
    assert!(dist(&a[0].genome, &a[1].genome) > 1e-6);
    for p in &init[4..] {
        assert!(dist(&a[0].genome, &p.genome) > 1e-6 && dist(&a[1].genome, &p.genome) > 1e-6);
    }
    // Another ask while 5 points are pending; then the results in a scrambled order.
    let b = s.ask(&mut st, &mut stream(1, &[Purpose::Ask as u64, 2]));
    let mut late: Vec<_> = results[4..].to_vec();
    late.extend(a.iter().map(told));
    late.extend(b.iter().map(told));
    late.reverse();
    s.tell(&mut st, &late[..3], &mut stream(1, &[3])).unwrap();
    assert!(s.tell(&mut st, &late[..1], &mut stream(1, &[3])).is_err(), "told twice");
    s.tell(&mut st, &late[3..], &mut stream(1, &[3])).unwrap();
    let json = serde_json::to_value(&st).unwrap();
    assert_eq!(json["pending"].as_array().unwrap().len(), 0);
    assert_eq!(json["observations"].as_array().unwrap().len(), 11);
    // Observations are kept in id order whatever the order of the tells.
    let ids: Vec<u64> = json["observations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["id"].as_u64().unwrap())
        .collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]));
}

#[test]
fn thompson_sampling_conforms_and_batches_are_distinct() {
    let cfg = BoConfig { acquisition: Acquisition::Thompson, n_candidates: Some(400), ..base() };
    let s = Bo::new(cfg.clone(), &space()).unwrap();
    let opts = Options { budget: 40, progress: Progress::Orders(2.0), ..Default::default() };
    check_all(&s, &space(), &opts).unwrap_or_else(|e| panic!("bo thompson: {e}"));
    // q = 4 independent draws: four different points.
    let s = Bo::new(BoConfig { q: 4, ..cfg }, &space()).unwrap();
    let mut st = s.init(&mut stream(2, &[Purpose::Init as u64]));
    let init = s.ask(&mut st, &mut stream(2, &[Purpose::Ask as u64, 0]));
    s.tell(&mut st, &init.iter().map(told).collect::<Vec<_>>(), &mut stream(2, &[3])).unwrap();
    let a = s.ask(&mut st, &mut stream(2, &[Purpose::Ask as u64, 1]));
    assert_eq!(a.len(), 4);
    for i in 0..4 {
        for j in 0..i {
            assert_ne!(a[i].genome, a[j].genome);
        }
    }
}

fn turbo_base() -> TurboConfig {
    TurboConfig { n_candidates: Some(300), ..Default::default() }
}

#[test]
fn turbo_conforms() {
    for (name, cfg) in [
        ("q1", turbo_base()),
        ("q3-rbf", TurboConfig { q: 3, kernel: Kernel::Rbf, ..turbo_base() }),
    ] {
        let s = Turbo::new(cfg, &space()).unwrap();
        let opts = Options { budget: 40, progress: Progress::Orders(2.0), ..Default::default() };
        check_all(&s, &space(), &opts).unwrap_or_else(|e| panic!("turbo {name}: {e}"));
    }
    check_describe::<TurboConfig>().unwrap();
    assert_eq!(Turbo::NAME, "turbo");
    let e = Turbo::new(TurboConfig { length_min: 2.0, ..turbo_base() }, &space()).unwrap_err();
    assert_eq!(e.field, "length_init");
    let e = Turbo::new(TurboConfig { prob_perturb: Some(0.0), ..turbo_base() }, &space());
    assert_eq!(e.unwrap_err().field, "prob_perturb");
}

/// Ackley (a = 20, b = 0.2, c = 2π) on [−5, 10]^d, the TuRBO paper's domain.
fn ackley(x: &[f64]) -> f64 {
    let d = x.len() as f64;
    let s2 = x.iter().map(|v| v * v).sum::<f64>() / d;
    let sc = x.iter().map(|v| (2.0 * std::f64::consts::PI * v).cos()).sum::<f64>() / d;
    -20.0 * (-0.2 * s2.sqrt()).exp() - sc.exp() + 20.0 + std::f64::consts::E
}

#[test]
fn turbo_beats_random_search_on_ackley_20() {
    // 120 evaluations in 20-D: 40 Halton points, then 20 batches of 4 in the trust region.
    let sp = Space::real_box(20, -5.0, 10.0);
    let turbo =
        Turbo::new(TurboConfig { q: 4, n_candidates: Some(1000), ..Default::default() }, &sp)
            .unwrap();
    let random = RandomSearch::new(RandomSearchConfig { popsize: 4 }, &sp).unwrap();
    for seed in 0..2 {
        let t = run(&turbo, &sp, seed, 120, &ackley, None).unwrap();
        let r = run(&random, &sp, seed, 120, &ackley, None).unwrap();
        assert_eq!(t.evaluations, 120);
        eprintln!("seed {seed}: turbo {:.3} random {:.3}", t.best, r.best);
        // Random search stays near 11.4 on this domain; TuRBO reaches 7-8.5 (seeds 0, 1).
        assert!(t.best < r.best - 2.0, "seed {seed}: turbo {} vs random {}", t.best, r.best);
    }
}

/// The fit starts, the raw-sample scores and the acquisition restarts run in parallel: the
/// proposals must not depend on the thread count (bitwise).
#[test]
fn same_proposals_at_1_and_4_threads() {
    let trace = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        pool.install(|| {
            let s = Bo::new(BoConfig { q: 2, ..base() }, &space()).unwrap();
            let mut st = s.init(&mut stream(5, &[Purpose::Init as u64]));
            let mut xs = Vec::new();
            for g in 0..8 {
                let c = s.ask(&mut st, &mut stream(5, &[Purpose::Ask as u64, g]));
                xs.extend(c.iter().map(|c| c.genome.clone()));
                s.tell(&mut st, &c.iter().map(told).collect::<Vec<_>>(), &mut stream(5, &[3]))
                    .unwrap();
            }
            xs
        })
    };
    assert_eq!(trace(1), trace(4));
}

/// Whether `x` is a point of `space`: reals in bounds, integer and categorical coordinates
/// exactly on their grid.
fn on_grid(space: &Space, x: &[f64]) -> bool {
    x.len() == space.dim()
        && x.iter().zip(space.dims()).all(|(v, d)| {
            (d.lo..=d.hi).contains(v) && (d.kind == DimKind::Real || v.fract() == 0.0)
        })
}

/// Runs `cfg` on the mixed quadratic (2 reals, an integer, a categorical; minimum 0) for
/// `budget` evaluations; asserts that every proposal is on the grid; returns the best value
/// and the best point.
fn run_mixed(cfg: BoConfig, seed: u64, budget: usize) -> (f64, Vec<f64>) {
    let p = MixedQuadratic::new();
    let s = Bo::new(cfg, p.space()).unwrap();
    let mut st = s.init(&mut stream(seed, &[Purpose::Init as u64]));
    let (mut used, mut g) = (0, 0u64);
    let mut best = (f64::INFINITY, Vec::new());
    while used < budget {
        let c = s.ask(&mut st, &mut stream(seed, &[Purpose::Ask as u64, g]));
        let res: Vec<_> = c
            .iter()
            .map(|c| {
                assert!(on_grid(p.space(), &c.genome), "off the grid: {:?}", c.genome);
                let f = p.value(&c.genome).expect("grid points evaluate");
                if f < best.0 {
                    best = (f, c.genome.clone());
                }
                Evaluated {
                    id: c.id,
                    genome: c.genome.clone(),
                    outcome: Outcome::Ok(Evaluation::value(f)),
                }
            })
            .collect();
        s.tell(&mut st, &res, &mut stream(seed, &[Purpose::Tell as u64, g])).unwrap();
        used += c.len();
        g += 1;
    }
    best
}

/// The known optimum of the mixed toy (integer 3, category 2, reals (0.3, −0.5)) within 40
/// evaluations (9 of them the initial design), on three seeds. (The discrete part alone has
/// 16 × 4 = 64 combinations: 40 uniform draws hit the right one with probability 0.47, and
/// would then still need the reals to within 0.1.)
#[test]
fn mixed_space_finds_the_known_optimum() {
    for seed in 0..3 {
        let (f, x) = run_mixed(BoConfig::default(), seed, 40);
        assert_eq!((x[2], x[3]), (3.0, 2.0), "seed {seed}: best {x:?} ({f})");
        assert!(f < 1e-2, "seed {seed}: best {x:?} ({f})");
    }
}

/// Every acquisition and a q-batch propose grid points only (and the conformance suite holds
/// on the mixed space).
#[test]
fn mixed_space_proposals_are_always_on_the_grid() {
    let variants = [
        ("ei-q3", BoConfig { acquisition: Acquisition::Ei, q: 3, ..base() }),
        ("ucb-rbf", BoConfig { acquisition: Acquisition::Ucb, kernel: Kernel::Rbf, ..base() }),
        (
            "thompson-q2",
            BoConfig {
                acquisition: Acquisition::Thompson,
                n_candidates: Some(300),
                q: 2,
                ..base()
            },
        ),
        ("noisy_ei", BoConfig { acquisition: Acquisition::NoisyEi, mc_samples: 32, ..base() }),
        ("kg", BoConfig { acquisition: Acquisition::Kg, kg_points: 16, ..base() }),
    ];
    for (name, cfg) in variants {
        let (f, x) = run_mixed(cfg.clone(), 7, 18);
        assert!(f.is_finite(), "{name}: {x:?}");
        let p = MixedQuadratic::new();
        let s = Bo::new(cfg, p.space()).unwrap();
        let opts = Options { budget: 40, progress: Progress::Improve, ..Default::default() };
        check_all(&s, p.space(), &opts).unwrap_or_else(|e| panic!("bo {name} on mixed: {e}"));
    }
}
