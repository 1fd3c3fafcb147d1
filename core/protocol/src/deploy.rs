use serde::{Deserialize, Serialize};

use super::wire_enum;
use crate::error::{Error, Result};

wire_enum!(
    /// What `deploy` stands up.
    DeployMode, "mode", {
        /// A web app with a public HTTPS URL.
        App = "app",
        /// A private service reachable by agents of the same workspace and region.
        Service = "service",
        /// A sub-agent with its own run loop, template and policy envelope.
        Agent = "agent",
    }
);

wire_enum!(
    /// CPU, memory and GPU access of a deployment (see the README for the limits).
    ResourceTier, "resource_tier", {
        /// 0.5 CPU, 512 MiB.
        Small = "small",
        /// 1 CPU, 2 GiB.
        Medium = "medium",
        /// 2 CPUs, 8 GiB; GPU access where a GPU exists.
        Large = "large",
    }
);

wire_enum!(
    /// Where a deployment stands.
    DeploymentStatus, "status", {
        /// Being prepared or waiting for health checks.
        Starting = "starting",
        /// Answering (app/service) or accepting runs (agent).
        Running = "running",
        /// Could not start, or crashed too often.
        Failed = "failed",
        /// Its TTL passed: stopped; the URL answers 410 and the handle refuses runs.
        Expired = "expired",
        /// Deleted.
        Stopped = "stopped",
    }
);

/// The policy of a deployment (the deploy guide): network egress, tool-call allow-list and
/// secret scopes. For a sub-agent, each part is intersected with its parent's.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schema", schemars(extend(
    "if" = {"required": ["allow_list"], "properties": {"allow_list": {"minItems": 1}}},
    "then" = {"required": ["egress"], "properties": {"egress": {"enum": ["allow-list", "allow_list"]}}}
)))]
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DeployPolicy {
    /// `allow-list` (only `allow_list` hosts), `none` or `open`. Default: `none` for
    /// apps and services, the parent's for sub-agents.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(extend("enum" = ["allow-list", "allow_list", "none", "open", null])))]
    pub egress: Option<String>,
    /// Hosts for `egress: "allow-list"` (`api.stripe.com`, `*.example.com`, IPs).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow_list: Vec<String>,
    /// Skills a sub-agent may call (agent mode).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tools: Option<Vec<String>>,
    /// Vault keys a sub-agent's skills may read (agent mode).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(
        feature = "schema",
        schemars(inner(regex(pattern = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")))
    )]
    pub secret_scopes: Option<Vec<String>>,
}

/// `deploy`: the flagship primitive.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schema", schemars(extend(
    "allOf" = [
        {
            "if": {"properties": {"mode": {"const": "agent"}}},
            "then": {"required": ["template"], "properties": {"template": {"type": "string"}, "source": {"type": "null"}}},
            "else": {
                "required": ["source"],
                "properties": {
                    "template": {"type": "null"},
                    "source": {"not": {"type": "null"}},
                    "policy": {"anyOf": [{"type": "null"}, {"properties": {"tools": {"type": "null"}}}]}
                }
            }
        },
        {
            "if": {"required": ["gpu"], "properties": {"gpu": {"const": true}}},
            "then": {"required": ["resource_tier"], "properties": {"resource_tier": {"const": "large"}}}
        }
    ]
)))]
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DeployRequest {
    /// `app`, `service` or `agent`.
    #[cfg_attr(feature = "schema", schemars(with = "crate::DeployMode"))]
    pub mode: String,
    /// Target region; defaults to the caller's (the parent agent's) region, else `us-east`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(with = "Option<crate::Region>"))]
    pub region: Option<String>,
    /// `small` (default), `medium` or `large`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(with = "Option<crate::ResourceTier>"))]
    pub resource_tier: Option<String>,
    /// `15m`, `2h`, `24h`, any `<n>s|m|h|d`, or `persistent`. Default `2h`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(schema_with = "optional_ttl_schema"))]
    pub ttl: Option<String>,
    /// Egress, tools and secret scopes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<DeployPolicy>,
    /// Agent template (agent mode only; required there).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(
        feature = "schema",
        schemars(regex(pattern = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"))
    )]
    pub template: Option<String>,
    /// App/service source: an image string, a `.tar.gz` path, a directory path, or an
    /// object `{"repo", "ref"?, "command"?}`, `{"image"}`, `{"path", "command"?}`,
    /// `{"tarball", "command"?}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(schema_with = "deploy_source_schema"))]
    pub source: Option<serde_json::Value>,
    /// A name, unique per workspace: deploying the same name again returns the
    /// existing deployment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(
        feature = "schema",
        schemars(
            regex(pattern = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"),
            length(min = 1, max = 64)
        )
    )]
    pub name: Option<String>,
    /// Deploying again with the same key returns the same deployment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(length(min = 1, max = 255)))]
    pub idempotency_key: Option<String>,
    /// The deploying agent (a sub-agent's parent). Set automatically when an agent
    /// deploys through the `heroa:deploy` skill.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(
        feature = "schema",
        schemars(regex(pattern = r"^ag_[0-9a-hjkmnp-tv-z]{26}$"))
    )]
    pub parent_agent_id: Option<String>,
    /// Service mode: also give it a public URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public: Option<bool>,
    /// Ask for a GPU (large tier only; an error where no GPU exists).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpu: Option<bool>,
    /// Path the health check GETs (default `/`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(regex(pattern = r"^/")))]
    pub health_path: Option<String>,
}

/// A deployment: the deploy guide's answer (`url` | `endpoint` | `handle`, `mode`, `region`,
/// `expires_at`) plus its id, status and settings.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Deployment {
    /// `dep_…`
    pub id: String,
    /// App mode (and public services): `https://<id>.<domain>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Alongside `url`, when the runtime's gateway also listens for plain HTTP
    /// (`GatewaySettings::http_addr`, `heroa serve --gateway-http-addr`):
    /// `http://<id>.<domain>[:<port>]`, for local use without TLS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_url: Option<String>,
    /// Service mode: `heroa://<workspace>/svc/<id>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// Agent mode: the sub-agent's id; run it like any agent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handle: Option<String>,
    /// `app`, `service` or `agent`.
    pub mode: DeployMode,
    /// Region.
    pub region: super::Region,
    /// When it stops (`null` for persistent).
    pub expires_at: Option<String>,
    /// Status.
    pub status: DeploymentStatus,
    /// Name (unique per workspace).
    pub name: String,
    /// Tier.
    pub resource_tier: ResourceTier,
    /// The TTL as asked.
    pub ttl: String,
    /// The effective policy (after intersection with the parent's).
    pub policy: DeployPolicy,
    /// Agent mode: the template.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<String>,
    /// App/service: the source as given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<serde_json::Value>,
    /// The deploying agent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_agent_id: Option<String>,
    /// App/service: times the process was restarted after a crash.
    #[serde(default)]
    pub restarts: u32,
    /// Why it failed, or what the executor reported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Limits applied to the process (app/service).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limits: Option<serde_json::Value>,
    /// Creation.
    pub created_at: String,
    /// Last change.
    pub updated_at: String,
}

/// `deployments.extend`.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ExtendDeployment {
    /// New TTL from now (`2h`, `persistent`, …).
    #[cfg_attr(feature = "schema", schemars(schema_with = "ttl_schema"))]
    pub ttl: String,
}

/// Parses a TTL: seconds, or `None` for `persistent`.
pub fn parse_ttl(text: &str) -> Result<Option<u64>> {
    if text == "persistent" {
        return Ok(None);
    }
    super::parse_duration("ttl", text, super::MAX_TTL_SECS).map(Some).map_err(|_| {
        Error::invalid(
            "ttl",
            format!("ttl must be \"15m\", \"2h\", \"24h\", another <n>s|m|h|d of at most 365d, or \"persistent\"; got {text:?}"),
        )
    })
}

/// `ttl`: `persistent`, or a duration of at most 365 days.
#[cfg(feature = "schema")]
fn ttl_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "type": "string",
        "pattern": format!("^(?:persistent|{})$", crate::common::duration_pattern(crate::MAX_TTL_SECS)),
        "description": "How long the deployment lives: a whole number and a unit (`s`, `m`, `h`, `d`), at most 365 days, or `persistent`.",
    })
}

/// An optional `ttl` (default `2h`).
#[cfg(feature = "schema")]
fn optional_ttl_schema(g: &mut schemars::SchemaGenerator) -> schemars::Schema {
    let mut s = ttl_schema(g);
    s.insert("type".into(), serde_json::json!(["string", "null"]));
    s
}

/// `source`: what app and service mode run.
#[cfg(feature = "schema")]
fn deploy_source_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    let command = serde_json::json!({
        "anyOf": [
            {"type": "string"},
            {"type": "array", "items": {"type": "string"}},
            {"type": "null"}
        ],
        "description": "A start command: a shell string (run with `sh -c`) or an argument list; `null` or absent: the source's own."
    });
    let object = |description: &str, key: &str, command: Option<&serde_json::Value>| {
        let mut properties = serde_json::Map::new();
        properties.insert(key.into(), serde_json::json!({"type": "string"}));
        if key == "repo" {
            properties.insert(
                "ref".into(),
                serde_json::json!({"type": ["string", "null"]}),
            );
        }
        if let Some(c) = command {
            properties.insert("command".into(), c.clone());
        }
        serde_json::json!({
            "type": "object",
            "description": description,
            "required": [key],
            "properties": properties,
        })
    };
    schemars::json_schema!({
        "description": "What an app or service runs: a string (a path ending in `.tar.gz` or `.tgz`, a directory on the server, or else a container image reference), or an object. `command` (a shell string or an argument list) overrides the start command. An image needs a container engine on the server, a repository `git` (409 `failed_precondition` otherwise).",
        "anyOf": [
            {
                "type": "string",
                "minLength": 1,
                "description": "A tarball path, a directory path or an image reference."
            },
            object("A git repository, at `ref` (default: its default branch).", "repo", Some(&command)),
            object("A container image.", "image", None),
            object("A `.tar.gz` on the server.", "tarball", Some(&command)),
            object("A directory on the server (`dir` is accepted for `path`).", "path", Some(&command)),
            {"type": "null"}
        ]
    })
}
