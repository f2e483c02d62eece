"""Runs the relay benchmark small (a real SeaweedFS on 127.0.0.1), in a subprocess, and checks its
JSON line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent / "relay.py"
KEYS = {"catchup_ops_per_s", "bytes_per_write", "idle_requests_per_min", "edit_to_peer_s"}


@pytest.mark.timeout(240)
def test_relay_benchmark_small() -> None:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--small"], capture_output=True, text=True, timeout=240, check=False
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result.keys() >= KEYS
    assert result["catchup_ops"] == 10_300
    assert result["catchup_ops_per_s"] > 0
    assert 0 < result["bytes_per_write"] < 64 * 1024
    assert 0 < result["edit_to_peer_s"] < 10
    # The smoke run polls every second when idle; the real one every 30 s (2 lists a minute).
    assert 0 < result["idle_list_requests_per_min"] <= 61
    assert result["idle_requests_per_min"] == result["idle_list_requests_per_min"]  # only lists
