//! Embedded runtime: cold start to the first successful call, and trivial runs
//! (start + wait) per second, in memory and on a SQLite file.

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use heroa::protocol::{PromotionLevel, RegisterAgent};
use heroa::{Client, Runtime, RuntimeOptions};
use serde_json::json;

fn tokio_rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn cold_start(c: &mut Criterion) {
    let tokio = tokio_rt();
    let mut g = c.benchmark_group("cold_start_to_first_call");
    g.bench_function("memory", |b| {
        b.iter(|| {
            tokio.block_on(async {
                let client = Client::embedded(None).unwrap();
                black_box(
                    client
                        .agents()
                        .register(RegisterAgent::new("a", "us-east"))
                        .await
                        .unwrap(),
                );
            })
        })
    });
    let dir = tempfile::tempdir().unwrap();
    let mut n = 0u64;
    g.bench_function("file", |b| {
        b.iter(|| {
            n += 1;
            let path = dir.path().join(format!("cold-{n}.db"));
            tokio.block_on(async {
                let client = Client::embedded(Some(path)).unwrap();
                black_box(
                    client
                        .agents()
                        .register(RegisterAgent::new("a", "us-east"))
                        .await
                        .unwrap(),
                );
            })
        })
    });
    g.finish();
}

fn trivial_runs(c: &mut Criterion) {
    const BATCH: u64 = 500;
    let tokio = tokio_rt();
    let dir = tempfile::tempdir().unwrap();
    let mut g = c.benchmark_group("trivial_runs");
    g.throughput(Throughput::Elements(BATCH));
    g.measurement_time(Duration::from_secs(8));
    for (name, opts) in [
        ("memory", RuntimeOptions::memory()),
        ("file", RuntimeOptions::file(dir.path().join("runs.db"))),
    ] {
        let (rt, agent) = tokio.block_on(async {
            let rt = Runtime::open(opts).unwrap();
            let ws = rt.default_workspace().to_string();
            let a = rt
                .register_agent(
                    &ws,
                    RegisterAgent {
                        template: Some("noop".into()),
                        ..RegisterAgent::new("bench", "us-east")
                    },
                )
                .unwrap();
            rt.set_promotion(
                &ws,
                &a.id,
                heroa::protocol::SetPromotion {
                    level: PromotionLevel::L3Autonomous.to_string(),
                },
            )
            .unwrap();
            (rt, a.id)
        });
        let client = Client::from_runtime(rt, None);
        g.bench_with_input(
            BenchmarkId::new("start_and_wait", name),
            &agent,
            |b, agent| {
                b.iter(|| {
                    tokio.block_on(async {
                        let mut waits = Vec::with_capacity(BATCH as usize);
                        for _ in 0..BATCH {
                            let run = client.agents().run(agent, json!({})).await.unwrap();
                            let c = client.clone();
                            waits.push(tokio::spawn(async move {
                                c.runs()
                                    .wait(&run.id, Duration::from_secs(30))
                                    .await
                                    .unwrap()
                            }));
                        }
                        for w in waits {
                            black_box(w.await.unwrap());
                        }
                    })
                })
            },
        );
    }
    g.finish();
}

criterion_group!(benches, cold_start, trivial_runs);
criterion_main!(benches);
