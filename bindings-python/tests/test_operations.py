"""Every operation the Python layer calls by name is in the bridge's catalogue (the
one table the server's routes and openapi.json also come from), so a renamed or
removed operation fails here rather than at a user's call."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import heroa
from heroa import _native

PACKAGE = Path(heroa.__file__).parent


def test_every_operation_the_python_layer_calls_is_in_the_catalogue() -> None:
    text = "".join((PACKAGE / f).read_text() for f in ("_resources.py", "_client.py"))
    called = set(re.findall(r'(?:_call|\.call|\.call_async)\(\s*"([a-z_.0-9]+)"', text))
    assert "deploy" in called
    assert len(called) >= 30, called
    missing = sorted(called - set(_native.OPERATIONS))
    assert not missing, f"not in the bridge's catalogue: {missing}"


def test_an_unknown_operation_names_the_op() -> None:
    client = heroa.Runtime().client()
    with pytest.raises(heroa.InvalidArgumentError) as err:
        client._n.call("agents.explode", "{}")
    assert err.value.field == "op"
