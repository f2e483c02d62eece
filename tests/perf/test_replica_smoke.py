"""CI runs the replica benchmark small, for correctness (its own asserts), not for time."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).with_name("replica.py")


def test_replica_benchmark_runs_small() -> None:
    out = subprocess.run(
        [sys.executable, str(SCRIPT), "--writes", "3000", "--single", "50", "--repeat", "1"],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    figures = json.loads(out.stdout.strip().splitlines()[-1])
    for key in (
        "writes_per_s_single",
        "writes_per_s_batched",
        "apply_100k_s",
        "raw_sqlite_apply_100k_s",
        "raw_sqlite_one_page_per_s",
        "reopen_100k_s",
        "file_bytes",
    ):
        assert figures[key] > 0, key
    assert figures["writes"] == 3000
