//! Streams of a run's events.

use std::ffi::c_char;
use std::sync::Arc;

use heroa_bridge::{ErrorEnvelope, StreamHandle};

use crate::{HeroaCallback, HeroaClient, envelope, owned, required_error, start_call};

/// An open stream of a run's events.
pub struct HeroaStream {
    handle: Arc<StreamHandle>,
}

/// Called once when [`heroa_stream_open`] ends: the stream, or the error envelope.
pub type HeroaStreamCallback =
    Option<unsafe extern "C" fn(user_data: usize, stream: *mut HeroaStream, error: *mut c_char)>;

/// Opens stream operation `op` (`runs.events`, args `{"run_id", "last_event_id"?}`);
/// `callback` gets the stream handle or the error envelope.
///
/// # Safety
/// As [`heroa_call`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn heroa_stream_open(
    client: *const HeroaClient,
    op: *const c_char,
    args: *const c_char,
    callback: HeroaStreamCallback,
    user_data: usize,
) {
    let Some(callback) = callback else { return };
    let complete = move |r: Result<StreamHandle, ErrorEnvelope>| {
        let (stream, err) = match r {
            Ok(handle) => (
                Box::into_raw(Box::new(HeroaStream {
                    handle: Arc::new(handle),
                })),
                std::ptr::null_mut(),
            ),
            Err(e) => (std::ptr::null_mut(), owned(e.to_json())),
        };
        // SAFETY: the caller's callback, called once.
        unsafe { callback(user_data, stream, err) };
    };
    // SAFETY: the caller's contract.
    match unsafe { start_call(client, op, args, std::ptr::null()) } {
        Err(e) => complete(Err(e.into())),
        Ok((bridge, op, args, _)) => {
            heroa_bridge::runtime().spawn(async move {
                complete(bridge.stream(&op, &args).await);
            });
        }
    }
}

/// The next event of `stream` (`{"id", "event", "data"}` as JSON text) through
/// `callback`; at the end both `result` and `error` are NULL.
///
/// # Safety
/// `stream` is a live handle; `callback` is non-null.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn heroa_stream_next(
    stream: *const HeroaStream,
    callback: HeroaCallback,
    user_data: usize,
) {
    let Some(callback) = callback else { return };
    if stream.is_null() {
        let err = envelope(required_error("stream"));
        // SAFETY: the caller's callback, called once.
        unsafe { callback(user_data, std::ptr::null_mut(), err) };
        return;
    }
    // SAFETY: a live handle.
    let handle = unsafe { &*stream }.handle.clone();
    heroa_bridge::runtime().spawn(async move {
        let (ok, err) = match handle.next().await {
            Ok(Some(v)) => (owned(v.to_string()), std::ptr::null_mut()),
            Ok(None) => (std::ptr::null_mut(), std::ptr::null_mut()),
            Err(e) => (std::ptr::null_mut(), owned(e.to_json())),
        };
        // SAFETY: the caller's callback, called once.
        unsafe { callback(user_data, ok, err) };
    });
}

/// Ends `stream` (a pending `heroa_stream_next` answers the end) and frees it.
///
/// # Safety
/// `stream` is NULL or a handle from `heroa_stream_open`, not used after this.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn heroa_stream_free(stream: *mut HeroaStream) {
    if !stream.is_null() {
        // SAFETY: a handle from Box::into_raw, freed once.
        let s = unsafe { Box::from_raw(stream) };
        s.handle.close();
    }
}
