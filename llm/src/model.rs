//! The language-model interface every backend implements: a prompt in, a completion out, with
//! an optional constraint on the answer's form and a seed for its sampling.
use serde::{Deserialize, Serialize};

/// The type the weights of the matrix products are converted to at load.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Weights {
    /// As stored in the file.
    File,
    /// Q4/Q5 weights re-quantised to Q8_0 (candle's fastest quantized dot product).
    Q8_0,
    /// Every weight dequantised to f32: float matrix products (gemm), which process a prompt
    /// many tokens at a time; 4 bytes per weight.
    #[default]
    F32,
}

/// One chat message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// `system`, `user` or `assistant`.
    pub role: String,
    /// The text.
    pub content: String,
}

impl Message {
    /// A message of `role`.
    pub fn new(role: &str, content: impl Into<String>) -> Self {
        Self { role: role.to_string(), content: content.into() }
    }
}

/// What the model is asked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Prompt {
    /// Plain text the model continues (`/v1/completions`).
    Text(String),
    /// A conversation the model answers as the assistant (`/v1/chat/completions`).
    Chat(Vec<Message>),
}

/// The answer must be exactly `count` integers in `0..=max`, written in decimal without
/// leading zeros and separated by `separator`. A backend that can enforce it (the embedded
/// one, and `evoforge llm serve` over HTTP) makes any other answer impossible; the caller
/// parses the answer anyway, so a backend that cannot enforce it is still usable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IntListConstraint {
    /// How many integers.
    pub count: usize,
    /// Largest allowed value.
    pub max: u64,
    /// Text between two integers.
    pub separator: String,
}

impl IntListConstraint {
    /// Whether `text` has exactly the constrained form.
    pub fn matches(&self, text: &str) -> bool {
        let parts: Vec<&str> = text.split(self.separator.as_str()).collect();
        parts.len() == self.count
            && parts.iter().all(|p| {
                !p.is_empty()
                    && p.bytes().all(|b| b.is_ascii_digit())
                    && (p.len() == 1 || !p.starts_with('0'))
                    && p.parse::<u64>().is_ok_and(|v| v <= self.max)
            })
    }
}

/// One request to a model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Request {
    /// The prompt.
    pub prompt: Prompt,
    /// Most tokens to generate (a constrained answer ends by itself before).
    pub max_tokens: usize,
    /// Sampling temperature; 0 is greedy.
    pub temperature: f64,
    /// Seed of the sampling: the same request with the same seed gives the same answer.
    pub seed: u64,
    /// Constraint on the answer, if any.
    pub constraint: Option<IntListConstraint>,
}

/// What a model answered, with its cost.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Completion {
    /// The generated text (the answer only, without the prompt).
    pub text: String,
    /// Tokens of the prompt.
    pub prompt_tokens: u64,
    /// Tokens generated (for a constrained answer: digits, separators and the end token).
    pub completion_tokens: u64,
    /// Wall seconds the request took.
    pub seconds: f64,
}

/// Why a model gave no answer.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LlmError {
    /// The model file cannot be read or is not a usable GGUF model.
    #[error("model {path}: {message}")]
    Load {
        /// The file.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// The server could not be reached or kept failing.
    #[error("{0}")]
    Unreachable(String),
    /// The server answered with an error or something that is not a completion.
    #[error("{0}")]
    Protocol(String),
    /// The request cannot be served (prompt too long, constraint impossible, ...).
    #[error("{0}")]
    Request(String),
    /// The model failed while running.
    #[error("inference failed: {0}")]
    Inference(String),
}

/// A language model: embedded in the process or behind an HTTP endpoint.
pub trait LanguageModel: Send + Sync {
    /// A name for logs and the `/v1/models` listing.
    fn name(&self) -> String;
    /// Answers one request.
    fn complete(&self, request: &Request) -> Result<Completion, LlmError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constraint_matches_exactly_the_grammar() {
        let c = IntListConstraint { count: 3, max: 100, separator: ", ".into() };
        assert!(c.matches("0, 100, 7"));
        assert!(!c.matches("0, 101, 7"), "above max");
        assert!(!c.matches("0, 07, 7"), "leading zero");
        assert!(!c.matches("0, 7"), "too few");
        assert!(!c.matches("0,7,7"), "other separator");
        assert!(!c.matches("0, 7, 7\n"), "trailing text");
        assert!(!c.matches("0, -7, 7"));
    }
}
