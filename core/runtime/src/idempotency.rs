//! `Idempotency-Key`s of `heroa serve`: a creating request sent again with the same
//! key is answered once and replayed after.
//!
//! A key's row goes: in progress (`status` 0) → applied (−1: the request's first
//! write committed, in the same transaction as that write) → answered (its HTTP
//! status, with the body to replay). A process that dies between the write and the
//! answer leaves the key applied: on restart it becomes "answer lost" (−2), and a
//! retry is refused instead of doing the work a second time. Keys that never wrote
//! are forgotten on restart.

use std::cell::Cell;
use std::future::Future;

use rusqlite::params;

use super::Runtime;
use heroa_protocol::error::Result;

/// `status` of a key whose request wrote, not yet answered.
const APPLIED: i64 = -1;
/// `status` of an applied key whose process died before answering.
const ANSWER_LOST: i64 = -2;

/// The key of the request this task is serving.
struct Scope {
    ws: String,
    key: String,
    marked: Cell<bool>,
}

tokio::task_local! {
    static SCOPE: Scope;
}

/// Inside a transaction that wrote: marks the current request's key applied (once).
pub(crate) fn mark_applied(tx: &rusqlite::Transaction<'_>) -> rusqlite::Result<()> {
    let scope = SCOPE.try_with(|s| (!s.marked.get()).then(|| (s.ws.clone(), s.key.clone())));
    if let Ok(Some((ws, key))) = scope {
        tx.execute(
            "UPDATE idempotency SET status = ?3 WHERE workspace_id = ?1 AND key = ?2 AND status = 0",
            params![ws, key, APPLIED],
        )?;
        let _ = SCOPE.try_with(|s| s.marked.set(true));
    }
    Ok(())
}

/// Whether this task serves a request whose key is not yet marked applied.
pub(crate) fn pending() -> bool {
    SCOPE.try_with(|s| !s.marked.get()).unwrap_or(false)
}

/// What the store knows of a key.
#[derive(Debug)]
pub enum IdempotencyRecord {
    /// Never used in this workspace.
    New,
    /// Used with a different request.
    Mismatch,
    /// Its request has not finished.
    InProgress,
    /// Its request wrote, but the process stopped before it answered: the answer
    /// is lost, and the work is not done again.
    AnswerLost,
    /// Answered: the status and body to replay.
    Done { status: u16, body: Vec<u8> },
}

impl Runtime {
    /// Looks `key` up for a request whose hash is `hash`; a new key is marked in
    /// progress.
    pub fn idempotency_begin(&self, ws: &str, key: &str, hash: &str) -> Result<IdempotencyRecord> {
        let store = &self.inner.store;
        let prior: Option<(String, i64, Vec<u8>)> = store
            .conn()
            .query_row(
                "SELECT request_hash, status, body FROM idempotency WHERE workspace_id = ?1 AND key = ?2",
                params![ws, key],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .ok();
        Ok(match prior {
            Some((h, _, _)) if h != hash => IdempotencyRecord::Mismatch,
            Some((_, 0 | APPLIED, _)) => IdempotencyRecord::InProgress,
            Some((_, ANSWER_LOST, _)) => IdempotencyRecord::AnswerLost,
            Some((_, status, body)) => IdempotencyRecord::Done {
                status: status as u16,
                body,
            },
            None => {
                store.exec(
                    "INSERT OR IGNORE INTO idempotency (workspace_id, key, request_hash, status, body) VALUES (?1, ?2, ?3, 0, x'')",
                    params![ws, key, hash],
                )?;
                IdempotencyRecord::New
            }
        })
    }

    /// Runs `request` (the handler of `key`'s request) so that its first write marks
    /// the key applied in the same transaction.
    pub async fn with_idempotency_key<F: Future>(
        &self,
        ws: &str,
        key: &str,
        request: F,
    ) -> F::Output {
        let scope = Scope {
            ws: ws.to_string(),
            key: key.to_string(),
            marked: Cell::new(false),
        };
        SCOPE.scope(scope, request).await
    }

    /// At start: keys of requests that died before writing are forgotten (a retry
    /// does the work); keys of those that wrote keep their place, answer lost.
    pub(crate) fn idempotency_recover(&self) -> Result<()> {
        let store = &self.inner.store;
        store.exec("DELETE FROM idempotency WHERE status = 0", [])?;
        store.exec(
            "UPDATE idempotency SET status = ?1 WHERE status = ?2",
            params![ANSWER_LOST, APPLIED],
        )?;
        Ok(())
    }

    /// Forgets `key` (its request failed, or answered a stream): it can be used again.
    pub fn idempotency_forget(&self, ws: &str, key: &str) -> Result<()> {
        self.inner.store.exec(
            "DELETE FROM idempotency WHERE workspace_id = ?1 AND key = ?2",
            params![ws, key],
        )?;
        Ok(())
    }

    /// Records the answer to replay for `key`.
    pub fn idempotency_complete(
        &self,
        ws: &str,
        key: &str,
        status: u16,
        body: &[u8],
    ) -> Result<()> {
        self.inner.store.exec(
            "UPDATE idempotency SET status = ?3, body = ?4 WHERE workspace_id = ?1 AND key = ?2",
            params![ws, key, status as i64, body],
        )?;
        Ok(())
    }
}
