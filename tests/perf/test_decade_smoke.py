"""Runs the ten-year benchmark tiny (a few days of data), in a subprocess, and checks its JSON line.

Correctness only: every figure is there and sane; no timing is asserted.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent / "decade.py"
KEYS = (
    "years", "file_bytes", "export_bytes", "file_vs_export", "startup_s", "view_switch_ms",
    "event_search_ms", "note_search_ms", "open_largest_note_ms", "app_peak_rss_mb",
    "node_peak_rss_mb", "catchup_s", "verify_s", "mirror_start_s",
)  # fmt: skip


@pytest.mark.timeout(300)
def test_decade_benchmark_tiny(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--years", "0.01", "--cache", str(tmp_path / "cache")],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    for key in KEYS:
        assert key in result, key
        assert isinstance(result[key], int | float), (key, result[key])
        assert result[key] > 0, (key, result[key])
    # 0.01 years: a thousandth of the decade (at least one of each kind).
    assert result["years"] == 0.01
    assert (result["events"], result["series"], result["notes"], result["calendars"]) == (100, 2, 10, 1)
    assert result["members"] == 3
    assert 900 <= result["writes"] <= 1100
    assert result["verify_checked"] == result["log_rows"] == result["log_kept"]
    assert result["file_vs_export"] == round(result["file_bytes"] / result["export_bytes"], 2)
    assert result["export_files"] == result["notes"] + result["calendars"]
    assert result["largest_note_chars"] >= result["note_chars_mean"] > 0
    assert result["app_peak_rss_mb"] > result["bare_window_peak_rss_mb"] > 0
    assert result["node_peak_rss_mb"] >= result["node_idle_rss_mb"] > 0
    # Generated once: a second run reuses the cached library.
    again = subprocess.run(
        [sys.executable, str(SCRIPT), "--years", "0.01", "--cache", str(tmp_path / "cache")],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert again.returncode == 0, again.stderr
    second = json.loads(again.stdout.strip().splitlines()[-1])
    assert second["generate_s"] == result["generate_s"]
    assert second["largest_note"] == result["largest_note"]
    assert second["file_bytes"] == result["file_bytes"]
