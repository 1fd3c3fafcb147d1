//! The behaviour suite: every scenario runs twice, against the embedded transport and
//! against `heroa serve` on loopback, through the same `Client` API.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use heroa::clock::Clock;
use heroa::protocol::*;
use heroa::server::{ServeOptions, Server};
use heroa::{Client, ErrorKind, Runtime, RuntimeOptions, Skill};
use secrecy::SecretString;
use serde_json::{Value, json};

const SEED_POLICY: &str = r#"
    permit(principal, action == Action::"skill:invoke", resource)
    when {
      resource.name in ["hubspot:contact:read", "hubspot:contact:enrich"]
      && context.run_cost_usd < 0.50
    };
"#;
const PERMIT_ALL: &str = "permit(principal, action, resource);";
const SECRET: &str = "sk-live-SUPERSECRET-0123456789";
const WAIT: Duration = Duration::from_secs(20);

#[derive(Clone, Copy)]
enum Kind {
    Embedded,
    Remote,
}

struct Env {
    kind: Kind,
    client: Client,
    rt: Runtime,
    clock: Clock,
    writes: Arc<AtomicUsize>,
    _server: Option<Server>,
}

impl Env {
    async fn new(kind: Kind) -> Env {
        let clock = Clock::manual(1_780_000_000_000);
        let rt = Runtime::open(RuntimeOptions::memory().clock(clock.clone())).unwrap();
        let writes = Arc::new(AtomicUsize::new(0));
        register_skills(&rt, writes.clone());
        let (client, server) = Env::client_in(kind, &rt, rt.default_workspace()).await;
        Env {
            kind,
            client,
            rt,
            clock,
            writes,
            _server: server,
        }
    }

    /// A client acting in workspace `ws` over this env's transport.
    async fn client_in(kind: Kind, rt: &Runtime, ws: &str) -> (Client, Option<Server>) {
        match kind {
            Kind::Embedded => (Client::from_runtime(rt.clone(), Some(ws)), None),
            Kind::Remote => {
                let key = rt.create_api_key(ws).unwrap();
                let server = Server::start(
                    rt.clone(),
                    "127.0.0.1:0".parse().unwrap(),
                    ServeOptions::default(),
                )
                .await
                .unwrap();
                let client =
                    Client::remote(&server.url(), SecretString::from(key.reveal().to_string()))
                        .unwrap();
                (client, Some(server))
            }
        }
    }

    async fn agent(&self, name: &str, level: PromotionLevel, policy: Option<&str>) -> Agent {
        let a = self
            .client
            .agents()
            .register(RegisterAgent::new(name, "us-east"))
            .await
            .unwrap();
        if let Some(p) = policy {
            self.client.policies().create(&a.id, p).await.unwrap();
        }
        self.client
            .agents()
            .set_promotion(&a.id, level)
            .await
            .unwrap()
    }

    async fn run(&self, agent: &Agent, calls: Value) -> Run {
        let run = self
            .client
            .agents()
            .run(&agent.id, json!({ "calls": calls }))
            .await
            .unwrap();
        self.client.runs().wait(&run.id, WAIT).await.unwrap()
    }

    async fn pending_approval(&self) -> Approval {
        for _ in 0..400 {
            let list = self.client.approvals().list(Some("pending")).await.unwrap();
            if let Some(a) = list.items.into_iter().next() {
                return a;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("no approval was requested");
    }
}

fn register_skills(rt: &Runtime, writes: Arc<AtomicUsize>) {
    rt.register_skill(
        Skill::new("hubspot:contact:read", SkillKind::Read, |c| async move {
            Ok(json!({"read": c.args}))
        })
        .cost_usd(Usd::cents(25)),
    )
    .unwrap();
    rt.register_skill(
        Skill::new("hubspot:contact:enrich", SkillKind::Write, |_| async move {
            Ok(json!({"enriched": true}))
        })
        .cost_usd(Usd::cents(5)),
    )
    .unwrap();
    rt.register_skill(Skill::new("slack:post", SkillKind::Write, |_| async move {
        Ok(json!({"ok": true}))
    }))
    .unwrap();
    rt.register_skill(
        Skill::new("web:fetch", SkillKind::Read, |_| async move {
            Ok(json!({"status": 200}))
        })
        .external(true),
    )
    .unwrap();
    let w = writes.clone();
    rt.register_skill(
        Skill::new("crm:write", SkillKind::Write, move |_| {
            let w = w.clone();
            async move {
                w.fetch_add(1, Ordering::SeqCst);
                Ok(json!({"written": true}))
            }
        })
        .cost_usd(Usd::cents(10)),
    )
    .unwrap();
    rt.register_skill(Skill::new(
        "leaky:echo-secret",
        SkillKind::Read,
        |c| async move {
            let s = c.secret("api_token").map_err(|e| e.to_string())?;
            use secrecy::ExposeSecret;
            Ok(json!({"token": s.expose_secret(), "note": format!("token={}", s.expose_secret())}))
        },
    ))
    .unwrap();
    rt.register_skill(Skill::new(
        "leaky:fail-with-secret",
        SkillKind::Read,
        |c| async move {
            let s = c.secret("api_token").map_err(|e| e.to_string())?;
            use secrecy::ExposeSecret;
            Err(format!("upstream rejected token {}", s.expose_secret()))
        },
    ))
    .unwrap();
    rt.register_skill(Skill::new("boom:panic", SkillKind::Read, |_| async move {
        if true {
            panic!("skill bug");
        }
        Ok(Value::Null)
    }))
    .unwrap();
}

macro_rules! both {
    ($($name:ident),* $(,)?) => { $(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn embedded() { super::$name(super::Env::new(super::Kind::Embedded).await).await }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn remote() { super::$name(super::Env::new(super::Kind::Remote).await).await }
        }
    )* };
}

both!(
    seed_policy_permits_blocks_and_stops_at_half_a_dollar,
    no_policy_means_every_call_is_blocked,
    l0_shadow_executes_no_write_and_no_external_call,
    l1_notify_posts_to_the_inbox,
    l2_holds_a_write_until_approved,
    l2_skips_a_write_on_deny,
    l2_skips_a_write_when_the_window_lapses,
    l4_needs_enterprise_and_soc2,
    region_is_validated_and_immutable,
    free_tier_limits,
    workspaces_are_isolated,
    vault_values_never_come_back,
    invalid_cedar_is_rejected_with_positions_and_nothing_is_stored,
    bad_ids_and_fields_are_named,
    precheck_gives_the_runtimes_decision,
    failing_and_panicking_skills_fail_only_their_call,
    wait_times_out_and_cancel_ends_a_run,
    agents_crud_and_policy_versions,
);

async fn seed_policy_permits_blocks_and_stops_at_half_a_dollar(env: Env) {
    let agent = env
        .agent(
            "lead-research-v1",
            PromotionLevel::L3Autonomous,
            Some(SEED_POLICY),
        )
        .await;
    let read = json!({"skill": "hubspot:contact:read", "args": {"id": 1}});
    let run = env
        .run(&agent, json!([read, read, read, {"skill": "slack:post", "args": {}}, {"skill": "hubspot:contact:enrich"}]))
        .await;
    // 0.00 and 0.25 are under 0.50: two reads run; at 0.50 the third is blocked, as
    // are slack:post (not in the list) and enrich (cost reached 0.50).
    assert_eq!(run.status, RunStatus::Partial);
    assert_eq!(run.actions_executed, 2);
    assert_eq!(run.actions_blocked, 3);
    assert!(
        run.cost_usd == Usd::cents(50),
        "blocked calls are free: {}",
        run.cost_usd
    );
    let results = run.output.as_ref().unwrap()["results"]
        .as_array()
        .unwrap()
        .clone();
    let outcomes: Vec<&str> = results
        .iter()
        .map(|r| r["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(
        outcomes,
        ["executed", "executed", "blocked", "blocked", "blocked"]
    );

    let audit = env.client.runs().audit(&run.id).await.unwrap();
    let blocked: Vec<&AuditEvent> = audit
        .events
        .iter()
        .filter(|e| e.kind == "action.blocked")
        .collect();
    assert_eq!(blocked.len(), 3);
    assert_eq!(blocked[1].data["skill"], "slack:post");
    assert!(env.client.runs().verify_audit(&run.id).await.unwrap().valid);

    // A run of only forbidden calls is `blocked` and costs nothing.
    let run = env.run(&agent, json!([{"skill": "slack:post"}])).await;
    assert_eq!(run.status, RunStatus::Blocked);
    assert_eq!(run.cost_usd, Usd::ZERO);
}

async fn no_policy_means_every_call_is_blocked(env: Env) {
    let agent = env
        .agent("nopolicy", PromotionLevel::L3Autonomous, None)
        .await;
    let run = env
        .run(&agent, json!([{"skill": "heroa:echo", "args": {}}]))
        .await;
    assert_eq!(run.status, RunStatus::Blocked);
    let audit = env.client.runs().audit(&run.id).await.unwrap();
    let ev = audit
        .events
        .iter()
        .find(|e| e.kind == "action.blocked")
        .unwrap();
    assert!(
        ev.data["reason"]
            .as_str()
            .unwrap()
            .contains("no policy envelope")
    );
    // A run that calls nothing completes.
    assert_eq!(env.run(&agent, json!([])).await.status, RunStatus::Complete);
}

async fn l0_shadow_executes_no_write_and_no_external_call(env: Env) {
    let agent = env
        .agent("shadow", PromotionLevel::L0Shadow, Some(PERMIT_ALL))
        .await;
    let run = env
        .run(
            &agent,
            json!([{"skill": "heroa:echo", "args": {"a": 1}}, {"skill": "crm:write"}, {"skill": "web:fetch"}]),
        )
        .await;
    assert_eq!(run.status, RunStatus::Complete);
    assert_eq!(run.promotion, PromotionLevel::L0Shadow);
    assert_eq!((run.actions_executed, run.actions_shadowed), (1, 2));
    assert_eq!(
        env.writes.load(Ordering::SeqCst),
        0,
        "L0 must not execute a write skill"
    );
    assert_eq!(run.cost_usd, Usd::ZERO);
    let audit = env.client.runs().audit(&run.id).await.unwrap();
    let shadowed: Vec<&str> = audit
        .events
        .iter()
        .filter(|e| e.kind == "skill.shadowed")
        .map(|e| e.data["skill"].as_str().unwrap())
        .collect();
    assert_eq!(shadowed, ["crm:write", "web:fetch"]);
}

async fn l1_notify_posts_to_the_inbox(env: Env) {
    let agent = env
        .agent("notify", PromotionLevel::L1Notify, Some(PERMIT_ALL))
        .await;
    let run = env.run(&agent, json!([{"skill": "crm:write"}])).await;
    assert_eq!(run.status, RunStatus::Complete);
    assert_eq!(env.writes.load(Ordering::SeqCst), 1);
    let inbox = env.client.workspace().inbox().await.unwrap();
    assert_eq!(inbox.items.len(), 1);
    assert_eq!(inbox.items[0].run_id, run.id);
}

async fn l2_holds_a_write_until_approved(env: Env) {
    let agent = env
        .agent("approver", PromotionLevel::L2Approve, Some(PERMIT_ALL))
        .await;
    let run = env
        .client
        .agents()
        .run(&agent.id, json!({"calls": [{"skill": "heroa:echo"}, {"skill": "crm:write", "args": {"deal": 7}}]}))
        .await
        .unwrap();
    let approval = env.pending_approval().await;
    assert_eq!(approval.run_id, run.id);
    assert_eq!(approval.skill, "crm:write");
    assert_eq!(approval.args, json!({"deal": 7}));
    assert_eq!(
        approval.expires_at,
        heroa::clock::format_ms(
            heroa::clock::parse_rfc3339(&approval.requested_at).unwrap() + 24 * 3600 * 1000
        )
    );
    assert_eq!(
        env.client.runs().get(&run.id).await.unwrap().status,
        RunStatus::Running
    );
    assert_eq!(
        env.writes.load(Ordering::SeqCst),
        0,
        "held writes do not run"
    );
    let decided = env
        .client
        .approvals()
        .approve(&approval.id, Some("ops@example.com"))
        .await
        .unwrap();
    assert_eq!(decided.status, ApprovalStatus::Approved);
    let done = env.client.runs().wait(&run.id, WAIT).await.unwrap();
    assert_eq!(done.status, RunStatus::Complete);
    assert_eq!(env.writes.load(Ordering::SeqCst), 1);
    // Deciding twice is a conflict.
    let err = env
        .client
        .approvals()
        .deny(&approval.id, None)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict);
    let audit = env.client.runs().audit(&run.id).await.unwrap();
    let kinds: Vec<&str> = audit.events.iter().map(|e| e.kind.as_str()).collect();
    assert!(
        kinds.contains(&"approval.requested") && kinds.contains(&"approval.approved"),
        "{kinds:?}"
    );
}

async fn l2_skips_a_write_on_deny(env: Env) {
    let agent = env
        .agent("denier", PromotionLevel::L2Approve, Some(PERMIT_ALL))
        .await;
    let run = env
        .client
        .agents()
        .run(&agent.id, json!({"calls": [{"skill": "crm:write"}]}))
        .await
        .unwrap();
    let approval = env.pending_approval().await;
    env.client
        .approvals()
        .deny(&approval.id, Some("ops"))
        .await
        .unwrap();
    let done = env.client.runs().wait(&run.id, WAIT).await.unwrap();
    assert_eq!(done.status, RunStatus::Partial);
    assert_eq!(done.actions_skipped, 1);
    assert_eq!(done.cost_usd, Usd::ZERO);
    assert_eq!(env.writes.load(Ordering::SeqCst), 0);
}

async fn l2_skips_a_write_when_the_window_lapses(env: Env) {
    let agent = env
        .agent("lapser", PromotionLevel::L2Approve, Some(PERMIT_ALL))
        .await;
    let run = env
        .client
        .agents()
        .run(&agent.id, json!({"calls": [{"skill": "crm:write"}]}))
        .await
        .unwrap();
    let approval = env.pending_approval().await;
    env.clock.advance(Duration::from_secs(24 * 3600));
    let done = env.client.runs().wait(&run.id, WAIT).await.unwrap();
    assert_eq!(done.status, RunStatus::Partial);
    assert_eq!(done.actions_skipped, 1);
    assert_eq!(env.writes.load(Ordering::SeqCst), 0);
    let a = env.client.approvals().get(&approval.id).await.unwrap();
    assert_eq!(a.status, ApprovalStatus::Expired);
    let err = env
        .client
        .approvals()
        .approve(&approval.id, None)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err.kind(),
            ErrorKind::Conflict | ErrorKind::FailedPrecondition
        ),
        "{err:?}"
    );
}

async fn l4_needs_enterprise_and_soc2(env: Env) {
    let agent = env
        .agent("trusted", PromotionLevel::L3Autonomous, None)
        .await;
    let err = env
        .client
        .agents()
        .set_promotion(&agent.id, PromotionLevel::L4Trusted)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::TierLimit);
    assert_eq!(err.field(), Some("level"));

    let ws = env.rt.create_workspace("corp", Tier::Enterprise).unwrap();
    let (corp, _s) = Env::client_in(env.kind, &env.rt, &ws.id).await;
    let a = corp
        .agents()
        .register(RegisterAgent::new("trusted", "eu-west"))
        .await
        .unwrap();
    let err = corp
        .agents()
        .set_promotion(&a.id, PromotionLevel::L4Trusted)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::FailedPrecondition);
    assert!(err.message().contains("SOC 2"));
    assert!(
        corp.workspace()
            .accept_soc2()
            .await
            .unwrap()
            .soc2_accepted_at
            .is_some()
    );
    let a = corp
        .agents()
        .set_promotion(&a.id, PromotionLevel::L4Trusted)
        .await
        .unwrap();
    assert_eq!(a.promotion, PromotionLevel::L4Trusted);
    let err = env.client.workspace().accept_soc2().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::TierLimit);
}

async fn region_is_validated_and_immutable(env: Env) {
    let err = env
        .client
        .agents()
        .register(RegisterAgent::new("x", "mars-north"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    assert_eq!(err.field(), Some("region"));
    for r in [
        "us-east",
        "us-west",
        "eu-west",
        "asia-pacific",
        "bc-sovereign",
    ] {
        assert!(err.message().contains(r), "{}", err.message());
    }
    let a = env
        .client
        .agents()
        .register(RegisterAgent::new("x", "bc-sovereign"))
        .await
        .unwrap();
    let err = env
        .client
        .agents()
        .update(
            &a.id,
            UpdateAgent {
                region: Some("us-east".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::FailedPrecondition);
    assert_eq!(err.field(), Some("region"));
    assert_eq!(
        env.client.agents().get(&a.id).await.unwrap().region,
        Region::BcSovereign
    );
    // Restating the same region is fine.
    let same = env
        .client
        .agents()
        .update(
            &a.id,
            UpdateAgent {
                region: Some("bc-sovereign".into()),
                description: Some("d".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(same.description.as_deref(), Some("d"));
    let err = env
        .client
        .agents()
        .register(RegisterAgent {
            runtime: Some("r2".into()),
            ..RegisterAgent::new("y", "us-east")
        })
        .await
        .unwrap_err();
    assert_eq!(err.field(), Some("runtime"));
}

async fn free_tier_limits(env: Env) {
    let ws = env.rt.create_workspace("hobby", Tier::Free).unwrap();
    let (free, _s) = Env::client_in(env.kind, &env.rt, &ws.id).await;
    let a = free
        .agents()
        .register(RegisterAgent::new("one", "us-east"))
        .await
        .unwrap();
    let err = free
        .agents()
        .register(RegisterAgent::new("two", "us-east"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::TierLimit);
    assert_eq!(free.agents().list().await.unwrap().items.len(), 1);
    let err = free
        .vault()
        .put(VaultPut::workspace(
            "shared",
            SecretString::from("v".to_string()),
        ))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::TierLimit);
    assert_eq!(err.field(), Some("scope"));
    // Agent scope is fine on free; workspace scope is fine on team.
    free.vault()
        .put(VaultPut::agent(
            &a.id,
            "k",
            SecretString::from("v".to_string()),
        ))
        .await
        .unwrap();
    let e = env
        .client
        .vault()
        .put(VaultPut::workspace(
            "shared",
            SecretString::from("v".to_string()),
        ))
        .await
        .unwrap();
    assert_eq!(e.scope, VaultScope::Workspace);
}

async fn workspaces_are_isolated(env: Env) {
    let agent = env
        .agent("mine", PromotionLevel::L3Autonomous, Some(PERMIT_ALL))
        .await;
    let entry = env
        .client
        .vault()
        .put(VaultPut::agent(
            &agent.id,
            "k",
            SecretString::from("v".to_string()),
        ))
        .await
        .unwrap();
    let run = env.run(&agent, json!([])).await;
    let policy = env
        .client
        .policies()
        .list(Some(&agent.id))
        .await
        .unwrap()
        .items
        .remove(0);

    let ws = env.rt.create_workspace("other", Tier::Team).unwrap();
    let (other, _s) = Env::client_in(env.kind, &env.rt, &ws.id).await;
    assert_eq!(
        other.agents().get(&agent.id).await.unwrap_err().kind(),
        ErrorKind::NotFound
    );
    assert_eq!(
        other.runs().get(&run.id).await.unwrap_err().kind(),
        ErrorKind::NotFound
    );
    assert_eq!(
        other.runs().audit(&run.id).await.unwrap_err().kind(),
        ErrorKind::NotFound
    );
    assert_eq!(
        other.vault().get(&entry.id).await.unwrap_err().kind(),
        ErrorKind::NotFound
    );
    assert_eq!(
        other.policies().get(&policy.id).await.unwrap_err().kind(),
        ErrorKind::NotFound
    );
    assert_eq!(
        other
            .agents()
            .run(&agent.id, json!({}))
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::NotFound
    );
    assert_eq!(
        other.agents().delete(&agent.id).await.unwrap_err().kind(),
        ErrorKind::NotFound
    );
    assert!(other.agents().list().await.unwrap().items.is_empty());
    assert!(other.runs().list(None).await.unwrap().items.is_empty());
    assert!(other.vault().list(None).await.unwrap().items.is_empty());
    // The same name can exist in both workspaces.
    other
        .agents()
        .register(RegisterAgent::new("mine", "us-east"))
        .await
        .unwrap();
    assert!(env.client.agents().get(&agent.id).await.is_ok());
}

async fn vault_values_never_come_back(env: Env) {
    let agent = env
        .agent("vaulted", PromotionLevel::L3Autonomous, Some(PERMIT_ALL))
        .await;
    let put = VaultPut::agent(
        &agent.id,
        "api_token",
        SecretString::from(SECRET.to_string()),
    )
    .description("d");
    assert!(!format!("{put:?}").contains(SECRET));
    let entry = env.client.vault().put(put).await.unwrap();
    assert_eq!(entry.version, 1);
    assert_eq!(entry.fingerprint, hex_sha256(SECRET));
    let mut seen = vec![serde_json::to_string(&entry).unwrap(), format!("{entry:?}")];
    seen.push(serde_json::to_string(&env.client.vault().list(None).await.unwrap()).unwrap());
    seen.push(serde_json::to_string(&env.client.vault().get(&entry.id).await.unwrap()).unwrap());
    let rotated = env
        .client
        .vault()
        .rotate(&entry.id, SecretString::from(format!("{SECRET}-v2")))
        .await
        .unwrap();
    assert_eq!(rotated.version, 2);
    assert_ne!(rotated.fingerprint, entry.fingerprint);
    let rotated = env
        .client
        .vault()
        .rotate(&entry.id, SecretString::from(SECRET.to_string()))
        .await
        .unwrap();
    seen.push(serde_json::to_string(&rotated).unwrap());

    let run = env
        .run(
            &agent,
            json!([{"skill": "leaky:echo-secret"}, {"skill": "leaky:fail-with-secret"}]),
        )
        .await;
    assert_eq!(run.actions_executed, 2);
    let out = serde_json::to_string(&run).unwrap();
    assert!(out.contains("[REDACTED]"), "{out}");
    seen.push(out);
    seen.push(serde_json::to_string(&env.client.runs().audit(&run.id).await.unwrap()).unwrap());
    seen.push(format!(
        "{:?}",
        env.client.runs().get(&run.id).await.unwrap()
    ));
    for s in &seen {
        assert!(!s.contains(SECRET), "secret leaked: {s}");
    }
    env.client.vault().delete(&entry.id).await.unwrap();
    assert_eq!(
        env.client.vault().get(&entry.id).await.unwrap_err().kind(),
        ErrorKind::NotFound
    );
    // After deletion the skill can no longer read it.
    let run = env
        .run(&agent, json!([{"skill": "leaky:echo-secret"}]))
        .await;
    let r = &run.output.unwrap()["results"][0];
    assert_eq!(r["outcome"], "failed");
    assert!(r["error"].as_str().unwrap().contains("api_token"));
}

fn hex_sha256(s: &str) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(s.as_bytes()))
}

async fn invalid_cedar_is_rejected_with_positions_and_nothing_is_stored(env: Env) {
    let agent = env.agent("cedar", PromotionLevel::L3Autonomous, None).await;
    let bad = "permit(principal, action, resource)\nwhen { context.run_cost_usd < 0.5 }\nforbid(principal, action, resource);";
    let err = env
        .client
        .policies()
        .create(&agent.id, bad)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    assert_eq!(err.field(), Some("document"));
    let diags = &err.details().unwrap()["diagnostics"];
    assert!(diags.as_array().is_some_and(|d| !d.is_empty()), "{diags}");
    assert!(
        diags[0]["line"].as_u64().is_some() && diags[0]["column"].as_u64().is_some(),
        "{diags}"
    );
    assert!(
        env.client
            .policies()
            .list(Some(&agent.id))
            .await
            .unwrap()
            .items
            .is_empty()
    );
    let err = env
        .client
        .policies()
        .create(&agent.id, "")
        .await
        .unwrap_err();
    assert_eq!(err.field(), Some("document"));
    let p = env
        .client
        .policies()
        .create(&agent.id, SEED_POLICY)
        .await
        .unwrap();
    assert_eq!(p.document, SEED_POLICY);
    assert!(p.cedar.contains("decimal(\"0.50\")"), "{}", p.cedar);
    assert_eq!(p.translations.len(), 3);
}

async fn bad_ids_and_fields_are_named(env: Env) {
    for (res, field) in [
        (
            env.client.agents().get("nope").await.map(|_| ()),
            "agent_id",
        ),
        (
            env.client
                .runs()
                .get("ag_01hzxk0000000000000000000a")
                .await
                .map(|_| ()),
            "run_id",
        ),
        (env.client.vault().get("x").await.map(|_| ()), "vault_id"),
        (
            env.client.policies().get("po_x").await.map(|_| ()),
            "policy_id",
        ),
        (
            env.client.approvals().get("apr_?").await.map(|_| ()),
            "approval_id",
        ),
        (
            env.client
                .agents()
                .register(RegisterAgent::new("", "us-east"))
                .await
                .map(|_| ()),
            "name",
        ),
        (
            env.client
                .agents()
                .register(RegisterAgent::new("bad name", "us-east"))
                .await
                .map(|_| ()),
            "name",
        ),
        (
            env.client
                .vault()
                .put(VaultPut::agent(
                    "ag_01hzxk00000000000000000000",
                    "k",
                    SecretString::from(String::new()),
                ))
                .await
                .map(|_| ()),
            "value",
        ),
        (
            env.client.approvals().list(Some("maybe")).await.map(|_| ()),
            "status",
        ),
    ] {
        let err = res.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err:?}");
        assert_eq!(err.field(), Some(field), "{err:?}");
    }
    assert!(env.client.agents().list().await.unwrap().items.is_empty());
    let err = env
        .client
        .agents()
        .get("ag_01hzxk00000000000000000000")
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
}

async fn precheck_gives_the_runtimes_decision(env: Env) {
    let agent = env
        .agent(
            "prechecked",
            PromotionLevel::L3Autonomous,
            Some(SEED_POLICY),
        )
        .await;
    let engine = env
        .client
        .policies()
        .precheck(&agent.id)
        .await
        .unwrap()
        .expect("a policy is set");
    use heroa::policy::{AgentInfo, CheckRequest, SkillInfo as PSkill, SkillKind as PKind};
    let ask = |skill: &str, kind: PKind, cost: f64| {
        engine
            .check(&CheckRequest {
                agent: AgentInfo {
                    id: agent.id.clone(),
                    name: agent.name.clone(),
                    region: agent.region.to_string(),
                    promotion: agent.promotion.to_string(),
                },
                skill: PSkill {
                    name: skill.into(),
                    kind,
                    external: false,
                    cost_usd: 0.25,
                },
                run_cost_usd: cost,
                context: Default::default(),
            })
            .allowed
    };
    assert!(ask("hubspot:contact:read", PKind::Read, 0.0));
    assert!(ask("hubspot:contact:read", PKind::Read, 0.25));
    assert!(!ask("hubspot:contact:read", PKind::Read, 0.5));
    assert!(!ask("slack:post", PKind::Write, 0.0));
    // The runtime agrees call by call.
    let read = json!({"skill": "hubspot:contact:read"});
    let run = env
        .run(&agent, json!([read, read, read, {"skill": "slack:post"}]))
        .await;
    let outcomes: Vec<String> = run.output.unwrap()["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["outcome"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(outcomes, ["executed", "executed", "blocked", "blocked"]);
    let none = env.agent("unset", PromotionLevel::L0Shadow, None).await;
    assert!(
        env.client
            .policies()
            .precheck(&none.id)
            .await
            .unwrap()
            .is_none()
    );
}

async fn failing_and_panicking_skills_fail_only_their_call(env: Env) {
    let agent = env
        .agent("robust", PromotionLevel::L3Autonomous, Some(PERMIT_ALL))
        .await;
    let run = env
        .run(&agent, json!([{"skill": "boom:panic"}, {"skill": "no:such-skill"}, {"skill": "heroa:echo", "args": {"ok": 1}}]))
        .await;
    assert_eq!(run.status, RunStatus::Complete);
    let r = run.output.unwrap()["results"].as_array().unwrap().clone();
    assert_eq!(r[0]["outcome"], "failed");
    assert_eq!(r[1]["outcome"], "failed");
    assert!(r[1]["error"].as_str().unwrap().contains("unknown skill"));
    assert_eq!(r[2]["output"], json!({"ok": 1}));
    // A malformed input fails the run with a clear error, and it is audited.
    let run = env
        .client
        .agents()
        .run(&agent.id, json!({"calls": "nope"}))
        .await
        .unwrap();
    let run = env.client.runs().wait(&run.id, WAIT).await.unwrap();
    assert_eq!(run.status, RunStatus::Failed);
    assert!(run.error.unwrap().contains("input.calls"));
    assert!(env.client.runs().verify_audit(&run.id).await.unwrap().valid);
}

async fn wait_times_out_and_cancel_ends_a_run(env: Env) {
    let agent = env
        .agent("slow", PromotionLevel::L3Autonomous, Some(PERMIT_ALL))
        .await;
    let run = env
        .client
        .agents()
        .run(
            &agent.id,
            json!({"calls": [{"skill": "heroa:sleep", "args": {"ms": 30000}}]}),
        )
        .await
        .unwrap();
    let err = env
        .client
        .runs()
        .wait(&run.id, Duration::from_millis(200))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout);
    let cancelled = env.client.runs().cancel(&run.id).await.unwrap();
    assert_eq!(cancelled.status, RunStatus::Cancelled);
    let again = env.client.runs().cancel(&run.id).await.unwrap();
    assert_eq!(again.status, RunStatus::Cancelled);
    let audit = env.client.runs().audit(&run.id).await.unwrap();
    assert_eq!(audit.events.last().unwrap().data["status"], "cancelled");
    assert!(env.client.runs().verify_audit(&run.id).await.unwrap().valid);
}

async fn agents_crud_and_policy_versions(env: Env) {
    let a = env
        .client
        .agents()
        .register(RegisterAgent::new("crud", "asia-pacific"))
        .await
        .unwrap();
    assert!(a.id.starts_with("ag_"));
    assert_eq!(a.runtime, "r1");
    assert_eq!(a.promotion, PromotionLevel::L0Shadow);
    assert_eq!(a.template, "sequence");
    let dup = env
        .client
        .agents()
        .register(RegisterAgent::new("crud", "us-east"))
        .await
        .unwrap_err();
    assert_eq!(dup.kind(), ErrorKind::Conflict);
    let err = env
        .client
        .agents()
        .update(
            &a.id,
            UpdateAgent {
                template: Some("nope".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(err.field(), Some("template"));
    let p1 = env
        .client
        .policies()
        .create(&a.id, PERMIT_ALL)
        .await
        .unwrap();
    let p2 = env
        .client
        .policies()
        .create(&a.id, SEED_POLICY)
        .await
        .unwrap();
    assert_eq!((p1.version, p2.version), (1, 2));
    // The newest version is in force: echo is no longer permitted.
    env.client
        .agents()
        .set_promotion(&a.id, PromotionLevel::L3Autonomous)
        .await
        .unwrap();
    let run = env.run(&a, json!([{"skill": "heroa:echo"}])).await;
    assert_eq!(run.status, RunStatus::Blocked);
    assert_eq!(
        env.client
            .runs()
            .list(Some(&a.id))
            .await
            .unwrap()
            .items
            .len(),
        1
    );
    env.client.agents().delete(&a.id).await.unwrap();
    assert_eq!(
        env.client.agents().get(&a.id).await.unwrap_err().kind(),
        ErrorKind::NotFound
    );
    // Runs and their audit outlive the agent.
    assert!(env.client.runs().verify_audit(&run.id).await.unwrap().valid);
}
