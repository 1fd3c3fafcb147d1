//! One [`Client`], two transports: the embedded runtime in this process, or a remote
//! control plane over HTTPS. Every method behaves the same on both — same
//! validation, same answers, same errors — because `heroa serve` is the embedded
//! runtime behind HTTP.
//!
//! Without the `embedded` feature this is the thin remote client: no SQLite, no
//! axum, no Cedar (the `policy` feature adds the local pre-check).

#![forbid(unsafe_code)]

mod remote;
mod stream;

#[cfg(feature = "embedded")]
use std::path::PathBuf;
use std::time::Duration;

use reqwest::Method;
use secrecy::SecretString;
use serde_json::{Value, json};

use remote::{Remote, Retry, seg};
pub use remote::{RemoteOptions, RetryPolicy};
pub use stream::RunStream;

#[cfg(feature = "policy")]
use heroa_policy::PolicyEngine;
use heroa_protocol::error::{Error, ErrorKind, Result};
use heroa_protocol::*;
#[cfg(feature = "embedded")]
use heroa_runtime::{Runtime, RuntimeOptions};

enum Transport {
    #[cfg(feature = "embedded")]
    Embedded {
        rt: Runtime,
        ws: String,
    },
    Remote(Remote),
}

/// The Heroa client. Cheap to clone.
#[derive(Clone)]
pub struct Client {
    t: std::sync::Arc<Transport>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &*self.t {
            #[cfg(feature = "embedded")]
            Transport::Embedded { ws, .. } => write!(f, "Client::Embedded({ws})"),
            Transport::Remote(r) => write!(f, "Client::Remote({})", r.base()),
        }
    }
}

/// One wait request to the server holds at most this long; the client repeats.
const WAIT_CHUNK: Duration = Duration::from_secs(50);

impl Client {
    #[cfg(feature = "embedded")]
    /// A client over an embedded runtime persisted to `path` (memory for `None`),
    /// acting in its default workspace.
    pub fn embedded(path: Option<PathBuf>) -> Result<Client> {
        let opts = match path {
            Some(p) => RuntimeOptions::file(p),
            None => RuntimeOptions::memory(),
        };
        Ok(Client::from_runtime(Runtime::open(opts)?, None))
    }

    #[cfg(feature = "embedded")]
    /// A client over an existing runtime, acting in `workspace` (default workspace
    /// for `None`).
    pub fn from_runtime(rt: Runtime, workspace: Option<&str>) -> Client {
        let ws = workspace.unwrap_or(rt.default_workspace()).to_string();
        Client {
            t: std::sync::Arc::new(Transport::Embedded { rt, ws }),
        }
    }

    /// A client for a remote control plane.
    pub fn remote(base_url: &str, api_key: SecretString) -> Result<Client> {
        Client::remote_with(base_url, api_key, RemoteOptions::default())
    }

    /// [`Client::remote`] with explicit timeouts and retries.
    pub fn remote_with(
        base_url: &str,
        api_key: SecretString,
        opts: RemoteOptions,
    ) -> Result<Client> {
        Ok(Client {
            t: std::sync::Arc::new(Transport::Remote(Remote::new(base_url, api_key, opts)?)),
        })
    }

    /// From the environment: `HEROA_BASE_URL` with `HEROA_API_KEY` for a remote
    /// control plane; otherwise the embedded runtime persisted to `HEROA_DATA` (a file
    /// path) or kept in memory.
    pub fn from_env() -> Result<Client> {
        match std::env::var("HEROA_BASE_URL") {
            Ok(url) if !url.is_empty() => {
                let key = std::env::var("HEROA_API_KEY").map_err(|_| {
                    Error::invalid(
                        "HEROA_API_KEY",
                        "HEROA_API_KEY must be set when HEROA_BASE_URL is",
                    )
                })?;
                Client::remote(&url, SecretString::from(key))
            }
            #[cfg(feature = "embedded")]
            _ => Client::embedded(std::env::var_os("HEROA_DATA").map(PathBuf::from)),
            #[cfg(not(feature = "embedded"))]
            _ => Err(Error::invalid(
                "HEROA_BASE_URL",
                "HEROA_BASE_URL must name a control plane: this build has no embedded runtime (the `embedded` feature)",
            )),
        }
    }

    #[cfg(feature = "embedded")]
    /// The embedded runtime, to register skills and templates; `None` when remote.
    pub fn runtime(&self) -> Option<&Runtime> {
        match &*self.t {
            #[cfg(feature = "embedded")]
            Transport::Embedded { rt, .. } => Some(rt),
            Transport::Remote(_) => None,
        }
    }

    /// Whether this client talks to a remote control plane.
    pub fn is_remote(&self) -> bool {
        matches!(&*self.t, Transport::Remote(_))
    }

    /// Agents.
    pub fn agents(&self) -> Agents<'_> {
        Agents(self)
    }
    /// The vault.
    pub fn vault(&self) -> Vault<'_> {
        Vault(self)
    }
    /// Policy envelopes.
    pub fn policies(&self) -> Policies<'_> {
        Policies(self)
    }
    /// Runs and their audit records.
    pub fn runs(&self) -> Runs<'_> {
        Runs(self)
    }
    /// L2 approvals.
    pub fn approvals(&self) -> Approvals<'_> {
        Approvals(self)
    }
    /// Deploys an app, a service or a sub-agent: the deploy guide's `heroa.deploy()`.
    /// Answers `{url | endpoint | handle, mode, region, expires_at}` plus the id and
    /// status. Creating calls carry an idempotency key, so a retried deploy never
    /// creates twice.
    pub async fn deploy(&self, req: DeployRequest) -> Result<Deployment> {
        match &*self.t {
            #[cfg(feature = "embedded")]
            Transport::Embedded { rt, ws } => rt.deploy(ws, req).await,
            Transport::Remote(r) => {
                r.call(
                    Method::POST,
                    "/v1/deployments",
                    Some(to_body(&req)),
                    Retry::WithKey,
                    Some(Duration::from_secs(120)),
                )
                .await
            }
        }
    }
    /// Deployments.
    pub fn deployments(&self) -> Deployments<'_> {
        Deployments(self)
    }
    /// Webhook deliveries.
    pub fn webhooks(&self) -> Webhooks<'_> {
        Webhooks(self)
    }
    /// The workspace, its inbox, skills and templates.
    pub fn workspace(&self) -> Workspaces<'_> {
        Workspaces(self)
    }
}

/// Dispatches to the embedded runtime or the remote control plane.
macro_rules! dispatch {
    ($c:expr, |$rt:ident, $ws:ident| $embedded:expr, |$r:ident| $remote:expr) => {
        match &*$c.t {
            #[cfg(feature = "embedded")]
            Transport::Embedded { rt: $rt, ws: $ws } => $embedded,
            Transport::Remote($r) => $remote,
        }
    };
}

fn to_body<T: serde::Serialize>(v: &T) -> Value {
    serde_json::to_value(v).expect("protocol types serialize")
}

/// The query string of a list request: its filters that are set, then the page.
fn query(filters: &[(&str, Option<&str>)], page: &Page) -> String {
    let limit = page.limit.map(|n| n.to_string());
    let pairs: Vec<String> = filters
        .iter()
        .copied()
        .chain([
            ("limit", limit.as_deref()),
            ("cursor", page.cursor.as_deref()),
        ])
        .filter_map(|(name, v)| Some(format!("{name}={}", seg(v?))))
        .collect();
    if pairs.is_empty() {
        String::new()
    } else {
        format!("?{}", pairs.join("&"))
    }
}

/// Every item of a list, fetched page by page at the largest page size.
async fn every_page<T, F, Fut>(mut fetch: F) -> Result<List<T>>
where
    F: FnMut(Page) -> Fut,
    Fut: std::future::Future<Output = Result<List<T>>>,
{
    let mut page = Page::first(MAX_PAGE_LIMIT);
    let mut items = Vec::new();
    loop {
        let got = fetch(page.clone()).await?;
        items.extend(got.items);
        match got.next_cursor {
            Some(cursor) => page = page.after(cursor),
            None => return Ok(List::all(items)),
        }
    }
}

/// `client.agents()`.
#[derive(Debug)]
pub struct Agents<'a>(&'a Client);

impl Agents<'_> {
    /// Registers an agent identity.
    pub async fn register(&self, req: RegisterAgent) -> Result<Agent> {
        dispatch!(self.0, |rt, ws| rt.register_agent(ws, req), |r| r
            .post("/v1/agents", to_body(&req), Retry::WithKey)
            .await)
    }
    /// Reads an agent.
    pub async fn get(&self, id: &str) -> Result<Agent> {
        dispatch!(self.0, |rt, ws| rt.get_agent(ws, id), |r| r
            .get(&format!("/v1/agents/{}", seg(id)))
            .await)
    }
    /// Every agent, oldest first (fetched page by page).
    pub async fn list(&self) -> Result<List<Agent>> {
        every_page(|page| async move { self.list_page(&page).await }).await
    }
    /// One page of agents, oldest first.
    pub async fn list_page(&self, page: &Page) -> Result<List<Agent>> {
        dispatch!(self.0, |rt, ws| rt.list_agents(ws, page), |r| r
            .get(&format!("/v1/agents{}", query(&[], page)))
            .await)
    }
    /// Updates an agent.
    pub async fn update(&self, id: &str, req: UpdateAgent) -> Result<Agent> {
        dispatch!(self.0, |rt, ws| rt.update_agent(ws, id, req), |r| r
            .call(
                Method::PATCH,
                &format!("/v1/agents/{}", seg(id)),
                Some(to_body(&req)),
                Retry::Idempotent,
                None
            )
            .await)
    }
    /// Deletes an agent (its vault entries and policies go with it).
    pub async fn delete(&self, id: &str) -> Result<()> {
        dispatch!(self.0, |rt, ws| rt.delete_agent(ws, id), |r| r
            .delete(&format!("/v1/agents/{}", seg(id)))
            .await)
    }
    /// Sets the promotion level (`L0_shadow` … `L4_trusted`).
    pub async fn set_promotion(&self, id: &str, level: PromotionLevel) -> Result<Agent> {
        let req = SetPromotion {
            level: level.as_str().into(),
        };
        dispatch!(self.0, |rt, ws| rt.set_promotion(ws, id, req), |r| r
            .post(
                &format!("/v1/agents/{}/promotion", seg(id)),
                to_body(&req),
                Retry::Idempotent
            )
            .await)
    }
    /// Starts a run with `input`.
    pub async fn run(&self, id: &str, input: Value) -> Result<Run> {
        let req = StartRun { input };
        dispatch!(self.0, |rt, ws| rt.start_run(ws, id, req), |r| r
            .post(
                &format!("/v1/agents/{}/runs", seg(id)),
                to_body(&req),
                Retry::WithKey
            )
            .await)
    }
}

/// `client.vault()`.
#[derive(Debug)]
pub struct Vault<'a>(&'a Client);

impl Vault<'_> {
    /// Stores a value (a new version when the key exists). Returns metadata only.
    pub async fn put(&self, req: VaultPut) -> Result<VaultEntry> {
        dispatch!(self.0, |rt, ws| rt.vault_put(ws, req), |r| r
            .post("/v1/vault", req.to_wire(), Retry::WithKey)
            .await)
    }
    /// Every entry, optionally of one agent (fetched page by page).
    pub async fn list(&self, agent_id: Option<&str>) -> Result<List<VaultEntry>> {
        every_page(|page| async move { self.list_page(agent_id, &page).await }).await
    }
    /// One page of entries, optionally of one agent.
    pub async fn list_page(&self, agent_id: Option<&str>, page: &Page) -> Result<List<VaultEntry>> {
        dispatch!(self.0, |rt, ws| rt.vault_list(ws, agent_id, page), |r| r
            .get(&format!(
                "/v1/vault{}",
                query(&[("agent_id", agent_id)], page)
            ))
            .await)
    }
    /// One entry's metadata.
    pub async fn get(&self, id: &str) -> Result<VaultEntry> {
        dispatch!(self.0, |rt, ws| rt.vault_get(ws, id), |r| r
            .get(&format!("/v1/vault/{}", seg(id)))
            .await)
    }
    /// Replaces an entry's value.
    pub async fn rotate(&self, id: &str, value: SecretString) -> Result<VaultEntry> {
        dispatch!(
            self.0,
            |rt, ws| rt.vault_rotate(ws, id, VaultRotate { value }),
            |r| {
                use secrecy::ExposeSecret;
                r.post(
                    &format!("/v1/vault/{}/rotate", seg(id)),
                    json!({"value": value.expose_secret()}),
                    Retry::WithKey,
                )
                .await
            }
        )
    }
    /// Deletes an entry.
    pub async fn delete(&self, id: &str) -> Result<()> {
        dispatch!(self.0, |rt, ws| rt.vault_delete(ws, id), |r| r
            .delete(&format!("/v1/vault/{}", seg(id)))
            .await)
    }
}

/// `client.policies()`.
#[derive(Debug)]
pub struct Policies<'a>(&'a Client);

impl Policies<'_> {
    /// Validates and stores a new version of an agent's envelope.
    pub async fn create(&self, agent_id: &str, document: &str) -> Result<Policy> {
        let req = CreatePolicy {
            agent_id: agent_id.into(),
            document: document.into(),
        };
        dispatch!(self.0, |rt, ws| rt.create_policy(ws, req), |r| r
            .post("/v1/policies", to_body(&req), Retry::WithKey)
            .await)
    }
    /// Every version, optionally of one agent, oldest first (fetched page by page).
    pub async fn list(&self, agent_id: Option<&str>) -> Result<List<Policy>> {
        every_page(|page| async move { self.list_page(agent_id, &page).await }).await
    }
    /// One page of versions, optionally of one agent, oldest first.
    pub async fn list_page(&self, agent_id: Option<&str>, page: &Page) -> Result<List<Policy>> {
        dispatch!(self.0, |rt, ws| rt.list_policies(ws, agent_id, page), |r| r
            .get(&format!(
                "/v1/policies{}",
                query(&[("agent_id", agent_id)], page)
            ))
            .await)
    }
    /// One version.
    pub async fn get(&self, id: &str) -> Result<Policy> {
        dispatch!(self.0, |rt, ws| rt.get_policy(ws, id), |r| r
            .get(&format!("/v1/policies/{}", seg(id)))
            .await)
    }
    #[cfg(feature = "policy")]
    /// Fetches the agent's envelope in force and compiles it locally — for a
    /// sub-agent, under every ancestor's envelope, as the runtime checks it — for
    /// pre-checks that give the runtime's decision without a round trip. `None`
    /// when the agent has no policy (the runtime then denies every call).
    pub async fn precheck(&self, agent_id: &str) -> Result<Option<PolicyEngine>> {
        #[cfg(feature = "embedded")]
        if let Transport::Embedded { rt, ws } = &*self.0.t {
            let agent = rt.get_agent(ws, agent_id)?;
            return rt.effective_envelope(ws, &agent);
        }
        let agent = self.0.agents().get(agent_id).await?;
        let Some(own) = self.newest(&agent.id).await? else {
            return Ok(None);
        };
        let mut ancestors = Vec::new();
        let mut parent = agent.parent_id.clone();
        while let Some(id) = parent {
            if ancestors.len() >= heroa_policy::MAX_ANCESTORS {
                return Err(heroa_policy::too_many_ancestors());
            }
            let p = self.0.agents().get(&id).await?;
            parent = p.parent_id.clone();
            ancestors.push(heroa_policy::Ancestor {
                agent: heroa_policy::AgentInfo::from(&p),
                engine: self.newest(&p.id).await?,
            });
        }
        Ok(Some(own.within(ancestors)))
    }

    /// The agent's newest policy, compiled.
    #[cfg(feature = "policy")]
    async fn newest(&self, agent_id: &str) -> Result<Option<PolicyEngine>> {
        let list = self.list(Some(agent_id)).await?;
        list.items
            .last()
            .map(|p| {
                PolicyEngine::new(&[(p.id.as_str(), p.document.as_str())])
                    .map_err(heroa_policy::document_error)
            })
            .transpose()
    }
}

/// `client.runs()`.
#[derive(Debug)]
pub struct Runs<'a>(&'a Client);

impl Runs<'_> {
    /// Reads a run.
    pub async fn get(&self, id: &str) -> Result<Run> {
        dispatch!(self.0, |rt, ws| rt.get_run(ws, id), |r| r
            .get(&format!("/v1/runs/{}", seg(id)))
            .await)
    }
    /// Every run, optionally of one agent, oldest first (fetched page by page).
    pub async fn list(&self, agent_id: Option<&str>) -> Result<List<Run>> {
        every_page(|page| async move { self.list_page(agent_id, &page).await }).await
    }
    /// One page of runs, optionally of one agent, oldest first.
    pub async fn list_page(&self, agent_id: Option<&str>, page: &Page) -> Result<List<Run>> {
        dispatch!(self.0, |rt, ws| rt.list_runs(ws, agent_id, page), |r| r
            .get(&format!(
                "/v1/runs{}",
                query(&[("agent_id", agent_id)], page)
            ))
            .await)
    }
    /// Waits until the run ends; a `timeout` error after `timeout`.
    pub async fn wait(&self, id: &str, timeout: Duration) -> Result<Run> {
        dispatch!(self.0, |rt, ws| rt.wait_run(ws, id, timeout).await, |r| {
            let deadline = tokio::time::Instant::now() + timeout;
            loop {
                let left = deadline.saturating_duration_since(tokio::time::Instant::now());
                let chunk = left.min(WAIT_CHUNK);
                let res: Result<Run> = r
                    .call(
                        Method::POST,
                        &format!("/v1/runs/{}/wait", seg(id)),
                        Some(json!({"timeout_ms": chunk.as_millis() as u64})),
                        Retry::Idempotent,
                        Some(chunk + Duration::from_secs(10)),
                    )
                    .await;
                match res {
                    Err(e) if e.kind() == ErrorKind::Timeout && left > chunk => continue,
                    other => break other,
                }
            }
        })
    }
    /// The run's live events — its audit chain as it grows, agent-loop messages
    /// (`message`), then `done` — from the start.
    pub async fn stream(&self, id: &str) -> Result<RunStream> {
        self.stream_after(id, None).await
    }
    /// The run's events after `last_event_id`.
    pub async fn stream_after(&self, id: &str, last_event_id: Option<u64>) -> Result<RunStream> {
        match &*self.0.t {
            #[cfg(feature = "embedded")]
            Transport::Embedded { rt, ws } => {
                Ok(RunStream::embedded(rt.run_events(ws, id, last_event_id)?))
            }
            Transport::Remote(_) => {
                heroa_protocol::ids::check_id("run_id", "run", id)?;
                Ok(RunStream::remote(self.0.t.clone(), id, last_event_id))
            }
        }
    }
    /// Cancels a run in progress; returns it once it has ended.
    pub async fn cancel(&self, id: &str) -> Result<Run> {
        dispatch!(self.0, |rt, ws| rt.cancel_run(ws, id).await, |r| r
            .post(
                &format!("/v1/runs/{}/cancel", seg(id)),
                json!({}),
                Retry::Idempotent
            )
            .await)
    }
    /// The run's immutable audit record (what `audit_url` serves), every event of it
    /// (fetched page by page).
    pub async fn audit(&self, id: &str) -> Result<AuditRecord> {
        let mut page = Page::first(MAX_PAGE_LIMIT);
        let mut record = self.audit_page(id, &page).await?;
        while let Some(cursor) = record.next_cursor.take() {
            page = page.after(cursor);
            let next = self.audit_page(id, &page).await?;
            record.events.extend(next.events);
            record.next_cursor = next.next_cursor;
        }
        Ok(record)
    }
    /// One page of the run's audit record, with the whole chain's head hash.
    pub async fn audit_page(&self, id: &str, page: &Page) -> Result<AuditRecord> {
        dispatch!(self.0, |rt, ws| rt.audit_page(ws, id, page), |r| r
            .get(&format!("/v1/runs/{}/audit{}", seg(id), query(&[], page)))
            .await)
    }
    /// Verifies the run's audit chain by recomputing every hash and link here, from
    /// the record itself — so a record altered in storage or in transit is caught
    /// whichever transport served it. (`heroa serve` also offers the same check at
    /// `GET /v1/runs/{id}/audit/verify`.)
    pub async fn verify_audit(&self, id: &str) -> Result<AuditVerification> {
        let record = self.audit(id).await?;
        Ok(heroa_protocol::audit::verify(
            &record.run_id,
            &record.events,
        ))
    }
}

/// `client.deployments()`: list, read, extend and delete deployments.
#[derive(Debug)]
pub struct Deployments<'a>(&'a Client);

impl Deployments<'_> {
    /// Every deployment, oldest first (fetched page by page).
    pub async fn list(&self) -> Result<List<Deployment>> {
        every_page(|page| async move { self.list_page(&page).await }).await
    }
    /// One page of deployments, oldest first.
    pub async fn list_page(&self, page: &Page) -> Result<List<Deployment>> {
        dispatch!(self.0, |rt, ws| rt.list_deployments(ws, page), |r| r
            .get(&format!("/v1/deployments{}", query(&[], page)))
            .await)
    }
    /// One deployment.
    pub async fn get(&self, id: &str) -> Result<Deployment> {
        dispatch!(self.0, |rt, ws| rt.get_deployment(ws, id), |r| r
            .get(&format!("/v1/deployments/{}", seg(id)))
            .await)
    }
    /// A new TTL, counted from now (`"2h"`, `"persistent"`, …).
    pub async fn extend(&self, id: &str, ttl: &str) -> Result<Deployment> {
        let req = ExtendDeployment { ttl: ttl.into() };
        dispatch!(self.0, |rt, ws| rt.extend_deployment(ws, id, req), |r| r
            .post(
                &format!("/v1/deployments/{}/extend", seg(id)),
                to_body(&req),
                Retry::Idempotent
            )
            .await)
    }
    /// Stops and deletes a deployment.
    pub async fn delete(&self, id: &str) -> Result<Deployment> {
        dispatch!(self.0, |rt, ws| rt.delete_deployment(ws, id).await, |r| r
            .call(
                Method::DELETE,
                &format!("/v1/deployments/{}", seg(id)),
                None,
                Retry::Idempotent,
                None
            )
            .await)
    }
}

/// `client.webhooks()`: the delivery log of run-result webhooks.
#[derive(Debug)]
pub struct Webhooks<'a>(&'a Client);

impl Webhooks<'_> {
    /// Every delivery, optionally of one agent, oldest first (fetched page by page).
    pub async fn deliveries(&self, agent_id: Option<&str>) -> Result<List<Delivery>> {
        every_page(|page| async move { self.deliveries_page(agent_id, &page).await }).await
    }
    /// One page of deliveries, optionally of one agent, oldest first.
    pub async fn deliveries_page(
        &self,
        agent_id: Option<&str>,
        page: &Page,
    ) -> Result<List<Delivery>> {
        dispatch!(
            self.0,
            |rt, ws| rt.list_deliveries(ws, agent_id, page),
            |r| r
                .get(&format!(
                    "/v1/webhooks/deliveries{}",
                    query(&[("agent_id", agent_id)], page)
                ))
                .await
        )
    }
    /// One delivery with its attempts.
    pub async fn delivery(&self, id: &str) -> Result<Delivery> {
        dispatch!(self.0, |rt, ws| rt.get_delivery(ws, id), |r| r
            .get(&format!("/v1/webhooks/deliveries/{}", seg(id)))
            .await)
    }
    /// Queues a delivery again.
    pub async fn redeliver(&self, id: &str) -> Result<Delivery> {
        dispatch!(self.0, |rt, ws| rt.redeliver(ws, id), |r| r
            .post(
                &format!("/v1/webhooks/deliveries/{}/redeliver", seg(id)),
                json!({}),
                Retry::Idempotent
            )
            .await)
    }
}

/// `client.approvals()`.
#[derive(Debug)]
pub struct Approvals<'a>(&'a Client);

impl Approvals<'_> {
    /// Every approval, optionally with one status (`pending`, …), oldest first
    /// (fetched page by page).
    pub async fn list(&self, status: Option<&str>) -> Result<List<Approval>> {
        every_page(|page| async move { self.list_page(status, &page).await }).await
    }
    /// One page of approvals, optionally with one status, oldest first.
    pub async fn list_page(&self, status: Option<&str>, page: &Page) -> Result<List<Approval>> {
        dispatch!(self.0, |rt, ws| rt.list_approvals(ws, status, page), |r| r
            .get(&format!(
                "/v1/approvals{}",
                query(&[("status", status)], page)
            ))
            .await)
    }
    /// One approval.
    pub async fn get(&self, id: &str) -> Result<Approval> {
        dispatch!(self.0, |rt, ws| rt.get_approval(ws, id), |r| r
            .get(&format!("/v1/approvals/{}", seg(id)))
            .await)
    }
    /// Approves a held write.
    pub async fn approve(&self, id: &str, by: Option<&str>) -> Result<Approval> {
        let req = DecideApproval {
            by: by.map(str::to_string),
        };
        dispatch!(self.0, |rt, ws| rt.approve(ws, id, req), |r| r
            .post(
                &format!("/v1/approvals/{}/approve", seg(id)),
                to_body(&req),
                Retry::WithKey
            )
            .await)
    }
    /// Denies a held write.
    pub async fn deny(&self, id: &str, by: Option<&str>) -> Result<Approval> {
        let req = DecideApproval {
            by: by.map(str::to_string),
        };
        dispatch!(self.0, |rt, ws| rt.deny(ws, id, req), |r| r
            .post(
                &format!("/v1/approvals/{}/deny", seg(id)),
                to_body(&req),
                Retry::WithKey
            )
            .await)
    }
}

/// `client.workspace()`.
#[derive(Debug)]
pub struct Workspaces<'a>(&'a Client);

impl Workspaces<'_> {
    /// The caller's workspace.
    pub async fn get(&self) -> Result<Workspace> {
        dispatch!(self.0, |rt, ws| rt.get_workspace(ws), |r| r
            .get("/v1/workspace")
            .await)
    }
    /// Records SOC 2 report acceptance (enterprise tier; needed for L4).
    pub async fn accept_soc2(&self) -> Result<Workspace> {
        dispatch!(self.0, |rt, ws| rt.accept_soc2(ws), |r| r
            .post(
                "/v1/workspace/soc2-acceptance",
                json!({}),
                Retry::Idempotent
            )
            .await)
    }
    /// The whole inbox (L1 notifications), oldest first (fetched page by page).
    pub async fn inbox(&self) -> Result<List<InboxItem>> {
        every_page(|page| async move { self.inbox_page(&page).await }).await
    }
    /// One page of the inbox, oldest first.
    pub async fn inbox_page(&self, page: &Page) -> Result<List<InboxItem>> {
        dispatch!(self.0, |rt, ws| rt.list_inbox(ws, page), |r| r
            .get(&format!("/v1/inbox{}", query(&[], page)))
            .await)
    }
    /// Skills registered with the control plane.
    pub async fn skills(&self) -> Result<List<SkillInfo>> {
        dispatch!(self.0, |rt, _ws| Ok(rt.list_skills()), |r| r
            .get("/v1/skills")
            .await)
    }
    /// Templates registered with the control plane.
    pub async fn templates(&self) -> Result<List<TemplateInfo>> {
        dispatch!(self.0, |rt, _ws| Ok(rt.list_templates()), |r| r
            .get("/v1/templates")
            .await)
    }
}
