//! # heroa-bridge: the one bridge every language binding calls through
//!
//! Python, Node, Go and Swift do not each wrap the Rust API: they call this crate,
//! so every language behaves the same. It has four parts:
//!
//! * **The operation catalogue** ([`catalogue`]): each operation once — its name
//!   (`agents.register`), HTTP method and path, request and response types, success
//!   status and retry rule — with one handler. `heroa serve` builds its routes from
//!   it, [`Bridge::call`] dispatches through it, and the OpenAPI test checks
//!   `openapi.json` against it.
//! * **Calls**: [`Bridge::call`] takes an operation name and a JSON object and
//!   answers JSON, or one [`ErrorEnvelope`] `{kind, message, field, details,
//!   retry_after}`. A [`CancellationToken`] cancels a call (`cancelled`); a panic
//!   anywhere under a call becomes an `internal` error, never an abort across the
//!   language boundary.
//! * **Streams** ([`StreamHandle`]): `next()` / `close()`.
//! * **Host callbacks** ([`host`], with the `embedded` feature): skills and
//!   templates written in the host language, as request/respond. The host receives
//!   a call handle (arguments, `secret(name)`, a cancellation signal) and answers it
//!   from any thread; a cancelled run or a timed-out call signals the host.
//!
//! Hot paths stay direct typed functions in their own crates (policy checks, webhook
//! signatures, SSE decoding): a binding calls them without JSON.
//!
//! ## Adding an operation
//!
//! 1. Add the runtime method (and the [`heroa_client::Client`] method that reaches it
//!    on both transports).
//! 2. Add one entry to the catalogue in `catalogue.rs`:
//!
//!    ```text
//!    op!("agents.pause", Post "/v1/agents/{agent_id}/pause", 200, Safe,
//!        None(None) -> Json(Some("Agent")),
//!        call!(|c, a| json(c.agents().pause(&a.param("agent_id")?).await?))),
//!    ```
//!
//!    Path parameters come from the path template by name; the rest of the call's
//!    JSON object is the body (or the query, for `Query` inputs), decoded into the
//!    request type with the field at fault named on error.
//! 3. Describe it in `openapi.json` under the same path with
//!    `"operationId": "agents.pause"`: the OpenAPI test fails until document and
//!    catalogue agree. The server serves it and every binding can call it by name.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! use heroa_bridge::Bridge;
//! let bridge = Bridge::new(heroa_client::Client::embedded(None).unwrap());
//! let agent = bridge
//!     .call("agents.register", r#"{"name": "lead-research-v1", "region": "us-east"}"#, None)
//!     .await
//!     .unwrap();
//! let again = bridge
//!     .call("agents.get", &format!(r#"{{"agent_id": "{}"}}"#, agent["id"].as_str().unwrap()), None)
//!     .await
//!     .unwrap();
//! assert_eq!(again["name"], "lead-research-v1");
//! let err = bridge.call("agents.get", r#"{"agent_id": "ag_nope"}"#, None).await.unwrap_err();
//! assert_eq!(err.field.as_deref(), Some("agent_id"));
//! # }
//! ```

#![forbid(unsafe_code)]
// The error envelope is the boundary type every binding receives by value, once per
// failed call; boxing it would only move the same bytes behind a pointer.
#![allow(clippy::result_large_err)]

pub mod catalogue;
pub mod decode;
mod envelope;
#[cfg(feature = "embedded")]
pub mod host;
mod stream;
pub mod webhooks;

use std::panic::AssertUnwindSafe;
use std::sync::OnceLock;

use futures_util::FutureExt;

use heroa_protocol::error::{Error, ErrorKind};
use serde_json::{Map, Value};
pub use tokio_util::sync::CancellationToken;

pub use catalogue::{Operation, operations};
pub use envelope::ErrorEnvelope;
pub use heroa_client::Client;
pub use stream::StreamHandle;

use catalogue::{Args, CallSettings, Handler};

/// A client as every binding drives it: operations by name, JSON in and out.
#[derive(Debug, Clone)]
pub struct Bridge {
    client: Client,
}

impl Bridge {
    /// A bridge over `client` (embedded or remote).
    pub fn new(client: Client) -> Bridge {
        Bridge { client }
    }

    /// The client underneath.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Parses `args` (a JSON object as text) for [`Bridge::call_value`].
    pub fn parse_args(args: &str) -> heroa_protocol::error::Result<Map<String, Value>> {
        decode::parse_object(args.as_bytes())
    }

    /// Runs operation `op` with `args`, a JSON object as text. See [`Bridge::call_value`].
    pub async fn call(
        &self,
        op: &str,
        args: &str,
        cancel: Option<&CancellationToken>,
    ) -> Result<Value, ErrorEnvelope> {
        let args = Self::parse_args(args)?;
        self.call_value(op, args, cancel).await
    }

    /// Runs operation `op` with `args`; answers the operation's JSON (`null` for
    /// operations without a body). `cancel` ends the call early with a `cancelled`
    /// error; a panic under the call is an `internal` error.
    pub async fn call_value(
        &self,
        op: &str,
        args: Map<String, Value>,
        cancel: Option<&CancellationToken>,
    ) -> Result<Value, ErrorEnvelope> {
        self.invoke(op, args, cancel)
            .await
            .map_err(ErrorEnvelope::from)
    }

    /// [`Bridge::call_value`] answering the core's [`Error`] itself (with its cause
    /// chain), for bindings that map errors natively rather than through the envelope.
    pub async fn invoke(
        &self,
        op: &str,
        args: Map<String, Value>,
        cancel: Option<&CancellationToken>,
    ) -> heroa_protocol::error::Result<Value> {
        let operation = catalogue::find(op).ok_or_else(|| unknown_operation(op))?;
        let Handler::Call(handler) = operation.handler else {
            return Err(Error::invalid(
                "op",
                match operation.handler {
                    Handler::Stream => format!("{op} is a stream: open it with stream()"),
                    _ => format!("{op} is served over HTTP only"),
                },
            ));
        };
        let args = Args::split(operation, args);
        let fut = guarded(
            op,
            handler(self.client.clone(), args, CallSettings::default()),
        );
        match cancel {
            None => fut.await,
            Some(token) => tokio::select! {
                biased;
                _ = token.cancelled() => Err(cancelled(op)),
                r = fut => r,
            },
        }
    }

    /// Opens stream operation `op` (`runs.events`, with `run_id` and an optional
    /// `last_event_id`).
    pub async fn stream(&self, op: &str, args: &str) -> Result<StreamHandle, ErrorEnvelope> {
        let operation =
            catalogue::find(op).ok_or_else(|| ErrorEnvelope::from(unknown_operation(op)))?;
        if !matches!(operation.handler, Handler::Stream) {
            return Err(Error::invalid("op", format!("{op} is not a stream: use call()")).into());
        }
        let mut args = Args::split(operation, Self::parse_args(args)?);
        let run_id = args.param("run_id")?;
        let q: stream::StreamArgs = args.input()?;
        let inner = guarded(
            op,
            self.client.runs().stream_after(&run_id, q.last_event_id),
        )
        .await?;
        Ok(StreamHandle::new(inner))
    }
}

/// Runs `fut`, turning a panic under it into an `internal` error. The panic's own
/// message is left out: it may quote the data being handled (a request, a vault
/// value), and errors never carry secrets. The panic hook still reports it to the
/// process's stderr as usual.
pub async fn guarded<T>(
    op: &str,
    fut: impl std::future::Future<Output = heroa_protocol::error::Result<T>>,
) -> heroa_protocol::error::Result<T> {
    match AssertUnwindSafe(fut).catch_unwind().await {
        Ok(r) => r,
        Err(_) => Err(Error::internal(format!(
            "{op} failed inside Heroa (a bug: the call panicked); nothing else was affected"
        ))),
    }
}

fn unknown_operation(op: &str) -> Error {
    Error::invalid("op", format!("unknown operation {op:?}"))
}

fn cancelled(op: &str) -> Error {
    Error::new(ErrorKind::Cancelled, format!("{op} was cancelled"))
}

/// Recomputes an audit record's chain — `{"run_id", "events"}` as JSON text, both
/// chain formats, no transport — and answers the verification (`AuditVerification`).
pub fn verify_audit_record(record: &str) -> heroa_protocol::error::Result<Value> {
    #[derive(serde::Deserialize)]
    struct Record {
        run_id: String,
        events: Vec<heroa_protocol::AuditEvent>,
    }
    let text: Value = serde_json::from_str(record)
        .map_err(|e| Error::invalid("record", format!("record is not JSON: {e}")))?;
    let r: Record = decode::decode(text)?;
    let v = heroa_protocol::audit::verify(&r.run_id, &r.events);
    Ok(serde_json::to_value(v)?)
}

/// A multi-threaded tokio runtime for bindings that have none of their own (Node,
/// Go, Swift): started on first use, shared by every call of this library.
pub fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .thread_name("heroa")
            .build()
            .expect("the tokio runtime could not start")
    })
}
