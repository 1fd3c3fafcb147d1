"""The behaviour suite of core/tests/behaviour.rs, from Python, on both transports
(the `env` fixture is parametrized: embedded client and heroa.Server on loopback)."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta
from decimal import Decimal

import pytest

import heroa
from conftest import PERMIT_ALL, SECRET, SEED_POLICY, WAIT, Env, outcomes


def test_seed_policy_permits_blocks_and_stops_at_half_a_dollar(env: Env) -> None:
    agent = env.agent("lead-research-v1", "L3_autonomous", SEED_POLICY)
    read = {"skill": "hubspot:contact:read", "args": {"id": 1}}
    run = env.run(
        agent,
        [read, read, read, {"skill": "slack:post", "args": {}}, {"skill": "hubspot:contact:enrich"}],
    )
    # 0.00 and 0.25 are under 0.50: two reads run; at 0.50 the third is blocked, as
    # are slack:post (not in the list) and enrich (cost reached 0.50).
    assert run.status == "partial"
    assert run.actions_executed == 2
    assert run.actions_blocked == 3
    assert run.cost_usd == Decimal("0.5"), "blocked calls are free"
    assert outcomes(run) == ["executed", "executed", "blocked", "blocked", "blocked"]
    assert run.output["results"][0]["output"] == {"read": {"id": 1}}

    audit = env.client.runs.audit(run.id)
    blocked = [e for e in audit.events if e.type == "action.blocked"]
    assert len(blocked) == 3
    assert blocked[1].data["skill"] == "slack:post"
    assert env.client.runs.verify_audit(run.id).valid

    # A run of only forbidden calls is `blocked` and costs nothing.
    run = env.run(agent, [{"skill": "slack:post"}])
    assert run.status == "blocked"
    assert run.cost_usd == 0.0


def test_no_policy_means_every_call_is_blocked(env: Env) -> None:
    agent = env.agent("nopolicy", "L3_autonomous")
    run = env.run(agent, [{"skill": "heroa:echo", "args": {}}])
    assert run.status == "blocked"
    ev = next(e for e in env.client.runs.audit(run.id).events if e.type == "action.blocked")
    assert "no policy envelope" in ev.data["reason"]
    assert env.run(agent, []).status == "complete"


def test_l0_shadow_executes_no_write_and_no_external_call(env: Env) -> None:
    agent = env.agent("shadow", "L0_shadow", PERMIT_ALL)
    run = env.run(
        agent,
        [{"skill": "heroa:echo", "args": {"a": 1}}, {"skill": "crm:write"}, {"skill": "web:fetch"}],
    )
    assert run.status == "complete"
    assert run.promotion == "L0_shadow"
    assert (run.actions_executed, run.actions_shadowed) == (1, 2)
    assert env.writes.value == 0, "L0 must not execute a write skill"
    assert run.cost_usd == 0.0
    shadowed = [e.data["skill"] for e in env.client.runs.audit(run.id).events if e.type == "skill.shadowed"]
    assert shadowed == ["crm:write", "web:fetch"]


def test_l1_notify_posts_to_the_inbox(env: Env) -> None:
    agent = env.agent("notify", "L1_notify", PERMIT_ALL)
    run = env.run(agent, [{"skill": "crm:write"}])
    assert run.status == "complete"
    assert env.writes.value == 1
    inbox = env.client.workspace.inbox().items
    assert len(inbox) == 1
    assert inbox[0].run_id == run.id


def _ts(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_l2_holds_a_write_until_approved(env: Env) -> None:
    agent = env.agent("approver", "L2_approve", PERMIT_ALL)
    run = env.client.agents.run(
        agent_id=agent.id,
        input={"calls": [{"skill": "heroa:echo"}, {"skill": "crm:write", "args": {"deal": 7}}]},
    )
    approval = env.pending_approval()
    assert approval.run_id == run.id
    assert approval.skill == "crm:write"
    assert approval.args == {"deal": 7}
    assert _ts(approval.expires_at) - _ts(approval.requested_at) == timedelta(hours=24)
    assert env.client.runs.get(run.id).status == "running"
    assert env.writes.value == 0, "held writes do not run"
    decided = env.client.approvals.approve(approval.id, by="ops@example.com")
    assert decided.status == "approved"
    done = env.client.runs.wait(run.id, timeout=WAIT)
    assert done.status == "complete"
    assert env.writes.value == 1
    with pytest.raises(heroa.ConflictError):
        env.client.approvals.deny(approval.id)
    kinds = [e.type for e in env.client.runs.audit(run.id).events]
    assert "approval.requested" in kinds and "approval.approved" in kinds


def test_l2_skips_a_write_on_deny(env: Env) -> None:
    agent = env.agent("denier", "L2_approve", PERMIT_ALL)
    run = env.client.agents.run(agent_id=agent.id, input={"calls": [{"skill": "crm:write"}]})
    approval = env.pending_approval()
    env.client.approvals.deny(approval.id, by="ops")
    done = env.client.runs.wait(run.id, timeout=WAIT)
    assert done.status == "partial"
    assert done.actions_skipped == 1
    assert done.cost_usd == 0.0
    assert env.writes.value == 0


def test_l2_skips_a_write_when_the_window_lapses(env: Env) -> None:
    agent = env.agent("lapser", "L2_approve", PERMIT_ALL)
    run = env.client.agents.run(agent_id=agent.id, input={"calls": [{"skill": "crm:write"}]})
    approval = env.pending_approval()
    env.rt.advance_clock(24 * 3600)
    done = env.client.runs.wait(run.id, timeout=WAIT)
    assert done.status == "partial"
    assert done.actions_skipped == 1
    assert env.writes.value == 0
    assert env.client.approvals.get(approval.id).status == "expired"
    with pytest.raises((heroa.ConflictError, heroa.FailedPreconditionError)):
        env.client.approvals.approve(approval.id)


def test_l4_needs_enterprise_and_soc2(env: Env) -> None:
    agent = env.agent("trusted", "L3_autonomous")
    with pytest.raises(heroa.TierLimitError) as err:
        env.client.agents.set_promotion(agent_id=agent.id, level="L4_trusted")
    assert err.value.field == "level"

    ws = env.rt.create_workspace("corp", tier="enterprise")
    corp = env.client_in(ws.id)
    a = corp.agents.register(name="trusted", region="eu-west")
    with pytest.raises(heroa.FailedPreconditionError) as err2:
        corp.agents.set_promotion(agent_id=a.id, level="L4_trusted")
    assert "SOC 2" in err2.value.message
    assert corp.workspace.accept_soc2().soc2_accepted_at is not None
    assert corp.agents.set_promotion(agent_id=a.id, level="L4_trusted").promotion == "L4_trusted"
    with pytest.raises(heroa.TierLimitError):
        env.client.workspace.accept_soc2()


def test_region_is_validated_and_immutable(env: Env) -> None:
    with pytest.raises(heroa.InvalidArgumentError) as err:
        env.client.agents.register(name="x", region="mars-north")
    assert err.value.field == "region"
    for r in heroa.REGIONS:
        assert r in err.value.message
    a = env.client.agents.register(name="x", region="bc-sovereign")
    with pytest.raises(heroa.FailedPreconditionError) as err2:
        env.client.agents.update(a.id, region="us-east")
    assert err2.value.field == "region"
    assert env.client.agents.get(a.id).region == "bc-sovereign"
    same = env.client.agents.update(a.id, region="bc-sovereign", description="d")
    assert same.description == "d"
    with pytest.raises(heroa.InvalidArgumentError) as err3:
        env.client.agents.register(name="y", region="us-east", runtime="r2")
    assert err3.value.field == "runtime"


def test_free_tier_limits(env: Env) -> None:
    ws = env.rt.create_workspace("hobby", tier="free")
    free = env.client_in(ws.id)
    a = free.agents.register(name="one", region="us-east")
    with pytest.raises(heroa.TierLimitError):
        free.agents.register(name="two", region="us-east")
    assert len(list(free.agents.list())) == 1
    with pytest.raises(heroa.TierLimitError) as err:
        free.vault.put(key="shared", value="v", scope="workspace")
    assert err.value.field == "scope"
    # Agent scope is fine on free; workspace scope is fine on team.
    free.vault.put(agent_id=a.id, key="k", value="v")
    e = env.client.vault.put(key="shared", value="v", scope="workspace")
    assert e.scope == "workspace"


def test_workspaces_are_isolated(env: Env) -> None:
    agent = env.agent("mine", "L3_autonomous", PERMIT_ALL)
    entry = env.client.vault.put(agent_id=agent.id, key="k", value="v")
    run = env.run(agent, [])
    policy = env.client.policies.list(agent_id=agent.id).items[0]

    ws = env.rt.create_workspace("other", tier="team")
    other = env.client_in(ws.id)
    for call in (
        lambda: other.agents.get(agent.id),
        lambda: other.runs.get(run.id),
        lambda: other.runs.audit(run.id),
        lambda: other.vault.get(entry.id),
        lambda: other.policies.get(policy.id),
        lambda: other.agents.run(agent_id=agent.id, input={}),
        lambda: other.agents.delete(agent.id),
    ):
        with pytest.raises(heroa.NotFoundError):
            call()
    assert list(other.agents.list()) == []
    assert list(other.runs.list()) == []
    assert list(other.vault.list()) == []
    other.agents.register(name="mine", region="us-east")
    assert env.client.agents.get(agent.id).id == agent.id


def test_vault_values_never_come_back(env: Env) -> None:
    agent = env.agent("vaulted", "L3_autonomous", PERMIT_ALL)
    entry = env.client.vault.put(agent_id=agent.id, key="api_token", value=SECRET, description="d")
    assert entry.version == 1
    assert entry.fingerprint == hashlib.sha256(SECRET.encode()).hexdigest()
    seen = [json.dumps(entry.to_dict()), repr(entry)]
    seen.append(json.dumps([e.to_dict() for e in env.client.vault.list()]))
    seen.append(json.dumps(env.client.vault.get(entry.id).to_dict()))
    rotated = env.client.vault.rotate(entry.id, SECRET + "-v2")
    assert rotated.version == 2
    assert rotated.fingerprint != entry.fingerprint
    rotated = env.client.vault.rotate(entry.id, SECRET)
    seen.append(json.dumps(rotated.to_dict()))

    run = env.run(agent, [{"skill": "leaky:echo-secret"}, {"skill": "leaky:fail-with-secret"}])
    assert run.actions_executed == 2
    out = json.dumps(run.to_dict())
    assert "[REDACTED]" in out
    r = run.output["results"]
    assert r[0]["output"]["token"] == "[REDACTED]"
    assert r[1]["outcome"] == "failed"
    assert r[1]["error"].startswith("RuntimeError: upstream rejected token [REDACTED]")
    seen.append(out)
    seen.append(json.dumps(env.client.runs.audit(run.id).to_dict()))
    seen.append(repr(env.client.runs.get(run.id)))
    for s in seen:
        assert SECRET not in s, f"secret leaked: {s}"
    env.client.vault.delete(entry.id)
    with pytest.raises(heroa.NotFoundError):
        env.client.vault.get(entry.id)
    run = env.run(agent, [{"skill": "leaky:echo-secret"}])
    r0 = run.output["results"][0]
    assert r0["outcome"] == "failed"
    assert "api_token" in r0["error"]


def test_invalid_cedar_is_rejected_with_positions_and_nothing_is_stored(env: Env) -> None:
    agent = env.agent("cedar", "L3_autonomous")
    bad = (
        "permit(principal, action, resource)\nwhen { context.run_cost_usd < 0.5 }\n"
        "forbid(principal, action, resource);"
    )
    with pytest.raises(heroa.InvalidArgumentError) as err:
        env.client.policies.create(agent_id=agent.id, document=bad)
    assert err.value.field == "document"
    diags = err.value.details["diagnostics"]
    assert diags and isinstance(diags[0]["line"], int) and isinstance(diags[0]["column"], int)
    assert list(env.client.policies.list(agent_id=agent.id)) == []
    with pytest.raises(heroa.InvalidArgumentError) as err2:
        env.client.policies.create(agent_id=agent.id, document="")
    assert err2.value.field == "document"
    p = env.client.policies.create(agent_id=agent.id, document=SEED_POLICY)
    assert p.document == SEED_POLICY
    assert 'decimal("0.50")' in p.cedar
    assert len(p.translations) == 3
    assert p.translations[0].rule == "set_membership"


def test_bad_ids_and_fields_are_named(env: Env) -> None:
    c = env.client
    cases = [
        (lambda: c.agents.get("nope"), "agent_id"),
        (lambda: c.runs.get("ag_01hzxk0000000000000000000a"), "run_id"),
        (lambda: c.vault.get("x"), "vault_id"),
        (lambda: c.policies.get("po_x"), "policy_id"),
        (lambda: c.approvals.get("apr_?"), "approval_id"),
        (lambda: c.agents.register(name="", region="us-east"), "name"),
        (lambda: c.agents.register(name="bad name", region="us-east"), "name"),
        (lambda: c.vault.put(agent_id="ag_01hzxk00000000000000000000", key="k", value=""), "value"),
        (lambda: c.approvals.list(status="maybe"), "status"),
        (lambda: c.agents.set_promotion("ag_01hzxk00000000000000000000", "L9_god"), "level"),
        # Python-side type mistakes are named too.
        (lambda: c.agents.register(name=123, region="us-east"), "name"),  # type: ignore[arg-type]
        (lambda: c.agents.update("ag_01hzxk00000000000000000000", max_steps="ten"), "max_steps"),  # type: ignore[arg-type]
        (lambda: c.agents.update("ag_01hzxk00000000000000000000", webhook={"url": "https://x"}), "webhook.signing_secret"),
    ]
    for call, field in cases:
        with pytest.raises(heroa.InvalidArgumentError) as err:
            call()
        assert err.value.field == field, repr(err.value)
        assert isinstance(err.value, ValueError)
    assert list(c.agents.list()) == []
    with pytest.raises(heroa.NotFoundError):
        c.agents.get("ag_01hzxk00000000000000000000")


def test_precheck_gives_the_runtimes_decision(env: Env) -> None:
    agent = env.agent("prechecked", "L3_autonomous", SEED_POLICY)
    engine = env.client.policies.precheck(agent.id)
    assert engine is not None

    def ask(skill: str, kind: str, cost: float) -> bool:
        return engine.check(skill, kind=kind, cost_usd=0.25, run_cost_usd=cost).allowed

    assert ask("hubspot:contact:read", "read", 0.0)
    assert ask("hubspot:contact:read", "read", 0.25)
    assert not ask("hubspot:contact:read", "read", 0.5)
    assert not ask("slack:post", "write", 0.0)
    # The bound skill table knows registered skills' kinds and costs.
    d = engine.check("hubspot:contact:read", run_cost_usd=0.25)
    assert d.allowed and d.reasons[0].policy_id.endswith("#0") and d.reasons[0].effect == "permit"
    assert "permitted by" in d.explain()
    d = engine.check("slack:post")
    assert not d.allowed and d.reasons == []
    assert 'no policy permits skill:invoke on Skill::"slack:post"' in d.explain()
    # The runtime agrees call by call.
    read = {"skill": "hubspot:contact:read"}
    run = env.run(agent, [read, read, read, {"skill": "slack:post"}])
    assert outcomes(run) == ["executed", "executed", "blocked", "blocked"]
    none = env.agent("unset", "L0_shadow")
    assert env.client.policies.precheck(none.id) is None


def test_python_skill_exceptions_fail_only_their_call(env: Env) -> None:
    agent = env.agent("robust", "L3_autonomous", PERMIT_ALL)
    run = env.run(
        agent,
        [
            {"skill": "boom:sync"},
            {"skill": "boom:async"},
            {"skill": "bad:output"},
            {"skill": "no:such-skill"},
            {"skill": "heroa:echo", "args": {"ok": 1}},
        ],
    )
    assert run.status == "complete"
    r = run.output["results"]
    assert [x["outcome"] for x in r] == ["failed", "failed", "failed", "failed", "executed"]
    assert r[0]["error"] == "ValueError: sync skill bug"
    assert r[1]["error"] == "KeyError: 'async skill bug'"
    assert "not JSON serializable" in r[2]["error"]
    assert "unknown skill" in r[3]["error"]
    assert r[4]["output"] == {"ok": 1}
    failed = [e for e in env.client.runs.audit(run.id).events if e.type == "skill.failed"]
    assert failed[0].data["error"] == "ValueError: sync skill bug"
    assert failed[1].data["skill"] == "boom:async"
    # A malformed input fails the run with a clear error, and it is audited.
    bad = env.client.agents.run(agent_id=agent.id, input={"calls": "nope"})
    bad = env.client.runs.wait(bad.id, timeout=WAIT)
    assert bad.status == "failed"
    assert "input.calls" in (bad.error or "")
    assert env.client.runs.verify_audit(bad.id).valid


def test_wait_times_out_and_cancel_ends_a_run(env: Env) -> None:
    agent = env.agent("slow", "L3_autonomous", PERMIT_ALL)
    run = env.client.agents.run(
        agent_id=agent.id, input={"calls": [{"skill": "heroa:sleep", "args": {"ms": 30000}}]}
    )
    with pytest.raises(heroa.TimeoutError) as err:
        env.client.runs.wait(run.id, timeout=0.2)
    assert isinstance(err.value, TimeoutError)  # the built-in, too
    cancelled = env.client.runs.cancel(run.id)
    assert cancelled.status == "cancelled"
    assert env.client.runs.cancel(run.id).status == "cancelled"
    assert env.client.runs.audit(run.id).events[-1].data["status"] == "cancelled"
    assert env.client.runs.verify_audit(run.id).valid


def test_agents_crud_and_policy_versions(env: Env) -> None:
    a = env.client.agents.register(name="crud", region="asia-pacific")
    assert a.id.startswith("ag_")
    assert (a.runtime, a.promotion, a.template) == ("r1", "L0_shadow", "sequence")
    with pytest.raises(heroa.ConflictError):
        env.client.agents.register(name="crud", region="us-east")
    with pytest.raises(heroa.HeroaError) as err:
        env.client.agents.update(a.id, template="nope")
    assert err.value.field == "template"
    p1 = env.client.policies.create(agent_id=a.id, document=PERMIT_ALL)
    p2 = env.client.policies.create(agent_id=a.id, document=SEED_POLICY)
    assert (p1.version, p2.version) == (1, 2)
    env.client.agents.set_promotion(agent_id=a.id, level="L3_autonomous")
    run = env.run(a, [{"skill": "heroa:echo"}])
    assert run.status == "blocked"
    assert len(list(env.client.runs.list(agent_id=a.id))) == 1
    assert [x.id for x in env.client.agents.list()] == [a.id]
    env.client.agents.delete(a.id)
    with pytest.raises(heroa.NotFoundError):
        env.client.agents.get(a.id)
    assert env.client.runs.verify_audit(run.id).valid


def test_python_templates_sync_and_async(env: Env) -> None:
    seen = {}

    @env.rt.template("py-sync")
    def sync_loop(ctx: heroa.TemplateContext) -> object:
        seen["sync_run"] = ctx.run_id
        first = ctx.call("hubspot:contact:read", {"n": ctx.input["n"]})
        second = ctx.call("slack:post")
        return {"first": first, "second": second, "spent": ctx.cost_usd}

    @env.rt.template("py-async")
    async def async_loop(ctx: heroa.AsyncTemplateContext) -> object:
        out = await ctx.call("hubspot:contact:read", {"n": 2})
        return {"out": out, "agent": ctx.agent_id}

    @env.rt.template("py-broken")
    def broken(ctx: heroa.TemplateContext) -> object:
        raise RuntimeError("template bug")

    names = [t.name for t in env.client.workspace.templates()]
    assert {"py-sync", "py-async", "py-broken"} <= set(names)

    a = env.client.agents.register(name="templated", region="eu-west", template="py-sync")
    env.client.policies.create(agent_id=a.id, document=SEED_POLICY)
    env.client.agents.set_promotion(a.id, "L3_autonomous")
    run = env.client.runs.wait(env.client.agents.run(a.id, {"n": 1}).id, timeout=WAIT)
    assert run.status == "partial", run
    assert run.output["first"] == {"outcome": "executed", "output": {"read": {"n": 1}}}
    assert run.output["second"]["outcome"] == "blocked"
    assert run.output["spent"] == "0.25"
    assert seen["sync_run"] == run.id

    env.client.agents.update(a.id, template="py-async")
    run = env.client.runs.wait(env.client.agents.run(a.id).id, timeout=WAIT)
    assert run.status == "complete"
    assert run.output == {"out": {"outcome": "executed", "output": {"read": {"n": 2}}}, "agent": a.id}

    env.client.agents.update(a.id, template="py-broken")
    run = env.client.runs.wait(env.client.agents.run(a.id).id, timeout=WAIT)
    assert run.status == "failed"
    assert "RuntimeError: template bug" in (run.error or "")


def test_registered_skills_are_listed(env: Env) -> None:
    skills = {s.name: s for s in env.client.workspace.skills()}
    assert skills["hubspot:contact:read"].cost_usd == 0.25
    assert skills["web:fetch"].external is True
    assert skills["crm:write"].kind == "write"
    assert "heroa:echo" in skills


def test_run_event_stream(env: Env) -> None:
    agent = env.agent("streamer", "L3_autonomous", PERMIT_ALL)
    run = env.client.agents.run(agent_id=agent.id, input={"calls": [{"skill": "heroa:echo", "args": {"x": 1}}]})
    events = list(env.client.runs.stream(run.id))
    kinds = [e.event for e in events]
    assert kinds[0] == "run.queued" and kinds[-1] == "done"
    assert "skill.executed" in kinds
    assert events[-1].is_done and events[-1].data == "[DONE]"
    assert [e.id for e in events[:-1]] == list(range(len(events) - 1))
    # Resume after an event: exactly the ones after it.
    again = list(env.client.runs.stream(run.id, last_event_id=events[1].id))
    assert [e.id for e in again] == [e.id for e in events[2:]]

    stream = env.client.runs.stream(run.id, last_event_id=events[-2].id)
    assert [e.event for e in stream] == ["done"]
    assert stream.last_event_id == events[-2].id
    with pytest.raises(heroa.NotFoundError):
        next(iter(env.client.runs.stream("run_01hzxk00000000000000000000")))
