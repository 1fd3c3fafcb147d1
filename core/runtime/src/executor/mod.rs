//! Local executor: turns a deployment `source` into a supervised local process.
//!
//! `deploy(mode = "app" | "service", source = …)` ends up here when the
//! deployment runs on the local machine:
//!
//! 1. [`prepare`] turns a [`Source`] (directory, `.tar.gz`, git repository or
//!    container image) into a directory to run in and a [`StartCommand`];
//! 2. [`Supervisor::start`] runs that command in its own process group with
//!    `PORT`/`HOST` set, resource limits applied ([`ResourceLimits`]), output
//!    kept in a bounded ring buffer, waits until it answers HTTP health checks,
//!    then restarts it with exponential backoff when it crashes;
//! 3. [`gpu_available`] tells whether a tier asking for a GPU can be served;
//! 4. [`netns`] gives a process a network namespace of its own, where the only
//!    way out is what the runtime puts there (its egress proxy).
//!
//! The module is self-contained: it uses no other module of the crate.

mod limits;
pub mod netns;
mod source;
mod supervisor;

#[cfg(test)]
mod tests;

use std::path::PathBuf;
use std::time::Duration;

pub use limits::{AppliedLimits, MemoryRlimit, ResourceLimits};
pub use source::{
    DEFAULT_MAX_UNPACKED_BYTES, PrepareOptions, Prepared, Source, prepare, prepare_with,
};
pub use supervisor::{
    DEFAULT_LOG_LINES, DEFAULT_READY_TIMEOUT, DEFAULT_STOP_GRACE, ProcessState, ProcessStatus,
    RestartPolicy, SpawnSpec, Supervised, Supervisor, kill_process_group, processes_with_env,
};

/// How a prepared deployment is started.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum StartCommand {
    /// Program and arguments, run without a shell. A relative program path
    /// containing a `/` (e.g. `./start`) is resolved against the run directory;
    /// a bare name (e.g. `python3`) is looked up on `PATH`.
    Argv { argv: Vec<String> },
    /// A command line run through `sh -c` (e.g. a `Procfile` `web:` line).
    Shell { script: String },
    /// A container image run through a container engine CLI (`podman` or
    /// `docker`): `<engine> run --rm -p 127.0.0.1:<port>:<port> -e PORT=<port> <image>`.
    Container { engine: String, image: String },
}

impl StartCommand {
    /// A short human-readable rendering, for logs and errors.
    pub fn display(&self) -> String {
        match self {
            StartCommand::Argv { argv } => argv.join(" "),
            StartCommand::Shell { script } => format!("sh -c {script:?}"),
            StartCommand::Container { engine, image } => format!("{engine} run {image}"),
        }
    }
}

impl From<Vec<String>> for StartCommand {
    fn from(argv: Vec<String>) -> Self {
        StartCommand::Argv { argv }
    }
}

impl From<&[&str]> for StartCommand {
    fn from(argv: &[&str]) -> Self {
        StartCommand::Argv {
            argv: argv.iter().map(|s| s.to_string()).collect(),
        }
    }
}

impl From<String> for StartCommand {
    /// A plain string is a shell command line.
    fn from(script: String) -> Self {
        StartCommand::Shell { script }
    }
}

impl From<&str> for StartCommand {
    /// A plain string is a shell command line.
    fn from(script: &str) -> Self {
        StartCommand::Shell {
            script: script.to_string(),
        }
    }
}

/// Errors of the local executor.
#[derive(Debug, thiserror::Error)]
pub enum ExecutorError {
    #[error("source not found: {}", path.display())]
    SourceNotFound { path: PathBuf },

    #[error("no start command in {}: looked for {}; pass an explicit command", dir.display(), looked_for.join(", "))]
    NoStartCommand {
        dir: PathBuf,
        looked_for: Vec<String>,
    },

    #[error("no container engine is available to run image {image:?}: {detail}")]
    NoContainerEngine { image: String, detail: String },

    #[error("unsafe archive entry {entry:?}: {reason}")]
    UnsafeArchive { entry: String, reason: String },

    #[error("archive unpacks to more than {limit} bytes")]
    ArchiveTooLarge { limit: u64 },

    #[error("git {step} failed: {detail}")]
    Git { step: String, detail: String },

    #[error("invalid spec: {0}")]
    InvalidSpec(String),

    #[error("failed to start {command}: {source}")]
    Spawn {
        command: String,
        #[source]
        source: std::io::Error,
    },

    #[error("process exited before it was ready ({status}); last output:\n{}", last_lines.join("\n"))]
    ExitedBeforeReady {
        status: String,
        last_lines: Vec<String>,
    },

    #[error("process not ready within {timeout:?} (GET {url}: {last_probe}); last output:\n{}", last_lines.join("\n"))]
    ReadyTimeout {
        timeout: Duration,
        url: String,
        last_probe: String,
        last_lines: Vec<String>,
    },

    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
}

impl ExecutorError {
    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        ExecutorError::Io {
            context: context.into(),
            source,
        }
    }

    /// The last output lines carried by readiness errors (empty otherwise).
    pub fn last_lines(&self) -> &[String] {
        match self {
            ExecutorError::ExitedBeforeReady { last_lines, .. }
            | ExecutorError::ReadyTimeout { last_lines, .. } => last_lines,
            _ => &[],
        }
    }
}

pub type Result<T, E = ExecutorError> = std::result::Result<T, E>;

/// Whether this machine has a GPU a deployment could use: an NVIDIA device
/// node (`/dev/nvidia0`…), a DRM render node (`/dev/dri/renderD*`), or
/// `nvidia-smi -L` listing at least one GPU within 5 seconds.
///
/// Callers error clearly when a resource tier asks for a GPU and this is false.
pub fn gpu_available() -> bool {
    !gpu_devices().is_empty()
}

/// What [`gpu_available`] found: device nodes and `nvidia-smi -L` lines.
pub fn gpu_devices() -> Vec<String> {
    let mut found = Vec::new();
    for dir in ["/dev", "/dev/dri"] {
        let Ok(entries) = std::fs::read_dir(dir) else {
            continue;
        };
        let mut names: Vec<String> = entries
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| {
                let nvidia = dir == "/dev"
                    && n.strip_prefix("nvidia").is_some_and(|rest| {
                        !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_digit())
                    });
                let render = dir == "/dev/dri" && n.starts_with("renderD");
                nvidia || render
            })
            .map(|n| format!("{dir}/{n}"))
            .collect();
        names.sort();
        found.extend(names);
    }
    if found.is_empty() {
        found.extend(nvidia_smi_list(Duration::from_secs(5)));
    }
    found
}

/// Runs `nvidia-smi -L` (when on `PATH`) with a deadline; returns its `GPU …` lines.
fn nvidia_smi_list(timeout: Duration) -> Vec<String> {
    use std::process::{Command, Stdio};
    let Some(program) = source::find_on_path("nvidia-smi") else {
        return Vec::new();
    };
    let Ok(mut child) = Command::new(program)
        .arg("-L")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
    else {
        return Vec::new();
    };
    let deadline = std::time::Instant::now() + timeout;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => {
                if !status.success() {
                    return Vec::new();
                }
                let mut out = String::new();
                if let Some(mut stdout) = child.stdout.take() {
                    let _ = std::io::Read::read_to_string(&mut stdout, &mut out);
                }
                return out
                    .lines()
                    .filter(|l| l.starts_with("GPU"))
                    .map(str::to_string)
                    .collect();
            }
            Ok(None) if std::time::Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(50))
            }
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return Vec::new();
            }
        }
    }
}
