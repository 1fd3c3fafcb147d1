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

pub mod audit;
pub mod client;
pub mod clock;
pub mod cron;
pub mod egress;
pub mod error;
pub mod executor;
pub mod gateway;
pub mod ids;
pub mod llm;
pub mod policy;
pub mod protocol;
pub mod runtime;
pub mod sealing;
pub mod server;
pub mod sse;
pub mod store;
#[cfg(test)]
mod test_rng;
pub mod webhooks;

pub use client::Client;
pub use error::{Error, ErrorKind, Result};
pub use runtime::{RunContext, Runtime, RuntimeOptions, Skill, SkillCall, SkillOutcome, Template};
