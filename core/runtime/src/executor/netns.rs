//! Network namespaces for deployed processes.
//!
//! A [`Netns`] is a new, anonymous Linux network namespace holding nothing but
//! its own loopback interface: no route leaves it, so a process placed in it
//! can open sockets only to what listens *inside* the namespace. (The
//! supervisor also drops every privilege of the process, without which it
//! could `setns` back into the runtime's namespace.) The runtime
//! puts two things there:
//!
//! - the deployment's egress proxy ([`Netns::listen`]): its listening socket
//!   lives in the namespace while its outgoing connections are made from the
//!   runtime's own namespace, so the proxy is the process's only way out;
//! - the process itself ([`Netns::enter_in_child`], called between `fork` and
//!   `exec`), which listens on `127.0.0.1:$PORT` of the namespace.
//!
//! The runtime reaches the process through sockets created in the namespace
//! ([`Netns::connect`]) and publishes it on the host loopback with a
//! [`PortForward`], so the gateway, health checks and service resolution keep
//! talking to a plain `127.0.0.1:<port>`.
//!
//! Creating a namespace needs `CAP_SYS_ADMIN` (root, or a user namespace that
//! grants it); [`Netns::create`] fails with the OS error elsewhere and callers
//! fall back to the host network.
//!
//! A namespace is never bound to a path (nothing in `/run/netns`): it lives
//! while a [`Netns`] handle or a process inside it does, and disappears with
//! the last of them, even after a `kill -9` of the runtime.

use std::fs::File;
use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::mpsc;

use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::task::JoinHandle;

type Job = Box<dyn FnOnce() + Send>;

/// A network namespace with only a loopback interface (see the module docs).
///
/// A thread of the runtime lives in the namespace for the handle's lifetime
/// and creates the sockets asked for; dropping the handle ends it.
pub struct Netns {
    /// `/proc/thread-self/ns/net` of that thread: what a child process joins.
    file: File,
    /// Jobs run on the thread inside the namespace.
    jobs: mpsc::Sender<Job>,
}

impl std::fmt::Debug for Netns {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Netns")
            .field("fd", &self.file.as_raw_fd())
            .finish()
    }
}

impl Netns {
    /// Creates a namespace with its loopback interface up.
    ///
    /// Fails with the OS error (`EPERM` without `CAP_SYS_ADMIN`, `EINVAL` or
    /// `ENOSYS` on kernels without network namespaces) on the thread that
    /// tried it; nothing is left behind.
    pub fn create() -> io::Result<Netns> {
        let (jobs, inbox) = mpsc::channel::<Job>();
        let (ready, ready_rx) = mpsc::sync_channel::<io::Result<File>>(1);
        std::thread::Builder::new()
            .name("heroa-netns".into())
            .spawn(move || {
                let setup = enter_new_namespace();
                let ok = setup.is_ok();
                let _ = ready.send(setup);
                if ok {
                    while let Ok(job) = inbox.recv() {
                        job();
                    }
                }
            })?;
        let file = ready_rx
            .recv()
            .map_err(|_| io::Error::other("the network namespace thread ended early"))??;
        Ok(Netns { file, jobs })
    }

    /// Runs `f` on the thread inside the namespace; awaits its result without
    /// blocking the caller's thread.
    async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> io::Result<T> {
        let ended = || io::Error::other("the network namespace thread has ended");
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.jobs
            .send(Box::new(move || {
                let _ = tx.send(f());
            }))
            .map_err(|_| ended())?;
        rx.await.map_err(|_| ended())
    }

    /// A TCP listener bound to `addr` inside the namespace. Call from a Tokio
    /// runtime.
    pub async fn listen(&self, addr: SocketAddr) -> io::Result<TcpListener> {
        let listener = self
            .run(move || std::net::TcpListener::bind(addr))
            .await??;
        listener.set_nonblocking(true)?;
        TcpListener::from_std(listener)
    }

    /// Connects to `addr` as seen from inside the namespace.
    pub async fn connect(&self, addr: SocketAddr) -> io::Result<TcpStream> {
        let ipv6 = addr.is_ipv6();
        let fd = self.run(move || new_stream_socket(ipv6)).await??;
        TcpSocket::from_std_stream(std::net::TcpStream::from(fd))
            .connect(addr)
            .await
    }

    /// For `pre_exec`: moves the calling (child) process into the namespace.
    /// Only calls `setns(2)`, which is async-signal-safe.
    pub fn enter_in_child(&self) -> impl Fn() -> io::Result<()> + Send + Sync + 'static {
        let fd: RawFd = self.file.as_raw_fd();
        move || {
            // SAFETY: `fd` is the namespace file, open (and inherited) until
            // `exec` closes it (O_CLOEXEC); setns only reads it.
            if unsafe { libc::setns(fd, libc::CLONE_NEWNET) } == 0 {
                Ok(())
            } else {
                Err(io::Error::last_os_error())
            }
        }
    }
}

/// On the calling thread: a new network namespace, loopback up; the
/// namespace's file.
fn enter_new_namespace() -> io::Result<File> {
    // SAFETY: unshare with CLONE_NEWNET only changes this thread's namespace.
    if unsafe { libc::unshare(libc::CLONE_NEWNET) } != 0 {
        return Err(io::Error::last_os_error());
    }
    loopback_up()?;
    File::open("/proc/thread-self/ns/net")
}

/// Sets `IFF_UP` on `lo` of the calling thread's namespace.
fn loopback_up() -> io::Result<()> {
    // SAFETY: plain socket/ioctl calls on a zeroed `ifreq` naming "lo"; the
    // descriptor is owned (closed) by `OwnedFd`.
    unsafe {
        let raw = libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0);
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        let socket = OwnedFd::from_raw_fd(raw);
        let mut req: libc::ifreq = std::mem::zeroed();
        for (dst, src) in req.ifr_name.iter_mut().zip(b"lo\0") {
            *dst = *src as libc::c_char;
        }
        if libc::ioctl(socket.as_raw_fd(), libc::SIOCGIFFLAGS, &mut req) < 0 {
            return Err(io::Error::last_os_error());
        }
        req.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short;
        if libc::ioctl(socket.as_raw_fd(), libc::SIOCSIFFLAGS, &req) < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// A non-blocking TCP socket of the calling thread's namespace.
fn new_stream_socket(ipv6: bool) -> io::Result<OwnedFd> {
    let domain = if ipv6 { libc::AF_INET6 } else { libc::AF_INET };
    // SAFETY: socket(2) with constant arguments; the result is checked and owned.
    let raw = unsafe {
        libc::socket(
            domain,
            libc::SOCK_STREAM | libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK,
            0,
        )
    };
    if raw < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `raw` is a new descriptor nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(raw) })
}

/// Publishes a port of a namespace on the host: every connection accepted on
/// [`PortForward::addr`] (host `127.0.0.1`) is joined to `127.0.0.1:<port>`
/// inside the namespace. Dropping it stops accepting.
#[derive(Debug)]
pub struct PortForward {
    addr: SocketAddr,
    task: JoinHandle<()>,
}

impl PortForward {
    /// Listens on a free host loopback port and forwards to `port` in `netns`.
    /// Call from a Tokio runtime.
    pub async fn start(netns: std::sync::Arc<Netns>, port: u16) -> io::Result<PortForward> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let target = SocketAddr::from(([127, 0, 0, 1], port));
        let task = tokio::spawn(async move {
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else {
                    // Out of descriptors, say: let some close.
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                    continue;
                };
                let netns = netns.clone();
                tokio::spawn(async move {
                    // Nothing listening inside (yet): close, as a refused
                    // connection would.
                    if let Ok(mut outbound) = netns.connect(target).await {
                        let _ = inbound.set_nodelay(true);
                        let _ = outbound.set_nodelay(true);
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
            }
        });
        Ok(PortForward { addr, task })
    }

    /// The host address that reaches the namespace's port.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for PortForward {
    fn drop(&mut self) {
        self.task.abort();
    }
}
