"""Runs the calendar-file benchmark small, in a subprocess, and checks its JSON line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent / "ics_roundtrip.py"


@pytest.mark.timeout(180)
def test_ics_roundtrip_benchmark_small() -> None:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--small"], capture_output=True, text=True, timeout=180, check=False
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["events"] == 500
    assert result["entities"] == 550  # 500 events and 50 edited occurrences, again after re-import
    assert result["import_s"] > 0
    assert result["db_mb"] > 0
