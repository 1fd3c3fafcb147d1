//! The onboarding guide, "Onboard an agent in ten minutes", steps 1–6 on the embedded runtime:
//! register an identity, choose a region, bind a credential, set the policy
//! envelope, run in L0 shadow (nothing written), promote, run, and print status,
//! cost and the audit URL. No account, no network.
//!
//! Run: `cargo run --example onboarding` (set HEROA_DATA=path to persist).

use std::time::Duration;

use heroa::protocol::{PromotionLevel, RegisterAgent, SkillKind, Usd, VaultPut};
use heroa::{Client, RunContext, Skill, Template};
use secrecy::SecretString;
use serde_json::{Value, json};

/// The policy of the onboarding guide step 4, exactly as written there.
const SEED_POLICY: &str = r#"
    permit(principal, action == Action::"skill:invoke", resource)
    when {
      resource.name in ["hubspot:contact:read", "hubspot:contact:enrich"]
      && context.run_cost_usd < 0.50
    };
"#;

fn register_host_code(client: &Client) -> heroa::Result<()> {
    let rt = client.runtime().expect("embedded client");
    // Skills: what the agent may do. Real code would call HubSpot here.
    rt.register_skill(
        Skill::new("hubspot:contact:read", SkillKind::Read, |call| async move {
            let list = call.args["list_id"].as_str().unwrap_or("").to_string();
            Ok(json!({"list_id": list, "contacts": ["c-101", "c-102", "c-103"]}))
        })
        .external(true)
        .cost_usd(Usd::cents(2)),
    )?;
    rt.register_skill(
        Skill::new("hubspot:contact:enrich", SkillKind::Write, |call| async move {
            let token = call.secret("hubspot_token").map_err(|e| e.to_string())?;
            let _ = token; // the skill authenticates with it; it never leaves the skill
            Ok(json!({"contact": call.args["contact"], "employees": 420, "industry": "logistics"}))
        })
        .external(true)
        .cost_usd(Usd::cents(5)),
    )?;
    rt.register_skill(
        Skill::new("slack:post", SkillKind::Write, |_| async move {
            Ok(json!({"ok": true}))
        })
        .external(true)
        .cost_usd(Usd::cents(1)),
    )?;
    // The agent's run loop.
    rt.register_template(Template::new(
        "lead-research",
        |ctx: RunContext| async move {
            let list = ctx.input["hubspot_list_id"].clone();
            let read = ctx
                .call("hubspot:contact:read", json!({"list_id": list}))
                .await
                .map_err(|e| e.to_string())?;
            let contacts: Vec<Value> = match read.output() {
                Some(out) => out["contacts"].as_array().cloned().unwrap_or_default(),
                // L0 shadow: the external read was recorded, not made; use a dry-run list.
                None => vec![json!("c-shadow")],
            };
            let mut enriched = Vec::new();
            for c in &contacts {
                let r = ctx
                    .call("hubspot:contact:enrich", json!({"contact": c}))
                    .await
                    .map_err(|e| e.to_string())?;
                enriched.push(json!(r));
            }
            // Not in the envelope: blocked, audited, not charged; the run ends `partial`.
            let post = ctx
                .call(
                    "slack:post",
                    json!({"channel": "#leads", "text": "enriched"}),
                )
                .await
                .map_err(|e| e.to_string())?;
            Ok(json!({"contacts": contacts.len(), "enriched": enriched, "slack": post}))
        },
    ))?;
    Ok(())
}

#[tokio::main]
async fn main() -> heroa::Result<()> {
    let client = Client::embedded(std::env::var_os("HEROA_DATA").map(Into::into))?;
    register_host_code(&client)?;

    // Step 1 + 2: register a stable identity in a region.
    let agent = client
        .agents()
        .register(RegisterAgent {
            description: Some("Enriches CRM leads with firmographic data. Runs nightly.".into()),
            runtime: Some("r1".into()),
            template: Some("lead-research".into()),
            ..RegisterAgent::new(
                format!("lead-research-{}", &heroa::ids::ulid()[20..]),
                "us-east",
            )
        })
        .await?;
    println!("step 1  agent registered: {} ({})", agent.id, agent.name);
    println!(
        "step 2  region: {} (fixed for the life of this identity)",
        agent.region
    );

    // Step 3: bind a credential. The value never comes back; the fingerprint does.
    let token =
        std::env::var("HUBSPOT_PRIVATE_APP_TOKEN").unwrap_or_else(|_| "pat-demo-0000".into());
    let entry = client
        .vault()
        .put(
            VaultPut::agent(&agent.id, "hubspot_token", SecretString::from(token))
                .description("HubSpot private-app token for lead-research agent"),
        )
        .await?;
    println!(
        "step 3  vault entry {} fingerprint {}",
        entry.key, entry.fingerprint
    );

    // Step 4: the policy envelope, exactly as the docs write it.
    let policy = client.policies().create(&agent.id, SEED_POLICY).await?;
    println!(
        "step 4  policy {} v{} ({} translation(s) to plain Cedar)",
        policy.id,
        policy.version,
        policy.translations.len()
    );
    for t in &policy.translations {
        println!(
            "          line {} col {}: {} -> {}",
            t.line, t.column, t.original, t.translated
        );
    }

    // Step 5: L0 shadow first — runs fully, writes nothing, no external calls.
    client
        .agents()
        .set_promotion(&agent.id, PromotionLevel::L0Shadow)
        .await?;
    let run = client
        .agents()
        .run(&agent.id, json!({"hubspot_list_id": "hs-list-007"}))
        .await?;
    let shadow = client
        .runs()
        .wait(&run.id, Duration::from_secs(120))
        .await?;
    println!(
        "step 5  L0 shadow run {}: {} — {} shadowed, {} executed, {} blocked, cost ${}",
        shadow.id,
        shadow.status,
        shadow.actions_shadowed,
        shadow.actions_executed,
        shadow.actions_blocked,
        shadow.cost_usd
    );

    // Promote after reviewing the audit trace.
    client
        .agents()
        .set_promotion(&agent.id, PromotionLevel::L1Notify)
        .await?;
    println!("        promoted to L1_notify");

    // Step 6: run and wait.
    let run = client
        .agents()
        .run(&agent.id, json!({"hubspot_list_id": "hs-list-007"}))
        .await?;
    let result = client
        .runs()
        .wait(&run.id, Duration::from_secs(120))
        .await?;
    println!("step 6  run {}", result.id);
    println!("        status    {}", result.status);
    println!("        cost_usd  {}", result.cost_usd);
    println!("        audit_url {}", result.audit_url);
    let verified = client.runs().verify_audit(&result.id).await?;
    println!(
        "        audit chain: {} events, valid = {}",
        verified.events, verified.valid
    );
    let inbox = client.workspace().inbox().await?;
    if let Some(n) = inbox.items.last() {
        println!("        inbox: {}", n.message);
    }
    Ok(())
}
