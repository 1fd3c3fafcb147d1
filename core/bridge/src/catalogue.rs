//! The operation catalogue: every operation of the protocol, once. `heroa serve`
//! builds its routes from it, the bridge dispatches calls through it, and the
//! OpenAPI test checks `openapi.json` against it.
//!
//! An operation takes one JSON object: its path parameters by name (`agent_id`), and
//! the rest is its body (or, for `GET`s, its query). It answers the JSON the HTTP
//! protocol answers. The handler runs against a [`Client`], so the same entry serves
//! an embedded client, a remote one, and the server (which runs it against the
//! embedded client of the caller's workspace).

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use heroa_client::Client;
use heroa_protocol::error::{Error, Result};
use heroa_protocol::*;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::decode::decode;

/// HTTP method of an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Method {
    Get,
    Post,
    Patch,
    Delete,
}

impl Method {
    /// Upper-case name, `GET`.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
        }
    }
}

/// Whether a failed call may be sent again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// Reads and idempotent writes: retried with backoff.
    Safe,
    /// Creating calls: retried only with an `Idempotency-Key`, so they never create
    /// twice.
    WithKey,
    /// Never retried by the client.
    Never,
}

/// Where the rest of the arguments travel over HTTP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input {
    /// No input besides the path parameters.
    None,
    /// A JSON body.
    Body,
    /// A query string.
    Query,
}

/// What an operation answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    /// One JSON document, with the operation's status.
    Json,
    /// No body (`204`); the bridge answers `null`.
    Empty,
    /// A stream of events (`text/event-stream`); bindings open it as a stream handle.
    Stream,
}

/// Per-call settings of the caller.
#[derive(Debug, Clone, Copy, Default)]
pub struct CallSettings {
    /// The longest one `runs.wait` may hold (the server's limit; `None` in-process).
    pub max_wait: Option<Duration>,
}

/// A boxed future of a handler.
pub type HandlerFuture = Pin<Box<dyn Future<Output = Result<Value>> + Send + 'static>>;
type CallFn = fn(Client, Args, CallSettings) -> HandlerFuture;

/// How an operation is carried out.
#[derive(Clone, Copy)]
pub enum Handler {
    /// JSON in, JSON out, the same on every transport.
    Call(CallFn),
    /// A stream: the bridge's [`crate::Bridge::stream`], the server's SSE route.
    Stream,
    /// Served by `heroa serve` only (its request is not a JSON call: headers, an
    /// SSE answer). Named here so the document and the routes stay one list.
    HttpOnly,
}

/// One operation of the protocol.
pub struct Operation {
    /// Dotted name, e.g. `agents.register`.
    pub name: &'static str,
    pub method: Method,
    /// Path template, e.g. `/v1/agents/{agent_id}`.
    pub path: &'static str,
    /// Success status over HTTP.
    pub status: u16,
    pub retry: Retry,
    pub input: Input,
    pub output: Output,
    /// Whether the caller must present an API key.
    pub auth: bool,
    /// The request body's type (its schema in `openapi.json`); query parameters are
    /// documented one by one.
    pub request: Option<&'static str>,
    /// The answer's type (its schema in `openapi.json`); `None` for streams and
    /// empty answers.
    pub response: Option<&'static str>,
    pub handler: Handler,
}

impl std::fmt::Debug for Operation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {} {}", self.name, self.method.as_str(), self.path)
    }
}

impl Operation {
    /// The names of the path parameters, in order.
    pub fn params(&self) -> impl Iterator<Item = &'static str> {
        self.path
            .split('/')
            .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
    }
}

/// The arguments of one call: path parameters and the rest.
#[derive(Debug, Default)]
pub struct Args {
    params: Map<String, Value>,
    rest: Map<String, Value>,
}

impl Args {
    /// Arguments from their two parts.
    pub fn new(params: Map<String, Value>, rest: Map<String, Value>) -> Args {
        Args { params, rest }
    }

    /// Splits one JSON object into `op`'s path parameters and the rest.
    pub fn split(op: &Operation, mut all: Map<String, Value>) -> Args {
        let mut params = Map::new();
        for name in op.params() {
            if let Some(v) = all.remove(name) {
                params.insert(name.to_string(), v);
            }
        }
        Args { params, rest: all }
    }

    /// A required path parameter.
    pub fn param(&self, name: &str) -> Result<String> {
        match self.params.get(name) {
            Some(Value::String(s)) => Ok(s.clone()),
            None | Some(Value::Null) => Err(Error::invalid(name, format!("{name} is required"))),
            Some(other) => Err(Error::invalid(
                name,
                format!("{name} must be a string; got {other}"),
            )),
        }
    }

    /// The rest as the operation's request type. `null` members are read as absent,
    /// so a binding may pass every optional argument — but a member the type does
    /// not have is refused, `null` or not.
    pub fn input<T: DeserializeOwned>(&mut self) -> Result<T> {
        let (nulls, set): (Map<String, Value>, Map<String, Value>) = std::mem::take(&mut self.rest)
            .into_iter()
            .partition(|(_, v)| v.is_null());
        let value = decode(Value::Object(set.clone()))?;
        for key in nulls.keys() {
            let mut probe = set.clone();
            probe.insert(key.clone(), Value::Null);
            if let Err(e) = decode::<T>(Value::Object(probe))
                && e.field() == Some(key.as_str())
                && e.message().contains("unknown field")
            {
                return Err(e);
            }
        }
        Ok(value)
    }

    /// Refuses arguments the operation does not take.
    pub fn none(&self) -> Result<()> {
        match self.rest.iter().find(|(_, v)| !v.is_null()) {
            Some((k, _)) => Err(Error::invalid(
                k.as_str(),
                format!("{k}: unknown field `{k}`; this operation takes no input"),
            )),
            None => Ok(()),
        }
    }
}

fn json<T: Serialize>(v: T) -> Result<Value> {
    Ok(serde_json::to_value(v)?)
}

/// The catalogue, in the order of `openapi.json`'s paths.
pub fn operations() -> &'static [Operation] {
    CATALOGUE
}

/// The operation named `name`.
pub fn find(name: &str) -> Option<&'static Operation> {
    CATALOGUE.iter().find(|op| op.name == name)
}

macro_rules! op {
    ($name:literal, $method:ident $path:literal, $status:literal, $retry:ident,
     $input:ident($req:expr) -> $output:ident($resp:expr), $handler:expr) => {
        Operation {
            name: $name,
            method: Method::$method,
            path: $path,
            status: $status,
            retry: Retry::$retry,
            input: Input::$input,
            output: Output::$output,
            auth: true,
            request: $req,
            response: $resp,
            handler: $handler,
        }
    };
}

/// A handler: `|client, args| body` or, to see the caller's settings,
/// `|client, args, settings| body`.
macro_rules! call {
    (|$c:ident, $a:ident| $body:expr) => {
        call!(|$c, $a, _settings| $body)
    };
    (|$c:ident, $a:ident, $s:ident| $body:expr) => {
        Handler::Call(|$c, mut $a, $s| {
            Box::pin(async move {
                let _ = &mut $a;
                $body
            })
        })
    };
}

static CATALOGUE: &[Operation] = &[
    Operation {
        auth: false,
        ..op!("health", Get "/v1/health", 200, Safe, None(None) -> Json(Some("Health")),
            call!(|_c, a| { a.none()?; Ok(serde_json::json!({"status": "ok"})) }))
    },
    // ------------------------------------------------------------------ workspace
    op!("workspace.get", Get "/v1/workspace", 200, Safe, None(None) -> Json(Some("Workspace")),
        call!(|c, a| { a.none()?; json(c.workspace().get().await?) })),
    op!("workspace.accept_soc2", Post "/v1/workspace/soc2-acceptance", 200, Safe, None(None) -> Json(Some("Workspace")),
        call!(|c, a| { a.none()?; json(c.workspace().accept_soc2().await?) })),
    op!("workspace.inbox", Get "/v1/inbox", 200, Safe, Query(Some("ListQuery")) -> Json(Some("InboxItemList")),
        call!(|c, a| { let q: ListQuery = a.input()?; json(c.workspace().inbox_page(&q).await?) })),
    op!("workspace.skills", Get "/v1/skills", 200, Safe, None(None) -> Json(Some("SkillInfoList")),
        call!(|c, a| { a.none()?; json(c.workspace().skills().await?) })),
    op!("workspace.templates", Get "/v1/templates", 200, Safe, None(None) -> Json(Some("TemplateInfoList")),
        call!(|c, a| { a.none()?; json(c.workspace().templates().await?) })),
    // --------------------------------------------------------------------- agents
    op!("agents.register", Post "/v1/agents", 201, WithKey, Body(Some("RegisterAgent")) -> Json(Some("Agent")),
        call!(|c, a| json(c.agents().register(a.input()?).await?))),
    op!("agents.list", Get "/v1/agents", 200, Safe, Query(Some("ListQuery")) -> Json(Some("AgentList")),
        call!(|c, a| { let q: ListQuery = a.input()?; json(c.agents().list_page(&q).await?) })),
    op!("agents.heroku", Post "/v1/agents/heroku", 200, Never, Body(Some("HerokuRequest")) -> Stream(None),
        Handler::HttpOnly),
    op!("agents.get", Get "/v1/agents/{agent_id}", 200, Safe, None(None) -> Json(Some("Agent")),
        call!(|c, a| json(c.agents().get(&a.param("agent_id")?).await?))),
    op!("agents.update", Patch "/v1/agents/{agent_id}", 200, Safe, Body(Some("UpdateAgent")) -> Json(Some("Agent")),
        call!(|c, a| json(c.agents().update(&a.param("agent_id")?, a.input()?).await?))),
    op!("agents.delete", Delete "/v1/agents/{agent_id}", 204, Safe, None(None) -> Empty(None),
        call!(|c, a| { c.agents().delete(&a.param("agent_id")?).await?; Ok(Value::Null) })),
    op!("agents.set_promotion", Post "/v1/agents/{agent_id}/promotion", 200, Safe, Body(Some("SetPromotion")) -> Json(Some("Agent")),
    call!(|c, a| {
        let id = a.param("agent_id")?;
        let req: SetPromotion = a.input()?;
        json(c.agents().set_promotion(&id, PromotionLevel::parse_field("level", &req.level)?).await?)
    })),
    op!("agents.run", Post "/v1/agents/{agent_id}/runs", 201, WithKey, Body(Some("StartRun")) -> Json(Some("Run")),
    call!(|c, a| {
        let id = a.param("agent_id")?;
        let req: StartRun = a.input()?;
        json(c.agents().run(&id, req.input).await?)
    })),
    // ---------------------------------------------------------------------- vault
    op!("vault.put", Post "/v1/vault", 201, WithKey, Body(Some("VaultPut")) -> Json(Some("VaultEntry")),
        call!(|c, a| json(c.vault().put(a.input()?).await?))),
    op!("vault.list", Get "/v1/vault", 200, Safe, Query(Some("AgentListQuery")) -> Json(Some("VaultEntryList")),
        call!(|c, a| { let q: AgentListQuery = a.input()?; json(c.vault().list_page(q.agent_id.as_deref(), &q.page()).await?) })),
    op!("vault.get", Get "/v1/vault/{vault_id}", 200, Safe, None(None) -> Json(Some("VaultEntry")),
        call!(|c, a| json(c.vault().get(&a.param("vault_id")?).await?))),
    op!("vault.delete", Delete "/v1/vault/{vault_id}", 204, Safe, None(None) -> Empty(None),
        call!(|c, a| { c.vault().delete(&a.param("vault_id")?).await?; Ok(Value::Null) })),
    op!("vault.rotate", Post "/v1/vault/{vault_id}/rotate", 200, WithKey, Body(Some("VaultRotate")) -> Json(Some("VaultEntry")),
    call!(|c, a| {
        let id = a.param("vault_id")?;
        let req: VaultRotate = a.input()?;
        json(c.vault().rotate(&id, req.value).await?)
    })),
    // ------------------------------------------------------------------- policies
    op!("policies.create", Post "/v1/policies", 201, WithKey, Body(Some("CreatePolicy")) -> Json(Some("Policy")),
    call!(|c, a| {
        let req: CreatePolicy = a.input()?;
        json(c.policies().create(&req.agent_id, &req.document).await?)
    })),
    op!("policies.list", Get "/v1/policies", 200, Safe, Query(Some("AgentListQuery")) -> Json(Some("PolicyList")),
        call!(|c, a| { let q: AgentListQuery = a.input()?; json(c.policies().list_page(q.agent_id.as_deref(), &q.page()).await?) })),
    op!("policies.get", Get "/v1/policies/{policy_id}", 200, Safe, None(None) -> Json(Some("Policy")),
        call!(|c, a| json(c.policies().get(&a.param("policy_id")?).await?))),
    // ----------------------------------------------------------------------- runs
    op!("runs.list", Get "/v1/runs", 200, Safe, Query(Some("AgentListQuery")) -> Json(Some("RunList")),
        call!(|c, a| { let q: AgentListQuery = a.input()?; json(c.runs().list_page(q.agent_id.as_deref(), &q.page()).await?) })),
    op!("runs.get", Get "/v1/runs/{run_id}", 200, Safe, None(None) -> Json(Some("Run")),
        call!(|c, a| json(c.runs().get(&a.param("run_id")?).await?))),
    op!("runs.wait", Post "/v1/runs/{run_id}/wait", 200, Safe, Body(Some("WaitRun")) -> Json(Some("Run")),
    call!(|c, a, s| {
        let id = a.param("run_id")?;
        let req: WaitRun = a.input()?;
        let mut timeout = Duration::from_millis(req.timeout_ms);
        if let Some(max) = s.max_wait {
            timeout = timeout.min(max);
        }
        json(c.runs().wait(&id, timeout).await?)
    })),
    op!("runs.cancel", Post "/v1/runs/{run_id}/cancel", 200, Safe, None(None) -> Json(Some("Run")),
        call!(|c, a| json(c.runs().cancel(&a.param("run_id")?).await?))),
    op!("runs.events", Get "/v1/runs/{run_id}/events", 200, Safe, None(None) -> Stream(None),
        Handler::Stream),
    op!("runs.audit", Get "/v1/runs/{run_id}/audit", 200, Safe, Query(Some("ListQuery")) -> Json(Some("AuditRecord")),
    call!(|c, a| {
        let id = a.param("run_id")?;
        let q: ListQuery = a.input()?;
        json(c.runs().audit_page(&id, &q).await?)
    })),
    op!("runs.verify_audit", Get "/v1/runs/{run_id}/audit/verify", 200, Safe, None(None) -> Json(Some("AuditVerification")),
        call!(|c, a| json(c.runs().verify_audit(&a.param("run_id")?).await?))),
    // ---------------------------------------------------------------- deployments
    op!("deploy", Post "/v1/deployments", 201, WithKey, Body(Some("DeployRequest")) -> Json(Some("Deployment")),
        call!(|c, a| json(c.deploy(a.input()?).await?))),
    op!("deployments.list", Get "/v1/deployments", 200, Safe, Query(Some("ListQuery")) -> Json(Some("DeploymentList")),
        call!(|c, a| { let q: ListQuery = a.input()?; json(c.deployments().list_page(&q).await?) })),
    op!("deployments.get", Get "/v1/deployments/{deployment_id}", 200, Safe, None(None) -> Json(Some("Deployment")),
        call!(|c, a| json(c.deployments().get(&a.param("deployment_id")?).await?))),
    op!("deployments.delete", Delete "/v1/deployments/{deployment_id}", 200, Safe, None(None) -> Json(Some("Deployment")),
        call!(|c, a| json(c.deployments().delete(&a.param("deployment_id")?).await?))),
    op!("deployments.extend", Post "/v1/deployments/{deployment_id}/extend", 200, Safe, Body(Some("ExtendDeployment")) -> Json(Some("Deployment")),
    call!(|c, a| {
        let id = a.param("deployment_id")?;
        let req: ExtendDeployment = a.input()?;
        json(c.deployments().extend(&id, &req.ttl).await?)
    })),
    // --------------------------------------------------------- webhook deliveries
    op!("webhooks.deliveries", Get "/v1/webhooks/deliveries", 200, Safe, Query(Some("AgentListQuery")) -> Json(Some("DeliveryList")),
        call!(|c, a| { let q: AgentListQuery = a.input()?; json(c.webhooks().deliveries_page(q.agent_id.as_deref(), &q.page()).await?) })),
    op!("webhooks.delivery", Get "/v1/webhooks/deliveries/{delivery_id}", 200, Safe, None(None) -> Json(Some("Delivery")),
        call!(|c, a| json(c.webhooks().delivery(&a.param("delivery_id")?).await?))),
    op!("webhooks.redeliver", Post "/v1/webhooks/deliveries/{delivery_id}/redeliver", 200, Safe, None(None) -> Json(Some("Delivery")),
        call!(|c, a| json(c.webhooks().redeliver(&a.param("delivery_id")?).await?))),
    // ------------------------------------------------------------------ approvals
    op!("approvals.list", Get "/v1/approvals", 200, Safe, Query(Some("ApprovalListQuery")) -> Json(Some("ApprovalList")),
        call!(|c, a| { let q: ApprovalListQuery = a.input()?; json(c.approvals().list_page(q.status.as_deref(), &q.page()).await?) })),
    op!("approvals.get", Get "/v1/approvals/{approval_id}", 200, Safe, None(None) -> Json(Some("Approval")),
        call!(|c, a| json(c.approvals().get(&a.param("approval_id")?).await?))),
    op!("approvals.approve", Post "/v1/approvals/{approval_id}/approve", 200, WithKey, Body(Some("DecideApproval")) -> Json(Some("Approval")),
    call!(|c, a| {
        let id = a.param("approval_id")?;
        let req: DecideApproval = a.input()?;
        json(c.approvals().approve(&id, req.by.as_deref()).await?)
    })),
    op!("approvals.deny", Post "/v1/approvals/{approval_id}/deny", 200, WithKey, Body(Some("DecideApproval")) -> Json(Some("Approval")),
    call!(|c, a| {
        let id = a.param("approval_id")?;
        let req: DecideApproval = a.input()?;
        json(c.approvals().deny(&id, req.by.as_deref()).await?)
    })),
];
