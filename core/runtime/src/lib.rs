//! The embedded control plane: workspaces and API keys, agents, vault, policies,
//! promotion, skills, templates, runs with cost and audit, approvals and the inbox —
//! all in-process, persisted to a SQLite file or memory.
//!
//! [`Runtime`] is cheap to clone; every clone is the same control plane. Calls take
//! the workspace they act in: resources of another workspace answer `not_found`.
//!
//! Features: `local-deploy` (apps and services as local processes behind a TLS
//! gateway and an egress proxy; on Linux in their own network namespace and
//! cgroup), `llm-openai` (OpenAI-compatible model endpoints) and `webhook-delivery`
//! (signed POSTs after each run). All are on by default; without them the runtime
//! still holds every resource and answers those operations with a clear
//! `failed_precondition`.

pub mod clock;
pub mod egress;
#[cfg(local_deploy)]
pub mod executor;
#[cfg(local_deploy)]
pub mod gateway;
pub mod llm;
pub mod sealing;
pub mod store;

mod agent_loop;
mod agents;
mod execution;
mod host;
mod idempotency;
mod policies;
#[cfg(local_deploy)]
mod processes;
#[cfg(not(local_deploy))]
#[path = "processes_off.rs"]
mod processes;
pub use heroa_policy::document_error;
mod builtins;
mod deliveries;
mod deploy;
mod runs;
mod schedules;
mod stream;
mod vault;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};

use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

pub use heroa_protocol::{DONE, RunEvent};
pub use host::{BoxFuture, RunContext, Skill, SkillCall, SkillOutcome, Template};
pub use idempotency::IdempotencyRecord;
#[cfg(local_deploy)]
pub use processes::tier_limits;
pub use stream::RunEvents;

use crate::clock::Clock;
use crate::sealing::SealingKey;
use crate::store::{Durability, Store};
use heroa_protocol::Page;
use heroa_protocol::error::{Error, ErrorKind, Result};
use heroa_protocol::ids::new_id;
use heroa_protocol::{CreatedApiKey, InboxItem, List, Tier, Workspace};

/// Set in the environment of every app and service process (`dep_…`): the app can
/// read its id, and a runtime restarted after `kill -9` finds what the previous one
/// left running.
pub const DEPLOYMENT_ENV: &str = "HEROA_DEPLOYMENT_ID";

/// The default domain of app URLs: names under `.localhost` resolve to loopback.
pub const DEFAULT_DOMAIN: &str = "heroa.localhost";

/// Where the gateway listens and what it serves.
#[derive(Debug, Clone)]
pub struct GatewaySettings {
    /// HTTPS listener (default `127.0.0.1:0`, a free port).
    pub https_addr: std::net::SocketAddr,
    /// Optional plain-HTTP listener.
    pub http_addr: Option<std::net::SocketAddr>,
    /// Domain of app URLs (default `heroa.localhost`).
    pub domain: String,
}

impl Default for GatewaySettings {
    fn default() -> Self {
        GatewaySettings {
            https_addr: std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
            http_addr: None,
            domain: DEFAULT_DOMAIN.to_string(),
        }
    }
}

/// How to open a runtime.
#[derive(Debug, Clone, Default)]
pub struct RuntimeOptions {
    /// The data file; `None` keeps everything in memory.
    pub path: Option<PathBuf>,
    /// Commit durability.
    pub durability: Durability,
    /// The clock (a manual one in tests).
    pub clock: Clock,
    /// The vault key. Default: `HEROA_VAULT_KEY` (64 hex), else a key file beside the
    /// data file (`<data file>.key`, created with mode 0600), else a random key for a
    /// memory runtime.
    pub vault_key: Option<SealingKey>,
    /// Base of `audit_url`s, e.g. `http://127.0.0.1:7420` for `heroa serve`.
    pub public_url: Option<String>,
    /// Tier of the default workspace created on first open (default `team`).
    pub default_tier: Option<Tier>,
    /// Where the gateway for app URLs listens, and its domain.
    pub gateway: GatewaySettings,
}

impl RuntimeOptions {
    /// Everything in memory.
    pub fn memory() -> Self {
        RuntimeOptions::default()
    }

    /// Persisted to `path`.
    pub fn file(path: impl Into<PathBuf>) -> Self {
        RuntimeOptions {
            path: Some(path.into()),
            ..Default::default()
        }
    }

    /// Uses `clock`.
    pub fn clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// Sets the default workspace's tier (used only when the data file is new).
    pub fn default_tier(mut self, tier: Tier) -> Self {
        self.default_tier = Some(tier);
        self
    }
}

/// The embedded Heroa control plane.
#[derive(Clone)]
pub struct Runtime {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("default_workspace", &self.inner.default_workspace)
            .finish_non_exhaustive()
    }
}

pub(crate) struct Inner {
    pub(crate) store: Store,
    pub(crate) sealing: SealingKey,
    pub(crate) clock: Clock,
    pub(crate) public_url: String,
    pub(crate) default_workspace: String,
    pub(crate) skills: RwLock<BTreeMap<String, Skill>>,
    pub(crate) templates: RwLock<BTreeMap<String, Template>>,
    pub(crate) engines: Mutex<HashMap<String, Option<heroa_policy::PolicyEngine>>>,
    pub(crate) active: Mutex<HashMap<String, runs::ActiveRun>>,
    pub(crate) approvals: Mutex<HashMap<String, tokio::sync::oneshot::Sender<bool>>>,
    pub(crate) tokio: tokio::runtime::Handle,
    /// Where deployments, the CA and other runtime files live (beside the data file).
    #[cfg(local_deploy)]
    pub(crate) state_dir: Option<PathBuf>,
    /// Gateway settings.
    #[cfg(local_deploy)]
    pub(crate) gateway_settings: GatewaySettings,
    /// The gateway, started on first use.
    #[cfg(local_deploy)]
    pub(crate) gateway: tokio::sync::Mutex<Option<Arc<crate::gateway::Gateway>>>,
    /// Running apps and services.
    #[cfg(local_deploy)]
    pub(crate) live: processes::LiveMap,
    /// Wakes the reaper when a deployment's TTL changes.
    pub(crate) deployments_changed: Arc<tokio::sync::Notify>,
    /// Wakes the webhook worker when a delivery is queued.
    pub(crate) deliveries_changed: Arc<tokio::sync::Notify>,
    /// Wakes the scheduler when a schedule changes.
    pub(crate) schedule_changed: Arc<tokio::sync::Notify>,
    /// Set when the last handle drops: background workers stop at once.
    pub(crate) shutdown: tokio::sync::watch::Sender<bool>,
    /// Held for the runtime's life: one process owns a data file at a time.
    _lock: Option<std::fs::File>,
    /// A runtime we own when opened outside any tokio runtime.
    _owned: Option<tokio::runtime::Runtime>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.shutdown.send_replace(true);
    }
}

/// Locks that shrug off poisoning: a panic in host code (a skill, a template) must
/// not wedge the runtime, and every guarded structure stays consistent per call.
pub(crate) trait Locked<T> {
    /// The mutex guard.
    fn locked(&self) -> std::sync::MutexGuard<'_, T>;
}

impl<T> Locked<T> for Mutex<T> {
    fn locked(&self) -> std::sync::MutexGuard<'_, T> {
        self.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// [`Locked`] for read-write locks.
pub(crate) trait ReadWriteLocked<T> {
    /// A read guard.
    fn reading(&self) -> std::sync::RwLockReadGuard<'_, T>;
    /// A write guard.
    fn writing(&self) -> std::sync::RwLockWriteGuard<'_, T>;
}

impl<T> ReadWriteLocked<T> for RwLock<T> {
    fn reading(&self) -> std::sync::RwLockReadGuard<'_, T> {
        self.read().unwrap_or_else(|p| p.into_inner())
    }
    fn writing(&self) -> std::sync::RwLockWriteGuard<'_, T> {
        self.write().unwrap_or_else(|p| p.into_inner())
    }
}

fn hash_key(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

fn load_sealing_key(opts: &RuntimeOptions) -> Result<SealingKey> {
    if let Some(k) = &opts.vault_key {
        return Ok(k.clone());
    }
    if let Ok(hexkey) = std::env::var("HEROA_VAULT_KEY") {
        return SealingKey::from_hex(&hexkey);
    }
    let Some(path) = &opts.path else {
        return Ok(SealingKey::generate());
    };
    let mut key_path = path.clone().into_os_string();
    key_path.push(".key");
    let key_path = PathBuf::from(key_path);
    match std::fs::read_to_string(&key_path) {
        Ok(text) => SealingKey::from_hex(&text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key = SealingKey::generate();
            write_private(&key_path, key.to_hex().as_bytes()).map_err(|e| {
                Error::new(
                    ErrorKind::Unavailable,
                    format!("cannot create the vault key file {}", key_path.display()),
                )
                .with_source(e)
            })?;
            Ok(key)
        }
        Err(e) => Err(Error::new(
            ErrorKind::Unavailable,
            format!("cannot read the vault key file {}", key_path.display()),
        )
        .with_source(e)),
    }
}

/// Takes the exclusive lock `<data file>.lock`, so a second process (say, a CLI
/// command while `heroa serve` runs on the same file) is refused instead of
/// recovering runs that are alive elsewhere.
fn lock_data_file(path: &std::path::Path) -> Result<std::fs::File> {
    let mut lock_path = path.as_os_str().to_owned();
    lock_path.push(".lock");
    let mut options = std::fs::OpenOptions::new();
    options.create(true).truncate(false).write(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let file = options.open(&lock_path).map_err(|e| {
        Error::new(
            ErrorKind::Unavailable,
            format!("cannot open the lock file {}", lock_path.to_string_lossy()),
        )
        .with_source(e)
    })?;
    // A runtime that is shutting down (a previous process, or one just dropped in
    // this process while a background pass finishes) releases the lock within
    // moments: wait up to 2 s before reporting the file in use.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
    let mut outcome = file.try_lock();
    while matches!(outcome, Err(std::fs::TryLockError::WouldBlock))
        && std::time::Instant::now() < deadline
    {
        std::thread::sleep(std::time::Duration::from_millis(20));
        outcome = file.try_lock();
    }
    match outcome {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(Error::new(
            ErrorKind::Unavailable,
            format!(
                "the data file {} is in use by another Heroa process (e.g. `heroa serve`); stop it, or talk to it with --remote / HEROA_BASE_URL",
                path.display()
            ),
        )),
        Err(std::fs::TryLockError::Error(e)) => Err(Error::new(
            ErrorKind::Unavailable,
            format!("cannot lock the data file {}", path.display()),
        )
        .with_source(e)),
    }
}

fn write_private(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    let mut f = o.open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

impl Runtime {
    /// Opens the control plane. Inside a tokio runtime it uses that runtime; elsewhere
    /// it starts its own. Runs left `queued` by a previous process are resumed; runs
    /// that were `running` when it stopped end `failed` with an audit entry saying so.
    pub fn open(opts: RuntimeOptions) -> Result<Runtime> {
        let lock = opts.path.as_deref().map(lock_data_file).transpose()?;
        let sealing = load_sealing_key(&opts)?;
        let store = Store::open(opts.path.as_deref(), opts.durability)?;
        let (tokio, owned) = match tokio::runtime::Handle::try_current() {
            Ok(h) => (h, None),
            Err(_) => {
                let rt = tokio::runtime::Builder::new_multi_thread()
                    .enable_all()
                    .thread_name("heroa-runtime")
                    .build()
                    .map_err(|e| {
                        Error::internal("cannot start the async runtime").with_source(e)
                    })?;
                (rt.handle().clone(), Some(rt))
            }
        };
        let default_workspace = match store.meta("default_workspace")? {
            Some(id) => id,
            None => {
                let ws = Workspace {
                    id: new_id("ws"),
                    name: "default".into(),
                    tier: opts.default_tier.unwrap_or(Tier::Team),
                    soc2_accepted_at: None,
                    created_at: opts.clock.now_rfc3339(),
                };
                store.exec(
                    "INSERT INTO workspaces (id, data) VALUES (?1, ?2)",
                    rusqlite::params![ws.id, crate::store::to_json(&ws)?],
                )?;
                store.set_meta("default_workspace", &ws.id)?;
                ws.id
            }
        };
        let rt = Runtime {
            inner: Arc::new(Inner {
                store,
                sealing,
                clock: opts.clock,
                public_url: opts
                    .public_url
                    .unwrap_or_else(|| "heroa://embedded".to_string()),
                default_workspace,
                skills: RwLock::new(BTreeMap::new()),
                templates: RwLock::new(BTreeMap::new()),
                engines: Mutex::new(HashMap::new()),
                active: Mutex::new(HashMap::new()),
                approvals: Mutex::new(HashMap::new()),
                tokio,
                schedule_changed: Arc::new(tokio::sync::Notify::new()),
                deliveries_changed: Arc::new(tokio::sync::Notify::new()),
                deployments_changed: Arc::new(tokio::sync::Notify::new()),
                shutdown: tokio::sync::watch::channel(false).0,
                #[cfg(local_deploy)]
                state_dir: opts.path.as_ref().map(|p| {
                    let mut d = p.clone().into_os_string();
                    d.push(".d");
                    PathBuf::from(d)
                }),
                #[cfg(local_deploy)]
                gateway_settings: opts.gateway.clone(),
                #[cfg(local_deploy)]
                gateway: tokio::sync::Mutex::new(None),
                #[cfg(local_deploy)]
                live: std::sync::Mutex::new(HashMap::new()),
                _lock: lock,
                _owned: owned,
            }),
        };
        builtins::register(&rt);
        rt.recover()?;
        rt.spawn_scheduler();
        rt.spawn_delivery_worker();
        rt.spawn_reaper();
        rt.restore_processes();
        Ok(rt)
    }

    /// An in-memory runtime with defaults.
    pub fn memory() -> Result<Runtime> {
        Runtime::open(RuntimeOptions::memory())
    }

    /// The workspace created on first open; the embedded client acts in it.
    pub fn default_workspace(&self) -> &str {
        &self.inner.default_workspace
    }

    /// The runtime's clock.
    pub fn clock(&self) -> &Clock {
        &self.inner.clock
    }

    /// Creates a workspace.
    pub fn create_workspace(&self, name: &str, tier: Tier) -> Result<Workspace> {
        heroa_protocol::check_name("name", name)?;
        let ws = Workspace {
            id: new_id("ws"),
            name: name.to_string(),
            tier,
            soc2_accepted_at: None,
            created_at: self.inner.clock.now_rfc3339(),
        };
        self.inner.store.exec(
            "INSERT INTO workspaces (id, data) VALUES (?1, ?2)",
            rusqlite::params![ws.id, crate::store::to_json(&ws)?],
        )?;
        Ok(ws)
    }

    /// Reads a workspace.
    pub fn get_workspace(&self, ws: &str) -> Result<Workspace> {
        self.inner
            .store
            .get("SELECT data FROM workspaces WHERE id = ?1", [ws])?
            .ok_or_else(|| Error::not_found("workspace", ws))
    }

    /// All workspaces.
    pub fn list_workspaces(&self) -> Result<List<Workspace>> {
        Ok(List::all(
            self.inner
                .store
                .list("SELECT data FROM workspaces ORDER BY id", [])?,
        ))
    }

    /// Records that the workspace accepted the SOC 2 report (needed for L4 trusted).
    pub fn accept_soc2(&self, ws: &str) -> Result<Workspace> {
        let mut w = self.get_workspace(ws)?;
        if w.tier != Tier::Enterprise {
            return Err(Error::new(
                ErrorKind::TierLimit,
                "SOC 2 report acceptance is for the enterprise tier",
            ));
        }
        if w.soc2_accepted_at.is_none() {
            w.soc2_accepted_at = Some(self.inner.clock.now_rfc3339());
            self.inner.store.exec(
                "UPDATE workspaces SET data = ?2 WHERE id = ?1",
                rusqlite::params![ws, crate::store::to_json(&w)?],
            )?;
        }
        Ok(w)
    }

    /// Issues an API key for `ws`. The key is returned once; only its hash is stored.
    pub fn create_api_key(&self, ws: &str) -> Result<CreatedApiKey> {
        self.get_workspace(ws)?;
        let mut raw = [0u8; 24];
        heroa_protocol::ids::random_bytes(&mut raw);
        let key = SecretString::from(format!("heroa_sk_{}", hex::encode(raw)));
        self.add_api_key(ws, &key)
    }

    /// Registers a key chosen by the operator (e.g. `HEROA_API_KEY` for `heroa serve`);
    /// a key already registered for this workspace is accepted as is.
    pub fn add_api_key(&self, ws: &str, key: &SecretString) -> Result<CreatedApiKey> {
        if key.expose_secret().len() < 16 {
            return Err(Error::invalid(
                "api_key",
                "an API key must be at least 16 characters",
            ));
        }
        let hash = hash_key(key.expose_secret());
        let existing: Option<(String, String)> = self
            .inner
            .store
            .conn()
            .query_row(
                "SELECT id, workspace_id FROM api_keys WHERE hash = ?1",
                [&hash],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .ok();
        let id = match existing {
            Some((id, owner)) if owner == ws => id,
            Some(_) => {
                return Err(Error::new(
                    ErrorKind::Conflict,
                    "that API key belongs to another workspace",
                ));
            }
            None => {
                let id = new_id("key");
                self.inner.store.exec(
                    "INSERT INTO api_keys (id, workspace_id, hash, created_at) VALUES (?1, ?2, ?3, ?4)",
                    rusqlite::params![id, ws, hash, self.inner.clock.now_rfc3339()],
                )?;
                id
            }
        };
        Ok(CreatedApiKey {
            id,
            workspace_id: ws.to_string(),
            key: key.clone(),
        })
    }

    /// The workspace an API key opens.
    pub fn authenticate(&self, key: &str) -> Result<String> {
        let hash = hash_key(key);
        let ws: Option<String> = self
            .inner
            .store
            .conn()
            .prepare_cached("SELECT workspace_id FROM api_keys WHERE hash = ?1")?
            .query_row([&hash], |r| r.get(0))
            .ok();
        ws.ok_or_else(|| Error::new(ErrorKind::Unauthenticated, "unknown API key"))
    }

    /// One page of the workspace's rows of `table` (ids with `prefix`), only those of
    /// agent `agent_id` (its id in `agent_column`) when given.
    pub(crate) fn agent_page<T: serde::de::DeserializeOwned>(
        &self,
        table: &str,
        prefix: &str,
        ws: &str,
        agent_column: &str,
        agent_id: Option<&str>,
        page: &Page,
    ) -> Result<List<T>> {
        let mut filters = vec![("workspace_id", ws)];
        if let Some(a) = agent_id {
            heroa_protocol::ids::check_id("agent_id", "ag", a)?;
            filters.push((agent_column, a));
        }
        self.inner.store.page(table, prefix, &filters, page)
    }

    /// The workspace inbox (L1 notify notifications), oldest first.
    pub fn list_inbox(&self, ws: &str, page: &Page) -> Result<List<InboxItem>> {
        self.inner
            .store
            .page("inbox", "ntf", &[("workspace_id", ws)], page)
    }

    /// Registers (or replaces) a skill.
    pub fn register_skill(&self, skill: Skill) -> Result<()> {
        let name = skill.info.name.clone();
        check_skill_name(&name)?;
        if skill.info.kind == heroa_protocol::SkillKind::Unknown {
            return Err(Error::invalid("kind", "kind must be read or write"));
        }
        self.inner.skills.writing().insert(name, skill);
        Ok(())
    }

    /// Registers (or replaces) a template.
    pub fn register_template(&self, template: Template) -> Result<()> {
        heroa_protocol::check_name("template", &template.info.name)?;
        self.inner
            .templates
            .writing()
            .insert(template.info.name.clone(), template);
        Ok(())
    }

    /// Registered skills, by name.
    pub fn list_skills(&self) -> List<heroa_protocol::SkillInfo> {
        let items = self
            .inner
            .skills
            .reading()
            .values()
            .map(|s| s.info.clone())
            .collect();
        List::all(items)
    }

    /// Registered templates, by name.
    pub fn list_templates(&self) -> List<heroa_protocol::TemplateInfo> {
        let items = self
            .inner
            .templates
            .reading()
            .values()
            .map(|t| t.info.clone())
            .collect();
        List::all(items)
    }

    /// An `invalid_argument` on `template` (listing the registered ones) unless
    /// `name` is registered.
    pub(crate) fn require_template(&self, name: &str) -> Result<()> {
        let templates = self.inner.templates.reading();
        if templates.contains_key(name) {
            return Ok(());
        }
        let known: Vec<&str> = templates.keys().map(String::as_str).collect();
        Err(Error::invalid(
            "template",
            format!(
                "unknown template {name:?}; registered templates: {}",
                known.join(", ")
            ),
        ))
    }

    pub(crate) fn skill(&self, name: &str) -> Option<Skill> {
        self.inner.skills.reading().get(name).cloned()
    }

    pub(crate) fn template(&self, name: &str) -> Option<Template> {
        self.inner.templates.reading().get(name).cloned()
    }

    /// Runs `pass` in the background now, then again when `wake` is notified or
    /// the clock reaches the time `pass` returned — at least every minute, so the
    /// task ends when the runtime is dropped (it holds only a weak reference, and
    /// the runtime's drop signals it).
    pub(crate) fn spawn_worker<F>(
        &self,
        what: &'static str,
        wake: Arc<tokio::sync::Notify>,
        pass: F,
    ) where
        F: Fn(Runtime) -> BoxFuture<Result<Option<i64>>> + Send + Sync + 'static,
    {
        let weak = Arc::downgrade(&self.inner);
        let clock = self.inner.clock.clone();
        let mut shutdown = self.inner.shutdown.subscribe();
        self.inner.tokio.spawn(async move {
            loop {
                let next = {
                    let Some(inner) = weak.upgrade() else { return };
                    match pass(Runtime { inner }).await {
                        Ok(n) => n,
                        Err(e) => {
                            tracing::warn!(error = %e, "{what} pass failed");
                            Some(clock.now_ms() + 1000)
                        }
                    }
                };
                let at = next.unwrap_or(i64::MAX).min(clock.now_ms() + 60_000);
                tokio::select! {
                    _ = clock.sleep_until(at) => {}
                    _ = wake.notified() => {}
                    _ = shutdown.wait_for(|stop| *stop) => return,
                }
            }
        });
    }

    /// `audit_url` of a run.
    pub(crate) fn audit_url(&self, run_id: &str) -> String {
        format!("{}/v1/runs/{run_id}/audit", self.inner.public_url)
    }
}

/// Skill names: 1–128 characters of `a-z A-Z 0-9 : - _ .`.
fn check_skill_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 128
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, ':' | '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(
            "name",
            format!(
                "a skill name must be 1-128 characters of letters, digits, ':', '-', '_' or '.'; got {name:?}"
            ),
        ))
    }
}
