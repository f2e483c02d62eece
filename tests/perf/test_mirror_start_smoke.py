"""CI runs the mirror start benchmark small, for correctness (its own asserts), not for time."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).with_name("mirror_start.py")


def test_mirror_start_benchmark_runs_small() -> None:
    out = subprocess.run(
        [sys.executable, str(SCRIPT), "--events", "300", "--calendars", "2", "--notes", "10"],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    figures = json.loads(out.stdout.strip().splitlines()[-1])
    assert figures["files"] == 12
    for key in ("first_start_s", "unchanged_start_s", "one_event_changed_start_s"):
        assert figures[key] > 0, key
