//! Webhook signatures for Node receivers and senders: the core's signer and verifier
//! (`heroa-webhooks`: constant-time, both schemes, key rotation). A failed
//! verification rejects with the envelope `{"kind": "webhook", "reason", "message"}`
//! (the reason is the core's: `missing_header`, `malformed`, `expired`, `mismatch`,
//! `invalid_secret`); messages never quote a secret.

use std::collections::HashMap;

use heroa_bridge::webhooks::{self as bridge, SignError, WebhookError};
use heroa_webhooks as webhooks;
use napi::bindgen_prelude::*;
use napi_derive::napi;

fn webhook_error(e: WebhookError) -> napi::Error {
    napi::Error::from_reason(bridge::envelope(&e).to_string())
}

fn invalid(e: heroa_protocol::error::Error) -> napi::Error {
    napi::Error::from_reason(heroa_bridge::ErrorEnvelope::from(e).to_json())
}

/// A verified delivery.
#[napi(object)]
pub struct VerifiedDelivery {
    /// `heroa-hmac-sha256` or `standard-webhooks`.
    pub scheme: String,
    /// The message id (Standard Webhooks).
    pub msg_id: Option<String>,
    /// The signed timestamp, unix seconds (Standard Webhooks).
    pub timestamp: Option<i64>,
    /// Which of the secrets matched.
    pub secret_index: u32,
}

/// Verifies `body` (the exact bytes received) against the delivery's signature
/// headers (`webhook-id`, `webhook-timestamp`, `webhook-signature`,
/// `heroa-signature` and its alias `x-heroa-signature`: the only ones either scheme
/// reads, picked by the JavaScript
/// layer so no header map crosses) and any of `secrets`.
#[napi]
#[allow(clippy::too_many_arguments)]
pub fn webhook_verify(
    webhook_id: Option<String>,
    webhook_timestamp: Option<String>,
    webhook_signature: Option<String>,
    heroa_signature: Option<String>,
    x_heroa_signature: Option<String>,
    body: &[u8],
    secrets: Vec<String>,
    tolerance_secs: f64,
    now: Option<i64>,
    scheme: String,
) -> Result<VerifiedDelivery> {
    let opts = bridge::verify_options(tolerance_secs, now, &scheme).map_err(invalid)?;
    let headers: Vec<(&str, &str)> = [
        (webhooks::WEBHOOK_ID_HEADER, &webhook_id),
        (webhooks::WEBHOOK_TIMESTAMP_HEADER, &webhook_timestamp),
        (webhooks::WEBHOOK_SIGNATURE_HEADER, &webhook_signature),
        (webhooks::HEROA_SIGNATURE_HEADER, &heroa_signature),
        (webhooks::X_HEROA_SIGNATURE_HEADER, &x_heroa_signature),
    ]
    .into_iter()
    .filter_map(|(name, value)| value.as_deref().map(|v| (name, v)))
    .collect();
    let v = webhooks::verify(headers.as_slice(), body, &secrets, opts).map_err(webhook_error)?;
    Ok(VerifiedDelivery {
        scheme: v.scheme.as_str().to_string(),
        msg_id: v.msg_id,
        timestamp: v.timestamp.and_then(|t| i64::try_from(t).ok()),
        secret_index: u32::try_from(v.secret_index).unwrap_or(u32::MAX),
    })
}

/// The headers that sign `body` as message `msg_id` (default: a new id) at
/// `timestamp` (unix seconds; default: now), for both schemes.
#[napi]
pub fn webhook_sign(
    secret: String,
    body: Buffer,
    msg_id: Option<String>,
    timestamp: Option<i64>,
) -> Result<HashMap<String, String>> {
    match bridge::sign(&secret, &body, msg_id, timestamp) {
        Ok(headers) => Ok(headers.into_iter().collect()),
        Err(SignError::Invalid(e)) => Err(invalid(e)),
        Err(SignError::Webhook(e)) => Err(webhook_error(e)),
    }
}

/// A new signing secret (`whsec_` + 32 random bytes, base64).
#[napi]
pub fn webhook_generate_secret() -> String {
    use secrecy::ExposeSecret;
    webhooks::generate_secret().expose_secret().to_string()
}
