//! The incremental `text/event-stream` decoder.

use std::collections::VecDeque;

use memchr::{memchr, memchr2};

use super::{Event, Item};

const BOM: [u8; 3] = [0xEF, 0xBB, 0xBF];

/// Where decoded things go. Private: the public entry points pick the sink.
pub(crate) trait Sink {
    fn event(&mut self, event: Event);
    #[inline]
    fn comment(&mut self, _text: &[u8]) {}
    #[inline]
    fn retry(&mut self, _ms: u64) {}
}

impl Sink for Vec<Event> {
    #[inline]
    fn event(&mut self, event: Event) {
        self.push(event);
    }
}

impl Sink for VecDeque<Event> {
    #[inline]
    fn event(&mut self, event: Event) {
        self.push_back(event);
    }
}

impl Sink for Vec<Item> {
    #[inline]
    fn event(&mut self, event: Event) {
        self.push(Item::Event(event));
    }
    fn comment(&mut self, text: &[u8]) {
        self.push(Item::Comment(String::from_utf8_lossy(text).into_owned()));
    }
    fn retry(&mut self, ms: u64) {
        self.push(Item::Retry(ms));
    }
}

/// The field a line names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Data,
    Event,
    Id,
    Retry,
    /// A line starting with `:` (empty field name).
    Comment,
    Ignored,
}

impl Field {
    #[inline]
    fn from_name(name: &[u8]) -> Field {
        match name {
            b"data" => Field::Data,
            b"event" => Field::Event,
            b"id" => Field::Id,
            b"retry" => Field::Retry,
            b"" => Field::Comment,
            _ => Field::Ignored,
        }
    }
}

/// The state of a line that began in an earlier chunk and has no line end yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Partial {
    /// No unfinished line.
    #[default]
    None,
    /// No colon yet: the bytes so far (the field name) are in `Decoder::line`.
    Name,
    /// The colon was seen. `data` values stream into `Decoder::data`, other
    /// values into `Decoder::line`, ignored fields are dropped. `strip_space`:
    /// the first value byte has not arrived yet (it is dropped if a space).
    Value { field: Field, strip_space: bool },
}

/// An incremental WHATWG `text/event-stream` decoder.
///
/// Feed it chunks with [`feed`](Decoder::feed) (or [`feed_into`](Decoder::feed_into),
/// [`feed_items`](Decoder::feed_items)); call [`finish`](Decoder::finish) at the end
/// of the stream. The decoder follows the spec exactly:
///
/// * UTF-8 with one leading BOM stripped (also when split across chunks); invalid
///   bytes become U+FFFD like the spec's *UTF-8 decode* (maximal subparts), also
///   for sequences split across chunks;
/// * CR, LF and CRLF line ends (a CRLF split across chunks is one line end);
/// * comments (`:`), `field: value` with one leading space removed, a line
///   without colon is a field name with an empty value, unknown fields ignored;
/// * `data` lines joined with LF; `event` sets the type (default `message`);
///   `id` sets the last event id unless it contains NUL, and the id carries over
///   to later events; `retry` only when all ASCII digits;
/// * a blank line dispatches, unless no `data` was seen (the type is reset and
///   the last event id still committed); an unfinished event at the end of the
///   stream is discarded.
///
/// After [`finish`](Decoder::finish) the decoder is ready for the next stream
/// (a reconnection): the last event id and the reconnection time are kept.
#[derive(Debug, Clone, Default)]
pub struct Decoder {
    /// The BOM question is settled (first bytes of the stream seen).
    started: bool,
    /// How many BOM bytes matched so far while `!started`.
    bom_held: u8,
    /// The previous chunk ended in CR: a LF starting the next chunk is part of it.
    after_cr: bool,
    partial: Partial,
    /// Field name or non-data value of the unfinished line.
    line: Vec<u8>,
    /// The data buffer, without the trailing LF, decoded as it arrives.
    data: String,
    /// An incomplete UTF-8 sequence at the end of the data value so far.
    data_tail: Utf8Tail,
    /// The length of the last dispatched data (capped), to size the next one.
    data_hint: usize,
    /// At least one `data` field was seen in this event.
    has_data: bool,
    /// The event type buffer.
    event_type: Vec<u8>,
    /// A valid retry seen in the event being built.
    event_retry: Option<u64>,
    /// The last event id buffer (raw bytes of the last valid `id` field).
    id_buffer: Vec<u8>,
    /// `id_buffer` changed since it was last committed to `last_event_id`.
    id_dirty: bool,
    /// The last event id string (committed at each blank line).
    last_event_id: String,
    /// The reconnection time.
    retry: Option<u64>,
    /// Comment lines seen.
    comments: u64,
}

impl Decoder {
    /// A decoder at the start of a stream, with an empty last event id.
    pub fn new() -> Self {
        Self::default()
    }

    /// A decoder resuming after `id` (e.g. the `Last-Event-ID` a reconnection sent).
    pub fn with_last_event_id(id: impl Into<String>) -> Self {
        let mut d = Self::new();
        d.set_last_event_id(id);
        d
    }

    /// Decodes `chunk` and returns the events it completed.
    pub fn feed(&mut self, chunk: &[u8]) -> Vec<Event> {
        let mut out = Vec::new();
        self.run(chunk, &mut out);
        out
    }

    /// Decodes `chunk`, appending the events it completed to `out`.
    pub fn feed_into(&mut self, chunk: &[u8], out: &mut Vec<Event>) {
        self.run(chunk, out);
    }

    /// Decodes `chunk`, appending to `out` events, comments (keep-alives) and
    /// valid `retry` fields in stream order.
    pub fn feed_items(&mut self, chunk: &[u8], out: &mut Vec<Item>) {
        self.run(chunk, out);
    }

    pub(crate) fn feed_deque(&mut self, chunk: &[u8], out: &mut VecDeque<Event>) {
        self.run(chunk, out);
    }

    /// Ends the stream: an unfinished line or event is discarded (it is never
    /// dispatched), as is an `id` field of that unfinished event. The last event id
    /// and the reconnection time are kept; the decoder is ready for a new stream.
    pub fn finish(&mut self) {
        self.started = false;
        self.bom_held = 0;
        self.after_cr = false;
        self.partial = Partial::None;
        self.line.clear();
        self.data.clear();
        self.data_tail = Utf8Tail::default();
        self.has_data = false;
        self.event_type.clear();
        self.event_retry = None;
        if self.id_dirty {
            self.id_buffer.clear();
            self.id_buffer
                .extend_from_slice(self.last_event_id.as_bytes());
            self.id_dirty = false;
        }
    }

    /// The last event id string: the id of the last dispatched block (also set by
    /// a blank line ending a block without data), carried over across events and
    /// streams.
    pub fn last_event_id(&self) -> &str {
        &self.last_event_id
    }

    /// Sets the last event id (e.g. when resuming a stream).
    pub fn set_last_event_id(&mut self, id: impl Into<String>) {
        self.last_event_id = id.into();
        self.id_buffer.clear();
        self.id_buffer
            .extend_from_slice(self.last_event_id.as_bytes());
        self.id_dirty = false;
    }

    /// The reconnection time in milliseconds set by the last valid `retry` field.
    pub fn retry(&self) -> Option<u64> {
        self.retry
    }

    /// How many comment lines (keep-alives) were seen.
    pub fn comments(&self) -> u64 {
        self.comments
    }

    /// Whether an unfinished line or event is buffered (it would be discarded by
    /// [`finish`](Decoder::finish)).
    pub fn has_pending(&self) -> bool {
        self.partial != Partial::None
            || self.has_data
            || !self.event_type.is_empty()
            || self.id_dirty
            || (!self.started && self.bom_held > 0)
    }

    fn run<S: Sink>(&mut self, chunk: &[u8], sink: &mut S) {
        let mut input = chunk;
        if !self.started {
            while usize::from(self.bom_held) < BOM.len() {
                let Some((&b, rest)) = input.split_first() else {
                    return; // still possibly a BOM: wait for more bytes
                };
                if b != BOM[usize::from(self.bom_held)] {
                    break;
                }
                self.bom_held += 1;
                input = rest;
            }
            self.started = true;
            let held = usize::from(self.bom_held);
            self.bom_held = 0;
            if held < BOM.len() && held > 0 {
                // The bytes looked like the start of a BOM but were not: they are text.
                self.scan(&BOM[..held], sink);
            }
        }
        self.scan(input, sink);
    }

    #[inline]
    fn scan<S: Sink>(&mut self, mut rest: &[u8], sink: &mut S) {
        if self.after_cr {
            let Some(&first) = rest.first() else {
                return;
            };
            self.after_cr = false;
            if first == b'\n' {
                rest = &rest[1..];
            }
        }
        loop {
            let Some(pos) = memchr2(b'\n', b'\r', rest) else {
                if !rest.is_empty() {
                    self.push_partial(rest);
                }
                return;
            };
            if self.partial == Partial::None {
                self.complete_line(&rest[..pos], sink);
            } else {
                self.push_partial(&rest[..pos]);
                self.end_partial(sink);
            }
            if rest[pos] == b'\r' {
                match rest.get(pos + 1) {
                    Some(b'\n') => rest = &rest[pos + 2..],
                    Some(_) => rest = &rest[pos + 1..],
                    None => {
                        self.after_cr = true;
                        return;
                    }
                }
            } else {
                rest = &rest[pos + 1..];
            }
        }
    }

    /// Appends a piece of the unfinished line (no line end in `seg`).
    fn push_partial(&mut self, mut seg: &[u8]) {
        loop {
            match self.partial {
                Partial::None => {
                    self.line.clear();
                    self.partial = Partial::Name;
                }
                Partial::Name => match memchr(b':', seg) {
                    Some(colon) => {
                        self.line.extend_from_slice(&seg[..colon]);
                        let field = Field::from_name(&self.line);
                        self.line.clear();
                        if field == Field::Data {
                            self.start_data();
                            if self.data.capacity() == 0 {
                                // A value split across chunks: guess its size
                                // from the previous event to avoid regrowing.
                                self.data.reserve(self.data_hint);
                            }
                        }
                        self.partial = Partial::Value {
                            field,
                            strip_space: true,
                        };
                        seg = &seg[colon + 1..];
                    }
                    None => {
                        self.line.extend_from_slice(seg);
                        return;
                    }
                },
                Partial::Value { field, strip_space } => {
                    if strip_space {
                        let Some(&first) = seg.first() else {
                            return;
                        };
                        if first == b' ' {
                            seg = &seg[1..];
                        }
                        self.partial = Partial::Value {
                            field,
                            strip_space: false,
                        };
                    }
                    match field {
                        Field::Data => push_lossy(&mut self.data, &mut self.data_tail, seg),
                        Field::Ignored => {}
                        _ => self.line.extend_from_slice(seg),
                    }
                    return;
                }
            }
        }
    }

    /// The unfinished line got its line end.
    fn end_partial<S: Sink>(&mut self, sink: &mut S) {
        let partial = std::mem::replace(&mut self.partial, Partial::None);
        let line = std::mem::take(&mut self.line);
        match partial {
            Partial::None => {}
            // No colon: the whole line is the field name, the value is empty.
            Partial::Name => self.complete_line(&line, sink),
            Partial::Value { field, .. } => match field {
                Field::Data => self.data_tail.flush(&mut self.data),
                Field::Ignored => {}
                _ => self.apply(field, &line, sink),
            },
        }
        self.line = line;
        self.line.clear();
        if self.line.capacity() > MAX_DATA_HINT {
            // Do not hold on to the memory of one huge comment or field.
            self.line = Vec::new();
        }
    }

    #[inline]
    fn start_data(&mut self) {
        if self.has_data {
            self.data.push('\n');
        }
        self.has_data = true;
    }

    /// Processes one whole line (without its line end).
    #[inline]
    fn complete_line<S: Sink>(&mut self, line: &[u8], sink: &mut S) {
        if line.is_empty() {
            self.dispatch(sink);
            return;
        }
        let (field, value) = match memchr(b':', line) {
            Some(colon) => {
                let value = &line[colon + 1..];
                let value = match value {
                    [b' ', rest @ ..] => rest,
                    _ => value,
                };
                (Field::from_name(&line[..colon]), value)
            }
            None => (Field::from_name(line), &b""[..]),
        };
        self.apply(field, value, sink);
    }

    #[inline]
    fn apply<S: Sink>(&mut self, field: Field, value: &[u8], sink: &mut S) {
        match field {
            Field::Data => {
                self.start_data();
                if value.len() <= BLOCK {
                    push_lossy(&mut self.data, &mut self.data_tail, value);
                } else {
                    // Validate and copy a long value block by block while each
                    // block is in cache.
                    self.data.reserve(value.len());
                    for block in value.chunks(BLOCK) {
                        push_lossy(&mut self.data, &mut self.data_tail, block);
                    }
                }
                self.data_tail.flush(&mut self.data);
            }
            Field::Event => {
                self.event_type.clear();
                self.event_type.extend_from_slice(value);
            }
            Field::Id => {
                if memchr(0, value).is_none() {
                    self.id_buffer.clear();
                    self.id_buffer.extend_from_slice(value);
                    self.id_dirty = true;
                }
            }
            Field::Retry => {
                if !value.is_empty() && value.iter().all(u8::is_ascii_digit) {
                    // Saturates: an absurdly long number means "practically never".
                    let ms = value.iter().fold(0u64, |acc, d| {
                        acc.saturating_mul(10).saturating_add(u64::from(d - b'0'))
                    });
                    self.retry = Some(ms);
                    self.event_retry = Some(ms);
                    sink.retry(ms);
                }
            }
            Field::Comment => {
                self.comments += 1;
                sink.comment(value);
            }
            Field::Ignored => {}
        }
    }

    fn dispatch<S: Sink>(&mut self, sink: &mut S) {
        if self.id_dirty {
            self.last_event_id.clear();
            self.last_event_id
                .push_str(&String::from_utf8_lossy(&self.id_buffer));
            self.id_dirty = false;
        }
        let retry = self.event_retry.take();
        if !self.has_data {
            self.event_type.clear();
            return;
        }
        self.has_data = false;
        let data = std::mem::take(&mut self.data);
        self.data_hint = data.len().min(MAX_DATA_HINT);
        let event = if self.event_type.is_empty() {
            String::from("message")
        } else {
            String::from_utf8_lossy(&self.event_type).into_owned()
        };
        self.event_type.clear();
        sink.event(Event {
            event,
            data,
            id: self.last_event_id.clone(),
            retry,
        });
    }
}

/// The most capacity reserved ahead for a data value split across chunks.
const MAX_DATA_HINT: usize = 16 << 10;

/// Long values are decoded in blocks of this size.
const BLOCK: usize = 32 << 10;

/// An incomplete UTF-8 sequence (a valid prefix of 1 to 3 bytes) at the end of
/// the bytes decoded so far, waiting for the rest.
#[derive(Debug, Clone, Copy, Default)]
struct Utf8Tail {
    buf: [u8; 4],
    len: u8,
}

impl Utf8Tail {
    /// The value ended: an incomplete sequence becomes one U+FFFD.
    #[inline]
    fn flush(&mut self, out: &mut String) {
        if self.len > 0 {
            out.push(char::REPLACEMENT_CHARACTER);
            self.len = 0;
        }
    }

    /// Feeds bytes to the pending sequence; returns the bytes left once it is
    /// complete (or found invalid), or an empty slice if it is still incomplete.
    fn complete<'a>(&mut self, out: &mut String, bytes: &'a [u8]) -> &'a [u8] {
        for (i, &b) in bytes.iter().enumerate() {
            let n = usize::from(self.len);
            self.buf[n] = b;
            match std::str::from_utf8(&self.buf[..=n]) {
                Ok(s) => {
                    out.push_str(s);
                    self.len = 0;
                    return &bytes[i + 1..];
                }
                // Still a valid prefix (at most 3 bytes): wait for more.
                Err(e) if e.error_len().is_none() => self.len += 1,
                // `b` does not continue the sequence: the prefix is one maximal
                // subpart (one U+FFFD) and `b` is decoded afresh.
                Err(_) => {
                    out.push(char::REPLACEMENT_CHARACTER);
                    self.len = 0;
                    return &bytes[i..];
                }
            }
        }
        &[]
    }
}

/// Appends `bytes` to `out`, decoding UTF-8 with replacement (maximal subparts,
/// like the WHATWG *UTF-8 decode*); an incomplete sequence at the end is kept in
/// `tail` for the next call.
#[inline]
fn push_lossy(out: &mut String, tail: &mut Utf8Tail, mut bytes: &[u8]) {
    if tail.len > 0 {
        bytes = tail.complete(out, bytes);
    }
    loop {
        match std::str::from_utf8(bytes) {
            Ok(s) => {
                out.push_str(s);
                return;
            }
            Err(e) => {
                let (valid, rest) = bytes.split_at(e.valid_up_to());
                if let Ok(s) = std::str::from_utf8(valid) {
                    out.push_str(s);
                }
                match e.error_len() {
                    None => {
                        // Incomplete sequence at the end (at most 3 bytes).
                        tail.buf[..rest.len()].copy_from_slice(rest);
                        tail.len = rest.len() as u8;
                        return;
                    }
                    Some(n) => {
                        out.push(char::REPLACEMENT_CHARACTER);
                        bytes = &rest[n..];
                    }
                }
            }
        }
    }
}
