//! The `llm` loop against an OpenAI-compatible chat-completions server on loopback
//! that streams its answers in fragments: the key comes from the vault, tool-call
//! fragments are assembled, tool results go back, usage is charged, and the key
//! never shows up in what the run records.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::HeaderMap;
use heroa::protocol::*;
use heroa::{Client, Skill};
use secrecy::SecretString;
use serde_json::{Value, json};

type Seen = Arc<Mutex<Vec<(Option<String>, Value)>>>;

const KEY: &str = "sk-test-openai-KEY-0000000000";

fn sse(chunks: &[Value]) -> String {
    let mut out = String::new();
    for c in chunks {
        out.push_str(&format!("data: {c}\n\n"));
    }
    out.push_str("data: [DONE]\n\n");
    out
}

async fn fake_openai() -> (String, Seen) {
    let seen: Seen = Arc::default();
    let s = seen.clone();
    let app = axum::Router::new().route(
        "/v1/chat/completions",
        axum::routing::post(move |headers: HeaderMap, body: axum::Json<Value>| {
            let s = s.clone();
            async move {
                let auth = headers.get("authorization").map(|v| v.to_str().unwrap().to_string());
                let n = {
                    let mut l = s.lock().unwrap();
                    l.push((auth, body.0.clone()));
                    l.len()
                };
                let chunk = |delta: Value, finish: Value| json!({"id": "chatcmpl-1", "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]});
                let body = if n == 1 {
                    sse(&[
                        chunk(json!({"role": "assistant", "content": "Let me "}), Value::Null),
                        chunk(json!({"content": "check."}), Value::Null),
                        chunk(json!({"tool_calls": [{"index": 0, "id": "call_1", "type": "function", "function": {"name": "hubspot__contact__read", "arguments": "{\"id\":"}}]}), Value::Null),
                        chunk(json!({"tool_calls": [{"index": 0, "function": {"arguments": " \"c-7\"}"}}]}), Value::Null),
                        chunk(json!({}), json!("tool_calls")),
                        json!({"id": "chatcmpl-1", "object": "chat.completion.chunk", "choices": [], "usage": {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120}}),
                    ])
                } else {
                    sse(&[
                        chunk(json!({"content": "c-7 is at Acme."}), Value::Null),
                        chunk(json!({}), json!("stop")),
                        json!({"id": "chatcmpl-2", "object": "chat.completion.chunk", "choices": [], "usage": {"prompt_tokens": 140, "completion_tokens": 10, "total_tokens": 150}}),
                    ])
                };
                ([("content-type", "text/event-stream")], body)
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/v1", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, seen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_loop_drives_a_streaming_openai_compatible_model() {
    let (base_url, seen) = fake_openai().await;
    let c = Client::embedded(None).unwrap();
    c.runtime()
        .unwrap()
        .register_skill(
            Skill::new("hubspot:contact:read", SkillKind::Read, |call| async move {
                Ok(json!({"id": call.args["id"], "company": "Acme"}))
            })
            .description("Reads a HubSpot contact."),
        )
        .unwrap();
    let agent = c
        .agents()
        .register(RegisterAgent {
            template: Some("llm".into()),
            llm_configs: Some(vec![LlmConfig {
                provider: "openai".into(),
                model: "gpt-4o-mini".into(),
                base_url: Some(base_url),
                prompt_usd_per_1k: Some("0.15".parse().unwrap()),
                completion_usd_per_1k: Some("0.6".parse().unwrap()),
                ..Default::default()
            }]),
            tools: Some(vec![ToolSpec {
                name: "hubspot:contact:read".into(),
                ..Default::default()
            }]),
            ..RegisterAgent::new("gpt-agent", "us-east")
        })
        .await
        .unwrap();
    c.policies()
        .create(&agent.id, "permit(principal, action, resource);")
        .await
        .unwrap();
    c.agents()
        .set_promotion(&agent.id, PromotionLevel::L3Autonomous)
        .await
        .unwrap();

    // Without the key in the vault the run fails and says which vault key is missing.
    let run = c
        .agents()
        .run(&agent.id, json!({"prompt": "Who is c-7?"}))
        .await
        .unwrap();
    let run = c
        .runs()
        .wait(&run.id, Duration::from_secs(10))
        .await
        .unwrap();
    assert_eq!(run.status, RunStatus::Failed);
    assert!(run.error.unwrap().contains("openai_api_key"));

    c.vault()
        .put(VaultPut::agent(
            &agent.id,
            "openai_api_key",
            SecretString::from(KEY.to_string()),
        ))
        .await
        .unwrap();
    let run = c
        .agents()
        .run(&agent.id, json!({"prompt": "Who is c-7?"}))
        .await
        .unwrap();
    let run = c
        .runs()
        .wait(&run.id, Duration::from_secs(10))
        .await
        .unwrap();
    assert_eq!(run.status, RunStatus::Complete, "{:?}", run.error);
    assert_eq!(run.output.as_ref().unwrap()["content"], "c-7 is at Acme.");
    // (100 + 140) tokens at $0.15 per 1k plus (20 + 10) at $0.6, exactly.
    assert_eq!(run.cost_usd.to_string(), "0.054");

    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0].0.as_deref(), Some(format!("Bearer {KEY}").as_str()));
    let first = &seen[0].1;
    assert_eq!(first["model"], "gpt-4o-mini");
    assert_eq!(first["stream"], true);
    assert_eq!(
        first["tools"][0]["function"]["name"],
        "hubspot__contact__read"
    );
    let second = seen[1].1["messages"].as_array().unwrap();
    let tool_msg = second.iter().find(|m| m["role"] == "tool").unwrap();
    assert_eq!(tool_msg["tool_call_id"], "call_1");
    assert!(tool_msg["content"].as_str().unwrap().contains("Acme"));
    let assistant = second.iter().find(|m| m["role"] == "assistant").unwrap();
    assert_eq!(assistant["content"], "Let me check.");
    assert_eq!(
        assistant["tool_calls"][0]["function"]["arguments"],
        "{\"id\": \"c-7\"}"
    );
    assert_eq!(
        assistant["tool_calls"][0]["function"]["name"], "hubspot__contact__read",
        "history keeps the model's names"
    );

    let audit = serde_json::to_string(&c.runs().audit(&run.id).await.unwrap()).unwrap();
    assert!(!audit.contains(KEY));
    assert!(
        audit.contains("\"name\":\"hubspot:contact:read\""),
        "completions name the skill"
    );
}
