//! Runs: start, read, list, wait, cancel; audit records; approvals; crash recovery.

use std::sync::Arc;
use std::time::Duration;

use rusqlite::params;
use serde_json::json;
use tokio::sync::watch;

use super::Locked;
use super::Runtime;
use super::execution::{execute, insert_event, save_run};
use crate::store::{to_json, tx_get};
use heroa_protocol::Page;
use heroa_protocol::audit::next_event;
use heroa_protocol::error::{Error, ErrorKind, Result};
use heroa_protocol::ids::{check_id, new_id};
use heroa_protocol::{
    Agent, Approval, ApprovalStatus, AuditEvent, AuditRecord, AuditVerification, DecideApproval,
    List, Run, RunStatus, StartRun,
};

/// How far a live run has got: its status and the sequence number of its newest
/// audit event. Waiters and event streams watch it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Progress {
    pub(crate) status: RunStatus,
    pub(crate) seq: u64,
}

/// Channels of a run that has not ended.
pub(crate) struct ActiveRun {
    pub(crate) progress: Arc<watch::Sender<Progress>>,
    cancel: watch::Sender<bool>,
}

const MAX_INPUT: usize = 1024 * 1024;

impl Runtime {
    /// Starts a run of `agent_id` with `input`. The run is stored (`queued`) before
    /// this returns; it then executes in the background.
    pub fn start_run(&self, ws: &str, agent_id: &str, req: StartRun) -> Result<Run> {
        self.start_run_with(ws, agent_id, req, |_| Ok(()))
    }

    /// [`Runtime::start_run`], running `within` in the transaction that stores the run.
    pub(crate) fn start_run_with(
        &self,
        ws: &str,
        agent_id: &str,
        req: StartRun,
        within: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<()>,
    ) -> Result<Run> {
        self.start_run_as(ws, agent_id, req, None, within)
    }

    /// [`Runtime::start_run_with`] running `template` instead of the agent's own.
    #[doc(hidden)]
    pub fn start_run_as(
        &self,
        ws: &str,
        agent_id: &str,
        req: StartRun,
        template: Option<&str>,
        within: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<()>,
    ) -> Result<Run> {
        let agent = self
            .get_agent(ws, agent_id)
            .map_err(|e| e.with_field("agent_id"))?;
        self.check_handle(&agent)?;
        let input = if req.input.is_null() {
            json!({})
        } else {
            req.input
        };
        if to_json(&input)?.len() > MAX_INPUT {
            return Err(Error::invalid(
                "input",
                "input must be at most 1 MiB of JSON",
            ));
        }
        let now = self.inner.clock.now_rfc3339();
        let id = new_id("run");
        let run = Run {
            audit_url: self.audit_url(&id),
            id,
            agent_id: agent.id.clone(),
            status: RunStatus::Queued,
            input,
            output: None,
            error: None,
            cost_usd: heroa_protocol::Usd::ZERO,
            promotion: agent.promotion,
            template: template.unwrap_or(&agent.template).to_string(),
            actions_executed: 0,
            actions_blocked: 0,
            actions_shadowed: 0,
            actions_skipped: 0,
            created_at: now.clone(),
            started_at: None,
            finished_at: None,
        };
        let first = next_event(
            None,
            now,
            "run.queued",
            json!({"agent_id": agent.id, "agent_name": agent.name, "region": agent.region,
                   "promotion": agent.promotion, "template": run.template, "input": run.input}),
        );
        self.inner.store.tx(|tx| {
            tx.prepare_cached(
                "INSERT INTO runs (id, workspace_id, agent_id, status, data) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![run.id, ws, run.agent_id, run.status.as_str(), to_json(&run)?])?;
            insert_event(tx, &run.id, &first)?;
            within(tx)
        })?;
        self.spawn_run(ws, run.clone(), agent, first);
        Ok(run)
    }

    fn spawn_run(&self, ws: &str, run: Run, agent: Agent, head: AuditEvent) {
        let progress = Arc::new(
            watch::channel(Progress {
                status: run.status,
                seq: head.seq,
            })
            .0,
        );
        let (cancel, cancel_rx) = watch::channel(false);
        self.inner.active.locked().insert(
            run.id.clone(),
            ActiveRun {
                progress: progress.clone(),
                cancel,
            },
        );
        let rt = self.clone();
        let ws = ws.to_string();
        self.inner
            .tokio
            .spawn(async move { execute(rt, ws, run, agent, head, progress, cancel_rx).await });
    }

    /// A receiver of a live run's progress; `None` once the run has ended.
    pub(crate) fn watch_run(&self, run_id: &str) -> Option<watch::Receiver<Progress>> {
        self.inner
            .active
            .locked()
            .get(run_id)
            .map(|a| a.progress.subscribe())
    }

    pub(crate) fn finish_active(&self, run_id: &str) {
        self.inner.active.locked().remove(run_id);
    }

    /// Reads a run.
    pub fn get_run(&self, ws: &str, id: &str) -> Result<Run> {
        check_id("run_id", "run", id)?;
        self.inner
            .store
            .get(
                "SELECT data FROM runs WHERE id = ?1 AND workspace_id = ?2",
                params![id, ws],
            )?
            .ok_or_else(|| Error::not_found("run", id))
    }

    /// Runs, optionally of one agent, oldest first.
    pub fn list_runs(&self, ws: &str, agent_id: Option<&str>, page: &Page) -> Result<List<Run>> {
        self.agent_page("runs", "run", ws, "agent_id", agent_id, page)
    }

    /// Waits until the run ends, at most `timeout`; a `timeout` error if it has not.
    pub async fn wait_run(&self, ws: &str, id: &str, timeout: Duration) -> Result<Run> {
        let rx = self.watch_run(id);
        let run = self.get_run(ws, id)?;
        let Some(mut rx) = rx.filter(|_| !run.status.is_terminal()) else {
            return Ok(run);
        };
        let ended = tokio::time::timeout(timeout, async {
            // Err: the run's task ended and dropped its sender — it is terminal now.
            let _ = rx.wait_for(|p| p.status.is_terminal()).await;
        })
        .await;
        let run = self.get_run(ws, id)?;
        match ended {
            Ok(()) => Ok(run),
            Err(_) => Err(Error::new(
                ErrorKind::Timeout,
                format!(
                    "run {id} is still {} after {} ms",
                    run.status,
                    timeout.as_millis()
                ),
            )),
        }
    }

    /// Cancels a run in progress (pending approvals are cancelled with it). A run that
    /// has ended is returned unchanged.
    pub async fn cancel_run(&self, ws: &str, id: &str) -> Result<Run> {
        let run = self.get_run(ws, id)?;
        if run.status.is_terminal() {
            return Ok(run);
        }
        let sent = self
            .inner
            .active
            .locked()
            .get(id)
            .map(|a| a.cancel.send_replace(true))
            .is_some();
        if sent {
            self.wait_run(ws, id, Duration::from_secs(30)).await
        } else {
            Ok(run)
        }
    }

    /// The run's immutable audit record, every event of it.
    pub fn audit(&self, ws: &str, run_id: &str) -> Result<AuditRecord> {
        let run = self.get_run(ws, run_id)?;
        let events: Vec<AuditEvent> = self.inner.store.list(
            "SELECT data FROM audit_events WHERE run_id = ?1 ORDER BY seq",
            [run_id],
        )?;
        Ok(AuditRecord {
            run_id: run.id,
            agent_id: run.agent_id,
            head_hash: events.last().map(|e| e.hash.clone()).unwrap_or_default(),
            events,
            next_cursor: None,
        })
    }

    /// One page of the run's audit record: at most `page.limit()` events after the
    /// cursor (the `next_cursor` of the page before), with the whole chain's head.
    pub fn audit_page(&self, ws: &str, run_id: &str, page: &Page) -> Result<AuditRecord> {
        let run = self.get_run(ws, run_id)?;
        let limit = page.limit()?;
        let after: i64 = match &page.cursor {
            None => -1,
            Some(c) => c.parse::<u32>().map(i64::from).map_err(|_| {
                Error::invalid(
                    "cursor",
                    "cursor must be the next_cursor of a page of this run's audit record",
                )
            })?,
        };
        let mut events: Vec<AuditEvent> = self.inner.store.list(
            "SELECT data FROM audit_events WHERE run_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3",
            params![run_id, after, i64::from(limit) + 1],
        )?;
        let next_cursor = (events.len() > limit as usize).then(|| {
            events.truncate(limit as usize);
            events.last().map(|e| e.seq.to_string()).unwrap_or_default()
        });
        let head: Option<AuditEvent> = self.inner.store.get(
            "SELECT data FROM audit_events WHERE run_id = ?1 ORDER BY seq DESC LIMIT 1",
            [run_id],
        )?;
        Ok(AuditRecord {
            run_id: run.id,
            agent_id: run.agent_id,
            head_hash: head.map(|e| e.hash).unwrap_or_default(),
            events,
            next_cursor,
        })
    }

    /// Recomputes the run's audit chain.
    pub fn verify_audit(&self, ws: &str, run_id: &str) -> Result<AuditVerification> {
        let record = self.audit(ws, run_id)?;
        Ok(heroa_protocol::audit::verify(run_id, &record.events))
    }

    /// Approvals, optionally only those with `status`, oldest first.
    pub fn list_approvals(
        &self,
        ws: &str,
        status: Option<&str>,
        page: &Page,
    ) -> Result<List<Approval>> {
        let mut filters = vec![("workspace_id", ws)];
        let status = status
            .map(|s| ApprovalStatus::parse_field("status", s))
            .transpose()?;
        if let Some(s) = &status {
            filters.push(("status", s.as_str()));
        }
        self.inner.store.page("approvals", "apr", &filters, page)
    }

    /// One approval.
    pub fn get_approval(&self, ws: &str, id: &str) -> Result<Approval> {
        check_id("approval_id", "apr", id)?;
        self.inner
            .store
            .get(
                "SELECT data FROM approvals WHERE workspace_id = ?1 AND id = ?2",
                params![ws, id],
            )?
            .ok_or_else(|| Error::not_found("approval", id))
    }

    /// Approves a held write: it executes.
    pub fn approve(&self, ws: &str, id: &str, req: DecideApproval) -> Result<Approval> {
        self.decide(ws, id, ApprovalStatus::Approved, req.by)
    }

    /// Denies a held write: it is skipped and the run ends `partial`.
    pub fn deny(&self, ws: &str, id: &str, req: DecideApproval) -> Result<Approval> {
        self.decide(ws, id, ApprovalStatus::Denied, req.by)
    }

    fn decide(
        &self,
        ws: &str,
        id: &str,
        status: ApprovalStatus,
        by: Option<String>,
    ) -> Result<Approval> {
        let a = self.get_approval(ws, id)?;
        if a.status == ApprovalStatus::Pending
            && crate::clock::parse_rfc3339(&a.expires_at)
                .is_some_and(|t| self.inner.clock.now_ms() >= t)
        {
            return Err(Error::new(
                ErrorKind::FailedPrecondition,
                format!(
                    "approval {id} lapsed at {}; the action is skipped",
                    a.expires_at
                ),
            ));
        }
        let decided = self.decide_approval_row(ws, id, status, by)?;
        if decided.status != status {
            return Err(Error::new(
                ErrorKind::Conflict,
                format!("approval {id} is already {}", decided.status),
            ));
        }
        if let Some(tx) = self.inner.approvals.locked().remove(id) {
            let _ = tx.send(status == ApprovalStatus::Approved);
        }
        Ok(decided)
    }

    /// Moves a pending approval to `status`; returns the approval as stored after.
    pub(crate) fn decide_approval_row(
        &self,
        ws: &str,
        id: &str,
        status: ApprovalStatus,
        by: Option<String>,
    ) -> Result<Approval> {
        let now = self.inner.clock.now_rfc3339();
        self.inner.store.tx(|tx| {
            let mut a: Approval = tx_get(
                tx,
                "SELECT data FROM approvals WHERE workspace_id = ?1 AND id = ?2",
                params![ws, id],
            )?
            .ok_or_else(|| Error::not_found("approval", id))?;
            if a.status == ApprovalStatus::Pending {
                a.status = status;
                a.decided_at = Some(now);
                a.decided_by = by;
                tx.execute(
                    "UPDATE approvals SET status = ?2, data = ?3 WHERE id = ?1",
                    params![id, status.as_str(), to_json(&a)?],
                )?;
            }
            Ok(a)
        })
    }

    /// After a restart: `queued` runs execute; `running` runs end `failed` (they were
    /// interrupted); pending approvals are cancelled; unanswered idempotency keys are
    /// released.
    pub(crate) fn recover(&self) -> Result<()> {
        let stale: Vec<(String, String)> = {
            let conn = self.inner.store.conn();
            let mut stmt = conn.prepare("SELECT id, workspace_id FROM runs WHERE status IN ('queued', 'running') ORDER BY id")?;
            stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<rusqlite::Result<_>>()?
        };
        self.inner.store.exec(
            "UPDATE approvals SET status = 'cancelled', data = json_set(data, '$.status', 'cancelled') WHERE status = 'pending'",
            [],
        )?;
        // Requests that were in flight when the process died never answered.
        self.idempotency_recover()?;
        for (id, ws) in stale {
            let mut run = self.get_run(&ws, &id)?;
            let head: AuditEvent = self
                .inner
                .store
                .get(
                    "SELECT data FROM audit_events WHERE run_id = ?1 ORDER BY seq DESC LIMIT 1",
                    [&id],
                )?
                .ok_or_else(|| Error::internal(format!("run {id} has no audit record")))?;
            if run.status == RunStatus::Queued {
                match self.get_agent(&ws, &run.agent_id) {
                    Ok(agent) => {
                        self.spawn_run(&ws, run, agent, head);
                        continue;
                    }
                    Err(_) => {
                        run.error = Some("the agent was deleted before the run started".into())
                    }
                }
            } else {
                run.error =
                    Some("interrupted: the runtime stopped while this run was executing".into());
            }
            run.status = RunStatus::Failed;
            run.finished_at = Some(self.inner.clock.now_rfc3339());
            let event = next_event(
                Some(&head),
                self.inner.clock.now_rfc3339(),
                "run.interrupted",
                json!({"status": run.status, "error": run.error}),
            );
            self.inner.store.tx(|tx| {
                insert_event(tx, &id, &event)?;
                save_run(tx, &run)
            })?;
        }
        Ok(())
    }
}
