//! Every strategy of the crate through the shared conformance suite.
use evoforge_core::{Describe, Space, Strategy};
use evoforge_strategies::conformance::{Options, Progress, check_all, check_describe};
use evoforge_strategies::{
    BoundHandling, CmaEs, CmaEsConfig, FitnessShaping, HillClimbing, HillClimbingConfig,
    OnePlusOne, OnePlusOneConfig, OpenAiEs, OpenAiEsConfig, Optimizer, RandomSearch,
    RandomSearchConfig, Restarts,
};

fn space() -> Space {
    Space::real_box(5, -5.0, 5.0)
}

#[test]
fn random_search_conforms() {
    let s = RandomSearch::new(RandomSearchConfig::default(), &space()).unwrap();
    let opts = Options { budget: 2000, progress: Progress::Improve, ..Default::default() };
    check_all(&s, &space(), &opts).unwrap();
}

#[test]
fn one_plus_one_conforms() {
    let s = OnePlusOne::new(OnePlusOneConfig::default(), &space()).unwrap();
    let opts = Options { budget: 3000, progress: Progress::Orders(6.0), ..Default::default() };
    check_all(&s, &space(), &opts).unwrap();
}

#[test]
fn hill_climbing_conforms() {
    // σ decays to its floor (0.002 of the range) after ~45 generations: the sphere in 5-D goes
    // from ~O(10) to ~1e-4.
    let s = HillClimbing::new(HillClimbingConfig::default(), &space()).unwrap();
    let opts = Options { budget: 2000, progress: Progress::Orders(3.0), ..Default::default() };
    check_all(&s, &space(), &opts).unwrap();
}

fn cmaes_variants() -> Vec<(&'static str, CmaEsConfig)> {
    let d = CmaEsConfig::default;
    vec![
        ("full", d()),
        ("sep", CmaEsConfig { separable: true, ..d() }),
        ("ipop", CmaEsConfig { restarts: Restarts::Ipop, ..d() }),
        ("bipop", CmaEsConfig { restarts: Restarts::Bipop, ..d() }),
        ("sep-bipop", CmaEsConfig { restarts: Restarts::Bipop, separable: true, ..d() }),
        ("nbipop", CmaEsConfig { restarts: Restarts::Nbipop, ..d() }),
        ("bounds-none", CmaEsConfig { bounds: BoundHandling::None, ..d() }),
        ("bounds-clip", CmaEsConfig { bounds: BoundHandling::Clip, ..d() }),
        ("popsize-2", CmaEsConfig { popsize: Some(2), ..d() }),
        // The serde round trip (after 5 generations) falls between two decompositions.
        ("lazy-eigen", CmaEsConfig { eigen_interval: Some(3.0), ..d() }),
    ]
}

#[test]
fn cmaes_variants_conform() {
    for (name, cfg) in cmaes_variants() {
        let s = CmaEs::new(cfg, &space()).unwrap();
        // Sphere from ~O(10) to below 1e-6 within 3000 evaluations in 5-D.
        let budget = if name == "popsize-2" { 6000 } else { 3000 };
        let opts = Options { budget, progress: Progress::Orders(7.0), ..Default::default() };
        check_all(&s, &space(), &opts).unwrap_or_else(|e| panic!("cmaes {name}: {e}"));
    }
}

#[test]
fn conformance_holds_in_one_dimension_and_on_a_restart() {
    // d = 1 (degenerate matrices) and a round trip right across restarts.
    let one = Space::real_box(1, -2.0, 3.0);
    let cfg =
        CmaEsConfig { restarts: Restarts::Ipop, max_evals_per_run: Some(30), ..Default::default() };
    let s = CmaEs::new(cfg, &one).unwrap();
    check_all(&s, &one, &Options { warmup: 7, compare: 20, ..Default::default() }).unwrap();
}

#[test]
fn openai_es_variants_conform() {
    // A small table keeps the test fast; the centre starts away from the optimum at 0.
    let base = || OpenAiEsConfig {
        popsize: 16,
        sigma: 0.1,
        learning_rate: 0.1,
        weight_decay: 0.0,
        mean0: Some(vec![2.0; 5]),
        noise_len: 1 << 16,
        ..Default::default()
    };
    let variants = [
        ("adam", base()),
        ("sgd", OpenAiEsConfig { optimizer: Optimizer::Sgd, ..base() }),
        ("lion", OpenAiEsConfig { optimizer: Optimizer::Lion, learning_rate: 0.05, ..base() }),
        ("clipup", OpenAiEsConfig { optimizer: Optimizer::Clipup, ..base() }),
        ("z_score", OpenAiEsConfig { fitness_shaping: FitnessShaping::ZScore, ..base() }),
        (
            "raw-decay",
            OpenAiEsConfig {
                fitness_shaping: FitnessShaping::Raw,
                sigma_decay: 0.97,
                sigma_min: 0.01,
                weight_decay: 0.005,
                ..base()
            },
        ),
    ];
    for (name, cfg) in variants {
        let s = OpenAiEs::new(cfg, &space()).unwrap();
        // From f = 20 to below 0.2 within 2000 evaluations (125 generations) in 5-D.
        let opts = Options { budget: 2000, progress: Progress::Orders(2.0), ..Default::default() };
        check_all(&s, &space(), &opts).unwrap_or_else(|e| panic!("openai_es {name}: {e}"));
    }
}

#[test]
fn describe_kind_is_the_strategy_name() {
    assert_eq!(<RandomSearchConfig as Describe>::KIND, RandomSearch::NAME);
    assert_eq!(<OnePlusOneConfig as Describe>::KIND, OnePlusOne::NAME);
    assert_eq!(<CmaEsConfig as Describe>::KIND, CmaEs::NAME);
    assert_eq!(RandomSearch::NAME, "random");
    assert_eq!(OnePlusOne::NAME, "one_plus_one");
    assert_eq!(CmaEs::NAME, "cmaes");
    assert_eq!(<OpenAiEsConfig as Describe>::KIND, OpenAiEs::NAME);
    assert_eq!(OpenAiEs::NAME, "openai_es");
    check_describe::<RandomSearchConfig>().unwrap();
    check_describe::<OnePlusOneConfig>().unwrap();
    check_describe::<HillClimbingConfig>().unwrap();
    check_describe::<CmaEsConfig>().unwrap();
    check_describe::<OpenAiEsConfig>().unwrap();
}

#[test]
fn snes_conforms() {
    use evoforge_strategies::{Snes, SnesConfig};
    // A small table keeps the test fast; the mean starts away from the optimum at 0.
    let base =
        || SnesConfig { mean0: Some(vec![2.0; 5]), noise_len: 1 << 16, ..Default::default() };
    for (name, cfg) in
        [("mirrored", base()), ("independent", SnesConfig { mirrored: false, ..base() })]
    {
        let s = Snes::new(cfg, &space()).unwrap();
        // Default λ = 8 in 5-D: from f ≈ 10 to below 1e-5 within 2000 evaluations (about 18
        // orders of magnitude are reached; the margin keeps the test independent of the seed).
        let opts = Options { budget: 2000, progress: Progress::Orders(6.0), ..Default::default() };
        check_all(&s, &space(), &opts).unwrap_or_else(|e| panic!("snes {name}: {e}"));
    }
    assert_eq!(<SnesConfig as Describe>::KIND, Snes::NAME);
    assert_eq!(Snes::NAME, "snes");
    check_describe::<SnesConfig>().unwrap();
}

#[test]
fn pgpe_conforms() {
    use evoforge_strategies::{CenterOptimizer, Pgpe, PgpeConfig};
    let base = || PgpeConfig {
        popsize: 16,
        mean0: Some(vec![2.0; 5]),
        noise_len: 1 << 16,
        ..Default::default()
    };
    // ClipUp's step has a fixed length (about lr), so its precision is bounded by the learning
    // rate and it needs more generations than Adam or plain SGD, whose steps shrink with σ.
    let variants = [
        ("clipup", PgpeConfig { center_learning_rate: 0.02, ..base() }, 8000),
        (
            "adam",
            PgpeConfig { optimizer: CenterOptimizer::Adam, center_learning_rate: 0.1, ..base() },
            5000,
        ),
        (
            "sgd",
            PgpeConfig { optimizer: CenterOptimizer::Sgd, center_learning_rate: 1.0, ..base() },
            5000,
        ),
        (
            "sgd-momentum-z_score",
            PgpeConfig {
                optimizer: CenterOptimizer::Sgd,
                center_learning_rate: 0.1,
                momentum: Some(0.9),
                fitness_shaping: FitnessShaping::ZScore,
                ..base()
            },
            5000,
        ),
    ];
    for (name, cfg, budget) in variants {
        let s = Pgpe::new(cfg, &space()).unwrap();
        // From f ≈ 6 (best of the first generation) to 1e-4 of that.
        let opts = Options { budget, progress: Progress::Orders(4.0), ..Default::default() };
        check_all(&s, &space(), &opts).unwrap_or_else(|e| panic!("pgpe {name}: {e}"));
    }
    assert_eq!(<PgpeConfig as Describe>::KIND, Pgpe::NAME);
    assert_eq!(Pgpe::NAME, "pgpe");
    check_describe::<PgpeConfig>().unwrap();
}
