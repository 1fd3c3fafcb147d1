//! `openapi.json` (the protocol document at the repository root) against the code:
//!
//! - the document is OpenAPI 3.1, every `$ref` resolves, every schema uses only
//!   keywords the validator below checks (or knows to be annotations);
//! - its operations are the bridge's catalogue (`heroa_bridge::operations()`): the
//!   same (method, path) set, each with the catalogue's name as `operationId`, its
//!   success status, request body and answer schemas, and its auth;
//! - its enums and error kinds equal the Rust wire names and statuses; its request
//!   schemas accept and reject what serde accepts and rejects; its response schemas
//!   require exactly the fields the Rust types always serialize;
//! - every route answers on a live server (never the router's fallback, never 405),
//!   with a status and body the document declares (JSON, or Server-Sent Events where
//!   the document declares `text/event-stream`);
//! - a real flow over HTTP (agents, vault, policies, promotion, runs, run events,
//!   webhook deliveries, Heroku's agents endpoint, audit, approvals, inbox, catalog,
//!   workspace, sub-agent deployments, idempotent replays, errors) where every answer
//!   is validated against the schema the document declares for that operation and
//!   status.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use heroa::protocol::{
    Agent, Approval, ApprovalStatus, AuditRecord, AuditVerification, CreatePolicy, DecideApproval,
    Delivery, DeliveryAttempt, DeliveryStatus, DeployMode, DeployPolicy, DeployRequest, Deployment,
    DeploymentStatus, ExtendDeployment, InboxItem, LlmConfig, Policy, PromotionLevel, Region,
    RegisterAgent, ResourceTier, Run, RunStatus, ScriptedToolCall, ScriptedTurn, SetPromotion,
    SkillInfo, SkillKind, StartRun, TemplateInfo, Tier, TokenUsage, ToolSpec, UpdateAgent, Usd,
    VaultEntry, VaultPut, VaultRotate, VaultScope, WaitRun, WebhookConfig, WebhookInfo, Workspace,
};
use heroa::server::Server;
use heroa::{ErrorKind, Runtime, Skill};
use heroa_bridge::catalogue::{Input, Output};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

/// Every (method, path) the server serves: the catalogue's operations.
fn routes() -> Vec<(&'static str, &'static str)> {
    heroa_bridge::operations()
        .iter()
        .map(|op| (op.method.as_str(), op.path))
        .collect()
}

// ---------------------------------------------------------------------------------
// Validation against the document's schemas (the `jsonschema` crate, draft 2020-12).
// ---------------------------------------------------------------------------------

/// Validates JSON values against schemas of one document, resolving
/// `#/components/schemas/…` references in it; formats (`date-time`) are asserted.
struct Validator<'a> {
    root: &'a Value,
}

impl<'a> Validator<'a> {
    fn new(root: &'a Value) -> Self {
        Validator { root }
    }

    fn validate(&self, schema: &Value, value: &Value) -> Result<(), Vec<String>> {
        let mut s = match schema {
            Value::Object(m) => m.clone(),
            Value::Bool(true) => return Ok(()),
            other => return Err(vec![format!("not a schema: {other}")]),
        };
        s.insert("components".into(), self.root["components"].clone());
        let validator = jsonschema::options()
            .with_draft(jsonschema::Draft::Draft202012)
            .should_validate_formats(true)
            .build(&Value::Object(s))
            .map_err(|e| vec![format!("the schema does not compile: {e}")])?;
        let errors: Vec<String> = validator
            .iter_errors(value)
            .map(|e| format!("{}: {e}", e.instance_path()))
            .collect();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }
}

// ---------------------------------------------------------------------------------
// The document.
// ---------------------------------------------------------------------------------

const METHODS: &[&str] = &[
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// Protocol response headers the document must declare wherever the server sends them.
const PROTOCOL_HEADERS: &[&str] = &["Idempotent-Replayed", "Retry-After", "Heroa-Run-Id"];

struct Doc {
    v: Value,
}

impl Doc {
    fn load() -> Doc {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../openapi.json");
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        let v = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()));
        Doc { v }
    }

    fn deref<'a>(&'a self, v: &'a Value) -> &'a Value {
        match v.get("$ref").and_then(Value::as_str) {
            Some(r) => {
                let target = self
                    .v
                    .pointer(r.strip_prefix('#').expect("local $ref"))
                    .unwrap_or_else(|| panic!("unresolvable $ref {r}"));
                self.deref(target)
            }
            None => v,
        }
    }

    fn routes(&self) -> BTreeSet<(String, String)> {
        let mut out = BTreeSet::new();
        for (path, item) in self.v["paths"].as_object().expect("paths") {
            for m in METHODS {
                if item.get(*m).is_some() {
                    out.insert((m.to_uppercase(), path.clone()));
                }
            }
        }
        out
    }

    fn operation(&self, method: &str, route: &str) -> &Value {
        self.v["paths"]
            .get(route)
            .and_then(|item| item.get(method.to_lowercase()))
            .unwrap_or_else(|| panic!("openapi.json has no operation {method} {route}"))
    }

    /// Path-level and operation-level parameters, resolved.
    fn parameters(&self, method: &str, route: &str) -> Vec<&Value> {
        let item = &self.v["paths"][route];
        let op = self.operation(method, route);
        [item.get("parameters"), op.get("parameters")]
            .into_iter()
            .flatten()
            .filter_map(Value::as_array)
            .flatten()
            .map(|p| self.deref(p))
            .collect()
    }

    fn response(&self, method: &str, route: &str, status: u16) -> Option<&Value> {
        self.operation(method, route)["responses"]
            .get(status.to_string())
            .map(|r| self.deref(r))
    }

    fn request_schema(&self, method: &str, route: &str) -> Option<&Value> {
        let body = self.operation(method, route).get("requestBody")?;
        self.deref(body)
            .pointer("/content/application~1json/schema")
    }

    fn schema(&self, name: &str) -> &Value {
        self.v["components"]["schemas"]
            .get(name)
            .unwrap_or_else(|| panic!("openapi.json has no components.schemas.{name}"))
    }

    /// The values of a string enum: `enum`, or `oneOf` of `const`s (each with its
    /// description).
    fn enum_values(&self, name: &str) -> Vec<String> {
        let s = self.schema(name);
        if let Some(values) = s["enum"].as_array() {
            return values
                .iter()
                .map(|v| v.as_str().expect("string enum value").to_string())
                .collect();
        }
        s["oneOf"]
            .as_array()
            .unwrap_or_else(|| panic!("{name} has no enum"))
            .iter()
            .map(|v| v["const"].as_str().expect("string const").to_string())
            .collect()
    }

    /// Checks one answer against the document; returns the parsed body (`null` for
    /// an answer without content).
    fn check_answer(
        &self,
        method: &str,
        route: &str,
        status: u16,
        headers: &reqwest::header::HeaderMap,
        bytes: &[u8],
    ) -> Result<Value, String> {
        let text = String::from_utf8_lossy(bytes);
        let resp = self
            .response(method, route, status)
            .ok_or_else(|| format!("status {status} is not declared; body: {text}"))?;
        for h in PROTOCOL_HEADERS {
            let declared = resp
                .get("headers")
                .and_then(Value::as_object)
                .is_some_and(|hs| hs.keys().any(|k| k.eq_ignore_ascii_case(h)));
            if headers.contains_key(*h) && !declared {
                return Err(format!(
                    "the answer carries {h}, which the {status} response does not declare"
                ));
            }
        }
        let ctype = headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        // A stream of Server-Sent Events: the body is the stream's text (the flow
        // parses and checks its events).
        if resp.pointer("/content/text~1event-stream").is_some() && status == 200 {
            if !ctype.starts_with("text/event-stream") {
                return Err(format!("content-type is {ctype:?}, not text/event-stream"));
            }
            return Ok(Value::String(text.into_owned()));
        }
        let Some(schema) = resp.pointer("/content/application~1json/schema") else {
            return if bytes.is_empty() {
                Ok(Value::Null)
            } else {
                Err(format!(
                    "the {status} response declares no content, but the body is {text}"
                ))
            };
        };
        if !ctype.starts_with("application/json") {
            return Err(format!("content-type is {ctype:?}, not application/json"));
        }
        let body: Value =
            serde_json::from_slice(bytes).map_err(|e| format!("body is not JSON ({e}): {text}"))?;
        Validator::new(&self.v)
            .validate(schema, &body)
            .map_err(|errors| {
                format!(
                    "body does not match the declared schema:\n  {}\nbody: {body:#}",
                    errors.join("\n  ")
                )
            })?;
        Ok(body)
    }
}

// ---------------------------------------------------------------------------------
// Static checks of the document.
// ---------------------------------------------------------------------------------

#[test]
fn document_is_openapi_3_1_and_its_routes_equal_the_router() {
    let doc = Doc::load();
    let version = doc.v["openapi"].as_str().expect("openapi is a string");
    assert!(
        version.starts_with("3.1"),
        "openapi is {version:?}, not 3.1.x"
    );

    let in_doc = doc.routes();
    let in_code: BTreeSet<(String, String)> = routes()
        .iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    assert_eq!(
        routes().len(),
        in_code.len(),
        "the catalogue lists a route twice"
    );
    let missing: Vec<_> = in_code.difference(&in_doc).collect();
    let extra: Vec<_> = in_doc.difference(&in_code).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "openapi.json and the catalogue differ:\n  served but not documented: {missing:?}\n  documented but not served: {extra:?}"
    );

    for (method, route) in &in_code {
        let op = doc.operation(method, route);
        assert!(
            op["operationId"].is_string(),
            "{method} {route}: no operationId"
        );
        // Every `{param}` of the path is a declared, required path parameter.
        let params = doc.parameters(method, route);
        for seg in route
            .split('/')
            .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
        {
            assert!(
                params
                    .iter()
                    .any(|p| p["in"] == "path" && p["name"] == seg && p["required"] == true),
                "{method} {route}: path parameter {seg} is not declared"
            );
        }
        // Bearer auth everywhere but the health check.
        let public = op.get("security") == Some(&json!([]));
        assert_eq!(public, route == "/v1/health", "{method} {route}: security");
        if !public {
            assert!(
                doc.response(method, route, 401).is_some(),
                "{method} {route}: no 401"
            );
        }
        // POSTs take an Idempotency-Key and mark replays.
        if method == "POST" {
            assert!(
                params
                    .iter()
                    .any(|p| p["in"] == "header" && p["name"] == "Idempotency-Key"),
                "{method} {route}: no Idempotency-Key header parameter"
            );
            let (status, ok) = success(&doc, method, route);
            assert!(
                ok.pointer("/headers/Idempotent-Replayed").is_some(),
                "{method} {route}: {status} does not declare Idempotent-Replayed"
            );
        }
        // Creates answer 201, deletes 204 (but a deleted deployment is answered, 200),
        // the rest 200.
        let (status, ok) = success(&doc, method, route);
        let expected = match method.as_str() {
            "DELETE" if route == "/v1/deployments/{deployment_id}" => 200,
            "DELETE" => 204,
            "POST"
                if [
                    "/v1/agents",
                    "/v1/vault",
                    "/v1/policies",
                    "/v1/agents/{agent_id}/runs",
                    "/v1/deployments",
                ]
                .contains(&route.as_str()) =>
            {
                201
            }
            _ => 200,
        };
        assert_eq!(status, expected, "{method} {route}: success status");
        assert_eq!(
            ok.get("content").is_none(),
            status == 204,
            "{method} {route}: content of {status}"
        );
        // Every error response is an Error body.
        for (code, resp) in op["responses"].as_object().unwrap() {
            if code.starts_with('4') || code.starts_with('5') {
                let schema = doc
                    .deref(resp)
                    .pointer("/content/application~1json/schema")
                    .expect("error content");
                let schema = doc.deref(schema);
                let reached = schema.to_string().contains("#/components/schemas/Error\"");
                assert!(reached, "{method} {route}: {code} is not an Error");
            }
        }
    }

    // Query parameters as the server reads them.
    for route in [
        "/v1/vault",
        "/v1/policies",
        "/v1/runs",
        "/v1/webhooks/deliveries",
    ] {
        let params = doc.parameters("GET", route);
        assert!(
            params
                .iter()
                .any(|p| p["in"] == "query" && p["name"] == "agent_id"),
            "GET {route}: agent_id"
        );
    }
    let approvals = doc.parameters("GET", "/v1/approvals");
    assert!(
        approvals
            .iter()
            .any(|p| p["in"] == "query" && p["name"] == "status")
    );

    let scheme = &doc.v["components"]["securitySchemes"]["bearerAuth"];
    assert_eq!(
        (scheme["type"].as_str(), scheme["scheme"].as_str()),
        (Some("http"), Some("bearer"))
    );
    assert_eq!(doc.v["security"], json!([{"bearerAuth": []}]));
}

/// The one 2xx response of an operation.
fn success<'a>(doc: &'a Doc, method: &str, route: &str) -> (u16, &'a Value) {
    let ok: Vec<(u16, &Value)> = doc.operation(method, route)["responses"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(code, _)| code.starts_with('2'))
        .map(|(code, r)| (code.parse().unwrap(), doc.deref(r)))
        .collect();
    assert_eq!(
        ok.len(),
        1,
        "{method} {route}: expected exactly one 2xx response"
    );
    ok[0]
}

/// The document describes each operation exactly as the catalogue does: its name
/// (`operationId`), success status, request body and answer schemas, streaming, and
/// whether it needs an API key.
#[test]
fn document_and_catalogue_agree_operation_by_operation() {
    let doc = Doc::load();
    let ref_name = |v: Option<&Value>| {
        v.and_then(|s| s.get("$ref"))
            .and_then(Value::as_str)
            .map(|r| r.rsplit('/').next().unwrap().to_string())
    };
    for op in heroa_bridge::operations() {
        let (method, route) = (op.method.as_str(), op.path);
        let d = doc.operation(method, route);
        assert_eq!(d["operationId"], op.name, "{method} {route}: operationId");
        let (status, ok) = success(&doc, method, route);
        assert_eq!(status, op.status, "{}: success status", op.name);
        let public = d.get("security") == Some(&json!([]));
        assert_eq!(public, !op.auth, "{}: security", op.name);
        let request = ref_name(doc.request_schema(method, route));
        if op.input == Input::Query {
            // The query type's properties are the query parameters.
            let query = doc.schema(op.request.expect("a query type"));
            let props: BTreeSet<&str> = query["properties"]
                .as_object()
                .unwrap()
                .keys()
                .map(String::as_str)
                .collect();
            let params: BTreeSet<&str> = doc
                .parameters(method, route)
                .iter()
                .filter(|p| p["in"] == "query")
                .map(|p| p["name"].as_str().unwrap())
                .collect();
            assert_eq!(params, props, "{}: query parameters", op.name);
        } else {
            assert_eq!(
                request.as_deref(),
                op.request,
                "{}: request body schema",
                op.name
            );
        }
        assert_eq!(
            op.input == Input::Body,
            request.is_some(),
            "{}: a body exactly when the catalogue takes one",
            op.name
        );
        let content = ok.get("content");
        let stream = content.is_some_and(|c| c.get("text/event-stream").is_some());
        assert_eq!(stream, op.output == Output::Stream, "{}: stream", op.name);
        let answer = ref_name(content.and_then(|c| c.pointer("/application~1json/schema")));
        assert_eq!(answer.as_deref(), op.response, "{}: answer schema", op.name);
        assert_eq!(
            content.is_none(),
            op.output == Output::Empty,
            "{}: empty answer",
            op.name
        );
        if op.input == Input::Query {
            assert!(
                doc.parameters(method, route)
                    .iter()
                    .any(|p| p["in"] == "query"),
                "{}: takes a query but documents no query parameter",
                op.name
            );
        }
    }
}

/// Compares a generated document with the checked-in file; `HEROA_BLESS=1`
/// rewrites the file instead.
fn check_generated(relative: &str, generated: &Value) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(relative);
    let text = format!("{}\n", serde_json::to_string_pretty(generated).unwrap());
    if std::env::var_os("HEROA_BLESS").is_some() {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).unwrap();
        }
        std::fs::write(&path, &text).unwrap();
        return;
    }
    let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
    if checked_in != text {
        let line = checked_in
            .lines()
            .zip(text.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(checked_in.lines().count().min(text.lines().count()));
        panic!(
            "{relative} differs from what the Rust types and the catalogue generate (first at line {}): \
             run `HEROA_BLESS=1 cargo test -p heroa --test openapi generated` and commit the result",
            line + 1
        );
    }
}

#[test]
fn the_documents_are_generated_from_the_types_and_the_catalogue() {
    check_generated("openapi.json", &heroa_server::openapi::document());
    check_generated(
        "schemas/protocol.schema.json",
        &heroa_server::openapi::protocol_schema(),
    );
}

#[test]
fn every_schema_is_valid_json_schema_and_every_reference_resolves() {
    let doc = Doc::load();
    let mut problems = Vec::new();
    let meta = jsonschema::draft202012::meta::validator();
    for (name, s) in doc.v["components"]["schemas"].as_object().unwrap() {
        if let Err(e) = meta.validate(s) {
            problems.push(format!("components.schemas.{name}: {e}"));
        }
    }
    fn refs(root: &Value, v: &Value, problems: &mut Vec<String>) {
        match v {
            Value::Object(o) => {
                if let Some(Value::String(r)) = o.get("$ref")
                    && r.strip_prefix('#').and_then(|p| root.pointer(p)).is_none()
                {
                    problems.push(format!("unresolvable $ref {r}"));
                }
                o.values().for_each(|x| refs(root, x, problems));
            }
            Value::Array(a) => a.iter().for_each(|x| refs(root, x, problems)),
            _ => {}
        }
    }
    refs(&doc.v, &doc.v, &mut problems);
    let schema = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../schemas/protocol.schema.json");
    let schema: Value = serde_json::from_str(&std::fs::read_to_string(schema).unwrap()).unwrap();
    refs(&schema, &schema, &mut problems);
    assert!(
        problems.is_empty(),
        "schema problems:\n  {}",
        problems.join("\n  ")
    );
    // Every protocol type a host language needs has a schema.
    for name in [
        "Workspace",
        "Agent",
        "RegisterAgent",
        "UpdateAgent",
        "SetPromotion",
        "VaultEntry",
        "VaultPut",
        "VaultRotate",
        "Policy",
        "Translation",
        "CreatePolicy",
        "Run",
        "StartRun",
        "WaitRun",
        "AuditEvent",
        "AuditRecord",
        "AuditVerification",
        "Approval",
        "DecideApproval",
        "InboxItem",
        "DeployMode",
        "ResourceTier",
        "DeploymentStatus",
        "DeployPolicy",
        "DeployRequest",
        "Deployment",
        "DeploymentList",
        "ExtendDeployment",
        "SkillInfo",
        "TemplateInfo",
        "Region",
        "Tier",
        "PromotionLevel",
        "SkillKind",
        "RunStatus",
        "ApprovalStatus",
        "VaultScope",
        "LlmConfig",
        "ScriptedTurn",
        "ScriptedToolCall",
        "TokenUsage",
        "ToolSpec",
        "WebhookConfig",
        "WebhookInfo",
        "Delivery",
        "DeliveryAttempt",
        "DeliveryStatus",
        "RunCompletedWebhook",
        "HerokuRequest",
        "HerokuTool",
        "HerokuRuntimeParams",
        "Completion",
        "Error",
        "ErrorPayload",
        "ErrorKind",
        "RunEvent",
        "Usd",
        "ListQuery",
        "AgentListQuery",
        "ApprovalListQuery",
    ] {
        doc.schema(name);
        assert!(
            schema["$defs"].get(name).is_some(),
            "protocol.schema.json lacks {name}"
        );
    }
}

/// The wire names of an enum's values.
fn names<T: Copy>(all: &[T], name: fn(T) -> &'static str) -> Vec<String> {
    all.iter().map(|v| name(*v).to_string()).collect()
}

#[test]
fn enums_and_error_kinds_equal_the_code() {
    let doc = Doc::load();
    let cases: Vec<(&str, Vec<String>)> = vec![
        ("Region", names(Region::ALL, Region::as_str)),
        ("Tier", names(Tier::ALL, Tier::as_str)),
        (
            "PromotionLevel",
            names(PromotionLevel::ALL, PromotionLevel::as_str),
        ),
        ("SkillKind", names(SkillKind::ALL, SkillKind::as_str)),
        ("RunStatus", names(RunStatus::ALL, RunStatus::as_str)),
        (
            "ApprovalStatus",
            names(ApprovalStatus::ALL, ApprovalStatus::as_str),
        ),
        ("VaultScope", names(VaultScope::ALL, VaultScope::as_str)),
        (
            "DeliveryStatus",
            names(DeliveryStatus::ALL, DeliveryStatus::as_str),
        ),
        ("DeployMode", names(DeployMode::ALL, DeployMode::as_str)),
        (
            "ResourceTier",
            names(ResourceTier::ALL, ResourceTier::as_str),
        ),
        (
            "DeploymentStatus",
            names(DeploymentStatus::ALL, DeploymentStatus::as_str),
        ),
        ("ErrorKind", names(&ErrorKind::ALL, ErrorKind::as_str)),
    ];
    for (name, code) in cases {
        assert_eq!(
            doc.enum_values(name),
            code,
            "components.schemas.{name}.enum"
        );
    }
    // Serde agrees with as_str (the schemas describe the serde form).
    for k in ErrorKind::ALL {
        assert_eq!(serde_json::to_value(k).unwrap(), json!(k.as_str()));
    }
    for r in Region::ALL {
        assert_eq!(serde_json::to_value(r).unwrap(), json!(r.as_str()));
    }
    for m in DeployMode::ALL {
        assert_eq!(serde_json::to_value(m).unwrap(), json!(m.as_str()));
    }
    for t in ResourceTier::ALL {
        assert_eq!(serde_json::to_value(t).unwrap(), json!(t.as_str()));
    }
    for s in DeploymentStatus::ALL {
        assert_eq!(serde_json::to_value(s).unwrap(), json!(s.as_str()));
    }

    // TranslationRule has no ALL: the match makes a new variant a compile error here.
    use heroa::policy::TranslationRule as R;
    let rules = [R::DecimalLiteral, R::DecimalComparison, R::SetMembership];
    for r in rules {
        match r {
            R::DecimalLiteral | R::DecimalComparison | R::SetMembership => {}
        }
    }
    let rule_names: Vec<String> = rules
        .iter()
        .map(|r| {
            serde_json::to_value(r)
                .unwrap()
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(doc.enum_values("TranslationRule"), rule_names);

    // Each kind's HTTP status, and the error responses narrowed per status.
    let statuses: serde_json::Map<String, Value> = doc.schema("ErrorKind")["oneOf"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v["const"].as_str().unwrap().to_string(),
                v["x-http-status"].clone(),
            )
        })
        .collect();
    let mut by_status: BTreeMap<u16, BTreeSet<String>> = BTreeMap::new();
    for k in ErrorKind::ALL {
        assert_eq!(
            statuses[k.as_str()].clone(),
            json!(k.http_status()),
            "x-http-status of {}",
            k.as_str()
        );
        by_status
            .entry(k.http_status())
            .or_default()
            .insert(k.as_str().to_string());
    }
    assert_eq!(statuses.len(), ErrorKind::ALL.len());
    for (name, resp) in doc.v["components"]["responses"].as_object().unwrap() {
        let schema = doc.deref(resp.pointer("/content/application~1json/schema").unwrap());
        let narrowed: BTreeSet<String> = schema
            .pointer("/allOf/1/properties/error/properties/kind/enum")
            .and_then(Value::as_array)
            .unwrap_or_else(|| panic!("components.responses.{name}: kinds not narrowed"))
            .iter()
            .map(|k| k.as_str().unwrap().to_string())
            .collect();
        let status = doc.v["paths"]
            .as_object()
            .unwrap()
            .values()
            .flat_map(|item| METHODS.iter().filter_map(|m| item.get(*m)))
            .flat_map(|op| op["responses"].as_object().unwrap().iter())
            .find(|(_, r)| r["$ref"] == json!(format!("#/components/responses/{name}")))
            .map(|(code, _)| code.parse::<u16>().unwrap())
            .unwrap_or_else(|| panic!("components.responses.{name} is never used"));
        assert_eq!(
            Some(&narrowed),
            by_status.get(&status),
            "components.responses.{name} (HTTP {status})"
        );
    }
}

fn deserializes<T: DeserializeOwned>(v: &Value) -> Result<(), String> {
    serde_json::from_value::<T>(v.clone())
        .map(|_| ())
        .map_err(|e| e.to_string())
}

#[test]
fn request_schemas_accept_and_reject_what_serde_does() {
    let doc = Doc::load();
    let validator = Validator::new(&doc.v);
    let ag = format!("ag_{}", "0".repeat(26));
    let usage = json!({"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15});
    let turn = json!({"content": "hi", "tool_calls": [{"name": "heroa:echo", "arguments": {"x": 1}}], "usage": usage});
    let llm = json!({"provider": "offline", "model": "m1", "role": "chat", "base_url": "https://llm.example/v1",
                     "api_key_vault_key": "llm_key", "script": "turns.json", "turns": [turn],
                     "prompt_usd_per_1k": "0.5", "completion_usd_per_1k": "1.5", "temperature": 0.2});
    let tool = json!({"name": "heroa:echo", "description": "d", "max_calls": 2, "ttl_seconds": 30});
    let deploy_policy = json!({"egress": "allow-list", "allow_list": ["api.stripe.com"], "tools": ["heroa:echo"],
                               "secret_scopes": ["api_token"]});
    type De = fn(&Value) -> Result<(), String>;
    // One body per request type with every field present.
    let cases: Vec<(&str, De, Value)> = vec![
        (
            "RegisterAgent",
            deserializes::<RegisterAgent>,
            json!({"name": "a1", "description": "d", "runtime": "r1", "region": "us-east", "template": "sequence", "approval_window": "24h",
                   "llm_configs": [llm], "system_prompt": "p", "tools": [tool], "max_steps": 5}),
        ),
        (
            "UpdateAgent",
            deserializes::<UpdateAgent>,
            json!({"description": "d", "template": "noop", "approval_window": "1h", "region": "eu-west", "schedule": "0 3 * * 1",
                   "webhook": {"url": "https://hooks.example/h", "signing_secret": "s3cret-s3cret"}, "remove_webhook": false,
                   "llm_configs": [llm], "system_prompt": "p", "tools": [tool], "max_steps": 5}),
        ),
        ("LlmConfig", deserializes::<LlmConfig>, llm.clone()),
        ("ScriptedTurn", deserializes::<ScriptedTurn>, turn.clone()),
        (
            "ScriptedToolCall",
            deserializes::<ScriptedToolCall>,
            json!({"name": "heroa:echo", "arguments": {"x": 1}}),
        ),
        ("ToolSpec", deserializes::<ToolSpec>, tool.clone()),
        (
            "WebhookConfig",
            deserializes::<WebhookConfig>,
            json!({"url": "https://hooks.example/h", "signing_secret": "s3cret-s3cret"}),
        ),
        (
            "SetPromotion",
            deserializes::<SetPromotion>,
            json!({"level": "L1_notify"}),
        ),
        (
            "VaultPut",
            deserializes::<VaultPut>,
            json!({"agent_id": ag, "key": "token", "value": "s3cret", "description": "d", "scope": "agent"}),
        ),
        (
            "VaultRotate",
            deserializes::<VaultRotate>,
            json!({"value": "s3cret"}),
        ),
        (
            "CreatePolicy",
            deserializes::<CreatePolicy>,
            json!({"agent_id": ag, "document": "permit(principal, action, resource);"}),
        ),
        (
            "StartRun",
            deserializes::<StartRun>,
            json!({"input": {"calls": []}}),
        ),
        (
            "WaitRun",
            deserializes::<WaitRun>,
            json!({"timeout_ms": 1000}),
        ),
        (
            "DecideApproval",
            deserializes::<DecideApproval>,
            json!({"by": "ops"}),
        ),
        (
            "DeployPolicy",
            deserializes::<DeployPolicy>,
            deploy_policy.clone(),
        ),
        (
            "DeployRequest",
            deserializes::<DeployRequest>,
            json!({"mode": "agent", "region": "eu-west", "resource_tier": "large", "ttl": "24h", "policy": deploy_policy,
                   "template": "noop", "source": null,
                   "name": "svc-1", "idempotency_key": "deploy-1", "parent_agent_id": ag, "public": true, "gpu": false,
                   "health_path": "/healthz"}),
        ),
        (
            "ExtendDeployment",
            deserializes::<ExtendDeployment>,
            json!({"ttl": "24h"}),
        ),
    ];
    for (name, de, full) in cases {
        let schema = doc.schema(name);
        assert_eq!(
            schema["additionalProperties"],
            json!(false),
            "{name}: deny_unknown_fields"
        );
        let props: BTreeSet<&String> = schema["properties"].as_object().unwrap().keys().collect();
        let fields: BTreeSet<&String> = full.as_object().unwrap().keys().collect();
        assert_eq!(
            props, fields,
            "{name}: the document's properties vs the struct's fields"
        );
        let required: BTreeSet<&str> = schema
            .get("required")
            .and_then(Value::as_array)
            .map(|r| r.iter().map(|v| v.as_str().unwrap()).collect())
            .unwrap_or_default();
        // Whatever the document accepts, serde accepts. (The document may refuse
        // more: it also says what the server's own checks refuse — values out of
        // range, fields that exclude each other — which serde leaves to them.)
        let agree = |body: &Value, what: &str| {
            let serde = de(body);
            let schema_ok = validator.validate(schema, body);
            assert!(
                schema_ok.is_err() || serde.is_ok(),
                "{name} {what}: serde says {serde:?}, the document says {schema_ok:?}; body {body}"
            );
        };
        assert!(de(&full).is_ok(), "{name}: the full example deserializes");
        assert_eq!(
            validator.validate(schema, &full),
            Ok(()),
            "{name}: the document accepts the full example {full}"
        );
        agree(&full, "with every field");
        let mut unknown = full.clone();
        unknown["zz_unknown"] = json!(1);
        agree(&unknown, "with an unknown field");
        agree(&json!({}), "empty (an empty body reads as {})");
        for field in &props {
            let mut without = full.clone();
            without.as_object_mut().unwrap().remove(*field);
            agree(&without, &format!("without {field}"));
            assert_eq!(
                de(&without).is_ok(),
                !required.contains(field.as_str()),
                "{name}.{field}: required"
            );
            let mut null = full.clone();
            null[field.as_str()] = Value::Null;
            agree(&null, &format!("with {field} = null"));
            // Whatever the document accepts, serde accepts (the reverse does not hold:
            // serde takes any string where the document lists the valid values).
            for probe in [
                json!(12),
                json!(-1),
                json!(1.5),
                json!("x"),
                json!(true),
                json!([]),
                json!({}),
            ] {
                let mut body = full.clone();
                body[field.as_str()] = probe.clone();
                if validator.validate(schema, &body).is_ok() {
                    assert!(
                        de(&body).is_ok(),
                        "{name}.{field} = {probe}: the document accepts what serde rejects"
                    );
                }
            }
        }
    }
}

fn serializes<T: DeserializeOwned + Serialize>(v: &Value) -> Value {
    let typed: T = serde_json::from_value(v.clone())
        .unwrap_or_else(|e| panic!("example does not deserialize: {e}: {v}"));
    serde_json::to_value(typed).unwrap()
}

#[test]
fn response_schemas_require_exactly_what_the_types_serialize() {
    let doc = Doc::load();
    let strict = Validator::new(&doc.v);
    let ts = "2026-04-25T12:00:00Z";
    let id = |p: &str| format!("{p}_{}", "0".repeat(26));
    let hash = "0".repeat(64);
    let limits = heroa::runtime::tier_limits(ResourceTier::Large);
    let deployment_limits = json!({"cpu_millicores": limits.cpu_millicores, "memory_bytes": limits.memory_bytes,
                                   "applied": heroa::executor::AppliedLimits::default(), "network": "namespace"});
    type Ser = fn(&Value) -> Value;
    // Examples with every Option empty (`null`, or absent where it is skipped), then
    // with every Option set.
    let cases: Vec<(&str, Ser, Value)> = vec![
        (
            "Workspace",
            serializes::<Workspace>,
            json!({"id": id("ws"), "name": "w", "tier": "team", "soc2_accepted_at": null, "created_at": ts}),
        ),
        (
            "Workspace",
            serializes::<Workspace>,
            json!({"id": id("ws"), "name": "w", "tier": "enterprise", "soc2_accepted_at": ts, "created_at": ts}),
        ),
        (
            "Agent",
            serializes::<Agent>,
            json!({"id": id("ag"), "name": "a", "description": null, "runtime": "r1", "region": "us-east", "promotion": "L0_shadow",
                   "template": "sequence", "approval_window_seconds": 86400, "llm_configs": [], "system_prompt": null, "tools": [],
                   "max_steps": 10, "schedule": null, "next_run_at": null, "webhook": null, "parent_id": null, "deployment_id": null,
                   "secret_scopes": null, "created_at": ts, "updated_at": ts}),
        ),
        (
            "Agent",
            serializes::<Agent>,
            json!({"id": id("ag"), "name": "a", "description": "d", "runtime": "r1", "region": "eu-west", "promotion": "L3_autonomous",
                   "template": "llm", "approval_window_seconds": 3600,
                   "llm_configs": [{"provider": "offline", "model": "m1", "role": "chat", "base_url": "https://llm.example/v1",
                                    "api_key_vault_key": "k", "script": "s.json", "prompt_usd_per_1k": "0.5", "completion_usd_per_1k": "1.5",
                                    "temperature": 0.2, "turns": [{"content": "c", "tool_calls": [{"name": "heroa:echo", "arguments": {}}],
                                                                   "usage": {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3}},
                                                                  {"content": "done"}]}],
                   "system_prompt": "p", "tools": [{"name": "heroa:echo", "description": "d", "max_calls": 2, "ttl_seconds": 30}, {"name": "heroa:sleep"}],
                   "max_steps": 5, "schedule": "0 3 * * 1", "next_run_at": ts,
                   "webhook": {"url": "https://hooks.example/h", "signing_secret_fingerprint": hash},
                   "parent_id": id("ag"), "deployment_id": id("dep"), "secret_scopes": ["api_token"],
                   "created_at": ts, "updated_at": ts}),
        ),
        (
            "WebhookInfo",
            serializes::<WebhookInfo>,
            json!({"url": "http://127.0.0.1:9/h", "signing_secret_fingerprint": hash}),
        ),
        (
            "TokenUsage",
            serializes::<TokenUsage>,
            json!({"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3}),
        ),
        (
            "DeliveryAttempt",
            serializes::<DeliveryAttempt>,
            json!({"at": ts, "status_code": null, "error": "could not reach the receiver", "duration_ms": 3}),
        ),
        (
            "DeliveryAttempt",
            serializes::<DeliveryAttempt>,
            json!({"at": ts, "status_code": 204, "error": null, "duration_ms": 3}),
        ),
        (
            "Delivery",
            serializes::<Delivery>,
            json!({"id": id("msg"), "agent_id": id("ag"), "run_id": id("run"), "url": "http://127.0.0.1:9/h", "status": "delivered",
                   "attempts": [], "next_attempt_at": null, "round_attempts": 0, "created_at": ts}),
        ),
        (
            "Delivery",
            serializes::<Delivery>,
            json!({"id": id("msg"), "agent_id": id("ag"), "run_id": id("run"), "url": "http://127.0.0.1:9/h", "status": "pending",
                   "attempts": [{"at": ts, "status_code": 500, "error": "the receiver answered HTTP 500", "duration_ms": 12}],
                   "next_attempt_at": ts, "round_attempts": 1, "created_at": ts}),
        ),
        (
            "Completion",
            serializes::<heroa::sse::Completion>,
            json!({"id": "chatcmpl-1", "object": "chat.completion", "created": 1746546550, "model": "m1",
                   "choices": [{"index": 0, "message": {"role": "assistant", "content": null, "tool_calls": [
                       {"id": "toolu_1", "type": "function", "function": {"name": "heroa:echo", "arguments": "{\"x\":1}"}}]},
                       "finish_reason": "tool_calls"}],
                   "usage": {"prompt_tokens": 150, "completion_tokens": 45, "total_tokens": 195}}),
        ),
        (
            "Completion",
            serializes::<heroa::sse::Completion>,
            json!({"id": "chatcmpl-1", "object": "tool.completion", "created": 1746546552, "model": "m1",
                   "choices": [{"index": 0, "message": {"role": "tool", "content": "{\"x\":1}", "tool_call_id": "toolu_1"}, "finish_reason": ""}],
                   "usage": {}}),
        ),
        (
            "SkillInfo",
            serializes::<SkillInfo>,
            json!({"name": "s", "kind": "write", "external": true, "cost_usd": "0.25", "description": null}),
        ),
        (
            "TemplateInfo",
            serializes::<TemplateInfo>,
            json!({"name": "t", "description": "d"}),
        ),
        (
            "VaultEntry",
            serializes::<VaultEntry>,
            json!({"id": id("vlt"), "key": "k", "scope": "workspace", "agent_id": null, "description": null, "fingerprint": hash,
                   "version": 1, "created_at": ts, "updated_at": ts}),
        ),
        (
            "Policy",
            serializes::<Policy>,
            json!({"id": id("po"), "agent_id": id("ag"), "version": 2, "document": "d", "cedar": "c", "created_at": ts,
                   "translations": [{"line": 1, "column": 3, "original": "0.5", "translated": "decimal(\"0.5\")", "rule": "decimal_literal"}]}),
        ),
        (
            "Run",
            serializes::<Run>,
            json!({"id": id("run"), "agent_id": id("ag"), "status": "queued", "input": {}, "output": null, "error": null, "cost_usd": "0.0",
                   "promotion": "L2_approve", "template": "sequence", "actions_executed": 0, "actions_blocked": 0, "actions_shadowed": 0, "actions_skipped": 0,
                   "audit_url": "heroa://embedded/v1/runs/x/audit", "created_at": ts, "started_at": null, "finished_at": null}),
        ),
        (
            "Run",
            serializes::<Run>,
            json!({"id": id("run"), "agent_id": id("ag"), "status": "failed", "input": [1], "output": "x", "error": "boom", "cost_usd": "1.5",
                   "promotion": "L3_autonomous", "template": "llm", "actions_executed": 1, "actions_blocked": 2, "actions_shadowed": 3, "actions_skipped": 4,
                   "audit_url": "u", "created_at": ts, "started_at": ts, "finished_at": ts}),
        ),
        (
            "AuditRecord",
            serializes::<AuditRecord>,
            json!({"run_id": id("run"), "agent_id": id("ag"), "head_hash": hash,
                   "events": [{"seq": 0, "at": ts, "type": "run.queued", "data": {"a": 1}, "prev_hash": hash, "hash": hash}]}),
        ),
        (
            "AuditVerification",
            serializes::<AuditVerification>,
            json!({"run_id": id("run"), "valid": true, "events": 3, "broken_at": null, "reason": null}),
        ),
        (
            "AuditVerification",
            serializes::<AuditVerification>,
            json!({"run_id": id("run"), "valid": false, "events": 3, "broken_at": 1, "reason": "r"}),
        ),
        (
            "Approval",
            serializes::<Approval>,
            json!({"id": id("apr"), "run_id": id("run"), "agent_id": id("ag"), "skill": "s", "args": {}, "status": "denied",
                   "requested_at": ts, "expires_at": ts, "decided_at": ts, "decided_by": "ops"}),
        ),
        (
            "InboxItem",
            serializes::<InboxItem>,
            json!({"id": id("ntf"), "agent_id": id("ag"), "run_id": id("run"), "message": "m", "created_at": ts}),
        ),
        (
            "PolicyDiagnostic",
            serializes::<heroa::policy::Diagnostic>,
            json!({"line": 1, "column": 2, "message": "m", "help": null, "translated": null}),
        ),
        // A deployment leaves out what does not apply to its mode (`skip_serializing_if`).
        (
            "Deployment",
            serializes::<Deployment>,
            json!({"id": id("dep"), "mode": "agent", "region": "us-east", "expires_at": null, "status": "starting", "name": "d",
                   "resource_tier": "small", "ttl": "persistent", "policy": {}, "restarts": 0, "created_at": ts, "updated_at": ts}),
        ),
        (
            "Deployment",
            serializes::<Deployment>,
            json!({"id": id("dep"), "url": "https://0000000000ab.heroa.localhost:8443",
                   "http_url": "http://0000000000ab.heroa.localhost:8080", "endpoint": "heroa://ws_x/svc/0000000000ab",
                   "handle": id("ag"), "mode": "service", "region": "eu-west", "expires_at": ts, "status": "failed", "name": "d",
                   "resource_tier": "large", "ttl": "2h",
                   "policy": {"egress": "allow-list", "allow_list": ["api.stripe.com"], "tools": ["heroa:echo"], "secret_scopes": ["k"]},
                   "template": "noop", "source": {"repo": "https://git.example/app.git", "ref": "main"}, "parent_agent_id": id("ag"),
                   "restarts": 3, "error": "process exited: exit status 1", "limits": deployment_limits, "created_at": ts, "updated_at": ts}),
        ),
        ("DeployPolicy", serializes::<DeployPolicy>, json!({})),
    ];
    // `required` lists exactly the fields every example has; the first example of each
    // schema has every Option empty, so these are the always-serialized fields.
    let mut always: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    for (name, ser, example) in cases {
        let schema = doc.schema(name);
        let wire = ser(&example);
        strict.validate(schema, &wire).unwrap_or_else(|e| {
            panic!("{name}: the Rust serialization does not match the document: {e:?}\n{wire:#}")
        });
        let present: BTreeSet<String> = wire.as_object().unwrap().keys().cloned().collect();
        always
            .entry(name)
            .and_modify(|a| a.retain(|k| present.contains(k)))
            .or_insert(present);
    }
    for (name, always) in always {
        let required: BTreeSet<String> = doc
            .schema(name)
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|v| v.as_str().unwrap().to_string())
            .collect();
        assert_eq!(
            required, always,
            "{name}: `required` must list exactly the always-serialized fields"
        );
    }

    // The error body: `field` and `details` are left out when empty.
    let plain = heroa::Error::new(ErrorKind::NotFound, "agent not found").to_body();
    let full = heroa::Error::invalid("document", "bad")
        .with_details(json!({"diagnostics": []}))
        .to_body();
    for body in [plain, full] {
        let wire = serde_json::to_value(&body).unwrap();
        strict
            .validate(doc.schema("Error"), &wire)
            .unwrap_or_else(|e| panic!("{e:?}: {wire}"));
    }
    assert_eq!(
        doc.schema("ErrorPayload")["required"],
        json!(["kind", "message"])
    );
}

// ---------------------------------------------------------------------------------
// The live server.
// ---------------------------------------------------------------------------------

/// A syntactically valid id that names nothing.
fn fake_id(param: &str) -> String {
    let prefix = match param {
        "agent_id" => "ag",
        "vault_id" => "vlt",
        "policy_id" => "po",
        "run_id" => "run",
        "approval_id" => "apr",
        "delivery_id" => "msg",
        "deployment_id" => "dep",
        other => panic!("no fake id for {other}"),
    };
    format!("{prefix}_{}", "0".repeat(26))
}

/// The `{param}` of a route, if any (routes have at most one).
fn route_param(route: &str) -> Option<&str> {
    let params: Vec<&str> = route
        .split('/')
        .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
        .collect();
    assert!(params.len() <= 1, "{route}: more than one path parameter");
    params.first().copied()
}

fn fill(route: &str, id: Option<&str>) -> String {
    match (route_param(route), id) {
        (Some(p), Some(id)) => route.replace(&format!("{{{p}}}"), id),
        (None, None) => route.to_string(),
        (p, id) => panic!("{route}: parameter {p:?} vs id {id:?}"),
    }
}

fn is_fallback(status: u16, body: &[u8]) -> bool {
    status == 404 && String::from_utf8_lossy(body).contains("no such endpoint")
}

#[derive(Default)]
struct Req<'a> {
    method: &'a str,
    route: &'a str,
    id: Option<&'a str>,
    query: Option<&'a str>,
    body: Option<Value>,
    raw: Option<Vec<u8>>,
    idempotency_key: Option<&'a str>,
    /// Other request headers.
    headers: Vec<(&'a str, String)>,
    anonymous: bool,
    /// The document's request schema must reject `body` (the server should too).
    invalid: bool,
}

impl<'a> Req<'a> {
    fn new(method: &'a str, route: &'a str) -> Self {
        Req {
            method,
            route,
            ..Default::default()
        }
    }
    fn id(mut self, id: &'a str) -> Self {
        self.id = Some(id);
        self
    }
    fn query(mut self, q: &'a str) -> Self {
        self.query = Some(q);
        self
    }
    fn json(mut self, body: Value) -> Self {
        self.body = Some(body);
        self
    }
    fn raw(mut self, bytes: Vec<u8>) -> Self {
        self.raw = Some(bytes);
        self
    }
    fn idempotency_key(mut self, k: &'a str) -> Self {
        self.idempotency_key = Some(k);
        self
    }
    fn header(mut self, name: &'a str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }
    fn anonymous(mut self) -> Self {
        self.anonymous = true;
        self
    }
    fn invalid(mut self) -> Self {
        self.invalid = true;
        self
    }
}

struct Answer {
    what: String,
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: Value,
}

impl Answer {
    /// The body, after checking the status.
    fn expect(self, status: u16) -> Value {
        assert_eq!(self.status, status, "{}: {:#}", self.what, self.body);
        self.body
    }

    /// Checks an error answer's status, kind and field.
    fn expect_error(self, status: u16, kind: &str, field: Option<&str>) -> Value {
        let body = self.expect(status);
        assert_eq!(body["error"]["kind"], json!(kind), "{body:#}");
        assert_eq!(body["error"]["field"].as_str(), field, "{body:#}");
        body
    }
}

struct Api<'d> {
    doc: &'d Doc,
    http: reqwest::Client,
    base: String,
    key: String,
    /// (method, route) → statuses seen.
    seen: Mutex<BTreeMap<(String, String), BTreeSet<u16>>>,
}

impl<'d> Api<'d> {
    fn new(doc: &'d Doc, base: String, key: &str) -> Self {
        Api {
            doc,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(60))
                .build()
                .unwrap(),
            base,
            key: key.to_string(),
            seen: Mutex::new(BTreeMap::new()),
        }
    }

    async fn raw(
        &self,
        method: &str,
        path: &str,
        req: &Req<'_>,
    ) -> (u16, reqwest::header::HeaderMap, Vec<u8>) {
        let url = match req.query {
            Some(q) => format!("{}{path}?{q}", self.base),
            None => format!("{}{path}", self.base),
        };
        let mut rb = self
            .http
            .request(reqwest::Method::from_bytes(method.as_bytes()).unwrap(), url);
        if !req.anonymous {
            rb = rb.bearer_auth(&self.key);
        }
        if let Some(k) = req.idempotency_key {
            rb = rb.header("Idempotency-Key", k);
        }
        for (name, value) in &req.headers {
            rb = rb.header(*name, value);
        }
        if let Some(b) = &req.body {
            rb = rb.json(b);
        } else if let Some(raw) = &req.raw {
            rb = rb
                .header("content-type", "application/json")
                .body(raw.clone());
        }
        let resp = rb
            .send()
            .await
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let bytes = resp.bytes().await.unwrap().to_vec();
        (status, headers, bytes)
    }

    /// Sends a documented request and validates the answer against the document.
    async fn send(&self, req: Req<'_>) -> Answer {
        let (method, route) = (req.method, req.route);
        self.doc.operation(method, route);
        if let Some(body) = &req.body {
            let schema = self
                .doc
                .request_schema(method, route)
                .unwrap_or_else(|| panic!("{method} {route} declares no request body"));
            match (
                Validator::new(&self.doc.v).validate(schema, body),
                req.invalid,
            ) {
                (Err(e), false) => {
                    panic!("{method} {route}: the document rejects our request body {body}: {e:?}")
                }
                (Ok(()), true) => panic!(
                    "{method} {route}: the document accepts {body}, which the test expects it to reject"
                ),
                _ => {}
            }
        }
        let path = fill(route, req.id);
        let (status, headers, bytes) = self.raw(method, &path, &req).await;
        let what = format!(
            "{method} {path}{} → {status}",
            req.query.map(|q| format!("?{q}")).unwrap_or_default()
        );
        assert!(
            !is_fallback(status, &bytes),
            "{what}: answered by the router's fallback"
        );
        let body = self
            .doc
            .check_answer(method, route, status, &headers, &bytes)
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        self.seen
            .lock()
            .unwrap()
            .entry((method.to_string(), route.to_string()))
            .or_default()
            .insert(status);
        Answer {
            what,
            status,
            headers,
            body,
        }
    }

    async fn get(&self, route: &str, id: Option<&str>) -> Value {
        let mut req = Req::new("GET", route);
        req.id = id;
        self.send(req).await.expect(200)
    }
}

async fn start() -> (Runtime, heroa::protocol::CreatedApiKey, Server) {
    let rt = Runtime::memory().unwrap();
    let key = rt.create_api_key(rt.default_workspace()).unwrap();
    let server = Server::start(
        rt.clone(),
        "127.0.0.1:0".parse().unwrap(),
        Default::default(),
    )
    .await
    .unwrap();
    (rt, key, server)
}

#[tokio::test(flavor = "multi_thread")]
async fn every_route_is_served_as_documented() {
    let doc = Doc::load();
    let (_rt, key, server) = start().await;
    let api = Api::new(&doc, server.url(), key.reveal());

    // The fallback is recognisable, so the probes below mean something.
    let (status, _, body) = api.raw("GET", "/v1/no-such-thing", &Req::default()).await;
    assert!(
        is_fallback(status, &body),
        "{status} {}",
        String::from_utf8_lossy(&body)
    );

    let served: BTreeSet<(&str, &str)> = routes().into_iter().collect();
    for (method, route) in routes() {
        let fake = route_param(route).map(fake_id);
        // With the key: the route's own answer (nothing exists, so 2xx for lists and
        // 4xx otherwise), declared by the document.
        let mut req = Req::new(method, route);
        req.id = fake.as_deref();
        let answer = api.send(req).await;
        assert_ne!(answer.status, 405, "{}", answer.what);
        // Without a key: 401 for all but the health check.
        let mut req = Req::new(method, route).anonymous();
        req.id = fake.as_deref();
        let answer = api.send(req).await;
        if route == "/v1/health" {
            assert_eq!(answer.status, 200, "{}", answer.what);
        } else {
            answer.expect_error(401, "unauthenticated", None);
        }
        // No other method is served on the path: 405 with `Allow` and an empty body
        // (as the document's introduction says), or the fallback.
        let path = fill(route, fake.as_deref());
        for other in ["GET", "POST", "PUT", "PATCH", "DELETE"] {
            if served.contains(&(other, route)) {
                continue;
            }
            let (status, headers, body) = api.raw(other, &path, &Req::default()).await;
            assert!(
                status == 405 || is_fallback(status, &body),
                "{other} {path} answered {status} but is not in the catalogue: {}",
                String::from_utf8_lossy(&body)
            );
            if status == 405 {
                assert!(
                    headers.contains_key("allow") && body.is_empty(),
                    "{other} {path}"
                );
            }
        }
        // `GET` routes also answer `HEAD`.
        if method == "GET" {
            let (status, _, body) = api.raw("HEAD", &path, &Req::default()).await;
            assert!(
                status != 405 && !is_fallback(status, &body),
                "HEAD {path} answered {status}"
            );
        }
    }
    server.shutdown().await.unwrap();
}

/// Polls `GET /v1/approvals?status=pending` until the run's approval shows up.
async fn pending_approval(api: &Api<'_>, run_id: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let list = api
            .send(Req::new("GET", "/v1/approvals").query("status=pending"))
            .await
            .expect(200);
        if let Some(a) = list["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["run_id"] == json!(run_id))
        {
            return a.clone();
        }
        assert!(
            Instant::now() < deadline,
            "no pending approval for {run_id}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn str_of(v: &Value) -> &str {
    v.as_str().unwrap_or_else(|| panic!("not a string: {v}"))
}

/// The events of an event-stream answer (`check_answer` gives its text as a string).
/// The events of a stream, each checked against the stream's event schema (`item`,
/// the operation's `x-itemSchema`).
fn sse_events(doc: &Doc, item: &str, body: &Value) -> Vec<heroa::sse::Event> {
    let mut decoder = heroa::sse::Decoder::new();
    let events = decoder.feed(str_of(body).as_bytes());
    assert!(!decoder.has_pending(), "the stream ends inside an event");
    let schema = json!({"$ref": format!("#/components/schemas/{item}")});
    for e in &events {
        let mut object = json!({
            "event": e.event,
            "data": serde_json::from_str::<Value>(&e.data).unwrap_or(Value::String(e.data.clone())),
        });
        if let Ok(id) = e.id.parse::<u64>() {
            object["id"] = json!(id);
        }
        if let Err(errors) = Validator::new(&doc.v).validate(&schema, &object) {
            panic!("stream event {object} is not a {item}: {errors:?}");
        }
    }
    events
}

/// A delivery as the receiver got it: headers, body.
type Received = (Vec<(String, String)>, Vec<u8>);

/// A webhook receiver on a loopback port: every POST to `/hook` is answered 204 and
/// handed to the returned channel.
async fn start_receiver() -> (String, tokio::sync::mpsc::UnboundedReceiver<Received>) {
    use axum::body::Bytes;
    use axum::http::{HeaderMap, StatusCode};
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<Received>();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: Bytes| {
            let pairs = headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or_default().to_string()))
                .collect();
            let _ = tx.send((pairs, body.to_vec()));
            async { StatusCode::NO_CONTENT }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, rx)
}

/// The next delivery the receiver gets whose `webhook-id` is `id` (any, for `None`).
async fn received(
    rx: &mut tokio::sync::mpsc::UnboundedReceiver<Received>,
    id: Option<&str>,
) -> Received {
    loop {
        let got = tokio::time::timeout(Duration::from_secs(20), rx.recv())
            .await
            .expect("no webhook delivery within 20 s")
            .expect("the receiver stopped");
        let webhook_id = got
            .0
            .iter()
            .find(|(k, _)| k == "webhook-id")
            .map(|(_, v)| v.as_str());
        if id.is_none() || webhook_id == id {
            return got;
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_real_flow_answers_what_the_document_declares() {
    let doc = Doc::load();
    let (rt, key, server) = start().await;
    rt.register_skill(
        Skill::new("test:record", SkillKind::Write, |call| async move {
            Ok(json!({"recorded": call.args}))
        })
        .cost_usd(Usd::cents(25))
        .description("Records its arguments (a write)."),
    )
    .unwrap();
    let api = Api::new(&doc, server.url(), key.reveal());

    // Health, workspace, catalog.
    let health = api
        .send(Req::new("GET", "/v1/health").anonymous())
        .await
        .expect(200);
    assert_eq!(health, json!({"status": "ok"}));
    let ws = api.get("/v1/workspace", None).await;
    assert_eq!(ws["id"], json!(rt.default_workspace()));
    assert_eq!(ws["tier"], json!("team"));
    api.send(Req::new("POST", "/v1/workspace/soc2-acceptance"))
        .await
        .expect_error(403, "tier_limit", None);
    let skills = api.get("/v1/skills", None).await;
    let echo = skills["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "heroa:echo")
        .expect("heroa:echo");
    assert_eq!(echo["kind"], json!("read"));
    let templates = api.get("/v1/templates", None).await;
    assert!(
        templates["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["name"] == "sequence")
    );

    // Register an agent, with an idempotent replay.
    let register = json!({"name": "a1", "region": "us-east"});
    let first = api
        .send(
            Req::new("POST", "/v1/agents")
                .json(register.clone())
                .idempotency_key("register-a1"),
        )
        .await;
    assert!(!first.headers.contains_key("idempotent-replayed"));
    let agent = first.expect(201);
    let agent_id = str_of(&agent["id"]).to_string();
    assert!(
        agent_id.starts_with("ag_") && agent_id.len() == 29,
        "{agent_id}"
    );
    assert_eq!(agent["promotion"], json!("L0_shadow"));
    assert!(agent["description"].is_null());
    let replay = api
        .send(
            Req::new("POST", "/v1/agents")
                .json(register.clone())
                .idempotency_key("register-a1"),
        )
        .await;
    assert_eq!(
        replay
            .headers
            .get("idempotent-replayed")
            .map(|v| v.as_bytes()),
        Some(&b"true"[..])
    );
    assert_eq!(replay.expect(201), agent);
    api.send(
        Req::new("POST", "/v1/agents")
            .json(json!({"name": "a9", "region": "us-east"}))
            .idempotency_key("register-a1"),
    )
    .await
    .expect_error(409, "conflict", Some("Idempotency-Key"));

    // Errors: an unknown region, an unknown field, a taken name, a body over the limit.
    let bad = api
        .send(
            Req::new("POST", "/v1/agents")
                .json(json!({"name": "a2", "region": "mars-north"}))
                .invalid(),
        )
        .await
        .expect_error(400, "invalid_argument", Some("region"));
    assert!(
        str_of(&bad["error"]["message"]).contains("us-east"),
        "{bad}"
    );
    api.send(
        Req::new("POST", "/v1/agents")
            .json(json!({"name": "a2", "region": "us-east", "colour": "red"}))
            .invalid(),
    )
    .await
    .expect_error(400, "invalid_argument", Some("colour"));
    api.send(Req::new("POST", "/v1/agents").json(register.clone()))
        .await
        .expect_error(409, "conflict", Some("name"));
    let mut huge = br#"{"name": "a3", "region": "us-east", "description": ""#.to_vec();
    huge.extend(std::iter::repeat_n(b'x', 1024 * 1024 + 1));
    huge.extend(br#""}"#);
    api.send(Req::new("POST", "/v1/agents").raw(huge))
        .await
        .expect_error(413, "payload_too_large", Some("body"));

    // Read, list, update the agent.
    assert_eq!(
        api.get("/v1/agents/{agent_id}", Some(&agent_id)).await,
        agent
    );
    let agents = api.get("/v1/agents", None).await;
    assert_eq!(agents["items"].as_array().unwrap().len(), 1);
    let updated = api
        .send(
            Req::new("PATCH", "/v1/agents/{agent_id}")
                .id(&agent_id)
                .json(json!({"description": "first agent"})),
        )
        .await
        .expect(200);
    assert_eq!(updated["description"], json!("first agent"));
    api.send(
        Req::new("PATCH", "/v1/agents/{agent_id}")
            .id(&agent_id)
            .json(json!({"region": "eu-west"})),
    )
    .await
    .expect_error(409, "failed_precondition", Some("region"));
    api.send(Req::new("GET", "/v1/agents/{agent_id}").id("ag_not-an-id"))
        .await
        .expect_error(400, "invalid_argument", Some("agent_id"));

    // Run-loop settings (an offline model for Heroku's endpoint below), a schedule, and a
    // webhook to a receiver started here. The signing secret never comes back.
    let (hook_url, mut hooks) = start_receiver().await;
    let signing_secret = "test-signing-secret-1";
    let usage = json!({"prompt_tokens": 12, "completion_tokens": 4, "total_tokens": 16});
    let configured = api
        .send(
            Req::new("PATCH", "/v1/agents/{agent_id}")
                .id(&agent_id)
                .json(json!({
                    "llm_configs": [{"provider": "offline", "model": "offline-1", "turns": [
                        {"content": "Echoing.", "tool_calls": [{"name": "heroa:echo", "arguments": {"x": 1}}], "usage": usage},
                        {"content": "Done.", "usage": usage},
                    ]}],
                    "system_prompt": "Be brief.",
                    "max_steps": 4,
                    "schedule": "0 3 * * 1",
                    "webhook": {"url": hook_url, "signing_secret": signing_secret},
                })),
        )
        .await
        .expect(200);
    assert_eq!(configured["webhook"]["url"], json!(hook_url));
    assert_eq!(
        str_of(&configured["webhook"]["signing_secret_fingerprint"]).len(),
        64
    );
    assert!(!configured.to_string().contains(signing_secret));
    assert_eq!(configured["max_steps"], json!(4));
    assert!(configured["next_run_at"].is_string(), "{configured:#}");
    let unscheduled = api
        .send(
            Req::new("PATCH", "/v1/agents/{agent_id}")
                .id(&agent_id)
                .json(json!({"schedule": ""})),
        )
        .await
        .expect(200);
    assert_eq!(
        (&unscheduled["schedule"], &unscheduled["next_run_at"]),
        (&Value::Null, &Value::Null)
    );
    api.send(
        Req::new("PATCH", "/v1/agents/{agent_id}")
            .id(&agent_id)
            .json(json!({"webhook": {"url": "ftp://example.com/hook", "signing_secret": signing_secret}}))
            .invalid(),
    )
    .await
    .expect_error(400, "invalid_argument", Some("webhook.url"));
    api.send(
        Req::new("PATCH", "/v1/agents/{agent_id}")
            .id(&agent_id)
            .json(json!({"max_steps": 0}))
            .invalid(),
    )
    .await
    .expect_error(400, "invalid_argument", Some("max_steps"));

    // Vault: put, list, get, rotate. The value never comes back.
    let secret = "s3cret-value-1";
    let entry = api
        .send(
            Req::new("POST", "/v1/vault")
                .json(json!({"agent_id": agent_id, "key": "api_token", "value": secret})),
        )
        .await
        .expect(201);
    let vault_id = str_of(&entry["id"]).to_string();
    assert_eq!(
        (entry["version"].as_u64(), entry["scope"].as_str()),
        (Some(1), Some("agent"))
    );
    let listed = api
        .send(Req::new("GET", "/v1/vault").query(&format!("agent_id={agent_id}")))
        .await
        .expect(200);
    assert_eq!(listed["items"], json!([entry]));
    assert_eq!(
        api.get("/v1/vault/{vault_id}", Some(&vault_id)).await,
        entry
    );
    let rotated = api
        .send(
            Req::new("POST", "/v1/vault/{vault_id}/rotate")
                .id(&vault_id)
                .json(json!({"value": "s3cret-value-2"})),
        )
        .await
        .expect(200);
    assert_eq!(rotated["version"], json!(2));
    assert_ne!(rotated["fingerprint"], entry["fingerprint"]);
    assert!(!listed.to_string().contains(secret) && !rotated.to_string().contains("s3cret"));
    api.send(Req::new("GET", "/v1/vault").query("agent_id=nope"))
        .await
        .expect_error(400, "invalid_argument", Some("agent_id"));
    api.send(Req::new("GET", "/v1/vault").query("colour=red"))
        .await
        .expect_error(400, "invalid_argument", Some("colour"));

    // Policies: a translated version, an invalid one (diagnostics), then permit-all.
    let translated = api
        .send(Req::new("POST", "/v1/policies").json(json!({
            "agent_id": agent_id,
            "document": "permit(principal, action, resource) when { context.run_cost_usd < 0.50 };",
        })))
        .await
        .expect(201);
    assert!(
        !translated["translations"].as_array().unwrap().is_empty(),
        "{translated:#}"
    );
    let invalid = api
        .send(
            Req::new("POST", "/v1/policies")
                .json(json!({"agent_id": agent_id, "document": "permit(principal, action"})),
        )
        .await
        .expect_error(400, "invalid_argument", Some("document"));
    Validator::new(&doc.v)
        .validate(
            doc.schema("PolicyErrorDetails"),
            &invalid["error"]["details"],
        )
        .unwrap_or_else(|e| panic!("details of an invalid policy: {e:?}\n{invalid:#}"));
    let policy = api
        .send(Req::new("POST", "/v1/policies").json(
            json!({"agent_id": agent_id, "document": "permit(principal, action, resource);"}),
        ))
        .await
        .expect(201);
    assert_eq!(policy["version"], json!(2));
    let policy_id = str_of(&policy["id"]).to_string();
    assert_eq!(
        api.get("/v1/policies/{policy_id}", Some(&policy_id)).await,
        policy
    );
    let policies = api
        .send(Req::new("GET", "/v1/policies").query(&format!("agent_id={agent_id}")))
        .await
        .expect(200);
    assert_eq!(policies["items"], json!([translated, policy]));
    assert_eq!(
        api.get("/v1/policies", None).await["items"]
            .as_array()
            .unwrap()
            .len(),
        2
    );

    // Promotion: L4 needs the enterprise tier; L3 is fine.
    api.send(
        Req::new("POST", "/v1/agents/{agent_id}/promotion")
            .id(&agent_id)
            .json(json!({"level": "L4_trusted"})),
    )
    .await
    .expect_error(403, "tier_limit", Some("level"));
    let promoted = api
        .send(
            Req::new("POST", "/v1/agents/{agent_id}/promotion")
                .id(&agent_id)
                .json(json!({"level": "L3_autonomous"})),
        )
        .await
        .expect(200);
    assert_eq!(promoted["promotion"], json!("L3_autonomous"));

    // A run: start, wait, read, list, audit, verify; cancelling it after the end changes nothing.
    let input = json!({"calls": [{"skill": "heroa:echo", "args": {"x": 1}}]});
    let run = api
        .send(
            Req::new("POST", "/v1/agents/{agent_id}/runs")
                .id(&agent_id)
                .json(json!({"input": input})),
        )
        .await
        .expect(201);
    let run_id = str_of(&run["id"]).to_string();
    assert_eq!(run["input"], input);
    let done = api
        .send(
            Req::new("POST", "/v1/runs/{run_id}/wait")
                .id(&run_id)
                .json(json!({"timeout_ms": 10000})),
        )
        .await
        .expect(200);
    assert_eq!(done["status"], json!("complete"), "{done:#}");
    assert_eq!(
        (
            done["actions_executed"].as_u64(),
            done["promotion"].as_str()
        ),
        (Some(1), Some("L3_autonomous"))
    );
    assert_eq!(
        done["output"]["results"].as_array().map(Vec::len),
        Some(1),
        "{done:#}"
    );
    assert_eq!(api.get("/v1/runs/{run_id}", Some(&run_id)).await, done);
    let runs = api
        .send(Req::new("GET", "/v1/runs").query(&format!("agent_id={agent_id}")))
        .await
        .expect(200);
    assert_eq!(runs["items"], json!([done]));
    let audit = api.get("/v1/runs/{run_id}/audit", Some(&run_id)).await;
    let events = audit["events"].as_array().unwrap();
    assert!(events.len() >= 2, "{audit:#}");
    assert_eq!(audit["head_hash"], events.last().unwrap()["hash"]);
    assert_eq!(events[0]["type"], json!("run.queued"));
    let verification = api
        .get("/v1/runs/{run_id}/audit/verify", Some(&run_id))
        .await;
    assert_eq!(verification["valid"], json!(true));
    assert_eq!(verification["events"], json!(events.len()));
    let cancelled_late = api
        .send(Req::new("POST", "/v1/runs/{run_id}/cancel").id(&run_id))
        .await
        .expect(200);
    assert_eq!(cancelled_late, done);
    assert_eq!(done["template"], json!("sequence"));

    // The run's events: its audit chain as Server-Sent Events (ids = audit seqs), then
    // `done`; resumable after `Last-Event-ID`.
    let stream = api
        .send(Req::new("GET", "/v1/runs/{run_id}/events").id(&run_id))
        .await
        .expect(200);
    let streamed = sse_events(&doc, "RunStreamEvent", &stream);
    assert_eq!(streamed.len(), events.len() + 1, "{stream}");
    for (e, audit) in streamed.iter().zip(events) {
        assert_eq!(
            (e.id.as_str(), e.event.as_str()),
            (audit["seq"].to_string().as_str(), str_of(&audit["type"])),
            "{stream}"
        );
        let data: Value = serde_json::from_str(&e.data).unwrap();
        Validator::new(&doc.v)
            .validate(doc.schema("AuditEvent"), &data)
            .unwrap_or_else(|err| panic!("{err:?}: {data}"));
        assert_eq!(&data, audit);
    }
    let last = streamed.last().unwrap();
    assert_eq!(
        (last.event.as_str(), last.data.as_str(), last.id.clone()),
        ("done", "[DONE]", events.len().to_string())
    );
    let resumed = api
        .send(
            Req::new("GET", "/v1/runs/{run_id}/events")
                .id(&run_id)
                .header("Last-Event-ID", (events.len() - 2).to_string()),
        )
        .await
        .expect(200);
    let resumed: Vec<(String, String)> = sse_events(&doc, "RunStreamEvent", &resumed)
        .into_iter()
        .map(|e| (e.id, e.event))
        .collect();
    assert_eq!(
        resumed,
        streamed[events.len() - 1..]
            .iter()
            .map(|e| (e.id.clone(), e.event.clone()))
            .collect::<Vec<_>>()
    );
    api.send(
        Req::new("GET", "/v1/runs/{run_id}/events")
            .id(&run_id)
            .header("Last-Event-ID", "soon"),
    )
    .await
    .expect_error(400, "invalid_argument", Some("Last-Event-ID"));

    // The run's result went to the webhook, signed; the delivery and its attempts are
    // listed; a redelivery sends it again with the same `webhook-id`.
    let (headers, body) = received(&mut hooks, None).await;
    let payload: Value = serde_json::from_slice(&body).unwrap();
    Validator::new(&doc.v)
        .validate(doc.schema("RunCompletedWebhook"), &payload)
        .unwrap_or_else(|e| panic!("webhook body: {e:?}\n{payload:#}"));
    assert_eq!(payload["run"], done);
    heroa::webhooks::verify(
        &headers,
        &body,
        &[signing_secret],
        heroa::webhooks::VerifyOptions::default(),
    )
    .expect("the delivery is signed with the agent's secret");
    let webhook_id = headers
        .iter()
        .find(|(k, _)| k == "webhook-id")
        .map(|(_, v)| v.clone())
        .expect("webhook-id");
    let deadline = Instant::now() + Duration::from_secs(20);
    let delivery = loop {
        let list = api
            .send(Req::new("GET", "/v1/webhooks/deliveries").query(&format!("agent_id={agent_id}")))
            .await
            .expect(200);
        let found = list["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["id"] == json!(webhook_id) && d["status"] == json!("delivered"))
            .cloned();
        if let Some(d) = found {
            break d;
        }
        assert!(Instant::now() < deadline, "not delivered: {list:#}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(
        (&delivery["run_id"], &delivery["url"]),
        (&json!(run_id), &json!(hook_url))
    );
    assert_eq!(delivery["attempts"][0]["status_code"], json!(204));
    assert_eq!(
        api.get("/v1/webhooks/deliveries/{delivery_id}", Some(&webhook_id))
            .await,
        delivery
    );
    let all = api.get("/v1/webhooks/deliveries", None).await;
    assert!(all["items"].as_array().unwrap().contains(&delivery));
    let again = api
        .send(Req::new("POST", "/v1/webhooks/deliveries/{delivery_id}/redeliver").id(&webhook_id))
        .await
        .expect(200);
    assert_eq!(
        (&again["id"], &again["status"], &again["round_attempts"]),
        (&json!(webhook_id), &json!("pending"), &json!(0))
    );
    let (_, body_again) = received(&mut hooks, Some(&webhook_id)).await;
    assert_eq!(
        serde_json::from_slice::<Value>(&body_again).unwrap()["run"]["id"],
        json!(run_id)
    );
    api.send(Req::new("GET", "/v1/webhooks/deliveries/{delivery_id}").id(&fake_id("delivery_id")))
        .await
        .expect_error(404, "not_found", None);
    api.send(Req::new("POST", "/v1/webhooks/deliveries/{delivery_id}/redeliver").id("msg_nope"))
        .await
        .expect_error(400, "invalid_argument", Some("delivery_id"));
    api.send(Req::new("GET", "/v1/webhooks/deliveries").query("agent_id=nope"))
        .await
        .expect_error(400, "invalid_argument", Some("agent_id"));

    // Heroku's agents endpoint: the agent loop of the `Heroa-Agent` agent (its offline
    // model), streamed as Heroku's `message` completions, then `done`; the loop is a run.
    let heroku = json!({
        "model": "offline-1",
        "messages": [{"role": "user", "content": "Echo x."}],
        "tools": [{"type": "heroku_tool", "name": "heroa:echo", "description": "Echoes its arguments.",
                   "runtime_params": {"target_app_name": "my-app", "dyno_size": "standard-1x", "ttl_seconds": 30,
                                      "max_calls": 2, "tool_params": {}}}],
        "temperature": 0.5,
        "top_p": 0.9,
        "max_tokens_per_inference_request": 1024,
        "stop": ["STOP"],
    });
    let answer = api
        .send(
            Req::new("POST", "/v1/agents/heroku")
                .header("Heroa-Agent", "a1")
                .json(heroku.clone()),
        )
        .await;
    let loop_run_id = answer
        .headers
        .get("heroa-run-id")
        .and_then(|v| v.to_str().ok())
        .expect("Heroa-Run-Id")
        .to_string();
    let stream = answer.expect(200);
    let streamed = sse_events(&doc, "HerokuStreamEvent", &stream);
    let (last, messages) = streamed.split_last().unwrap();
    assert_eq!(
        (last.event.as_str(), last.data.as_str()),
        ("done", "[DONE]")
    );
    let completions: Vec<Value> = messages
        .iter()
        .map(|e| {
            assert_eq!(e.event, "message", "{stream}");
            let c: Value = serde_json::from_str(&e.data).unwrap();
            Validator::new(&doc.v)
                .validate(doc.schema("Completion"), &c)
                .unwrap_or_else(|err| panic!("{err:?}: {c:#}"));
            c
        })
        .collect();
    let objects: Vec<&str> = completions.iter().map(|c| str_of(&c["object"])).collect();
    assert_eq!(
        objects,
        ["chat.completion", "tool.completion", "chat.completion"],
        "{stream}"
    );
    let call = &completions[0]["choices"][0]["message"]["tool_calls"][0];
    assert_eq!(call["function"]["name"], json!("heroa:echo"));
    assert_eq!(
        completions[1]["choices"][0]["message"]["tool_call_id"],
        call["id"]
    );
    assert_eq!(completions[2]["choices"][0]["finish_reason"], json!("stop"));
    let loop_run = api.get("/v1/runs/{run_id}", Some(&loop_run_id)).await;
    assert_eq!(
        (
            loop_run["status"].as_str(),
            loop_run["template"].as_str(),
            loop_run["agent_id"].as_str()
        ),
        (Some("complete"), Some("llm"), Some(agent_id.as_str())),
        "{loop_run:#}"
    );
    let mut unknown_tool = heroku.clone();
    unknown_tool["tools"][0]["name"] = json!("nope:tool");
    api.send(
        Req::new("POST", "/v1/agents/heroku")
            .header("Heroa-Agent", agent_id.clone())
            .json(unknown_tool),
    )
    .await
    .expect_error(400, "invalid_argument", Some("tools[0].name"));
    api.send(Req::new("POST", "/v1/agents/heroku").json(heroku.clone()))
        .await
        .expect_error(400, "invalid_argument", Some("Heroa-Agent"));
    api.send(
        Req::new("POST", "/v1/agents/heroku")
            .header("Heroa-Agent", "no-such-agent")
            .json(heroku.clone()),
    )
    .await
    .expect_error(404, "not_found", Some("Heroa-Agent"));

    // A slow run: the wait times out (504), the cancel stops it.
    let slow = api
        .send(
            Req::new("POST", "/v1/agents/{agent_id}/runs")
                .id(&agent_id)
                .json(
                    json!({"input": {"calls": [{"skill": "heroa:sleep", "args": {"ms": 30000}}]}}),
                ),
        )
        .await
        .expect(201);
    let slow_id = str_of(&slow["id"]).to_string();
    api.send(
        Req::new("POST", "/v1/runs/{run_id}/wait")
            .id(&slow_id)
            .json(json!({"timeout_ms": 50})),
    )
    .await
    .expect_error(504, "timeout", None);
    let cancelled = api
        .send(Req::new("POST", "/v1/runs/{run_id}/cancel").id(&slow_id))
        .await
        .expect(200);
    assert_eq!(cancelled["status"], json!("cancelled"), "{cancelled:#}");

    // L1 notify: a run leaves an inbox message.
    api.send(
        Req::new("POST", "/v1/agents/{agent_id}/promotion")
            .id(&agent_id)
            .json(json!({"level": "L1_notify"})),
    )
    .await
    .expect(200);
    let notified = api
        .send(
            Req::new("POST", "/v1/agents/{agent_id}/runs")
                .id(&agent_id)
                .json(json!({"input": {"calls": [{"skill": "test:record", "args": {"n": 1}}]}})),
        )
        .await
        .expect(201);
    let notified_id = str_of(&notified["id"]).to_string();
    let notified = api
        .send(
            Req::new("POST", "/v1/runs/{run_id}/wait")
                .id(&notified_id)
                .json(json!({"timeout_ms": 10000})),
        )
        .await
        .expect(200);
    assert_eq!(notified["cost_usd"], json!("0.25"), "{notified:#}");
    let inbox = api.get("/v1/inbox", None).await;
    assert!(
        inbox["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["run_id"] == json!(notified_id)),
        "{inbox:#}"
    );

    // L2 approve: one held write approved, one denied. Deciding again the same way
    // answers the approval unchanged; the opposite decision conflicts.
    api.send(
        Req::new("POST", "/v1/agents/{agent_id}/promotion")
            .id(&agent_id)
            .json(json!({"level": "L2_approve"})),
    )
    .await
    .expect(200);
    let write = json!({"input": {"calls": [{"skill": "test:record", "args": {"n": 2}}]}});
    for (verb, status) in [("approve", "approved"), ("deny", "denied")] {
        let held = api
            .send(
                Req::new("POST", "/v1/agents/{agent_id}/runs")
                    .id(&agent_id)
                    .json(write.clone()),
            )
            .await
            .expect(201);
        let held_id = str_of(&held["id"]).to_string();
        let approval = pending_approval(&api, &held_id).await;
        let approval_id = str_of(&approval["id"]).to_string();
        assert_eq!(
            (approval["skill"].as_str(), approval["status"].as_str()),
            (Some("test:record"), Some("pending"))
        );
        assert_eq!(
            api.get("/v1/approvals/{approval_id}", Some(&approval_id))
                .await,
            approval
        );
        let route = format!("/v1/approvals/{{approval_id}}/{verb}");
        let answer = api
            .send(
                Req::new("POST", &route)
                    .id(&approval_id)
                    .json(json!({"by": "tester"})),
            )
            .await
            .expect(200);
        assert_eq!(
            (answer["status"].as_str(), answer["decided_by"].as_str()),
            (Some(status), Some("tester"))
        );
        let again = api
            .send(
                Req::new("POST", &route)
                    .id(&approval_id)
                    .json(json!({"by": "someone else"})),
            )
            .await
            .expect(200);
        assert_eq!(again, answer);
        let opposite = format!(
            "/v1/approvals/{{approval_id}}/{}",
            if verb == "approve" { "deny" } else { "approve" }
        );
        api.send(Req::new("POST", &opposite).id(&approval_id))
            .await
            .expect_error(409, "conflict", None);
        let finished = api
            .send(
                Req::new("POST", "/v1/runs/{run_id}/wait")
                    .id(&held_id)
                    .json(json!({"timeout_ms": 10000})),
            )
            .await
            .expect(200);
        let expected_run = if verb == "approve" {
            "complete"
        } else {
            "partial"
        };
        assert_eq!(finished["status"], json!(expected_run), "{finished:#}");
    }
    let approvals = api.get("/v1/approvals", None).await;
    assert_eq!(approvals["items"].as_array().unwrap().len(), 2);
    let approved = api
        .send(Req::new("GET", "/v1/approvals").query("status=approved"))
        .await
        .expect(200);
    assert_eq!(approved["items"].as_array().unwrap().len(), 1);
    api.send(Req::new("GET", "/v1/approvals").query("status=maybe"))
        .await
        .expect_error(400, "invalid_argument", Some("status"));

    // Deployments (agent mode only: apps and services would spawn processes). A
    // sub-agent: deploy, read, list, extend, run its handle, delete; then the handle
    // refuses runs. Bad deploys name the field at fault.
    let deployed = api
        .send(
            Req::new("POST", "/v1/deployments")
                .json(json!({"mode": "agent", "template": "noop"}))
                .idempotency_key("deploy-sub-1"),
        )
        .await
        .expect(201);
    let dep_id = str_of(&deployed["id"]).to_string();
    assert!(dep_id.starts_with("dep_") && dep_id.len() == 30, "{dep_id}");
    assert_eq!(
        (
            deployed["mode"].as_str(),
            deployed["status"].as_str(),
            deployed["region"].as_str(),
            deployed["resource_tier"].as_str(),
            deployed["ttl"].as_str(),
            deployed["template"].as_str(),
        ),
        (
            Some("agent"),
            Some("running"),
            Some("us-east"),
            Some("small"),
            Some("2h"),
            Some("noop")
        ),
        "{deployed:#}"
    );
    assert!(deployed["expires_at"].is_string(), "{deployed:#}");
    // Without a parent: no egress, tools not limited beyond the envelope.
    assert_eq!(
        deployed["policy"],
        json!({"egress": "none"}),
        "{deployed:#}"
    );
    for absent in [
        "url",
        "endpoint",
        "source",
        "parent_agent_id",
        "error",
        "limits",
    ] {
        assert!(deployed.get(absent).is_none(), "{absent}: {deployed:#}");
    }
    let handle = str_of(&deployed["handle"]).to_string();
    let replayed = api
        .send(
            Req::new("POST", "/v1/deployments")
                .json(json!({"mode": "agent", "template": "noop"}))
                .idempotency_key("deploy-sub-1"),
        )
        .await;
    assert!(replayed.headers.contains_key("idempotent-replayed"));
    assert_eq!(replayed.expect(201), deployed);
    let sub_agent = api.get("/v1/agents/{agent_id}", Some(&handle)).await;
    assert_eq!(
        (
            sub_agent["deployment_id"].as_str(),
            sub_agent["template"].as_str(),
            sub_agent["promotion"].as_str()
        ),
        (Some(dep_id.as_str()), Some("noop"), Some("L3_autonomous")),
        "{sub_agent:#}"
    );
    assert!(sub_agent["parent_id"].is_null(), "{sub_agent:#}");
    assert_eq!(
        api.get("/v1/deployments/{deployment_id}", Some(&dep_id))
            .await,
        deployed
    );
    let deployments = api.get("/v1/deployments", None).await;
    assert_eq!(deployments["items"], json!([deployed]));
    let extended = api
        .send(
            Req::new("POST", "/v1/deployments/{deployment_id}/extend")
                .id(&dep_id)
                .json(json!({"ttl": "24h"})),
        )
        .await
        .expect(200);
    assert_eq!(
        (&extended["id"], &extended["ttl"], &extended["status"]),
        (&json!(dep_id), &json!("24h"), &json!("running"))
    );
    assert!(
        str_of(&extended["expires_at"]) > str_of(&deployed["expires_at"]),
        "{extended:#}"
    );
    let sub_run = api
        .send(
            Req::new("POST", "/v1/agents/{agent_id}/runs")
                .id(&handle)
                .json(json!({"input": {"x": 1}})),
        )
        .await
        .expect(201);
    let sub_run = api
        .send(
            Req::new("POST", "/v1/runs/{run_id}/wait")
                .id(str_of(&sub_run["id"]))
                .json(json!({"timeout_ms": 10000})),
        )
        .await
        .expect(200);
    assert_eq!(
        (
            sub_run["status"].as_str(),
            sub_run["agent_id"].as_str(),
            sub_run["template"].as_str()
        ),
        (Some("complete"), Some(handle.as_str()), Some("noop")),
        "{sub_run:#}"
    );
    assert_eq!(sub_run["output"], json!({"x": 1}), "{sub_run:#}");
    let stopped = api
        .send(Req::new("DELETE", "/v1/deployments/{deployment_id}").id(&dep_id))
        .await
        .expect(200);
    assert_eq!(
        (&stopped["id"], &stopped["status"]),
        (&json!(dep_id), &json!("stopped"))
    );
    api.send(
        Req::new("POST", "/v1/agents/{agent_id}/runs")
            .id(&handle)
            .json(json!({"input": {"x": 2}})),
    )
    .await
    .expect_error(409, "failed_precondition", Some("agent_id"));
    api.send(
        Req::new("POST", "/v1/deployments/{deployment_id}/extend")
            .id(&dep_id)
            .json(json!({"ttl": "2h"})),
    )
    .await
    .expect_error(409, "failed_precondition", None);
    assert_eq!(
        api.get("/v1/deployments/{deployment_id}", Some(&dep_id))
            .await,
        stopped
    );
    api.send(
        Req::new("POST", "/v1/deployments")
            .json(json!({"mode": "nope"}))
            .invalid(),
    )
    .await
    .expect_error(400, "invalid_argument", Some("mode"));
    api.send(
        Req::new("POST", "/v1/deployments")
            .json(json!({"mode": "app", "template": "noop"}))
            .invalid(),
    )
    .await
    .expect_error(400, "invalid_argument", Some("template"));
    api.send(
        Req::new("POST", "/v1/deployments")
            .json(json!({"mode": "agent"}))
            .invalid(),
    )
    .await
    .expect_error(400, "invalid_argument", Some("template"));
    api.send(
        Req::new("POST", "/v1/deployments")
            .json(json!({"mode": "agent", "template": "noop", "ttl": "soon"}))
            .invalid(),
    )
    .await
    .expect_error(400, "invalid_argument", Some("ttl"));
    api.send(
        Req::new("POST", "/v1/deployments/{deployment_id}/extend")
            .id(&dep_id)
            .json(json!({"ttl": "0h"}))
            .invalid(),
    )
    .await
    .expect_error(400, "invalid_argument", Some("ttl"));
    api.send(Req::new("GET", "/v1/deployments/{deployment_id}").id("dep_nope"))
        .await
        .expect_error(400, "invalid_argument", Some("deployment_id"));
    api.send(Req::new("DELETE", "/v1/deployments/{deployment_id}").id(&fake_id("deployment_id")))
        .await
        .expect_error(404, "not_found", None);
    assert_eq!(
        api.get("/v1/deployments", None).await["items"],
        json!([stopped])
    );

    // An enterprise workspace accepts SOC 2 and promotes to L4; it cannot see the team's agent.
    let ent = rt
        .create_workspace("enterprise-ws", Tier::Enterprise)
        .unwrap();
    let ent_key = rt.create_api_key(&ent.id).unwrap();
    let ent_api = Api::new(&doc, server.url(), ent_key.reveal());
    ent_api
        .send(Req::new("GET", "/v1/agents/{agent_id}").id(&agent_id))
        .await
        .expect_error(404, "not_found", None);
    let accepted = ent_api
        .send(Req::new("POST", "/v1/workspace/soc2-acceptance"))
        .await
        .expect(200);
    assert!(accepted["soc2_accepted_at"].is_string(), "{accepted:#}");
    let ent_agent = ent_api
        .send(Req::new("POST", "/v1/agents").json(json!({"name": "e1", "region": "bc-sovereign"})))
        .await
        .expect(201);
    let ent_agent_id = str_of(&ent_agent["id"]).to_string();
    let trusted = ent_api
        .send(
            Req::new("POST", "/v1/agents/{agent_id}/promotion")
                .id(&ent_agent_id)
                .json(json!({"level": "L4_trusted"})),
        )
        .await
        .expect(200);
    assert_eq!(trusted["promotion"], json!("L4_trusted"));

    // `remove_webhook` removes the webhook.
    let unhooked = api
        .send(
            Req::new("PATCH", "/v1/agents/{agent_id}")
                .id(&agent_id)
                .json(json!({"remove_webhook": true})),
        )
        .await
        .expect(200);
    assert!(unhooked["webhook"].is_null(), "{unhooked:#}");

    // Deletes answer 204 without a body; the resource is gone after.
    let gone = api
        .send(Req::new("DELETE", "/v1/vault/{vault_id}").id(&vault_id))
        .await
        .expect(204);
    assert!(gone.is_null());
    api.send(Req::new("GET", "/v1/vault/{vault_id}").id(&vault_id))
        .await
        .expect_error(404, "not_found", None);
    api.send(Req::new("DELETE", "/v1/agents/{agent_id}").id(&agent_id))
        .await
        .expect(204);
    api.send(Req::new("GET", "/v1/agents/{agent_id}").id(&agent_id))
        .await
        .expect_error(404, "not_found", None);
    // Runs and their audit records stay.
    assert_eq!(
        api.get("/v1/runs/{run_id}/audit/verify", Some(&run_id))
            .await["valid"],
        json!(true)
    );

    // Every route answered at least once with success, and everything was validated.
    let mut seen = api.seen.lock().unwrap().clone();
    for (k, v) in ent_api.seen.lock().unwrap().iter() {
        seen.entry(k.clone()).or_default().extend(v);
    }
    let unexercised: Vec<_> = routes()
        .into_iter()
        .filter(|(m, r)| {
            !seen
                .get(&(m.to_string(), r.to_string()))
                .is_some_and(|s| s.iter().any(|c| (200..300).contains(c)))
        })
        .collect();
    assert!(
        unexercised.is_empty(),
        "routes without a successful answer in the flow: {unexercised:?}"
    );
    server.shutdown().await.unwrap();
}

/// Input the server refuses that the document refuses too (so a client validating
/// against the document, or a fuzzer generating from it, learns the same rules),
/// each a 400 naming the field on a live server — and what the document leaves to
/// the server, said here so it is a decision and not an accident.
#[tokio::test(flavor = "multi_thread")]
async fn the_document_refuses_what_the_server_refuses() {
    let doc = Doc::load();
    let (rt, key, server) = start().await;
    let api = Api::new(&doc, server.url(), key.reveal());
    let agent = api
        .send(Req::new("POST", "/v1/agents").json(json!({"name": "strict", "region": "us-east"})))
        .await
        .expect(201);
    let ag = str_of(&agent["id"]).to_string();
    let cases: Vec<(&str, &str, Value, &str)> = vec![
        // Deploy: what each mode takes.
        ("POST", "/v1/deployments", json!({"mode": "app"}), "source"),
        (
            "POST",
            "/v1/deployments",
            json!({"mode": "service", "source": ""}),
            "source",
        ),
        (
            "POST",
            "/v1/deployments",
            json!({"mode": "service", "source": "img:1", "template": "sequence"}),
            "template",
        ),
        (
            "POST",
            "/v1/deployments",
            json!({"mode": "agent", "template": "sequence", "source": "img:1"}),
            "source",
        ),
        (
            "POST",
            "/v1/deployments",
            json!({"mode": "agent", "ttl": "0h", "template": "sequence"}),
            "ttl",
        ),
        // Policies: a document that says nothing.
        (
            "POST",
            "/v1/policies",
            json!({"agent_id": ag, "document": ""}),
            "document",
        ),
        (
            "POST",
            "/v1/policies",
            json!({"agent_id": ag, "document": " \n\t"}),
            "document",
        ),
        // Vault: scope and owner go together.
        (
            "POST",
            "/v1/vault",
            json!({"key": "k", "value": "v"}),
            "agent_id",
        ),
        (
            "POST",
            "/v1/vault",
            json!({"key": "k", "value": "v", "scope": "workspace", "agent_id": ag}),
            "agent_id",
        ),
        (
            "POST",
            "/v1/vault",
            json!({"key": "k", "value": "", "agent_id": ag}),
            "value",
        ),
        // Agents: bounded settings.
        (
            "POST",
            "/v1/agents",
            json!({"name": "x", "region": "us-east", "max_steps": 117.0}),
            "max_steps",
        ),
        (
            "POST",
            "/v1/agents",
            json!({"name": "x", "region": "mars"}),
            "region",
        ),
        (
            "PATCH",
            "/v1/agents/{agent_id}",
            json!({"webhook": {"url": "https://)+![", "signing_secret": "long-enough-secret"}}),
            "webhook.url",
        ),
        (
            "PATCH",
            "/v1/agents/{agent_id}",
            json!({"remove_webhook": true, "webhook": {"url": "https://h.example", "signing_secret": "x"}}),
            "webhook.signing_secret",
        ),
        (
            "POST",
            "/v1/agents",
            json!({"name": "x", "region": "us-east", "llm_configs": [{"provider": "offline", "model": "m"}]}),
            "llm_configs[0].script",
        ),
        (
            "POST",
            "/v1/agents",
            json!({"name": "x", "region": "us-east",
                   "llm_configs": [{"provider": "openai", "model": "m", "prompt_usd_per_1k": 0.5}]}),
            "llm_configs[0].prompt_usd_per_1k",
        ),
    ];
    for (method, route, body, field) in cases {
        let mut req = Req::new(method, route).json(body).invalid();
        if route.contains('{') {
            req = req.id(&ag);
        }
        api.send(req)
            .await
            .expect_error(400, "invalid_argument", Some(field));
    }
    // The Heroku Agents API's endpoint: at least one message.
    api.send(
        Req::new("POST", "/v1/agents/heroku")
            .header("Heroa-Agent", ag.clone())
            .json(json!({"model": "m", "messages": []}))
            .invalid(),
    )
    .await
    .expect_error(400, "invalid_argument", Some("messages"));
    // A whole number written as a float is that integer, to the document (JSON
    // Schema) and to the server alike.
    api.send(
        Req::new("POST", "/v1/agents")
            .json(json!({"name": "floaty", "region": "us-east", "max_steps": 17.0})),
    )
    .await
    .expect(201);
    // Left to the server: whether a template is registered (host programs register
    // their own, so the document names the form, not the set) and whether a
    // policy document is valid Cedar.
    api.send(
        Req::new("POST", "/v1/agents")
            .json(json!({"name": "y", "region": "us-east", "template": "not-registered"})),
    )
    .await
    .expect_error(400, "invalid_argument", Some("template"));
    api.send(Req::new("POST", "/v1/policies").json(json!({"agent_id": ag, "document": "permit("})))
        .await
        .expect_error(400, "invalid_argument", Some("document"));
    // Nothing refused was stored.
    let ws = rt.default_workspace();
    assert_eq!(
        rt.list_agents(ws, &Default::default()).unwrap().items.len(),
        2
    );
    assert!(
        rt.vault_list(ws, None, &Default::default())
            .unwrap()
            .items
            .is_empty()
    );
    assert!(
        rt.list_policies(ws, None, &Default::default())
            .unwrap()
            .items
            .is_empty()
    );
    let deps = rt.list_deployments(ws, &Default::default()).unwrap().items;
    assert!(deps.is_empty(), "{deps:#?}");
}

/// The document's duration patterns take exactly what the server's parser takes,
/// at every unit's bounds (approval windows up to 30 days, TTLs up to 365).
#[test]
fn duration_patterns_agree_with_the_parser_at_the_bounds() {
    let doc = Doc::load();
    let validator = Validator::new(&doc.v);
    let register = doc.schema("RegisterAgent");
    let extend = doc.schema("ExtendDeployment");
    let mut texts = vec![
        "0s".to_string(),
        "persistent".into(),
        "1".into(),
        "s".into(),
        "01d".into(),
    ];
    for max in [
        heroa::protocol::MAX_APPROVAL_WINDOW_SECS,
        heroa::protocol::MAX_TTL_SECS,
    ] {
        for (unit, per) in [("s", 1), ("m", 60), ("h", 3600), ("d", 86_400)] {
            let top = max / per;
            for n in [1, 9, 10, top / 2, top - 1, top, top + 1, top * 10] {
                texts.push(format!("{n}{unit}"));
                texts.push(format!("00{n}{unit}"));
            }
        }
    }
    for text in texts {
        let window = heroa::protocol::parse_approval_window(&text).is_ok();
        let body = json!({"name": "a", "region": "us-east", "approval_window": text});
        assert_eq!(
            validator.validate(register, &body).is_ok(),
            window,
            "approval_window {text:?}"
        );
        let ttl = heroa::protocol::parse_ttl(&text).is_ok();
        assert_eq!(
            validator.validate(extend, &json!({"ttl": text})).is_ok(),
            ttl,
            "ttl {text:?}"
        );
    }
}
