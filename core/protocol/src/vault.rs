use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use super::wire_enum;
use crate::error::{Error, Result};

wire_enum!(
    /// Who may read a vault entry.
    VaultScope, "scope", {
        /// One agent (the default).
        Agent = "agent",
        /// Every agent of the workspace (Team tier or higher).
        Workspace = "workspace",
    }
);

/// A vault entry's metadata. The value is never part of any answer.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct VaultEntry {
    /// `vlt_…`
    pub id: String,
    /// Name skills read it by, e.g. `hubspot_token`.
    pub key: String,
    /// `agent` or `workspace`.
    pub scope: VaultScope,
    /// The owning agent for `agent` scope.
    #[serde(default)]
    pub agent_id: Option<String>,
    /// Free text.
    #[serde(default)]
    pub description: Option<String>,
    /// SHA-256 of the value (hex), for rotation tracking.
    pub fingerprint: String,
    /// 1 on creation, +1 per rotation.
    pub version: u32,
    /// Creation time.
    pub created_at: String,
    /// Last rotation.
    pub updated_at: String,
}

/// `vault.put`: creates an entry, or replaces the value of the same key (a rotation).
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schema", schemars(extend("if" = {"required": ["scope"], "properties": {"scope": {"const": "workspace"}}}, "then" = {"properties": {"agent_id": {"type": "null"}}}, "else" = {"required": ["agent_id"], "properties": {"agent_id": {"type": "string"}}})))]
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VaultPut {
    /// Owner agent; required for `agent` scope, absent for `workspace` scope.
    #[serde(default)]
    #[cfg_attr(
        feature = "schema",
        schemars(regex(pattern = r"^ag_[0-9a-hjkmnp-tv-z]{26}$"))
    )]
    pub agent_id: Option<String>,
    /// Name, 1–64 of `a-z A-Z 0-9 - _ .`.
    #[cfg_attr(
        feature = "schema",
        schemars(
            regex(pattern = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"),
            length(min = 1, max = 64)
        )
    )]
    pub key: String,
    /// The secret value.
    #[cfg_attr(feature = "schema", schemars(with = "String", length(min = 1)))]
    pub value: SecretString,
    /// Free text.
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(length(max = 1024)))]
    pub description: Option<String>,
    /// `agent` (default) or `workspace`.
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(with = "Option<crate::VaultScope>"))]
    pub scope: Option<String>,
}

impl std::fmt::Debug for VaultPut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VaultPut")
            .field("agent_id", &self.agent_id)
            .field("key", &self.key)
            .field("value", &"[REDACTED]")
            .field("description", &self.description)
            .field("scope", &self.scope)
            .finish()
    }
}

impl VaultPut {
    /// An agent-scoped entry.
    pub fn agent(agent_id: impl Into<String>, key: impl Into<String>, value: SecretString) -> Self {
        VaultPut {
            agent_id: Some(agent_id.into()),
            key: key.into(),
            value,
            description: None,
            scope: None,
        }
    }

    /// A workspace-scoped entry.
    pub fn workspace(key: impl Into<String>, value: SecretString) -> Self {
        VaultPut {
            agent_id: None,
            key: key.into(),
            value,
            description: None,
            scope: Some("workspace".into()),
        }
    }

    /// Sets the description.
    pub fn description(mut self, text: impl Into<String>) -> Self {
        self.description = Some(text.into());
        self
    }

    /// The wire JSON. This is the one place the value leaves a secret type: for the
    /// request body sent to the control plane.
    pub fn to_wire(&self) -> serde_json::Value {
        serde_json::json!({
            "agent_id": self.agent_id,
            "key": self.key,
            "value": self.value.expose_secret(),
            "description": self.description,
            "scope": self.scope,
        })
    }

    pub fn validate(&self) -> Result<VaultScope> {
        super::check_name("key", &self.key)?;
        super::check_description("description", self.description.as_deref())?;
        let value = self.value.expose_secret();
        if value.is_empty() {
            return Err(Error::invalid("value", "value must not be empty"));
        }
        if value.len() > 64 * 1024 {
            return Err(Error::invalid("value", "value must be at most 65536 bytes"));
        }
        let scope = match &self.scope {
            None => VaultScope::Agent,
            Some(s) => VaultScope::parse_field("scope", s)?,
        };
        match (scope, &self.agent_id) {
            (VaultScope::Agent, None) => Err(Error::invalid(
                "agent_id",
                "agent_id is required for an agent-scoped vault entry",
            )),
            (VaultScope::Workspace, Some(_)) => Err(Error::invalid(
                "agent_id",
                "agent_id must be absent for a workspace-scoped vault entry",
            )),
            (VaultScope::Agent, Some(id)) => {
                crate::ids::check_id("agent_id", "ag", id)?;
                Ok(scope)
            }
            (VaultScope::Workspace, None) => Ok(scope),
            (VaultScope::Unknown, _) => unreachable!("parse_field answers only known scopes"),
        }
    }
}

/// `vault.rotate`: a new value for an existing entry.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VaultRotate {
    /// The new secret value.
    #[cfg_attr(feature = "schema", schemars(with = "String", length(min = 1)))]
    pub value: SecretString,
}

impl std::fmt::Debug for VaultRotate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("VaultRotate { value: \"[REDACTED]\" }")
    }
}
