"""Host code: Python skills and templates executed by the embedded runtime.

Execution model (see also ``src/runtime.rs``):

* A plain function (``def``) runs on the core's blocking thread pool, holding the GIL
  only while Python code runs. Several runs can execute skills at once; a skill that
  blocks on I/O does not stall the runtime.
* A coroutine function (``async def``) runs as a task on the binding's *handler
  loop*: one asyncio event loop on a daemon thread per process, started on first use.
  Objects bound to another event loop (say, an ``aiohttp`` session created in your
  application's loop) cannot be used from it; create them inside the handler or
  lazily per loop.
* A plain function that returns an awaitable has it run on the handler loop too.

Whatever a handler returns must be JSON-serializable; it becomes the call's output
(skills) or the run's output (templates). An exception fails that one skill call
(``failed`` outcome, ``skill.failed`` in the audit with ``"TypeName: message"``) or,
in a template, the run (status ``failed``, ``error`` set) — never the process.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import inspect
import json
import os
import threading
from decimal import Decimal
from typing import Any, Awaitable, Callable, Coroutine, Dict, Optional, Tuple, Union

from . import _native

__all__ = [
    "SkillCall",
    "TemplateContext",
    "AsyncTemplateContext",
    "SkillHandler",
    "TemplateHandler",
    "handler_loop",
]


class SkillCall:
    """What a skill handler receives: the arguments from the run loop, the calling
    agent and run, and read access to the vault (only while the skill runs)."""

    __slots__ = ("_native", "args", "agent_id", "run_id")

    def __init__(self, native: _native.SkillCall) -> None:
        self._native = native
        #: Arguments from the run loop (decoded JSON).
        self.args: Any = json.loads(native.args_json)
        #: The calling agent (``ag_…``).
        self.agent_id: str = native.agent_id
        #: The run (``run_…``).
        self.run_id: str = native.run_id

    @property
    def cancelled(self) -> bool:
        """Whether the run was cancelled or the call timed out: the answer is no
        longer wanted, so a long skill can stop early. (An ``async def`` skill's task
        is cancelled instead.)"""
        return self._native.cancelled

    def secret(self, key: str) -> str:
        """Reads the vault value ``key`` visible to the agent (its own entry first,
        then a workspace-scoped one). Only skill code can do this, and only while the
        skill runs. The value is scrubbed from everything the run records."""
        return self._native.secret(key)

    def __repr__(self) -> str:
        return f"SkillCall(agent_id={self.agent_id!r}, run_id={self.run_id!r}, args={self.args!r})"


class _ContextBase:
    __slots__ = ("_native", "input", "run_id", "agent_id")

    def __init__(self, native: _native.RunContext) -> None:
        self._native = native
        #: The run's input (decoded JSON).
        self.input: Any = json.loads(native.input_json)
        #: The run (``run_…``).
        self.run_id: str = native.run_id
        #: The agent (``ag_…``).
        self.agent_id: str = native.agent_id

    @property
    def cancelled(self) -> bool:
        """Whether the run was cancelled (an ``async def`` template's task is
        cancelled instead)."""
        return self._native.cancelled

    @property
    def cost_usd(self) -> Decimal:
        """Spend so far in USD."""
        return Decimal(self._native.cost_usd)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(run_id={self.run_id!r}, input={self.input!r})"


class TemplateContext(_ContextBase):
    """What a synchronous template receives."""

    __slots__ = ()

    def call(self, skill: str, args: Any = None) -> Dict[str, Any]:
        """Calls ``skill`` under the agent's policy envelope and promotion level and
        returns the outcome: ``{"outcome": "executed", "output": …}``, or ``shadowed``,
        ``blocked`` (with ``reason``), ``skipped`` (``reason``) or ``failed``
        (``error``). Raises only when the run was cancelled."""
        out: Dict[str, Any] = json.loads(
            self._native.call(skill, json.dumps({} if args is None else args))
        )
        return out


class AsyncTemplateContext(_ContextBase):
    """What an ``async def`` template receives: ``call`` is awaitable."""

    __slots__ = ()

    async def call(self, skill: str, args: Any = None) -> Dict[str, Any]:
        """See :meth:`TemplateContext.call`."""
        text = await self._native.call_async(skill, json.dumps({} if args is None else args))
        out: Dict[str, Any] = json.loads(text)
        return out


SkillHandler = Callable[[SkillCall], Any]
TemplateHandler = Union[
    Callable[[TemplateContext], Any], Callable[[AsyncTemplateContext], Awaitable[Any]]
]

# ------------------------------------------------------------------ handler loop

_loop_lock = threading.Lock()
_loop: Optional[asyncio.AbstractEventLoop] = None
_loop_pid: Optional[int] = None


def handler_loop() -> asyncio.AbstractEventLoop:
    """The event loop ``async def`` handlers run on (started on first use; a forked
    child starts its own)."""
    global _loop, _loop_pid
    with _loop_lock:
        if _loop is not None and _loop_pid == os.getpid():
            return _loop
        loop = asyncio.new_event_loop()
        ready = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(loop)
            loop.call_soon(ready.set)
            loop.run_forever()

        threading.Thread(target=run, name="heroa-handlers", daemon=True).start()
        ready.wait()
        _loop, _loop_pid = loop, os.getpid()
        return loop


def _describe(e: BaseException) -> str:
    message = str(e)
    return f"{type(e).__name__}: {message}" if message else type(e).__name__


def start(
    adapter: Callable[[Any], Coroutine[Any, Any, str]],
    native: Union[_native.SkillCall, _native.RunContext],
) -> "concurrent.futures.Future[str]":
    """Runs an ``async def`` adapter for one call as a task on the handler loop; its
    done callback answers the call. The native side cancels the returned future when
    the run is cancelled or the call times out."""
    fut: "concurrent.futures.Future[str]" = asyncio.run_coroutine_threadsafe(
        adapter(native), handler_loop()
    )

    def done(f: "concurrent.futures.Future[str]") -> None:
        if f.cancelled():
            native.respond(None, "CancelledError: the call was cancelled")
            return
        error = f.exception()
        if error is not None:
            native.respond(None, _describe(error))
        else:
            native.respond(f.result(), None)

    fut.add_done_callback(done)
    return fut


def _dump(value: Any) -> str:
    return json.dumps(value, default=_exact)


def _exact(value: Any) -> Any:
    """A :class:`decimal.Decimal` in a host result (``ctx.cost_usd``, say) travels as
    its exact text."""
    if isinstance(value, Decimal):
        return format(value, "f")
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _finish(result: Any) -> Any:
    """A sync handler that returned an awaitable: run it on the handler loop (we are
    on a blocking-pool thread, so waiting here is fine)."""
    if inspect.isawaitable(result):

        async def wrap() -> Any:
            return await result

        return asyncio.run_coroutine_threadsafe(wrap(), handler_loop()).result()
    return result


def _is_async(fn: Callable[..., Any]) -> bool:
    if inspect.iscoroutinefunction(fn):
        return True
    call = getattr(fn, "__call__", None)
    return call is not None and inspect.iscoroutinefunction(call)


def skill_adapter(fn: SkillHandler) -> Tuple[Callable[[_native.SkillCall], Any], bool]:
    """Wraps a user skill for the native runtime: returns (adapter, is_async)."""
    if not callable(fn):
        raise TypeError(f"a skill handler must be callable; got {fn!r}")
    if _is_async(fn):

        async def run_async(native: _native.SkillCall) -> str:
            return _dump(await fn(SkillCall(native)))

        return run_async, True

    def run(native: _native.SkillCall) -> str:
        return _dump(_finish(fn(SkillCall(native))))

    return run, False


def template_adapter(fn: TemplateHandler) -> Tuple[Callable[[_native.RunContext], Any], bool]:
    """Wraps a user template for the native runtime: returns (adapter, is_async)."""
    if not callable(fn):
        raise TypeError(f"a template must be callable; got {fn!r}")
    if _is_async(fn):
        afn: Callable[[AsyncTemplateContext], Awaitable[Any]] = fn  # type: ignore[assignment]

        async def run_async(native: _native.RunContext) -> str:
            return _dump(await afn(AsyncTemplateContext(native)))

        return run_async, True

    sfn: Callable[[TemplateContext], Any] = fn  # type: ignore[assignment]

    def run(native: _native.RunContext) -> str:
        return _dump(_finish(sfn(TemplateContext(native))))

    return run, False
