//! Built-in templates and skills.
//!
//! Skills: `heroa:echo` (read, free) returns its arguments; `heroa:sleep` (read, free)
//! waits `args.ms` milliseconds (at most 60 000) on the runtime's clock-independent timer.
//!
//! - `sequence` (the default): `input.calls` is a list of `{"skill": name, "args": {…}}`
//!   called in order; the output is `{"results": [outcome, …]}`.
//! - `noop`: calls nothing and returns its input.

use serde_json::{Value, json};

use super::{RunContext, Runtime, Skill, Template};
use crate::protocol::SkillKind;

pub(super) fn register(rt: &Runtime) {
    rt.register_skill(
        Skill::new("heroa:echo", SkillKind::Read, |call| async move {
            Ok(call.args)
        })
        .description("Returns its arguments."),
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
    let noop = Template::new(
        "noop",
        |ctx: RunContext| async move { Ok(ctx.input.clone()) },
    )
    .description("Calls no skill; returns its input.");
    for t in [seq, noop, super::agent_loop::template()] {
        rt.register_template(t)
            .expect("built-in template names are valid");
    }
}
