//! Pre-check latency: one `PolicyEngine::check` against a cached envelope of
//! 10 policies (4 documents), with a realistic skill-call request; the same
//! checks through cedar-policy's `Authorizer` (`check_cedar`, what `check`
//! falls back to) for comparison.
//!
//! Run: `cargo bench --bench policy_precheck -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use heroa::policy::{AgentInfo, CheckRequest, PolicyEngine, SkillInfo, SkillKind, compile};
use serde_json::json;

const SEED: &str = r#"permit(principal, action == Action::"skill:invoke", resource)
when {
  resource.name in ["hubspot:contact:read", "hubspot:contact:enrich"]
  && context.run_cost_usd < 0.50
};
"#;

const GUARDS: &str = r#"// Production agents only, and never from outside the EU.
forbid(principal, action, resource)
unless { principal.promotion == "prod" || resource.kind == "read" };

forbid(principal, action, resource)
unless { principal.region in ["eu-west-1", "eu-central-1", "eu-north-1"] };

// Writes to external systems need a human in the loop.
forbid(principal, action, resource)
when { resource.kind == "write" && resource.external && !(context has approved_by) };
"#;

const BUDGET: &str = r#"forbid(principal, action, resource)
when { context.run_cost_usd > 5 };

forbid(principal, action, resource)
when { context has daily_spend_usd && context.daily_spend_usd >= 25.00 };

permit(principal, action == Action::"skill:invoke", resource)
when { resource.kind == "read" && resource.cost_usd <= 0.05 && context.attempt < 3 };
"#;

const TOOLS: &str = r##"permit(principal, action == Action::"skill:invoke", resource)
when {
  resource.name in ["slack:post", "gmail:send", "notion:page:update"]
  && context.channel in ["#sales", "#ops"]
  && context.run_cost_usd <= 1.25
};

forbid(principal in Group::"quarantined", action, resource);

permit(principal, action == Action::"skill:invoke", resource)
when { resource.name like "search:*" && context.tags.contains("research") };
"##;

fn build_engine() -> PolicyEngine {
    let docs = [
        ("po_01hzdocument000000000000", SEED),
        ("po_01hzguards00000000000000", GUARDS),
        ("po_01hzbudget0000000000000", BUDGET),
        ("po_01hztools00000000000000", TOOLS),
    ];
    let engine = PolicyEngine::new(&docs).expect("valid envelope");
    assert_eq!(engine.policy_count(), 10);
    engine
}

fn request() -> CheckRequest {
    let context = json!({
        "attempt": 1,
        "channel": "#sales",
        "daily_spend_usd": 3.75,
        "tags": ["crm", "enrichment"],
        "run_id": "run_01hzq3v7k2m9",
        "trace": {"parent": "run_01hzq3v7k2m8", "depth": 2},
    });
    let serde_json::Value::Object(context) = context else {
        unreachable!()
    };
    CheckRequest {
        agent: AgentInfo {
            id: "ag_01hzq3v7k2m9x4".to_string(),
            name: "crm-enricher".to_string(),
            region: "eu-west-1".to_string(),
            promotion: "prod".to_string(),
        },
        skill: SkillInfo {
            name: "hubspot:contact:read".to_string(),
            kind: SkillKind::Read,
            external: true,
            cost_usd: 0.002,
        },
        run_cost_usd: 0.37,
        context,
    }
}

fn bench(c: &mut Criterion) {
    let engine = build_engine();
    let allowed = request();
    let decision = engine.check(&allowed);
    assert!(decision.allowed, "{}", decision.explain());
    assert!(decision.errors.is_empty(), "{:?}", decision.errors);

    let mut denied = request();
    denied.skill.name = "slack:post".to_string();
    denied.skill.kind = SkillKind::Write;
    assert!(!engine.check(&denied).allowed);
    for request in [&allowed, &denied] {
        assert_eq!(engine.check(request), engine.check_cedar(request));
    }

    c.bench_function("policy_check_allow_10_policies", |b| {
        b.iter(|| engine.check(black_box(&allowed)))
    });
    c.bench_function("policy_check_deny_10_policies", |b| {
        b.iter(|| engine.check(black_box(&denied)))
    });
    c.bench_function("policy_check_allow_10_policies_cedar", |b| {
        b.iter(|| engine.check_cedar(black_box(&allowed)))
    });
    c.bench_function("policy_check_deny_10_policies_cedar", |b| {
        b.iter(|| engine.check_cedar(black_box(&denied)))
    });
    // Every iteration a run cost never seen before (on the Cedar path it
    // would miss the engine's decimal cache).
    let mut fresh = request();
    c.bench_function("policy_check_allow_10_policies_new_run_cost", |b| {
        b.iter(|| {
            fresh.run_cost_usd += 0.0001;
            if fresh.run_cost_usd >= 0.49 {
                fresh.run_cost_usd = 0.0;
            }
            engine.check(black_box(&fresh))
        })
    });
    // An eleventh policy that errors on this request (no `ticket_usd` in the
    // context, no `has` guard): the check is answered through Cedar, for its
    // error text.
    let erroring = PolicyEngine::new(&[
        ("po_01hzdocument000000000000", SEED),
        ("po_01hzguards00000000000000", GUARDS),
        ("po_01hzbudget0000000000000", BUDGET),
        ("po_01hztools00000000000000", TOOLS),
        (
            "po_01hzticket0000000000000",
            "forbid(principal, action, resource) when { context.ticket_usd > 100.0 };",
        ),
    ])
    .expect("valid envelope");
    let decision = erroring.check(&allowed);
    assert!(
        decision.allowed && decision.errors.len() == 1,
        "{decision:?}"
    );
    c.bench_function("policy_check_allow_11_policies_one_erroring", |b| {
        b.iter(|| erroring.check(black_box(&allowed)))
    });
    c.bench_function("policy_compile_seed", |b| {
        b.iter(|| compile(black_box(SEED)))
    });
    c.bench_function("policy_engine_new_10_policies", |b| b.iter(build_engine));
}

criterion_group!(benches, bench);
criterion_main!(benches);
