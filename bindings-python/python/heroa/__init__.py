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

from . import _native
from . import policy as policy
from . import sse as sse
from . import webhooks as webhooks
from ._client import AsyncClient, Client, Runtime, Server
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
    UnauthenticatedError,
    UnavailableError,
    WebhookVerificationError,
)
from .errors import TimeoutError as TimeoutError  # noqa: A004
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
    InboxItem,
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
    "REGIONS",
    "PROMOTION_LEVELS",
    "RUN_STATUSES",
    "TERMINAL_STATUSES",
    "__version__",
]
