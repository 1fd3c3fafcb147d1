//! The local policy pre-check.

use std::ffi::c_char;

use heroa_protocol::error::Error;

use crate::{put, shielded, text};

/// A compiled policy envelope (the local pre-check).
pub struct HeroaPolicyEngine {
    engine: heroa_policy::PolicyEngine,
}

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
            return Err(Error::invalid("out", "out is required (got NULL)"));
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
        unsafe { *out = Box::into_raw(Box::new(HeroaPolicyEngine { engine })) };
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
        let engine = unsafe { engine.as_ref() }
            .ok_or_else(|| Error::invalid("engine", "engine is required (got NULL)"))?;
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
