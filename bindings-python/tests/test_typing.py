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
