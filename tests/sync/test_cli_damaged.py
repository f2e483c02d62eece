"""The command line on a damaged library: one clear line saying what to do, never internals.

``export`` writes every readable record and names the rest; ``salvage`` saves what can be read
with a report; every way a library file can fail to open (emptied, not a library, a corrupt
page, a newer schema) is one line on stderr, and an emptied file is never given a schema.
"""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from sync.const import LIBRARY_FILE
from tests.sync.nodes import run_cli

#: Words of the library's internals a user must never see (SQL, SQLite's codes, class names).
INTERNALS = (
    "SELECT",
    "SQL",
    "sqlite3",
    "Traceback",
    "Error",
    "Exception",
    "sqlalchemy",
    "msgpack",
    "disk image",
)


def _init(data: Path, notes: int = 3) -> Path:
    assert run_cli(data, "init").returncode == 0
    for i in range(notes):
        result = run_cli(data, "note", "add", "--title", f"Note {i}", "--body", f"body {i}")
        assert result.returncode == 0, result.stderr
    return data / LIBRARY_FILE


def _one_clean_line(stderr: str, data: Path) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    words = lines[0].replace(str(data / LIBRARY_FILE), "LIBRARY")
    assert not any(word in words for word in INTERNALS), lines[0]
    return lines[0]


def test_export_with_an_undecodable_record_writes_the_rest_and_names_it(tmp_path: Path) -> None:
    data = tmp_path / "data"
    path = _init(data)
    with closing(sqlite3.connect(path)) as conn, conn:
        (victim,) = conn.execute("SELECT id FROM notes WHERE title = 'Note 1'").fetchone()
        conn.execute("UPDATE docs SET doc = ? WHERE id = ?", (b"\xc1", victim))
    result = run_cli(data, "export", str(tmp_path / "out"))
    assert result.returncode == 1
    assert sorted(Path(line).name for line in result.stdout.splitlines()) == [
        f"Note {i}.md" for i in range(3)
    ]
    line = _one_clean_line(result.stderr, data)
    assert line.startswith(f"localfirst: damaged record: note {victim}: its record cannot be decoded")
    salvaged = run_cli(data, "salvage", str(tmp_path / "saved"))
    assert salvaged.returncode == 1
    summary = json.loads(salvaged.stdout)
    assert (summary["notes"], summary["files"], summary["unreadable"]) == (3, 3, 1)
    assert victim in (tmp_path / "saved" / "salvage-report.txt").read_text(encoding="utf-8")


def _corrupt_page_of(path: Path, table: str) -> None:
    with closing(sqlite3.connect(path)) as conn:
        size = conn.execute("PRAGMA page_size").fetchone()[0]
        (page,) = conn.execute("SELECT min(pageno) FROM dbstat WHERE name = ?", (table,)).fetchone()
    with path.open("r+b") as f:
        f.seek((page - 1) * size)
        f.write(b"\xa5" * size)


@pytest.mark.parametrize("damage", ["empty", "not a library", "corrupt page", "newer schema"])
def test_every_open_failure_is_one_line_saying_what_to_do(tmp_path: Path, damage: str) -> None:
    data = tmp_path / "data"
    path = _init(data, notes=0)
    if damage == "empty":
        path.write_bytes(b"")
    elif damage == "not a library":
        path.write_bytes(b"my shopping list\n" * 300)
    elif damage == "corrupt page":
        _corrupt_page_of(path, "log")
    else:
        with closing(sqlite3.connect(path)) as conn, conn:
            conn.execute("UPDATE meta SET value = '999' WHERE key = 'schema_version'")
    before = path.read_bytes()
    for command in (["status"], ["init"], ["export", str(tmp_path / "out")]):
        result = run_cli(data, *command)
        assert result.returncode == 1, (command, result.stdout)
        line = _one_clean_line(result.stderr, data)
        if damage == "newer schema":
            assert "newer version" in line
            assert "Update the app" in line
        else:
            assert "localfirst join" in line
            assert "localfirst salvage OUT" in line
            assert "move the file aside" in line
        assert path.read_bytes() == before  # never a schema written into it, nothing changed
