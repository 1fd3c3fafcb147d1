//! The core's error taxonomy as Python exceptions.
//!
//! The Python layer (`heroa/_errors.py`) defines `HeroaError` and one subclass per
//! `ErrorKind` and hands them to [`set_error_classes`] at import. Every
//! `heroa::Error` becomes an instance of its kind's class with the message, `field`,
//! `details` and `retry_after`; its `source()` chain becomes the `__cause__` chain
//! (a nested `heroa::Error` maps to its own class, any other cause to
//! `heroa.errors.CauseError` carrying the cause's text).

use std::error::Error as StdError;

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyType};

use heroa::{Error, ErrorKind};

static CLASSES: PyOnceLock<Py<PyDict>> = PyOnceLock::new();

/// Registers the exception classes: `{kind wire name: class, "cause": class}`.
#[pyfunction]
pub fn set_error_classes(py: Python<'_>, classes: Bound<'_, PyDict>) -> PyResult<()> {
    for kind in ErrorKind::ALL {
        if classes.get_item(kind.as_str())?.is_none() {
            return Err(PyRuntimeError::new_err(format!(
                "no exception class for error kind {kind}"
            )));
        }
    }
    let _ = CLASSES.set(py, classes.unbind());
    Ok(())
}

/// The wire names of every error kind, in the core's order (`ErrorKind::ALL`).
pub fn kinds() -> Vec<&'static str> {
    ErrorKind::ALL.iter().map(|k| k.as_str()).collect()
}

pub fn heroa_err(kind: ErrorKind, message: impl Into<String>) -> Error {
    Error::new(kind, message)
}

/// Converts with the GIL taken.
pub fn to_pyerr(err: Error) -> PyErr {
    Python::attach(|py| convert(py, &err))
}

fn class<'py>(py: Python<'py>, key: &str) -> Option<Bound<'py, PyType>> {
    let classes = CLASSES.get(py)?.bind(py);
    classes
        .get_item(key)
        .ok()
        .flatten()
        .and_then(|c| c.cast_into::<PyType>().ok())
}

fn json_to_py<'py>(py: Python<'py>, v: &serde_json::Value) -> PyResult<Bound<'py, PyAny>> {
    let text = serde_json::to_string(v).unwrap_or_else(|_| "null".into());
    py.import("json")?.call_method1("loads", (text,))
}

fn build(py: Python<'_>, err: &Error) -> PyResult<PyErr> {
    let Some(cls) = class(py, err.kind().as_str()) else {
        return Ok(PyRuntimeError::new_err(err.to_string()));
    };
    let kwargs = PyDict::new(py);
    if let Some(f) = err.field() {
        kwargs.set_item("field", f)?;
    }
    if let Some(d) = err.details() {
        kwargs.set_item("details", json_to_py(py, d)?)?;
    }
    if let Some(r) = err.retry_after() {
        kwargs.set_item("retry_after", r.as_secs_f64())?;
    }
    let exc = cls.call((err.message(),), Some(&kwargs))?;
    Ok(PyErr::from_value(exc))
}

fn build_cause(py: Python<'_>, cause: &(dyn StdError + 'static)) -> PyResult<PyErr> {
    if let Some(e) = cause.downcast_ref::<Error>() {
        return build(py, e);
    }
    let text = cause.to_string();
    match class(py, "cause") {
        Some(cls) => Ok(PyErr::from_value(cls.call1((text,))?)),
        None => Ok(PyRuntimeError::new_err(text)),
    }
}

fn convert(py: Python<'_>, err: &Error) -> PyErr {
    let top = match build(py, err) {
        Ok(e) => e,
        Err(e) => return e,
    };
    // The source chain, outermost first, linked through __cause__.
    let mut chain = Vec::new();
    let mut src = StdError::source(err);
    while let Some(s) = src {
        match build_cause(py, s) {
            Ok(e) => chain.push(e),
            Err(e) => return e,
        }
        src = s.source();
    }
    let mut next: Option<PyErr> = None;
    while let Some(e) = chain.pop() {
        e.set_cause(py, next.take());
        next = Some(e);
    }
    if next.is_some() {
        top.set_cause(py, next);
    }
    top
}

/// `_native._raise_error(kind, message, field=None, details=None, causes=[])`: raises
/// the error the core would, for the exhaustive mapping test. `details` is JSON
/// text; `causes` become a source chain (outermost first).
#[pyfunction]
#[pyo3(signature = (kind, message, field=None, details=None, causes=Vec::new()))]
pub fn raise_error(
    kind: &str,
    message: &str,
    field: Option<&str>,
    details: Option<&str>,
    causes: Vec<String>,
) -> PyResult<()> {
    let kind = ErrorKind::ALL
        .into_iter()
        .find(|k| k.as_str() == kind)
        .ok_or_else(|| PyRuntimeError::new_err(format!("unknown error kind {kind:?}")))?;
    #[derive(Debug)]
    struct Cause(String, Option<Box<Cause>>);
    impl std::fmt::Display for Cause {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(&self.0)
        }
    }
    impl StdError for Cause {
        fn source(&self) -> Option<&(dyn StdError + 'static)> {
            self.1.as_deref().map(|c| c as &(dyn StdError + 'static))
        }
    }
    let mut err = Error::new(kind, message);
    if let Some(f) = field {
        err = err.with_field(f);
    }
    if let Some(d) = details {
        let v: serde_json::Value = serde_json::from_str(d)
            .map_err(|e| PyRuntimeError::new_err(format!("details: {e}")))?;
        err = err.with_details(v);
    }
    let mut chain: Option<Cause> = None;
    for c in causes.into_iter().rev() {
        chain = Some(Cause(c, chain.map(Box::new)));
    }
    if let Some(c) = chain {
        err = err.with_source(c);
    }
    Err(to_pyerr(err))
}

/// An exception of the registered class `key` (e.g. `"webhook"`) with `message` and
/// string keyword arguments.
pub fn raise_class(key: &str, message: &str, kwargs: &[(&str, &str)]) -> PyErr {
    Python::attach(|py| {
        let Some(cls) = class(py, key) else {
            return PyRuntimeError::new_err(message.to_string());
        };
        let build = || -> PyResult<PyErr> {
            let kw = PyDict::new(py);
            for (k, v) in kwargs {
                kw.set_item(*k, *v)?;
            }
            Ok(PyErr::from_value(cls.call((message,), Some(&kw))?))
        };
        build().unwrap_or_else(|e| e)
    })
}
