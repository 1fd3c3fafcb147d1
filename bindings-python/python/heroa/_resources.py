"""Resource groups of the clients: ``client.agents``, ``.vault``, ``.policies``,
``.runs``, ``.approvals``, ``.workspace`` — synchronous and asyncio flavours with the
same names, arguments and results.

Every call is one operation of the core client (same validation, same answers, same
errors on both transports); arguments cross to Rust as JSON.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import (
    Any,
    Callable,
    Dict,
    Literal,
    AsyncIterator,
    Iterator,
    List,
    Mapping,
    Optional,
    Sequence,
    Type,
    TypeVar,
    Union,
)

from . import _native
from .errors import InvalidArgumentError
from .pagination import AsyncPage, AsyncPaginator, SyncPage
from .policy import PolicyEngine, compile as _compile
from .types import (
    Agent,
    Approval,
    AuditRecord,
    AuditVerification,
    AsyncDeployment,
    CompiledPolicy,
    Delivery,
    Deployment,
    InboxItem,
    Model,
    Policy,
    Run,
    RunEvent,
    SkillInfo,
    TemplateInfo,
    VaultEntry,
    Workspace,
    usd_text,
)

M = TypeVar("M", bound=Model)

#: Default ``runs.wait`` timeout, in seconds.
DEFAULT_WAIT = 300.0


def _args(**kw: Any) -> str:
    return json.dumps({k: v for k, v in kw.items() if v is not None}, default=_money)


def _money(value: Any) -> str:
    """JSON for a :class:`decimal.Decimal` anywhere in a request: its exact text."""
    if isinstance(value, Decimal):
        return usd_text(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


_PRICES = ("prompt_usd_per_1k", "completion_usd_per_1k")


def _llm_configs(configs: Optional[Sequence[Mapping[str, Any]]]) -> Optional[List[Dict[str, Any]]]:
    """The configs with their prices as the decimal strings the protocol carries."""
    if configs is None:
        return None
    out = []
    for i, c in enumerate(configs):
        c = dict(c)
        for key in _PRICES:
            if c.get(key) is not None:
                c[key] = usd_text(c[key], f"llm_configs[{i}].{key}")
        out.append(c)
    return out


def _one(cls: Type[M], text: str) -> M:
    return cls(json.loads(text))


#: The largest page a list answers.
_MAX_PAGE = 1000

def _many(cls: Type[M], text: str) -> List[M]:
    data = json.loads(text)
    return [cls(x) for x in (data["items"] if isinstance(data, dict) else data)]


def _timeout_ms(timeout: float) -> int:
    """A wait's timeout in whole milliseconds (the protocol's ``timeout_ms``)."""
    seconds = float(timeout)
    if not (seconds >= 0 and seconds <= 1e9):
        raise InvalidArgumentError("timeout must be a number of seconds ≥ 0", field="timeout")
    return int(seconds * 1000)


class _Sync:
    __slots__ = ("_n",)

    def __init__(self, native: _native.Client) -> None:
        self._n = native

    def _call(self, op: str, args: str) -> str:
        return self._n.call(op, args)

    def _list(
        self,
        cls: Callable[[Dict[str, Any]], M],
        op: str,
        limit: Optional[int],
        cursor: Optional[str],
        **filters: Any,
    ) -> SyncPage[M]:
        """The page of list ``op`` at ``cursor``; it fetches the pages after it.
        ``cls`` makes each item of its JSON (a class, or a binding factory)."""

        def fetch(at: Optional[str]) -> SyncPage[M]:
            data = json.loads(self._call(op, _args(**filters, limit=limit, cursor=at)))
            return SyncPage([cls(x) for x in data["items"]], data.get("next_cursor"), fetch)

        return fetch(cursor)

    def _audit_page(self, run_id: str, limit: Optional[int], cursor: Optional[str]) -> AuditRecord:
        return _one(AuditRecord, self._call("runs.audit", _args(run_id=run_id, limit=limit, cursor=cursor)))

    def _audit(self, run_id: str) -> AuditRecord:
        """The whole audit record, page by page."""
        data = json.loads(self._call("runs.audit", _args(run_id=run_id, limit=_MAX_PAGE)))
        while data.get("next_cursor"):
            more = json.loads(
                self._call("runs.audit", _args(run_id=run_id, limit=_MAX_PAGE, cursor=data["next_cursor"]))
            )
            data["events"].extend(more["events"])
            data["next_cursor"] = more.get("next_cursor")
        return AuditRecord(data)


class _Async:
    __slots__ = ("_n",)

    def __init__(self, native: _native.Client) -> None:
        self._n = native

    async def _call(self, op: str, args: str) -> str:
        out: str = await self._n.call_async(op, args)
        return out

    def _list(
        self,
        cls: Callable[[Dict[str, Any]], M],
        op: str,
        limit: Optional[int],
        cursor: Optional[str],
        **filters: Any,
    ) -> AsyncPaginator[M]:
        """List ``op`` from ``cursor``: await it for that page, or iterate every item."""

        async def fetch(at: Optional[str]) -> AsyncPage[M]:
            data = json.loads(await self._call(op, _args(**filters, limit=limit, cursor=at)))
            return AsyncPage([cls(x) for x in data["items"]], data.get("next_cursor"), fetch)

        return AsyncPaginator(fetch, cursor)

    async def _audit_page(self, run_id: str, limit: Optional[int], cursor: Optional[str]) -> AuditRecord:
        return _one(AuditRecord, await self._call("runs.audit", _args(run_id=run_id, limit=limit, cursor=cursor)))

    async def _audit(self, run_id: str) -> AuditRecord:
        """The whole audit record, page by page."""
        data = json.loads(await self._call("runs.audit", _args(run_id=run_id, limit=_MAX_PAGE)))
        while data.get("next_cursor"):
            more = json.loads(
                await self._call(
                    "runs.audit", _args(run_id=run_id, limit=_MAX_PAGE, cursor=data["next_cursor"])
                )
            )
            data["events"].extend(more["events"])
            data["next_cursor"] = more.get("next_cursor")
        return AuditRecord(data)


def _register_args(
    name: str,
    region: str,
    description: Optional[str],
    runtime: Optional[str],
    template: Optional[str],
    approval_window: Optional[str],
    llm_configs: Optional[Sequence[Mapping[str, Any]]],
    system_prompt: Optional[str],
    tools: Optional[Sequence[Mapping[str, Any]]],
    max_steps: Optional[int],
) -> str:
    return _args(
        name=name,
        region=region,
        description=description,
        runtime=runtime,
        template=template,
        approval_window=approval_window,
        llm_configs=_llm_configs(llm_configs),
        system_prompt=system_prompt,
        tools=None if tools is None else [dict(t) for t in tools],
        max_steps=max_steps,
    )


def _update_args(
    agent_id: str,
    description: Optional[str],
    template: Optional[str],
    approval_window: Optional[str],
    region: Optional[str],
    schedule: Optional[str],
    webhook: Optional[Mapping[str, Any]],
    remove_webhook: bool,
    llm_configs: Optional[Sequence[Mapping[str, Any]]],
    system_prompt: Optional[str],
    tools: Optional[Sequence[Mapping[str, Any]]],
    max_steps: Optional[int],
) -> str:
    return _args(
        agent_id=agent_id,
        description=description,
        template=template,
        approval_window=approval_window,
        region=region,
        schedule=schedule,
        webhook=None if webhook is None else dict(webhook),
        remove_webhook=True if remove_webhook else None,
        llm_configs=_llm_configs(llm_configs),
        system_prompt=system_prompt,
        tools=None if tools is None else [dict(t) for t in tools],
        max_steps=max_steps,
    )


DeployMode = Literal["app", "service", "agent"]
ResourceTier = Literal["small", "medium", "large"]


def _deploy_args(
    mode: str,
    region: Optional[str],
    resource_tier: Optional[str],
    ttl: Optional[str],
    policy: Optional[Mapping[str, Any]],
    template: Optional[str],
    source: Union[str, Mapping[str, Any], None],
    name: Optional[str],
    idempotency_key: Optional[str],
    parent_agent_id: Optional[str],
    public: Optional[bool],
    gpu: Optional[bool],
    health_path: Optional[str],
) -> str:
    return _args(
        mode=mode,
        region=region,
        resource_tier=resource_tier,
        ttl=ttl,
        policy=None if policy is None else dict(policy),
        template=template,
        source=source if source is None or isinstance(source, str) else dict(source),
        name=name,
        idempotency_key=idempotency_key,
        parent_agent_id=parent_agent_id,
        public=public,
        gpu=gpu,
        health_path=health_path,
    )


# =============================================================================== sync


def _wait_ms(wait: bool, timeout: Optional[float]) -> Optional[int]:
    """A handle's ``run`` wait in milliseconds (``runs.wait``'s timeout: seconds,
    default :data:`DEFAULT_WAIT`), checked before the run starts; ``None`` without a
    wait."""
    if not wait:
        return None
    return _timeout_ms(DEFAULT_WAIT if timeout is None else timeout)


def _handle_run_args(agent_id: str, input: Any) -> str:  # noqa: A002
    # As every binding's handle does: no input is an empty object.
    return _args(agent_id=agent_id, input={} if input is None else input)


class Deployments(_Sync):
    """``client.deployments``: the apps, services and sub-agents ``client.deploy``
    stood up — list, read, extend the TTL, delete. Every deployment it answers is a
    :class:`heroa.Deployment` bound to this client (``dep.run``, ``dep.extend``,
    ``dep.delete``)."""

    __slots__ = ()

    def _bound(self, data: Dict[str, Any]) -> Deployment:
        return Deployment._bound(data, self)

    def _bound_text(self, text: str) -> Deployment:
        return self._bound(json.loads(text))

    def _run_handle(
        self, agent_id: str, input: Any, wait: bool, timeout: Optional[float]  # noqa: A002
    ) -> Run:
        """:meth:`heroa.Deployment.run`: ``agents.run`` then, unless ``wait`` is false,
        ``runs.wait`` with its timeout."""
        wait_ms = _wait_ms(wait, timeout)
        run = _one(Run, self._call("agents.run", _handle_run_args(agent_id, input)))
        if wait_ms is None:
            return run
        return _one(Run, self._call("runs.wait", _args(run_id=run.id, timeout_ms=wait_ms)))

    def list(self, *, limit: Optional[int] = None, cursor: Optional[str] = None) -> SyncPage[Deployment]:
        """Deployments of the workspace, oldest first."""
        return self._list(self._bound, "deployments.list", limit, cursor)

    def get(self, deployment_id: str) -> Deployment:
        """One deployment (``dep_…``)."""
        return self._bound_text(self._call("deployments.get", _args(deployment_id=deployment_id)))

    def extend(self, deployment_id: str, ttl: str) -> Deployment:
        """A new TTL counted from now (``"2h"``, ``"persistent"``, …)."""
        return self._bound_text(
            self._call("deployments.extend", _args(deployment_id=deployment_id, ttl=ttl))
        )

    def delete(self, deployment_id: str) -> Deployment:
        """Stops and deletes a deployment (a sub-agent's handle then refuses runs);
        returns its last state."""
        return self._bound_text(
            self._call("deployments.delete", _args(deployment_id=deployment_id))
        )


class Agents(_Sync):
    """``client.agents``: identities, promotion and runs."""

    __slots__ = ()

    def register(
        self,
        name: str,
        *,
        region: str,
        description: Optional[str] = None,
        runtime: Optional[str] = "r1",
        template: Optional[str] = None,
        approval_window: Optional[str] = None,
        llm_configs: Optional[Sequence[Mapping[str, Any]]] = None,
        system_prompt: Optional[str] = None,
        tools: Optional[Sequence[Mapping[str, Any]]] = None,
        max_steps: Optional[int] = None,
    ) -> Agent:
        """Registers an agent identity in ``region`` (one of ``heroa.REGIONS``; it
        never changes). ``runtime`` must be ``"r1"``; ``template`` is the run loop
        (default: the built-in ``sequence``); ``approval_window`` like ``"24h"``."""
        return _one(
            Agent,
            self._call(
                "agents.register",
                _register_args(
                    name, region, description, runtime, template, approval_window,
                    llm_configs, system_prompt, tools, max_steps,
                ),
            ),
        )

    def get(self, agent_id: str) -> Agent:
        """Reads an agent."""
        return _one(Agent, self._call("agents.get", _args(agent_id=agent_id)))

    def list(self, *, limit: Optional[int] = None, cursor: Optional[str] = None) -> SyncPage[Agent]:
        """Every agent of the workspace."""
        return self._list(Agent, "agents.list", limit, cursor)

    def update(
        self,
        agent_id: str,
        *,
        description: Optional[str] = None,
        template: Optional[str] = None,
        approval_window: Optional[str] = None,
        region: Optional[str] = None,
        schedule: Optional[str] = None,
        webhook: Optional[Mapping[str, Any]] = None,
        remove_webhook: bool = False,
        llm_configs: Optional[Sequence[Mapping[str, Any]]] = None,
        system_prompt: Optional[str] = None,
        tools: Optional[Sequence[Mapping[str, Any]]] = None,
        max_steps: Optional[int] = None,
    ) -> Agent:
        """Changes the fields given. ``region`` is accepted only with the agent's
        current value (regions never change in place). ``schedule`` is a 5-field
        cron expression in UTC (``""`` removes it); ``webhook`` is
        ``{"url": …, "signing_secret": …}``."""
        return _one(
            Agent,
            self._call(
                "agents.update",
                _update_args(
                    agent_id, description, template, approval_window, region, schedule,
                    webhook, remove_webhook, llm_configs, system_prompt, tools, max_steps,
                ),
            ),
        )

    def delete(self, agent_id: str) -> None:
        """Deletes an agent (its vault entries and policies go with it; runs and
        their audit stay)."""
        self._call("agents.delete", _args(agent_id=agent_id))

    def set_promotion(self, agent_id: str, level: str) -> Agent:
        """Sets the promotion level: ``L0_shadow``, ``L1_notify``, ``L2_approve``,
        ``L3_autonomous`` or ``L4_trusted``."""
        return _one(Agent, self._call("agents.set_promotion", _args(agent_id=agent_id, level=level)))

    def run(self, agent_id: str, input: Any = None) -> Run:  # noqa: A002 - the seed's name
        """Starts a run with ``input``; returns it queued (see ``runs.wait``)."""
        return _one(Run, self._call("agents.run", _args(agent_id=agent_id, input=input)))


class Vault(_Sync):
    """``client.vault``: credentials, encrypted at rest, never returned."""

    __slots__ = ()

    def put(
        self,
        *,
        key: str,
        value: str,
        agent_id: Optional[str] = None,
        description: Optional[str] = None,
        scope: Optional[str] = None,
    ) -> VaultEntry:
        """Stores ``value`` under ``key`` for ``agent_id`` (scope ``"agent"``, the
        default) or for the whole workspace (``scope="workspace"``, no agent; Team
        tier or higher). Putting an existing key rotates it. Returns metadata only,
        with the value's SHA-256 ``fingerprint``."""
        return _one(
            VaultEntry,
            self._call(
                "vault.put",
                _args(agent_id=agent_id, key=key, value=value, description=description, scope=scope),
            ),
        )

    def list(self, agent_id: Optional[str] = None, *, limit: Optional[int] = None, cursor: Optional[str] = None) -> SyncPage[VaultEntry]:
        """Entries (metadata), optionally of one agent."""
        return self._list(VaultEntry, "vault.list", limit, cursor, agent_id=agent_id)

    def get(self, vault_id: str) -> VaultEntry:
        """One entry's metadata."""
        return _one(VaultEntry, self._call("vault.get", _args(vault_id=vault_id)))

    def rotate(self, vault_id: str, value: str) -> VaultEntry:
        """Replaces an entry's value (a new version and fingerprint)."""
        return _one(VaultEntry, self._call("vault.rotate", _args(vault_id=vault_id, value=value)))

    def delete(self, vault_id: str) -> None:
        """Deletes an entry."""
        self._call("vault.delete", _args(vault_id=vault_id))


class Policies(_Sync):
    """``client.policies``: versioned Cedar policy envelopes."""

    __slots__ = ()

    def create(self, agent_id: str, document: str) -> Policy:
        """Validates and stores a new version of the agent's envelope (the newest is
        in force). Invalid Cedar raises ``InvalidArgumentError`` with line/column
        diagnostics in ``details`` and stores nothing."""
        return _one(Policy, self._call("policies.create", _args(agent_id=agent_id, document=document)))

    def list(self, agent_id: Optional[str] = None, *, limit: Optional[int] = None, cursor: Optional[str] = None) -> SyncPage[Policy]:
        """Versions, oldest first, optionally of one agent."""
        return self._list(Policy, "policies.list", limit, cursor, agent_id=agent_id)

    def get(self, policy_id: str) -> Policy:
        """One version."""
        return _one(Policy, self._call("policies.get", _args(policy_id=policy_id)))

    def validate(self, document: str) -> CompiledPolicy:
        """Checks a document locally without storing it (see ``heroa.policy.compile``)."""
        return _compile(document)

    def precheck(self, agent_id: str) -> Optional[PolicyEngine]:
        """The agent's envelope in force, compiled here and bound to the agent and
        the registered skills, for pre-checks that give the runtime's decision without
        a round trip. ``None`` when the agent has no policy (the runtime then denies
        every call)."""
        engine = self._n.precheck(agent_id)
        if engine is None:
            return None
        agent = _one(Agent, self._call("agents.get", _args(agent_id=agent_id)))
        skills = _many(SkillInfo, self._call("workspace.skills", "{}"))
        return PolicyEngine._wrap(engine, agent, skills)


class RunEventStream(Iterator[RunEvent]):
    """A run's live events, ending after the ``done`` event. Iterating blocks with
    the GIL released (Ctrl-C interrupts it)."""

    __slots__ = ("_events",)

    def __init__(self, events: _native.Events) -> None:
        self._events = events

    def __iter__(self) -> "RunEventStream":
        return self

    def __next__(self) -> RunEvent:
        text = self._events.next()
        if text is None:
            raise StopIteration
        return RunEvent(json.loads(text))

    @property
    def last_event_id(self) -> Optional[int]:
        """The id of the last event returned: resume after it with
        ``runs.stream(run_id, last_event_id=…)``."""
        return self._events.last_event_id


class Runs(_Sync):
    """``client.runs``: runs, their audit records and live events."""

    __slots__ = ()

    def get(self, run_id: str) -> Run:
        """Reads a run."""
        return _one(Run, self._call("runs.get", _args(run_id=run_id)))

    def list(self, agent_id: Optional[str] = None, *, limit: Optional[int] = None, cursor: Optional[str] = None) -> SyncPage[Run]:
        """Runs, optionally of one agent."""
        return self._list(Run, "runs.list", limit, cursor, agent_id=agent_id)

    def wait(self, run_id: str, timeout: float = DEFAULT_WAIT) -> Run:
        """Waits until the run ends and returns it; ``heroa.TimeoutError`` after
        ``timeout`` seconds. Releases the GIL; Ctrl-C interrupts it."""
        return _one(Run, self._call("runs.wait", _args(run_id=run_id, timeout_ms=_timeout_ms(timeout))))

    def cancel(self, run_id: str) -> Run:
        """Cancels a run in progress; returns it once it has ended."""
        return _one(Run, self._call("runs.cancel", _args(run_id=run_id)))

    def audit(self, run_id: str) -> AuditRecord:
        """The run's immutable, hash-chained audit record (what ``audit_url`` serves),
        every event of it."""
        return self._audit(run_id)

    def audit_page(
        self, run_id: str, *, limit: Optional[int] = None, cursor: Optional[str] = None
    ) -> AuditRecord:
        """One page of the audit record: at most ``limit`` events (default 100) after
        ``cursor`` (a page's ``next_cursor``), with the whole chain's ``head_hash``."""
        return self._audit_page(run_id, limit, cursor)

    def verify_audit(self, run_id: str) -> AuditVerification:
        """Recomputes every hash and link of the audit chain here."""
        return _one(AuditVerification, self._call("runs.verify_audit", _args(run_id=run_id)))

    def stream(self, run_id: str, last_event_id: Optional[int] = None) -> RunEventStream:
        """The run's events as they happen (its audit chain, then ``done``), from the
        start or after ``last_event_id``."""
        return RunEventStream(self._n.events(run_id, last_event_id))


class Approvals(_Sync):
    """``client.approvals``: writes held at L2."""

    __slots__ = ()

    def list(self, status: Optional[str] = None, *, limit: Optional[int] = None, cursor: Optional[str] = None) -> SyncPage[Approval]:
        """Approvals, optionally with one status (``pending``, ``approved``,
        ``denied``, ``expired``, ``cancelled``)."""
        return self._list(Approval, "approvals.list", limit, cursor, status=status)

    def get(self, approval_id: str) -> Approval:
        """One approval."""
        return _one(Approval, self._call("approvals.get", _args(approval_id=approval_id)))

    def approve(self, approval_id: str, by: Optional[str] = None) -> Approval:
        """Approves a held write (``by`` is shown in the audit)."""
        return _one(Approval, self._call("approvals.approve", _args(approval_id=approval_id, by=by)))

    def deny(self, approval_id: str, by: Optional[str] = None) -> Approval:
        """Denies a held write; it is skipped."""
        return _one(Approval, self._call("approvals.deny", _args(approval_id=approval_id, by=by)))


class WebhookDeliveries(_Sync):
    """``client.webhooks``: the delivery log of run-result webhooks (to verify a
    delivery you received, see :mod:`heroa.webhooks`)."""

    __slots__ = ()

    def deliveries(self, agent_id: Optional[str] = None, *, limit: Optional[int] = None, cursor: Optional[str] = None) -> SyncPage[Delivery]:
        """Deliveries, optionally of one agent, oldest first."""
        return self._list(Delivery, "webhooks.deliveries", limit, cursor, agent_id=agent_id)

    def delivery(self, delivery_id: str) -> Delivery:
        """One delivery with its attempts."""
        return _one(Delivery, self._call("webhooks.delivery", _args(delivery_id=delivery_id)))

    def redeliver(self, delivery_id: str) -> Delivery:
        """Queues a delivery again."""
        return _one(Delivery, self._call("webhooks.redeliver", _args(delivery_id=delivery_id)))


class Workspaces(_Sync):
    """``client.workspace``: the caller's workspace, its inbox, skills, templates."""

    __slots__ = ()

    def get(self) -> Workspace:
        """The caller's workspace."""
        return _one(Workspace, self._call("workspace.get", "{}"))

    def accept_soc2(self) -> Workspace:
        """Records SOC 2 report acceptance (Enterprise tier; needed for L4)."""
        return _one(Workspace, self._call("workspace.accept_soc2", "{}"))

    def inbox(self, *, limit: Optional[int] = None, cursor: Optional[str] = None) -> SyncPage[InboxItem]:
        """The inbox (L1 notify notifications), oldest first."""
        return self._list(InboxItem, "workspace.inbox", limit, cursor)

    def skills(self) -> List[SkillInfo]:
        """Skills registered with the control plane."""
        return _many(SkillInfo, self._call("workspace.skills", "{}"))

    def templates(self) -> List[TemplateInfo]:
        """Templates registered with the control plane."""
        return _many(TemplateInfo, self._call("workspace.templates", "{}"))


# ============================================================================== async


class AsyncDeployments(_Async):
    """``client.deployments`` of :class:`heroa.AsyncClient` (see :class:`Deployments`);
    every deployment it answers is a :class:`heroa.AsyncDeployment` bound to this
    client (``await dep.run(…)``)."""

    __slots__ = ()

    def _bound(self, data: Dict[str, Any]) -> AsyncDeployment:
        return AsyncDeployment._bound(data, self)

    def _bound_text(self, text: str) -> AsyncDeployment:
        return self._bound(json.loads(text))

    async def _run_handle(
        self, agent_id: str, input: Any, wait: bool, timeout: Optional[float]  # noqa: A002
    ) -> Run:
        """:meth:`heroa.AsyncDeployment.run` (see :meth:`Deployments._run_handle`)."""
        wait_ms = _wait_ms(wait, timeout)
        run = _one(Run, await self._call("agents.run", _handle_run_args(agent_id, input)))
        if wait_ms is None:
            return run
        return _one(Run, await self._call("runs.wait", _args(run_id=run.id, timeout_ms=wait_ms)))

    def list(self, *, limit: Optional[int] = None, cursor: Optional[str] = None) -> AsyncPaginator[AsyncDeployment]:
        return self._list(self._bound, "deployments.list", limit, cursor)

    async def get(self, deployment_id: str) -> AsyncDeployment:
        return self._bound_text(
            await self._call("deployments.get", _args(deployment_id=deployment_id))
        )

    async def extend(self, deployment_id: str, ttl: str) -> AsyncDeployment:
        return self._bound_text(
            await self._call("deployments.extend", _args(deployment_id=deployment_id, ttl=ttl))
        )

    async def delete(self, deployment_id: str) -> AsyncDeployment:
        return self._bound_text(
            await self._call("deployments.delete", _args(deployment_id=deployment_id))
        )


class AsyncAgents(_Async):
    """``client.agents`` of :class:`heroa.AsyncClient`."""

    __slots__ = ()

    async def register(
        self,
        name: str,
        *,
        region: str,
        description: Optional[str] = None,
        runtime: Optional[str] = "r1",
        template: Optional[str] = None,
        approval_window: Optional[str] = None,
        llm_configs: Optional[Sequence[Mapping[str, Any]]] = None,
        system_prompt: Optional[str] = None,
        tools: Optional[Sequence[Mapping[str, Any]]] = None,
        max_steps: Optional[int] = None,
    ) -> Agent:
        """See :meth:`Agents.register`."""
        return _one(
            Agent,
            await self._call(
                "agents.register",
                _register_args(
                    name, region, description, runtime, template, approval_window,
                    llm_configs, system_prompt, tools, max_steps,
                ),
            ),
        )

    async def get(self, agent_id: str) -> Agent:
        return _one(Agent, await self._call("agents.get", _args(agent_id=agent_id)))

    def list(self, *, limit: Optional[int] = None, cursor: Optional[str] = None) -> AsyncPaginator[Agent]:
        return self._list(Agent, "agents.list", limit, cursor)

    async def update(
        self,
        agent_id: str,
        *,
        description: Optional[str] = None,
        template: Optional[str] = None,
        approval_window: Optional[str] = None,
        region: Optional[str] = None,
        schedule: Optional[str] = None,
        webhook: Optional[Mapping[str, Any]] = None,
        remove_webhook: bool = False,
        llm_configs: Optional[Sequence[Mapping[str, Any]]] = None,
        system_prompt: Optional[str] = None,
        tools: Optional[Sequence[Mapping[str, Any]]] = None,
        max_steps: Optional[int] = None,
    ) -> Agent:
        """See :meth:`Agents.update`."""
        return _one(
            Agent,
            await self._call(
                "agents.update",
                _update_args(
                    agent_id, description, template, approval_window, region, schedule,
                    webhook, remove_webhook, llm_configs, system_prompt, tools, max_steps,
                ),
            ),
        )

    async def delete(self, agent_id: str) -> None:
        await self._call("agents.delete", _args(agent_id=agent_id))

    async def set_promotion(self, agent_id: str, level: str) -> Agent:
        return _one(
            Agent, await self._call("agents.set_promotion", _args(agent_id=agent_id, level=level))
        )

    async def run(self, agent_id: str, input: Any = None) -> Run:  # noqa: A002
        return _one(Run, await self._call("agents.run", _args(agent_id=agent_id, input=input)))


class AsyncVault(_Async):
    """``client.vault`` of :class:`heroa.AsyncClient`."""

    __slots__ = ()

    async def put(
        self,
        *,
        key: str,
        value: str,
        agent_id: Optional[str] = None,
        description: Optional[str] = None,
        scope: Optional[str] = None,
    ) -> VaultEntry:
        """See :meth:`Vault.put`."""
        return _one(
            VaultEntry,
            await self._call(
                "vault.put",
                _args(agent_id=agent_id, key=key, value=value, description=description, scope=scope),
            ),
        )

    def list(self, agent_id: Optional[str] = None, *, limit: Optional[int] = None, cursor: Optional[str] = None) -> AsyncPaginator[VaultEntry]:
        return self._list(VaultEntry, "vault.list", limit, cursor, agent_id=agent_id)

    async def get(self, vault_id: str) -> VaultEntry:
        return _one(VaultEntry, await self._call("vault.get", _args(vault_id=vault_id)))

    async def rotate(self, vault_id: str, value: str) -> VaultEntry:
        return _one(VaultEntry, await self._call("vault.rotate", _args(vault_id=vault_id, value=value)))

    async def delete(self, vault_id: str) -> None:
        await self._call("vault.delete", _args(vault_id=vault_id))


class AsyncPolicies(_Async):
    """``client.policies`` of :class:`heroa.AsyncClient`."""

    __slots__ = ()

    async def create(self, agent_id: str, document: str) -> Policy:
        return _one(
            Policy, await self._call("policies.create", _args(agent_id=agent_id, document=document))
        )

    def list(self, agent_id: Optional[str] = None, *, limit: Optional[int] = None, cursor: Optional[str] = None) -> AsyncPaginator[Policy]:
        return self._list(Policy, "policies.list", limit, cursor, agent_id=agent_id)

    async def get(self, policy_id: str) -> Policy:
        return _one(Policy, await self._call("policies.get", _args(policy_id=policy_id)))

    def validate(self, document: str) -> CompiledPolicy:
        """Checks a document locally (no I/O, so not a coroutine)."""
        return _compile(document)

    async def precheck(self, agent_id: str) -> Optional[PolicyEngine]:
        """See :meth:`Policies.precheck`."""
        engine: Optional[_native.PolicyEngine] = await self._n.precheck_async(agent_id)
        if engine is None:
            return None
        agent = _one(Agent, await self._call("agents.get", _args(agent_id=agent_id)))
        skills = _many(SkillInfo, await self._call("workspace.skills", "{}"))
        return PolicyEngine._wrap(engine, agent, skills)


class AsyncRunEventStream(AsyncIterator[RunEvent]):
    """A run's live events as an async iterator (``async for event in …``)."""

    __slots__ = ("_events",)

    def __init__(self, events: _native.Events) -> None:
        self._events = events

    def __aiter__(self) -> "AsyncRunEventStream":
        return self

    async def __anext__(self) -> RunEvent:
        text: Optional[str] = await self._events.next_async()
        if text is None:
            raise StopAsyncIteration
        return RunEvent(json.loads(text))

    @property
    def last_event_id(self) -> Optional[int]:
        return self._events.last_event_id


class AsyncRuns(_Async):
    """``client.runs`` of :class:`heroa.AsyncClient`."""

    __slots__ = ()

    async def get(self, run_id: str) -> Run:
        return _one(Run, await self._call("runs.get", _args(run_id=run_id)))

    def list(self, agent_id: Optional[str] = None, *, limit: Optional[int] = None, cursor: Optional[str] = None) -> AsyncPaginator[Run]:
        return self._list(Run, "runs.list", limit, cursor, agent_id=agent_id)

    async def wait(self, run_id: str, timeout: float = DEFAULT_WAIT) -> Run:
        """See :meth:`Runs.wait`; cancelling the awaiting task cancels the wait."""
        return _one(Run, await self._call("runs.wait", _args(run_id=run_id, timeout_ms=_timeout_ms(timeout))))

    async def cancel(self, run_id: str) -> Run:
        return _one(Run, await self._call("runs.cancel", _args(run_id=run_id)))

    async def audit(self, run_id: str) -> AuditRecord:
        return await self._audit(run_id)

    async def audit_page(
        self, run_id: str, *, limit: Optional[int] = None, cursor: Optional[str] = None
    ) -> AuditRecord:
        return await self._audit_page(run_id, limit, cursor)

    async def verify_audit(self, run_id: str) -> AuditVerification:
        return _one(AuditVerification, await self._call("runs.verify_audit", _args(run_id=run_id)))

    def stream(self, run_id: str, last_event_id: Optional[int] = None) -> AsyncRunEventStream:
        """The run's events as an async iterator."""
        return AsyncRunEventStream(self._n.events(run_id, last_event_id))


class AsyncApprovals(_Async):
    """``client.approvals`` of :class:`heroa.AsyncClient`."""

    __slots__ = ()

    def list(self, status: Optional[str] = None, *, limit: Optional[int] = None, cursor: Optional[str] = None) -> AsyncPaginator[Approval]:
        return self._list(Approval, "approvals.list", limit, cursor, status=status)

    async def get(self, approval_id: str) -> Approval:
        return _one(Approval, await self._call("approvals.get", _args(approval_id=approval_id)))

    async def approve(self, approval_id: str, by: Optional[str] = None) -> Approval:
        return _one(
            Approval, await self._call("approvals.approve", _args(approval_id=approval_id, by=by))
        )

    async def deny(self, approval_id: str, by: Optional[str] = None) -> Approval:
        return _one(
            Approval, await self._call("approvals.deny", _args(approval_id=approval_id, by=by))
        )


class AsyncWebhookDeliveries(_Async):
    """``client.webhooks`` of :class:`heroa.AsyncClient`."""

    __slots__ = ()

    def deliveries(self, agent_id: Optional[str] = None, *, limit: Optional[int] = None, cursor: Optional[str] = None) -> AsyncPaginator[Delivery]:
        return self._list(Delivery, "webhooks.deliveries", limit, cursor, agent_id=agent_id)

    async def delivery(self, delivery_id: str) -> Delivery:
        return _one(Delivery, await self._call("webhooks.delivery", _args(delivery_id=delivery_id)))

    async def redeliver(self, delivery_id: str) -> Delivery:
        return _one(Delivery, await self._call("webhooks.redeliver", _args(delivery_id=delivery_id)))


class AsyncWorkspaces(_Async):
    """``client.workspace`` of :class:`heroa.AsyncClient`."""

    __slots__ = ()

    async def get(self) -> Workspace:
        return _one(Workspace, await self._call("workspace.get", "{}"))

    async def accept_soc2(self) -> Workspace:
        return _one(Workspace, await self._call("workspace.accept_soc2", "{}"))

    def inbox(self, *, limit: Optional[int] = None, cursor: Optional[str] = None) -> AsyncPaginator[InboxItem]:
        return self._list(InboxItem, "workspace.inbox", limit, cursor)

    async def skills(self) -> List[SkillInfo]:
        return _many(SkillInfo, await self._call("workspace.skills", "{}"))

    async def templates(self) -> List[TemplateInfo]:
        return _many(TemplateInfo, await self._call("workspace.templates", "{}"))

