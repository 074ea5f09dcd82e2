//! `evoforge llm serve`: an OpenAI-compatible endpoint in front of a [`LanguageModel`], so many
//! studies (or the ranks of a cluster) share one loaded model.
//!
//! Routes: `GET /v1/models`, `GET /health`, `POST /v1/completions` (`prompt`) and
//! `POST /v1/chat/completions` (`messages`), with `max_tokens` (default 64), `temperature`
//! (default 1), `seed` (default: drawn from the clock) and the extension `evoforge_constraint`
//! (`{count, max, separator}`), which makes the answer exactly that many integers. Other fields
//! (`stop`, `top_p`, `grammar`, …) are accepted and ignored. Requests are served one at a time,
//! in arrival order: the model is one and runs on one core anyway.
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use crate::model::{IntListConstraint, LanguageModel, LlmError, Message, Prompt, Request};

/// A bound server (not yet answering: call [`Server::run`]).
pub struct Server {
    http: tiny_http::Server,
    model: Arc<dyn LanguageModel>,
}

impl Server {
    /// Binds `addr` (`127.0.0.1:0` picks a free port).
    pub fn bind(addr: &str, model: Arc<dyn LanguageModel>) -> Result<Self, String> {
        let http =
            tiny_http::Server::http(addr).map_err(|e| format!("cannot listen on {addr}: {e}"))?;
        Ok(Self { http, model })
    }

    /// The address it listens on.
    pub fn addr(&self) -> std::net::SocketAddr {
        self.http.server_addr().to_ip().expect("bound to an IP address")
    }

    /// Answers requests until the process ends (or, with `max_requests`, after that many).
    pub fn run(&self, max_requests: Option<u64>) {
        for (served, mut rq) in self.http.incoming_requests().enumerate() {
            let mut body = String::new();
            let read = std::io::Read::read_to_string(rq.as_reader(), &mut body);
            let (status, answer) = match read {
                Ok(_) => self.route(rq.method(), rq.url(), &body),
                Err(e) => (400, error_json(&format!("cannot read the request body: {e}"))),
            };
            let header =
                tiny_http::Header::from_bytes(&b"Content-Type"[..], &b"application/json"[..])
                    .expect("valid header");
            let resp = tiny_http::Response::from_string(answer.to_string())
                .with_status_code(status)
                .with_header(header);
            let _ = rq.respond(resp);
            if max_requests.is_some_and(|m| served as u64 + 1 >= m) {
                break;
            }
        }
    }

    fn route(&self, method: &tiny_http::Method, url: &str, body: &str) -> (u16, Value) {
        use tiny_http::Method::{Get, Post};
        let path = url.split('?').next().unwrap_or("");
        match (method, path) {
            (Get, "/health") => (200, json!({"status": "ok"})),
            (Get, "/v1/models") => (
                200,
                json!({"object": "list", "data": [{"id": self.model.name(), "object": "model", "owned_by": "evoforge"}]}),
            ),
            (Post, "/v1/completions") => self.complete(body, false),
            (Post, "/v1/chat/completions") => self.complete(body, true),
            _ => (404, error_json(&format!("no route {method} {path}"))),
        }
    }

    fn complete(&self, body: &str, chat: bool) -> (u16, Value) {
        let req = match parse_request(body, chat) {
            Ok(r) => r,
            Err(m) => return (400, error_json(&m)),
        };
        match self.model.complete(&req) {
            Ok(c) => {
                let created =
                    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
                let usage = json!({
                    "prompt_tokens": c.prompt_tokens,
                    "completion_tokens": c.completion_tokens,
                    "total_tokens": c.prompt_tokens + c.completion_tokens,
                });
                let choice = if chat {
                    json!({"index": 0, "message": {"role": "assistant", "content": c.text}, "finish_reason": "stop"})
                } else {
                    json!({"index": 0, "text": c.text, "finish_reason": "stop"})
                };
                (
                    200,
                    json!({
                        "id": format!("evoforge-{created}"),
                        "object": if chat { "chat.completion" } else { "text_completion" },
                        "created": created,
                        "model": self.model.name(),
                        "choices": [choice],
                        "usage": usage,
                    }),
                )
            }
            Err(e @ LlmError::Request(_)) => (400, error_json(&e.to_string())),
            Err(e) => (500, error_json(&e.to_string())),
        }
    }
}

fn error_json(message: &str) -> Value {
    json!({"error": {"message": message, "type": "invalid_request_error"}})
}

/// Reads an OpenAI request body into a [`Request`].
pub fn parse_request(body: &str, chat: bool) -> Result<Request, String> {
    let v: Value = serde_json::from_str(body).map_err(|e| format!("the body is not JSON: {e}"))?;
    let prompt = if chat {
        let msgs: Vec<Message> = serde_json::from_value(v["messages"].clone())
            .map_err(|e| format!("`messages` must be a list of {{role, content}}: {e}"))?;
        if msgs.is_empty() {
            return Err("`messages` is empty".into());
        }
        Prompt::Chat(msgs)
    } else {
        match &v["prompt"] {
            Value::String(s) => Prompt::Text(s.clone()),
            Value::Array(a) if a.len() == 1 && a[0].is_string() => {
                Prompt::Text(a[0].as_str().unwrap_or_default().to_string())
            }
            _ => return Err("`prompt` must be a string".into()),
        }
    };
    let max_tokens = match &v["max_tokens"] {
        Value::Null => 64,
        m => m.as_u64().ok_or("`max_tokens` must be a non-negative integer")? as usize,
    };
    let temperature = match &v["temperature"] {
        Value::Null => 1.0,
        t => t.as_f64().filter(|t| *t >= 0.0).ok_or("`temperature` must be a number >= 0")?,
    };
    let seed = match &v["seed"] {
        Value::Null => {
            SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64)
        }
        s => s
            .as_u64()
            .or_else(|| s.as_i64().map(|i| i as u64))
            .ok_or("`seed` must be an integer")?,
    };
    let constraint = match &v["evoforge_constraint"] {
        Value::Null => None,
        c => Some(serde_json::from_value::<IntListConstraint>(c.clone()).map_err(|e| {
            format!("`evoforge_constraint` must be {{count, max, separator}}: {e}")
        })?),
    };
    Ok(Request { prompt, max_tokens, temperature, seed, constraint })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_parse_with_defaults_and_errors_are_clear() {
        let r = parse_request(r#"{"prompt": "hi", "seed": 7}"#, false).unwrap();
        assert_eq!(r.prompt, Prompt::Text("hi".into()));
        assert_eq!((r.max_tokens, r.temperature, r.seed), (64, 1.0, 7));
        assert!(r.constraint.is_none());
        let r = parse_request(
            r#"{"messages": [{"role": "user", "content": "x"}], "max_tokens": 5, "temperature": 0,
                "evoforge_constraint": {"count": 2, "max": 9, "separator": ","}}"#,
            true,
        )
        .unwrap();
        assert_eq!(r.constraint.unwrap().count, 2);
        assert!(parse_request("{}", true).unwrap_err().contains("messages"));
        assert!(parse_request(r#"{"prompt": 3}"#, false).unwrap_err().contains("prompt"));
        assert!(parse_request(r#"{"prompt": "a", "temperature": -1}"#, false).is_err());
    }
}
