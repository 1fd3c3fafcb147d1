//! Persistence: one SQLite database (a file, or memory) in WAL mode.
//!
//! Every resource is a row holding its JSON plus the columns it is looked up by. Each
//! acknowledged write is a committed transaction before the call returns; WAL with
//! `synchronous = NORMAL` keeps committed transactions across a crash of the process
//! (`kill -9`); `HEROA_SYNC=full` (or [`Durability::Full`]) also survives power loss at
//! the cost of an fsync per commit. Audit rows are append-only: triggers refuse
//! `UPDATE` and `DELETE` on them.

use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
use serde::de::DeserializeOwned;

use heroa_protocol::error::{Error, Result};

/// How hard each commit is pushed to disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// Survives a crash of the process (the default).
    #[default]
    Process,
    /// Also survives an OS crash or power loss (fsync on every commit).
    Full,
}

/// The schema as of the first release (schema version 1). Files of that release carry
/// `user_version` 0 and exactly these tables; the statements are idempotent, so
/// migration 1 applies to them as it does to a new file.
const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS workspaces (id TEXT PRIMARY KEY, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS api_keys (
  id TEXT PRIMARY KEY, workspace_id TEXT NOT NULL, hash TEXT NOT NULL UNIQUE, created_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS agents (
  id TEXT PRIMARY KEY, workspace_id TEXT NOT NULL, name TEXT NOT NULL, data TEXT NOT NULL,
  UNIQUE (workspace_id, name));
CREATE TABLE IF NOT EXISTS vault (
  id TEXT PRIMARY KEY, workspace_id TEXT NOT NULL, owner TEXT NOT NULL, key TEXT NOT NULL,
  sealed BLOB NOT NULL, data TEXT NOT NULL, UNIQUE (workspace_id, owner, key));
CREATE TABLE IF NOT EXISTS policies (
  id TEXT PRIMARY KEY, workspace_id TEXT NOT NULL, agent_id TEXT NOT NULL, version INTEGER NOT NULL,
  data TEXT NOT NULL, UNIQUE (agent_id, version));
CREATE TABLE IF NOT EXISTS runs (
  id TEXT PRIMARY KEY, workspace_id TEXT NOT NULL, agent_id TEXT NOT NULL, status TEXT NOT NULL,
  data TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS runs_by_status ON runs (status);
CREATE INDEX IF NOT EXISTS runs_by_agent ON runs (workspace_id, agent_id);
CREATE TABLE IF NOT EXISTS audit_events (
  run_id TEXT NOT NULL, seq INTEGER NOT NULL, data TEXT NOT NULL, PRIMARY KEY (run_id, seq));
CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit_events
  BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit_events
  BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END;
CREATE TABLE IF NOT EXISTS approvals (
  id TEXT PRIMARY KEY, workspace_id TEXT NOT NULL, run_id TEXT NOT NULL, status TEXT NOT NULL,
  data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS inbox (id TEXT PRIMARY KEY, workspace_id TEXT NOT NULL, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS agent_secrets (
  agent_id TEXT NOT NULL, name TEXT NOT NULL, workspace_id TEXT NOT NULL, sealed BLOB NOT NULL,
  PRIMARY KEY (agent_id, name));
CREATE TABLE IF NOT EXISTS deliveries (
  id TEXT PRIMARY KEY, workspace_id TEXT NOT NULL, agent_id TEXT NOT NULL, status TEXT NOT NULL,
  next_attempt_ms INTEGER NOT NULL, data TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries (status, next_attempt_ms);
CREATE TABLE IF NOT EXISTS deployments (
  id TEXT PRIMARY KEY, workspace_id TEXT NOT NULL, name TEXT NOT NULL, idempotency_key TEXT,
  status TEXT NOT NULL, expires_ms INTEGER, data TEXT NOT NULL, prepared TEXT,
  UNIQUE (workspace_id, name));
CREATE UNIQUE INDEX IF NOT EXISTS deployments_by_key ON deployments (workspace_id, idempotency_key)
  WHERE idempotency_key IS NOT NULL;
CREATE INDEX IF NOT EXISTS deployments_expiring ON deployments (expires_ms)
  WHERE status IN ('starting', 'running') AND expires_ms IS NOT NULL;
CREATE TABLE IF NOT EXISTS schedules (
  agent_id TEXT PRIMARY KEY, workspace_id TEXT NOT NULL, cron TEXT NOT NULL, next_ms INTEGER NOT NULL,
  last_slot_ms INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS idempotency (
  workspace_id TEXT NOT NULL, key TEXT NOT NULL, request_hash TEXT NOT NULL, status INTEGER NOT NULL,
  body BLOB NOT NULL, PRIMARY KEY (workspace_id, key));
"#;

/// The schema's migrations, in order: migration `n` (1-based) takes a file from
/// `user_version` `n - 1` to `n`. Append, never edit: files in the field have run
/// the ones before. Each runs in one transaction with its version bump.
const MIGRATIONS: &[&str] = &[
    SCHEMA,
    // 2: lookups by (workspace, id) for the lists' cursors, newest last.
    r#"
CREATE INDEX IF NOT EXISTS agents_by_workspace ON agents (workspace_id, id);
CREATE INDEX IF NOT EXISTS runs_by_workspace ON runs (workspace_id, id);
CREATE INDEX IF NOT EXISTS deployments_by_workspace ON deployments (workspace_id, id);
CREATE INDEX IF NOT EXISTS approvals_by_workspace ON approvals (workspace_id, id);
CREATE INDEX IF NOT EXISTS deliveries_by_workspace ON deliveries (workspace_id, id);
"#,
];

/// Guards re-asserted on every open, whatever the schema version: someone with write
/// access to the file who dropped them gets them back (and the audit chain still
/// shows what they changed meanwhile).
const GUARDS: &str = r#"
CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit_events
  BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit_events
  BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END;
"#;

/// The schema version this build writes.
pub const SCHEMA_VERSION: usize = MIGRATIONS.len();

/// The file's schema version; refuses a file from a newer build before anything is
/// written to it.
fn schema_version(conn: &Connection, path: Option<&Path>) -> Result<usize> {
    let found: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    let found = usize::try_from(found).unwrap_or(usize::MAX);
    if found > SCHEMA_VERSION {
        return Err(Error::new(
            heroa_protocol::error::ErrorKind::FailedPrecondition,
            format!(
                "the data file{} has schema version {found}, written by a newer Heroa; this build knows versions up to {SCHEMA_VERSION}",
                path.map(|p| format!(" {}", p.display()))
                    .unwrap_or_default()
            ),
        ));
    }
    Ok(found)
}

/// Brings the file from schema version `found` up to [`SCHEMA_VERSION`].
fn migrate(conn: &mut Connection, found: usize) -> Result<()> {
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(found) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", (i + 1) as i64)?;
        tx.commit()?;
    }
    Ok(())
}

/// The database. All access goes through one connection behind a mutex; statements
/// are short and cached.
pub struct Store {
    conn: Mutex<Connection>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Store")
    }
}

/// A JSON row to insert or replace: table, id, and the extra lookup columns.
pub(crate) fn to_json<T: Serialize>(v: &T) -> Result<String> {
    Ok(serde_json::to_string(v)?)
}

fn from_json<T: DeserializeOwned>(text: &str) -> Result<T> {
    serde_json::from_str(text)
        .map_err(|e| Error::internal("stored data could not be read").with_source(e))
}

impl Store {
    /// Opens (creating if needed) the database at `path`, or in memory for `None`.
    pub fn open(path: Option<&Path>, durability: Durability) -> Result<Self> {
        let conn = match path {
            Some(p) => Connection::open(p).map_err(|e| {
                Error::new(
                    heroa_protocol::error::ErrorKind::Unavailable,
                    format!("cannot open the data file {}", p.display()),
                )
                .with_source(e)
            })?,
            None => Connection::open_in_memory()?,
        };
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        let found = schema_version(&conn, path)?;
        if path.is_some() {
            conn.pragma_update(None, "journal_mode", "WAL")?;
        }
        let sync = match durability {
            Durability::Process => "NORMAL",
            Durability::Full => "FULL",
        };
        conn.pragma_update(None, "synchronous", sync)?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        let mut conn = conn;
        migrate(&mut conn, found)?;
        conn.execute_batch(GUARDS)?;
        Ok(Store {
            conn: Mutex::new(conn),
        })
    }

    /// The connection, for a sequence of statements.
    pub(crate) fn conn(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs `f` in one transaction.
    pub(crate) fn tx<T>(
        &self,
        f: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<T>,
    ) -> Result<T> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let out = f(&tx)?;
        tx.commit()?;
        Ok(out)
    }

    /// A meta value.
    pub(crate) fn meta(&self, key: &str) -> Result<Option<String>> {
        Ok(self
            .conn()
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()?)
    }

    /// Sets a meta value.
    pub(crate) fn set_meta(&self, key: &str, value: &str) -> Result<()> {
        self.conn().execute(
            "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = ?2",
            params![key, value],
        )?;
        Ok(())
    }

    /// One JSON row by a query returning its `data` column.
    pub(crate) fn get<T: DeserializeOwned>(
        &self,
        sql: &str,
        params: impl rusqlite::Params,
    ) -> Result<Option<T>> {
        let conn = self.conn();
        let text: Option<String> = conn
            .prepare_cached(sql)?
            .query_row(params, |r| r.get(0))
            .optional()?;
        text.map(|t| from_json(&t)).transpose()
    }

    /// Many JSON rows by a query returning their `data` column.
    pub(crate) fn list<T: DeserializeOwned>(
        &self,
        sql: &str,
        params: impl rusqlite::Params,
    ) -> Result<Vec<T>> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(sql)?;
        let rows = stmt.query_map(params, |r| r.get::<_, String>(0))?;
        let mut out = Vec::new();
        for row in rows {
            out.push(from_json(&row?)?);
        }
        Ok(out)
    }

    /// Executes one statement.
    pub(crate) fn exec(&self, sql: &str, params: impl rusqlite::Params) -> Result<usize> {
        Ok(self.conn().prepare_cached(sql)?.execute(params)?)
    }
}

/// Reads one JSON row inside a transaction.
pub(crate) fn tx_get<T: DeserializeOwned>(
    tx: &rusqlite::Transaction<'_>,
    sql: &str,
    params: impl rusqlite::Params,
) -> Result<Option<T>> {
    let text: Option<String> = tx
        .prepare_cached(sql)?
        .query_row(params, |r| r.get(0))
        .optional()?;
    text.map(|t| from_json(&t)).transpose()
}

/// Whether an error is a UNIQUE constraint violation.
pub(crate) fn is_unique_violation(e: &rusqlite::Error) -> bool {
    matches!(
        e,
        rusqlite::Error::SqliteFailure(f, _) if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
            || f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
    )
}
