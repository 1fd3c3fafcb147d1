"""Fixtures: every behaviour scenario runs against the embedded client and against
`heroa.Server` on 127.0.0.1 (a remote client over HTTP), like core/tests/behaviour.rs.
"""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path
from typing import Any, Iterator, List, Optional

import pytest

import heroa

SEED_POLICY = """
    permit(principal, action == Action::"skill:invoke", resource)
    when {
      resource.name in ["hubspot:contact:read", "hubspot:contact:enrich"]
      && context.run_cost_usd < 0.50
    };
"""
PERMIT_ALL = "permit(principal, action, resource);"
SECRET = "sk-live-SUPERSECRET-0123456789"
WAIT = 20.0
REPO = Path(__file__).resolve().parents[2]
VECTORS = REPO / "tests" / "vectors"


class Counter:
    def __init__(self) -> None:
        self._n = 0
        self._lock = threading.Lock()

    def add(self) -> None:
        with self._lock:
            self._n += 1

    @property
    def value(self) -> int:
        with self._lock:
            return self._n


def register_skills(rt: heroa.Runtime, writes: Counter) -> None:
    """The skills of the Rust behaviour suite, as Python host code (sync and async)."""

    @rt.skill("hubspot:contact:read", kind="read", cost_usd=0.25)
    def read(call: heroa.SkillCall) -> Any:
        return {"read": call.args}

    @rt.skill("hubspot:contact:enrich", kind="write", cost_usd=0.05)
    async def enrich(call: heroa.SkillCall) -> Any:
        await asyncio.sleep(0)
        return {"enriched": True}

    @rt.skill("slack:post", kind="write")
    def post(call: heroa.SkillCall) -> Any:
        return {"ok": True}

    @rt.skill("web:fetch", kind="read", external=True)
    async def fetch(call: heroa.SkillCall) -> Any:
        return {"status": 200}

    @rt.skill("crm:write", kind="write", cost_usd=0.10)
    def crm_write(call: heroa.SkillCall) -> Any:
        writes.add()
        return {"written": True}

    @rt.skill("leaky:echo-secret")
    def echo_secret(call: heroa.SkillCall) -> Any:
        s = call.secret("api_token")
        return {"token": s, "note": f"token={s}"}

    @rt.skill("leaky:fail-with-secret")
    async def fail_with_secret(call: heroa.SkillCall) -> Any:
        s = call.secret("api_token")
        raise RuntimeError(f"upstream rejected token {s}")

    @rt.skill("boom:sync")
    def boom(call: heroa.SkillCall) -> Any:
        raise ValueError("sync skill bug")

    @rt.skill("boom:async")
    async def aboom(call: heroa.SkillCall) -> Any:
        await asyncio.sleep(0)
        raise KeyError("async skill bug")

    @rt.skill("bad:output")
    def bad_output(call: heroa.SkillCall) -> Any:
        return {"not json": object()}


class Env:
    """One scenario's world: a runtime with a manual clock, the Python skills, and a
    client over the transport under test."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.rt = heroa.Runtime(clock_ms=1_780_000_000_000)
        self.writes = Counter()
        register_skills(self.rt, self.writes)
        self.servers: List[heroa.Server] = []
        self.client = self.client_in(None)

    def client_in(self, workspace: Optional[str]) -> heroa.Client:
        if self.kind == "embedded":
            return self.rt.client(workspace)
        server = heroa.Server(self.rt)
        self.servers.append(server)
        return server.client(workspace)

    def async_client_in(self, workspace: Optional[str]) -> heroa.AsyncClient:
        if self.kind == "embedded":
            return self.rt.async_client(workspace)
        server = heroa.Server(self.rt)
        self.servers.append(server)
        return server.async_client(workspace)

    def agent(self, name: str, level: str, policy: Optional[str] = None) -> heroa.Agent:
        a = self.client.agents.register(name=name, region="us-east")
        if policy is not None:
            self.client.policies.create(agent_id=a.id, document=policy)
        return self.client.agents.set_promotion(agent_id=a.id, level=level)

    def run(self, agent: heroa.Agent, calls: Any) -> heroa.Run:
        run = self.client.agents.run(agent_id=agent.id, input={"calls": calls})
        return self.client.runs.wait(run.id, timeout=WAIT)

    def pending_approval(self) -> heroa.Approval:
        for _ in range(400):
            items = self.client.approvals.list(status="pending").items
            if items:
                return items[0]
            time.sleep(0.01)
        raise AssertionError("no approval was requested")

    def close(self) -> None:
        for s in self.servers:
            s.close()


@pytest.fixture(params=["embedded", "remote"])
def env(request: pytest.FixtureRequest) -> Iterator[Env]:
    e = Env(request.param)
    try:
        yield e
    finally:
        e.close()


def outcomes(run: heroa.Run) -> List[str]:
    return [r["outcome"] for r in run.output["results"]]
