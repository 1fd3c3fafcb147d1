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

/// Replaces every occurrence of any of `secrets` in `value`: inside strings and
/// object keys, and a number whose digits hold one becomes the string
/// `[REDACTED]`. See [`redact_str`] for the encoded forms caught.
pub(crate) fn redact(value: &mut Value, secrets: &[SecretString]) {
    if secrets.is_empty() {
        return;
    }
    let forms = Forms::of(secrets);
    redact_value(value, &forms);
}

fn redact_value(value: &mut Value, forms: &Forms) {
    match value {
        Value::String(s) => {
            if let Some(clean) = forms.scrub(s) {
                *s = clean;
            }
        }
        Value::Number(n) if forms.scrub(&n.to_string()).is_some() => {
            *value = Value::String(REDACTED.into());
        }
        Value::Array(a) => a.iter_mut().for_each(|v| redact_value(v, forms)),
        Value::Object(o) => {
            if o.keys().any(|k| forms.scrub(k).is_some()) {
                *o = std::mem::take(o)
                    .into_iter()
                    .map(|(k, v)| (forms.scrub(&k).unwrap_or(k), v))
                    .collect();
            }
            o.values_mut().for_each(|v| redact_value(v, forms));
        }
        _ => {}
    }
}

/// [`redact`] for text: each secret as it is, JSON-escaped (a secret inside JSON
/// text a skill returned), as Python's `repr` escapes it, and base64-encoded
/// (standard and URL-safe, at each of the three alignments inside a longer
/// encoded text, e.g. `Basic` credentials).
pub(crate) fn redact_str(text: &str, secrets: &[SecretString]) -> String {
    if secrets.is_empty() {
        return text.to_string();
    }
    Forms::of(secrets)
        .scrub(text)
        .unwrap_or_else(|| text.to_string())
}

const REDACTED: &str = "[REDACTED]";

/// The shortest base64 run searched for: below it, matches would be chance.
const MIN_ENCODED: usize = 8;

/// Every form in which the secrets are searched for, longest first (so a longer
/// form is replaced whole before a shorter one inside it).
struct Forms(Vec<String>);

impl Forms {
    fn of(secrets: &[SecretString]) -> Forms {
        use base64::Engine as _;
        use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
        let mut forms = Vec::new();
        for s in secrets {
            let s = s.expose_secret();
            if s.is_empty() {
                continue;
            }
            forms.push(s.to_string());
            let json = serde_json::to_string(s).unwrap_or_default();
            forms.push(json[1..json.len() - 1].to_string());
            forms.push(python_repr_body(s));
            for offset in 0..3 {
                // The secret after `offset` bytes of anything: the base64 characters
                // that depend on the secret alone, whatever surrounds it.
                let mut bytes = vec![0u8; offset];
                bytes.extend_from_slice(s.as_bytes());
                for engine in [&STANDARD_NO_PAD, &URL_SAFE_NO_PAD] {
                    let enc = engine.encode(&bytes);
                    // Character k carries bits 6k..6k+6: those inside the secret's
                    // bits (8·offset .. 8·(offset + len)) depend on nothing else.
                    let start = (offset * 8).div_ceil(6);
                    let end = (bytes.len() * 8 / 6).min(enc.len());
                    if end > start && end - start >= MIN_ENCODED {
                        forms.push(enc[start..end].to_string());
                    }
                }
            }
        }
        forms.sort_unstable();
        forms.dedup();
        forms.sort_by_key(|f| std::cmp::Reverse(f.len()));
        Forms(forms)
    }

    /// `text` with every form replaced, or `None` when it holds none.
    fn scrub(&self, text: &str) -> Option<String> {
        let mut out: Option<String> = None;
        for f in &self.0 {
            let cur = out.as_deref().unwrap_or(text);
            if cur.contains(f.as_str()) {
                out = Some(cur.replace(f.as_str(), REDACTED));
            }
        }
        out
    }
}

/// The inside of Python's `repr` of `s` (a `str`, single-quoted): backslashes,
/// quotes and control characters escaped as Python writes them.
fn python_repr_body(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c => out.push(c),
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
