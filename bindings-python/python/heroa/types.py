"""Typed results.

Every answer of the API is an object with attributes (``agent.id``, ``run.cost_usd``)
that also reads like the JSON it came from: ``run["status"]``, ``"output" in run``,
``run.get("error")`` and ``run.to_dict()`` (a deep copy of the wire JSON, field names
as the protocol spells them). Fields the server adds in a newer version are kept and
reachable through ``[]`` and ``to_dict()``.
"""

from __future__ import annotations

import copy
import inspect
from decimal import Decimal, InvalidOperation
from typing import (
    Any,
    Callable,
    ClassVar,
    Dict,
    Iterator,
    List,
    Mapping,
    Optional,
    Protocol,
    Tuple,
    Type,
    TypeVar,
    Union,
)

from .errors import FailedPreconditionError

__all__ = [
    "Model",
    "Money",
    "usd_text",
    "Agent",
    "WebhookInfo",
    "Run",
    "VaultEntry",
    "Policy",
    "Translation",
    "CompiledPolicy",
    "Approval",
    "Workspace",
    "InboxItem",
    "SkillInfo",
    "TemplateInfo",
    "AuditEvent",
    "AuditRecord",
    "AuditVerification",
    "RunEvent",
    "Delivery",
    "DeliveryAttempt",
    "DeploymentData",
    "Deployment",
    "AsyncDeployment",
    "DeployPolicy",
    "DEPLOY_MODES",
    "RESOURCE_TIERS",
    "REGIONS",
    "PROMOTION_LEVELS",
    "RUN_STATUSES",
    "TERMINAL_STATUSES",
]

#: The five regions.
REGIONS: Tuple[str, ...] = ("us-east", "us-west", "eu-west", "asia-pacific", "bc-sovereign")
#: Promotion levels, least to most autonomous.
PROMOTION_LEVELS: Tuple[str, ...] = (
    "L0_shadow",
    "L1_notify",
    "L2_approve",
    "L3_autonomous",
    "L4_trusted",
)
#: Every run status.
RUN_STATUSES: Tuple[str, ...] = (
    "queued",
    "running",
    "complete",
    "partial",
    "blocked",
    "failed",
    "cancelled",
)
#: Statuses of a run that has ended.
TERMINAL_STATUSES: Tuple[str, ...] = ("complete", "partial", "blocked", "failed", "cancelled")

#: What ``deploy`` stands up.
DEPLOY_MODES: Tuple[str, ...] = ("app", "service", "agent")
#: Resource tiers of a deployment.
RESOURCE_TIERS: Tuple[str, ...] = ("small", "medium", "large")

M = TypeVar("M", bound="Model")

#: An amount of US dollars as a caller may give it. Money travels as a decimal
#: string (at most six fractional digits, e.g. ``"0.0025"``) and arrives as a
#: :class:`decimal.Decimal`; a ``float`` is read by its shortest text (``0.1`` is
#: ``"0.1"``), never by its binary value.
Money = Union[Decimal, str, int, float]


def usd_text(value: Money, field: str = "cost_usd") -> str:
    """The wire text of an amount of dollars (the core checks its form)."""
    if isinstance(value, bool) or not isinstance(value, (Decimal, str, int, float)):
        raise TypeError(f"{field} must be a Decimal, str, int or float; got {type(value).__name__}")
    if isinstance(value, str):
        return value
    try:
        amount = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    except InvalidOperation:
        raise ValueError(f"{field} must be a finite amount of dollars; got {value!r}") from None
    if not amount.is_finite():
        raise ValueError(f"{field} must be a finite amount of dollars; got {value!r}")
    return format(amount, "f")

_FIELDS: Dict[type, Tuple[str, ...]] = {}


def _own_annotations(klass: type) -> Iterator[str]:
    get = getattr(inspect, "get_annotations", None)  # Python >= 3.10
    if get is not None:
        return iter(get(klass))
    return iter(klass.__dict__.get("__annotations__", {}))


def _fields_of(cls: type) -> Tuple[str, ...]:
    got = _FIELDS.get(cls)
    if got is None:
        names: List[str] = []
        for klass in reversed(cls.__mro__):
            for name in _own_annotations(klass):
                if not name.startswith("_") and name not in names:
                    names.append(name)
        got = tuple(names)
        _FIELDS[cls] = got
    return got


class Model(Mapping[str, Any]):
    """Base of all results: attributes plus read-only mapping access."""

    _nested: ClassVar[Dict[str, Callable[[Any], Any]]] = {}
    _data: Dict[str, Any]

    def __init__(self, data: Mapping[str, Any]) -> None:
        raw = dict(data)
        object.__setattr__(self, "_data", raw)
        nested = type(self)._nested
        for name in _fields_of(type(self)):
            value = raw.get(name)
            conv = nested.get(name)
            if conv is not None and value is not None:
                if isinstance(value, list):
                    value = [conv(v) for v in value]
                else:
                    value = conv(value)
            object.__setattr__(self, name, value)

    @classmethod
    def from_dict(cls: Type[M], data: Mapping[str, Any]) -> M:
        """Builds the object from its wire JSON."""
        return cls(data)

    def to_dict(self) -> Dict[str, Any]:
        """The wire JSON (a deep copy)."""
        return copy.deepcopy(self._data)

    # Mapping protocol: dict-style reads of the wire JSON.
    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{type(self).__name__} is read-only")

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Model):
            return type(self) is type(other) and self._data == other._data
        if isinstance(other, Mapping):
            return self._data == dict(other)
        return NotImplemented

    def __hash__(self) -> int:  # results are values, but mutable JSON inside
        return id(self)

    def __repr__(self) -> str:
        shown = ", ".join(
            f"{name}={self._data.get(name)!r}"
            for name in _fields_of(type(self))
            if self._data.get(name) is not None
        )
        return f"{type(self).__name__}({shown})"


class WebhookInfo(Model):
    """An agent's completion webhook; the secret is shown only by its fingerprint."""

    url: str
    signing_secret_fingerprint: str


class Agent(Model):
    """A registered agent: a stable identity in one region."""

    id: str
    name: str
    description: Optional[str]
    runtime: str
    region: str
    promotion: str
    template: str
    approval_window_seconds: int
    llm_configs: List[Dict[str, Any]]
    system_prompt: Optional[str]
    tools: List[Dict[str, Any]]
    max_steps: int
    schedule: Optional[str]
    next_run_at: Optional[str]
    webhook: Optional[WebhookInfo]
    created_at: str
    updated_at: str

    _nested = {"webhook": WebhookInfo}


class Run(Model):
    """A run of an agent."""

    _nested = {"cost_usd": Decimal}

    id: str
    agent_id: str
    status: str
    input: Any
    output: Any
    error: Optional[str]
    cost_usd: Decimal
    promotion: str
    actions_executed: int
    actions_blocked: int
    actions_shadowed: int
    actions_skipped: int
    audit_url: str
    created_at: str
    started_at: Optional[str]
    finished_at: Optional[str]

    @property
    def done(self) -> bool:
        """Whether the run has ended."""
        return self.status in TERMINAL_STATUSES


class VaultEntry(Model):
    """A vault entry's metadata. The value is never part of any answer."""

    id: str
    key: str
    scope: str
    agent_id: Optional[str]
    description: Optional[str]
    fingerprint: str
    version: int
    created_at: str
    updated_at: str


class Translation(Model):
    """One documented rewrite of the policy dialect into plain Cedar."""

    line: int
    column: int
    original: str
    translated: str
    rule: str


class Policy(Model):
    """A version of an agent's policy envelope (the newest is in force)."""

    id: str
    agent_id: str
    version: int
    document: str
    cedar: str
    translations: List[Translation]
    created_at: str

    _nested = {"translations": Translation}


class CompiledPolicy(Model):
    """A policy document that parsed, with the Cedar it was translated to."""

    cedar: str
    translations: List[Translation]
    policy_count: int

    _nested = {"translations": Translation}


class Approval(Model):
    """A write held for approval at L2."""

    id: str
    run_id: str
    agent_id: str
    skill: str
    args: Any
    status: str
    requested_at: str
    expires_at: str
    decided_at: Optional[str]
    decided_by: Optional[str]


class Workspace(Model):
    """An isolated tenant."""

    id: str
    name: str
    tier: str
    soc2_accepted_at: Optional[str]
    created_at: str


class InboxItem(Model):
    """A workspace inbox notification (L1 notify)."""

    id: str
    agent_id: str
    run_id: str
    message: str
    created_at: str


class SkillInfo(Model):
    """A skill registered with the control plane."""

    _nested = {"cost_usd": Decimal}

    name: str
    kind: str
    external: bool
    cost_usd: Decimal
    description: Optional[str]


class TemplateInfo(Model):
    """A template (run loop) registered with the control plane."""

    name: str
    description: Optional[str]


class AuditEvent(Model):
    """One entry of a run's hash-chained audit record. ``type`` is the event type
    (``run.started``, ``skill.executed``, ``action.blocked``, …)."""

    seq: int
    at: str
    type: str
    data: Any
    prev_hash: str
    hash: str
    #: How ``hash`` was computed: ``2`` (RFC 8785 canonical JSON) for events written
    #: now; ``None`` for events of format 1, written before.
    chain_version: Optional[int]


class AuditRecord(Model):
    """A run's immutable audit record."""

    run_id: str
    agent_id: str
    events: List[AuditEvent]
    head_hash: str
    #: Where the next page of events starts (``runs.audit_page``); ``None`` on the
    #: last page and on a whole record.
    next_cursor: Optional[str]

    _nested = {"events": AuditEvent}


class AuditVerification(Model):
    """The result of recomputing a run's audit chain."""

    run_id: str
    valid: bool
    events: int
    broken_at: Optional[int]
    reason: Optional[str]


class RunEvent(Model):
    """One event of a run's live stream: ``event`` is ``message`` for agent-loop
    completions, the audit event type otherwise, ``done`` at the end."""

    id: int
    event: str
    data: Any

    @property
    def is_done(self) -> bool:
        """Whether this is the final ``done`` event."""
        return self.event == "done"


class DeliveryAttempt(Model):
    """One attempt to deliver a webhook."""

    at: str
    status_code: Optional[int]
    error: Optional[str]
    duration_ms: int


class Delivery(Model):
    """A signed POST of a run's result to the agent's webhook: ``id`` (``msg_…``, also
    the ``webhook-id`` header), ``status`` (``pending``, ``delivered``, ``failed``) and
    every attempt."""

    id: str
    agent_id: str
    run_id: str
    url: str
    status: str
    attempts: List[DeliveryAttempt]
    next_attempt_at: Optional[str]
    round_attempts: int
    created_at: str

    _nested = {"attempts": DeliveryAttempt}


class DeployPolicy(Model):
    """A deployment's policy: network egress (``allow-list``, ``none``, ``open``), the
    allow-listed hosts, and for sub-agents the skills (``tools``) and vault keys
    (``secret_scopes``) it may use — intersected with its parent's."""

    egress: Optional[str]
    allow_list: List[str]
    tools: Optional[List[str]]
    secret_scopes: Optional[List[str]]


class DeploymentData(Model):
    """An app, service or sub-agent stood up by ``deploy`` (the deploy guide's answer:
    ``url`` | ``endpoint`` | ``handle``, ``mode``, ``region``, ``expires_at``) with its
    id, status and settings, as data. ``dep["url"]`` and ``dep.url`` read the same.

    Clients answer with its two handle flavours, which add the handle's methods
    (``run``, ``extend``, ``delete``): :class:`Deployment` from :class:`heroa.Client`
    and :func:`heroa.deploy` (methods that block), :class:`AsyncDeployment` from
    :class:`heroa.AsyncClient` (coroutine methods). Both are ``DeploymentData``: take
    this type to accept either."""

    id: str
    #: App mode (and public services): ``https://<id>.<domain>``.
    url: Optional[str]
    #: Alongside ``url`` when the runtime's gateway also serves plain HTTP:
    #: ``http://<id>.<domain>:<port>``.
    http_url: Optional[str]
    #: Service mode: ``heroa://<workspace>/svc/<id>``.
    endpoint: Optional[str]
    #: Agent mode: the sub-agent's id — run it with ``worker.run(input=…)`` (a
    #: :class:`Deployment` / :class:`AsyncDeployment`), or like any agent with
    #: ``client.agents.run(agent_id=handle)``.
    handle: Optional[str]
    mode: str
    region: str
    expires_at: Optional[str]
    status: str
    name: str
    resource_tier: str
    ttl: str
    policy: DeployPolicy
    template: Optional[str]
    source: Any
    parent_agent_id: Optional[str]
    restarts: int
    error: Optional[str]
    limits: Optional[Dict[str, Any]]
    created_at: str
    updated_at: str

    _nested = {"policy": DeployPolicy}


class _SyncDeployments(Protocol):
    """What a :class:`Deployment` calls: ``client.deployments`` of a
    :class:`heroa.Client`."""

    def _run_handle(
        self, agent_id: str, input: Any, wait: bool, timeout: Optional[float]  # noqa: A002
    ) -> Run: ...

    def extend(self, deployment_id: str, ttl: str) -> "Deployment": ...

    def delete(self, deployment_id: str) -> "Deployment": ...


class _AsyncDeployments(Protocol):
    """What an :class:`AsyncDeployment` calls: ``client.deployments`` of a
    :class:`heroa.AsyncClient`."""

    async def _run_handle(
        self, agent_id: str, input: Any, wait: bool, timeout: Optional[float]  # noqa: A002
    ) -> Run: ...

    async def extend(self, deployment_id: str, ttl: str) -> "AsyncDeployment": ...

    async def delete(self, deployment_id: str) -> "AsyncDeployment": ...


H = TypeVar("H", bound="_DeploymentHandle")


class _DeploymentHandle(DeploymentData):
    """What both handle flavours share: the client they were answered by (kept out of
    the data: ``to_dict()``, ``==``, ``[]`` and ``repr`` see only the wire JSON), and
    the checks ``run`` makes before any call."""

    _deployments: Any = None  # the client's ``deployments`` resource; None when unbound

    @classmethod
    def _bound(cls: Type[H], data: Mapping[str, Any], deployments: Any) -> H:
        dep = cls(data)
        object.__setattr__(dep, "_deployments", deployments)
        return dep

    def _client(self, what: str) -> Any:
        if self._deployments is None:
            raise FailedPreconditionError(
                f"this {type(self).__name__} is not bound to a client, so it cannot {what}: "
                "only one answered by client.deploy(...), heroa.deploy(...) or "
                "client.deployments.get/extend/delete/list can (one built with from_dict "
                "is data only)"
            )
        return self._deployments

    def _runnable(self) -> str:
        """The sub-agent's id, or the error of a deployment without a run loop."""
        if self.mode != "agent" or not self.handle:
            raise FailedPreconditionError(
                f'only a sub-agent (mode "agent") can be run; this deployment\'s mode is "{self.mode}"',
                field="mode",
            )
        return self.handle

    # The binding survives copies; a pickle carries the data only (unbound).
    def __copy__(self: H) -> H:
        return type(self)._bound(self._data, self._deployments)

    def __deepcopy__(self: H, memo: Dict[int, Any]) -> H:
        return type(self)._bound(copy.deepcopy(self._data, memo), self._deployments)

    def __reduce__(self) -> Tuple[Any, ...]:
        return (type(self), (self._data,))


class Deployment(_DeploymentHandle):
    """A deployment answered by :class:`heroa.Client` (``client.deploy``,
    :func:`heroa.deploy`, ``client.deployments.get/extend/delete/list``): its data (see
    :class:`DeploymentData`) plus the handle's methods, which block — the deploy
    guide's ``worker.run(input=…)``.

    One built from data (``Deployment.from_dict``) is not bound to a client: its
    methods raise :class:`heroa.FailedPreconditionError`."""

    def run(
        self, input: Any = None, *, wait: bool = True, timeout: Optional[float] = None  # noqa: A002
    ) -> Run:
        """Runs the sub-agent (mode ``agent``): starts ``agents.run`` on its
        ``handle`` with ``input`` (``{}`` when omitted) and, unless ``wait=False``,
        waits like ``client.runs.wait(run.id, timeout=…)`` — ``timeout`` seconds,
        default 300; ``heroa.TimeoutError`` after it (the run goes on) — returning the
        ended run (its ``output``, ``status``, ``cost_usd``). With ``wait=False``
        returns the run just started (``queued``).

        An app or service has no run loop: :class:`heroa.FailedPreconditionError`
        with ``field == "mode"``, before any call. A bad ``timeout`` raises
        :class:`heroa.InvalidArgumentError` before the run starts."""
        handle = self._runnable()
        client: _SyncDeployments = self._client("run")
        return client._run_handle(handle, input, wait, timeout)

    def extend(self, ttl: str) -> "Deployment":
        """``client.deployments.extend(self.id, ttl)``: a new TTL counted from now
        (``"2h"``, ``"persistent"``, …); returns the deployment's new state."""
        client: _SyncDeployments = self._client("extend")
        return client.extend(self.id, ttl)

    def delete(self) -> "Deployment":
        """``client.deployments.delete(self.id)``: stops and deletes the deployment (a
        sub-agent then refuses runs); returns its last state."""
        client: _SyncDeployments = self._client("delete")
        return client.delete(self.id)


class AsyncDeployment(_DeploymentHandle):
    """A deployment answered by :class:`heroa.AsyncClient`: the data of
    :class:`DeploymentData` plus the handle's methods as coroutines —
    ``await worker.run(input=…)``. Cancelling the awaiting task cancels the wait (the
    run goes on). A separate class from :class:`Deployment` (not a subclass) so that
    type checkers tell the blocking methods from the coroutines."""

    async def run(
        self, input: Any = None, *, wait: bool = True, timeout: Optional[float] = None  # noqa: A002
    ) -> Run:
        """See :meth:`Deployment.run` (``client.runs.wait``'s timeout: seconds,
        default 300)."""
        handle = self._runnable()
        client: _AsyncDeployments = self._client("run")
        return await client._run_handle(handle, input, wait, timeout)

    async def extend(self, ttl: str) -> "AsyncDeployment":
        """See :meth:`Deployment.extend`."""
        client: _AsyncDeployments = self._client("extend")
        return await client.extend(self.id, ttl)

    async def delete(self) -> "AsyncDeployment":
        """See :meth:`Deployment.delete`."""
        client: _AsyncDeployments = self._client("delete")
        return await client.delete(self.id)
