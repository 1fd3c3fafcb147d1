"""The core's error taxonomy maps exhaustively onto Python exception classes."""

from __future__ import annotations

import json

import pytest

import heroa
from heroa import _native
from heroa.errors import ERROR_CLASSES, CauseError, HeroaError, error_class


def test_every_core_kind_maps_to_a_distinct_subclass() -> None:
    kinds = list(_native.ERROR_KINDS)
    assert len(kinds) == 14 and len(set(kinds)) == 14
    classes = []
    for kind in kinds:
        with pytest.raises(HeroaError) as err:
            _native.raise_error(kind, f"{kind} happened")
        e = err.value
        cls = type(e)
        assert cls is not HeroaError and issubclass(cls, HeroaError)
        assert cls is error_class(kind) is ERROR_CLASSES[kind]
        assert e.kind == kind == cls.kind
        assert e.message == f"{kind} happened"
        assert str(e) == f"{kind}: {kind} happened"
        assert getattr(heroa, cls.__name__) is cls, "exported at the top level"
        classes.append(cls)
    assert len(set(classes)) == len(kinds)
    assert set(ERROR_CLASSES) == set(kinds)


def test_field_details_and_cause_chain_survive() -> None:
    details = {"diagnostics": [{"line": 2, "column": 7, "message": "unexpected token"}]}
    with pytest.raises(heroa.InvalidArgumentError) as err:
        _native.raise_error(
            "invalid_argument",
            "bad document",
            field="document",
            details=json.dumps(details),
            causes=["outer cause", "root cause"],
        )
    e = err.value
    assert e.field == "document"
    assert e.details == details
    assert isinstance(e, ValueError)
    assert isinstance(e.__cause__, CauseError) and str(e.__cause__) == "outer cause"
    assert isinstance(e.__cause__.__cause__, CauseError)
    assert str(e.__cause__.__cause__) == "root cause"
    assert e.__cause__.__cause__.__cause__ is None


def test_builtin_bases_and_retryable() -> None:
    assert issubclass(heroa.TimeoutError, TimeoutError)
    assert issubclass(heroa.NotFoundError, LookupError)
    assert issubclass(heroa.InvalidArgumentError, ValueError)
    retryable = {k for k, c in ERROR_CLASSES.items() if c("x").retryable}
    assert retryable == {"rate_limited", "unavailable", "transport"}


def test_a_real_cause_chain_from_the_core(tmp_path: object) -> None:
    # A remote client pointed at a closed port: the transport error keeps the
    # underlying HTTP/IO causes in __cause__.
    server = heroa.Server()
    url, key = server.url, server.api_key
    server.close()
    client = heroa.Client.remote(url, key, timeout=2, connect_timeout=1, max_retries=0)
    with pytest.raises(heroa.TransportError) as err:
        client.workspace.get()
    chain = []
    c: BaseException | None = err.value.__cause__
    while c is not None:
        chain.append(c)
        c = c.__cause__
    assert chain, "the transport error carries its causes"
    assert all(isinstance(x, CauseError) for x in chain)


def test_unauthenticated_remote_client() -> None:
    with heroa.Server() as server:
        client = heroa.Client(api_key="heroa_sk_not-a-real-key-000000", base_url=server.url)
        with pytest.raises(heroa.UnauthenticatedError):
            client.agents.list()


def test_remote_client_needs_a_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HEROA_API_KEY", raising=False)
    with pytest.raises(heroa.InvalidArgumentError) as err:
        heroa.Client(base_url="http://127.0.0.1:9")
    assert err.value.field == "api_key"
