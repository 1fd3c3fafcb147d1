//! The one error shape every binding receives: `{kind, message, field, details,
//! retry_after}` over [`heroa_protocol::error::ErrorKind`].

use heroa_protocol::error::{Error, ErrorKind};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// An error as it crosses into a host language.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorEnvelope {
    /// The kind (`invalid_argument`, `not_found`, …, `cancelled`, `internal`).
    pub kind: ErrorKind,
    /// A message for humans; never holds a secret.
    pub message: String,
    /// The request field at fault, when there is one (`agent_id`, `policy.egress`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// Structured details (policy diagnostics, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<Value>,
    /// Seconds to wait before trying again (rate limits, keys in progress).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<f64>,
}

impl From<&Error> for ErrorEnvelope {
    fn from(e: &Error) -> Self {
        ErrorEnvelope {
            kind: e.kind(),
            message: e.message().to_string(),
            field: e.field().map(str::to_string),
            details: e.details().cloned(),
            retry_after: e.retry_after().map(|d| d.as_secs_f64()),
        }
    }
}

impl From<Error> for ErrorEnvelope {
    fn from(e: Error) -> Self {
        ErrorEnvelope::from(&e)
    }
}

impl From<ErrorEnvelope> for Error {
    fn from(e: ErrorEnvelope) -> Self {
        let mut out = Error::new(e.kind, e.message);
        if let Some(f) = e.field {
            out = out.with_field(f);
        }
        if let Some(d) = e.details {
            out = out.with_details(d);
        }
        if let Some(s) = e.retry_after.filter(|s| s.is_finite() && *s >= 0.0) {
            out = out.with_retry_after(std::time::Duration::from_secs_f64(s));
        }
        out
    }
}

impl ErrorEnvelope {
    /// The envelope as JSON text.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| {
            r#"{"kind":"internal","message":"the error could not be encoded"}"#.to_string()
        })
    }
}
