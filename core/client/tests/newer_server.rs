//! A newer server may send values and fields this build does not know. Over real
//! HTTP on loopback (a listener answering what such a server would), the client
//! decodes them instead of failing: an unknown status is `Unknown`, an unknown field
//! is ignored, and an error of an unknown kind keeps its message and field and takes
//! its kind from the HTTP status.

use std::net::SocketAddr;

use heroa_client::{Client, RemoteOptions, RetryPolicy};
use heroa_protocol::error::ErrorKind;
use heroa_protocol::{PromotionLevel, RunStatus};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Serves `status` and `body` to every request until dropped.
async fn server(status: u16, body: String) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut tcp, _)) = listener.accept().await else {
                return;
            };
            let body = body.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 8192];
                let _ = tcp.read(&mut buf).await;
                let head = format!(
                    "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                    body.len()
                );
                let _ = tcp.write_all(head.as_bytes()).await;
                let _ = tcp.write_all(body.as_bytes()).await;
            });
        }
    });
    addr
}

fn client(addr: SocketAddr) -> Client {
    let opts = RemoteOptions {
        retry: RetryPolicy {
            max_attempts: 1,
            ..RetryPolicy::default()
        },
        ..RemoteOptions::default()
    };
    Client::remote_with(&format!("http://{addr}"), "k".to_string().into(), opts).unwrap()
}

const RUN: &str = "run_01jx0000000000000000000000";

#[tokio::test]
async fn unknown_values_and_fields_decode() {
    let run = json!({
        "id": RUN, "agent_id": "ag_01jx0000000000000000000000",
        "status": "paused_for_review", "input": {}, "cost_usd": "0",
        "promotion": "L5_sovereign", "template": "sequence",
        "actions_executed": 0, "actions_blocked": 0, "actions_shadowed": 0, "actions_skipped": 0,
        "audit_url": "heroa://x", "created_at": "2026-12-03T00:00:00Z",
        "a_field_from_the_future": {"x": 1}
    });
    let addr = server(200, run.to_string()).await;
    let got = client(addr).runs().get(RUN).await.unwrap();
    assert_eq!(got.status, RunStatus::Unknown);
    assert_eq!(got.promotion, PromotionLevel::Unknown);
    assert_eq!(got.status.as_str(), "unknown");
    assert!(!RunStatus::ALL.contains(&RunStatus::Unknown));
}

#[tokio::test]
async fn an_error_of_an_unknown_kind_keeps_its_message_and_field() {
    let body = json!({"error": {
        "kind": "quota_exceeded", "message": "the monthly quota is used up",
        "field": "agent_id", "hint": "upgrade", "details": {"limit": 3}
    }, "request_id": "req_1"});
    let addr = server(429, body.to_string()).await;
    let e = client(addr).runs().get(RUN).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::RateLimited, "{e:?}");
    assert_eq!(e.message(), "the monthly quota is used up");
    assert_eq!(e.field(), Some("agent_id"));
    assert_eq!(e.details(), Some(&json!({"limit": 3})));

    // A known kind with extra fields is read as such.
    let body = json!({"error": {"kind": "not_found", "message": "no run", "trace": [1, 2]}});
    let addr = server(404, body.to_string()).await;
    let e = client(addr).runs().get(RUN).await.unwrap_err();
    assert_eq!((e.kind(), e.message()), (ErrorKind::NotFound, "no run"));

    // Not an error body at all: the status says what it was.
    let addr = server(503, "<html>down</html>".into()).await;
    let e = client(addr).runs().get(RUN).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unavailable, "{e:?}");
}
