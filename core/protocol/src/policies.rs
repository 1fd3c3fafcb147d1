use serde::{Deserialize, Serialize};

/// A version of an agent's policy envelope. The newest version is in force.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
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
    pub translations: Vec<Translation>,
    /// Creation time.
    pub created_at: String,
}

/// `policies.create`.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CreatePolicy {
    /// The agent.
    #[cfg_attr(
        feature = "schema",
        schemars(regex(pattern = r"^ag_[0-9a-hjkmnp-tv-z]{26}$"))
    )]
    pub agent_id: String,
    /// Cedar text (the product's dialect; see the policy module docs).
    #[cfg_attr(feature = "schema", schemars(regex(pattern = r"\S")))]
    pub document: String,
}

/// Which rewrite of the policy dialect produced a [`Translation`].
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TranslationRule {
    /// A number literal became `decimal("…")` (rule 1).
    DecimalLiteral,
    /// `<`, `<=`, `>`, `>=` on decimals became a method call (rule 2).
    DecimalComparison,
    /// `EXPR in [literals…]` became `[literals…].contains(EXPR)` (rule 3).
    SetMembership,
}

/// One rewrite applied to a document before Cedar parses it.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Translation {
    /// 1-based line of the start of `original` in the original document.
    pub line: u32,
    /// 1-based column (in characters) of the start of `original`.
    pub column: u32,
    /// The original text that was rewritten.
    pub original: String,
    /// The Cedar text that replaced it.
    pub translated: String,
    /// The rule that applied.
    pub rule: TranslationRule,
}
