//! Paged lists over HTTP: `GET /v1/runs` on `heroa serve` with 27,000 runs on a
//! SQLite file — the first page (the default 100), a page deep in the list (by
//! cursor), and the whole list walked at the largest page size (1,000).
//! `cargo bench -p heroa --bench lists`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use heroa::protocol::{PromotionLevel, RegisterAgent, SetPromotion, StartRun};
use heroa::server::Server;
use heroa::{Runtime, RuntimeOptions};
use serde_json::{Value, json};

const RUNS: usize = 27_000;

fn lists(c: &mut Criterion) {
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (server, key, deep_cursor) = tokio.block_on(async {
        let rt = Runtime::open(RuntimeOptions::file(dir.path().join("lists.db"))).unwrap();
        let ws = rt.default_workspace().to_string();
        let agent = rt
            .register_agent(
                &ws,
                RegisterAgent {
                    template: Some("noop".into()),
                    ..RegisterAgent::new("lists", "us-east")
                },
            )
            .unwrap();
        rt.set_promotion(
            &ws,
            &agent.id,
            SetPromotion {
                level: PromotionLevel::L3Autonomous.to_string(),
            },
        )
        .unwrap();
        let mut ids = Vec::with_capacity(RUNS);
        for chunk in 0..RUNS / 500 {
            let mut batch = Vec::new();
            for _ in 0..500 {
                batch.push(
                    rt.start_run(&ws, &agent.id, StartRun { input: json!({}) })
                        .unwrap()
                        .id,
                );
            }
            for id in &batch {
                rt.wait_run(&ws, id, Duration::from_secs(60)).await.unwrap();
            }
            ids.extend(batch);
            black_box(chunk);
        }
        let key = rt.create_api_key(&ws).unwrap().reveal().to_string();
        let server = Server::start(rt, "127.0.0.1:0".parse().unwrap(), Default::default())
            .await
            .unwrap();
        (server, key, ids[RUNS / 2].clone())
    });
    let http = reqwest::Client::new();
    let get = |path: String| {
        let req = http
            .get(format!("{}{path}", server.url()))
            .bearer_auth(&key);
        async move {
            let bytes = req.send().await.unwrap().bytes().await.unwrap();
            let v: Value = serde_json::from_slice(&bytes).unwrap();
            (bytes.len(), v)
        }
    };
    let (first_bytes, _) = tokio.block_on(get("/v1/runs".into()));
    eprintln!("first page: {first_bytes} bytes");

    let mut g = c.benchmark_group("list_runs_27k");
    g.bench_function("first_page_default_100", |b| {
        b.iter(|| black_box(tokio.block_on(get("/v1/runs".into()))))
    });
    g.bench_function("page_of_100_at_the_middle", |b| {
        b.iter(|| black_box(tokio.block_on(get(format!("/v1/runs?cursor={deep_cursor}")))))
    });
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(20));
    g.bench_function("every_page_of_1000", |b| {
        b.iter(|| {
            tokio.block_on(async {
                let (mut total, mut n) = (0usize, 0usize);
                let mut cursor: Option<String> = None;
                loop {
                    let path = match &cursor {
                        None => "/v1/runs?limit=1000".to_string(),
                        Some(c) => format!("/v1/runs?limit=1000&cursor={c}"),
                    };
                    let (bytes, page) = get(path).await;
                    total += bytes;
                    n += page["items"].as_array().unwrap().len();
                    match page["next_cursor"].as_str() {
                        Some(c) => cursor = Some(c.to_string()),
                        None => break,
                    }
                }
                assert_eq!(n, RUNS);
                black_box(total)
            })
        })
    });
    g.finish();
}

criterion_group!(benches, lists);
criterion_main!(benches);
