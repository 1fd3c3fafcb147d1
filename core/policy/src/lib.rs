//! Policy envelopes: Cedar documents evaluated before every skill call.
//!
//! An agent's policy envelope is a list of documents, each identified by a
//! string id (`po_01hz…`) and holding one or more Cedar policies. Before a
//! skill call the runtime asks a [`PolicyEngine`] for a [`Decision`]:
//!
//! * principal: `Agent::"<agent id>"` with string attributes `id`, `name`,
//!   `region`, `promotion`;
//! * action: `Action::"skill:invoke"`;
//! * resource: `Skill::"<skill name>"` with attributes `name` (string), `kind`
//!   (`"read"` or `"write"`), `external` (bool) and `cost_usd` (decimal);
//! * context: the caller's JSON object plus `run_cost_usd` (decimal), see
//!   [`CheckRequest`].
//!
//! # The policy dialect
//!
//! Documents are Cedar with three conveniences, so that policies such as
//!
//! ```text
//! permit(principal, action == Action::"skill:invoke", resource)
//! when {
//!   resource.name in ["hubspot:contact:read", "hubspot:contact:enrich"]
//!   && context.run_cost_usd < 0.50
//! };
//! ```
//!
//! mean what they say. Plain Cedar rejects or mis-evaluates that text: `0.50`
//! is not a Cedar literal, `<` is defined only on `Long` (and on `datetime` /
//! `duration`; cedar-policy 4.14 does **not** overload `<` for `decimal`, whose
//! extension values report no operator overloading), and `in` is the
//! entity-hierarchy operator, which errors on a string. [`compile`] therefore
//! rewrites the source before handing it to `cedar-policy`:
//!
//! 1. **Decimal literals** (`decimal_literal`). A number with a fractional
//!    part (`digits.digits`, outside string literals and `//` comments),
//!    with its unary minus if it has one, becomes `decimal("…")` with the
//!    digits exactly as written: `0.50` → `decimal("0.50")`, `-1.5` →
//!    `decimal("-1.5")`. More than 4 fractional digits, or a magnitude above
//!    922337203685477.5807, is a [`Diagnostic`] at the literal. An *integer*
//!    literal is rewritten the same way (`1` → `decimal("1.0")`) only when it
//!    is the whole other operand of a comparison (`==`, `!=`, `<`, `<=`, `>`,
//!    `>=`) whose one operand is a decimal (see rule 2).
//! 2. **Decimal comparisons** (`decimal_comparison`). `A < B`, `A <= B`,
//!    `A > B`, `A >= B` where `A` or `B` is a decimal operand becomes
//!    `A.lessThan(B)`, `A.lessThanOrEqual(B)`, `A.greaterThan(B)`,
//!    `A.greaterThanOrEqual(B)`. An operand is a decimal operand when it is a
//!    decimal literal, a `decimal("…")` call, or an attribute chain on
//!    `principal` / `resource` / `context` whose last attribute name ends in
//!    `_usd` (`context.run_cost_usd`, `resource.cost_usd`, `context["x_usd"]`),
//!    matching the typing of request data below. The operands are Cedar's
//!    `Add`-level expressions around the operator (delimited by `&&`, `||`,
//!    brackets, `,`, `if`/`then`/`else`, other relational operators); `A` is
//!    wrapped in parentheses when it is not a single member chain or literal
//!    (`a + b < 0.5` → `(a + b).lessThan(decimal("0.5"))`).
//! 3. **Set membership** (`set_membership`). `EXPR in [a, b, …]`, where the
//!    right operand is exactly a set literal whose elements are all string,
//!    number or boolean literals, becomes `[a, b, …].contains(EXPR)`. `EXPR` is
//!    the whole operand to the left of `in` (a member chain such as
//!    `resource.name`, `context.a.b`, `principal["x"]`, a literal, a
//!    parenthesised expression, …). An `in` whose right side is an entity, a
//!    set holding any entity or other non-literal, or an empty set, is left
//!    alone: it is Cedar's hierarchy `in`, and so is `principal is T in …`.
//!
//! A comparison neither of whose operands is recognisably a decimal (say
//! `context.ratio < context.limit`) is left to Cedar, whose `<` fails on
//! decimals at evaluation: name money attributes `…_usd`, compare against a
//! literal, or write the method (`context.ratio.lessThan(context.limit)`).
//! Cedar has no decimal arithmetic, so `context.a_usd + 1` fails at evaluation
//! whatever the translation does.
//!
//! Nothing else changes: text that needs no rewrite passes through byte for
//! byte, and the text outside rewritten spans is copied verbatim. Every rewrite
//! is reported as a [`Translation`] with the 1-based line and column of its
//! start in the original document (nested rewrites, such as a literal inside a
//! comparison, are each reported). Cedar parse errors are mapped back through
//! the rewrites to positions in the original document.
//!
//! # Request data typing
//!
//! See [`CheckRequest`]: JSON numbers with a fractional part, and every value
//! under a key named `run_cost_usd` or ending in `_usd` (at any depth), become
//! Cedar decimals rounded to 4 fractional digits (round half to even on the
//! exact binary value of the `f64`); other integers become `Long`.
//!
//! Context attributes that no policy reads (no `context.x`, `context["x"]` or
//! `context has x` anywhere in the envelope) are not converted at all.
//!
//! # Evaluation semantics
//!
//! Plain Cedar: a request is allowed when some `permit` is satisfied and no
//! `forbid` is; a policy whose evaluation errors is skipped (and reported in
//! [`Decision::errors`]) — so a `forbid` that errors does not deny. A request
//! that cannot be converted (a non-finite or out-of-range number) is denied
//! with the reason in [`Decision::errors`].
//!
//! # How a check is evaluated: compiled, with Cedar as the fallback
//!
//! [`PolicyEngine::new`] parses the envelope into a cedar-policy `PolicySet`
//! once and also compiles every policy, from the syntax tree cedar-policy
//! parsed (after the rewrites above), into the engine's own expression tree.
//! [`PolicyEngine::check`] evaluates that tree directly against the
//! [`CheckRequest`] (no Cedar entities, context or request are built; context
//! attributes are converted per the typing rules above), with Cedar's
//! semantics. The compiled subset is what envelopes use: scope constraints
//! (`==`, `in`, `is`, `is … in`; entities have no parents, so `in` is
//! equality), `when` / `unless`, bool / `Long` / string / entity / set /
//! record literals, attribute access and `has`, `==` / `!=` (values of
//! different types are unequal; decimals compare by value), `<` `<=` `>` `>=`
//! and `+` `-` `*` on `Long` (overflow is an error), `!` `&&` `||` and
//! `if … then … else` (short-circuiting, demanding booleans), `like`, `in`,
//! `.contains()`, `.containsAll()`, `.containsAny()`, `.isEmpty()`,
//! `decimal("…")` and its comparison methods.
//!
//! Cedar's `Authorizer` answers instead:
//!
//! * every check of an envelope that uses anything else (the `ip`, `datetime`
//!   and `duration` extensions, entity tags, or nesting deeper than 24
//!   levels; the scope of a policy that can never match, such as
//!   `principal in Group::"…"`, drops it before its conditions are looked at);
//! * a check in which the compiled evaluator meets an evaluation error (type
//!   error, missing attribute or entity, overflow, malformed decimal), a
//!   request value that cannot be converted, or a request array of more than
//!   64 elements (set comparisons would be quadratic here): the check is
//!   redone through Cedar, so [`Decision::errors`] always carry Cedar's own
//!   messages. An envelope with a policy that errors on many requests (say
//!   `context.x_usd > 1.0` without a `context has x_usd` guard) therefore
//!   costs a Cedar evaluation on each of them.
//!
//! Either way the [`Decision`] is the same; the compiled evaluator is tested
//! against Cedar on the shared decision vectors, on edge cases of each
//! operator, and on random envelopes and requests.

#![forbid(unsafe_code)]

mod compiled;
mod engine;
#[cfg(test)]
#[path = "../../testing/test_rng.rs"]
#[allow(dead_code)]
mod test_rng;
mod translate;

#[cfg(test)]
mod differential;
#[cfg(test)]
mod tests;

use std::str::FromStr;

use cedar_policy::{PolicyId, PolicySet};
use serde::{Deserialize, Serialize};

pub use engine::{
    AgentInfo, Ancestor, CheckRequest, Decision, DeniedBy, Effect, MAX_ANCESTORS, NO_ENVELOPE,
    PolicyEngine, PolicyReason, SkillInfo, SkillKind, too_many_ancestors,
};

pub use heroa_protocol::{Translation, TranslationRule};

/// A problem found in a policy document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Diagnostic {
    /// 1-based line in the original document.
    pub line: u32,
    /// 1-based column (in characters) in the original document.
    pub column: u32,
    /// What is wrong.
    pub message: String,
    /// How to fix it, when known.
    pub help: Option<String>,
    /// When the error lies inside text produced by a [`Translation`], that
    /// translated text (the Cedar snippet the parser actually saw).
    pub translated: Option<String>,
}

impl std::fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: {}", self.line, self.column, self.message)?;
        if let Some(help) = &self.help {
            write!(f, " (help: {help})")?;
        }
        Ok(())
    }
}

/// Errors from compiling policy documents or building a [`PolicyEngine`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// The document is not a valid policy document.
    #[error("invalid policy document: {}", join_diagnostics(.diagnostics))]
    Invalid {
        /// What is wrong, in document order.
        diagnostics: Vec<Diagnostic>,
    },
    /// One document of an engine is not a valid policy document.
    #[error("invalid policy document {document_id}: {}", join_diagnostics(.diagnostics))]
    InvalidDocument {
        /// Id of the offending document.
        document_id: String,
        /// What is wrong, in document order.
        diagnostics: Vec<Diagnostic>,
    },
    /// Two documents given to an engine share an id.
    #[error("duplicate policy document id {document_id}")]
    DuplicateDocument {
        /// The repeated id.
        document_id: String,
    },
}

fn join_diagnostics(diagnostics: &[Diagnostic]) -> String {
    diagnostics
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// A policy document that parsed, with the Cedar text it was translated to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompiledPolicy {
    /// The plain Cedar text that was parsed.
    pub cedar: String,
    /// Every rewrite applied, in document order.
    pub translations: Vec<Translation>,
    /// Number of policies in the document.
    pub policy_count: usize,
}

/// Translates and parses one policy document.
///
/// Returns [`PolicyError::Invalid`] with diagnostics positioned in `document`
/// when a literal is out of range, Cedar cannot parse the translated text, the
/// document holds a template (`?principal` / `?resource`), or it holds no
/// policy at all.
pub fn compile(document: &str) -> Result<CompiledPolicy, PolicyError> {
    let parsed =
        parse_document(document).map_err(|diagnostics| PolicyError::Invalid { diagnostics })?;
    Ok(CompiledPolicy {
        policy_count: parsed.policies.len(),
        cedar: parsed.translated.cedar,
        translations: parsed.translated.translations,
    })
}

/// A parsed document: its translation and its policies in source order.
struct ParsedDocument {
    translated: translate::Translated,
    /// Each policy (with Cedar's default id) and the 1-based line of its
    /// `permit` / `forbid` keyword in the original document.
    policies: Vec<(cedar_policy::Policy, u32)>,
}

fn parse_document(document: &str) -> Result<ParsedDocument, Vec<Diagnostic>> {
    let translated = translate::translate(document);
    let mut diagnostics = translated.diagnostics.clone();
    let set = match PolicySet::from_str(&translated.cedar) {
        Ok(set) => Some(set),
        Err(errors) => {
            for error in errors.iter() {
                diagnostics.push(cedar_diagnostic(document, &translated, error));
            }
            None
        }
    };
    let effect_lines = translate::effect_lines(document);
    let mut policies = Vec::new();
    if let Some(set) = &set {
        let statements = set.num_of_policies() + set.num_of_templates();
        if let Some(index) =
            (0..statements).find(|i| set.template(&PolicyId::new(format!("policy{i}"))).is_some())
        {
            let (line, column) = effect_lines.get(index).copied().unwrap_or((1, 1));
            diagnostics.push(Diagnostic {
                line,
                column,
                message: "policy templates (`?principal` / `?resource` slots) are not supported in a policy envelope".to_string(),
                help: Some("use `principal` / `resource` with concrete constraints".to_string()),
                translated: None,
            });
        }
        for i in 0..statements {
            if let Some(policy) = set.policy(&PolicyId::new(format!("policy{i}"))) {
                let line = effect_lines.get(i).map_or(1, |&(line, _)| line);
                policies.push((policy.clone(), line));
            }
        }
        if policies.is_empty() && set.num_of_templates() == 0 {
            diagnostics.push(Diagnostic {
                line: 1,
                column: 1,
                message: "the document contains no policies".to_string(),
                help: Some("write at least one `permit(…);` or `forbid(…);` statement".to_string()),
                translated: None,
            });
        }
    }
    if diagnostics.is_empty() {
        Ok(ParsedDocument {
            translated,
            policies,
        })
    } else {
        diagnostics.sort_by_key(|d| (d.line, d.column));
        Err(diagnostics)
    }
}

/// Converts one Cedar parse error into a diagnostic positioned in `document`.
fn cedar_diagnostic(
    document: &str,
    translated: &translate::Translated,
    error: &cedar_policy::ParseError,
) -> Diagnostic {
    // `DetailedError` reads the miette `Diagnostic` (message, `help()`, and
    // `labels()` with byte offsets into the text Cedar parsed).
    let detailed = cedar_policy::ffi::DetailedError::from(error);
    let label = detailed.source_locations.first();
    let offset = label.map_or(translated.cedar.len(), |l| l.loc.start);
    let origin = translated.origin(offset);
    let (line, column) = translate::line_col(document, origin.offset);
    let mut message = detailed.message;
    if let Some(text) = label.and_then(|l| l.label.as_deref())
        && !text.is_empty()
        && text != message
    {
        message.push_str(&format!(" ({text})"));
    }
    let mut help = detailed.help;
    if help.is_none()
        && origin.translation.is_none()
        && let Some(at) = translate::missing_semicolon_before(document, origin.offset)
    {
        let (l, c) = translate::line_col(document, at);
        help = Some(format!(
            "is a `;` missing at line {l}, column {c}, after the previous policy?"
        ));
    }
    let mut snippet = None;
    if let Some(t) = origin
        .translation
        .and_then(|i| translated.translations.get(i))
    {
        message.push_str(&format!(
            " (inside translated text: `{}` was rewritten to `{}`)",
            t.original, t.translated
        ));
        snippet = Some(t.translated.clone());
    }
    Diagnostic {
        line,
        column,
        message,
        help,
        translated: snippet,
    }
}

/// A check's extra Cedar context given as JSON text by a binding: an object, or
/// none (absent or `null`); anything else is an `invalid_argument` on `context`.
pub fn context_from_json(
    text: Option<&str>,
) -> Result<serde_json::Map<String, serde_json::Value>, heroa_protocol::error::Error> {
    use heroa_protocol::error::Error;
    match text.map(serde_json::from_str) {
        None | Some(Ok(serde_json::Value::Null)) => Ok(serde_json::Map::new()),
        Some(Ok(serde_json::Value::Object(m))) => Ok(m),
        Some(Ok(_)) => Err(Error::invalid("context", "context must be an object")),
        Some(Err(e)) => Err(Error::invalid(
            "context",
            format!("context is not JSON: {e}"),
        )),
    }
}

/// A policy error as an `invalid_argument` on `document`, diagnostics in `details`.
pub fn document_error(e: PolicyError) -> heroa_protocol::error::Error {
    let diagnostics = match &e {
        PolicyError::Invalid { diagnostics } | PolicyError::InvalidDocument { diagnostics, .. } => {
            serde_json::to_value(diagnostics).unwrap_or_default()
        }
        PolicyError::DuplicateDocument { .. } => serde_json::Value::Array(vec![]),
    };
    heroa_protocol::error::Error::invalid("document", e.to_string())
        .with_details(serde_json::json!({ "diagnostics": diagnostics }))
}

impl From<PolicyError> for heroa_protocol::error::Error {
    fn from(e: PolicyError) -> Self {
        document_error(e)
    }
}
