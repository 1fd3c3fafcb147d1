//! Resource limits: `setrlimit` in the child (always) and a cgroup v2 child
//! group with `memory.max` / `cpu.max` / `pids.max` (when the host allows it).

use std::fs::{File, OpenOptions};
use std::os::fd::{AsRawFd, RawFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Limits for one supervised process.
///
/// The rlimits are set in the child between `fork` and `exec` and are
/// inherited by everything it starts; they are per process, not per group
/// (a process that forks ten children can use ten times `memory_bytes`).
/// When cgroup v2 is usable the memory / CPU / process limits are also
/// enforced for the whole group through a child cgroup.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ResourceLimits {
    /// Memory limit: an rlimit chosen by `memory_rlimit` (default
    /// `RLIMIT_AS`) and cgroup `memory.max`.
    pub memory_bytes: Option<u64>,
    /// Which rlimit carries `memory_bytes`. `RLIMIT_AS` counts virtual
    /// memory, and runtimes that reserve large virtual ranges up front do not
    /// even start under a small one (measured here: Node fails at 512 MiB
    /// with "Failed to reserve virtual memory for CodeRange", the JVM with
    /// "Could not reserve enough space for object heap"; both start under
    /// `RLIMIT_DATA` 512 MiB). [`MemoryRlimit::Data`] limits the writable
    /// private memory instead, which still stops a Python/C allocation.
    #[serde(default)]
    pub memory_rlimit: MemoryRlimit,
    /// Total CPU time in seconds (`RLIMIT_CPU`): the kernel sends `SIGXCPU`
    /// then `SIGKILL` when a process has used that much CPU.
    pub cpu_seconds: Option<u64>,
    /// CPU bandwidth in millicores (1000 = one full core) for cgroup
    /// `cpu.max`; only applies when a cgroup is used.
    pub cpu_millicores: Option<u64>,
    /// `RLIMIT_NPROC` and cgroup `pids.max`. `RLIMIT_NPROC` counts every
    /// process of the same real user (not only this deployment's) and is
    /// **not enforced for root** (or any process with `CAP_SYS_RESOURCE` /
    /// `CAP_SYS_ADMIN`): as root only the cgroup `pids.max` limits it.
    pub max_processes: Option<u64>,
    /// Open file descriptors (`RLIMIT_NOFILE`).
    pub open_files: Option<u64>,
}

impl ResourceLimits {
    pub fn is_empty(&self) -> bool {
        self.memory_bytes.is_none()
            && self.cpu_seconds.is_none()
            && self.cpu_millicores.is_none()
            && self.max_processes.is_none()
            && self.open_files.is_none()
    }

    /// The `(resource, value)` pairs to set with `setrlimit`.
    pub(crate) fn rlimits(&self) -> Vec<(RlimitResource, u64)> {
        let mut out = Vec::new();
        if let Some(v) = self.memory_bytes {
            match self.memory_rlimit {
                MemoryRlimit::AddressSpace => out.push((libc::RLIMIT_AS as RlimitResource, v)),
                MemoryRlimit::Data => out.push((libc::RLIMIT_DATA as RlimitResource, v)),
                MemoryRlimit::None => {}
            }
        }
        if let Some(v) = self.cpu_seconds {
            out.push((libc::RLIMIT_CPU as RlimitResource, v));
        }
        if let Some(v) = self.max_processes {
            out.push((libc::RLIMIT_NPROC as RlimitResource, v));
        }
        if let Some(v) = self.open_files {
            out.push((libc::RLIMIT_NOFILE as RlimitResource, v));
        }
        out
    }

    fn wants_cgroup(&self) -> bool {
        self.memory_bytes.is_some() || self.cpu_millicores.is_some() || self.max_processes.is_some()
    }
}

/// The rlimit that carries [`ResourceLimits::memory_bytes`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MemoryRlimit {
    /// `RLIMIT_AS`: total virtual address space.
    #[default]
    AddressSpace,
    /// `RLIMIT_DATA` (Linux ≥ 4.7): writable private mappings (heap,
    /// anonymous mmap); virtual reservations made `PROT_NONE` do not count.
    Data,
    /// No memory rlimit (only the cgroup `memory.max`, when there is one).
    None,
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub(crate) type RlimitResource = libc::__rlimit_resource_t;
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub(crate) type RlimitResource = libc::c_int;

/// What was actually applied to a supervised process.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AppliedLimits {
    /// The process runs in its own cgroup v2 group with the limits written.
    pub cgroup: bool,
    /// At least one rlimit is set in the child.
    pub rlimits: bool,
    /// Human-readable account: which rlimits, which cgroup files, why a
    /// cgroup was not used.
    pub detail: String,
}

/// Sets the rlimits; called in the child between fork and exec, so it only
/// uses async-signal-safe calls.
pub(crate) fn apply_rlimits_in_child(limits: &[(RlimitResource, u64)]) -> std::io::Result<()> {
    for &(resource, value) in limits {
        let lim = libc::rlimit {
            rlim_cur: value as libc::rlim_t,
            rlim_max: value as libc::rlim_t,
        };
        // SAFETY: setrlimit is async-signal-safe and `lim` is a valid pointer.
        if unsafe { libc::setrlimit(resource, &lim) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Moves the calling process (the child, before exec) into the cgroup whose
/// `cgroup.procs` is open as `fd`: writing "0" moves the writer.
pub(crate) fn join_cgroup_in_child(fd: RawFd) -> std::io::Result<()> {
    // SAFETY: write(2) is async-signal-safe; the buffer is a static byte.
    let n = unsafe { libc::write(fd, b"0".as_ptr().cast(), 1) };
    if n != 1 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// A cgroup v2 group created for one deployment; removed on drop (after its
/// processes are gone).
#[derive(Debug)]
pub(crate) struct Cgroup {
    path: PathBuf,
}

static CGROUP_SEQ: AtomicU64 = AtomicU64::new(0);

impl Cgroup {
    /// Tries to create a child group of this process's cgroup under the
    /// cgroup v2 mount `root` (normally `/sys/fs/cgroup`) and write the
    /// limits. Returns the group and a description, or why not.
    pub(crate) fn create(root: &Path, limits: &ResourceLimits) -> Result<(Cgroup, String), String> {
        let own = own_cgroup_path().unwrap_or_default();
        Self::create_in(root, &own, limits)
    }

    /// As [`Cgroup::create`], with this process's group path `own` given.
    pub(crate) fn create_in(
        root: &Path,
        own: &str,
        limits: &ResourceLimits,
    ) -> Result<(Cgroup, String), String> {
        if !limits.wants_cgroup() {
            return Err("no memory/cpu/process limit asked".into());
        }
        let controllers_file = root.join("cgroup.controllers");
        let available = std::fs::read_to_string(&controllers_file).map_err(|_| {
            format!(
                "cgroup v2 not mounted at {} ({} missing)",
                root.display(),
                controllers_file.display()
            )
        })?;
        let available: Vec<&str> = available.split_whitespace().collect();
        let parent = root.join(own.trim_start_matches('/'));
        let mut needed = Vec::new();
        if limits.memory_bytes.is_some() {
            needed.push("memory");
        }
        if limits.cpu_millicores.is_some() {
            needed.push("cpu");
        }
        if limits.max_processes.is_some() {
            needed.push("pids");
        }
        let missing: Vec<&str> = needed
            .iter()
            .copied()
            .filter(|c| !available.contains(c))
            .collect();
        if !missing.is_empty() {
            return Err(format!(
                "cgroup v2 controllers not available: {}",
                missing.join(", ")
            ));
        }
        // Enable the controllers for children of our own group (may fail when
        // our group holds processes and is not the root: "no internal processes").
        let subtree = parent.join("cgroup.subtree_control");
        let enabled = std::fs::read_to_string(&subtree).unwrap_or_default();
        let to_enable: Vec<String> = needed
            .iter()
            .filter(|c| !enabled.split_whitespace().any(|e| e == **c))
            .map(|c| format!("+{c}"))
            .collect();
        if !to_enable.is_empty() {
            std::fs::write(&subtree, to_enable.join(" ")).map_err(|e| {
                format!(
                    "cannot enable {} in {}: {e}",
                    to_enable.join(" "),
                    subtree.display()
                )
            })?;
        }
        let name = format!(
            "heroa-exec-{}-{}",
            std::process::id(),
            CGROUP_SEQ.fetch_add(1, Ordering::Relaxed)
        );
        let path = parent.join(name);
        std::fs::create_dir(&path)
            .map_err(|e| format!("cannot create cgroup {}: {e}", path.display()))?;
        let group = Cgroup { path };
        let mut written = Vec::new();
        if let Some(bytes) = limits.memory_bytes {
            group.write("memory.max", &bytes.to_string())?;
            let _ = group.write("memory.swap.max", "0");
            written.push(format!("memory.max={bytes}"));
        }
        if let Some(milli) = limits.cpu_millicores {
            let period = 100_000u64;
            let quota = (milli.saturating_mul(period) / 1000).max(1000);
            let value = format!("{quota} {period}");
            group.write("cpu.max", &value)?;
            written.push(format!("cpu.max={value}"));
        }
        if let Some(n) = limits.max_processes {
            group.write("pids.max", &n.to_string())?;
            written.push(format!("pids.max={n}"));
        }
        let detail = format!("cgroup {} ({})", group.path.display(), written.join(" "));
        Ok((group, detail))
    }

    fn write(&self, file: &str, value: &str) -> Result<(), String> {
        std::fs::write(self.path.join(file), value).map_err(|e| {
            format!(
                "cannot write {value:?} to {}: {e}",
                self.path.join(file).display()
            )
        })
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Opens `cgroup.procs` for the child to join before exec.
    pub(crate) fn open_procs(&self) -> std::io::Result<File> {
        OpenOptions::new()
            .write(true)
            .open(self.path.join("cgroup.procs"))
    }

    /// Kills every process in the group (`cgroup.kill`, Linux ≥ 5.14).
    pub(crate) fn kill_all(&self) {
        let _ = std::fs::write(self.path.join("cgroup.kill"), "1");
    }
}

impl Drop for Cgroup {
    fn drop(&mut self) {
        // rmdir fails while processes remain; they are gone by the time the
        // supervisor drops the group, a few retries cover the kernel's lag.
        for _ in 0..20 {
            match std::fs::remove_dir(&self.path) {
                Ok(()) => return,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return,
                Err(_) => std::thread::sleep(std::time::Duration::from_millis(10)),
            }
        }
        // A regular directory (tests use a fake cgroup tree) holds files.
        if !self.path.starts_with("/sys/fs/cgroup") {
            let _ = std::fs::remove_dir_all(&self.path);
        } else {
            tracing::warn!(path = %self.path.display(), "could not remove cgroup");
        }
    }
}

/// This process's cgroup v2 path (the `0::` line of `/proc/self/cgroup`).
fn own_cgroup_path() -> Option<String> {
    let text = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("0::"))
        .map(str::to_string)
}

/// Decides and prepares the limits for a spawn: the rlimits, and a cgroup
/// when `use_cgroup` and the host allows it.
pub(crate) fn plan(
    limits: &ResourceLimits,
    use_cgroup: bool,
    cgroup_root: &Path,
) -> (Vec<(RlimitResource, u64)>, Option<Cgroup>, AppliedLimits) {
    let rl = limits.rlimits();
    let mut parts = Vec::new();
    if !rl.is_empty() {
        let mut names = Vec::new();
        if let Some(v) = limits.memory_bytes {
            match limits.memory_rlimit {
                MemoryRlimit::AddressSpace => names.push(format!("AS={v}")),
                MemoryRlimit::Data => names.push(format!("DATA={v}")),
                MemoryRlimit::None => {}
            }
        }
        if let Some(v) = limits.cpu_seconds {
            names.push(format!("CPU={v}s"));
        }
        if let Some(v) = limits.max_processes {
            // SAFETY: geteuid has no preconditions.
            let root = unsafe { libc::geteuid() } == 0;
            names.push(if root {
                format!("NPROC={v} (not enforced: running as root)")
            } else {
                format!("NPROC={v}")
            });
        }
        if let Some(v) = limits.open_files {
            names.push(format!("NOFILE={v}"));
        }
        parts.push(format!("rlimits {}", names.join(" ")));
    }
    let mut cgroup = None;
    if limits.wants_cgroup() {
        if !use_cgroup {
            parts.push("cgroup disabled by spec".into());
        } else {
            match Cgroup::create(cgroup_root, limits) {
                Ok((group, detail)) => {
                    parts.push(detail);
                    cgroup = Some(group);
                }
                Err(why) => {
                    parts.push(format!("no cgroup: {why}; rlimits only"));
                    if limits.cpu_millicores.is_some() {
                        parts.push("cpu_millicores not applied (needs a cgroup)".into());
                    }
                }
            }
        }
    }
    if parts.is_empty() {
        parts.push("no limits".into());
    }
    let applied = AppliedLimits {
        cgroup: cgroup.is_some(),
        rlimits: !rl.is_empty(),
        detail: parts.join("; "),
    };
    (rl, cgroup, applied)
}

pub(crate) fn raw_fd(file: &File) -> RawFd {
    file.as_raw_fd()
}
