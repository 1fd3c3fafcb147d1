//! Unit tests: real Cedar evaluation, no mocks.

use super::*;
use serde_json::{Map, Value, json};

/// The policy exactly as the product docs show it (indented as in the docs).
const SEED: &str = r#"    permit(principal, action == Action::"skill:invoke", resource)
    when {
      resource.name in ["hubspot:contact:read", "hubspot:contact:enrich"]
      && context.run_cost_usd < 0.50
    };
"#;

const VECTORS: &str = include_str!("../../../tests/vectors/policy/decisions.json");

fn agent() -> AgentInfo {
    AgentInfo {
        id: "ag_01hzq3v7k2".to_string(),
        name: "crm-enricher".to_string(),
        region: "eu-west-1".to_string(),
        promotion: "prod".to_string(),
    }
}

fn skill(name: &str, kind: SkillKind, external: bool, cost_usd: f64) -> SkillInfo {
    SkillInfo {
        name: name.to_string(),
        kind,
        external,
        cost_usd,
    }
}

fn request(name: &str, run_cost_usd: f64) -> CheckRequest {
    CheckRequest {
        agent: agent(),
        skill: skill(name, SkillKind::Read, true, 0.01),
        run_cost_usd,
        context: Map::new(),
    }
}

fn with_context(mut req: CheckRequest, context: Value) -> CheckRequest {
    let Value::Object(map) = context else {
        panic!("context must be an object")
    };
    req.context = map;
    req
}

fn engine(docs: &[(&str, &str)]) -> PolicyEngine {
    match PolicyEngine::new(docs) {
        Ok(engine) => engine,
        Err(e) => panic!("engine: {e}"),
    }
}

/// `engine.check(request)`, asserting that it equals cedar-policy's answer
/// (`check_cedar`) and that the compiled evaluator gave it whenever Cedar
/// reports no error (with an error, the check must have gone through Cedar).
pub(super) fn check(engine: &PolicyEngine, request: &CheckRequest) -> Decision {
    let cedar = engine.check_cedar(request);
    let compiled = engine.check_compiled(request);
    assert!(engine.is_compiled(), "the envelope should compile");
    if cedar.errors.is_empty() {
        assert_eq!(
            compiled.as_ref(),
            Some(&cedar),
            "compiled vs Cedar: {request:?}"
        );
    } else {
        assert_eq!(
            compiled, None,
            "Cedar reports {:?}: {request:?}",
            cedar.errors
        );
    }
    let decision = engine.check(request);
    assert_eq!(decision, cedar);
    decision
}

fn reason_ids(decision: &Decision) -> Vec<&str> {
    decision
        .reasons
        .iter()
        .map(|r| r.policy_id.as_str())
        .collect()
}

fn diagnostics(document: &str) -> Vec<Diagnostic> {
    match compile(document) {
        Err(PolicyError::Invalid { diagnostics }) => diagnostics,
        other => panic!("expected invalid document, got {other:?}"),
    }
}

fn positions(diagnostics: &[Diagnostic]) -> Vec<(u32, u32)> {
    diagnostics.iter().map(|d| (d.line, d.column)).collect()
}

// ---------------------------------------------------------------- seed policy

#[test]
fn seed_policy_decisions() {
    let engine = engine(&[("po_01hzseed", SEED)]);
    for cost in [0.0, 0.49] {
        let d = check(&engine, &request("hubspot:contact:read", cost));
        assert!(d.allowed, "run cost {cost}: {}", d.explain());
        assert_eq!(reason_ids(&d), ["po_01hzseed#0"]);
        assert_eq!(d.reasons[0].document_id, "po_01hzseed");
        assert_eq!(d.reasons[0].effect, Effect::Permit);
        assert_eq!(d.reasons[0].line, 1);
        assert!(d.errors.is_empty(), "{:?}", d.errors);
        assert_eq!(d.explain(), "permitted by po_01hzseed#0 (line 1)");
    }
    for cost in [0.50, 0.51] {
        let d = check(&engine, &request("hubspot:contact:read", cost));
        assert!(!d.allowed, "run cost {cost}");
        assert!(d.reasons.is_empty());
        assert!(d.errors.is_empty(), "{:?}", d.errors);
    }
    let d = check(&engine, &request("hubspot:contact:enrich", 0.2));
    assert!(d.allowed);
    let d = check(&engine, &request("slack:post", 0.0));
    assert!(!d.allowed);
    assert!(d.reasons.is_empty());
    assert_eq!(
        d.explain(),
        r#"no policy permits skill:invoke on Skill::"slack:post""#
    );
}

#[test]
fn seed_policy_translations() {
    let compiled = compile(SEED).expect("seed compiles");
    assert_eq!(compiled.policy_count, 1);
    let expected_cedar = r#"    permit(principal, action == Action::"skill:invoke", resource)
    when {
      ["hubspot:contact:read", "hubspot:contact:enrich"].contains(resource.name)
      && context.run_cost_usd.lessThan(decimal("0.50"))
    };
"#;
    assert_eq!(compiled.cedar, expected_cedar);
    assert_eq!(
        compiled.translations,
        vec![
            Translation {
                line: 3,
                column: 7,
                original: r#"resource.name in ["hubspot:contact:read", "hubspot:contact:enrich"]"#
                    .to_string(),
                translated:
                    r#"["hubspot:contact:read", "hubspot:contact:enrich"].contains(resource.name)"#
                        .to_string(),
                rule: TranslationRule::SetMembership,
            },
            Translation {
                line: 4,
                column: 10,
                original: "context.run_cost_usd < 0.50".to_string(),
                translated: r#"context.run_cost_usd.lessThan(decimal("0.50"))"#.to_string(),
                rule: TranslationRule::DecimalComparison,
            },
            Translation {
                line: 4,
                column: 33,
                original: "0.50".to_string(),
                translated: r#"decimal("0.50")"#.to_string(),
                rule: TranslationRule::DecimalLiteral,
            },
        ]
    );
    // Positions point at the original text.
    let lines: Vec<&str> = SEED.lines().collect();
    for t in &compiled.translations {
        let line = lines[t.line as usize - 1];
        let at: String = line.chars().skip(t.column as usize - 1).collect();
        assert!(at.starts_with(&t.original), "{t:?}");
    }
    let json = serde_json::to_value(&compiled.translations[0]).expect("serialize");
    assert_eq!(json["rule"], "set_membership");
    assert_eq!(json["line"], 3);
}

#[test]
fn seed_policy_unindented_means_the_same() {
    let text: String = SEED
        .lines()
        .map(|l| format!("{}\n", l.trim_start()))
        .collect();
    let engine = engine(&[("po_x", &text)]);
    assert!(check(&engine, &request("hubspot:contact:read", 0.49)).allowed);
    assert!(!check(&engine, &request("hubspot:contact:read", 0.5)).allowed);
}

// ---------------------------------------------------------- forbid and permit

#[test]
fn forbid_beats_permit() {
    let guard = "// reads are fine\n\
                 permit(principal, action, resource);\n\
                 \n\
                 // no external writes\n\
                 forbid(principal, action, resource)\n\
                 when { resource.kind == \"write\" && resource.external };\n";
    let engine = engine(&[
        (
            "po_01hzallow",
            "permit(principal, action == Action::\"skill:invoke\", resource);",
        ),
        ("po_01hzguard", guard),
    ]);
    assert_eq!(engine.policy_count(), 3);
    let mut req = request("slack:post", 0.0);
    req.skill.kind = SkillKind::Write;
    let d = check(&engine, &req);
    assert!(!d.allowed);
    assert_eq!(reason_ids(&d), ["po_01hzguard#1"]);
    assert_eq!(d.reasons[0].effect, Effect::Forbid);
    assert_eq!(d.reasons[0].document_id, "po_01hzguard");
    assert_eq!(d.reasons[0].line, 5);
    assert_eq!(d.explain(), "forbidden by po_01hzguard#1 (line 5)");

    req.skill.external = false;
    let d = check(&engine, &req);
    assert!(d.allowed);
    assert_eq!(reason_ids(&d), ["po_01hzallow#0", "po_01hzguard#0"]);
}

#[test]
fn decision_serializes_snake_case() {
    let engine = engine(&[("po_a", "forbid(principal, action, resource);")]);
    let d = check(&engine, &request("x", 0.0));
    let json = serde_json::to_value(&d).expect("serialize");
    assert_eq!(
        json,
        json!({
            "allowed": false,
            "reasons": [{"policy_id": "po_a#0", "effect": "forbid", "document_id": "po_a", "line": 1}],
            "errors": [],
            "skill": "x",
        })
    );
    let back: Decision = serde_json::from_value(json).expect("deserialize");
    assert_eq!(back, d);
}

// ------------------------------------------------------------------ invalid

#[test]
fn missing_semicolon_is_reported_in_the_original() {
    let doc = "permit(principal, action, resource)\nforbid(principal, action, resource);\n";
    let diags = diagnostics(doc);
    assert_eq!(positions(&diags), [(2, 7)]);
    assert!(diags[0].message.contains("unexpected token"), "{diags:?}");
    let help = diags[0].help.as_deref().unwrap_or("");
    assert!(help.contains("line 1, column 36"), "{help}");
    assert!(diags[0].translated.is_none());
}

#[test]
fn missing_semicolon_after_translated_text_keeps_original_positions() {
    let doc = "permit(principal, action, resource) when { context.run_cost_usd < 0.5 }\n\
               forbid(principal, action, resource);";
    let diags = diagnostics(doc);
    assert_eq!(positions(&diags), [(2, 7)]);
}

#[test]
fn unknown_operator_is_reported() {
    let diags = diagnostics("permit(principal, action, resource)\nwhen { context.a ~ 1 };\n");
    assert_eq!(positions(&diags), [(2, 18)]);
    let diags = diagnostics("permit(principal, action, resource)\nwhen { context.a === 1 };\n");
    assert_eq!(diags[0].line, 2);
    assert_eq!(diags[0].column, 20, "{diags:?}");
}

#[test]
fn typo_in_permit_is_reported() {
    let diags = diagnostics("// header\n  permt(principal, action, resource);\n");
    assert_eq!(positions(&diags), [(2, 3)]);
    assert!(diags[0].message.contains("permt"), "{diags:?}");
    assert!(diags[0].help.is_some());
}

#[test]
fn too_many_decimal_digits_is_an_error_at_the_literal() {
    let diags = diagnostics(
        "permit(principal, action, resource)\nwhen { context.run_cost_usd < 0.12345 };\n",
    );
    assert_eq!(positions(&diags), [(2, 31)]);
    assert!(diags[0].message.contains("0.12345"));
    // Four digits are fine.
    assert!(
        compile("permit(principal, action, resource) when { context.run_cost_usd < 0.1234 };")
            .is_ok()
    );
}

#[test]
fn out_of_range_decimal_is_an_error() {
    let doc = "permit(principal, action, resource) when { context.a_usd < 922337203685478.0 };";
    let diags = diagnostics(doc);
    assert_eq!(positions(&diags), [(1, 60)]);
    assert!(
        compile(
            "permit(principal, action, resource) when { context.a_usd < -922337203685477.5808 };"
        )
        .is_ok()
    );
    assert!(
        compile(
            "permit(principal, action, resource) when { context.a_usd < 922337203685477.5808 };"
        )
        .is_err()
    );
}

#[test]
fn error_inside_translated_text_says_so() {
    let doc = "permit(principal, action, resource)\nwhen { context.run_cost_usd < 0.5 + };\n";
    let diags = diagnostics(doc);
    assert_eq!(positions(&diags), [(2, 36)]);
    assert_eq!(
        diags[0].translated.as_deref(),
        Some(r#"context.run_cost_usd.lessThan(decimal("0.5") +)"#)
    );
    assert!(diags[0].message.contains("translated"), "{diags:?}");
}

#[test]
fn errors_after_translations_map_back_exactly() {
    // Translations before the error lengthen the text; the column must still
    // be the one in the original.
    let doc = "permit(principal, action, resource) when {\n  resource.name in [\"a\", \"b\"] && context.run_cost_usd < 0.5 && é ^ 1 };";
    let diags = diagnostics(doc);
    // `é` is not a Cedar token: column counts characters.
    assert_eq!(positions(&diags), [(2, 64)], "{diags:?}");
    assert!(diags[0].translated.is_none());
}

#[test]
fn empty_documents_are_errors() {
    for doc in ["", "   \n\t", "// only a comment\n"] {
        let diags = diagnostics(doc);
        assert_eq!(positions(&diags), [(1, 1)]);
        assert!(diags[0].message.contains("no policies"));
    }
}

#[test]
fn templates_are_rejected() {
    let diags = diagnostics(
        "permit(principal, action, resource);\n  forbid(principal == ?principal, action, resource);",
    );
    assert_eq!(positions(&diags), [(2, 3)]);
    assert!(diags[0].message.contains("template"), "{diags:?}");
}

#[test]
fn engine_errors_name_the_document() {
    let err = PolicyEngine::new(&[
        ("po_ok", "permit(principal, action, resource);"),
        ("po_bad", "permit("),
    ])
    .expect_err("invalid");
    match err {
        PolicyError::InvalidDocument {
            document_id,
            diagnostics,
        } => {
            assert_eq!(document_id, "po_bad");
            assert!(!diagnostics.is_empty());
        }
        other => panic!("{other:?}"),
    }
    let doc = "permit(principal, action, resource);";
    let err = PolicyEngine::new(&[("po_a", doc), ("po_a", doc)]).expect_err("duplicate");
    assert_eq!(
        err,
        PolicyError::DuplicateDocument {
            document_id: "po_a".to_string()
        }
    );
    assert!(err.to_string().contains("po_a"));
}

// ------------------------------------------------------------- not rewritten

#[test]
fn hierarchy_in_is_not_rewritten() {
    for doc in [
        r#"forbid(principal in Group::"ops", action, resource);"#,
        r#"permit(principal, action in [Action::"skill:invoke", Action::"skill:plan"], resource);"#,
        r#"permit(principal, action, resource) when { principal in Group::"ops" };"#,
        r#"permit(principal, action, resource) when { principal in [Group::"ops", Group::"sec"] };"#,
        r#"permit(principal, action, resource) when { principal in [Group::"ops", "x"] };"#,
        r#"permit(principal, action, resource) when { context.x in [] };"#,
        r#"permit(principal, action, resource) when { principal in [context.group] };"#,
    ] {
        let compiled = compile(doc).expect("valid Cedar");
        assert!(
            compiled.translations.is_empty(),
            "{doc}: {:?}",
            compiled.translations
        );
        assert_eq!(compiled.cedar, doc);
    }
    let engine = engine(&[
        (
            "po_a",
            r#"permit(principal, action in [Action::"skill:invoke"], resource);"#,
        ),
        (
            "po_b",
            r#"forbid(principal in Group::"ops", action, resource);"#,
        ),
    ]);
    let d = check(&engine, &request("x", 0.0));
    assert!(d.allowed);
    assert!(d.errors.is_empty(), "{:?}", d.errors);
}

#[test]
fn strings_and_comments_are_not_rewritten() {
    let doc = concat!(
        "// 0.50 < context.x in [\"a\"]\n",
        "permit(principal, action, resource)\n",
        "when { context.note == \"0.50\" && context.q == \" in [\\\"a\\\"]\" && context.r == \"x\\\\\" }; // in [1.5]\n",
    );
    let compiled = compile(doc).expect("valid");
    assert!(
        compiled.translations.is_empty(),
        "{:?}",
        compiled.translations
    );
    assert_eq!(compiled.cedar, doc);
    let engine = engine(&[("po_s", doc)]);
    let req = with_context(
        request("x", 0.0),
        json!({"note": "0.50", "q": " in [\"a\"]", "r": "x\\"}),
    );
    assert!(check(&engine, &req).allowed);
}

#[test]
fn untranslated_text_passes_through_byte_for_byte() {
    let doc =
        "@id(\"héllo\")\r\npermit (\tprincipal ,action,resource )\r\n  when{context.n<3};// é\r\n";
    let compiled = compile(doc).expect("valid");
    assert_eq!(compiled.cedar, doc);
    // Around translations too: only the rewritten spans change.
    let doc = "permit(principal,action,resource)  when{ context.a   <  0.5 }  ;\n// trailing\n";
    let compiled = compile(doc).expect("valid");
    assert_eq!(
        compiled.cedar,
        "permit(principal,action,resource)  when{ context.a.lessThan(decimal(\"0.5\")) }  ;\n// trailing\n"
    );
}

// ---------------------------------------------------------- translation rules

#[test]
fn comparison_rules() {
    let cases = [
        ("context.a < 0.5", r#"context.a.lessThan(decimal("0.5"))"#),
        (
            "context.a <= 0.5",
            r#"context.a.lessThanOrEqual(decimal("0.5"))"#,
        ),
        (
            "context.a > 0.5",
            r#"context.a.greaterThan(decimal("0.5"))"#,
        ),
        (
            "context.a >= 0.5",
            r#"context.a.greaterThanOrEqual(decimal("0.5"))"#,
        ),
        (
            "0.5 > context.a",
            r#"decimal("0.5").greaterThan(context.a)"#,
        ),
        ("context.a == 0.5", r#"context.a == decimal("0.5")"#),
        (
            "context.a_usd < 1",
            r#"context.a_usd.lessThan(decimal("1.0"))"#,
        ),
        ("context.a_usd != -2", r#"context.a_usd != decimal("-2.0")"#),
        (
            "context.a < -0.25",
            r#"context.a.lessThan(decimal("-0.25"))"#,
        ),
        ("context.a < 1", "context.a < 1"),
        ("context.a - 0.5 < 1", r#"context.a - decimal("0.5") < 1"#),
        (
            "-context.a < 0.5",
            r#"(-context.a).lessThan(decimal("0.5"))"#,
        ),
        (
            "context.a_usd < resource.cost_usd",
            "context.a_usd.lessThan(resource.cost_usd)",
        ),
        (
            r#"context["b_usd"] >= 0"#,
            r#"context["b_usd"].greaterThanOrEqual(decimal("0.0"))"#,
        ),
        (
            r#"decimal("1.5") > context.c"#,
            r#"decimal("1.5").greaterThan(context.c)"#,
        ),
        (
            "if context.a < 0.5 then true else context.b >= 2.0",
            r#"if context.a.lessThan(decimal("0.5")) then true else context.b.greaterThanOrEqual(decimal("2.0"))"#,
        ),
        (
            "[0.5, 1].contains(context.a)",
            r#"[decimal("0.5"), 1].contains(context.a)"#,
        ),
        (
            r#"context.tier in ["a", "b"] && context.n in [1, -2, 0.5] || context.ok in [true]"#,
            r#"["a", "b"].contains(context.tier) && [1, -2, decimal("0.5")].contains(context.n) || [true].contains(context.ok)"#,
        ),
        (
            r#"(context.a < 0.5) in [true]"#,
            r#"[true].contains((context.a.lessThan(decimal("0.5"))))"#,
        ),
        (
            r#"principal["name"] in ["x"]"#,
            r#"["x"].contains(principal["name"])"#,
        ),
        (r#"context.a.b in ["x"]"#, r#"["x"].contains(context.a.b)"#),
        (r#""x" in ["x"]"#, r#"["x"].contains("x")"#),
        (r#"context.a + 1 in [2]"#, r#"[2].contains(context.a + 1)"#),
    ];
    for (input, expected) in cases {
        let doc = format!("permit(principal, action, resource) when {{ {input} }};");
        let compiled = match compile(&doc) {
            Ok(c) => c,
            Err(e) => panic!("{input}: {e}"),
        };
        let expected_doc = format!("permit(principal, action, resource) when {{ {expected} }};");
        assert_eq!(compiled.cedar, expected_doc, "{input}");
    }
}

#[test]
fn comparison_and_membership_evaluate() {
    let doc = r#"permit(principal, action, resource) when {
        context.a - 1 < 2
        && context.n in [1, 2, 3]
        && context.limit_usd >= 1
        && context.ratio <= 0.75
        && principal.region in ["eu-west-1"]
        && resource.cost_usd < context.limit_usd
    };"#;
    let engine = engine(&[("po_e", doc)]);
    let base = json!({"a": 2, "n": 2, "limit_usd": 1, "ratio": 0.75});
    let d = check(&engine, &with_context(request("x", 0.0), base.clone()));
    assert!(d.allowed, "{}", d.explain());
    let mut other = base.clone();
    other["n"] = json!(4);
    assert!(!check(&engine, &with_context(request("x", 0.0), other)).allowed);
    let mut other = base;
    other["ratio"] = json!(0.7501);
    assert!(!check(&engine, &with_context(request("x", 0.0), other)).allowed);
}

#[test]
fn unicode_columns_count_characters() {
    let doc = "permit(principal, action, resource) when { context.s == \"héé\" && context.x < 0.123456 };";
    let diags = diagnostics(doc);
    assert_eq!(positions(&diags), [(1, 78)]);
}

#[test]
fn policy_lines_and_ids() {
    let doc = "@id(\"first\")\npermit(principal, action, resource)\nwhen { resource.kind == \"read\" };\n\n  forbid(principal, action, resource)\n  when { resource.name == \"rm\" };\npermit(principal, action, resource) when { context.run_cost_usd < 0.5 };";
    let engine = engine(&[("po_m", doc)]);
    assert_eq!(engine.policy_count(), 3);
    let d = check(&engine, &request("rm", 0.0));
    assert!(!d.allowed);
    assert_eq!(reason_ids(&d), ["po_m#1"]);
    assert_eq!(d.reasons[0].line, 5);
    let d = check(&engine, &request("ls", 0.0));
    assert_eq!(reason_ids(&d), ["po_m#0", "po_m#2"]);
    assert_eq!(d.reasons.iter().map(|r| r.line).collect::<Vec<_>>(), [2, 7]);
}

// ------------------------------------------------------------- request data

#[test]
fn context_values_are_typed() {
    let doc = r#"permit(principal, action, resource) when {
        context.int == 3
        && context.frac == 2.5
        && context.whole_float == 2.0
        && context.money_usd == 3.0
        && context.nested.fee_usd == 0.1
        && context.nested.count == 7
        && context.list_usd.contains(1.0)
        && context.names.contains("a")
        && !(context has gone)
        && context.flag
        && resource.cost_usd == 0.0123
        && resource.kind == "write"
        && !resource.external
        && principal.id == "ag_01hzq3v7k2"
        && principal.name == "crm-enricher"
        && principal.promotion == "prod"
        && context.run_cost_usd == 0.3333
    };"#;
    let engine = engine(&[("po_t", doc)]);
    let mut req = with_context(
        request("x", 1.0 / 3.0),
        json!({
            "int": 3, "frac": 2.5, "whole_float": 2.0, "money_usd": 3,
            "nested": {"fee_usd": 0.1, "count": 7}, "list_usd": [1, null],
            "names": ["a", "b"], "gone": null, "flag": true,
        }),
    );
    req.skill = skill("x", SkillKind::Write, false, 0.01234);
    let d = check(&engine, &req);
    assert!(d.allowed, "{} {:?}", d.explain(), d.errors);
}

#[test]
fn unconvertible_requests_fail_closed() {
    let engine = engine(&[(
        "po_all",
        "permit(principal, action, resource) unless { context has big || context has huge_usd };",
    )]);
    let d = check(
        &engine,
        &with_context(request("x", 0.0), json!({"big": u64::MAX})),
    );
    assert!(!d.allowed);
    assert!(d.errors[0].contains("context.big"), "{:?}", d.errors);
    assert!(d.explain().contains("1 error(s)"));

    let mut req = request("x", f64::NAN);
    let d = check(&engine, &req);
    assert!(!d.allowed);
    assert!(d.errors[0].contains("run_cost_usd"), "{:?}", d.errors);

    req.run_cost_usd = 0.0;
    req.skill.cost_usd = 1e300;
    let d = check(&engine, &req);
    assert!(!d.allowed);
    assert!(d.errors[0].contains("cost_usd"), "{:?}", d.errors);

    let d = check(
        &engine,
        &with_context(request("x", 0.0), json!({"huge_usd": 1e20})),
    );
    assert!(!d.allowed);

    // Attributes no policy reads are not converted, so they cannot fail.
    let d = check(
        &engine,
        &with_context(request("x", 0.0), json!({"unused": u64::MAX})),
    );
    assert!(d.allowed, "{:?}", d.errors);
}

#[test]
fn context_keys_read_by_policies() {
    use super::translate::context_keys;
    let keys = context_keys(
        r#"permit(principal, action, resource) when { context.a && context["b"] && context has c && context has "d" && context.e.f };"#,
    );
    assert_eq!(
        keys,
        Some(
            vec!["a", "b", "c", "d", "e"]
                .into_iter()
                .map(String::from)
                .collect()
        )
    );
    assert_eq!(
        context_keys(r#"permit(principal, action, resource) when { context == {} };"#),
        None
    );
    assert_eq!(
        context_keys(
            r#"permit(principal, action, resource) when { "context.x" == principal.name };"#
        ),
        Some(vec![])
    );
    // Whole-context use passes every attribute through.
    let engine = engine(&[(
        "po_w",
        r#"permit(principal, action, resource) when { context == {"run_cost_usd": 0.5, "x": 1} };"#,
    )]);
    let d = check(&engine, &with_context(request("x", 0.5), json!({"x": 1})));
    assert!(d.allowed, "{:?}", d.errors);
    let d = check(
        &engine,
        &with_context(request("x", 0.5), json!({"x": 1, "y": 2})),
    );
    assert!(!d.allowed);
}

#[test]
fn decimal_rounding_is_half_even_on_the_binary_value() {
    assert_eq!(engine::decimal_text(0.5).as_deref(), Ok("0.5000"));
    assert_eq!(engine::decimal_text(0.03125).as_deref(), Ok("0.0312"));
    assert_eq!(engine::decimal_text(0.09375).as_deref(), Ok("0.0938"));
    assert_eq!(engine::decimal_text(0.49999).as_deref(), Ok("0.5000"));
    assert_eq!(engine::decimal_text(-0.00001).as_deref(), Ok("0.0000"));
    assert_eq!(engine::decimal_text(12.0).as_deref(), Ok("12.0000"));
}

#[test]
fn decimal_conversion_matches_rust_formatting() {
    // The previous conversion: `{:.4}` (exact, half to even) and a range check
    // on the text.
    fn formatted(x: f64) -> Option<String> {
        if !x.is_finite() || x.abs() >= 1e16 {
            return None;
        }
        let text = format!("{x:.4}");
        translate::decimal_in_range(&text).then(|| {
            if text == "-0.0000" {
                "0.0000".to_string()
            } else {
                text
            }
        })
    }
    let mut state = 0x0dec_1a1e_u64;
    let mut next = move || {
        // xorshift64
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut values = vec![
        0.0,
        -0.0,
        f64::MIN_POSITIVE,
        5e-324,
        f64::NAN,
        f64::INFINITY,
        // The doubles on either side of the largest decimal (…477.5807):
        // …477.5 and …477.625.
        922_337_203_685_477.5,
        922_337_203_685_477.6,
        -922_337_203_685_477.5,
        -922_337_203_685_477.6,
        1e16,
        9.3e15,
    ];
    for _ in 0..20_000 {
        let r = next();
        let odd = (r >> 12) as i64 | 1;
        values.extend([
            // Arbitrary bit patterns (mostly far out of range or tiny).
            f64::from_bits(r),
            // Exact ties at the fifth fractional digit: odd multiples of 1/32.
            (odd % (1 << 40)) as f64 / 32.0,
            -((odd % (1 << 20)) as f64) / 32.0,
            // Decimal-looking inputs of every magnitude.
            (r % 2_000_000_000) as f64 / 10f64.powi((r >> 40) as i32 % 9) - 1e8,
            (r >> 11) as f64 / 1e4,
        ]);
    }
    for x in values {
        assert_eq!(engine::decimal_text(x).ok(), formatted(x), "{x:e}");
    }
}

#[test]
fn evaluation_errors_are_reported_and_the_policy_skipped() {
    let engine = engine(&[(
        "po_err",
        "permit(principal, action, resource);\nforbid(principal, action, resource) when { context.missing == 1 };",
    )]);
    let d = check(&engine, &request("x", 0.0));
    assert!(d.allowed);
    assert_eq!(d.errors.len(), 1);
    assert!(d.errors[0].contains("po_err#1"), "{:?}", d.errors);
}

#[test]
fn engine_is_shared_and_threadsafe() {
    fn assert_send_sync<T: Send + Sync + Clone + 'static>() {}
    assert_send_sync::<PolicyEngine>();
    let empty = PolicyEngine::new::<&str, &str>(&[]).expect("empty engine");
    assert_eq!(empty.policy_count(), 0);
    assert!(!check(&empty, &request("x", 0.0)).allowed);

    let engine = engine(&[("po_01hzseed", SEED)]);
    let clone = engine.clone();
    let handle =
        std::thread::spawn(move || clone.check(&request("hubspot:contact:read", 0.1)).allowed);
    assert_eq!(handle.join().ok(), Some(true));
}

// ------------------------------------------------------------------ vectors

#[derive(serde::Deserialize)]
struct Vectors {
    sets: Vec<VectorSet>,
    translations: Vec<TranslationVector>,
    invalid: Vec<InvalidVector>,
}

#[derive(serde::Deserialize)]
struct VectorSet {
    name: String,
    documents: Vec<VectorDocument>,
    cases: Vec<VectorCase>,
}

#[derive(serde::Deserialize)]
struct VectorDocument {
    id: String,
    text: String,
}

#[derive(serde::Deserialize)]
struct VectorCase {
    name: String,
    request: CheckRequest,
    expected: Expected,
}

#[derive(serde::Deserialize)]
struct Expected {
    allowed: bool,
    reasons: Vec<String>,
    #[serde(default)]
    has_errors: bool,
}

#[derive(serde::Deserialize)]
struct TranslationVector {
    name: String,
    document: String,
    cedar: String,
    translations: Vec<Translation>,
}

#[derive(serde::Deserialize)]
struct InvalidVector {
    name: String,
    document: String,
    diagnostics: Vec<Position>,
}

#[derive(serde::Deserialize)]
struct Position {
    line: u32,
    column: u32,
}

#[test]
fn vectors_pass() {
    let vectors: Vectors = serde_json::from_str(VECTORS).expect("vectors parse");
    let mut checked = 0;
    for set in &vectors.sets {
        let docs: Vec<(&str, &str)> = set
            .documents
            .iter()
            .map(|d| (d.id.as_str(), d.text.as_str()))
            .collect();
        let engine = match PolicyEngine::new(&docs) {
            Ok(e) => e,
            Err(e) => panic!("{}: {e}", set.name),
        };
        for case in &set.cases {
            let d = check(&engine, &case.request);
            let label = format!("{} / {}", set.name, case.name);
            assert_eq!(d.allowed, case.expected.allowed, "{label}: {}", d.explain());
            assert_eq!(reason_ids(&d), case.expected.reasons, "{label}");
            assert_eq!(
                !d.errors.is_empty(),
                case.expected.has_errors,
                "{label}: {:?}",
                d.errors
            );
            checked += 1;
        }
    }
    for t in &vectors.translations {
        let compiled = match compile(&t.document) {
            Ok(c) => c,
            Err(e) => panic!("{}: {e}", t.name),
        };
        assert_eq!(compiled.cedar, t.cedar, "{}", t.name);
        assert_eq!(compiled.translations, t.translations, "{}", t.name);
        checked += 1;
    }
    for v in &vectors.invalid {
        let expected: Vec<(u32, u32)> = v.diagnostics.iter().map(|p| (p.line, p.column)).collect();
        assert_eq!(positions(&diagnostics(&v.document)), expected, "{}", v.name);
        checked += 1;
    }
    assert!(checked >= 30, "only {checked} vectors");
}

/// A binding's context text: an object or none; anything else names `context`.
#[test]
fn context_from_json_takes_an_object_or_none() {
    assert!(crate::context_from_json(None).unwrap().is_empty());
    assert!(crate::context_from_json(Some("null")).unwrap().is_empty());
    let m = crate::context_from_json(Some(r#"{"ticket": "T-1"}"#)).unwrap();
    assert_eq!(m["ticket"], "T-1");
    for bad in ["[1]", "{", "3"] {
        let e = crate::context_from_json(Some(bad)).unwrap_err();
        assert_eq!(e.field(), Some("context"), "{bad}");
    }
}
