//! JavaScript skills and templates run by the embedded runtime.
//!
//! They are the bridge's host callbacks (`heroa_bridge::host`): the runtime hands
//! each call to the host as a call handle, answered once from whichever thread
//! finishes it. Here the handle crosses to the JavaScript thread through a
//! thread-safe function (a napi `ThreadsafeFunction`, weak: a registered handler
//! never keeps the process alive by itself). The JavaScript adapter (`lib/host.js`)
//! runs the user's function — sync or async — and answers with `respond`; the
//! call's cancellation reaches it through `finished()`, which it turns into an
//! `AbortSignal`. Nothing here runs JavaScript on a runtime worker, so a slow
//! handler never stalls the control plane, and several calls can be in flight.

use std::sync::Arc;

use heroa_bridge::ErrorEnvelope;
use heroa_bridge::host::{self, HostCall, HostFn, HostResult};
use heroa_protocol::error::{Error, ErrorKind};
use heroa_protocol::{SkillKind, Usd};
use heroa_runtime::{RunContext, SkillCall};
use napi::bindgen_prelude::*;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi_derive::napi;
use secrecy::ExposeSecret;
use serde_json::Value;

use crate::{NativeClient, core_error, on_bridge};

/// A JavaScript handler as the runtime holds it: called with one argument, its
/// return value ignored (the adapter answers through `respond`), weak.
type Handler<T> = ThreadsafeFunction<T, (), T, Status, false, true>;

/// Hands each call to `handler` on the JavaScript thread. When the call cannot be
/// queued (the environment is shutting down), it is answered with an error at once.
fn host_fn<P, N>(handler: Handler<N>, wrap: fn(Arc<HostCall<P>>) -> N) -> HostFn<P>
where
    P: Send + Sync + 'static,
    N: ToNapiValue + 'static,
{
    let handler = Arc::new(handler);
    Arc::new(move |call: Arc<HostCall<P>>| {
        let status = handler.call(wrap(call.clone()), ThreadsafeFunctionCallMode::NonBlocking);
        if status != Status::Ok {
            call.respond(Err(format!(
                "the JavaScript handler could not be called ({status}): is its thread ending?"
            )));
        }
    })
}

impl NativeClient {
    fn runtime(&self) -> Result<heroa_runtime::Runtime> {
        self.bridge()?.client().runtime().cloned().ok_or_else(|| {
            core_error(Error::new(
                ErrorKind::FailedPrecondition,
                "skills, templates and the gateway belong to the runtime in this process: \
                 use an embedded client (Heroa.embedded()); a remote control plane has its own",
            ))
        })
    }
}

#[napi]
impl NativeClient {
    /// Registers (or replaces) skill `name`, run by `handler` (the adapter of
    /// `lib/host.js`, called with a `NativeSkillCall`). `cost_usd` is a decimal string.
    #[napi]
    pub fn register_skill(
        &self,
        name: String,
        kind: String,
        cost_usd: String,
        external: bool,
        description: Option<String>,
        handler: Handler<NativeSkillCall>,
    ) -> Result<()> {
        let rt = self.runtime()?;
        let kind = SkillKind::parse_field("kind", &kind).map_err(core_error)?;
        let cost_usd = Usd::parse("costUsd", &cost_usd).map_err(core_error)?;
        let host = host_fn(handler, |call| NativeSkillCall { call });
        let mut skill = host::skill(name, kind, host)
            .cost_usd(cost_usd)
            .external(external);
        if let Some(d) = description {
            skill = skill.description(d);
        }
        rt.register_skill(skill).map_err(core_error)
    }

    /// Registers (or replaces) template `name` (a run loop), run by `handler` (called
    /// with a `NativeRunContext`).
    #[napi]
    pub fn register_template(
        &self,
        name: String,
        description: Option<String>,
        handler: Handler<NativeRunContext>,
    ) -> Result<()> {
        let rt = self.runtime()?;
        let host = host_fn(handler, |call| NativeRunContext { call });
        let mut t = host::template(name, host);
        if let Some(d) = description {
            t = t.description(d);
        }
        rt.register_template(t).map_err(core_error)
    }
}

/// Where the embedded runtime's gateway serves app URLs over HTTPS, and the PEM of
/// the local CA that signs them.
#[napi(object)]
pub struct Gateway {
    pub ca_pem: String,
    pub host: String,
    pub port: u32,
}

#[napi]
impl NativeClient {
    /// The gateway (started on first use) of the embedded runtime.
    #[napi]
    pub async fn gateway(&self) -> Result<Gateway> {
        let rt = self.runtime()?;
        on_bridge(async move {
            let ca_pem = rt.gateway_ca_pem().await?;
            let addr = rt.gateway_addr().await?;
            Ok(Gateway {
                ca_pem,
                host: addr.ip().to_string(),
                port: u32::from(addr.port()),
            })
        })
        .await
    }
}

/// Resolves once the call is over, with whether the runtime stopped wanting the
/// answer (run cancelled, call timed out).
async fn finished<P: Send + Sync + 'static>(call: Arc<HostCall<P>>) -> Result<bool> {
    on_bridge(async move {
        call.finished().cancelled().await;
        Ok(call.is_cancelled())
    })
    .await
}

/// The handler's answer: JSON text, or the message that fails the call.
fn answer(result: Option<String>, error: Option<String>) -> HostResult {
    match (result, error) {
        (_, Some(e)) => Err(e),
        (Some(text), None) => serde_json::from_str(&text)
            .map_err(|e| format!("the handler's result is not JSON: {e}")),
        (None, None) => Err("the handler gave no answer".to_string()),
    }
}

/// One skill call, as the JavaScript adapter sees it.
#[napi]
pub struct NativeSkillCall {
    call: Arc<HostCall<SkillCall>>,
}

#[napi]
impl NativeSkillCall {
    /// The arguments from the run loop, as JSON text.
    #[napi(getter)]
    pub fn args_json(&self) -> String {
        self.call.args().to_string()
    }

    #[napi(getter)]
    pub fn agent_id(&self) -> String {
        self.call.payload().agent_id.clone()
    }

    #[napi(getter)]
    pub fn run_id(&self) -> String {
        self.call.payload().run_id.clone()
    }

    /// Whether the runtime no longer wants the answer.
    #[napi(getter)]
    pub fn cancelled(&self) -> bool {
        self.call.is_cancelled()
    }

    /// Reads vault value `key` visible to the agent; only while the call is live.
    #[napi]
    pub fn secret(&self, key: String) -> Result<String> {
        let value = self.call.secret(&key).map_err(core_error)?;
        Ok(value.expose_secret().to_string())
    }

    /// Resolves when the call is over: `true` when it was cancelled.
    #[napi]
    pub async fn finished(&self) -> Result<bool> {
        finished(self.call.clone()).await
    }

    /// Answers the call: JSON text, or the error message that fails it. `false` when
    /// it was already answered or abandoned.
    #[napi]
    pub fn respond(&self, result: Option<String>, error: Option<String>) -> bool {
        self.call.respond(answer(result, error))
    }
}

/// One run of a template, as the JavaScript adapter sees it.
#[napi]
pub struct NativeRunContext {
    call: Arc<HostCall<RunContext>>,
}

#[napi]
impl NativeRunContext {
    /// The run's input, as JSON text.
    #[napi(getter)]
    pub fn input_json(&self) -> String {
        self.call.payload().input.to_string()
    }

    #[napi(getter)]
    pub fn run_id(&self) -> String {
        self.call.payload().run_id().to_string()
    }

    #[napi(getter)]
    pub fn agent_id(&self) -> String {
        self.call.payload().agent_id().to_string()
    }

    /// Spend so far in USD, as a decimal string.
    #[napi(getter)]
    pub fn cost_usd(&self) -> String {
        self.call.payload().cost_usd().to_string()
    }

    /// Whether the run was cancelled.
    #[napi(getter)]
    pub fn cancelled(&self) -> bool {
        self.call.is_cancelled()
    }

    /// Calls skill `skill` with `args` (JSON text) under the agent's policy envelope
    /// and promotion level; resolves with the outcome as JSON text.
    #[napi]
    pub async fn call(&self, skill: String, args: String) -> Result<String> {
        let args: Value = serde_json::from_str(&args)
            .map_err(|e| core_error(Error::invalid("args", format!("args are not JSON: {e}"))))?;
        let ctx = self.call.payload().clone();
        on_bridge(async move {
            let outcome = ctx.call(&skill, args).await.map_err(ErrorEnvelope::from)?;
            serde_json::to_string(&outcome)
                .map_err(|e| ErrorEnvelope::from(Error::internal("skill outcome").with_source(e)))
        })
        .await
    }

    /// Resolves when the run's loop is over: `true` when the run was cancelled.
    #[napi]
    pub async fn finished(&self) -> Result<bool> {
        finished(self.call.clone()).await
    }

    /// Answers the run: its output as JSON text, or the message that fails it.
    #[napi]
    pub fn respond(&self, result: Option<String>, error: Option<String>) -> bool {
        self.call.respond(answer(result, error))
    }
}
