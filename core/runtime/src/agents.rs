//! Agents: register, read, list, update, delete, promote.

use rusqlite::params;

use super::Runtime;
use crate::store::{is_unique_violation, to_json};
use heroa_protocol::Page;
use heroa_protocol::error::{Error, ErrorKind, Result};
use heroa_protocol::ids::{check_id, new_id};
use heroa_protocol::{
    Agent, List, PromotionLevel, RUNTIME_R1, RegisterAgent, SetPromotion, Tier, UpdateAgent,
    parse_approval_window,
};

const DEFAULT_TEMPLATE: &str = "sequence";
const DEFAULT_APPROVAL_WINDOW: u64 = 24 * 3600;

impl Runtime {
    /// Registers an agent identity in a region. New agents start at `L0_shadow`.
    pub fn register_agent(&self, ws: &str, req: RegisterAgent) -> Result<Agent> {
        let region = req.validate()?;
        let template = req
            .template
            .clone()
            .unwrap_or_else(|| DEFAULT_TEMPLATE.into());
        self.require_template(&template)?;
        let workspace = self.get_workspace(ws)?;
        let now = self.inner.clock.now_rfc3339();
        let agent = Agent {
            id: new_id("ag"),
            name: req.name.clone(),
            description: req.description.clone(),
            runtime: RUNTIME_R1.into(),
            region,
            promotion: PromotionLevel::L0Shadow,
            template,
            approval_window_seconds: match &req.approval_window {
                Some(w) => parse_approval_window(w)?,
                None => DEFAULT_APPROVAL_WINDOW,
            },
            llm_configs: req.llm_configs.clone().unwrap_or_default(),
            system_prompt: req.system_prompt.clone(),
            tools: req.tools.clone().unwrap_or_default(),
            max_steps: req
                .max_steps
                .unwrap_or_else(heroa_protocol::default_max_steps),
            schedule: None,
            next_run_at: None,
            webhook: None,
            parent_id: None,
            deployment_id: None,
            secret_scopes: None,
            created_at: now.clone(),
            updated_at: now,
        };
        self.inner.store.tx(|tx| {
            if workspace.tier == Tier::Free {
                let count: i64 = tx.query_row(
                    "SELECT COUNT(*) FROM agents WHERE workspace_id = ?1",
                    [ws],
                    |r| r.get(0),
                )?;
                if count >= 1 {
                    return Err(Error::new(
                        ErrorKind::TierLimit,
                        "the free tier supports one agent (and one region); upgrade to team for more",
                    ));
                }
            }
            tx.execute(
                "INSERT INTO agents (id, workspace_id, name, data) VALUES (?1, ?2, ?3, ?4)",
                params![agent.id, ws, agent.name, to_json(&agent)?],
            )
            .map_err(|e| {
                if is_unique_violation(&e) {
                    Error::new(
                        ErrorKind::Conflict,
                        format!("an agent named {:?} already exists in this workspace", agent.name),
                    )
                    .with_field("name")
                } else {
                    e.into()
                }
            })?;
            Ok(())
        })?;
        Ok(agent)
    }

    /// Reads an agent.
    pub fn get_agent(&self, ws: &str, id: &str) -> Result<Agent> {
        check_id("agent_id", "ag", id)?;
        self.inner
            .store
            .get(
                "SELECT data FROM agents WHERE id = ?1 AND workspace_id = ?2",
                params![id, ws],
            )?
            .ok_or_else(|| Error::not_found("agent", id))
    }

    /// The workspace's agent named `name`, if any.
    pub fn agent_named(&self, ws: &str, name: &str) -> Result<Option<Agent>> {
        self.inner.store.get(
            "SELECT data FROM agents WHERE workspace_id = ?1 AND name = ?2",
            params![ws, name],
        )
    }

    /// Agents of the workspace, oldest first.
    pub fn list_agents(&self, ws: &str, page: &Page) -> Result<List<Agent>> {
        self.inner
            .store
            .page("agents", "ag", &[("workspace_id", ws)], page)
    }

    fn save_agent(&self, ws: &str, agent: &Agent) -> Result<()> {
        self.inner.store.exec(
            "UPDATE agents SET data = ?3 WHERE id = ?1 AND workspace_id = ?2",
            params![agent.id, ws, to_json(agent)?],
        )?;
        Ok(())
    }

    /// Changes an agent's description, template or approval window. The region can
    /// never change: migrate by registering a new identity and draining the old one.
    pub fn update_agent(&self, ws: &str, id: &str, req: UpdateAgent) -> Result<Agent> {
        let mut agent = self.get_agent(ws, id)?;
        if let Some(r) = &req.region {
            let region = heroa_protocol::Region::parse_field("region", r)?;
            if region != agent.region {
                return Err(Error::new(
                    ErrorKind::FailedPrecondition,
                    format!(
                        "region is set at registration and cannot be changed in place (agent is in {}); to migrate, register a new agent in {} and drain this one",
                        agent.region, region
                    ),
                )
                .with_field("region"));
            }
        }
        heroa_protocol::check_description("description", req.description.as_deref())?;
        let window = req
            .approval_window
            .as_deref()
            .map(parse_approval_window)
            .transpose()?;
        if let Some(t) = &req.template {
            self.require_template(t)?;
        }
        heroa_protocol::check_loop_settings(
            req.llm_configs.as_deref(),
            req.tools.as_deref(),
            req.max_steps,
            req.system_prompt.as_deref(),
        )?;
        if let Some(d) = req.description {
            agent.description = Some(d);
        }
        if let Some(c) = req.llm_configs {
            agent.llm_configs = c;
        }
        if let Some(t) = req.tools {
            agent.tools = t;
        }
        if let Some(m) = req.max_steps {
            agent.max_steps = m;
        }
        if let Some(p) = req.system_prompt {
            agent.system_prompt = Some(p);
        }
        if let Some(t) = req.template {
            agent.template = t;
        }
        if let Some(w) = window {
            agent.approval_window_seconds = w;
        }
        // Check everything before changing anything.
        if let Some(expr) = req.schedule.as_deref().filter(|e| !e.trim().is_empty()) {
            super::schedules::parse(expr)?;
        }
        // A webhook given beside `remove_webhook` is checked too: bad input is refused
        // whatever else the request asks.
        if let Some(hook) = &req.webhook {
            hook.validate()?;
        }
        if let Some(expr) = req.schedule.as_deref() {
            self.set_schedule(ws, &mut agent, Some(expr))?;
        }
        if req.remove_webhook {
            self.set_webhook(ws, &mut agent, None)?;
        } else if let Some(hook) = &req.webhook {
            self.set_webhook(ws, &mut agent, Some(hook))?;
        }
        agent.updated_at = self.inner.clock.now_rfc3339();
        self.save_agent(ws, &agent)?;
        Ok(agent)
    }

    /// Sets the promotion level. `L4_trusted` needs the enterprise tier with SOC 2
    /// acceptance recorded.
    pub fn set_promotion(&self, ws: &str, id: &str, req: SetPromotion) -> Result<Agent> {
        let level = PromotionLevel::parse_field("level", &req.level)?;
        let mut agent = self.get_agent(ws, id)?;
        if level == PromotionLevel::L4Trusted {
            let w = self.get_workspace(ws)?;
            if w.tier != Tier::Enterprise {
                return Err(Error::new(
                    ErrorKind::TierLimit,
                    "L4_trusted requires the enterprise tier",
                )
                .with_field("level"));
            }
            if w.soc2_accepted_at.is_none() {
                return Err(Error::new(
                    ErrorKind::FailedPrecondition,
                    "L4_trusted requires SOC 2 report acceptance to be recorded for the workspace",
                )
                .with_field("level"));
            }
        }
        agent.promotion = level;
        agent.updated_at = self.inner.clock.now_rfc3339();
        self.save_agent(ws, &agent)?;
        Ok(agent)
    }

    /// Deletes an agent with its vault entries and policies. Its runs and their audit
    /// records stay. An agent with a run in progress cannot be deleted.
    pub fn delete_agent(&self, ws: &str, id: &str) -> Result<()> {
        self.get_agent(ws, id)?;
        self.inner.store.tx(|tx| {
            let active: i64 = tx.query_row(
                "SELECT COUNT(*) FROM runs WHERE agent_id = ?1 AND status IN ('queued', 'running')",
                [id],
                |r| r.get(0),
            )?;
            if active > 0 {
                return Err(Error::new(
                    ErrorKind::FailedPrecondition,
                    "the agent has runs in progress; cancel or wait for them first",
                ));
            }
            // A sub-agent's envelope and vault fall back to its parent's: without the
            // parent its runs could never start. Refuse instead of orphaning them.
            let children: Vec<String> = tx
                .prepare(
                    "SELECT id FROM agents WHERE workspace_id = ?1 AND json_extract(data, '$.parent_id') = ?2 ORDER BY id",
                )?
                .query_map(params![ws, id], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            if !children.is_empty() {
                return Err(Error::new(
                    ErrorKind::FailedPrecondition,
                    format!(
                        "the agent has {} sub-agent(s) ({}); delete them (or their deployments) first",
                        children.len(),
                        children.join(", ")
                    ),
                )
                .with_details(serde_json::json!({ "sub_agents": children })));
            }
            tx.execute(
                "DELETE FROM vault WHERE workspace_id = ?1 AND owner = ?2",
                params![ws, id],
            )?;
            tx.execute(
                "DELETE FROM policies WHERE workspace_id = ?1 AND agent_id = ?2",
                params![ws, id],
            )?;
            tx.execute("DELETE FROM schedules WHERE agent_id = ?1", [id])?;
            tx.execute("DELETE FROM agent_secrets WHERE agent_id = ?1", [id])?;
            tx.execute(
                "DELETE FROM agents WHERE workspace_id = ?1 AND id = ?2",
                params![ws, id],
            )?;
            Ok(())
        })?;
        self.forget_envelope(id);
        Ok(())
    }
}
