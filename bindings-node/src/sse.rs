//! The core's WHATWG `text/event-stream` decoder and agent-loop assembler for
//! JavaScript.
//!
//! A decoded batch crosses as one flat array of strings — `event, data, id, retry`
//! per event, `retry` as text or `""` — which the JavaScript layer (`lib/sse.js`)
//! folds into objects: four napi strings per event cost less than one object with
//! four properties built on this side.

use napi::bindgen_prelude::*;
use napi_derive::napi;

use crate::core_error;

/// Incremental decoder: feed byte chunks split anywhere.
#[napi]
pub struct NativeSseDecoder(heroa_sse::Decoder);

#[napi]
impl NativeSseDecoder {
    #[napi(constructor)]
    pub fn new(last_event_id: Option<String>) -> NativeSseDecoder {
        NativeSseDecoder(match last_event_id {
            Some(id) => heroa_sse::Decoder::with_last_event_id(id),
            None => heroa_sse::Decoder::new(),
        })
    }

    /// The events `chunk` completed, flat: `[event, data, id, retry, …]`.
    #[napi]
    pub fn feed(&mut self, chunk: &[u8]) -> Vec<String> {
        let events = self.0.feed(chunk);
        let mut flat = Vec::with_capacity(events.len() * 4);
        for e in events {
            flat.push(e.event);
            flat.push(e.data);
            flat.push(e.id);
            flat.push(e.retry.map(|r| r.to_string()).unwrap_or_default());
        }
        flat
    }

    /// End of stream: an unfinished event is discarded.
    #[napi]
    pub fn finish(&mut self) {
        self.0.finish();
    }

    #[napi(getter)]
    pub fn last_event_id(&self) -> String {
        self.0.last_event_id().to_string()
    }

    /// The reconnection time (ms) from the last valid `retry:` field.
    #[napi(getter)]
    pub fn retry(&self) -> Option<u32> {
        self.0.retry().map(|r| r.min(u32::MAX as u64) as u32)
    }

    /// Comment lines seen so far.
    #[napi(getter)]
    pub fn comments(&self) -> u32 {
        self.0.comments().min(u32::MAX as u64) as u32
    }
}

/// Assembles an agent stream (`chat.completion` / `tool.completion`, `done`) into
/// messages; `feed` and `finish` return them as JSON text.
#[napi]
pub struct NativeAgentLoop(heroa_sse::AgentLoop);

fn messages(
    r: std::result::Result<Vec<heroa_sse::Message>, heroa_sse::AgentError>,
) -> Result<String> {
    let m = r.map_err(|e| {
        core_error(heroa_protocol::error::Error::invalid(
            "stream",
            e.to_string(),
        ))
    })?;
    serde_json::to_string(&m)
        .map_err(|e| core_error(heroa_protocol::error::Error::internal("messages").with_source(e)))
}

#[napi]
impl NativeAgentLoop {
    #[napi(constructor)]
    pub fn new() -> NativeAgentLoop {
        NativeAgentLoop(heroa_sse::AgentLoop::new())
    }

    #[napi]
    pub fn feed(&mut self, chunk: &[u8]) -> Result<String> {
        messages(self.0.feed(chunk))
    }

    #[napi]
    pub fn finish(&mut self) -> Result<String> {
        messages(self.0.finish())
    }

    #[napi(getter)]
    pub fn is_done(&self) -> bool {
        self.0.is_done()
    }
}

impl Default for NativeAgentLoop {
    fn default() -> Self {
        NativeAgentLoop::new()
    }
}
