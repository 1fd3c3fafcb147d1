"""heroa.AsyncClient: awaitables and async iterators driven by the core's runtime."""

from __future__ import annotations

import asyncio
import time
from typing import Any, List

import pytest

import heroa
from conftest import PERMIT_ALL, SEED_POLICY, Env


def test_async_onboarding_flow(env: Env) -> None:
    async def main() -> None:
        c = env.async_client_in(None)
        agent = await c.agents.register(name="async-agent", region="us-east", description="d")
        assert agent.id.startswith("ag_")
        assert (await c.agents.get(agent.id)).description == "d"
        entry = await c.vault.put(agent_id=agent.id, key="api_token", value="s3cret-value")
        assert entry.version == 1
        policy = await c.policies.create(agent_id=agent.id, document=SEED_POLICY)
        assert policy.version == 1
        await c.agents.set_promotion(agent_id=agent.id, level="L3_autonomous")
        run = await c.agents.run(
            agent_id=agent.id,
            input={"calls": [{"skill": "hubspot:contact:read"}, {"skill": "slack:post"}]},
        )
        done = await c.runs.wait(run.id, timeout=20)
        assert done.status == "partial"
        assert done.cost_usd == 0.25
        assert (await c.runs.verify_audit(run.id)).valid
        engine = await c.policies.precheck(agent.id)
        assert engine is not None and engine.check("hubspot:contact:read").allowed
        assert [a.id async for a in c.agents.list()] == [agent.id]
        assert len((await c.runs.list(agent_id=agent.id)).items) == 1
        assert (await c.workspace.get()).tier == "team"
        with pytest.raises(heroa.InvalidArgumentError) as err:
            await c.agents.register(name="x", region="mars")
        assert err.value.field == "region"
        with pytest.raises(heroa.NotFoundError):
            await c.runs.get("run_01hzxk00000000000000000000")

    asyncio.run(main())


def test_async_calls_run_concurrently_and_do_not_block_the_loop(env: Env) -> None:
    agent = env.agent("concurrent", "L3_autonomous", PERMIT_ALL)

    async def main() -> None:
        c = env.async_client_in(None)
        runs = [
            await c.agents.run(agent_id=agent.id, input={"calls": [{"skill": "heroa:sleep", "args": {"ms": 500}}]})
            for _ in range(4)
        ]
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0.005)

        t = asyncio.ensure_future(ticker())
        started = time.monotonic()
        done = await asyncio.gather(*(c.runs.wait(r.id, timeout=20) for r in runs))
        elapsed = time.monotonic() - started
        t.cancel()
        assert [d.status for d in done] == ["complete"] * 4
        assert elapsed < 1.6, f"waits overlapped ({elapsed:.2f}s; 2 s if serial)"
        assert ticks > 20, "the event loop kept running"

    asyncio.run(main())


def test_cancelling_an_async_wait(env: Env) -> None:
    agent = env.agent("slow", "L3_autonomous", PERMIT_ALL)

    async def main() -> None:
        c = env.async_client_in(None)
        run = await c.agents.run(agent_id=agent.id, input={"calls": [{"skill": "heroa:sleep", "args": {"ms": 30000}}]})
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(c.runs.wait(run.id, timeout=30), 0.2)
        with pytest.raises(heroa.TimeoutError):
            await c.runs.wait(run.id, timeout=0.1)
        assert (await c.runs.cancel(run.id)).status == "cancelled"

    asyncio.run(main())


def test_async_stream(env: Env) -> None:
    agent = env.agent("astream", "L3_autonomous", PERMIT_ALL)

    async def main() -> List[str]:
        c = env.async_client_in(None)
        run = await c.agents.run(agent_id=agent.id, input={"calls": [{"skill": "heroa:echo", "args": {}}]})
        return [e.event async for e in c.runs.stream(run.id)]

    kinds = asyncio.run(main())
    assert kinds[0] == "run.queued" and kinds[-1] == "done" and "skill.executed" in kinds


def test_async_skills_run_concurrently(env: Env) -> None:
    """`async def` skills share the handler loop: awaiting in one lets others run."""
    active = 0
    peak = 0

    @env.rt.skill("slow:async")
    async def slow(call: heroa.SkillCall) -> Any:
        nonlocal active, peak
        active += 1
        peak = max(peak, active)
        await asyncio.sleep(0.4)
        active -= 1
        return call.args

    agent = env.agent("fan", "L3_autonomous", PERMIT_ALL)
    runs = [env.client.agents.run(agent_id=agent.id, input={"calls": [{"skill": "slow:async", "args": {"i": i}}]}) for i in range(4)]
    started = time.monotonic()
    done = [env.client.runs.wait(r.id, timeout=20) for r in runs]
    assert [d.status for d in done] == ["complete"] * 4
    assert peak >= 2
    assert time.monotonic() - started < 1.3  # 1.6 s if serial


def test_secret_is_readable_only_during_the_skill(env: Env) -> None:
    kept: List[heroa.SkillCall] = []

    @env.rt.skill("keeper")
    def keeper(call: heroa.SkillCall) -> Any:
        kept.append(call)
        return {"len": len(call.secret("api_token"))}

    agent = env.agent("keeper", "L3_autonomous", PERMIT_ALL)
    env.client.vault.put(agent_id=agent.id, key="api_token", value="0123456789")
    run = env.run(agent, [{"skill": "keeper"}])
    assert run.output["results"][0]["output"] == {"len": 10}
    with pytest.raises(heroa.FailedPreconditionError):
        kept[0].secret("api_token")


def test_skills_can_call_the_client(env: Env) -> None:
    """Host code may use a client itself (sync skills from the blocking pool, async
    skills from the handler loop) without deadlocking on the GIL or the runtime."""
    c = env.client
    ac = env.async_client_in(None)

    @env.rt.skill("nested:sync")
    def nested_sync(call: heroa.SkillCall) -> Any:
        return {"name": c.agents.get(call.agent_id).name}

    @env.rt.skill("nested:async")
    async def nested_async(call: heroa.SkillCall) -> Any:
        return {"name": (await ac.agents.get(call.agent_id)).name}

    agent = env.agent("nested", "L3_autonomous", PERMIT_ALL)
    runs = [
        c.agents.run(agent_id=agent.id, input={"calls": [{"skill": "nested:sync"}, {"skill": "nested:async"}]})
        for _ in range(8)
    ]
    for r in runs:
        done = c.runs.wait(r.id, timeout=30)
        assert done.status == "complete", done
        assert [x["output"] for x in done.output["results"]] == [{"name": "nested"}] * 2
