"""heroa.deploy (the deploy guide): the example deploying a generated API, sub-agents running
a batch through a Python skill on both transports, bad input, extend and delete."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
from typing import Any

import pytest
from conftest import REPO, WAIT, Env

import heroa


def test_deploy_example_runs() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEROA_")}
    out = subprocess.run(
        [sys.executable, str(REPO / "examples" / "python" / "deploy.py")],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert re.fullmatch(r"https://[a-z0-9]+\.[\w.-]+(:\d+)?", lines[0]), out.stdout
    assert lines[1].startswith("HTTP/1.") and " 200 " in lines[1], out.stdout
    assert '"service": "generated-api"' in lines[1]


def register_embed(env: Env) -> None:
    @env.rt.skill("embed", kind="read")
    def embed(call: heroa.SkillCall) -> Any:
        text = call.args["item"]
        return {"index": call.args["index"], "vector": [len(text), text.count("a")]}


DOCS = ["alpha", "beta", "gamma", "delta", "epsilon"]


def test_sub_agent_runs_a_batch(env: Env) -> None:
    register_embed(env)
    client = env.client
    worker = client.deploy(mode="agent", template="batch-processor", region="us-east", ttl="30m")
    assert isinstance(worker, heroa.Deployment)
    assert worker.mode == "agent" and worker["mode"] == "agent"
    assert worker.handle and worker.handle.startswith("ag_")
    assert worker.region == "us-east" and worker.template == "batch-processor"
    assert worker.expires_at is not None and worker.url is None
    assert isinstance(worker.policy, heroa.DeployPolicy)

    run = client.agents.run(agent_id=worker.handle, input={"items": DOCS, "task": "embed"})
    done = client.runs.wait(run.id, timeout=WAIT)
    assert done.status == "complete", done.to_dict()
    text = str(done.output)
    for i, d in enumerate(DOCS):
        assert f"'index': {i}, 'vector': [{len(d)}, {d.count('a')}]" in text, text

    assert [d.id for d in client.deployments.list()] == [worker.id]
    assert client.deployments.get(worker.id).id == worker.id


def test_async_client_deploys(env: Env) -> None:
    register_embed(env)

    async def go() -> None:
        client = env.async_client_in(None)
        worker = await client.deploy(mode="agent", template="batch-processor", ttl="30m")
        run = await client.agents.run(agent_id=worker.handle or "", input={"items": DOCS, "task": "embed"})
        done = await client.runs.wait(run.id, timeout=WAIT)
        assert done.status == "complete", done.to_dict()
        assert [d.id async for d in client.deployments.list()] == [worker.id]
        longer = await client.deployments.extend(worker.id, "persistent")
        assert longer.expires_at is None and longer.ttl == "persistent"
        assert (await client.deployments.get(worker.id)).ttl == "persistent"
        gone = await client.deployments.delete(worker.id)
        assert gone.status == "stopped"

    asyncio.run(go())


def test_bad_deploy_input(env: Env) -> None:
    with pytest.raises(heroa.InvalidArgumentError) as e:
        env.client.deploy(mode="lambda", region="us-east")  # type: ignore[arg-type]
    assert e.value.field == "mode"
    with pytest.raises(heroa.InvalidArgumentError) as e:
        env.client.deploy(mode="app", template="batch-processor", source="ghcr.io/x/y:1")
    assert e.value.field == "template"
    with pytest.raises(heroa.InvalidArgumentError) as e:
        env.client.deploy(mode="agent", template="batch-processor", ttl="forever")
    assert e.value.field == "ttl"
    with pytest.raises(heroa.NotFoundError):
        env.client.deployments.get("dep_" + "a" * 26)


def test_extend_and_delete(env: Env) -> None:
    register_embed(env)
    client = env.client
    worker = client.deploy(mode="agent", template="batch-processor", ttl="15m")
    assert worker.status == "running" and worker.ttl == "15m"
    longer = client.deployments.extend(worker.id, "24h")
    assert longer.ttl == "24h" and longer.expires_at is not None
    assert worker.expires_at is not None and longer.expires_at > worker.expires_at
    gone = client.deployments.delete(worker.id)
    assert gone.id == worker.id and gone.status == "stopped"
    assert client.deployments.get(worker.id).status == "stopped"
    with pytest.raises(heroa.FailedPreconditionError):
        client.agents.run(agent_id=worker.handle or "", input={"items": DOCS, "task": "embed"})


def test_module_level_deploy_uses_a_lazy_default_client(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HEROA_BASE_URL", raising=False)
    monkeypatch.delenv("HEROA_DATA", raising=False)
    monkeypatch.setattr(heroa, "_default", None)
    worker = heroa.deploy(mode="agent", template="noop", ttl="15m")
    client = heroa.default_client()
    assert client is heroa.default_client() and not client.is_remote
    assert client.deployments.get(worker.id).handle == worker.handle


def test_gateway_ca_and_address() -> None:
    rt = heroa.Runtime()
    pem = rt.gateway_ca_pem()
    assert pem.startswith("-----BEGIN CERTIFICATE-----")
    host, port = rt.gateway_address()
    assert host in ("127.0.0.1", "::1") and 0 < port < 65536
