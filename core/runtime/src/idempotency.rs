//! `Idempotency-Key`s of `heroa serve`: a creating request sent again with the same
//! key is answered once and replayed after.

use rusqlite::params;

use super::Runtime;
use heroa_protocol::error::Result;

/// What the store knows of a key.
#[derive(Debug)]
pub enum IdempotencyRecord {
    /// Never used in this workspace.
    New,
    /// Used with a different request.
    Mismatch,
    /// Its request has not finished.
    InProgress,
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
            Some((_, 0, _)) => IdempotencyRecord::InProgress,
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
