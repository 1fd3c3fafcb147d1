//! The local policy pre-check.

use std::ffi::c_char;
use std::sync::Mutex;

use heroa_policy::{AgentInfo, CheckRequest, SkillInfo, SkillKind};
use heroa_protocol::error::Error;

use crate::{HeroaClient, envelope, live, optional_text, put, required_error, shielded, text};

/// A compiled policy envelope (the local pre-check), optionally bound to one agent.
pub struct HeroaPolicyEngine {
    engine: heroa_policy::PolicyEngine,
    agent: Option<AgentInfo>,
    /// A bound engine's request, reused check after check so the hot path
    /// allocates nothing for it (a check that finds it in use builds its own).
    scratch: Mutex<Option<CheckRequest>>,
}

impl HeroaPolicyEngine {
    fn new(engine: heroa_policy::PolicyEngine, agent: Option<AgentInfo>) -> HeroaPolicyEngine {
        HeroaPolicyEngine {
            engine,
            agent,
            scratch: Mutex::new(None),
        }
    }
}

/// Called once when [`heroa_policy_precheck`] ends: the engine (NULL when the agent
/// has no envelope: the runtime then denies every call), or the error envelope.
pub type HeroaPolicyCallback = Option<
    unsafe extern "C" fn(user_data: usize, engine: *mut HeroaPolicyEngine, error: *mut c_char),
>;

/// Compiles `documents_json` — `[[id, text], …]` — into `*out`. Returns NULL, or the
/// envelope (an invalid document: field `document`, diagnostics in `details`).
///
/// # Safety
/// `documents_json` is NUL-terminated; `out` is valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn heroa_policy_engine_new(
    documents_json: *const c_char,
    out: *mut *mut HeroaPolicyEngine,
) -> *mut c_char {
    shielded(|| {
        if out.is_null() {
            return Err(required_error("out"));
        }
        // SAFETY: the caller's contract.
        let documents: Vec<(String, String)> =
            serde_json::from_str(unsafe { text(documents_json, "documents") }?).map_err(|e| {
                Error::invalid(
                    "documents",
                    format!("documents must be [[id, text], …]: {e}"),
                )
            })?;
        let engine =
            heroa_policy::PolicyEngine::new(&documents).map_err(heroa_policy::document_error)?;
        // SAFETY: `out` is valid (checked non-null).
        unsafe { *out = Box::into_raw(Box::new(HeroaPolicyEngine::new(engine, None))) };
        Ok(())
    })
}

/// Decides `request_json` (`{"agent": {id, name, region, promotion}, "skill": {name,
/// kind, external, cost_usd}, "run_cost_usd", "context"?}`, the shared vectors' form):
/// returns NULL and writes the decision (`{"allowed", "reasons", "errors", "skill",
/// "denied_by"?}`) to `*out`, or returns the envelope.
///
/// # Safety
/// `engine` is a live handle; `request_json` is NUL-terminated; `out` is valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn heroa_policy_check(
    engine: *const HeroaPolicyEngine,
    request_json: *const c_char,
    out: *mut *mut c_char,
) -> *mut c_char {
    shielded(|| {
        // SAFETY: NULL or a live handle.
        let engine = unsafe { live(engine, "engine") }?;
        // SAFETY: the caller's contract.
        let v: serde_json::Value = serde_json::from_str(unsafe { text(request_json, "request") }?)
            .map_err(|e| Error::invalid("request", e.to_string()))?;
        let req: heroa_policy::CheckRequest = heroa_bridge::decode::decode(v)?;
        let decision = engine.engine.check(&req);
        let text = serde_json::to_string(&decision)
            .map_err(|e| Error::internal("decision").with_source(e))?;
        // SAFETY: `out` is valid.
        unsafe { put(out, text) };
        Ok(())
    })
}

/// The same compiled envelope bound to one agent (`id`, `name`, `region`,
/// `promotion`), into `*out`, for [`heroa_policy_decide`]. Returns NULL, or the
/// envelope.
///
/// # Safety
/// `engine` is a live handle; strings are NUL-terminated; `out` is valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn heroa_policy_engine_bind(
    engine: *const HeroaPolicyEngine,
    id: *const c_char,
    name: *const c_char,
    region: *const c_char,
    promotion: *const c_char,
    out: *mut *mut HeroaPolicyEngine,
) -> *mut c_char {
    shielded(|| {
        // SAFETY: NULL or a live handle.
        let e = unsafe { live(engine, "engine") }?;
        if out.is_null() {
            return Err(required_error("out"));
        }
        // SAFETY: the caller's contract for each string.
        let agent = unsafe {
            AgentInfo {
                id: text(id, "agent.id")?.to_string(),
                name: text(name, "agent.name")?.to_string(),
                region: text(region, "agent.region")?.to_string(),
                promotion: text(promotion, "agent.promotion")?.to_string(),
            }
        };
        let bound = HeroaPolicyEngine::new(e.engine.clone(), Some(agent));
        // SAFETY: `out` is valid (checked non-null).
        unsafe { *out = Box::into_raw(Box::new(bound)) };
        Ok(())
    })
}

/// Decides one skill call of the engine's bound agent, with plain arguments (the
/// hot path: no JSON unless `context_json` is given): the skill's name (`skill`,
/// `skill_len` bytes of UTF-8, not NUL-terminated), its kind (`read` or `write`,
/// `kind_len` bytes), whether it is external, its price and the run's spend so far (USD), extra Cedar context (a
/// JSON object, or NULL). Writes whether the call is allowed to `*allowed` and, when
/// `decision` is non-null, the whole decision as JSON text to `*decision`. Returns
/// NULL, or the envelope (an unbound engine: field `agent`).
///
/// # Safety
/// `engine` is a live handle; `skill` and `kind` are valid for their lengths; `context_json`
/// is NULL or NUL-terminated; `allowed` is valid; `decision` is NULL or valid.
#[unsafe(no_mangle)]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn heroa_policy_decide(
    engine: *const HeroaPolicyEngine,
    skill: *const u8,
    skill_len: usize,
    kind: *const u8,
    kind_len: usize,
    external: bool,
    cost_usd: f64,
    run_cost_usd: f64,
    context_json: *const c_char,
    allowed: *mut bool,
    decision: *mut *mut c_char,
) -> *mut c_char {
    shielded(|| {
        // SAFETY: NULL or a live handle.
        let e = unsafe { live(engine, "engine") }?;
        let agent = e.agent.as_ref().ok_or_else(|| {
            Error::invalid(
                "agent",
                "this engine is not bound to an agent: bind it first (or use the policies' precheck)",
            )
        })?;
        if allowed.is_null() {
            return Err(required_error("allowed"));
        }
        // SAFETY: the caller's contract.
        let name = unsafe { utf8(skill, skill_len, "skill") }?;
        // SAFETY: as above.
        let kind =
            SkillKind::parse_field("skill.kind", unsafe { utf8(kind, kind_len, "skill.kind") }?)?;
        // SAFETY: as above.
        let context =
            heroa_policy::context_from_json(unsafe { optional_text(context_json, "context") }?)?;
        let fresh = || CheckRequest {
            agent: agent.clone(),
            skill: SkillInfo {
                name: String::new(),
                kind,
                external,
                cost_usd,
            },
            run_cost_usd,
            context: serde_json::Map::new(),
        };
        let mut held = e.scratch.try_lock().ok();
        let mut own;
        let req = match held.as_deref_mut() {
            Some(slot) => slot.get_or_insert_with(fresh),
            None => {
                own = fresh();
                &mut own
            }
        };
        req.skill.name.clear();
        req.skill.name.push_str(name);
        req.skill.kind = kind;
        req.skill.external = external;
        req.skill.cost_usd = cost_usd;
        req.run_cost_usd = run_cost_usd;
        req.context = context;
        let d = e.engine.check(req);
        // SAFETY: `allowed` is valid (checked non-null); `decision` NULL or valid.
        unsafe {
            *allowed = d.allowed;
            if !decision.is_null() {
                let text = serde_json::to_string(&d)
                    .map_err(|e| Error::internal("decision").with_source(e))?;
                put(decision, text);
            }
        }
        Ok(())
    })
}

/// The agent the engine is bound to, as `{"id", "name", "region", "promotion"}`
/// JSON text, or `null` (free with [`crate::heroa_string_free`]).
///
/// # Safety
/// `engine` is a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn heroa_policy_engine_agent(
    engine: *const HeroaPolicyEngine,
) -> *mut c_char {
    // SAFETY: NULL or a live handle.
    let agent = unsafe { engine.as_ref() }.and_then(|e| e.agent.as_ref());
    crate::owned(serde_json::to_string(&agent).unwrap_or_else(|_| "null".into()))
}

/// `len` bytes at `ptr` as UTF-8 text, or the error naming `field`.
///
/// # Safety
/// As [`crate::bytes`].
unsafe fn utf8<'a>(ptr: *const u8, len: usize, field: &str) -> Result<&'a str, Error> {
    // SAFETY: the caller's contract.
    std::str::from_utf8(unsafe { crate::bytes(ptr, len, field) }?)
        .map_err(|_| Error::invalid(field, format!("{field} must be UTF-8")))
}

/// Fetches the envelope in force for `agent_id` (a sub-agent's under every
/// ancestor's, as the runtime checks it), compiles it here and binds it to the
/// agent: `callback` gets the engine (NULL when the agent has no envelope) or the
/// error envelope.
///
/// # Safety
/// `client` is a live handle; `agent_id` is NUL-terminated (copied before this
/// returns); `callback` is non-null.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn heroa_policy_precheck(
    client: *const HeroaClient,
    agent_id: *const c_char,
    callback: HeroaPolicyCallback,
    user_data: usize,
) {
    let Some(callback) = callback else { return };
    let complete = move |r: Result<Option<HeroaPolicyEngine>, Error>| {
        let (engine, err) = match r {
            Ok(e) => (
                e.map_or(std::ptr::null_mut(), |e| Box::into_raw(Box::new(e))),
                std::ptr::null_mut(),
            ),
            Err(e) => (std::ptr::null_mut(), envelope(e)),
        };
        // SAFETY: the caller's callback, called once.
        unsafe { callback(user_data, engine, err) };
    };
    let started = || -> Result<_, Error> {
        // SAFETY: NULL or a live handle.
        let client = unsafe { live(client, "client") }?;
        // SAFETY: the caller's contract.
        let id = unsafe { text(agent_id, "agent_id") }?.to_string();
        Ok((client.bridge.client().clone(), id))
    };
    match started() {
        Err(e) => complete(Err(e)),
        Ok((client, id)) => {
            heroa_bridge::runtime().spawn(async move {
                let r = async {
                    let agent = client.agents().get(&id).await?;
                    let engine = client.policies().precheck(&id).await?;
                    Ok(engine.map(|engine| {
                        HeroaPolicyEngine::new(engine, Some(AgentInfo::from(&agent)))
                    }))
                };
                complete(r.await);
            });
        }
    }
}

/// Frees a policy engine.
///
/// # Safety
/// `engine` is NULL or a handle from `heroa_policy_engine_new`, not used after this.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn heroa_policy_engine_free(engine: *mut HeroaPolicyEngine) {
    if !engine.is_null() {
        // SAFETY: a handle from Box::into_raw, freed once.
        drop(unsafe { Box::from_raw(engine) });
    }
}
