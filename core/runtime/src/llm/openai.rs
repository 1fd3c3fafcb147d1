//! An OpenAI-compatible chat-completions endpoint, streamed: `POST
//! {base_url}/chat/completions` with `stream: true`; the `data:` chunks
//! (`choices[0].delta.content`, `delta.tool_calls[i]` fragments, `finish_reason`,
//! a final `usage` chunk) are assembled into one turn until `data: [DONE]`.

use std::collections::BTreeMap;

use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};

use super::{ChatRequest, ModelToolCall, ModelTurn, Provider};
use crate::BoxFuture;
use heroa_protocol::TokenUsage;
use heroa_protocol::error::{Error, ErrorKind, Result};
use heroa_sse::Decoder;

/// The provider. Its key is read from the vault for each run and never logged.
pub struct OpenAiProvider {
    http: reqwest::Client,
    base_url: String,
    key: SecretString,
}

impl std::fmt::Debug for OpenAiProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenAiProvider")
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

impl OpenAiProvider {
    /// A provider for `base_url` (e.g. `https://api.openai.com/v1`) with `key`.
    pub fn new(base_url: &str, key: SecretString) -> Self {
        OpenAiProvider {
            http: reqwest::Client::new(),
            base_url: base_url.trim_end_matches('/').to_string(),
            key,
        }
    }
}

#[derive(Default)]
struct PartialCall {
    id: String,
    name: String,
    arguments: String,
}

/// Folds streamed chunks into a turn.
#[derive(Default)]
pub(crate) struct TurnAssembler {
    content: String,
    calls: BTreeMap<u64, PartialCall>,
    finish_reason: String,
    usage: TokenUsage,
}

impl TurnAssembler {
    pub(crate) fn push(&mut self, chunk: &Value) {
        if let Some(u) = chunk
            .get("usage")
            .filter(|u| !u.is_null())
            .and_then(|u| serde_json::from_value::<TokenUsage>(u.clone()).ok())
        {
            self.usage = u;
        }
        let Some(choice) = chunk["choices"].get(0) else {
            return;
        };
        let delta = &choice["delta"];
        if let Some(t) = delta["content"].as_str() {
            self.content.push_str(t);
        }
        for tc in delta["tool_calls"].as_array().into_iter().flatten() {
            let index = tc["index"].as_u64().unwrap_or(0);
            let call = self.calls.entry(index).or_default();
            if let Some(id) = tc["id"].as_str() {
                call.id = id.to_string();
            }
            if let Some(n) = tc["function"]["name"].as_str() {
                call.name.push_str(n);
            }
            if let Some(a) = tc["function"]["arguments"].as_str() {
                call.arguments.push_str(a);
            }
        }
        if let Some(f) = choice["finish_reason"].as_str() {
            self.finish_reason = f.to_string();
        }
    }

    pub(crate) fn finish(self) -> ModelTurn {
        ModelTurn {
            content: self.content,
            tool_calls: self
                .calls
                .into_values()
                .map(|c| ModelToolCall {
                    id: c.id,
                    name: c.name,
                    arguments: c.arguments,
                })
                .collect(),
            finish_reason: self.finish_reason,
            usage: self.usage,
        }
    }
}

impl Provider for OpenAiProvider {
    fn complete(&self, req: ChatRequest) -> BoxFuture<Result<ModelTurn>> {
        let mut body = json!({
            "model": req.model,
            "messages": req.messages,
            "stream": true,
            "stream_options": {"include_usage": true},
        });
        if !req.tools.is_empty() {
            body["tools"] = Value::Array(req.tools);
        }
        if let Some(t) = req.temperature {
            body["temperature"] = json!(t);
        }
        let request = self
            .http
            .post(format!("{}/chat/completions", self.base_url))
            .bearer_auth(self.key.expose_secret())
            .header("accept", "text/event-stream")
            .json(&body);
        Box::pin(async move {
            let mut resp = request.send().await.map_err(|e| {
                Error::new(
                    ErrorKind::Transport,
                    "the model provider could not be reached",
                )
                .with_source(e.without_url())
            })?;
            if !resp.status().is_success() {
                // The status line only: a reply's body is the peer's to say anything
                // in (an internal service behind a base_url, an echo of the key).
                return Err(Error::new(
                    ErrorKind::Unavailable,
                    format!("the model provider answered HTTP {}", resp.status()),
                ));
            }
            let mut decoder = Decoder::new();
            let mut turn = TurnAssembler::default();
            let mut done = false;
            while !done {
                let Some(chunk) = resp.chunk().await.map_err(|e| {
                    Error::new(ErrorKind::Transport, "the model stream broke")
                        .with_source(e.without_url())
                })?
                else {
                    break;
                };
                for event in decoder.feed(&chunk) {
                    if event.data == "[DONE]" {
                        done = true;
                        break;
                    }
                    let value: Value = serde_json::from_str(&event.data).map_err(|e| {
                        Error::new(
                            ErrorKind::Unavailable,
                            "the model provider sent a chunk that is not JSON",
                        )
                        .with_source(e)
                    })?;
                    if let Some(err) = value.get("error") {
                        // Its machine-readable code or type, never its message.
                        let code = ["code", "type"]
                            .iter()
                            .find_map(|k| err.get(*k).and_then(Value::as_str))
                            .filter(|c| {
                                c.len() <= 64
                                    && c.bytes().all(|b| {
                                        b.is_ascii_alphanumeric() || b == b'_' || b == b'.'
                                    })
                            })
                            .unwrap_or("unknown");
                        return Err(Error::new(
                            ErrorKind::Unavailable,
                            format!("the model provider reported an error ({code})"),
                        ));
                    }
                    turn.push(&value);
                }
            }
            Ok(turn.finish())
        })
    }
}
