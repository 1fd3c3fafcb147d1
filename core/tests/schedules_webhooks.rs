//! Schedules fire on time (test clock) and never twice across a restart; missed
//! slots get one catch-up run. Webhooks arrive at a real receiver on loopback,
//! verify under both signature schemes, and are retried after a 500.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use heroa::clock::{Clock, format_ms, parse_rfc3339};
use heroa::protocol::*;
use heroa::{Client, ErrorKind, Runtime, RuntimeOptions};
use secrecy::SecretString;
use serde_json::json;

// 2026-04-25T02:59:30Z
const START: i64 = 1_777_085_970_000;

fn open(path: &std::path::Path, clock: &Clock) -> Client {
    Client::from_runtime(
        Runtime::open(RuntimeOptions::file(path).clock(clock.clone())).unwrap(),
        None,
    )
}

async fn runs_of(c: &Client, agent: &str) -> Vec<Run> {
    c.runs().list(Some(agent)).await.unwrap().items
}

async fn eventually<F: Fn() -> Fut, Fut: std::future::Future<Output = bool>>(f: F) {
    for _ in 0..500 {
        if f().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("condition not reached in 5 s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_schedule_fires_on_its_slot_and_never_twice_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("h.db");
    let clock = Clock::manual(START);
    let c = open(&path, &clock);
    let agent = c
        .agents()
        .register(RegisterAgent::new("nightly", "us-east"))
        .await
        .unwrap();
    let err = c
        .agents()
        .update(
            &agent.id,
            UpdateAgent {
                schedule: Some("0 25 * * *".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(
        (err.kind(), err.field()),
        (ErrorKind::InvalidArgument, Some("schedule"))
    );
    assert!(err.message().contains("hour"), "{}", err.message());
    let agent = c
        .agents()
        .update(
            &agent.id,
            UpdateAgent {
                schedule: Some("0 3 * * *".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(agent.schedule.as_deref(), Some("0 3 * * *"));
    assert_eq!(agent.next_run_at.as_deref(), Some("2026-04-25T03:00:00Z"));

    // 29 s later: not yet. One more second: the slot fires.
    clock.advance(Duration::from_secs(29));
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(runs_of(&c, &agent.id).await.is_empty());
    clock.advance(Duration::from_secs(1));
    eventually(|| async { runs_of(&c, &agent.id).await.len() == 1 }).await;
    let run = runs_of(&c, &agent.id).await.remove(0);
    assert_eq!(
        run.input,
        json!({"trigger": "schedule", "slot": "2026-04-25T03:00:00Z", "missed_slots": 0})
    );
    let fired_at = parse_rfc3339(&run.created_at).unwrap();
    assert!(
        fired_at - parse_rfc3339("2026-04-25T03:00:00Z").unwrap() < 1000,
        "fired at {}",
        run.created_at
    );
    let agent = c.agents().get(&agent.id).await.unwrap();
    assert_eq!(agent.next_run_at.as_deref(), Some("2026-04-26T03:00:00Z"));

    // A restart at the same moment does not fire the slot again.
    drop(c);
    let c = open(&path, &clock);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(runs_of(&c, &agent.id).await.len(), 1);

    // Down for three days: one catch-up run for the latest missed slot, then on schedule.
    drop(c);
    clock.advance(Duration::from_secs(3 * 86_400 + 3600));
    let c = open(&path, &clock);
    eventually(|| async { runs_of(&c, &agent.id).await.len() == 2 }).await;
    let catch_up = runs_of(&c, &agent.id).await.remove(1);
    assert_eq!(catch_up.input["slot"], "2026-04-28T03:00:00Z");
    assert_eq!(catch_up.input["missed_slots"], 2);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(runs_of(&c, &agent.id).await.len(), 2);
    assert_eq!(
        c.agents()
            .get(&agent.id)
            .await
            .unwrap()
            .next_run_at
            .as_deref(),
        Some("2026-04-29T03:00:00Z")
    );
    assert_eq!(format_ms(clock.now_ms()), "2026-04-28T04:00:00Z");

    // Removing the schedule stops it.
    let a = c
        .agents()
        .update(
            &agent.id,
            UpdateAgent {
                schedule: Some(String::new()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(a.schedule.is_none() && a.next_run_at.is_none());
    clock.advance(Duration::from_secs(86_400));
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(runs_of(&c, &agent.id).await.len(), 2);
}

type Received = Arc<Mutex<Vec<(Vec<(String, String)>, Vec<u8>)>>>;

/// A webhook receiver on loopback that answers 500 to the first request.
async fn receiver() -> (String, Received) {
    let got: Received = Arc::default();
    let g = got.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(
            move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
                let g = g.clone();
                async move {
                    let hs = headers
                        .iter()
                        .map(|(k, v)| (k.to_string(), v.to_str().unwrap().to_string()))
                        .collect();
                    let mut list = g.lock().unwrap();
                    list.push((hs, body.to_vec()));
                    if list.len() == 1 {
                        axum::http::StatusCode::INTERNAL_SERVER_ERROR
                    } else {
                        axum::http::StatusCode::OK
                    }
                }
            },
        ),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, got)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_are_signed_both_ways_retried_logged_and_redeliverable() {
    let (url, got) = receiver().await;
    let secret = heroa::webhooks::generate_secret();
    let c = Client::embedded(None).unwrap();
    let agent = c
        .agents()
        .register(RegisterAgent::new("hooked", "eu-west"))
        .await
        .unwrap();
    let err = c
        .agents()
        .update(
            &agent.id,
            UpdateAgent {
                webhook: Some(WebhookConfig {
                    url: "ftp://x".into(),
                    signing_secret: secret.clone(),
                }),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(err.field(), Some("webhook.url"));
    let agent = c
        .agents()
        .update(
            &agent.id,
            UpdateAgent {
                webhook: Some(WebhookConfig {
                    url: url.clone(),
                    signing_secret: secret.clone(),
                }),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let shown = serde_json::to_string(&agent).unwrap();
    use secrecy::ExposeSecret;
    assert!(!shown.contains(secret.expose_secret()), "{shown}");
    assert_eq!(agent.webhook.as_ref().unwrap().url, url);

    let run = c.agents().run(&agent.id, json!({})).await.unwrap();
    let run = c
        .runs()
        .wait(&run.id, Duration::from_secs(10))
        .await
        .unwrap();
    // First attempt answered 500; the retry after ~1 s is accepted.
    eventually(|| async { got.lock().unwrap().len() >= 2 }).await;
    let deliveries = c
        .webhooks()
        .deliveries(Some(&agent.id))
        .await
        .unwrap()
        .items;
    assert_eq!(deliveries.len(), 1);
    let d = &deliveries[0];
    eventually(|| async {
        c.webhooks().delivery(&d.id).await.unwrap().status == DeliveryStatus::Delivered
    })
    .await;
    let d = c.webhooks().delivery(&d.id).await.unwrap();
    assert_eq!(d.attempts.len(), 2);
    assert_eq!(d.attempts[0].status_code, Some(500));
    assert_eq!(d.attempts[1].status_code, Some(200));

    let (headers, body) = got.lock().unwrap()[1].clone();
    let payload: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(payload["type"], "run.completed");
    assert_eq!(payload["run"]["id"], run.id);
    assert_eq!(payload["run"]["status"], "complete");
    let secrets = [secret.clone()];
    for scheme in [
        heroa::webhooks::VerifyScheme::StandardWebhooks,
        heroa::webhooks::VerifyScheme::Heroa,
    ] {
        let v = heroa::webhooks::verify(
            &headers,
            &body,
            &secrets,
            heroa::webhooks::VerifyOptions {
                scheme,
                ..Default::default()
            },
        )
        .unwrap();
        if scheme == heroa::webhooks::VerifyScheme::StandardWebhooks {
            assert_eq!(v.msg_id.as_deref(), Some(d.id.as_str()));
        }
    }
    // The same message id on both attempts; a wrong secret never verifies.
    let first_id = got.lock().unwrap()[0]
        .0
        .iter()
        .find(|(k, _)| k == "webhook-id")
        .unwrap()
        .1
        .clone();
    assert_eq!(first_id, d.id);
    let wrong = [SecretString::from(
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".to_string(),
    )];
    assert!(heroa::webhooks::verify(&headers, &body, &wrong, Default::default()).is_err());

    // Redelivery on request.
    let again = c.webhooks().redeliver(&d.id).await.unwrap();
    assert_eq!(again.status, DeliveryStatus::Pending);
    eventually(|| async { got.lock().unwrap().len() == 3 }).await;
    eventually(|| async { c.webhooks().delivery(&d.id).await.unwrap().attempts.len() == 3 }).await;
}
