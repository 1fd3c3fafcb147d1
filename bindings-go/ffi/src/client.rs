//! Clients, calls and their cancellation.

use std::ffi::c_char;
use std::path::PathBuf;

use heroa_bridge::{Bridge, CancellationToken, Client, ErrorEnvelope};
use heroa_protocol::error::Error;
use secrecy::SecretString;

use crate::{optional_text, owned, required_error, shielded, text};

/// A client over the embedded runtime or a remote control plane.
pub struct HeroaClient {
    pub(crate) bridge: Bridge,
}

/// A cancellation token for calls.
pub struct HeroaCancel {
    token: CancellationToken,
}

/// Called once when an asynchronous call ends: `result` (JSON text) or `error` (the
/// error envelope as JSON text); the other is null. Both are the callee's to free
/// with [`heroa_string_free`].
pub type HeroaCallback =
    Option<unsafe extern "C" fn(user_data: usize, result: *mut c_char, error: *mut c_char)>;

fn new_client(client: Client, out: *mut *mut HeroaClient) -> Result<(), Error> {
    if out.is_null() {
        return Err(required_error("out"));
    }
    let boxed = Box::new(HeroaClient {
        bridge: Bridge::new(client),
    });
    // SAFETY: `out` is a valid pointer to write the handle to (checked non-null).
    unsafe { *out = Box::into_raw(boxed) };
    Ok(())
}

/// Opens a client over the embedded runtime, persisted at `path` (in memory for
/// NULL), into `*out`. Returns NULL, or the error envelope (then `*out` is untouched).
///
/// # Safety
/// `path` is NULL or a NUL-terminated string; `out` is a valid pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn heroa_client_embedded(
    path: *const c_char,
    out: *mut *mut HeroaClient,
) -> *mut c_char {
    shielded(|| {
        // SAFETY: the caller's contract.
        let path = unsafe { optional_text(path, "path") }?.map(PathBuf::from);
        let _guard = heroa_bridge::runtime().enter();
        new_client(Client::embedded(path)?, out)
    })
}

/// Opens a client of the control plane at `base_url` with `api_key` into `*out`.
/// Returns NULL, or the error envelope.
///
/// # Safety
/// Both strings are NUL-terminated; `out` is a valid pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn heroa_client_remote(
    base_url: *const c_char,
    api_key: *const c_char,
    out: *mut *mut HeroaClient,
) -> *mut c_char {
    shielded(|| {
        // SAFETY: the caller's contract.
        let base_url = unsafe { text(base_url, "base_url") }?;
        // SAFETY: the caller's contract.
        let api_key = SecretString::from(unsafe { text(api_key, "api_key") }?.to_string());
        let _guard = heroa_bridge::runtime().enter();
        new_client(Client::remote(base_url, api_key)?, out)
    })
}

/// Frees a client. Calls in flight finish; the embedded runtime ends after them.
///
/// # Safety
/// `client` is NULL or a handle from `heroa_client_*`, not used after this.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn heroa_client_free(client: *mut HeroaClient) {
    if !client.is_null() {
        // SAFETY: a handle from Box::into_raw, freed once.
        drop(unsafe { Box::from_raw(client) });
    }
}

/// Starts operation `op` (a catalogue name, e.g. `agents.get`) with `args` (a JSON
/// object as text); `callback` gets the answer or the error. `cancel` (or NULL) ends
/// the call early with a `cancelled` error. Bad arguments (NULL, not UTF-8) are
/// answered through the callback too.
///
/// # Safety
/// `client` is a live handle; `op` and `args` are NUL-terminated strings (copied
/// before this returns); `cancel` is NULL or a live token; `callback` is non-null.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn heroa_call(
    client: *const HeroaClient,
    op: *const c_char,
    args: *const c_char,
    cancel: *const HeroaCancel,
    callback: HeroaCallback,
    user_data: usize,
) {
    let Some(callback) = callback else { return };
    let complete = move |r: Result<String, ErrorEnvelope>| {
        let (ok, err) = match r {
            Ok(v) => (owned(v), std::ptr::null_mut()),
            Err(e) => (std::ptr::null_mut(), owned(e.to_json())),
        };
        // SAFETY: the callback the caller gave, called once with owned strings.
        unsafe { callback(user_data, ok, err) };
    };
    // SAFETY: the caller's contract for each pointer.
    let start = unsafe { start_call(client, op, args, cancel) };
    match start {
        Err(e) => complete(Err(e.into())),
        Ok((bridge, op, args, token)) => {
            // The bridge turns a panic under the call into an `internal` error.
            heroa_bridge::runtime().spawn(async move {
                let r = bridge.call(&op, &args, token.as_ref()).await;
                complete(r.map(|v| v.to_string()));
            });
        }
    }
}

type Started = (Bridge, String, String, Option<CancellationToken>);

/// Copies what a call needs out of the caller's memory.
///
/// # Safety
/// As [`heroa_call`].
pub(crate) unsafe fn start_call(
    client: *const HeroaClient,
    op: *const c_char,
    args: *const c_char,
    cancel: *const HeroaCancel,
) -> Result<Started, Error> {
    if client.is_null() {
        return Err(required_error("client"));
    }
    // SAFETY: a live handle, per the caller's contract.
    let bridge = unsafe { &*client }.bridge.clone();
    // SAFETY: the caller's contract.
    let op = unsafe { text(op, "op") }?.to_string();
    // SAFETY: the caller's contract.
    let args = unsafe { optional_text(args, "args") }?
        .unwrap_or("{}")
        .to_string();
    // SAFETY: NULL or a live token.
    let token = unsafe { cancel.as_ref() }.map(|c| c.token.clone());
    Ok((bridge, op, args, token))
}

/// A new cancellation token.
#[unsafe(no_mangle)]
pub extern "C" fn heroa_cancel_new() -> *mut HeroaCancel {
    Box::into_raw(Box::new(HeroaCancel {
        token: CancellationToken::new(),
    }))
}

/// Cancels the calls holding `cancel` (idempotent).
///
/// # Safety
/// `cancel` is NULL or a live token.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn heroa_cancel(cancel: *const HeroaCancel) {
    // SAFETY: NULL or a live token.
    if let Some(c) = unsafe { cancel.as_ref() } {
        c.token.cancel();
    }
}

/// Frees a token (calls holding it keep their own reference).
///
/// # Safety
/// `cancel` is NULL or a token from `heroa_cancel_new`, not used after this.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn heroa_cancel_free(cancel: *mut HeroaCancel) {
    if !cancel.is_null() {
        // SAFETY: a handle from Box::into_raw, freed once.
        drop(unsafe { Box::from_raw(cancel) });
    }
}
