//! The HTTP backend: any OpenAI-compatible server (llama.cpp's `llama-server`, vLLM, Ollama,
//! `evoforge llm serve`). Text prompts go to `{url}/completions`, chats to
//! `{url}/chat/completions`.
//!
//! Besides the standard fields (`model`, `prompt`/`messages`, `max_tokens`, `temperature`,
//! `seed`), a constrained request carries the constraint twice, for the servers that can
//! enforce it: `evoforge_constraint` (`evoforge llm serve`) and `grammar`, the same language in
//! GBNF (llama.cpp's server). Servers ignore fields they do not know; the answer is parsed
//! either way, and an answer that does not parse is the caller's fallback, never a crash.
//!
//! Transport: each request has a connect timeout and an overall timeout; connection errors,
//! timeouts, 429 and 5xx answers are retried with exponential backoff (0.5 s, 1 s, 2 s, …);
//! after the last try the error says which server could not be reached and what to check.
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::model::{Completion, IntListConstraint, LanguageModel, LlmError, Prompt, Request};

/// Where and how to reach the server.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpOptions {
    /// Base URL up to and including `/v1`, e.g. `http://127.0.0.1:8080/v1`.
    pub url: String,
    /// The `model` field of requests.
    pub model: String,
    /// Bearer token, if the server wants one.
    pub api_key: Option<String>,
    /// Overall timeout of one request.
    pub timeout: Duration,
    /// Retries after the first try.
    pub retries: u32,
}

/// A model behind an OpenAI-compatible endpoint.
#[derive(Debug)]
pub struct HttpModel {
    options: HttpOptions,
    agent: ureq::Agent,
}

impl HttpModel {
    /// A client; nothing is sent until the first request.
    pub fn new(options: HttpOptions) -> Result<Self, LlmError> {
        let url = options.url.trim_end_matches('/').to_string();
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(LlmError::Request(format!(
                "url `{url}` must start with http:// or https://"
            )));
        }
        if url.starts_with("https://") && !cfg!(feature = "https") {
            return Err(LlmError::Request(format!(
                "url `{url}`: this build has no TLS; rebuild with the `https` feature of evoforge-llm, or use http://"
            )));
        }
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(options.timeout))
            .timeout_connect(Some(options.timeout.min(Duration::from_secs(10))))
            .http_status_as_error(false)
            .build()
            .into();
        Ok(Self { options: HttpOptions { url, ..options }, agent })
    }

    fn post(&self, path: &str, body: &Value) -> Result<Value, LlmError> {
        let url = format!("{}{path}", self.options.url);
        let text = body.to_string();
        let mut last = String::new();
        for attempt in 0..=self.options.retries {
            if attempt > 0 {
                std::thread::sleep(Duration::from_millis(500) * (1 << (attempt - 1).min(6)));
            }
            let mut req = self.agent.post(&url).content_type("application/json");
            if let Some(k) = &self.options.api_key {
                req = req.header("Authorization", format!("Bearer {k}"));
            }
            match req.send(text.as_str()) {
                Ok(mut resp) => {
                    let status = resp.status().as_u16();
                    let body = resp.body_mut().read_to_string().unwrap_or_default();
                    if status == 200 {
                        return serde_json::from_str(&body).map_err(|e| {
                            LlmError::Protocol(format!(
                                "{url}: the answer is not JSON ({e}): {}",
                                clip(&body)
                            ))
                        });
                    }
                    last = format!("{url} answered HTTP {status}: {}", clip(&body));
                    if !(status == 429 || status >= 500) {
                        return Err(LlmError::Protocol(last));
                    }
                }
                Err(e) => {
                    last = format!("{e}");
                }
            }
        }
        Err(LlmError::Unreachable(format!(
            "cannot get an answer from the language-model server at {url} after {} tries: {last} \
             (is the server running? `evoforge llm serve MODEL.gguf --port PORT` starts one)",
            self.options.retries + 1
        )))
    }
}

/// The constraint in llama.cpp's GBNF.
pub fn gbnf(c: &IntListConstraint) -> String {
    let sep = c.separator.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n");
    let mut rule = String::from("root ::= num");
    for _ in 1..c.count {
        rule.push_str(&format!(" \"{sep}\" num"));
    }
    // Bounded by digit count only; values above max are clamped by the parser.
    let digits = c.max.to_string().len();
    rule.push_str(&format!(
        "\nnum ::= \"0\" | [1-9]{}",
        " [0-9]?".repeat(digits.saturating_sub(1))
    ));
    rule
}

fn clip(s: &str) -> String {
    let s = s.trim();
    if s.chars().count() > 300 {
        format!("{}…", s.chars().take(300).collect::<String>())
    } else {
        s.to_string()
    }
}

impl LanguageModel for HttpModel {
    fn name(&self) -> String {
        format!("{} at {}", self.options.model, self.options.url)
    }

    fn complete(&self, request: &Request) -> Result<Completion, LlmError> {
        let t0 = Instant::now();
        let mut body = json!({
            "model": self.options.model,
            "max_tokens": request.max_tokens,
            "temperature": request.temperature,
            "seed": request.seed,
            "stream": false,
        });
        if let Some(c) = &request.constraint {
            body["evoforge_constraint"] = serde_json::to_value(c).expect("serialisable");
            body["grammar"] = Value::String(gbnf(c));
        }
        let (path, chat) = match &request.prompt {
            Prompt::Text(t) => {
                body["prompt"] = Value::String(t.clone());
                ("/completions", false)
            }
            Prompt::Chat(m) => {
                body["messages"] = serde_json::to_value(m).expect("serialisable");
                ("/chat/completions", true)
            }
        };
        let v = self.post(path, &body)?;
        let choice = &v["choices"][0];
        let text = if chat { &choice["message"]["content"] } else { &choice["text"] };
        let text = text.as_str().ok_or_else(|| {
            LlmError::Protocol(format!(
                "the answer has no choices[0] text: {}",
                clip(&v.to_string())
            ))
        })?;
        Ok(Completion {
            text: text.to_string(),
            prompt_tokens: v["usage"]["prompt_tokens"].as_u64().unwrap_or(0),
            completion_tokens: v["usage"]["completion_tokens"].as_u64().unwrap_or(0),
            seconds: t0.elapsed().as_secs_f64(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gbnf_of_a_constraint() {
        let c = IntListConstraint { count: 3, max: 100, separator: ", ".into() };
        assert_eq!(
            gbnf(&c),
            "root ::= num \", \" num \", \" num\nnum ::= \"0\" | [1-9] [0-9]? [0-9]?"
        );
    }

    #[test]
    fn unreachable_server_gives_a_clear_error() {
        // A port nothing listens on: bind, read the port, close.
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let m = HttpModel::new(HttpOptions {
            url: format!("http://127.0.0.1:{port}/v1"),
            model: "m".into(),
            api_key: None,
            timeout: Duration::from_secs(2),
            retries: 1,
        })
        .unwrap();
        let req = Request {
            prompt: Prompt::Text("x".into()),
            max_tokens: 4,
            temperature: 0.0,
            seed: 0,
            constraint: None,
        };
        let e = m.complete(&req).unwrap_err();
        assert!(matches!(e, LlmError::Unreachable(_)), "{e}");
        let msg = e.to_string();
        assert!(msg.contains(&format!("127.0.0.1:{port}/v1/completions")), "{msg}");
        assert!(msg.contains("2 tries") && msg.contains("evoforge llm serve"), "{msg}");
        assert!(
            HttpModel::new(HttpOptions { url: "localhost:1".into(), ..m.options.clone() }).is_err()
        );
    }
}
