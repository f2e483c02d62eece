"""Runs the migration benchmark on the schema-5 fixture, in a subprocess, and checks its JSON line."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from storage import SCHEMA_VERSION

SCRIPT = Path(__file__).resolve().parent / "migrate_copy.py"
FIXTURE = Path(__file__).resolve().parents[1] / "data" / "v5-library" / "primary.sqlite"


@pytest.mark.timeout(120)
def test_migrate_copy_benchmark_on_the_fixture(tmp_path: Path) -> None:
    untouched = hashlib.sha256(FIXTURE.read_bytes()).hexdigest()
    done = subprocess.run(
        [sys.executable, str(SCRIPT), str(FIXTURE), "--work", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["before"]["schema_version"] == 5
    assert result["after"]["schema_version"] == SCHEMA_VERSION
    assert result["digest_kept"] is True
    assert result["before"]["free_bytes"] > 0
    assert result["after"]["free_bytes"] == 0
    assert result["after"]["file_bytes"] < result["before"]["file_bytes"]
    assert result["migrate_s"] >= 0
    assert result["vacuum_s"] >= 0
    assert hashlib.sha256(FIXTURE.read_bytes()).hexdigest() == untouched
