"""Writes chains.json: audit chains of both formats with their expected verdicts.

The hashes here come from this independent Python implementation of the chain
formats (see heroa-protocol's `audit` module), so the Rust and every binding's suite
check themselves against a second implementation rather than against their own output:

* format 1: SHA-256(prev_hash + "\\n" + compact JSON of {seq, at, type, data}), data's
  keys in insertion order (the order of the stored JSON text);
* format 2: the same over RFC 8785 canonical JSON of {chain_version, seq, at, type,
  data} (keys sorted by UTF-16 code units; the numbers here print the same in
  ECMAScript and Python).

Run: python3 tests/vectors/audit/make_vectors.py
"""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path
from typing import Any, Dict, List

GENESIS = "0" * 64


def compact(v: Any) -> str:
    return json.dumps(v, ensure_ascii=False, separators=(",", ":"))


def jcs(v: Any) -> str:
    if isinstance(v, dict):
        keys = sorted(v, key=lambda k: k.encode("utf-16-be"))
        return "{" + ",".join(compact(k) + ":" + jcs(v[k]) for k in keys) + "}"
    if isinstance(v, list):
        return "[" + ",".join(jcs(x) for x in v) + "]"
    if isinstance(v, float) and v.is_integer() and abs(v) < 1e21:
        return str(int(v))
    return compact(v)


def event_hash(version: int, prev: str, seq: int, at: str, kind: str, data: Any) -> str:
    if version == 1:
        body = compact({"seq": seq, "at": at, "type": kind, "data": data})
    else:
        body = jcs({"chain_version": 2, "seq": seq, "at": at, "type": kind, "data": data})
    return hashlib.sha256((prev + "\n" + body).encode("utf-8")).hexdigest()


def chain(version: int, events: List[Any]) -> List[Dict[str, Any]]:
    out: List[Dict[str, Any]] = []
    prev = GENESIS
    for seq, (at, kind, data) in enumerate(events):
        e: Dict[str, Any] = {"seq": seq, "at": at, "type": kind, "data": data, "prev_hash": prev}
        e["hash"] = event_hash(version, prev, seq, at, kind, data)
        if version == 2:
            e["chain_version"] = 2
        out.append(e)
        prev = e["hash"]
    return out


RUN = [
    ("2026-12-03T10:00:00.000Z", "run.queued", {"input": {"calls": [{"skill": "crm:read"}]}}),
    ("2026-12-03T10:00:00.001Z", "run.started", {"promotion": "L3_autonomous", "template": "sequence"}),
    (
        "2026-12-03T10:00:00.020Z",
        "skill.executed",
        # Keys deliberately out of order, non-ASCII text, a float, nesting.
        {"skill": "crm:read", "kind": "read", "args": {"zeta": 1, "alpha": [True, None]},
         "output": {"name": "Zoë Ångström", "note": "€5 — ok", "score": 0.03},
         "cost_usd": 0.03},
    ),
    ("2026-12-03T10:00:00.021Z", "run.completed", {"status": "complete", "cost_usd": 0.03}),
]


def tampered(events: List[Dict[str, Any]], how: str) -> List[Dict[str, Any]]:
    e = copy.deepcopy(events)
    if how == "data":
        e[2]["data"]["output"]["score"] = 0.04
    elif how == "order":
        e[1], e[2] = e[2], e[1]
    elif how == "removed":
        del e[1]
    elif how == "reordered_keys":
        d = e[2]["data"]
        e[2]["data"] = dict(reversed(list(d.items())))
    elif how == "downgraded":
        del e[3]["chain_version"]
    return e


def main() -> None:
    v1 = chain(1, RUN)
    v2 = chain(2, RUN)
    cases = [
        {"name": "format 1, as written before format 2", "events": v1, "valid": True},
        {"name": "format 2", "events": v2, "valid": True},
        {"name": "format 2, data keys in another order (JCS ignores map order)",
         "events": tampered(v2, "reordered_keys"), "valid": True},
        {"name": "format 1, data keys in another order (format 1 hashed the stored order)",
         "events": tampered(v1, "reordered_keys"), "valid": False, "broken_at": 2},
        {"name": "format 2, a value changed", "events": tampered(v2, "data"), "valid": False, "broken_at": 2},
        {"name": "format 1, a value changed", "events": tampered(v1, "data"), "valid": False, "broken_at": 2},
        {"name": "format 2, two events swapped", "events": tampered(v2, "order"), "valid": False, "broken_at": 1},
        {"name": "format 2, an event removed", "events": tampered(v2, "removed"), "valid": False, "broken_at": 1},
        {"name": "format 2, the last event claims format 1", "events": tampered(v2, "downgraded"),
         "valid": False, "broken_at": 3},
        {"name": "a chain that starts in format 1 and goes on in format 2",
         "events": v1[:2] + chain_continue(v1[1], RUN[2:]), "valid": True},
    ]
    out = {
        "description": "Audit chains of both formats (heroa-protocol's audit module) with the "
        "verdict every implementation must reach; written by make_vectors.py.",
        "run_id": "run_01jx0000000000000000000000",
        "cases": cases,
    }
    path = Path(__file__).with_name("chains.json")
    path.write_text(json.dumps(out, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


def chain_continue(last: Dict[str, Any], events: List[Any]) -> List[Dict[str, Any]]:
    out: List[Dict[str, Any]] = []
    prev, seq = last["hash"], last["seq"] + 1
    for at, kind, data in events:
        e = {"seq": seq, "at": at, "type": kind, "data": data, "prev_hash": prev,
             "hash": event_hash(2, prev, seq, at, kind, data), "chain_version": 2}
        out.append(e)
        prev, seq = e["hash"], seq + 1
    return out


if __name__ == "__main__":
    main()
