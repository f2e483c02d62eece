"""Runs the verify benchmark small, in a subprocess, and checks its JSON line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent / "verify.py"


@pytest.mark.timeout(120)
def test_verify_benchmark_small() -> None:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--small"], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["writes"] == 2000
    assert result["verify_s"] > 0
    assert result["read_log_s"] > 0
    assert result["chain_s"] > 0
    assert result["state_s"] > 0
    assert result["texts"] > 0
    assert max(result["in_sync_bytes"]) <= 128
