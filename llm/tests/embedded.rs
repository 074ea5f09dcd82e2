//! The embedded backend on the real model (SmolLM2-135M-Instruct, Q4_1 GGUF).
#![cfg(feature = "embedded")]
mod common;

use evoforge_llm::embedded::{EmbeddedModel, EmbeddedOptions};
use evoforge_llm::{IntListConstraint, LanguageModel, Message, Prompt, Request};

fn model(test: &str) -> Option<std::sync::Arc<EmbeddedModel>> {
    let p = common::model_path(test)?;
    Some(EmbeddedModel::shared(&p, &EmbeddedOptions::default()).expect("the model loads"))
}

#[test]
fn tokenizer_is_smollm2s() {
    let Some(m) = model("tokenizer_is_smollm2s") else { return };
    let id = |t: &str| {
        let ids = m.encode(t).unwrap();
        assert_eq!(ids.len(), 1, "{t:?} is one token: {ids:?}");
        ids[0]
    };
    let (d1, d2, d3, space, nl) = (id("1"), id("2"), id("3"), id(" "), id("\n"));
    // Digits are split one by one (SmolLM2's `Digits(individual_digits)`), with the space
    // before a number a token of its own.
    assert_eq!(m.encode("x 123").unwrap(), vec![id("x"), space, d1, d2, d3]);
    assert_eq!(m.encode("12, 3").unwrap(), vec![d1, d2, id(","), space, d3]);
    // No space is inserted after a special token (candle's GGUF tokenizer does, and the model
    // then answers with nothing): `user` directly after `<|im_start|>`.
    let chat = m.encode("<|im_start|>user\nhi<|im_end|>\n").unwrap();
    assert_eq!(chat, vec![id("<|im_start|>"), id("user"), nl, id("hi"), id("<|im_end|>"), nl]);
    assert_ne!(id("user"), id(" user"));
    // Recorded ids (SmolLM2's vocabulary): a regression guard for the pipeline.
    assert_eq!(m.encode("Hello world 123").unwrap(), vec![19556, 905, 216, 33, 34, 35]);
    assert_eq!(chat, vec![1, 4093, 198, 6004, 2, 198]);
    for text in ["x: 12, 40 f: 873\nx: ", "Héllo wörld!  2 spaces", "<|im_start|>system\nYou are"]
    {
        assert_eq!(m.decode(&m.encode(text).unwrap()).unwrap(), text, "byte-level round trip");
    }
}

#[test]
fn constrained_answers_have_the_grammar_and_follow_the_seed() {
    let Some(m) = model("constrained_answers_have_the_grammar_and_follow_the_seed") else { return };
    let c = IntListConstraint { count: 3, max: 100, separator: ", ".into() };
    let prompt = Prompt::Text(
        "Points x (3 integers from 0 to 100), sorted from worst to best:\n\
         x: 90, 10, 55\nx: 70, 20, 50\nx: 52, 31, 47\nx: "
            .into(),
    );
    let req = |seed, temperature| Request {
        prompt: prompt.clone(),
        max_tokens: 32,
        temperature,
        seed,
        constraint: Some(c.clone()),
    };
    let mut answers = std::collections::BTreeSet::new();
    for seed in 0..6 {
        let a = m.complete(&req(seed, 1.0)).unwrap();
        assert!(c.matches(&a.text), "{:?} is not 3 integers in 0..=100", a.text);
        assert!(a.prompt_tokens > 40 && a.completion_tokens >= 5, "{a:?}");
        assert_eq!(m.complete(&req(seed, 1.0)).unwrap().text, a.text, "same seed, same answer");
        answers.insert(a.text);
    }
    assert!(answers.len() >= 2, "temperature 1 gives varied answers: {answers:?}");
    // Greedy decoding ignores the seed (this small model then answers "11, 12, 13": EvoLLM
    // samples at a temperature).
    let g = m.complete(&req(0, 0.0)).unwrap();
    assert!(c.matches(&g.text), "{:?}", g.text);
    assert_eq!(m.complete(&req(99, 0.0)).unwrap().text, g.text, "greedy ignores the seed");
}

#[test]
fn chat_answers_in_the_template() {
    let Some(m) = model("chat_answers_in_the_template") else { return };
    let r = Request {
        prompt: Prompt::Chat(vec![Message::new("user", "What is the capital of France?")]),
        max_tokens: 24,
        temperature: 0.0,
        seed: 0,
        constraint: None,
    };
    let a = m.complete(&r).unwrap();
    assert!(a.text.contains("Paris"), "{:?}", a.text);
    assert!(!a.text.contains("<|im_end|>"));
    // The template, as the model sees it.
    let text = EmbeddedModel::render(&r.prompt);
    assert_eq!(
        text,
        "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n\
         <|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n"
    );
    assert_eq!(a.prompt_tokens as usize, m.encode(&text).unwrap().len());
}
