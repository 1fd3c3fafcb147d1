//! The `text/event-stream` decoder.

use std::ffi::c_char;

use crate::{bytes, optional_text, owned};

/// An incremental `text/event-stream` decoder (the core's, WHATWG-exact).
pub struct HeroaSseDecoder {
    decoder: heroa_sse::Decoder,
}

/// A new decoder, resuming after `last_event_id` (NULL for none).
///
/// # Safety
/// `last_event_id` is NULL or NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn heroa_sse_decoder_new(
    last_event_id: *const c_char,
) -> *mut HeroaSseDecoder {
    // SAFETY: the caller's contract (invalid UTF-8 is read as none).
    let id = unsafe { optional_text(last_event_id, "last_event_id") }
        .ok()
        .flatten();
    let decoder = match id {
        Some(id) => heroa_sse::Decoder::with_last_event_id(id),
        None => heroa_sse::Decoder::new(),
    };
    Box::into_raw(Box::new(HeroaSseDecoder { decoder }))
}

/// Feeds `len` bytes (split anywhere); returns the events they completed as a JSON
/// array of `{"event", "data", "id", "retry"?}` (free with [`heroa_string_free`]).
///
/// # Safety
/// `decoder` is a live handle; `chunk` is valid for `len` bytes (or NULL with 0).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn heroa_sse_decoder_feed(
    decoder: *mut HeroaSseDecoder,
    chunk: *const u8,
    len: usize,
) -> *mut c_char {
    // SAFETY: a live handle, per the caller's contract.
    let Some(d) = (unsafe { decoder.as_mut() }) else {
        return owned("[]".to_string());
    };
    // SAFETY: the caller's contract.
    let bytes = unsafe { bytes(chunk, len, "chunk") }.unwrap_or(&[]);
    let events = d.decoder.feed(bytes);
    owned(serde_json::to_string(&events).unwrap_or_else(|_| "[]".to_string()))
}

/// Ends the stream: an unfinished event is discarded; the last event id is kept.
///
/// # Safety
/// `decoder` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn heroa_sse_decoder_finish(decoder: *mut HeroaSseDecoder) {
    // SAFETY: NULL or a live handle.
    if let Some(d) = unsafe { decoder.as_mut() } {
        d.decoder.finish();
    }
}

/// The last event id (free with [`heroa_string_free`]).
///
/// # Safety
/// `decoder` is a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn heroa_sse_decoder_last_event_id(
    decoder: *const HeroaSseDecoder,
) -> *mut c_char {
    // SAFETY: NULL or a live handle.
    owned(
        unsafe { decoder.as_ref() }
            .map(|d| d.decoder.last_event_id().to_string())
            .unwrap_or_default(),
    )
}

/// The reconnection time (ms) from the last valid `retry:` field, or -1.
///
/// # Safety
/// `decoder` is a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn heroa_sse_decoder_retry(decoder: *const HeroaSseDecoder) -> i64 {
    // SAFETY: NULL or a live handle.
    unsafe { decoder.as_ref() }
        .and_then(|d| d.decoder.retry())
        .map_or(-1, |r| i64::try_from(r).unwrap_or(i64::MAX))
}

/// Frees a decoder.
///
/// # Safety
/// `decoder` is NULL or a handle from `heroa_sse_decoder_new`, not used after this.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn heroa_sse_decoder_free(decoder: *mut HeroaSseDecoder) {
    if !decoder.is_null() {
        // SAFETY: a handle from Box::into_raw, freed once.
        drop(unsafe { Box::from_raw(decoder) });
    }
}
