//! The native layer of `@heroa/sdk`: a napi-rs addon over the shared bridge
//! (`heroa-bridge`). Data crosses as JSON text; every call is a Promise whose work
//! runs on the bridge's tokio runtime (the event loop never waits on it); a failed
//! call rejects with an `Error` whose message is the bridge's error envelope as JSON
//! (`{"kind", "message", "field"?, "details"?, "retry_after"?}`), which the
//! JavaScript layer (`lib/`) turns into a `HeroaError` subclass.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

use futures_util::FutureExt;
use heroa_bridge::{Bridge, CancellationToken, Client, ErrorEnvelope, StreamHandle};
use napi::bindgen_prelude::*;
use napi_derive::napi;
use secrecy::SecretString;

pub mod host;
pub mod policy;
pub mod sse;
pub mod webhooks;

/// A rejected call: the envelope as the error's message.
fn reject(e: ErrorEnvelope) -> napi::Error {
    napi::Error::from_reason(e.to_json())
}

fn core_error(e: heroa_protocol::error::Error) -> napi::Error {
    reject(ErrorEnvelope::from(e))
}

/// Runs `fut` on the bridge's runtime; the caller's Promise only awaits its end.
async fn on_bridge<T: Send + 'static>(
    fut: impl std::future::Future<Output = std::result::Result<T, ErrorEnvelope>> + Send + 'static,
) -> Result<T> {
    match heroa_bridge::runtime().spawn(fut).await {
        Ok(r) => r.map_err(reject),
        Err(_) => Err(core_error(heroa_protocol::error::Error::internal(
            "the call ended inside Heroa (a bug: it panicked)",
        ))),
    }
}

/// A Promise settled by `fut`, which runs on the bridge's runtime. The answer hops
/// back to the JavaScript thread once (a napi `async fn` would add a hop through
/// napi's own runtime: about twice the round trip, BENCHMARKS.md). A panic rejects
/// the Promise rather than leaving it pending.
fn promise<'env, T: ToNapiValue + Send + 'static>(
    env: &'env Env,
    fut: impl std::future::Future<Output = std::result::Result<T, ErrorEnvelope>> + Send + 'static,
) -> Result<Object<'env>> {
    let (deferred, promise) = env.create_deferred::<T, _>()?;
    heroa_bridge::runtime().spawn(async move {
        match std::panic::AssertUnwindSafe(fut).catch_unwind().await {
            Ok(Ok(v)) => deferred.resolve(move |_| Ok(v)),
            Ok(Err(e)) => deferred.reject(reject(e)),
            Err(_) => deferred.reject(core_error(heroa_protocol::error::Error::internal(
                "the call ended inside Heroa (a bug: it panicked)",
            ))),
        }
    });
    Ok(promise)
}

/// A client over the embedded runtime or `heroa serve`.
#[napi]
pub struct NativeClient {
    /// `None` once closed.
    bridge: Mutex<Option<Bridge>>,
}

impl NativeClient {
    fn new(client: Client) -> NativeClient {
        NativeClient {
            bridge: Mutex::new(Some(Bridge::new(client))),
        }
    }

    /// The bridge, or the error of a closed client.
    fn bridge(&self) -> Result<Bridge> {
        self.bridge
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
            .ok_or_else(|| {
                core_error(heroa_protocol::error::Error::new(
                    heroa_protocol::error::ErrorKind::FailedPrecondition,
                    "this client is closed",
                ))
            })
    }
}

#[napi]
impl NativeClient {
    /// The embedded runtime: in memory, or persisted at `path`.
    #[napi(factory)]
    pub fn embedded(path: Option<String>) -> Result<NativeClient> {
        // The runtime starts its background tasks on the bridge's runtime.
        let _guard = heroa_bridge::runtime().enter();
        let client = Client::embedded(path.map(PathBuf::from)).map_err(core_error)?;
        Ok(NativeClient::new(client))
    }

    /// A remote client of `heroa serve` at `base_url`.
    #[napi(factory)]
    pub fn remote(base_url: String, api_key: String) -> Result<NativeClient> {
        let _guard = heroa_bridge::runtime().enter();
        let client = Client::remote(&base_url, SecretString::from(api_key)).map_err(core_error)?;
        Ok(NativeClient::new(client))
    }

    /// Runs operation `op` (a catalogue name) with `args` (a JSON object as text);
    /// resolves with the answer as JSON text. `cancel` is a token from
    /// `newCancelToken()`: cancelling it rejects the call with kind `cancelled`.
    #[napi(ts_return_type = "Promise<string>")]
    pub fn call<'env>(
        &self,
        env: &'env Env,
        op: String,
        args: String,
        cancel: Option<u32>,
    ) -> Result<Object<'env>> {
        let bridge = self.bridge()?;
        let token = cancel.and_then(token);
        promise(env, async move {
            bridge
                .call(&op, &args, token.as_ref())
                .await
                .map(|v| v.to_string())
        })
    }

    /// Opens stream operation `op` (`runs.events`).
    #[napi]
    pub async fn stream(&self, op: String, args: String) -> Result<NativeStream> {
        let bridge = self.bridge()?;
        let handle = on_bridge(async move { bridge.stream(&op, &args).await }).await?;
        Ok(NativeStream {
            handle: Arc::new(handle),
        })
    }

    /// Releases the client: the runtime (embedded) ends once the calls in flight
    /// have; later calls reject with `failed_precondition`. Idempotent.
    #[napi]
    pub fn close(&self) {
        self.bridge.lock().unwrap_or_else(|p| p.into_inner()).take();
    }
}

/// An open stream of events.
#[napi]
pub struct NativeStream {
    handle: Arc<StreamHandle>,
}

#[napi]
impl NativeStream {
    /// The next event as JSON text (`{id, event, data}`), or `null` at the end.
    #[napi(ts_return_type = "Promise<string | null>")]
    pub fn next<'env>(&self, env: &'env Env) -> Result<Object<'env>> {
        let handle = self.handle.clone();
        promise(env, async move {
            handle.next().await.map(|next| next.map(|v| v.to_string()))
        })
    }

    /// Ends the stream; a pending `next()` resolves with `null`.
    #[napi]
    pub fn close(&self) {
        self.handle.close();
    }
}

fn tokens() -> &'static Mutex<HashMap<u32, CancellationToken>> {
    static TOKENS: OnceLock<Mutex<HashMap<u32, CancellationToken>>> = OnceLock::new();
    TOKENS.get_or_init(Default::default)
}

fn token(id: u32) -> Option<CancellationToken> {
    tokens().lock().ok()?.get(&id).cloned()
}

/// A new cancellation token for `call` (an `AbortSignal` holds one).
#[napi]
pub fn new_cancel_token() -> u32 {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(1);
    let id = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    if let Ok(mut t) = tokens().lock() {
        t.insert(id, CancellationToken::new());
    }
    id
}

/// Cancels the calls holding token `id`.
#[napi]
pub fn cancel_token(id: u32) {
    if let Some(t) = token(id) {
        t.cancel();
    }
}

/// Forgets token `id` (once its call has ended).
#[napi]
pub fn release_cancel_token(id: u32) {
    if let Ok(mut t) = tokens().lock() {
        t.remove(&id);
    }
}

/// The bridge's operation catalogue, by name.
#[napi]
pub fn operations() -> Vec<String> {
    heroa_bridge::operations()
        .iter()
        .map(|op| op.name.to_string())
        .collect()
}

/// Recomputes an audit record's chain (`{"run_id", "events"}` as JSON text) and
/// answers the verification as JSON text.
#[napi]
pub fn verify_audit_chain(record: String) -> Result<String> {
    heroa_bridge::verify_audit_record(&record)
        .map(|v| v.to_string())
        .map_err(core_error)
}

/// Does nothing: the cost of a bare call into the addon, the benchmark's baseline.
#[napi]
pub fn noop() {}

/// The version of the core.
#[napi]
pub fn version() -> String {
    env!("CARGO_PKG_VERSION").to_string()
}
