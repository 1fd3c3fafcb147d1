//! A spend ceiling holds under concurrency: calls decided at the same time see each
//! other's price (reserved when allowed, settled when the skill ran, released when
//! it did not), so a
//! `batch-processor` at concurrency 8 runs no more paid calls than one at a time.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use heroa::protocol::*;
use heroa::{Client, Skill};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_calls_cannot_overshoot_the_spend_ceiling() {
    let c = Client::embedded(None).unwrap();
    let rt = c.runtime().unwrap().clone();
    let ran = Arc::new(AtomicUsize::new(0));
    let r = ran.clone();
    rt.register_skill(
        Skill::new("paid", SkillKind::Read, move |_| {
            let r = r.clone();
            async move {
                r.fetch_add(1, Ordering::SeqCst);
                // Long enough for all eight calls to be decided while these run.
                tokio::time::sleep(Duration::from_millis(200)).await;
                Ok(json!({"ok": true}))
            }
        })
        .cost_usd(Usd::cents(3)),
    )
    .unwrap();
    let agent = c
        .agents()
        .register(RegisterAgent {
            template: Some("batch-processor".into()),
            ..RegisterAgent::new("spender", "us-east")
        })
        .await
        .unwrap();
    c.policies()
        .create(
            &agent.id,
            "permit(principal, action, resource) when { context.run_cost_usd < 0.05 };",
        )
        .await
        .unwrap();
    c.agents()
        .set_promotion(&agent.id, PromotionLevel::L3Autonomous)
        .await
        .unwrap();
    let started = c
        .agents()
        .run(
            &agent.id,
            json!({"items": [1, 2, 3, 4, 5, 6, 7, 8], "task": "paid", "concurrency": 8}),
        )
        .await
        .unwrap();
    let run = c
        .runs()
        .wait(&started.id, Duration::from_secs(20))
        .await
        .unwrap();
    // One at a time: $0 → allowed, $0.03 → allowed, $0.06 → blocked (and so on).
    assert_eq!(ran.load(Ordering::SeqCst), 2, "{run:?}");
    assert_eq!(
        (run.actions_executed, run.actions_blocked),
        (2, 6),
        "{run:?}"
    );
    assert_eq!(run.cost_usd, Usd::cents(6));
    assert_eq!(run.status, RunStatus::Partial);

    // An allowed call that does not run (shadowed at L0) releases its reservation:
    // the calls after it in the same run see nothing spent.
    rt.register_skill(
        Skill::new("paid:external", SkillKind::Read, |_| async move {
            Ok(json!({"ok": true}))
        })
        .cost_usd(Usd::cents(3))
        .external(true),
    )
    .unwrap();
    c.agents()
        .set_promotion(&agent.id, PromotionLevel::L0Shadow)
        .await
        .unwrap();
    let shadow = c
        .agents()
        .run(
            &agent.id,
            json!({"items": [1, 2, 3], "task": "paid:external", "concurrency": 1}),
        )
        .await
        .unwrap();
    let shadow = c
        .runs()
        .wait(&shadow.id, Duration::from_secs(20))
        .await
        .unwrap();
    assert_eq!(
        (shadow.actions_shadowed, shadow.actions_blocked),
        (3, 0),
        "{shadow:?}"
    );
    assert_eq!(shadow.cost_usd, Usd::ZERO);
}
