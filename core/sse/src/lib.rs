//! Server-sent events (`text/event-stream`): an incremental decoder exact to the
//! [WHATWG event-stream interpretation rules][spec], an encoder for servers, an
//! optional [`Stream`](futures_core::Stream) adapter, and the [`AgentLoop`]
//! assembler that turns Heroa's agent stream (`chat.completion` /
//! `tool.completion` objects, `done`) into typed [`Message`]s.
//!
//! Self-contained: it depends only on `serde`, `serde_json`, `thiserror`,
//! `memchr` and `futures-core`.
//!
//! # Decoding
//!
//! [`Decoder`] is fed byte chunks exactly as they arrive from the network, split
//! anywhere (inside a UTF-8 sequence, between the CR and LF of a CRLF, inside
//! the BOM), and returns the events completed so far. It runs in time linear in
//! the input whatever the chunking: an unfinished line is never rescanned, and a
//! long `data:` line streams straight into the event's data buffer.
//!
//! ```
//! use heroa_sse::{Decoder, Event, Item};
//!
//! let mut decoder = Decoder::new();
//! // A CRLF split across chunks, and a keep-alive comment.
//! assert!(decoder.feed(b"\xEF\xBB\xBFid: 7\r").is_empty());
//! assert!(decoder.feed(b"\n: ping\ndata: caf\xC3").is_empty());
//! let events = decoder.feed(b"\xA9\n\n");
//! assert_eq!(events, vec![Event::message("caf\u{e9}").with_id("7")]);
//! assert_eq!(decoder.last_event_id(), "7");
//! assert_eq!(decoder.comments(), 1);
//! decoder.finish(); // end of stream: an unfinished event would be dropped
//!
//! // `feed_items` also reports comments and `retry` fields, in order.
//! let mut items = Vec::new();
//! decoder.feed_items(b"retry: 3000\n: ka\n\n", &mut items);
//! assert_eq!(items, vec![Item::Retry(3000), Item::Comment("ka".into())]);
//! assert_eq!(decoder.retry(), Some(3000));
//! ```
//!
//! # Encoding
//!
//! ```
//! use heroa_sse::{Event, comment, encode};
//!
//! let e = Event::new("status", "line 1\nline 2").with_id("42");
//! assert_eq!(encode(&e), "event: status\nid: 42\ndata: line 1\ndata: line 2\n\n");
//! assert_eq!(comment("keep-alive"), ": keep-alive\n");
//! ```
//!
//! # The agent loop
//!
//! ```
//! use heroa_sse::{AgentLoop, Message};
//!
//! let mut agent = AgentLoop::new();
//! let mut messages = agent.feed(concat!(
//!     "event: status\ndata: {\"state\":\"running\"}\n\n",
//!     "event: message\ndata: {\"id\":\"c1\",\"object\":\"chat.completion\",\"created\":1,",
//!     "\"model\":\"m\",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",",
//!     "\"content\":\"Hi\"},\"finish_reason\":\"stop\"}],\"usage\":{}}\n\n",
//! ).as_bytes())?;
//! messages.extend(agent.feed(b"event: done\ndata: [DONE]\n\n")?);
//! messages.extend(agent.finish()?);
//! assert!(matches!(&messages[0], Message::Other { event, .. } if event == "status"));
//! assert!(matches!(&messages[1], Message::Assistant { content, .. } if content == "Hi"));
//! assert_eq!(messages[2], Message::Done);
//! # Ok::<(), heroa_sse::AgentError>(())
//! ```
//!
//! [spec]: https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation

#![forbid(unsafe_code)]

mod agent;
mod decoder;
mod encode;
mod stream;

#[cfg(test)]
mod tests;

pub use agent::{
    AgentError, AgentLoop, Choice, ChoiceMessage, Completion, CompletionToolCall, FunctionCall,
    Message, ToolCall, Usage,
};
pub use decoder::Decoder;
pub use encode::{comment, encode, encode_into};
pub use stream::EventStream;

use serde::{Deserialize, Serialize};

/// One dispatched event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub struct Event {
    /// The event type: the last `event:` field of the event, or `message`.
    pub event: String,
    /// The data lines joined with LF (the final LF removed).
    pub data: String,
    /// The last event id at dispatch time (carried over from earlier events).
    pub id: String,
    /// A valid `retry:` field seen while this event was being built, if any
    /// (the new reconnection time in milliseconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry: Option<u64>,
}

impl Event {
    /// An event of type `event` carrying `data`, with no id and no retry.
    pub fn new(event: impl Into<String>, data: impl Into<String>) -> Self {
        Event {
            event: event.into(),
            data: data.into(),
            id: String::new(),
            retry: None,
        }
    }

    /// A `message` event carrying `data`.
    pub fn message(data: impl Into<String>) -> Self {
        Event::new("message", data)
    }

    /// Sets the id (builder style).
    pub fn with_id(mut self, id: impl Into<String>) -> Self {
        self.id = id.into();
        self
    }

    /// Sets the retry (builder style).
    pub fn with_retry(mut self, retry_ms: u64) -> Self {
        self.retry = Some(retry_ms);
        self
    }
}

/// Everything the decoder can observe, for callers that want more than events:
/// see [`Decoder::feed_items`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Item {
    /// A dispatched event.
    Event(Event),
    /// A comment line (`:` ...), e.g. a keep-alive; the text after the colon,
    /// one leading space removed.
    Comment(String),
    /// A valid `retry:` field (new reconnection time in milliseconds), reported
    /// when the line is read, even if its event is never dispatched.
    Retry(u64),
}
