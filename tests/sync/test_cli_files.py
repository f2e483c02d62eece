"""``localfirst import`` and ``export`` as a person runs them: on a stopped library, and through a
running node (the node applies the import and pushes it to peers)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.sync.nodes import REPO, NodeProcess, run_cli, wait_for

pytestmark = pytest.mark.timeout(120)

ICS = REPO / "tests" / "data" / "ics" / "google_weekly_berlin.ics"
NOTE = "---\ntags: [cli]\n---\n# Groceries\n\n- milk\n- bread\n"


def cli(data: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_cli(data, *args)


def test_import_and_export_on_a_stopped_library(tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert cli(data, "init").returncode == 0
    note = tmp_path / "groceries.md"
    note.write_text(NOTE)
    done = cli(data, "import", str(ICS), str(note))
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["notes"] == 1
    assert summary["calendars"] == 1
    assert summary["events"] >= 1
    assert sorted(summary["imported"]) == sorted([str(ICS), str(note)])

    out = tmp_path / "out"
    done = cli(data, "export", str(out))
    assert done.returncode == 0, done.stderr
    written = [Path(line) for line in done.stdout.splitlines()]
    assert {p.suffix for p in written} == {".md", ".ics"}
    md = next(p for p in written if p.suffix == ".md")
    assert "- milk\n- bread" in md.read_text()
    assert "RRULE" in next(p for p in written if p.suffix == ".ics").read_text()


def test_a_bad_file_is_reported_and_the_others_are_imported(tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert cli(data, "init").returncode == 0
    bad = tmp_path / "broken.ics"
    bad.write_text("BEGIN:VCALENDAR\nthis is not iCalendar\n")
    note = tmp_path / "ok.md"
    note.write_text("# Fine\n")
    done = cli(data, "import", str(bad), str(note))
    assert done.returncode == 1
    assert "error:" in done.stderr
    assert "broken.ics" in done.stderr
    assert json.loads(done.stdout)["notes"] == 1


def test_no_library_is_a_clear_message(tmp_path: Path) -> None:
    done = cli(tmp_path / "empty", "export", str(tmp_path / "out"))
    assert done.returncode == 1
    assert "no library" in done.stderr


def test_import_and_export_go_through_a_running_node(tmp_path: Path) -> None:
    node = NodeProcess(tmp_path / "data", "--no-discovery", name="desk")
    try:
        note = tmp_path / "plan.md"
        note.write_text("# Plan\n\nship it\n")
        before = node.status()["csn"]
        done = cli(tmp_path / "data", "import", str(note))
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["notes"] == 1
        wait_for(lambda: node.status()["csn"] > before, what="the node commits the import")
        done = cli(tmp_path / "data", "export", str(tmp_path / "out"))
        assert done.returncode == 0, done.stderr
        (md,) = [Path(line) for line in done.stdout.splitlines() if line.endswith(".md")]
        assert md.parent == tmp_path / "out"
        assert md.read_text().rstrip().endswith("ship it")
    finally:
        err = node.stop()
    assert "Traceback" not in err
