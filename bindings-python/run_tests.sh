#!/usr/bin/env bash
# The Python binding's test suite, from a fresh machine or a warm one:
#   1. a virtualenv in target/py-venv (created once, reused after),
#   2. maturin, pytest and mypy from PyPI,
#   3. the binding built in debug mode and installed into the venv (maturin develop),
#   4. mypy --strict on the package and a typed usage file, stubtest of the .pyi,
#   5. pytest (every behaviour scenario on the embedded client and on heroa.Server,
#      the shared vectors, the onboarding example) — "no tests ran" is a failure.
#
# Usage: bash bindings-python/run_tests.sh [pytest args…]
# Env:   PYTHON=python3.x to pick the interpreter (≥ 3.9); HEROA_PY_RELEASE=1 for a
#        release build (slower to build, faster to run).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
venv="$root/target/py-venv"
python="${PYTHON:-python3}"

if [ ! -x "$venv/bin/python" ]; then
    echo "== creating $venv"
    "$python" -m venv "$venv"
fi
# shellcheck disable=SC1091
source "$venv/bin/activate"
export PIP_DISABLE_PIP_VERSION_CHECK=1
python -m pip install -q "maturin>=1.16,<2" "pytest>=7" "mypy>=1.10"

echo "== building the binding (debug)"
start=$(date +%s)
profile=()
if [ "${HEROA_PY_RELEASE:-0}" = "1" ]; then profile=(--release); fi
(cd "$here" && maturin develop --locked "${profile[@]}" -q)
echo "   built in $(( $(date +%s) - start )) s"

echo "== mypy --strict (package + typed usage) and stubtest"
(cd "$here" && python -m mypy --strict python/heroa tests/typed_usage.py)
(cd "$here" && python -m mypy.stubtest heroa._native)

echo "== pytest"
set +e
(cd "$here" && python -m pytest -q -p no:cacheprovider "$@")
status=$?
set -e
if [ "$status" -eq 5 ]; then
    echo "pytest collected no tests: failing" >&2
    exit 1
fi
exit "$status"
