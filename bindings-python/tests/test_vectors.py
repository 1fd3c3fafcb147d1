"""The language-neutral vectors in tests/vectors/, read from Python."""

from __future__ import annotations

import json
from typing import Any, Dict, List

import pytest

import heroa
from conftest import VECTORS


def _load(name: str) -> Dict[str, Any]:
    data: Dict[str, Any] = json.loads((VECTORS / name).read_text(encoding="utf-8"))
    return data


POLICY = _load("policy/decisions.json")


def _decision_cases() -> List[Any]:
    out = []
    for s in POLICY["sets"]:
        for c in s["cases"]:
            out.append(pytest.param(s, c, id=f"{s['name']} / {c['name']}"))
    return out


@pytest.mark.parametrize("vector_set,case", _decision_cases())
def test_policy_decision_vectors(vector_set: Dict[str, Any], case: Dict[str, Any]) -> None:
    engine = heroa.PolicyEngine([(d["id"], d["text"]) for d in vector_set["documents"]])
    want = case["expected"]
    # The wire form, as the Rust suite checks it …
    d = engine.check_request(case["request"])
    assert d.allowed == want["allowed"], d.explain()
    assert [r.policy_id for r in d.reasons] == want["reasons"]
    assert bool(d.errors) == want.get("has_errors", False), d.errors
    # … and the idiomatic call gives the same decision.
    req = case["request"]
    d2 = engine.check(
        req["skill"],
        agent=req["agent"],
        run_cost_usd=req["run_cost_usd"],
        context=req.get("context") or None,
    )
    assert (d2.allowed, [r.policy_id for r in d2.reasons], d2.errors) == (
        d.allowed,
        [r.policy_id for r in d.reasons],
        d.errors,
    )


@pytest.mark.parametrize("vector", POLICY["translations"], ids=lambda v: v["name"])
def test_policy_translation_vectors(vector: Dict[str, Any]) -> None:
    compiled = heroa.policy.compile(vector["document"])
    assert compiled.cedar == vector["cedar"]
    assert [t.to_dict() for t in compiled.translations] == vector["translations"]


@pytest.mark.parametrize("vector", POLICY["invalid"], ids=lambda v: v["name"])
def test_policy_invalid_vectors(vector: Dict[str, Any]) -> None:
    with pytest.raises(heroa.InvalidArgumentError) as err:
        heroa.policy.compile(vector["document"])
    assert err.value.field == "document"
    got = [(d["line"], d["column"]) for d in err.value.details["diagnostics"]]
    assert got == [(p["line"], p["column"]) for p in vector["diagnostics"]]


def test_vector_count() -> None:
    n = sum(len(s["cases"]) for s in POLICY["sets"])
    assert n + len(POLICY["translations"]) + len(POLICY["invalid"]) >= 30


# ------------------------------------------------------------------ webhooks


def _webhook_cases() -> List[Any]:
    out = []
    for path in sorted((VECTORS / "webhooks").glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        for c in data["cases"]:
            out.append(pytest.param(c, id=f"{path.stem} / {c['name']}"))
    return out


WEBHOOK_CASES = _webhook_cases()


@pytest.mark.skipif(not WEBHOOK_CASES, reason="no webhook vectors")
@pytest.mark.parametrize("case", WEBHOOK_CASES)
def test_webhook_vectors(case: Dict[str, Any]) -> None:
    from heroa import webhooks

    secrets = case["secrets"] if "secrets" in case else [case["secret"]]
    opts: Dict[str, Any] = {"tolerance": case.get("tolerance_seconds", 300), "now": case.get("now")}
    body = case["body"].encode("utf-8")
    verifier = webhooks.Verifier(secrets)
    for scheme in (case["scheme"], "auto"):
        for how, call in (
            ("function", lambda: webhooks.verify(case["headers"], body, secrets, scheme=scheme, **opts)),
            ("verifier", lambda: verifier.verify(list(case["headers"].items()), body, scheme=scheme, **opts)),
        ):
            try:
                v = call()
                got = "ok"
            except webhooks.WebhookVerificationError as e:
                got = e.reason
                assert isinstance(e, heroa.HeroaError) and isinstance(e, ValueError)
                for s in secrets:
                    assert s not in str(e), "no secret in messages"
            assert got == case["expect"], (scheme, how)
            if got == "ok":
                assert v.scheme == case["scheme"]
                if case["scheme"] == "standard-webhooks":
                    ids = [x.strip() for k, x in case["headers"].items() if k.lower() == "webhook-id"]
                    assert v.msg_id == ids[0] and v.timestamp is not None
                else:
                    assert v.msg_id is None and v.timestamp is None
    if case["expect"] == "ok":
        with pytest.raises(webhooks.WebhookVerificationError) as err:
            webhooks.verify(case["headers"], body + b" ", secrets, scheme=case["scheme"], **opts)
        assert err.value.reason == "mismatch"


def test_webhook_sign_then_verify_and_rotation() -> None:
    from heroa import webhooks

    old, new = webhooks.generate_secret(), webhooks.generate_secret()
    assert old.startswith("whsec_") and old != new
    body = b'{"type":"run.completed"}'
    headers = webhooks.sign(new, body, timestamp=1_767_225_600)
    assert set(headers) == {"webhook-id", "webhook-timestamp", "webhook-signature", "heroa-signature"}
    v = webhooks.verify(headers, body, [old, new], now=1_767_225_610)
    assert (v.scheme, v.secret_index) == ("standard-webhooks", 1)
    hmac_only = {"heroa-signature": headers["heroa-signature"]}
    assert webhooks.verify(hmac_only, body.decode(), new).scheme == "heroa-hmac-sha256"
    with pytest.raises(webhooks.WebhookVerificationError) as err:
        webhooks.verify(headers, body, new, now=1_767_225_600 + 301)
    assert err.value.reason == "expired"
    with pytest.raises(webhooks.WebhookVerificationError) as err:
        webhooks.verify({}, body, new)
    assert err.value.reason == "missing_header"
    with pytest.raises(webhooks.WebhookVerificationError) as err:
        webhooks.verify(headers, body, [])
    assert err.value.reason == "invalid_secret" and err.value.field == "secret"


# ----------------------------------------------------------------------- sse


def _sse_cases() -> List[Any]:
    return [
        pytest.param(json.loads(p.read_text(encoding="utf-8")), id=p.stem)
        for p in sorted((VECTORS / "sse").glob("*.json"))
    ]


SSE_CASES = _sse_cases()


def _sse_input(case: Dict[str, Any]) -> bytes:
    if "input_base64" in case:
        import base64

        return base64.b64decode(case["input_base64"])
    data: bytes = case["input"].encode("utf-8")
    return data


@pytest.mark.skipif(not SSE_CASES, reason="no sse vectors")
@pytest.mark.parametrize("case", SSE_CASES)
def test_sse_vectors(case: Dict[str, Any]) -> None:
    data = _sse_input(case)
    want = [(e["event"], e["data"], e["id"], e.get("retry")) for e in case["events"]]
    chunkings = [[data], [data[i : i + 1] for i in range(len(data))]]
    if len(data) <= 200:
        chunkings += [[data[:i], data[i:]] for i in range(1, len(data))]
    for chunks in chunkings:
        d = heroa.sse.Decoder()
        got = []
        for c in chunks:
            got.extend(tuple(e) for e in d.feed(c))
        d.finish()
        assert got == want
        assert d.last_event_id == case["last_event_id_after"]
        assert d.retry == case["retry_after"]
        if "comments" in case:
            assert d.comments == len(case["comments"])
    if "messages" in case:
        loop = heroa.sse.AgentLoop()
        msgs = []
        for i in range(0, len(data), 7):
            msgs.extend(loop.feed(data[i : i + 7]))
        msgs.extend(loop.finish())
        assert loop.is_done
        assert msgs == case["messages"]


def test_agent_loop_errors_are_typed() -> None:
    loop = heroa.sse.AgentLoop()
    with pytest.raises(heroa.AgentStreamError):
        loop.feed(b"event: message\ndata: {not json\n\n")
    with pytest.raises(heroa.AgentStreamError):
        heroa.sse.AgentLoop().finish()


AUDIT = _load("audit/chains.json")


@pytest.mark.parametrize("case", AUDIT["cases"], ids=[c["name"] for c in AUDIT["cases"]])
def test_audit_chain_vectors(case: Dict[str, Any]) -> None:
    got = heroa.verify_audit_chain({"run_id": AUDIT["run_id"], "events": case["events"]})
    assert got.valid is case["valid"], got
    if "broken_at" in case:
        assert got.broken_at == case["broken_at"], got


def test_a_record_read_from_a_run_verifies_and_carries_format_2(env: Any) -> None:
    agent = env.agent("auditor", "L3_autonomous", "permit(principal, action, resource);")
    run = env.client.agents.run(agent_id=agent.id, input={"calls": []})
    env.client.runs.wait(run.id, timeout=20)
    record = env.client.runs.audit(run.id)
    assert all(e.chain_version == 2 for e in record.events)
    assert heroa.verify_audit_chain(record).valid
    broken = record.to_dict()
    broken["events"][0]["data"] = {"tampered": True}
    v = heroa.verify_audit_chain(broken)
    assert (v.valid, v.broken_at) == (False, 0)
