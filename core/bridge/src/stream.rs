//! Stream handles: a run's live events, pulled with `next()` and ended with
//! `close()` from any thread.

use heroa_client::RunStream;
use serde_json::Value;
use tokio::sync::Mutex;
use tokio_util::sync::CancellationToken;

use crate::ErrorEnvelope;

/// The arguments of `runs.events` besides `run_id`.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct StreamArgs {
    /// Resume after this event id (`Last-Event-ID`).
    pub last_event_id: Option<u64>,
}

/// An open stream. Each `next()` answers the next event as JSON (`{id, event,
/// data}`), or `None` once the stream has ended or was closed.
#[derive(Debug)]
pub struct StreamHandle {
    inner: Mutex<Option<RunStream>>,
    closed: CancellationToken,
}

impl StreamHandle {
    pub(crate) fn new(stream: RunStream) -> StreamHandle {
        StreamHandle {
            inner: Mutex::new(Some(stream)),
            closed: CancellationToken::new(),
        }
    }

    /// The next event; `None` at the end (after `done`) or once closed.
    pub async fn next(&self) -> Result<Option<Value>, ErrorEnvelope> {
        let mut guard = self.inner.lock().await;
        let Some(stream) = guard.as_mut() else {
            return Ok(None);
        };
        let next = crate::guarded("runs.events", async { Ok(stream.next().await) });
        let item = tokio::select! {
            biased;
            _ = self.closed.cancelled() => None,
            item = next => item?,
        };
        match item {
            None => {
                *guard = None;
                Ok(None)
            }
            Some(Err(e)) => {
                *guard = None;
                Err(e.into())
            }
            Some(Ok(ev)) => {
                let done = ev.is_done();
                let v = serde_json::to_value(&ev)
                    .map_err(|e| ErrorEnvelope::from(heroa_protocol::error::Error::from(e)))?;
                if done {
                    *guard = None;
                }
                Ok(Some(v))
            }
        }
    }

    /// Ends the stream (idempotent), also while a `next()` waits: that `next()`
    /// answers `None` and the connection is dropped.
    pub fn close(&self) {
        self.closed.cancel();
        if let Ok(mut g) = self.inner.try_lock() {
            *g = None;
        }
    }
}
