use serde::{Deserialize, Serialize};

/// A version of an agent's policy envelope. The newest version is in force.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Policy {
    /// `po_…`
    pub id: String,
    /// The agent it governs.
    pub agent_id: String,
    /// 1, 2, … per agent.
    pub version: u32,
    /// The document as written.
    pub document: String,
    /// The Cedar text actually evaluated (after the documented translation).
    pub cedar: String,
    /// Each rewrite applied to turn `document` into `cedar`.
    pub translations: Vec<crate::policy::Translation>,
    /// Creation time.
    pub created_at: String,
}

/// `policies.create`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CreatePolicy {
    /// The agent.
    pub agent_id: String,
    /// Cedar text (the product's dialect; see the policy module docs).
    pub document: String,
}
