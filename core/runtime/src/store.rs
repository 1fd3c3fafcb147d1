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
use serde_json::Value;

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

/// One migration: SQL, or a function over the open transaction (for rewrites of the
/// stored JSON that SQL cannot say simply).
enum Migration {
    Sql(&'static str),
    Rust(fn(&rusqlite::Transaction) -> Result<()>),
}

/// The schema's migrations, in order: migration `n` (1-based) takes a file from
/// `user_version` `n - 1` to `n`. Append, never edit: files in the field have run
/// the ones before. Each runs in one transaction with its version bump.
const MIGRATIONS: &[Migration] = &[
    Migration::Sql(SCHEMA),
    // 2: lookups by (workspace, id) for the lists' cursors, newest last.
    Migration::Sql(
        r#"
CREATE INDEX IF NOT EXISTS agents_by_workspace ON agents (workspace_id, id);
CREATE INDEX IF NOT EXISTS runs_by_workspace ON runs (workspace_id, id);
CREATE INDEX IF NOT EXISTS deployments_by_workspace ON deployments (workspace_id, id);
CREATE INDEX IF NOT EXISTS approvals_by_workspace ON approvals (workspace_id, id);
CREATE INDEX IF NOT EXISTS deliveries_by_workspace ON deliveries (workspace_id, id);
"#,
    ),
    // 3: money as exact decimal strings (it was stored as JSON numbers).
    Migration::Rust(money_as_decimal_strings),
];

/// Migration 3: every stored amount of money that is a JSON number becomes the
/// decimal string the protocol now carries (rounded to the micro-dollar, which is
/// what the runtime counted in): a run's `cost_usd`, an agent's model prices, and
/// the same fields of stored idempotent answers. Audit events keep their bytes (their
/// hashes cover them).
fn money_as_decimal_strings(tx: &rusqlite::Transaction) -> Result<()> {
    fn fix(v: &mut Value, key: &str) -> bool {
        let Some(slot) = v.get_mut(key) else {
            return false;
        };
        let Some(usd) = slot.as_f64() else {
            return false;
        };
        let micros = (usd * 1_000_000.0)
            .round()
            .clamp(0.0, heroa_protocol::MAX_USD_MICROS as f64);
        let amount = heroa_protocol::Usd::from_micros(micros as i64).unwrap_or_default();
        *slot = Value::String(amount.to_string());
        true
    }
    fn fix_run(v: &mut Value) -> bool {
        fix(v, "cost_usd")
    }
    fn fix_agent(v: &mut Value) -> bool {
        let mut changed = false;
        if let Some(configs) = v.get_mut("llm_configs").and_then(Value::as_array_mut) {
            for cfg in configs {
                changed |= fix(cfg, "prompt_usd_per_1k");
                changed |= fix(cfg, "completion_usd_per_1k");
            }
        }
        changed
    }
    fn fix_answer(v: &mut Value) -> bool {
        fix_run(v) | fix_agent(v)
    }
    /// (table, JSON column, whether the column holds bytes, the rewrite)
    type Rewrite = (&'static str, &'static str, bool, fn(&mut Value) -> bool);
    let tables: [Rewrite; 3] = [
        ("runs", "data", false, fix_run),
        ("agents", "data", false, fix_agent),
        ("idempotency", "body", true, fix_answer),
    ];
    for (table, column, bytes, rewrite) in tables {
        let rows: Vec<(i64, Vec<u8>)> = tx
            .prepare(&format!(
                "SELECT rowid, CAST({column} AS BLOB) FROM {table}"
            ))?
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
        let update = format!("UPDATE {table} SET {column} = ?1 WHERE rowid = ?2");
        for (rowid, stored) in rows {
            let Ok(mut v) = serde_json::from_slice::<Value>(&stored) else {
                continue;
            };
            if rewrite(&mut v) {
                let text = serde_json::to_string(&v)?;
                if bytes {
                    tx.execute(&update, params![text.into_bytes(), rowid])?;
                } else {
                    tx.execute(&update, params![text, rowid])?;
                }
            }
        }
    }
    Ok(())
}

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

/// Makes the data file readable and writable by its owner only (0600): created so
/// when new, tightened when an earlier build left it (or its WAL and shared-memory
/// files) open to others. SQLite gives the WAL and shared-memory files it creates
/// the data file's permissions, so they follow.
fn private_files(path: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
        {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
        for suffix in ["", "-wal", "-shm"] {
            let mut p = path.as_os_str().to_owned();
            p.push(suffix);
            match std::fs::metadata(&p) {
                Ok(m) if m.permissions().mode() & 0o077 != 0 => {
                    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600))?;
                }
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// Brings the file from schema version `found` up to [`SCHEMA_VERSION`].
fn migrate(conn: &mut Connection, found: usize) -> Result<()> {
    for (i, migration) in MIGRATIONS.iter().enumerate().skip(found) {
        let tx = conn.transaction()?;
        match migration {
            Migration::Sql(sql) => tx.execute_batch(sql)?,
            Migration::Rust(f) => f(&tx)?,
        }
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
        if let Some(p) = path {
            private_files(p).map_err(|e| {
                Error::new(
                    heroa_protocol::error::ErrorKind::Unavailable,
                    format!("cannot make the data file {} private", p.display()),
                )
                .with_source(e)
            })?;
        }
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
        let before = tx.total_changes();
        let out = f(&tx)?;
        if tx.total_changes() != before {
            crate::idempotency::mark_applied(&tx)?;
        }
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

    /// One page of `table`'s rows whose columns equal `filters` (column, value), in id
    /// order: at most `page.limit()` rows after the cursor, which is the last id of
    /// the page before (checked to be an id with `prefix`; the error names `cursor`).
    pub(crate) fn page<T: DeserializeOwned>(
        &self,
        table: &str,
        prefix: &str,
        filters: &[(&str, &str)],
        page: &heroa_protocol::Page,
    ) -> Result<heroa_protocol::List<T>> {
        let limit = page.limit()?;
        let mut sql = format!("SELECT id, data FROM {table} WHERE ");
        let mut args: Vec<&str> = Vec::with_capacity(filters.len() + 1);
        for (i, (column, value)) in filters.iter().enumerate() {
            sql.push_str(&format!("{column} = ?{} AND ", i + 1));
            args.push(value);
        }
        if let Some(cursor) = &page.cursor {
            heroa_protocol::ids::check_id("cursor", prefix, cursor).map_err(|_| {
                Error::invalid(
                    "cursor",
                    "cursor must be the next_cursor of a page of this list",
                )
            })?;
            sql.push_str(&format!("id > ?{} AND ", args.len() + 1));
            args.push(cursor);
        }
        sql.push_str(&format!("1 ORDER BY id LIMIT {}", u64::from(limit) + 1));
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(&sql)?;
        let rows = stmt.query_map(rusqlite::params_from_iter(args), |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
        })?;
        let mut items = Vec::new();
        let mut last = None;
        for row in rows {
            let (id, data) = row?;
            if items.len() == limit as usize {
                // One more row exists: this page ends at the one before.
                return Ok(heroa_protocol::List {
                    items,
                    next_cursor: last,
                });
            }
            items.push(from_json(&data)?);
            last = Some(id);
        }
        Ok(heroa_protocol::List::all(items))
    }

    /// Executes one statement.
    pub(crate) fn exec(&self, sql: &str, params: impl rusqlite::Params) -> Result<usize> {
        let mut conn = self.conn();
        if crate::idempotency::pending() {
            // The first write of a request with an Idempotency-Key: the key is
            // marked applied in the same transaction.
            let tx = conn.transaction()?;
            let n = tx.prepare_cached(sql)?.execute(params)?;
            if n > 0 {
                crate::idempotency::mark_applied(&tx)?;
            }
            tx.commit()?;
            return Ok(n);
        }
        Ok(conn.prepare_cached(sql)?.execute(params)?)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migration_3_turns_stored_money_into_decimal_strings_and_keeps_the_rest() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn, 0).unwrap();
        conn.pragma_update(None, "user_version", 2).unwrap();
        conn.execute_batch(
            r#"
INSERT INTO runs VALUES ('run_1', 'ws', 'ag', 'complete', '{"id":"run_1","cost_usd":0.35,"input":{"cost_usd":1.5}}');
INSERT INTO runs VALUES ('run_2', 'ws', 'ag', 'complete', '{"id":"run_2","cost_usd":"0.1"}');
INSERT INTO agents VALUES ('ag', 'ws', 'a', '{"id":"ag","llm_configs":[{"provider":"offline","prompt_usd_per_1k":0.0025,"completion_usd_per_1k":10}]}');
INSERT INTO idempotency VALUES ('ws', 'k', 'h', 201, CAST('{"id":"run_3","cost_usd":1e-6}' AS BLOB));
INSERT INTO idempotency VALUES ('ws', 'k2', 'h', 201, CAST('not json' AS BLOB));
"#,
        )
        .unwrap();
        migrate(&mut conn, 2).unwrap();
        let text = |sql: &str| -> String { conn.query_row(sql, [], |r| r.get(0)).unwrap() };
        assert_eq!(
            text("SELECT data FROM runs WHERE id = 'run_1'"),
            r#"{"id":"run_1","cost_usd":"0.35","input":{"cost_usd":1.5}}"#
        );
        assert_eq!(
            text("SELECT data FROM runs WHERE id = 'run_2'"),
            r#"{"id":"run_2","cost_usd":"0.1"}"#
        );
        assert_eq!(
            text("SELECT data FROM agents"),
            r#"{"id":"ag","llm_configs":[{"provider":"offline","prompt_usd_per_1k":"0.0025","completion_usd_per_1k":"10"}]}"#
        );
        let body = |key: &str| -> Vec<u8> {
            conn.query_row("SELECT body FROM idempotency WHERE key = ?1", [key], |r| {
                r.get(0)
            })
            .unwrap()
        };
        assert_eq!(body("k"), br#"{"id":"run_3","cost_usd":"0.000001"}"#);
        assert_eq!(body("k2"), b"not json");
        let version: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(version as usize, SCHEMA_VERSION);
    }
}
