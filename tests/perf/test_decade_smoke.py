"""Runs the ten-year benchmark tiny (a few days of data), in a subprocess, and checks its JSON line.

Correctness only: every figure is there and sane; no timing is asserted.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from localfirst.text import TextDoc
from tests.perf._decade_library import cached
from tests.perf._decade_typing import Typist, load_runs

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
    # Generated once: the cache hands back the same library without generating it again.
    folder, info = cached(tmp_path / "cache", 0.01)
    assert info["largest_note"] == result["largest_note"]
    assert info["generate_s"] == result["generate_s"]
    files = [folder / "primary" / name for name in ("library.sqlite", "library.sqlite-wal")]
    assert sum(f.stat().st_size for f in files if f.exists()) == result["file_bytes"]


def test_typed_bursts_stay_inside_the_text_when_the_prose_wraps() -> None:
    """Regression: a chunk of prose taken across the end of the prose came out short, the
    typist counted characters the note never got, and a later burst edited past its end."""
    typist = Typist(load_runs(use_trace=False)[0], seed=3)
    typist.prose = typist.prose[:5_000]  # wraps many times over
    for length, writes in ((2_000, 85), (40, 1), (20_000, 300)) * 5:
        doc = TextDoc("t" * 8)
        for burst in typist.bursts(length, writes):
            for pos, deleted, inserted in burst:
                assert pos >= 0
                assert pos + deleted <= len(doc.text)
                doc.local_edit(pos, deleted, inserted)
        assert 0.5 * length <= len(doc.text) <= 1.5 * length + 400
