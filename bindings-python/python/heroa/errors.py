"""The Heroa error taxonomy.

Every failure, embedded or remote, raises :class:`HeroaError` or, more precisely, the
subclass of its kind — one subclass per kind of the core (``ErrorKind::ALL``), so
``except heroa.NotFoundError`` works the same against the embedded runtime and a
remote control plane. Each error keeps the core's ``message``, the request ``field``
at fault (a dotted path such as ``"region"`` or ``"webhook.url"``), structured
``details`` (policy diagnostics, for instance) and, in ``__cause__``, the chain of
underlying causes.

Messages never contain secret values (API keys, vault values, signing secrets).
"""

from __future__ import annotations

import builtins
from typing import Any, Dict, Optional, Type

from . import _native

__all__ = [
    "HeroaError",
    "CauseError",
    "WebhookVerificationError",
    "AgentStreamError",
    "InvalidArgumentError",
    "UnauthenticatedError",
    "PermissionDeniedError",
    "NotFoundError",
    "ConflictError",
    "FailedPreconditionError",
    "TierLimitError",
    "PayloadTooLargeError",
    "RateLimitedError",
    "TimeoutError",
    "UnavailableError",
    "TransportError",
    "CancelledError",
    "InternalError",
    "ERROR_CLASSES",
    "error_class",
]


class HeroaError(Exception):
    """A Heroa error: a stable ``kind``, a ``message`` for people, the ``field`` at
    fault (when there is one), ``details`` and ``retry_after`` (seconds, for
    ``rate_limited``)."""

    #: The wire name of the kind (``"invalid_argument"``, ``"not_found"``, …).
    kind: str = "internal"

    def __init__(
        self,
        message: str,
        *,
        field: Optional[str] = None,
        details: Any = None,
        retry_after: Optional[float] = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.details = details
        self.retry_after = retry_after

    @property
    def retryable(self) -> bool:
        """Whether retrying the same request later may succeed."""
        return self.kind in ("rate_limited", "unavailable", "transport")

    def __str__(self) -> str:
        return f"{self.kind}: {self.message}"

    def __repr__(self) -> str:
        extra = f", field={self.field!r}" if self.field else ""
        return f"{type(self).__name__}({self.message!r}{extra})"


class CauseError(Exception):
    """A cause from inside the core (an I/O, storage or HTTP error) that is not itself
    a :class:`HeroaError`; found in ``__cause__`` chains."""


class InvalidArgumentError(HeroaError, ValueError):
    """A request field is missing, malformed or out of range; ``field`` names it."""

    kind = "invalid_argument"


class UnauthenticatedError(HeroaError):
    """No or unknown API key."""

    kind = "unauthenticated"


class PermissionDeniedError(HeroaError):
    """The caller may not do this."""

    kind = "permission_denied"


class NotFoundError(HeroaError, LookupError):
    """The resource does not exist in this workspace."""

    kind = "not_found"


class ConflictError(HeroaError):
    """The resource already exists, or the request conflicts with its state."""

    kind = "conflict"


class FailedPreconditionError(HeroaError):
    """The operation is not valid in the current state (e.g. changing a region, or
    using a client in a forked child)."""

    kind = "failed_precondition"


class TierLimitError(HeroaError):
    """The workspace tier does not allow this (agent count, workspace-scoped vault,
    L4)."""

    kind = "tier_limit"


class PayloadTooLargeError(HeroaError):
    """The request body is larger than the server accepts."""

    kind = "payload_too_large"


class RateLimitedError(HeroaError):
    """Too many requests; ``retry_after`` says when to try again."""

    kind = "rate_limited"


class TimeoutError(HeroaError, builtins.TimeoutError):  # noqa: A001 - heroa.TimeoutError
    """A wait or a call did not finish in time (also a built-in ``TimeoutError``)."""

    kind = "timeout"


class UnavailableError(HeroaError):
    """The service is temporarily unavailable."""

    kind = "unavailable"


class TransportError(HeroaError):
    """The request never got an HTTP answer (connection refused, TLS, DNS, …)."""

    kind = "transport"


class CancelledError(HeroaError):
    """The call was cancelled by its caller (never sent by a server)."""

    kind = "cancelled"


class InternalError(HeroaError):
    """A bug or an unexpected failure inside Heroa."""

    kind = "internal"


class WebhookVerificationError(InvalidArgumentError):
    """A webhook delivery failed verification (``heroa.webhooks.verify``). ``reason``
    is one of ``missing_header``, ``malformed``, ``expired``, ``mismatch``,
    ``invalid_secret``. Messages never contain secrets nor request text."""

    def __init__(
        self, message: str, *, reason: str = "mismatch", field: Optional[str] = None
    ) -> None:
        if field is None and reason == "invalid_secret":
            field = "secret"
        super().__init__(message, field=field)
        self.reason = reason


class AgentStreamError(InvalidArgumentError):
    """An agent event stream could not be assembled (``heroa.sse.AgentLoop``)."""


#: Error kind (wire name) → exception class, one per kind of the core.
ERROR_CLASSES: Dict[str, Type[HeroaError]] = {
    cls.kind: cls
    for cls in (
        InvalidArgumentError,
        UnauthenticatedError,
        PermissionDeniedError,
        NotFoundError,
        ConflictError,
        FailedPreconditionError,
        TierLimitError,
        PayloadTooLargeError,
        RateLimitedError,
        TimeoutError,
        UnavailableError,
        TransportError,
        CancelledError,
        InternalError,
    )
}


def error_class(kind: str) -> Type[HeroaError]:
    """The exception class of a kind's wire name (``HeroaError`` if unknown)."""
    return ERROR_CLASSES.get(kind, HeroaError)


_missing = [k for k in _native.ERROR_KINDS if k not in ERROR_CLASSES]
if _missing:  # pragma: no cover - guarded by tests/test_errors.py
    raise ImportError(f"heroa: no exception class for error kinds {_missing}")

_native.set_error_classes(
    {
        **ERROR_CLASSES,
        "cause": CauseError,
        "webhook": WebhookVerificationError,
        "agent_stream": AgentStreamError,
    }
)
