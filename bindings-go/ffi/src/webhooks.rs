//! Webhooks: verify, sign, generate a secret.

use std::ffi::c_char;

use heroa_protocol::error::Error;

use crate::{bytes, optional_text, owned, put, shielded, text};

/// What [`heroa_webhook_verify`] writes on success.
#[repr(C)]
pub struct HeroaVerified {
    /// 0: heroa-hmac-sha256, 1: standard-webhooks.
    pub scheme: i32,
    /// The signed timestamp (Standard Webhooks), or -1.
    pub timestamp: i64,
    /// Which of the secrets matched.
    pub secret_index: usize,
}

/// Verifies a webhook delivery with the five headers either scheme reads
/// (`webhook-id`, `webhook-timestamp`, `webhook-signature`, `heroa-signature`,
/// `x-heroa-signature`; NULL where absent), the raw `body`, `secrets` (`n_secrets`
/// strings: every one is accepted, for rotation), `tolerance_secs`, `now` (unix
/// seconds; negative for the clock) and `scheme` (`auto`, `heroa-hmac-sha256`,
/// `standard-webhooks`; NULL for auto). Returns NULL and fills `*out`, or returns the
/// envelope: `{"kind": "webhook", "reason", "message"}` for a delivery that fails,
/// the usual envelope for a bad argument. Headers and secrets cross as plain
/// strings, not JSON: verifying is a hot path of a receiver.
///
/// # Safety
/// `headers` points to 5 entries (each NULL or NUL-terminated); `secrets` to
/// `n_secrets` NUL-terminated strings; `body` is valid for `body_len` bytes; `out` is
/// valid.
#[unsafe(no_mangle)]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn heroa_webhook_verify(
    headers: *const *const c_char,
    body: *const u8,
    body_len: usize,
    secrets: *const *const c_char,
    n_secrets: usize,
    tolerance_secs: f64,
    now: i64,
    scheme: *const c_char,
    out: *mut HeroaVerified,
) -> *mut c_char {
    const NAMES: [&str; 5] = [
        heroa_webhooks::WEBHOOK_ID_HEADER,
        heroa_webhooks::WEBHOOK_TIMESTAMP_HEADER,
        heroa_webhooks::WEBHOOK_SIGNATURE_HEADER,
        heroa_webhooks::HEROA_SIGNATURE_HEADER,
        heroa_webhooks::X_HEROA_SIGNATURE_HEADER,
    ];
    let mut failed: Option<String> = None;
    let err = shielded(|| {
        if headers.is_null() || out.is_null() {
            return Err(Error::invalid(
                "headers",
                "headers and out are required (got NULL)",
            ));
        }
        let mut present: Vec<(&str, &str)> = Vec::with_capacity(5);
        for (i, name) in NAMES.iter().enumerate() {
            // SAFETY: `headers` points to 5 entries, each NULL or NUL-terminated.
            if let Some(v) = unsafe { optional_text(*headers.add(i), name) }? {
                present.push((name, v));
            }
        }
        // SAFETY: as above.
        let body = unsafe { bytes(body, body_len, "body") }?;
        let mut keys: Vec<&str> = Vec::with_capacity(n_secrets);
        for i in 0..n_secrets {
            // SAFETY: `secrets` points to `n_secrets` strings.
            keys.push(unsafe { text(*secrets.add(i), "secrets") }?);
        }
        // SAFETY: as above.
        let scheme = unsafe { optional_text(scheme, "scheme") }?.unwrap_or("auto");
        let opts = heroa_bridge::webhooks::verify_options(
            tolerance_secs,
            (now >= 0).then_some(now),
            scheme,
        )?;
        match heroa_webhooks::verify(present.as_slice(), body, &keys, opts) {
            Ok(v) => {
                // SAFETY: `out` is valid (checked non-null).
                unsafe {
                    *out = HeroaVerified {
                        scheme: i32::from(v.scheme == heroa_webhooks::Scheme::StandardWebhooks),
                        timestamp: v
                            .timestamp
                            .and_then(|t| i64::try_from(t).ok())
                            .unwrap_or(-1),
                        secret_index: v.secret_index,
                    }
                };
            }
            Err(e) => failed = Some(heroa_bridge::webhooks::envelope(&e).to_string()),
        }
        Ok(())
    });
    match failed {
        Some(f) if err.is_null() => owned(f),
        _ => err,
    }
}

/// Signs `body` for both schemes with `secret`, as message `msg_id` (NULL: a new id)
/// at `timestamp` (unix seconds; negative: now). Returns NULL and writes the headers
/// (a JSON object) to `*out`, or returns the envelope.
///
/// # Safety
/// Strings are NUL-terminated (`msg_id` may be NULL); `body` is valid for `body_len`
/// bytes; `out` is valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn heroa_webhook_sign(
    secret: *const c_char,
    body: *const u8,
    body_len: usize,
    msg_id: *const c_char,
    timestamp: i64,
    out: *mut *mut c_char,
) -> *mut c_char {
    let mut failed: Option<String> = None;
    let err = shielded(|| {
        // SAFETY: the caller's contract for each pointer.
        let secret = unsafe { text(secret, "secret") }?;
        // SAFETY: as above.
        let body = unsafe { bytes(body, body_len, "body") }?;
        // SAFETY: as above.
        let msg_id = unsafe { optional_text(msg_id, "msg_id") }?.map(str::to_string);
        let ts = (timestamp >= 0).then_some(timestamp);
        match heroa_bridge::webhooks::sign(secret, body, msg_id, ts) {
            Ok(headers) => {
                let map: serde_json::Map<String, serde_json::Value> = headers
                    .into_iter()
                    .map(|(k, v)| (k, serde_json::Value::String(v)))
                    .collect();
                // SAFETY: `out` is valid.
                unsafe { put(out, serde_json::Value::Object(map).to_string()) };
                Ok(())
            }
            Err(heroa_bridge::webhooks::SignError::Invalid(e)) => Err(e),
            Err(heroa_bridge::webhooks::SignError::Webhook(e)) => {
                failed = Some(heroa_bridge::webhooks::envelope(&e).to_string());
                Ok(())
            }
        }
    });
    match failed {
        Some(f) if err.is_null() => owned(f),
        _ => err,
    }
}

/// A new webhook signing secret (`whsec_…`; free with [`heroa_string_free`]).
#[unsafe(no_mangle)]
pub extern "C" fn heroa_webhook_generate_secret() -> *mut c_char {
    use secrecy::ExposeSecret;
    owned(
        heroa_webhooks::generate_secret()
            .expose_secret()
            .to_string(),
    )
}
