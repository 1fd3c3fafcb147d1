//! `POST /v1/agents/heroku`: the Heroku Agents API's endpoint, served by Heroa.
//!
//! The request is Heroku's — `model`, `messages`, `tools` (`heroku_tool` / `mcp`, with
//! `runtime_params`), `temperature`, … — and the answer streams the agent loop in
//! exactly Heroku's format: `event: message` with `chat.completion` /
//! `tool.completion` objects, then `event: done` / `data: [DONE]`. Tools resolve to
//! the workspace's registered skills (an unknown tool is a 400 naming it) and run
//! under the agent's policy envelope and promotion level. The agent — whose
//! `llm_configs` choose the provider — is named by the `Heroa-Agent` header (id or
//! name). The run is an ordinary Heroa run: audited, costed, listed.

use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::AppState;
use heroa_protocol::error::{Error, Result};
use heroa_protocol::{StartRun, ToolSpec};

/// The Heroku Agents API's request body (`POST /v1/agents/heroku`).
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct HerokuRequest {
    /// The model; overrides the agent config's model.
    #[cfg_attr(feature = "openapi", schemars(length(min = 1)))]
    model: String,
    /// The conversation so far, at least one message.
    #[cfg_attr(feature = "openapi", schemars(schema_with = "heroku_messages"))]
    messages: Vec<Value>,
    /// Tools (default none); each names a skill registered with the runtime.
    #[serde(default)]
    tools: Vec<HerokuTool>,
    /// Sampling temperature, 0–1.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schemars(range(min = 0.0, max = 1.0)))]
    temperature: Option<f64>,
    /// Nucleus sampling, 0–1 (accepted; not passed on).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schemars(range(min = 0.0, max = 1.0)))]
    top_p: Option<f64>,
    #[serde(default)]
    #[expect(
        dead_code,
        reason = "accepted for Heroku compatibility; Heroa's loop does not use it (documented in openapi.json)"
    )]
    max_tokens_per_inference_request: Option<u64>,
    #[serde(default)]
    #[expect(
        dead_code,
        reason = "accepted for Heroku compatibility; Heroa's loop does not use it (documented in openapi.json)"
    )]
    stop: Option<Vec<String>>,
}

/// A tool of a Heroku request.
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct HerokuTool {
    /// `heroku_tool` or `mcp`.
    #[serde(rename = "type")]
    #[cfg_attr(feature = "openapi", schemars(extend("enum" = ["heroku_tool", "mcp"])))]
    kind: String,
    name: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    runtime_params: Option<RuntimeParams>,
}

/// `runtime_params` of a Heroku tool.
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "openapi", schemars(rename = "HerokuRuntimeParams"))]
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuntimeParams {
    #[serde(default)]
    #[expect(
        dead_code,
        reason = "accepted for Heroku compatibility; Heroa's loop does not use it (documented in openapi.json)"
    )]
    target_app_name: Option<String>,
    #[serde(default)]
    #[expect(
        dead_code,
        reason = "accepted for Heroku compatibility; Heroa's loop does not use it (documented in openapi.json)"
    )]
    dyno_size: Option<String>,
    /// Per-call timeout in seconds, 1–120.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schemars(range(min = 1, max = 120)))]
    ttl_seconds: Option<u64>,
    /// Calls allowed per run, at least 1.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schemars(range(min = 1)))]
    max_calls: Option<u32>,
    #[serde(default)]
    #[expect(
        dead_code,
        reason = "accepted for Heroku compatibility; Heroa's loop does not use it (documented in openapi.json)"
    )]
    tool_params: Option<Value>,
}

/// `messages`: at least one `HerokuMessage`.
#[cfg(feature = "openapi")]
fn heroku_messages(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "type": "array",
        "minItems": 1,
        "items": {"$ref": "#/components/schemas/HerokuMessage"}
    })
}

fn validate(s: &AppState, req: &HerokuRequest) -> Result<Vec<ToolSpec>> {
    if req.model.is_empty() {
        return Err(Error::invalid("model", "model must not be empty"));
    }
    if req.messages.is_empty() {
        return Err(Error::invalid(
            "messages",
            "messages must hold at least one message",
        ));
    }
    for (i, m) in req.messages.iter().enumerate() {
        match m.get("role").and_then(Value::as_str) {
            Some("system" | "user" | "assistant" | "tool") => {}
            _ => {
                return Err(Error::invalid(
                    format!("messages[{i}].role"),
                    "role must be one of system, user, assistant, tool",
                ));
            }
        }
    }
    for (name, v, lo, hi) in [
        ("temperature", req.temperature, 0.0, 1.0),
        ("top_p", req.top_p, 0.0, 1.0),
    ] {
        if v.is_some_and(|v| !(lo..=hi).contains(&v)) {
            return Err(Error::invalid(
                name,
                format!("{name} must be between {lo} and {hi}"),
            ));
        }
    }
    let skills = s.rt.list_skills().items;
    let mut specs = Vec::new();
    for (i, t) in req.tools.iter().enumerate() {
        if !matches!(t.kind.as_str(), "heroku_tool" | "mcp") {
            return Err(Error::invalid(
                format!("tools[{i}].type"),
                "type must be heroku_tool or mcp",
            ));
        }
        if !skills.iter().any(|s| s.name == t.name) {
            let names: Vec<&str> = skills.iter().map(|s| s.name.as_str()).collect();
            return Err(Error::invalid(
                format!("tools[{i}].name"),
                format!(
                    "unknown tool {:?}: no skill of that name is registered; registered skills: {}",
                    t.name,
                    names.join(", ")
                ),
            ));
        }
        let p = t.runtime_params.as_ref();
        if p.and_then(|p| p.ttl_seconds)
            .is_some_and(|t| t == 0 || t > 120)
        {
            return Err(Error::invalid(
                format!("tools[{i}].runtime_params.ttl_seconds"),
                "ttl_seconds must be 1-120",
            ));
        }
        if p.and_then(|p| p.max_calls) == Some(0) {
            return Err(Error::invalid(
                format!("tools[{i}].runtime_params.max_calls"),
                "max_calls must be at least 1",
            ));
        }
        specs.push(ToolSpec {
            name: t.name.clone(),
            description: t.description.clone(),
            max_calls: p.and_then(|p| p.max_calls),
            ttl_seconds: p.and_then(|p| p.ttl_seconds),
        });
    }
    Ok(specs)
}

/// The path of the Heroku Agents API's endpoint.
pub(super) const PATH: &str = "/v1/agents/heroku";

/// The `Heroa-Agent` header's value, or the error that names it. Checked before an
/// `Idempotency-Key` is looked at, so a request without it is refused as itself.
pub(super) fn agent_header(headers: &axum::http::HeaderMap) -> Result<&str> {
    headers
        .get("heroa-agent")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| {
            Error::invalid(
                "Heroa-Agent",
                "the Heroa-Agent header must name the agent (its id or name) that runs the loop",
            )
        })
}

/// The agent named by `Heroa-Agent` (an id or a name).
fn agent_id(s: &AppState, ws: &str, headers: &axum::http::HeaderMap) -> Result<String> {
    let named = agent_header(headers)?;
    if named.starts_with("ag_") {
        return s
            .rt
            .get_agent(ws, named)
            .map(|a| a.id)
            .map_err(|e| e.with_field("Heroa-Agent"));
    }
    s.rt.agent_named(ws, named)?
        .map(|a| a.id)
        .ok_or_else(|| Error::not_found("agent", named).with_field("Heroa-Agent"))
}

pub(super) fn agents_heroku(
    s: &AppState,
    ws: &str,
    headers: &axum::http::HeaderMap,
    req: HerokuRequest,
) -> Result<Response> {
    let tools = validate(s, &req)?;
    let agent = agent_id(s, ws, headers)?;
    if s.rt.get_agent(ws, &agent)?.llm_configs.is_empty() {
        return Err(Error::invalid(
            "Heroa-Agent",
            "the agent has no llm_configs: set the model provider with agents.update(llm_configs=…)",
        ));
    }
    let mut input = json!({"messages": req.messages, "model": req.model, "tools": tools});
    if let Some(t) = req.temperature {
        input["temperature"] = json!(t);
    }
    let run =
        s.rt.start_run_as(ws, &agent, StartRun { input }, Some("llm"), |_| Ok(()))?;
    let events = s.rt.run_events(ws, &run.id, None)?;
    let stream = futures_util::stream::unfold(events, |mut events| async move {
        loop {
            match events.next().await? {
                Err(e) => return Some((Err(e), events)),
                Ok(e) if e.is_done() => {
                    return Some((Ok(Event::default().event("done").data("[DONE]")), events));
                }
                Ok(e) if e.event == "message" => {
                    return Some((
                        Ok(Event::default().event("message").data(e.data.to_string())),
                        events,
                    ));
                }
                Ok(_) => continue,
            }
        }
    });
    let mut resp = Sse::new(stream)
        .keep_alive(
            KeepAlive::new()
                .interval(s.opts.keep_alive)
                .text("keep-alive"),
        )
        .into_response();
    if let Ok(v) = axum::http::HeaderValue::from_str(&run.id) {
        resp.headers_mut().insert("heroa-run-id", v);
    }
    Ok(resp)
}
