"""Verify (and sign) Heroa webhook deliveries.

After each run Heroa POSTs the run result to the agent's webhook, signed twice:

1. **Heroa HMAC** — ``heroa-signature: sha256=<hex HMAC-SHA256(secret, raw body)>``
   (the seed's scheme; no timestamp, so no replay protection);
2. **Standard Webhooks** — ``webhook-id``, ``webhook-timestamp``,
   ``webhook-signature: v1,<base64>`` over ``"{id}.{timestamp}.{body}"``, with a
   timestamp tolerance (default 300 s).

Verify the *raw* body, before parsing JSON::

    from heroa import webhooks

    @app.post("/heroa-events")
    def receive(request):
        try:
            webhooks.verify(request.headers, request.body, secret=SIGNING_SECRET)
        except webhooks.WebhookVerificationError as e:
            return 400, e.reason
        event = json.loads(request.body)

Comparisons are constant-time; several secrets may be given during a rotation.
"""

from __future__ import annotations

import time
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

from . import _native
from .errors import WebhookVerificationError

__all__ = [
    "verify",
    "sign",
    "generate_secret",
    "new_message_id",
    "Verifier",
    "Verified",
    "WebhookVerificationError",
    "DEFAULT_TOLERANCE",
]

#: Default timestamp tolerance (seconds, both directions).
DEFAULT_TOLERANCE = 300.0

Headers = Union[Mapping[str, Any], Iterable[Tuple[str, Any]]]
Body = Union[bytes, bytearray, memoryview, str]
Secrets = Union[str, Sequence[str]]


class Verified:
    """A delivery that verified: the ``scheme`` (``heroa-hmac-sha256`` or
    ``standard-webhooks``), ``msg_id`` and ``timestamp`` (Standard Webhooks only —
    use ``msg_id`` to drop duplicates) and which secret matched (``secret_index``)."""

    __slots__ = ("scheme", "msg_id", "timestamp", "secret_index")

    def __init__(self, t: Tuple[str, Optional[str], Optional[int], int]) -> None:
        self.scheme: str = t[0]
        self.msg_id: Optional[str] = t[1]
        self.timestamp: Optional[int] = t[2]
        self.secret_index: int = t[3]

    def to_dict(self) -> Dict[str, Any]:
        return {
            "scheme": self.scheme,
            "msg_id": self.msg_id,
            "timestamp": self.timestamp,
            "secret_index": self.secret_index,
        }

    def __repr__(self) -> str:
        return f"Verified(scheme={self.scheme!r}, msg_id={self.msg_id!r}, timestamp={self.timestamp!r})"


def _secrets(secret: Secrets) -> List[str]:
    return [secret] if isinstance(secret, str) else list(secret)


# Keyed verifiers of the secrets module-level `verify` was called with, so repeated
# calls with the same secret(s) skip parsing and keying them. Bounded: cleared when full.
_CACHE: Dict[Union[str, Tuple[str, ...]], _native.Verifier] = {}
_CACHE_MAX = 32


def _cached(secret: Secrets) -> _native.Verifier:
    key: Union[str, Tuple[str, ...]] = secret if isinstance(secret, str) else tuple(secret)
    v = _CACHE.get(key)
    if v is None:
        v = _native.Verifier(_secrets(secret))
        if len(_CACHE) >= _CACHE_MAX:
            _CACHE.clear()
        _CACHE[key] = v
    return v


def verify(
    headers: Headers,
    body: Body,
    secret: Secrets,
    *,
    tolerance: float = DEFAULT_TOLERANCE,
    now: Optional[int] = None,
    scheme: str = "auto",
) -> Verified:
    """Verifies a delivery: ``headers`` as received (any mapping or pairs; names are
    case-insensitive), ``body`` the exact raw bytes (a ``str`` is UTF-8 encoded),
    ``secret`` one signing secret or a list (any one matching is enough).

    ``scheme`` is ``auto`` (Standard Webhooks when ``webhook-signature`` is present,
    else the Heroa HMAC), ``standard-webhooks`` or ``heroa-hmac-sha256``. ``now``
    (unix seconds) overrides the clock. Raises :class:`WebhookVerificationError`.

    The secrets are parsed and keyed once per distinct secret (a small cache), so
    calling this per request costs about what :class:`Verifier` does."""
    try:
        v = _cached(secret)
    except WebhookVerificationError:
        # Unusable secrets: the one-shot path reports errors in the core's order.
        return Verified(
            _native.webhook_verify(headers, body, _secrets(secret), tolerance, now, scheme)
        )
    return Verified(v.verify(headers, body, tolerance, now, scheme))


class Verifier:
    """Secrets parsed and keyed once, to verify many deliveries."""

    __slots__ = ("_native",)

    def __init__(self, secret: Secrets) -> None:
        self._native = _native.Verifier(_secrets(secret))

    def verify(
        self,
        headers: Headers,
        body: Body,
        *,
        tolerance: float = DEFAULT_TOLERANCE,
        now: Optional[int] = None,
        scheme: str = "auto",
    ) -> Verified:
        """See :func:`verify`."""
        return Verified(self._native.verify(headers, body, tolerance, now, scheme))

    def __repr__(self) -> str:
        return "Verifier([REDACTED])"


def sign(
    secret: str,
    body: Body,
    *,
    msg_id: Optional[str] = None,
    timestamp: Optional[int] = None,
) -> Dict[str, str]:
    """The four headers Heroa sends with ``body`` (for tests of your receiver):
    ``webhook-id``, ``webhook-timestamp``, ``webhook-signature``,
    ``heroa-signature``."""
    mid = msg_id if msg_id is not None else new_message_id()
    ts = int(time.time()) if timestamp is None else int(timestamp)
    data = body.encode("utf-8") if isinstance(body, str) else bytes(body)
    return dict(_native.webhook_sign(secret, mid, ts, data))


def generate_secret() -> str:
    """A new signing secret: ``whsec_`` + base64 of 32 random bytes."""
    return _native.webhook_generate_secret()


def new_message_id() -> str:
    """A new message id (``msg_…``)."""
    return _native.webhook_new_message_id()
