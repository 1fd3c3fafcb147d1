use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{PromotionLevel, wire_enum};

wire_enum!(
    /// Where a run is in its life.
    RunStatus, "status", {
        /// Accepted, not started.
        Queued = "queued",
        /// Executing (possibly waiting on an approval).
        Running = "running",
        /// Finished; every action ran (or was shadowed at L0).
        Complete = "complete",
        /// Finished; some actions were blocked by policy or skipped.
        Partial = "partial",
        /// Finished; every attempted action was blocked by policy.
        Blocked = "blocked",
        /// The run loop failed.
        Failed = "failed",
        /// Cancelled on request.
        Cancelled = "cancelled",
    }
);

impl RunStatus {
    /// Whether the run has ended.
    pub fn is_terminal(self) -> bool {
        !matches!(self, RunStatus::Queued | RunStatus::Running)
    }
}

/// A run of an agent.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Run {
    /// `run_…`
    pub id: String,
    /// The agent.
    pub agent_id: String,
    /// Status.
    pub status: RunStatus,
    /// The input given at start.
    pub input: serde_json::Value,
    /// The run loop's result, once finished.
    #[serde(default)]
    pub output: Option<serde_json::Value>,
    /// Why it failed.
    #[serde(default)]
    pub error: Option<String>,
    /// Spend of executed skill calls (blocked calls are free).
    pub cost_usd: crate::Usd,
    /// Promotion level the run ran at.
    pub promotion: PromotionLevel,
    /// The run loop (template) it runs.
    #[serde(default)]
    pub template: String,
    /// Skill calls executed.
    pub actions_executed: u32,
    /// Skill calls blocked by the policy envelope.
    pub actions_blocked: u32,
    /// Skill calls recorded but not executed (L0 shadow).
    pub actions_shadowed: u32,
    /// Writes skipped (L2 denied or expired).
    pub actions_skipped: u32,
    /// The immutable audit record.
    pub audit_url: String,
    /// Creation.
    pub created_at: String,
    /// Start of execution.
    #[serde(default)]
    pub started_at: Option<String>,
    /// End.
    #[serde(default)]
    pub finished_at: Option<String>,
}

/// `agents.run`.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct StartRun {
    /// Input handed to the run loop.
    #[serde(default)]
    pub input: serde_json::Value,
}

/// `runs.wait` on the wire.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct WaitRun {
    /// How long to wait, in milliseconds (the server caps one request at 60 s).
    pub timeout_ms: u64,
}

/// One entry of a run's audit chain.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AuditEvent {
    /// 0, 1, … within the run.
    pub seq: u64,
    /// When (RFC 3339).
    pub at: String,
    /// e.g. `run.started`, `skill.executed`, `action.blocked`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Event data.
    pub data: serde_json::Value,
    /// Hash of the previous event (64 zeros for the first).
    pub prev_hash: String,
    /// SHA-256 over `prev_hash` and this event.
    pub hash: String,
    /// How `hash` was computed (see [`crate::audit`]): `2` — RFC 8785 canonical
    /// JSON — for every event written now; absent on events of format `1`.
    #[serde(
        default = "crate::audit::format_1",
        skip_serializing_if = "crate::audit::is_format_1"
    )]
    pub chain_version: u32,
}

/// A run's immutable audit record.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AuditRecord {
    /// The run.
    pub run_id: String,
    /// The agent.
    pub agent_id: String,
    /// The chain.
    pub events: Vec<AuditEvent>,
    /// Hash of the chain's last event (of the whole chain, whichever page this is).
    pub head_hash: String,
    /// Where the next page of events starts (pass it as `cursor`); `null` on the
    /// last page.
    #[serde(default)]
    pub next_cursor: Option<String>,
}

/// The answer of audit verification.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AuditVerification {
    /// The run.
    pub run_id: String,
    /// Whether every hash and link checks out.
    pub valid: bool,
    /// Events checked.
    pub events: u64,
    /// First broken event, if any.
    #[serde(default)]
    pub broken_at: Option<u64>,
    /// Why it is broken.
    #[serde(default)]
    pub reason: Option<String>,
}

wire_enum!(
    /// Where an approval stands.
    ApprovalStatus, "status", {
        /// Waiting for a member.
        Pending = "pending",
        /// Approved: the write ran.
        Approved = "approved",
        /// Denied: the write was skipped.
        Denied = "denied",
        /// Window passed: the write was skipped.
        Expired = "expired",
        /// The run ended first.
        Cancelled = "cancelled",
    }
);

/// A write held for approval at L2.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Approval {
    /// `apr_…`
    pub id: String,
    /// The run.
    pub run_id: String,
    /// The agent.
    pub agent_id: String,
    /// The write skill.
    pub skill: String,
    /// Its arguments.
    pub args: serde_json::Value,
    /// Status.
    pub status: ApprovalStatus,
    /// When asked.
    pub requested_at: String,
    /// When it lapses.
    pub expires_at: String,
    /// When decided.
    #[serde(default)]
    pub decided_at: Option<String>,
    /// Who decided, free text.
    #[serde(default)]
    pub decided_by: Option<String>,
}

/// `approvals.approve` / `approvals.deny`.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DecideApproval {
    /// Who decides (shown in the audit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
}

/// The `event` name of the last event of a stream.
pub const DONE: &str = "done";

/// One event of a run's stream.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunEvent {
    /// Position in the run's stream (the audit sequence number).
    pub id: u64,
    /// `message` for agent-loop completions, the audit event type otherwise
    /// (`run.started`, `action.blocked`, `approval.requested`, …), `done` at the end.
    pub event: String,
    /// The completion object, the audit event, or `"[DONE]"`.
    pub data: Value,
}

impl RunEvent {
    /// Whether this is the final `done` event.
    pub fn is_done(&self) -> bool {
        self.event == DONE
    }

    /// The stream event of an audit event: agent-loop messages carry the
    /// completion object, every other event the whole audit event.
    pub fn from_audit(e: AuditEvent) -> RunEvent {
        if e.kind == "message" {
            RunEvent {
                id: e.seq,
                event: e.kind,
                data: e.data,
            }
        } else {
            RunEvent {
                id: e.seq,
                event: e.kind.clone(),
                data: serde_json::to_value(&e).unwrap_or(Value::Null),
            }
        }
    }
}
