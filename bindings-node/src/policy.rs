//! The local policy pre-check for JavaScript: the core's `PolicyEngine` (the Cedar
//! set compiled once), checked with plain arguments so the hot path crosses no JSON
//! unless the request carries a `context`. A decision crosses as JSON text that the
//! JavaScript layer parses only when more than `allowed` is read.

use heroa_policy::{AgentInfo, CheckRequest, SkillInfo, SkillKind};
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

fn context(json: Option<String>) -> Result<serde_json::Map<String, serde_json::Value>> {
    heroa_policy::context_from_json(json.as_deref()).map_err(core_error)
}

impl NativePolicyEngine {
    /// Decides the call of `skill` (its kind, whether external, its price) by
    /// `agent`, with the run's spend so far and the extra Cedar `context` (JSON text).
    #[allow(clippy::too_many_arguments)]
    fn decide(
        &self,
        agent: AgentInfo,
        skill: String,
        kind: &str,
        external: bool,
        cost_usd: f64,
        run_cost_usd: f64,
        context_json: Option<String>,
    ) -> Result<String> {
        let req = CheckRequest {
            agent,
            skill: SkillInfo {
                name: skill,
                kind: SkillKind::parse_field("kind", kind).map_err(core_error)?,
                external,
                cost_usd,
            },
            run_cost_usd,
            context: context(context_json)?,
        };
        Ok(decision_json(&self.engine.check(&req)))
    }
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
    ) -> Result<String> {
        let Some(agent) = &self.agent else {
            return Err(core_error(Error::invalid(
                "agent",
                "agent is required: pass one, or use an engine bound to an agent \
                 (client.policies.precheck(agentId) or engine.bind(agent))",
            )));
        };
        self.decide(
            agent.clone(),
            skill,
            &kind,
            external,
            cost_usd,
            run_cost_usd,
            context_json,
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
    ) -> Result<String> {
        let agent = AgentInfo {
            id: agent_id,
            name: agent_name,
            region,
            promotion,
        };
        self.decide(
            agent,
            skill,
            &kind,
            external,
            cost_usd,
            run_cost_usd,
            context_json,
        )
    }

    /// Decides a whole request in the wire form of the shared vectors (JSON text).
    #[napi]
    pub fn check_json(&self, request: String) -> Result<String> {
        let v: serde_json::Value = serde_json::from_str(&request)
            .map_err(|e| core_error(Error::invalid("request", e.to_string())))?;
        let req: CheckRequest = heroa_bridge::decode::decode(v).map_err(core_error)?;
        Ok(decision_json(&self.engine.check(&req)))
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

/// A decision as JSON text, `allowed` first: the JavaScript layer reads `allowed`
/// from its start and parses the rest only when asked (a napi class instance per
/// check cost several times the check itself).
fn decision_json(d: &heroa_policy::Decision) -> String {
    serde_json::to_string(d).unwrap_or_else(|_| String::from(r#"{"allowed":false}"#))
}

/// One line for people about a decision given as JSON text (`decision_json`).
#[napi]
pub fn explain_decision(decision: String) -> Result<String> {
    let d: heroa_policy::Decision = serde_json::from_str(&decision)
        .map_err(|e| core_error(Error::invalid("decision", e.to_string())))?;
    Ok(d.explain())
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
