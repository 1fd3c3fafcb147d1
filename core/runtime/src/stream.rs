//! A run's live event stream: its audit chain as it grows, then `done`.
//!
//! Event ids are the audit sequence numbers, so a consumer that resumes after the
//! last id it saw gets exactly the events it missed — no gaps, no repeats — even
//! across a restart of the runtime. Agent-loop messages (`chat.completion`,
//! `tool.completion`) are audit events of type `message` whose data is the completion
//! object; every other event carries the whole audit event (`seq`, `at`, `type`,
//! `data`, `prev_hash`, `hash`), so a consumer can verify the chain as it streams.

use std::collections::VecDeque;
use std::time::Duration;

use serde_json::Value;
use tokio::sync::watch;

use super::Runtime;
use super::runs::Progress;
use heroa_protocol::error::Result;
use heroa_protocol::{AuditEvent, DONE, RunEvent};

/// The events of one run, from a position on; see the module docs.
pub struct RunEvents {
    rt: Runtime,
    ws: String,
    run_id: String,
    next: u64,
    buf: VecDeque<RunEvent>,
    rx: Option<watch::Receiver<Progress>>,
    done: bool,
}

impl std::fmt::Debug for RunEvents {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunEvents")
            .field("run_id", &self.run_id)
            .field("next", &self.next)
            .finish()
    }
}

impl Runtime {
    /// The run's events after `last_event_id` (from the start for `None`).
    pub fn run_events(
        &self,
        ws: &str,
        run_id: &str,
        last_event_id: Option<u64>,
    ) -> Result<RunEvents> {
        let rx = self.watch_run(run_id);
        self.get_run(ws, run_id)?;
        Ok(RunEvents {
            rt: self.clone(),
            ws: ws.to_string(),
            run_id: run_id.to_string(),
            next: last_event_id.map_or(0, |l| l.saturating_add(1)),
            buf: VecDeque::new(),
            rx,
            done: false,
        })
    }
}

impl RunEvents {
    /// The next event; `None` after `done`.
    pub async fn next(&mut self) -> Option<Result<RunEvent>> {
        loop {
            if let Some(e) = self.buf.pop_front() {
                self.next = e.id + 1;
                return Some(Ok(e));
            }
            if self.done {
                return None;
            }
            let fresh: Result<Vec<AuditEvent>> = self.rt.inner.store.list(
                "SELECT data FROM audit_events WHERE run_id = ?1 AND seq >= ?2 ORDER BY seq LIMIT 256",
                rusqlite::params![self.run_id, self.next as i64],
            );
            match fresh {
                Err(e) => return Some(Err(e)),
                Ok(events) if !events.is_empty() => {
                    self.buf
                        .extend(events.into_iter().map(RunEvent::from_audit));
                    continue;
                }
                Ok(_) => {}
            }
            match self.rt.get_run(&self.ws, &self.run_id) {
                Err(e) => return Some(Err(e)),
                Ok(run) if run.status.is_terminal() => {
                    self.done = true;
                    return Some(Ok(RunEvent {
                        id: self.next,
                        event: DONE.into(),
                        data: Value::String("[DONE]".into()),
                    }));
                }
                Ok(_) => {}
            }
            match &mut self.rx {
                Some(rx) => {
                    if rx.changed().await.is_err() {
                        self.rx = None;
                    }
                }
                None => {
                    // Not live in this process yet (e.g. queued, about to resume).
                    self.rx = self.rt.watch_run(&self.run_id);
                    if self.rx.is_none() {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                }
            }
        }
    }

    /// The id of the last event returned (what to resume after).
    pub fn last_event_id(&self) -> Option<u64> {
        self.next.checked_sub(1)
    }
}
