//! The `llm` run loop on the offline provider: two tool calls, one blocked by the
//! policy envelope, visible in the stream and the audit; a reconnect in the middle
//! of the stream loses and repeats nothing.

use std::time::Duration;

use heroa::protocol::*;
use heroa::runtime::RunEvent;
use heroa::{Client, Runtime, Skill};
use serde_json::{Value, json};

const SEED_POLICY: &str = r#"
    permit(principal, action == Action::"skill:invoke", resource)
    when {
      resource.name in ["hubspot:contact:read", "hubspot:contact:enrich"]
      && context.run_cost_usd < 0.50
    };
"#;

fn script() -> Vec<ScriptedTurn> {
    serde_json::from_value(json!([
        {"content": "I'll look the contact up and tell the team.",
         "tool_calls": [{"name": "hubspot:contact:read", "arguments": {"id": "c-101"}},
                        {"name": "slack:post", "arguments": {"text": "found it"}}],
         "usage": {"prompt_tokens": 150, "completion_tokens": 45, "total_tokens": 195}},
        {"content": "Contact c-101 works at Acme. I could not post to Slack.",
         "usage": {"prompt_tokens": 180, "completion_tokens": 18, "total_tokens": 198}}
    ]))
    .unwrap()
}

async fn setup() -> (Runtime, Client, Agent) {
    let rt = Runtime::memory().unwrap();
    rt.register_skill(
        Skill::new("hubspot:contact:read", SkillKind::Read, |c| async move {
            Ok(json!({"id": c.args["id"], "company": "Acme"}))
        })
        .cost_usd(Usd::cents(25)),
    )
    .unwrap();
    rt.register_skill(Skill::new("slack:post", SkillKind::Write, |_| async move {
        Ok(json!({"ok": true}))
    }))
    .unwrap();
    let client = Client::from_runtime(rt.clone(), None);
    let agent = client
        .agents()
        .register(RegisterAgent {
            template: Some("llm".into()),
            system_prompt: Some("You enrich leads.".into()),
            llm_configs: Some(vec![LlmConfig {
                provider: "offline".into(),
                model: "claude-4-sonnet".into(),
                turns: Some(script()),
                prompt_usd_per_1k: Some("0.003".parse().unwrap()),
                completion_usd_per_1k: Some("0.015".parse().unwrap()),
                ..Default::default()
            }]),
            tools: Some(vec![
                ToolSpec {
                    name: "hubspot:contact:read".into(),
                    ..Default::default()
                },
                ToolSpec {
                    name: "slack:post".into(),
                    ..Default::default()
                },
            ]),
            ..RegisterAgent::new("lead-research-v1", "us-east")
        })
        .await
        .unwrap();
    client
        .policies()
        .create(&agent.id, SEED_POLICY)
        .await
        .unwrap();
    let agent = client
        .agents()
        .set_promotion(&agent.id, PromotionLevel::L3Autonomous)
        .await
        .unwrap();
    (rt, client, agent)
}

async fn drain(
    rt: &Runtime,
    run_id: &str,
    after: Option<u64>,
    stop_after: Option<usize>,
) -> Vec<RunEvent> {
    let mut s = rt
        .run_events(rt.default_workspace(), run_id, after)
        .unwrap();
    let mut out = Vec::new();
    while let Some(e) = tokio::time::timeout(Duration::from_secs(10), s.next())
        .await
        .unwrap()
    {
        out.push(e.unwrap());
        if stop_after.is_some_and(|n| out.len() == n) {
            break;
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offline_loop_runs_tools_under_the_envelope_and_streams_every_step() {
    let (rt, client, agent) = setup().await;
    let run = client
        .agents()
        .run(&agent.id, json!({"prompt": "Enrich lead c-101"}))
        .await
        .unwrap();
    // Read part of the stream live, "drop the connection", resume after the last id.
    let first = drain(&rt, &run.id, None, Some(4)).await;
    let rest = drain(&rt, &run.id, first.last().map(|e| e.id), None).await;
    let all: Vec<RunEvent> = first.iter().chain(rest.iter()).cloned().collect();
    let ids: Vec<u64> = all.iter().map(|e| e.id).collect();
    assert_eq!(
        ids,
        (0..ids.len() as u64).collect::<Vec<_>>(),
        "no gap, no repeat"
    );
    assert_eq!(
        all,
        drain(&rt, &run.id, None, None).await,
        "a fresh read gives the same stream"
    );
    assert!(all.last().unwrap().is_done());

    let run = client
        .runs()
        .wait(&run.id, Duration::from_secs(10))
        .await
        .unwrap();
    assert_eq!(run.status, RunStatus::Partial);
    assert_eq!((run.actions_executed, run.actions_blocked), (1, 1));
    // The skill's $0.25, plus each model call's tokens at $0.003 / $0.015 per 1k,
    // exactly: (150 + 180) × 3 + (45 + 18) × 15 micro-dollars.
    assert_eq!(run.cost_usd.to_string(), "0.251935");
    let out = run.output.unwrap();
    assert_eq!(
        out["content"],
        "Contact c-101 works at Acme. I could not post to Slack."
    );
    assert_eq!(out["finish_reason"], "stop");
    assert_eq!(out["usage"]["total_tokens"], 393);

    // The messages read like the Heroku Agents API's stream.
    let messages: Vec<&Value> = all
        .iter()
        .filter(|e| e.event == "message")
        .map(|e| &e.data)
        .collect();
    let objects: Vec<&str> = messages
        .iter()
        .map(|m| m["object"].as_str().unwrap())
        .collect();
    assert_eq!(
        objects,
        [
            "chat.completion",
            "tool.completion",
            "tool.completion",
            "chat.completion"
        ]
    );
    let calls = messages[0]["choices"][0]["message"]["tool_calls"]
        .as_array()
        .unwrap();
    assert_eq!(calls[0]["function"]["name"], "hubspot:contact:read");
    assert_eq!(messages[0]["choices"][0]["finish_reason"], "tool_calls");
    assert_eq!(messages[0]["usage"]["prompt_tokens"], 150);
    let read = &messages[1]["choices"][0]["message"];
    assert_eq!(read["tool_call_id"], calls[0]["id"]);
    assert!(read["content"].as_str().unwrap().contains("Acme"));
    let blocked = &messages[2]["choices"][0]["message"];
    assert!(
        blocked["content"]
            .as_str()
            .unwrap()
            .starts_with("blocked by the policy envelope"),
        "{blocked}"
    );
    assert_eq!(messages[3]["choices"][0]["finish_reason"], "stop");
    let kinds: Vec<&str> = all.iter().map(|e| e.event.as_str()).collect();
    assert!(
        kinds.contains(&"action.blocked") && kinds.contains(&"skill.executed"),
        "{kinds:?}"
    );

    // The audit holds the same events and verifies.
    let audit = client.runs().audit(&run.id).await.unwrap();
    assert_eq!(audit.events.len() + 1, all.len());
    assert!(client.runs().verify_audit(&run.id).await.unwrap().valid);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tool_limits_and_step_limit_apply() {
    let (_rt, client, agent) = setup().await;
    let many: Vec<ScriptedTurn> = (0..5)
        .map(|i| ScriptedTurn {
            content: format!("step {i}"),
            tool_calls: vec![ScriptedToolCall {
                name: "hubspot__contact__read".into(),
                arguments: json!({"id": i}),
            }],
            usage: None,
        })
        .collect();
    let mut cfg = client
        .agents()
        .get(&agent.id)
        .await
        .unwrap()
        .llm_configs
        .remove(0);
    cfg.turns = Some(many);
    client
        .agents()
        .update(
            &agent.id,
            UpdateAgent {
                llm_configs: Some(vec![cfg]),
                tools: Some(vec![ToolSpec {
                    name: "hubspot:contact:read".into(),
                    max_calls: Some(1),
                    ..Default::default()
                }]),
                max_steps: Some(3),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let run = client
        .agents()
        .run(&agent.id, json!({"prompt": "loop"}))
        .await
        .unwrap();
    let run = client
        .runs()
        .wait(&run.id, Duration::from_secs(10))
        .await
        .unwrap();
    assert_eq!(run.status, RunStatus::Complete);
    assert_eq!(run.actions_executed, 1, "max_calls = 1");
    let out = run.output.unwrap();
    assert_eq!(
        (out["steps"].as_u64(), out["finish_reason"].as_str()),
        (Some(3), Some("max_steps"))
    );
    let audit = client.runs().audit(&run.id).await.unwrap();
    let tool_texts: Vec<String> = audit
        .events
        .iter()
        .filter(|e| e.kind == "message" && e.data["object"] == "tool.completion")
        .map(|e| {
            e.data["choices"][0]["message"]["content"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(tool_texts.len(), 3);
    assert!(
        tool_texts[1].contains("max_calls (1) reached"),
        "{tool_texts:?}"
    );

    // Bad loop settings name their field.
    let err = client
        .agents()
        .update(
            &agent.id,
            UpdateAgent {
                max_steps: Some(0),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(err.field(), Some("max_steps"));
    let err = client
        .agents()
        .update(
            &agent.id,
            UpdateAgent {
                llm_configs: Some(vec![LlmConfig {
                    provider: "magic".into(),
                    model: "m".into(),
                    ..Default::default()
                }]),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(err.field(), Some("llm_configs[0].provider"));
}
