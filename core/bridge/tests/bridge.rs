//! The bridge as a binding drives it: operations by name on both transports (an
//! embedded runtime, and `heroa serve` on loopback), one error envelope, cancellation,
//! panics kept inside, stream handles, and host callbacks answered from other threads
//! and told when their run is cancelled or their call times out.

use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;

use heroa_bridge::host::{self, HostCall, HostFn};
use heroa_bridge::{Bridge, CancellationToken, ErrorEnvelope};
use heroa_client::Client;
use heroa_protocol::SkillKind;
use heroa_protocol::error::ErrorKind;
use heroa_runtime::{RunContext, Runtime, RuntimeOptions, SkillCall, SkillOutcome};
use secrecy::ExposeSecret;
use serde_json::{Value, json};

const PERMIT_ALL: &str = r#"permit(principal, action == Action::"skill:invoke", resource);"#;

async fn call(b: &Bridge, op: &str, args: Value) -> Result<Value, ErrorEnvelope> {
    b.call(op, &args.to_string(), None).await
}

/// The same scenario on a bridge: register, read, list, a named error, a bad request.
async fn scenario(b: &Bridge) {
    let agent = call(
        b,
        "agents.register",
        json!({"name": "lead-research-v1", "region": "us-east"}),
    )
    .await
    .unwrap();
    let id = agent["id"].as_str().unwrap();
    let again = call(b, "agents.get", json!({"agent_id": id}))
        .await
        .unwrap();
    assert_eq!(again, agent);
    let list = call(b, "agents.list", json!({})).await.unwrap();
    assert_eq!(list["items"][0]["id"], agent["id"]);

    let e = call(
        b,
        "agents.get",
        json!({"agent_id": "ag_01hzzzzzzzzzzzzzzzzzzzzzzz"}),
    )
    .await
    .unwrap_err();
    assert_eq!(e.kind, ErrorKind::NotFound, "{e:?}");
    let e = call(b, "agents.register", json!({"name": "x", "region": "mars"}))
        .await
        .unwrap_err();
    assert_eq!(
        (e.kind, e.field.as_deref()),
        (ErrorKind::InvalidArgument, Some("region"))
    );
    let e = call(
        b,
        "agents.register",
        json!({"name": "x", "region": "us-east", "colour": 1}),
    )
    .await
    .unwrap_err();
    assert_eq!(e.field.as_deref(), Some("colour"), "{e:?}");
    let e = call(b, "agents.update", json!({"agent_id": id, "template": 5}))
        .await
        .unwrap_err();
    assert_eq!(e.field.as_deref(), Some("template"), "{e:?}");
    let e = call(b, "agents.get", json!({})).await.unwrap_err();
    assert_eq!(e.field.as_deref(), Some("agent_id"), "{e:?}");
    // The envelope is JSON a host decodes.
    let text = e.to_json();
    let back: ErrorEnvelope = serde_json::from_str(&text).unwrap();
    assert_eq!(back, e);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operations_by_name_behave_the_same_embedded_and_remote() {
    scenario(&Bridge::new(Client::embedded(None).unwrap())).await;

    let rt = Runtime::open(RuntimeOptions::memory()).unwrap();
    let key = rt.create_api_key(rt.default_workspace()).unwrap();
    let server = heroa_server::Server::start(
        rt,
        "127.0.0.1:0".parse().unwrap(),
        heroa_server::ServeOptions::default(),
    )
    .await
    .unwrap();
    let remote = Client::remote(&server.url(), key.reveal().to_string().into()).unwrap();
    scenario(&Bridge::new(remote)).await;
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn bad_requests_name_what_is_wrong() {
    let b = Bridge::new(Client::embedded(None).unwrap());
    let e = b.call("agents.explode", "{}", None).await.unwrap_err();
    assert_eq!(
        (e.kind, e.field.as_deref()),
        (ErrorKind::InvalidArgument, Some("op"))
    );
    for bad in ["[1]", "{", "{} {}", "\"x\""] {
        let e = b.call("agents.list", bad, None).await.unwrap_err();
        assert_eq!(e.field.as_deref(), Some("body"), "{bad}: {e:?}");
    }
    let e = b
        .call("agents.list", r#"{"limit": 0}"#, None)
        .await
        .unwrap_err();
    assert_eq!(e.field.as_deref(), Some("limit"), "{e:?}");
    let e = b
        .call("agents.list", r#"{"page": 3}"#, None)
        .await
        .unwrap_err();
    assert_eq!(e.field.as_deref(), Some("page"), "{e:?}");
    let e = b
        .call("runs.events", r#"{"run_id": "run_x"}"#, None)
        .await
        .unwrap_err();
    assert!(e.message.contains("stream"), "{e:?}");
    let e = b.stream("agents.list", "{}").await.unwrap_err();
    assert!(e.message.contains("not a stream"), "{e:?}");
    let e = b.call("agents.heroku", "{}", None).await.unwrap_err();
    assert!(e.message.contains("HTTP only"), "{e:?}");
}

#[tokio::test]
async fn a_panic_under_a_call_is_an_internal_error() {
    let r: heroa_protocol::error::Result<()> = heroa_bridge::guarded("agents.get", async {
        panic!("boom while holding sk-secret-value")
    })
    .await;
    let e = r.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Internal);
    assert!(e.message().contains("agents.get"), "{e:?}");
    // The panic's text (which may quote what was being handled) stays out of it.
    assert!(!format!("{e:?} {e}").contains("sk-secret-value"), "{e:?}");
}

/// A runtime whose agent runs `template` at L3 under a permit-all envelope.
async fn agent_with_template(rt: &Runtime, template: &str) -> (Bridge, String) {
    let b = Bridge::new(Client::from_runtime(rt.clone(), None));
    let agent = call(
        &b,
        "agents.register",
        json!({"name": "a", "region": "us-east", "template": template}),
    )
    .await
    .unwrap();
    let id = agent["id"].as_str().unwrap().to_string();
    call(
        &b,
        "policies.create",
        json!({"agent_id": id, "document": PERMIT_ALL}),
    )
    .await
    .unwrap();
    call(
        &b,
        "agents.set_promotion",
        json!({"agent_id": id, "level": "L3_autonomous"}),
    )
    .await
    .unwrap();
    (b, id)
}

/// A template that calls `skill` once (with `timeout_ms` when the input has one) and
/// answers the outcome.
fn calling_template(skill: &'static str) -> HostFn<RunContext> {
    Arc::new(move |call: Arc<HostCall<RunContext>>| {
        tokio::spawn(async move {
            let ctx = call.payload().clone();
            let outcome = match ctx.input.get("timeout_ms").and_then(Value::as_u64) {
                Some(ms) => {
                    ctx.call_with_timeout(skill, json!({"q": 1}), Some(Duration::from_millis(ms)))
                        .await
                }
                None => ctx.call(skill, json!({"q": 1})).await,
            };
            call.respond(match outcome {
                Ok(o) => Ok(serde_json::to_value(o).unwrap()),
                Err(e) => Err(e.to_string()),
            });
        });
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_skill_answers_from_another_thread_and_reads_the_vault() {
    let rt = Runtime::open(RuntimeOptions::memory()).unwrap();
    let (seen_tx, seen_rx) = mpsc::channel::<Arc<HostCall<SkillCall>>>();
    let seen_tx = std::sync::Mutex::new(seen_tx);
    let skill: HostFn<SkillCall> = Arc::new(move |call: Arc<HostCall<SkillCall>>| {
        let keep = call.clone();
        seen_tx.lock().unwrap().send(keep).unwrap();
        std::thread::spawn(move || {
            let token = call.secret("crm_token").unwrap();
            let q = call.args()["q"].clone();
            assert!(call.respond(Ok(
                json!({"q": q, "token_len": token.expose_secret().len()})
            )));
            assert!(
                !call.respond(Ok(json!("twice"))),
                "a second answer is refused"
            );
        });
    });
    rt.register_skill(host::skill("crm:read", SkillKind::Read, skill))
        .unwrap();
    rt.register_template(host::template("one-call", calling_template("crm:read")))
        .unwrap();
    let (b, id) = agent_with_template(&rt, "one-call").await;
    call(
        &b,
        "vault.put",
        json!({"agent_id": id, "key": "crm_token", "value": "s3cr3t-value"}),
    )
    .await
    .unwrap();
    let run = call(&b, "agents.run", json!({"agent_id": id, "input": {}}))
        .await
        .unwrap();
    let done = call(
        &b,
        "runs.wait",
        json!({"run_id": run["id"], "timeout_ms": 10_000}),
    )
    .await
    .unwrap();
    assert_eq!(done["status"], "complete", "{done}");
    assert_eq!(
        done["output"]["output"],
        json!({"q": 1, "token_len": 12}),
        "{done}"
    );
    // After its answer the call can no longer read the vault.
    let call = seen_rx.recv().unwrap();
    assert!(call.is_answered());
    let e = call.secret("crm_token").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::FailedPrecondition);
    assert!(!format!("{done}").contains("s3cr3t-value"));
}

/// A host skill that never answers on its own: it reports when its cancellation
/// fires.
fn stuck_skill(rt: &Runtime, cancelled: mpsc::Sender<()>) {
    let cancelled = std::sync::Mutex::new(cancelled);
    let skill: HostFn<SkillCall> = Arc::new(move |call: Arc<HostCall<SkillCall>>| {
        let tx = cancelled.lock().unwrap().clone();
        let token: CancellationToken = call.cancellation().clone();
        tokio::spawn(async move {
            token.cancelled().await;
            assert!(call.is_cancelled());
            assert!(
                call.secret("anything").is_err(),
                "no vault reads once cancelled"
            );
            let _ = tx.send(());
            call.respond(Ok(json!("too late")));
        });
    });
    rt.register_skill(host::skill("slow:read", SkillKind::Read, skill))
        .unwrap();
}

/// A runtime whose agent runs `one-call` over the stuck skill; the receiver hears
/// of its cancellations. The runtime is returned to keep it alive.
async fn stuck_setup() -> (Runtime, Bridge, String, mpsc::Receiver<()>) {
    let rt = Runtime::open(RuntimeOptions::memory()).unwrap();
    let (tx, rx) = mpsc::channel();
    stuck_skill(&rt, tx);
    rt.register_template(host::template("one-call", calling_template("slow:read")))
        .unwrap();
    let (b, id) = agent_with_template(&rt, "one-call").await;
    (rt, b, id, rx)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_run_signals_its_host_skill() {
    let (_rt, b, id, rx) = stuck_setup().await;
    let run = call(&b, "agents.run", json!({"agent_id": id, "input": {}}))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(rx.try_recv().is_err(), "not cancelled before the run is");
    let ended = call(&b, "runs.cancel", json!({"run_id": run["id"]}))
        .await
        .unwrap();
    assert_eq!(ended["status"], "cancelled", "{ended}");
    rx.recv_timeout(Duration::from_secs(5))
        .expect("the host skill was told its run was cancelled");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timed_out_call_signals_its_host_skill() {
    let (_rt, b, id, rx) = stuck_setup().await;
    let run = call(
        &b,
        "agents.run",
        json!({"agent_id": id, "input": {"timeout_ms": 150}}),
    )
    .await
    .unwrap();
    let done = call(
        &b,
        "runs.wait",
        json!({"run_id": run["id"], "timeout_ms": 10_000}),
    )
    .await
    .unwrap();
    let outcome: SkillOutcome = serde_json::from_value(done["output"].clone()).unwrap();
    assert!(
        matches!(&outcome, SkillOutcome::Failed { error } if error.contains("timed out")),
        "{outcome:?}"
    );
    rx.recv_timeout(Duration::from_secs(5))
        .expect("the host skill was told its call timed out");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancel_token_ends_a_call_and_leaves_the_run_alone() {
    let (_rt, b, id, _rx) = stuck_setup().await;
    let run = call(&b, "agents.run", json!({"agent_id": id, "input": {}}))
        .await
        .unwrap();
    let token = CancellationToken::new();
    let wait = {
        let b = b.clone();
        let token = token.clone();
        let args = json!({"run_id": run["id"], "timeout_ms": 60_000}).to_string();
        tokio::spawn(async move { b.call("runs.wait", &args, Some(&token)).await })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    let started = std::time::Instant::now();
    token.cancel();
    let e = wait.await.unwrap().unwrap_err();
    assert_eq!(e.kind, ErrorKind::Cancelled, "{e:?}");
    assert!(started.elapsed() < Duration::from_secs(2));
    let now = call(&b, "runs.get", json!({"run_id": run["id"]}))
        .await
        .unwrap();
    assert_eq!(
        now["status"], "running",
        "cancelling a wait is not cancelling the run"
    );
    call(&b, "runs.cancel", json!({"run_id": run["id"]}))
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_handle_yields_events_to_done_and_closes_from_another_task() {
    let (_rt, b, id, _rx) = stuck_setup().await;

    // A run that ends: every event, then `done`, then None.
    let run = call(
        &b,
        "agents.run",
        json!({"agent_id": id, "input": {"timeout_ms": 10}}),
    )
    .await
    .unwrap();
    let s = b
        .stream("runs.events", &json!({"run_id": run["id"]}).to_string())
        .await
        .unwrap();
    let mut names = vec![];
    while let Some(ev) = s.next().await.unwrap() {
        names.push(ev["event"].as_str().unwrap().to_string());
    }
    assert_eq!(
        names.first().map(String::as_str),
        Some("run.queued"),
        "{names:?}"
    );
    assert_eq!(names.last().map(String::as_str), Some("done"), "{names:?}");
    assert!(s.next().await.unwrap().is_none());

    // A run that does not end: close() from another task wakes a waiting next().
    let run = call(&b, "agents.run", json!({"agent_id": id, "input": {}}))
        .await
        .unwrap();
    let s = Arc::new(
        b.stream("runs.events", &json!({"run_id": run["id"]}).to_string())
            .await
            .unwrap(),
    );
    let reader = {
        let s = s.clone();
        tokio::spawn(async move {
            let mut n = 0;
            while s.next().await.unwrap().is_some() {
                n += 1;
            }
            n
        })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    s.close();
    let n = tokio::time::timeout(Duration::from_secs(2), reader)
        .await
        .expect("close() ended the waiting next()")
        .unwrap();
    assert!(n >= 1, "saw the events before the close");
    call(&b, "runs.cancel", json!({"run_id": run["id"]}))
        .await
        .unwrap();
}

#[tokio::test]
async fn null_reads_as_absent_but_an_unknown_member_is_refused_even_when_null() {
    let b = Bridge::new(Client::embedded(None).unwrap());
    let agent = b
        .call(
            "agents.register",
            r#"{"name": "n", "region": "us-east", "description": null, "max_steps": null}"#,
            None,
        )
        .await
        .unwrap();
    let id = agent["id"].as_str().unwrap().to_string();
    for bad in [r#"{"0": null}"#, r#"{"description": "d", "nope": null}"#] {
        let args = format!(r#"{{"agent_id": "{id}", {}"#, &bad[1..]);
        let e = b.call("agents.update", &args, None).await.unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidArgument, "{bad}: {e:?}");
        assert!(
            matches!(e.field.as_deref(), Some("0" | "nope")),
            "{bad}: {e:?}"
        );
    }
    let got = b
        .call("agents.get", &format!(r#"{{"agent_id": "{id}"}}"#), None)
        .await
        .unwrap();
    assert_eq!(
        got["description"],
        serde_json::Value::Null,
        "nothing was changed"
    );
}
