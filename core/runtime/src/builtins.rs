//! Built-in templates and skills.
//!
//! Skills: `heroa:deploy` (write) deploys an app, service or sub-agent for the calling
//! agent, under its envelope — hosting as a tool call; `heroa:resolve` (read) gives
//! the address of a service endpoint to an agent of the same workspace and region;
//! `heroa:echo` (read, free) returns its arguments; `heroa:sleep` (read, free)
//! waits `args.ms` milliseconds (at most 60 000) on the runtime's clock-independent timer.
//!
//! - `sequence` (the default): `input.calls` is a list of `{"skill": name, "args": {…}}`
//!   called in order; the output is `{"results": [outcome, …]}`.
//! - `noop`: calls nothing and returns its input.
//! - `batch-processor`: fans `input.items` out to the skill `input.task` (each call
//!   gets `{"item": …, "index": i}` merged over `input.args`), at most
//!   `input.concurrency` (default 8, at most 64) at a time, and returns the outcomes
//!   in item order with counts.

use serde_json::{Value, json};

use super::{RunContext, Runtime, Skill, Template};
use heroa_protocol::SkillKind;

pub(super) fn register(rt: &Runtime) {
    rt.register_skill(
        Skill::new("heroa:echo", SkillKind::Read, |call| async move {
            Ok(call.args)
        })
        .description("Returns its arguments."),
    )
    .expect("built-in skill names are valid");
    rt.register_skill(
        Skill::new("heroa:deploy", SkillKind::Write, |call| async move {
            let (rt, ws) = call.origin.clone().ok_or("heroa:deploy runs only inside a run")?;
            let mut req: heroa_protocol::DeployRequest = serde_json::from_value(call.args.clone())
                .map_err(|e| format!("invalid deploy arguments: {e}"))?;
            req.parent_agent_id = Some(call.agent_id.clone());
            let dep = rt.deploy(&ws, req).await.map_err(|e| match e.field() {
                Some(f) => format!("{} (field: {f})", e.message()),
                None => e.message().to_string(),
            })?;
            serde_json::to_value(dep).map_err(|e| e.to_string())
        })
        .description("Deploys an app, service or sub-agent under the calling agent's envelope; answers {url | endpoint | handle, mode, region, expires_at}."),
    )
    .expect("built-in skill names are valid");
    rt.register_skill(
        Skill::new("heroa:resolve", SkillKind::Read, |call| async move {
            let (rt, ws) = call.origin.clone().ok_or("heroa:resolve runs only inside a run")?;
            let endpoint = call.args.get("endpoint").and_then(Value::as_str).ok_or("args.endpoint must be a heroa:// service endpoint")?;
            let url = rt.resolve_service(&ws, &call.agent_id, endpoint).map_err(|e| e.message().to_string())?;
            Ok(json!({"endpoint": endpoint, "url": url}))
        })
        .description("Resolves a heroa://<workspace>/svc/<id> endpoint for an agent of the same workspace and region."),
    )
    .expect("built-in skill names are valid");
    rt.register_skill(
        Skill::new("heroa:sleep", SkillKind::Read, |call| async move {
            let ms = call
                .args
                .get("ms")
                .and_then(Value::as_u64)
                .unwrap_or(0)
                .min(60_000);
            tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
            Ok(json!({"slept_ms": ms}))
        })
        .description("Waits args.ms milliseconds (at most 60000)."),
    )
    .expect("built-in skill names are valid");
    let seq = Template::new("sequence", |ctx: RunContext| async move {
        let calls = match ctx.input.get("calls") {
            None | Some(Value::Null) => return Ok(json!({"results": []})),
            Some(Value::Array(calls)) => calls.clone(),
            Some(_) => {
                return Err("input.calls must be a list of {\"skill\", \"args\"} objects".into());
            }
        };
        let mut results = Vec::with_capacity(calls.len());
        for (i, call) in calls.iter().enumerate() {
            let skill = call
                .get("skill")
                .and_then(Value::as_str)
                .ok_or_else(|| format!("input.calls[{i}].skill must be a string"))?;
            let args = call.get("args").cloned().unwrap_or_else(|| json!({}));
            let outcome = ctx.call(skill, args).await.map_err(|e| e.to_string())?;
            results.push(serde_json::to_value(outcome).map_err(|e| e.to_string())?);
        }
        Ok(json!({ "results": results }))
    })
    .description("Calls input.calls[*].skill with input.calls[*].args, in order.");
    let batch = Template::new("batch-processor", |ctx: RunContext| async move {
        batch(ctx).await
    })
    .description(
        "Fans input.items out to the skill input.task with bounded concurrency; results in order.",
    );
    let noop = Template::new(
        "noop",
        |ctx: RunContext| async move { Ok(ctx.input.clone()) },
    )
    .description("Calls no skill; returns its input.");
    for t in [seq, noop, batch, super::agent_loop::template()] {
        rt.register_template(t)
            .expect("built-in template names are valid");
    }
}

async fn batch(ctx: RunContext) -> Result<Value, String> {
    use futures_util::StreamExt;
    let items = ctx
        .input
        .get("items")
        .and_then(Value::as_array)
        .cloned()
        .ok_or("input.items must be a list")?;
    let task = ctx
        .input
        .get("task")
        .and_then(Value::as_str)
        .ok_or("input.task must name the skill to run for each item")?
        .to_string();
    let base = match ctx.input.get("args") {
        None | Some(Value::Null) => serde_json::Map::new(),
        Some(Value::Object(m)) => m.clone(),
        Some(_) => return Err("input.args must be an object".into()),
    };
    let concurrency = match ctx.input.get("concurrency") {
        None => 8,
        Some(v) => match v.as_u64() {
            Some(n @ 1..=64) => n as usize,
            _ => return Err("input.concurrency must be 1-64".into()),
        },
    };
    let calls = items.into_iter().enumerate().map(|(index, item)| {
        let ctx = ctx.clone();
        let task = task.clone();
        let mut args = base.clone();
        args.insert("item".into(), item);
        args.insert("index".into(), json!(index));
        async move { ctx.call(&task, Value::Object(args)).await }
    });
    let outcomes: Vec<_> = futures_util::stream::iter(calls)
        .buffered(concurrency)
        .collect()
        .await;
    let mut results = Vec::with_capacity(outcomes.len());
    let mut executed = 0;
    for o in outcomes {
        let o = o.map_err(|e| e.to_string())?;
        executed += usize::from(o.output().is_some());
        results.push(serde_json::to_value(o).map_err(|e| e.to_string())?);
    }
    Ok(json!({"task": task, "count": results.len(), "executed": executed, "results": results}))
}
