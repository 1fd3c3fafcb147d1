use serde::{Deserialize, Serialize};

use super::wire_enum;

wire_enum!(
    /// Where a webhook delivery stands.
    DeliveryStatus, "status", {
        /// Not yet accepted by the receiver; more attempts are due.
        Pending = "pending",
        /// The receiver answered 2xx.
        Delivered = "delivered",
        /// Every attempt failed; `redeliver` tries again.
        Failed = "failed",
    }
);

/// One attempt to deliver a webhook.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DeliveryAttempt {
    /// When (RFC 3339).
    pub at: String,
    /// The receiver's HTTP status, if it answered.
    #[serde(default)]
    pub status_code: Option<u16>,
    /// Why it failed (transport error, timeout, non-2xx).
    #[serde(default)]
    pub error: Option<String>,
    /// How long the attempt took.
    pub duration_ms: u64,
}

/// A signed POST of a run's result to the agent's webhook.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Delivery {
    /// `msg_…`: also the `webhook-id` header, stable across retries.
    pub id: String,
    /// The agent.
    pub agent_id: String,
    /// The run whose result is delivered.
    pub run_id: String,
    /// The receiver.
    pub url: String,
    /// Status.
    pub status: DeliveryStatus,
    /// Every attempt, oldest first.
    pub attempts: Vec<DeliveryAttempt>,
    /// When the next attempt is due (pending only).
    #[serde(default)]
    pub next_attempt_at: Option<String>,
    /// Attempts since the delivery was (re)queued.
    pub round_attempts: u32,
    /// Creation.
    pub created_at: String,
}
