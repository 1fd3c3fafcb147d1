//! Skills and templates written in the host language.

use std::ffi::c_char;
use std::sync::Arc;

use heroa_protocol::error::Error;

use heroa_bridge::host::{HostCall, HostFn};
use heroa_protocol::error::ErrorKind;

use crate::{
    HeroaCallback, HeroaClient, envelope, live, optional_text, owned, put, required, shielded, text,
};

/// One call of a skill written in the host language.
pub struct HeroaSkillCall {
    call: Arc<HostCall<heroa_runtime::SkillCall>>,
}

/// Called for each call of a host skill, on one of the library's threads: the
/// handler owns `call` (answer it with [`heroa_skill_call_respond`], free it with
/// [`heroa_skill_call_free`]) and must return quickly (run the skill elsewhere).
pub type HeroaSkillHandler =
    Option<unsafe extern "C" fn(user_data: usize, call: *mut HeroaSkillCall)>;

/// Called once when a skill call is over: `cancelled` is true when the runtime
/// stopped wanting the answer (the run was cancelled, the call timed out).
pub type HeroaFinishedCallback = Option<unsafe extern "C" fn(user_data: usize, cancelled: bool)>;

/// Registers (or replaces) skill `name` on an embedded client: `kind` (`read` or
/// `write`), `cost_usd` (a decimal string; NULL for 0), `external`, `description`
/// (NULL for none). `handler` receives each call with `user_data`. Returns NULL, or
/// the envelope (a remote client: `failed_precondition`).
///
/// # Safety
/// `client` is a live handle; strings are NUL-terminated or NULL where allowed;
/// `handler` stays callable for as long as the client lives.
#[unsafe(no_mangle)]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn heroa_register_skill(
    client: *const HeroaClient,
    name: *const c_char,
    kind: *const c_char,
    cost_usd: *const c_char,
    external: bool,
    description: *const c_char,
    handler: HeroaSkillHandler,
    user_data: usize,
) -> *mut c_char {
    shielded(|| {
        // SAFETY: NULL or a live handle.
        let client = unsafe { live(client, "client") }?;
        let handler = required(handler, "handler")?;
        // SAFETY: the caller's contract for each string.
        let name = unsafe { text(name, "name") }?.to_string();
        // SAFETY: as above.
        let kind = heroa_protocol::SkillKind::parse_field("kind", unsafe { text(kind, "kind") }?)?;
        // SAFETY: as above.
        let cost = heroa_protocol::Usd::parse(
            "cost_usd",
            unsafe { optional_text(cost_usd, "cost_usd") }?.unwrap_or("0"),
        )?;
        // SAFETY: as above.
        let description = unsafe { optional_text(description, "description") }?.map(str::to_string);
        let rt = runtime(client, "skills")?;
        let host: HostFn<heroa_runtime::SkillCall> = Arc::new(move |call| {
            let boxed = Box::into_raw(Box::new(HeroaSkillCall { call }));
            // SAFETY: the handler the caller registered, given a call it now owns.
            unsafe { handler(user_data, boxed) };
        });
        let mut skill = heroa_bridge::host::skill(name, kind, host)
            .cost_usd(cost)
            .external(external);
        if let Some(d) = description {
            skill = skill.description(d);
        }
        rt.register_skill(skill)
    })
}

/// The call's arguments as JSON text (free with [`heroa_string_free`]).
///
/// # Safety
/// `call` is a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn heroa_skill_call_args(call: *const HeroaSkillCall) -> *mut c_char {
    // SAFETY: NULL or a live handle.
    owned(
        unsafe { call.as_ref() }
            .map(|c| c.call.args().to_string())
            .unwrap_or_else(|| "null".into()),
    )
}

/// The calling agent's id and the run's id, as `{"agent_id", "run_id"}` JSON text.
///
/// # Safety
/// `call` is a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn heroa_skill_call_info(call: *const HeroaSkillCall) -> *mut c_char {
    // SAFETY: NULL or a live handle.
    let info = unsafe { call.as_ref() }.map(|c| {
        serde_json::json!({"agent_id": c.call.payload().agent_id, "run_id": c.call.payload().run_id})
    });
    owned(info.unwrap_or_default().to_string())
}

/// Reads vault value `key` visible to the agent into `*out` — only while the call is
/// live. Returns NULL, or the envelope.
///
/// # Safety
/// `call` is a live handle; `key` is NUL-terminated; `out` is valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn heroa_skill_call_secret(
    call: *const HeroaSkillCall,
    key: *const c_char,
    out: *mut *mut c_char,
) -> *mut c_char {
    shielded(|| {
        use secrecy::ExposeSecret;
        // SAFETY: NULL or a live handle.
        let call = unsafe { live(call, "call") }?;
        // SAFETY: the caller's contract.
        let key = unsafe { text(key, "key") }?;
        let value = call.call.secret(key)?;
        // SAFETY: `out` is valid.
        unsafe { put(out, value.expose_secret().to_string()) };
        Ok(())
    })
}

/// Calls `callback(user_data, cancelled)` once the call is over (answered, or
/// abandoned by the runtime: then `cancelled` is true).
///
/// # Safety
/// `call` is a live handle; `callback` is non-null.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn heroa_skill_call_on_finished(
    call: *const HeroaSkillCall,
    callback: HeroaFinishedCallback,
    user_data: usize,
) {
    // SAFETY: NULL or a live handle.
    on_finished(
        unsafe { call.as_ref() }.map(|c| &c.call),
        callback,
        user_data,
    );
}

/// Answers the call: `result_json` (the skill's output) or `error` (a message that
/// fails this one call); exactly one non-null. Returns false when it was already
/// answered or abandoned.
///
/// # Safety
/// `call` is a live handle; strings are NUL-terminated or NULL.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn heroa_skill_call_respond(
    call: *const HeroaSkillCall,
    result_json: *const c_char,
    error: *const c_char,
) -> bool {
    // SAFETY: NULL or a live handle; the caller's contract for the strings.
    unsafe { respond(call.as_ref().map(|c| &c.call), result_json, error, "skill") }
}

/// Frees a skill call handle (answer it first: an unanswered call fails).
///
/// # Safety
/// `call` is NULL or a handle given to a skill handler, not used after this.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn heroa_skill_call_free(call: *mut HeroaSkillCall) {
    if !call.is_null() {
        // SAFETY: a handle from Box::into_raw, freed once.
        abandon(&unsafe { Box::from_raw(call) }.call, "skill");
    }
}

/// One run of a template (a run loop) written in the host language.
pub struct HeroaRunContext {
    call: Arc<HostCall<heroa_runtime::RunContext>>,
}

/// Called for each run of a host template, on one of the library's threads: the
/// handler owns `run` (answer it with [`heroa_run_context_respond`], free it with
/// [`heroa_run_context_free`]) and must return quickly (run the loop elsewhere).
pub type HeroaTemplateHandler =
    Option<unsafe extern "C" fn(user_data: usize, run: *mut HeroaRunContext)>;

/// Registers (or replaces) template `name` (a run loop; `description` NULL for none)
/// on an embedded client: `handler` receives each run with `user_data`. Returns NULL,
/// or the envelope (a remote client: `failed_precondition`).
///
/// # Safety
/// `client` is a live handle; strings are NUL-terminated or NULL where allowed;
/// `handler` stays callable for as long as the client lives.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn heroa_register_template(
    client: *const HeroaClient,
    name: *const c_char,
    description: *const c_char,
    handler: HeroaTemplateHandler,
    user_data: usize,
) -> *mut c_char {
    shielded(|| {
        // SAFETY: NULL or a live handle.
        let client = unsafe { live(client, "client") }?;
        let handler = required(handler, "handler")?;
        // SAFETY: the caller's contract for each string.
        let name = unsafe { text(name, "name") }?.to_string();
        // SAFETY: as above.
        let description = unsafe { optional_text(description, "description") }?.map(str::to_string);
        let rt = runtime(client, "templates")?;
        let host: HostFn<heroa_runtime::RunContext> = Arc::new(move |call| {
            let boxed = Box::into_raw(Box::new(HeroaRunContext { call }));
            // SAFETY: the handler the caller registered, given a run it now owns.
            unsafe { handler(user_data, boxed) };
        });
        let mut template = heroa_bridge::host::template(name, host);
        if let Some(d) = description {
            template = template.description(d);
        }
        rt.register_template(template)
    })
}

/// The run's id, its agent's id and its input, as `{"run_id", "agent_id", "input"}`
/// JSON text (free with [`heroa_string_free`]).
///
/// # Safety
/// `run` is a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn heroa_run_context_info(run: *const HeroaRunContext) -> *mut c_char {
    // SAFETY: NULL or a live handle.
    let info = unsafe { run.as_ref() }.map(|r| {
        let ctx = r.call.payload();
        serde_json::json!({"run_id": ctx.run_id(), "agent_id": ctx.agent_id(), "input": ctx.input})
    });
    owned(info.unwrap_or_default().to_string())
}

/// The run's spend so far in USD, as a decimal string (free with
/// [`heroa_string_free`]).
///
/// # Safety
/// `run` is a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn heroa_run_context_cost_usd(run: *const HeroaRunContext) -> *mut c_char {
    // SAFETY: NULL or a live handle.
    owned(
        unsafe { run.as_ref() }
            .map(|r| r.call.payload().cost_usd().to_string())
            .unwrap_or_else(|| "0".into()),
    )
}

/// Calls skill `skill` with `args_json` under the agent's policy envelope and
/// promotion level; `callback` gets the outcome (`{"outcome": "executed", "output"}`,
/// `shadowed`, `blocked`/`skipped` with `reason`, `failed` with `error`) or the
/// envelope (the run was cancelled; bad arguments).
///
/// # Safety
/// `run` is a live handle; strings are NUL-terminated (copied before this
/// returns); `callback` is non-null.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn heroa_run_context_call(
    run: *const HeroaRunContext,
    skill: *const c_char,
    args_json: *const c_char,
    callback: HeroaCallback,
    user_data: usize,
) {
    let Some(callback) = callback else { return };
    let started = || -> Result<_, Error> {
        // SAFETY: NULL or a live handle.
        let run = unsafe { live(run, "run") }?;
        // SAFETY: the caller's contract.
        let skill = unsafe { text(skill, "skill") }?.to_string();
        // SAFETY: as above.
        let args = unsafe { optional_text(args_json, "args") }?.unwrap_or("{}");
        let args: serde_json::Value = serde_json::from_str(args)
            .map_err(|e| Error::invalid("args", format!("args are not JSON: {e}")))?;
        Ok((run.call.payload().clone(), skill, args))
    };
    match started() {
        // SAFETY: the caller's callback, called once.
        Err(e) => unsafe { complete(callback, user_data, Err(e)) },
        Ok((ctx, skill, args)) => {
            heroa_bridge::runtime().spawn(async move {
                let r = ctx.call(&skill, args).await.and_then(|outcome| {
                    serde_json::to_string(&outcome)
                        .map_err(|e| Error::internal("skill outcome").with_source(e))
                });
                // SAFETY: the caller's callback, called once.
                unsafe { complete(callback, user_data, r) };
            });
        }
    }
}

/// Calls `callback(user_data, cancelled)` once the run's loop is over (answered, or
/// abandoned: the run was cancelled).
///
/// # Safety
/// `run` is a live handle; `callback` is non-null.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn heroa_run_context_on_finished(
    run: *const HeroaRunContext,
    callback: HeroaFinishedCallback,
    user_data: usize,
) {
    // SAFETY: NULL or a live handle.
    on_finished(
        unsafe { run.as_ref() }.map(|r| &r.call),
        callback,
        user_data,
    );
}

/// Answers the run: `result_json` (its output) or `error` (the message that fails
/// it); exactly one non-null. Returns false when it was already answered or
/// abandoned.
///
/// # Safety
/// `run` is a live handle; strings are NUL-terminated or NULL.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn heroa_run_context_respond(
    run: *const HeroaRunContext,
    result_json: *const c_char,
    error: *const c_char,
) -> bool {
    // SAFETY: NULL or a live handle; the caller's contract for the strings.
    unsafe {
        respond(
            run.as_ref().map(|r| &r.call),
            result_json,
            error,
            "template",
        )
    }
}

/// Frees a run handle (answer it first: an unanswered run fails).
///
/// # Safety
/// `run` is NULL or a handle given to a template handler, not used after this.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn heroa_run_context_free(run: *mut HeroaRunContext) {
    if !run.is_null() {
        // SAFETY: a handle from Box::into_raw, freed once.
        abandon(&unsafe { Box::from_raw(run) }.call, "template");
    }
}

/// The embedded runtime of `client`, or why host code cannot register `what` on it.
fn runtime<'a>(client: &'a HeroaClient, what: &str) -> Result<&'a heroa_runtime::Runtime, Error> {
    client.bridge.client().runtime().ok_or_else(|| {
        Error::new(
            ErrorKind::FailedPrecondition,
            format!("{what} written in the host language run in this process: register them on an embedded client"),
        )
    })
}

/// Hands one answer to `callback`: the result, or the error's envelope.
///
/// # Safety
/// `callback` is the caller's, called once.
unsafe fn complete(
    callback: unsafe extern "C" fn(usize, *mut c_char, *mut c_char),
    user_data: usize,
    r: Result<String, Error>,
) {
    let (ok, err) = match r {
        Ok(v) => (owned(v), std::ptr::null_mut()),
        Err(e) => (std::ptr::null_mut(), envelope(e)),
    };
    // SAFETY: the caller's callback, called once with owned strings.
    unsafe { callback(user_data, ok, err) };
}

fn on_finished<P: Send + Sync + 'static>(
    call: Option<&Arc<HostCall<P>>>,
    callback: HeroaFinishedCallback,
    user_data: usize,
) {
    let (Some(call), Some(callback)) = (call, callback) else {
        return;
    };
    let call = call.clone();
    heroa_bridge::runtime().spawn(async move {
        call.finished().cancelled().await;
        // SAFETY: the caller's callback, called once.
        unsafe { callback(user_data, call.is_cancelled()) };
    });
}

/// Answers `call` with the result (JSON text) or the error message.
///
/// # Safety
/// Strings are NUL-terminated or NULL.
unsafe fn respond<P>(
    call: Option<&Arc<HostCall<P>>>,
    result_json: *const c_char,
    error: *const c_char,
    what: &str,
) -> bool {
    let Some(call) = call else { return false };
    // SAFETY: the caller's contract.
    let answer = match unsafe {
        (
            optional_text(result_json, "result"),
            optional_text(error, "error"),
        )
    } {
        (_, Ok(Some(e))) => Err(e.to_string()),
        (Ok(Some(r)), _) => {
            serde_json::from_str(r).map_err(|e| format!("the {what}'s result is not JSON: {e}"))
        }
        _ => Err(format!("the {what} gave no answer")),
    };
    call.respond(answer)
}

/// A freed handle whose call was never answered fails it.
fn abandon<P>(call: &HostCall<P>, what: &str) {
    if !call.is_answered() {
        call.respond(Err(format!(
            "the {what}'s handle was freed without an answer"
        )));
    }
}
