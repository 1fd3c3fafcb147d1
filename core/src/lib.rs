//! # Heroa SDK
//!
//! Deploy apps, services and sub-agents as a tool call, and operate agents with a
//! vault, Cedar policy envelopes, promotion levels, runs, audit and approvals.
//!
//! The same [`Client`] talks to a remote control plane over HTTPS or to the
//! **embedded runtime** — the whole control plane inside your process, persisted to
//! a local SQLite file or memory. No account, no network, no daemon:
//!
//! ```no_run
//! # async fn demo() -> heroa::Result<()> {
//! use heroa::{Client, protocol::RegisterAgent};
//! let client = Client::embedded(None)?; // in memory
//! let agent = client.agents().register(RegisterAgent::new("lead-research-v1", "us-east")).await?;
//! println!("{}", agent.id);
//! # Ok(()) }
//! ```
//!
//! This crate is a façade over smaller crates, each usable alone:
//!
//! | crate | what | builds without |
//! |---|---|---|
//! | `heroa-protocol` | typed requests and answers, ids, errors, the audit chain | everything but serde |
//! | `heroa-policy` | Cedar envelopes, compiled for microsecond pre-checks | the runtime |
//! | `heroa-sse`, `heroa-webhooks`, `heroa-cron` | streams, signatures, schedules | the runtime |
//! | `heroa-client` | the client; remote-only unless its `embedded` feature is on | SQLite, axum, Cedar |
//! | `heroa-runtime` | the embedded control plane (`local-deploy`, `llm-openai`, `webhook-delivery` features) | axum, clap |
//! | `heroa-server` | `heroa serve` as a library | clap |
//! | `heroa-bridge` | the operation catalogue every language binding calls through | |
//!
//! Default features give all of it; `default-features = false` gives the remote
//! client with the policy pre-check, SSE, webhooks and cron.

pub use heroa_client as client;
pub use heroa_cron as cron;
pub use heroa_policy as policy;
pub use heroa_protocol as protocol;
pub use heroa_protocol::{audit, error, ids};
pub use heroa_sse as sse;
pub use heroa_webhooks as webhooks;

#[cfg(feature = "embedded")]
pub use heroa_runtime as runtime;
#[cfg(all(feature = "local-deploy", target_os = "linux"))]
pub use heroa_runtime::executor;
#[cfg(feature = "embedded")]
pub use heroa_runtime::{clock, llm, sealing, store};
#[cfg(feature = "local-deploy")]
pub use heroa_runtime::{egress, gateway};
#[cfg(feature = "server")]
pub use heroa_server as server;

pub use heroa_client::Client;
pub use heroa_protocol::error::{Error, ErrorKind, Result};
#[cfg(feature = "embedded")]
pub use heroa_runtime::{
    RunContext, Runtime, RuntimeOptions, Skill, SkillCall, SkillOutcome, Template,
};
