//! The core's WHATWG event-stream decoder and agent-loop assembler for Python.

use pyo3::prelude::*;

use crate::errors::raise_class;

type EventTuple = (String, String, String, Option<u64>);

fn event_tuple(e: heroa::sse::Event) -> EventTuple {
    (e.event, e.data, e.id, e.retry)
}

/// Incremental `text/event-stream` decoder: feed byte chunks split anywhere.
#[pyclass(module = "heroa._native", name = "SseDecoder")]
pub struct SseDecoder(heroa::sse::Decoder);

#[pymethods]
impl SseDecoder {
    #[new]
    #[pyo3(signature = (last_event_id=None))]
    fn new(last_event_id: Option<String>) -> Self {
        SseDecoder(match last_event_id {
            Some(id) => heroa::sse::Decoder::with_last_event_id(id),
            None => heroa::sse::Decoder::new(),
        })
    }

    /// The events `chunk` completed: `(event, data, id, retry)` tuples.
    fn feed(&mut self, chunk: &[u8]) -> Vec<EventTuple> {
        self.0.feed(chunk).into_iter().map(event_tuple).collect()
    }

    /// End of stream: an unfinished event is discarded.
    fn finish(&mut self) {
        self.0.finish();
    }

    #[getter]
    fn last_event_id(&self) -> String {
        self.0.last_event_id().to_string()
    }

    #[getter]
    fn retry(&self) -> Option<u64> {
        self.0.retry()
    }

    #[getter]
    fn comments(&self) -> u64 {
        self.0.comments()
    }
}

fn agent_err(e: heroa::sse::AgentError) -> PyErr {
    raise_class("agent_stream", &e.to_string(), &[])
}

fn messages_json(m: Vec<heroa::sse::Message>) -> PyResult<String> {
    serde_json::to_string(&m).map_err(|e| crate::errors::to_pyerr(e.into()))
}

/// Assembles an agent stream (`chat.completion` / `tool.completion`, `done`) into
/// messages; `feed` and `finish` return them as JSON text.
#[pyclass(module = "heroa._native", name = "AgentLoop")]
pub struct NativeAgentLoop(heroa::sse::AgentLoop);

#[pymethods]
impl NativeAgentLoop {
    #[new]
    fn new() -> Self {
        NativeAgentLoop(heroa::sse::AgentLoop::new())
    }

    fn feed(&mut self, chunk: &[u8]) -> PyResult<String> {
        messages_json(self.0.feed(chunk).map_err(agent_err)?)
    }

    fn finish(&mut self) -> PyResult<String> {
        messages_json(self.0.finish().map_err(agent_err)?)
    }

    #[getter]
    fn is_done(&self) -> bool {
        self.0.is_done()
    }
}
