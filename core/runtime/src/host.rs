//! Host code the runtime executes: skills (named actions) and templates (run loops),
//! registered by the program that embeds or serves the runtime.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::Locked;
use heroa_protocol::error::Result;
use heroa_protocol::{SkillInfo, SkillKind, TemplateInfo, Usd};

/// A boxed, sendable future.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

type SkillFn = dyn Fn(SkillCall) -> BoxFuture<std::result::Result<Value, String>> + Send + Sync;
type SecretReader = dyn Fn(&str) -> Result<SecretString> + Send + Sync;
type TemplateFn = dyn Fn(RunContext) -> BoxFuture<std::result::Result<Value, String>> + Send + Sync;

/// A named action an agent may invoke, gated by its policy envelope and promotion
/// level before every call.
#[derive(Clone)]
pub struct Skill {
    pub(crate) info: SkillInfo,
    pub(crate) handler: Arc<SkillFn>,
}

impl std::fmt::Debug for Skill {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Skill").field("info", &self.info).finish()
    }
}

impl Skill {
    /// A skill named `name` (e.g. `hubspot:contact:read`) of `kind`, run by `handler`.
    /// The handler returns the tool result, or an error message that fails this call
    /// (not the run).
    pub fn new<F, Fut>(name: impl Into<String>, kind: SkillKind, handler: F) -> Self
    where
        F: Fn(SkillCall) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = std::result::Result<Value, String>> + Send + 'static,
    {
        Skill {
            info: SkillInfo {
                name: name.into(),
                kind,
                external: false,
                cost_usd: Usd::ZERO,
                description: None,
            },
            handler: Arc::new(move |call| Box::pin(handler(call))),
        }
    }

    /// Spend charged per executed call.
    pub fn cost_usd(mut self, usd: Usd) -> Self {
        self.info.cost_usd = usd;
        self
    }

    /// Marks the skill as calling outside the runtime (not executed at L0 shadow).
    pub fn external(mut self, external: bool) -> Self {
        self.info.external = external;
        self
    }

    /// Free text.
    pub fn description(mut self, text: impl Into<String>) -> Self {
        self.info.description = Some(text.into());
        self
    }

    /// The skill's public description.
    pub fn info(&self) -> &SkillInfo {
        &self.info
    }
}

/// What a skill handler receives.
pub struct SkillCall {
    /// Arguments from the run loop.
    pub args: Value,
    /// The calling agent.
    pub agent_id: String,
    /// The run.
    pub run_id: String,
    pub(crate) vault: VaultReader,
    /// The runtime and workspace, for built-in skills (`heroa:deploy`).
    pub(crate) origin: Option<(super::Runtime, String)>,
}

impl std::fmt::Debug for SkillCall {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SkillCall")
            .field("args", &self.args)
            .field("agent_id", &self.agent_id)
            .field("run_id", &self.run_id)
            .finish()
    }
}

impl SkillCall {
    /// Reads a vault value visible to the agent (its own entry first, then a
    /// workspace-scoped one). Only skill code can do this, and only during a run.
    /// Values read here are scrubbed from everything the run records.
    pub fn secret(&self, key: &str) -> Result<SecretString> {
        self.vault.read(key)
    }
}

/// Reads vault values for one skill call and remembers them for redaction.
#[derive(Clone)]
pub(crate) struct VaultReader {
    pub(crate) reader: Arc<SecretReader>,
    pub(crate) seen: Arc<Mutex<Vec<SecretString>>>,
}

impl VaultReader {
    fn read(&self, key: &str) -> Result<SecretString> {
        let v = (self.reader)(key)?;
        self.seen.locked().push(v.clone());
        Ok(v)
    }
}

/// Replaces every occurrence of any of `secrets` inside string values of `value`.
pub(crate) fn redact(value: &mut Value, secrets: &[SecretString]) {
    if secrets.is_empty() {
        return;
    }
    match value {
        Value::String(s) => *s = redact_str(s, secrets),
        Value::Array(a) => a.iter_mut().for_each(|v| redact(v, secrets)),
        Value::Object(o) => o.values_mut().for_each(|v| redact(v, secrets)),
        _ => {}
    }
}

/// [`redact`] for text.
pub(crate) fn redact_str(text: &str, secrets: &[SecretString]) -> String {
    let mut out = text.to_string();
    for s in secrets {
        let s = s.expose_secret();
        if !s.is_empty() && out.contains(s) {
            out = out.replace(s, "[REDACTED]");
        }
    }
    out
}

/// The result of one skill call as the run loop sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum SkillOutcome {
    /// The skill ran and returned `output`.
    Executed {
        /// Tool result.
        output: Value,
    },
    /// L0 shadow: recorded, not executed.
    Shadowed,
    /// The policy envelope forbade the call; nothing ran and nothing was charged.
    Blocked {
        /// Why (which policies forbade, or that none permitted).
        reason: String,
    },
    /// An L2 write that was denied or whose approval window lapsed.
    Skipped {
        /// `denied` or `expired`.
        reason: String,
    },
    /// The skill ran and failed, or does not exist.
    Failed {
        /// Error message (secrets redacted).
        error: String,
    },
}

impl SkillOutcome {
    /// The output of an executed call.
    pub fn output(&self) -> Option<&Value> {
        match self {
            SkillOutcome::Executed { output } => Some(output),
            _ => None,
        }
    }
}

/// A run loop: code that receives the run's input and calls skills through
/// [`RunContext::call`].
#[derive(Clone)]
pub struct Template {
    pub(crate) info: TemplateInfo,
    pub(crate) body: Arc<TemplateFn>,
}

impl std::fmt::Debug for Template {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Template")
            .field("info", &self.info)
            .finish()
    }
}

impl Template {
    /// A template named `name`. Returning `Err(message)` fails the run.
    pub fn new<F, Fut>(name: impl Into<String>, body: F) -> Self
    where
        F: Fn(RunContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = std::result::Result<Value, String>> + Send + 'static,
    {
        Template {
            info: TemplateInfo {
                name: name.into(),
                description: None,
            },
            body: Arc::new(move |ctx| Box::pin(body(ctx))),
        }
    }

    /// Free text.
    pub fn description(mut self, text: impl Into<String>) -> Self {
        self.info.description = Some(text.into());
        self
    }
}

pub use super::execution::RunContext;
