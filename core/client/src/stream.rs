//! `client.runs().stream(run_id)`: a run's events as an async iterator, on both
//! transports. Remote streams reconnect when the connection drops, sending
//! `Last-Event-ID` so nothing is lost or repeated, and wait the server's `retry`
//! interval (default 1 s) between attempts.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use super::Transport;
use super::remote::seg;
use heroa_protocol::error::{Error, ErrorKind, Result};
use heroa_protocol::{DONE, RunEvent};
#[cfg(feature = "embedded")]
use heroa_runtime::RunEvents;
use heroa_sse::Decoder;

/// Reconnection attempts in a row before the stream gives up.
const MAX_RECONNECTS: u32 = 10;

/// A run's event stream; see the module docs.
pub struct RunStream {
    inner: Inner,
}

impl std::fmt::Debug for RunStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RunStream")
    }
}

enum Inner {
    #[cfg(feature = "embedded")]
    Embedded(RunEvents),
    Remote(Box<RemoteStream>),
}

struct RemoteStream {
    t: Arc<Transport>,
    path: String,
    last_id: Option<u64>,
    resp: Option<reqwest::Response>,
    decoder: Decoder,
    pending: VecDeque<RunEvent>,
    retry: Duration,
    failures: u32,
    reconnects: u32,
    done: bool,
}

impl RunStream {
    #[cfg(feature = "embedded")]
    pub(super) fn embedded(events: RunEvents) -> RunStream {
        RunStream {
            inner: Inner::Embedded(events),
        }
    }

    pub(super) fn remote(t: Arc<Transport>, run_id: &str, last_event_id: Option<u64>) -> RunStream {
        RunStream {
            inner: Inner::Remote(Box::new(RemoteStream {
                t,
                path: format!("/v1/runs/{}/events", seg(run_id)),
                last_id: last_event_id,
                resp: None,
                decoder: Decoder::new(),
                pending: VecDeque::new(),
                retry: Duration::from_secs(1),
                failures: 0,
                reconnects: 0,
                done: false,
            })),
        }
    }

    /// The next event; `None` after `done`.
    pub async fn next(&mut self) -> Option<Result<RunEvent>> {
        match &mut self.inner {
            #[cfg(feature = "embedded")]
            Inner::Embedded(e) => e.next().await,
            Inner::Remote(r) => r.next().await,
        }
    }

    /// Reconnections made so far (remote streams).
    pub fn reconnects(&self) -> u32 {
        match &self.inner {
            #[cfg(feature = "embedded")]
            Inner::Embedded(_) => 0,
            Inner::Remote(r) => r.reconnects,
        }
    }
}

fn to_run_event(e: heroa_sse::Event) -> Result<RunEvent> {
    let id = e.id.parse::<u64>().map_err(|_| {
        Error::internal(format!(
            "the server sent an event without a numeric id ({:?})",
            e.id
        ))
    })?;
    let data = if e.event == DONE {
        Value::String(e.data)
    } else {
        serde_json::from_str(&e.data).map_err(|err| {
            Error::internal("the server sent event data that is not JSON").with_source(err)
        })?
    };
    Ok(RunEvent {
        id,
        event: e.event,
        data,
    })
}

impl RemoteStream {
    async fn next(&mut self) -> Option<Result<RunEvent>> {
        loop {
            if let Some(e) = self.pending.pop_front() {
                self.last_id = Some(e.id);
                self.done = e.is_done();
                return Some(Ok(e));
            }
            if self.done {
                return None;
            }
            #[cfg_attr(not(feature = "embedded"), allow(irrefutable_let_patterns))]
            let Transport::Remote(remote) = &*self.t else {
                return Some(Err(Error::internal(
                    "a remote stream needs the remote transport",
                )));
            };
            if self.resp.is_none() {
                if self.failures > 0 {
                    tokio::time::sleep(self.retry).await;
                }
                match remote.open_stream(&self.path, self.last_id).await {
                    Ok(r) => {
                        self.reconnects += u32::from(self.failures > 0);
                        self.resp = Some(r);
                        self.decoder = Decoder::new();
                    }
                    Err(e) if e.kind().is_retryable() && self.failures < MAX_RECONNECTS => {
                        self.failures += 1;
                        continue;
                    }
                    Err(e) => {
                        self.done = true;
                        return Some(Err(e));
                    }
                }
            }
            let resp = self.resp.as_mut().expect("connected above");
            match resp.chunk().await {
                Ok(Some(bytes)) => {
                    self.failures = 0;
                    for ev in self.decoder.feed(&bytes) {
                        match to_run_event(ev) {
                            Ok(e) => self.pending.push_back(e),
                            Err(err) => return Some(Err(err)),
                        }
                    }
                    if let Some(ms) = self.decoder.retry() {
                        self.retry = Duration::from_millis(ms);
                    }
                }
                Ok(None) | Err(_) => {
                    // Dropped before `done`: resume after the last event we returned.
                    self.resp = None;
                    self.failures += 1;
                    if self.failures > MAX_RECONNECTS {
                        self.done = true;
                        return Some(Err(Error::new(
                            ErrorKind::Transport,
                            format!("the event stream dropped {MAX_RECONNECTS} times in a row"),
                        )));
                    }
                }
            }
        }
    }
}
