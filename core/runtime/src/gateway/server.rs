//! Listeners, TLS termination and the [`Gateway`] handle.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use rustls::ServerConfig;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};
use tokio_rustls::TlsAcceptor;

use super::ca::{LocalCa, normalize_dns_name, provider};
use super::proxy::{ConnInfo, ProxyState, handle};
use super::tls::SniResolver;
use super::{GatewayError, GatewayOptions, Result, Route, RouteTable, normalize_host};

/// How long a TLS handshake may take.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a client may take to send a request head (HTTP/1).
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// How long `shutdown` lets in-flight requests finish before closing connections.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// A running gateway. Dropping it stops the listeners (in-flight connections are closed
/// in the background); [`Gateway::shutdown`] does the same and waits.
#[derive(Debug)]
pub struct Gateway {
    https_addr: SocketAddr,
    http_addr: Option<SocketAddr>,
    domain: String,
    ca: LocalCa,
    routes: RouteTable,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl Gateway {
    /// Binds the listeners and starts serving. Must be called within a Tokio runtime.
    pub async fn start(options: GatewayOptions) -> Result<Gateway> {
        let GatewayOptions {
            https_addr,
            http_addr,
            domain,
            ca,
        } = options;
        let domain = normalize_dns_name(&domain, false)?;
        let routes = RouteTable::default();
        let provider = Arc::new(provider());

        let resolver =
            SniResolver::new(ca.clone(), domain.clone(), routes.clone(), provider.clone())?;
        let mut tls = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_cert_resolver(Arc::new(resolver));
        tls.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        let acceptor = TlsAcceptor::from(Arc::new(tls));

        let https = TcpListener::bind(https_addr)
            .await
            .map_err(|e| GatewayError::io(format!("bind HTTPS listener {https_addr}"), e))?;
        let https_addr = https
            .local_addr()
            .map_err(|e| GatewayError::io("HTTPS listener address", e))?;
        let http = match http_addr {
            Some(addr) => Some(
                TcpListener::bind(addr)
                    .await
                    .map_err(|e| GatewayError::io(format!("bind HTTP listener {addr}"), e))?,
            ),
            None => None,
        };
        let http_addr = http
            .as_ref()
            .map(|l| l.local_addr())
            .transpose()
            .map_err(|e| GatewayError::io("HTTP listener address", e))?;

        let (shutdown, shutdown_rx) = watch::channel(false);
        let state = Arc::new(ProxyState::new(routes.clone(), shutdown_rx.clone()));
        let mut builder = auto::Builder::new(TokioExecutor::new());
        builder
            .http1()
            .timer(TokioTimer::new())
            .header_read_timeout(HEADER_READ_TIMEOUT);
        builder.http2().timer(TokioTimer::new());
        let server = Arc::new(Server { state, builder });

        let mut tasks = vec![tokio::spawn(accept_loop(
            https,
            Some(acceptor),
            server.clone(),
            shutdown_rx.clone(),
        ))];
        if let Some(http) = http {
            tasks.push(tokio::spawn(accept_loop(http, None, server, shutdown_rx)));
        }
        tracing::info!(%https_addr, ?http_addr, %domain, "gateway listening");
        Ok(Gateway {
            https_addr,
            http_addr,
            domain,
            ca,
            routes,
            shutdown,
            tasks,
        })
    }

    /// The bound HTTPS address (with the actual port when `:0` was asked for).
    pub fn https_addr(&self) -> SocketAddr {
        self.https_addr
    }

    /// The bound plain-HTTP address, if that listener is enabled.
    pub fn http_addr(&self) -> Option<SocketAddr> {
        self.http_addr
    }

    /// The normalized domain deployments are published under.
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// The CA issuing this gateway's certificates (export it with [`LocalCa::ca_pem`]).
    pub fn ca(&self) -> &LocalCa {
        &self.ca
    }

    /// The shared route table (keys are normalized host names).
    pub fn routes(&self) -> &RouteTable {
        &self.routes
    }

    /// `<id>.<domain>`.
    pub fn host_for(&self, id: &str) -> String {
        format!("{}.{}", id.to_ascii_lowercase(), self.domain)
    }

    /// `https://<id>.<domain>`, with `:<port>` unless the HTTPS port is 443.
    pub fn url_for(&self, id: &str) -> String {
        url("https", &self.host_for(id), self.https_addr.port(), 443)
    }

    /// `http://<id>.<domain>[:<port>]`, if the plain-HTTP listener is enabled.
    pub fn http_url_for(&self, id: &str) -> Option<String> {
        self.http_addr
            .map(|addr| url("http", &self.host_for(id), addr.port(), 80))
    }

    /// Routes `host` (any case, port ignored) to `route`; returns the previous route.
    pub fn set_route(&self, host: &str, route: Route) -> Option<Route> {
        let key = normalize_host(host).unwrap_or_default();
        self.routes
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert(key, route)
    }

    /// Removes the route for `host`; returns it.
    pub fn remove_route(&self, host: &str) -> Option<Route> {
        let key = normalize_host(host)?;
        self.routes
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .remove(&key)
    }

    /// The route for `host`, if any.
    pub fn route(&self, host: &str) -> Option<Route> {
        let key = normalize_host(host)?;
        self.routes
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .get(&key)
            .cloned()
    }

    /// Stops accepting, lets in-flight requests finish (up to a few seconds), then closes
    /// every connection, including upgraded (WebSocket) tunnels.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown.send(true);
        for task in std::mem::take(&mut self.tasks) {
            let _ = task.await;
        }
        tracing::info!(https_addr = %self.https_addr, "gateway stopped");
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
    }
}

pub(super) fn url(scheme: &str, host: &str, port: u16, default_port: u16) -> String {
    if port == default_port {
        format!("{scheme}://{host}")
    } else {
        format!("{scheme}://{host}:{port}")
    }
}

struct Server {
    state: Arc<ProxyState>,
    builder: auto::Builder<TokioExecutor>,
}

/// Accepts connections until shutdown, then drains them (bounded by [`SHUTDOWN_GRACE`]);
/// whatever is left when this returns is aborted with the `JoinSet`.
async fn accept_loop(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    server: Arc<Server>,
    mut shutdown: watch::Receiver<bool>,
) {
    let scheme = if tls.is_some() { "https" } else { "http" };
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            _ = super::stopped(&mut shutdown) => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            accepted = listener.accept() => {
                let (tcp, peer) = match accepted {
                    Ok(pair) => pair,
                    Err(err) => {
                        // e.g. EMFILE: back off instead of spinning.
                        tracing::warn!(error = %err, "gateway accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = tcp.set_nodelay(true);
                let info = ConnInfo { peer, scheme };
                let server = server.clone();
                let shutdown = shutdown.clone();
                let tls = tls.clone();
                connections.spawn(async move {
                    match tls {
                        None => serve(tcp, info, server, shutdown).await,
                        Some(acceptor) => {
                            match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                                Ok(Ok(stream)) => serve(stream, info, server, shutdown).await,
                                Ok(Err(err)) => tracing::debug!(%peer, error = %err, "gateway TLS handshake failed"),
                                Err(_) => tracing::debug!(%peer, "gateway TLS handshake timed out"),
                            }
                        }
                    }
                });
            }
        }
    }
    drop(listener);
    let drained = tokio::time::timeout(SHUTDOWN_GRACE, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::debug!(
            remaining = connections.len(),
            "gateway closing connections still open after the grace period"
        );
    }
}

async fn serve<I>(io: I, info: ConnInfo, server: Arc<Server>, mut shutdown: watch::Receiver<bool>)
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let state = server.state.clone();
    let service = service_fn(move |req| handle(state.clone(), info, req));
    let conn = server
        .builder
        .serve_connection_with_upgrades(TokioIo::new(io), service);
    tokio::pin!(conn);
    let result = tokio::select! {
        result = conn.as_mut() => result,
        _ = super::stopped(&mut shutdown) => {
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    if let Err(err) = result {
        tracing::debug!(peer = %info.peer, error = %err, "gateway connection ended with an error");
    }
}
