"""The checked-in stubs and annotations: `mypy --strict` on the package and a typed
usage file, and `stubtest` of the native module's .pyi against the built module."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
PKG = HERE.parent / "python" / "heroa"

pytest.importorskip("mypy")


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *args], cwd=HERE.parent, capture_output=True, text=True, timeout=600
    )


def test_mypy_strict_on_package_and_usage() -> None:
    out = _run("mypy", "--strict", str(PKG), str(HERE / "typed_usage.py"))
    assert out.returncode == 0, out.stdout + out.stderr


def test_stubtest_native_module() -> None:
    out = _run("mypy.stubtest", "heroa._native")
    assert out.returncode == 0, out.stdout + out.stderr


MISUSE = """\
import heroa

async def main() -> None:
    worker = await heroa.AsyncClient.embedded().deploy(mode="agent", template="noop")
    run: heroa.Run = worker.run(input={})
    sync: heroa.Deployment = worker
    blocking = heroa.Client.embedded().deploy(mode="agent", template="noop")
    await blocking.run()
"""


def test_mypy_tells_blocking_handles_from_coroutine_ones(tmp_path: Path) -> None:
    """An AsyncDeployment's `run` must be awaited and is not a Deployment; a
    Deployment's `run` is not awaitable: mypy --strict says so at each line."""
    misuse = tmp_path / "misuse.py"
    misuse.write_text(MISUSE)
    out = _run("mypy", "--strict", "--no-error-summary", str(misuse))
    lines = [line for line in out.stdout.splitlines() if ": error:" in line]
    assert out.returncode == 1, out.stdout + out.stderr
    assert [int(line.split(":")[1]) for line in lines] == [5, 6, 8], out.stdout
    assert "Coroutine" in lines[0] and '"AsyncDeployment"' in lines[1], out.stdout
