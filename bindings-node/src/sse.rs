//! The core's agent-loop assembler for JavaScript. (The event-stream decoder
//! itself is written in JavaScript, `lib/sse.js`: a call into the addon per chunk
//! costs more than decoding the chunk there.)

use napi::bindgen_prelude::*;
use napi_derive::napi;

use crate::core_error;

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
