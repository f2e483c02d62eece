"""A damaged library: export writes everything readable and names the rest; salvage reads past
a corrupt page; opening a file that cannot be a library is refused before anything is written.

Real SQLite files damaged behind the store's back (a record overwritten, a page of the
documents' table filled with garbage, a file emptied or replaced).
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from localfirst import Replica
from storage import CorruptReplica, NotAReplica, create_library, open_replica
from storage.files import export_library
from storage.salvage import REPORT, read_records, salvage

NOTES = 400


def _library(path: Path, notes: int = NOTES) -> None:
    replica = create_library(path, "dev-a")
    with replica.transaction():
        for i in range(notes):
            replica.put("note", f"n{i:03d}", {"title": f"Note {i}", "body": f"body {i}\n" + "x" * 30})
        cal = replica.create("calendar", {"name": "Work"}, "cal")
        for i in range(3):
            fields = {"calendar": cal, "title": f"Event {i}", "start": f"2026-01-0{i + 1}", "all_day": True}
            replica.put("event", f"e{i}", {**fields, "end": f"2026-01-0{i + 2}"})
    replica.close()


def _sql(path: Path, sql: str, *params: object) -> list[tuple[object, ...]]:
    with closing(sqlite3.connect(path)) as conn, conn:
        return list(conn.execute(sql, params))


def _names(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir()}


def test_one_undecodable_record_does_not_make_export_write_nothing(tmp_path: Path) -> None:
    path = tmp_path / "lib.db"
    _library(path, notes=5)
    _sql(path, "UPDATE docs SET doc = ? WHERE id = 'n002'", b"\xc1 not a document")
    replica: Replica = open_replica(path)
    try:
        problems: list[str] = []
        written = export_library(replica, tmp_path / "out", problems=problems)
    finally:
        replica.close()
    names = {p.name for p in written}
    assert {f"Note {i}.md" for i in range(5)} | {"Work.ics"} == names
    # The damaged note is named, and saved from what the summary table still says.
    assert problems == [
        "note n002: its record cannot be decoded; saved from what the library's summary of it still says"
    ]
    assert (tmp_path / "out" / "Note 2.md").read_text(encoding="utf-8").endswith("body 2\n" + "x" * 30)
    assert "SUMMARY:Event 2" in (tmp_path / "out" / "Work.ics").read_text(encoding="utf-8")


def test_salvage_reads_every_record_past_a_corrupt_page(tmp_path: Path) -> None:
    path = tmp_path / "lib.db"
    _library(path)
    size = _sql(path, "PRAGMA page_size")[0][0]
    assert isinstance(size, int)
    leaves = [p for (p,) in _sql(path, "SELECT pageno FROM dbstat WHERE name = 'docs' AND pagetype = 'leaf'")]
    assert len(leaves) >= 3
    victim = leaves[len(leaves) // 2]
    assert isinstance(victim, int)
    with path.open("r+b") as f:
        f.seek((victim - 1) * size)
        f.write(b"\xa5" * size)
    before = path.read_bytes()
    replica = open_replica(path)
    try:
        with pytest.raises(CorruptReplica):
            replica.entities("note")
    finally:
        replica.close()
    saved = salvage(path, tmp_path / "out")
    assert path.read_bytes() == before  # read-only: the damaged file is left as it was
    out = tmp_path / "out"
    notes = {n for n in _names(out) if n.endswith(".md")}
    # Every note is saved: from its record, or from the summary tables when the record's page is gone.
    assert notes == {f"Note {i}.md" for i in range(NOTES)}
    assert "Work.ics" in _names(out)
    assert saved.counts == {"notes": NOTES, "calendars": 1, "events": 3}
    assert saved.problems
    assert all("damaged page" in p for p in saved.problems)
    report = (out / REPORT).read_text(encoding="utf-8")
    assert f"saved {NOTES} notes, 1 calendars, 3 events" in report
    assert all(f"- {p}" in report for p in saved.problems)


def test_salvage_of_a_file_that_is_no_library_says_so(tmp_path: Path) -> None:
    path = tmp_path / "lib.db"
    path.write_bytes(b"these are not the bytes of a library" * 200)
    with pytest.raises(CorruptReplica, match="not a library file"):
        read_records(path)


@pytest.mark.parametrize(
    ("content", "error", "words"),
    [
        (b"", NotAReplica, "is empty (0 bytes)"),
        (b"hello, I am a text file\n" * 100, CorruptReplica, "is not a library file"),
    ],
)
def test_a_file_that_cannot_be_a_library_is_refused_untouched(
    tmp_path: Path, content: bytes, error: type[Exception], words: str
) -> None:
    path = tmp_path / "lib.db"
    path.write_bytes(content)
    with pytest.raises(error) as caught:
        open_replica(path)
    message = str(caught.value)
    assert words in message
    assert "localfirst join" in message
    assert "localfirst salvage OUT" in message
    assert "move the file aside" in message
    assert path.read_bytes() == content  # never a schema written into it
    assert not Path(f"{path}-wal").exists()
