"""Runs the text benchmark script on the small sveltecomponent trace."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("pycrdt")
pytest.importorskip("loro")

HERE = Path(__file__).resolve().parent
TRACE = HERE.parents[1].parent / "shared" / "traces" / "sveltecomponent.json.gz"

KEYS = {
    "trace",
    "ours_s",
    "pycrdt_s",
    "loro_s",
    "ratio_vs_pycrdt",
    "ratio_vs_loro",
    "remote_replay_s",
    "state_bytes",
    "pycrdt_state_bytes",
    "loro_state_bytes",
    "text_chars",
    "load_ms",
    "items",
    "peak_rss_mb",
    "keystroke_us_p99",
}


def test_benchmark_script_on_sveltecomponent() -> None:
    if not TRACE.exists():
        pytest.skip(f"trace {TRACE} not available")
    proc = subprocess.run(
        [sys.executable, str(HERE / "text_trace.py"), "--trace", str(TRACE)],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    # Exit code 0 means every replay matched endContent.
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 1
    result = json.loads(lines[0])
    assert not KEYS - result.keys()
    assert result["trace"] == "sveltecomponent.json.gz"
    assert result["text_chars"] == 18451
    assert result["state_bytes"] > 0
