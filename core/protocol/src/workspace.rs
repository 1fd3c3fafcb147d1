use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use super::Tier;

/// An isolated tenant: its agents, vault, policies and runs are invisible to others.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Workspace {
    /// `ws_…`
    pub id: String,
    /// Display name.
    pub name: String,
    /// Plan.
    pub tier: Tier,
    /// When the workspace accepted the SOC 2 report (required for L4 trusted).
    #[serde(default)]
    pub soc2_accepted_at: Option<String>,
    /// Creation time (RFC 3339).
    pub created_at: String,
}

/// A new API key. The secret is shown once here and stored only as a hash.
pub struct CreatedApiKey {
    /// `key_…`
    pub id: String,
    /// The workspace the key opens.
    pub workspace_id: String,
    /// The bearer token, `heroa_sk_…`.
    pub key: SecretString,
}

impl std::fmt::Debug for CreatedApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreatedApiKey")
            .field("id", &self.id)
            .field("workspace_id", &self.workspace_id)
            .field("key", &"[REDACTED]")
            .finish()
    }
}

impl CreatedApiKey {
    /// The key's text, for showing to its owner once.
    pub fn reveal(&self) -> &str {
        self.key.expose_secret()
    }
}

/// A notification in the workspace inbox (sent after each run at L1 notify).
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct InboxItem {
    /// `ntf_…`
    pub id: String,
    /// The agent.
    pub agent_id: String,
    /// The run.
    pub run_id: String,
    /// Text for people.
    pub message: String,
    /// When.
    pub created_at: String,
}
