//! `_native.Runtime`: the embedded control plane, and host code (Python skills and
//! templates) registered with it.
//!
//! # How Python host code runs
//!
//! The core calls a skill or template as an async closure on its tokio runtime. The
//! closure hands the call to Python:
//!
//! * a plain function runs on tokio's blocking pool (`spawn_blocking`) and takes the
//!   GIL there, so a slow or blocking skill never stalls the runtime's workers, and
//!   several skills of different runs can wait on I/O at once;
//! * an `async def` is scheduled as a coroutine on the binding's handler event loop
//!   (one asyncio loop on a daemon thread per process, `heroa._host`), and the
//!   closure awaits it through pyo3-async-runtimes without holding the GIL.
//!
//! The Python adapters (`heroa/_host.py`) build the call object, run the user's code
//! and return JSON text; an exception becomes the error message of that one call
//! (`skill.failed` in the audit, secrets redacted by the core) — never of the process.

use std::sync::{Arc, Mutex};

use pyo3::prelude::*;
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;

use heroa::clock::Clock;
use heroa::protocol::{SkillKind, Tier};
use heroa::{Error, RunContext, RuntimeOptions, Skill, SkillCall, Template};

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
        cost_usd: f64,
        external: bool,
        description: Option<String>,
        handler: Py<PyAny>,
        is_async: bool,
    ) -> PyResult<()> {
        self.owner.check()?;
        let kind = SkillKind::parse_field("kind", kind).map_err(to_pyerr)?;
        let handler = Arc::new(handler);
        let mut skill = Skill::new(name, kind, move |call: SkillCall| {
            let handler = handler.clone();
            async move { run_skill(handler, call, is_async).await }
        })
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
        let mut t = Template::new(name, move |ctx: RunContext| {
            let handler = handler.clone();
            async move { run_template(handler, ctx, is_async).await }
        });
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

/// Runs `f` with the GIL on the blocking pool, never on a runtime worker: waiting
/// for the GIL must not stall the control plane.
async fn with_gil<F>(f: F) -> Result<String, String>
where
    F: for<'py> FnOnce(Python<'py>) -> Result<String, String> + Send + 'static,
{
    tokio::task::spawn_blocking(move || Python::attach(f))
        .await
        .unwrap_or_else(|join| Err(format!("the Python handler did not finish: {join}")))
}

/// Calls a Python adapter with `arg` and reads back its JSON text, sync on the
/// blocking pool or async on the handler loop.
async fn call_adapter<A>(handler: Arc<Py<PyAny>>, arg: A, is_async: bool) -> Result<Value, String>
where
    A: for<'py> IntoPyObject<'py> + Send + 'static,
{
    let text = if is_async {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let started = with_gil(move |py| {
            let fut = (|| -> PyResult<_> {
                let coro = handler.bind(py).call1((arg,))?;
                let lp = py.import("heroa._host")?.call_method0("handler_loop")?;
                let locals = pyo3_async_runtimes::TaskLocals::new(lp);
                pyo3_async_runtimes::into_future_with_locals(&locals, coro)
            })()
            .map_err(|e| describe(py, &e))?;
            let _ = tx.send(fut);
            Ok(String::new())
        })
        .await;
        match (started, rx.await) {
            (Err(e), _) => Err(e),
            (Ok(_), Err(_)) => Err("the Python handler was not started".to_string()),
            (Ok(_), Ok(fut)) => {
                let out = fut.await;
                with_gil(move |py| match out {
                    Ok(obj) => obj
                        .bind(py)
                        .extract::<String>()
                        .map_err(|e| describe(py, &e)),
                    Err(e) => Err(describe(py, &e)),
                })
                .await
            }
        }
    } else {
        with_gil(move |py| {
            handler
                .bind(py)
                .call1((arg,))
                .and_then(|r| r.extract::<String>())
                .map_err(|e| describe(py, &e))
        })
        .await
    };
    let t = text?;
    serde_json::from_str(&t).map_err(|e| format!("the handler's result is not JSON: {e}"))
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

async fn run_skill(
    handler: Arc<Py<PyAny>>,
    call: SkillCall,
    is_async: bool,
) -> Result<Value, String> {
    let args = call.args.to_string();
    let agent_id = call.agent_id.clone();
    let run_id = call.run_id.clone();
    let live = Arc::new(Mutex::new(Some(call)));
    let native = NativeSkillCall {
        args,
        agent_id,
        run_id,
        call: live.clone(),
    };
    let out = call_adapter(handler, native, is_async).await;
    // Vault reads are possible only while the skill runs.
    live.lock().unwrap_or_else(|p| p.into_inner()).take();
    out
}

async fn run_template(
    handler: Arc<Py<PyAny>>,
    ctx: RunContext,
    is_async: bool,
) -> Result<Value, String> {
    call_adapter(handler, NativeRunContext { ctx }, is_async).await
}

/// What a skill handler gets (wrapped by `heroa.SkillCall`).
#[pyclass(module = "heroa._native", name = "SkillCall", frozen)]
pub struct NativeSkillCall {
    args: String,
    agent_id: String,
    run_id: String,
    call: Arc<Mutex<Option<SkillCall>>>,
}

#[pymethods]
impl NativeSkillCall {
    /// The arguments, as JSON text.
    #[getter]
    fn args_json(&self) -> String {
        self.args.clone()
    }
    #[getter]
    fn agent_id(&self) -> String {
        self.agent_id.clone()
    }
    #[getter]
    fn run_id(&self) -> String {
        self.run_id.clone()
    }
    /// Reads a vault value visible to the agent; only while the skill runs.
    fn secret(&self, py: Python<'_>, key: String) -> PyResult<String> {
        let call = self.call.clone();
        let value = py.detach(move || {
            let guard = call.lock().unwrap_or_else(|p| p.into_inner());
            match guard.as_ref() {
                None => Err(Error::new(
                    heroa::ErrorKind::FailedPrecondition,
                    "vault values can be read only inside a skill, while it runs",
                )),
                Some(c) => c.secret(&key),
            }
        });
        Ok(value.map_err(to_pyerr)?.expose_secret().to_string())
    }
}

/// What a template gets (wrapped by `heroa.TemplateContext` / `AsyncTemplateContext`).
#[pyclass(module = "heroa._native", name = "RunContext", frozen)]
pub struct NativeRunContext {
    ctx: RunContext,
}

fn outcome_json(r: heroa::Result<heroa::SkillOutcome>) -> PyResult<String> {
    let outcome = r.map_err(to_pyerr)?;
    serde_json::to_string(&outcome).map_err(|e| to_pyerr(e.into()))
}

fn parse_args(args: &str) -> PyResult<Value> {
    serde_json::from_str(args)
        .map_err(|e| to_pyerr(Error::invalid("args", format!("args are not JSON: {e}"))))
}

#[pymethods]
impl NativeRunContext {
    /// The run's input, as JSON text.
    #[getter]
    fn input_json(&self) -> String {
        self.ctx.input.to_string()
    }
    #[getter]
    fn run_id(&self) -> String {
        self.ctx.run_id().to_string()
    }
    #[getter]
    fn agent_id(&self) -> String {
        self.ctx.agent_id().to_string()
    }
    /// Spend so far in USD.
    #[getter]
    fn cost_usd(&self) -> f64 {
        self.ctx.cost_usd()
    }
    /// Calls a skill under the policy envelope and promotion level; blocks (GIL
    /// released) and returns the outcome as JSON text.
    fn call(&self, py: Python<'_>, skill: String, args: &str) -> PyResult<String> {
        let args = parse_args(args)?;
        let ctx = self.ctx.clone();
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
        let ctx = self.ctx.clone();
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
