//! The cached policy engine: builds the Cedar `PolicySet` and the compiled
//! program once and answers skill-call checks.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::str::FromStr;
use std::sync::{Arc, RwLock};

use cedar_policy::{
    Authorizer, Context, Entities, Entity, EntityId, EntityTypeName, EntityUid, PolicyId,
    PolicySet, Request, RestrictedExpression,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Number, Value};

use super::compiled::Program;
use super::{PolicyError, parse_document, translate};

/// Entity type of the principal: `Agent::"<agent id>"`.
pub(super) const AGENT_TYPE: &str = "Agent";
/// Entity type of the resource: `Skill::"<skill name>"`.
pub(super) const SKILL_TYPE: &str = "Skill";
/// Entity type of the action.
pub(super) const ACTION_TYPE: &str = "Action";
/// The action every check asks about: `Action::"skill:invoke"`.
pub(super) const SKILL_INVOKE: &str = "skill:invoke";

/// Whether a policy permits or forbids.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Effect {
    /// A `permit` policy.
    Permit,
    /// A `forbid` policy.
    Forbid,
}

/// A policy that determined a [`Decision`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyReason {
    /// Stable policy id: `<document id>#<index of the policy in the document>`,
    /// e.g. `po_01hz…#0`.
    pub policy_id: String,
    /// Whether the policy permits or forbids.
    pub effect: Effect,
    /// Id of the document holding the policy.
    pub document_id: String,
    /// 1-based line of the policy's `permit` / `forbid` keyword in its document.
    pub line: u32,
}

/// The answer to a [`CheckRequest`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    /// Whether the skill call may go ahead.
    pub allowed: bool,
    /// The determining policies: the satisfied `permit`s when allowed, the
    /// satisfied `forbid`s when forbidden, empty when nothing permits.
    /// Ordered by document, then by position in the document.
    pub reasons: Vec<PolicyReason>,
    /// Errors met while evaluating (a policy whose evaluation errors is
    /// skipped, as in Cedar) or while converting the request.
    pub errors: Vec<String>,
    /// Name of the skill that was checked.
    pub skill: String,
    /// Set when an ancestor's envelope denied the call (a sub-agent can never do
    /// what its parent cannot); `reasons` and `errors` are then that envelope's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub denied_by: Option<DeniedBy>,
}

/// The ancestor whose envelope denied a sub-agent's call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeniedBy {
    /// The ancestor agent's id.
    pub agent_id: String,
    /// Its name.
    pub agent_name: String,
    /// Whether it has no envelope at all (which denies every call).
    #[serde(default)]
    pub no_envelope: bool,
}

/// Why an agent without an envelope is denied, as the runtime says it.
pub const NO_ENVELOPE: &str =
    "the agent has no policy envelope; every skill call is denied until one is set";

impl Decision {
    /// A one-line human explanation, e.g. `permitted by po_1#0 (line 1)`,
    /// `forbidden by po_1#1 (line 7)` or
    /// `no policy permits skill:invoke on Skill::"slack:post"`.
    pub fn explain(&self) -> String {
        match &self.denied_by {
            None => self.explain_own(),
            Some(by) => format!(
                "parent agent {} ({}): {}",
                by.agent_name,
                by.agent_id,
                if by.no_envelope {
                    NO_ENVELOPE.to_string()
                } else {
                    self.explain_own()
                }
            ),
        }
    }

    fn explain_own(&self) -> String {
        let list = |reasons: &[PolicyReason]| {
            reasons
                .iter()
                .map(|r| format!("{} (line {})", r.policy_id, r.line))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let mut text = if self.allowed {
            format!("permitted by {}", list(&self.reasons))
        } else if self.reasons.is_empty() {
            format!(
                "no policy permits {SKILL_INVOKE} on Skill::{}",
                cedar_string(&self.skill)
            )
        } else {
            format!("forbidden by {}", list(&self.reasons))
        };
        if !self.errors.is_empty() {
            text.push_str(&format!(
                "; {} error(s): {}",
                self.errors.len(),
                self.errors.join("; ")
            ));
        }
        text
    }
}

/// A Cedar string literal for `s`.
fn cedar_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The agent making the call (the principal, `Agent::"<id>"`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentInfo {
    /// Agent id; also the entity id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Deployment region.
    pub region: String,
    /// Promotion level (e.g. `"dev"`, `"prod"`).
    pub promotion: String,
}

impl From<&heroa_protocol::Agent> for AgentInfo {
    fn from(agent: &heroa_protocol::Agent) -> Self {
        AgentInfo {
            id: agent.id.clone(),
            name: agent.name.clone(),
            region: agent.region.as_str().into(),
            promotion: agent.promotion.as_str().into(),
        }
    }
}

/// Whether a skill reads or writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SkillKind {
    /// `"read"`.
    Read,
    /// `"write"`.
    Write,
}

impl SkillKind {
    /// `read` or `write`; anything else is an error naming `field` (what every
    /// binding's pre-check takes as text).
    pub fn parse_field(field: &str, kind: &str) -> Result<SkillKind, heroa_protocol::error::Error> {
        match kind {
            "read" => Ok(SkillKind::Read),
            "write" => Ok(SkillKind::Write),
            other => Err(heroa_protocol::error::Error::invalid(
                field,
                format!("{field} must be one of read, write; got {other:?}"),
            )),
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            SkillKind::Read => "read",
            SkillKind::Write => "write",
        }
    }
}

/// The skill being invoked (the resource, `Skill::"<name>"`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SkillInfo {
    /// Skill name, e.g. `hubspot:contact:read`; also the entity id.
    pub name: String,
    /// Read or write.
    pub kind: SkillKind,
    /// Whether the skill reaches outside the deployment.
    pub external: bool,
    /// Cost of one call in USD; a Cedar decimal (4 fractional digits).
    pub cost_usd: f64,
}

/// An attribute value of the principal or the resource entity.
pub(super) enum Attribute<'a> {
    String(&'a str),
    Bool(bool),
    /// A decimal, in ten-thousandths.
    Decimal(i64),
}

/// Attribute names of the principal entity, in the order of
/// [`principal_attributes`].
pub(super) const PRINCIPAL_ATTRIBUTES: [&str; 4] = ["id", "name", "region", "promotion"];

/// The principal's attribute values, in the order of [`PRINCIPAL_ATTRIBUTES`].
pub(super) fn principal_attributes(agent: &AgentInfo) -> [Attribute<'_>; 4] {
    [
        Attribute::String(&agent.id),
        Attribute::String(&agent.name),
        Attribute::String(&agent.region),
        Attribute::String(&agent.promotion),
    ]
}

/// Attribute names of the resource entity, in the order of
/// [`resource_attributes`].
pub(super) const RESOURCE_ATTRIBUTES: [&str; 4] = ["name", "kind", "external", "cost_usd"];

/// The resource's attribute values, in the order of [`RESOURCE_ATTRIBUTES`];
/// fails when `cost_usd` is not a Cedar decimal.
pub(super) fn resource_attributes(skill: &SkillInfo) -> Result<[Attribute<'_>; 4], String> {
    let cost = decimal_scaled(skill.cost_usd).map_err(|e| format!("skill.cost_usd: {e}"))?;
    Ok([
        Attribute::String(&skill.name),
        Attribute::String(skill.kind.as_str()),
        Attribute::Bool(skill.external),
        Attribute::Decimal(cost),
    ])
}

/// One skill call to check.
///
/// The Cedar context is `context` plus `run_cost_usd`, converted as follows:
/// JSON numbers written with a fraction or exponent (not integers) become
/// decimals; every number under a key equal to `run_cost_usd` or ending in
/// `_usd`, at any depth (including array elements under such a key), becomes
/// a decimal even when integral; decimals are rounded to 4 fractional digits,
/// half to even on the exact binary value of the `f64`; other integers become
/// `Long`; strings and booleans map to themselves, arrays to sets, objects to
/// records; `null` values (and `null` array elements) are omitted. A number
/// that fits neither (`|x| > 922337203685477.5807` as decimal, or an integer
/// beyond `i64`) makes the check fail closed with an error.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckRequest {
    /// The calling agent.
    pub agent: AgentInfo,
    /// The skill being invoked.
    pub skill: SkillInfo,
    /// Cost of the run so far, in USD. Always present in the context as the
    /// decimal `context.run_cost_usd`; it overrides a `run_cost_usd` key of
    /// `context`.
    pub run_cost_usd: f64,
    /// Extra context attributes.
    #[serde(default)]
    pub context: Map<String, Value>,
}

/// The top-level request context attributes that become Cedar context
/// attributes: those some policy reads (`None`: all of them), sorted. The
/// others are not converted at all.
pub(super) struct ContextKeys(Option<Vec<String>>);

impl ContextKeys {
    /// Whether the request context's `key` is converted. `run_cost_usd` never
    /// is: [`CheckRequest::run_cost_usd`] replaces it.
    pub(super) fn converts(&self, key: &str) -> bool {
        key != "run_cost_usd"
            && self
                .0
                .as_ref()
                .is_none_or(|keys| keys.binary_search_by(|k| k.as_str().cmp(key)).is_ok())
    }
}

struct Inner {
    policies: PolicySet,
    authorizer: Authorizer,
    /// The reason of every policy, in envelope order (document, then
    /// position in the document).
    reasons: Vec<PolicyReason>,
    /// Position in `reasons` per Cedar policy id.
    positions: HashMap<String, usize>,
    /// The envelope compiled for direct evaluation; `None` when it uses
    /// Cedar beyond the compiled subset (then every check goes through Cedar).
    program: Option<Program>,
    agent_type: EntityTypeName,
    skill_type: EntityTypeName,
    action: EntityUid,
    context_keys: ContextKeys,
    /// Principal + resource entities per (agent, skill), see [`Prepared`].
    prepared: Bounded<u64, Vec<Arc<Prepared>>>,
    /// `decimal("…")` expressions per value (in ten-thousandths).
    /// cedar-policy parses the name `decimal` with its full grammar on every
    /// `RestrictedExpression::new_decimal` (about 3.5 µs), so values seen
    /// before are reused.
    decimals: Bounded<i64, RestrictedExpression>,
}

/// Most entries a cache keeps; when full it is emptied and refilled.
const CACHE_CAPACITY: usize = 4096;

/// A small concurrent map that forgets everything when it reaches
/// [`CACHE_CAPACITY`] entries (keeps memory bounded with no bookkeeping on
/// the read path).
struct Bounded<K, V> {
    map: RwLock<HashMap<K, V>>,
}

impl<K: std::hash::Hash + Eq, V> Bounded<K, V> {
    fn new() -> Self {
        Self {
            map: RwLock::new(HashMap::new()),
        }
    }

    fn read<R>(&self, f: impl FnOnce(&HashMap<K, V>) -> R) -> R {
        match self.map.read() {
            Ok(map) => f(&map),
            Err(poisoned) => f(&poisoned.into_inner()),
        }
    }

    fn write<R>(&self, f: impl FnOnce(&mut HashMap<K, V>) -> R) -> R {
        let mut guard = match self.map.write() {
            Ok(map) => map,
            Err(poisoned) => poisoned.into_inner(),
        };
        if guard.len() >= CACHE_CAPACITY {
            guard.clear();
        }
        f(&mut guard)
    }
}

/// The request-independent part of a check for one (agent, skill): entity
/// uids and the `Entities` holding the principal and the resource.
struct Prepared {
    agent: AgentInfo,
    skill_name: String,
    kind: SkillKind,
    external: bool,
    cost_bits: u64,
    principal: EntityUid,
    resource: EntityUid,
    entities: Entities,
}

impl Prepared {
    fn matches(&self, agent: &AgentInfo, skill: &SkillInfo) -> bool {
        self.agent == *agent
            && self.skill_name == skill.name
            && self.kind == skill.kind
            && self.external == skill.external
            && self.cost_bits == skill.cost_usd.to_bits()
    }
}

fn prepared_key(agent: &AgentInfo, skill: &SkillInfo) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    agent.id.hash(&mut h);
    agent.name.hash(&mut h);
    agent.region.hash(&mut h);
    agent.promotion.hash(&mut h);
    skill.name.hash(&mut h);
    skill.kind.hash(&mut h);
    skill.external.hash(&mut h);
    skill.cost_usd.to_bits().hash(&mut h);
    h.finish()
}

/// Evaluates an agent's policy envelope. Built once from the envelope's
/// documents; cheap to clone (shared) and usable from many threads.
///
/// Building parses the documents into a cedar-policy `PolicySet` and compiles
/// them for the engine's own evaluator (see the [module docs](super) on the
/// compiled evaluator). A check evaluates the compiled policies directly
/// against the [`CheckRequest`]; it goes through cedar-policy's `Authorizer`
/// instead when the envelope uses Cedar beyond the compiled subset, or when
/// the check would report an error (a policy whose evaluation errors, or a
/// request value that cannot be converted), so that [`Decision::errors`] are
/// Cedar's own. On that path the engine reuses the principal/resource entities
/// of an (agent, skill) pair it has seen, and the Cedar `decimal` values it
/// has built before (both caches hold at most 4096 entries and start over when
/// full). Either way only the context attributes some policy reads are
/// converted.
#[derive(Clone)]
pub struct PolicyEngine {
    inner: Arc<Inner>,
    /// The envelopes of the agent's ancestors, nearest first (see
    /// [`PolicyEngine::within`]).
    ancestors: Arc<[Ancestor]>,
}

/// The most ancestors an envelope is checked under; a deeper chain is a bug.
pub const MAX_ANCESTORS: usize = 16;

/// An error for a sub-agent chain deeper than [`MAX_ANCESTORS`].
pub fn too_many_ancestors() -> heroa_protocol::error::Error {
    heroa_protocol::error::Error::internal(format!(
        "sub-agent chain is deeper than {MAX_ANCESTORS}"
    ))
}

/// An ancestor of a sub-agent and its envelope (`None`: it has none, which denies
/// every call).
#[derive(Debug, Clone)]
pub struct Ancestor {
    /// The ancestor agent, the principal its envelope is checked with.
    pub agent: AgentInfo,
    /// Its envelope in force.
    pub engine: Option<PolicyEngine>,
}

impl std::fmt::Debug for PolicyEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PolicyEngine")
            .field("policies", &self.inner.reasons.len())
            .field("compiled", &self.inner.program.is_some())
            .field("ancestors", &self.ancestors.len())
            .finish_non_exhaustive()
    }
}

impl PolicyEngine {
    /// Compiles every `(document id, document text)` pair and caches the
    /// resulting policy set. Each policy gets the id `<document id>#<n>`, `n`
    /// counting the document's policies from 0.
    ///
    /// Fails with [`PolicyError::InvalidDocument`] for the first invalid
    /// document, or [`PolicyError::DuplicateDocument`]. An empty list gives an
    /// engine that denies everything.
    pub fn new<I: AsRef<str>, T: AsRef<str>>(documents: &[(I, T)]) -> Result<Self, PolicyError> {
        let mut policies = PolicySet::new();
        let mut ordered = Vec::new();
        let mut reasons = Vec::new();
        let mut seen = HashSet::new();
        let mut context_keys = Some(BTreeSet::new());
        for (document_id, text) in documents {
            let document_id = document_id.as_ref();
            if !seen.insert(document_id) {
                return Err(PolicyError::DuplicateDocument {
                    document_id: document_id.to_string(),
                });
            }
            let parsed = parse_document(text.as_ref()).map_err(|diagnostics| {
                PolicyError::InvalidDocument {
                    document_id: document_id.to_string(),
                    diagnostics,
                }
            })?;
            context_keys = match (
                context_keys,
                translate::context_keys(&parsed.translated.cedar),
            ) {
                (Some(mut all), Some(keys)) => {
                    all.extend(keys);
                    Some(all)
                }
                _ => None,
            };
            for (index, (policy, line)) in parsed.policies.into_iter().enumerate() {
                let policy_id = format!("{document_id}#{index}");
                let effect = match policy.effect() {
                    cedar_policy::Effect::Permit => Effect::Permit,
                    cedar_policy::Effect::Forbid => Effect::Forbid,
                };
                let policy = policy.new_id(PolicyId::new(&policy_id));
                policies
                    .add(policy.clone())
                    .map_err(|e| PolicyError::InvalidDocument {
                        document_id: document_id.to_string(),
                        diagnostics: vec![super::Diagnostic {
                            line,
                            column: 1,
                            message: e.to_string(),
                            help: None,
                            translated: None,
                        }],
                    })?;
                ordered.push(policy);
                reasons.push(PolicyReason {
                    policy_id,
                    effect,
                    document_id: document_id.to_string(),
                    line,
                });
            }
        }
        let positions = reasons
            .iter()
            .enumerate()
            .map(|(position, reason)| (reason.policy_id.clone(), position))
            .collect();
        let agent_type = type_name(AGENT_TYPE);
        let skill_type = type_name(SKILL_TYPE);
        let action =
            EntityUid::from_type_name_and_id(type_name(ACTION_TYPE), EntityId::new(SKILL_INVOKE));
        Ok(Self {
            inner: Arc::new(Inner {
                program: Program::compile(&ordered).ok(),
                policies,
                authorizer: Authorizer::new(),
                reasons,
                positions,
                agent_type,
                skill_type,
                action,
                context_keys: ContextKeys(context_keys.map(|keys| keys.into_iter().collect())),
                prepared: Bounded::new(),
                decimals: Bounded::new(),
            }),
            ancestors: Arc::new([]),
        })
    }

    /// This envelope as a sub-agent's, under its ancestors' (nearest first): a call
    /// is allowed only when this envelope allows it *and* every ancestor's allows it
    /// for the ancestor itself — exactly how the runtime decides. A denial by an
    /// ancestor names it in [`Decision::denied_by`].
    pub fn within(mut self, ancestors: Vec<Ancestor>) -> PolicyEngine {
        self.ancestors = ancestors.into();
        self
    }

    /// The ancestors' envelopes this one is checked under.
    pub fn ancestors(&self) -> &[Ancestor] {
        &self.ancestors
    }

    /// `own`, unless an ancestor's envelope (checked by `check`) denies the call.
    fn under_ancestors(
        &self,
        request: &CheckRequest,
        own: Decision,
        check: impl Fn(&PolicyEngine, &CheckRequest) -> Decision,
    ) -> Decision {
        if !own.allowed || self.ancestors.is_empty() {
            return own;
        }
        for ancestor in self.ancestors.iter() {
            let as_ancestor = CheckRequest {
                agent: ancestor.agent.clone(),
                ..request.clone()
            };
            let decision = match &ancestor.engine {
                Some(engine) => check(engine, &as_ancestor),
                None => Decision {
                    allowed: false,
                    reasons: Vec::new(),
                    errors: Vec::new(),
                    skill: request.skill.name.clone(),
                    denied_by: None,
                },
            };
            if !decision.allowed {
                return Decision {
                    denied_by: Some(DeniedBy {
                        agent_id: ancestor.agent.id.clone(),
                        agent_name: ancestor.agent.name.clone(),
                        no_envelope: ancestor.engine.is_none(),
                    }),
                    ..decision
                };
            }
        }
        own
    }

    /// Number of policies across all documents.
    pub fn policy_count(&self) -> usize {
        self.inner.reasons.len()
    }

    /// Decides whether `request.agent` may invoke `request.skill`.
    ///
    /// Never panics and never fails: a request that cannot be converted to
    /// Cedar values is denied with the reason in [`Decision::errors`].
    pub fn check(&self, request: &CheckRequest) -> Decision {
        let own = self
            .check_compiled(request)
            .unwrap_or_else(|| self.check_own_cedar(request));
        self.under_ancestors(request, own, PolicyEngine::check)
    }

    /// The compiled evaluator's decision; `None` when the envelope is not
    /// compiled or the check would report an error (then Cedar answers).
    pub(super) fn check_compiled(&self, request: &CheckRequest) -> Option<Decision> {
        let verdict = self
            .inner
            .program
            .as_ref()?
            .evaluate(request, &self.inner.context_keys)
            .ok()?;
        Some(self.decision(request, verdict.allowed, verdict.reasons, Vec::new()))
    }

    /// Whether checks can take the compiled evaluator (the envelope stays
    /// within the compiled subset of Cedar).
    #[cfg(test)]
    pub(super) fn is_compiled(&self) -> bool {
        self.inner.program.is_some()
    }

    /// [`check`](Self::check) through cedar-policy's `Authorizer` only,
    /// bypassing the compiled evaluator: the reference the compiled evaluator
    /// is tested and benchmarked against.
    #[doc(hidden)]
    pub fn check_cedar(&self, request: &CheckRequest) -> Decision {
        let own = self.check_own_cedar(request);
        self.under_ancestors(request, own, PolicyEngine::check_cedar)
    }

    /// This envelope alone, through Cedar.
    fn check_own_cedar(&self, request: &CheckRequest) -> Decision {
        let (cedar_request, prepared) = match self.build(request) {
            Ok(built) => built,
            Err(error) => return self.decision(request, false, Vec::new(), vec![error]),
        };
        let response = self.inner.authorizer.is_authorized(
            &cedar_request,
            &self.inner.policies,
            &prepared.entities,
        );
        let diagnostics = response.diagnostics();
        let mut positions: Vec<usize> = diagnostics
            .reason()
            .filter_map(|id| self.inner.positions.get::<str>(id.as_ref()).copied())
            .collect();
        positions.sort_unstable();
        let errors = diagnostics.errors().map(ToString::to_string).collect();
        let allowed = response.decision() == cedar_policy::Decision::Allow;
        self.decision(request, allowed, positions, errors)
    }

    /// The decision naming the policies at `positions` (in envelope order).
    fn decision(
        &self,
        request: &CheckRequest,
        allowed: bool,
        positions: Vec<usize>,
        errors: Vec<String>,
    ) -> Decision {
        Decision {
            allowed,
            reasons: positions
                .into_iter()
                .filter_map(|p| self.inner.reasons.get(p).cloned())
                .collect(),
            errors,
            skill: request.skill.name.clone(),
            denied_by: None,
        }
    }

    /// The cached principal/resource entities for this (agent, skill).
    fn prepared(&self, agent: &AgentInfo, skill: &SkillInfo) -> Result<Arc<Prepared>, String> {
        let inner = &*self.inner;
        let key = prepared_key(agent, skill);
        let hit = inner.prepared.read(|map| {
            map.get(&key)
                .and_then(|bucket| bucket.iter().find(|p| p.matches(agent, skill)).cloned())
        });
        if let Some(prepared) = hit {
            return Ok(prepared);
        }
        let principal =
            EntityUid::from_type_name_and_id(inner.agent_type.clone(), EntityId::new(&agent.id));
        let resource =
            EntityUid::from_type_name_and_id(inner.skill_type.clone(), EntityId::new(&skill.name));
        let principal_entity = Entity::new(
            principal.clone(),
            self.attributes(PRINCIPAL_ATTRIBUTES, principal_attributes(agent)),
            HashSet::new(),
        )
        .map_err(|e| format!("principal: {e}"))?;
        let resource_entity = Entity::new(
            resource.clone(),
            self.attributes(RESOURCE_ATTRIBUTES, resource_attributes(skill)?),
            HashSet::new(),
        )
        .map_err(|e| format!("resource: {e}"))?;
        let entities = Entities::from_entities([principal_entity, resource_entity], None)
            .map_err(|e| format!("entities: {e}"))?;
        let prepared = Arc::new(Prepared {
            agent: agent.clone(),
            skill_name: skill.name.clone(),
            kind: skill.kind,
            external: skill.external,
            cost_bits: skill.cost_usd.to_bits(),
            principal,
            resource,
            entities,
        });
        inner.prepared.write(|map| {
            let bucket = map.entry(key).or_default();
            if !bucket.iter().any(|p| p.matches(agent, skill)) {
                bucket.push(Arc::clone(&prepared));
            }
        });
        Ok(prepared)
    }

    /// An entity's attributes as Cedar expressions.
    fn attributes(
        &self,
        names: [&str; 4],
        values: [Attribute<'_>; 4],
    ) -> HashMap<String, RestrictedExpression> {
        names
            .into_iter()
            .zip(values)
            .map(|(name, value)| {
                let expr = match value {
                    Attribute::String(s) => RestrictedExpression::new_string(s.to_string()),
                    Attribute::Bool(b) => RestrictedExpression::new_bool(b),
                    Attribute::Decimal(d) => self.decimal(d),
                };
                (name.to_string(), expr)
            })
            .collect()
    }

    /// `decimal("…")` for a value in ten-thousandths (cached).
    fn decimal(&self, scaled: i64) -> RestrictedExpression {
        if let Some(expr) = self.inner.decimals.read(|map| map.get(&scaled).cloned()) {
            return expr;
        }
        let expr = RestrictedExpression::new_decimal(format_decimal(scaled));
        self.inner
            .decimals
            .write(|map| map.insert(scaled, expr.clone()));
        expr
    }

    fn build(&self, request: &CheckRequest) -> Result<(Request, Arc<Prepared>), String> {
        let prepared = self.prepared(&request.agent, &request.skill)?;
        let mut pairs = Vec::with_capacity(request.context.len() + 1);
        for (key, value) in &request.context {
            if !self.inner.context_keys.converts(key) {
                continue;
            }
            if let Some(expr) = self
                .json_to_cedar(value, is_money_key(key))
                .map_err(|e| format!("context.{key}: {e}"))?
            {
                pairs.push((key.clone(), expr));
            }
        }
        let run_cost =
            decimal_scaled(request.run_cost_usd).map_err(|e| format!("run_cost_usd: {e}"))?;
        pairs.push(("run_cost_usd".to_string(), self.decimal(run_cost)));
        let context = Context::from_pairs(pairs).map_err(|e| format!("context: {e}"))?;
        let cedar_request = Request::new(
            prepared.principal.clone(),
            self.inner.action.clone(),
            prepared.resource.clone(),
            context,
            None,
        )
        .map_err(|e| format!("request: {e}"))?;
        Ok((cedar_request, prepared))
    }

    /// Converts a JSON value of the request context; `None` for `null`.
    fn json_to_cedar(
        &self,
        value: &Value,
        money: bool,
    ) -> Result<Option<RestrictedExpression>, String> {
        Ok(Some(match value {
            Value::Null => return Ok(None),
            Value::Bool(b) => RestrictedExpression::new_bool(*b),
            Value::String(s) => RestrictedExpression::new_string(s.clone()),
            Value::Number(n) => match json_number(n, money)? {
                JsonNumber::Long(i) => RestrictedExpression::new_long(i),
                JsonNumber::Decimal(d) => self.decimal(d),
            },
            Value::Array(items) => {
                let mut out = Vec::with_capacity(items.len());
                for item in items {
                    if let Some(expr) = self.json_to_cedar(item, money)? {
                        out.push(expr);
                    }
                }
                RestrictedExpression::new_set(out)
            }
            Value::Object(fields) => {
                let mut out = Vec::with_capacity(fields.len());
                for (key, item) in fields {
                    if let Some(expr) = self
                        .json_to_cedar(item, is_money_key(key))
                        .map_err(|e| format!("{key}: {e}"))?
                    {
                        out.push((key.clone(), expr));
                    }
                }
                RestrictedExpression::new_record(out).map_err(|e| e.to_string())?
            }
        }))
    }
}

fn type_name(name: &str) -> EntityTypeName {
    #[expect(clippy::expect_used, reason = "constant, valid Cedar type names")]
    EntityTypeName::from_str(name).expect("valid entity type name")
}

/// Whether numbers under the JSON key `key` are money (always decimals).
pub(super) fn is_money_key(key: &str) -> bool {
    key == "run_cost_usd" || key.ends_with("_usd")
}

/// A JSON number of the request context, typed as documented on
/// [`CheckRequest`].
pub(super) enum JsonNumber {
    Long(i64),
    /// A decimal, in ten-thousandths.
    Decimal(i64),
}

/// Types the JSON number `n` (found under a money key when `money`).
pub(super) fn json_number(n: &Number, money: bool) -> Result<JsonNumber, String> {
    if !money && let Some(i) = n.as_i64() {
        Ok(JsonNumber::Long(i))
    } else if !money && n.is_u64() {
        Err(format!("integer {n} is out of range for a Cedar Long"))
    } else {
        let x = n.as_f64().ok_or_else(|| format!("{n} is not a number"))?;
        decimal_scaled(x).map(JsonNumber::Decimal)
    }
}

/// `x` as a Cedar decimal: a count of ten-thousandths, rounded half to even on
/// the exact binary value of `x` (as Rust's `{:.4}` formatting rounds), and
/// checked against Cedar's decimal range.
pub(super) fn decimal_scaled(x: f64) -> Result<i64, String> {
    if !x.is_finite() {
        return Err(format!("{x} is not a finite number"));
    }
    // |x| = mantissa × 2^exponent exactly.
    let bits = x.to_bits();
    let biased = ((bits >> 52) & 0x7ff) as i32;
    let fraction = bits & ((1 << 52) - 1);
    let (mantissa, exponent) = if biased == 0 {
        (fraction, -1074)
    } else {
        (fraction | (1 << 52), biased - 1075)
    };
    // Below 2^67: the shifts and the rounding below cannot overflow.
    let scaled = u128::from(mantissa) * 10_000;
    let magnitude = if exponent >= 0 {
        // 2^67 × 2^60 still fits; anything larger is out of range anyway.
        (exponent <= 60).then(|| scaled << exponent)
    } else if exponent > -128 {
        let shift = exponent.unsigned_abs();
        let quotient = scaled >> shift;
        let remainder = scaled & ((1 << shift) - 1);
        let half = 1 << (shift - 1);
        let round_up = remainder > half || (remainder == half && quotient & 1 == 1);
        Some(quotient + u128::from(round_up))
    } else {
        Some(0)
    };
    let value = magnitude.and_then(|m| {
        let m = i128::try_from(m).ok()?;
        i64::try_from(if x.is_sign_negative() { -m } else { m }).ok()
    });
    value.ok_or_else(|| {
        format!(
            "{x} is out of range for a Cedar decimal (at most 922337203685477.5807 in magnitude)"
        )
    })
}

/// Cedar decimal text with 4 fractional digits for a value in
/// ten-thousandths, e.g. `-1.2500`.
fn format_decimal(scaled: i64) -> String {
    let sign = if scaled < 0 { "-" } else { "" };
    let magnitude = scaled.unsigned_abs();
    format!("{sign}{}.{:04}", magnitude / 10_000, magnitude % 10_000)
}

/// Decimal text with 4 fractional digits for `x`, as the Cedar path builds it.
#[cfg(test)]
pub(super) fn decimal_text(x: f64) -> Result<String, String> {
    decimal_scaled(x).map(format_decimal)
}
