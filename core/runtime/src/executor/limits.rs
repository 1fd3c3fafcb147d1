//! Resource limits: `setrlimit` in the child (always) and a cgroup of its own
//! (when the host allows it): a cgroup v2 child group with `memory.max` /
//! `cpu.max` / `pids.max`, or, on hosts that mount the cgroup v1 controllers,
//! one group per v1 hierarchy with `memory.limit_in_bytes` /
//! `cpu.cfs_quota_us` / `pids.max`.

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
        !self.controllers().is_empty()
    }

    /// The cgroup controllers these limits need.
    fn controllers(&self) -> Vec<&'static str> {
        let mut needed = Vec::new();
        if self.memory_bytes.is_some() {
            needed.push("memory");
        }
        if self.cpu_millicores.is_some() {
            needed.push("cpu");
        }
        if self.max_processes.is_some() {
            needed.push("pids");
        }
        needed
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
    /// The process runs in a cgroup of its own (v2, or v1 controllers) with
    /// the limits written.
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

/// Drops every privilege the child could inherit, between fork and exec
/// (async-signal-safe calls only): `PR_SET_NO_NEW_PRIVS` (no setuid or file
/// capability gains at exec), every capability out of the bounding set (so a
/// uid-0 child gets none at exec either), and the current capability sets
/// cleared. The process can then not leave its network namespace (`setns`
/// needs `CAP_SYS_ADMIN`), trace the runtime, or lift its own limits.
/// Unprivileged runtimes have nothing to drop: `EPERM` from the bounding-set
/// drop is ignored.
pub(crate) fn drop_privileges_in_child() -> std::io::Result<()> {
    // SAFETY: prctl/syscall with constant arguments and pointers to locals.
    unsafe {
        if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        // Capability numbers past the kernel's last one answer EINVAL.
        for cap in 0..64 {
            if libc::prctl(libc::PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 {
                match *libc::__errno_location() {
                    libc::EINVAL => break,
                    libc::EPERM => break,
                    _ => return Err(std::io::Error::last_os_error()),
                }
            }
        }
        #[repr(C)]
        struct Header {
            version: u32,
            pid: libc::c_int,
        }
        #[repr(C)]
        struct Data {
            effective: u32,
            permitted: u32,
            inheritable: u32,
        }
        // _LINUX_CAPABILITY_VERSION_3: two 32-bit words per set.
        let header = Header {
            version: 0x2008_0522,
            pid: 0,
        };
        let empty = [
            Data {
                effective: 0,
                permitted: 0,
                inheritable: 0,
            },
            Data {
                effective: 0,
                permitted: 0,
                inheritable: 0,
            },
        ];
        if libc::syscall(libc::SYS_capset, &header, empty.as_ptr()) != 0 {
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

/// The cgroup created for one deployment — one directory under cgroup v2, one
/// per hierarchy under cgroup v1; removed on drop (after its processes are
/// gone).
#[derive(Debug)]
pub(crate) struct Cgroup {
    paths: Vec<PathBuf>,
    /// The CPU bandwidth file and value, written by
    /// [`Cgroup::apply_cpu_limit`] once the process is ready: start-up runs
    /// unthrottled (a start-up CPU boost), the tier's bandwidth holds after.
    cpu_limit: Option<(PathBuf, String)>,
}

static CGROUP_SEQ: AtomicU64 = AtomicU64::new(0);

/// `heroa-exec-<pid>-<n>`: a new group's name, unique in this process; the pid
/// lets a later runtime sweep the groups of one that is gone.
fn group_name() -> String {
    format!(
        "heroa-exec-{}-{}",
        std::process::id(),
        CGROUP_SEQ.fetch_add(1, Ordering::Relaxed)
    )
}

impl Cgroup {
    /// Tries to create a child group of this process's cgroup under the
    /// cgroup v2 mount `root` (normally `/sys/fs/cgroup`) and write the
    /// limits. Returns the group and a description, or why not.
    /// Falls back to the cgroup v1 hierarchies this process belongs to.
    pub(crate) fn create(root: &Path, limits: &ResourceLimits) -> Result<(Cgroup, String), String> {
        let own = own_cgroup_path().unwrap_or_default();
        Self::create_in(root, &own, limits).or_else(|v2| {
            Self::create_v1(&v1_hierarchies(), limits).map_err(|v1| format!("{v2}; {v1}"))
        })
    }

    /// A group in each cgroup v1 hierarchy holding a needed controller:
    /// `hierarchies` lists `(controllers, mount point, this process's path)`.
    pub(crate) fn create_v1(
        hierarchies: &[(Vec<String>, PathBuf, String)],
        limits: &ResourceLimits,
    ) -> Result<(Cgroup, String), String> {
        let needed = limits.controllers();
        let name = group_name();
        let mut group = Cgroup {
            paths: Vec::new(),
            cpu_limit: None,
        };
        let mut written = Vec::new();
        for controller in needed {
            let Some((_, mount, own)) = hierarchies
                .iter()
                .find(|(controllers, _, _)| controllers.iter().any(|c| c == controller))
            else {
                return Err(format!("no cgroup v1 hierarchy for {controller}"));
            };
            let parent = mount.join(own.trim_start_matches('/'));
            let path = parent.join(&name);
            if !group.paths.contains(&path) {
                sweep_stale_groups(&parent);
                std::fs::create_dir(&path)
                    .map_err(|e| format!("cannot create cgroup {}: {e}", path.display()))?;
                group.paths.push(path.clone());
            }
            let write = |file: &str, value: &str| write_file(&path.join(file), value);
            match controller {
                "memory" => {
                    let bytes = limits.memory_bytes.unwrap_or_default().to_string();
                    write("memory.limit_in_bytes", &bytes)?;
                    // Memory + swap, where the kernel accounts swap.
                    let _ = write("memory.memsw.limit_in_bytes", &bytes);
                    written.push(format!("memory.limit_in_bytes={bytes}"));
                }
                "cpu" => {
                    let (quota, period) = cpu_quota(limits.cpu_millicores.unwrap_or_default());
                    write("cpu.cfs_period_us", &period.to_string())?;
                    group.cpu_limit = Some((path.join("cpu.cfs_quota_us"), quota.to_string()));
                    written.push(format!(
                        "cpu.cfs_quota_us={quota} cpu.cfs_period_us={period} once ready"
                    ));
                }
                _ => {
                    let n = limits.max_processes.unwrap_or_default().to_string();
                    write("pids.max", &n)?;
                    written.push(format!("pids.max={n}"));
                }
            }
        }
        let dirs: Vec<String> = group
            .paths
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        let detail = format!("cgroup v1 {} ({})", dirs.join(", "), written.join(" "));
        Ok((group, detail))
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
        let needed = limits.controllers();
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
        let name = group_name();
        sweep_stale_groups(&parent);
        let path = parent.join(name);
        std::fs::create_dir(&path)
            .map_err(|e| format!("cannot create cgroup {}: {e}", path.display()))?;
        let mut group = Cgroup {
            paths: vec![path.clone()],
            cpu_limit: None,
        };
        let write = |file: &str, value: &str| write_file(&path.join(file), value);
        let mut written = Vec::new();
        if let Some(bytes) = limits.memory_bytes {
            write("memory.max", &bytes.to_string())?;
            let _ = write("memory.swap.max", "0");
            written.push(format!("memory.max={bytes}"));
        }
        if let Some(milli) = limits.cpu_millicores {
            let (quota, period) = cpu_quota(milli);
            let value = format!("{quota} {period}");
            written.push(format!("cpu.max={value} once ready"));
            group.cpu_limit = Some((path.join("cpu.max"), value));
        }
        if let Some(n) = limits.max_processes {
            write("pids.max", &n.to_string())?;
            written.push(format!("pids.max={n}"));
        }
        let detail = format!("cgroup {} ({})", path.display(), written.join(" "));
        Ok((group, detail))
    }

    /// Writes the CPU bandwidth limit (see [`Cgroup::cpu_limit`]); nothing to
    /// do when no CPU limit was asked.
    pub(crate) fn apply_cpu_limit(&self) -> Result<(), String> {
        match &self.cpu_limit {
            Some((file, value)) => write_file(file, value),
            None => Ok(()),
        }
    }

    /// The group's directories (one under cgroup v2).
    pub(crate) fn paths(&self) -> &[PathBuf] {
        &self.paths
    }

    /// Opens each directory's `cgroup.procs` for the child to join before exec.
    pub(crate) fn open_procs(&self) -> std::io::Result<Vec<File>> {
        self.paths
            .iter()
            .map(|p| OpenOptions::new().write(true).open(p.join("cgroup.procs")))
            .collect()
    }

    /// Kills every process in the group: `cgroup.kill` (cgroup v2, Linux ≥
    /// 5.14), else SIGKILL to each pid listed in `cgroup.procs`.
    /// Under v1 the listing is read again until it is empty (bounded), so
    /// processes forked meanwhile go too.
    pub(crate) fn kill_all(&self) {
        for path in &self.paths {
            if std::fs::write(path.join("cgroup.kill"), "1").is_ok() {
                continue;
            }
            for _ in 0..20 {
                let pids = std::fs::read_to_string(path.join("cgroup.procs")).unwrap_or_default();
                let pids: Vec<libc::pid_t> =
                    pids.lines().filter_map(|l| l.trim().parse().ok()).collect();
                if pids.is_empty() {
                    break;
                }
                for pid in pids {
                    // SAFETY: kill(2) with a pid read from the group; no memory involved.
                    unsafe { libc::kill(pid, libc::SIGKILL) };
                }
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
        }
    }
}

impl Drop for Cgroup {
    fn drop(&mut self) {
        for path in &self.paths {
            remove_group(path);
        }
    }
}

/// Removes a group directory. rmdir fails while processes remain; they are
/// gone by the time the supervisor drops the group, a few retries cover the
/// kernel's lag.
fn remove_group(path: &Path) {
    for _ in 0..20 {
        match std::fs::remove_dir(path) {
            Ok(()) => return,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return,
            Err(_) => std::thread::sleep(std::time::Duration::from_millis(10)),
        }
    }
    // A regular directory (tests use a fake cgroup tree) holds files.
    if !path.starts_with("/sys/fs/cgroup") {
        let _ = std::fs::remove_dir_all(path);
    } else {
        tracing::warn!(path = %path.display(), "could not remove cgroup");
    }
}

/// Removes the empty groups that runtimes which no longer exist left in
/// `parent` (`heroa-exec-<pid>-<n>` whose pid is gone, e.g. after `kill -9`).
fn sweep_stale_groups(parent: &Path) {
    let Ok(entries) = std::fs::read_dir(parent) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix("heroa-exec-"))
            .and_then(|rest| rest.split_once('-'))
            .and_then(|(pid, _)| pid.parse::<libc::pid_t>().ok())
        else {
            continue;
        };
        // SAFETY: signal 0 only checks existence.
        let gone = unsafe { libc::kill(pid, 0) } != 0
            && std::io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH);
        if gone {
            // Fails (and is left alone) while processes remain in it.
            let _ = std::fs::remove_dir(entry.path());
        }
    }
}

fn write_file(path: &Path, value: &str) -> Result<(), String> {
    std::fs::write(path, value)
        .map_err(|e| format!("cannot write {value:?} to {}: {e}", path.display()))
}

/// `(quota, period)` in µs for a CPU bandwidth of `millicores` (at least 1%
/// of a core).
fn cpu_quota(millicores: u64) -> (u64, u64) {
    let period = 100_000u64;
    ((millicores.saturating_mul(period) / 1000).max(1000), period)
}

/// The cgroup v1 hierarchies of this process: `(controllers, mount point,
/// this process's path in it)`, from `/proc/self/mountinfo` and
/// `/proc/self/cgroup`.
fn v1_hierarchies() -> Vec<(Vec<String>, PathBuf, String)> {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let membership = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
    parse_v1_hierarchies(&mountinfo, &membership)
}

/// [`v1_hierarchies`] from the two files' text.
pub(crate) fn parse_v1_hierarchies(
    mountinfo: &str,
    membership: &str,
) -> Vec<(Vec<String>, PathBuf, String)> {
    let mut out = Vec::new();
    for line in mountinfo.lines() {
        // `id parent maj:min root mount-point options… - fstype source super-options`
        let Some((left, right)) = line.split_once(" - ") else {
            continue;
        };
        let mut fs = right.split_whitespace();
        if fs.next() != Some("cgroup") {
            continue;
        }
        let mut fields = left.split_whitespace();
        let (Some(root), Some(mount), Some(options)) = (fields.nth(3), fields.next(), fs.nth(1))
        else {
            continue;
        };
        let controllers: Vec<String> = options
            .split(',')
            .filter(|o| ["memory", "cpu", "pids"].contains(o))
            .map(str::to_string)
            .collect();
        // This process's path in the hierarchy: the `N:<controllers>:<path>` line,
        // relative to what is mounted (a container may see only its own subtree,
        // mounted at the mount point).
        let own = membership.lines().find_map(|l| {
            let mut parts = l.splitn(3, ':');
            let (_, list, path) = (parts.next()?, parts.next()?, parts.next()?);
            if !list.split(',').any(|c| controllers.iter().any(|x| x == c)) {
                return None;
            }
            let relative = if root == "/" {
                path
            } else {
                path.strip_prefix(root)
                    .filter(|rest| rest.is_empty() || rest.starts_with('/'))?
            };
            Some(if relative.is_empty() { "/" } else { relative }.to_string())
        });
        if let (false, Some(own)) = (controllers.is_empty(), own) {
            out.push((controllers, PathBuf::from(mount), own));
        }
    }
    out
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
