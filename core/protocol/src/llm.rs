use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// A model the agent's `llm` run loop uses (the RunAgents deploy API's `llm_configs`).
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schema", schemars(extend("if" = {"properties": {"provider": {"const": "offline"}}}, "then" = {"anyOf": [{"required": ["script"], "properties": {"script": {"type": "string"}}}, {"required": ["turns"], "properties": {"turns": {"type": "array"}}}]})))]
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LlmConfig {
    /// `openai` (any OpenAI-compatible chat-completions endpoint) or `offline`
    /// (replays scripted model turns; for tests and demos).
    #[cfg_attr(feature = "schema", schemars(extend("enum" = ["openai", "offline"])))]
    pub provider: String,
    /// Model id sent to the provider.
    #[cfg_attr(feature = "schema", schemars(length(min = 1)))]
    pub model: String,
    /// Role of this config; the loop uses the first `chat` config (default role `chat`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// `openai`: base URL of the API (default `https://api.openai.com/v1`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(
        feature = "schema",
        schemars(url, regex(pattern = r"^https?://[^/?#\s]+"))
    )]
    pub base_url: Option<String>,
    /// `openai`: the vault key holding the provider's API key (default `openai_api_key`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key_vault_key: Option<String>,
    /// `offline`: a JSON file of scripted turns (`{"turns": [...]}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub script: Option<String>,
    /// `offline`: scripted turns given inline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub turns: Option<Vec<ScriptedTurn>>,
    /// USD per 1,000 prompt tokens (default: the runtime's price table, else 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_usd_per_1k: Option<crate::Usd>,
    /// USD per 1,000 completion tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completion_usd_per_1k: Option<crate::Usd>,
    /// Sampling temperature.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
}

/// One scripted model turn of the offline provider.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ScriptedTurn {
    /// Assistant text.
    #[serde(default)]
    pub content: String,
    /// Tool calls the model makes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ScriptedToolCall>,
    /// Token usage reported for the turn.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<TokenUsage>,
}

/// A scripted tool call.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ScriptedToolCall {
    /// The skill name.
    pub name: String,
    /// Arguments (a JSON object).
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(extend("type" = ["object", "null"])))]
    pub arguments: serde_json::Value,
}

/// Token counts.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq)]
pub struct TokenUsage {
    /// Prompt tokens.
    pub prompt_tokens: u64,
    /// Completion tokens.
    pub completion_tokens: u64,
    /// Sum.
    pub total_tokens: u64,
}

/// A skill the `llm` loop offers the model, with per-tool limits like the Heroku Agents API's
/// `runtime_params`.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ToolSpec {
    /// Registered skill name.
    #[cfg_attr(feature = "schema", schemars(length(min = 1)))]
    pub name: String,
    /// Hint for the model (default: the skill's description).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Most calls in one run (default 3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(range(min = 1)))]
    pub max_calls: Option<u32>,
    /// Per-call timeout in seconds (default 120, at most 120).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(range(min = 1, max = 120)))]
    pub ttl_seconds: Option<u64>,
}

impl LlmConfig {
    pub fn validate(&self, field: &str) -> Result<()> {
        match self.provider.as_str() {
            "openai" => {
                if let Some(u) = &self.base_url {
                    check_http_url(&format!("{field}.base_url"), u)?;
                }
            }
            "offline" => {
                if self.script.is_none() && self.turns.is_none() {
                    return Err(Error::invalid(
                        format!("{field}.script"),
                        "the offline provider needs `script` (a file of turns) or `turns`",
                    ));
                }
            }
            other => {
                return Err(Error::invalid(
                    format!("{field}.provider"),
                    format!("provider must be one of openai, offline; got {other:?}"),
                ));
            }
        }
        if self.model.is_empty() {
            return Err(Error::invalid(
                format!("{field}.model"),
                "model must not be empty",
            ));
        }
        // The arguments travel on as a tool call's arguments (chat completions, the
        // audit, the event stream), where they must be an object.
        for (t, turn) in self.turns.iter().flatten().enumerate() {
            for (c, call) in turn.tool_calls.iter().enumerate() {
                if !(call.arguments.is_object() || call.arguments.is_null()) {
                    let at = format!("{field}.turns[{t}].tool_calls[{c}].arguments");
                    return Err(Error::invalid(
                        at.clone(),
                        format!(
                            "{at} must be a JSON object (or absent); got {}",
                            call.arguments
                        ),
                    ));
                }
            }
        }
        Ok(())
    }
}

impl ToolSpec {
    pub fn validate(&self, field: &str) -> Result<()> {
        if self.name.is_empty() {
            return Err(Error::invalid(
                format!("{field}.name"),
                "name must not be empty",
            ));
        }
        if self.ttl_seconds.is_some_and(|t| t == 0 || t > 120) {
            return Err(Error::invalid(
                format!("{field}.ttl_seconds"),
                "ttl_seconds must be 1-120",
            ));
        }
        if self.max_calls == Some(0) {
            return Err(Error::invalid(
                format!("{field}.max_calls"),
                "max_calls must be at least 1",
            ));
        }
        Ok(())
    }
}

/// Where and how run results are POSTed after each run.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// The receiver (`http://` or `https://`).
    #[cfg_attr(
        feature = "schema",
        schemars(url, regex(pattern = r"^https?://[^/?#\s]+"))
    )]
    pub url: String,
    /// Signing secret (`whsec_…` for Standard Webhooks, or any text). Stored sealed;
    /// never returned.
    #[cfg_attr(feature = "schema", schemars(with = "String", length(min = 8)))]
    pub signing_secret: secrecy::SecretString,
}

impl std::fmt::Debug for WebhookConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookConfig")
            .field("url", &self.url)
            .field("signing_secret", &"[REDACTED]")
            .finish()
    }
}

/// Checks that `text` is an absolute `http://` or `https://` URL with a host (parsed
/// by the `url` crate, the WHATWG URL Standard); the error names `field`.
pub fn check_http_url(field: &str, text: &str) -> Result<()> {
    let ok = url::Url::parse(text).is_ok_and(|u| {
        matches!(u.scheme(), "http" | "https") && u.host().is_some() && text.is_ascii()
    });
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(
            field,
            format!("{field} must be an absolute http:// or https:// URL with a host"),
        ))
    }
}

impl WebhookConfig {
    pub fn validate(&self) -> Result<()> {
        use secrecy::ExposeSecret;
        check_http_url("webhook.url", &self.url)?;
        if self.signing_secret.expose_secret().len() < 8 {
            return Err(Error::invalid(
                "webhook.signing_secret",
                "webhook.signing_secret must be at least 8 characters",
            ));
        }
        Ok(())
    }

    pub fn to_wire(&self) -> serde_json::Value {
        use secrecy::ExposeSecret;
        serde_json::json!({"url": self.url, "signing_secret": self.signing_secret.expose_secret()})
    }
}

/// The webhook as the agent shows it: the secret is represented by its fingerprint.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct WebhookInfo {
    /// The receiver.
    pub url: String,
    /// SHA-256 (hex) of the signing secret, to tell which secret is in use.
    pub signing_secret_fingerprint: String,
}
