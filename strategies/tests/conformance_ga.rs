//! The Deep GA through the shared conformance suite (its own file: one test binary per family).
use evoforge_core::{Space, Strategy};
use evoforge_strategies::conformance::{
    Options, Progress, check_all, check_describe, check_failures, check_ids,
    check_serde_round_trip, check_tell_order,
};
use evoforge_strategies::deep_ga::{DeepGa, DeepGaConfig, NoveltyConfig};
use evoforge_strategies::ns_es::{NsEs, NsEsConfig};
use evoforge_strategies::openai_es::OpenAiEsConfig;

fn space() -> Space {
    Space::real_box(5, -5.0, 5.0)
}

fn base() -> DeepGaConfig {
    DeepGaConfig {
        popsize: 40,
        truncation: 8,
        sigma: 0.5,
        sigma_decay: 0.95,
        validation_size: 4,
        validation_evals: 2,
        noise_len: 1 << 16,
        ..Default::default()
    }
}

#[test]
fn deep_ga_variants_conform() {
    let d = base;
    let variants = [
        ("validated", d()),
        ("no-validation", DeepGaConfig { validation_size: 0, ..d() }),
        ("tiny-cache", DeepGaConfig { cache_size: Some(1), ..d() }),
        ("random-search", DeepGaConfig { truncation: 0, ..d() }),
    ];
    for (name, cfg) in variants {
        let s = DeepGa::new(cfg, &space()).unwrap();
        // The round trip lands both on an offspring and on a validation round.
        let progress =
            if name == "random-search" { Progress::Improve } else { Progress::Orders(3.0) };
        for warmup in [4, 5] {
            let opts = Options { budget: 6000, progress, warmup, ..Default::default() };
            check_all(&s, &space(), &opts).unwrap_or_else(|e| panic!("deep_ga {name}: {e}"));
        }
    }
}

#[test]
fn ga_ns_conforms() {
    // The sphere gives no behaviour: every child has novelty 0 and selection is by id order;
    // the invariants (ids, failures, round trip, tell order) must hold all the same.
    let cfg = DeepGaConfig { novelty: Some(NoveltyConfig::default()), ..base() };
    let s = DeepGa::new(cfg, &space()).unwrap();
    check_ids(&s, &space(), 3).unwrap();
    check_failures(&s, &space(), 3).unwrap();
    check_serde_round_trip(&s, &space(), 3, 4, 4).unwrap();
    check_tell_order(&s, &space(), 3).unwrap();
}

#[test]
fn deep_ga_describe_matches_config() {
    check_describe::<DeepGaConfig>().unwrap();
    assert_eq!(DeepGa::NAME, "deep_ga");
}

#[test]
fn ns_es_conforms() {
    for reward_weight in [0.0, 0.5] {
        let cfg = NsEsConfig {
            es: OpenAiEsConfig { popsize: 12, noise_len: 1 << 16, ..Default::default() },
            reward_weight,
            init_spread: 0.5,
            ..Default::default()
        };
        let s = NsEs::new(cfg, &space()).unwrap();
        check_ids(&s, &space(), 3).unwrap();
        check_failures(&s, &space(), 3).unwrap();
        check_serde_round_trip(&s, &space(), 3, 4, 4).unwrap();
        check_tell_order(&s, &space(), 3).unwrap();
    }
    check_describe::<NsEsConfig>().unwrap();
}
