//! The local policy pre-check for JavaScript: the core's `PolicyEngine` (the Cedar
//! set compiled once), checked with plain arguments so the hot path crosses no JSON
//! unless the request carries a `context`. A decision is a class whose fields are
//! read lazily: a check that only asks `allowed` builds nothing else.

use heroa_policy::{AgentInfo, CheckRequest, Effect, SkillInfo, SkillKind};
use heroa_protocol::error::Error;
use napi::bindgen_prelude::*;
use napi_derive::napi;

use crate::{NativeClient, core_error, on_bridge};

/// A compiled policy envelope, optionally bound to one agent.
#[napi]
pub struct NativePolicyEngine {
    engine: heroa_policy::PolicyEngine,
    agent: Option<AgentInfo>,
}

fn skill_kind(kind: &str) -> Result<SkillKind> {
    match kind {
        "read" => Ok(SkillKind::Read),
        "write" => Ok(SkillKind::Write),
        other => Err(core_error(Error::invalid(
            "kind",
            format!("kind must be one of read, write; got {other:?}"),
        ))),
    }
}

fn context(json: Option<String>) -> Result<serde_json::Map<String, serde_json::Value>> {
    let Some(text) = json else {
        return Ok(serde_json::Map::new());
    };
    match serde_json::from_str(&text) {
        Ok(serde_json::Value::Object(m)) => Ok(m),
        Ok(serde_json::Value::Null) => Ok(serde_json::Map::new()),
        Ok(_) => Err(core_error(Error::invalid(
            "context",
            "context must be an object",
        ))),
        Err(e) => Err(core_error(Error::invalid(
            "context",
            format!("context is not JSON: {e}"),
        ))),
    }
}

impl NativePolicyEngine {
    fn decide(&self, agent: AgentInfo, skill: Skill, run_cost_usd: f64) -> Result<NativeDecision> {
        let req = CheckRequest {
            agent,
            skill: SkillInfo {
                name: skill.name,
                kind: skill_kind(&skill.kind)?,
                external: skill.external,
                cost_usd: skill.cost_usd,
            },
            run_cost_usd,
            context: context(skill.context)?,
        };
        Ok(NativeDecision(self.engine.check(&req)))
    }
}

/// A skill call to decide: its name, kind, whether it is external, its price, and
/// the extra Cedar `context` (JSON text).
struct Skill {
    name: String,
    kind: String,
    external: bool,
    cost_usd: f64,
    context: Option<String>,
}

#[napi]
impl NativePolicyEngine {
    /// Compiles documents `ids[i]` → `texts[i]`; an invalid one throws
    /// `invalid_argument` (field `document`, the diagnostics in `details`).
    #[napi(constructor)]
    pub fn new(ids: Vec<String>, texts: Vec<String>) -> Result<NativePolicyEngine> {
        if ids.len() != texts.len() {
            return Err(core_error(Error::invalid(
                "documents",
                "every document needs an id and a text",
            )));
        }
        let documents: Vec<(String, String)> = ids.into_iter().zip(texts).collect();
        let engine = heroa_policy::PolicyEngine::new(&documents)
            .map_err(|e| core_error(heroa_policy::document_error(e)))?;
        Ok(NativePolicyEngine {
            engine,
            agent: None,
        })
    }

    /// The same compiled envelope, bound to one agent for `checkBound`.
    #[napi]
    pub fn bind(
        &self,
        agent_id: String,
        agent_name: String,
        region: String,
        promotion: String,
    ) -> NativePolicyEngine {
        NativePolicyEngine {
            engine: self.engine.clone(),
            agent: Some(AgentInfo {
                id: agent_id,
                name: agent_name,
                region,
                promotion,
            }),
        }
    }

    /// Decides one skill call of the bound agent.
    #[napi]
    pub fn check_bound(
        &self,
        skill: String,
        kind: String,
        external: bool,
        cost_usd: f64,
        run_cost_usd: f64,
        context_json: Option<String>,
    ) -> Result<NativeDecision> {
        let Some(agent) = &self.agent else {
            return Err(core_error(Error::invalid(
                "agent",
                "agent is required: pass one, or use an engine bound to an agent \
                 (client.policies.precheck(agentId) or engine.bind(agent))",
            )));
        };
        self.decide(
            agent.clone(),
            Skill {
                name: skill,
                kind,
                external,
                cost_usd,
                context: context_json,
            },
            run_cost_usd,
        )
    }

    /// Decides one skill call of any agent.
    #[napi]
    #[allow(clippy::too_many_arguments)]
    pub fn check(
        &self,
        agent_id: String,
        agent_name: String,
        region: String,
        promotion: String,
        skill: String,
        kind: String,
        external: bool,
        cost_usd: f64,
        run_cost_usd: f64,
        context_json: Option<String>,
    ) -> Result<NativeDecision> {
        let agent = AgentInfo {
            id: agent_id,
            name: agent_name,
            region,
            promotion,
        };
        self.decide(
            agent,
            Skill {
                name: skill,
                kind,
                external,
                cost_usd,
                context: context_json,
            },
            run_cost_usd,
        )
    }

    /// Decides a whole request in the wire form of the shared vectors (JSON text).
    #[napi]
    pub fn check_json(&self, request: String) -> Result<NativeDecision> {
        let v: serde_json::Value = serde_json::from_str(&request)
            .map_err(|e| core_error(Error::invalid("request", e.to_string())))?;
        let req: CheckRequest = heroa_bridge::decode::decode(v).map_err(core_error)?;
        Ok(NativeDecision(self.engine.check(&req)))
    }

    /// Number of policies across all documents.
    #[napi(getter)]
    pub fn policy_count(&self) -> u32 {
        self.engine.policy_count() as u32
    }

    /// The bound agent's id.
    #[napi(getter)]
    pub fn agent_id(&self) -> Option<String> {
        self.agent.as_ref().map(|a| a.id.clone())
    }
}

/// A policy that determined a decision.
#[napi(object)]
pub struct PolicyReason {
    /// `<document id>#<index in the document>`.
    pub policy_id: String,
    /// `permit` or `forbid`.
    pub effect: String,
    pub document_id: String,
    /// 1-based line of the policy's keyword in its document.
    pub line: u32,
}

/// The ancestor whose envelope denied a sub-agent's call.
#[napi(object)]
pub struct DeniedBy {
    pub agent_id: String,
    pub agent_name: String,
    pub no_envelope: bool,
}

/// The answer of a check.
#[napi]
pub struct NativeDecision(heroa_policy::Decision);

#[napi]
impl NativeDecision {
    /// Whether the skill call may go ahead.
    #[napi(getter)]
    pub fn allowed(&self) -> bool {
        self.0.allowed
    }

    /// The determining policies (satisfied permits when allowed, satisfied forbids
    /// when forbidden, none when nothing permits).
    #[napi(getter)]
    pub fn reasons(&self) -> Vec<PolicyReason> {
        self.0
            .reasons
            .iter()
            .map(|r| PolicyReason {
                policy_id: r.policy_id.clone(),
                effect: match r.effect {
                    Effect::Permit => "permit",
                    Effect::Forbid => "forbid",
                }
                .to_string(),
                document_id: r.document_id.clone(),
                line: r.line,
            })
            .collect()
    }

    /// Evaluation errors (a policy that errors is skipped, as in Cedar).
    #[napi(getter)]
    pub fn errors(&self) -> Vec<String> {
        self.0.errors.clone()
    }

    /// The skill checked.
    #[napi(getter)]
    pub fn skill(&self) -> String {
        self.0.skill.clone()
    }

    /// The ancestor whose envelope denied a sub-agent's call, if one did.
    #[napi(getter)]
    pub fn denied_by(&self) -> Option<DeniedBy> {
        self.0.denied_by.as_ref().map(|by| DeniedBy {
            agent_id: by.agent_id.clone(),
            agent_name: by.agent_name.clone(),
            no_envelope: by.no_envelope,
        })
    }

    /// One line for people, e.g. `permitted by po_1#0 (line 1)`.
    #[napi]
    pub fn explain(&self) -> String {
        self.0.explain()
    }
}

/// Translates and parses one policy document; the `CompiledPolicy` as JSON text.
#[napi]
pub fn compile_policy(document: String) -> Result<String> {
    let compiled = heroa_policy::compile(&document)
        .map_err(|e| core_error(heroa_policy::document_error(e)))?;
    serde_json::to_string(&compiled)
        .map_err(|e| core_error(Error::internal("compiled policy").with_source(e)))
}

#[napi]
impl NativeClient {
    /// The envelope in force for `agent_id`, compiled here and bound to the agent;
    /// `null` when the agent has no policy.
    #[napi]
    pub async fn precheck(&self, agent_id: String) -> Result<Option<NativePolicyEngine>> {
        let bridge = self.bridge()?;
        let engine = on_bridge(async move {
            let client = bridge.client();
            let agent = client.agents().get(&agent_id).await?;
            let engine = client.policies().precheck(&agent_id).await?;
            Ok(engine.map(|engine| NativePolicyEngine {
                engine,
                agent: Some(AgentInfo::from(&agent)),
            }))
        })
        .await?;
        Ok(engine)
    }
}
