//! `heroa serve`: the embedded runtime over HTTP — the protocol's reference
//! implementation (see `openapi.json` at the repository root).
//!
//! Bearer API keys select the workspace; bodies are JSON with unknown fields
//! rejected; every error is `{"error": {"kind", "message", "field"?, "details"?}}` with the status
//! of its kind; bodies over the limit get 413; `POST`s carrying an `Idempotency-Key`
//! are answered once and replayed after.

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, request::Parts};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Serialize;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};

mod heroku;

use crate::error::{Error, ErrorKind, Result};
use crate::protocol::*;
use crate::runtime::Runtime;

/// Server settings.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Largest accepted request body, in bytes (default 1 MiB).
    pub max_body_bytes: usize,
    /// Longest one `wait` request may hold (default 60 s).
    pub max_wait: Duration,
    /// Interval of keep-alive comments on idle event streams (default 15 s).
    pub keep_alive: Duration,
}

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions {
            max_body_bytes: 1024 * 1024,
            max_wait: Duration::from_secs(60),
            keep_alive: Duration::from_secs(15),
        }
    }
}

#[derive(Clone)]
struct AppState {
    rt: Runtime,
    opts: ServeOptions,
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.kind().http_status())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        if self.kind() == ErrorKind::Internal {
            tracing::error!(error = ?self, "internal error");
        }
        let mut resp = (status, axum::Json(self.to_body())).into_response();
        if let Some(v) = self
            .retry_after()
            .and_then(|after| HeaderValue::from_str(&after.as_secs().max(1).to_string()).ok())
        {
            resp.headers_mut().insert("retry-after", v);
        }
        resp
    }
}

/// The workspace of the authenticated caller.
struct Ws(String);

impl<S: Send + Sync> FromRequestParts<S> for Ws {
    type Rejection = Error;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self> {
        parts
            .extensions
            .get::<Ws>()
            .map(|w| Ws(w.0.clone()))
            .ok_or_else(|| Error::new(ErrorKind::Unauthenticated, "missing API key"))
    }
}

impl Clone for Ws {
    fn clone(&self) -> Self {
        Ws(self.0.clone())
    }
}

/// A JSON body decoded with the field at fault named on error. An empty body reads
/// as `{}`.
struct JsonBody<T>(T);

/// Turns a serde error into `invalid_argument` naming the field.
pub(crate) fn decode_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T> {
    let bytes: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        bytes
    };
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(Error::invalid(
            "body",
            "the request body must be a JSON object",
        ));
    }
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let msg = inner.to_string();
        let quoted = msg.split('`').nth(1).map(str::to_string);
        let field = match inner.classify() {
            serde_json::error::Category::Syntax | serde_json::error::Category::Eof => {
                "body".to_string()
            }
            _ if msg.starts_with("unknown field") || msg.starts_with("missing field") => {
                let name = quoted.unwrap_or_default();
                if path == "." {
                    name
                } else if path == name || path.ends_with(&format!(".{name}")) {
                    path
                } else {
                    format!("{path}.{name}")
                }
            }
            _ if path == "." => "body".to_string(),
            _ => path,
        };
        let text = match inner.classify() {
            serde_json::error::Category::Syntax | serde_json::error::Category::Eof => {
                format!("the request body is not valid JSON: {msg}")
            }
            _ => format!("{field}: {msg}"),
        };
        Error::invalid(field, text)
    })
}

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for JsonBody<T> {
    type Rejection = Error;
    async fn from_request(req: Request, _: &S) -> Result<Self> {
        let bytes = Bytes::from_request(req, &()).await.map_err(|_| {
            Error::new(ErrorKind::PayloadTooLarge, "the request body is too large")
                .with_field("body")
        })?;
        decode_json(&bytes).map(JsonBody)
    }
}

/// Query parameters with the field at fault named on error.
struct Params<T>(T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Params<T> {
    type Rejection = Error;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self> {
        Query::<T>::try_from_uri(&parts.uri)
            .map(|q| Params(q.0))
            .map_err(|e| {
                let msg = e.body_text();
                let field = msg.split('`').nth(1).unwrap_or("query").to_string();
                Error::invalid(field, msg)
            })
    }
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct AgentFilter {
    agent_id: Option<String>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct StatusFilter {
    status: Option<String>,
}

fn ok<T: Serialize>(v: T) -> Response {
    axum::Json(v).into_response()
}

fn created<T: Serialize>(v: T) -> Response {
    (StatusCode::CREATED, axum::Json(v)).into_response()
}

/// The protocol's routes (`/v1/…`), without the listener.
pub fn router(rt: Runtime, opts: ServeOptions) -> Router {
    let state = AppState { rt, opts };
    let limit = state.opts.max_body_bytes;
    let api = Router::new()
        .route("/v1/workspace", get(|State(s): State<AppState>, Ws(ws): Ws| async move {
            s.rt.get_workspace(&ws).map(ok)
        }))
        .route("/v1/workspace/soc2-acceptance", post(|State(s): State<AppState>, Ws(ws): Ws| async move {
            s.rt.accept_soc2(&ws).map(ok)
        }))
        .route("/v1/inbox", get(|State(s): State<AppState>, Ws(ws): Ws| async move {
            s.rt.list_inbox(&ws).map(ok)
        }))
        .route("/v1/skills", get(|State(s): State<AppState>| async move { ok(s.rt.list_skills()) }))
        .route("/v1/templates", get(|State(s): State<AppState>| async move { ok(s.rt.list_templates()) }))
        .route("/v1/agents", post(|State(s): State<AppState>, Ws(ws): Ws, JsonBody(req): JsonBody<RegisterAgent>| async move {
            s.rt.register_agent(&ws, req).map(created)
        }).get(|State(s): State<AppState>, Ws(ws): Ws| async move {
            s.rt.list_agents(&ws).map(ok)
        }))
        .route("/v1/agents/heroku", post(|State(s): State<AppState>, Ws(ws): Ws, headers: HeaderMap, JsonBody(req): JsonBody<heroku::HerokuRequest>| async move {
            heroku::agents_heroku(&s, &ws, &headers, req)
        }))
        .route("/v1/agents/{agent_id}", get(|State(s): State<AppState>, Ws(ws): Ws, Path(id): Path<String>| async move {
            s.rt.get_agent(&ws, &id).map(ok)
        }).patch(|State(s): State<AppState>, Ws(ws): Ws, Path(id): Path<String>, JsonBody(req): JsonBody<UpdateAgent>| async move {
            s.rt.update_agent(&ws, &id, req).map(ok)
        }).delete(|State(s): State<AppState>, Ws(ws): Ws, Path(id): Path<String>| async move {
            s.rt.delete_agent(&ws, &id).map(|()| StatusCode::NO_CONTENT.into_response())
        }))
        .route("/v1/agents/{agent_id}/promotion", post(|State(s): State<AppState>, Ws(ws): Ws, Path(id): Path<String>, JsonBody(req): JsonBody<SetPromotion>| async move {
            s.rt.set_promotion(&ws, &id, req).map(ok)
        }))
        .route("/v1/agents/{agent_id}/runs", post(|State(s): State<AppState>, Ws(ws): Ws, Path(id): Path<String>, JsonBody(req): JsonBody<StartRun>| async move {
            s.rt.start_run(&ws, &id, req).map(created)
        }))
        .route("/v1/vault", post(|State(s): State<AppState>, Ws(ws): Ws, JsonBody(req): JsonBody<VaultPut>| async move {
            s.rt.vault_put(&ws, req).map(created)
        }).get(|State(s): State<AppState>, Ws(ws): Ws, Params(q): Params<AgentFilter>| async move {
            s.rt.vault_list(&ws, q.agent_id.as_deref()).map(ok)
        }))
        .route("/v1/vault/{vault_id}", get(|State(s): State<AppState>, Ws(ws): Ws, Path(id): Path<String>| async move {
            s.rt.vault_get(&ws, &id).map(ok)
        }).delete(|State(s): State<AppState>, Ws(ws): Ws, Path(id): Path<String>| async move {
            s.rt.vault_delete(&ws, &id).map(|()| StatusCode::NO_CONTENT.into_response())
        }))
        .route("/v1/vault/{vault_id}/rotate", post(|State(s): State<AppState>, Ws(ws): Ws, Path(id): Path<String>, JsonBody(req): JsonBody<VaultRotate>| async move {
            s.rt.vault_rotate(&ws, &id, req).map(ok)
        }))
        .route("/v1/policies", post(|State(s): State<AppState>, Ws(ws): Ws, JsonBody(req): JsonBody<CreatePolicy>| async move {
            s.rt.create_policy(&ws, req).map(created)
        }).get(|State(s): State<AppState>, Ws(ws): Ws, Params(q): Params<AgentFilter>| async move {
            s.rt.list_policies(&ws, q.agent_id.as_deref()).map(ok)
        }))
        .route("/v1/policies/{policy_id}", get(|State(s): State<AppState>, Ws(ws): Ws, Path(id): Path<String>| async move {
            s.rt.get_policy(&ws, &id).map(ok)
        }))
        .route("/v1/runs", get(|State(s): State<AppState>, Ws(ws): Ws, Params(q): Params<AgentFilter>| async move {
            s.rt.list_runs(&ws, q.agent_id.as_deref()).map(ok)
        }))
        .route("/v1/runs/{run_id}", get(|State(s): State<AppState>, Ws(ws): Ws, Path(id): Path<String>| async move {
            s.rt.get_run(&ws, &id).map(ok)
        }))
        .route("/v1/runs/{run_id}/wait", post(|State(s): State<AppState>, Ws(ws): Ws, Path(id): Path<String>, JsonBody(req): JsonBody<WaitRun>| async move {
            let timeout = Duration::from_millis(req.timeout_ms).min(s.opts.max_wait);
            s.rt.wait_run(&ws, &id, timeout).await.map(ok)
        }))
        .route("/v1/runs/{run_id}/cancel", post(|State(s): State<AppState>, Ws(ws): Ws, Path(id): Path<String>| async move {
            s.rt.cancel_run(&ws, &id).await.map(ok)
        }))
        .route("/v1/runs/{run_id}/events", get(|State(s): State<AppState>, Ws(ws): Ws, Path(id): Path<String>, headers: HeaderMap| async move {
            run_events(&s, &ws, &id, &headers)
        }))
        .route("/v1/runs/{run_id}/audit", get(|State(s): State<AppState>, Ws(ws): Ws, Path(id): Path<String>| async move {
            s.rt.audit(&ws, &id).map(ok)
        }))
        .route("/v1/runs/{run_id}/audit/verify", get(|State(s): State<AppState>, Ws(ws): Ws, Path(id): Path<String>| async move {
            s.rt.verify_audit(&ws, &id).map(ok)
        }))
        .route("/v1/deployments", post(|State(s): State<AppState>, Ws(ws): Ws, JsonBody(req): JsonBody<DeployRequest>| async move {
            s.rt.deploy(&ws, req).await.map(created)
        }).get(|State(s): State<AppState>, Ws(ws): Ws| async move {
            s.rt.list_deployments(&ws).map(ok)
        }))
        .route("/v1/deployments/{deployment_id}", get(|State(s): State<AppState>, Ws(ws): Ws, Path(id): Path<String>| async move {
            s.rt.get_deployment(&ws, &id).map(ok)
        }).delete(|State(s): State<AppState>, Ws(ws): Ws, Path(id): Path<String>| async move {
            s.rt.delete_deployment(&ws, &id).await.map(ok)
        }))
        .route("/v1/deployments/{deployment_id}/extend", post(|State(s): State<AppState>, Ws(ws): Ws, Path(id): Path<String>, JsonBody(req): JsonBody<ExtendDeployment>| async move {
            s.rt.extend_deployment(&ws, &id, req).map(ok)
        }))
        .route("/v1/webhooks/deliveries", get(|State(s): State<AppState>, Ws(ws): Ws, Params(q): Params<AgentFilter>| async move {
            s.rt.list_deliveries(&ws, q.agent_id.as_deref()).map(ok)
        }))
        .route("/v1/webhooks/deliveries/{delivery_id}", get(|State(s): State<AppState>, Ws(ws): Ws, Path(id): Path<String>| async move {
            s.rt.get_delivery(&ws, &id).map(ok)
        }))
        .route("/v1/webhooks/deliveries/{delivery_id}/redeliver", post(|State(s): State<AppState>, Ws(ws): Ws, Path(id): Path<String>| async move {
            s.rt.redeliver(&ws, &id).map(ok)
        }))
        .route("/v1/approvals", get(|State(s): State<AppState>, Ws(ws): Ws, Params(q): Params<StatusFilter>| async move {
            s.rt.list_approvals(&ws, q.status.as_deref()).map(ok)
        }))
        .route("/v1/approvals/{approval_id}", get(|State(s): State<AppState>, Ws(ws): Ws, Path(id): Path<String>| async move {
            s.rt.get_approval(&ws, &id).map(ok)
        }))
        .route("/v1/approvals/{approval_id}/approve", post(|State(s): State<AppState>, Ws(ws): Ws, Path(id): Path<String>, JsonBody(req): JsonBody<DecideApproval>| async move {
            s.rt.approve(&ws, &id, req).map(ok)
        }))
        .route("/v1/approvals/{approval_id}/deny", post(|State(s): State<AppState>, Ws(ws): Ws, Path(id): Path<String>, JsonBody(req): JsonBody<DecideApproval>| async move {
            s.rt.deny(&ws, &id, req).map(ok)
        }))
        .route_layer(middleware::from_fn_with_state(state.clone(), authenticate));
    Router::new()
        .route(
            "/v1/health",
            get(|| async { ok(serde_json::json!({"status": "ok"})) }),
        )
        .merge(api)
        .fallback(|| async {
            Error::new(
                ErrorKind::NotFound,
                "no such endpoint; see openapi.json for the protocol",
            )
        })
        .layer(axum::extract::DefaultBodyLimit::max(limit))
        .with_state(state)
}

/// `GET /v1/runs/{id}/events`: the run's stream as Server-Sent Events, resuming after
/// `Last-Event-ID`, with keep-alive comments while idle.
fn run_events(s: &AppState, ws: &str, id: &str, headers: &HeaderMap) -> Result<Response> {
    use axum::response::sse::{Event, KeepAlive, Sse};
    let last = match headers.get("last-event-id") {
        None => None,
        Some(v) => Some(
            v.to_str()
                .ok()
                .and_then(|t| t.trim().parse::<u64>().ok())
                .ok_or_else(|| {
                    Error::invalid(
                        "Last-Event-ID",
                        "Last-Event-ID must be the id of an event of this stream (a whole number)",
                    )
                })?,
        ),
    };
    let events = s.rt.run_events(ws, id, last)?;
    let stream = futures_util::stream::unfold(events, |mut events| async move {
        let item = events.next().await?;
        let item = item.map(|e| {
            let data = match &e.data {
                serde_json::Value::String(text) => text.clone(),
                other => other.to_string(),
            };
            Event::default()
                .id(e.id.to_string())
                .event(e.event)
                .data(data)
        });
        Some((item, events))
    });
    Ok(Sse::new(stream)
        .keep_alive(
            KeepAlive::new()
                .interval(s.opts.keep_alive)
                .text("keep-alive"),
        )
        .into_response())
}

/// The token of `Authorization: Bearer <token>` (the scheme name in any case).
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get("authorization")?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// Bearer auth, then idempotent replay of `POST`s with an `Idempotency-Key`.
async fn authenticate(State(s): State<AppState>, mut req: Request, next: Next) -> Response {
    let Some(key) = bearer(req.headers()) else {
        return Error::new(
            ErrorKind::Unauthenticated,
            "missing bearer API key (Authorization: Bearer …)",
        )
        .into_response();
    };
    let ws = match s.rt.authenticate(key) {
        Ok(ws) => ws,
        Err(e) => return e.into_response(),
    };
    req.extensions_mut().insert(Ws(ws.clone()));
    let idem = req
        .headers()
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    match idem {
        Some(k) if req.method() == axum::http::Method::POST => idempotent(&s, &ws, &k, req, next)
            .await
            .unwrap_or_else(IntoResponse::into_response),
        _ => next.run(req).await,
    }
}

async fn idempotent(
    s: &AppState,
    ws: &str,
    key: &str,
    req: Request,
    next: Next,
) -> Result<Response> {
    if key.is_empty() || key.len() > 255 {
        return Err(Error::invalid(
            "Idempotency-Key",
            "Idempotency-Key must be 1-255 characters",
        ));
    }
    let (parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, s.opts.max_body_bytes)
        .await
        .map_err(|_| {
            Error::new(ErrorKind::PayloadTooLarge, "the request body is too large")
                .with_field("body")
        })?;
    let mut h = Sha256::new();
    h.update(parts.uri.path().as_bytes());
    h.update(b"\n");
    h.update(&bytes);
    let hash = hex::encode(h.finalize());
    let store = &s.rt.inner.store;
    let prior: Option<(String, i64, Vec<u8>)> = store
        .conn()
        .query_row(
            "SELECT request_hash, status, body FROM idempotency WHERE workspace_id = ?1 AND key = ?2",
            rusqlite::params![ws, key],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .ok();
    match prior {
        Some((h, _, _)) if h != hash => {
            return Err(Error::new(
                ErrorKind::Conflict,
                "this Idempotency-Key was used with a different request",
            )
            .with_field("Idempotency-Key"));
        }
        Some((_, 0, _)) => {
            return Err(Error::new(
                ErrorKind::Conflict,
                "a request with this Idempotency-Key is in progress",
            )
            .with_field("Idempotency-Key")
            .with_retry_after(Duration::from_secs(1)));
        }
        Some((_, status, body)) => {
            let mut resp = Response::new(Body::from(body));
            *resp.status_mut() = StatusCode::from_u16(status as u16).unwrap_or(StatusCode::OK);
            resp.headers_mut()
                .insert("content-type", HeaderValue::from_static("application/json"));
            resp.headers_mut()
                .insert("idempotent-replayed", HeaderValue::from_static("true"));
            return Ok(resp);
        }
        None => {}
    }
    store.exec(
        "INSERT OR IGNORE INTO idempotency (workspace_id, key, request_hash, status, body) VALUES (?1, ?2, ?3, 0, x'')",
        rusqlite::params![ws, key, hash],
    )?;
    let resp = next
        .run(Request::from_parts(parts, Body::from(bytes)))
        .await;
    let streaming = resp
        .headers()
        .get("content-type")
        .is_some_and(|v| v.as_bytes().starts_with(b"text/event-stream"));
    // A failure is not remembered (the key can be used again); a stream is not
    // buffered or replayed (it would neither stream nor keep its headers).
    if streaming || !resp.status().is_success() {
        store.exec(
            "DELETE FROM idempotency WHERE workspace_id = ?1 AND key = ?2",
            rusqlite::params![ws, key],
        )?;
        return Ok(resp);
    }
    let (parts, body) = resp.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX)
        .await
        .map_err(|e| Error::internal("response body").with_source(e))?;
    store.exec(
        "UPDATE idempotency SET status = ?3, body = ?4 WHERE workspace_id = ?1 AND key = ?2",
        rusqlite::params![ws, key, parts.status.as_u16() as i64, bytes.to_vec()],
    )?;
    Ok(Response::from_parts(parts, Body::from(bytes)))
}

/// A running server.
#[derive(Debug)]
pub struct Server {
    addr: SocketAddr,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Server {
    /// Binds `addr` and serves `rt` in the background.
    pub async fn start(rt: Runtime, addr: SocketAddr, opts: ServeOptions) -> Result<Server> {
        let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| {
            Error::new(ErrorKind::Unavailable, format!("cannot listen on {addr}")).with_source(e)
        })?;
        let addr = listener
            .local_addr()
            .map_err(|e| Error::internal("local address").with_source(e))?;
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let app = router(rt, opts);
        let task = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = rx.await;
                })
                .await
        });
        Ok(Server {
            addr,
            shutdown: Some(tx),
            task,
        })
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://<addr>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting connections and waits for requests in flight.
    pub async fn shutdown(mut self) -> Result<()> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        (&mut self.task)
            .await
            .map_err(|e| Error::internal("server task").with_source(e))?
            .map_err(|e| Error::internal("server").with_source(e))
    }

    /// Serves until Ctrl-C or SIGTERM, then shuts down gracefully.
    pub async fn run_until_signal(self) -> Result<()> {
        shutdown_signal().await;
        tracing::info!("shutting down");
        self.shutdown().await
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}

/// Every (method, path) the router serves; kept equal to openapi.json by tests/openapi.rs
pub const ROUTES: &[(&str, &str)] = &[
    ("GET", "/v1/health"),
    ("GET", "/v1/workspace"),
    ("POST", "/v1/workspace/soc2-acceptance"),
    ("GET", "/v1/inbox"),
    ("GET", "/v1/skills"),
    ("GET", "/v1/templates"),
    ("POST", "/v1/agents"),
    ("GET", "/v1/agents"),
    ("POST", "/v1/agents/heroku"),
    ("GET", "/v1/agents/{agent_id}"),
    ("PATCH", "/v1/agents/{agent_id}"),
    ("DELETE", "/v1/agents/{agent_id}"),
    ("POST", "/v1/agents/{agent_id}/promotion"),
    ("POST", "/v1/agents/{agent_id}/runs"),
    ("POST", "/v1/vault"),
    ("GET", "/v1/vault"),
    ("GET", "/v1/vault/{vault_id}"),
    ("DELETE", "/v1/vault/{vault_id}"),
    ("POST", "/v1/vault/{vault_id}/rotate"),
    ("POST", "/v1/policies"),
    ("GET", "/v1/policies"),
    ("GET", "/v1/policies/{policy_id}"),
    ("GET", "/v1/runs"),
    ("GET", "/v1/runs/{run_id}"),
    ("POST", "/v1/runs/{run_id}/wait"),
    ("POST", "/v1/runs/{run_id}/cancel"),
    ("GET", "/v1/runs/{run_id}/events"),
    ("GET", "/v1/runs/{run_id}/audit"),
    ("GET", "/v1/runs/{run_id}/audit/verify"),
    ("POST", "/v1/deployments"),
    ("GET", "/v1/deployments"),
    ("GET", "/v1/deployments/{deployment_id}"),
    ("DELETE", "/v1/deployments/{deployment_id}"),
    ("POST", "/v1/deployments/{deployment_id}/extend"),
    ("GET", "/v1/webhooks/deliveries"),
    ("GET", "/v1/webhooks/deliveries/{delivery_id}"),
    ("POST", "/v1/webhooks/deliveries/{delivery_id}/redeliver"),
    ("GET", "/v1/approvals"),
    ("GET", "/v1/approvals/{approval_id}"),
    ("POST", "/v1/approvals/{approval_id}/approve"),
    ("POST", "/v1/approvals/{approval_id}/deny"),
];
