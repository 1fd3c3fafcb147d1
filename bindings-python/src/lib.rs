//! `heroa._native`: the thin pyo3 shim between the `heroa` core and the Python
//! package `heroa` (whose idiomatic layer lives in `python/heroa/*.py`).
//!
//! Data crosses as JSON text; errors become the Python exception of their
//! `ErrorKind` with their cause chain; blocking calls release the GIL and honour
//! Ctrl-C; awaitables are driven by the binding's tokio runtime.

use pyo3::prelude::*;

mod client;
mod errors;
mod policy;
mod rt;
mod runtime;
mod sse;
mod webhooks;

/// Recomputes an audit record's chain (`{"run_id", "events"}` as JSON text) and
/// answers the verification as JSON text: both chain formats, no transport.
#[pyfunction]
fn verify_audit_chain(record: &str) -> PyResult<String> {
    let v = heroa_bridge::verify_audit_record(record).map_err(errors::to_pyerr)?;
    Ok(v.to_string())
}

/// The Python module.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("ERROR_KINDS", errors::kinds())?;
    // The bridge's operation catalogue, by name: what `Client.call` accepts.
    let ops: Vec<&str> = heroa_bridge::operations()
        .iter()
        .map(|op| op.name)
        .collect();
    m.add("OPERATIONS", ops)?;
    m.add_function(wrap_pyfunction!(errors::set_error_classes, m)?)?;
    m.add_function(wrap_pyfunction!(errors::raise_error, m)?)?;
    m.add_function(wrap_pyfunction!(policy::compile_policy, m)?)?;
    m.add_function(wrap_pyfunction!(verify_audit_chain, m)?)?;
    m.add_class::<client::NativeClient>()?;
    m.add_class::<client::Events>()?;
    m.add_class::<runtime::NativeRuntime>()?;
    m.add_class::<runtime::NativeSkillCall>()?;
    m.add_class::<runtime::NativeRunContext>()?;
    m.add_class::<runtime::NativeServer>()?;
    m.add_class::<policy::PolicyEngine>()?;
    m.add_class::<policy::Decision>()?;
    m.add_class::<policy::PolicyReason>()?;
    m.add_function(wrap_pyfunction!(webhooks::verify, m)?)?;
    m.add_function(wrap_pyfunction!(webhooks::sign, m)?)?;
    m.add_function(wrap_pyfunction!(webhooks::generate_secret, m)?)?;
    m.add_function(wrap_pyfunction!(webhooks::new_message_id, m)?)?;
    m.add_class::<webhooks::NativeVerifier>()?;
    m.add_class::<sse::SseDecoder>()?;
    m.add_class::<sse::NativeAgentLoop>()?;
    Ok(())
}
