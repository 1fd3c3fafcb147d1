//! Tests: the language-neutral vectors of `tests/vectors/sse` at every chunking,
//! a spec-literal reference decoder for random inputs, the 8 MiB line, the
//! encoder, the completion serde types and the agent loop.

use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{Context, Poll};

use serde::Deserialize;
use serde_json::{Value, json};

use super::*;

// ---------------------------------------------------------------------------
// Vectors

macro_rules! vectors {
    ($($name:literal),* $(,)?) => {
        &[$(($name, include_str!(concat!("../../../tests/vectors/sse/", $name, ".json")))),*]
    };
}

const VECTORS: &[(&str, &str)] = vectors![
    "blank_lines_only",
    "bom",
    "bom_not_at_start",
    "bom_partial_prefix",
    "bom_then_comment",
    "bom_twice",
    "comment_only",
    "comments",
    "cr_at_end_then_lf_blank",
    "crlf_not_blank",
    "empty_stream",
    "eof_single_line_end",
    "eof_unfinished_discarded",
    "eof_unterminated_line",
    "event_type",
    "field_no_colon",
    "heroku_agents_api",
    "id_carried_over",
    "id_unfinished_not_committed",
    "id_with_colon_and_spaces",
    "id_with_nul",
    "line_endings_cr",
    "line_endings_crlf",
    "line_endings_lf",
    "line_endings_mixed",
    "multiline_data",
    "no_data_not_dispatched",
    "nul_in_data",
    "retry_invalid",
    "retry_leading_zeros",
    "retry_valid",
    "space_after_colon",
    "spec_examples",
    "unknown_fields",
    "utf8_invalid",
    "utf8_multibyte",
    "utf8_truncated_at_eof",
];

#[derive(Debug, Deserialize)]
struct Vector {
    name: String,
    #[allow(dead_code)]
    description: String,
    input: Option<String>,
    input_base64: Option<String>,
    events: Vec<Event>,
    last_event_id_after: String,
    retry_after: Option<u64>,
    comments: Option<Vec<String>>,
    messages: Option<Vec<Message>>,
}

impl Vector {
    fn bytes(&self) -> Vec<u8> {
        match (&self.input, &self.input_base64) {
            (Some(text), None) => text.as_bytes().to_vec(),
            (None, Some(b64)) => base64_decode(b64),
            _ => panic!("{}: exactly one of input / input_base64", self.name),
        }
    }
}

fn load(name: &str, text: &str) -> Vector {
    let v: Vector = serde_json::from_str(text).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(v.name, name, "file name and name field differ");
    v
}

fn base64_decode(s: &str) -> Vec<u8> {
    fn val(c: u8) -> u32 {
        match c {
            b'A'..=b'Z' => u32::from(c - b'A'),
            b'a'..=b'z' => u32::from(c - b'a') + 26,
            b'0'..=b'9' => u32::from(c - b'0') + 52,
            b'+' => 62,
            b'/' => 63,
            _ => panic!("bad base64 byte {c}"),
        }
    }
    let clean: Vec<u8> = s
        .bytes()
        .filter(|&c| c != b'=' && !c.is_ascii_whitespace())
        .collect();
    let mut out = Vec::with_capacity(clean.len() * 3 / 4);
    for group in clean.chunks(4) {
        let mut acc = 0u32;
        for (i, &c) in group.iter().enumerate() {
            acc |= val(c) << (18 - 6 * i);
        }
        let bytes = acc.to_be_bytes();
        out.extend_from_slice(&bytes[1..group.len()]);
    }
    out
}

/// What one stream decodes to.
#[derive(Debug, Clone, PartialEq)]
struct Outcome {
    items: Vec<Item>,
    last_event_id: String,
    retry: Option<u64>,
    comments: u64,
}

impl Outcome {
    fn events(&self) -> Vec<Event> {
        self.items
            .iter()
            .filter_map(|i| match i {
                Item::Event(e) => Some(e.clone()),
                _ => None,
            })
            .collect()
    }
    fn comment_texts(&self) -> Vec<String> {
        self.items
            .iter()
            .filter_map(|i| match i {
                Item::Comment(c) => Some(c.clone()),
                _ => None,
            })
            .collect()
    }
}

/// Feeds `input` cut after each length of `sizes` (the rest as a last chunk),
/// through both `feed_items` and `feed`, and checks both agree.
fn decode_chunks(input: &[u8], sizes: impl IntoIterator<Item = usize>) -> Outcome {
    let mut d = Decoder::new();
    let mut plain = Decoder::new();
    let mut items = Vec::new();
    let mut events = Vec::new();
    let mut rest = input;
    for n in sizes {
        let n = n.min(rest.len());
        let (chunk, tail) = rest.split_at(n);
        d.feed_items(chunk, &mut items);
        events.extend(plain.feed(chunk));
        rest = tail;
        if rest.is_empty() {
            break;
        }
    }
    d.feed_items(rest, &mut items);
    plain.feed_into(rest, &mut events);
    d.finish();
    plain.finish();
    let out = Outcome {
        items,
        last_event_id: d.last_event_id().to_owned(),
        retry: d.retry(),
        comments: d.comments(),
    };
    assert_eq!(out.events(), events, "feed and feed_items disagree");
    assert_eq!(plain.last_event_id(), out.last_event_id);
    assert_eq!(plain.retry(), out.retry);
    out
}

fn fixed(size: usize) -> impl Iterator<Item = usize> {
    std::iter::repeat(size)
}

/// Deterministic xorshift for chunkings and inputs.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Every chunking the vectors go through: every fixed size from 1 byte to the
/// whole input, every 2-way split, 3-way splits of short inputs, empty chunks in
/// between, and pseudo-random chunkings. Each must give `expected`.
fn check_all_chunkings(name: &str, input: &[u8], expected: &Outcome) {
    let len = input.len();
    for size in 1..=len.max(1) {
        assert_eq!(
            &decode_chunks(input, fixed(size)),
            expected,
            "{name}: chunk size {size}"
        );
    }
    for cut in 0..=len {
        assert_eq!(
            &decode_chunks(input, [cut]),
            expected,
            "{name}: split at {cut}"
        );
    }
    if len <= 96 {
        for a in 0..=len {
            for b in a..=len {
                assert_eq!(
                    &decode_chunks(input, [a, b - a]),
                    expected,
                    "{name}: splits at {a}, {b}"
                );
            }
        }
    }
    // Empty chunks everywhere.
    let with_empty = (0..2 * len).map(|i| i % 2);
    assert_eq!(
        &decode_chunks(input, with_empty),
        expected,
        "{name}: with empty chunks"
    );
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ len as u64);
    for round in 0..200 {
        let max = 1 + rng.below(16) as usize;
        let sizes: Vec<usize> = (0..len + 1)
            .map(|_| rng.below(max as u64 + 1) as usize)
            .collect();
        assert_eq!(
            &decode_chunks(input, sizes.iter().copied()),
            expected,
            "{name}: random chunking {round}: {sizes:?}"
        );
    }
}

#[test]
fn vectors_at_every_chunking() {
    for (name, text) in VECTORS {
        let v = load(name, text);
        let input = v.bytes();
        let whole = decode_chunks(&input, []);
        assert_eq!(whole.events(), v.events, "{name}: events");
        assert_eq!(
            whole.last_event_id, v.last_event_id_after,
            "{name}: last event id"
        );
        assert_eq!(whole.retry, v.retry_after, "{name}: retry");
        if let Some(comments) = &v.comments {
            assert_eq!(&whole.comment_texts(), comments, "{name}: comments");
            assert_eq!(
                whole.comments,
                comments.len() as u64,
                "{name}: comment count"
            );
        }
        // The reference reading of the spec agrees (guards the vectors too).
        assert_eq!(reference(&input), whole, "{name}: reference decoder");
        check_all_chunkings(name, &input, &whole);
    }
}

#[test]
fn vectors_directory_is_fully_listed() {
    // The list above is hard-coded (include_str!): make sure no vector file is
    // left out. Locate the directory from this file's path or the manifest.
    let candidates = [
        std::path::Path::new(file!())
            .parent()
            .map(|p| p.join("../../../tests/vectors/sse")),
        Some(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/vectors/sse")),
    ];
    let Some(dir) = candidates.into_iter().flatten().find(|p| p.is_dir()) else {
        eprintln!("vectors directory not found from here; listing check skipped");
        return;
    };
    let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| {
            let name = e.unwrap().file_name().into_string().unwrap();
            name.strip_suffix(".json").map(str::to_owned)
        })
        .collect();
    on_disk.sort();
    let mut listed: Vec<String> = VECTORS.iter().map(|(n, _)| (*n).to_owned()).collect();
    listed.sort();
    assert_eq!(
        on_disk, listed,
        "tests/vectors/sse and the VECTORS list differ"
    );
}

#[test]
fn agent_vectors_at_every_chunk_size() {
    let mut seen = 0;
    for (name, text) in VECTORS {
        let v = load(name, text);
        let Some(expected) = &v.messages else {
            continue;
        };
        seen += 1;
        let input = v.bytes();
        for size in 1..=input.len() {
            let mut agent = AgentLoop::new();
            let mut got = Vec::new();
            for chunk in input.chunks(size) {
                got.extend(agent.feed(chunk).unwrap());
            }
            got.extend(agent.finish().unwrap());
            assert_eq!(&got, expected, "{name}: chunk size {size}");
            assert_eq!(agent.messages(), &expected[..]);
            assert!(agent.is_done());
        }
    }
    assert!(seen >= 1);
}

// ---------------------------------------------------------------------------
// A spec-literal reference: decode the whole input, split lines, interpret.

fn reference(input: &[u8]) -> Outcome {
    let text = String::from_utf8_lossy(input);
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let mut lines = Vec::new();
    let mut cur = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\r' => {
                if chars.peek() == Some(&'\n') {
                    chars.next();
                }
                lines.push(std::mem::take(&mut cur));
            }
            '\n' => lines.push(std::mem::take(&mut cur)),
            c => cur.push(c),
        }
    }
    // `cur` has no line end: discarded at the end of the stream.
    let (mut data, mut etype, mut id_buf) = (String::new(), String::new(), String::new());
    let mut last_id = String::new();
    let mut retry = None;
    let mut event_retry = None;
    let mut items = Vec::new();
    let mut comments = 0;
    for line in lines {
        if line.is_empty() {
            last_id = id_buf.clone();
            let r = event_retry.take();
            if data.is_empty() {
                etype.clear();
                continue;
            }
            if data.ends_with('\n') {
                data.pop();
            }
            items.push(Item::Event(Event {
                event: if etype.is_empty() {
                    "message".into()
                } else {
                    etype.clone()
                },
                data: std::mem::take(&mut data),
                id: last_id.clone(),
                retry: r,
            }));
            etype.clear();
            continue;
        }
        let (field, value) = match line.find(':') {
            Some(i) => {
                let v = &line[i + 1..];
                (&line[..i], v.strip_prefix(' ').unwrap_or(v))
            }
            None => (&line[..], ""),
        };
        match field {
            "" => {
                comments += 1;
                items.push(Item::Comment(value.to_owned()));
            }
            "event" => etype = value.to_owned(),
            "data" => {
                data.push_str(value);
                data.push('\n');
            }
            "id" if !value.contains('\0') => id_buf = value.to_owned(),
            "retry" if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) => {
                let ms = value.parse::<u64>().unwrap_or(u64::MAX);
                retry = Some(ms);
                event_retry = Some(ms);
                items.push(Item::Retry(ms));
            }
            _ => {}
        }
    }
    Outcome {
        items,
        last_event_id: last_id,
        retry,
        comments,
    }
}

/// Random streams built from the tokens that matter, decoded at random
/// chunkings, against the reference.
#[test]
fn random_streams_match_reference() {
    const TOKENS: &[&[u8]] = &[
        b"data",
        b"data:",
        b"data: ",
        b"event:",
        b"event: ",
        b"id:",
        b"id: ",
        b"retry:",
        b"retry: ",
        b":",
        b": ",
        b" ",
        b"x",
        b"yz",
        b"12",
        b"0",
        b"\n",
        b"\n",
        b"\r",
        b"\r\n",
        b"\r\n",
        b"\n\n",
        b"\0",
        b"\xEF\xBB\xBF",
        b"\xEF\xBB",
        b"\xC3\xA9",
        b"\xE2\x82\xAC",
        b"\xF0\x9F\x98\x80",
        b"\xE2\x82",
        b"\xFF",
        b"\x80",
        b"message",
        b"done",
        b"foo:",
    ];
    let mut rng = Rng(0x2545_F491_4F6C_DD1D);
    for case in 0..3000 {
        let mut input = Vec::new();
        let n = rng.below(40) as usize;
        for _ in 0..n {
            input.extend_from_slice(TOKENS[rng.below(TOKENS.len() as u64) as usize]);
        }
        let expected = reference(&input);
        assert_eq!(
            decode_chunks(&input, []),
            expected,
            "case {case}: {input:?}"
        );
        for _ in 0..8 {
            let max = 1 + rng.below(8);
            let sizes: Vec<usize> = (0..input.len() + 1)
                .map(|_| rng.below(max + 1) as usize)
                .collect();
            assert_eq!(
                decode_chunks(&input, sizes.iter().copied()),
                expected,
                "case {case}: {input:?} in {sizes:?}"
            );
        }
        assert_eq!(
            decode_chunks(&input, fixed(1)),
            expected,
            "case {case}: 1-byte chunks"
        );
    }
}

// ---------------------------------------------------------------------------
// Specific rules, spelled out.

#[test]
fn crlf_split_across_chunks_is_one_line_end() {
    let mut d = Decoder::new();
    assert!(d.feed(b"data: a\r").is_empty());
    // The LF completes the CRLF: not a blank line, so no dispatch yet.
    assert!(d.feed(b"\n").is_empty());
    assert!(d.has_pending());
    let events = d.feed(b"\r");
    assert_eq!(events, vec![Event::message("a")]);
    // A following LF is part of that CR's CRLF, not another blank line.
    assert!(d.feed(b"\ndata: b\r").is_empty());
    assert_eq!(d.feed(b"\r"), vec![Event::message("b")]);
}

#[test]
fn bom_split_across_chunks_and_only_at_stream_start() {
    let mut d = Decoder::new();
    for b in b"\xEF\xBB\xBF" {
        assert!(d.feed(std::slice::from_ref(b)).is_empty());
    }
    assert_eq!(d.feed(b"data: a\n\n"), vec![Event::message("a")]);
    // Mid-stream, a BOM is text.
    assert_eq!(
        d.feed(b"data: \xEF\xBB\xBFb\n\n"),
        vec![Event::message("\u{feff}b")]
    );
    // A new stream (after finish) may start with a BOM again.
    d.finish();
    assert!(d.feed(b"\xEF").is_empty());
    assert_eq!(d.feed(b"\xBB\xBFdata: c\n\n"), vec![Event::message("c")]);
    // Empty chunks do not settle the BOM question.
    d.finish();
    assert!(d.feed(b"").is_empty());
    assert!(d.feed(b"\xEF\xBB").is_empty());
    assert!(d.feed(b"").is_empty());
    assert_eq!(d.feed(b"\xBFdata: d\n\n"), vec![Event::message("d")]);
}

#[test]
fn finish_discards_and_keeps_id_and_retry() {
    let mut d = Decoder::new();
    d.feed(b"id: 7\nretry: 50\ndata: a\n\nid: 8\nevent: x\ndata: partial\n");
    assert!(d.has_pending());
    d.finish();
    assert!(!d.has_pending());
    assert_eq!(d.last_event_id(), "7");
    assert_eq!(d.retry(), Some(50));
    // The next stream starts clean: no leftover data or type, id carried over.
    assert_eq!(
        d.feed(b"data: b\n\n"),
        vec![Event::message("b").with_id("7")]
    );
}

#[test]
fn resume_with_last_event_id() {
    let mut d = Decoder::with_last_event_id("41");
    assert_eq!(
        d.feed(b"data: a\n\n"),
        vec![Event::message("a").with_id("41")]
    );
    d.set_last_event_id("");
    assert_eq!(d.feed(b"data: b\n\n"), vec![Event::message("b")]);
}

#[test]
fn retry_items_and_overflow() {
    let mut d = Decoder::new();
    let mut items = Vec::new();
    d.feed_items(b"retry: 99999999999999999999999\n: ka\n\n", &mut items);
    assert_eq!(
        items,
        vec![Item::Retry(u64::MAX), Item::Comment("ka".into())]
    );
    assert_eq!(d.retry(), Some(u64::MAX));
    assert_eq!(d.comments(), 1);
}

#[test]
fn long_line_8_mib_in_1460_byte_chunks() {
    // ASCII and 3-byte characters, so chunk edges fall inside UTF-8 sequences.
    let mut payload = String::with_capacity(8 << 20);
    while payload.len() < (8 << 20) - 16 {
        payload.push_str("abcdefghij\u{20ac}klmn");
    }
    let input = format!(":c\ndata: {payload}\nid: big\n\ndata: next\n\n");
    let expected = vec![
        Event::message(payload.clone()).with_id("big"),
        Event::message("next").with_id("big"),
    ];
    for size in [1460, 1, 4096, 1 << 20, input.len()] {
        let mut d = Decoder::new();
        let mut got = Vec::new();
        if size == 1 {
            // 1-byte chunks over the first 64 KiB, then the rest whole.
            let (head, tail) = input.as_bytes().split_at(64 << 10);
            for b in head {
                d.feed_into(std::slice::from_ref(b), &mut got);
            }
            d.feed_into(tail, &mut got);
        } else {
            for chunk in input.as_bytes().chunks(size) {
                d.feed_into(chunk, &mut got);
            }
        }
        d.finish();
        assert_eq!(got.len(), 2, "chunk size {size}");
        assert!(got == expected, "chunk size {size}: events differ");
    }
    // Also a long line that is not data (an ignored field and a comment), and a
    // long line without a colon: no quadratic rescans, nothing dispatched.
    let junk = "z".repeat(8 << 20);
    let input = format!("foo: {junk}\n: {junk}\n{junk}\n\n");
    let mut d = Decoder::new();
    let mut items = Vec::new();
    for chunk in input.as_bytes().chunks(1460) {
        d.feed_items(chunk, &mut items);
    }
    assert_eq!(items.len(), 1);
    assert!(matches!(&items[0], Item::Comment(c) if c.len() == junk.len()));
}

// ---------------------------------------------------------------------------
// Encoder

#[test]
fn encode_writes_fields_and_round_trips() {
    let e = Event::new("update", "line1\nline2\r\nline3\r\n")
        .with_id("42")
        .with_retry(3000);
    let text = encode(&e);
    assert_eq!(
        text,
        "event: update\nid: 42\nretry: 3000\ndata: line1\ndata: line2\ndata: line3\ndata:\n\n"
    );
    let mut d = Decoder::new();
    let got = d.feed(text.as_bytes());
    assert_eq!(
        got,
        vec![
            Event::new("update", "line1\nline2\nline3\n")
                .with_id("42")
                .with_retry(3000)
        ]
    );
    assert_eq!(encode(&Event::message("")), "event: message\ndata:\n\n");
    assert_eq!(encode(&Event::new("", " x")), "data:  x\n\n");
    assert_eq!(
        encode(&Event::new("a\nb", "x").with_id("1\r2")),
        "event: a b\nid: 1 2\ndata: x\n\n"
    );
    assert_eq!(comment("keep-alive"), ": keep-alive\n");
    assert_eq!(comment(""), ":\n");
    assert_eq!(comment("a\nb"), ": a\n: b\n");
    let mut items = Vec::new();
    Decoder::new().feed_items(comment("a\r\nb").as_bytes(), &mut items);
    assert_eq!(
        items,
        vec![Item::Comment("a".into()), Item::Comment("b".into())]
    );
}

#[test]
fn encode_random_events_round_trip() {
    let pieces = [
        "a", "", "\n", "\r", "\r\n", " ", "é", ":", "data: x", "\u{feff}",
    ];
    let mut rng = Rng(77);
    for _ in 0..2000 {
        let mut data = String::new();
        for _ in 0..rng.below(6) {
            data.push_str(pieces[rng.below(pieces.len() as u64) as usize]);
        }
        let e = Event::new("t", data.clone()).with_id(format!("{}", rng.below(1000)));
        let mut d = Decoder::new();
        let got = d.feed(encode(&e).as_bytes());
        let normalized = data.replace("\r\n", "\n").replace('\r', "\n");
        assert_eq!(
            got,
            vec![Event::new("t", normalized).with_id(e.id.clone())],
            "{data:?}"
        );
    }
}

// ---------------------------------------------------------------------------
// Completion types and the agent loop

fn seed() -> (Vec<u8>, Vector) {
    let (_, text) = VECTORS
        .iter()
        .find(|(n, _)| *n == "heroku_agents_api")
        .unwrap();
    let v = load("heroku_agents_api", text);
    (v.bytes(), v)
}

#[test]
fn seed_completions_serialize_back_byte_for_byte() {
    let (input, v) = seed();
    let mut re_encoded = String::new();
    for e in &v.events {
        if e.event == "message" {
            let c: Completion = serde_json::from_str(&e.data).unwrap();
            let back = serde_json::to_string(&c).unwrap();
            assert_eq!(back, e.data, "completion JSON round trip");
            encode_into(&Event::message(back), &mut re_encoded);
        } else {
            encode_into(e, &mut re_encoded);
        }
    }
    assert_eq!(
        re_encoded.as_bytes(),
        &input[..],
        "the whole seed stream re-emitted"
    );
    // The tool completion: `usage: {}`, no tool_calls, tool_call_id present.
    let tool: Completion = serde_json::from_str(&v.events[1].data).unwrap();
    assert_eq!(tool.usage, None);
    assert_eq!(
        tool.choices[0].message.tool_call_id.as_deref(),
        Some("toolu_abc123")
    );
    let last: Completion = serde_json::from_str(&v.events[2].data).unwrap();
    assert!(last.choices[0].message.tool_calls.is_empty());
    assert_eq!(last.choices[0].message.tool_call_id, None);
}

#[test]
fn seed_assembles_to_expected_messages() {
    let (input, _) = seed();
    let mut agent = AgentLoop::new();
    let mut got = agent.feed(&input).unwrap();
    got.extend(agent.finish().unwrap());
    assert_eq!(got.len(), 4);
    let Message::Assistant {
        content,
        tool_calls,
        finish_reason,
        usage,
    } = &got[0]
    else {
        panic!("{:?}", got[0])
    };
    assert_eq!(content, "I'll query your database to show all tables.");
    assert_eq!(finish_reason, "tool_calls");
    assert_eq!(
        *usage,
        Some(Usage {
            prompt_tokens: 150,
            completion_tokens: 45,
            total_tokens: 195
        })
    );
    assert_eq!(tool_calls.len(), 1);
    assert_eq!(tool_calls[0].id, "toolu_abc123");
    assert_eq!(tool_calls[0].name, "pg_psql");
    assert_eq!(
        tool_calls[0].arguments,
        json!({"query": "SELECT tablename FROM pg_tables WHERE schemaname='public';"})
    );
    assert_eq!(
        got[1],
        Message::Tool {
            tool_call_id: "toolu_abc123".into(),
            content: "tablename\n---------\nusers\nproducts\norders".into()
        }
    );
    assert!(
        matches!(&got[2], Message::Assistant { content, finish_reason, tool_calls, .. }
        if content == "Your database has 3 tables: users, products, and orders."
            && finish_reason == "stop" && tool_calls.is_empty())
    );
    assert_eq!(got[3], Message::Done);
    assert_eq!(agent.completions().len(), 3);
    assert_eq!(agent.completions()[1].object, "tool.completion");
}

fn completion_json(message: Value) -> String {
    json!({"id":"c1","object":"chat.completion","created":1,"model":"m",
           "choices":[{"index":0,"message":message,"finish_reason":"tool_calls"}],
           "usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3}})
    .to_string()
}

#[test]
fn agent_errors_are_clear() {
    let mut agent = AgentLoop::new();
    let err = agent.push(&Event::message("{not json")).unwrap_err();
    assert!(matches!(err, AgentError::InvalidJson { .. }), "{err}");
    assert!(err.to_string().contains("not valid JSON"), "{err}");

    let err = agent.push(&Event::message("[1,2]")).unwrap_err();
    assert!(
        matches!(
            err,
            AgentError::NotAnObject {
                kind: "an array",
                ..
            }
        ),
        "{err}"
    );

    let bad_args = completion_json(json!({"role":"assistant","content":null,"tool_calls":[
        {"id":"t1","type":"function","function":{"name":"pg_psql","arguments":"{\"query\": "}}]}));
    let err = agent.push(&Event::message(bad_args)).unwrap_err();
    assert!(
        matches!(&err, AgentError::InvalidToolArguments { tool_call_id, name, .. }
            if tool_call_id == "t1" && name == "pg_psql"),
        "{err}"
    );
    assert!(err.to_string().contains("pg_psql"), "{err}");

    let array_args = completion_json(json!({"role":"assistant","content":"","tool_calls":[
        {"id":"t2","type":"function","function":{"name":"f","arguments":"[1]"}}]}));
    let err = agent.push(&Event::message(array_args)).unwrap_err();
    assert!(
        matches!(
            err,
            AgentError::ToolArgumentsNotObject {
                kind: "an array",
                ..
            }
        ),
        "{err}"
    );

    let no_id = completion_json(json!({"role":"tool","content":"x"}));
    let err = agent.push(&Event::message(no_id)).unwrap_err();
    assert!(matches!(err, AgentError::MissingToolCallId { .. }), "{err}");

    let role = completion_json(json!({"role":"user","content":"x"}));
    let err = agent.push(&Event::message(role)).unwrap_err();
    assert!(
        matches!(&err, AgentError::UnexpectedRole { role, .. } if role == "user"),
        "{err}"
    );

    let schema =
        r#"{"object":"chat.completion","id":"c","created":"yesterday","model":"m","choices":[]}"#;
    let err = agent.push(&Event::message(schema)).unwrap_err();
    assert!(matches!(err, AgentError::InvalidCompletion { .. }), "{err}");
    assert!(err.to_string().contains("line 1 column"), "{err}");

    // Nothing was added by the failed events; the loop goes on.
    assert!(agent.messages().is_empty());
    assert!(agent.completions().is_empty());
    let ok = completion_json(json!({"role":"assistant","content":null,"tool_calls":[
        {"id":"t3","type":"function","function":{"name":"noargs","arguments":""}}]}));
    let added = agent.push(&Event::message(ok)).unwrap();
    assert!(
        matches!(&added[0], Message::Assistant { tool_calls, content, .. }
        if tool_calls[0].arguments == json!({}) && content.is_empty())
    );
    assert!(matches!(agent.finish(), Err(AgentError::EndedBeforeDone)));
}

#[test]
fn agent_passes_other_events_through_and_ends_on_done() {
    let stream = concat!(
        "event: status\ndata: {\"state\":\"running\"}\n\n",
        "event: action.blocked\ndata: {\"reason\":\"policy\"}\n\n",
        "event: approval.requested\ndata: not json\n\n",
        "data: {\"object\":\"chat.completion.chunk\",\"x\":1}\n\n",
        ": keep-alive\n\n",
        "event: cost\ndata: {\"usd\":0.01}\n\n",
        "data: [DONE]\n\n",
        "event: done\ndata: [DONE]\n\n",
    );
    let mut agent = AgentLoop::new();
    let mut got = Vec::new();
    for chunk in stream.as_bytes().chunks(7) {
        got.extend(agent.feed(chunk).unwrap());
    }
    got.extend(agent.finish().unwrap());
    assert_eq!(
        got,
        vec![
            Message::Other {
                event: "status".into(),
                data: "{\"state\":\"running\"}".into(),
                json: Some(json!({"state":"running"}))
            },
            Message::Other {
                event: "action.blocked".into(),
                data: "{\"reason\":\"policy\"}".into(),
                json: Some(json!({"reason":"policy"}))
            },
            Message::Other {
                event: "approval.requested".into(),
                data: "not json".into(),
                json: None
            },
            Message::Other {
                event: "message".into(),
                data: "{\"object\":\"chat.completion.chunk\",\"x\":1}".into(),
                json: Some(json!({"object":"chat.completion.chunk","x":1}))
            },
            Message::Other {
                event: "cost".into(),
                data: "{\"usd\":0.01}".into(),
                json: Some(json!({"usd":0.01}))
            },
            Message::Done,
        ]
    );
    assert!(agent.is_done());
}

#[test]
fn agent_feed_resumes_after_an_error() {
    let mut agent = AgentLoop::new();
    let stream = "event: status\ndata: 1\n\ndata: {oops\n\nevent: done\ndata: [DONE]\n\n";
    let err = agent.feed(stream.as_bytes()).unwrap_err();
    assert!(matches!(err, AgentError::InvalidJson { .. }));
    // The status message (before the error) and done (after it) come next.
    let rest = agent.feed(b"").unwrap();
    assert_eq!(rest.len(), 2);
    assert!(matches!(&rest[0], Message::Other { event, .. } if event == "status"));
    assert_eq!(rest[1], Message::Done);
    assert!(agent.finish().unwrap().is_empty());
}

#[test]
fn message_and_event_serde_shapes() {
    let e = Event::message("x");
    assert_eq!(
        serde_json::to_value(&e).unwrap(),
        json!({"event":"message","data":"x","id":""})
    );
    assert_eq!(
        serde_json::to_value(Event::message("x").with_retry(5)).unwrap(),
        json!({"event":"message","data":"x","id":"","retry":5})
    );
    assert_eq!(
        serde_json::to_value(Message::Done).unwrap(),
        json!({"type":"done"})
    );
    let usage_none = Completion {
        id: "c".into(),
        object: "tool.completion".into(),
        created: 1,
        model: "m".into(),
        choices: vec![],
        usage: None,
    };
    assert_eq!(
        serde_json::to_string(&usage_none).unwrap(),
        r#"{"id":"c","object":"tool.completion","created":1,"model":"m","choices":[],"usage":{}}"#
    );
    let partial: Completion = serde_json::from_str(
        r#"{"id":"c","object":"chat.completion","created":1,"model":"m","choices":[],"usage":{"prompt_tokens":2,"completion_tokens":3}}"#,
    )
    .unwrap();
    assert_eq!(
        partial.usage,
        Some(Usage {
            prompt_tokens: 2,
            completion_tokens: 3,
            total_tokens: 5
        })
    );
}

// ---------------------------------------------------------------------------
// Stream adapter, driven by a no-op waker (no executor needed).

struct Chunks(VecDeque<Result<Vec<u8>, &'static str>>);

impl futures_core::Stream for Chunks {
    type Item = Result<Vec<u8>, &'static str>;
    fn poll_next(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        Poll::Ready(self.0.pop_front())
    }
}

fn collect<S: futures_core::Stream + Unpin>(mut s: S) -> Vec<S::Item> {
    let mut cx = Context::from_waker(std::task::Waker::noop());
    let mut out = Vec::new();
    loop {
        match Pin::new(&mut s).poll_next(&mut cx) {
            Poll::Ready(Some(item)) => out.push(item),
            Poll::Ready(None) => return out,
            Poll::Pending => unreachable!("Chunks is always ready"),
        }
    }
}

#[test]
fn stream_adapter_decodes_and_passes_errors() {
    let (input, v) = seed();
    let chunks = input.chunks(5).map(|c| Ok(c.to_vec())).collect();
    let got: Vec<Event> = collect(EventStream::new(Chunks(chunks)))
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert_eq!(got, v.events);

    let chunks = VecDeque::from(vec![
        Ok(b"data: a\n\n".to_vec()),
        Err("reset"),
        Ok(b"data: b\n\ndata: unfinished\n".to_vec()),
    ]);
    let got = collect(EventStream::new(Chunks(chunks)));
    assert_eq!(
        got,
        vec![
            Ok(Event::message("a")),
            Err("reset"),
            Ok(Event::message("b"))
        ]
    );
}
