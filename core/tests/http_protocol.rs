//! `heroa serve` at the byte level: authentication, field-naming 4xx errors for bad
//! input that change nothing, body limits, idempotent replays, unknown routes.

use heroa::Runtime;
use heroa::protocol::Page;
use heroa::server::{ServeOptions, Server};
use reqwest::StatusCode;
use serde_json::{Value, json};

struct Srv {
    server: Server,
    key: String,
    http: reqwest::Client,
    rt: Runtime,
}

async fn srv() -> Srv {
    let rt = Runtime::memory().unwrap();
    let key = rt
        .create_api_key(rt.default_workspace())
        .unwrap()
        .reveal()
        .to_string();
    let opts = ServeOptions {
        max_body_bytes: 64 * 1024,
        ..Default::default()
    };
    let server = Server::start(rt.clone(), "127.0.0.1:0".parse().unwrap(), opts)
        .await
        .unwrap();
    Srv {
        server,
        key,
        http: reqwest::Client::new(),
        rt,
    }
}

impl Srv {
    async fn send(
        &self,
        method: &str,
        path: &str,
        body: Option<&[u8]>,
        key: Option<&str>,
    ) -> (StatusCode, Value) {
        let mut req = self
            .http
            .request(
                method.parse().unwrap(),
                format!("{}{}", self.server.url(), path),
            )
            .header("content-type", "application/json");
        if let Some(k) = key.or(Some(&self.key)).filter(|k| !k.is_empty()) {
            req = req.bearer_auth(k);
        }
        if let Some(b) = body {
            req = req.body(b.to_vec());
        }
        let resp = req.send().await.unwrap();
        let status = resp.status();
        let text = resp.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    async fn post(&self, path: &str, body: &str) -> (StatusCode, Value) {
        self.send("POST", path, Some(body.as_bytes()), None).await
    }

    async fn agent_count(&self) -> usize {
        self.rt
            .list_agents(self.rt.default_workspace(), &Page::default())
            .unwrap()
            .items
            .len()
    }
}

fn error_field(v: &Value) -> (&str, Option<&str>) {
    (
        v["error"]["kind"].as_str().unwrap_or("?"),
        v["error"]["field"].as_str(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authentication_is_required_and_checked() {
    let s = srv().await;
    let (st, v) = s.send("GET", "/v1/agents", None, Some("")).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    assert_eq!(error_field(&v).0, "unauthenticated");
    let (st, _) = s
        .send(
            "GET",
            "/v1/agents",
            None,
            Some("heroa_sk_wrong_wrong_wrong"),
        )
        .await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    let (st, v) = s.send("GET", "/v1/health", None, Some("")).await;
    assert_eq!((st, v["status"].as_str()), (StatusCode::OK, Some("ok")));
    let (st, v) = s.send("GET", "/v2/nothing", None, None).await;
    assert_eq!(
        (st, error_field(&v).0),
        (StatusCode::NOT_FOUND, "not_found")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_a_field_naming_error_and_changes_nothing() {
    let s = srv().await;
    let (st, good) = s
        .post("/v1/agents", r#"{"name":"keep","region":"us-east"}"#)
        .await;
    assert_eq!(st, StatusCode::CREATED);
    let id = good["id"].as_str().unwrap().to_string();
    let cases: Vec<(&str, String, StatusCode, &str, Option<&str>)> = vec![
        (
            "/v1/agents",
            r#"{"name":"x","region":"#.into(),
            StatusCode::BAD_REQUEST,
            "invalid_argument",
            Some("body"),
        ),
        (
            "/v1/agents",
            "not json".into(),
            StatusCode::BAD_REQUEST,
            "invalid_argument",
            Some("body"),
        ),
        (
            "/v1/agents",
            r#"{"name":5,"region":"us-east"}"#.into(),
            StatusCode::BAD_REQUEST,
            "invalid_argument",
            Some("name"),
        ),
        (
            "/v1/agents",
            r#"{"name":"x","region":"us-east","colour":"red"}"#.into(),
            StatusCode::BAD_REQUEST,
            "invalid_argument",
            Some("colour"),
        ),
        (
            "/v1/agents",
            r#"{"region":"us-east"}"#.into(),
            StatusCode::BAD_REQUEST,
            "invalid_argument",
            Some("name"),
        ),
        (
            "/v1/agents",
            r#"{"name":"x","region":"moon"}"#.into(),
            StatusCode::BAD_REQUEST,
            "invalid_argument",
            Some("region"),
        ),
        (
            "/v1/agents",
            r#"[1,2]"#.into(),
            StatusCode::BAD_REQUEST,
            "invalid_argument",
            Some("body"),
        ),
        (
            "/v1/agents",
            format!(
                r#"{{"name":"x","region":"us-east","description":"{}"}}"#,
                "a".repeat(70 * 1024)
            ),
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            Some("body"),
        ),
        (
            "/v1/policies",
            format!(r#"{{"agent_id":"{id}","document":"permit(principal"}}"#),
            StatusCode::BAD_REQUEST,
            "invalid_argument",
            Some("document"),
        ),
        (
            "/v1/policies",
            r#"{"agent_id":"ag_bad","document":"permit(principal, action, resource);"}"#.into(),
            StatusCode::BAD_REQUEST,
            "invalid_argument",
            Some("agent_id"),
        ),
        (
            "/v1/vault",
            format!(r#"{{"agent_id":"{id}","key":"k","value":7}}"#),
            StatusCode::BAD_REQUEST,
            "invalid_argument",
            Some("value"),
        ),
        (
            "/v1/vault",
            format!(r#"{{"agent_id":"{id}","key":"k","value":"v","scope":"galaxy"}}"#),
            StatusCode::BAD_REQUEST,
            "invalid_argument",
            Some("scope"),
        ),
        (
            &*Box::leak(format!("/v1/agents/{id}/promotion").into_boxed_str()),
            r#"{"level":"L9"}"#.into(),
            StatusCode::BAD_REQUEST,
            "invalid_argument",
            Some("level"),
        ),
        (
            &*Box::leak(format!("/v1/agents/{id}/runs").into_boxed_str()),
            r#"{"input":{},"extra":1}"#.into(),
            StatusCode::BAD_REQUEST,
            "invalid_argument",
            Some("extra"),
        ),
        (
            "/v1/agents/not-an-id/runs",
            "{}".into(),
            StatusCode::BAD_REQUEST,
            "invalid_argument",
            Some("agent_id"),
        ),
        (
            "/v1/runs/run_x/wait",
            r#"{"timeout_ms":"soon"}"#.into(),
            StatusCode::BAD_REQUEST,
            "invalid_argument",
            Some("timeout_ms"),
        ),
    ];
    for (path, body, status, kind, field) in cases {
        let (st, v) = s.post(path, &body).await;
        assert_eq!(st, status, "{path} {}: {v}", &body[..body.len().min(80)]);
        assert_eq!(error_field(&v), (kind, field), "{path}: {v}");
        assert!(
            v["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty())
        );
    }
    let (st, v) = s.send("GET", "/v1/agents/ag_nope", None, None).await;
    assert_eq!(
        (st, error_field(&v)),
        (
            StatusCode::BAD_REQUEST,
            ("invalid_argument", Some("agent_id"))
        )
    );
    let (st, v) = s
        .send("GET", "/v1/runs?agent_id=x&colour=red", None, None)
        .await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{v}");
    let (st, v) = s
        .send(
            "PATCH",
            &format!("/v1/agents/{id}"),
            Some(br#"{"region":"eu-west"}"#),
            None,
        )
        .await;
    assert_eq!(
        (st, error_field(&v)),
        (
            StatusCode::CONFLICT,
            ("failed_precondition", Some("region"))
        )
    );

    // Nothing changed: one agent, unchanged; no policy, no vault entry, no run.
    assert_eq!(s.agent_count().await, 1);
    let ws = s.rt.default_workspace();
    let agent = s.rt.get_agent(ws, &id).unwrap();
    assert_eq!(serde_json::to_value(&agent).unwrap(), good);
    assert!(
        s.rt.list_policies(ws, None, &Page::default())
            .unwrap()
            .items
            .is_empty()
    );
    assert!(
        s.rt.vault_list(ws, None, &Page::default())
            .unwrap()
            .items
            .is_empty()
    );
    assert!(
        s.rt.list_runs(ws, None, &Page::default())
            .unwrap()
            .items
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idempotency_keys_replay_the_first_answer() {
    let s = srv().await;
    let send = |key: &'static str, body: &'static str| {
        let req = s
            .http
            .post(format!("{}/v1/agents", s.server.url()))
            .bearer_auth(&s.key)
            .header("Idempotency-Key", key)
            .header("content-type", "application/json")
            .body(body);
        async move {
            let r = req.send().await.unwrap();
            let replayed = r.headers().get("idempotent-replayed").is_some();
            (r.status(), replayed, r.json::<Value>().await.unwrap())
        }
    };
    let (st1, rep1, a) = send("k-1", r#"{"name":"once","region":"us-east"}"#).await;
    let (st2, rep2, b) = send("k-1", r#"{"name":"once","region":"us-east"}"#).await;
    assert_eq!(
        (st1, rep1, st2, rep2),
        (StatusCode::CREATED, false, StatusCode::CREATED, true)
    );
    assert_eq!(a, b);
    assert_eq!(s.agent_count().await, 1);
    let (st, _, v) = send("k-1", r#"{"name":"other","region":"us-east"}"#).await;
    assert_eq!(
        (st, error_field(&v)),
        (StatusCode::CONFLICT, ("conflict", Some("Idempotency-Key")))
    );
    // A request wrong in itself is refused as such, even under a key used before.
    let r = s
        .http
        .post(format!("{}/v1/agents/heroku", s.server.url()))
        .bearer_auth(&s.key)
        .header("Idempotency-Key", "k-1")
        .json(&serde_json::json!({"model": "m", "messages": []}))
        .send()
        .await
        .unwrap();
    let st = r.status();
    let v: Value = r.json().await.unwrap();
    assert_eq!(
        (st, error_field(&v)),
        (
            StatusCode::BAD_REQUEST,
            ("invalid_argument", Some("Heroa-Agent"))
        )
    );
    // A failed request is not remembered: the key can be used again.
    let (st, _, _) = send("k-2", r#"{"name":"bad name","region":"us-east"}"#).await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    let (st, _, _) = send("k-2", r#"{"name":"good","region":"us-east"}"#).await;
    assert_eq!(st, StatusCode::CREATED);
    assert_eq!(s.agent_count().await, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_honour_retry_after_and_give_up() {
    // A loopback server that answers 503 with Retry-After twice, then 200.
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let hits = Arc::new(AtomicUsize::new(0));
    let h = hits.clone();
    let app = axum::Router::new().route(
        "/v1/agents",
        axum::routing::get(move || {
            let h = h.clone();
            async move {
                if h.fetch_add(1, Ordering::SeqCst) < 2 {
                    (
                        StatusCode::SERVICE_UNAVAILABLE,
                        [("retry-after", "1")],
                        r#"{"error":{"kind":"unavailable","message":"busy"}}"#.to_string(),
                    )
                } else {
                    (
                        StatusCode::OK,
                        [("retry-after", "0")],
                        r#"{"items":[]}"#.to_string(),
                    )
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let client = heroa::Client::remote(&url, secrecy::SecretString::from("k".repeat(20))).unwrap();
    let start = std::time::Instant::now();
    let list = client.agents().list().await.unwrap();
    assert!(list.items.is_empty());
    assert_eq!(hits.load(Ordering::SeqCst), 3);
    assert!(
        start.elapsed() >= std::time::Duration::from_secs(2),
        "Retry-After was not honoured"
    );

    // Connection refused: a transport error after the retries, quickly.
    let dead = heroa::Client::remote_with(
        "http://127.0.0.1:1",
        secrecy::SecretString::from("k".repeat(20)),
        heroa::client::RemoteOptions {
            retry: heroa::client::RetryPolicy {
                max_attempts: 2,
                ..Default::default()
            },
            ..Default::default()
        },
    )
    .unwrap();
    let err = dead.agents().list().await.unwrap_err();
    assert_eq!(err.kind(), heroa::ErrorKind::Transport);
    let _ = json!({});
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bearer_scheme_name_is_case_insensitive() {
    let s = srv().await;
    let resp = s
        .http
        .get(format!("{}/v1/agents", s.server.url()))
        .header("authorization", format!("bearer {}", s.key))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
}

/// Follows `next_cursor` from the first page of `path` (with `limit`), collecting
/// the ids of every page; checks each page's size.
async fn walk(s: &Srv, path: &str, limit: usize, items_key: &str) -> Vec<String> {
    let mut ids = Vec::new();
    let mut cursor: Option<String> = None;
    let sep = if path.contains('?') { '&' } else { '?' };
    for _ in 0..100 {
        let url = match &cursor {
            None => format!("{path}{sep}limit={limit}"),
            Some(c) => format!("{path}{sep}limit={limit}&cursor={c}"),
        };
        let (st, page) = s.send("GET", &url, None, None).await;
        assert_eq!(st, StatusCode::OK, "{url}: {page}");
        let items = page[items_key].as_array().unwrap();
        assert!(items.len() <= limit, "{url}: {} items", items.len());
        ids.extend(
            items
                .iter()
                .map(|i| i.get("id").or(i.get("seq")).map(|v| v.to_string()).unwrap()),
        );
        match page["next_cursor"].as_str() {
            Some(c) => {
                assert_eq!(items.len(), limit, "only a full page has a next page");
                cursor = Some(c.to_string());
            }
            None => {
                assert!(
                    page.get("next_cursor").is_some(),
                    "next_cursor is always answered"
                );
                return ids;
            }
        }
    }
    panic!("{path}: more than 100 pages");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_list_pages_with_limit_and_cursor_and_refuses_bad_ones() {
    let s = srv().await;
    let mut agents = Vec::new();
    for i in 0..7 {
        let (st, a) = s
            .post(
                "/v1/agents",
                &format!(r#"{{"name":"a{i}","region":"us-east"}}"#),
            )
            .await;
        assert_eq!(st, StatusCode::CREATED, "{a}");
        agents.push(a["id"].as_str().unwrap().to_string());
    }
    let mut runs = Vec::new();
    for _ in 0..5 {
        let (st, r) = s
            .post(&format!("/v1/agents/{}/runs", agents[0]), r#"{"input":{}}"#)
            .await;
        assert_eq!(st, StatusCode::CREATED, "{r}");
        runs.push(r["id"].as_str().unwrap().to_string());
    }
    let quoted = |v: &[String]| v.iter().map(|i| format!("{i:?}")).collect::<Vec<_>>();

    // Every page size walks the same list, oldest first, with nothing skipped or
    // repeated.
    for limit in [1, 2, 3, 7, 100] {
        assert_eq!(
            walk(&s, "/v1/agents", limit, "items").await,
            quoted(&agents)
        );
    }
    assert_eq!(walk(&s, "/v1/runs", 2, "items").await, quoted(&runs));
    let filtered = format!("/v1/runs?agent_id={}", agents[0]);
    assert_eq!(walk(&s, &filtered, 4, "items").await, quoted(&runs));
    let other = format!("/v1/runs?agent_id={}", agents[1]);
    assert!(walk(&s, &other, 4, "items").await.is_empty());

    // The audit record pages its events; every page carries the chain's head.
    let run = &runs[0];
    s.rt.wait_run(
        s.rt.default_workspace(),
        run,
        std::time::Duration::from_secs(10),
    )
    .await
    .unwrap();
    let (_, whole) = s
        .send(
            "GET",
            &format!("/v1/runs/{run}/audit?limit=1000"),
            None,
            None,
        )
        .await;
    let seqs: Vec<String> = whole["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["seq"].to_string())
        .collect();
    assert!(seqs.len() >= 2, "{whole}");
    assert_eq!(
        walk(&s, &format!("/v1/runs/{run}/audit"), 1, "events").await,
        seqs
    );
    let (_, first) = s
        .send("GET", &format!("/v1/runs/{run}/audit?limit=1"), None, None)
        .await;
    assert_eq!(first["head_hash"], whole["head_hash"]);

    // Bad pages: a clear 400 naming the field.
    for (query, field) in [
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
        ("limit=-1", "limit"),
        ("limit=abc", "limit"),
        ("limit=2.5", "limit"),
        ("limit=99999999999999999999", "limit"),
        ("cursor=nope", "cursor"),
        ("cursor=run_00000000000000000000000000", "cursor"),
        ("page=2", "page"),
    ] {
        let (st, v) = s
            .send("GET", &format!("/v1/agents?{query}"), None, None)
            .await;
        assert_eq!(st, StatusCode::BAD_REQUEST, "{query}: {v}");
        assert_eq!(
            error_field(&v),
            ("invalid_argument", Some(field)),
            "{query}: {v}"
        );
    }
    let (st, v) = s
        .send("GET", &format!("/v1/runs/{run}/audit?cursor=x"), None, None)
        .await;
    assert_eq!(
        (st, error_field(&v)),
        (
            StatusCode::BAD_REQUEST,
            ("invalid_argument", Some("cursor"))
        )
    );
    // A list without `limit` answers at most the default page.
    let (_, v) = s.send("GET", "/v1/agents", None, None).await;
    assert_eq!(v["items"].as_array().unwrap().len(), 7);
    assert_eq!(v["next_cursor"], Value::Null);
}
