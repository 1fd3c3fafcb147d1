//! Webhook signatures: the core's signer and verifier (constant-time, both schemes,
//! key rotation) for Python receivers. Failures raise
//! `heroa.webhooks.WebhookVerificationError` with `reason` = the core's kind
//! (`missing_header`, `malformed`, `expired`, `mismatch`, `invalid_secret`).

use std::time::Duration;

use pyo3::prelude::*;

use heroa::webhooks::{self, VerifyOptions, VerifyScheme, WebhookError};

use crate::errors::raise_class;

fn to_pyerr(e: WebhookError) -> PyErr {
    raise_class("webhook", &e.to_string(), &[("reason", e.kind())])
}

fn options(tolerance: f64, now: Option<u64>, scheme: &str) -> PyResult<VerifyOptions> {
    let scheme = match scheme {
        "auto" => VerifyScheme::Auto,
        "heroa-hmac-sha256" | "heroa" => VerifyScheme::Heroa,
        "standard-webhooks" | "standard" => VerifyScheme::StandardWebhooks,
        other => {
            return Err(crate::errors::to_pyerr(heroa::Error::invalid(
                "scheme",
                format!(
                    "scheme must be one of auto, heroa-hmac-sha256, standard-webhooks; got {other:?}"
                ),
            )));
        }
    };
    if !(tolerance.is_finite() && tolerance >= 0.0) {
        return Err(crate::errors::to_pyerr(heroa::Error::invalid(
            "tolerance",
            "tolerance must be a number of seconds ≥ 0",
        )));
    }
    Ok(VerifyOptions {
        tolerance: Duration::from_secs_f64(tolerance),
        now,
        scheme,
    })
}

type VerifiedTuple = (&'static str, Option<String>, Option<u64>, usize);

fn verified(v: webhooks::Verified) -> VerifiedTuple {
    (v.scheme.as_str(), v.msg_id, v.timestamp, v.secret_index)
}

/// Verifies one delivery against `secrets`; returns
/// `(scheme, msg_id, timestamp, secret_index)`.
#[pyfunction(name = "webhook_verify")]
#[pyo3(signature = (headers, body, secrets, tolerance=300.0, now=None, scheme="auto"))]
pub fn verify(
    headers: Vec<(String, String)>,
    body: &[u8],
    secrets: Vec<String>,
    tolerance: f64,
    now: Option<u64>,
    scheme: &str,
) -> PyResult<VerifiedTuple> {
    let opts = options(tolerance, now, scheme)?;
    webhooks::verify(&headers, body, &secrets, opts)
        .map(verified)
        .map_err(to_pyerr)
}

/// Signs `body` as message `msg_id` at `timestamp`; returns the four headers.
#[pyfunction(name = "webhook_sign")]
pub fn sign(
    secret: String,
    msg_id: &str,
    timestamp: u64,
    body: &[u8],
) -> PyResult<Vec<(String, String)>> {
    let signer = webhooks::Signer::new(&secret).map_err(to_pyerr)?;
    Ok(signer
        .sign(msg_id, timestamp, body)
        .map_err(to_pyerr)?
        .to_vec())
}

/// A new `whsec_` signing secret.
#[pyfunction(name = "webhook_generate_secret")]
pub fn generate_secret() -> String {
    use secrecy::ExposeSecret;
    webhooks::generate_secret().expose_secret().to_string()
}

/// A new message id (`msg_…`).
#[pyfunction(name = "webhook_new_message_id")]
pub fn new_message_id() -> String {
    webhooks::new_message_id()
}

/// Secrets parsed and keyed once, for many deliveries.
#[pyclass(module = "heroa._native", name = "Verifier", frozen)]
pub struct NativeVerifier(webhooks::Verifier);

#[pymethods]
impl NativeVerifier {
    #[new]
    fn new(secrets: Vec<String>) -> PyResult<Self> {
        webhooks::Verifier::new(&secrets)
            .map(NativeVerifier)
            .map_err(to_pyerr)
    }

    #[pyo3(signature = (headers, body, tolerance=300.0, now=None, scheme="auto"))]
    fn verify(
        &self,
        headers: Vec<(String, String)>,
        body: &[u8],
        tolerance: f64,
        now: Option<u64>,
        scheme: &str,
    ) -> PyResult<VerifiedTuple> {
        let opts = options(tolerance, now, scheme)?;
        self.0
            .verify(&headers, body, opts)
            .map(verified)
            .map_err(to_pyerr)
    }
}
