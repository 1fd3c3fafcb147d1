"""Process-level behaviour: the GIL is released while waiting, Ctrl-C interrupts a
wait, a forked child refuses its parent's runtime, and clients are thread-safe."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from typing import List

import pytest

import heroa
from conftest import PERMIT_ALL, Env


def _slow_run(env: Env, ms: int = 30000) -> heroa.Run:
    agent = env.agent("slow", "L3_autonomous", PERMIT_ALL)
    return env.client.agents.run(agent_id=agent.id, input={"calls": [{"skill": "heroa:sleep", "args": {"ms": ms}}]})


def test_wait_releases_the_gil(env: Env) -> None:
    run = _slow_run(env, ms=1000)
    ticks: List[int] = []
    stop = threading.Event()

    def spin() -> None:
        while not stop.is_set():
            ticks.append(1)
            time.sleep(0.001)

    t = threading.Thread(target=spin)
    t.start()
    try:
        done = env.client.runs.wait(run.id, timeout=10)
    finally:
        stop.set()
        t.join()
    assert done.status == "complete"
    assert len(ticks) > 20, "another Python thread ran while we waited"


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_ctrl_c_interrupts_wait(env: Env) -> None:
    run = _slow_run(env)
    timer = threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT))
    started = time.monotonic()
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            env.client.runs.wait(run.id, timeout=30)
    finally:
        timer.cancel()
    assert time.monotonic() - started < 5
    # The run itself goes on; it can still be cancelled.
    assert env.client.runs.cancel(run.id).status == "cancelled"


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
@pytest.mark.filterwarnings("ignore:.*fork.*:DeprecationWarning")
def test_forked_child_refuses_the_parents_runtime() -> None:
    client = heroa.Client.embedded()
    client.agents.register(name="parent", region="us-east")
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        code = 1
        try:
            os.close(r)
            try:
                client.agents.list()
                msg = "parent client worked in the child"
            except heroa.FailedPreconditionError as e:
                assert "forked process" in e.message
                # A client created in the child works.
                fresh = heroa.Client.embedded()
                a = fresh.agents.register(name="child", region="eu-west")
                run = fresh.agents.run(agent_id=a.id, input={"calls": []})
                msg = "ok " + fresh.runs.wait(run.id, timeout=10).status
                code = 0
            os.write(w, msg.encode())
        except BaseException as e:  # noqa: BLE001 - report anything to the parent
            os.write(w, f"child error: {e!r}".encode())
        finally:
            os._exit(code)
    os.close(w)
    with os.fdopen(r) as f:
        msg = f.read()
    _, status = os.waitpid(pid, 0)
    assert msg == "ok complete", msg
    assert os.WEXITSTATUS(status) == 0
    # The parent is unaffected.
    assert [a.name for a in client.agents.list()] == ["parent"]


def test_one_client_many_threads(env: Env) -> None:
    agent = env.agent("threads", "L3_autonomous", PERMIT_ALL)
    errors: List[BaseException] = []
    statuses: List[str] = []

    def work() -> None:
        try:
            for _ in range(5):
                run = env.client.agents.run(agent_id=agent.id, input={"calls": [{"skill": "hubspot:contact:read"}]})
                statuses.append(env.client.runs.wait(run.id, timeout=20).status)
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert statuses == ["complete"] * 20


def test_persisted_runtime_survives_reopen(tmp_path: "os.PathLike[str]") -> None:
    path = os.path.join(os.fspath(tmp_path), "heroa.db")
    c1 = heroa.Client.embedded(path)
    a = c1.agents.register(name="durable", region="us-west")
    c1.vault.put(agent_id=a.id, key="k", value="secret-value-1")
    del c1
    c2 = heroa.Client(path=path)
    assert c2.agents.get(a.id).name == "durable"
    assert [e.key for e in c2.vault.list(agent_id=a.id)] == ["k"]


def test_from_env_picks_the_transport(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HEROA_BASE_URL", raising=False)
    monkeypatch.delenv("HEROA_DATA", raising=False)
    c = heroa.Client.from_env()
    assert not c.is_remote and c.runtime is not None
    with heroa.Server() as server:
        monkeypatch.setenv("HEROA_BASE_URL", server.url)
        monkeypatch.setenv("HEROA_API_KEY", server.api_key)
        remote = heroa.Client.from_env()
        assert remote.is_remote and remote.runtime is None
        assert remote.workspace.get().id == server.runtime.default_workspace
        with pytest.raises(heroa.FailedPreconditionError):
            remote.register_skill("x:y", handler=lambda call: None)
    monkeypatch.delenv("HEROA_BASE_URL")
    with pytest.warns(UserWarning, match="embedded runtime"):
        heroa.Client(api_key="heroa_sk_whatever-0000000000")
