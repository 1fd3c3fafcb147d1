//! Webhook delivery: after each run, a POST of the run result to the agent's
//! webhook, signed with both schemes (`heroa-signature` HMAC-SHA256 of the raw body,
//! and Standard Webhooks), retried with exponential backoff on failure or timeout,
//! logged per attempt, and redeliverable on request.
//!
//! Attempts: up to 8 per round, 1 s after the first failure, doubling (1, 2, 4 … 64 s).
//! Each attempt times out after 10 s. The `webhook-id` is the delivery id, stable
//! across retries, so receivers can deduplicate.

use std::sync::{Arc, OnceLock};
use std::time::Instant;

use rusqlite::{OptionalExtension, params};
use secrecy::SecretString;
use serde_json::json;

use super::Runtime;
use crate::clock::format_ms;
use crate::store::to_json;
use heroa_protocol::Page;
use heroa_protocol::error::{Error, Result};
use heroa_protocol::ids::{check_id, new_id};
use heroa_protocol::{
    Agent, Delivery, DeliveryAttempt, DeliveryStatus, List, Run, WebhookConfig, WebhookInfo,
};

/// A due delivery: workspace, delivery, body, signing secret.
type Due = (String, Delivery, Vec<u8>, SecretString);

/// Attempts per round before a delivery is `failed`.
pub const MAX_ATTEMPTS: u32 = 8;
#[cfg(feature = "webhook-delivery")]
const ATTEMPT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

fn aad(ws: &str, agent_id: &str) -> String {
    format!("heroa-agent-secret:{ws}:{agent_id}:webhook")
}

impl Runtime {
    /// Sets (`Some`) or removes (`None`) an agent's webhook; the signing secret is
    /// sealed like a vault value and shown only as a fingerprint.
    pub(super) fn set_webhook(
        &self,
        ws: &str,
        agent: &mut Agent,
        cfg: Option<&WebhookConfig>,
    ) -> Result<()> {
        match cfg {
            None => {
                self.inner.store.exec(
                    "DELETE FROM agent_secrets WHERE agent_id = ?1 AND name = 'webhook'",
                    [&agent.id],
                )?;
                agent.webhook = None;
            }
            Some(cfg) => {
                cfg.validate()?;
                heroa_webhooks::Signer::new(&cfg.signing_secret).map_err(|e| {
                    Error::invalid(
                        "webhook.signing_secret",
                        format!("webhook.signing_secret: {e}"),
                    )
                })?;
                let sealed = self
                    .inner
                    .sealing
                    .seal(&aad(ws, &agent.id), &cfg.signing_secret);
                self.inner.store.exec(
                    "INSERT INTO agent_secrets (agent_id, name, workspace_id, sealed) VALUES (?1, 'webhook', ?2, ?3)
                     ON CONFLICT (agent_id, name) DO UPDATE SET sealed = ?3",
                    params![agent.id, ws, sealed],
                )?;
                agent.webhook = Some(WebhookInfo {
                    url: cfg.url.clone(),
                    signing_secret_fingerprint: crate::sealing::fingerprint(&cfg.signing_secret),
                });
            }
        }
        Ok(())
    }

    /// Queues the delivery of a finished run's result, if the agent has a webhook.
    pub(crate) fn enqueue_delivery(&self, ws: &str, run: &Run) -> Result<()> {
        let agent = self.get_agent(ws, &run.agent_id)?;
        let Some(hook) = agent.webhook else {
            return Ok(());
        };
        let now = self.inner.clock.now_ms();
        let d = Delivery {
            id: new_id("msg"),
            agent_id: agent.id,
            run_id: run.id.clone(),
            url: hook.url,
            status: DeliveryStatus::Pending,
            attempts: Vec::new(),
            next_attempt_at: Some(format_ms(now)),
            round_attempts: 0,
            created_at: format_ms(now),
        };
        self.inner.store.exec(
            "INSERT INTO deliveries (id, workspace_id, agent_id, status, next_attempt_ms, data) VALUES (?1, ?2, ?3, 'pending', ?4, ?5)",
            params![d.id, ws, d.agent_id, now, to_json(&d)?],
        )?;
        self.inner.deliveries_changed.notify_one();
        Ok(())
    }

    /// Webhook deliveries, optionally of one agent, oldest first.
    pub fn list_deliveries(
        &self,
        ws: &str,
        agent_id: Option<&str>,
        page: &Page,
    ) -> Result<List<Delivery>> {
        self.agent_page("deliveries", "msg", ws, "agent_id", agent_id, page)
    }

    /// One delivery with its attempt log.
    pub fn get_delivery(&self, ws: &str, id: &str) -> Result<Delivery> {
        check_id("delivery_id", "msg", id)?;
        self.inner
            .store
            .get(
                "SELECT data FROM deliveries WHERE workspace_id = ?1 AND id = ?2",
                params![ws, id],
            )?
            .ok_or_else(|| Error::not_found("delivery", id))
    }

    /// Queues a delivery again (a new round of attempts, same `webhook-id`).
    pub fn redeliver(&self, ws: &str, id: &str) -> Result<Delivery> {
        let mut d = self.get_delivery(ws, id)?;
        let now = self.inner.clock.now_ms();
        d.status = DeliveryStatus::Pending;
        d.round_attempts = 0;
        d.next_attempt_at = Some(format_ms(now));
        self.save_delivery(ws, &d, now)?;
        self.inner.deliveries_changed.notify_one();
        Ok(d)
    }

    fn save_delivery(&self, ws: &str, d: &Delivery, next_ms: i64) -> Result<()> {
        self.inner.store.exec(
            "UPDATE deliveries SET status = ?3, next_attempt_ms = ?4, data = ?5 WHERE workspace_id = ?1 AND id = ?2",
            params![ws, d.id, d.status.as_str(), next_ms, to_json(d)?],
        )?;
        Ok(())
    }

    /// The next due delivery: (workspace, delivery, body, secret).
    fn next_due(&self, now: i64) -> Result<Option<Due>> {
        let row: Option<(String, String)> = self
            .inner
            .store
            .conn()
            .query_row(
                "SELECT workspace_id, id FROM deliveries WHERE status = 'pending' AND next_attempt_ms <= ?1 ORDER BY next_attempt_ms LIMIT 1",
                [now],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let Some((ws, id)) = row else { return Ok(None) };
        let d = self.get_delivery(&ws, &id)?;
        let sealed: Option<Vec<u8>> = self
            .inner
            .store
            .conn()
            .query_row(
                "SELECT sealed FROM agent_secrets WHERE agent_id = ?1 AND name = 'webhook'",
                [&d.agent_id],
                |r| r.get(0),
            )
            .optional()?;
        let run = self.get_run(&ws, &d.run_id)?;
        let body = serde_json::to_vec(
            &json!({"type": "run.completed", "agent_id": d.agent_id, "run": run}),
        )?;
        match sealed {
            Some(sealed) => {
                let secret = self.inner.sealing.open(&aad(&ws, &d.agent_id), &sealed)?;
                Ok(Some((ws, d, body, secret)))
            }
            None => {
                // The webhook was removed: nothing can be signed any more.
                let mut d = d;
                d.status = DeliveryStatus::Failed;
                d.next_attempt_at = None;
                d.attempts.push(DeliveryAttempt {
                    at: format_ms(now),
                    status_code: None,
                    error: Some("the agent no longer has a webhook".into()),
                    duration_ms: 0,
                });
                self.save_delivery(&ws, &d, i64::MAX)?;
                Ok(None)
            }
        }
    }

    /// Delivers every due delivery; returns when the next one is due.
    async fn deliver_due(&self, http: &OnceLock<HttpClient>) -> Result<Option<i64>> {
        loop {
            let now = self.inner.clock.now_ms();
            let Some((ws, mut d, body, secret)) = self.next_due(now)? else {
                break;
            };
            let signer =
                heroa_webhooks::Signer::new(&secret).map_err(|e| Error::internal(e.to_string()))?;
            let headers = signer
                .sign(&d.id, (now / 1000) as u64, &body)
                .map_err(|e| Error::internal(e.to_string()))?;
            drop(secret);
            let started = Instant::now();
            let (status_code, error) = post(http, &d.url, &headers, body).await;
            let now = self.inner.clock.now_ms();
            d.attempts.push(DeliveryAttempt {
                at: format_ms(now),
                status_code,
                error: error.clone(),
                duration_ms: started.elapsed().as_millis() as u64,
            });
            d.round_attempts += 1;
            let next_ms = if error.is_none() {
                d.status = DeliveryStatus::Delivered;
                d.next_attempt_at = None;
                i64::MAX
            } else if d.round_attempts >= MAX_ATTEMPTS {
                d.status = DeliveryStatus::Failed;
                d.next_attempt_at = None;
                i64::MAX
            } else {
                let delay = 1000i64 << (d.round_attempts - 1).min(16);
                d.next_attempt_at = Some(format_ms(now + delay));
                now + delay
            };
            self.save_delivery(&ws, &d, next_ms)?;
        }
        Ok(self.inner.store.conn().query_row(
            "SELECT MIN(next_attempt_ms) FROM deliveries WHERE status = 'pending'",
            [],
            |r| r.get::<_, Option<i64>>(0),
        )?)
    }

    pub(super) fn spawn_delivery_worker(&self) {
        // Built on the first delivery: loading TLS roots would slow every start.
        let http: Arc<OnceLock<HttpClient>> = Arc::default();
        self.spawn_worker(
            "webhook delivery",
            self.inner.deliveries_changed.clone(),
            move |rt| {
                let http = http.clone();
                Box::pin(async move { rt.deliver_due(&http).await })
            },
        );
    }
}

#[cfg(feature = "webhook-delivery")]
type HttpClient = reqwest::Client;
#[cfg(not(feature = "webhook-delivery"))]
type HttpClient = ();

/// One delivery attempt: the receiver's status code, and what went wrong.
#[cfg(feature = "webhook-delivery")]
async fn post(
    http: &OnceLock<HttpClient>,
    url: &str,
    headers: &heroa_webhooks::SignedHeaders,
    body: Vec<u8>,
) -> (Option<u16>, Option<String>) {
    let mut req = http
        .get_or_init(reqwest::Client::new)
        .post(url)
        .timeout(ATTEMPT_TIMEOUT)
        .header("content-type", "application/json")
        .header(
            "user-agent",
            concat!("heroa-webhooks/", env!("CARGO_PKG_VERSION")),
        )
        .body(body);
    for (k, v) in headers.iter() {
        req = req.header(k, v);
    }
    match req.send().await {
        Ok(resp) if resp.status().is_success() => (Some(resp.status().as_u16()), None),
        Ok(resp) => (
            Some(resp.status().as_u16()),
            Some(format!("the receiver answered HTTP {}", resp.status())),
        ),
        Err(e) if e.is_timeout() => (
            None,
            Some(format!("timed out after {} s", ATTEMPT_TIMEOUT.as_secs())),
        ),
        Err(e) => (
            None,
            Some(format!("could not reach the receiver: {}", e.without_url())),
        ),
    }
}

/// Without the `webhook-delivery` feature every attempt fails and says why, so a
/// delivery is recorded (and can be redelivered by a build that has it).
#[cfg(not(feature = "webhook-delivery"))]
async fn post(
    _http: &OnceLock<HttpClient>,
    _url: &str,
    _headers: &heroa_webhooks::SignedHeaders,
    _body: Vec<u8>,
) -> (Option<u16>, Option<String>) {
    (
        None,
        Some(
            "this runtime was built without webhook delivery (the `webhook-delivery` feature)"
                .into(),
        ),
    )
}
