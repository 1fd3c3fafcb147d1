//! The Heroa protocol: typed requests and responses for every resource, shared by the
//! embedded runtime, `heroa serve` and the remote client. Field names follow the
//! product docs (`resource_tier`, `expires_at`, `audit_url`, …); the JSON is
//! snake_case. Requests reject unknown fields.
//!
//! This crate depends on serde and nothing of the runtime: the remote client, the
//! server, the bridge and every language binding share it.

#![forbid(unsafe_code)]

pub mod audit;
pub mod error;
pub mod ids;

mod agents;
mod common;
mod deliveries;
mod deploy;
mod llm;
mod money;
mod policies;
mod runs;
mod vault;
mod workspace;

pub use agents::*;
pub use common::*;
pub use deliveries::*;
pub use deploy::*;
pub use llm::*;
pub use money::*;
pub use policies::*;
pub use runs::*;
pub use vault::*;
pub use workspace::*;
