"""The clients, the embedded runtime and the in-process server."""

from __future__ import annotations

import json
import os
import warnings
from typing import Any, Callable, ClassVar, List, Mapping, Optional, Tuple, Type, TypeVar, Union

from . import _native
from ._host import SkillHandler, TemplateHandler, skill_adapter, template_adapter
from ._resources import (
    AsyncDeployments,
    DeployMode,
    Deployments,
    ResourceTier,
    _deploy_args,
    Agents,
    Approvals,
    AsyncAgents,
    AsyncApprovals,
    AsyncPolicies,
    AsyncRuns,
    AsyncVault,
    AsyncWebhookDeliveries,
    AsyncWorkspaces,
    Policies,
    Runs,
    Vault,
    WebhookDeliveries,
    Workspaces,
)
from .errors import FailedPreconditionError, InvalidArgumentError
from .types import AsyncDeployment, Deployment, Money, Workspace, usd_text

__all__ = ["Client", "AsyncClient", "Runtime", "Server"]

F = TypeVar("F", bound=Callable[..., Any])
C = TypeVar("C", bound="_ClientBase")
PathLike = Union[str, "os.PathLike[str]"]


class Runtime:
    """The embedded Heroa control plane — agents, vault, policies, promotion, runs,
    audit, approvals — in this process, persisted to ``path`` (an SQLite file) or
    kept in memory (``path=None``). No account, no network, no daemon.

    Host code registered here (skills, templates) runs when any client of this
    runtime — embedded, or remote through a :class:`Server` — starts a run.

    ``tier`` sets the default workspace's tier when the data file is new (``free``,
    ``team`` (default) or ``enterprise``). ``clock_ms`` starts a manual clock at that
    many milliseconds since the epoch, moved only by :meth:`advance_clock` (tests).
    ``public_url`` is the base of ``audit_url``.

    A runtime belongs to the process that opened it: after ``os.fork()`` the child
    gets :class:`heroa.FailedPreconditionError` from it and must open its own.
    """

    __slots__ = ("_native", "__weakref__")

    def __init__(
        self,
        path: Optional[PathLike] = None,
        *,
        tier: Optional[str] = None,
        clock_ms: Optional[int] = None,
        public_url: Optional[str] = None,
    ) -> None:
        self._native = _native.Runtime(
            None if path is None else os.fspath(path), tier, clock_ms, public_url
        )

    @property
    def default_workspace(self) -> str:
        """The workspace created on first open (``ws_…``); clients act in it by
        default."""
        return self._native.default_workspace

    def client(self, workspace: Optional[str] = None) -> "Client":
        """A synchronous client acting in ``workspace`` (default workspace)."""
        return Client._make(self._native.client(workspace), self)

    def async_client(self, workspace: Optional[str] = None) -> "AsyncClient":
        """An asyncio client acting in ``workspace`` (default workspace)."""
        return AsyncClient._make(self._native.client(workspace), self)

    def create_workspace(self, name: str, tier: str = "team") -> Workspace:
        """Creates an isolated workspace (``free``, ``team`` or ``enterprise``)."""
        return Workspace(json.loads(self._native.create_workspace(name, tier)))

    def workspaces(self) -> List[Workspace]:
        """Every workspace of this runtime."""
        return [Workspace(w) for w in json.loads(self._native.list_workspaces())]

    def create_api_key(self, workspace: Optional[str] = None) -> str:
        """Issues an API key (``heroa_sk_…``) for ``workspace``, for remote clients of
        a :class:`Server`. Shown once; only its hash is stored."""
        return self._native.create_api_key(workspace)

    def add_api_key(self, key: str, workspace: Optional[str] = None) -> None:
        """Registers a key of your choosing (at least 16 characters)."""
        self._native.add_api_key(key, workspace)

    def advance_clock(self, seconds: float) -> None:
        """Moves a manual clock forward (runtimes opened with ``clock_ms``), waking
        everything waiting on it (approval windows, schedules)."""
        self._native.advance_clock(float(seconds))

    def now_ms(self) -> int:
        """The runtime clock, in milliseconds since the epoch."""
        return self._native.now_ms()

    # ------------------------------------------------------------------ gateway

    def gateway_ca_pem(self) -> str:
        """The PEM certificate of this runtime's local CA, which signs the TLS
        certificates of deployed apps' URLs (``https://<id>.<domain>``). Trust it to
        reach them: ``ssl.create_default_context(cadata=runtime.gateway_ca_pem())``.
        Starts the app gateway on first use."""
        return self._native.gateway_ca_pem()

    def gateway_address(self) -> Tuple[str, int]:
        """``(host, port)`` of the app gateway's HTTPS listener: connect there for any
        app URL, sending the URL's host name as TLS SNI and ``Host``. Starts the
        gateway on first use."""
        host, port = self._native.gateway_address()
        return host, port

    # ---------------------------------------------------------------- host code

    def register_skill(
        self,
        name: str,
        kind: str = "read",
        cost_usd: Money = 0,
        external: bool = False,
        handler: Optional[SkillHandler] = None,
        *,
        description: Optional[str] = None,
    ) -> None:
        """Registers (or replaces) the skill ``name`` (e.g. ``hubspot:contact:read``).

        ``kind`` is ``read`` or ``write`` (writes are held at L2 and not executed at
        L0); ``external`` marks a skill that reaches outside (not executed at L0);
        ``cost_usd`` is charged per executed call. ``handler`` — ``def`` or
        ``async def`` — receives a :class:`heroa.SkillCall` and returns a
        JSON-serializable result. The runtime calls it only after the agent's policy
        envelope and promotion level allowed the call; an exception fails that call.
        """
        if handler is None:
            raise TypeError("register_skill() needs handler=…")
        adapter, is_async = skill_adapter(handler)
        self._native.register_skill(
            name, kind, usd_text(cost_usd), bool(external), description, adapter, is_async
        )

    def skill(
        self,
        name: str,
        *,
        kind: str = "read",
        cost_usd: Money = 0,
        external: bool = False,
        description: Optional[str] = None,
    ) -> Callable[[F], F]:
        """Decorator form of :meth:`register_skill`::

        @rt.skill("hubspot:contact:read", kind="read", cost_usd=0.02)
        def read_contacts(call: heroa.SkillCall) -> dict: ...
        """

        def register(fn: F) -> F:
            self.register_skill(name, kind, cost_usd, external, fn, description=description)
            return fn

        return register

    def register_template(
        self, name: str, handler: TemplateHandler, *, description: Optional[str] = None
    ) -> None:
        """Registers (or replaces) the template (run loop) ``name``. ``handler`` gets a
        :class:`heroa.TemplateContext` (``async def``: an
        :class:`heroa.AsyncTemplateContext`) with ``.input``, ``.run_id`` and
        ``.call(skill, args)``, and returns the run's output. An exception fails the
        run with its message. Agents use it through ``template=name``."""
        adapter, is_async = template_adapter(handler)
        self._native.register_template(name, description, adapter, is_async)

    def template(self, name: str, *, description: Optional[str] = None) -> Callable[[F], F]:
        """Decorator form of :meth:`register_template`."""

        def register(fn: F) -> F:
            self.register_template(name, fn, description=description)
            return fn

        return register

    def serve(
        self, host: str = "127.0.0.1", port: int = 0, *, api_key: Optional[str] = None
    ) -> "Server":
        """Serves this runtime over HTTP (see :class:`Server`)."""
        return Server(self, host=host, port=port, api_key=api_key)

    def __repr__(self) -> str:
        return f"heroa.Runtime(default_workspace={self.default_workspace!r})"


def _remote_native(
    base_url: str,
    api_key: Optional[str],
    timeout: Optional[float],
    connect_timeout: Optional[float],
    max_retries: Optional[int],
) -> _native.Client:
    key = api_key if api_key is not None else os.environ.get("HEROA_API_KEY")
    if not key:
        raise InvalidArgumentError(
            "api_key is required for a remote control plane (pass api_key=… or set HEROA_API_KEY)",
            field="api_key",
        )
    attempts = None if max_retries is None else int(max_retries) + 1
    return _native.Client.remote(base_url, key, timeout, connect_timeout, attempts)


def _resolve(
    api_key: Optional[str],
    base_url: Optional[str],
    path: Optional[PathLike],
    timeout: Optional[float],
    connect_timeout: Optional[float],
    max_retries: Optional[int],
) -> "tuple[_native.Client, Optional[Runtime]]":
    url = base_url if base_url is not None else os.environ.get("HEROA_BASE_URL")
    if url:
        return _remote_native(url, api_key, timeout, connect_timeout, max_retries), None
    if api_key is not None:
        warnings.warn(
            "heroa: an api_key was given but no base_url (nor HEROA_BASE_URL): "
            "using the embedded runtime in this process",
            stacklevel=3,
        )
    data = path if path is not None else (os.environ.get("HEROA_DATA") or None)
    rt = Runtime(data)
    return rt._native.client(None), rt


class _ClientBase:
    __slots__ = ("_n", "_runtime", "__weakref__")

    _n: _native.Client
    _runtime: Optional[Runtime]
    #: ``(attribute, resource class)`` of each resource, set by each client class.
    _resources: ClassVar[Tuple[Tuple[str, Callable[[_native.Client], object]], ...]] = ()

    def __init__(
        self,
        api_key: Optional[str] = None,
        base_url: Optional[str] = None,
        *,
        path: Optional[PathLike] = None,
        timeout: Optional[float] = None,
        connect_timeout: Optional[float] = None,
        max_retries: Optional[int] = None,
    ) -> None:
        native, rt = _resolve(api_key, base_url, path, timeout, connect_timeout, max_retries)
        self._init(native, rt)

    def _init(self, native: _native.Client, rt: Optional[Runtime]) -> None:
        self._n = native
        self._runtime = rt
        for name, resource in self._resources:
            setattr(self, name, resource(native))

    @classmethod
    def _make(cls: Type[C], native: _native.Client, rt: Optional[Runtime]) -> C:
        self = cls.__new__(cls)
        self._init(native, rt)
        return self

    @property
    def runtime(self) -> Optional[Runtime]:
        """The embedded runtime (to register skills and templates), or ``None`` for a
        remote control plane."""
        return self._runtime

    @property
    def is_remote(self) -> bool:
        """Whether this client talks to a remote control plane."""
        return self._n.is_remote

    @property
    def workspace_id(self) -> Optional[str]:
        """The workspace an embedded client acts in (``None`` when remote: the API
        key decides)."""
        return self._n.workspace

    def _require_runtime(self) -> Runtime:
        if self._runtime is None:
            raise FailedPreconditionError(
                "skills and templates are host code of the embedded runtime: register them "
                "with the process that runs the control plane (heroa.Runtime / heroa.Server), "
                "not through a remote client"
            )
        return self._runtime

    def register_skill(
        self,
        name: str,
        kind: str = "read",
        cost_usd: Money = 0,
        external: bool = False,
        handler: Optional[SkillHandler] = None,
        *,
        description: Optional[str] = None,
    ) -> None:
        """Registers a Python skill with the embedded runtime (see
        :meth:`Runtime.register_skill`)."""
        self._require_runtime().register_skill(
            name, kind, cost_usd, external, handler, description=description
        )

    def skill(
        self,
        name: str,
        *,
        kind: str = "read",
        cost_usd: Money = 0,
        external: bool = False,
        description: Optional[str] = None,
    ) -> Callable[[F], F]:
        """Decorator registering a Python skill::

        @client.skill("hubspot:contact:read", kind="read", cost_usd=0.02)
        def read(call): ...
        """
        return self._require_runtime().skill(
            name, kind=kind, cost_usd=cost_usd, external=external, description=description
        )

    def register_template(
        self, name: str, handler: TemplateHandler, *, description: Optional[str] = None
    ) -> None:
        """Registers a Python template (run loop) with the embedded runtime."""
        self._require_runtime().register_template(name, handler, description=description)

    def template(self, name: str, *, description: Optional[str] = None) -> Callable[[F], F]:
        """Decorator registering a Python template."""
        return self._require_runtime().template(name, description=description)

    def __repr__(self) -> str:
        where = "remote" if self.is_remote else f"embedded, workspace {self.workspace_id}"
        return f"heroa.{type(self).__name__}({where})"


class Client(_ClientBase):
    """The Heroa client (synchronous).

    ``heroa.Client(api_key=…, base_url=…)`` talks to a remote control plane over
    HTTPS; without a base URL (argument or ``HEROA_BASE_URL``) it runs the embedded
    control plane in this process, persisted to ``path`` (or ``HEROA_DATA``) or kept
    in memory. Either way the API, the answers and the errors are the same.

    Blocking calls release the GIL and can be interrupted with Ctrl-C.
    """

    __slots__ = ("agents", "vault", "policies", "runs", "approvals", "workspace", "webhooks",
                 "deployments")

    agents: Agents
    vault: Vault
    policies: Policies
    runs: Runs
    approvals: Approvals
    workspace: Workspaces
    webhooks: WebhookDeliveries
    deployments: Deployments

    _resources = (
        ("agents", Agents), ("vault", Vault), ("policies", Policies), ("runs", Runs),
        ("approvals", Approvals), ("workspace", Workspaces), ("webhooks", WebhookDeliveries),
        ("deployments", Deployments),
    )

    def deploy(
        self,
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
        """Deploys an app, a service or a sub-agent (the deploy guide's ``heroa.deploy``):
        hosting as one call. ``mode`` is ``app`` (a public HTTPS ``url``), ``service``
        (a private ``endpoint``; ``public=True`` adds a URL) or ``agent`` (a sub-agent
        whose ``handle`` runs like any agent, with ``template`` — agent mode only).
        ``region`` defaults to the caller's (else ``us-east``); ``resource_tier``
        ``small`` | ``medium`` | ``large``; ``ttl`` like ``"15m"``, ``"2h"``,
        ``"24h"`` or ``"persistent"`` (default ``2h``); ``policy`` =
        ``{"egress": "allow-list" | "none" | "open", "allow_list": [hosts], "tools":
        [skills], "secret_scopes": [vault keys]}``; ``source`` (app/service) an image,
        a directory or ``.tar.gz`` path, or ``{"repo", "ref"}``, ``{"image"}``,
        ``{"path", "command"}``, ``{"tarball"}``. The same ``name`` or
        ``idempotency_key`` returns the existing deployment. Bad input raises
        :class:`heroa.InvalidArgumentError` naming the ``field``.

        The answer is a :class:`heroa.Deployment` bound to this client — the handle of
        the deploy guide::

            worker = client.deploy(mode="agent", template="batch-processor", ttl="30m")
            out = worker.run(input={"items": docs, "task": "embed"})  # the ended Run

        ``worker.run(input=…, wait=True, timeout=None)`` runs a sub-agent (``agents.run``
        on its ``handle``) and waits for the end like ``runs.wait`` (``timeout`` in
        seconds, default 300; ``wait=False`` returns the run just started); an app or
        service refuses with :class:`heroa.FailedPreconditionError` (``field="mode"``).
        ``worker.extend(ttl)`` and ``worker.delete()`` act on the deployment."""
        return self.deployments._bound_text(self._n.call("deploy", _deploy_args(
            mode, region, resource_tier, ttl, policy, template, source, name,
            idempotency_key, parent_agent_id, public, gpu, health_path,
        )))

    @classmethod
    def from_env(cls) -> "Client":
        """``HEROA_BASE_URL`` + ``HEROA_API_KEY`` for a remote control plane,
        otherwise the embedded runtime persisted to ``HEROA_DATA`` (or in memory)."""
        return cls()

    @classmethod
    def embedded(cls, path: Optional[PathLike] = None) -> "Client":
        """A client over a new embedded runtime persisted to ``path`` (memory for
        ``None``), acting in its default workspace."""
        return Runtime(path).client()

    @classmethod
    def remote(
        cls,
        base_url: str,
        api_key: str,
        *,
        timeout: Optional[float] = None,
        connect_timeout: Optional[float] = None,
        max_retries: Optional[int] = None,
    ) -> "Client":
        """A client for the control plane at ``base_url``. ``timeout`` and
        ``connect_timeout`` are per request, in seconds (defaults 30 and 10);
        idempotent calls are retried ``max_retries`` times (default 3) with backoff."""
        return cls._make(
            _remote_native(base_url, api_key, timeout, connect_timeout, max_retries), None
        )


class AsyncClient(_ClientBase):
    """The Heroa client for asyncio: the same resources as :class:`Client` with
    coroutine methods, and ``runs.stream`` as an async iterator. Calls are driven by
    the binding's own runtime; the event loop is never blocked."""

    __slots__ = ("agents", "vault", "policies", "runs", "approvals", "workspace", "webhooks",
                 "deployments")

    agents: AsyncAgents
    vault: AsyncVault
    policies: AsyncPolicies
    runs: AsyncRuns
    approvals: AsyncApprovals
    workspace: AsyncWorkspaces
    webhooks: AsyncWebhookDeliveries
    deployments: AsyncDeployments

    _resources = (
        ("agents", AsyncAgents), ("vault", AsyncVault), ("policies", AsyncPolicies),
        ("runs", AsyncRuns), ("approvals", AsyncApprovals), ("workspace", AsyncWorkspaces),
        ("webhooks", AsyncWebhookDeliveries), ("deployments", AsyncDeployments),
    )

    async def deploy(
        self,
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
    ) -> AsyncDeployment:
        """See :meth:`Client.deploy`. The answer is a :class:`heroa.AsyncDeployment`
        bound to this client, whose methods are coroutines::

            worker = await client.deploy(mode="agent", template="batch-processor")
            out = await worker.run(input={"items": docs, "task": "embed"})"""
        out: str = await self._n.call_async("deploy", _deploy_args(
            mode, region, resource_tier, ttl, policy, template, source, name,
            idempotency_key, parent_agent_id, public, gpu, health_path,
        ))
        return self.deployments._bound_text(out)

    @classmethod
    def from_env(cls) -> "AsyncClient":
        """See :meth:`Client.from_env`."""
        return cls()

    @classmethod
    def embedded(cls, path: Optional[PathLike] = None) -> "AsyncClient":
        """See :meth:`Client.embedded`."""
        return Runtime(path).async_client()

    @classmethod
    def remote(
        cls,
        base_url: str,
        api_key: str,
        *,
        timeout: Optional[float] = None,
        connect_timeout: Optional[float] = None,
        max_retries: Optional[int] = None,
    ) -> "AsyncClient":
        """See :meth:`Client.remote`."""
        return cls._make(
            _remote_native(base_url, api_key, timeout, connect_timeout, max_retries), None
        )


class Server:
    """``heroa serve`` in this process: the embedded ``runtime`` (a new in-memory one
    by default) served over HTTP on ``host:port`` (loopback and a free port by
    default) — for tests, and for self-hosting a control plane any SDK or ``curl``
    can use. Python skills and templates registered with the runtime run for remote
    callers too.

    ``api_key`` is registered for the default workspace (a fresh key is issued when
    omitted); :attr:`api_key` and :meth:`client` give access. Use as a context manager
    or call :meth:`close`.
    """

    __slots__ = ("_native", "_runtime", "_api_key")

    def __init__(
        self,
        runtime: Optional[Runtime] = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        api_key: Optional[str] = None,
    ) -> None:
        rt = runtime if runtime is not None else Runtime()
        if api_key is None:
            api_key = rt.create_api_key()
        else:
            rt.add_api_key(api_key)
        self._runtime = rt
        self._api_key = api_key
        self._native = _native.Server(rt._native, host, int(port))

    @property
    def url(self) -> str:
        """``http://host:port`` — the ``base_url`` for clients."""
        return self._native.url

    @property
    def api_key(self) -> str:
        """The key of the default workspace."""
        return self._api_key

    @property
    def runtime(self) -> Runtime:
        """The runtime served."""
        return self._runtime

    @property
    def closed(self) -> bool:
        return self._native.closed

    def client(
        self, workspace: Optional[str] = None, *, timeout: Optional[float] = None
    ) -> Client:
        """A remote client of this server acting in ``workspace`` (default workspace;
        another workspace gets a fresh API key)."""
        key = self._api_key if workspace is None else self._runtime.create_api_key(workspace)
        return Client.remote(self.url, key, timeout=timeout)

    def async_client(
        self, workspace: Optional[str] = None, *, timeout: Optional[float] = None
    ) -> AsyncClient:
        """An asyncio remote client of this server."""
        key = self._api_key if workspace is None else self._runtime.create_api_key(workspace)
        return AsyncClient.remote(self.url, key, timeout=timeout)

    def close(self) -> None:
        """Stops accepting connections and waits for requests in flight."""
        self._native.close()

    def __enter__(self) -> "Server":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"heroa.Server({self.url!r}{', closed' if self.closed else ''})"
