"""Lists answer pages that iterate lazily; money is exact (decimal strings on the
wire, :class:`decimal.Decimal` here) — on the embedded client and over HTTP."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any, List

import pytest

import heroa
from conftest import PERMIT_ALL, WAIT, Env


def test_lists_page_lazily_with_limit_and_cursor(env: Env) -> None:
    ids = [env.client.agents.register(name=f"p{i}", region="us-east").id for i in range(5)]

    first = env.client.agents.list(limit=2)
    assert isinstance(first, heroa.SyncPage)
    assert [a.id for a in first.items] == ids[:2]
    assert first.has_next_page() and first.next_cursor is not None
    # Iterating the first page walks every page after it, oldest first.
    assert [a.id for a in first] == ids
    assert [len(p.items) for p in first.iter_pages()] == [2, 2, 1]
    last = first.next_page().next_page()
    assert not last.has_next_page() and last.next_cursor is None
    with pytest.raises(StopIteration):
        last.next_page()
    # A cursor resumes after it; the default page holds them all.
    resumed = env.client.agents.list(limit=2, cursor=first.next_cursor)
    assert [a.id for a in resumed.items] == ids[2:4]
    assert [a.id for a in env.client.agents.list().items] == ids

    for bad, field in [({"limit": 0}, "limit"), ({"limit": 1001}, "limit"), ({"cursor": "x"}, "cursor")]:
        with pytest.raises(heroa.InvalidArgumentError) as err:
            env.client.agents.list(**bad)
        assert err.value.field == field, bad


def test_async_lists_await_a_page_or_iterate_every_item(env: Env) -> None:
    ids = [env.client.agents.register(name=f"q{i}", region="us-east").id for i in range(3)]

    async def main() -> None:
        c = env.async_client_in(None)
        page = await c.agents.list(limit=2)
        assert isinstance(page, heroa.AsyncPage)
        assert [a.id for a in page.items] == ids[:2]
        assert [a.id for a in (await page.next_page()).items] == ids[2:]
        assert [a.id async for a in c.agents.list(limit=1)] == ids
        assert [a.id async for a in page] == ids

    asyncio.run(main())


def test_the_audit_record_comes_whole_across_pages(env: Env) -> None:
    agent = env.client.agents.register(name="audited", region="us-east")
    env.client.policies.create(agent_id=agent.id, document=PERMIT_ALL)
    env.client.agents.set_promotion(agent.id, "L3_autonomous")
    calls: List[Any] = [{"skill": "hubspot:contact:read"}] * 30
    run = env.run(agent, calls)
    record = env.client.runs.audit(run.id)
    assert len(record.events) > 30
    assert [e.seq for e in record.events] == list(range(len(record.events)))
    assert env.client.runs.verify_audit(run.id).valid
    # Page by page, the same events; every page carries the whole chain's head.
    seqs: List[int] = []
    cursor = None
    while True:
        page = env.client.runs.audit_page(run.id, limit=7, cursor=cursor)
        assert len(page.events) <= 7 and page.head_hash == record.head_hash
        seqs += [e.seq for e in page.events]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert seqs == [e.seq for e in record.events]


def test_money_is_exact_decimal(env: Env) -> None:
    # Three calls at $0.1 are $0.3 exactly (binary floats would give 0.30000000000000004).
    @env.rt.skill("dime:read", kind="read", cost_usd=Decimal("0.1"))
    def dime(call: heroa.SkillCall) -> Any:
        return {}

    @env.rt.skill("float:read", kind="read", cost_usd=0.1)
    def from_float(call: heroa.SkillCall) -> Any:
        return {}

    agent = env.client.agents.register(name="spender", region="us-east")
    env.client.policies.create(agent_id=agent.id, document=PERMIT_ALL)
    env.client.agents.set_promotion(agent.id, "L3_autonomous")
    run = env.run(agent, [{"skill": "dime:read"}, {"skill": "dime:read"}, {"skill": "float:read"}])
    assert run.status == "complete", run
    assert isinstance(run.cost_usd, Decimal) and run.cost_usd == Decimal("0.3")
    assert run.to_dict()["cost_usd"] == "0.3"
    skills = {s.name: s for s in env.client.workspace.skills()}
    assert skills["float:read"].cost_usd == Decimal("0.1")

    for bad in ["-1", "0.0000001", "1e3", "abc"]:
        with pytest.raises(heroa.InvalidArgumentError) as err:
            env.rt.register_skill("bad:read", "read", bad, handler=lambda call: {})
        assert err.value.field == "cost_usd", bad
    with pytest.raises(ValueError):
        env.rt.register_skill("bad:read", "read", float("nan"), handler=lambda call: {})

    # Model prices: a float, a Decimal or a string all travel as the same exact text.
    configured = env.client.agents.register(
        name="priced",
        region="us-east",
        llm_configs=[{"provider": "offline", "model": "m", "turns": [{"content": "hi"}],
                      "prompt_usd_per_1k": 0.0025, "completion_usd_per_1k": Decimal("0.01")}],
    )
    cfg = configured.llm_configs[0]
    assert (cfg["prompt_usd_per_1k"], cfg["completion_usd_per_1k"]) == ("0.0025", "0.01")
    with pytest.raises(heroa.InvalidArgumentError) as err:
        env.client.agents.register(
            name="mispriced", region="us-east",
            llm_configs=[{"provider": "offline", "model": "m", "prompt_usd_per_1k": "-1"}],
        )
    assert err.value.field == "llm_configs[0].prompt_usd_per_1k"
    assert WAIT > 0
