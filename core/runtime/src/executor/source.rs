//! Sources: a deployment's `source` turned into a directory and a start command.

use std::ffi::OsStr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use super::{ExecutorError, Result, StartCommand};

/// Default bound on the bytes a `.tar.gz` may unpack to (512 MiB).
pub const DEFAULT_MAX_UNPACKED_BYTES: u64 = 512 * 1024 * 1024;

/// What to run.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Source {
    /// A local directory, run in place.
    Dir {
        path: PathBuf,
        #[serde(default)]
        command: Option<Vec<String>>,
    },
    /// A `.tar.gz` unpacked into the deployment directory. When the archive
    /// holds a single top-level directory (as `tar czf app.tar.gz app/`
    /// makes), that directory is the one run in.
    Tarball {
        path: PathBuf,
        #[serde(default)]
        command: Option<Vec<String>>,
    },
    /// A git repository (local path, `file://`, or any URL the machine can
    /// reach without prompting) cloned with the `git` CLI into the deployment
    /// directory, at `reference` (a branch, tag or commit; default `HEAD`).
    Repo {
        repo: String,
        #[serde(default)]
        reference: Option<String>,
        #[serde(default)]
        command: Option<Vec<String>>,
    },
    /// A container image run through `podman` or `docker`.
    Image { image: String },
}

/// A prepared deployment: where to run and what.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Prepared {
    pub dir: PathBuf,
    pub command: StartCommand,
    /// The commit checked out, for a repository source.
    pub revision: Option<String>,
}

/// Knobs of [`prepare_with`].
#[derive(Debug, Clone)]
pub struct PrepareOptions {
    /// Bound on the total size of the files a tarball unpacks to.
    pub max_unpacked_bytes: u64,
    /// Bound on the number of entries of a tarball.
    pub max_entries: u64,
    /// Deadline of each git command.
    pub git_timeout: Duration,
    /// Deadline of `podman info` / `docker info`.
    pub engine_probe_timeout: Duration,
    /// Container engine CLIs tried, in order.
    pub engines: Vec<String>,
}

impl Default for PrepareOptions {
    fn default() -> Self {
        PrepareOptions {
            max_unpacked_bytes: DEFAULT_MAX_UNPACKED_BYTES,
            max_entries: 200_000,
            git_timeout: Duration::from_secs(120),
            engine_probe_timeout: Duration::from_secs(5),
            engines: vec!["podman".into(), "docker".into()],
        }
    }
}

/// Turns `source` into a directory and a start command, unpacking or cloning
/// into `deployment_dir` (which must be absent or empty for tarball and repo
/// sources; a directory source runs in place).
pub async fn prepare(source: &Source, deployment_dir: &Path) -> Result<Prepared> {
    prepare_with(source, deployment_dir, &PrepareOptions::default()).await
}

/// [`prepare`] with explicit options.
pub async fn prepare_with(
    source: &Source,
    deployment_dir: &Path,
    opts: &PrepareOptions,
) -> Result<Prepared> {
    match source {
        Source::Dir { path, command } => {
            let dir = existing(path)?;
            if !dir.is_dir() {
                return Err(ExecutorError::InvalidSpec(format!(
                    "{} is not a directory",
                    path.display()
                )));
            }
            let command = start_command(&dir, command.as_deref())?;
            Ok(Prepared {
                dir,
                command,
                revision: None,
            })
        }
        Source::Tarball { path, command } => {
            let archive = existing(path)?;
            let dest = empty_deployment_dir(deployment_dir)?;
            let (max_bytes, max_entries) = (opts.max_unpacked_bytes, opts.max_entries);
            let dest2 = dest.clone();
            let unpacked = tokio::task::spawn_blocking(move || {
                unpack_tarball(&archive, &dest2, max_bytes, max_entries)
            })
            .await
            .map_err(|e| ExecutorError::io("unpack task", std::io::Error::other(e.to_string())))?;
            if let Err(e) = unpacked {
                clear_dir(&dest);
                return Err(e);
            }
            let dir = single_top_level_dir(&dest).unwrap_or(dest);
            let command = start_command(&dir, command.as_deref())?;
            Ok(Prepared {
                dir,
                command,
                revision: None,
            })
        }
        Source::Repo {
            repo,
            reference,
            command,
        } => {
            let dest = empty_deployment_dir(deployment_dir)?;
            let revision =
                match clone_repo(repo, reference.as_deref(), &dest, opts.git_timeout).await {
                    Ok(rev) => rev,
                    Err(e) => {
                        clear_dir(&dest);
                        return Err(e);
                    }
                };
            let command = start_command(&dest, command.as_deref())?;
            Ok(Prepared {
                dir: dest,
                command,
                revision: Some(revision),
            })
        }
        Source::Image { image } => {
            validate_image(image)?;
            let engine =
                find_container_engine(image, &opts.engines, opts.engine_probe_timeout).await?;
            std::fs::create_dir_all(deployment_dir).map_err(|e| {
                ExecutorError::io(format!("create {}", deployment_dir.display()), e)
            })?;
            let dir = deployment_dir.canonicalize().map_err(|e| {
                ExecutorError::io(format!("resolve {}", deployment_dir.display()), e)
            })?;
            Ok(Prepared {
                dir,
                command: StartCommand::Container {
                    engine,
                    image: image.clone(),
                },
                revision: None,
            })
        }
    }
}

/// `path` canonicalized, or `SourceNotFound`.
fn existing(path: &Path) -> Result<PathBuf> {
    match path.canonicalize() {
        Ok(p) => Ok(p),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(ExecutorError::SourceNotFound {
            path: path.to_path_buf(),
        }),
        Err(e) => Err(ExecutorError::io(format!("resolve {}", path.display()), e)),
    }
}

/// Creates the deployment directory (or checks an existing one is empty).
fn empty_deployment_dir(dir: &Path) -> Result<PathBuf> {
    std::fs::create_dir_all(dir)
        .map_err(|e| ExecutorError::io(format!("create {}", dir.display()), e))?;
    let mut entries = std::fs::read_dir(dir)
        .map_err(|e| ExecutorError::io(format!("read {}", dir.display()), e))?;
    if entries.next().is_some() {
        return Err(ExecutorError::InvalidSpec(format!(
            "deployment directory {} is not empty",
            dir.display()
        )));
    }
    dir.canonicalize()
        .map_err(|e| ExecutorError::io(format!("resolve {}", dir.display()), e))
}

/// Removes what a failed unpack or clone left, keeping the directory itself.
fn clear_dir(dir: &Path) {
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            let is_dir = entry.file_type().map(|t| t.is_dir()).unwrap_or(false);
            let _ = if is_dir {
                std::fs::remove_dir_all(&path)
            } else {
                std::fs::remove_file(&path)
            };
        }
    }
}

fn single_top_level_dir(dest: &Path) -> Option<PathBuf> {
    let mut entries = std::fs::read_dir(dest).ok()?;
    let only = entries.next()?.ok()?;
    if entries.next().is_some() {
        return None;
    }
    only.file_type().ok()?.is_dir().then(|| only.path())
}

// ---------------------------------------------------------------------------
// Start command detection

/// What [`start_command`] looks for when no command is given, in order.
pub(crate) const LOOKED_FOR: [&str; 3] = [
    "Procfile with a `web:` line",
    "executable `start`",
    "executable `start.sh`",
];

/// The explicit command, or one detected in `dir`: a `Procfile` `web:` line
/// (run through `sh -c`), else an executable `start` or `start.sh`.
pub(crate) fn start_command(dir: &Path, explicit: Option<&[String]>) -> Result<StartCommand> {
    if let Some(argv) = explicit {
        if argv.is_empty() || argv[0].is_empty() {
            return Err(ExecutorError::InvalidSpec("command is empty".into()));
        }
        return Ok(StartCommand::Argv {
            argv: argv.to_vec(),
        });
    }
    if let Ok(text) = std::fs::read_to_string(dir.join("Procfile"))
        && let Some(script) = procfile_web(&text)
    {
        return Ok(StartCommand::Shell { script });
    }
    for name in ["start", "start.sh"] {
        let path = dir.join(name);
        if is_executable_file(&path) {
            return Ok(StartCommand::Argv {
                argv: vec![path.to_string_lossy().into_owned()],
            });
        }
    }
    Err(ExecutorError::NoStartCommand {
        dir: dir.to_path_buf(),
        looked_for: LOOKED_FOR.iter().map(|s| s.to_string()).collect(),
    })
}

/// The command of a Procfile's `web:` process type.
pub(crate) fn procfile_web(text: &str) -> Option<String> {
    text.lines().find_map(|line| {
        let line = line.trim();
        if line.starts_with('#') {
            return None;
        }
        let (kind, cmd) = line.split_once(':')?;
        (kind.trim() == "web" && !cmd.trim().is_empty()).then(|| cmd.trim().to_string())
    })
}

fn is_executable_file(path: &Path) -> bool {
    std::fs::metadata(path)
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

/// `name` looked up on `PATH` (an executable file).
pub(crate) fn find_on_path(name: &str) -> Option<PathBuf> {
    if name.contains('/') {
        let p = PathBuf::from(name);
        return is_executable_file(&p).then_some(p);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| is_executable_file(p))
}

// ---------------------------------------------------------------------------
// Tarballs

/// Unpacks a `.tar.gz` into `dest` (existing, canonical), rejecting absolute
/// paths, `..` components, links leaving `dest`, special files and sizes
/// over `max_bytes`.
pub(crate) fn unpack_tarball(
    archive: &Path,
    dest: &Path,
    max_bytes: u64,
    max_entries: u64,
) -> Result<()> {
    use tar::EntryType;
    let file = std::fs::File::open(archive)
        .map_err(|e| ExecutorError::io(format!("open {}", archive.display()), e))?;
    let gz = flate2::read::GzDecoder::new(std::io::BufReader::new(file));
    let mut ar = tar::Archive::new(gz);
    ar.set_preserve_permissions(false);
    ar.set_preserve_mtime(true);
    ar.set_unpack_xattrs(false);
    ar.set_overwrite(true);
    let bad =
        |e: std::io::Error| ExecutorError::io(format!("read archive {}", archive.display()), e);
    let mut total: u64 = 0;
    let mut count: u64 = 0;
    let mut symlinks = Vec::new();
    for entry in ar.entries().map_err(bad)? {
        let mut entry = entry.map_err(bad)?;
        count += 1;
        if count > max_entries {
            return Err(ExecutorError::UnsafeArchive {
                entry: String::new(),
                reason: format!("more than {max_entries} entries"),
            });
        }
        let raw = entry.path().map_err(bad)?.into_owned();
        let name = raw.to_string_lossy().into_owned();
        let unsafe_entry = |reason: &str| ExecutorError::UnsafeArchive {
            entry: name.clone(),
            reason: reason.into(),
        };
        let rel = safe_relative(&raw).map_err(&unsafe_entry)?;
        if rel.as_os_str().is_empty() {
            continue;
        }
        match entry.header().entry_type() {
            EntryType::Regular | EntryType::Continuous => {
                total = total.saturating_add(entry.size());
                if total > max_bytes {
                    return Err(ExecutorError::ArchiveTooLarge { limit: max_bytes });
                }
            }
            EntryType::Directory => {}
            EntryType::Symlink => {
                let target = entry
                    .link_name()
                    .map_err(bad)?
                    .ok_or_else(|| unsafe_entry("symlink without target"))?;
                if target.is_absolute() {
                    return Err(unsafe_entry("symlink to an absolute path"));
                }
                let joined = rel.parent().unwrap_or(Path::new("")).join(&target);
                if lexical_normalize(&joined).is_none() {
                    return Err(unsafe_entry("symlink pointing outside the archive"));
                }
                symlinks.push((rel.clone(), name.clone()));
            }
            EntryType::Link => {
                let target = entry
                    .link_name()
                    .map_err(bad)?
                    .ok_or_else(|| unsafe_entry("hard link without target"))?;
                safe_relative(&target)
                    .map_err(|_| unsafe_entry("hard link pointing outside the archive"))?;
            }
            EntryType::GNUSparse => return Err(unsafe_entry("sparse files are not supported")),
            EntryType::XGlobalHeader
            | EntryType::XHeader
            | EntryType::GNULongName
            | EntryType::GNULongLink => {
                continue;
            }
            other => {
                tracing::warn!(entry = %name, kind = ?other, "skipping special file in archive");
                continue;
            }
        }
        // unpack_in also refuses to write through a symlinked parent that
        // leads outside `dest`.
        // An entry the unpacker cannot write (a file under a file, a path through a
        // link leading out) is the archive's fault: a bad source. Only a full disk
        // or memory is the machine's.
        let done = entry.unpack_in(dest).map_err(|e| match e.kind() {
            std::io::ErrorKind::StorageFull
            | std::io::ErrorKind::QuotaExceeded
            | std::io::ErrorKind::OutOfMemory => ExecutorError::io(format!("unpack {name:?}"), e),
            kind => unsafe_entry(&format!("it cannot be unpacked ({kind})")),
        })?;
        if !done {
            return Err(unsafe_entry("refused by the unpacker"));
        }
    }
    // Links through links (`a -> ..` in a subdirectory, then `b -> a/..`)
    // pass the lexical check; resolve what was created on disk.
    for (rel, name) in symlinks {
        let link = dest.join(&rel);
        let Ok(target) = std::fs::read_link(&link) else {
            continue;
        };
        let resolved = link.parent().unwrap_or(dest).join(target);
        if !resolves_inside(dest, &resolved) {
            return Err(ExecutorError::UnsafeArchive {
                entry: name,
                reason: "symlink pointing outside the archive".into(),
            });
        }
    }
    Ok(())
}

/// The entry path as a relative path of normal components, or why not.
fn safe_relative(path: &Path) -> std::result::Result<PathBuf, &'static str> {
    let mut out = PathBuf::new();
    for comp in path.components() {
        match comp {
            Component::Normal(c) => out.push(c),
            Component::CurDir => {}
            Component::ParentDir => return Err("path traversal (`..` component)"),
            Component::RootDir | Component::Prefix(_) => return Err("absolute path"),
        }
    }
    Ok(out)
}

/// Resolves `.`/`..` lexically; None when it climbs above the start.
fn lexical_normalize(path: &Path) -> Option<PathBuf> {
    let mut parts: Vec<&OsStr> = Vec::new();
    for comp in path.components() {
        match comp {
            Component::Normal(c) => parts.push(c),
            Component::CurDir => {}
            Component::ParentDir => {
                parts.pop()?;
            }
            Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    Some(parts.iter().collect())
}

/// Whether `path` (absolute, under `root`) resolves inside `root` once the
/// symlinks that exist are followed; the part that does not exist yet must
/// not climb with `..`.
fn resolves_inside(root: &Path, path: &Path) -> bool {
    let mut existing = path.to_path_buf();
    let mut rest: Vec<std::ffi::OsString> = Vec::new();
    loop {
        if let Ok(real) = existing.canonicalize() {
            if !real.starts_with(root) {
                return false;
            }
            return rest.iter().all(|c| c != "..");
        }
        match (existing.file_name(), existing.parent()) {
            (Some(name), Some(parent)) => {
                rest.push(name.to_os_string());
                existing = parent.to_path_buf();
            }
            // A trailing `..` over a path that does not exist: refuse.
            _ => return false,
        }
    }
}

// ---------------------------------------------------------------------------
// Git

/// Clones `repo` at `reference` into `dest` (existing, empty); returns the
/// commit checked out.
async fn clone_repo(
    repo: &str,
    reference: Option<&str>,
    dest: &Path,
    timeout: Duration,
) -> Result<String> {
    let repo = repo.trim();
    if repo.is_empty() || repo.starts_with('-') || repo.chars().any(char::is_control) {
        return Err(ExecutorError::InvalidSpec(format!(
            "invalid repository {repo:?}"
        )));
    }
    if let Some(r) = reference
        && (r.is_empty()
            || r.starts_with('-')
            || r.chars().any(|c| c.is_whitespace() || c.is_control()))
    {
        return Err(ExecutorError::InvalidSpec(format!(
            "invalid git reference {r:?}"
        )));
    }
    if let Some(local) = local_repo_path(repo)
        && !local.exists()
    {
        return Err(ExecutorError::SourceNotFound { path: local });
    }
    let git = find_on_path("git").ok_or_else(|| ExecutorError::Git {
        step: "locate".into(),
        detail: "the git CLI is not on PATH".into(),
    })?;
    let dest_s = dest.to_string_lossy().into_owned();
    let git_cmd = |args: Vec<&str>| {
        let mut full = vec!["-c", "advice.detachedHead=false"];
        full.extend(args);
        full.into_iter().map(str::to_string).collect::<Vec<_>>()
    };
    match reference {
        None => {
            run_git(
                &git,
                "clone",
                git_cmd(vec!["clone", "--depth", "1", "--", repo, &dest_s]),
                timeout,
            )
            .await?;
        }
        Some(r) => {
            let listing = run_git(
                &git,
                "ls-remote",
                git_cmd(vec!["ls-remote", "--heads", "--tags", "--", repo]),
                timeout,
            )
            .await?;
            // `refs/heads/x` / `refs/tags/x` name the same as `x` for `--branch`.
            let r = r
                .strip_prefix("refs/heads/")
                .or_else(|| r.strip_prefix("refs/tags/"))
                .unwrap_or(r);
            let named = listing.lines().any(|l| {
                l.split_whitespace().nth(1).is_some_and(|name| {
                    name == format!("refs/heads/{r}") || name == format!("refs/tags/{r}")
                })
            });
            if named {
                run_git(
                    &git,
                    "clone",
                    git_cmd(vec![
                        "clone", "--depth", "1", "--branch", r, "--", repo, &dest_s,
                    ]),
                    timeout,
                )
                .await?;
            } else {
                run_git(
                    &git,
                    "clone",
                    git_cmd(vec!["clone", "--no-checkout", "--", repo, &dest_s]),
                    timeout,
                )
                .await?;
                run_git(
                    &git,
                    "checkout",
                    git_cmd(vec!["-C", &dest_s, "checkout", "--detach", r, "--"]),
                    timeout,
                )
                .await?;
            }
        }
    }
    let rev = run_git(
        &git,
        "rev-parse",
        git_cmd(vec!["-C", &dest_s, "rev-parse", "HEAD"]),
        timeout,
    )
    .await?;
    Ok(rev.trim().to_string())
}

/// The local path a repository string names, if it is local (a path or
/// `file://` URL rather than a remote URL or `host:path`).
fn local_repo_path(repo: &str) -> Option<PathBuf> {
    if let Some(rest) = repo.strip_prefix("file://") {
        return Some(PathBuf::from(rest));
    }
    if repo.contains("://") {
        return None;
    }
    // scp-like `user@host:path`: a colon before the first slash.
    if let Some(colon) = repo.find(':')
        && repo.find('/').is_none_or(|slash| colon < slash)
    {
        return None;
    }
    Some(PathBuf::from(repo))
}

/// Runs git without a shell, never prompting, with a deadline; returns stdout.
async fn run_git(git: &Path, step: &str, args: Vec<String>, timeout: Duration) -> Result<String> {
    let mut cmd = tokio::process::Command::new(git);
    cmd.args(&args)
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GCM_INTERACTIVE", "never")
        .env_remove("GIT_ASKPASS")
        .env_remove("SSH_ASKPASS");
    if std::env::var_os("GIT_SSH_COMMAND").is_none() {
        cmd.env("GIT_SSH_COMMAND", "ssh -o BatchMode=yes");
    }
    let out = run_bounded(cmd, timeout)
        .await
        .map_err(|detail| ExecutorError::Git {
            step: step.into(),
            detail: format!("git {}: {detail}", args.join(" ")),
        })?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        return Err(ExecutorError::Git {
            step: step.into(),
            detail: format!(
                "git {} ({}): {}",
                args.join(" "),
                out.status,
                tail(&stderr, 2000)
            ),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn tail(text: &str, max: usize) -> String {
    let t = text.trim();
    if t.len() <= max {
        return t.to_string();
    }
    let mut start = t.len() - max;
    while !t.is_char_boundary(start) {
        start += 1;
    }
    format!("…{}", &t[start..])
}

/// Runs `cmd` (stdin closed, output captured) in its own process group; on
/// timeout the whole group is killed.
pub(crate) async fn run_bounded(
    mut cmd: tokio::process::Command,
    timeout: Duration,
) -> std::result::Result<std::process::Output, String> {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    let child = cmd.spawn().map_err(|e| format!("cannot start: {e}"))?;
    let pid = child.id();
    match tokio::time::timeout(timeout, child.wait_with_output()).await {
        Ok(Ok(out)) => Ok(out),
        Ok(Err(e)) => Err(format!("wait failed: {e}")),
        Err(_) => {
            if let Some(pid) = pid {
                // SAFETY: signalling our own child's process group.
                unsafe { libc::kill(-(pid as libc::pid_t), libc::SIGKILL) };
            }
            Err(format!("timed out after {timeout:?}"))
        }
    }
}

// ---------------------------------------------------------------------------
// Container images

fn validate_image(image: &str) -> Result<()> {
    if image.is_empty()
        || image.starts_with('-')
        || image.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(ExecutorError::InvalidSpec(format!(
            "invalid image name {image:?}"
        )));
    }
    Ok(())
}

/// The first engine CLI on PATH whose `<engine> info` exits 0 in time.
async fn find_container_engine(
    image: &str,
    engines: &[String],
    timeout: Duration,
) -> Result<String> {
    let mut tried = Vec::new();
    for engine in engines {
        let Some(path) = find_on_path(engine) else {
            tried.push(format!("{engine}: not on PATH"));
            continue;
        };
        let mut cmd = tokio::process::Command::new(&path);
        cmd.arg("info");
        match run_bounded(cmd, timeout).await {
            Ok(out) if out.status.success() => return Ok(path.to_string_lossy().into_owned()),
            Ok(out) => {
                let stderr = String::from_utf8_lossy(&out.stderr);
                let first = stderr
                    .lines()
                    .map(str::trim)
                    .find(|l| !l.is_empty())
                    .unwrap_or("");
                tried.push(format!(
                    "{engine}: `{engine} info` failed ({}): {}",
                    out.status,
                    tail(first, 300)
                ));
            }
            Err(why) => tried.push(format!("{engine}: `{engine} info` {why}")),
        }
    }
    Err(ExecutorError::NoContainerEngine {
        image: image.to_string(),
        detail: tried.join("; "),
    })
}
