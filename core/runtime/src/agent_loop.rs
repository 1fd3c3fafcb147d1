//! The built-in `llm` template: the agent loop.
//!
//! Messages and tools (the agent's skills) go to a model; each tool call passes the
//! policy envelope and the promotion level before the skill runs; tool results go
//! back; until the model stops or the step limit. Every model turn and tool result is
//! a `message` event in the Heroku Agents API's completion format (`chat.completion`,
//! `tool.completion`), so the run's stream reads like Heroku's agents endpoint.
//! Token usage times the config's prices is added to `run_cost_usd`.
//!
//! Input: `{"messages": [...]}` (OpenAI-format), or `{"prompt": "..."}`, or any JSON
//! (sent as the user message). Optional overrides: `model`, `tools` (tool specs).

use std::collections::HashMap;
use std::time::Duration;

use serde_json::{Value, json};

use super::{RunContext, SkillOutcome, Template};
#[cfg(feature = "llm-openai")]
use crate::llm::OpenAiProvider;
use crate::llm::{ChatRequest, ModelTurn, OfflineProvider, Provider};
use heroa_protocol::{LlmConfig, ToolSpec, Usd};

const DEFAULT_MAX_CALLS: u32 = 3;
const DEFAULT_TTL: u64 = 120;

pub(super) fn template() -> Template {
    Template::new("llm", |ctx: RunContext| async move { run(ctx).await }).description(
        "The agent loop: a model with the agent's skills as tools, gated by policy and promotion.",
    )
}

/// Model-facing tool name: OpenAI allows `[a-zA-Z0-9_-]`; `:` becomes `__`.
fn wire_name(skill: &str) -> String {
    skill
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c.to_string()
            } else if c == ':' {
                "__".into()
            } else {
                "_".into()
            }
        })
        .collect()
}

#[cfg_attr(not(feature = "llm-openai"), allow(unused_variables))]
fn provider(ctx: &RunContext, cfg: &LlmConfig) -> Result<Box<dyn Provider>, String> {
    match cfg.provider.as_str() {
        "offline" => match (&cfg.turns, &cfg.script) {
            (Some(turns), _) => Ok(Box::new(OfflineProvider::new(turns.clone()))),
            (None, Some(path)) => OfflineProvider::from_file(path)
                .map(|p| Box::new(p) as Box<dyn Provider>)
                .map_err(|e| e.to_string()),
            (None, None) => Err("the offline provider needs `script` or `turns`".into()),
        },
        #[cfg(not(feature = "llm-openai"))]
        "openai" => Err(
            "the openai provider needs a runtime built with the `llm-openai` feature".to_string(),
        ),
        #[cfg(feature = "llm-openai")]
        "openai" => {
            let key_name = cfg.api_key_vault_key.as_deref().unwrap_or("openai_api_key");
            let key = ctx.runtime_secret(key_name).map_err(|e| {
                format!(
                    "the provider key {key_name:?} could not be read from the vault: {}",
                    e.message()
                )
            })?;
            let base = cfg
                .base_url
                .as_deref()
                .unwrap_or("https://api.openai.com/v1");
            Ok(Box::new(OpenAiProvider::new(base, key)))
        }
        other => Err(format!("unknown provider {other:?}")),
    }
}

fn completion(ctx: &RunContext, model: &str, message: Value, finish: &str, usage: Value) -> Value {
    json!({
        "id": format!("chatcmpl-{}", ctx.run_id()),
        "object": if message["role"] == "tool" { "tool.completion" } else { "chat.completion" },
        "created": ctx.clock().now_ms() / 1000,
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
        "usage": usage,
    })
}

fn tool_result_text(outcome: &SkillOutcome) -> String {
    match outcome {
        SkillOutcome::Executed {
            output: Value::String(s),
        } => s.clone(),
        SkillOutcome::Executed { output } => output.to_string(),
        SkillOutcome::Shadowed => {
            "not executed: the agent is in L0 shadow mode (the call was recorded)".into()
        }
        SkillOutcome::Blocked { reason } => format!("blocked by the policy envelope: {reason}"),
        SkillOutcome::Skipped { reason } => format!("skipped: the approval was {reason}"),
        SkillOutcome::Failed { error } => format!("error: {error}"),
    }
}

async fn run(ctx: RunContext) -> Result<Value, String> {
    let agent = ctx.agent().clone();
    let cfg = agent
        .llm_configs
        .iter()
        .find(|c| c.role.as_deref().unwrap_or("chat") == "chat")
        .cloned()
        .ok_or(
            "the agent has no llm_configs entry with role \"chat\"; set one with agents.update",
        )?;
    let model = ctx
        .input
        .get("model")
        .and_then(Value::as_str)
        .unwrap_or(&cfg.model)
        .to_string();
    let specs: Vec<ToolSpec> = match ctx.input.get("tools") {
        Some(t) => serde_json::from_value(t.clone()).map_err(|e| format!("input.tools: {e}"))?,
        None => agent.tools.clone(),
    };
    let provider = provider(&ctx, &cfg)?;

    // Tools: the model sees wire names; either name resolves to the skill.
    let rt_skills = ctx.skill_infos();
    let mut tools = Vec::new();
    let mut by_name: HashMap<String, ToolSpec> = HashMap::new();
    for spec in &specs {
        let info = rt_skills
            .get(&spec.name)
            .ok_or_else(|| format!("tool {:?} is not a registered skill", spec.name))?;
        tools.push(json!({"type": "function", "function": {
            "name": wire_name(&spec.name),
            "description": spec.description.clone().or_else(|| info.description.clone()).unwrap_or_default(),
            "parameters": {"type": "object", "additionalProperties": true},
        }}));
        by_name.insert(wire_name(&spec.name), spec.clone());
        by_name.insert(spec.name.clone(), spec.clone());
    }

    let mut messages: Vec<Value> = Vec::new();
    if let Some(p) = &agent.system_prompt {
        messages.push(json!({"role": "system", "content": p}));
    }
    match (ctx.input.get("messages"), ctx.input.get("prompt")) {
        (Some(Value::Array(m)), _) => messages.extend(m.iter().cloned()),
        (Some(_), _) => return Err("input.messages must be a list of messages".into()),
        (None, Some(Value::String(p))) => messages.push(json!({"role": "user", "content": p})),
        _ => messages.push(json!({"role": "user", "content": ctx.input.to_string()})),
    }

    let mut calls: HashMap<String, u32> = HashMap::new();
    let mut total = heroa_protocol::TokenUsage::default();
    let mut last = ModelTurn::default();
    let mut steps = 0;
    while steps < agent.max_steps {
        steps += 1;
        let req = ChatRequest {
            model: model.clone(),
            messages: messages.clone(),
            tools: tools.clone(),
            temperature: ctx
                .input
                .get("temperature")
                .and_then(Value::as_f64)
                .or(cfg.temperature),
        };
        let turn = provider
            .complete(req)
            .await
            .map_err(|e| format!("model call failed: {}", e.message()))?;
        total.prompt_tokens += turn.usage.prompt_tokens;
        total.completion_tokens += turn.usage.completion_tokens;
        total.total_tokens += turn.usage.total_tokens;
        let cost = (cfg.prompt_usd_per_1k.unwrap_or(Usd::ZERO))
            .per_1k(turn.usage.prompt_tokens)
            .saturating_add(
                (cfg.completion_usd_per_1k.unwrap_or(Usd::ZERO))
                    .per_1k(turn.usage.completion_tokens),
            );
        ctx.charge(
            cost,
            "llm.usage",
            json!({"model": model, "usage": turn.usage, "cost_usd": cost}),
        )
        .map_err(|e| e.to_string())?;
        // The model's history keeps its own tool names; the emitted completion names the skill.
        let calls_as = |skill_names: bool| -> Vec<Value> {
            turn.tool_calls
                .iter()
                .map(|c| {
                    let name = match by_name.get(&c.name) {
                        Some(s) if skill_names => s.name.clone(),
                        _ => c.name.clone(),
                    };
                    json!({"id": c.id, "type": "function", "function": {"name": name, "arguments": c.arguments}})
                })
                .collect()
        };
        let message = |skill_names: bool| {
            let mut m = json!({"role": "assistant", "content": turn.content});
            if !turn.tool_calls.is_empty() {
                m["tool_calls"] = Value::Array(calls_as(skill_names));
            }
            m
        };
        ctx.emit(
            "message",
            completion(
                &ctx,
                &model,
                message(true),
                &turn.finish_reason,
                json!(turn.usage),
            ),
        )
        .map_err(|e| e.to_string())?;
        messages.push(message(false));
        if turn.tool_calls.is_empty() {
            last = turn;
            break;
        }
        for call in &turn.tool_calls {
            let content = match by_name.get(&call.name) {
                None => format!("error: unknown tool {:?}", call.name),
                Some(spec) => {
                    let n = calls.entry(spec.name.clone()).or_default();
                    *n += 1;
                    let max = spec.max_calls.unwrap_or(DEFAULT_MAX_CALLS);
                    if *n > max {
                        format!("error: max_calls ({max}) reached for tool {}", spec.name)
                    } else {
                        match serde_json::from_str::<Value>(&call.arguments) {
                            Err(e) => format!("error: the arguments are not valid JSON: {e}"),
                            Ok(args) => {
                                let ttl =
                                    Duration::from_secs(spec.ttl_seconds.unwrap_or(DEFAULT_TTL));
                                let outcome = ctx
                                    .call_with_timeout(&spec.name, args, Some(ttl))
                                    .await
                                    .map_err(|e| e.to_string())?;
                                tool_result_text(&outcome)
                            }
                        }
                    }
                }
            };
            let tool_msg = json!({"role": "tool", "content": content, "tool_call_id": call.id});
            ctx.emit(
                "message",
                completion(&ctx, &model, tool_msg.clone(), "", json!({})),
            )
            .map_err(|e| e.to_string())?;
            messages.push(tool_msg);
        }
        last = turn;
    }
    let stopped = if last.tool_calls.is_empty() {
        last.finish_reason.clone()
    } else {
        "max_steps".to_string()
    };
    Ok(json!({"content": last.content, "finish_reason": stopped, "steps": steps, "usage": total}))
}
