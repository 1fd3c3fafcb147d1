//! The agent loop over Heroa's event stream: completion objects in, typed
//! messages out.
//!
//! The stream carries `message` events whose data is a completion object
//! (`"object": "chat.completion"` for the assistant, `"tool.completion"` for a
//! tool result), other events (`status`, `action.blocked`, `approval.requested`,
//! `cost`, ...) passed through, and ends with `event: done` / `data: [DONE]`.

use std::collections::VecDeque;

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use super::{Decoder, Event};

/// A completion object as carried by a `message` event. Serializes back to the
/// same JSON (same fields, same order) for the objects Heroa emits, so a server
/// can build and emit these.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(
    feature = "schema",
    schemars(
        description = "A completion object: the `data` of an `event: message` Server-Sent Event (the Heroku Agents API's format)."
    )
)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Completion {
    pub id: String,
    /// `chat.completion` or `tool.completion`.
    #[cfg_attr(feature = "schema", schemars(extend("enum" = ["chat.completion", "tool.completion"])))]
    pub object: String,
    /// Unix seconds.
    pub created: u64,
    pub model: String,
    pub choices: Vec<Choice>,
    /// `{}` on the wire when `None` (tool completions); an absent or `null`
    /// `usage` also reads as `None`.
    #[serde(default, with = "usage_object")]
    #[cfg_attr(feature = "schema", schemars(schema_with = "usage_schema"))]
    pub usage: Option<Usage>,
}

/// One choice of a [`Completion`].
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schema", schemars(rename = "CompletionChoice"))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Choice {
    pub index: u32,
    pub message: ChoiceMessage,
    /// `tool_calls`, `stop`, ... ; `""` for tool completions (`null` reads as `""`).
    #[serde(default, deserialize_with = "null_as_empty")]
    pub finish_reason: String,
}

/// The message of a [`Choice`].
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schema", schemars(rename = "CompletionMessage"))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChoiceMessage {
    /// `assistant` or `tool`.
    pub role: String,
    /// May be `null` on the wire (e.g. an assistant turn with only tool calls).
    #[serde(default)]
    pub content: Option<String>,
    /// Absent on the wire when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<CompletionToolCall>,
    /// Only on tool messages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<String>,
}

/// A tool call as it is on the wire (arguments as a JSON string).
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CompletionToolCall {
    pub id: String,
    /// Always `function` today.
    #[serde(rename = "type", default = "function_type")]
    pub kind: String,
    pub function: FunctionCall,
}

/// The function of a [`CompletionToolCall`].
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schema", schemars(rename = "CompletionFunction"))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FunctionCall {
    pub name: String,
    /// JSON text of the arguments object.
    pub arguments: String,
}

/// Token usage of a completion.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schema", schemars(rename = "CompletionUsage"))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Usage {
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub total_tokens: u64,
}

/// A tool call with its arguments parsed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolCall {
    pub id: String,
    pub name: String,
    /// The parsed arguments (always a JSON object; `""` reads as `{}`).
    pub arguments: Value,
    /// The arguments exactly as received.
    pub raw_arguments: String,
}

/// What the agent loop produces.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Message {
    /// An assistant turn (`chat.completion`).
    Assistant {
        /// `null` content reads as `""`.
        content: String,
        tool_calls: Vec<ToolCall>,
        finish_reason: String,
        usage: Option<Usage>,
    },
    /// A tool result (`tool.completion`).
    Tool {
        tool_call_id: String,
        content: String,
    },
    /// `event: done` or `data: [DONE]`: the loop is over.
    Done,
    /// Any other event (`status`, `action.blocked`, `approval.requested`, `cost`,
    /// or a `message` whose `object` is not a completion), untouched.
    Other {
        event: String,
        data: String,
        /// `data` parsed as JSON when it is JSON.
        json: Option<Value>,
    },
}

/// Why an event could not be assembled.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AgentError {
    #[error("`{event}` event (id {id:?}): data is not valid JSON: {source}; data: {snippet}")]
    InvalidJson {
        event: String,
        id: String,
        snippet: String,
        #[source]
        source: serde_json::Error,
    },
    #[error(
        "`{event}` event (id {id:?}): data is JSON but not an object ({kind}); data: {snippet}"
    )]
    NotAnObject {
        event: String,
        id: String,
        kind: &'static str,
        snippet: String,
    },
    #[error("`{object}` object (event id {id:?}) does not fit the completion schema: {source}")]
    InvalidCompletion {
        object: String,
        id: String,
        #[source]
        source: serde_json::Error,
    },
    #[error(
        "tool call {tool_call_id:?} ({name}) in completion {completion_id:?}: arguments are not valid JSON: {source}; arguments: {snippet}"
    )]
    InvalidToolArguments {
        completion_id: String,
        tool_call_id: String,
        name: String,
        snippet: String,
        #[source]
        source: serde_json::Error,
    },
    #[error(
        "tool call {tool_call_id:?} ({name}) in completion {completion_id:?}: arguments must be a JSON object, got {kind}"
    )]
    ToolArgumentsNotObject {
        completion_id: String,
        tool_call_id: String,
        name: String,
        kind: &'static str,
    },
    #[error("tool message in completion {completion_id:?} choice {index} has no tool_call_id")]
    MissingToolCallId { completion_id: String, index: u32 },
    #[error(
        "completion {completion_id:?} ({object}) choice {index}: unexpected role {role:?} (expected assistant or tool)"
    )]
    UnexpectedRole {
        completion_id: String,
        object: String,
        index: u32,
        role: String,
    },
    #[error("the stream ended before `done` / `[DONE]`")]
    EndedBeforeDone,
}

/// Assembles decoded events into [`Message`]s.
///
/// Use [`push`](AgentLoop::push) with events from your own [`Decoder`], or
/// [`feed`](AgentLoop::feed) raw bytes (it owns a decoder). The transcript
/// ([`messages`](AgentLoop::messages)) and the raw completion objects
/// ([`completions`](AgentLoop::completions)) are kept.
///
/// An event that cannot be assembled is an error and adds nothing; the loop
/// can go on with later events. After [`Message::Done`] the loop
/// [is done](AgentLoop::is_done); a second done signal is ignored, other
/// events are still assembled.
#[derive(Debug, Default)]
pub struct AgentLoop {
    decoder: Decoder,
    pending: VecDeque<Event>,
    messages: Vec<Message>,
    completions: Vec<Completion>,
    reported: usize,
    done: bool,
}

impl AgentLoop {
    /// A loop at the start of a stream.
    pub fn new() -> Self {
        Self::default()
    }

    /// Assembles one event; returns the messages it added (none, one, or one
    /// per choice of a completion).
    pub fn push(&mut self, event: &Event) -> Result<&[Message], AgentError> {
        let start = self.messages.len();
        self.apply(event)?;
        self.reported = self.messages.len();
        Ok(&self.messages[start..])
    }

    /// Decodes `chunk` and assembles the events it completed; returns the
    /// messages not returned yet. On an error the remaining events of the chunk
    /// stay queued: call `feed` again (an empty chunk will do) to go on.
    pub fn feed(&mut self, chunk: &[u8]) -> Result<Vec<Message>, AgentError> {
        self.decoder.feed_deque(chunk, &mut self.pending);
        self.drain()
    }

    /// Ends the stream (an unfinished event is discarded) and assembles what is
    /// queued. [`AgentError::EndedBeforeDone`] if the loop never got its done
    /// signal (the messages are still in [`messages`](AgentLoop::messages)).
    pub fn finish(&mut self) -> Result<Vec<Message>, AgentError> {
        self.decoder.finish();
        let out = self.drain()?;
        if self.done {
            Ok(out)
        } else {
            Err(AgentError::EndedBeforeDone)
        }
    }

    /// Whether the done signal was seen.
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// Every message assembled so far.
    pub fn messages(&self) -> &[Message] {
        &self.messages
    }

    /// Every completion object received so far, as parsed.
    pub fn completions(&self) -> &[Completion] {
        &self.completions
    }

    /// The decoder used by [`feed`](AgentLoop::feed).
    pub fn decoder(&self) -> &Decoder {
        &self.decoder
    }

    fn drain(&mut self) -> Result<Vec<Message>, AgentError> {
        while let Some(event) = self.pending.pop_front() {
            self.apply(&event)?;
        }
        let out = self.messages[self.reported..].to_vec();
        self.reported = self.messages.len();
        Ok(out)
    }

    fn apply(&mut self, event: &Event) -> Result<(), AgentError> {
        if event.event == "done" || event.data.trim() == "[DONE]" {
            if !self.done {
                self.done = true;
                self.messages.push(Message::Done);
            }
            return Ok(());
        }
        if event.event != "message" {
            self.messages.push(Message::Other {
                event: event.event.clone(),
                data: event.data.clone(),
                json: serde_json::from_str(&event.data).ok(),
            });
            return Ok(());
        }
        let value: Value =
            serde_json::from_str(&event.data).map_err(|source| AgentError::InvalidJson {
                event: event.event.clone(),
                id: event.id.clone(),
                snippet: snippet(&event.data),
                source,
            })?;
        let Value::Object(ref map) = value else {
            return Err(AgentError::NotAnObject {
                event: event.event.clone(),
                id: event.id.clone(),
                kind: kind(&value),
                snippet: snippet(&event.data),
            });
        };
        let object = match map.get("object").and_then(Value::as_str) {
            Some(o @ ("chat.completion" | "tool.completion")) => o.to_owned(),
            _ => {
                self.messages.push(Message::Other {
                    event: event.event.clone(),
                    data: event.data.clone(),
                    json: Some(value),
                });
                return Ok(());
            }
        };
        let completion = match Completion::deserialize(value) {
            Ok(c) => c,
            Err(e) => {
                // Parse the text again for an error that names line and column.
                let source = serde_json::from_str::<Completion>(&event.data)
                    .err()
                    .unwrap_or(e);
                return Err(AgentError::InvalidCompletion {
                    object,
                    id: event.id.clone(),
                    source,
                });
            }
        };
        let mut out = Vec::with_capacity(completion.choices.len());
        for choice in &completion.choices {
            out.push(message_of(&completion, choice)?);
        }
        self.messages.extend(out);
        self.completions.push(completion);
        Ok(())
    }
}

fn message_of(completion: &Completion, choice: &Choice) -> Result<Message, AgentError> {
    let m = &choice.message;
    match m.role.as_str() {
        "assistant" => {
            let mut tool_calls = Vec::with_capacity(m.tool_calls.len());
            for call in &m.tool_calls {
                tool_calls.push(parse_tool_call(&completion.id, call)?);
            }
            Ok(Message::Assistant {
                content: m.content.clone().unwrap_or_default(),
                tool_calls,
                finish_reason: choice.finish_reason.clone(),
                usage: completion.usage,
            })
        }
        "tool" => Ok(Message::Tool {
            tool_call_id: m
                .tool_call_id
                .clone()
                .ok_or_else(|| AgentError::MissingToolCallId {
                    completion_id: completion.id.clone(),
                    index: choice.index,
                })?,
            content: m.content.clone().unwrap_or_default(),
        }),
        role => Err(AgentError::UnexpectedRole {
            completion_id: completion.id.clone(),
            object: completion.object.clone(),
            index: choice.index,
            role: role.to_owned(),
        }),
    }
}

fn parse_tool_call(completion_id: &str, call: &CompletionToolCall) -> Result<ToolCall, AgentError> {
    let raw = &call.function.arguments;
    let arguments = if raw.trim().is_empty() {
        Value::Object(serde_json::Map::new())
    } else {
        serde_json::from_str::<Value>(raw).map_err(|source| AgentError::InvalidToolArguments {
            completion_id: completion_id.to_owned(),
            tool_call_id: call.id.clone(),
            name: call.function.name.clone(),
            snippet: snippet(raw),
            source,
        })?
    };
    if !arguments.is_object() {
        return Err(AgentError::ToolArgumentsNotObject {
            completion_id: completion_id.to_owned(),
            tool_call_id: call.id.clone(),
            name: call.function.name.clone(),
            kind: kind(&arguments),
        });
    }
    Ok(ToolCall {
        id: call.id.clone(),
        name: call.function.name.clone(),
        arguments,
        raw_arguments: raw.clone(),
    })
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The start of `s` for an error message, quoted.
fn snippet(s: &str) -> String {
    const MAX: usize = 120;
    if s.len() <= MAX {
        return format!("{s:?}");
    }
    let mut end = MAX;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{:?}... ({} bytes)", &s[..end], s.len())
}

fn function_type() -> String {
    "function".to_owned()
}

fn null_as_empty<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(Option::<String>::deserialize(d)?.unwrap_or_default())
}

/// `usage`: `{}` (or `null`, or absent) is `None`; a partial object fills the
/// missing counts (total = prompt + completion).
mod usage_object {
    use super::Usage;
    use serde::ser::SerializeMap;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(usage: &Option<Usage>, s: S) -> Result<S::Ok, S::Error> {
        match usage {
            Some(u) => u.serialize(s),
            None => s.serialize_map(Some(0))?.end(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Usage>, D::Error> {
        #[derive(Deserialize)]
        struct Partial {
            prompt_tokens: Option<u64>,
            completion_tokens: Option<u64>,
            total_tokens: Option<u64>,
        }
        Ok(match Option::<Partial>::deserialize(d)? {
            None
            | Some(Partial {
                prompt_tokens: None,
                completion_tokens: None,
                total_tokens: None,
            }) => None,
            Some(p) => {
                let prompt = p.prompt_tokens.unwrap_or(0);
                let completion = p.completion_tokens.unwrap_or(0);
                Some(Usage {
                    prompt_tokens: prompt,
                    completion_tokens: completion,
                    total_tokens: p.total_tokens.unwrap_or(prompt.saturating_add(completion)),
                })
            }
        })
    }
}

/// `usage`: token counts, or `{}` (tool completions).
#[cfg(feature = "schema")]
fn usage_schema(g: &mut schemars::SchemaGenerator) -> schemars::Schema {
    let usage = g.subschema_for::<Usage>();
    schemars::json_schema!({
        "description": "Token counts of a model turn; `{}` for a tool completion.",
        "anyOf": [usage, {"type": "object", "additionalProperties": false}]
    })
}
