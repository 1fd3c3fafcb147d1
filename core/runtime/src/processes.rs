//! Apps and services: `source` runs as a supervised local process with `PORT` set,
//! behind an egress proxy that enforces the policy's allow-list, with CPU and memory
//! limits from the resource tier.
//!
//! - app: `https://<label>.<domain>:<port>` on the runtime's gateway (TLS from the
//!   runtime's local CA; `RuntimeOptions::gateway` sets the address and domain).
//! - service: `heroa://<workspace>/svc/<label>`, resolvable (through the
//!   `heroa:resolve` skill) only by agents of the same workspace and region; no public
//!   URL unless `public: true`.
//!
//! Tiers (CPU bandwidth via a cgroup — v2 `cpu.max` or v1 `cpu.cfs_quota_us` — where
//! the machine allows one, from the first passed health check on; memory via the
//! cgroup and `RLIMIT_DATA`): small 0.5 CPU / 512 MiB, medium 1 CPU / 2 GiB,
//! large 2 CPUs / 8 GiB (+ GPU where one exists).
//!
//! Network isolation: where the machine permits it (Linux with `CAP_SYS_ADMIN`, e.g.
//! root), the process runs in a network namespace of its own that holds only a
//! loopback interface, the process and the egress proxy's listening socket
//! ([`crate::executor::netns`]). Its one way out is the proxy: a process that ignores
//! the proxy variables (`HTTP_PROXY`, `HTTPS_PROXY`, `ALL_PROXY`), or opens raw
//! sockets, reaches no network address — not the internet, not the machine's other
//! services, not even the host's loopback (Unix sockets in the file system stay
//! reachable: there is no file-system sandbox). The runtime reaches the process through a port it
//! forwards from the host loopback, and the process keeps no privileges (no
//! capabilities, `no_new_privs`), so it cannot `setns` its way out. `limits.network`
//! in the deployment says which applies: `namespace`; `container` for container
//! images (the engine's own network applies, and the egress policy binds only
//! clients that honour the proxy variables); or `host` when there is nothing to
//! enforce (`egress: open`) and where the machine does not permit a namespace. On the
//! host network the allow-list binds only the clients that honour the proxy
//! variables; a process that ignores them can reach any address the machine can.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::{Value, json};

use super::Locked;
use super::Runtime;
use crate::egress::{EgressConfig, EgressPolicy, EgressProxy};
use crate::executor::netns::Netns;
use crate::executor::{
    self, ExecutorError, MemoryRlimit, ResourceLimits, Source, SpawnSpec, StartCommand, Supervised,
};
use crate::gateway::{Gateway, GatewayOptions, LocalCa, Route};
use heroa_protocol::error::{Error, ErrorKind, Result};
use heroa_protocol::*;

use crate::DEPLOYMENT_ENV;

/// A running app or service.
pub(crate) struct Live {
    process: Supervised,
    proxy: EgressProxy,
    host: Option<String>,
}

/// The tier's limits.
pub fn tier_limits(tier: ResourceTier) -> ResourceLimits {
    let (millicores, mib) = match tier {
        // `Unknown` never passes request parsing; the smallest limits if it did.
        ResourceTier::Small | ResourceTier::Unknown => (500, 512),
        ResourceTier::Medium => (1000, 2048),
        ResourceTier::Large => (2000, 8192),
    };
    ResourceLimits {
        memory_bytes: Some(mib << 20),
        // RLIMIT_DATA, not RLIMIT_AS: runtimes that reserve large virtual ranges
        // (Node, the JVM, Go) still start inside the tier.
        memory_rlimit: MemoryRlimit::Data,
        cpu_millicores: Some(millicores),
        open_files: Some(4096),
        ..Default::default()
    }
}

/// Reads the `source` of a deploy request.
fn parse_source(v: &Value) -> Result<Source> {
    let bad = |m: &str| Error::invalid("source", format!("source: {m}"));
    let command = |o: &serde_json::Map<String, Value>| -> Result<Option<Vec<String>>> {
        match o.get("command") {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(vec!["sh".into(), "-c".into(), s.clone()])),
            Some(Value::Array(a)) => a
                .iter()
                .map(|x| {
                    x.as_str()
                        .map(str::to_string)
                        .ok_or_else(|| bad("command must be a string or a list of strings"))
                })
                .collect::<Result<Vec<_>>>()
                .map(Some),
            Some(_) => Err(bad("command must be a string or a list of strings")),
        }
    };
    match v {
        Value::String(s) if s.ends_with(".tar.gz") || s.ends_with(".tgz") => Ok(Source::Tarball {
            path: PathBuf::from(s),
            command: None,
        }),
        Value::String(s) if std::path::Path::new(s).is_dir() => Ok(Source::Dir {
            path: PathBuf::from(s),
            command: None,
        }),
        Value::String(s) if s.starts_with('/') || s.starts_with('.') => Err(Error::invalid(
            "source",
            format!("source {s:?} does not exist"),
        )),
        Value::String(s) if !s.is_empty() => Ok(Source::Image { image: s.clone() }),
        Value::Object(o) => {
            if let Some(repo) = o.get("repo").and_then(Value::as_str) {
                let reference = o.get("ref").and_then(Value::as_str).map(str::to_string);
                Ok(Source::Repo {
                    repo: repo.to_string(),
                    reference,
                    command: command(o)?,
                })
            } else if let Some(image) = o.get("image").and_then(Value::as_str) {
                Ok(Source::Image {
                    image: image.to_string(),
                })
            } else if let Some(t) = o.get("tarball").and_then(Value::as_str) {
                Ok(Source::Tarball {
                    path: PathBuf::from(t),
                    command: command(o)?,
                })
            } else if let Some(p) = o
                .get("path")
                .or_else(|| o.get("dir"))
                .and_then(Value::as_str)
            {
                Ok(Source::Dir {
                    path: PathBuf::from(p),
                    command: command(o)?,
                })
            } else {
                Err(bad(
                    "give one of {\"repo\", \"ref\"?}, {\"image\"}, {\"tarball\"} or {\"path\"}, with an optional \"command\"",
                ))
            }
        }
        _ => Err(bad(
            "expected an image, a .tar.gz path, a directory path, or an object",
        )),
    }
}

/// An executor error as the caller sees it: the deployment's directory on this
/// machine (`dir`, as given and resolved) never appears in it — an error body
/// shows no server path.
fn executor_error(e: ExecutorError, dir: &Path) -> Error {
    let mut text = e.to_string();
    let resolved = dir.canonicalize().ok();
    for d in [Some(dir), resolved.as_deref()].into_iter().flatten() {
        text = text.replace(&*d.to_string_lossy(), "<deployment directory>");
    }
    let lines = e.last_lines().to_vec();
    let err = match &e {
        ExecutorError::NoContainerEngine { .. } => {
            Error::new(ErrorKind::FailedPrecondition, text).with_field("source")
        }
        ExecutorError::SourceNotFound { .. }
        | ExecutorError::NoStartCommand { .. }
        | ExecutorError::UnsafeArchive { .. }
        | ExecutorError::ArchiveTooLarge { .. }
        | ExecutorError::Git { .. } => Error::invalid("source", text),
        _ => Error::new(ErrorKind::FailedPrecondition, text),
    };
    if lines.is_empty() {
        err
    } else {
        err.with_details(json!({"last_output": lines}))
    }
}

impl Runtime {
    /// The gateway, started on first use.
    pub(crate) async fn gateway(&self) -> Result<Arc<Gateway>> {
        let mut g = self.inner.gateway.lock().await;
        if let Some(g) = g.as_ref() {
            return Ok(g.clone());
        }
        let ca = match &self.inner.state_dir {
            Some(dir) => LocalCa::load_or_create(dir.join("ca")),
            None => LocalCa::generate(),
        }
        .map_err(|e| {
            Error::new(
                ErrorKind::Unavailable,
                format!("cannot set up the local CA: {e}"),
            )
        })?;
        let s = &self.inner.gateway_settings;
        let gateway = Gateway::start(GatewayOptions {
            https_addr: s.https_addr,
            http_addr: s.http_addr,
            domain: s.domain.clone(),
            ca,
        })
        .await
        .map_err(|e| {
            Error::new(
                ErrorKind::Unavailable,
                format!("cannot start the gateway: {e}"),
            )
        })?;
        let gateway = Arc::new(gateway);
        *g = Some(gateway.clone());
        Ok(gateway)
    }

    /// The local CA's certificate (PEM), for clients to trust app URLs.
    pub async fn gateway_ca_pem(&self) -> Result<String> {
        Ok(self.gateway().await?.ca().ca_pem().to_string())
    }

    /// The gateway's HTTPS address (clients connect here for any app host name).
    pub async fn gateway_addr(&self) -> Result<std::net::SocketAddr> {
        Ok(self.gateway().await?.https_addr())
    }

    fn deployment_dir(&self, id: &str) -> PathBuf {
        match &self.inner.state_dir {
            Some(d) => d.join("deployments").join(id),
            None => std::env::temp_dir()
                .join(format!("heroa-{}", std::process::id()))
                .join(id),
        }
    }

    /// The `source` of an app or service deploy, read and checked — before anything
    /// is stored, so a request with a bad one leaves no record.
    pub(super) fn checked_source(&self, req: &DeployRequest) -> Result<Source> {
        let Some(v) = req.source.as_ref() else {
            return Err(Error::invalid(
                "source",
                "source is required in app and service mode",
            ));
        };
        let source = parse_source(v)?;
        if let Source::Dir { path, .. } | Source::Tarball { path, .. } = &source
            && !path.exists()
        {
            return Err(Error::invalid(
                "source",
                format!("source {} does not exist", path.display()),
            ));
        }
        Ok(source)
    }

    pub(super) async fn deploy_process(
        &self,
        ws: &str,
        dep: &mut Deployment,
        req: &DeployRequest,
    ) -> Result<()> {
        let source = self.checked_source(req)?;
        let dir = self.deployment_dir(&dep.id);
        let prepared = executor::prepare(&source, &dir)
            .await
            .map_err(|e| executor_error(e, &dir))?;
        self.start_process(
            ws,
            dep,
            prepared,
            req.health_path.clone(),
            req.public.unwrap_or(false),
        )
        .await
    }

    async fn start_process(
        &self,
        ws: &str,
        dep: &mut Deployment,
        prepared: executor::Prepared,
        health_path: Option<String>,
        public: bool,
    ) -> Result<()> {
        let egress = EgressPolicy::parse(
            dep.policy.egress.as_deref().unwrap_or("none"),
            &dep.policy.allow_list,
        )
        .map_err(|e| Error::invalid("policy.egress", e.to_string()))?;
        let netns = network_namespace(&egress, &prepared.command);
        let proxy_addr = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
        let (listener, place) = match &netns {
            Some(netns) => (
                netns.listen(proxy_addr).await,
                "in the deployment's network namespace",
            ),
            None => (
                tokio::net::TcpListener::bind(proxy_addr).await,
                "on the host loopback",
            ),
        };
        let unavailable = |e: &dyn std::fmt::Display| {
            Error::new(
                ErrorKind::Unavailable,
                format!("cannot start the egress proxy {place}: {e}"),
            )
        };
        let proxy = listener.map_err(|e| unavailable(&e)).and_then(|l| {
            EgressProxy::start_on(egress, l, EgressConfig::default()).map_err(|e| unavailable(&e))
        })?;
        let prepared_dir = prepared.dir.clone();
        let mut spec = SpawnSpec::from_prepared(&prepared);
        spec.env = proxy.env();
        spec.env.push((DEPLOYMENT_ENV.to_string(), dep.id.clone()));
        let network = match (&netns, &prepared.command) {
            (Some(_), _) => "namespace",
            (None, StartCommand::Container { .. }) => "container",
            (None, _) => "host",
        };
        spec.netns = netns;
        let limits = tier_limits(dep.resource_tier);
        spec.limits = limits.clone();
        // Local TCP probes are cheap: poll often so a fast app is live in milliseconds.
        spec.poll_interval = std::time::Duration::from_millis(5);
        if let Some(p) = &health_path {
            if !p.starts_with('/') {
                return Err(Error::invalid(
                    "health_path",
                    "health_path must start with /",
                ));
            }
            spec.health_path = p.clone();
        }
        let process = executor::Supervisor::start(spec)
            .await
            .map_err(|e| executor_error(e, &prepared_dir))?;
        dep.limits = Some(json!({
            "cpu_millicores": limits.cpu_millicores,
            "memory_bytes": limits.memory_bytes,
            "applied": process.applied_limits(),
            "network": network,
        }));
        let label = dep.id[dep.id.len() - 12..].to_string();
        let mut host = None;
        if dep.mode == DeployMode::Service {
            dep.endpoint = Some(format!("heroa://{ws}/svc/{label}"));
        }
        if dep.mode == DeployMode::App || public {
            let gateway = self.gateway().await?;
            let h = format!("{label}.{}", gateway.domain());
            gateway.set_route(
                &h,
                Route::Backend(std::net::SocketAddr::from(([127, 0, 0, 1], process.port()))),
            );
            dep.url = Some(gateway.url_for(&label));
            dep.http_url = gateway.http_url_for(&label);
            host = Some(h);
        }
        self.inner.store.exec(
            "UPDATE deployments SET prepared = ?2 WHERE id = ?1",
            rusqlite::params![
                dep.id,
                serde_json::to_string(
                    &json!({"prepared": prepared, "health_path": health_path, "public": public})
                )?
            ],
        )?;
        self.watch_process(ws, &dep.id, &process);
        self.inner.live.locked().insert(
            dep.id.clone(),
            Live {
                process,
                proxy,
                host,
            },
        );
        Ok(())
    }

    /// Mirrors restarts and failures of the process into the deployment. Only those
    /// fields change, in place, and only while the deployment is live: the watcher
    /// never writes back a stale copy of the record.
    fn watch_process(&self, ws: &str, id: &str, process: &Supervised) {
        let mut rx = process.subscribe();
        let weak = Arc::downgrade(&self.inner);
        let (ws, id) = (ws.to_string(), id.to_string());
        self.inner.tokio.spawn(async move {
            while rx.changed().await.is_ok() {
                let state = rx.borrow_and_update().clone();
                let Some(inner) = weak.upgrade() else { return };
                let failed = state.status == executor::ProcessStatus::Failed;
                let error = state.last_exit.as_ref().map(|e| format!("process exited: {e}"));
                let now = inner.clock.now_rfc3339();
                let updated = inner.store.exec(
                    "UPDATE deployments SET
                       status = CASE WHEN ?4 THEN 'failed' ELSE status END,
                       data = json_set(data, '$.restarts', ?3, '$.error', ?5, '$.updated_at', ?6,
                                       '$.status', CASE WHEN ?4 THEN 'failed' ELSE json_extract(data, '$.status') END)
                     WHERE workspace_id = ?1 AND id = ?2 AND status IN ('starting', 'running')",
                    rusqlite::params![ws, id, state.restarts, failed, error, now],
                );
                if !matches!(updated, Ok(1)) {
                    return;
                }
            }
        });
    }

    /// Stops an app's or service's process; its URL answers 410 from now on. The
    /// stop itself (SIGTERM, then SIGKILL after the grace period) runs in a task that
    /// does not hold the runtime; the handle lets a caller wait for it.
    pub(super) async fn stop_process(
        &self,
        dep: &Deployment,
        status: DeploymentStatus,
    ) -> Option<tokio::task::JoinHandle<()>> {
        let live = self.inner.live.locked().remove(&dep.id)?;
        let gateway = self.inner.gateway.lock().await.clone();
        if let (Some(h), Some(g)) = (&live.host, &gateway) {
            let why = if status == DeploymentStatus::Expired {
                "expired"
            } else {
                "was deleted"
            };
            g.set_route(
                h,
                Route::Gone {
                    message: format!("deployment {} {why}", dep.id),
                },
            );
        }
        let id = dep.id.clone();
        Some(self.inner.tokio.spawn(async move {
            let mut live = live;
            let started = std::time::Instant::now();
            live.process.stop().await;
            live.proxy.shutdown().await;
            tracing::debug!(deployment = %id, ms = started.elapsed().as_millis() as u64, "process stopped");
        }))
    }

    /// The egress log of a running app or service.
    pub fn egress_log(&self, ws: &str, id: &str) -> Result<Vec<crate::egress::EgressEvent>> {
        self.get_deployment(ws, id)?;
        let live = self.inner.live.locked();
        Ok(live.get(id).map(|l| l.proxy.events()).unwrap_or_default())
    }

    /// Where a service endpoint answers — only for an agent of the same workspace
    /// and region.
    pub fn resolve_service(&self, ws: &str, agent_id: &str, endpoint: &str) -> Result<String> {
        let agent = self.get_agent(ws, agent_id)?;
        let label = endpoint
            .strip_prefix(&format!("heroa://{ws}/svc/"))
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::NotFound,
                    format!("no service {endpoint:?} in this workspace"),
                )
                .with_field("endpoint")
            })?;
        // The running deployments whose id ends with the label (a service's host name
        // is the tail of its id).
        let running: Vec<Deployment> = if label.is_empty() {
            Vec::new()
        } else {
            self.inner.store.list(
                "SELECT data FROM deployments WHERE workspace_id = ?1 AND status = 'running'
                   AND substr(id, -length(?2)) = ?2",
                rusqlite::params![ws, label],
            )?
        };
        let dep = running
            .into_iter()
            .find(|d| d.mode == DeployMode::Service && d.status == DeploymentStatus::Running)
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::NotFound,
                    format!("no running service {endpoint:?}"),
                )
                .with_field("endpoint")
            })?;
        if dep.region != agent.region {
            return Err(Error::new(
                ErrorKind::PermissionDenied,
                format!("service {endpoint} is in {}; agent {} is in {} — services are reachable only within their region", dep.region, agent.id, agent.region),
            )
            .with_field("endpoint"));
        }
        let live = self.inner.live.locked();
        let l = live.get(&dep.id).ok_or_else(|| {
            Error::new(
                ErrorKind::Unavailable,
                "the service is not running in this process",
            )
        })?;
        Ok(format!("http://127.0.0.1:{}", l.process.port()))
    }

    /// After a restart: stop what a runtime killed with -9 left running, then bring
    /// back live apps and services (expired ones are reaped).
    pub(super) fn restore_processes(&self) {
        let ever_ran: bool = self
            .inner
            .store
            .conn()
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM deployments WHERE json_extract(data, '$.mode') != 'agent')",
                [],
                |r| r.get(0),
            )
            .unwrap_or(false);
        if !ever_ran {
            return;
        }
        let rows: Vec<(String, String, String)> = {
            let conn = self.inner.store.conn();
            let Ok(mut stmt) = conn.prepare(
                "SELECT workspace_id, data, prepared FROM deployments WHERE prepared IS NOT NULL AND status IN ('starting', 'running')",
            ) else {
                return;
            };
            stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                .map(|rows| rows.filter_map(std::result::Result::ok).collect())
                .unwrap_or_default()
        };
        let rt = self.clone();
        self.inner.tokio.spawn(async move {
            rt.stop_leftovers().await;
            for (ws, data, prepared) in rows {
                let rt = rt.clone();
                tokio::spawn(async move { rt.restore_process(&ws, &data, &prepared).await });
            }
        });
    }

    /// Kills the processes of this store's deployments that are still running
    /// although no runtime supervises them (left by one killed with -9, whatever
    /// their deployment's status now), found by [`DEPLOYMENT_ENV`].
    async fn stop_leftovers(&self) {
        let found = tokio::task::spawn_blocking(|| executor::processes_with_env(DEPLOYMENT_ENV))
            .await
            .unwrap_or_default();
        for (pid, id) in found {
            let ours = self
                .inner
                .store
                .conn()
                .query_row(
                    "SELECT COUNT(*) FROM deployments WHERE id = ?1",
                    [&id],
                    |r| r.get::<_, i64>(0),
                )
                .is_ok_and(|n| n == 1);
            if ours {
                executor::kill_process_group(pid);
                tracing::info!(deployment = %id, pid, "stopped a process left by the previous runtime");
            }
        }
    }

    async fn restore_process(&self, ws: &str, data: &str, prepared: &str) {
        let (Ok(mut dep), Ok(saved)) = (
            serde_json::from_str::<Deployment>(data),
            serde_json::from_str::<Value>(prepared),
        ) else {
            return;
        };
        let now = self.inner.clock.now_ms();
        if dep
            .expires_at
            .as_deref()
            .and_then(crate::clock::parse_rfc3339)
            .is_some_and(|t| t <= now)
        {
            return; // the reaper marks it expired
        }
        let Ok(p) = serde_json::from_value::<executor::Prepared>(saved["prepared"].clone()) else {
            return;
        };
        let health = saved["health_path"].as_str().map(str::to_string);
        let public = saved["public"].as_bool().unwrap_or(false);
        match self.start_process(ws, &mut dep, p, health, public).await {
            Ok(()) => dep.error = None,
            Err(e) => {
                dep.status = DeploymentStatus::Failed;
                dep.error = Some(format!("could not be restarted: {}", e.message()));
            }
        }
        dep.updated_at = self.inner.clock.now_rfc3339();
        match self.save_if_live(ws, &dep) {
            Ok(true) => {}
            // Ended (deleted, or expired) while it was being restored.
            Ok(false) => {
                if let Ok(current) = self.get_deployment(ws, &dep.id) {
                    self.stop_process(&current, current.status).await;
                }
            }
            Err(e) => {
                tracing::warn!(deployment = %dep.id, error = %e, "could not record the restored deployment")
            }
        }
    }
}

/// A network namespace for the process, unless there is nothing to enforce (`open`
/// egress), the source is a container image (its engine's network applies) or the
/// machine does not permit one.
fn network_namespace(egress: &EgressPolicy, command: &StartCommand) -> Option<Arc<Netns>> {
    if *egress == EgressPolicy::Open || matches!(command, StartCommand::Container { .. }) {
        return None;
    }
    static WARNED: std::sync::Once = std::sync::Once::new();
    match Netns::create() {
        Ok(netns) => Some(Arc::new(netns)),
        Err(e) => {
            WARNED.call_once(|| {
                tracing::warn!(error = %e, "deployments run on the host network: this machine permits no network namespace (it needs CAP_SYS_ADMIN), so egress policies bind only clients that honour the proxy variables");
            });
            None
        }
    }
}

/// Live processes by deployment id.
pub(crate) type LiveMap = std::sync::Mutex<HashMap<String, Live>>;
