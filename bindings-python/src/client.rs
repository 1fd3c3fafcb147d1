//! `_native.Client`: one core `heroa::Client` (embedded or remote), its operations
//! called by name with JSON arguments, blocking or as asyncio awaitables; the run
//! event stream; and the local policy pre-check.

use std::sync::Arc;
use std::time::Duration;

use pyo3::prelude::*;
use secrecy::SecretString;

use heroa::client::{RemoteOptions, RetryPolicy};
use heroa::{Client, Error};
use heroa_bridge::{Bridge, StreamHandle};

use crate::errors::to_pyerr;
use crate::policy::PolicyEngine;
use crate::rt::{Owner, awaitable, block_on};

#[pyclass(module = "heroa._native", name = "Client", frozen)]
pub struct NativeClient {
    pub client: Client,
    /// The workspace an embedded client acts in (`None` when remote).
    pub workspace: Option<String>,
    pub owner: Owner,
}

impl NativeClient {
    pub fn embedded(rt: heroa::Runtime, workspace: Option<String>) -> NativeClient {
        let ws = workspace.unwrap_or_else(|| rt.default_workspace().to_string());
        NativeClient {
            client: Client::from_runtime(rt, Some(&ws)),
            workspace: Some(ws),
            owner: Owner::here(),
        }
    }
}

fn remote_options(
    timeout: Option<f64>,
    connect_timeout: Option<f64>,
    max_attempts: Option<u32>,
) -> heroa::Result<RemoteOptions> {
    let secs = |field: &str, v: f64| -> heroa::Result<Duration> {
        if v.is_finite() && v > 0.0 && v < 1e9 {
            Ok(Duration::from_secs_f64(v))
        } else {
            Err(Error::invalid(
                field,
                format!("{field} must be a positive number of seconds"),
            ))
        }
    };
    let mut o = RemoteOptions::default();
    if let Some(t) = timeout {
        o.timeout = secs("timeout", t)?;
    }
    if let Some(t) = connect_timeout {
        o.connect_timeout = secs("connect_timeout", t)?;
    }
    if let Some(n) = max_attempts {
        if n == 0 {
            return Err(Error::invalid(
                "max_attempts",
                "max_attempts must be at least 1",
            ));
        }
        o.retry = RetryPolicy {
            max_attempts: n,
            ..RetryPolicy::default()
        };
    }
    Ok(o)
}

#[pymethods]
impl NativeClient {
    /// A client for a remote control plane.
    #[staticmethod]
    #[pyo3(signature = (base_url, api_key, timeout=None, connect_timeout=None, max_attempts=None))]
    fn remote(
        base_url: &str,
        api_key: String,
        timeout: Option<f64>,
        connect_timeout: Option<f64>,
        max_attempts: Option<u32>,
    ) -> PyResult<NativeClient> {
        let opts = remote_options(timeout, connect_timeout, max_attempts).map_err(to_pyerr)?;
        // reqwest wants a runtime context to build its connection pool.
        let _guard = crate::rt::runtime().enter();
        let client =
            Client::remote_with(base_url, SecretString::from(api_key), opts).map_err(to_pyerr)?;
        Ok(NativeClient {
            client,
            workspace: None,
            owner: Owner::here(),
        })
    }

    #[getter]
    fn is_remote(&self) -> bool {
        self.client.is_remote()
    }

    #[getter]
    fn workspace(&self) -> Option<String> {
        self.workspace.clone()
    }

    /// Runs operation `op` of the bridge's catalogue with JSON `args`; returns the
    /// JSON answer.
    fn call(&self, py: Python<'_>, op: String, args: &str) -> PyResult<String> {
        self.owner.check()?;
        let args = Bridge::parse_args(args).map_err(to_pyerr)?;
        let bridge = Bridge::new(self.client.clone());
        let out = block_on(py, async move { bridge.invoke(&op, args, None).await })?;
        out.map(|v| v.to_string()).map_err(to_pyerr)
    }

    /// [`call`] as an asyncio awaitable.
    fn call_async<'py>(
        &self,
        py: Python<'py>,
        op: String,
        args: &str,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.owner.check()?;
        let args = Bridge::parse_args(args).map_err(to_pyerr)?;
        let bridge = Bridge::new(self.client.clone());
        awaitable(py, async move {
            bridge
                .invoke(&op, args, None)
                .await
                .map(|v| v.to_string())
                .map_err(to_pyerr)
        })
    }

    /// The agent's envelope in force, compiled locally; `None` without a policy.
    fn precheck(&self, py: Python<'_>, agent_id: String) -> PyResult<Option<PolicyEngine>> {
        self.owner.check()?;
        let client = self.client.clone();
        let out = block_on(
            py,
            async move { client.policies().precheck(&agent_id).await },
        )?;
        Ok(out.map_err(to_pyerr)?.map(PolicyEngine::from_core))
    }

    fn precheck_async<'py>(
        &self,
        py: Python<'py>,
        agent_id: String,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.owner.check()?;
        let client = self.client.clone();
        awaitable(py, async move {
            let e = client
                .policies()
                .precheck(&agent_id)
                .await
                .map_err(to_pyerr)?;
            Ok(e.map(PolicyEngine::from_core))
        })
    }

    /// The run's event stream after `last_event_id` (from the start for `None`),
    /// opened on the first `next` (the core's `client.runs().stream_after`: the
    /// embedded runtime's events, or SSE from a remote control plane with
    /// reconnection and `Last-Event-ID` resume).
    #[pyo3(signature = (run_id, last_event_id=None))]
    fn events(&self, run_id: String, last_event_id: Option<u64>) -> PyResult<Events> {
        self.owner.check()?;
        Ok(Events {
            inner: Arc::new(tokio::sync::Mutex::new(Stream {
                bridge: Bridge::new(self.client.clone()),
                run_id,
                last: last_event_id,
                open: None,
                ended: false,
            })),
            owner: self.owner,
        })
    }

    fn __repr__(&self) -> String {
        format!("{:?}", self.client)
    }
}

/// A run's events; `next` returns each event as JSON text, `None` after `done`.
#[pyclass(module = "heroa._native", frozen)]
pub struct Events {
    inner: Arc<tokio::sync::Mutex<Stream>>,
    owner: Owner,
}

struct Stream {
    bridge: Bridge,
    run_id: String,
    /// Id of the last event returned (or the resume point before the first).
    last: Option<u64>,
    open: Option<StreamHandle>,
    ended: bool,
}

async fn next_event(inner: Arc<tokio::sync::Mutex<Stream>>) -> heroa::Result<Option<String>> {
    let mut st = inner.lock().await;
    if st.ended {
        return Ok(None);
    }
    if st.open.is_none() {
        let args = serde_json::json!({"run_id": st.run_id, "last_event_id": st.last});
        let s = st.bridge.stream("runs.events", &args.to_string()).await?;
        st.open = Some(s);
    }
    let next = match st.open.as_ref() {
        Some(s) => s.next().await?,
        None => None,
    };
    match next {
        None => {
            st.ended = true;
            Ok(None)
        }
        Some(e) => {
            if e["event"] == heroa::protocol::DONE {
                st.ended = true;
            } else {
                st.last = e["id"].as_u64();
            }
            Ok(Some(e.to_string()))
        }
    }
}

#[pymethods]
impl Events {
    /// The next event (JSON), blocking with the GIL released; `None` at the end.
    fn next(&self, py: Python<'_>) -> PyResult<Option<String>> {
        self.owner.check()?;
        let inner = self.inner.clone();
        block_on(py, next_event(inner))?.map_err(to_pyerr)
    }

    /// [`next`] as an awaitable.
    fn next_async<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.owner.check()?;
        let inner = self.inner.clone();
        awaitable(py, async move { next_event(inner).await.map_err(to_pyerr) })
    }

    /// The id of the last event returned (resume after it).
    #[getter]
    fn last_event_id(&self) -> Option<u64> {
        self.inner.try_lock().ok().and_then(|st| st.last)
    }
}
