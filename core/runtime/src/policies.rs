//! Policy envelopes: versioned Cedar documents per agent; the newest is in force.

use rusqlite::params;

use super::Locked;
use super::Runtime;
use crate::store::to_json;
use heroa_policy::document_error;
use heroa_policy::{AgentInfo, Ancestor, PolicyEngine};
use heroa_protocol::Page;
use heroa_protocol::error::{Error, Result};
use heroa_protocol::ids::{check_id, new_id};
use heroa_protocol::{CreatePolicy, List, Policy};

const MAX_DOCUMENT: usize = 64 * 1024;

impl Runtime {
    /// Validates and stores a new version of the agent's policy envelope. Invalid
    /// Cedar is rejected with line/column diagnostics and nothing is stored.
    pub fn create_policy(&self, ws: &str, req: CreatePolicy) -> Result<Policy> {
        self.get_agent(ws, &req.agent_id)
            .map_err(|e| e.with_field("agent_id"))?;
        if req.document.len() > MAX_DOCUMENT {
            return Err(Error::invalid(
                "document",
                "document must be at most 65536 bytes",
            ));
        }
        let compiled = heroa_policy::compile(&req.document).map_err(document_error)?;
        let policy = self.inner.store.tx(|tx| {
            let version: u32 = tx.query_row(
                "SELECT COALESCE(MAX(version), 0) + 1 FROM policies WHERE agent_id = ?1",
                [&req.agent_id],
                |r| r.get(0),
            )?;
            let policy = Policy {
                id: new_id("po"),
                agent_id: req.agent_id.clone(),
                version,
                document: req.document.clone(),
                cedar: compiled.cedar.clone(),
                translations: compiled.translations.clone(),
                created_at: self.inner.clock.now_rfc3339(),
            };
            tx.execute(
                "INSERT INTO policies (id, workspace_id, agent_id, version, data) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![policy.id, ws, policy.agent_id, policy.version, to_json(&policy)?],
            )?;
            Ok(policy)
        })?;
        self.forget_envelope(&req.agent_id);
        Ok(policy)
    }

    /// Policy versions, optionally of one agent, oldest first.
    pub fn list_policies(
        &self,
        ws: &str,
        agent_id: Option<&str>,
        page: &Page,
    ) -> Result<List<Policy>> {
        self.agent_page("policies", "po", ws, "agent_id", agent_id, page)
    }

    /// One policy version.
    pub fn get_policy(&self, ws: &str, id: &str) -> Result<Policy> {
        check_id("policy_id", "po", id)?;
        self.inner
            .store
            .get(
                "SELECT data FROM policies WHERE workspace_id = ?1 AND id = ?2",
                params![ws, id],
            )?
            .ok_or_else(|| Error::not_found("policy", id))
    }

    /// Drops the agent's compiled envelope (a new version, or the agent is gone).
    /// Attribute changes such as promotion need no drop: the engine keys its entity
    /// cache on every attribute.
    pub(crate) fn forget_envelope(&self, agent_id: &str) {
        self.inner.engines.locked().remove(agent_id);
    }

    /// The envelope a call of `agent` must pass: its own (`None` when it has none:
    /// every call is denied), checked under each ancestor's
    /// ([`PolicyEngine::within`]). The pre-check answers with the same engine.
    pub fn effective_envelope(
        &self,
        ws: &str,
        agent: &heroa_protocol::Agent,
    ) -> Result<Option<PolicyEngine>> {
        let Some(own) = self.envelope(ws, &agent.id)? else {
            return Ok(None);
        };
        let mut ancestors = Vec::new();
        let mut parent = agent.parent_id.clone();
        while let Some(id) = parent {
            if ancestors.len() >= heroa_policy::MAX_ANCESTORS {
                return Err(heroa_policy::too_many_ancestors());
            }
            let p = self.get_agent(ws, &id)?;
            parent = p.parent_id.clone();
            ancestors.push(Ancestor {
                agent: AgentInfo::from(&p),
                engine: self.envelope(ws, &p.id)?,
            });
        }
        Ok(Some(own.within(ancestors)))
    }

    /// The agent's envelope in force, compiled once and cached; `None` when the agent
    /// has no policy (every skill call is then denied).
    pub(crate) fn envelope(&self, ws: &str, agent_id: &str) -> Result<Option<PolicyEngine>> {
        if let Some(e) = self.inner.engines.locked().get(agent_id) {
            return Ok(e.clone());
        }
        let newest: Option<Policy> = self.inner.store.get(
            "SELECT data FROM policies WHERE workspace_id = ?1 AND agent_id = ?2 ORDER BY version DESC LIMIT 1",
            params![ws, agent_id],
        )?;
        let engine = match newest {
            Some(p) => Some(
                PolicyEngine::new(&[(p.id.as_str(), p.document.as_str())]).map_err(|e| {
                    Error::internal("a stored policy no longer compiles").with_source(e)
                })?,
            ),
            None => None,
        };
        self.inner
            .engines
            .locked()
            .insert(agent_id.to_string(), engine.clone());
        Ok(engine)
    }
}
