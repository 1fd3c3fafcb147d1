//! `heroa serve`: the embedded runtime over HTTP — the protocol's reference
//! implementation (see `openapi.json` at the repository root).
//!
//! Bearer API keys select the workspace; bodies are JSON with unknown fields
//! rejected; every error is `{"error": {"kind", "message", "field"?, "details"?}}` with the status
//! of its kind; bodies over the limit get 413; `POST`s carrying an `Idempotency-Key`
//! are answered once and replayed after.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{FromRequestParts, Query, RawPathParams, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodFilter, MethodRouter, on};
use heroa_bridge::catalogue::{
    self, Args, CallSettings, Handler, Input, Method, Operation, Output,
};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

mod heroku;
#[cfg(feature = "openapi")]
pub mod openapi;

use heroa_protocol::error::{Error, ErrorKind};
use heroa_runtime::{IdempotencyRecord, Runtime};

type Result<T, E = ApiError> = std::result::Result<T, E>;

/// An error as an HTTP answer: the JSON error body with the status of its kind.
#[derive(Debug)]
pub struct ApiError(pub Error);

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        ApiError(e)
    }
}

impl From<serde_json::Error> for ApiError {
    fn from(e: serde_json::Error) -> Self {
        ApiError(e.into())
    }
}

/// Server settings.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Largest accepted request body, in bytes (default 1 MiB).
    pub max_body_bytes: usize,
    /// Longest one `wait` request may hold (default 60 s).
    pub max_wait: Duration,
    /// Interval of keep-alive comments on idle event streams (default 15 s).
    pub keep_alive: Duration,
    /// Longest a client may take to send a request's headers (default 10 s); a
    /// connection that dawdles is closed.
    pub header_read_timeout: Duration,
    /// Longest a client may take to send a request's body once its headers are in
    /// (default 30 s); a slower body is answered 408.
    pub body_read_timeout: Duration,
    /// Most connections served at once (default 1024); more wait in the listen
    /// backlog until one closes.
    pub max_connections: usize,
    /// How long a shutdown waits for requests in flight before it closes their
    /// connections (default 10 s).
    pub shutdown_grace: Duration,
}

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions {
            max_body_bytes: 1024 * 1024,
            max_wait: Duration::from_secs(60),
            keep_alive: Duration::from_secs(15),
            header_read_timeout: Duration::from_secs(10),
            body_read_timeout: Duration::from_secs(30),
            max_connections: 1024,
            shutdown_grace: Duration::from_secs(10),
        }
    }
}

#[derive(Clone)]
struct AppState {
    rt: Runtime,
    opts: ServeOptions,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let ApiError(e) = self;
        // A body the client did not send in time is its timeout, not a gateway's.
        let status = if e.kind() == ErrorKind::Timeout && e.field() == Some("body") {
            StatusCode::REQUEST_TIMEOUT
        } else {
            StatusCode::from_u16(e.kind().http_status())
                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
        };
        if e.kind() == ErrorKind::Internal {
            tracing::error!(error = ?e, "internal error");
        }
        let mut resp = (status, axum::Json(e.to_body())).into_response();
        if let Some(v) = e
            .retry_after()
            .and_then(|after| HeaderValue::from_str(&after.as_secs().max(1).to_string()).ok())
        {
            resp.headers_mut().insert("retry-after", v);
        }
        resp
    }
}

/// The workspace of the authenticated caller (set by [`authenticate`]).
#[derive(Clone)]
struct Ws(String);

/// The protocol's routes (`/v1/…`), without the listener: one route per operation
/// of the bridge's catalogue.
pub fn router(rt: Runtime, opts: ServeOptions) -> Router {
    let state = AppState { rt, opts };
    let limit = state.opts.max_body_bytes;
    let mut api: BTreeMap<&'static str, MethodRouter<AppState>> = BTreeMap::new();
    let mut open: BTreeMap<&'static str, MethodRouter<AppState>> = BTreeMap::new();
    for op in catalogue::operations() {
        let routes = if op.auth { &mut api } else { &mut open };
        let filter = match op.method {
            Method::Get => MethodFilter::GET,
            Method::Post => MethodFilter::POST,
            Method::Patch => MethodFilter::PATCH,
            Method::Delete => MethodFilter::DELETE,
        };
        let handler = move |State(s): State<AppState>, req: Request| serve_operation(s, op, req);
        let entry = routes.remove(op.path).unwrap_or_default();
        routes.insert(op.path, entry.merge(on(filter, handler)));
    }
    let api = api
        .into_iter()
        .fold(Router::new(), |r, (path, m)| r.route(path, m))
        .route_layer(middleware::from_fn_with_state(state.clone(), authenticate));
    open.into_iter()
        .fold(Router::new(), |r, (path, m)| r.route(path, m))
        .merge(api)
        .fallback(|| async {
            ApiError(Error::new(
                ErrorKind::NotFound,
                "no such endpoint; see openapi.json for the protocol",
            ))
        })
        .layer(axum::extract::DefaultBodyLimit::max(limit))
        .with_state(state)
}

/// One request to operation `op`: path parameters, then the body or the query, then
/// the catalogue's handler against the caller's workspace.
async fn serve_operation(s: AppState, op: &'static Operation, req: Request) -> Response {
    let ws = req.extensions().get::<Ws>().map(|w| w.0.clone());
    let (mut parts, body) = req.into_parts();
    let result = async {
        let raw = RawPathParams::from_request_parts(&mut parts, &s)
            .await
            .map_err(|e| {
                Error::invalid(
                    "path",
                    format!("the request path is not valid: {}", e.body_text()),
                )
            })?;
        let params: Map<String, Value> = raw
            .iter()
            .map(|(k, v)| (k.to_string(), Value::String(v.to_string())))
            .collect();
        let ws = ws.unwrap_or_else(|| s.rt.default_workspace().to_string());
        match op.handler {
            Handler::Stream => {
                let id = params
                    .get("run_id")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                run_events(&s, &ws, id, &parts.headers)
            }
            Handler::HttpOnly => {
                let req =
                    heroa_bridge::decode::decode(Value::Object(read_object(body, &s.opts).await?))?;
                Ok(heroku::agents_heroku(&s, &ws, &parts.headers, req)?)
            }
            Handler::Call(handler) => {
                let rest = match op.input {
                    Input::Body => read_object(body, &s.opts).await?,
                    Input::Query => query(&parts.uri)?,
                    // Still read, so a malformed body is refused like anywhere else.
                    Input::None => {
                        read_object(body, &s.opts).await?;
                        Map::new()
                    }
                };
                let client = heroa_bridge::Client::from_runtime(s.rt.clone(), Some(&ws));
                let settings = CallSettings {
                    max_wait: Some(s.opts.max_wait),
                };
                let out = heroa_bridge::guarded(
                    op.name,
                    handler(client, Args::new(params, rest), settings),
                )
                .await?;
                let status = StatusCode::from_u16(op.status).unwrap_or(StatusCode::OK);
                Ok(match op.output {
                    Output::Empty => status.into_response(),
                    _ => (status, axum::Json(out)).into_response(),
                })
            }
        }
    };
    result.await.unwrap_or_else(|e: ApiError| e.into_response())
}

/// Reads a request body as one JSON object ([`heroa_bridge::decode::parse_object`]).
async fn read_object(
    body: Body,
    opts: &ServeOptions,
) -> heroa_protocol::error::Result<Map<String, Value>> {
    heroa_bridge::decode::parse_object(&read_body(body, opts).await?)
}

/// Reads a request body of at most `opts.max_body_bytes`, within
/// `opts.body_read_timeout`.
async fn read_body(body: Body, opts: &ServeOptions) -> heroa_protocol::error::Result<Bytes> {
    match tokio::time::timeout(
        opts.body_read_timeout,
        axum::body::to_bytes(body, opts.max_body_bytes),
    )
    .await
    {
        Ok(Ok(bytes)) => Ok(bytes),
        Ok(Err(_)) => Err(
            Error::new(ErrorKind::PayloadTooLarge, "the request body is too large")
                .with_field("body"),
        ),
        Err(_) => Err(Error::new(
            ErrorKind::Timeout,
            format!(
                "the request body did not arrive within {} s",
                opts.body_read_timeout.as_secs()
            ),
        )
        .with_field("body")),
    }
}

/// The query string as an object of strings (the operation decodes it).
fn query(uri: &Uri) -> Result<Map<String, Value>> {
    let Query(pairs) = Query::<Vec<(String, String)>>::try_from_uri(uri)
        .map_err(|e| Error::invalid("query", e.body_text()))?;
    Ok(pairs
        .into_iter()
        .map(|(k, v)| (k, Value::String(v)))
        .collect())
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
        return ApiError(Error::new(
            ErrorKind::Unauthenticated,
            "missing bearer API key (Authorization: Bearer …)",
        ))
        .into_response();
    };
    let ws = match s.rt.authenticate(key) {
        Ok(ws) => ws,
        Err(e) => return ApiError(e).into_response(),
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
            .unwrap_or_else(|e| ApiError(e).into_response()),
        _ => next.run(req).await,
    }
}

async fn idempotent(
    s: &AppState,
    ws: &str,
    key: &str,
    req: Request,
    next: Next,
) -> heroa_protocol::error::Result<Response> {
    if key.is_empty() || key.len() > 255 {
        return Err(Error::invalid(
            "Idempotency-Key",
            "Idempotency-Key must be 1-255 characters",
        ));
    }
    // The request's own header checks come first: a request that is wrong in itself
    // is refused as such, not as a reuse of the key.
    let agent = if req.uri().path() == heroku::PATH {
        Some(heroku::agent_header(req.headers())?.to_string())
    } else {
        None
    };
    let (parts, body) = req.into_parts();
    let bytes = read_body(body, &s.opts).await?;
    let mut h = Sha256::new();
    h.update(parts.uri.path().as_bytes());
    h.update(b"\n");
    if let Some(agent) = agent {
        // The agent that runs the loop is part of what was asked.
        h.update(agent.as_bytes());
        h.update(b"\n");
    }
    h.update(&bytes);
    let hash = hex::encode(h.finalize());
    match s.rt.idempotency_begin(ws, key, &hash)? {
        IdempotencyRecord::Mismatch => {
            return Err(Error::new(
                ErrorKind::Conflict,
                "this Idempotency-Key was used with a different request",
            )
            .with_field("Idempotency-Key"));
        }
        IdempotencyRecord::AnswerLost => {
            return Err(Error::new(
                ErrorKind::Conflict,
                "a request with this Idempotency-Key was carried out, but the server stopped before it answered; it is not done again: look its result up (the list of what it creates)",
            )
            .with_field("Idempotency-Key"));
        }
        IdempotencyRecord::InProgress => {
            return Err(Error::new(
                ErrorKind::Conflict,
                "a request with this Idempotency-Key is in progress",
            )
            .with_field("Idempotency-Key")
            .with_retry_after(Duration::from_secs(1)));
        }
        IdempotencyRecord::Done { status, body } => {
            let mut resp = Response::new(Body::from(body));
            *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
            resp.headers_mut()
                .insert("content-type", HeaderValue::from_static("application/json"));
            resp.headers_mut()
                .insert("idempotent-replayed", HeaderValue::from_static("true"));
            return Ok(resp);
        }
        IdempotencyRecord::New => {}
    }
    // Until the answer is recorded, the key is held; if this request ends any other
    // way (the client went away mid-`wait`, the handler failed), it is released so a
    // retry is not refused as "in progress" until the server restarts.
    let mut pending = PendingKey {
        rt: &s.rt,
        ws,
        key,
        held: true,
    };
    let resp =
        s.rt.with_idempotency_key(
            ws,
            key,
            next.run(Request::from_parts(parts, Body::from(bytes))),
        )
        .await;
    let streaming = resp
        .headers()
        .get("content-type")
        .is_some_and(|v| v.as_bytes().starts_with(b"text/event-stream"));
    // A failure is not remembered (the key can be used again); a stream is not
    // buffered or replayed (it would neither stream nor keep its headers).
    if streaming || !resp.status().is_success() {
        pending.held = false;
        s.rt.idempotency_forget(ws, key)?;
        return Ok(resp);
    }
    let (parts, body) = resp.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX)
        .await
        .map_err(|e| Error::internal("response body").with_source(e))?;
    s.rt.idempotency_complete(ws, key, parts.status.as_u16(), &bytes)?;
    pending.held = false;
    Ok(Response::from_parts(parts, Body::from(bytes)))
}

/// An `Idempotency-Key` held while its request runs; released if the request ends
/// without recording an answer.
struct PendingKey<'a> {
    rt: &'a Runtime,
    ws: &'a str,
    key: &'a str,
    held: bool,
}

impl Drop for PendingKey<'_> {
    fn drop(&mut self) {
        if self.held
            && let Err(e) = self.rt.idempotency_forget(self.ws, self.key)
        {
            tracing::warn!(error = %e, "could not release an idempotency key");
        }
    }
}

/// A running server.
#[derive(Debug)]
pub struct Server {
    addr: SocketAddr,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl Server {
    /// Binds `addr` and serves `rt` in the background.
    pub async fn start(
        rt: Runtime,
        addr: SocketAddr,
        opts: ServeOptions,
    ) -> heroa_protocol::error::Result<Server> {
        let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| {
            Error::new(ErrorKind::Unavailable, format!("cannot listen on {addr}")).with_source(e)
        })?;
        let addr = listener
            .local_addr()
            .map_err(|e| Error::internal("local address").with_source(e))?;
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(serve(listener, router(rt, opts.clone()), opts, rx));
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
    pub async fn shutdown(mut self) -> heroa_protocol::error::Result<()> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        (&mut self.task)
            .await
            .map_err(|e| Error::internal("server task").with_source(e))
    }

    /// Serves until Ctrl-C or SIGTERM, then shuts down gracefully.
    pub async fn run_until_signal(self) -> heroa_protocol::error::Result<()> {
        shutdown_signal().await;
        tracing::info!("shutting down");
        self.shutdown().await
    }
}

/// Accepts connections until `stop`, at most `opts.max_connections` at once, each
/// with the header read timeout; then lets requests in flight finish within
/// `opts.shutdown_grace`.
///
/// hyper-util's connection builder rather than `axum::serve`, which has neither a
/// header read timeout nor a connection cap.
async fn serve(
    listener: tokio::net::TcpListener,
    app: Router,
    opts: ServeOptions,
    mut stop: tokio::sync::oneshot::Receiver<()>,
) {
    use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
    use hyper_util::server::conn::auto;
    use hyper_util::server::graceful::GracefulShutdown;
    use hyper_util::service::TowerToHyperService;

    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(opts.header_read_timeout);
    builder.http2().timer(TokioTimer::new());
    let slots = std::sync::Arc::new(tokio::sync::Semaphore::new(opts.max_connections.max(1)));
    let graceful = GracefulShutdown::new();
    let mut connections = tokio::task::JoinSet::new();
    loop {
        let next = async {
            let permit = slots.clone().acquire_owned().await;
            (permit, listener.accept().await)
        };
        tokio::select! {
            _ = &mut stop => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            (permit, accepted) = next => {
                let Ok(permit) = permit else { break };
                let (tcp, peer) = match accepted {
                    Ok(pair) => pair,
                    Err(e) => {
                        // e.g. EMFILE: back off instead of spinning.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = tcp.set_nodelay(true);
                let service = TowerToHyperService::new(app.clone());
                let conn = builder
                    .serve_connection_with_upgrades(TokioIo::new(tcp), service)
                    .into_owned();
                let conn = graceful.watch(conn);
                connections.spawn(async move {
                    if let Err(e) = conn.await {
                        tracing::debug!(%peer, error = %e, "connection ended with an error");
                    }
                    drop(permit);
                });
            }
        }
    }
    drop(listener);
    if tokio::time::timeout(opts.shutdown_grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::debug!(
            open = connections.len(),
            "closing connections still open after the shutdown grace period"
        );
    }
    connections.abort_all();
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
