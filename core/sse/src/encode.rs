//! Writing `text/event-stream` (for servers).

use super::Event;

/// Encodes `event` as one event-stream block, ending with the blank line that
/// dispatches it.
///
/// Writes `event: {event}` (when not empty), `id: {id}` (when not empty),
/// `retry: {retry}` (when set) and one `data: ` line per line of `data` (CR, LF
/// and CRLF in `data` all start a new `data:` line; an empty line is written as
/// `data:`), then a blank line. The decoder turns the result back into the same
/// event, given that an empty `id` here means "keep the last event id".
///
/// `event` and `id` cannot hold line breaks on the wire: CR and LF in them are
/// written as spaces.
pub fn encode(event: &Event) -> String {
    let mut out = String::with_capacity(event.data.len() + event.event.len() + event.id.len() + 32);
    encode_into(event, &mut out);
    out
}

/// [`encode`], appending to `out`.
pub fn encode_into(event: &Event, out: &mut String) {
    if !event.event.is_empty() {
        out.push_str("event: ");
        push_single_line(&event.event, out);
        out.push('\n');
    }
    if !event.id.is_empty() {
        out.push_str("id: ");
        push_single_line(&event.id, out);
        out.push('\n');
    }
    if let Some(retry) = event.retry {
        out.push_str("retry: ");
        out.push_str(&retry.to_string());
        out.push('\n');
    }
    for line in lines(&event.data) {
        if line.is_empty() {
            out.push_str("data:\n");
        } else {
            out.push_str("data: ");
            out.push_str(line);
            out.push('\n');
        }
    }
    out.push('\n');
}

/// A comment block (`: text`), e.g. `comment("keep-alive")` for a keep-alive.
/// Each line of `text` becomes one comment line; `comment("")` is `:\n`.
/// Comments dispatch nothing and never end an event.
pub fn comment(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 3);
    for line in lines(text) {
        if line.is_empty() {
            out.push_str(":\n");
        } else {
            out.push_str(": ");
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

fn push_single_line(s: &str, out: &mut String) {
    if s.contains(['\r', '\n']) {
        out.extend(
            s.chars()
                .map(|c| if c == '\r' || c == '\n' { ' ' } else { c }),
        );
    } else {
        out.push_str(s);
    }
}

/// Splits on CR, LF and CRLF; always yields at least one (maybe empty) line.
fn lines(s: &str) -> impl Iterator<Item = &str> {
    let mut rest = Some(s);
    std::iter::from_fn(move || {
        let s = rest?;
        match s.find(['\r', '\n']) {
            Some(i) => {
                let next = if s[i..].starts_with("\r\n") {
                    i + 2
                } else {
                    i + 1
                };
                rest = Some(&s[next..]);
                Some(&s[..i])
            }
            None => {
                rest = None;
                Some(s)
            }
        }
    })
}
