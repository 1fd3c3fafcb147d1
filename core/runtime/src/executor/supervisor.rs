//! Supervisor: runs a start command as a process group with `PORT` set,
//! waits for HTTP readiness, restarts it with backoff when it crashes, and
//! stops it (SIGTERM, then SIGKILL after a grace period).

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::limits::{self, AppliedLimits, Cgroup, ResourceLimits, RlimitResource};
use super::netns::{Netns, PortForward};
use super::source::{Prepared, run_bounded};
use super::{ExecutorError, Result, StartCommand};

/// Default readiness deadline.
pub const DEFAULT_READY_TIMEOUT: Duration = Duration::from_secs(30);
/// Default time between SIGTERM and SIGKILL on stop.
pub const DEFAULT_STOP_GRACE: Duration = Duration::from_secs(5);
/// Default number of output lines kept.
pub const DEFAULT_LOG_LINES: usize = 500;
/// Longest line kept in the log buffer; longer output is split.
const MAX_LINE_BYTES: usize = 4096;
/// Output lines carried by readiness errors.
const ERROR_TAIL_LINES: usize = 20;
/// Environment variables passed through from this process when
/// `inherit_env` is false.
const PASSTHROUGH_ENV: [&str; 12] = [
    "PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG", "LANGUAGE", "LC_ALL", "LC_CTYPE", "TZ",
    "TMPDIR", "TERM",
];

/// Lifecycle of a supervised process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProcessStatus {
    /// Started, not yet answering health checks.
    Starting,
    /// Answered a health check and has not exited since.
    Running,
    /// Exited; waiting out the backoff or the restarted process's readiness.
    Restarting,
    /// Crashed too many times in a row; not restarted any more.
    Failed,
    /// Stopped by [`Supervised::stop`] or by dropping the handle.
    Stopped,
}

/// State reported on the [`Supervised::subscribe`] channel.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ProcessState {
    pub status: ProcessStatus,
    /// Times the process was started again after a crash.
    pub restarts: u32,
    /// How the last process exited (e.g. `exit status: 1`, `signal: 9 (SIGKILL)`).
    pub last_exit: Option<String>,
    /// The current process (and process group) id.
    pub pid: Option<u32>,
}

/// Restart after crashes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestartPolicy {
    /// Restart at all (false: a crash after readiness ends in `Failed`).
    pub enabled: bool,
    /// Delay before the first restart; doubled at each consecutive crash.
    pub initial_backoff: Duration,
    /// Cap of the delay.
    pub max_backoff: Duration,
    /// A process that ran this long before crashing resets the backoff and
    /// the crash count.
    pub healthy_reset: Duration,
    /// Consecutive crashes of processes that ran less than `healthy_reset`
    /// (including restarts that never became ready) before giving up.
    pub max_fast_crashes: u32,
}

impl Default for RestartPolicy {
    fn default() -> Self {
        RestartPolicy {
            enabled: true,
            initial_backoff: Duration::from_millis(250),
            max_backoff: Duration::from_secs(30),
            healthy_reset: Duration::from_secs(60),
            max_fast_crashes: 10,
        }
    }
}

/// What to run and how.
#[derive(Debug, Clone)]
pub struct SpawnSpec {
    /// Working directory.
    pub dir: PathBuf,
    pub command: StartCommand,
    /// Extra environment (e.g. proxy variables). `PORT` and `HOST` are set
    /// by the supervisor and cannot be overridden here.
    pub env: Vec<(String, String)>,
    /// Inherit this process's whole environment. When false (the default)
    /// only `PATH`, `HOME`, `USER`, `LOGNAME`, `SHELL`, `LANG`, `LANGUAGE`,
    /// `LC_ALL`, `LC_CTYPE`, `TZ`, `TMPDIR` and `TERM` pass through, so the
    /// SDK's own secrets do not leak into deployed code. (A container
    /// engine CLI keeps the environment; the container gets only `env`.)
    pub inherit_env: bool,
    pub limits: ResourceLimits,
    /// Try a cgroup (v2, else the v1 hierarchies) for the limits (falls back to
    /// rlimits only).
    pub use_cgroup: bool,
    /// Path of the readiness check, default `/`.
    pub health_path: String,
    /// Readiness deadline, default 30 s.
    pub ready_timeout: Duration,
    /// Time between health checks, default 50 ms (the first is immediate).
    pub poll_interval: Duration,
    /// Time between SIGTERM and SIGKILL on stop, default 5 s.
    pub stop_grace: Duration,
    pub restart: RestartPolicy,
    /// Output lines kept (stdout and stderr interleaved), default 500.
    pub log_lines: usize,
    /// Port to use; default a free port on 127.0.0.1.
    pub port: Option<u16>,
    /// Run the process inside this network namespace (not for container
    /// images, which get the engine's own network). It listens on
    /// `127.0.0.1:$PORT` there; [`Supervised::port`] is a host loopback port
    /// forwarded to it.
    pub netns: Option<Arc<Netns>>,
}

impl SpawnSpec {
    pub fn new(dir: impl Into<PathBuf>, command: impl Into<StartCommand>) -> Self {
        SpawnSpec {
            dir: dir.into(),
            command: command.into(),
            env: Vec::new(),
            inherit_env: false,
            limits: ResourceLimits::default(),
            use_cgroup: true,
            health_path: "/".into(),
            ready_timeout: DEFAULT_READY_TIMEOUT,
            poll_interval: Duration::from_millis(50),
            stop_grace: DEFAULT_STOP_GRACE,
            restart: RestartPolicy::default(),
            log_lines: DEFAULT_LOG_LINES,
            port: None,
            netns: None,
        }
    }

    /// A spec running what [`super::prepare`] produced.
    pub fn from_prepared(prepared: &Prepared) -> Self {
        SpawnSpec::new(prepared.dir.clone(), prepared.command.clone())
    }
}

/// Starts supervised processes.
pub struct Supervisor;

impl Supervisor {
    /// Spawns the command and waits until it answers
    /// `GET http://127.0.0.1:<port><health_path>` with a status below 500.
    ///
    /// Errors: the process exits first ([`ExecutorError::ExitedBeforeReady`])
    /// or the deadline passes ([`ExecutorError::ReadyTimeout`], the process
    /// group is then killed); both carry the last output lines.
    pub async fn start(spec: SpawnSpec) -> Result<Supervised> {
        let ctx = Arc::new(Ctx::new(spec)?);
        let forward = match &ctx.spec.netns {
            Some(netns) => Some(
                PortForward::start(netns.clone(), ctx.port)
                    .await
                    .map_err(|e| ExecutorError::io("publish the namespace's port", e))?,
            ),
            None => None,
        };
        let guard = GroupGuard {
            ctx: ctx.clone(),
            pgid: Arc::new(AtomicI32::new(0)),
        };
        let initial = ProcessState {
            status: ProcessStatus::Starting,
            restarts: 0,
            last_exit: None,
            pid: None,
        };
        let (state_tx, state_rx) = watch::channel(initial);
        let mut proc = ctx.spawn()?;
        guard.pgid.store(proc.pid as i32, Ordering::SeqCst);
        state_tx.send_modify(|s| s.pid = Some(proc.pid));
        match ctx.wait_ready(&mut proc, None).await {
            Ready::Yes => {}
            Ready::Exited(status) => {
                ctx.reap_group(proc, &guard).await;
                return Err(ExecutorError::ExitedBeforeReady {
                    status,
                    last_lines: ctx.logs.tail(ERROR_TAIL_LINES),
                });
            }
            Ready::TimedOut(last_probe) => {
                ctx.terminate(proc, &guard).await;
                return Err(ExecutorError::ReadyTimeout {
                    timeout: ctx.spec.ready_timeout,
                    url: ctx.health_url(),
                    last_probe,
                    last_lines: ctx.logs.tail(ERROR_TAIL_LINES),
                });
            }
            Ready::Stopped => unreachable!("no stop signal before the handle exists"),
        }
        if let Some(cgroup) = &ctx.cgroup
            && let Err(e) = cgroup.apply_cpu_limit()
        {
            tracing::warn!(error = %e, "the CPU limit could not be applied");
        }
        state_tx.send_modify(|s| s.status = ProcessStatus::Running);
        tracing::info!(port = ctx.port, pid = proc.pid, command = %ctx.spec.command.display(), "deployment process ready");
        let (stop_tx, stop_rx) = watch::channel(false);
        let task = tokio::spawn(watch_loop(ctx.clone(), guard, proc, state_tx, stop_rx));
        Ok(Supervised {
            port: forward.as_ref().map_or(ctx.port, |f| f.addr().port()),
            forward,
            state_rx,
            stop_tx,
            task: Some(task),
            logs: ctx.logs.clone(),
            applied: ctx.applied.clone(),
        })
    }
}

/// A running, supervised process. Dropping it stops the process (in the
/// background; [`Supervised::stop`] waits for the end).
pub struct Supervised {
    port: u16,
    /// Publishes the namespace's port on the host (network namespace only).
    forward: Option<PortForward>,
    state_rx: watch::Receiver<ProcessState>,
    stop_tx: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
    logs: LogBuffer,
    applied: AppliedLimits,
}

impl std::fmt::Debug for Supervised {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Supervised")
            .field("port", &self.port)
            .field("state", &*self.state_rx.borrow())
            .finish()
    }
}

impl Supervised {
    /// The host loopback port where the process answers (the same across
    /// restarts): the port it listens on, or the port forwarded to it when it
    /// runs in a network namespace.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn state(&self) -> ProcessState {
        self.state_rx.borrow().clone()
    }

    /// The current process id (also its process group id).
    pub fn pid(&self) -> Option<u32> {
        self.state_rx.borrow().pid
    }

    /// A receiver of state changes.
    pub fn subscribe(&self) -> watch::Receiver<ProcessState> {
        self.state_rx.clone()
    }

    /// The last output lines (stdout and stderr, oldest first).
    pub fn logs(&self) -> Vec<String> {
        self.logs.tail(usize::MAX)
    }

    /// Which limits were applied (cgroup and/or rlimits).
    pub fn applied_limits(&self) -> &AppliedLimits {
        &self.applied
    }

    /// SIGTERM to the process group, SIGKILL after the grace period, the
    /// process reaped. Idempotent; returns the final state.
    pub async fn stop(&mut self) -> ProcessState {
        let _ = self.stop_tx.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
        self.forward = None; // releases the host port
        self.state()
    }
}

impl Drop for Supervised {
    fn drop(&mut self) {
        // The watcher terminates the group; if the runtime is gone the task
        // was dropped and its GroupGuard has killed the group already.
        let _ = self.stop_tx.send(true);
    }
}

// ---------------------------------------------------------------------------
// Internals

/// Bounded ring buffer of output lines.
#[derive(Clone)]
struct LogBuffer {
    inner: Arc<Mutex<VecDeque<String>>>,
    cap: usize,
}

impl LogBuffer {
    fn new(cap: usize) -> Self {
        LogBuffer {
            inner: Arc::new(Mutex::new(VecDeque::with_capacity(cap.min(1024)))),
            cap: cap.max(1),
        }
    }

    fn push(&self, line: String) {
        let mut lines = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if lines.len() >= self.cap {
            lines.pop_front();
        }
        lines.push_back(line);
    }

    fn push_bytes(&self, bytes: &[u8]) {
        let bytes = bytes.strip_suffix(b"\n").unwrap_or(bytes);
        let bytes = bytes.strip_suffix(b"\r").unwrap_or(bytes);
        self.push(String::from_utf8_lossy(bytes).into_owned());
    }

    fn tail(&self, n: usize) -> Vec<String> {
        let lines = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let skip = lines.len().saturating_sub(n);
        lines.iter().skip(skip).cloned().collect()
    }
}

/// Copies a pipe into the log buffer line by line.
async fn pump(mut pipe: impl AsyncRead + Unpin, logs: LogBuffer) {
    let mut buf = vec![0u8; 8192];
    let mut pending: Vec<u8> = Vec::new();
    loop {
        let n = match pipe.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        pending.extend_from_slice(&buf[..n]);
        let mut start = 0;
        while let Some(pos) = pending[start..].iter().position(|&b| b == b'\n') {
            logs.push_bytes(&pending[start..start + pos + 1]);
            start += pos + 1;
        }
        pending.drain(..start);
        while pending.len() > MAX_LINE_BYTES {
            let rest = pending.split_off(MAX_LINE_BYTES);
            logs.push_bytes(&pending);
            pending = rest;
        }
    }
    if !pending.is_empty() {
        logs.push_bytes(&pending);
    }
}

/// One spawned process (group leader) and its output pumps.
struct Proc {
    child: tokio::process::Child,
    pid: u32,
    pumps: Vec<JoinHandle<()>>,
    started: Instant,
}

enum Ready {
    Yes,
    Exited(String),
    TimedOut(String),
    Stopped,
}

/// Everything a spawn needs; shared by the start call and the watcher.
struct Ctx {
    spec: SpawnSpec,
    program: PathBuf,
    args: Vec<String>,
    port: u16,
    rlimits: Vec<(RlimitResource, u64)>,
    cgroup: Option<Cgroup>,
    applied: AppliedLimits,
    logs: LogBuffer,
    /// `--name` given to the container, for `rm -f` on stop.
    container: Option<(String, String)>,
}

impl Ctx {
    fn new(spec: SpawnSpec) -> Result<Ctx> {
        if !spec.health_path.starts_with('/')
            || spec
                .health_path
                .chars()
                .any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(ExecutorError::InvalidSpec(format!(
                "health path must start with '/': {:?}",
                spec.health_path
            )));
        }
        if !spec.dir.is_dir() {
            return Err(ExecutorError::SourceNotFound {
                path: spec.dir.clone(),
            });
        }
        for (k, _) in &spec.env {
            if k.is_empty() || k.contains('=') || k.contains('\0') {
                return Err(ExecutorError::InvalidSpec(format!(
                    "invalid environment variable name {k:?}"
                )));
            }
        }
        let port = match spec.port {
            Some(p) => p,
            None => free_port()?,
        };
        let logs = LogBuffer::new(spec.log_lines);
        let mut container = None;
        let (program, args, rlimits, cgroup, applied) = match &spec.command {
            StartCommand::Argv { argv } => {
                let Some((first, rest)) = argv.split_first().filter(|(f, _)| !f.is_empty()) else {
                    return Err(ExecutorError::InvalidSpec("command is empty".into()));
                };
                let program = if first.contains('/') && !first.starts_with('/') {
                    spec.dir.join(first)
                } else {
                    PathBuf::from(first)
                };
                let (rl, cg, applied) =
                    limits::plan(&spec.limits, spec.use_cgroup, Path::new("/sys/fs/cgroup"));
                (program, rest.to_vec(), rl, cg, applied)
            }
            StartCommand::Shell { script } => {
                if script.trim().is_empty() {
                    return Err(ExecutorError::InvalidSpec("command is empty".into()));
                }
                let (rl, cg, applied) =
                    limits::plan(&spec.limits, spec.use_cgroup, Path::new("/sys/fs/cgroup"));
                (
                    PathBuf::from("/bin/sh"),
                    vec!["-c".into(), script.clone()],
                    rl,
                    cg,
                    applied,
                )
            }
            StartCommand::Container { .. } if spec.netns.is_some() => {
                return Err(ExecutorError::InvalidSpec(
                    "a container image runs in its engine's network, not in a network namespace"
                        .into(),
                ));
            }
            StartCommand::Container { engine, image } => {
                let name = format!("heroa-{}-{}", port, std::process::id());
                let mut args: Vec<String> = vec![
                    "run".into(),
                    "--rm".into(),
                    "--name".into(),
                    name.clone(),
                    "-p".into(),
                    format!("127.0.0.1:{port}:{port}"),
                    "-e".into(),
                    format!("PORT={port}"),
                    "-e".into(),
                    "HOST=0.0.0.0".into(),
                ];
                for (k, _) in &spec.env {
                    if k != "PORT" && k != "HOST" {
                        // `-e NAME` takes the value from the CLI's environment.
                        args.extend(["-e".into(), k.clone()]);
                    }
                }
                let mut flags = Vec::new();
                if let Some(m) = spec.limits.memory_bytes {
                    flags.extend(["--memory".to_string(), m.to_string()]);
                }
                if let Some(c) = spec.limits.cpu_millicores {
                    flags.extend(["--cpus".to_string(), format!("{:.3}", c as f64 / 1000.0)]);
                }
                if let Some(p) = spec.limits.max_processes {
                    flags.extend(["--pids-limit".to_string(), p.to_string()]);
                }
                if let Some(n) = spec.limits.open_files {
                    flags.extend(["--ulimit".to_string(), format!("nofile={n}:{n}")]);
                }
                if let Some(s) = spec.limits.cpu_seconds {
                    flags.extend(["--ulimit".to_string(), format!("cpu={s}:{s}")]);
                }
                let detail = if flags.is_empty() {
                    "no limits".to_string()
                } else {
                    format!("container engine flags: {}", flags.join(" "))
                };
                args.extend(flags);
                args.push(image.clone());
                container = Some((engine.clone(), name));
                let applied = AppliedLimits {
                    cgroup: !spec.limits.is_empty(),
                    rlimits: false,
                    detail,
                };
                (PathBuf::from(engine), args, Vec::new(), None, applied)
            }
        };
        tracing::debug!(detail = %applied.detail, "deployment limits");
        Ok(Ctx {
            spec,
            program,
            args,
            port,
            rlimits,
            cgroup,
            applied,
            logs,
            container,
        })
    }

    fn health_url(&self) -> String {
        let url = format!("http://127.0.0.1:{}{}", self.port, self.spec.health_path);
        if self.spec.netns.is_some() {
            format!("{url} in the process's network namespace")
        } else {
            url
        }
    }

    fn spawn(&self) -> Result<Proc> {
        let mut cmd = tokio::process::Command::new(&self.program);
        cmd.args(&self.args)
            .current_dir(&self.spec.dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        // A container engine CLI keeps its environment (DOCKER_HOST,
        // XDG_RUNTIME_DIR…): the container only gets the `-e` variables.
        if !self.spec.inherit_env && self.container.is_none() {
            cmd.env_clear();
            for key in PASSTHROUGH_ENV {
                if let Some(v) = std::env::var_os(key) {
                    cmd.env(key, v);
                }
            }
        }
        for (k, v) in &self.spec.env {
            cmd.env(k, v);
        }
        cmd.env("PORT", self.port.to_string())
            .env("HOST", "127.0.0.1");
        let procs = match &self.cgroup {
            Some(cg) => cg.open_procs().map_err(|e| {
                let dirs: Vec<String> =
                    cg.paths().iter().map(|p| p.display().to_string()).collect();
                ExecutorError::io(format!("open cgroup.procs in {}", dirs.join(", ")), e)
            })?,
            None => Vec::new(),
        };
        let procs_fds: Vec<std::os::fd::RawFd> = procs.iter().map(limits::raw_fd).collect();
        let rlimits = self.rlimits.clone();
        let enter_netns = self.spec.netns.as_ref().map(|n| n.enter_in_child());
        // A container engine CLI (rootful podman) needs its privileges.
        let drop_privileges = self.container.is_none();
        // SAFETY: the closure only calls setns(2), write(2), setrlimit(2),
        // prctl(2) and capset(2), all async-signal-safe, and allocates nothing.
        unsafe {
            cmd.pre_exec(move || {
                if let Some(enter) = &enter_netns {
                    enter()?;
                }
                for &fd in &procs_fds {
                    limits::join_cgroup_in_child(fd)?;
                }
                limits::apply_rlimits_in_child(&rlimits)?;
                if drop_privileges {
                    limits::drop_privileges_in_child()?;
                }
                Ok(())
            });
        }
        let mut child = cmd.spawn().map_err(|source| ExecutorError::Spawn {
            command: self.spec.command.display(),
            source,
        })?;
        drop(procs);
        let pid = child.id().unwrap_or(0);
        let mut pumps = Vec::new();
        if let Some(out) = child.stdout.take() {
            pumps.push(tokio::spawn(pump(out, self.logs.clone())));
        }
        if let Some(err) = child.stderr.take() {
            pumps.push(tokio::spawn(pump(err, self.logs.clone())));
        }
        tracing::debug!(pid, port = self.port, "spawned deployment process");
        Ok(Proc {
            child,
            pid,
            pumps,
            started: Instant::now(),
        })
    }

    /// Polls the health URL until it answers < 500, the process exits, the
    /// deadline passes or (when given) a stop is asked.
    async fn wait_ready(
        &self,
        proc: &mut Proc,
        mut stop: Option<&mut watch::Receiver<bool>>,
    ) -> Ready {
        let deadline = Instant::now() + self.spec.ready_timeout;
        let mut last_probe: Option<String> = None;
        loop {
            let now = Instant::now();
            if now >= deadline {
                return Ready::TimedOut(last_probe.unwrap_or_else(|| "no attempt".into()));
            }
            let probe_timeout = (deadline - now).min(Duration::from_secs(2));
            tokio::select! {
                biased;
                status = proc.child.wait() => return Ready::Exited(describe(status)),
                _ = maybe_stop(&mut stop) => return Ready::Stopped,
                r = probe(self.spec.netns.as_deref(), self.port, &self.spec.health_path, probe_timeout) => match r {
                    Ok(code) if code < 500 => return Ready::Yes,
                    Ok(code) => last_probe = Some(format!("status {code}")),
                    // A probe cut short by the deadline says nothing new: keep
                    // the previous answer for the error.
                    Err(_) if Instant::now() >= deadline && last_probe.is_some() => {}
                    Err(e) => last_probe = Some(e),
                },
            }
            let pause = self
                .spec
                .poll_interval
                .min(deadline.saturating_duration_since(Instant::now()));
            tokio::select! {
                biased;
                status = proc.child.wait() => return Ready::Exited(describe(status)),
                _ = maybe_stop(&mut stop) => return Ready::Stopped,
                _ = tokio::time::sleep(pause) => {}
            }
        }
    }

    /// After the leader exited by itself: kill what is left of its group,
    /// let the output pumps drain.
    async fn reap_group(&self, mut proc: Proc, guard: &GroupGuard) {
        let pgid = proc.pid as libc::pid_t;
        if group_alive(pgid) {
            signal_group(pgid, libc::SIGKILL);
        }
        if let Some(cg) = &self.cgroup {
            cg.kill_all();
        }
        let _ = proc.child.wait().await;
        self.remove_container().await;
        drain(&mut proc.pumps).await;
        guard.pgid.store(0, Ordering::SeqCst);
    }

    /// SIGTERM the group, SIGKILL after the grace period, reap the leader.
    async fn terminate(&self, mut proc: Proc, guard: &GroupGuard) -> String {
        let pgid = proc.pid as libc::pid_t;
        signal_group(pgid, libc::SIGTERM);
        let deadline = Instant::now() + self.spec.stop_grace;
        let mut status: Option<String> = None;
        loop {
            if status.is_some() && !group_alive(pgid) {
                break;
            }
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            let pause = Duration::from_millis(20).min(deadline - now);
            tokio::select! {
                s = proc.child.wait(), if status.is_none() => status = Some(describe(s)),
                _ = tokio::time::sleep(pause) => {}
            }
        }
        if status.is_none() || group_alive(pgid) {
            signal_group(pgid, libc::SIGKILL);
            if let Some(cg) = &self.cgroup {
                cg.kill_all();
            }
        }
        let status = match status {
            Some(s) => s,
            None => describe(proc.child.wait().await),
        };
        self.remove_container().await;
        drain(&mut proc.pumps).await;
        guard.pgid.store(0, Ordering::SeqCst);
        status
    }

    async fn remove_container(&self) {
        if let Some((engine, name)) = &self.container {
            let mut cmd = tokio::process::Command::new(engine);
            cmd.args(["rm", "-f", name]);
            let _ = run_bounded(cmd, Duration::from_secs(15)).await;
        }
    }
}

/// Kills the current process group if the owner is dropped without a
/// clean stop (runtime shutdown, cancelled start).
struct GroupGuard {
    ctx: Arc<Ctx>,
    pgid: Arc<AtomicI32>,
}

impl Drop for GroupGuard {
    fn drop(&mut self) {
        let pgid = self.pgid.swap(0, Ordering::SeqCst);
        if pgid > 0 {
            signal_group(pgid, libc::SIGKILL);
        }
        if let Some(cg) = &self.ctx.cgroup {
            cg.kill_all();
        }
    }
}

/// Watches the ready process: restarts it after crashes with backoff, stops
/// it on request.
async fn watch_loop(
    ctx: Arc<Ctx>,
    guard: GroupGuard,
    first: Proc,
    state: watch::Sender<ProcessState>,
    mut stop_rx: watch::Receiver<bool>,
) {
    let policy = ctx.spec.restart.clone();
    let mut proc = first;
    let mut restarts: u32 = 0;
    let mut consecutive: u32 = 0;
    let mut backoff = policy.initial_backoff;
    loop {
        // Running.
        let exit = tokio::select! {
            status = proc.child.wait() => describe(status),
            _ = stop_requested(&mut stop_rx) => {
                let exit = ctx.terminate(proc, &guard).await;
                state.send_modify(|s| {
                    s.status = ProcessStatus::Stopped;
                    s.last_exit = Some(exit);
                    s.pid = None;
                });
                return;
            }
        };
        let ran = proc.started.elapsed();
        ctx.reap_group(proc, &guard).await;
        tracing::warn!(port = ctx.port, exit = %exit, ran = ?ran, "deployment process exited");
        ctx.logs
            .push(format!("[heroa] process exited ({exit}) after {ran:.1?}"));
        if ran >= policy.healthy_reset {
            consecutive = 0;
            backoff = policy.initial_backoff;
        }
        let mut last_exit = exit;
        // Restarting until a process is ready again, or give up.
        proc = loop {
            consecutive += 1;
            if !policy.enabled || consecutive >= policy.max_fast_crashes {
                tracing::error!(
                    port = ctx.port,
                    crashes = consecutive,
                    "deployment process failed; not restarting"
                );
                state.send_modify(|s| {
                    s.status = ProcessStatus::Failed;
                    s.last_exit = Some(last_exit.clone());
                    s.pid = None;
                });
                return;
            }
            state.send_modify(|s| {
                s.status = ProcessStatus::Restarting;
                s.last_exit = Some(last_exit.clone());
                s.pid = None;
            });
            tokio::select! {
                _ = tokio::time::sleep(backoff) => {}
                _ = stop_requested(&mut stop_rx) => {
                    state.send_modify(|s| s.status = ProcessStatus::Stopped);
                    return;
                }
            }
            backoff = (backoff * 2).min(policy.max_backoff);
            restarts += 1;
            let mut next = match ctx.spawn() {
                Ok(p) => p,
                Err(e) => {
                    last_exit = e.to_string();
                    state.send_modify(|s| s.restarts = restarts);
                    continue;
                }
            };
            guard.pgid.store(next.pid as i32, Ordering::SeqCst);
            state.send_modify(|s| {
                s.restarts = restarts;
                s.pid = Some(next.pid);
            });
            match ctx.wait_ready(&mut next, Some(&mut stop_rx)).await {
                Ready::Yes => break next,
                Ready::Stopped => {
                    let exit = ctx.terminate(next, &guard).await;
                    state.send_modify(|s| {
                        s.status = ProcessStatus::Stopped;
                        s.last_exit = Some(exit);
                        s.pid = None;
                    });
                    return;
                }
                Ready::Exited(status) => {
                    ctx.reap_group(next, &guard).await;
                    last_exit = format!("{status} before ready");
                }
                Ready::TimedOut(probe) => {
                    ctx.terminate(next, &guard).await;
                    last_exit = format!("not ready within {:?} ({probe})", ctx.spec.ready_timeout);
                }
            }
            ctx.logs
                .push(format!("[heroa] restart failed: {last_exit}"));
        };
        tracing::info!(
            port = ctx.port,
            pid = proc.pid,
            restarts,
            "deployment process ready again"
        );
        state.send_modify(|s| {
            s.status = ProcessStatus::Running;
            s.pid = Some(proc.pid);
        });
    }
}

/// [`stop_requested`] when there is a receiver, never otherwise.
async fn maybe_stop(stop: &mut Option<&mut watch::Receiver<bool>>) {
    match stop {
        Some(rx) => stop_requested(rx).await,
        None => std::future::pending().await,
    }
}

/// Resolves when a stop is asked or the handle is gone.
async fn stop_requested(rx: &mut watch::Receiver<bool>) {
    let _ = rx.wait_for(|stop| *stop).await;
}

async fn drain(pumps: &mut Vec<JoinHandle<()>>) {
    for pump in pumps.drain(..) {
        // Pipes close when the whole group is gone; a process that escaped
        // the group (setsid) could keep them open, so do not wait forever.
        let abort = pump.abort_handle();
        if tokio::time::timeout(Duration::from_secs(1), pump)
            .await
            .is_err()
        {
            abort.abort();
        }
    }
}

fn describe(status: std::io::Result<ExitStatus>) -> String {
    match status {
        Ok(s) => s.to_string(),
        Err(e) => format!("wait failed: {e}"),
    }
}

fn signal_group(pgid: libc::pid_t, sig: libc::c_int) {
    if pgid > 0 {
        // SAFETY: kill(2) with a negative pid signals that process group.
        unsafe { libc::kill(-pgid, sig) };
    }
}

/// Whether the process group still has a live member. Zombies do not
/// count: an orphan that died stays in the group until init reaps it, which
/// some inits do only every few seconds.
pub(crate) fn group_alive(pgid: libc::pid_t) -> bool {
    // SAFETY: signal 0 only checks existence.
    if pgid <= 0 || unsafe { libc::kill(-pgid, 0) } != 0 {
        return false;
    }
    if !Path::new("/proc/self/stat").exists() {
        return true; // no /proc to tell zombies apart
    }
    all_pids().any(|pid| matches!(state_and_group(pid), Some((state, pgrp)) if pgrp == pgid && state != 'Z' && state != 'X'))
}

/// Every pid listed in `/proc`.
fn all_pids() -> impl Iterator<Item = libc::pid_t> {
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse().ok())
}

/// A process's state letter and process group, from `/proc/<pid>/stat`.
fn state_and_group(pid: libc::pid_t) -> Option<(char, libc::pid_t)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // `pid (comm) state ppid pgrp …`; comm may hold spaces and parens.
    let (_, rest) = stat.rsplit_once(')')?;
    let mut fields = rest.split_whitespace();
    let state = fields.next()?.chars().next()?;
    let pgrp = fields.nth(1)?.parse().ok()?;
    Some((state, pgrp))
}

/// Live processes (zombies excluded) other than this one whose environment
/// sets `key`, with its value: `(pid, value)`, found through
/// `/proc/<pid>/environ` (only the processes this one may read).
pub fn processes_with_env(key: &str) -> Vec<(u32, String)> {
    let prefix = format!("{key}=");
    let own = std::process::id() as libc::pid_t;
    all_pids()
        .filter(|&pid| pid != own)
        .filter_map(|pid| {
            let environ = std::fs::read(format!("/proc/{pid}/environ")).ok()?;
            let value = environ
                .split(|&b| b == 0)
                .find_map(|v| v.strip_prefix(prefix.as_bytes()))?;
            let value = String::from_utf8_lossy(value).into_owned();
            let (state, _) = state_and_group(pid)?;
            (state != 'Z' && state != 'X').then_some((pid as u32, value))
        })
        .collect()
}

/// SIGKILL to a process and, when it leads one, its process group (what a
/// runtime killed with `kill -9` left running).
pub fn kill_process_group(pid: u32) {
    let pid = pid as libc::pid_t;
    if let Some((_, pgrp)) = state_and_group(pid)
        && pgrp == pid
    {
        signal_group(pgrp, libc::SIGKILL);
    }
    // SAFETY: kill(2) with a pid read from /proc; no memory involved.
    unsafe { libc::kill(pid, libc::SIGKILL) };
}

fn free_port() -> Result<u16> {
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0))
        .map_err(|e| ExecutorError::io("bind 127.0.0.1:0 to find a free port", e))?;
    let port = listener
        .local_addr()
        .map_err(|e| ExecutorError::io("local address", e))?
        .port();
    Ok(port)
}

/// One `GET http://127.0.0.1:<port><path>`, inside `netns` when given;
/// returns the status code.
pub(crate) async fn probe(
    netns: Option<&Netns>,
    port: u16,
    path: &str,
    timeout: Duration,
) -> std::result::Result<u16, String> {
    let attempt = async {
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
        let mut stream = match netns {
            Some(netns) => netns.connect(addr).await,
            None => tokio::net::TcpStream::connect(addr).await,
        }
        .map_err(|e| format!("connect: {e}"))?;
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUser-Agent: heroa-executor\r\nAccept: */*\r\nConnection: close\r\n\r\n"
        );
        stream
            .write_all(request.as_bytes())
            .await
            .map_err(|e| format!("send: {e}"))?;
        let mut head = Vec::with_capacity(128);
        let mut buf = [0u8; 256];
        while !head.contains(&b'\n') && head.len() < 1024 {
            let n = stream
                .read(&mut buf)
                .await
                .map_err(|e| format!("read: {e}"))?;
            if n == 0 {
                break;
            }
            head.extend_from_slice(&buf[..n]);
        }
        let line = String::from_utf8_lossy(&head);
        let line = line.lines().next().unwrap_or("");
        let mut parts = line.split_whitespace();
        match (
            parts.next(),
            parts.next().and_then(|c| c.parse::<u16>().ok()),
        ) {
            (Some(v), Some(code)) if v.starts_with("HTTP/") => Ok(code),
            _ => Err(format!("not an HTTP response: {line:?}")),
        }
    };
    match tokio::time::timeout(timeout, attempt).await {
        Ok(r) => r,
        Err(_) => Err(format!("no answer within {timeout:?}")),
    }
}
