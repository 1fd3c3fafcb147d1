//! Egress control for deployed processes: an allow-list policy and a small
//! forward proxy that enforces it.
//!
//! # Model
//!
//! A deployment's policy carries an egress section such as
//! `{"egress": "allow-list", "allow_list": ["api.stripe.com"]}`,
//! `{"egress": "none"}` (deny everything) or `{"egress": "open"}` (allow
//! everything, still logged). [`EgressPolicy::parse`] turns the two fields into
//! an [`EgressPolicy`].
//!
//! The runtime starts one [`EgressProxy`] per deployment, bound to
//! `127.0.0.1:0`, and puts [`EgressProxy::env`] into the process environment:
//! `HTTP_PROXY`, `HTTPS_PROXY`, `ALL_PROXY` (and their lower-case forms) point
//! at the proxy and `NO_PROXY`/`no_proxy` are set to the empty string so that no
//! destination is exempted. One listener per deployment means the proxy never
//! has to work out which client is which.
//!
//! The proxy understands two kinds of request:
//!
//! * `CONNECT host:port HTTP/1.1` (what clients use for HTTPS and for arbitrary
//!   TCP through an HTTP proxy). After the check, the proxy connects, answers
//!   `200 Connection Established` and relays bytes both ways.
//! * Absolute-form plain HTTP (`GET http://host:port/path HTTP/1.1`). The
//!   proxy rewrites the request line to origin form (`GET /path HTTP/1.1`),
//!   sets `Host` from the URI, drops hop-by-hop headers (`Proxy-*`,
//!   `Connection` and the headers it names, `Keep-Alive`, `TE`, `Trailer`) and
//!   sends `Connection: close` upstream. The body and the response are then
//!   relayed as raw bytes. This is **one request per client connection**: the
//!   upstream is asked to close after its response, so clients open a new proxy
//!   connection for their next request. (A `Connection: upgrade` request keeps
//!   its `Upgrade` header, so plain `ws://` works too.) If an upstream ignores
//!   `Connection: close` and a client reuses the connection anyway, its next
//!   request still goes to the *same*, already-allowed upstream: never to a
//!   host the policy did not allow.
//!
//! Every other request is refused with `400 Bad Request`. Request heads are
//! limited ([`EgressConfig::max_header_bytes`], 16 KiB by default, `431`
//! beyond that) and must arrive within [`EgressConfig::header_timeout`] (`408`).
//!
//! # Decision
//!
//! The target host is checked against the policy **before** anything is
//! resolved or connected. A refused request gets `403 Forbidden` with a short
//! body naming the host, is logged with `tracing::warn!`, and is recorded in an
//! in-memory event log ([`EgressProxy::events`], last 1000 [`EgressEvent`]s).
//! Only allowed host names are resolved, by the proxy itself
//! (`tokio::net::lookup_host`), so a refused name never causes a DNS query.
//!
//! Allow-list entries (see [`EgressPolicy::parse`]):
//!
//! * `api.stripe.com`: that exact host name (ASCII, case-insensitive, a
//!   trailing dot is ignored; internationalised names must be written in
//!   their `xn--` form);
//! * `*.example.com`: any subdomain of `example.com` at any depth, **not**
//!   `example.com` itself;
//! * `203.0.113.7`, `[2001:db8::1]` or `2001:db8::1`: that IP literal (a client
//!   must use the literal; a name that resolves to it does not match);
//! * any of the above with `:port` (`api.stripe.com:443`, `[::1]:8080`) to
//!   allow only that port; without a port every port is allowed.
//!
//! DNS-rebinding guard: when a *host name* resolves to a loopback, link-local
//! (including the `169.254.169.254` cloud-metadata address), unspecified,
//! `0.0.0.0/8`, broadcast or multicast address, that address is not used, and
//! if nothing else is left the request is refused (`403`). To reach such an
//! address, allow the IP literal itself (`127.0.0.1:8080`). This guard applies
//! to every mode, including `open`; it can be switched off with
//! [`EgressConfig::refuse_names_resolving_to_local`]. Private ranges
//! (`10/8`, `192.168/16`, ...) are *not* blocked: a name on the allow list that
//! resolves to a private address is reachable.
//!
//! [`EgressProxy::set_policy`] applies to new requests immediately, and
//! existing tunnels whose host/port the new policy no longer allows are closed
//! (and an event recorded).
//!
//! # Limits: what this proxy does *not* stop
//!
//! The proxy is cooperative. It only sees traffic from programs that honour
//! the proxy environment variables. A process that ignores them can still:
//!
//! * open TCP connections to any address directly (raw sockets,
//!   `connect(2)`), including clients that simply do not read `HTTP_PROXY`
//!   (JVMs without `-Dhttp.proxyHost`, many database drivers, `ssh`, `git://`,
//!   custom code that builds its own socket);
//! * send UDP, including its own DNS queries (so data can leak through DNS
//!   even when HTTP is refused), and use QUIC/HTTP-3 over UDP;
//! * unset or override the variables for itself or for its children;
//! * reach anything on the host's loopback interface, including the Heroa
//!   control plane and other deployments' ports, without asking the proxy;
//! * talk to other local processes through Unix sockets or the file system.
//!
//! Only kernel-level isolation stops that: a network namespace whose only way
//! out is the proxy (e.g. a namespace with just a loopback device and the proxy
//! reachable via a veth pair or a socket passed in), or firewall rules
//! (nftables / cgroup-bpf) that drop the process's traffic except toward the
//! proxy. This module provides the policy and the proxy; the runtime also
//! places apps and services in a network namespace of their own where the
//! machine permits it ([`crate::executor::netns`], [`EgressProxy::start_on`]
//! with a listener inside it) and drops the process's privileges, which
//! closes the first four holes (Unix sockets in the file system stay
//! reachable). Without one, treat this as
//! guard rails for well-behaved software and as an audit log, not as a
//! sandbox.
//!
//! Also note: `open` lets the process reach IP literals anywhere, including
//! loopback; a name on the allow list is trusted for whatever (non-local)
//! addresses it resolves to; the proxy does not inspect TLS, so after a
//! `CONNECT` to an allowed host the bytes inside the tunnel are not examined.

use std::collections::VecDeque;
use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::pin::pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio::task::{JoinHandle, JoinSet};

/// How many [`EgressEvent`]s the proxy keeps (the oldest are dropped first).
pub const MAX_EVENTS: usize = 1000;

/// Errors from parsing an egress policy or starting the proxy.
#[derive(Debug, thiserror::Error)]
pub enum EgressError {
    /// The `egress` mode is not one of `allow-list`, `none`, `open`.
    #[error("unknown egress mode {0:?}: expected \"allow-list\", \"none\" or \"open\"")]
    InvalidMode(String),
    /// An allow-list entry could not be understood.
    #[error("invalid egress allow-list entry {entry:?}: {reason}")]
    InvalidEntry {
        /// The entry as given.
        entry: String,
        /// What is wrong with it.
        reason: String,
    },
    /// `allow_list` entries were given with a mode that does not use them.
    #[error("egress mode {mode:?} does not take an allow_list, but {count} entries were given")]
    UnexpectedList {
        /// The mode given.
        mode: String,
        /// How many entries were given.
        count: usize,
    },
    /// The listener handed to [`EgressProxy::start_on`] has no local address.
    #[error("egress proxy listener has no local address: {0}")]
    Listener(io::Error),

    /// Binding the listener failed.
    #[error("egress proxy could not bind {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// The underlying error.
        source: io::Error,
    },
}

// ---------------------------------------------------------------------------
// Policy
// ---------------------------------------------------------------------------

/// Which destinations a deployment may reach.
///
/// The default is [`EgressPolicy::None`] (deny everything).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum EgressPolicy {
    /// Only the listed destinations. Entries built by [`EgressPolicy::parse`]
    /// are validated and normalised; an entry that does not parse (when the
    /// variant is constructed by hand) never matches anything.
    AllowList(Vec<String>),
    /// No egress at all.
    #[default]
    None,
    /// Every destination (requests are still logged).
    Open,
}

impl EgressPolicy {
    /// Builds a policy from the `egress` mode and the `allow_list` of a
    /// deployment policy.
    ///
    /// * `mode` is `"allow-list"` (or `"allow_list"`), `"none"` or `"open"`
    ///   (surrounding white space and case are ignored);
    /// * `list` must be empty unless the mode is `allow-list`;
    /// * each entry is validated (see the module docs for the grammar) and
    ///   normalised: lower case, no trailing dot, IPv6 in brackets, duplicates
    ///   removed. An empty allow-list is valid and allows nothing.
    ///
    /// Errors name the offending entry and say what is wrong with it.
    pub fn parse(mode: &str, list: &[String]) -> Result<EgressPolicy, EgressError> {
        let m = mode.trim().to_ascii_lowercase();
        match m.as_str() {
            "allow-list" | "allow_list" => {
                let mut out: Vec<String> = Vec::with_capacity(list.len());
                for raw in list {
                    let entry = parse_entry(raw).map_err(|reason| EgressError::InvalidEntry {
                        entry: raw.clone(),
                        reason,
                    })?;
                    let s = entry.to_string();
                    if !out.contains(&s) {
                        out.push(s);
                    }
                }
                Ok(EgressPolicy::AllowList(out))
            }
            "none" | "open" => {
                if !list.is_empty() {
                    return Err(EgressError::UnexpectedList {
                        mode: m,
                        count: list.len(),
                    });
                }
                Ok(if m == "none" {
                    EgressPolicy::None
                } else {
                    EgressPolicy::Open
                })
            }
            _ => Err(EgressError::InvalidMode(mode.to_string())),
        }
    }

    /// Shorthand for `parse("allow-list", entries)`.
    pub fn allow_list<I, S>(entries: I) -> Result<EgressPolicy, EgressError>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let list: Vec<String> = entries.into_iter().map(Into::into).collect();
        EgressPolicy::parse("allow-list", &list)
    }

    /// The mode as written in a policy: `"allow-list"`, `"none"` or `"open"`.
    pub fn mode(&self) -> &'static str {
        match self {
            EgressPolicy::AllowList(_) => "allow-list",
            EgressPolicy::None => "none",
            EgressPolicy::Open => "open",
        }
    }

    /// The allow-list entries (empty for `none` and `open`).
    pub fn entries(&self) -> &[String] {
        match self {
            EgressPolicy::AllowList(list) => list,
            _ => &[],
        }
    }

    /// Whether a request to `host:port` passes the policy. `host` is a host
    /// name (any case, optional trailing dot) or an IP literal (IPv6 with or
    /// without brackets). A malformed host is never allowed.
    ///
    /// This is the policy check only; the proxy additionally refuses names that
    /// resolve only to loopback/link-local addresses (see the module docs).
    pub fn allows(&self, host: &str, port: u16) -> bool {
        match parse_host(host) {
            Ok(h) => self.decide(&h, port).is_ok(),
            Err(_) => false,
        }
    }

    /// The policy for a child (for example a sub-agent) of a parent with
    /// policy `self`: it allows exactly the destinations **both** policies
    /// allow, so a child can never reach a host its parent cannot.
    ///
    /// * `Open ∩ X = X` and `X ∩ Open = X`;
    /// * `None ∩ X = None` and `X ∩ None = None`;
    /// * `AllowList(a) ∩ AllowList(b)`: every entry of `b` that `a` fully
    ///   allows is kept as is; an entry of `b` that `a` allows only in part is
    ///   narrowed to that part. Concretely, for each pair of entries the
    ///   result holds their overlap, if any:
    ///   - same exact host → that host; exact host under a wildcard → the
    ///     exact host (`a.example.com` ∩ `*.example.com` = `a.example.com`);
    ///   - two wildcards → the narrower one if one contains the other
    ///     (`*.example.com` ∩ `*.api.example.com` = `*.api.example.com`),
    ///     so a wildcard of `b` is kept only if `a` has the same or a broader
    ///     wildcard; otherwise nothing;
    ///   - equal IP literals → that IP; IPs never overlap names;
    ///   - ports: no port ∩ `p` = `p`; `p` ∩ `p` = `p`; different ports → nothing.
    ///
    ///   Entries covered by another result entry are dropped. The result may
    ///   be an empty allow-list, which allows nothing.
    pub fn intersect(&self, other: &EgressPolicy) -> EgressPolicy {
        match (self, other) {
            (EgressPolicy::None, _) | (_, EgressPolicy::None) => EgressPolicy::None,
            (EgressPolicy::Open, x) | (x, EgressPolicy::Open) => x.clone(),
            (EgressPolicy::AllowList(a), EgressPolicy::AllowList(b)) => {
                let a: Vec<Entry> = a.iter().filter_map(|s| parse_entry(s).ok()).collect();
                let b: Vec<Entry> = b.iter().filter_map(|s| parse_entry(s).ok()).collect();
                let mut met: Vec<Entry> = Vec::new();
                for eb in &b {
                    for ea in &a {
                        if let Some(m) = meet(ea, eb)
                            && !met.contains(&m)
                        {
                            met.push(m);
                        }
                    }
                }
                // Drop entries another entry already covers (keep the first of
                // two entries that cover each other).
                let kept: Vec<String> = met
                    .iter()
                    .enumerate()
                    .filter(|(i, e)| {
                        !met.iter()
                            .enumerate()
                            .any(|(j, f)| j != *i && covers(f, e) && (!covers(e, f) || j < *i))
                    })
                    .map(|(_, e)| e.to_string())
                    .collect();
                EgressPolicy::AllowList(kept)
            }
        }
    }

    /// `Ok(why allowed)` or `Err(why refused)`.
    fn decide(&self, host: &Host, port: u16) -> Result<String, String> {
        match self {
            EgressPolicy::Open => Ok("egress is open".to_string()),
            EgressPolicy::None => Err(format!(
                "egress to {} refused: egress is disabled (\"none\") for this deployment",
                host.with_port(port)
            )),
            EgressPolicy::AllowList(list) => {
                for raw in list {
                    if let Ok(entry) = parse_entry(raw)
                        && entry.matches(host, port)
                    {
                        return Ok(format!("allowed by egress allow-list entry {entry}"));
                    }
                }
                Err(format!(
                    "egress to {} refused: host is not on the egress allow-list",
                    host.with_port(port)
                ))
            }
        }
    }
}

/// A target host: a normalised name or an IP literal.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Host {
    Name(String),
    Ip(IpAddr),
}

impl Host {
    /// Name or IP without brackets (for event records and DNS).
    fn bare(&self) -> String {
        match self {
            Host::Name(n) => n.clone(),
            Host::Ip(ip) => ip.to_string(),
        }
    }

    fn with_port(&self, port: u16) -> String {
        format!("{self}:{port}")
    }
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Name(n) => f.write_str(n),
            Host::Ip(IpAddr::V4(ip)) => write!(f, "{ip}"),
            Host::Ip(IpAddr::V6(ip)) => write!(f, "[{ip}]"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum HostPattern {
    Exact(String),
    /// Strict subdomains of the name.
    Subdomains(String),
    Ip(IpAddr),
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    host: HostPattern,
    port: Option<u16>,
}

impl fmt::Display for Entry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.host {
            HostPattern::Exact(h) => f.write_str(h)?,
            HostPattern::Subdomains(s) => write!(f, "*.{s}")?,
            HostPattern::Ip(IpAddr::V4(ip)) => write!(f, "{ip}")?,
            HostPattern::Ip(IpAddr::V6(ip)) => write!(f, "[{ip}]")?,
        }
        if let Some(p) = self.port {
            write!(f, ":{p}")?;
        }
        Ok(())
    }
}

impl Entry {
    fn matches(&self, host: &Host, port: u16) -> bool {
        if self.port.is_some_and(|p| p != port) {
            return false;
        }
        match (&self.host, host) {
            (HostPattern::Exact(e), Host::Name(n)) => e == n,
            (HostPattern::Subdomains(s), Host::Name(n)) => is_strict_subdomain(n, s),
            (HostPattern::Ip(a), Host::Ip(b)) => a.to_canonical() == b.to_canonical(),
            _ => false,
        }
    }
}

fn is_strict_subdomain(name: &str, suffix: &str) -> bool {
    name.len() > suffix.len() + 1
        && name.ends_with(suffix)
        && name.as_bytes()[name.len() - suffix.len() - 1] == b'.'
}

fn is_subdomain_or_equal(name: &str, suffix: &str) -> bool {
    name == suffix || is_strict_subdomain(name, suffix)
}

/// The overlap of two entries (the destinations both allow), if any.
fn meet(a: &Entry, b: &Entry) -> Option<Entry> {
    let port = match (a.port, b.port) {
        (None, p) | (p, None) => p,
        (Some(x), Some(y)) if x == y => Some(x),
        _ => return None,
    };
    use HostPattern::{Exact, Ip, Subdomains};
    let host = match (&a.host, &b.host) {
        (Exact(x), Exact(y)) if x == y => Exact(x.clone()),
        (Exact(x), Subdomains(s)) | (Subdomains(s), Exact(x)) if is_strict_subdomain(x, s) => {
            Exact(x.clone())
        }
        (Subdomains(x), Subdomains(y)) if is_subdomain_or_equal(x, y) => Subdomains(x.clone()),
        (Subdomains(x), Subdomains(y)) if is_subdomain_or_equal(y, x) => Subdomains(y.clone()),
        (Ip(x), Ip(y)) if x.to_canonical() == y.to_canonical() => Ip(*y),
        _ => return None,
    };
    Some(Entry { host, port })
}

/// Whether `f` allows everything `e` allows.
fn covers(f: &Entry, e: &Entry) -> bool {
    meet(f, e).as_ref() == Some(e)
}

/// Parses one allow-list entry; the error is a human-readable reason.
fn parse_entry(raw: &str) -> Result<Entry, String> {
    let s = raw.trim();
    if s.is_empty() {
        return Err("empty entry".into());
    }
    if s.contains("://") || s.contains('/') {
        return Err(
            "entries are host names or IP addresses (optionally with :port), not URLs".into(),
        );
    }
    if s == "*" || s == "*." {
        return Err(
            "a bare \"*\" is not allowed; use egress mode \"open\" to allow everything".into(),
        );
    }
    let (host_part, port) = split_host_port(s)?;
    let port = port.map(parse_port).transpose()?;
    if let Some(rest) = host_part.strip_prefix("*.") {
        if rest.contains('*') {
            return Err("only one leading \"*.\" label is allowed (e.g. *.example.com)".into());
        }
        if rest.parse::<Ipv4Addr>().is_ok() || rest.contains(':') || rest.starts_with('[') {
            return Err("wildcards apply to host names, not IP addresses".into());
        }
        let name = normalize_name(rest)?;
        return Ok(Entry {
            host: HostPattern::Subdomains(name),
            port,
        });
    }
    if host_part.contains('*') {
        return Err(
            "a wildcard is only allowed as a leading \"*.\" label (e.g. *.example.com)".into(),
        );
    }
    let host = match parse_host(host_part)? {
        Host::Name(n) => HostPattern::Exact(n),
        Host::Ip(ip) => HostPattern::Ip(ip),
    };
    Ok(Entry { host, port })
}

/// Splits `host[:port]`; `[v6]` and `[v6]:port` are bracketed, a bare IPv6
/// literal (two or more colons) has no port.
fn split_host_port(s: &str) -> Result<(&str, Option<&str>), String> {
    if let Some(rest) = s.strip_prefix('[') {
        let end = rest
            .find(']')
            .ok_or_else(|| "unclosed '[' in IPv6 address".to_string())?;
        let host = &s[..end + 2];
        let after = &rest[end + 1..];
        if after.is_empty() {
            Ok((host, None))
        } else if let Some(p) = after.strip_prefix(':') {
            Ok((host, Some(p)))
        } else {
            Err("unexpected characters after ']'".into())
        }
    } else if s.bytes().filter(|&b| b == b':').count() >= 2 {
        Ok((s, None))
    } else if let Some((h, p)) = s.rsplit_once(':') {
        Ok((h, Some(p)))
    } else {
        Ok((s, None))
    }
}

fn parse_port(p: &str) -> Result<u16, String> {
    if p.is_empty() || p.len() > 5 || !p.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("invalid port {p:?}"));
    }
    match p.parse::<u16>() {
        Ok(0) | Err(_) => Err(format!("invalid port {p:?} (must be 1-65535)")),
        Ok(n) => Ok(n),
    }
}

/// Parses a host: `[v6]`, bare v6, dotted-quad v4, or a DNS name.
fn parse_host(s: &str) -> Result<Host, String> {
    if let Some(inner) = s.strip_prefix('[') {
        let inner = inner
            .strip_suffix(']')
            .ok_or_else(|| "unclosed '[' in IPv6 address".to_string())?;
        return inner
            .parse::<Ipv6Addr>()
            .map(|ip| Host::Ip(IpAddr::V6(ip)))
            .map_err(|_| format!("invalid IPv6 address {inner:?}"));
    }
    if s.contains(':') {
        return s
            .parse::<Ipv6Addr>()
            .map(|ip| Host::Ip(IpAddr::V6(ip)))
            .map_err(|_| format!("invalid IPv6 address {s:?}"));
    }
    if let Ok(ip) = s.parse::<Ipv4Addr>() {
        return Ok(Host::Ip(IpAddr::V4(ip)));
    }
    normalize_name(s).map(Host::Name)
}

/// Validates a DNS name and returns it lower-cased without a trailing dot.
fn normalize_name(s: &str) -> Result<String, String> {
    let s = s.strip_suffix('.').unwrap_or(s);
    if s.is_empty() {
        return Err("empty host name".into());
    }
    if !s.is_ascii() {
        return Err(
            "non-ASCII host name: write internationalised names in their xn-- (punycode) form"
                .into(),
        );
    }
    if s.len() > 253 {
        return Err("host name longer than 253 characters".into());
    }
    let lower = s.to_ascii_lowercase();
    for label in lower.split('.') {
        if label.is_empty() {
            return Err("empty label in host name".into());
        }
        if label.len() > 63 {
            return Err("host name label longer than 63 characters".into());
        }
        if !label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(
                "invalid character in host name (allowed: letters, digits, '-', '_', '.')".into(),
            );
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err("host name label starts or ends with '-'".into());
        }
    }
    // Names like "127.1" or "0x7f.1" would be read as IPv4 by some resolvers;
    // only canonical dotted-quad literals are accepted as addresses.
    let last = lower.rsplit('.').next().unwrap_or_default();
    let numeric = last.bytes().all(|b| b.is_ascii_digit())
        || last
            .strip_prefix("0x")
            .is_some_and(|h| h.bytes().all(|b| b.is_ascii_hexdigit()));
    if numeric {
        return Err("numeric host name that is not a canonical IPv4 address".into());
    }
    Ok(lower)
}

/// Addresses a resolved *name* must not lead to (DNS-rebinding guard).
fn is_local_addr(ip: IpAddr) -> bool {
    match ip.to_canonical() {
        IpAddr::V4(v4) => {
            v4.is_loopback()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.octets()[0] == 0
        }
        IpAddr::V6(v6) => {
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || v6.is_unicast_link_local()
        }
    }
}

// ---------------------------------------------------------------------------
// Events
// ---------------------------------------------------------------------------

/// One egress decision, as recorded in [`EgressProxy::events`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EgressEvent {
    /// When, in milliseconds since the Unix epoch.
    pub at_unix_ms: u64,
    /// Target host as requested (normalised: lower case, no trailing dot; IPv6
    /// without brackets).
    pub host: String,
    /// Target port.
    pub port: u16,
    /// Whether the connection was allowed.
    pub allowed: bool,
    /// Why (e.g. the matching entry, or why it was refused).
    pub reason: String,
}

fn now_unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

// ---------------------------------------------------------------------------
// Proxy
// ---------------------------------------------------------------------------

/// Limits and options for [`EgressProxy::start_with`].
#[derive(Debug, Clone)]
pub struct EgressConfig {
    /// A label used in log lines (e.g. the deployment id).
    pub name: String,
    /// Maximum size of a request head (request line + headers). Default 16 KiB.
    pub max_header_bytes: usize,
    /// Time allowed for the whole request head to arrive. Default 10 s.
    pub header_timeout: Duration,
    /// Time allowed for resolving and connecting upstream. Default 10 s.
    pub connect_timeout: Duration,
    /// A relayed connection with no bytes in either direction for this long
    /// is closed. Default 5 minutes.
    pub idle_timeout: Duration,
    /// Maximum simultaneous client connections; further clients wait in the
    /// listen backlog. Default 256.
    pub max_connections: usize,
    /// Refuse host names that resolve only to loopback / link-local /
    /// unspecified / multicast addresses (and never connect to such an address
    /// for a name). IP literals are governed by the policy alone. Default true.
    pub refuse_names_resolving_to_local: bool,
}

impl Default for EgressConfig {
    fn default() -> Self {
        EgressConfig {
            name: String::new(),
            max_header_bytes: 16 * 1024,
            header_timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(300),
            max_connections: 256,
            refuse_names_resolving_to_local: true,
        }
    }
}

struct Shared {
    config: EgressConfig,
    policy: watch::Sender<Arc<EgressPolicy>>,
    events: Mutex<VecDeque<EgressEvent>>,
    lookups: AtomicU64,
}

impl Shared {
    fn record(&self, host: &Host, port: u16, allowed: bool, reason: String) {
        let name = self.config.name.as_str();
        if allowed {
            tracing::debug!(proxy = name, %host, port, %reason, "egress allowed");
        } else {
            tracing::warn!(proxy = name, %host, port, %reason, "egress refused");
        }
        let event = EgressEvent {
            at_unix_ms: now_unix_ms(),
            host: host.bare(),
            port,
            allowed,
            reason,
        };
        let mut q = self.events.lock().unwrap_or_else(|e| e.into_inner());
        while q.len() >= MAX_EVENTS {
            q.pop_front();
        }
        q.push_back(event);
    }
}

/// A running egress proxy for one deployment. Dropping it stops it (the
/// listener and all relayed connections are closed); [`EgressProxy::shutdown`]
/// does the same and waits until it has happened.
pub struct EgressProxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: Option<JoinHandle<()>>,
}

impl fmt::Debug for EgressProxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EgressProxy")
            .field("addr", &self.addr)
            .field("name", &self.shared.config.name)
            .field("policy", &**self.shared.policy.borrow())
            .finish()
    }
}

impl EgressProxy {
    /// Starts a proxy with default limits on `bind` (use `127.0.0.1:0`).
    /// Must be called inside a tokio runtime.
    pub async fn start(policy: EgressPolicy, bind: SocketAddr) -> Result<EgressProxy, EgressError> {
        EgressProxy::start_with(policy, bind, EgressConfig::default()).await
    }

    /// Starts a proxy with explicit limits.
    pub async fn start_with(
        policy: EgressPolicy,
        bind: SocketAddr,
        config: EgressConfig,
    ) -> Result<EgressProxy, EgressError> {
        let listener = TcpListener::bind(bind)
            .await
            .map_err(|source| EgressError::Bind { addr: bind, source })?;
        EgressProxy::start_on(policy, listener, config)
    }

    /// Starts a proxy accepting on `listener`, which may live in another
    /// network namespace than the one the proxy's own connections leave from
    /// (see [`crate::executor::netns`]).
    pub fn start_on(
        policy: EgressPolicy,
        listener: TcpListener,
        config: EgressConfig,
    ) -> Result<EgressProxy, EgressError> {
        let addr = listener.local_addr().map_err(EgressError::Listener)?;
        if !addr.ip().is_loopback() {
            tracing::warn!(proxy = %config.name, %addr, "egress proxy listening on a non-loopback address");
        }
        let (policy_tx, _) = watch::channel(Arc::new(policy));
        let shared = Arc::new(Shared {
            config,
            policy: policy_tx,
            events: Mutex::new(VecDeque::new()),
            lookups: AtomicU64::new(0),
        });
        let task = tokio::spawn(accept_loop(listener, shared.clone()));
        tracing::debug!(proxy = %shared.config.name, %addr, "egress proxy started");
        Ok(EgressProxy {
            addr,
            shared,
            task: Some(task),
        })
    }

    /// The address the proxy listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:<port>` (an unspecified bind address is shown as
    /// loopback).
    pub fn proxy_url(&self) -> String {
        let ip = match self.addr.ip() {
            IpAddr::V4(v4) if v4.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(v6) if v6.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
            ip => ip,
        };
        format!("http://{}", SocketAddr::new(ip, self.addr.port()))
    }

    /// Environment variables to set on the deployed process: `HTTP_PROXY`,
    /// `HTTPS_PROXY`, `ALL_PROXY`, their lower-case forms, and empty
    /// `NO_PROXY`/`no_proxy` (no exemptions, not even localhost).
    pub fn env(&self) -> Vec<(String, String)> {
        let url = self.proxy_url();
        let mut env: Vec<(String, String)> = [
            "HTTP_PROXY",
            "HTTPS_PROXY",
            "ALL_PROXY",
            "http_proxy",
            "https_proxy",
            "all_proxy",
        ]
        .iter()
        .map(|k| (k.to_string(), url.clone()))
        .collect();
        env.push(("NO_PROXY".into(), String::new()));
        env.push(("no_proxy".into(), String::new()));
        env
    }

    /// A snapshot of the last [`MAX_EVENTS`] decisions, oldest first.
    pub fn events(&self) -> Vec<EgressEvent> {
        let q = self.shared.events.lock().unwrap_or_else(|e| e.into_inner());
        q.iter().cloned().collect()
    }

    /// The policy currently enforced.
    pub fn policy(&self) -> EgressPolicy {
        (**self.shared.policy.borrow()).clone()
    }

    /// Replaces the policy. New requests use it at once; relayed connections
    /// whose host/port it no longer allows are closed.
    pub fn set_policy(&self, policy: EgressPolicy) {
        tracing::info!(proxy = %self.shared.config.name, mode = policy.mode(), "egress policy replaced");
        self.shared.policy.send_replace(Arc::new(policy));
    }

    /// How many DNS lookups the proxy has made (only allowed names are ever
    /// looked up).
    pub fn lookup_count(&self) -> u64 {
        self.shared.lookups.load(Ordering::Relaxed)
    }

    /// Stops accepting, closes every relayed connection and waits for that.
    pub async fn shutdown(mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
            let _ = task.await;
        }
        tracing::debug!(proxy = %self.shared.config.name, "egress proxy stopped");
    }
}

impl Drop for EgressProxy {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    let limit = Arc::new(Semaphore::new(shared.config.max_connections.max(1)));
    // Dropping the set (when this task is aborted) aborts every connection.
    let mut conns = JoinSet::new();
    loop {
        while conns.try_join_next().is_some() {}
        let Ok(permit) = limit.clone().acquire_owned().await else {
            return;
        };
        match listener.accept().await {
            Ok((stream, _peer)) => {
                let shared = shared.clone();
                conns.spawn(async move {
                    let _permit = permit;
                    handle_client(stream, shared).await;
                });
            }
            Err(e) => {
                // E.g. out of file descriptors: back off instead of spinning.
                tracing::warn!(proxy = %shared.config.name, error = %e, "egress proxy accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

/// An error answer to the client.
struct Reply {
    status: u16,
    body: String,
}

impl Reply {
    fn new(status: u16, body: impl Into<String>) -> Reply {
        Reply {
            status,
            body: body.into(),
        }
    }
}

fn reason_phrase(status: u16) -> &'static str {
    match status {
        400 => "Bad Request",
        403 => "Forbidden",
        408 => "Request Timeout",
        431 => "Request Header Fields Too Large",
        502 => "Bad Gateway",
        504 => "Gateway Timeout",
        _ => "Error",
    }
}

async fn send_reply(stream: &mut TcpStream, reply: Reply) {
    let mut body = reply.body;
    body.push('\n');
    let head = format!(
        "HTTP/1.1 {} {}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\nX-Heroa-Egress: {}\r\n\r\n",
        reply.status,
        reason_phrase(reply.status),
        body.len(),
        if reply.status == 403 {
            "refused"
        } else {
            "error"
        },
    );
    let write = async {
        stream.write_all(head.as_bytes()).await?;
        stream.write_all(body.as_bytes()).await?;
        stream.shutdown().await
    };
    if let Ok(Ok(())) = tokio::time::timeout(Duration::from_secs(5), write).await {
        // Read (and discard) what the client may still be sending, briefly, so
        // that closing does not reset the connection before it reads the reply.
        let drain = async {
            let mut buf = [0u8; 4096];
            let mut total = 0usize;
            while total < 64 * 1024 {
                match stream.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => total += n,
                }
            }
        };
        let _ = tokio::time::timeout(Duration::from_millis(500), drain).await;
    }
}

async fn handle_client(mut client: TcpStream, shared: Arc<Shared>) {
    let _ = client.set_nodelay(true);
    let cfg = &shared.config;
    let head = tokio::time::timeout(
        cfg.header_timeout,
        read_head(&mut client, cfg.max_header_bytes),
    )
    .await;
    let (buf, head_end) = match head {
        Ok(Ok(v)) => v,
        Ok(Err(HeadError::Closed { partial })) => {
            if partial {
                tracing::debug!(proxy = %cfg.name, "client closed during request head");
            }
            return;
        }
        Ok(Err(HeadError::Io(e))) => {
            tracing::debug!(proxy = %cfg.name, error = %e, "reading request head failed");
            return;
        }
        Ok(Err(HeadError::TooLarge)) => {
            let msg = format!("request head larger than {} bytes", cfg.max_header_bytes);
            return send_reply(&mut client, Reply::new(431, msg)).await;
        }
        Err(_) => {
            return send_reply(
                &mut client,
                Reply::new(408, "request head not received in time"),
            )
            .await;
        }
    };
    let request = match parse_request(&buf[..head_end]) {
        Ok(r) => r,
        Err(msg) => {
            tracing::debug!(proxy = %cfg.name, error = msg, "malformed proxy request");
            return send_reply(
                &mut client,
                Reply::new(400, format!("bad proxy request: {msg}")),
            )
            .await;
        }
    };
    let early = &buf[head_end..];
    let (host, port) = (request.target.host().clone(), request.target.port());

    // Subscribe before deciding so that a policy change after the decision is
    // seen by the relay.
    let mut policy_rx = shared.policy.subscribe();
    let policy = policy_rx.borrow_and_update().clone();
    let why = match policy.decide(&host, port) {
        Ok(why) => why,
        Err(reason) => {
            shared.record(&host, port, false, reason.clone());
            return send_reply(&mut client, Reply::new(403, reason)).await;
        }
    };
    let mut upstream = match connect_upstream(&shared, &host, port, why).await {
        Ok(s) => s,
        Err(reply) => return send_reply(&mut client, reply).await,
    };
    let _ = upstream.set_nodelay(true);

    let setup = async {
        match &request.target {
            Target::Connect { .. } => {
                client
                    .write_all(b"HTTP/1.1 200 Connection Established\r\n\r\n")
                    .await?;
            }
            Target::Http { .. } => {
                upstream.write_all(&request.origin_form_head()).await?;
            }
        }
        if !early.is_empty() {
            upstream.write_all(early).await?;
        }
        io::Result::Ok(())
    };
    if let Err(e) = setup.await {
        tracing::debug!(proxy = %cfg.name, error = %e, "egress relay setup failed");
        return;
    }
    // A plain-HTTP exchange is over once the upstream has sent its response
    // and closed (it was asked to); a tunnel keeps TCP half-close semantics.
    let end_with_upstream = matches!(request.target, Target::Http { .. });
    relay(
        client,
        upstream,
        &shared,
        &mut policy_rx,
        (&host, port),
        end_with_upstream,
    )
    .await;
}

async fn connect_upstream(
    shared: &Shared,
    host: &Host,
    port: u16,
    why: String,
) -> Result<TcpStream, Reply> {
    let cfg = &shared.config;
    let deadline = tokio::time::Instant::now() + cfg.connect_timeout;
    let addrs: Vec<SocketAddr> = match host {
        Host::Ip(ip) => vec![SocketAddr::new(*ip, port)],
        Host::Name(name) => {
            shared.lookups.fetch_add(1, Ordering::Relaxed);
            let found = match tokio::time::timeout_at(
                deadline,
                tokio::net::lookup_host((name.as_str(), port)),
            )
            .await
            {
                Err(_) => {
                    shared.record(host, port, true, format!("{why}; DNS lookup timed out"));
                    return Err(Reply::new(504, format!("looking up {name} timed out")));
                }
                Ok(Err(e)) => {
                    shared.record(host, port, true, format!("{why}; DNS lookup failed: {e}"));
                    return Err(Reply::new(502, format!("could not resolve {name}")));
                }
                Ok(Ok(it)) => it.collect::<Vec<_>>(),
            };
            if cfg.refuse_names_resolving_to_local {
                let usable: Vec<SocketAddr> = found
                    .iter()
                    .copied()
                    .filter(|a| !is_local_addr(a.ip()))
                    .collect();
                if usable.is_empty() && !found.is_empty() {
                    let reason = format!(
                        "egress to {} refused: the name resolves only to loopback/link-local addresses; allow the IP literal instead",
                        host.with_port(port)
                    );
                    shared.record(host, port, false, reason.clone());
                    return Err(Reply::new(403, reason));
                }
                usable
            } else {
                found
            }
        }
    };
    if addrs.is_empty() {
        shared.record(
            host,
            port,
            true,
            format!("{why}; DNS lookup returned no addresses"),
        );
        return Err(Reply::new(502, format!("could not resolve {host}")));
    }
    shared.record(host, port, true, why);
    let mut last_err = None;
    for addr in addrs {
        match tokio::time::timeout_at(deadline, TcpStream::connect(addr)).await {
            Ok(Ok(stream)) => return Ok(stream),
            Ok(Err(e)) => last_err = Some(e),
            Err(_) => {
                tracing::debug!(proxy = %cfg.name, %addr, "upstream connect timed out");
                return Err(Reply::new(
                    504,
                    format!("connecting to {} timed out", host.with_port(port)),
                ));
            }
        }
    }
    let err = last_err.map(|e| e.to_string()).unwrap_or_default();
    tracing::debug!(proxy = %cfg.name, %host, port, error = %err, "upstream connect failed");
    Err(Reply::new(
        502,
        format!("could not connect to {}: {err}", host.with_port(port)),
    ))
}

/// Time of the last byte relayed in either direction.
struct Activity {
    base: Instant,
    last_ms: AtomicU64,
}

impl Activity {
    fn new() -> Activity {
        Activity {
            base: Instant::now(),
            last_ms: AtomicU64::new(0),
        }
    }

    fn touch(&self) {
        self.last_ms
            .store(self.base.elapsed().as_millis() as u64, Ordering::Relaxed);
    }

    async fn idle_for(&self, idle: Duration) {
        loop {
            let last = self.last_ms.load(Ordering::Relaxed);
            let deadline = self.base + Duration::from_millis(last) + idle;
            tokio::time::sleep_until(deadline.into()).await;
            if self.last_ms.load(Ordering::Relaxed) == last {
                return;
            }
        }
    }
}

/// Copies until EOF (then half-closes the writer) or an error.
async fn pump<R, W>(mut from: R, mut to: W, activity: &Activity) -> io::Result<()>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = from.read(&mut buf).await?;
        if n == 0 {
            let _ = to.shutdown().await;
            return Ok(());
        }
        activity.touch();
        to.write_all(&buf[..n]).await?;
        activity.touch();
    }
}

async fn revoked(rx: &mut watch::Receiver<Arc<EgressPolicy>>, host: &Host, port: u16) -> String {
    loop {
        if rx.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
        let policy = rx.borrow_and_update().clone();
        if let Err(reason) = policy.decide(host, port) {
            return format!("{reason} (open connection closed after a policy change)");
        }
    }
}

async fn relay(
    mut client: TcpStream,
    mut upstream: TcpStream,
    shared: &Shared,
    policy_rx: &mut watch::Receiver<Arc<EgressPolicy>>,
    (host, port): (&Host, u16),
    end_with_upstream: bool,
) {
    let activity = Activity::new();
    let (cr, cw) = client.split();
    let (ur, uw) = upstream.split();
    let mut up = pin!(pump(cr, uw, &activity));
    let mut down = pin!(pump(ur, cw, &activity));
    let mut idle = pin!(activity.idle_for(shared.config.idle_timeout));
    let mut revoke = pin!(revoked(policy_rx, host, port));
    let (mut up_done, mut down_done) = (false, false);
    while !(up_done && down_done) {
        tokio::select! {
            r = &mut up, if !up_done => {
                up_done = true;
                if r.is_err() { break; }
            }
            r = &mut down, if !down_done => {
                down_done = true;
                if r.is_err() || end_with_upstream { break; }
            }
            () = &mut idle => {
                tracing::debug!(proxy = %shared.config.name, %host, port, "egress connection idle, closing");
                break;
            }
            reason = &mut revoke => {
                shared.record(host, port, false, reason);
                break;
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Request parsing
// ---------------------------------------------------------------------------

enum HeadError {
    Closed { partial: bool },
    TooLarge,
    Io(io::Error),
}

impl From<io::Error> for HeadError {
    fn from(e: io::Error) -> Self {
        HeadError::Io(e)
    }
}

/// Reads until the end of the request head (an empty line; CRLF or bare LF).
/// Returns the buffer and the offset just past the head; bytes after it
/// (body, or early tunnel data) are kept in the buffer.
async fn read_head<R: AsyncRead + Unpin>(
    r: &mut R,
    max: usize,
) -> Result<(Vec<u8>, usize), HeadError> {
    let mut buf: Vec<u8> = Vec::with_capacity(1024);
    let mut chunk = [0u8; 4096];
    loop {
        if buf.len() >= max {
            return Err(HeadError::TooLarge);
        }
        let want = chunk.len().min(max - buf.len());
        let n = r.read(&mut chunk[..want]).await?;
        if n == 0 {
            return Err(HeadError::Closed {
                partial: !buf.is_empty(),
            });
        }
        let scan_from = buf.len().saturating_sub(2);
        buf.extend_from_slice(&chunk[..n]);
        if let Some(end) = find_head_end(&buf, scan_from) {
            return Ok((buf, end));
        }
    }
}

fn find_head_end(buf: &[u8], from: usize) -> Option<usize> {
    for i in memchr::memchr_iter(b'\n', &buf[from..]).map(|i| i + from) {
        match &buf[i + 1..] {
            [b'\n', ..] => return Some(i + 2),
            [b'\r', b'\n', ..] => return Some(i + 3),
            _ => {}
        }
    }
    None
}

#[derive(Debug)]
enum Target {
    Connect { host: Host, port: u16 },
    Http { host: Host, port: u16, path: String },
}

impl Target {
    fn host(&self) -> &Host {
        match self {
            Target::Connect { host, .. } | Target::Http { host, .. } => host,
        }
    }

    fn port(&self) -> u16 {
        match self {
            Target::Connect { port, .. } | Target::Http { port, .. } => *port,
        }
    }
}

#[derive(Debug)]
struct Request {
    method: String,
    target: Target,
    version: String,
    headers: Vec<(String, String)>,
}

fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn parse_request(head: &[u8]) -> Result<Request, &'static str> {
    let text = std::str::from_utf8(head).map_err(|_| "request head is not valid UTF-8")?;
    let mut lines = text.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
    let request_line = lines
        .by_ref()
        .find(|l| !l.is_empty())
        .ok_or("empty request")?;
    let mut parts = request_line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err("malformed request line");
    };
    if method.is_empty() || !method.bytes().all(is_tchar) {
        return Err("malformed method");
    }
    if version != "HTTP/1.1" && version != "HTTP/1.0" {
        return Err("unsupported HTTP version (HTTP/1.0 or HTTP/1.1 expected)");
    }
    if target.is_empty() || !target.bytes().all(|b| (0x21..0x7f).contains(&b)) {
        return Err("malformed request target");
    }

    let mut headers = Vec::new();
    for line in lines {
        if line.is_empty() {
            break;
        }
        if line.starts_with([' ', '\t']) {
            return Err("obsolete header line folding is not supported");
        }
        let (name, value) = line.split_once(':').ok_or("malformed header line")?;
        if name.is_empty() || !name.bytes().all(is_tchar) {
            return Err("malformed header name");
        }
        let value = value.trim_matches([' ', '\t']);
        if value.bytes().any(|b| (b < 0x20 && b != b'\t') || b == 0x7f) {
            return Err("control character in header value");
        }
        headers.push((name.to_string(), value.to_string()));
    }

    let target = if method == "CONNECT" {
        let (host, port) = split_host_port(target).map_err(|_| "malformed CONNECT target")?;
        let port = port.ok_or("CONNECT target needs a port (host:port)")?;
        let port = parse_port(port).map_err(|_| "invalid port in CONNECT target")?;
        let host = parse_host(host).map_err(|_| "invalid host in CONNECT target")?;
        Target::Connect { host, port }
    } else {
        parse_absolute_http(target)?
    };

    if let Target::Http { .. } = target {
        let mut content_length: Option<&str> = None;
        let mut chunked = false;
        for (name, value) in &headers {
            if name.eq_ignore_ascii_case("content-length") {
                if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
                    return Err("invalid Content-Length");
                }
                if content_length.is_some_and(|v| v != value) {
                    return Err("conflicting Content-Length headers");
                }
                content_length = Some(value);
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                chunked = true;
            }
        }
        if chunked && content_length.is_some() {
            return Err("both Transfer-Encoding and Content-Length");
        }
    }

    Ok(Request {
        method: method.to_string(),
        target,
        version: version.to_string(),
        headers,
    })
}

fn parse_absolute_http(target: &str) -> Result<Target, &'static str> {
    let scheme_end = target.find("://");
    let rest = match scheme_end {
        Some(i) if target[..i].eq_ignore_ascii_case("http") => &target[i + 3..],
        Some(i) if target[..i].eq_ignore_ascii_case("https") => {
            return Err("https:// requests must use CONNECT");
        }
        Some(_) => return Err("unsupported URI scheme (only http:// or CONNECT)"),
        None if target.starts_with('/') => {
            return Err("this is a proxy: use an absolute URI (http://host/path) or CONNECT");
        }
        None => return Err("malformed request target"),
    };
    let auth_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(auth_end);
    if authority.is_empty() {
        return Err("missing host in request URI");
    }
    if authority.contains('@') {
        return Err("user info in the request URI is not allowed");
    }
    let (host, port) = split_host_port(authority).map_err(|_| "malformed host in request URI")?;
    let port = match port {
        None | Some("") => 80,
        Some(p) => parse_port(p).map_err(|_| "invalid port in request URI")?,
    };
    let host = parse_host(host).map_err(|_| "invalid host in request URI")?;
    let tail = tail.split('#').next().unwrap_or_default();
    let path = if tail.is_empty() {
        "/".to_string()
    } else if tail.starts_with('?') {
        format!("/{tail}")
    } else {
        tail.to_string()
    };
    Ok(Target::Http { host, port, path })
}

impl Request {
    /// The head to send upstream for a plain-HTTP request.
    fn origin_form_head(&self) -> Vec<u8> {
        let Target::Http { host, port, path } = &self.target else {
            return Vec::new();
        };
        let connection_tokens: Vec<String> = self
            .headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case("connection"))
            .flat_map(|(_, v)| v.split(','))
            .map(|t| t.trim().to_ascii_lowercase())
            .filter(|t| !t.is_empty())
            .collect();
        let upgrading = connection_tokens.iter().any(|t| t == "upgrade")
            && self
                .headers
                .iter()
                .any(|(n, _)| n.eq_ignore_ascii_case("upgrade"));

        let mut out = String::with_capacity(256);
        out.push_str(&format!("{} {} {}\r\n", self.method, path, self.version));
        if *port == 80 {
            out.push_str(&format!("Host: {host}\r\n"));
        } else {
            out.push_str(&format!("Host: {host}:{port}\r\n"));
        }
        for (name, value) in &self.headers {
            let lower = name.to_ascii_lowercase();
            let hop_by_hop = matches!(
                lower.as_str(),
                "host" | "connection" | "keep-alive" | "te" | "trailer"
            ) || lower.starts_with("proxy-")
                || (lower == "upgrade" && !upgrading)
                || (lower != "upgrade" && connection_tokens.contains(&lower));
            if !hop_by_hop {
                out.push_str(&format!("{name}: {value}\r\n"));
            }
        }
        out.push_str(if upgrading {
            "Connection: upgrade\r\n\r\n"
        } else {
            "Connection: close\r\n\r\n"
        });
        out.into_bytes()
    }
}

// ---------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;
    use tokio::sync::mpsc;

    const HELLO: &str = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello";

    fn loopback0() -> SocketAddr {
        "127.0.0.1:0".parse().unwrap()
    }

    fn list(entries: &[&str]) -> EgressPolicy {
        EgressPolicy::allow_list(entries.iter().copied()).unwrap()
    }

    /// A loopback HTTP server answering every request with `HELLO`; it reports
    /// each request head it receives and counts connections.
    struct Upstream {
        addr: SocketAddr,
        connections: Arc<AtomicUsize>,
        heads: mpsc::UnboundedReceiver<String>,
    }

    async fn upstream() -> Upstream {
        let listener = TcpListener::bind(loopback0()).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let connections = Arc::new(AtomicUsize::new(0));
        let (tx, heads) = mpsc::unbounded_channel();
        let count = connections.clone();
        tokio::spawn(async move {
            loop {
                let Ok((mut s, _)) = listener.accept().await else {
                    return;
                };
                count.fetch_add(1, Ordering::SeqCst);
                let tx = tx.clone();
                tokio::spawn(async move {
                    let Ok((buf, end)) = read_head(&mut s, 64 * 1024).await else {
                        return;
                    };
                    let _ = tx.send(String::from_utf8_lossy(&buf[..end]).into_owned());
                    let _ = s.write_all(HELLO.as_bytes()).await;
                    let _ = s.shutdown().await;
                });
            }
        });
        Upstream {
            addr,
            connections,
            heads,
        }
    }

    /// Sends raw bytes to the proxy and returns everything it answers.
    async fn raw(proxy: &EgressProxy, request: &[u8]) -> String {
        let mut s = TcpStream::connect(proxy.addr()).await.unwrap();
        s.write_all(request).await.unwrap();
        let mut out = Vec::new();
        tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut out))
            .await
            .expect("proxy answered in time")
            .unwrap();
        String::from_utf8_lossy(&out).into_owned()
    }

    // ---- policy -----------------------------------------------------------

    #[test]
    fn parse_modes() {
        assert_eq!(
            EgressPolicy::parse("none", &[]).unwrap(),
            EgressPolicy::None
        );
        assert_eq!(
            EgressPolicy::parse(" Open ", &[]).unwrap(),
            EgressPolicy::Open
        );
        let p = EgressPolicy::parse("allow-list", &["api.stripe.com".into()]).unwrap();
        assert_eq!(p, EgressPolicy::AllowList(vec!["api.stripe.com".into()]));
        assert_eq!(p.mode(), "allow-list");
        assert_eq!(p.entries(), ["api.stripe.com"]);
        assert_eq!(
            EgressPolicy::parse("allow-list", &[]).unwrap(),
            EgressPolicy::AllowList(vec![])
        );
        assert!(
            !EgressPolicy::parse("allow-list", &[])
                .unwrap()
                .allows("a.com", 443)
        );
        assert_eq!(EgressPolicy::default(), EgressPolicy::None);

        let e = EgressPolicy::parse("allow", &[]).unwrap_err();
        assert!(matches!(e, EgressError::InvalidMode(_)), "{e}");
        let e = EgressPolicy::parse("none", &["a.com".into()]).unwrap_err();
        assert!(
            matches!(e, EgressError::UnexpectedList { count: 1, .. }),
            "{e}"
        );
        assert!(EgressPolicy::parse("open", &["a.com".into()]).is_err());
    }

    #[test]
    fn parse_normalises_entries() {
        let p = list(&[
            "API.Stripe.COM.",
            "api.stripe.com",
            " *.Example.com ",
            "127.0.0.1",
            "::1",
            "[2001:DB8::1]:8443",
            "host.test:443",
        ]);
        assert_eq!(
            p.entries(),
            [
                "api.stripe.com",
                "*.example.com",
                "127.0.0.1",
                "[::1]",
                "[2001:db8::1]:8443",
                "host.test:443"
            ]
        );
        // Normalised entries parse back to themselves.
        assert_eq!(EgressPolicy::allow_list(p.entries().to_vec()).unwrap(), p);
    }

    #[test]
    fn parse_rejects_bad_entries_and_names_them() {
        for bad in [
            "",
            "   ",
            "*",
            "https://api.stripe.com",
            "api.stripe.com/v1",
            "foo.*.com",
            "*.*.example.com",
            "api*.example.com",
            "*.10.0.0.1",
            "a.com:0",
            "a.com:70000",
            "a.com:https",
            "a.com:",
            "bücher.de",
            "under score.com",
            "-bad.com",
            "a..b",
            "127.1",
            "0x7f.1",
            "1.2.3.256",
            "[::1",
            "[::1]x",
            "[zz::1]",
            "user@host.com",
        ] {
            let err =
                EgressPolicy::parse("allow-list", &["ok.com".into(), bad.into()]).expect_err(bad);
            match &err {
                EgressError::InvalidEntry { entry, reason } => {
                    assert_eq!(entry, bad);
                    assert!(!reason.is_empty());
                }
                other => panic!("{bad}: {other}"),
            }
            assert!(err.to_string().contains(&format!("{bad:?}")), "{err}");
        }
        let long = format!("{}.com", "a".repeat(64));
        assert!(EgressPolicy::allow_list([long]).is_err());
        assert!(EgressPolicy::allow_list(["xn--bcher-kva.de", "_dmarc.example.com"]).is_ok());
    }

    #[test]
    fn allows_exact_case_and_trailing_dot() {
        let p = list(&["api.stripe.com"]);
        assert!(p.allows("api.stripe.com", 443));
        assert!(p.allows("API.STRIPE.COM", 80));
        assert!(p.allows("api.stripe.com.", 443));
        assert!(!p.allows("stripe.com", 443));
        assert!(!p.allows("x.api.stripe.com", 443));
        assert!(!p.allows("api.stripe.com.evil.com", 443));
        assert!(!p.allows("evilapi.stripe.com", 443));
        assert!(!p.allows("api.stripe.com..", 443));
        assert!(!p.allows("", 443));
    }

    #[test]
    fn allows_wildcards_subdomains_only() {
        let p = list(&["*.example.com"]);
        assert!(p.allows("a.example.com", 443));
        assert!(p.allows("A.B.Example.Com.", 1));
        assert!(!p.allows("example.com", 443));
        assert!(!p.allows("badexample.com", 443));
        assert!(!p.allows("example.com.evil.org", 443));
        assert!(!p.allows(".example.com", 443));
    }

    #[test]
    fn allows_ports_and_ips() {
        let p = list(&["api.test:443", "*.svc.test:8080", "10.0.0.1", "[::1]:9000"]);
        assert!(p.allows("api.test", 443));
        assert!(!p.allows("api.test", 80));
        assert!(p.allows("x.svc.test", 8080));
        assert!(!p.allows("x.svc.test", 8081));
        assert!(p.allows("10.0.0.1", 1));
        assert!(p.allows("10.0.0.1", 65535));
        assert!(!p.allows("10.0.0.2", 80));
        assert!(p.allows("::1", 9000));
        assert!(p.allows("[::1]", 9000));
        assert!(p.allows("[0:0::1]", 9000));
        assert!(!p.allows("::1", 9001));
        // IPv4-mapped IPv6 is the same destination as the IPv4 address.
        assert!(p.allows("[::ffff:10.0.0.1]", 80));
        // IP entries do not match names and vice versa.
        assert!(!list(&["127.0.0.1"]).allows("localhost", 80));
        assert!(!list(&["localhost"]).allows("127.0.0.1", 80));
        // Non-canonical numeric forms are malformed, hence never allowed.
        assert!(!list(&["127.0.0.1"]).allows("127.1", 80));
        assert!(!EgressPolicy::Open.allows("0x7f000001", 80));
    }

    #[test]
    fn none_denies_open_allows() {
        for (h, p) in [("api.stripe.com", 443), ("127.0.0.1", 80), ("::1", 1)] {
            assert!(!EgressPolicy::None.allows(h, p));
            assert!(EgressPolicy::Open.allows(h, p));
        }
    }

    #[test]
    fn hand_built_invalid_entries_never_match() {
        let p = EgressPolicy::AllowList(vec!["*".into(), "http://a.com".into(), "B.com".into()]);
        assert!(!p.allows("a.com", 80));
        assert!(p.allows("b.com", 80)); // unnormalised but valid entries still work
    }

    #[test]
    fn intersect_modes() {
        let a = list(&["a.com"]);
        assert_eq!(EgressPolicy::Open.intersect(&a), a);
        assert_eq!(a.intersect(&EgressPolicy::Open), a);
        assert_eq!(
            EgressPolicy::Open.intersect(&EgressPolicy::Open),
            EgressPolicy::Open
        );
        assert_eq!(EgressPolicy::None.intersect(&a), EgressPolicy::None);
        assert_eq!(a.intersect(&EgressPolicy::None), EgressPolicy::None);
        assert_eq!(
            EgressPolicy::None.intersect(&EgressPolicy::Open),
            EgressPolicy::None
        );
        assert_eq!(
            EgressPolicy::Open.intersect(&EgressPolicy::None),
            EgressPolicy::None
        );
    }

    #[test]
    fn intersect_lists() {
        let parent = list(&[
            "api.stripe.com",
            "*.example.com",
            "10.0.0.1",
            "db.test:5432",
        ]);
        // Entries the parent fully allows are kept as is.
        let child = list(&[
            "api.stripe.com:443",
            "a.example.com",
            "*.x.example.com",
            "10.0.0.1:80",
        ]);
        assert_eq!(parent.intersect(&child), child);
        // Entries the parent does not allow are dropped.
        let child = list(&["evil.com", "example.com", "10.0.0.2", "db.test:5433"]);
        assert_eq!(parent.intersect(&child), EgressPolicy::AllowList(vec![]));
        // A child wildcard is kept only if the parent has the same or broader
        // one; a broader child wildcard is narrowed to the parent's.
        assert_eq!(
            parent.intersect(&list(&["*.example.com"])),
            list(&["*.example.com"])
        );
        assert_eq!(
            parent.intersect(&list(&["*.com"])),
            list(&["api.stripe.com", "*.example.com"])
        );
        assert_eq!(
            list(&["a.example.com"]).intersect(&list(&["*.example.com"])),
            list(&["a.example.com"])
        );
        // A child entry without port is narrowed to the parent's port.
        assert_eq!(
            parent.intersect(&list(&["db.test"])),
            list(&["db.test:5432"])
        );
        // Covered duplicates are removed.
        assert_eq!(
            list(&["*.example.com", "a.example.com"])
                .intersect(&list(&["*.example.com", "a.example.com"])),
            list(&["*.example.com"])
        );
    }

    /// The defining property: the intersection allows exactly what both allow.
    #[test]
    fn intersect_is_exact_set_intersection() {
        let policies = [
            EgressPolicy::None,
            EgressPolicy::Open,
            list(&[]),
            list(&["a.example.com"]),
            list(&["*.example.com"]),
            list(&["*.b.example.com:443"]),
            list(&["example.com", "*.a.example.com:80"]),
            list(&["a.example.com:443", "10.0.0.1"]),
            list(&["*.com", "[::1]:80"]),
            list(&["10.0.0.1:443", "::1", "other.org"]),
        ];
        let hosts = [
            "example.com",
            "a.example.com",
            "x.a.example.com",
            "b.example.com",
            "x.b.example.com",
            "other.org",
            "z.com",
            "10.0.0.1",
            "10.0.0.2",
            "::1",
            "::ffff:10.0.0.1",
        ];
        for a in &policies {
            for b in &policies {
                let ab = a.intersect(b);
                for h in hosts {
                    for port in [80, 443, 8080] {
                        assert_eq!(
                            ab.allows(h, port),
                            a.allows(h, port) && b.allows(h, port),
                            "{a:?} ∩ {b:?} = {ab:?} at {h}:{port}"
                        );
                    }
                }
            }
        }
    }

    // ---- request parsing ------------------------------------------------------

    #[test]
    fn origin_form_rewrite() {
        let head = b"POST http://Api.Test:8080/v1/x?y=1#frag HTTP/1.1\r\nHost: spoofed.example\r\nProxy-Authorization: Basic Zm9v\r\nProxy-Connection: keep-alive\r\nConnection: keep-alive, X-Secret\r\nX-Secret: 1\r\nKeep-Alive: 5\r\nContent-Length: 3\r\nAccept: */*\r\n\r\n";
        let req = parse_request(head).unwrap();
        let out = String::from_utf8(req.origin_form_head()).unwrap();
        assert_eq!(
            out,
            "POST /v1/x?y=1 HTTP/1.1\r\nHost: api.test:8080\r\nContent-Length: 3\r\nAccept: */*\r\nConnection: close\r\n\r\n"
        );
        let req = parse_request(b"GET http://a.test?q HTTP/1.0\n\n").unwrap();
        assert_eq!(
            String::from_utf8(req.origin_form_head()).unwrap(),
            "GET /?q HTTP/1.0\r\nHost: a.test\r\nConnection: close\r\n\r\n"
        );
        let req = parse_request(
            b"GET http://a.test/ws HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
        )
        .unwrap();
        assert_eq!(
            String::from_utf8(req.origin_form_head()).unwrap(),
            "GET /ws HTTP/1.1\r\nHost: a.test\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n"
        );
        let req = parse_request(b"GET http://[::1]:81/ HTTP/1.1\r\n\r\n").unwrap();
        assert!(
            String::from_utf8(req.origin_form_head())
                .unwrap()
                .contains("Host: [::1]:81\r\n")
        );
    }

    #[test]
    fn malformed_requests() {
        for bad in [
            &b"garbage\r\n\r\n"[..],
            b"GET /x HTTP/1.1\r\nHost: a.test\r\n\r\n",
            b"GET https://a.test/ HTTP/1.1\r\n\r\n",
            b"GET ftp://a.test/ HTTP/1.1\r\n\r\n",
            b"GET http://user@a.test/ HTTP/1.1\r\n\r\n",
            b"GET http://allowed.test@evil.test/ HTTP/1.1\r\n\r\n",
            b"GET http:///x HTTP/1.1\r\n\r\n",
            b"GET http://127.1/ HTTP/1.1\r\n\r\n",
            b"GET http://a.test:99999/ HTTP/1.1\r\n\r\n",
            b"GET http://a.test/ HTTP/2\r\n\r\n",
            b"GET  http://a.test/ HTTP/1.1\r\n\r\n",
            b"GET http://a.test/ HTTP/1.1\r\nX-A: 1\r\n folded\r\n\r\n",
            b"GET http://a.test/ HTTP/1.1\r\nBad Name: 1\r\n\r\n",
            b"GET http://a.test/ HTTP/1.1\r\nNoColon\r\n\r\n",
            b"GET http://a.test/ HTTP/1.1\r\nX: a\rb\r\n\r\n",
            b"POST http://a.test/ HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
            b"POST http://a.test/ HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
            b"CONNECT a.test HTTP/1.1\r\n\r\n",
            b"CONNECT a.test:0 HTTP/1.1\r\n\r\n",
            b"CONNECT http://a.test:443 HTTP/1.1\r\n\r\n",
            b"CONNECT ::1:443 HTTP/1.1\r\n\r\n",
            b"GET http://a.test/\xff HTTP/1.1\r\n\r\n",
        ] {
            assert!(parse_request(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
        assert!(parse_request(b"CONNECT [::1]:443 HTTP/1.1\r\n\r\n").is_ok());
        assert!(parse_request(b"\r\nCONNECT a.test:443 HTTP/1.1\r\n\r\n").is_ok());
        assert!(parse_request(b"GET http://a.test:/ HTTP/1.1\r\n\r\n").is_ok());
    }

    #[test]
    fn head_end_detection() {
        assert_eq!(find_head_end(b"a\r\n\r\nrest", 0), Some(5));
        assert_eq!(find_head_end(b"a\n\nrest", 0), Some(3));
        assert_eq!(find_head_end(b"a\r\nb: c\r\n", 0), None);
        assert_eq!(find_head_end(b"a\r\n", 0), None);
    }

    #[tokio::test]
    async fn head_split_across_reads() {
        let (mut a, mut b) = tokio::io::duplex(64);
        let writer = tokio::spawn(async move {
            for piece in [
                &b"CONNECT a.test:443 HTTP/1.1\r"[..],
                b"\n",
                b"\r",
                b"\nearly",
            ] {
                a.write_all(piece).await.unwrap();
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            a
        });
        let (buf, end) = read_head(&mut b, 1024).await.ok().unwrap();
        assert_eq!(&buf[..end], b"CONNECT a.test:443 HTTP/1.1\r\n\r\n");
        drop(writer.await);
    }

    // ---- proxy ----------------------------------------------------------------

    #[tokio::test]
    async fn plain_http_get_is_forwarded_in_origin_form() {
        let mut up = upstream().await;
        let proxy = EgressProxy::start(list(&["127.0.0.1"]), loopback0())
            .await
            .unwrap();
        let port = up.addr.port();
        let req = format!(
            "GET http://127.0.0.1:{port}/x?q=1 HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nProxy-Authorization: Basic eDp5\r\nProxy-Connection: Keep-Alive\r\nUser-Agent: t\r\n\r\n"
        );
        let answer = raw(&proxy, req.as_bytes()).await;
        assert_eq!(answer, HELLO);
        let head = up.heads.recv().await.unwrap();
        assert_eq!(
            head,
            format!(
                "GET /x?q=1 HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUser-Agent: t\r\nConnection: close\r\n\r\n"
            )
        );
        let events = proxy.events();
        assert_eq!(events.len(), 1);
        assert!(events[0].allowed);
        assert_eq!(
            (events[0].host.as_str(), events[0].port),
            ("127.0.0.1", port)
        );
        assert!(
            events[0].reason.contains("127.0.0.1"),
            "{}",
            events[0].reason
        );
        assert_eq!(proxy.lookup_count(), 0);
    }

    #[tokio::test]
    async fn plain_http_post_body_is_relayed() {
        let listener = TcpListener::bind(loopback0()).await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let (buf, end) = read_head(&mut s, 4096).await.ok().unwrap();
            let mut body = buf[end..].to_vec();
            while body.len() < 11 {
                let mut b = [0u8; 64];
                let n = s.read(&mut b).await.unwrap();
                body.extend_from_slice(&b[..n]);
            }
            s.write_all(
                b"HTTP/1.1 201 Created\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
            )
            .await
            .unwrap();
            body
        });
        let proxy = EgressProxy::start(list(&["127.0.0.1"]), loopback0())
            .await
            .unwrap();
        let mut s = TcpStream::connect(proxy.addr()).await.unwrap();
        s.write_all(
            format!("POST http://127.0.0.1:{port}/p HTTP/1.1\r\nContent-Length: 11\r\n\r\nhello")
                .as_bytes(),
        )
        .await
        .unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
        s.write_all(b" world").await.unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).await.unwrap();
        assert!(out.starts_with("HTTP/1.1 201 Created"), "{out}");
        assert!(out.ends_with("ok"));
        assert_eq!(server.await.unwrap(), b"hello world");
    }

    #[tokio::test]
    async fn plain_http_connection_ends_with_the_upstream_response() {
        // With room for one connection only, a client that keeps its socket
        // open after the response must not block the next client.
        let up = upstream().await;
        let config = EgressConfig {
            max_connections: 1,
            ..EgressConfig::default()
        };
        let proxy = EgressProxy::start_with(list(&["127.0.0.1"]), loopback0(), config)
            .await
            .unwrap();
        let req = format!("GET http://127.0.0.1:{}/ HTTP/1.1\r\n\r\n", up.addr.port());
        let mut kept = TcpStream::connect(proxy.addr()).await.unwrap();
        kept.write_all(req.as_bytes()).await.unwrap();
        let mut out = Vec::new();
        kept.read_to_end(&mut out).await.unwrap();
        assert_eq!(String::from_utf8_lossy(&out), HELLO);
        // `kept` stays open (its write side too) while the next client asks.
        assert_eq!(raw(&proxy, req.as_bytes()).await, HELLO);
        drop(kept);
    }

    #[tokio::test]
    async fn connect_tunnels_bytes_both_ways() {
        let mut up = upstream().await;
        let proxy = EgressProxy::start(list(&["127.0.0.1"]), loopback0())
            .await
            .unwrap();
        let port = up.addr.port();
        let mut s = TcpStream::connect(proxy.addr()).await.unwrap();
        s.write_all(
            format!("CONNECT 127.0.0.1:{port} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n")
                .as_bytes(),
        )
        .await
        .unwrap();
        let (buf, end) = read_head(&mut s, 4096).await.ok().unwrap();
        assert_eq!(&buf[..end], b"HTTP/1.1 200 Connection Established\r\n\r\n");
        assert_eq!(end, buf.len());
        s.write_all(b"GET /tunnelled HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).await.unwrap();
        assert_eq!(out, HELLO);
        assert_eq!(
            up.heads.recv().await.unwrap(),
            "GET /tunnelled HTTP/1.1\r\nHost: x\r\n\r\n"
        );
    }

    #[tokio::test]
    async fn connect_forwards_early_data() {
        let mut up = upstream().await;
        let proxy = EgressProxy::start(list(&["127.0.0.1"]), loopback0())
            .await
            .unwrap();
        let port = up.addr.port();
        let answer = raw(
            &proxy,
            format!("CONNECT 127.0.0.1:{port} HTTP/1.1\r\n\r\nGET /early HTTP/1.1\r\n\r\n")
                .as_bytes(),
        )
        .await;
        assert_eq!(
            answer,
            format!("HTTP/1.1 200 Connection Established\r\n\r\n{HELLO}")
        );
        assert_eq!(
            up.heads.recv().await.unwrap(),
            "GET /early HTTP/1.1\r\n\r\n"
        );
    }

    #[tokio::test]
    async fn refused_before_any_lookup_or_connection() {
        let up = upstream().await;
        let proxy = EgressProxy::start(list(&["127.0.0.1"]), loopback0())
            .await
            .unwrap();
        let port = up.addr.port();

        let answer = raw(
            &proxy,
            format!("GET http://localhost:{port}/x HTTP/1.1\r\n\r\n").as_bytes(),
        )
        .await;
        assert!(answer.starts_with("HTTP/1.1 403 Forbidden\r\n"), "{answer}");
        assert!(answer.contains("localhost:"), "{answer}");
        assert!(answer.contains("not on the egress allow-list"), "{answer}");

        let answer = raw(
            &proxy,
            format!("CONNECT localhost:{port} HTTP/1.1\r\n\r\n").as_bytes(),
        )
        .await;
        assert!(answer.starts_with("HTTP/1.1 403 Forbidden\r\n"), "{answer}");

        let answer = raw(
            &proxy,
            b"CONNECT api.example.com:443 HTTP/1.1\r\nHost: api.example.com:443\r\n\r\n",
        )
        .await;
        assert!(answer.starts_with("HTTP/1.1 403 Forbidden\r\n"), "{answer}");
        assert!(answer.contains("api.example.com:443"), "{answer}");
        assert!(answer.contains("X-Heroa-Egress: refused"), "{answer}");

        // Same port, wrong port-qualified policy.
        proxy.set_policy(list(&[&format!(
            "127.0.0.1:{}",
            port.wrapping_add(1).max(1)
        )]));
        let answer = raw(
            &proxy,
            format!("CONNECT 127.0.0.1:{port} HTTP/1.1\r\n\r\n").as_bytes(),
        )
        .await;
        assert!(answer.starts_with("HTTP/1.1 403 Forbidden\r\n"), "{answer}");

        assert_eq!(proxy.lookup_count(), 0, "no DNS lookup for refused names");
        assert_eq!(
            up.connections.load(Ordering::SeqCst),
            0,
            "no upstream connection"
        );
        let events = proxy.events();
        let seen: Vec<(&str, u16, bool)> = events
            .iter()
            .map(|e| (e.host.as_str(), e.port, e.allowed))
            .collect();
        assert_eq!(
            seen,
            [
                ("localhost", port, false),
                ("localhost", port, false),
                ("api.example.com", 443, false),
                ("127.0.0.1", port, false),
            ]
        );
        assert!(
            events
                .iter()
                .all(|e| e.reason.contains("not on the egress allow-list"))
        );
        assert!(events.iter().all(|e| e.at_unix_ms > 1_600_000_000_000));
        let json = serde_json::to_value(&events[2]).unwrap();
        assert_eq!(json["host"], "api.example.com");
        assert_eq!(json["allowed"], false);
    }

    #[tokio::test]
    async fn none_denies_everything() {
        let up = upstream().await;
        let proxy = EgressProxy::start(EgressPolicy::None, loopback0())
            .await
            .unwrap();
        let answer = raw(
            &proxy,
            format!("GET http://127.0.0.1:{}/ HTTP/1.1\r\n\r\n", up.addr.port()).as_bytes(),
        )
        .await;
        assert!(answer.starts_with("HTTP/1.1 403 Forbidden\r\n"), "{answer}");
        assert!(answer.contains("disabled"), "{answer}");
        assert_eq!(up.connections.load(Ordering::SeqCst), 0);
        assert!(!proxy.events()[0].allowed);
    }

    #[tokio::test]
    async fn open_allows_and_logs_but_names_may_not_resolve_to_loopback() {
        let mut up = upstream().await;
        let proxy = EgressProxy::start(EgressPolicy::Open, loopback0())
            .await
            .unwrap();
        let port = up.addr.port();
        let answer = raw(
            &proxy,
            format!("GET http://127.0.0.1:{port}/o HTTP/1.1\r\n\r\n").as_bytes(),
        )
        .await;
        assert_eq!(answer, HELLO);
        assert!(up.heads.recv().await.unwrap().starts_with("GET /o "));
        let ev = proxy.events();
        assert!(ev[0].allowed && ev[0].reason.contains("open"), "{ev:?}");

        // DNS-rebinding guard: `localhost` resolves (from /etc/hosts) to
        // loopback only, so it is refused even in open mode.
        let answer = raw(
            &proxy,
            format!("CONNECT localhost:{port} HTTP/1.1\r\n\r\n").as_bytes(),
        )
        .await;
        assert!(answer.starts_with("HTTP/1.1 403 Forbidden\r\n"), "{answer}");
        assert!(answer.contains("loopback"), "{answer}");
        assert_eq!(proxy.lookup_count(), 1);
        assert_eq!(up.connections.load(Ordering::SeqCst), 1);
        let last = proxy.events().pop().unwrap();
        assert!(!last.allowed && last.host == "localhost");
    }

    #[tokio::test]
    async fn local_resolution_guard_can_be_disabled() {
        let up = upstream().await;
        let config = EgressConfig {
            refuse_names_resolving_to_local: false,
            ..EgressConfig::default()
        };
        let proxy = EgressProxy::start_with(list(&["localhost"]), loopback0(), config)
            .await
            .unwrap();
        let answer = raw(
            &proxy,
            format!("GET http://localhost:{}/ HTTP/1.1\r\n\r\n", up.addr.port()).as_bytes(),
        )
        .await;
        assert_eq!(answer, HELLO);
        assert_eq!(proxy.lookup_count(), 1);
    }

    #[tokio::test]
    async fn wildcard_and_case_through_proxy() {
        let proxy = EgressProxy::start(list(&["*.example.com:443"]), loopback0())
            .await
            .unwrap();
        // Apex is not covered by the wildcard; wrong port is not covered.
        for target in ["example.com:443", "a.example.com:80", "EXAMPLE.com.:443"] {
            let answer = raw(
                &proxy,
                format!("CONNECT {target} HTTP/1.1\r\n\r\n").as_bytes(),
            )
            .await;
            assert!(answer.starts_with("HTTP/1.1 403 "), "{target}: {answer}");
        }
        assert_eq!(proxy.lookup_count(), 0);
        assert!(proxy.events().iter().all(|e| !e.allowed));
        assert_eq!(proxy.events()[2].host, "example.com");
    }

    #[tokio::test]
    async fn malformed_request_gets_400() {
        let proxy = EgressProxy::start(EgressPolicy::Open, loopback0())
            .await
            .unwrap();
        for bad in [
            "nonsense\r\n\r\n",
            "GET /relative HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
            "GET http://user:pw@127.0.0.1/ HTTP/1.1\r\n\r\n",
            "CONNECT 127.0.0.1 HTTP/1.1\r\n\r\n",
        ] {
            let answer = raw(&proxy, bad.as_bytes()).await;
            assert!(
                answer.starts_with("HTTP/1.1 400 Bad Request\r\n"),
                "{bad}: {answer}"
            );
        }
        assert!(proxy.events().is_empty());
    }

    #[tokio::test]
    async fn oversized_head_gets_431() {
        let proxy = EgressProxy::start(EgressPolicy::Open, loopback0())
            .await
            .unwrap();
        let req = format!(
            "GET http://127.0.0.1/ HTTP/1.1\r\nX-Big: {}\r\n\r\n",
            "a".repeat(20 * 1024)
        );
        let mut s = TcpStream::connect(proxy.addr()).await.unwrap();
        // The proxy may close while we are still writing; that is fine.
        let _ = s.write_all(req.as_bytes()).await;
        let mut out = Vec::new();
        let _ = s.read_to_end(&mut out).await;
        let answer = String::from_utf8_lossy(&out);
        assert!(answer.starts_with("HTTP/1.1 431 "), "{answer}");
    }

    #[tokio::test]
    async fn slow_head_gets_408() {
        let config = EgressConfig {
            header_timeout: Duration::from_millis(200),
            ..EgressConfig::default()
        };
        let proxy = EgressProxy::start_with(EgressPolicy::Open, loopback0(), config)
            .await
            .unwrap();
        let answer = raw(&proxy, b"GET http://127.0.0.1/ HTTP/1.1\r\n").await;
        assert!(answer.starts_with("HTTP/1.1 408 "), "{answer}");
    }

    #[tokio::test]
    async fn upstream_down_gets_502() {
        let port = {
            let l = TcpListener::bind(loopback0()).await.unwrap();
            l.local_addr().unwrap().port()
        };
        let proxy = EgressProxy::start(list(&["127.0.0.1"]), loopback0())
            .await
            .unwrap();
        let answer = raw(
            &proxy,
            format!("CONNECT 127.0.0.1:{port} HTTP/1.1\r\n\r\n").as_bytes(),
        )
        .await;
        assert!(answer.starts_with("HTTP/1.1 502 "), "{answer}");
    }

    /// Opens a CONNECT tunnel to a server that never answers.
    async fn open_tunnel(proxy: &EgressProxy) -> (TcpStream, TcpListener) {
        let silent = TcpListener::bind(loopback0()).await.unwrap();
        let port = silent.local_addr().unwrap().port();
        let mut s = TcpStream::connect(proxy.addr()).await.unwrap();
        s.write_all(format!("CONNECT 127.0.0.1:{port} HTTP/1.1\r\n\r\n").as_bytes())
            .await
            .unwrap();
        let (buf, end) = read_head(&mut s, 4096).await.ok().unwrap();
        assert!(buf[..end].starts_with(b"HTTP/1.1 200 "));
        (s, silent)
    }

    async fn assert_closed(s: &mut TcpStream) {
        let mut b = [0u8; 16];
        let r = tokio::time::timeout(Duration::from_secs(5), s.read(&mut b))
            .await
            .expect("tunnel closed in time");
        assert!(matches!(r, Ok(0) | Err(_)), "{r:?}");
    }

    #[tokio::test]
    async fn policy_change_closes_open_tunnels() {
        let proxy = EgressProxy::start(list(&["127.0.0.1"]), loopback0())
            .await
            .unwrap();
        let (mut s, _silent) = open_tunnel(&proxy).await;
        // A change that still allows the tunnel keeps it open.
        proxy.set_policy(list(&["127.0.0.1", "a.test"]));
        let mut b = [0u8; 1];
        assert!(
            tokio::time::timeout(Duration::from_millis(200), s.read(&mut b))
                .await
                .is_err()
        );
        proxy.set_policy(EgressPolicy::None);
        assert_closed(&mut s).await;
        let last = proxy.events().pop().unwrap();
        assert!(
            !last.allowed && last.reason.contains("policy change"),
            "{last:?}"
        );
        assert_eq!(proxy.policy(), EgressPolicy::None);
    }

    #[tokio::test]
    async fn idle_tunnels_are_closed() {
        let config = EgressConfig {
            idle_timeout: Duration::from_millis(300),
            ..EgressConfig::default()
        };
        let proxy = EgressProxy::start_with(list(&["127.0.0.1"]), loopback0(), config)
            .await
            .unwrap();
        let (mut s, _silent) = open_tunnel(&proxy).await;
        let started = Instant::now();
        assert_closed(&mut s).await;
        assert!(started.elapsed() >= Duration::from_millis(250));
    }

    #[tokio::test]
    async fn shutdown_closes_listener_and_tunnels() {
        let proxy = EgressProxy::start(list(&["127.0.0.1"]), loopback0())
            .await
            .unwrap();
        let addr = proxy.addr();
        let (mut s, _silent) = open_tunnel(&proxy).await;
        proxy.shutdown().await;
        assert_closed(&mut s).await;
        assert!(TcpStream::connect(addr).await.is_err());
    }

    #[tokio::test]
    async fn drop_stops_the_proxy() {
        let proxy = EgressProxy::start(EgressPolicy::Open, loopback0())
            .await
            .unwrap();
        let addr = proxy.addr();
        drop(proxy);
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(TcpStream::connect(addr).await.is_err());
    }

    #[tokio::test]
    async fn env_and_url() {
        let proxy = EgressProxy::start(EgressPolicy::None, loopback0())
            .await
            .unwrap();
        let url = proxy.proxy_url();
        assert_eq!(url, format!("http://127.0.0.1:{}", proxy.addr().port()));
        let env = proxy.env();
        for key in [
            "HTTP_PROXY",
            "HTTPS_PROXY",
            "http_proxy",
            "https_proxy",
            "ALL_PROXY",
        ] {
            assert!(env.contains(&(key.to_string(), url.clone())), "{key}");
        }
        assert!(env.contains(&("NO_PROXY".to_string(), String::new())));
    }

    #[tokio::test]
    async fn event_log_is_bounded() {
        let proxy = EgressProxy::start(EgressPolicy::None, loopback0())
            .await
            .unwrap();
        for i in 0..(MAX_EVENTS + 100) {
            proxy
                .shared
                .record(&Host::Name(format!("h{i}.test")), 1, false, String::new());
        }
        let events = proxy.events();
        assert_eq!(events.len(), MAX_EVENTS);
        assert_eq!(events[0].host, "h100.test");
        assert_eq!(
            events.last().unwrap().host,
            format!("h{}.test", MAX_EVENTS + 99)
        );
    }

    #[tokio::test]
    async fn reqwest_through_the_proxy() {
        let mut up = upstream().await;
        let proxy = EgressProxy::start(list(&["127.0.0.1"]), loopback0())
            .await
            .unwrap();
        let client = reqwest::Client::builder()
            .proxy(reqwest::Proxy::all(proxy.proxy_url()).unwrap())
            .build()
            .unwrap();
        let resp = client
            .get(format!("http://127.0.0.1:{}/via-reqwest", up.addr.port()))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.text().await.unwrap(), "hello");
        let head = up.heads.recv().await.unwrap();
        assert!(head.starts_with("GET /via-reqwest HTTP/1.1\r\n"), "{head}");

        // A refused host comes back as a 403 answer from the proxy; nothing
        // leaves the machine.
        let resp = client
            .get("http://api.example.com/v1")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 403);
        assert!(resp.text().await.unwrap().contains("api.example.com:80"));
        // HTTPS goes through CONNECT and is refused before any TLS.
        let err = client
            .get("https://api.example.com/v1")
            .send()
            .await
            .unwrap_err();
        assert!(
            err.is_connect() || err.to_string().contains("403"),
            "{err:?}"
        );
        assert_eq!(proxy.lookup_count(), 0);
        let refused: Vec<_> = proxy.events().into_iter().filter(|e| !e.allowed).collect();
        assert_eq!(refused.len(), 2);
        assert!(refused.iter().all(|e| e.host == "api.example.com"));
        assert_eq!((refused[0].port, refused[1].port), (80, 443));
    }

    #[tokio::test]
    async fn curl_through_the_proxy() {
        let curl_ok = std::process::Command::new("curl")
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success());
        if !curl_ok {
            eprintln!("curl not found; skipping");
            return;
        }
        let up = upstream().await;
        let proxy = EgressProxy::start(list(&["127.0.0.1"]), loopback0())
            .await
            .unwrap();
        let url = format!("http://127.0.0.1:{}/via-curl", up.addr.port());
        let run = |args: Vec<String>| {
            tokio::task::spawn_blocking(move || {
                let out = std::process::Command::new("curl")
                    .arg("-q")
                    .args(["-sS", "--max-time", "10", "-w", "|%{http_code}"])
                    .args(args)
                    .env_clear()
                    .env("PATH", std::env::var_os("PATH").unwrap_or_default())
                    .output()
                    .unwrap();
                String::from_utf8_lossy(&out.stdout).into_owned()
            })
        };
        let purl = proxy.proxy_url();
        // Plain absolute-form request.
        assert_eq!(
            run(vec!["-x".into(), purl.clone(), url.clone()])
                .await
                .unwrap(),
            "hello|200"
        );
        // Same through a CONNECT tunnel (-p).
        assert_eq!(
            run(vec!["-p".into(), "-x".into(), purl.clone(), url.clone()])
                .await
                .unwrap(),
            "hello|200"
        );
        // Via the environment variables the runtime sets.
        let env = proxy.env();
        let out = tokio::task::spawn_blocking({
            let url = url.clone();
            move || {
                std::process::Command::new("curl")
                    .args(["-q", "-sS", "--max-time", "10", &url])
                    .env_clear()
                    .env("PATH", std::env::var_os("PATH").unwrap_or_default())
                    .envs(env)
                    .output()
                    .unwrap()
            }
        })
        .await
        .unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout), "hello");
        // Refused destination.
        let out = run(vec!["-x".into(), purl, "http://api.example.com/".into()])
            .await
            .unwrap();
        assert!(out.ends_with("|403"), "{out}");
        assert!(out.contains("not on the egress allow-list"), "{out}");
        assert_eq!(proxy.lookup_count(), 0);
        assert_eq!(proxy.events().iter().filter(|e| e.allowed).count(), 3);
    }
}
