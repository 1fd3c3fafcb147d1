//! Model providers for the `llm` run loop: an OpenAI-compatible chat-completions
//! endpoint (streaming), and an offline provider that replays scripted turns.

#[cfg(feature = "llm-openai")]
mod openai;

use std::sync::Mutex;

use serde_json::Value;

#[cfg(feature = "llm-openai")]
pub use openai::OpenAiProvider;

use crate::BoxFuture;
use heroa_protocol::error::{Error, ErrorKind, Result};
use heroa_protocol::{ScriptedTurn, TokenUsage};

/// One request to a model: OpenAI-format messages and tools.
#[derive(Debug, Clone)]
pub struct ChatRequest {
    /// Model id.
    pub model: String,
    /// Messages (`{"role", "content", "tool_calls"?, "tool_call_id"?}`).
    pub messages: Vec<Value>,
    /// Tools (`{"type": "function", "function": {"name", "description", "parameters"}}`).
    pub tools: Vec<Value>,
    /// Sampling temperature.
    pub temperature: Option<f64>,
}

/// A tool call the model asked for.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelToolCall {
    /// Call id (`toolu_…` / `call_…`).
    pub id: String,
    /// Tool name as the model wrote it.
    pub name: String,
    /// Arguments, as the JSON text the model produced.
    pub arguments: String,
}

/// One model turn.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ModelTurn {
    /// Assistant text.
    pub content: String,
    /// Tool calls.
    pub tool_calls: Vec<ModelToolCall>,
    /// `stop`, `tool_calls`, `length`, …
    pub finish_reason: String,
    /// Token usage.
    pub usage: TokenUsage,
}

/// A chat model.
pub trait Provider: Send + Sync {
    /// Produces the next assistant turn.
    fn complete(&self, req: ChatRequest) -> BoxFuture<Result<ModelTurn>>;
}

/// Replays scripted turns in order; one instance per run.
#[derive(Debug)]
pub struct OfflineProvider {
    turns: Mutex<std::vec::IntoIter<ScriptedTurn>>,
}

impl OfflineProvider {
    /// From turns.
    pub fn new(turns: Vec<ScriptedTurn>) -> Self {
        OfflineProvider {
            turns: Mutex::new(turns.into_iter()),
        }
    }

    /// From a script file: `{"turns": [{"content", "tool_calls": [{"name", "arguments"}], "usage"}]}`.
    pub fn from_file(path: &str) -> Result<Self> {
        #[derive(serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Script {
            turns: Vec<ScriptedTurn>,
        }
        let text = std::fs::read_to_string(path).map_err(|e| {
            Error::invalid(
                "llm_configs.script",
                format!("cannot read the script {path}"),
            )
            .with_source(e)
        })?;
        let script: Script = serde_json::from_str(&text).map_err(|e| {
            Error::invalid(
                "llm_configs.script",
                format!("the script {path} is not a valid turns file: {e}"),
            )
        })?;
        Ok(OfflineProvider::new(script.turns))
    }
}

impl Provider for OfflineProvider {
    fn complete(&self, _req: ChatRequest) -> BoxFuture<Result<ModelTurn>> {
        let next = self.turns.lock().unwrap_or_else(|p| p.into_inner()).next();
        Box::pin(async move {
            let turn = next.ok_or_else(|| {
                Error::new(
                    ErrorKind::FailedPrecondition,
                    "the offline script has no more turns",
                )
            })?;
            let mut n = 0;
            let tool_calls: Vec<ModelToolCall> = turn
                .tool_calls
                .iter()
                .map(|c| {
                    n += 1;
                    ModelToolCall {
                        id: format!("toolu_{:02}{}", n, &heroa_protocol::ids::ulid()[16..]),
                        name: c.name.clone(),
                        arguments: if c.arguments.is_null() {
                            "{}".into()
                        } else {
                            c.arguments.to_string()
                        },
                    }
                })
                .collect();
            let usage = turn.usage.unwrap_or_default();
            Ok(ModelTurn {
                finish_reason: if tool_calls.is_empty() {
                    "stop".into()
                } else {
                    "tool_calls".into()
                },
                content: turn.content,
                tool_calls,
                usage: TokenUsage {
                    total_tokens: if usage.total_tokens == 0 {
                        usage.prompt_tokens + usage.completion_tokens
                    } else {
                        usage.total_tokens
                    },
                    ..usage
                },
            })
        })
    }
}
