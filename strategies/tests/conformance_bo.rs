//! Bayesian optimization through the shared conformance suite, plus what only BO has: a
//! q-batch, tells that arrive while other points are pending, asks in between.
use evoforge_core::{Describe, Evaluated, Evaluation, Outcome, Purpose, Space, Strategy, stream};
use evoforge_strategies::conformance::{Options, Progress, check_all, check_describe, sphere};
use evoforge_strategies::{Acquisition, Bo, BoConfig, Kernel};

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
        ("ei-rbf", BoConfig { acquisition: Acquisition::Ei, kernel: Kernel::Rbf, ..base() }),
        ("pi", BoConfig { acquisition: Acquisition::Pi, ..base() }),
        ("ucb-q3", BoConfig { acquisition: Acquisition::Ucb, q: 3, ..base() }),
        ("outputscale", BoConfig { learn_outputscale: true, ..base() }),
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
    let mixed = Space::new(vec![evoforge_core::Dim {
        kind: evoforge_core::DimKind::Integer,
        lo: 0.0,
        hi: 4.0,
    }]);
    assert_eq!(Bo::new(base(), &mixed).unwrap_err().field, "space");
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
