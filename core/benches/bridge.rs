//! The bridge's added cost: `agents.get` on the embedded runtime through
//! `Bridge::call` (JSON text in, JSON out, catalogue lookup, argument split,
//! field-named decoding, panic guard) beside the direct typed Rust call. Both run on
//! one current-thread runtime, so the difference is the bridge itself.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use heroa::Client;
use heroa::protocol::RegisterAgent;
use heroa_bridge::Bridge;

fn agents_get(c: &mut Criterion) {
    let tokio = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let client = tokio.block_on(async { Client::embedded(None).unwrap() });
    let agent = tokio
        .block_on(
            client
                .agents()
                .register(RegisterAgent::new("bench", "us-east")),
        )
        .unwrap();
    let bridge = Bridge::new(client.clone());
    let args = format!(r#"{{"agent_id": "{}"}}"#, agent.id);
    let mut g = c.benchmark_group("agents_get");
    g.bench_function("direct_rust", |b| {
        b.iter(|| black_box(tokio.block_on(client.agents().get(&agent.id)).unwrap()))
    });
    g.bench_function("bridge_json", |b| {
        b.iter(|| {
            let v = tokio
                .block_on(bridge.call("agents.get", &args, None))
                .unwrap();
            black_box(serde_json::to_string(&v).unwrap())
        })
    });
    let cancel = heroa_bridge::CancellationToken::new();
    g.bench_function("bridge_json_with_cancel_token", |b| {
        b.iter(|| {
            let v = tokio
                .block_on(bridge.call("agents.get", &args, Some(&cancel)))
                .unwrap();
            black_box(serde_json::to_string(&v).unwrap())
        })
    });
    g.finish();
}

criterion_group!(benches, agents_get);
criterion_main!(benches);
