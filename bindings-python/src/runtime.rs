//! `_native.Runtime`: the embedded control plane, and host code (Python skills and
//! templates) registered with it.
//!
//! # How Python host code runs
//!
//! Skills and templates are the bridge's host callbacks (`heroa_bridge::host`): the
//! runtime hands each call to the host as a call handle, and the handle is answered
//! once, from whichever thread finishes it:
//!
//! * a plain function runs on tokio's blocking pool (`spawn_blocking`) and takes the
//!   GIL there, so a slow or blocking skill never stalls the runtime's workers, and
//!   several skills of different runs can wait on I/O at once; when the run is
//!   cancelled or the call times out, `call.cancelled` turns true;
//! * an `async def` is scheduled as a task on the binding's handler event loop (one
//!   asyncio loop on a daemon thread per process, `heroa._host.start`), whose done
//!   callback answers the handle; when the run is cancelled or the call times out,
//!   the task is cancelled.
//!
//! The Python adapters (`heroa/_host.py`) build the call object, run the user's code
//! and return JSON text; an exception becomes the error message of that one call
//! (`skill.failed` in the audit, secrets redacted by the core) — never of the process.

use std::sync::{Arc, Mutex};

use heroa_bridge::host::{self, HostCall, HostFn, HostResult};

use pyo3::prelude::*;
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;

use heroa::clock::Clock;
use heroa::protocol::{SkillKind, Tier, Usd};
use heroa::{Error, RunContext, RuntimeOptions, SkillCall};

use crate::client::NativeClient;
use crate::errors::to_pyerr;
use crate::rt::{Owner, awaitable, block_on, runtime};

#[pyclass(module = "heroa._native", name = "Runtime", frozen)]
pub struct NativeRuntime {
    pub rt: heroa::Runtime,
    manual_clock: bool,
    owner: Owner,
}

fn parse_tier(tier: &str) -> PyResult<Tier> {
    Tier::parse_field("tier", tier).map_err(to_pyerr)
}

#[pymethods]
impl NativeRuntime {
    /// Opens the control plane: persisted to `path`, or in memory for `None`.
    /// `clock_ms` starts a manual clock (tests); `tier` is the default workspace's
    /// tier when the data file is new.
    #[new]
    #[pyo3(signature = (path=None, tier=None, clock_ms=None, public_url=None))]
    fn new(
        py: Python<'_>,
        path: Option<std::path::PathBuf>,
        tier: Option<&str>,
        clock_ms: Option<i64>,
        public_url: Option<String>,
    ) -> PyResult<NativeRuntime> {
        let mut opts = match path {
            Some(p) => RuntimeOptions::file(p),
            None => RuntimeOptions::memory(),
        };
        if let Some(t) = tier {
            opts = opts.default_tier(parse_tier(t)?);
        }
        let manual_clock = clock_ms.is_some();
        if let Some(ms) = clock_ms {
            opts = opts.clock(Clock::manual(ms));
        }
        opts.public_url = public_url;
        let rt = py
            .detach(|| {
                // Opened inside the binding's runtime, so the core uses it rather than
                // starting a second one.
                let _guard = runtime().enter();
                heroa::Runtime::open(opts)
            })
            .map_err(to_pyerr)?;
        Ok(NativeRuntime {
            rt,
            manual_clock,
            owner: Owner::here(),
        })
    }

    #[getter]
    fn default_workspace(&self) -> String {
        self.rt.default_workspace().to_string()
    }

    /// A client acting in `workspace` (the default workspace for `None`).
    #[pyo3(signature = (workspace=None))]
    fn client(&self, workspace: Option<String>) -> PyResult<NativeClient> {
        self.owner.check()?;
        if let Some(ws) = &workspace {
            self.rt.get_workspace(ws).map_err(to_pyerr)?;
        }
        Ok(NativeClient::embedded(self.rt.clone(), workspace))
    }

    /// Creates a workspace; returns it as JSON.
    #[pyo3(signature = (name, tier="team"))]
    fn create_workspace(&self, name: &str, tier: &str) -> PyResult<String> {
        self.owner.check()?;
        let ws = self
            .rt
            .create_workspace(name, parse_tier(tier)?)
            .map_err(to_pyerr)?;
        Ok(serde_json::to_string(&ws).unwrap_or_default())
    }

    /// Every workspace, as JSON.
    fn list_workspaces(&self) -> PyResult<String> {
        self.owner.check()?;
        let l = self.rt.list_workspaces().map_err(to_pyerr)?;
        Ok(serde_json::to_string(&l.items).unwrap_or_default())
    }

    /// Issues an API key for `workspace` (default workspace for `None`); the key is
    /// returned once.
    #[pyo3(signature = (workspace=None))]
    fn create_api_key(&self, workspace: Option<String>) -> PyResult<String> {
        self.owner.check()?;
        let ws = workspace.unwrap_or_else(|| self.rt.default_workspace().to_string());
        let key = self.rt.create_api_key(&ws).map_err(to_pyerr)?;
        Ok(key.reveal().to_string())
    }

    /// Registers a key chosen by the operator for `workspace`.
    #[pyo3(signature = (key, workspace=None))]
    fn add_api_key(&self, key: String, workspace: Option<String>) -> PyResult<()> {
        self.owner.check()?;
        let ws = workspace.unwrap_or_else(|| self.rt.default_workspace().to_string());
        self.rt
            .add_api_key(&ws, &SecretString::from(key))
            .map_err(to_pyerr)?;
        Ok(())
    }

    /// Moves a manual clock forward (runtimes opened with `clock_ms`).
    fn advance_clock(&self, seconds: f64) -> PyResult<()> {
        self.owner.check()?;
        if !self.manual_clock {
            return Err(to_pyerr(Error::new(
                heroa::ErrorKind::FailedPrecondition,
                "advance_clock needs a runtime opened with a manual clock (clock_ms=…)",
            )));
        }
        if !(seconds.is_finite() && seconds >= 0.0) {
            return Err(to_pyerr(Error::invalid("seconds", "seconds must be ≥ 0")));
        }
        self.rt
            .clock()
            .advance(std::time::Duration::from_secs_f64(seconds));
        Ok(())
    }

    /// The PEM of the local CA that signs app URLs served by the gateway (starts the
    /// gateway on first use).
    fn gateway_ca_pem(&self, py: Python<'_>) -> PyResult<String> {
        self.owner.check()?;
        let rt = self.rt.clone();
        crate::rt::block_on(py, async move { rt.gateway_ca_pem().await })?.map_err(to_pyerr)
    }

    /// The gateway's HTTPS address as `(host, port)` (connect here for any app host
    /// name; starts the gateway on first use).
    fn gateway_address(&self, py: Python<'_>) -> PyResult<(String, u16)> {
        self.owner.check()?;
        let rt = self.rt.clone();
        let addr =
            crate::rt::block_on(py, async move { rt.gateway_addr().await })?.map_err(to_pyerr)?;
        Ok((addr.ip().to_string(), addr.port()))
    }

    /// Milliseconds since the epoch by the runtime's clock.
    fn now_ms(&self) -> i64 {
        self.rt.clock().now_ms()
    }

    /// Registers (or replaces) a skill run by `handler`, a Python adapter that takes a
    /// `SkillCall` and returns JSON text (a coroutine function when `is_async`).
    #[pyo3(signature = (name, kind, cost_usd, external, description, handler, is_async))]
    #[allow(clippy::too_many_arguments)]
    fn register_skill(
        &self,
        name: String,
        kind: &str,
        cost_usd: &str,
        external: bool,
        description: Option<String>,
        handler: Py<PyAny>,
        is_async: bool,
    ) -> PyResult<()> {
        self.owner.check()?;
        let kind = SkillKind::parse_field("kind", kind).map_err(to_pyerr)?;
        let cost_usd = Usd::parse("cost_usd", cost_usd).map_err(to_pyerr)?;
        let handler = Arc::new(handler);
        let host: HostFn<SkillCall> = Arc::new(move |call| {
            start(handler.clone(), is_async, call, |call| NativeSkillCall {
                call,
            })
        });
        let mut skill = host::skill(name, kind, host)
            .cost_usd(cost_usd)
            .external(external);
        if let Some(d) = description {
            skill = skill.description(d);
        }
        self.rt.register_skill(skill).map_err(to_pyerr)
    }

    /// Registers (or replaces) a template (run loop) run by `handler`, an adapter
    /// that takes a `RunContext` and returns the run's output as JSON text.
    #[pyo3(signature = (name, description, handler, is_async))]
    fn register_template(
        &self,
        name: String,
        description: Option<String>,
        handler: Py<PyAny>,
        is_async: bool,
    ) -> PyResult<()> {
        self.owner.check()?;
        let handler = Arc::new(handler);
        let host: HostFn<RunContext> = Arc::new(move |call| {
            start(handler.clone(), is_async, call, |call| NativeRunContext {
                call,
            })
        });
        let mut t = host::template(name, host);
        if let Some(d) = description {
            t = t.description(d);
        }
        self.rt.register_template(t).map_err(to_pyerr)
    }

    fn __repr__(&self) -> String {
        format!(
            "Runtime(default_workspace={:?})",
            self.rt.default_workspace()
        )
    }
}

/// Starts host code for one call: a plain function on the blocking pool, an
/// `async def` as a task on the handler loop. Either answers the call handle when it
/// ends; a cancelled call cancels the task.
fn start<P, N>(
    handler: Arc<Py<PyAny>>,
    is_async: bool,
    call: Arc<HostCall<P>>,
    native: impl FnOnce(Arc<HostCall<P>>) -> N + Send + 'static,
) where
    P: Send + Sync + 'static,
    N: for<'py> IntoPyObject<'py> + Send + 'static,
{
    // The GIL is taken on the blocking pool, never on a runtime worker: waiting
    // for it must not stall the control plane.
    let rt = crate::rt::runtime();
    rt.spawn_blocking(move || {
        if !is_async {
            let out = Python::attach(|py| {
                handler
                    .bind(py)
                    .call1((native(call.clone()),))
                    .and_then(|r| r.extract::<String>())
                    .map_err(|e| describe(py, &e))
            });
            call.respond(from_json(out));
            return;
        }
        let task = Python::attach(|py| {
            let arg = native(call.clone());
            py.import("heroa._host")
                .and_then(|m| m.call_method1("start", (handler.bind(py), arg)))
                .map(Bound::unbind)
                .map_err(|e| describe(py, &e))
        });
        let task = match task {
            Ok(t) => t,
            Err(e) => {
                call.respond(Err(e));
                return;
            }
        };
        // When the call is over, a cancelled one cancels the task.
        rt.spawn(async move {
            call.finished().cancelled().await;
            if call.is_cancelled() {
                tokio::task::spawn_blocking(move || {
                    Python::attach(|py| {
                        let _ = task.bind(py).call_method0("cancel");
                    })
                });
            }
        });
    });
}

/// The handler's JSON text as the call's answer.
fn from_json(out: Result<String, String>) -> HostResult {
    let text = out?;
    serde_json::from_str(&text).map_err(|e| format!("the handler's result is not JSON: {e}"))
}

/// `TypeName: message` of a Python exception.
fn describe(py: Python<'_>, e: &PyErr) -> String {
    let name = e
        .get_type(py)
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "Exception".into());
    let msg = e.value(py).str().map(|s| s.to_string()).unwrap_or_default();
    if msg.is_empty() {
        name
    } else {
        format!("{name}: {msg}")
    }
}

/// What a skill handler gets (wrapped by `heroa.SkillCall`).
#[pyclass(module = "heroa._native", name = "SkillCall", frozen)]
pub struct NativeSkillCall {
    call: Arc<HostCall<SkillCall>>,
}

#[pymethods]
impl NativeSkillCall {
    /// The arguments, as JSON text.
    #[getter]
    fn args_json(&self) -> String {
        self.call.args().to_string()
    }
    #[getter]
    fn agent_id(&self) -> String {
        self.call.payload().agent_id.clone()
    }
    #[getter]
    fn run_id(&self) -> String {
        self.call.payload().run_id.clone()
    }
    /// Whether the run was cancelled or the call timed out: the answer is no longer
    /// wanted.
    #[getter]
    fn cancelled(&self) -> bool {
        self.call.is_cancelled()
    }
    /// Reads a vault value visible to the agent; only while the skill runs.
    fn secret(&self, py: Python<'_>, key: String) -> PyResult<String> {
        let call = self.call.clone();
        let value = py.detach(move || call.secret(&key));
        Ok(value.map_err(to_pyerr)?.expose_secret().to_string())
    }
    /// Answers the call (the handler loop's done callback): JSON text, or the error
    /// message that fails it.
    #[pyo3(signature = (result=None, error=None))]
    fn respond(&self, result: Option<String>, error: Option<String>) -> bool {
        self.call.respond(answer(result, error))
    }
}

/// What a template gets (wrapped by `heroa.TemplateContext` / `AsyncTemplateContext`).
#[pyclass(module = "heroa._native", name = "RunContext", frozen)]
pub struct NativeRunContext {
    call: Arc<HostCall<RunContext>>,
}

fn answer(result: Option<String>, error: Option<String>) -> HostResult {
    match (result, error) {
        (_, Some(e)) => Err(e),
        (Some(text), None) => from_json(Ok(text)),
        (None, None) => Err("the handler gave no answer".to_string()),
    }
}

fn outcome_json(r: heroa::Result<heroa::SkillOutcome>) -> PyResult<String> {
    let outcome = r.map_err(to_pyerr)?;
    serde_json::to_string(&outcome).map_err(|e| to_pyerr(e.into()))
}

fn parse_args(args: &str) -> PyResult<Value> {
    serde_json::from_str(args)
        .map_err(|e| to_pyerr(Error::invalid("args", format!("args are not JSON: {e}"))))
}

impl NativeRunContext {
    fn ctx(&self) -> &RunContext {
        self.call.payload()
    }
}

#[pymethods]
impl NativeRunContext {
    /// The run's input, as JSON text.
    #[getter]
    fn input_json(&self) -> String {
        self.ctx().input.to_string()
    }
    /// Whether the run was cancelled: the answer is no longer wanted.
    #[getter]
    fn cancelled(&self) -> bool {
        self.call.is_cancelled()
    }
    /// Answers the run (the handler loop's done callback).
    #[pyo3(signature = (result=None, error=None))]
    fn respond(&self, result: Option<String>, error: Option<String>) -> bool {
        self.call.respond(answer(result, error))
    }
    #[getter]
    fn run_id(&self) -> String {
        self.ctx().run_id().to_string()
    }
    #[getter]
    fn agent_id(&self) -> String {
        self.ctx().agent_id().to_string()
    }
    /// Spend so far in USD, as a decimal string.
    #[getter]
    fn cost_usd(&self) -> String {
        self.ctx().cost_usd().to_string()
    }
    /// Calls a skill under the policy envelope and promotion level; blocks (GIL
    /// released) and returns the outcome as JSON text.
    fn call(&self, py: Python<'_>, skill: String, args: &str) -> PyResult<String> {
        let args = parse_args(args)?;
        let ctx = self.ctx().clone();
        outcome_json(block_on(py, async move { ctx.call(&skill, args).await })?)
    }
    /// [`call`] as an awaitable.
    fn call_async<'py>(
        &self,
        py: Python<'py>,
        skill: String,
        args: &str,
    ) -> PyResult<Bound<'py, PyAny>> {
        let args = parse_args(args)?;
        let ctx = self.ctx().clone();
        awaitable(
            py,
            async move { outcome_json(ctx.call(&skill, args).await) },
        )
    }
}

/// `_native.Server`: `heroa serve` in this process.
#[pyclass(module = "heroa._native", name = "Server", frozen)]
pub struct NativeServer {
    server: Mutex<Option<heroa::server::Server>>,
    url: String,
    owner: Owner,
}

#[pymethods]
impl NativeServer {
    /// Serves `runtime` on `host:port` (port 0 picks a free one).
    #[new]
    fn new(
        py: Python<'_>,
        runtime: &NativeRuntime,
        host: &str,
        port: u16,
    ) -> PyResult<NativeServer> {
        runtime.owner.check()?;
        let ip: std::net::IpAddr = host.parse().map_err(|_| {
            to_pyerr(Error::invalid(
                "host",
                format!("host must be an IP address; got {host:?}"),
            ))
        })?;
        let addr = std::net::SocketAddr::new(ip, port);
        let rt = runtime.rt.clone();
        let server = block_on(py, async move {
            heroa::server::Server::start(rt, addr, heroa::server::ServeOptions::default()).await
        })?
        .map_err(to_pyerr)?;
        Ok(NativeServer {
            url: server.url(),
            server: Mutex::new(Some(server)),
            owner: Owner::here(),
        })
    }

    #[getter]
    fn url(&self) -> String {
        self.url.clone()
    }

    /// Stops accepting connections and waits for requests in flight. Idempotent.
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        self.owner.check()?;
        let server = self.server.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(s) = server {
            block_on(py, async move { s.shutdown().await })?.map_err(to_pyerr)?;
        }
        Ok(())
    }

    #[getter]
    fn closed(&self) -> bool {
        self.server
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_none()
    }
}
