//! Request handling: route by host, forward to the backend, stream both ways.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{self, HeaderMap, HeaderName, HeaderValue};
use hyper::{Request, Response, StatusCode, Uri, Version};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::sync::watch;

use super::{Route, RouteTable, normalize_host};

/// Body of every response the gateway sends.
pub(crate) type ProxyBody = BoxBody<Bytes, hyper::Error>;

const UPSTREAM_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const UPSTREAM_POOL_IDLE: Duration = Duration::from_secs(30);

/// Headers that apply to one connection only and are never forwarded (RFC 9110 §7.6.1).
const HOP_BY_HOP: [&str; 9] = [
    "connection",
    "proxy-connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

static X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
static X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
static X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");

/// State shared by every connection of one gateway.
pub(crate) struct ProxyState {
    pub(crate) routes: RouteTable,
    client: Client<HttpConnector, Incoming>,
    shutdown: watch::Receiver<bool>,
}

impl ProxyState {
    pub(crate) fn new(routes: RouteTable, shutdown: watch::Receiver<bool>) -> Self {
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(UPSTREAM_CONNECT_TIMEOUT));
        connector.set_nodelay(true);
        connector.enforce_http(true);
        let client = Client::builder(TokioExecutor::new())
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(UPSTREAM_POOL_IDLE)
            .set_host(false)
            .build(connector);
        ProxyState {
            routes,
            client,
            shutdown,
        }
    }
}

/// Per-connection facts the handler needs.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ConnInfo {
    pub(crate) peer: SocketAddr,
    /// `"https"` or `"http"`.
    pub(crate) scheme: &'static str,
}

/// Entry point for every request on either listener.
pub(crate) async fn handle(
    state: Arc<ProxyState>,
    conn: ConnInfo,
    req: Request<Incoming>,
) -> Result<Response<ProxyBody>, Infallible> {
    let Some((host, raw_host)) = request_host(&req) else {
        return Ok(error_response(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "the request has no Host",
        ));
    };
    let route = state
        .routes
        .read()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .get(&host)
        .cloned();
    Ok(match route {
        None => error_response(
            StatusCode::NOT_FOUND,
            "not_found",
            &format!("no deployment is served at {host}"),
        ),
        Some(Route::Gone { message }) => error_response(StatusCode::GONE, "gone", &message),
        Some(Route::Backend(addr)) => forward(&state, conn, &host, raw_host, addr, req).await,
    })
}

/// The normalized host (route key) and the raw value to forward as `Host`.
fn request_host(req: &Request<Incoming>) -> Option<(String, HeaderValue)> {
    if let Some(value) = req.headers().get(header::HOST) {
        let host = normalize_host(value.to_str().ok()?)?;
        return Some((host, value.clone()));
    }
    // HTTP/2 (and absolute-form HTTP/1 targets) carry the host in the URI authority.
    let authority = req.uri().authority()?;
    let host = normalize_host(authority.as_str())?;
    Some((host, HeaderValue::from_str(authority.as_str()).ok()?))
}

async fn forward(
    state: &ProxyState,
    conn: ConnInfo,
    host: &str,
    raw_host: HeaderValue,
    backend: SocketAddr,
    mut req: Request<Incoming>,
) -> Response<ProxyBody> {
    // An HTTP/1.1 `Connection: upgrade` request (WebSocket and the like) is tunnelled.
    let upgrade = (req.version() == Version::HTTP_11 && connection_has(req.headers(), "upgrade"))
        .then(|| req.headers().get(header::UPGRADE).cloned())
        .flatten();
    let client_upgrade = upgrade.as_ref().map(|_| hyper::upgrade::on(&mut req));

    if req.method() == hyper::Method::CONNECT {
        return error_response(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "CONNECT is not supported by the gateway",
        );
    }
    let (mut parts, body) = req.into_parts();
    let path_and_query = parts
        .uri
        .path_and_query()
        .map(|pq| pq.as_str())
        .unwrap_or("/");
    parts.uri = match Uri::try_from(format!("http://{backend}{path_and_query}")) {
        Ok(uri) => uri,
        Err(_) => {
            return error_response(
                StatusCode::BAD_REQUEST,
                "bad_request",
                "the request target is not valid",
            );
        }
    };
    parts.version = Version::HTTP_11;
    let headers = &mut parts.headers;
    strip_hop_by_hop(headers);
    if let Some(protocol) = &upgrade {
        headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
        headers.insert(header::UPGRADE, protocol.clone());
    }
    headers.insert(header::HOST, raw_host.clone());
    // These come from the edge: anything the client sent is replaced, not trusted.
    let client_ip = conn.peer.ip().to_canonical().to_string();
    if let Ok(value) = HeaderValue::from_str(&client_ip) {
        headers.insert(X_FORWARDED_FOR.clone(), value);
    }
    headers.insert(
        X_FORWARDED_PROTO.clone(),
        HeaderValue::from_static(conn.scheme),
    );
    headers.insert(X_FORWARDED_HOST.clone(), raw_host);

    let mut response = match state.client.request(Request::from_parts(parts, body)).await {
        Ok(response) => response,
        Err(err) => {
            tracing::warn!(%host, %backend, error = %err, "gateway upstream request failed");
            let message = if err.is_connect() {
                format!("the deployment at {host} is not accepting connections")
            } else {
                format!("the deployment at {host} did not answer correctly")
            };
            return error_response(StatusCode::BAD_GATEWAY, "bad_gateway", &message);
        }
    };

    if response.status() == StatusCode::SWITCHING_PROTOCOLS
        && let Some(client_upgrade) = client_upgrade
    {
        let upstream_upgrade = hyper::upgrade::on(&mut response);
        let mut shutdown = state.shutdown.clone();
        let host = host.to_owned();
        tokio::spawn(async move {
            let tunnel = async {
                let (client, upstream) = tokio::try_join!(client_upgrade, upstream_upgrade)?;
                let mut client = TokioIo::new(client);
                let mut upstream = TokioIo::new(upstream);
                tokio::io::copy_bidirectional(&mut client, &mut upstream)
                    .await
                    .map_err(|e| e.to_string())?;
                Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
            };
            tokio::select! {
                result = tunnel => if let Err(err) = result {
                    tracing::debug!(%host, error = %err, "gateway upgraded connection ended");
                },
                _ = super::stopped(&mut shutdown) => {}
            }
        });
        let (mut parts, body) = response.into_parts();
        let protocol = parts.headers.get(header::UPGRADE).cloned();
        strip_hop_by_hop(&mut parts.headers);
        parts
            .headers
            .insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
        if let Some(protocol) = protocol {
            parts.headers.insert(header::UPGRADE, protocol);
        }
        return Response::from_parts(parts, body.boxed());
    }

    let (mut parts, body) = response.into_parts();
    strip_hop_by_hop(&mut parts.headers);
    Response::from_parts(parts, body.boxed())
}

/// Removes hop-by-hop headers, including those named in `Connection`.
fn strip_hop_by_hop(headers: &mut HeaderMap) {
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok())
        .collect();
    for name in named {
        headers.remove(name);
    }
    for name in HOP_BY_HOP {
        headers.remove(name);
    }
}

fn connection_has(headers: &HeaderMap, token: &str) -> bool {
    headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case(token))
}

/// `{"error": {"kind": …, "message": …}}` with the given status.
pub(crate) fn error_response(status: StatusCode, kind: &str, message: &str) -> Response<ProxyBody> {
    let body = format!(
        "{}\n",
        serde_json::json!({"error": {"kind": kind, "message": message}})
    );
    let mut response = Response::new(
        Full::new(Bytes::from(body))
            .map_err(|never| match never {})
            .boxed(),
    );
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

#[cfg(test)]
mod unit {
    use super::*;

    #[tokio::test]
    async fn error_bodies_escape_strings() {
        let response = error_response(StatusCode::GONE, "gone", "a\"b\\c\n\u{1}é");
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let body = String::from_utf8(bytes.to_vec()).unwrap();
        assert!(body.contains("\"a\\\"b\\\\c\\n\\u0001é\""), "{body}");
        assert!(
            body.starts_with("{\"error\":{\"kind\":\"gone\",\"message\":"),
            "{body}"
        );
    }

    #[test]
    fn hop_by_hop_headers_are_removed() {
        let mut h = HeaderMap::new();
        h.insert(
            "connection",
            HeaderValue::from_static("keep-alive, x-secret"),
        );
        h.insert("keep-alive", HeaderValue::from_static("timeout=5"));
        h.insert("x-secret", HeaderValue::from_static("1"));
        h.insert("transfer-encoding", HeaderValue::from_static("chunked"));
        h.insert("x-kept", HeaderValue::from_static("1"));
        strip_hop_by_hop(&mut h);
        assert_eq!(h.len(), 1);
        assert!(h.contains_key("x-kept"));
    }
}
