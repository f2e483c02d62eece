"""The UI benchmarks run (small) and print the keys reviewers read."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent
REPO = HERE.parents[1]


def run(script: str) -> dict[str, float]:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": str(REPO)}
    out = subprocess.run(
        [sys.executable, str(HERE / script), "--small"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


@pytest.mark.slow
def test_ui_startup_benchmark_runs() -> None:
    assert run("ui_startup.py")["startup_s"] > 0


@pytest.mark.slow
def test_ui_editor_benchmark_runs() -> None:
    result = run("ui_editor.py")
    assert result["keystroke_p99_ms"] > 0
    assert result["remote_edit_p99_ms"] > 0


@pytest.mark.slow
def test_ui_views_benchmark_runs() -> None:
    result = run("ui_views.py")
    assert result["switch_median_ms"] > 0
    assert result["editor_open_median_ms"] > 0
