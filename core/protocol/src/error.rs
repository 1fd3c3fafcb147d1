//! One error taxonomy for the whole SDK.
//!
//! Every failure, embedded or remote, is an [`Error`] with a stable [`ErrorKind`]. The
//! kind's wire name (`invalid_argument`, `not_found`, …) and HTTP status are part of the
//! protocol: `heroa serve` answers `{"error": {"kind", "message", "field"}}` and the
//! remote client turns that body back into the same `Error`, so code written against
//! the embedded runtime handles remote errors unchanged.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The stable kinds of error. Bindings map each kind to one host-language error class.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schema", schemars(transform = with_http_statuses))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorKind {
    /// A request field is missing, malformed or out of range; `field` names it.
    InvalidArgument,
    /// No or unknown API key.
    Unauthenticated,
    /// The caller may not do this (e.g. a promotion the workspace tier forbids).
    PermissionDenied,
    /// The resource does not exist in this workspace.
    NotFound,
    /// The resource already exists, or the request conflicts with its current state.
    Conflict,
    /// The operation is not valid in the resource's current state (e.g. changing a region).
    FailedPrecondition,
    /// The workspace tier does not allow this (agent count, workspace-scoped vault, L4).
    TierLimit,
    /// The request body is larger than the server accepts.
    PayloadTooLarge,
    /// Too many requests; `retry_after` says when to try again.
    RateLimited,
    /// A wait or a call did not finish in time.
    Timeout,
    /// The service is temporarily unavailable (shutting down, overloaded).
    Unavailable,
    /// The request never got an HTTP answer (connection refused, TLS, DNS, …).
    Transport,
    /// The caller cancelled the call (a binding's cancel token, `AbortSignal`,
    /// `context.Context`, Swift `Task` cancellation). Never sent by a server.
    Cancelled,
    /// A bug or an unexpected failure inside Heroa.
    Internal,
}

impl ErrorKind {
    /// All kinds, for exhaustive mapping tests in every binding.
    pub const ALL: [ErrorKind; 14] = [
        ErrorKind::InvalidArgument,
        ErrorKind::Unauthenticated,
        ErrorKind::PermissionDenied,
        ErrorKind::NotFound,
        ErrorKind::Conflict,
        ErrorKind::FailedPrecondition,
        ErrorKind::TierLimit,
        ErrorKind::PayloadTooLarge,
        ErrorKind::RateLimited,
        ErrorKind::Timeout,
        ErrorKind::Unavailable,
        ErrorKind::Transport,
        ErrorKind::Cancelled,
        ErrorKind::Internal,
    ];

    /// The kind of a wire name; `None` for a name this build does not know.
    pub fn from_wire(name: &str) -> Option<ErrorKind> {
        ErrorKind::ALL.iter().copied().find(|k| k.as_str() == name)
    }

    /// The kind an HTTP status stands for, when the body names none this build
    /// knows.
    pub fn from_http_status(status: u16) -> ErrorKind {
        match status {
            400 | 422 => ErrorKind::InvalidArgument,
            401 => ErrorKind::Unauthenticated,
            403 => ErrorKind::PermissionDenied,
            404 => ErrorKind::NotFound,
            409 => ErrorKind::Conflict,
            413 => ErrorKind::PayloadTooLarge,
            429 => ErrorKind::RateLimited,
            502 => ErrorKind::Transport,
            503 => ErrorKind::Unavailable,
            504 => ErrorKind::Timeout,
            _ => ErrorKind::Internal,
        }
    }

    /// The wire name, e.g. `"invalid_argument"`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::InvalidArgument => "invalid_argument",
            ErrorKind::Unauthenticated => "unauthenticated",
            ErrorKind::PermissionDenied => "permission_denied",
            ErrorKind::NotFound => "not_found",
            ErrorKind::Conflict => "conflict",
            ErrorKind::FailedPrecondition => "failed_precondition",
            ErrorKind::TierLimit => "tier_limit",
            ErrorKind::PayloadTooLarge => "payload_too_large",
            ErrorKind::RateLimited => "rate_limited",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Unavailable => "unavailable",
            ErrorKind::Transport => "transport",
            ErrorKind::Cancelled => "cancelled",
            ErrorKind::Internal => "internal",
        }
    }

    /// The HTTP status `heroa serve` answers with for this kind.
    pub fn http_status(self) -> u16 {
        match self {
            ErrorKind::InvalidArgument => 400,
            ErrorKind::Unauthenticated => 401,
            ErrorKind::PermissionDenied | ErrorKind::TierLimit => 403,
            ErrorKind::NotFound => 404,
            ErrorKind::Conflict | ErrorKind::FailedPrecondition => 409,
            ErrorKind::PayloadTooLarge => 413,
            ErrorKind::RateLimited => 429,
            ErrorKind::Timeout => 504,
            ErrorKind::Unavailable => 503,
            ErrorKind::Transport => 502,
            // The de-facto "client closed request" status; no server answers it.
            ErrorKind::Cancelled => 499,
            ErrorKind::Internal => 500,
        }
    }

    /// Whether retrying the same request later may succeed.
    pub fn is_retryable(self) -> bool {
        matches!(
            self,
            ErrorKind::RateLimited | ErrorKind::Unavailable | ErrorKind::Transport
        )
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A Heroa error: a stable kind, a message for people, the request field at fault
/// (when there is one), and the cause chain.
///
/// Messages never contain secret values (API keys, vault values, signing secrets).
pub struct Error(Box<Inner>);

struct Inner {
    kind: ErrorKind,
    message: String,
    field: Option<String>,
    retry_after: Option<Duration>,
    details: Option<serde_json::Value>,
    source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.0.kind, self.0.message)
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0
            .source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Error");
        d.field("kind", &self.0.kind)
            .field("message", &self.0.message);
        if let Some(field) = &self.0.field {
            d.field("field", field);
        }
        if let Some(source) = &self.0.source {
            d.field("source", &source.to_string());
        }
        d.finish()
    }
}

/// Result alias used across the SDK.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// A new error of `kind`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error(Box::new(Inner {
            kind,
            message: message.into(),
            field: None,
            retry_after: None,
            details: None,
            source: None,
        }))
    }

    /// `invalid_argument` naming `field`.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Error::new(ErrorKind::InvalidArgument, message).with_field(field)
    }

    /// `not_found` for a resource of `what` with `id`.
    pub fn not_found(what: &str, id: &str) -> Self {
        Error::new(ErrorKind::NotFound, format!("{what} {id:?} not found"))
    }

    /// `internal` with a cause.
    pub fn internal(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Internal, message)
    }

    /// Names the request field at fault.
    pub fn with_field(mut self, field: impl Into<String>) -> Self {
        self.0.field = Some(field.into());
        self
    }

    /// Attaches a cause.
    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.0.source = Some(Box::new(source));
        self
    }

    /// Attaches structured details (e.g. policy diagnostics).
    pub fn with_details(mut self, details: serde_json::Value) -> Self {
        self.0.details = Some(details);
        self
    }

    /// Sets the retry-after hint.
    pub fn with_retry_after(mut self, after: Duration) -> Self {
        self.0.retry_after = Some(after);
        self
    }

    /// The stable kind.
    pub fn kind(&self) -> ErrorKind {
        self.0.kind
    }

    /// The message, without the kind prefix.
    pub fn message(&self) -> &str {
        &self.0.message
    }

    /// The request field at fault, as a dotted path (`"region"`, `"webhook.url"`).
    pub fn field(&self) -> Option<&str> {
        self.0.field.as_deref()
    }

    /// Structured details (policy diagnostics for an invalid policy).
    pub fn details(&self) -> Option<&serde_json::Value> {
        self.0.details.as_ref()
    }

    /// How long the server asked us to wait before retrying.
    pub fn retry_after(&self) -> Option<Duration> {
        self.0.retry_after
    }

    /// The wire form: `{"error": {"kind", "message", "field"?, "details"?}}`.
    pub fn to_body(&self) -> ErrorBody {
        ErrorBody {
            error: ErrorPayload {
                kind: self.0.kind,
                message: self.0.message.clone(),
                field: self.0.field.clone(),
                details: self.0.details.clone(),
            },
        }
    }

    /// Rebuilds an error from the wire form.
    /// An error answer of `status` whose body is `bytes`, read leniently: unknown
    /// fields are ignored, and a kind this build does not know (from a newer server)
    /// is taken from the status, its message and field kept. `None` when the body is
    /// not an error body at all.
    pub fn from_answer(status: u16, bytes: &[u8]) -> Option<Self> {
        let v: serde_json::Value = serde_json::from_slice(bytes).ok()?;
        let e = v.get("error")?;
        let message = e.get("message")?.as_str()?.to_string();
        let kind = e
            .get("kind")
            .and_then(serde_json::Value::as_str)
            .and_then(ErrorKind::from_wire)
            .unwrap_or_else(|| ErrorKind::from_http_status(status));
        let mut err = Error::new(kind, message);
        if let Some(f) = e.get("field").and_then(serde_json::Value::as_str) {
            err = err.with_field(f);
        }
        if let Some(d) = e.get("details").filter(|d| !d.is_null()) {
            err = err.with_details(d.clone());
        }
        Some(err)
    }

    pub fn from_body(body: ErrorBody) -> Self {
        let p = body.error;
        Error(Box::new(Inner {
            kind: p.kind,
            message: p.message,
            field: p.field,
            retry_after: None,
            details: p.details,
            source: None,
        }))
    }
}

/// Each kind's schema (`oneOf` of `const`s) also names its HTTP status, as
/// `x-http-status`.
#[cfg(feature = "schema")]
fn with_http_statuses(schema: &mut schemars::Schema) {
    let Some(variants) = schema.get_mut("oneOf").and_then(|v| v.as_array_mut()) else {
        return;
    };
    for v in variants {
        let kind = v
            .get("const")
            .and_then(|c| c.as_str())
            .and_then(ErrorKind::from_wire);
        if let (Some(kind), Some(obj)) = (kind, v.as_object_mut()) {
            obj.insert("x-http-status".into(), kind.http_status().into());
        }
    }
}

/// The JSON error body of the HTTP protocol. Readers ignore fields they do not
/// know (a newer server may add some).
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schema", schemars(rename = "Error"))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorPayload,
}

/// The inside of [`ErrorBody`].
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ErrorPayload {
    /// Stable kind.
    pub kind: ErrorKind,
    /// Human message.
    pub message: String,
    /// Field at fault.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// Structured details.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<serde_json::Value>,
}

#[cfg(feature = "rusqlite")]
impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Self {
        Error::internal("storage error").with_source(e)
    }
}

impl From<serde_json::Error> for Error {
    fn from(e: serde_json::Error) -> Self {
        Error::internal("serialization error").with_source(e)
    }
}
