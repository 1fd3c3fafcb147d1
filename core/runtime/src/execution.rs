//! Executing a run: the template runs as its own task; every skill call it makes
//! passes the policy envelope, then the promotion level, then executes, and each
//! step is appended to the run's audit chain.

use std::sync::{Arc, Mutex};

use secrecy::SecretString;
use serde_json::{Value, json};
use tokio::sync::{oneshot, watch};

use super::Locked;
use super::Runtime;
use super::host::{SkillCall, SkillOutcome, VaultReader, redact, redact_str};
use super::runs::Progress;
use crate::store::to_json;
use heroa_policy::{
    CheckRequest, PolicyEngine, SkillInfo as PolicySkill, SkillKind as PolicySkillKind,
};
use heroa_protocol::audit::next_event;
use heroa_protocol::error::{Error, ErrorKind, Result};
use heroa_protocol::ids::new_id;
use heroa_protocol::{
    Agent, Approval, ApprovalStatus, AuditEvent, PromotionLevel, Run, RunStatus, SkillKind, Usd,
};

/// Per-run counters.
#[derive(Default)]
struct Tally {
    cost: Usd,
    /// The price of the calls allowed and not yet settled: the envelope sees spend
    /// as `cost + reserved`, so concurrent calls see each other before they end.
    reserved: Usd,
    executed: u32,
    blocked: u32,
    shadowed: u32,
    skipped: u32,
}

/// An allowed call's price held in the tally's `reserved` until the call ends:
/// [`Reservation::settle`] turns it into spend (the skill ran, so it is charged);
/// dropped unsettled (shadowed, skipped, cancelled), it is released.
struct Reservation<'a> {
    tally: &'a Mutex<Tally>,
    price: Usd,
}

impl Reservation<'_> {
    /// The skill ran: one more executed call, its price spent.
    fn settle(mut self) {
        let mut t = self.tally.locked();
        t.reserved = t.reserved.saturating_sub(self.price);
        t.cost = t.cost.saturating_add(self.price);
        t.executed += 1;
        self.price = Usd::ZERO;
    }
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        if self.price != Usd::ZERO {
            let mut t = self.tally.locked();
            t.reserved = t.reserved.saturating_sub(self.price);
        }
    }
}

pub(crate) struct RunState {
    rt: Runtime,
    ws: String,
    run_id: String,
    agent: Agent,
    /// The agent's envelope under its ancestors' (`None`: it has none).
    envelope: Option<PolicyEngine>,
    head: Mutex<AuditEvent>,
    tally: Mutex<Tally>,
    secrets: Arc<Mutex<Vec<SecretString>>>,
    cancel: watch::Receiver<bool>,
    progress: Arc<watch::Sender<Progress>>,
}

/// What a template's code gets: the input and a way to call skills.
#[derive(Clone)]
pub struct RunContext {
    /// The run's input.
    pub input: Value,
    state: Arc<RunState>,
}

impl std::fmt::Debug for RunContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunContext")
            .field("run_id", &self.state.run_id)
            .field("input", &self.input)
            .finish()
    }
}

/// Appends `event` to a run's chain inside a transaction.
pub(crate) fn insert_event(
    tx: &rusqlite::Transaction<'_>,
    run_id: &str,
    e: &AuditEvent,
) -> Result<()> {
    tx.prepare_cached("INSERT INTO audit_events (run_id, seq, data) VALUES (?1, ?2, ?3)")?
        .execute(rusqlite::params![run_id, e.seq as i64, to_json(e)?])?;
    Ok(())
}

impl RunState {
    fn secrets(&self) -> Vec<SecretString> {
        self.secrets.locked().clone()
    }

    /// Appends an audit event (secrets scrubbed), optionally with a run update in the
    /// same transaction.
    fn audit(&self, kind: &str, mut data: Value, run: Option<&Run>) -> Result<()> {
        redact(&mut data, &self.secrets());
        let mut head = self.head.locked();
        let event = next_event(Some(&head), self.rt.inner.clock.now_rfc3339(), kind, data);
        self.rt.inner.store.tx(|tx| {
            insert_event(tx, &self.run_id, &event)?;
            if let Some(run) = run {
                save_run(tx, run)?;
            }
            Ok(())
        })?;
        let seq = event.seq;
        *head = event;
        drop(head);
        self.progress.send_modify(|p| {
            p.seq = seq;
            if let Some(run) = run {
                p.status = run.status;
            }
        });
        Ok(())
    }

    fn cancelled(&self) -> bool {
        *self.cancel.borrow()
    }
}

pub(crate) fn save_run(tx: &rusqlite::Transaction<'_>, run: &Run) -> Result<()> {
    tx.prepare_cached("UPDATE runs SET status = ?2, data = ?3 WHERE id = ?1")?
        .execute(rusqlite::params![
            run.id,
            run.status.as_str(),
            to_json(run)?
        ])?;
    Ok(())
}

impl RunContext {
    /// The run's id.
    pub fn run_id(&self) -> &str {
        &self.state.run_id
    }

    /// The agent's id.
    pub fn agent_id(&self) -> &str {
        &self.state.agent.id
    }

    /// Spend so far, in USD.
    pub fn cost_usd(&self) -> Usd {
        self.state.tally.locked().cost
    }

    /// Calls a skill under the agent's policy envelope and promotion level.
    ///
    /// Errors only when the run was cancelled; every other result (blocked,
    /// shadowed, skipped, failed) is an outcome the run loop can react to.
    pub async fn call(&self, skill_name: &str, args: Value) -> Result<SkillOutcome> {
        self.call_with_timeout(skill_name, args, None).await
    }

    /// [`RunContext::call`] with a limit on the skill's execution time; a call that
    /// runs over is aborted and fails (and is charged, since it ran).
    pub async fn call_with_timeout(
        &self,
        skill_name: &str,
        args: Value,
        timeout: Option<std::time::Duration>,
    ) -> Result<SkillOutcome> {
        let st = &self.state;
        if st.cancelled() {
            return Err(run_cancelled());
        }
        let Some(skill) = st.rt.skill(skill_name) else {
            let error = format!("unknown skill {skill_name:?}");
            st.audit(
                "skill.failed",
                json!({"skill": skill_name, "args": args, "error": error}),
                None,
            )?;
            return Ok(SkillOutcome::Failed { error });
        };
        let info = &skill.info;
        // 1. The policy envelope: the agent's own, under each ancestor's (a sub-agent
        //    can never do what its parent cannot). The spend it sees and the
        //    reservation of an allowed call's price are one step under the tally's
        //    lock: calls decided at the same time cannot all see the spend before
        //    any of them (a concurrent template would overshoot a spend ceiling).
        let (cost_so_far, decision) = {
            let mut tally = st.tally.locked();
            let cost_so_far = tally.cost.saturating_add(tally.reserved);
            let decision = match &st.envelope {
                Some(engine) => {
                    let mut context = serde_json::Map::new();
                    context.insert("run_id".into(), json!(st.run_id));
                    let req = CheckRequest {
                        agent: heroa_policy::AgentInfo::from(&st.agent),
                        skill: PolicySkill {
                            name: skill_name.to_string(),
                            kind: match info.kind {
                                SkillKind::Read => PolicySkillKind::Read,
                                // Registration refuses other kinds; a write is the
                                // stricter reading regardless.
                                SkillKind::Write | SkillKind::Unknown => PolicySkillKind::Write,
                            },
                            external: info.external,
                            cost_usd: info.cost_usd.as_f64(),
                        },
                        run_cost_usd: cost_so_far.as_f64(),
                        context,
                    };
                    let d = engine.check(&req);
                    (
                        d.allowed,
                        d.explain(),
                        serde_json::to_value(&d).unwrap_or(Value::Null),
                    )
                }
                None => (false, heroa_policy::NO_ENVELOPE.to_string(), Value::Null),
            };
            if decision.0 {
                tally.reserved = tally.reserved.saturating_add(info.cost_usd);
            }
            (cost_so_far, decision)
        };
        // Released on every way out below; turned into spend when the skill ran.
        let reservation = Reservation {
            tally: &st.tally,
            price: if decision.0 { info.cost_usd } else { Usd::ZERO },
        };
        if !decision.0 {
            st.tally.locked().blocked += 1;
            st.audit(
                "action.blocked",
                json!({"skill": skill_name, "kind": info.kind, "args": args, "reason": decision.1,
                       "decision": decision.2, "run_cost_usd": cost_so_far}),
                None,
            )?;
            return Ok(SkillOutcome::Blocked { reason: decision.1 });
        }

        // 2. The promotion level.
        let level = st.agent.promotion;
        if level == PromotionLevel::L0Shadow && (info.kind == SkillKind::Write || info.external) {
            st.tally.locked().shadowed += 1;
            st.audit(
                "skill.shadowed",
                json!({"skill": skill_name, "kind": info.kind, "external": info.external, "args": args}),
                None,
            )?;
            return Ok(SkillOutcome::Shadowed);
        }
        if level == PromotionLevel::L2Approve && info.kind == SkillKind::Write {
            let status = self.hold_for_approval(skill_name, &args).await?;
            if status != ApprovalStatus::Approved {
                st.tally.locked().skipped += 1;
                let reason = status.as_str().to_string();
                st.audit(
                    "skill.skipped",
                    json!({"skill": skill_name, "reason": reason}),
                    None,
                )?;
                return Ok(SkillOutcome::Skipped { reason });
            }
        }

        // 3. Execution, in its own task so a panic fails only this call.
        let call = SkillCall {
            args: args.clone(),
            agent_id: st.agent.id.clone(),
            run_id: st.run_id.clone(),
            vault: VaultReader {
                reader: {
                    let rt = st.rt.clone();
                    let ws = st.ws.clone();
                    let agent = st.agent.id.clone();
                    Arc::new(move |key: &str| rt.vault_read(&ws, &agent, key))
                },
                seen: st.secrets.clone(),
            },
            origin: Some((st.rt.clone(), st.ws.clone())),
        };
        let task = tokio::spawn((skill.handler)(call));
        // The skill ends with its call: a call abandoned because its run was cancelled
        // (the template is aborted) or because it timed out aborts the skill's task,
        // which tells host code (see heroa-bridge's host callbacks) to stop.
        let _abort = AbortOnDrop(task.abort_handle());
        let finished = async {
            match timeout {
                None => task.await,
                Some(limit) => match tokio::time::timeout(limit, task).await {
                    Ok(r) => r,
                    Err(_) => Ok(Err(format!("timed out after {} s", limit.as_secs_f64()))),
                },
            }
        };
        // Wherever the template's code runs (a host thread, another task), a cancelled
        // run ends its skill call here.
        let mut cancel = st.cancel.clone();
        let result = tokio::select! {
            r = finished => r,
            _ = cancel.wait_for(|c| *c) => {
                return Err(run_cancelled());
            }
        };
        reservation.settle();
        let secrets = st.secrets();
        match result {
            Ok(Ok(mut output)) => {
                redact(&mut output, &secrets);
                st.audit(
                    "skill.executed",
                    json!({"skill": skill_name, "kind": info.kind, "args": args, "output": output,
                           "cost_usd": info.cost_usd}),
                    None,
                )?;
                Ok(SkillOutcome::Executed { output })
            }
            Ok(Err(message)) => {
                let error = redact_str(&message, &secrets);
                st.audit(
                    "skill.failed",
                    json!({"skill": skill_name, "args": args, "error": error, "cost_usd": info.cost_usd}),
                    None,
                )?;
                Ok(SkillOutcome::Failed { error })
            }
            Err(join) => {
                let error = if join.is_panic() {
                    "the skill panicked".to_string()
                } else {
                    "the skill was cancelled".to_string()
                };
                st.audit(
                    "skill.failed",
                    json!({"skill": skill_name, "error": error}),
                    None,
                )?;
                Ok(SkillOutcome::Failed { error })
            }
        }
    }

    /// Appends an event to the run's audit chain (and so to its event stream).
    pub(crate) fn emit(&self, kind: &str, data: Value) -> Result<()> {
        self.state.audit(kind, data, None)
    }

    /// Adds spend that is not a skill call (model tokens) to the run.
    pub(crate) fn charge(&self, cost: Usd, kind: &str, data: Value) -> Result<()> {
        {
            let mut t = self.state.tally.locked();
            t.cost = t.cost.saturating_add(cost);
        }
        self.state.audit(kind, data, None)
    }

    /// The registered skills, by name.
    pub(crate) fn skill_infos(
        &self,
    ) -> std::collections::HashMap<String, heroa_protocol::SkillInfo> {
        self.state
            .rt
            .list_skills()
            .items
            .into_iter()
            .map(|s| (s.name.clone(), s))
            .collect()
    }

    /// The runtime's clock.
    pub(crate) fn clock(&self) -> &crate::clock::Clock {
        &self.state.rt.inner.clock
    }

    /// The agent the run belongs to.
    pub(crate) fn agent(&self) -> &Agent {
        &self.state.agent
    }

    /// Reads a vault value for the runtime's own use during the run (a model
    /// provider's key); it is scrubbed from everything the run records.
    #[cfg_attr(not(feature = "llm-openai"), allow(dead_code))]
    pub(crate) fn runtime_secret(&self, key: &str) -> Result<SecretString> {
        let v = self
            .state
            .rt
            .vault_read(&self.state.ws, &self.state.agent.id, key)?;
        self.state.secrets.locked().push(v.clone());
        Ok(v)
    }

    /// Holds a write for approval; returns how it was decided.
    async fn hold_for_approval(&self, skill: &str, args: &Value) -> Result<ApprovalStatus> {
        let st = &self.state;
        let rt = &st.rt;
        let now = rt.inner.clock.now_ms();
        let expires = now + (st.agent.approval_window_seconds as i64) * 1000;
        let approval = Approval {
            id: new_id("apr"),
            run_id: st.run_id.clone(),
            agent_id: st.agent.id.clone(),
            skill: skill.to_string(),
            args: args.clone(),
            status: ApprovalStatus::Pending,
            requested_at: crate::clock::format_ms(now),
            expires_at: crate::clock::format_ms(expires),
            decided_at: None,
            decided_by: None,
        };
        let (tx, rx) = oneshot::channel();
        rt.inner.approvals.locked().insert(approval.id.clone(), tx);
        rt.inner.store.exec(
            "INSERT INTO approvals (id, workspace_id, run_id, status, data) VALUES (?1, ?2, ?3, 'pending', ?4)",
            rusqlite::params![approval.id, st.ws, st.run_id, to_json(&approval)?],
        )?;
        st.audit(
            "approval.requested",
            json!({"approval_id": approval.id, "skill": skill, "args": args, "expires_at": approval.expires_at}),
            None,
        )?;
        let mut cancel = st.cancel.clone();
        let lapse = tokio::select! {
            _ = rx => None,
            _ = rt.inner.clock.sleep_until(expires) => Some(ApprovalStatus::Expired),
            _ = cancel.wait_for(|c| *c) => Some(ApprovalStatus::Cancelled),
        };
        rt.inner.approvals.locked().remove(&approval.id);
        if let Some(status) = lapse {
            rt.decide_approval_row(&st.ws, &approval.id, status, None)?;
        }
        let decided = rt.get_approval(&st.ws, &approval.id)?;
        st.audit(
            &format!("approval.{}", decided.status),
            json!({"approval_id": decided.id, "by": decided.decided_by}),
            None,
        )?;
        Ok(decided.status)
    }
}

/// Runs `run` to its end. `head` is the last audit event already stored.
pub(crate) async fn execute(
    rt: Runtime,
    ws: String,
    mut run: Run,
    agent: Agent,
    head: AuditEvent,
    progress: Arc<watch::Sender<Progress>>,
    cancel: watch::Receiver<bool>,
) {
    let run_id = run.id.clone();
    let result = execute_inner(&rt, &ws, &mut run, agent, head, progress.clone(), cancel).await;
    if let Err(e) = result {
        tracing::error!(run_id = %run_id, error = %e, "run bookkeeping failed");
    }
    rt.finish_active(&run_id);
    progress.send_modify(|p| p.status = run.status);
}

async fn execute_inner(
    rt: &Runtime,
    ws: &str,
    run: &mut Run,
    agent: Agent,
    head: AuditEvent,
    progress: Arc<watch::Sender<Progress>>,
    cancel: watch::Receiver<bool>,
) -> Result<()> {
    let envelope = rt.effective_envelope(ws, &agent)?;
    let template = rt.template(&run.template);
    let state = Arc::new(RunState {
        rt: rt.clone(),
        ws: ws.to_string(),
        run_id: run.id.clone(),
        agent,
        envelope,
        head: Mutex::new(head),
        tally: Mutex::new(Tally::default()),
        secrets: Arc::new(Mutex::new(Vec::new())),
        cancel: cancel.clone(),
        progress,
    });
    run.status = RunStatus::Running;
    run.started_at = Some(rt.inner.clock.now_rfc3339());
    state.audit(
        "run.started",
        json!({"template": run.template, "promotion": state.agent.promotion}),
        Some(run),
    )?;

    let outcome: std::result::Result<Value, String> = match template {
        None => Err(format!(
            "template {:?} is not registered in this runtime",
            run.template
        )),
        Some(t) => {
            let ctx = RunContext {
                input: run.input.clone(),
                state: state.clone(),
            };
            let mut task = tokio::spawn((t.body)(ctx));
            let mut cancel = cancel;
            tokio::select! {
                r = &mut task => match r {
                    Ok(r) => r,
                    Err(j) if j.is_panic() => Err("the run loop panicked".into()),
                    Err(_) => Err("the run loop was aborted".into()),
                },
                _ = cancel.wait_for(|c| *c) => {
                    task.abort();
                    Err("cancelled".into())
                }
            }
        }
    };

    let tally = std::mem::take(&mut *state.tally.locked());
    let secrets = state.secrets();
    run.cost_usd = tally.cost;
    run.actions_executed = tally.executed;
    run.actions_blocked = tally.blocked;
    run.actions_shadowed = tally.shadowed;
    run.actions_skipped = tally.skipped;
    run.finished_at = Some(rt.inner.clock.now_rfc3339());
    run.status = match &outcome {
        Err(_) if state.cancelled() => RunStatus::Cancelled,
        Err(_) => RunStatus::Failed,
        Ok(_) if tally.blocked > 0 && tally.executed == 0 && tally.shadowed == 0 => {
            RunStatus::Blocked
        }
        Ok(_) if tally.blocked > 0 || tally.skipped > 0 => RunStatus::Partial,
        Ok(_) => RunStatus::Complete,
    };
    match outcome {
        Ok(mut v) => {
            redact(&mut v, &secrets);
            run.output = Some(v);
        }
        Err(e) => run.error = Some(redact_str(&e, &secrets)),
    }
    // Before the run turns terminal: whoever waits for it finds the notification.
    if state.agent.promotion == PromotionLevel::L1Notify {
        rt.notify_inbox(ws, run, &state.agent)?;
    }
    state.audit(
        "run.completed",
        json!({"status": run.status, "cost_usd": run.cost_usd, "error": run.error,
               "actions_executed": run.actions_executed, "actions_blocked": run.actions_blocked,
               "actions_shadowed": run.actions_shadowed, "actions_skipped": run.actions_skipped}),
        Some(run),
    )?;
    rt.enqueue_delivery(ws, run)?;
    Ok(())
}

impl Runtime {
    fn notify_inbox(&self, ws: &str, run: &Run, agent: &Agent) -> Result<()> {
        let item = heroa_protocol::InboxItem {
            id: new_id("ntf"),
            agent_id: agent.id.clone(),
            run_id: run.id.clone(),
            message: format!(
                "Run {} of agent {} finished {} (cost ${}, {} executed, {} blocked)",
                run.id,
                agent.name,
                run.status,
                run.cost_usd,
                run.actions_executed,
                run.actions_blocked
            ),
            created_at: self.inner.clock.now_rfc3339(),
        };
        self.inner.store.exec(
            "INSERT INTO inbox (id, workspace_id, data) VALUES (?1, ?2, ?3)",
            rusqlite::params![item.id, ws, to_json(&item)?],
        )?;
        Ok(())
    }
}

/// What a skill call of a cancelled run answers.
fn run_cancelled() -> Error {
    Error::new(ErrorKind::FailedPrecondition, "the run was cancelled")
}

/// Aborts a task when dropped.
struct AbortOnDrop(tokio::task::AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
