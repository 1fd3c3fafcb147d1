"""Host code is told when its answer is no longer wanted (the bridge's host
callbacks): cancelling a run cancels an ``async def`` skill's task and turns a
plain skill's ``call.cancelled`` true, on both transports; a skill that ends
normally is never marked cancelled."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any, Dict

import heroa

from conftest import PERMIT_ALL, WAIT, Env


def _start(env: Env, skill: str) -> heroa.Run:
    agent = env.agent(f"runs-{skill.replace(':', '-')}", "L3_autonomous", PERMIT_ALL)
    return env.client.agents.run(
        agent_id=agent.id, input={"calls": [{"skill": skill, "args": {}}]}
    )


def test_cancelling_a_run_cancels_its_async_python_skill(env: Env) -> None:
    started = threading.Event()
    cancelled = threading.Event()

    @env.rt.skill("slow:async")
    async def slow(call: heroa.SkillCall) -> Dict[str, Any]:
        started.set()
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return {}

    run = _start(env, "slow:async")
    assert started.wait(WAIT)
    ended = env.client.runs.cancel(run.id)
    assert ended.status == "cancelled"
    assert cancelled.wait(WAIT), "the skill's task was not cancelled"


def test_cancelling_a_run_marks_a_plain_python_skill_cancelled(env: Env) -> None:
    started = threading.Event()
    saw: Dict[str, bool] = {}

    @env.rt.skill("slow:sync")
    def slow(call: heroa.SkillCall) -> Dict[str, Any]:
        assert not call.cancelled
        started.set()
        deadline = time.monotonic() + 60
        while not call.cancelled and time.monotonic() < deadline:
            time.sleep(0.005)
        saw["cancelled"] = call.cancelled
        return {}

    run = _start(env, "slow:sync")
    assert started.wait(WAIT)
    env.client.runs.cancel(run.id)
    for _ in range(2000):
        if "cancelled" in saw:
            break
        time.sleep(0.005)
    assert saw == {"cancelled": True}


def test_a_skill_that_finishes_is_not_cancelled(env: Env) -> None:
    seen: Dict[str, bool] = {}

    @env.rt.skill("quick:read")
    def quick(call: heroa.SkillCall) -> Dict[str, Any]:
        seen["cancelled"] = call.cancelled
        return {"ok": True}

    run = env.client.runs.wait(_start(env, "quick:read").id, timeout=WAIT)
    assert run.status == "complete"
    assert seen == {"cancelled": False}
