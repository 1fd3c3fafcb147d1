//! A vault value never appears in a log line (trace level, every crate), a response,
//! `Debug` output, the audit record, or in plaintext in the data file — over the
//! remote transport (so the HTTP stack logs too) against a file-backed runtime.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use heroa::protocol::{PromotionLevel, RegisterAgent, SkillKind, VaultPut};
use heroa::server::{ServeOptions, Server};
use heroa::{Client, Runtime, RuntimeOptions, Skill};
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;

const SECRET: &str = "hubspot-pat-na1-7f3c9e2b-SECRET-VALUE";
const API_KEY: &str = "heroa_sk_test_key_for_secrets_0001";

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_stay_out_of_logs_answers_audit_and_the_data_file() {
    let logs = Capture::default();
    let sink = logs.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || sink.clone())
        .with_ansi(false)
        .init();
    tracing::trace!("capture works");

    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("heroa.db");
    let rt = Runtime::open(RuntimeOptions::file(&data)).unwrap();
    rt.add_api_key(
        rt.default_workspace(),
        &SecretString::from(API_KEY.to_string()),
    )
    .unwrap();
    rt.register_skill(Skill::new(
        "hubspot:contact:read",
        SkillKind::Read,
        |c| async move {
            let token = c.secret("hubspot_token").map_err(|e| e.to_string())?;
            tracing::info!(len = token.expose_secret().len(), "skill read its token");
            Ok(json!({"authorized_with": token.expose_secret()}))
        },
    ))
    .unwrap();
    let server = Server::start(
        rt.clone(),
        "127.0.0.1:0".parse().unwrap(),
        ServeOptions::default(),
    )
    .await
    .unwrap();
    let client = Client::remote(&server.url(), SecretString::from(API_KEY.to_string())).unwrap();

    let agent = client
        .agents()
        .register(RegisterAgent::new("lead-research-v1", "us-east"))
        .await
        .unwrap();
    let put = VaultPut::agent(
        &agent.id,
        "hubspot_token",
        SecretString::from(SECRET.to_string()),
    );
    let mut outputs = vec![format!("{put:?}"), format!("{client:?}")];
    let entry = client.vault().put(put).await.unwrap();
    client
        .policies()
        .create(&agent.id, "permit(principal, action, resource);")
        .await
        .unwrap();
    client
        .agents()
        .set_promotion(&agent.id, PromotionLevel::L3Autonomous)
        .await
        .unwrap();
    let run = client
        .agents()
        .run(
            &agent.id,
            json!({"calls": [{"skill": "hubspot:contact:read"}]}),
        )
        .await
        .unwrap();
    let run = client
        .runs()
        .wait(&run.id, Duration::from_secs(20))
        .await
        .unwrap();
    assert_eq!(run.actions_executed, 1);
    let audit = client.runs().audit(&run.id).await.unwrap();
    outputs.extend([
        serde_json::to_string(&entry).unwrap(),
        serde_json::to_string(&run).unwrap(),
        serde_json::to_string(&audit).unwrap(),
        format!("{run:?} {audit:?} {entry:?} {rt:?}"),
    ]);
    // An error raised while a secret is in play does not carry it either.
    let err = client
        .vault()
        .rotate(
            "vlt_00000000000000000000000000",
            SecretString::from(SECRET.to_string()),
        )
        .await;
    outputs.push(format!("{:?}", err.unwrap_err()));
    server.shutdown().await.unwrap();
    drop(rt);

    assert!(
        contains(&logs.0.lock().unwrap(), "capture works"),
        "the log capture is not working"
    );
    assert!(contains(&logs.0.lock().unwrap(), "skill read its token"));
    for o in &outputs {
        assert!(
            !o.contains(SECRET),
            "secret in an answer or Debug output: {o}"
        );
        assert!(
            !o.contains(API_KEY),
            "API key in an answer or Debug output: {o}"
        );
    }
    assert!(outputs[3].contains("[REDACTED]"));
    let log = logs.0.lock().unwrap().clone();
    assert!(!contains(&log, SECRET), "secret in the logs");
    assert!(!contains(&log, API_KEY), "API key in the logs");
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        assert!(
            !contains(&bytes, SECRET),
            "secret in plaintext in {}",
            path.display()
        );
        assert!(
            !contains(&bytes, API_KEY),
            "API key in plaintext in {}",
            path.display()
        );
    }
}
