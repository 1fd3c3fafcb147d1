//! A [`Stream`] adapter over a stream of byte chunks.

use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::Stream;

use super::{Decoder, Event};

/// Decodes a stream of byte chunks (`Result<impl AsRef<[u8]>, E>`, e.g. an HTTP
/// body stream) into a stream of `Result<Event, E>`.
///
/// Transport errors are passed through; decoding itself cannot fail (invalid
/// UTF-8 becomes U+FFFD). When the inner stream ends, the decoder is
/// [finished](Decoder::finish): an unfinished event is discarded.
pub struct EventStream<S> {
    inner: Pin<Box<S>>,
    decoder: Decoder,
    ready: VecDeque<Event>,
    ended: bool,
}

impl<S> EventStream<S> {
    /// Wraps `inner` (any stream; it is pinned on the heap).
    pub fn new(inner: S) -> Self {
        Self::with_decoder(inner, Decoder::new())
    }

    /// Wraps `inner`, decoding with `decoder` (e.g. one made by
    /// [`Decoder::with_last_event_id`] when resuming).
    pub fn with_decoder(inner: S, decoder: Decoder) -> Self {
        EventStream {
            inner: Box::pin(inner),
            decoder,
            ready: VecDeque::new(),
            ended: false,
        }
    }

    /// The decoder: [`last_event_id`](Decoder::last_event_id), [`retry`](Decoder::retry)...
    pub fn decoder(&self) -> &Decoder {
        &self.decoder
    }

    /// Gives the decoder back (to resume on a new connection).
    pub fn into_decoder(self) -> Decoder {
        self.decoder
    }
}

impl<S, B, E> Stream for EventStream<S>
where
    S: Stream<Item = Result<B, E>>,
    B: AsRef<[u8]>,
{
    type Item = Result<Event, E>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            if let Some(event) = this.ready.pop_front() {
                return Poll::Ready(Some(Ok(event)));
            }
            if this.ended {
                return Poll::Ready(None);
            }
            match this.inner.as_mut().poll_next(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(Ok(chunk))) => {
                    this.decoder.feed_deque(chunk.as_ref(), &mut this.ready);
                }
                Poll::Ready(Some(Err(e))) => return Poll::Ready(Some(Err(e))),
                Poll::Ready(None) => {
                    this.decoder.finish();
                    this.ended = true;
                }
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let ready = self.ready.len();
        (ready, if self.ended { Some(ready) } else { None })
    }
}

impl<S> std::fmt::Debug for EventStream<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventStream")
            .field("decoder", &self.decoder)
            .field("ready", &self.ready.len())
            .field("ended", &self.ended)
            .finish_non_exhaustive()
    }
}
