//! A file-backed runtime: identities, vault values and runs survive a reopen; the
//! audit table refuses updates and deletes; tampering with the file is detected.

use std::time::Duration;

use heroa::protocol::{PromotionLevel, RegisterAgent, RunStatus, SkillKind, VaultPut};
use heroa::{Client, ErrorKind, Runtime, RuntimeOptions, Skill};
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;

fn open(path: &std::path::Path) -> Client {
    let rt = Runtime::open(RuntimeOptions::file(path)).unwrap();
    rt.register_skill(Skill::new("token:len", SkillKind::Read, |c| async move {
        let t = c.secret("token").map_err(|e| e.to_string())?;
        Ok(json!({"len": t.expose_secret().len()}))
    }))
    .unwrap();
    Client::from_runtime(rt, None)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_survives_a_reopen_and_the_vault_key_file_is_private() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("h.db");
    let (agent, run_id) = {
        let c = open(&path);
        let a = c
            .agents()
            .register(RegisterAgent::new("keeper", "eu-west"))
            .await
            .unwrap();
        c.vault()
            .put(VaultPut::agent(
                &a.id,
                "token",
                SecretString::from("abcdefgh".to_string()),
            ))
            .await
            .unwrap();
        c.policies()
            .create(&a.id, "permit(principal, action, resource);")
            .await
            .unwrap();
        let a = c
            .agents()
            .set_promotion(&a.id, PromotionLevel::L3Autonomous)
            .await
            .unwrap();
        let run = c
            .agents()
            .run(&a.id, json!({"calls": [{"skill": "token:len"}]}))
            .await
            .unwrap();
        c.runs()
            .wait(&run.id, Duration::from_secs(10))
            .await
            .unwrap();
        (a, run.id)
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("h.db.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let c = open(&path);
    let again = c.agents().get(&agent.id).await.unwrap();
    assert_eq!(again, agent, "identity is stable across restarts");
    let run = c.runs().get(&run_id).await.unwrap();
    assert_eq!(run.status, RunStatus::Complete);
    assert_eq!(
        run.output.unwrap()["results"][0]["output"],
        json!({"len": 8})
    );
    // The vault still decrypts with the key file after a restart.
    let run = c
        .agents()
        .run(&agent.id, json!({"calls": [{"skill": "token:len"}]}))
        .await
        .unwrap();
    let run = c
        .runs()
        .wait(&run.id, Duration::from_secs(10))
        .await
        .unwrap();
    assert_eq!(
        run.output.unwrap()["results"][0]["output"],
        json!({"len": 8})
    );
    // With the wrong vault key, reading fails closed (and says so), nothing leaks.
    drop(c);
    std::fs::remove_file(dir.path().join("h.db.key")).unwrap();
    std::fs::write(dir.path().join("h.db.key"), "00".repeat(32)).unwrap();
    let c = open(&path);
    let run = c
        .agents()
        .run(&agent.id, json!({"calls": [{"skill": "token:len"}]}))
        .await
        .unwrap();
    let run = c
        .runs()
        .wait(&run.id, Duration::from_secs(10))
        .await
        .unwrap();
    let r = &run.output.unwrap()["results"][0];
    assert_eq!(r["outcome"], "failed");
    assert!(
        r["error"]
            .as_str()
            .unwrap()
            .contains("failed authentication"),
        "{r}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_rows_are_append_only_and_tampering_is_detected() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("h.db");
    let c = open(&path);
    let a = c
        .agents()
        .register(RegisterAgent::new("audited", "us-west"))
        .await
        .unwrap();
    c.policies()
        .create(&a.id, "permit(principal, action, resource);")
        .await
        .unwrap();
    c.agents()
        .set_promotion(&a.id, PromotionLevel::L3Autonomous)
        .await
        .unwrap();
    let run = c
        .agents()
        .run(
            &a.id,
            json!({"calls": [{"skill": "heroa:echo", "args": {"amount": 10}}]}),
        )
        .await
        .unwrap();
    c.runs()
        .wait(&run.id, Duration::from_secs(10))
        .await
        .unwrap();
    assert!(c.runs().verify_audit(&run.id).await.unwrap().valid);
    drop(c);

    let db = rusqlite::Connection::open(&path).unwrap();
    let err = db
        .execute(
            "UPDATE audit_events SET data = replace(data, '10', '99') WHERE run_id = ?1",
            [&run.id],
        )
        .unwrap_err();
    assert!(err.to_string().contains("append-only"), "{err}");
    assert!(
        db.execute("DELETE FROM audit_events WHERE run_id = ?1", [&run.id])
            .is_err()
    );
    // Someone with write access to the file drops the guard and edits history.
    db.execute_batch("DROP TRIGGER audit_no_update; DROP TRIGGER audit_no_delete;")
        .unwrap();
    let n = db
        .execute(
            "UPDATE audit_events SET data = replace(data, '\"amount\":10', '\"amount\":99') WHERE run_id = ?1",
            [&run.id],
        )
        .unwrap();
    assert!(n > 0);
    drop(db);
    let c = open(&path);
    let v = c.runs().verify_audit(&run.id).await.unwrap();
    assert!(!v.valid);
    assert!(v.broken_at.is_some() && v.reason.is_some());
    // Reopening restored the guard.
    let db = rusqlite::Connection::open(&path).unwrap();
    assert!(
        db.execute("DELETE FROM audit_events WHERE run_id = ?1", [&run.id])
            .is_err()
    );
    // Deleting an event breaks the chain too.
    db.execute_batch("DROP TRIGGER audit_no_delete;").unwrap();
    db.execute(
        "DELETE FROM audit_events WHERE run_id = ?1 AND seq = 1",
        [&run.id],
    )
    .unwrap();
    drop(db);
    assert!(!c.runs().verify_audit(&run.id).await.unwrap().valid);
    let err = c
        .runs()
        .audit("run_00000000000000000000000000")
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_cut_off_by_a_crash_does_not_pin_its_idempotency_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("h.db");
    let rt = Runtime::open(RuntimeOptions::file(&path)).unwrap();
    let key = rt
        .create_api_key(rt.default_workspace())
        .unwrap()
        .reveal()
        .to_string();
    let ws = rt.default_workspace().to_string();
    drop(rt);
    // What a process killed between accepting and answering a request leaves behind.
    let db = rusqlite::Connection::open(&path).unwrap();
    db.execute(
        "INSERT INTO idempotency (workspace_id, key, request_hash, status, body) VALUES (?1, 'k-crash', 'h', 0, x'')",
        [&ws],
    )
    .unwrap();
    drop(db);
    let rt = Runtime::open(RuntimeOptions::file(&path)).unwrap();
    let server =
        heroa::server::Server::start(rt, "127.0.0.1:0".parse().unwrap(), Default::default())
            .await
            .unwrap();
    let resp = reqwest::Client::new()
        .post(format!("{}/v1/agents", server.url()))
        .bearer_auth(&key)
        .header("Idempotency-Key", "k-crash")
        .json(&json!({"name": "after-crash", "region": "us-east"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), reqwest::StatusCode::CREATED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_process_owns_a_data_file_at_a_time() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("h.db");
    let first = Runtime::open(RuntimeOptions::file(&path)).unwrap();
    let err = Runtime::open(RuntimeOptions::file(&path)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unavailable);
    assert!(
        err.message().contains("in use by another Heroa process"),
        "{}",
        err.message()
    );
    drop(first);
    Runtime::open(RuntimeOptions::file(&path)).unwrap();
}
