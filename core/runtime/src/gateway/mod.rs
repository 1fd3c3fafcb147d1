//! The runtime's HTTPS gateway: a reverse proxy by host name in front of deployed apps.
//!
//! Each deployed app listens on `127.0.0.1:<port>` and is published as
//! `https://<id>.<domain>[:<port>]`. The [`Gateway`] terminates TLS with leaf certificates
//! issued on demand by a [`LocalCa`] (whose certificate users trust, see
//! [`LocalCa::ca_pem`]) and forwards each request, by its `Host`, to the app's address.
//!
//! The default domain is [`DEFAULT_DOMAIN`] (`heroa.localhost`): names under `.localhost`
//! resolve to loopback in many resolvers (RFC 6761), but nothing here depends on DNS — a
//! client may connect to the gateway's address and send the name as SNI and `Host`.
//!
//! ```ignore
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use heroa_runtime::gateway::{Gateway, GatewayOptions, LocalCa, Route};
//! let ca = LocalCa::load_or_create("/var/lib/heroa/ca")?;
//! let gateway = Gateway::start(GatewayOptions::new(ca)).await?;
//! gateway.set_route(&gateway.host_for("ab12cd34"), Route::Backend("127.0.0.1:8080".parse()?));
//! println!("{}", gateway.url_for("ab12cd34"));
//! gateway.shutdown().await;
//! # Ok(()) }
//! ```

mod ca;
mod proxy;
mod server;
mod tls;

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};

pub use ca::{
    CA_CERT_FILE, CA_KEY_FILE, CA_VALIDITY_DAYS, IssuedCert, LEAF_VALIDITY_DAYS, LocalCa,
};
pub use server::Gateway;

/// Domain under which deployments are published when none is configured.
pub use crate::DEFAULT_DOMAIN;

/// Errors of the gateway and of the local CA.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GatewayError {
    /// A file system or socket operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done (a path or an address).
        context: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A file that would have been written already exists (never overwritten).
    #[error("{} already exists", .0.display())]
    AlreadyExists(PathBuf),
    /// The CA files are missing, unreadable, inconsistent or not a CA.
    #[error("invalid local CA: {0}")]
    InvalidCa(String),
    /// Certificate or key generation failed.
    #[error("certificate generation failed: {0}")]
    Certificate(String),
    /// A host or domain name is not a valid DNS name.
    #[error("invalid host name {0}")]
    InvalidHost(String),
    /// TLS configuration failed.
    #[error("TLS configuration failed: {0}")]
    Tls(#[from] rustls::Error),
}

impl GatewayError {
    pub(crate) fn io(context: impl std::fmt::Display, source: std::io::Error) -> Self {
        GatewayError::Io {
            context: context.to_string(),
            source,
        }
    }

    pub(crate) fn cert(what: &str, err: rcgen::Error) -> Self {
        GatewayError::Certificate(format!("{what}: {err}"))
    }
}

impl GatewayError {
    /// Short machine-readable kind, e.g. `"io"` or `"invalid_ca"`.
    pub fn kind(&self) -> &'static str {
        match self {
            GatewayError::Io { .. } => "io",
            GatewayError::AlreadyExists(_) => "already_exists",
            GatewayError::InvalidCa(_) => "invalid_ca",
            GatewayError::Certificate(_) => "certificate",
            GatewayError::InvalidHost(_) => "invalid_host",
            GatewayError::Tls(_) => "tls",
        }
    }
}

/// Result alias of this module.
pub type Result<T, E = GatewayError> = std::result::Result<T, E>;

/// Where requests for one host name go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// Proxy to an HTTP/1.1 server at this address (normally `127.0.0.1:<port>`).
    Backend(SocketAddr),
    /// The deployment is gone (expired or deleted): answer `410 Gone` with this message.
    Gone {
        /// Human-readable explanation, returned in the JSON error body.
        message: String,
    },
}

impl Route {
    /// A [`Route::Gone`] with the given message.
    pub fn gone(message: impl Into<String>) -> Route {
        Route::Gone {
            message: message.into(),
        }
    }
}

/// The shared route table: normalized host name (lower case, no port) → route.
pub type RouteTable = Arc<RwLock<HashMap<String, Route>>>;

/// How to start a [`Gateway`].
#[derive(Debug, Clone)]
pub struct GatewayOptions {
    /// Address of the HTTPS listener, e.g. `127.0.0.1:443` or `127.0.0.1:0` (any free port).
    pub https_addr: SocketAddr,
    /// Address of an optional plain-HTTP listener serving the same routes.
    pub http_addr: Option<SocketAddr>,
    /// Domain under which deployments are published: `<id>.<domain>`.
    pub domain: String,
    /// The CA that issues the gateway's certificates.
    pub ca: LocalCa,
}

impl GatewayOptions {
    /// HTTPS on `127.0.0.1:0` (a free port), no plain HTTP, domain [`DEFAULT_DOMAIN`].
    pub fn new(ca: LocalCa) -> Self {
        GatewayOptions {
            https_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            http_addr: None,
            domain: DEFAULT_DOMAIN.to_owned(),
            ca,
        }
    }
}

/// Resolves once shutdown has been signalled (or the gateway handle is gone).
pub(crate) async fn stopped(shutdown: &mut tokio::sync::watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stop| *stop).await;
}

/// Normalizes a `Host` value or route key: trims, drops the port and a trailing dot,
/// lower-cases. IPv6 literals keep their brackets. `None` when nothing is left.
pub(crate) fn normalize_host(raw: &str) -> Option<String> {
    let raw = raw.trim();
    let host = if let Some(rest) = raw.strip_prefix('[') {
        // [v6]:port
        let end = rest.find(']')?;
        &raw[..end + 2]
    } else {
        match raw.rsplit_once(':') {
            Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) => h,
            _ => raw,
        }
    };
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    (!host.is_empty()).then_some(host)
}
