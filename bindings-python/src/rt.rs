//! The binding's one async runtime, the fork guard, and the two ways Python waits
//! on Rust futures: blocking (GIL released, in short slices so Ctrl-C is honoured)
//! and asyncio awaitables (pyo3-async-runtimes over this same tokio runtime).
//!
//! One tokio runtime serves the whole process: the embedded control plane runs on it,
//! remote HTTP calls run on it, and asyncio awaitables are driven by it. A forked
//! child cannot use its parent's runtime (its worker threads do not exist in the
//! child), so the runtime is kept per process id: objects created before a fork
//! refuse to work in the child with a clear error ([`Owner::check`]), and objects the
//! child creates get a fresh runtime.

use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::sync::mpsc::{RecvTimeoutError, sync_channel};
use std::time::Duration;

use pyo3::prelude::*;
use pyo3_async_runtimes::TaskLocals;
use pyo3_async_runtimes::generic::{ContextExt, Runtime as GenericRuntime};
use tokio::runtime::Runtime;

use crate::errors::{heroa_err, to_pyerr};

/// How long a blocking wait holds without looking at Python's signal handlers.
const SLICE: Duration = Duration::from_millis(50);

static CURRENT: Mutex<Option<(u32, &'static Runtime)>> = Mutex::new(None);

/// The runtime of this process, built on first use (and again in a forked child).
pub fn runtime() -> &'static Runtime {
    let pid = std::process::id();
    let mut cur = CURRENT.lock().unwrap_or_else(|p| p.into_inner());
    if let Some((p, rt)) = *cur
        && p == pid
    {
        return rt;
    }
    // A parent's runtime (after fork) is leaked, never dropped: dropping would wait
    // for worker threads that do not exist in this process.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("heroa-py")
        .build()
        .expect("cannot start the Heroa async runtime");
    let rt: &'static Runtime = Box::leak(Box::new(rt));
    *cur = Some((pid, rt));
    rt
}

/// Records the process an object was created in.
#[derive(Debug, Clone, Copy)]
pub struct Owner(u32);

impl Owner {
    pub fn here() -> Owner {
        Owner(std::process::id())
    }

    /// Refuses use from a forked child.
    pub fn check(&self) -> PyResult<()> {
        let pid = std::process::id();
        if pid == self.0 {
            Ok(())
        } else {
            Err(to_pyerr(heroa_err(
                heroa::ErrorKind::FailedPrecondition,
                format!(
                    "this Heroa object was created in process {} and cannot be used in forked process {pid}: \
                     create a new client (or runtime) in the child",
                    self.0
                ),
            )))
        }
    }
}

/// Runs `fut` on the runtime and waits for it with the GIL released, checking for
/// signals (Ctrl-C) every 50 ms; on a signal the task is aborted and the signal's
/// exception (e.g. `KeyboardInterrupt`) raised.
pub fn block_on<T, F>(py: Python<'_>, fut: F) -> PyResult<T>
where
    F: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let (tx, rx) = sync_channel(1);
    let task = runtime().spawn(async move {
        let _ = tx.send(fut.await);
    });
    let mut rx = rx;
    loop {
        let (got, back) = py.detach(move || {
            let got = rx.recv_timeout(SLICE);
            (got, rx)
        });
        rx = back;
        match got {
            Ok(v) => return Ok(v),
            Err(RecvTimeoutError::Timeout) => {
                if let Err(e) = py.check_signals() {
                    task.abort();
                    return Err(e);
                }
            }
            Err(RecvTimeoutError::Disconnected) => {
                return Err(to_pyerr(heroa::Error::internal(
                    "the Heroa task ended without an answer (it panicked)",
                )));
            }
        }
    }
}

/// An asyncio awaitable of `fut`, driven by the runtime.
pub fn awaitable<'py, T, F>(py: Python<'py>, fut: F) -> PyResult<Bound<'py, PyAny>>
where
    F: Future<Output = PyResult<T>> + Send + 'static,
    T: for<'a> IntoPyObject<'a> + Send + 'static,
{
    pyo3_async_runtimes::generic::future_into_py::<HeroaRuntime, F, T>(py, fut)
}

/// pyo3-async-runtimes' view of [`runtime`].
pub struct HeroaRuntime;

tokio::task_local! {
    static LOCALS: std::cell::OnceCell<TaskLocals>;
}

impl GenericRuntime for HeroaRuntime {
    type JoinError = tokio::task::JoinError;
    type JoinHandle = tokio::task::JoinHandle<()>;

    fn spawn<F>(fut: F) -> Self::JoinHandle
    where
        F: Future<Output = ()> + Send + 'static,
    {
        runtime().spawn(fut)
    }

    fn spawn_blocking<F>(f: F) -> Self::JoinHandle
    where
        F: FnOnce() + Send + 'static,
    {
        runtime().spawn_blocking(f)
    }
}

impl ContextExt for HeroaRuntime {
    fn scope<F, R>(locals: TaskLocals, fut: F) -> Pin<Box<dyn Future<Output = R> + Send>>
    where
        F: Future<Output = R> + Send + 'static,
    {
        let cell = std::cell::OnceCell::new();
        let _ = cell.set(locals);
        Box::pin(LOCALS.scope(cell, fut))
    }

    fn get_task_locals() -> Option<TaskLocals> {
        LOCALS.try_with(|c| c.get().cloned()).unwrap_or_default()
    }
}
