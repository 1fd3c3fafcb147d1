//! Schedules: an agent fires runs on a 5-field cron expression, in UTC.
//!
//! - Each slot fires at most once: the slot is recorded in the same transaction that
//!   creates its run, so neither a restart nor a second look can fire it twice.
//! - Slots missed while the runtime was down: when it starts again, ONE catch-up run
//!   fires for the most recent missed slot (its input says how many slots were
//!   missed); older missed slots are not replayed. Then the schedule continues with
//!   the next future slot.
//! - A scheduled run's input is `{"trigger": "schedule", "slot": <RFC 3339>,
//!   "missed_slots": <n>}`.

use rusqlite::{OptionalExtension, params};
use serde_json::json;

use super::Runtime;
use crate::clock::format_ms;
use heroa_cron::Cron;
use heroa_protocol::error::{Error, Result};
use heroa_protocol::{Agent, StartRun};

/// Most missed slots counted for one catch-up run.
const MAX_MISSED: u64 = 100_000;

pub(super) fn parse(expr: &str) -> Result<Cron> {
    Cron::parse(expr).map_err(|e| Error::invalid("schedule", format!("schedule: {e}")))
}

fn next_slot(cron: &Cron, after_ms: i64) -> Option<i64> {
    cron.next_after(after_ms.div_euclid(1000)).map(|s| s * 1000)
}

impl Runtime {
    /// Sets (`Some`) or removes (`None`) an agent's schedule; updates `next_run_at`.
    pub(super) fn set_schedule(
        &self,
        ws: &str,
        agent: &mut Agent,
        expr: Option<&str>,
    ) -> Result<()> {
        match expr.map(str::trim).filter(|e| !e.is_empty()) {
            None => {
                self.inner
                    .store
                    .exec("DELETE FROM schedules WHERE agent_id = ?1", [&agent.id])?;
                agent.schedule = None;
                agent.next_run_at = None;
            }
            Some(expr) => {
                let cron = parse(expr)?;
                let next = next_slot(&cron, self.inner.clock.now_ms()).ok_or_else(|| {
                    Error::invalid(
                        "schedule",
                        format!("schedule {expr:?} never fires (no matching date within 5 years)"),
                    )
                })?;
                self.inner.store.exec(
                    "INSERT INTO schedules (agent_id, workspace_id, cron, next_ms, last_slot_ms) VALUES (?1, ?2, ?3, ?4, 0)
                     ON CONFLICT (agent_id) DO UPDATE SET cron = ?3, next_ms = ?4",
                    params![agent.id, ws, cron.to_string(), next],
                )?;
                agent.schedule = Some(cron.to_string());
                agent.next_run_at = Some(format_ms(next));
            }
        }
        self.inner.schedule_changed.notify_one();
        Ok(())
    }

    /// Fires every due slot; returns the earliest next slot of any schedule.
    fn fire_due(&self) -> Result<Option<i64>> {
        let now = self.inner.clock.now_ms();
        let due: Vec<(String, String, String, i64)> = {
            let conn = self.inner.store.conn();
            let mut stmt = conn.prepare_cached(
                "SELECT agent_id, workspace_id, cron, next_ms FROM schedules WHERE next_ms <= ?1 ORDER BY next_ms",
            )?;
            stmt.query_map([now], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
                .collect::<rusqlite::Result<_>>()?
        };
        for (agent_id, ws, expr, due_ms) in due {
            if let Err(e) = self.fire(&agent_id, &ws, &expr, due_ms, now) {
                tracing::warn!(agent_id = %agent_id, error = %e, "a scheduled run could not start");
            }
        }
        Ok(self
            .inner
            .store
            .conn()
            .query_row("SELECT MIN(next_ms) FROM schedules", [], |r| {
                r.get::<_, Option<i64>>(0)
            })
            .optional()?
            .flatten())
    }

    fn fire(&self, agent_id: &str, ws: &str, expr: &str, due_ms: i64, now: i64) -> Result<()> {
        let cron = parse(expr)?;
        // The most recent slot that is due, and how many earlier ones were missed.
        let (mut slot, mut missed) = (due_ms, 0u64);
        while let Some(n) = next_slot(&cron, slot).filter(|n| *n <= now) {
            slot = n;
            missed += 1;
            if missed >= MAX_MISSED {
                break;
            }
        }
        let next = next_slot(&cron, now.max(slot));
        let input = json!({"trigger": "schedule", "slot": format_ms(slot), "missed_slots": missed});
        let next_text = next.map(format_ms);
        self.start_run_with(ws, agent_id, StartRun { input }, |tx| {
            let claimed = tx.execute(
                "UPDATE schedules SET last_slot_ms = ?2, next_ms = ?3 WHERE agent_id = ?1 AND next_ms = ?4 AND last_slot_ms < ?2",
                params![agent_id, slot, next.unwrap_or(i64::MAX), due_ms],
            )?;
            if claimed == 0 {
                return Err(Error::new(heroa_protocol::error::ErrorKind::Conflict, "slot already fired"));
            }
            tx.execute(
                "UPDATE agents SET data = json_set(data, '$.next_run_at', ?2) WHERE id = ?1",
                params![agent_id, next_text],
            )?;
            Ok(())
        })?;
        Ok(())
    }

    pub(super) fn spawn_scheduler(&self) {
        self.spawn_worker("scheduler", self.inner.schedule_changed.clone(), |rt| {
            Box::pin(async move { rt.fire_due() })
        });
    }
}
