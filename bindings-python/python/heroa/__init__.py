"""Heroa SDK for Python.

Operate agents — register an identity in a region, bind credentials in the vault,
set a Cedar policy envelope, promote from L0 shadow to live, run, wait, stream and
audit — against a remote control plane or the **embedded runtime**: the whole control
plane in this process, persisted to a local file or memory. No account needed::

    import heroa

    client = heroa.Client()          # embedded (no HEROA_BASE_URL set)
    agent = client.agents.register(name="lead-research-v1", region="us-east")
    client.policies.create(agent_id=agent.id, document=POLICY)
    run = client.agents.run(agent_id=agent.id, input={"calls": []})
    result = client.runs.wait(run.id, timeout=120)
    print(result.status, result.cost_usd, result.audit_url)

The behaviour lives in the Rust core (``heroa._native``); this package is its
Python idiom.
"""

from __future__ import annotations

import threading
import json
from typing import Any, Mapping, Optional, Union

from . import _native
from . import policy as policy
from . import sse as sse
from . import webhooks as webhooks
from ._client import AsyncClient, Client, Runtime, Server
from ._resources import DeployMode, ResourceTier
from ._host import AsyncTemplateContext, SkillCall, TemplateContext
from .errors import (
    AgentStreamError,
    CauseError,
    ConflictError,
    FailedPreconditionError,
    HeroaError,
    InternalError,
    InvalidArgumentError,
    NotFoundError,
    PayloadTooLargeError,
    PermissionDeniedError,
    RateLimitedError,
    TierLimitError,
    TransportError,
    CancelledError,
    UnauthenticatedError,
    UnavailableError,
    WebhookVerificationError,
)
from .errors import TimeoutError as TimeoutError  # noqa: A004
from .pagination import AsyncPage, AsyncPaginator, SyncPage
from .policy import Decision, PolicyEngine
from .types import (
    PROMOTION_LEVELS,
    REGIONS,
    RUN_STATUSES,
    TERMINAL_STATUSES,
    Agent,
    Approval,
    AuditEvent,
    AuditRecord,
    AuditVerification,
    CompiledPolicy,
    Delivery,
    DeliveryAttempt,
    AsyncDeployment,
    DeployPolicy,
    Deployment,
    DeploymentData,
    DEPLOY_MODES,
    RESOURCE_TIERS,
    InboxItem,
    Money,
    Policy,
    Run,
    RunEvent,
    SkillInfo,
    TemplateInfo,
    VaultEntry,
    WebhookInfo,
    Workspace,
)

__version__: str = _native.__version__


def verify_audit_chain(record: Union[AuditRecord, Mapping[str, Any]]) -> AuditVerification:
    """Recomputes a run's audit chain here, from a record you hold (``runs.audit``'s
    answer, or its JSON): every hash and link, in both chain formats. The same check
    as ``client.runs.verify_audit``, without a call."""
    data = record.to_dict() if isinstance(record, AuditRecord) else dict(record)
    return AuditVerification(json.loads(_native.verify_audit_chain(json.dumps(data))))

# `TimeoutError` is reachable as `heroa.TimeoutError` but left out of `__all__` so
# that `from heroa import *` does not shadow the built-in.
__all__ = [
    "Client",
    "AsyncClient",
    "Runtime",
    "Server",
    "SkillCall",
    "TemplateContext",
    "AsyncTemplateContext",
    "PolicyEngine",
    "Decision",
    "policy",
    "webhooks",
    "sse",
    "HeroaError",
    "CauseError",
    "InvalidArgumentError",
    "UnauthenticatedError",
    "PermissionDeniedError",
    "NotFoundError",
    "ConflictError",
    "FailedPreconditionError",
    "TierLimitError",
    "PayloadTooLargeError",
    "RateLimitedError",
    "UnavailableError",
    "TransportError",
    "CancelledError",
    "InternalError",
    "WebhookVerificationError",
    "AgentStreamError",
    "Agent",
    "WebhookInfo",
    "Run",
    "RunEvent",
    "VaultEntry",
    "Policy",
    "CompiledPolicy",
    "Approval",
    "Workspace",
    "InboxItem",
    "SkillInfo",
    "TemplateInfo",
    "AuditEvent",
    "AuditRecord",
    "AuditVerification",
    "Delivery",
    "DeliveryAttempt",
    "DeploymentData",
    "Deployment",
    "AsyncDeployment",
    "DeployPolicy",
    "Money",
    "SyncPage",
    "AsyncPage",
    "AsyncPaginator",
    "deploy",
    "default_client",
    "verify_audit_chain",
    "DEPLOY_MODES",
    "RESOURCE_TIERS",
    "REGIONS",
    "PROMOTION_LEVELS",
    "RUN_STATUSES",
    "TERMINAL_STATUSES",
    "__version__",
]


_default: Optional[Client] = None
_default_lock = threading.Lock()


def default_client() -> Client:
    """The client behind module-level calls like :func:`heroa.deploy`:
    ``Client.from_env()``, created on first use — remote when ``HEROA_BASE_URL`` (and
    ``HEROA_API_KEY``) are set, otherwise the embedded runtime in this process
    (persisted to ``HEROA_DATA``, or in memory). With the embedded runtime, what it
    deploys (app processes, the gateway serving their URLs, sub-agents) lives only
    as long as this process."""
    global _default
    with _default_lock:
        if _default is None:
            _default = Client.from_env()
        return _default


def deploy(
    mode: DeployMode,
    *,
    region: Optional[str] = None,
    resource_tier: Optional[ResourceTier] = None,
    ttl: Optional[str] = None,
    policy: Optional[Mapping[str, Any]] = None,
    template: Optional[str] = None,
    source: Union[str, Mapping[str, Any], None] = None,
    name: Optional[str] = None,
    idempotency_key: Optional[str] = None,
    parent_agent_id: Optional[str] = None,
    public: Optional[bool] = None,
    gpu: Optional[bool] = None,
    health_path: Optional[str] = None,
) -> Deployment:
    """The deploy guide's ``heroa.deploy(...)`` on :func:`default_client` — see
    :meth:`Client.deploy`. An embedded default client's deployments live as long as
    the process.

    Returns a :class:`heroa.Deployment` bound to the default client, so a sub-agent
    runs through its handle::

        worker = heroa.deploy(mode="agent", template="batch-processor", ttl="30m")
        out = worker.run(input={"items": docs, "task": "embed"})  # waits; the ended Run

    (``wait=False`` returns the run just started; ``timeout`` is ``runs.wait``'s, in
    seconds, default 300; an app or service refuses ``run`` with
    :class:`heroa.FailedPreconditionError`, ``field="mode"``.)"""
    return default_client().deploy(
        mode,
        region=region,
        resource_tier=resource_tier,
        ttl=ttl,
        policy=policy,
        template=template,
        source=source,
        name=name,
        idempotency_key=idempotency_key,
        parent_agent_id=parent_agent_id,
        public=public,
        gpu=gpu,
        health_path=health_path,
    )
