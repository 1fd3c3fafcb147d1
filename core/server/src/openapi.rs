//! The protocol's documents, generated: `openapi.json` (OpenAPI 3.1) and
//! `schemas/protocol.schema.json` (JSON Schema 2020-12, one definition per protocol
//! type). Both are checked in at the repository root; `core/tests/openapi.rs` fails
//! when they drift from what this module generates (`HEROA_BLESS=1` rewrites them).
//!
//! What comes from where:
//! - every schema of a Rust type (requests, answers, enums, errors, the Heroku
//!   Agents API's request and completion objects) from its `schemars::JsonSchema`
//!   derive — field docs, serde's renames and defaults, and the constraints written
//!   next to each field;
//! - every operation's method, path, `operationId` (the catalogue name), path and
//!   query parameters, request body and success answer from the bridge's catalogue
//!   (`heroa_bridge::operations()`), the same table `heroa serve` routes by;
//! - the prose (summaries, descriptions, tags, which errors each operation
//!   answers), the shared parameters and responses, and the few schemas that are
//!   not Rust types (the webhook body, the error variants by status, the stream
//!   events) from `core/server/openapi/frame.json`, which is written by hand.

use heroa_bridge::catalogue::{Input, Output};
use schemars::generate::SchemaSettings;
use serde_json::{Map, Value, json};

use heroa_protocol as p;

/// Prose and shared parts of the document, written by hand.
const FRAME: &str = include_str!("../openapi/frame.json");

/// Registers the schema of each type with a generator.
macro_rules! generate {
    ($settings:expr; $($t:ty),* $(,)?) => {{
        let mut g = $settings
            .with(|s| s.definitions_path = "/components/schemas".into())
            .into_generator();
        $( g.subschema_for::<$t>(); )*
        g.take_definitions(true)
    }};
}

/// The schema of every protocol type, by name, with references of the form
/// `#/components/schemas/<name>`, sorted by name.
///
/// A type only ever sent (an answer, and what only answers hold) is described as
/// serde writes it — a field is `required` when it is always written; every other
/// type as serde reads it — a field is `required` when it has no default.
pub fn schemas() -> Map<String, Value> {
    let read = generate!(SchemaSettings::draft2020_12().for_deserialize();
        p::RegisterAgent,
        p::UpdateAgent,
        p::SetPromotion,
        p::StartRun,
        p::VaultPut,
        p::VaultRotate,
        p::CreatePolicy,
        p::WaitRun,
        p::DeployRequest,
        p::ExtendDeployment,
        p::DecideApproval,
        p::ListQuery,
        p::AgentListQuery,
        p::ApprovalListQuery,
        crate::heroku::HerokuRequest,
    );
    let written = generate!(SchemaSettings::draft2020_12().for_serialize();
        p::Workspace,
        p::List<p::InboxItem>,
        p::List<p::SkillInfo>,
        p::List<p::TemplateInfo>,
        p::Agent,
        p::List<p::Agent>,
        p::VaultEntry,
        p::List<p::VaultEntry>,
        p::Policy,
        p::List<p::Policy>,
        p::Run,
        p::List<p::Run>,
        p::AuditRecord,
        p::AuditVerification,
        p::Deployment,
        p::List<p::Deployment>,
        p::Delivery,
        p::List<p::Delivery>,
        p::Approval,
        p::List<p::Approval>,
        p::error::ErrorBody,
        p::RunEvent,
        heroa_sse::Completion,
    );
    let mut all = read;
    for (name, schema) in written {
        all.entry(name).or_insert(schema);
    }
    for schema in all.values_mut() {
        integer_bounds(schema);
    }
    let mut defs: Vec<(String, Value)> = all.into_iter().collect();
    defs.sort_by(|a, b| a.0.cmp(&b.0));
    defs.into_iter().collect()
}

/// Gives every integer with a Rust width (`format: uint32`, …) its bounds, which
/// serde enforces (a `u32` field refuses 4294967296).
fn integer_bounds(v: &mut Value) {
    match v {
        Value::Object(o) => {
            let bounds: Option<(Value, Value)> = match o.get("format").and_then(Value::as_str) {
                Some("uint8") => Some((0.into(), u8::MAX.into())),
                Some("uint16") => Some((0.into(), u16::MAX.into())),
                Some("uint32") => Some((0.into(), u32::MAX.into())),
                Some("uint64") => Some((0.into(), u64::MAX.into())),
                Some("int32") => Some((i32::MIN.into(), i32::MAX.into())),
                Some("int64") => Some((i64::MIN.into(), i64::MAX.into())),
                _ => None,
            };
            if let Some((lo, hi)) = bounds {
                o.entry("minimum").or_insert(lo);
                o.entry("maximum").or_insert(hi);
            }
            o.values_mut().for_each(integer_bounds);
        }
        Value::Array(a) => a.iter_mut().for_each(integer_bounds),
        _ => {}
    }
}

/// The form of a list's `cursor`: the id of the last item of the page before (a
/// run's audit record: the last event's sequence number).
fn cursor_pattern(op: &str) -> &'static str {
    match op {
        "agents.list" => "^ag_[0-9a-hjkmnp-tv-z]{26}$",
        "vault.list" => "^vlt_[0-9a-hjkmnp-tv-z]{26}$",
        "policies.list" => "^po_[0-9a-hjkmnp-tv-z]{26}$",
        "runs.list" => "^run_[0-9a-hjkmnp-tv-z]{26}$",
        "deployments.list" => "^dep_[0-9a-hjkmnp-tv-z]{26}$",
        "webhooks.deliveries" => "^msg_[0-9a-hjkmnp-tv-z]{26}$",
        "approvals.list" => "^apr_[0-9a-hjkmnp-tv-z]{26}$",
        "workspace.inbox" => "^ntf_[0-9a-hjkmnp-tv-z]{26}$",
        "runs.audit" => "^[0-9]{1,10}$",
        other => panic!("no cursor form for list {other}"),
    }
}

fn frame() -> Map<String, Value> {
    serde_json::from_str(FRAME).expect("core/server/openapi/frame.json is a JSON object")
}

fn schema_ref(name: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{name}")})
}

/// `openapi.json`.
///
/// # Panics
/// When the frame lacks the prose of an operation of the catalogue, or the
/// catalogue names a type without a schema (both caught by the drift test).
pub fn document() -> Value {
    let mut doc = frame();
    let mut prose = match doc.remove("operations") {
        Some(Value::Object(m)) => m,
        _ => panic!("frame.json: `operations` must be an object"),
    };
    let generated = schemas();
    let mut paths = Map::new();
    for op in heroa_bridge::operations() {
        let Some(Value::Object(mut text)) = prose.remove(op.name) else {
            panic!("frame.json: no prose for operation {}", op.name);
        };
        let mut o = Map::new();
        o.insert("operationId".into(), op.name.into());
        for key in ["tags", "summary", "description"] {
            if let Some(v) = text.remove(key) {
                o.insert(key.into(), v);
            }
        }
        if !op.auth {
            o.insert("security".into(), json!([]));
        }
        let mut params: Vec<Value> = match text.remove("parameters") {
            Some(Value::Array(a)) => a,
            _ => Vec::new(),
        };
        if let (Input::Query, Some(t)) = (op.input, op.request) {
            for mut param in query_parameters(&generated, t) {
                if param["name"] == "cursor" {
                    param["schema"]["pattern"] = cursor_pattern(op.name).into();
                }
                params.push(param);
            }
        }
        if !params.is_empty() {
            o.insert("parameters".into(), Value::Array(params));
        }
        if let (Input::Body, Some(t)) = (op.input, op.request) {
            // An empty body reads as `{}`: the body is required only when the
            // type has a required field.
            let required = generated
                .get(t)
                .and_then(|s| s["required"].as_array())
                .is_some_and(|r| !r.is_empty());
            o.insert(
                "requestBody".into(),
                json!({"required": required, "content": {"application/json": {"schema": schema_ref(t)}}}),
            );
        }
        let mut responses = match text.remove("responses") {
            Some(Value::Object(m)) => m,
            _ => panic!("frame.json: operation {} has no responses", op.name),
        };
        // A query is checked: every list answers 400 to a bad one.
        if op.input == Input::Query && !responses.contains_key("400") {
            responses.insert(
                "400".into(),
                json!({"$ref": "#/components/responses/BadRequest"}),
            );
        }
        let ok = responses
            .get_mut(&op.status.to_string())
            .and_then(Value::as_object_mut)
            .unwrap_or_else(|| panic!("frame.json: {} lacks its {} answer", op.name, op.status));
        if let (Output::Json, Some(t)) = (op.output, op.response) {
            ok.insert(
                "content".into(),
                json!({"application/json": {"schema": schema_ref(t)}}),
            );
        }
        o.insert("responses".into(), Value::Object(responses));
        if let Some((k, _)) = text.iter().next() {
            panic!("frame.json: operation {}: unexpected key {k:?}", op.name);
        }
        let item = paths
            .entry(op.path)
            .or_insert_with(|| {
                let params: Vec<Value> = op
                    .params()
                    .map(|n| json!({"$ref": format!("#/components/parameters/{n}")}))
                    .collect();
                if params.is_empty() {
                    json!({})
                } else {
                    json!({"parameters": params})
                }
            })
            .as_object_mut()
            .expect("path items are objects");
        item.insert(op.method.as_str().to_ascii_lowercase(), Value::Object(o));
    }
    if let Some(name) = prose.keys().next() {
        panic!("frame.json: prose for {name}, which the catalogue does not have");
    }
    let components = doc
        .get_mut("components")
        .and_then(Value::as_object_mut)
        .expect("frame.json has components");
    let by_hand = match components.remove("schemas") {
        Some(Value::Object(m)) => m,
        _ => Map::new(),
    };
    let mut all: Vec<(String, Value)> = generated.into_iter().chain(by_hand).collect();
    all.sort_by(|a, b| a.0.cmp(&b.0));
    components.insert("schemas".into(), Value::Object(all.into_iter().collect()));
    // Key order: as OpenAPI documents are usually read.
    let mut out = Map::new();
    for key in ["openapi", "info", "servers", "security", "tags"] {
        if let Some(v) = doc.remove(key) {
            out.insert(key.into(), v);
        }
    }
    out.insert("paths".into(), Value::Object(paths));
    out.extend(doc);
    Value::Object(out)
}

/// The query parameters of a query type: one per property, its schema and
/// description from the type's.
fn query_parameters(schemas: &Map<String, Value>, name: &str) -> Vec<Value> {
    let schema = &schemas
        .get(name)
        .unwrap_or_else(|| panic!("no schema for query type {name}"));
    let required: Vec<&str> = schema["required"]
        .as_array()
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let Some(props) = schema["properties"].as_object() else {
        return Vec::new();
    };
    props
        .iter()
        .map(|(prop, s)| {
            let mut s = s.as_object().cloned().unwrap_or_default();
            let description = s.remove("description");
            // A query string has no `null`: an absent parameter is the default.
            if let Some(Value::Array(types)) = s.get("type").cloned() {
                let types: Vec<Value> = types.into_iter().filter(|t| t != "null").collect();
                s.insert(
                    "type".into(),
                    if types.len() == 1 {
                        types[0].clone()
                    } else {
                        Value::Array(types)
                    },
                );
            }
            if let Some(Value::Array(any)) = s.get("anyOf").cloned() {
                let any: Vec<Value> = any
                    .into_iter()
                    .filter(|v| v != &json!({"type": "null"}))
                    .collect();
                if any.len() == 1 {
                    s.remove("anyOf");
                    if let Some(one) = any[0].as_object() {
                        s.extend(one.clone());
                    }
                } else {
                    s.insert("anyOf".into(), Value::Array(any));
                }
            }
            let mut param = Map::new();
            param.insert("name".into(), prop.as_str().into());
            param.insert("in".into(), "query".into());
            param.insert("required".into(), required.contains(&prop.as_str()).into());
            if let Some(d) = description {
                param.insert("description".into(), d);
            }
            param.insert("schema".into(), Value::Object(s));
            Value::Object(param)
        })
        .collect()
}

/// `schemas/protocol.schema.json`: every protocol type's schema as a JSON Schema
/// 2020-12 document, under `$defs` (the same schemas as `openapi.json`'s
/// components), for generating host-language types.
pub fn protocol_schema() -> Value {
    let doc = document();
    let defs = doc["components"]["schemas"].clone();
    let text = serde_json::to_string(&defs)
        .expect("JSON")
        .replace("#/components/schemas/", "#/$defs/");
    let defs: Value = serde_json::from_str(&text).expect("JSON");
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://heroa.dev/schemas/protocol.schema.json",
        "title": "Heroa protocol",
        "description": "Every type of the Heroa protocol (requests, answers, enums, errors, stream events), generated from the Rust types. The same schemas as openapi.json's components.",
        "$defs": defs,
    })
}
