//! The runtime's files are its owner's alone: the data file, its WAL and
//! shared-memory files, the vault key file and the lock file are created 0600 (an
//! earlier build's 0644 file is tightened when opened), and another local user —
//! a real process under another uid, when the suite runs as root — cannot read any
//! of them, even in a directory open to everyone.
#![cfg(unix)]

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use heroa_protocol::{RegisterAgent, VaultPut};
use heroa_runtime::{Runtime, RuntimeOptions};

fn files(db: &Path) -> Vec<PathBuf> {
    ["", "-wal", "-shm", ".key", ".lock"]
        .iter()
        .map(|s| {
            let mut p = db.as_os_str().to_owned();
            p.push(s);
            PathBuf::from(p)
        })
        .filter(|p| p.exists())
        .collect()
}

/// Whether `nobody` (uid 65534) can read `path`: `cat` run under that uid.
fn nobody_reads(path: &Path) -> Option<bool> {
    // A file this process created is owned by its effective uid.
    let root = std::fs::metadata(path).unwrap().uid() == 0;
    if !root || Command::new("setpriv").arg("--version").output().is_err() {
        return None; // not root, or no setpriv: the mode bits are checked alone
    }
    let out = Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--",
            "cat",
        ])
        .arg(path)
        .output()
        .unwrap();
    Some(out.status.success())
}

fn open_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    // Everyone may enter the directory: only the files' own modes protect them.
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    dir
}

fn assert_private(db: &Path) {
    let found = files(db);
    assert!(
        found.len() >= 3,
        "expected the data, WAL and key files: {found:?}"
    );
    for f in found {
        let mode = std::fs::metadata(&f).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode & 0o077, 0, "{} is mode {mode:o}", f.display());
        if let Some(read) = nobody_reads(&f) {
            assert!(!read, "another user read {}", f.display());
        }
    }
}

#[test]
fn the_runtimes_files_are_private() {
    let dir = open_dir();
    let db = dir.path().join("heroa.db");
    let rt = Runtime::open(RuntimeOptions::file(&db)).unwrap();
    let ws = rt.default_workspace().to_string();
    let agent = rt
        .register_agent(
            &ws,
            serde_json::from_value::<RegisterAgent>(
                serde_json::json!({"name": "files", "region": "us-east"}),
            )
            .unwrap(),
        )
        .unwrap();
    rt.vault_put(
        &ws,
        serde_json::from_value::<VaultPut>(
            serde_json::json!({"agent_id": agent.id, "key": "tok", "value": "a-private-value"}),
        )
        .unwrap(),
    )
    .unwrap();
    assert_private(&db);
    drop(rt);
}

#[test]
fn an_earlier_builds_open_data_file_is_tightened() {
    let dir = open_dir();
    let db = dir.path().join("heroa.db");
    {
        // What an earlier build (or plain SQLite under umask 022) left: 0644 files.
        let c = rusqlite::Connection::open(&db).unwrap();
        c.pragma_update(None, "journal_mode", "WAL").unwrap();
        c.execute_batch("CREATE TABLE t(x); INSERT INTO t VALUES (1);")
            .unwrap();
        std::mem::forget(c); // keep the WAL as a crash would
    }
    for f in files(&db) {
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    if let Some(read) = nobody_reads(&db) {
        assert!(read, "the setup: another user reads a 0644 file");
    }
    let rt = Runtime::open(RuntimeOptions::file(&db)).unwrap();
    assert_private(&db);
    drop(rt);
}
