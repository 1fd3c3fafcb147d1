//! Webhook signatures as every binding offers them: the arguments a host language
//! passes (a scheme name, a tolerance in seconds, an optional clock, an optional
//! message id and timestamp) checked the same way, and a failed verification as the
//! same envelope, `{"kind": "webhook", "reason", "message"}` — the reason is the
//! core's (`missing_header`, `malformed`, `expired`, `mismatch`, `invalid_secret`);
//! messages never quote a secret.

use std::time::Duration;

use heroa_protocol::error::{Error, Result};
pub use heroa_webhooks::{VerifyOptions, VerifyScheme, WebhookError};
use serde_json::{Value, json};

/// The verification options from a binding's arguments: `scheme` (`auto`,
/// `heroa-hmac-sha256`, `standard-webhooks`), `tolerance_secs` (≥ 0) and `now`
/// (unix seconds; `None` for the clock).
pub fn verify_options(
    tolerance_secs: f64,
    now: Option<i64>,
    scheme: &str,
) -> Result<VerifyOptions> {
    let scheme = match scheme {
        "auto" => VerifyScheme::Auto,
        "heroa-hmac-sha256" | "heroa" => VerifyScheme::Heroa,
        "standard-webhooks" | "standard" => VerifyScheme::StandardWebhooks,
        other => {
            return Err(Error::invalid(
                "scheme",
                format!(
                    "scheme must be one of auto, heroa-hmac-sha256, standard-webhooks; got {other:?}"
                ),
            ));
        }
    };
    if !(tolerance_secs.is_finite() && tolerance_secs >= 0.0) {
        return Err(Error::invalid(
            "tolerance",
            "tolerance must be a number of seconds ≥ 0",
        ));
    }
    let now = now
        .map(|n| {
            u64::try_from(n).map_err(|_| Error::invalid("now", "now must be unix seconds ≥ 0"))
        })
        .transpose()?;
    Ok(VerifyOptions {
        tolerance: Duration::from_secs_f64(tolerance_secs),
        now,
        scheme,
    })
}

/// The envelope of a failed verification or signing.
pub fn envelope(e: &WebhookError) -> Value {
    json!({"kind": "webhook", "reason": e.kind(), "message": e.to_string()})
}

/// Why signing failed: an argument, or the secret itself.
#[derive(Debug)]
pub enum SignError {
    /// A bad argument (the field is named).
    Invalid(Error),
    /// The secret cannot sign (`invalid_secret`).
    Webhook(WebhookError),
}

/// The headers that sign `body` as message `msg_id` (default: a new id) at
/// `timestamp` (unix seconds; default: now), for both schemes.
pub fn sign(
    secret: &str,
    body: &[u8],
    msg_id: Option<String>,
    timestamp: Option<i64>,
) -> std::result::Result<Vec<(String, String)>, SignError> {
    let signer = heroa_webhooks::Signer::new(secret).map_err(SignError::Webhook)?;
    let id = msg_id.unwrap_or_else(heroa_webhooks::new_message_id);
    let ts = match timestamp {
        Some(t) => u64::try_from(t).map_err(|_| {
            SignError::Invalid(Error::invalid(
                "timestamp",
                "timestamp must be unix seconds ≥ 0",
            ))
        })?,
        None => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0),
    };
    let headers = signer.sign(&id, ts, body).map_err(SignError::Webhook)?;
    Ok(headers
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect())
}
