"""Runs the sync catch-up benchmark small, in a subprocess, and checks its JSON line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent / "sync_catchup.py"
KEYS = {
    "catchup_s",
    "catchup_ops_per_s",
    "bytes_to_new_device",
    "bytes_from_new_device",
    "in_sync_bytes_each_way",
}


@pytest.mark.timeout(120)
def test_sync_catchup_small() -> None:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--small"], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result.keys() >= KEYS
    assert result["in_sync_bytes_each_way"] <= 128
    assert result["members"] == 3
    assert result["catchup_ops_per_s"] > 0
    assert result["history"] == "generated"  # runs in a clone with no ../shared beside it
