"""`gx demo --embedded`: the main story end to end, as CI runs it: its own `gx up`, people
registering over HTTP with the mailbox's codes, approval, genesis, transfers, a refused
overdraw, and `gx projector rebuild` finding the read models equal to the ledger."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from gxcore.demo import STEPS
from tests.test_fresh_start import GX

pytestmark = pytest.mark.system


def test_the_demo_tells_the_whole_story_and_passes_every_check(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "GX_DATABASE_URL")}
    done = subprocess.run(
        [*GX, "demo", "--embedded"],
        capture_output=True,
        text=True,
        env={**env, "COLUMNS": "200", "TMPDIR": str(tmp_path)},
        timeout=600,
        check=False,
    )
    out = done.stdout + done.stderr
    assert done.returncode == 0, out
    for step in STEPS:
        assert f"✓ {step.title}" in out, out
    assert "409 INSUFFICIENT_FUNDS" in out
    assert "TransferCompleted" in out and "balances" in out and "trust score" in out
    assert "every check passed" in out
    # The demo's own `gx up` is stopped and its data directory removed.
    assert list(tmp_path.iterdir()) == []


def test_the_demo_says_how_to_start_when_no_gx_up_runs(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "GX_DATABASE_URL")}
    done = subprocess.run(
        [*GX, "demo", "--data-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 1
    assert "no `gx up` is running" in done.stderr and "--embedded" in done.stderr
