//! Input that fuzzing the API against its own document (and a hand attacker) found
//! to crash a handler, corrupt a later answer or wedge a key: each answers a 4xx
//! naming what is wrong, and stores nothing, over real HTTP on loopback.

use std::time::Duration;

use heroa::protocol::SkillKind;
use heroa::server::{ServeOptions, Server};
use heroa::{Runtime, RuntimeOptions, Skill};
use serde_json::{Value, json};

struct Api {
    server: Server,
    http: reqwest::Client,
    key: String,
}

impl Api {
    async fn start() -> Api {
        Api::start_with(ServeOptions::default()).await
    }

    async fn start_with(opts: ServeOptions) -> Api {
        let rt = Runtime::open(RuntimeOptions::memory()).unwrap();
        rt.register_skill(Skill::new("slow:read", SkillKind::Read, |_| async {
            tokio::time::sleep(Duration::from_secs(30)).await;
            Ok(json!({}))
        }))
        .unwrap();
        let key = rt
            .create_api_key(rt.default_workspace())
            .unwrap()
            .reveal()
            .to_string();
        let server = Server::start(rt, "127.0.0.1:0".parse().unwrap(), opts)
            .await
            .unwrap();
        Api {
            server,
            http: reqwest::Client::new(),
            key,
        }
    }

    async fn send(&self, method: &str, path: &str, body: Option<&str>) -> (u16, String, Value) {
        let mut req = self
            .http
            .request(
                method.parse().unwrap(),
                format!("{}{path}", self.server.url()),
            )
            .bearer_auth(&self.key);
        if let Some(b) = body {
            req = req
                .header("content-type", "application/json")
                .body(b.to_string());
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let ct = resp
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        let text = resp.text().await.unwrap();
        (
            status,
            ct,
            serde_json::from_str(&text).unwrap_or(Value::Null),
        )
    }

    async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        let (s, _, v) = self.send("POST", path, Some(&body.to_string())).await;
        (s, v)
    }

    async fn agent(&self, name: &str, extra: Value) -> String {
        let mut body = json!({"name": name, "region": "us-east"});
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        let (s, a) = self.post("/v1/agents", body).await;
        assert_eq!(s, 201, "{a}");
        a["id"].as_str().unwrap().to_string()
    }

    async fn count(&self, path: &str) -> usize {
        let (s, _, v) = self.send("GET", path, None).await;
        assert_eq!(s, 200, "{v}");
        v["items"].as_array().unwrap().len()
    }
}

fn expect_field(status: u16, body: &Value, field: &str) {
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["kind"], "invalid_argument", "{body}");
    assert_eq!(body["error"]["field"], field, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn durations_that_crashed_or_wrapped_are_refused() {
    let api = Api::start().await;
    for bad in [
        "\u{80}",
        "é",
        "5é",
        "200000000000d",
        "18446744073709551615s",
        "3650000d",
    ] {
        let (s, b) = api
            .post(
                "/v1/deployments",
                json!({"mode": "agent", "template": "batch-processor", "ttl": bad}),
            )
            .await;
        expect_field(s, &b, "ttl");
        let (s, b) = api
            .post(
                "/v1/agents",
                json!({"name": "w", "region": "us-east", "approval_window": bad}),
            )
            .await;
        expect_field(s, &b, "approval_window");
    }
    assert_eq!(api.count("/v1/deployments").await, 0);
    assert_eq!(api.count("/v1/agents").await, 0);

    // Extending a live deployment is checked the same way.
    let (s, dep) = api
        .post(
            "/v1/deployments",
            json!({"mode": "agent", "template": "batch-processor", "ttl": "15m"}),
        )
        .await;
    assert_eq!(s, 201, "{dep}");
    let id = dep["id"].as_str().unwrap();
    for bad in ["\u{80}", "200000000000d", "18446744073709551615s"] {
        let (s, b) = api
            .post(&format!("/v1/deployments/{id}/extend"), json!({"ttl": bad}))
            .await;
        expect_field(s, &b, "ttl");
    }
    let (_, _, now) = api
        .send("GET", &format!("/v1/deployments/{id}"), None)
        .await;
    assert_eq!(now["expires_at"], dep["expires_at"], "nothing stored");
    api.server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deep_nesting_and_trailing_data_are_refused_at_the_door() {
    let api = Api::start().await;
    let agent = api.agent("nester", json!({})).await;
    let deep = |levels: usize| {
        format!(
            "{{\"input\": {}{}}}",
            "[".repeat(levels),
            "]".repeat(levels)
        )
    };
    let (s, _, b) = api
        .send(
            "POST",
            &format!("/v1/agents/{agent}/runs"),
            Some(&deep(121)),
        )
        .await;
    expect_field(s, &b, "body");
    assert!(
        b["error"]["message"]
            .as_str()
            .unwrap()
            .contains("deeper than 64"),
        "{b}"
    );
    assert_eq!(api.count("/v1/runs").await, 0);
    let (s, _, b) = api
        .send("POST", &format!("/v1/agents/{agent}/runs"), Some(&deep(40)))
        .await;
    assert_eq!(s, 201, "within the limit: {b}");

    for trailing in [
        r#"{"name": "t1", "region": "us-east"} xyz"#,
        r#"{"name": "t2", "region": "us-east"}{"name": "t3", "region": "us-east"}"#,
    ] {
        let (s, _, b) = api.send("POST", "/v1/agents", Some(trailing)).await;
        expect_field(s, &b, "body");
    }
    assert_eq!(api.count("/v1/agents").await, 1);
    api.server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_path_that_is_not_utf8_gets_the_json_error_body() {
    let api = Api::start().await;
    let (s, ct, b) = api.send("GET", "/v1/agents/%FF", None).await;
    assert_eq!(s, 400, "{b}");
    assert!(ct.starts_with("application/json"), "{ct}");
    assert_eq!(b["error"]["kind"], "invalid_argument", "{b}");
    api.server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idempotency_key_is_released_when_its_request_is_dropped() {
    let api = Api::start().await;
    let agent = api.agent("waiter", json!({})).await;
    // A run that stays running (its skill sleeps), at L3 under a permit-all policy.
    api.post(
        "/v1/policies",
        json!({"agent_id": agent, "document": "permit(principal, action, resource);"}),
    )
    .await;
    api.post(
        &format!("/v1/agents/{agent}/promotion"),
        json!({"level": "L3_autonomous"}),
    )
    .await;
    let (_, run) = api
        .post(
            &format!("/v1/agents/{agent}/runs"),
            json!({"input": {"calls": [{"skill": "slow:read"}]}}),
        )
        .await;
    let wait = format!(
        "{}/v1/runs/{}/wait",
        api.server.url(),
        run["id"].as_str().unwrap()
    );
    // The client gives up on a wait that carries a key: the connection is dropped
    // while the server is still waiting.
    let gave_up = api
        .http
        .post(&wait)
        .bearer_auth(&api.key)
        .header("idempotency-key", "wait-1")
        .json(&json!({"timeout_ms": 20_000}))
        .timeout(Duration::from_millis(200))
        .send()
        .await;
    assert!(gave_up.is_err(), "the client timed out");
    tokio::time::sleep(Duration::from_millis(100)).await;
    // The same key again is a fresh request, not "in progress" until a restart.
    let resp = api
        .http
        .post(&wait)
        .bearer_auth(&api.key)
        .header("idempotency-key", "wait-1")
        .json(&json!({"timeout_ms": 50}))
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let body: Value = resp.json().await.unwrap();
    assert_ne!(status, 409, "the key stayed held: {body}");
    assert!(
        status == 200 || body["error"]["kind"] == "timeout",
        "{status} {body}"
    );
    api.server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_parent_with_sub_agents_cannot_be_deleted() {
    let api = Api::start().await;
    let parent = api.agent("parent", json!({})).await;
    let (s, dep) = api
        .post(
            "/v1/deployments",
            json!({"mode": "agent", "template": "batch-processor", "parent_agent_id": parent}),
        )
        .await;
    assert_eq!(s, 201, "{dep}");
    let child = dep["handle"].as_str().unwrap().to_string();
    let (_, _, c) = api.send("GET", &format!("/v1/agents/{child}"), None).await;
    assert_eq!(c["parent_id"], parent.as_str(), "{c}");

    let (s, _, b) = api
        .send("DELETE", &format!("/v1/agents/{parent}"), None)
        .await;
    assert_eq!(s, 409, "{b}");
    assert_eq!(b["error"]["kind"], "failed_precondition", "{b}");
    assert_eq!(b["error"]["details"]["sub_agents"], json!([child]), "{b}");
    let (s, _, _) = api.send("GET", &format!("/v1/agents/{parent}"), None).await;
    assert_eq!(s, 200, "the parent is still there");

    // Once the sub-agent is gone, the parent can go.
    let (s, _, b) = api
        .send("DELETE", &format!("/v1/agents/{child}"), None)
        .await;
    assert_eq!(s, 204, "{b}");
    let (s, _, b) = api
        .send("DELETE", &format!("/v1/agents/{parent}"), None)
        .await;
    assert_eq!(s, 204, "{b}");
    api.server.shutdown().await.unwrap();
}

/// Reads until the server closes the connection (or `limit` passes): what it sent.
async fn read_until_closed(tcp: &mut tokio::net::TcpStream, limit: Duration) -> Option<String> {
    use tokio::io::AsyncReadExt;
    let mut out = Vec::new();
    let read = tokio::time::timeout(limit, tcp.read_to_end(&mut out)).await;
    read.ok()
        .map(|_| String::from_utf8_lossy(&out).into_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_clients_are_cut_off_and_connections_are_capped() {
    use tokio::io::AsyncWriteExt;
    use tokio::net::TcpStream;
    let api = Api::start_with(ServeOptions {
        header_read_timeout: Duration::from_millis(300),
        body_read_timeout: Duration::from_millis(300),
        max_connections: 3,
        ..ServeOptions::default()
    })
    .await;
    let addr = api.server.addr();

    // Half a request line, then nothing: closed after the header timeout.
    let mut slow = TcpStream::connect(addr).await.unwrap();
    slow.write_all(b"GET /v1/hea").await.unwrap();
    let got = read_until_closed(&mut slow, Duration::from_secs(5)).await;
    assert!(got.is_some(), "a half-sent request line was held open");

    // Headers promise 100 bytes of body; 10 arrive: 408 with the JSON error body.
    let mut slow = TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST /v1/agents HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {}\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{{\"name\": ",
        api.key
    );
    slow.write_all(head.as_bytes()).await.unwrap();
    let got = read_until_closed(&mut slow, Duration::from_secs(5))
        .await
        .expect("a half-sent body was held open");
    assert!(got.starts_with("HTTP/1.1 408"), "{got}");
    assert!(
        got.contains(r#""kind":"timeout""#) && got.contains(r#""field":"body""#),
        "{got}"
    );
    assert_eq!(api.count("/v1/agents").await, 0, "nothing stored");

    // Three connections hold every slot: a fourth client is not served until one
    // closes.
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let health = format!("{}/v1/health", api.server.url());
    let mut held = Vec::new();
    for _ in 0..3 {
        let mut c = TcpStream::connect(addr).await.unwrap();
        c.write_all(b"GET /v1/health HTTP/1.1\r\nhost: x\r\n")
            .await
            .unwrap();
        held.push(c);
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    let blocked = http
        .get(&health)
        .timeout(Duration::from_millis(150))
        .send()
        .await;
    assert!(
        blocked.is_err(),
        "served past the connection cap: {blocked:?}"
    );
    // The held connections are cut off by the header timeout, freeing their slots.
    drop(held);
    let ok = http
        .get(&health)
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    api.server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scripted_tool_call_arguments_must_be_objects() {
    let api = Api::start().await;
    let config = |arguments: Value| {
        json!({"name": "scripted", "region": "us-east", "template": "llm", "llm_configs": [{
            "provider": "offline", "model": "m",
            "turns": [{"content": "x", "tool_calls": [{"name": "heroa:echo", "arguments": arguments}]}]
        }]})
    };
    for bad in [json!([null, null]), json!("text"), json!(5)] {
        let (s, b) = api.post("/v1/agents", config(bad)).await;
        expect_field(s, &b, "llm_configs[0].turns[0].tool_calls[0].arguments");
    }
    assert_eq!(api.count("/v1/agents").await, 0);
    let (s, b) = api.post("/v1/agents", config(json!({"q": 1}))).await;
    assert_eq!(s, 201, "{b}");
    api.server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whole_numbers_sent_as_floats_are_integers_as_the_document_says() {
    let api = Api::start().await;
    let agent = api.agent("floaty", json!({})).await;
    let (_, run) = api
        .post(
            &format!("/v1/agents/{agent}/runs"),
            json!({"input": {"n": 1}}),
        )
        .await;
    // JSON Schema counts 50.0 as an integer, so `timeout_ms: 50.0` is a valid wait.
    let (_, _, b) = api
        .send(
            "POST",
            &format!("/v1/runs/{}/wait", run["id"].as_str().unwrap()),
            Some(r#"{"timeout_ms": 50.0}"#),
        )
        .await;
    assert!(
        b.get("id").is_some() || b["error"]["kind"] == "timeout",
        "{b}"
    );
    let (s, _, b) = api
        .send(
            "POST",
            &format!("/v1/runs/{}/wait", run["id"].as_str().unwrap()),
            Some(r#"{"timeout_ms": 50.5}"#),
        )
        .await;
    expect_field(s, &b, "timeout_ms");
    api.server.shutdown().await.unwrap();
}
