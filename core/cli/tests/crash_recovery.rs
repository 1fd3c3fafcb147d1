//! Crash recovery of `heroa serve`, end to end: the real binary as a child process,
//! persisting to a temporary SQLite file on a loopback port, is killed with SIGKILL
//! while runs are being started and executed, then restarted on the same data file.
//!
//! Every run whose start call was acknowledged must survive the crash: it exists, it
//! ends (finished before the crash, resumed from `queued`, or `failed` because it was
//! interrupted while `running`), and its audit chain verifies — on the server and
//! recomputed here.

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use heroa::Client;
use heroa::protocol::{AuditRecord, PromotionLevel, RegisterAgent, Run, RunStatus};
use secrecy::SecretString;
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

const API_KEY: &str = "crash-recovery-test-key-0123456789";
/// Runs started in all.
const TOTAL_RUNS: usize = 200;
/// Start calls in flight at once.
const IN_FLIGHT: usize = 12;
/// Start calls acknowledged before the second half is released.
const FIRST_HALF: usize = TOTAL_RUNS / 2;
/// The kill is sent once this many start calls were acknowledged (the other
/// workers still have requests in flight).
const KILL_AT: usize = FIRST_HALF + 10;
/// Every tenth run sleeps this long: such a run observed `running` is certainly
/// still `running` when the kill arrives a few milliseconds later.
const LONG_SLEEP_MS: u64 = 5_000;
/// Time for the server to answer `GET /v1/health`.
const READY_TIMEOUT: Duration = Duration::from_secs(20);
/// The whole test.
const TEST_TIMEOUT: Duration = Duration::from_secs(55);

/// A `heroa serve` child process; killed (and reaped) when dropped, whatever happens.
struct ServerProcess {
    child: Child,
    url: String,
    log: PathBuf,
}

impl ServerProcess {
    fn spawn(data: &Path, log: PathBuf) -> ServerProcess {
        let port = free_port();
        let stderr = std::fs::File::create(&log).expect("create the server log");
        let child = Command::new(env!("CARGO_BIN_EXE_heroa"))
            .arg("serve")
            .arg("--bind")
            .arg(format!("127.0.0.1:{port}"))
            .arg("--data")
            .arg(data)
            .env("HEROA_API_KEY", API_KEY)
            .env_remove("HEROA_BASE_URL")
            .env_remove("HEROA_DATA")
            .env_remove("HEROA_VAULT_KEY")
            .env_remove("HEROA_SYNC")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .expect("spawn heroa serve");
        ServerProcess {
            child,
            url: format!("http://127.0.0.1:{port}"),
            log,
        }
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Polls `GET /v1/health` until it answers 200; panics after [`READY_TIMEOUT`] or
    /// if the process exits.
    async fn wait_ready(&mut self) {
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(1))
            .build()
            .expect("http client");
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                panic!(
                    "heroa serve exited with {status} before it was ready; its stderr:\n{}",
                    self.log_text()
                );
            }
            if let Ok(resp) = http.get(format!("{}/v1/health", self.url)).send().await
                && resp.status().is_success()
            {
                return;
            }
            if start.elapsed() > READY_TIMEOUT {
                panic!(
                    "heroa serve did not answer GET {}/v1/health within {READY_TIMEOUT:?}; its stderr:\n{}",
                    self.url,
                    self.log_text()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// SIGKILL on unix: no shutdown code runs.
    fn kill(&mut self) {
        self.child.kill().expect("kill heroa serve");
        self.child.wait().expect("reap heroa serve");
    }

    fn client(&self) -> Client {
        Client::remote(&self.url, SecretString::from(API_KEY)).expect("remote client")
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port nothing listens on right now (bound, read, released).
fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral loopback port");
    l.local_addr().expect("local_addr").port()
}

fn is_long(i: usize) -> bool {
    i % 10 == 3
}

/// The input of run `i`: a sleep (20–200 ms, or [`LONG_SLEEP_MS`] for every tenth
/// run), then an echo.
fn input(i: usize) -> Value {
    let ms = if is_long(i) {
        LONG_SLEEP_MS
    } else {
        20 + (i as u64 * 37) % 181
    };
    json!({"calls": [
        {"skill": "heroa:sleep", "args": {"ms": ms}},
        {"skill": "heroa:echo", "args": {"i": i}},
    ]})
}

fn parse_time(s: &str) -> OffsetDateTime {
    OffsetDateTime::parse(s, &Rfc3339).unwrap_or_else(|e| panic!("bad timestamp {s:?}: {e}"))
}

fn counts(runs: &[Run]) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for r in runs {
        *m.entry(r.status.to_string()).or_insert(0) += 1;
    }
    m
}

fn kinds(record: &AuditRecord) -> Vec<&str> {
    record.events.iter().map(|e| e.kind.as_str()).collect()
}

/// What the workers share.
#[derive(Default)]
struct Firing {
    next: AtomicUsize,
    in_flight: AtomicUsize,
    killed: AtomicBool,
    /// (index, run id) of every acknowledged start.
    acked: Mutex<Vec<(usize, String)>>,
    /// Start calls that failed while the server was still alive.
    errors_before_kill: Mutex<Vec<String>>,
    errors_after_kill: AtomicUsize,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_runs_survive_sigkill() {
    tokio::time::timeout(TEST_TIMEOUT, scenario())
        .await
        .unwrap_or_else(|_| panic!("the crash-recovery test took longer than {TEST_TIMEOUT:?}"));
}

async fn scenario() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("heroa.db");

    // 1. Serve.
    let mut server = ServerProcess::spawn(&data, dir.path().join("serve-1.log"));
    server.wait_ready().await;
    let client = server.client();

    // 2. An agent that may call anything, autonomously.
    let agent = client
        .agents()
        .register(RegisterAgent::new("crash-test", "us-east"))
        .await
        .expect("register");
    client
        .policies()
        .create(&agent.id, "permit(principal, action, resource);")
        .await
        .expect("policy");
    client
        .agents()
        .set_promotion(&agent.id, PromotionLevel::L3Autonomous)
        .await
        .expect("promote");

    // 3. Fire the runs: IN_FLIGHT workers take the next index until TOTAL_RUNS; the
    // second half waits for `release`, so the kill can be timed to land while start
    // calls are in flight and a long run is known to be executing.
    let firing = Arc::new(Firing::default());
    let (acks_tx, mut acks_rx) = tokio::sync::watch::channel(0usize);
    let acks_tx = Arc::new(acks_tx);
    let (release_tx, release_rx) = tokio::sync::watch::channel(false);
    let mut workers = Vec::new();
    for _ in 0..IN_FLIGHT {
        let f = firing.clone();
        let c = client.clone();
        let agent_id = agent.id.clone();
        let acks = acks_tx.clone();
        let mut release = release_rx.clone();
        workers.push(tokio::spawn(async move {
            loop {
                let i = f.next.fetch_add(1, Ordering::SeqCst);
                if i >= TOTAL_RUNS {
                    return;
                }
                if i >= FIRST_HALF {
                    let _ = release.wait_for(|r| *r).await;
                }
                if f.killed.load(Ordering::SeqCst) {
                    return;
                }
                f.in_flight.fetch_add(1, Ordering::SeqCst);
                let res = c.agents().run(&agent_id, input(i)).await;
                f.in_flight.fetch_sub(1, Ordering::SeqCst);
                match res {
                    Ok(run) => {
                        f.acked.lock().unwrap().push((i, run.id));
                        acks.send_modify(|n| *n += 1);
                    }
                    Err(_) if f.killed.load(Ordering::SeqCst) => {
                        f.errors_after_kill.fetch_add(1, Ordering::SeqCst);
                        return;
                    }
                    Err(e) => f
                        .errors_before_kill
                        .lock()
                        .unwrap()
                        .push(format!("run {i}: {e}")),
                }
            }
        }));
    }

    // Wait for the first half, then for a long run to be seen executing.
    acks_rx
        .wait_for(|n| *n >= FIRST_HALF)
        .await
        .expect("ack channel");
    let (long_index, long_run) = firing
        .acked
        .lock()
        .unwrap()
        .iter()
        .find(|(i, _)| is_long(*i))
        .cloned()
        .expect("a long run among the first half");
    let seen_running_at = {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let r = client.runs().get(&long_run).await.expect("get long run");
            match r.status {
                RunStatus::Running => break Instant::now(),
                RunStatus::Queued if Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(5)).await
                }
                other => panic!(
                    "long run {long_run} (input {long_index}) is {other}, expected it running; error: {:?}",
                    r.error
                ),
            }
        }
    };
    let before_kill = client
        .runs()
        .list(Some(&agent.id))
        .await
        .expect("list before kill")
        .items;
    let snapshot = counts(&before_kill);

    // Release the second half and kill once a few more were acknowledged.
    release_tx.send_replace(true);
    acks_rx
        .wait_for(|n| *n >= KILL_AT)
        .await
        .expect("ack channel");
    let kill_time = OffsetDateTime::now_utc();
    firing.killed.store(true, Ordering::SeqCst);
    let in_flight_at_kill = firing.in_flight.load(Ordering::SeqCst);
    server.kill();
    let since_seen = seen_running_at.elapsed();
    for w in workers {
        tokio::time::timeout(Duration::from_secs(15), w)
            .await
            .expect("a worker did not finish after the kill")
            .expect("worker panicked");
    }
    let acked = firing.acked.lock().unwrap().clone();
    let errors_before_kill = firing.errors_before_kill.lock().unwrap().clone();
    let errors_after_kill = firing.errors_after_kill.load(Ordering::SeqCst);
    eprintln!(
        "crash test: acknowledged {} of {TOTAL_RUNS}; start calls in flight at the kill: {in_flight_at_kill}; \
         failed after the kill: {errors_after_kill}; run statuses listed just before the second half \
         was released: {snapshot:?}; the kill came {} ms after long run {long_run} was seen running",
        acked.len(),
        since_seen.as_millis(),
    );
    assert!(
        errors_before_kill.is_empty(),
        "start calls failed while the server was alive: {errors_before_kill:#?}"
    );
    assert!(
        acked.len() < TOTAL_RUNS,
        "every run was acknowledged before the kill landed; the kill did not interrupt the stream of starts"
    );
    assert!(
        snapshot.get("running").copied().unwrap_or(0) > 0,
        "no run was running shortly before the kill: {snapshot:?}"
    );
    // The long run was seen running; its 5 s sleep cannot have ended before the kill.
    assert!(
        since_seen < Duration::from_millis(LONG_SLEEP_MS - 1_000),
        "the kill came {since_seen:?} after the long run was seen running; too slow to be sure it was still running"
    );
    drop(client);

    // 4. Restart on the same data file and key (a fresh port, so no late retry of a
    // killed request can reach the new process).
    let mut server = ServerProcess::spawn(&data, dir.path().join("serve-2.log"));
    server.wait_ready().await;
    let restarted_at = Instant::now();
    let client = server.client();
    let http = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("http client");

    let stored = client
        .runs()
        .list(Some(&agent.id))
        .await
        .expect("list after restart")
        .items;
    let after_restart = counts(&stored);
    let acked_ids: std::collections::HashSet<&str> =
        acked.iter().map(|(_, id)| id.as_str()).collect();
    let unacknowledged: Vec<&Run> = stored
        .iter()
        .filter(|r| !acked_ids.contains(r.id.as_str()))
        .collect();

    let mut problems: Vec<String> = Vec::new();
    let (mut interrupted, mut resumed, mut finished_before, mut waited) =
        (0usize, 0usize, 0usize, 0usize);
    let mut final_statuses: BTreeMap<String, usize> = BTreeMap::new();
    let wait_deadline = restarted_at + Duration::from_secs(30);
    // Every acknowledged run, then every run stored without an acknowledgement (its
    // response was lost in the kill): all must end with a valid chain.
    let mut to_check: Vec<(Option<usize>, String)> =
        acked.iter().map(|(i, id)| (Some(*i), id.clone())).collect();
    to_check.extend(unacknowledged.iter().map(|r| (None, r.id.clone())));
    for (index, id) in &to_check {
        let what = match index {
            Some(i) => format!("acknowledged run {id} (input {i})"),
            None => format!("unacknowledged stored run {id}"),
        };
        let mut run = match client.runs().get(id).await {
            Ok(r) => r,
            Err(e) => {
                problems.push(format!("{what} is missing after the restart: {e}"));
                continue;
            }
        };
        if !run.status.is_terminal() {
            waited += 1;
            let left = wait_deadline.saturating_duration_since(Instant::now());
            match client.runs().wait(id, left).await {
                Ok(r) if r.status.is_terminal() => run = r,
                Ok(r) => {
                    problems.push(format!(
                        "{what} is still {} after the restart (wait returned)",
                        r.status
                    ));
                    continue;
                }
                Err(e) => {
                    problems.push(format!("{what} did not end after the restart: {e}"));
                    continue;
                }
            }
        }
        *final_statuses.entry(run.status.to_string()).or_insert(0) += 1;

        // Its audit chain: recomputed here, and verified by the server.
        match client.runs().verify_audit(id).await {
            Ok(v) if v.valid => {}
            Ok(v) => problems.push(format!(
                "{what}: audit chain does not verify (client): broken at {:?}: {:?}",
                v.broken_at, v.reason
            )),
            Err(e) => problems.push(format!("{what}: verify_audit failed: {e}")),
        }
        let server_verdict: Result<Value, String> = async {
            let resp = http
                .get(format!("{}/v1/runs/{id}/audit/verify", server.url))
                .bearer_auth(API_KEY)
                .send()
                .await
                .map_err(|e| e.to_string())?;
            resp.json::<Value>().await.map_err(|e| e.to_string())
        }
        .await;
        match server_verdict {
            Ok(v) if v["valid"] == json!(true) => {}
            other => problems.push(format!(
                "{what}: the server's audit verification: {other:?}"
            )),
        }

        // The chain must tell the same story as the run.
        let record = match client.runs().audit(id).await {
            Ok(r) => r,
            Err(e) => {
                problems.push(format!("{what}: audit failed: {e}"));
                continue;
            }
        };
        let k = kinds(&record);
        let started: Vec<_> = record
            .events
            .iter()
            .filter(|e| e.kind == "run.started")
            .collect();
        if k.first() != Some(&"run.queued") {
            problems.push(format!(
                "{what}: the chain does not start with run.queued: {k:?}"
            ));
        }
        if started.len() > 1 {
            problems.push(format!(
                "{what}: executed more than once (run.started ×{}): {k:?}",
                started.len()
            ));
        }
        let last = k.last().copied().unwrap_or("");
        let is_interrupted = run.status == RunStatus::Failed
            && run
                .error
                .as_deref()
                .is_some_and(|e| e.contains("interrupted"));
        if is_interrupted {
            interrupted += 1;
            if last != "run.interrupted" || started.len() != 1 {
                problems.push(format!("{what}: interrupted, but its chain is {k:?}"));
            }
        } else {
            if last != "run.completed" {
                problems.push(format!(
                    "{what}: {} with error {:?}; its chain ends {last}: {k:?}",
                    run.status, run.error
                ));
            }
            if run.status != RunStatus::Complete {
                problems.push(format!(
                    "{what}: ended {} (error {:?}); expected complete",
                    run.status, run.error
                ));
            } else {
                let results = run
                    .output
                    .as_ref()
                    .and_then(|o| o["results"].as_array())
                    .map(Vec::len);
                if results != Some(2) {
                    problems.push(format!(
                        "{what}: complete, but its output is {:?}",
                        run.output
                    ));
                }
            }
            match started.first() {
                Some(e) if parse_time(&e.at) > kill_time => resumed += 1,
                Some(_) => finished_before += 1,
                None => problems.push(format!("{what}: {} without run.started: {k:?}", run.status)),
            }
        }
        if run.finished_at.is_none() {
            problems.push(format!("{what}: {} without finished_at", run.status));
        }
    }

    eprintln!(
        "crash test: after the restart {} runs stored ({} unacknowledged), statuses at restart {after_restart:?}; \
         final {final_statuses:?}; interrupted {interrupted}, resumed from queued {resumed}, finished before the \
         kill {finished_before}; waited on {waited}",
        stored.len(),
        unacknowledged.len(),
    );
    assert!(
        problems.is_empty(),
        "{} problem(s) after the restart:\n{}",
        problems.len(),
        problems.join("\n")
    );

    // The long run seen executing just before the kill must have ended as interrupted.
    let long = client.runs().get(&long_run).await.expect("long run");
    assert_eq!(
        long.status,
        RunStatus::Failed,
        "long run {long_run}: {long:?}"
    );
    assert!(
        long.error
            .as_deref()
            .is_some_and(|e| e.contains("interrupted")),
        "long run {long_run} should have been interrupted: {:?}",
        long.error
    );
    assert!(interrupted >= 1);

    // The restarted server takes new work.
    let fresh = client
        .agents()
        .run(
            &agent.id,
            json!({"calls": [{"skill": "heroa:echo", "args": {"after": "restart"}}]}),
        )
        .await
        .expect("start after restart");
    let fresh = client
        .runs()
        .wait(&fresh.id, Duration::from_secs(10))
        .await
        .expect("wait after restart");
    assert_eq!(fresh.status, RunStatus::Complete, "{fresh:?}");
    server.kill();
}

/// A persistent app whose `heroa serve` is killed with SIGKILL keeps running (no
/// shutdown code ran); the restarted server stops that leftover before it starts
/// the app afresh, so exactly one copy runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_persistent_app_left_by_a_killed_server_is_replaced_not_duplicated() {
    tokio::time::timeout(TEST_TIMEOUT, app_scenario())
        .await
        .unwrap_or_else(|_| {
            panic!("the app crash-recovery test took longer than {TEST_TIMEOUT:?}")
        });
}

/// The processes carrying deployment `id`.
fn processes_of(id: &str) -> Vec<u32> {
    heroa::executor::processes_with_env(heroa::runtime::DEPLOYMENT_ENV)
        .into_iter()
        .filter(|(_, v)| v == id)
        .map(|(pid, _)| pid)
        .collect()
}

/// Kills what carries these deployment ids when dropped, so a failing test leaves
/// no app running.
struct KillOnDrop(Vec<String>);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        for id in &self.0 {
            for pid in processes_of(id) {
                heroa::executor::kill_process_group(pid);
            }
        }
    }
}

async fn app_scenario() {
    use heroa::protocol::{DeployRequest, DeploymentStatus};
    let mut cleanup = KillOnDrop(Vec::new());

    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("heroa.db");
    let app = dir.path().join("app");
    std::fs::create_dir_all(&app).unwrap();
    std::fs::write(
        app.join("server.py"),
        "import http.server, os, signal\nif os.environ.get('STUBBORN'): signal.signal(signal.SIGTERM, signal.SIG_IGN)\nhttp.server.HTTPServer(('127.0.0.1', int(os.environ['PORT'])), http.server.SimpleHTTPRequestHandler).serve_forever()\n",
    )
    .unwrap();

    let mut server = ServerProcess::spawn(&data, dir.path().join("serve-1.log"));
    server.wait_ready().await;
    let dep = server
        .client()
        .deploy(DeployRequest {
            mode: "app".into(),
            ttl: Some("persistent".into()),
            source: Some(json!({"path": app, "command": ["python3", "server.py"]})),
            ..Default::default()
        })
        .await
        .expect("deploy");
    cleanup.0.push(dep.id.clone());
    let first = processes_of(&dep.id);
    let recorded = server
        .client()
        .deployments()
        .get(&dep.id)
        .await
        .expect("get");
    assert_eq!(first.len(), 1, "one process carries the deployment id");

    // A second app ignores SIGTERM, so its delete waits out the stop grace period:
    // the kill lands after `stopped` is recorded and before the process is gone.
    let stubborn = server
        .client()
        .deploy(DeployRequest {
            mode: "app".into(),
            ttl: Some("persistent".into()),
            source: Some(
                json!({"path": app, "command": ["sh", "-c", "STUBBORN=1 exec python3 server.py"]}),
            ),
            ..Default::default()
        })
        .await
        .expect("deploy the stubborn app");
    cleanup.0.push(stubborn.id.clone());
    let deleting = tokio::spawn({
        let client = server.client();
        let id = stubborn.id.clone();
        async move { client.deployments().delete(&id).await }
    });
    let deadline = Instant::now() + Duration::from_secs(5);
    while server
        .client()
        .deployments()
        .get(&stubborn.id)
        .await
        .expect("get")
        .status
        != DeploymentStatus::Stopped
    {
        assert!(
            Instant::now() < deadline,
            "the delete records `stopped` first"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let stubborn_pids = processes_of(&stubborn.id);
    assert_eq!(stubborn_pids.len(), 1, "still in its grace period");

    server.kill();
    deleting.abort();
    assert_eq!(processes_of(&stubborn.id), stubborn_pids);
    assert_eq!(
        processes_of(&dep.id),
        first,
        "the app outlives a server killed with SIGKILL"
    );

    let mut server = ServerProcess::spawn(&data, dir.path().join("serve-2.log"));
    server.wait_ready().await;
    let client = server.client();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let now = processes_of(&dep.id);
        let restored = client.deployments().get(&dep.id).await.expect("get");
        let status = restored.status;
        // Restored: a new process, and the record saved again (new gateway URL).
        if now.len() == 1
            && now != first
            && status == DeploymentStatus::Running
            && restored.updated_at != recorded.updated_at
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "expected one new process and a restored running deployment; processes {now:?} (first {first:?}), status {status:?}; server log:\n{}",
            server.log_text()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The deleted app's leftover is stopped too, and its deployment stays stopped.
    assert!(processes_of(&stubborn.id).is_empty());
    assert_eq!(
        client
            .deployments()
            .get(&stubborn.id)
            .await
            .expect("get")
            .status,
        DeploymentStatus::Stopped
    );

    client.deployments().delete(&dep.id).await.expect("delete");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !processes_of(&dep.id).is_empty() {
        assert!(
            Instant::now() < deadline,
            "the deleted app's process stopped: {:?} (first {first:?}); {:?}; server log:\n{}",
            processes_of(&dep.id),
            client.deployments().get(&dep.id).await.expect("get"),
            server.log_text()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The Idempotency-Key of a request killed between its write and its answer: the
/// deployment row and the key's "applied" mark commit together, so after a SIGKILL
/// and a restart a retry with the same key is refused (409, the answer is lost) —
/// it does not deploy a second time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retried_idempotency_key_after_sigkill_does_not_create_twice() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("heroa.db");
    let app = dir.path().join("app");
    std::fs::create_dir_all(&app).unwrap();
    std::fs::write(app.join("README"), "never becomes healthy").unwrap();
    let body = json!({"mode": "app", "source": {"path": app, "command": ["sleep", "20"]}});
    let http = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();

    let mut server = ServerProcess::spawn(&data, dir.path().join("first.log"));
    server.wait_ready().await;
    // The deploy waits for a health check that never passes: it is in flight, its
    // deployment row written, when the server is killed.
    let send = |url: String| {
        let http = http.clone();
        let body = body.clone();
        async move {
            http.post(format!("{url}/v1/deployments"))
                .bearer_auth(API_KEY)
                .header("idempotency-key", "deploy-once")
                .json(&body)
                .send()
                .await
        }
    };
    let in_flight = tokio::spawn(send(server.url.clone()));
    let client = server.client();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let page = client.deployments().list().await.unwrap();
        if !page.items.is_empty() {
            break;
        }
        assert!(Instant::now() < deadline, "the deploy never started");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server.kill();
    assert!(in_flight.await.unwrap().is_err(), "the request was cut off");

    let mut server = ServerProcess::spawn(&data, dir.path().join("second.log"));
    server.wait_ready().await;
    let retry = send(server.url.clone())
        .await
        .expect("the retry is answered at once");
    let status = retry.status();
    let answer: Value = retry.json().await.unwrap();
    assert_eq!(status, 409, "{answer}");
    assert_eq!(answer["error"]["field"], "Idempotency-Key", "{answer}");
    let all = server.client().deployments().list().await.unwrap();
    assert_eq!(all.items.len(), 1, "deployed twice: {:?}", all.items);
}
