"""examples/python/onboarding.py (the onboarding guide, steps 1-6 on the embedded runtime) runs."""

from __future__ import annotations

import os
import re
import subprocess
import sys

from conftest import REPO


def test_onboarding_example_runs() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEROA_")}
    out = subprocess.run(
        [sys.executable, str(REPO / "examples" / "python" / "onboarding.py")],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    text = out.stdout
    for step in range(1, 7):
        assert f"step {step}" in text, text
    assert re.search(r"step 1  agent registered: ag_\w+", text)
    assert "3 translation(s) to plain Cedar" in text
    # L0 shadow: writes and external calls recorded, nothing executed, nothing spent.
    assert re.search(r"L0 shadow run run_\w+: partial — 2 shadowed, 0 executed, 1 blocked, cost \$0\n", text)
    assert "status    partial" in text  # slack:post is outside the envelope
    assert "cost_usd  0.17" in text  # 1 read (0.02) + 3 enrichments (0.05 each)
    assert re.search(r"audit_url heroa://embedded/v1/runs/run_\w+/audit", text)
    assert "valid = True" in text
    assert "inbox: Run run_" in text  # L1 notify
    assert "pat-demo" not in text and "hubspot_token fingerprint" in text
