//! evoforge-llm: language models inside evoforge.
//!
//! * [`evollm::EvoLlm`] (`kind: evollm`): EvoLLM (Lange, Tian & Tang 2024, "Large Language
//!   Models As Evolution Strategies", arXiv 2402.18381): a language model, shown the best
//!   members so far as discretised integers sorted from worst to best, proposes the mean of
//!   the next population.
//! * [`model::LanguageModel`]: the interface of every backend.
//! * [`embedded::EmbeddedModel`] (feature `embedded`, default): a GGUF model (SmolLM2-135M by
//!   default) run in-process by candle, with decoding constrained to the answer's grammar.
//! * [`http::HttpModel`]: any OpenAI-compatible `chat/completions` / `completions` endpoint.
//! * [`server`]: `evoforge llm serve`, an OpenAI-compatible endpoint on loopback in front of a
//!   model, so the ranks of a cluster can share one.
#![warn(missing_docs)]

#[cfg(feature = "embedded")]
pub mod embedded;
pub mod evollm;
pub mod http;
pub mod model;
pub mod prompt;
pub mod server;

pub use evollm::{EvoLlm, EvoLlmConfig, EvoLlmState, ModelSpec};
pub use model::{Completion, IntListConstraint, LanguageModel, LlmError, Message, Prompt, Request};
