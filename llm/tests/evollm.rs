//! EvoLLM with the real model (SmolLM2-135M-Instruct): the strategy invariants of the
//! conformance suite, block-wise queries with their accounting, exact continuation after a
//! serde round trip (timings aside), and the HTTP backend against `evoforge`'s own server
//! giving the embedded model's answers bit for bit.
#![cfg(feature = "embedded")]
mod common;

use std::sync::Arc;
use std::time::Duration;

use evoforge_core::{Space, Strategy};
use evoforge_llm::embedded::{EmbeddedModel, EmbeddedOptions};
use evoforge_llm::evollm::{EvoLlm, EvoLlmConfig, ModelSpec};
use evoforge_llm::http::{HttpModel, HttpOptions};
use evoforge_llm::{LanguageModel, Request};
use evoforge_strategies::conformance;

fn config(path: &std::path::Path) -> EvoLlmConfig {
    EvoLlmConfig {
        model: ModelSpec::Embedded {
            path: Some(path.display().to_string()),
            weights: Default::default(),
            threads: 1,
        },
        popsize: 4,
        context_size: 4,
        ..Default::default()
    }
}

/// JSON of a state without its wall-clock fields.
fn timeless(v: &impl serde::Serialize) -> serde_json::Value {
    let mut v = serde_json::to_value(v).unwrap();
    for k in ["last", "total"] {
        v[k]["seconds"] = 0.into();
    }
    v
}

#[test]
fn conformance_with_the_real_model() {
    let Some(p) = common::model_path("conformance_with_the_real_model") else { return };
    let space = Space::real_box(2, -5.0, 5.0);
    let s = EvoLlm::new(config(&p), &space).unwrap();
    conformance::check_ids(&s, &space, 3).unwrap();
    conformance::check_failures(&s, &space, 3).unwrap();
    conformance::check_tell_order(&s, &space, 3).unwrap();
    conformance::check_describe::<EvoLlmConfig>().unwrap();
}

#[test]
fn serde_round_trip_continues_exactly() {
    let Some(p) = common::model_path("serde_round_trip_continues_exactly") else { return };
    let space = Space::real_box(3, -5.0, 5.0);
    let s = EvoLlm::new(config(&p), &space).unwrap();
    let seed = 11;
    let mut a = conformance::fresh(&s, seed).unwrap();
    for g in 0..3 {
        conformance::step(&s, &space, &mut a, seed, g, &conformance::sphere).unwrap();
    }
    let mut b: <EvoLlm as Strategy>::State =
        serde_json::from_str(&serde_json::to_string(&a).unwrap()).unwrap();
    for g in 3..6 {
        let (ca, ma) =
            conformance::step(&s, &space, &mut a, seed, g, &conformance::sphere).unwrap();
        let (cb, mb) =
            conformance::step(&s, &space, &mut b, seed, g, &conformance::sphere).unwrap();
        let bits = |c: &[evoforge_core::Candidate<Vec<f64>>]| {
            c.iter()
                .map(|c| c.genome.iter().map(|v| v.to_bits()).collect::<Vec<_>>())
                .collect::<Vec<_>>()
        };
        assert_eq!(bits(&ca), bits(&cb), "generation {g}");
        let strip = |mut m: evoforge_core::Metrics| {
            assert!(m.remove("llm_seconds").unwrap() > 0.0);
            m
        };
        assert_eq!(strip(ma), strip(mb));
    }
    assert_eq!(timeless(&a), timeless(&b));
}

#[test]
fn block_wise_queries_are_counted() {
    let Some(p) = common::model_path("block_wise_queries_are_counted") else { return };
    // d = 6 in blocks of 4: two queries per generation.
    let space = Space::real_box(6, -5.0, 5.0);
    let cfg = EvoLlmConfig { block_size: 4, ..config(&p) };
    let s = EvoLlm::new(cfg, &space).unwrap();
    assert_eq!(s.blocks(), &[0..4, 4..6]);
    let seed = 5;
    let mut st = conformance::fresh(&s, seed).unwrap();
    let (_, m0) = conformance::step(&s, &space, &mut st, seed, 0, &conformance::sphere).unwrap();
    assert_eq!(m0["queries"], 0.0, "the first population is uniform: no query");
    for g in 1..4 {
        let (c, m) = conformance::step(&s, &space, &mut st, seed, g, &conformance::sphere).unwrap();
        assert_eq!(m["queries"], 2.0);
        assert_eq!(m["fallbacks"], 0.0, "constrained answers always parse");
        assert!(m["prompt_tokens"] > 100.0 && m["generated_tokens"] >= 2.0 * 4.0, "{m:?}");
        // The proposal is evaluated first; the others are drawn around it.
        let mean = st.mean().unwrap();
        assert_eq!(c[0].genome, mean);
        // The proposal lies on the grid: (x − lo)/(hi − lo)·resolution is an integer.
        let r = EvoLlmConfig::default().resolution as f64;
        for v in mean {
            let k = (v + 5.0) / 10.0 * r;
            assert!((k - k.round()).abs() < 1e-6, "{v} is not on the grid");
        }
    }
    let t = s.report(&st);
    assert_eq!(t["queries"], 6.0);
    assert_eq!(t["fallbacks"], 0.0);
    assert!(t["llm_seconds"] > 0.0);
}

#[test]
fn http_backend_against_the_server_answers_like_the_embedded_model() {
    let Some(p) = common::model_path("http_backend_against_the_server") else { return };
    let model = EmbeddedModel::shared(&p, &EmbeddedOptions::default()).unwrap();
    let server =
        evoforge_llm::server::Server::bind("127.0.0.1:0", model.clone() as Arc<dyn LanguageModel>)
            .unwrap();
    let url = format!("http://{}/v1", server.addr());
    // Serves the requests of this test, then the thread ends.
    let handle = std::thread::spawn(move || server.run(Some(3)));
    let http = HttpModel::new(HttpOptions {
        url: url.clone(),
        model: "smollm2".into(),
        api_key: None,
        timeout: Duration::from_secs(120),
        retries: 0,
    })
    .unwrap();
    let lines: Vec<_> = (0..5)
        .map(|k| evoforge_llm::prompt::Line {
            x: vec![900 - 100 * k, 100 + 50 * k],
            f: 100 - 20 * k,
        })
        .collect();
    for (seed, style) in [
        (1, evoforge_llm::prompt::PromptStyle::Completion),
        (2, evoforge_llm::prompt::PromptStyle::Chat),
    ] {
        let req = Request {
            prompt: evoforge_llm::prompt::build(style, &lines, 1000, 100),
            max_tokens: 16,
            temperature: 0.8,
            seed,
            constraint: Some(evoforge_llm::prompt::constraint(2, 1000)),
        };
        let direct = model.complete(&req).unwrap();
        let served = http.complete(&req).unwrap();
        assert_eq!(served.text, direct.text, "{style:?}");
        assert_eq!(served.prompt_tokens, direct.prompt_tokens);
        assert_eq!(served.completion_tokens, direct.completion_tokens);
    }
    // A request the server refuses: a clear error, not a retry loop.
    let bad = Request {
        prompt: evoforge_llm::Prompt::Text("x".into()),
        max_tokens: 4,
        temperature: 0.0,
        seed: 0,
        constraint: Some(evoforge_llm::IntListConstraint {
            count: 0,
            max: 9,
            separator: ",".into(),
        }),
    };
    let e = http.complete(&bad).unwrap_err().to_string();
    assert!(e.contains("HTTP 400") && e.contains("no integers"), "{e}");
    handle.join().unwrap();
}

#[test]
fn the_strategy_gives_the_same_run_through_http_as_embedded() {
    let Some(p) = common::model_path("the_strategy_gives_the_same_run_through_http") else {
        return;
    };
    let model = EmbeddedModel::shared(&p, &EmbeddedOptions::default()).unwrap();
    let server =
        evoforge_llm::server::Server::bind("127.0.0.1:0", model as Arc<dyn LanguageModel>).unwrap();
    let url = format!("http://{}/v1", server.addr());
    let gens = 4u64;
    let handle = std::thread::spawn(move || server.run(Some(gens - 1)));
    let space = Space::real_box(2, -5.0, 5.0);
    let embedded = EvoLlm::new(config(&p), &space).unwrap();
    let http_cfg = EvoLlmConfig {
        model: ModelSpec::Http {
            url,
            model: "smollm2".into(),
            api_key_env: None,
            timeout_seconds: 120.0,
            retries: 0,
        },
        ..config(&p)
    };
    let http = EvoLlm::new(http_cfg, &space).unwrap();
    let seed = 21;
    let mut a = conformance::fresh(&embedded, seed).unwrap();
    let mut b = conformance::fresh(&http, seed).unwrap();
    for g in 0..gens {
        let (ca, _) =
            conformance::step(&embedded, &space, &mut a, seed, g, &conformance::sphere).unwrap();
        let (cb, mb) =
            conformance::step(&http, &space, &mut b, seed, g, &conformance::sphere).unwrap();
        assert_eq!(ca, cb, "generation {g}");
        assert_eq!(mb["fallbacks"], 0.0);
    }
    handle.join().unwrap();
}
