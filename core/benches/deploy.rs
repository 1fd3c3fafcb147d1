//! Deploy latency: an agent-mode deploy (a sub-agent, its envelope and its handle),
//! and an app deploy of a tiny HTTP server until its URL is healthy — a minimal raw
//! socket server and Python's `http.server`, both started with `python3`.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use heroa::Client;
use heroa::protocol::DeployRequest;
use serde_json::json;

const RAW_SERVER: &str = r#"import os, socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(os.environ["PORT"]))); s.listen(64)
while True:
    c, _ = s.accept(); c.recv(65536)
    c.sendall(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok"); c.close()
"#;

const HTTP_SERVER: &str = r#"import http.server, os
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200); self.end_headers(); self.wfile.write(b"ok")
    def log_message(self, *a): pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), H).serve_forever()
"#;

fn tokio_rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn agent_mode(c: &mut Criterion) {
    let tokio = tokio_rt();
    let client = tokio.block_on(async { Client::embedded(None).unwrap() });
    c.bench_function("deploy/agent_mode", |b| {
        b.iter(|| {
            tokio.block_on(async {
                black_box(
                    client
                        .deploy(DeployRequest {
                            mode: "agent".into(),
                            template: Some("batch-processor".into()),
                            ttl: Some("30m".into()),
                            ..Default::default()
                        })
                        .await
                        .unwrap(),
                )
            })
        })
    });
}

fn app_mode(c: &mut Criterion) {
    let tokio = tokio_rt();
    let dir = tempfile::tempdir().unwrap();
    let client = tokio.block_on(async { Client::embedded(None).unwrap() });
    let mut g = c.benchmark_group("deploy/app_to_healthy_url");
    g.sample_size(20).measurement_time(Duration::from_secs(10));
    for (name, code) in [
        ("raw_socket_server", RAW_SERVER),
        ("python_http_server", HTTP_SERVER),
    ] {
        let app = dir.path().join(name);
        std::fs::create_dir_all(&app).unwrap();
        std::fs::write(app.join("server.py"), code).unwrap();
        let source = json!({"path": app, "command": ["python3", "server.py"]});
        // Start the gateway (and its CA) once, outside the measurement.
        tokio.block_on(async { client.runtime().unwrap().gateway_addr().await.unwrap() });
        g.bench_function(name, |b| {
            b.iter_custom(|iters| {
                tokio.block_on(async {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        let start = Instant::now();
                        let dep = client
                            .deploy(DeployRequest {
                                mode: "app".into(),
                                source: Some(source.clone()),
                                ttl: Some("15m".into()),
                                ..Default::default()
                            })
                            .await
                            .unwrap();
                        total += start.elapsed();
                        client.deployments().delete(&dep.id).await.unwrap();
                    }
                    total
                })
            })
        });
    }
    g.finish();
}

criterion_group!(benches, agent_mode, app_mode);
criterion_main!(benches);
