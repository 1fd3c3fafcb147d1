//! The run event stream over `heroa serve`: SSE with ids, resume by
//! `Last-Event-ID`, keep-alive comments, and a client that reconnects through a
//! connection that drops mid-stream without losing or repeating an event. Also the
//! Heroku-compatible endpoint, read with the SSE decoder and agent-loop assembler.

use std::time::Duration;

use heroa::protocol::*;
use heroa::runtime::RunEvent;
use heroa::server::{ServeOptions, Server};
use heroa::{Client, Runtime, Skill};
use secrecy::SecretString;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn serve(keep_alive: Duration) -> (Runtime, Server, String) {
    let rt = Runtime::memory().unwrap();
    rt.register_skill(Skill::new("pg_psql", SkillKind::Read, |_| async move {
        Ok(json!("tablename\n---------\nusers\nproducts\norders"))
    }))
    .unwrap();
    let key = rt
        .create_api_key(rt.default_workspace())
        .unwrap()
        .reveal()
        .to_string();
    let server = Server::start(
        rt.clone(),
        "127.0.0.1:0".parse().unwrap(),
        ServeOptions {
            keep_alive,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    (rt, server, key)
}

async fn agent(c: &Client) -> Agent {
    let a = c
        .agents()
        .register(RegisterAgent {
            llm_configs: Some(vec![LlmConfig {
                provider: "offline".into(),
                model: "claude-4-sonnet".into(),
                turns: Some(
                    serde_json::from_value(json!([
                        {"content": "I'll query your database to show all tables.",
                         "tool_calls": [{"name": "pg_psql", "arguments": {"query": "SELECT tablename FROM pg_tables WHERE schemaname='public';"}}],
                         "usage": {"prompt_tokens": 150, "completion_tokens": 45, "total_tokens": 195}},
                        {"content": "Your database has 3 tables: users, products, and orders.",
                         "usage": {"prompt_tokens": 180, "completion_tokens": 18, "total_tokens": 198}}
                    ]))
                    .unwrap(),
                ),
                ..Default::default()
            }]),
            tools: Some(vec![ToolSpec { name: "pg_psql".into(), ..Default::default() }]),
            template: Some("llm".into()),
            ..RegisterAgent::new("devops", "us-west")
        })
        .await
        .unwrap();
    c.policies()
        .create(&a.id, "permit(principal, action, resource);")
        .await
        .unwrap();
    c.agents()
        .set_promotion(&a.id, PromotionLevel::L3Autonomous)
        .await
        .unwrap()
}

async fn collect(mut s: heroa::client::RunStream) -> Vec<RunEvent> {
    let mut out = Vec::new();
    while let Some(e) = tokio::time::timeout(Duration::from_secs(10), s.next())
        .await
        .unwrap()
    {
        out.push(e.unwrap());
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remote_stream_matches_embedded_and_resumes_after_an_id() {
    let (rt, server, key) = serve(Duration::from_secs(15)).await;
    let c = Client::remote(&server.url(), SecretString::from(key)).unwrap();
    let a = agent(&c).await;
    let run = c
        .agents()
        .run(
            &a.id,
            json!({"prompt": "Run a database query to show all tables."}),
        )
        .await
        .unwrap();
    let remote = collect(c.runs().stream(&run.id).await.unwrap()).await;
    let local = collect(
        Client::from_runtime(rt, None)
            .runs()
            .stream(&run.id)
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(remote, local);
    assert!(remote.last().unwrap().is_done());
    let tail = collect(c.runs().stream_after(&run.id, Some(3)).await.unwrap()).await;
    assert_eq!(tail, remote[4..].to_vec());
    let objects: Vec<&str> = remote
        .iter()
        .filter(|e| e.event == "message")
        .map(|e| e.data["object"].as_str().unwrap())
        .collect();
    assert_eq!(
        objects,
        ["chat.completion", "tool.completion", "chat.completion"]
    );
}

/// A loopback TCP proxy that cuts the first connection after `cut` bytes from the server.
async fn flaky_proxy(upstream: std::net::SocketAddr, cut: usize) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut first = true;
        loop {
            let (mut client, _) = listener.accept().await.unwrap();
            let limit = if first { Some(cut) } else { None };
            first = false;
            tokio::spawn(async move {
                let mut server = tokio::net::TcpStream::connect(upstream).await.unwrap();
                let (mut cr, mut cw) = client.split();
                let (mut sr, mut sw) = server.split();
                let up = tokio::io::copy(&mut cr, &mut sw);
                let down = async {
                    let mut sent = 0usize;
                    let mut buf = [0u8; 512];
                    loop {
                        let n = sr.read(&mut buf).await.unwrap_or(0);
                        if n == 0 {
                            break;
                        }
                        let n = limit.map_or(n, |l| n.min(l.saturating_sub(sent)));
                        if n == 0 || cw.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                        sent += n;
                    }
                };
                tokio::select! { _ = up => {}, _ = down => {} }
            });
        }
    });
    format!("http://{addr}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_reconnects_through_a_dropped_connection_without_gaps_or_repeats() {
    let (_rt, server, key) = serve(Duration::from_secs(15)).await;
    let direct = Client::remote(&server.url(), SecretString::from(key.clone())).unwrap();
    let a = agent(&direct).await;
    let run = direct
        .agents()
        .run(&a.id, json!({"prompt": "tables?"}))
        .await
        .unwrap();
    direct
        .runs()
        .wait(&run.id, Duration::from_secs(10))
        .await
        .unwrap();
    let expected = collect(direct.runs().stream(&run.id).await.unwrap()).await;

    let proxy = flaky_proxy(server.addr(), 1500).await;
    let c = Client::remote(&proxy, SecretString::from(key)).unwrap();
    let mut s = c.runs().stream(&run.id).await.unwrap();
    let mut got = Vec::new();
    while let Some(e) = tokio::time::timeout(Duration::from_secs(10), s.next())
        .await
        .unwrap()
    {
        got.push(e.unwrap());
    }
    assert!(
        s.reconnects() >= 1,
        "the proxy should have forced a reconnect"
    );
    assert_eq!(got, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_streams_send_keep_alive_comments_and_bad_last_event_ids_are_named() {
    let (rt, server, key) = serve(Duration::from_millis(100)).await;
    let c = Client::from_runtime(rt, None);
    let a = c
        .agents()
        .register(RegisterAgent::new("waiter", "us-east"))
        .await
        .unwrap();
    c.policies()
        .create(&a.id, "permit(principal, action, resource);")
        .await
        .unwrap();
    let run = c
        .agents()
        .run(
            &a.id,
            json!({"calls": [{"skill": "heroa:sleep", "args": {"ms": 1500}}]}),
        )
        .await
        .unwrap();
    let mut resp = reqwest::Client::new()
        .get(format!("{}/v1/runs/{}/events", server.url(), run.id))
        .bearer_auth(&key)
        .header("last-event-id", "1")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    let mut text = String::new();
    while !text.contains(":keep-alive") && !text.contains(": keep-alive") {
        let chunk = tokio::time::timeout(Duration::from_secs(5), resp.chunk())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(
        !text.contains("id: 0\n") && !text.contains("id: 1\n"),
        "resumed after id 1: {text}"
    );
    let bad = reqwest::Client::new()
        .get(format!("{}/v1/runs/{}/events", server.url(), run.id))
        .bearer_auth(&key)
        .header("last-event-id", "yesterday")
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    let v: Value = bad.json().await.unwrap();
    assert_eq!(v["error"]["field"], "Last-Event-ID");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_heroku_endpoint_streams_the_heroku_agents_api_format() {
    let (rt, server, key) = serve(Duration::from_secs(15)).await;
    let c = Client::from_runtime(rt, None);
    agent(&c).await;
    let body = json!({
        "model": "claude-4-sonnet",
        "messages": [
            {"role": "system", "content": "You are a helpful DevOps assistant."},
            {"role": "user", "content": "Run a database query to show all tables in my database."}
        ],
        "tools": [{"type": "heroku_tool", "name": "pg_psql",
                   "runtime_params": {"target_app_name": "my-app", "tool_params": {"db_attachment": "DATABASE_URL"}}}]
    });
    let http = reqwest::Client::new();
    let resp = http
        .post(format!("{}/v1/agents/heroku", server.url()))
        .bearer_auth(&key)
        .header("heroa-agent", "devops")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let run_id = resp.headers()["heroa-run-id"].to_str().unwrap().to_string();
    let bytes = resp.bytes().await.unwrap();
    let mut assembler = heroa::sse::AgentLoop::new();
    let messages = assembler.feed(&bytes).unwrap();
    assert!(assembler.is_done());
    let text = String::from_utf8(bytes.to_vec()).unwrap();
    assert!(text.ends_with("event: done\ndata: [DONE]\n\n"), "{text}");
    assert!(
        !text.contains("\nid:") && !text.contains("action."),
        "only message and done events: {text}"
    );
    use heroa::sse::Message;
    match &messages[0] {
        Message::Assistant {
            tool_calls, usage, ..
        } => {
            assert_eq!(tool_calls[0].name, "pg_psql");
            assert_eq!(
                tool_calls[0].arguments["query"],
                "SELECT tablename FROM pg_tables WHERE schemaname='public';"
            );
            assert_eq!(usage.as_ref().unwrap().total_tokens, 195);
        }
        other => panic!("{other:?}"),
    }
    assert!(
        matches!(&messages[1], Message::Tool { content, .. } if content.contains("orders")),
        "{messages:?}\n{text}"
    );
    assert!(
        matches!(&messages[2], Message::Assistant { content, .. } if content.contains("3 tables")),
        "{messages:?}"
    );
    assert_eq!(
        c.runs().get(&run_id).await.unwrap().status,
        RunStatus::Complete
    );

    // Unknown tools and a missing agent header are clear errors.
    let mut bad = body.clone();
    bad["tools"][0]["name"] = json!("dyno_restart");
    let resp = http
        .post(format!("{}/v1/agents/heroku", server.url()))
        .bearer_auth(&key)
        .header("heroa-agent", "devops")
        .json(&bad)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["field"], "tools[0].name");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("dyno_restart")
    );
    let resp = http
        .post(format!("{}/v1/agents/heroku", server.url()))
        .bearer_auth(&key)
        .json(&body)
        .send()
        .await
        .unwrap();
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["field"], "Heroa-Agent");
}
