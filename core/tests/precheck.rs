//! The pre-check answers exactly what the runtime decides — for a sub-agent too,
//! whose calls must pass every ancestor's envelope — on both transports: the
//! pre-check's explanation of a denial is the reason the runtime records when the
//! same call is blocked in a real run.

use std::time::Duration;

use heroa::policy::{AgentInfo, CheckRequest, SkillInfo, SkillKind as PolicySkillKind};
use heroa::protocol::*;
use heroa::server::{ServeOptions, Server};
use heroa::{Client, Runtime, RuntimeOptions, Skill};
use serde_json::json;

const PARENT_POLICY: &str = r#"permit(principal, action == Action::"skill:invoke", resource)
    when { resource.name == "crm:read" };"#;
const PERMIT_ALL: &str = "permit(principal, action, resource);";

fn runtime() -> Runtime {
    let rt = Runtime::open(RuntimeOptions::memory()).unwrap();
    for (name, kind) in [
        ("crm:read", SkillKind::Read),
        ("crm:write", SkillKind::Write),
    ] {
        rt.register_skill(Skill::new(name, kind, |_| async {
            Ok(json!({"ok": true}))
        }))
        .unwrap();
    }
    rt
}

fn request(agent: &Agent, skill: &str, kind: PolicySkillKind) -> CheckRequest {
    CheckRequest {
        agent: AgentInfo::from(agent),
        skill: SkillInfo {
            name: skill.into(),
            kind,
            external: false,
            cost_usd: 0.0,
        },
        run_cost_usd: 0.0,
        context: Default::default(),
    }
}

async fn scenario(c: &Client) {
    let parent = c
        .agents()
        .register(RegisterAgent::new("parent", "us-east"))
        .await
        .unwrap();
    c.policies()
        .create(&parent.id, PARENT_POLICY)
        .await
        .unwrap();
    c.agents()
        .set_promotion(&parent.id, PromotionLevel::L3Autonomous)
        .await
        .unwrap();
    let dep = c
        .deploy(DeployRequest {
            mode: "agent".into(),
            template: Some("batch-processor".into()),
            parent_agent_id: Some(parent.id.clone()),
            ..Default::default()
        })
        .await
        .unwrap();
    let child_id = dep.handle.unwrap();
    // The sub-agent's own envelope would allow anything.
    c.policies().create(&child_id, PERMIT_ALL).await.unwrap();
    let child = c
        .agents()
        .update(
            &child_id,
            UpdateAgent {
                template: Some("sequence".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let child = c
        .agents()
        .set_promotion(&child.id, PromotionLevel::L3Autonomous)
        .await
        .unwrap();

    let engine = c.policies().precheck(&child.id).await.unwrap().unwrap();
    assert_eq!(engine.ancestors().len(), 1);
    let read = engine.check(&request(&child, "crm:read", PolicySkillKind::Read));
    assert!(read.allowed, "{}", read.explain());
    let write = engine.check(&request(&child, "crm:write", PolicySkillKind::Write));
    assert!(
        !write.allowed,
        "the parent's envelope does not permit crm:write"
    );
    let by = write.denied_by.clone().expect("denied by the parent");
    assert_eq!(by.agent_id, parent.id);

    // The runtime blocks the same call with the same words.
    let run = c
        .agents()
        .run(
            &child.id,
            json!({"calls": [{"skill": "crm:read"}, {"skill": "crm:write"}]}),
        )
        .await
        .unwrap();
    let run = c
        .runs()
        .wait(&run.id, Duration::from_secs(20))
        .await
        .unwrap();
    assert_eq!(run.status, RunStatus::Partial, "{:?}", run.output);
    let audit = c.runs().audit(&run.id).await.unwrap();
    let blocked = audit
        .events
        .iter()
        .find(|e| e.kind == "action.blocked")
        .expect("the write was blocked");
    assert_eq!(blocked.data["reason"], write.explain());
    assert_eq!(
        blocked.data["decision"]["denied_by"]["agent_id"],
        parent.id.as_str()
    );

    // The parent's own pre-check is unchanged: no ancestors.
    let parent_engine = c.policies().precheck(&parent.id).await.unwrap().unwrap();
    assert!(parent_engine.ancestors().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sub_agents_precheck_is_the_runtimes_decision_on_both_transports() {
    scenario(&Client::from_runtime(runtime(), None)).await;

    let rt = runtime();
    let key = rt.create_api_key(rt.default_workspace()).unwrap();
    let server = Server::start(rt, "127.0.0.1:0".parse().unwrap(), ServeOptions::default())
        .await
        .unwrap();
    let remote = Client::remote(&server.url(), key.reveal().to_string().into()).unwrap();
    scenario(&remote).await;
    server.shutdown().await.unwrap();
}
