//! Storage migrations: a data file written by the first release (schema version 0,
//! `tests/fixtures/schema-0/`) opens in this build, every migration applies, and
//! nothing is lost — its agent, vault value (decrypted with its key file), run and
//! audit chain (format 1) — and new work goes on in it. A file from a newer build
//! is refused without being touched.

use std::path::{Path, PathBuf};
use std::time::Duration;

use heroa_protocol::{Page, SkillKind, StartRun};
use heroa_runtime::store::SCHEMA_VERSION;
use heroa_runtime::{Runtime, RuntimeOptions, Skill};
use serde_json::json;

fn fixture_copy(dir: &Path) -> PathBuf {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/schema-0");
    let db = dir.join("heroa.db");
    std::fs::copy(src.join("heroa.db"), &db).unwrap();
    std::fs::copy(src.join("heroa.db.key"), dir.join("heroa.db.key")).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(
            dir.join("heroa.db.key"),
            std::fs::Permissions::from_mode(0o600),
        )
        .unwrap();
    }
    db
}

fn user_version(db: &Path) -> i64 {
    let c = rusqlite::Connection::open(db).unwrap();
    c.pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_of_the_first_release_opens_migrated_with_nothing_lost() {
    let dir = tempfile::tempdir().unwrap();
    let db = fixture_copy(dir.path());
    assert_eq!(user_version(&db), 0);

    let rt = Runtime::open(RuntimeOptions::file(&db)).unwrap();
    let ws = rt.default_workspace().to_string();
    let agents = rt.list_agents(&ws, &Page::default()).unwrap().items;
    assert_eq!(agents.len(), 1);
    let agent = &agents[0];
    assert_eq!(
        (agent.name.as_str(), agent.region.as_str()),
        ("legacy-agent", "eu-west")
    );

    // The old run and its format-1 chain.
    let runs = rt.list_runs(&ws, None, &Page::default()).unwrap().items;
    assert_eq!(runs.len(), 1);
    let record = rt.audit(&ws, &runs[0].id).unwrap();
    assert!(record.events.iter().all(|e| e.chain_version == 1));
    assert!(rt.verify_audit(&ws, &runs[0].id).unwrap().valid);

    // The vault value decrypts with the file's key, inside a skill.
    rt.register_skill(Skill::new(
        "legacy:read",
        SkillKind::Read,
        |call| async move {
            let token = call.secret("legacy_token").map_err(|e| e.to_string())?;
            use secrecy::ExposeSecret;
            Ok(json!({"len": token.expose_secret().len()}))
        },
    ))
    .unwrap();
    let run = rt
        .start_run(
            &ws,
            &agent.id,
            StartRun {
                input: json!({"calls": [{"skill": "legacy:read"}]}),
            },
        )
        .unwrap();
    let run = rt
        .wait_run(&ws, &run.id, Duration::from_secs(20))
        .await
        .unwrap();
    let out = run.output.unwrap();
    assert_eq!(out["results"][0]["output"], json!({"len": 19}), "{out}");
    // New events are of the current chain format, in the same file.
    let record = rt.audit(&ws, &run.id).unwrap();
    assert!(record.events.iter().all(|e| e.chain_version == 2));
    drop(rt);
    assert_eq!(user_version(&db), SCHEMA_VERSION as i64);

    // Opening again applies nothing twice.
    let rt = Runtime::open(RuntimeOptions::file(&db)).unwrap();
    assert_eq!(
        rt.list_runs(&ws, None, &Page::default())
            .unwrap()
            .items
            .len(),
        2
    );
}

#[test]
fn a_file_from_a_newer_build_is_refused_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let db = fixture_copy(dir.path());
    {
        let c = rusqlite::Connection::open(&db).unwrap();
        c.pragma_update(None, "user_version", 99).unwrap();
    }
    let before = std::fs::read(&db).unwrap();
    let e = Runtime::open(RuntimeOptions::file(&db)).unwrap_err();
    assert_eq!(
        e.kind(),
        heroa_protocol::error::ErrorKind::FailedPrecondition
    );
    assert!(e.message().contains("schema version 99"), "{e}");
    assert_eq!(user_version(&db), 99);
    assert!(
        std::fs::read(&db).unwrap() == before,
        "the file was changed"
    );
}
