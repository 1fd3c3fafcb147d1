//! The HTTPS transport: bearer auth held in a secret type, timeouts, retries with
//! exponential backoff and full jitter (honouring `Retry-After`) for idempotent calls
//! and on 429/502/503/504, and an `Idempotency-Key` on every creating call so a retry
//! never creates twice.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;

use heroa_protocol::error::{Error, ErrorKind, Result};

/// Retry settings for the remote transport.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Attempts in all, including the first (default 4).
    pub max_attempts: u32,
    /// First backoff (default 100 ms); doubles each attempt.
    pub base_delay: Duration,
    /// Longest single backoff (default 5 s).
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 4,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(5),
        }
    }
}

/// Remote transport settings.
#[derive(Debug, Clone)]
pub struct RemoteOptions {
    /// Per-request timeout (default 30 s).
    pub timeout: Duration,
    /// Connect timeout (default 10 s).
    pub connect_timeout: Duration,
    /// Retries.
    pub retry: RetryPolicy,
}

impl Default for RemoteOptions {
    fn default() -> Self {
        RemoteOptions {
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            retry: RetryPolicy::default(),
        }
    }
}

pub(crate) struct Remote {
    http: reqwest::Client,
    base: String,
    key: SecretString,
    opts: RemoteOptions,
}

impl std::fmt::Debug for Remote {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Remote")
            .field("base", &self.base)
            .field("key", &"[REDACTED]")
            .finish()
    }
}

/// How a call may be retried.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Retry {
    /// Safe to repeat as is (GET, DELETE, waits, cancels).
    Idempotent,
    /// Creates something: repeated only under one `Idempotency-Key`.
    WithKey,
}

/// Percent-encodes one path segment.
pub(crate) fn seg(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b':') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl Remote {
    pub(crate) fn new(base_url: &str, key: SecretString, opts: RemoteOptions) -> Result<Remote> {
        let base = base_url.trim_end_matches('/').to_string();
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(Error::invalid(
                "base_url",
                format!("base_url must start with http:// or https://; got {base:?}"),
            ));
        }
        if key.expose_secret().is_empty() {
            return Err(Error::invalid("api_key", "api_key must not be empty"));
        }
        let http = reqwest::Client::builder()
            .connect_timeout(opts.connect_timeout)
            .user_agent(concat!("heroa-rust/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| {
                Error::new(ErrorKind::Internal, "cannot build the HTTP client").with_source(e)
            })?;
        Ok(Remote {
            http,
            base,
            key,
            opts,
        })
    }

    pub(crate) fn base(&self) -> &str {
        &self.base
    }

    pub(crate) async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T> {
        self.call(Method::GET, path, None, Retry::Idempotent, None)
            .await
    }

    pub(crate) async fn delete(&self, path: &str) -> Result<()> {
        self.call(Method::DELETE, path, None, Retry::Idempotent, None)
            .await
    }

    pub(crate) async fn post<T: DeserializeOwned>(
        &self,
        path: &str,
        body: serde_json::Value,
        retry: Retry,
    ) -> Result<T> {
        self.call(Method::POST, path, Some(body), retry, None).await
    }

    pub(crate) async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<serde_json::Value>,
        retry: Retry,
        timeout: Option<Duration>,
    ) -> Result<T> {
        let url = format!("{}{}", self.base, path);
        let idem_key =
            (retry == Retry::WithKey).then(|| format!("idem_{}", heroa_protocol::ids::ulid()));
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut req = self
                .http
                .request(method.clone(), &url)
                .bearer_auth(self.key.expose_secret())
                .timeout(timeout.unwrap_or(self.opts.timeout));
            if let Some(k) = &idem_key {
                req = req.header("Idempotency-Key", k);
            }
            if let Some(b) = &body {
                req = req.json(b);
            }
            let outcome = match req.send().await {
                Ok(resp) => decode::<T>(resp).await,
                Err(e) => Err(transport_error(&method, path, e)),
            };
            match outcome {
                Ok(v) => return Ok(v),
                Err(e) if e.kind().is_retryable() && attempt < self.opts.retry.max_attempts => {
                    let delay = e.retry_after().unwrap_or_else(|| self.backoff(attempt));
                    tracing::debug!(%path, attempt, delay_ms = delay.as_millis() as u64, kind = %e.kind(), "retrying");
                    tokio::time::sleep(delay.min(Duration::from_secs(60))).await;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Opens an event stream (`GET path` with `Accept: text/event-stream`), resuming
    /// after `last_event_id`. No timeout: streams stay open.
    pub(crate) async fn open_stream(
        &self,
        path: &str,
        last_event_id: Option<u64>,
    ) -> Result<reqwest::Response> {
        let mut req = self
            .http
            .get(format!("{}{}", self.base, path))
            .bearer_auth(self.key.expose_secret())
            .header("accept", "text/event-stream");
        if let Some(id) = last_event_id {
            req = req.header("last-event-id", id.to_string());
        }
        let resp = req
            .send()
            .await
            .map_err(|e| transport_error(&Method::GET, path, e))?;
        if resp.status().is_success() {
            Ok(resp)
        } else {
            // A non-2xx answer always decodes to its error.
            Err(decode::<serde_json::Value>(resp)
                .await
                .err()
                .unwrap_or_else(|| Error::internal("an error answer decoded as success")))
        }
    }

    /// Full jitter: a random delay in `[0, min(max, base · 2^(attempt-1))]`.
    fn backoff(&self, attempt: u32) -> Duration {
        let r = &self.opts.retry;
        let cap = r
            .base_delay
            .saturating_mul(1u32 << (attempt - 1).min(16))
            .min(r.max_delay);
        let mut b = [0u8; 8];
        heroa_protocol::ids::random_bytes(&mut b);
        let frac = u64::from_le_bytes(b) as f64 / u64::MAX as f64;
        cap.mul_f64(frac)
    }
}

fn transport_error(method: &Method, path: &str, e: reqwest::Error) -> Error {
    let kind = if e.is_timeout() {
        ErrorKind::Timeout
    } else {
        ErrorKind::Transport
    };
    // A timed-out request may have been executed: retry it only when it is safe.
    let kind = if kind == ErrorKind::Timeout && *method == Method::GET {
        ErrorKind::Transport
    } else {
        kind
    };
    Error::new(
        kind,
        format!("{method} {path} failed before an answer arrived"),
    )
    .with_source(e.without_url())
}

async fn decode<T: DeserializeOwned>(resp: reqwest::Response) -> Result<T> {
    let status = resp.status();
    let retry_after = resp
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    let bytes = resp.bytes().await.map_err(|e| {
        Error::new(ErrorKind::Transport, "the answer was cut off").with_source(e.without_url())
    })?;
    if status.is_success() {
        let bytes: &[u8] = if status == StatusCode::NO_CONTENT || bytes.is_empty() {
            b"null"
        } else {
            &bytes
        };
        return serde_json::from_slice(bytes).map_err(|e| {
            Error::internal("the server's answer does not match the protocol").with_source(e)
        });
    }
    let mut err = Error::from_answer(status.as_u16(), &bytes).unwrap_or_else(|| {
        Error::new(
            ErrorKind::from_http_status(status.as_u16()),
            format!("HTTP {status}"),
        )
    });
    if matches!(status.as_u16(), 502..=504) && err.kind() == ErrorKind::Internal {
        err = Error::new(ErrorKind::Unavailable, err.message().to_string());
    }
    if let Some(after) = retry_after {
        err = err.with_retry_after(after);
    }
    Err(err)
}
