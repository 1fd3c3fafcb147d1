//! Webhook signatures: the core's signer and verifier (constant-time, both schemes,
//! key rotation) for Python receivers. Failures raise
//! `heroa.webhooks.WebhookVerificationError` with `reason` = the core's kind
//! (`missing_header`, `malformed`, `expired`, `mismatch`, `invalid_secret`).

use pyo3::intern;
use pyo3::prelude::*;
use pyo3::pybacked::PyBackedStr;
use pyo3::types::{PyBytes, PyDict, PyString};

use heroa::webhooks::{self, HeaderLookup, VerifyOptions, WebhookError};

use crate::errors::raise_class;

fn to_pyerr(e: WebhookError) -> PyErr {
    raise_class("webhook", &e.to_string(), &[("reason", e.kind())])
}

/// The shared rules of the bridge (`heroa_bridge::webhooks`), as every binding checks them.
fn options(tolerance: f64, now: Option<u64>, scheme: &str) -> PyResult<VerifyOptions> {
    let now = now.map(|n| i64::try_from(n).unwrap_or(i64::MAX));
    heroa_bridge::webhooks::verify_options(tolerance, now, scheme).map_err(crate::errors::to_pyerr)
}

type VerifiedTuple = (&'static str, Option<String>, Option<u64>, usize);

fn verified(v: webhooks::Verified) -> VerifiedTuple {
    (v.scheme.as_str(), v.msg_id, v.timestamp, v.secret_index)
}

/// The only header names verification reads (lowercase).
const NAMES: [&str; 5] = [
    "webhook-signature",
    "webhook-id",
    "webhook-timestamp",
    "heroa-signature",
    "x-heroa-signature",
];

/// The values of the [`NAMES`] headers, read from the Python object without
/// converting the whole mapping: `dict` → one `get` per name (a case-insensitive scan
/// of the items only when a name is absent); another mapping → its `get` (e.g. a
/// framework's case-insensitive headers), then the same scan; pairs → one scan.
/// Values are borrowed from Python `str` objects (others go through `str()`).
struct PyHeaders([Option<PyBackedStr>; 5]);

impl HeaderLookup for PyHeaders {
    fn header(&self, name: &str) -> Option<&str> {
        NAMES
            .iter()
            .position(|n| *n == name)
            .and_then(|i| self.0[i].as_deref())
    }
}

fn text(v: &Bound<'_, PyAny>) -> PyResult<PyBackedStr> {
    match v.cast::<PyString>() {
        Ok(s) => s.clone().try_into(),
        Err(_) => v.str()?.try_into(),
    }
}

impl PyHeaders {
    fn read(headers: &Bound<'_, PyAny>) -> PyResult<PyHeaders> {
        let mut out = PyHeaders(Default::default());
        if let Ok(d) = headers.cast::<PyDict>() {
            for (i, name) in NAMES.iter().enumerate() {
                if let Some(v) = d.get_item(name)? {
                    out.0[i] = Some(text(&v)?);
                }
            }
            if out.0.iter().any(Option::is_none) {
                for (k, v) in d.iter() {
                    out.fill(&k, &v)?;
                }
            }
        } else if headers.hasattr(intern!(headers.py(), "items"))? {
            let get = headers.getattr(intern!(headers.py(), "get"))?;
            for (i, name) in NAMES.iter().enumerate() {
                let v = get.call1((*name,))?;
                if !v.is_none() {
                    out.0[i] = Some(text(&v)?);
                }
            }
            if out.0.iter().any(Option::is_none) {
                let items = headers.call_method0(intern!(headers.py(), "items"))?;
                for kv in items.try_iter()? {
                    let (k, v): (Bound<'_, PyAny>, Bound<'_, PyAny>) = kv?.extract()?;
                    out.fill(&k, &v)?;
                }
            }
        } else {
            for kv in headers.try_iter()? {
                let (k, v): (Bound<'_, PyAny>, Bound<'_, PyAny>) = kv?.extract()?;
                out.fill(&k, &v)?;
            }
        }
        Ok(out)
    }

    /// Fills the slot of `k` (compared ignoring ASCII case) unless already set: the
    /// first occurrence wins.
    fn fill(&mut self, k: &Bound<'_, PyAny>, v: &Bound<'_, PyAny>) -> PyResult<()> {
        let k = text(k)?;
        if let Some(i) = NAMES.iter().position(|n| n.eq_ignore_ascii_case(&k))
            && self.0[i].is_none()
        {
            self.0[i] = Some(text(v)?);
        }
        Ok(())
    }
}

/// The raw body: `bytes` borrowed without a copy; `str` UTF-8 encoded; any other
/// buffer (`bytearray`, `memoryview`) copied through `bytes()`.
enum Body<'py> {
    Bytes(Bound<'py, PyBytes>),
    Owned(Vec<u8>),
}

impl Body<'_> {
    fn read<'py>(body: &Bound<'py, PyAny>) -> PyResult<Body<'py>> {
        if let Ok(b) = body.cast::<PyBytes>() {
            return Ok(Body::Bytes(b.clone()));
        }
        if let Ok(s) = body.cast::<PyString>() {
            let s: PyBackedStr = s.clone().try_into()?;
            return Ok(Body::Owned(s.as_bytes().to_vec()));
        }
        let b = body
            .py()
            .get_type::<PyBytes>()
            .call1((body,))?
            .cast_into::<PyBytes>()?;
        Ok(Body::Bytes(b))
    }

    fn as_bytes(&self) -> &[u8] {
        match self {
            Body::Bytes(b) => b.as_bytes(),
            Body::Owned(v) => v,
        }
    }
}

/// Verifies one delivery against `secrets`; returns
/// `(scheme, msg_id, timestamp, secret_index)`.
#[pyfunction(name = "webhook_verify")]
#[pyo3(signature = (headers, body, secrets, tolerance=300.0, now=None, scheme="auto"))]
pub fn verify(
    headers: &Bound<'_, PyAny>,
    body: &Bound<'_, PyAny>,
    secrets: Vec<String>,
    tolerance: f64,
    now: Option<u64>,
    scheme: &str,
) -> PyResult<VerifiedTuple> {
    let opts = options(tolerance, now, scheme)?;
    let headers = PyHeaders::read(headers)?;
    let body = Body::read(body)?;
    webhooks::verify(&headers, body.as_bytes(), &secrets, opts)
        .map(verified)
        .map_err(to_pyerr)
}

/// Signs `body` as message `msg_id` at `timestamp`; returns the four headers.
#[pyfunction(name = "webhook_sign")]
pub fn sign(
    secret: String,
    msg_id: &str,
    timestamp: u64,
    body: &[u8],
) -> PyResult<Vec<(String, String)>> {
    let signer = webhooks::Signer::new(&secret).map_err(to_pyerr)?;
    Ok(signer
        .sign(msg_id, timestamp, body)
        .map_err(to_pyerr)?
        .to_vec())
}

/// A new `whsec_` signing secret.
#[pyfunction(name = "webhook_generate_secret")]
pub fn generate_secret() -> String {
    use secrecy::ExposeSecret;
    webhooks::generate_secret().expose_secret().to_string()
}

/// A new message id (`msg_…`).
#[pyfunction(name = "webhook_new_message_id")]
pub fn new_message_id() -> String {
    webhooks::new_message_id()
}

/// Secrets parsed and keyed once, for many deliveries.
#[pyclass(module = "heroa._native", name = "Verifier", frozen)]
pub struct NativeVerifier(webhooks::Verifier);

#[pymethods]
impl NativeVerifier {
    #[new]
    fn new(secrets: Vec<String>) -> PyResult<Self> {
        webhooks::Verifier::new(&secrets)
            .map(NativeVerifier)
            .map_err(to_pyerr)
    }

    #[pyo3(signature = (headers, body, tolerance=300.0, now=None, scheme="auto"))]
    fn verify(
        &self,
        headers: &Bound<'_, PyAny>,
        body: &Bound<'_, PyAny>,
        tolerance: f64,
        now: Option<u64>,
        scheme: &str,
    ) -> PyResult<VerifiedTuple> {
        let opts = if tolerance == 300.0 && now.is_none() && scheme == "auto" {
            VerifyOptions::default()
        } else {
            options(tolerance, now, scheme)?
        };
        let headers = PyHeaders::read(headers)?;
        let body = Body::read(body)?;
        self.0
            .verify(&headers, body.as_bytes(), opts)
            .map(verified)
            .map_err(to_pyerr)
    }
}
