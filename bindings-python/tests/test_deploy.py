"""heroa.deploy (the deploy guide): the example deploying a generated API, sub-agents running
a batch through a Python skill on both transports (through `agents.run` and through the
handle's `worker.run`, sync and async), bad input, extend and delete, a service's handle
refusing `run`, and a deployment built from data (not bound to a client)."""

from __future__ import annotations

import asyncio
import copy
import os
import pickle
import re
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, List

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
BATCH = {"items": DOCS, "task": "embed"}


def assert_embedded(run: heroa.Run, handle: str) -> None:
    """A complete batch run of the sub-agent ``handle`` whose output holds every
    document's vector, in order."""
    assert isinstance(run, heroa.Run)
    assert run.status == "complete", run.to_dict()
    assert run.done and run.agent_id == handle and run.input == BATCH
    out = run.output
    assert out["task"] == "embed" and out["count"] == len(DOCS) and out["executed"] == len(DOCS)
    assert [r["outcome"] for r in out["results"]] == ["executed"] * len(DOCS)
    assert [r["output"] for r in out["results"]] == [
        {"index": i, "vector": [len(d), d.count("a")]} for i, d in enumerate(DOCS)
    ]


#: Input that keeps a batch-processor run busy for 30 s (the built-in `heroa:sleep`).
SLOW = {"items": [0], "task": "heroa:sleep", "args": {"ms": 30000}}

SERVER = """\
import os
from http.server import BaseHTTPRequestHandler, HTTPServer

class Ok(BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("content-length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass

HTTPServer(("127.0.0.1", int(os.environ["PORT"])), Ok).serve_forever()
"""


def service_source(tmp_path: Path) -> Dict[str, Any]:
    """A local service: a directory with an HTTP server on 127.0.0.1:$PORT."""
    (tmp_path / "server.py").write_text(SERVER)
    return {"path": str(tmp_path), "command": [sys.executable, "server.py"]}


MODE_REFUSED = 'only a sub-agent (mode "agent") can be run; this deployment\'s mode is "service"'


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


def test_sub_agent_runs_through_its_handle(env: Env) -> None:
    """The deploy guide's `worker.run({input})` on the sync client (blocking)."""
    register_embed(env)
    client = env.client
    worker = client.deploy(mode="agent", template="batch-processor", region="us-east", ttl="30m")
    assert type(worker) is heroa.Deployment and isinstance(worker, heroa.DeploymentData)
    handle = worker.handle or ""

    assert_embedded(worker.run(input=BATCH, timeout=WAIT), handle)
    assert_embedded(worker.run(BATCH), handle)  # input positionally, the default wait

    # wait=False: the run just started, not waited for.
    started = worker.run(input=BATCH, wait=False)
    assert started.status in ("queued", "running") and not started.done
    assert started.agent_id == handle
    assert_embedded(client.runs.wait(started.id, timeout=WAIT), handle)

    # No input is an empty object (as in every binding); noop-like templates see it.
    empty = worker.run(wait=False)
    assert empty.input == {}

    # The handle's client, not its data: to_dict, ==, [] and repr show the wire JSON only.
    data = worker.to_dict()
    assert set(worker) == set(data) and len(worker) == len(data)
    assert not any(k.startswith("_") for k in data)
    unbound = heroa.Deployment.from_dict(data)
    assert worker == unbound and unbound == worker and worker == data
    assert repr(worker) == repr(unbound) and "Deployments" not in repr(worker)
    # Copies stay bound; a pickle carries the data only.
    assert_embedded(copy.deepcopy(worker).run(input=BATCH, timeout=WAIT), handle)
    assert copy.copy(worker) == worker
    pickled = pickle.loads(pickle.dumps(worker))
    assert pickled == worker
    with pytest.raises(heroa.FailedPreconditionError, match="not bound to a client"):
        pickled.run(input=BATCH)

    # get / list / extend answer bound handles too.
    fetched = client.deployments.get(worker.id)
    assert type(fetched) is heroa.Deployment and fetched == client.deployments.get(worker.id)
    assert_embedded(fetched.run(input=BATCH, timeout=WAIT), handle)
    listed = client.deployments.list().items
    assert [d.id for d in listed] == [worker.id]
    assert_embedded(listed[0].run(input=BATCH, timeout=WAIT), handle)
    longer = worker.extend("24h")
    assert type(longer) is heroa.Deployment and longer.id == worker.id
    assert longer.ttl == "24h" and client.deployments.get(worker.id).ttl == "24h"
    assert_embedded(longer.run(input=BATCH, timeout=WAIT), handle)
    runs = client.runs.list(agent_id=handle).items
    assert len(runs) == 8 and all(r.agent_id == handle for r in runs)

    # delete(): the last state, and the handle then refuses runs (the core's answer).
    gone = client.deployments.extend(worker.id, "1h").delete()
    assert type(gone) is heroa.Deployment and gone.id == worker.id and gone.status == "stopped"
    with pytest.raises(heroa.FailedPreconditionError) as e:
        worker.run(input=BATCH)
    assert "stopped" in e.value.message


def test_handle_run_times_out_like_runs_wait(env: Env) -> None:
    """`timeout` is `runs.wait`'s: seconds, heroa.TimeoutError after it (the run goes
    on); a bad timeout is refused before any run starts."""
    client = env.client
    worker = client.deploy(mode="agent", template="batch-processor", ttl="30m")
    handle = worker.handle or ""
    with pytest.raises(heroa.InvalidArgumentError) as bad:
        worker.run(input=SLOW, timeout=-1)
    assert bad.value.field == "timeout"
    assert client.runs.list(agent_id=handle).items == []
    with pytest.raises(heroa.TimeoutError) as late:
        worker.run(input=SLOW, timeout=0.2)
    assert isinstance(late.value, TimeoutError)
    [slow] = client.runs.list(agent_id=handle).items
    assert slow.status in ("queued", "running") and slow.id in late.value.message
    assert client.runs.cancel(slow.id).status == "cancelled"


def test_async_sub_agent_runs_through_its_handle(env: Env, tmp_path: Path) -> None:
    """The deploy guide's `await worker.run({input})` on the asyncio client."""
    register_embed(env)

    async def go() -> None:
        client = env.async_client_in(None)
        worker = await client.deploy(mode="agent", template="batch-processor", ttl="30m")
        assert type(worker) is heroa.AsyncDeployment
        assert isinstance(worker, heroa.DeploymentData)
        assert not isinstance(worker, heroa.Deployment)
        handle = worker.handle or ""

        assert_embedded(await worker.run(input=BATCH, timeout=WAIT), handle)
        started = await worker.run(input=BATCH, wait=False)
        assert started.status in ("queued", "running") and started.agent_id == handle
        assert_embedded(await client.runs.wait(started.id, timeout=WAIT), handle)
        # Two handle runs at once on one event loop.
        both = await asyncio.gather(worker.run(input=BATCH), worker.run(input=BATCH))
        for run in both:
            assert_embedded(run, handle)
        assert both[0].id != both[1].id

        with pytest.raises(heroa.TimeoutError):
            await worker.run(input=SLOW, timeout=0.1)
        slow = [r async for r in client.runs.list(agent_id=handle) if r.status != "complete"]
        assert len(slow) == 1
        assert (await client.runs.cancel(slow[0].id)).status == "cancelled"

        fetched = await client.deployments.get(worker.id)
        assert type(fetched) is heroa.AsyncDeployment and fetched == worker
        assert_embedded(await fetched.run(input=BATCH, timeout=WAIT), handle)
        listed: List[heroa.AsyncDeployment] = [d async for d in client.deployments.list()]
        assert [type(d) for d in listed] == [heroa.AsyncDeployment]
        assert_embedded(await listed[0].run(input=BATCH, timeout=WAIT), handle)
        longer = await worker.extend("persistent")
        assert type(longer) is heroa.AsyncDeployment
        assert longer.ttl == "persistent" and longer.expires_at is None
        assert_embedded(await longer.run(input=BATCH, timeout=WAIT), handle)

        svc = await client.deploy(mode="service", name="svc", source=service_source(tmp_path))
        assert svc.status == "running" and svc.handle is None
        with pytest.raises(heroa.FailedPreconditionError) as e:
            await svc.run(input=BATCH)
        assert e.value.field == "mode" and e.value.message == MODE_REFUSED
        assert (await svc.delete()).status == "stopped"

        gone = await worker.delete()
        assert type(gone) is heroa.AsyncDeployment and gone.status == "stopped"
        with pytest.raises(heroa.FailedPreconditionError):
            await worker.run(input=BATCH)
        # Only the handle runs and the one started directly: 7 complete, 1 cancelled.
        statuses = sorted([r.status async for r in client.runs.list(agent_id=handle)])
        assert statuses == ["cancelled"] + ["complete"] * 7

    asyncio.run(go())


def test_a_service_handle_refuses_run(env: Env, tmp_path: Path) -> None:
    """An app or service has no run loop: `run()` raises before any call, with
    field "mode" — as the Node binding's handle does."""
    client = env.client
    svc = client.deploy(mode="service", name="svc", source=service_source(tmp_path))
    assert svc.status == "running" and svc.handle is None
    assert svc.endpoint and re.fullmatch(r"heroa://ws_\w+/svc/\w+", svc.endpoint)
    runs_before = len(client.runs.list().items)
    for kwargs in ({}, {"input": BATCH}, {"input": BATCH, "wait": False}):
        with pytest.raises(heroa.FailedPreconditionError) as e:
            svc.run(**kwargs)
        assert e.value.field == "mode" and e.value.message == MODE_REFUSED
    assert len(client.runs.list().items) == runs_before
    # Its other methods work: extend, then delete.
    assert svc.extend("1h").ttl == "1h"
    with pytest.raises(heroa.FailedPreconditionError, match="mode is \"service\""):
        client.deployments.get(svc.id).run()
    assert svc.delete().status == "stopped"
    assert client.deployments.get(svc.id).status == "stopped"


def test_an_unbound_deployment_refuses_its_methods() -> None:
    """A deployment built from data has no client: its methods say so (the data reads
    as usual)."""
    data = {
        "id": "dep_" + "a" * 26,
        "handle": "ag_" + "b" * 26,
        "mode": "agent",
        "region": "us-east",
        "status": "running",
        "ttl": "30m",
        "template": "batch-processor",
        "policy": {"egress": "none"},
    }
    dep = heroa.Deployment.from_dict(data)
    assert dep.handle == data["handle"] and dep["mode"] == "agent" and dep.to_dict() == data
    for call in (lambda: dep.run(input=BATCH), lambda: dep.extend("1h"), dep.delete):
        with pytest.raises(heroa.FailedPreconditionError) as e:
            call()
        assert "Deployment is not bound to a client" in e.value.message
        assert "from_dict" in e.value.message
    # A service's run() is refused for its mode first, bound or not.
    with pytest.raises(heroa.FailedPreconditionError) as e:
        heroa.Deployment.from_dict({**data, "mode": "service", "handle": None}).run()
    assert e.value.field == "mode" and e.value.message == MODE_REFUSED

    adep = heroa.AsyncDeployment.from_dict(data)
    assert adep == heroa.AsyncDeployment(data) and adep != dep  # one class, one kind

    async def go() -> None:
        for coro in (adep.run(input=BATCH), adep.extend("1h"), adep.delete()):
            with pytest.raises(heroa.FailedPreconditionError, match="AsyncDeployment is not bound"):
                await coro

    asyncio.run(go())
    # The data-only base has no handle methods at all.
    plain = heroa.DeploymentData.from_dict(data)
    assert not hasattr(plain, "run") and plain.to_dict() == data


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
    # The module-level handle is bound to the default client: `noop` returns its input.
    assert type(worker) is heroa.Deployment
    done = worker.run(input={"task": "embed"}, timeout=WAIT)
    assert done.status == "complete" and done.output == {"task": "embed"}
    assert done.agent_id == worker.handle
    assert [r.id for r in client.runs.list(agent_id=worker.handle).items] == [done.id]
    assert worker.delete().status == "stopped"


def test_gateway_ca_and_address() -> None:
    rt = heroa.Runtime()
    pem = rt.gateway_ca_pem()
    assert pem.startswith("-----BEGIN CERTIFICATE-----")
    host, port = rt.gateway_address()
    assert host in ("127.0.0.1", "::1") and 0 < port < 65536
