use serde::{Deserialize, Serialize};

use super::{PromotionLevel, Region, check_description, check_name};
use crate::error::{Error, Result};

/// The only supported agent runtime.
pub const RUNTIME_R1: &str = "r1";

/// A registered agent: a stable identity in one region.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Agent {
    /// `ag_…`, stable across restarts, deployments and migrations.
    pub id: String,
    /// Unique within the workspace.
    pub name: String,
    /// Free text.
    #[serde(default)]
    pub description: Option<String>,
    /// Always `"r1"`.
    pub runtime: String,
    /// Set at registration; never changes.
    pub region: Region,
    /// Current autonomy.
    pub promotion: PromotionLevel,
    /// The run loop this agent runs (a registered template).
    pub template: String,
    /// How long an L2 approval waits before the action is skipped, in seconds.
    pub approval_window_seconds: u64,
    /// Models for the `llm` run loop.
    #[serde(default)]
    pub llm_configs: Vec<super::LlmConfig>,
    /// System prompt of the `llm` run loop.
    #[serde(default)]
    pub system_prompt: Option<String>,
    /// Skills offered to the model by the `llm` run loop.
    #[serde(default)]
    pub tools: Vec<super::ToolSpec>,
    /// Most model turns per run of the `llm` loop (default 10).
    #[serde(default = "default_max_steps")]
    pub max_steps: u32,
    /// 5-field cron expression in UTC; runs fire on it.
    #[serde(default)]
    pub schedule: Option<String>,
    /// Next scheduled run (RFC 3339), when a schedule is set.
    #[serde(default)]
    pub next_run_at: Option<String>,
    /// Where run results are POSTed, signed.
    #[serde(default)]
    pub webhook: Option<super::WebhookInfo>,
    /// A sub-agent's parent: its envelope, tools and secrets bound this agent's.
    #[serde(default)]
    pub parent_id: Option<String>,
    /// A sub-agent's deployment (and with it its TTL).
    #[serde(default)]
    pub deployment_id: Option<String>,
    /// Vault keys this agent's skills may read (`null`: every key it can see).
    #[serde(default)]
    pub secret_scopes: Option<Vec<String>>,
    /// Creation time.
    pub created_at: String,
    /// Last change.
    pub updated_at: String,
}

pub fn default_max_steps() -> u32 {
    10
}

/// Validates the run-loop settings shared by `register` and `update`.
pub fn check_loop_settings(
    llm_configs: Option<&[super::LlmConfig]>,
    tools: Option<&[super::ToolSpec]>,
    max_steps: Option<u32>,
    system_prompt: Option<&str>,
) -> Result<()> {
    for (i, c) in llm_configs.into_iter().flatten().enumerate() {
        c.validate(&format!("llm_configs[{i}]"))?;
    }
    for (i, t) in tools.into_iter().flatten().enumerate() {
        t.validate(&format!("tools[{i}]"))?;
    }
    if max_steps.is_some_and(|m| m == 0 || m > 100) {
        return Err(Error::invalid("max_steps", "max_steps must be 1-100"));
    }
    if system_prompt.is_some_and(|p| p.len() > 64 * 1024) {
        return Err(Error::invalid(
            "system_prompt",
            "system_prompt must be at most 65536 bytes",
        ));
    }
    Ok(())
}

/// `agents.register`.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RegisterAgent {
    /// Unique name, e.g. `lead-research-v1`.
    #[cfg_attr(
        feature = "schema",
        schemars(
            regex(pattern = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"),
            length(min = 1, max = 64)
        )
    )]
    pub name: String,
    /// Free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(length(max = 1024)))]
    pub description: Option<String>,
    /// Must be `"r1"` (the default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(extend("enum" = ["r1", null])))]
    pub runtime: Option<String>,
    /// One of the five regions.
    #[cfg_attr(feature = "schema", schemars(with = "crate::Region"))]
    pub region: String,
    /// Run loop; defaults to the built-in `sequence` template.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(
        feature = "schema",
        schemars(regex(pattern = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"))
    )]
    pub template: Option<String>,
    /// L2 approval window like `"24h"` (default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(
        feature = "schema",
        schemars(schema_with = "crate::common::approval_window_schema")
    )]
    pub approval_window: Option<String>,
    /// Models for the `llm` run loop.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub llm_configs: Option<Vec<super::LlmConfig>>,
    /// System prompt of the `llm` run loop.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system_prompt: Option<String>,
    /// Skills offered to the model by the `llm` run loop.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tools: Option<Vec<super::ToolSpec>>,
    /// Most model turns per run (1-100, default 10).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(range(min = 1, max = 100)))]
    pub max_steps: Option<u32>,
}

impl RegisterAgent {
    /// A request with the required fields.
    pub fn new(name: impl Into<String>, region: impl Into<String>) -> Self {
        RegisterAgent {
            name: name.into(),
            region: region.into(),
            ..Default::default()
        }
    }

    pub fn validate(&self) -> Result<Region> {
        check_name("name", &self.name)?;
        check_description("description", self.description.as_deref())?;
        check_runtime(self.runtime.as_deref())?;
        if let Some(t) = &self.template {
            check_name("template", t)?;
        }
        if let Some(w) = &self.approval_window {
            super::parse_approval_window(w)?;
        }
        check_loop_settings(
            self.llm_configs.as_deref(),
            self.tools.as_deref(),
            self.max_steps,
            self.system_prompt.as_deref(),
        )?;
        self.region.parse::<Region>()
    }
}

pub fn check_runtime(runtime: Option<&str>) -> Result<()> {
    match runtime {
        None | Some(RUNTIME_R1) => Ok(()),
        Some(other) => Err(Error::invalid(
            "runtime",
            format!("runtime must be \"r1\" (the only supported runtime); got {other:?}"),
        )),
    }
}

/// `agents.update`: only the fields given change. `region` may be given only with the
/// agent's current value (regions never change in place).
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateAgent {
    /// New description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(length(max = 1024)))]
    pub description: Option<String>,
    /// New run loop.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(
        feature = "schema",
        schemars(regex(pattern = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"))
    )]
    pub template: Option<String>,
    /// New approval window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(
        feature = "schema",
        schemars(schema_with = "crate::common::approval_window_schema")
    )]
    pub approval_window: Option<String>,
    /// Rejected unless equal to the current region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(with = "Option<crate::Region>"))]
    pub region: Option<String>,
    /// A 5-field cron expression (UTC); `""` removes the schedule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<String>,
    /// The completion webhook; `null` keeps it, see `remove_webhook`.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "webhook_wire"
    )]
    pub webhook: Option<super::WebhookConfig>,
    /// Removes the webhook.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub remove_webhook: bool,
    /// Models for the `llm` run loop.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub llm_configs: Option<Vec<super::LlmConfig>>,
    /// System prompt of the `llm` run loop.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system_prompt: Option<String>,
    /// Skills offered to the model by the `llm` run loop.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tools: Option<Vec<super::ToolSpec>>,
    /// Most model turns per run (1-100, default 10).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(range(min = 1, max = 100)))]
    pub max_steps: Option<u32>,
}

fn webhook_wire<S: serde::Serializer>(
    w: &Option<super::WebhookConfig>,
    s: S,
) -> std::result::Result<S::Ok, S::Error> {
    w.as_ref().map(super::WebhookConfig::to_wire).serialize(s)
}

/// `agents.set_promotion`.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SetPromotion {
    /// `L0_shadow` … `L4_trusted`.
    #[cfg_attr(feature = "schema", schemars(with = "crate::PromotionLevel"))]
    pub level: String,
}

/// A skill registered by the host program, as listed by `skills.list`.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SkillInfo {
    /// e.g. `hubspot:contact:read`.
    pub name: String,
    /// `read` or `write`.
    pub kind: super::SkillKind,
    /// Whether the skill reaches outside the runtime (skipped at L0).
    pub external: bool,
    /// Charged per executed call.
    pub cost_usd: crate::Usd,
    /// Free text.
    #[serde(default)]
    pub description: Option<String>,
}

/// A template (run loop) registered with the runtime.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TemplateInfo {
    /// Name agents refer to.
    pub name: String,
    /// Free text.
    #[serde(default)]
    pub description: Option<String>,
}
