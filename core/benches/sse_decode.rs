//! SSE decoding: our `sse::Decoder` side by side with the `eventsource-stream`
//! and `sseer` crates, in one run.
//!
//! Workloads: (a) 512 LLM-style events (`event: message` / ~200-byte JSON
//! `data:` / `id: N`) in 128-byte chunks and whole; (b) one 8 MiB `data:` line
//! in 1,460-byte chunks (one TCP segment) and whole.
//!
//! The two crates are `Stream`s: they are fed `futures::stream::iter` of
//! `Ok::<Bytes, Infallible>` chunks and drained with `futures::executor::block_on`.
//! Ours is measured both ways: `ours` calls `Decoder::feed_into` directly on the
//! chunks, `ours_stream` goes through `sse::EventStream` exactly like the others.
//! Every variant drains all events and touches their data.
//!
//! sseer hands out `Str` slices of the input `Bytes` (zero-copy) where ours and
//! eventsource-stream build owned `String`s; `sseer_owned` converts sseer's
//! events into `sse::Event` (owned strings), for a same-output comparison.
//!
//! eventsource-stream is quadratic on a long line split in many chunks (about
//! 20 s per 8 MiB line in 1,460-byte chunks): that one case is timed once and
//! printed, unless `SSE_BENCH_SLOW=1` asks criterion to measure it (minutes).

use std::convert::Infallible;
use std::hint::black_box;
use std::time::{Duration, Instant};

use bytes::Bytes;
use criterion::{BatchSize, BenchmarkId, Criterion, SamplingMode, Throughput};
use criterion::{criterion_group, criterion_main};
use futures::StreamExt;
use futures::executor::block_on;
use heroa::sse::{Decoder, Event, EventStream};

const EVENTS: usize = 512;
const LONG: usize = 8 << 20;

fn llm_stream() -> Vec<u8> {
    let mut out = String::new();
    for n in 0..EVENTS {
        let json = format!(
            concat!(
                r#"{{"id":"chatcmpl-{:06}","object":"chat.completion.chunk","created":1746546550,"#,
                r#""model":"claude-4-sonnet","choices":[{{"index":0,"delta":{{"content":"token {} of the answer"}},"#,
                r#""finish_reason":null}}]}}"#
            ),
            n, n
        );
        out.push_str("event: message\ndata: ");
        out.push_str(&json);
        out.push_str(&format!("\nid: {n}\n\n"));
    }
    out.into_bytes()
}

fn long_line() -> Vec<u8> {
    let mut out = Vec::with_capacity(LONG + 16);
    out.extend_from_slice(b"data: ");
    out.resize(6 + LONG, b'x');
    out.extend_from_slice(b"\n\n");
    out
}

fn chunks(input: &[u8], size: usize) -> Vec<Bytes> {
    let whole = Bytes::copy_from_slice(input);
    (0..input.len())
        .step_by(size)
        .map(|i| whole.slice(i..(i + size).min(input.len())))
        .collect()
}

fn ours(chunks: &[Bytes]) -> usize {
    let mut d = Decoder::new();
    let mut events: Vec<Event> = Vec::new();
    let mut total = 0;
    for c in chunks {
        d.feed_into(c, &mut events);
        for e in events.drain(..) {
            total += e.data.len() + e.id.len() + e.event.len();
        }
    }
    d.finish();
    total
}

fn ours_stream(chunks: Vec<Bytes>) -> usize {
    let s = EventStream::new(futures::stream::iter(
        chunks.into_iter().map(Ok::<_, Infallible>),
    ));
    block_on(s.fold(0, |acc, e| async move {
        let e = e.unwrap();
        acc + e.data.len() + e.id.len() + e.event.len()
    }))
}

fn eventsource_stream(chunks: Vec<Bytes>) -> usize {
    let s = eventsource_stream::EventStream::new(futures::stream::iter(
        chunks.into_iter().map(Ok::<_, Infallible>),
    ));
    block_on(s.fold(0, |acc, e| async move {
        let e = e.unwrap();
        acc + e.data.len() + e.id.len() + e.event.len()
    }))
}

fn sseer(chunks: Vec<Bytes>) -> usize {
    let s = sseer::EventStream::new(futures::stream::iter(
        chunks.into_iter().map(Ok::<_, Infallible>),
    ));
    block_on(s.fold(0, |acc, e| async move {
        let e = e.unwrap();
        acc + e.data.len() + e.id.len() + e.event.len()
    }))
}

fn sseer_owned(chunks: Vec<Bytes>) -> usize {
    let s = sseer::EventStream::new(futures::stream::iter(
        chunks.into_iter().map(Ok::<_, Infallible>),
    ));
    block_on(s.fold(0, |acc, e| async move {
        let e = e.unwrap();
        let e = Event {
            event: e.event.to_string(),
            data: e.data.to_string(),
            id: e.id.to_string(),
            retry: e.retry.map(|d| d.as_millis() as u64),
        };
        acc + e.data.len() + e.id.len() + e.event.len()
    }))
}

fn run_group(c: &mut Criterion, group: &str, input: &[u8], chunk_size: usize, slow: bool) {
    let chunked = chunks(input, chunk_size);
    let whole = chunks(input, input.len());
    // All four agree on what they decode.
    let expect = ours(&whole);
    assert_eq!(ours(&chunked), expect);
    assert_eq!(ours_stream(chunked.clone()), expect);
    assert_eq!(sseer(chunked.clone()), expect);
    assert_eq!(eventsource_stream(whole.clone()), expect);

    let mut g = c.benchmark_group(group);
    g.throughput(Throughput::Bytes(input.len() as u64));
    if slow {
        g.sample_size(10).sampling_mode(SamplingMode::Flat);
    }
    for (label, set) in [
        (format!("chunked{chunk_size}"), &chunked),
        ("whole".to_owned(), &whole),
    ] {
        g.bench_with_input(BenchmarkId::new("ours", &label), set, |b, set| {
            b.iter(|| black_box(ours(black_box(set))))
        });
        g.bench_with_input(BenchmarkId::new("ours_stream", &label), set, |b, set| {
            b.iter_batched(
                || set.clone(),
                |s| black_box(ours_stream(s)),
                BatchSize::SmallInput,
            )
        });
        g.bench_with_input(BenchmarkId::new("sseer", &label), set, |b, set| {
            b.iter_batched(
                || set.clone(),
                |s| black_box(sseer(s)),
                BatchSize::SmallInput,
            )
        });
        g.bench_with_input(BenchmarkId::new("sseer_owned", &label), set, |b, set| {
            b.iter_batched(
                || set.clone(),
                |s| black_box(sseer_owned(s)),
                BatchSize::SmallInput,
            )
        });
        if slow && set.len() > 1 && std::env::var_os("SSE_BENCH_SLOW").is_none() {
            let start = Instant::now();
            black_box(eventsource_stream(set.clone()));
            println!(
                "{group}/eventsource_stream/{label}: one run {:.3?} (not sampled; SSE_BENCH_SLOW=1 to sample)",
                start.elapsed()
            );
            continue;
        }
        g.bench_with_input(
            BenchmarkId::new("eventsource_stream", &label),
            set,
            |b, set| {
                b.iter_batched(
                    || set.clone(),
                    |s| black_box(eventsource_stream(s)),
                    BatchSize::SmallInput,
                )
            },
        );
    }
    g.finish();
}

fn llm_events(c: &mut Criterion) {
    run_group(c, "sse_llm_512_events", &llm_stream(), 128, false);
}

fn long_data_line(c: &mut Criterion) {
    run_group(c, "sse_data_line_8mib", &long_line(), 1460, true);
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    targets = llm_events, long_data_line
}
criterion_main!(benches);
