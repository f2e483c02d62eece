"""Libraries written by the schema-5 release (``tests/data/v5-library``) open with today's code:
every migration since runs on a copy, and the copy shows exactly what the release showed, passes
a full verify, finds the same notes, and goes on syncing, committing and truncating.

Nothing here names a schema version but the fixture's: a later migration runs through the same
tests unchanged.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from localfirst import Replica
from localfirst.integrity import SNAPSHOT_MISMATCH
from storage import SCHEMA_VERSION, NewerSchema, open_replica
from storage.database import INCREMENTAL
from storage.note_index import index_matches
from storage.schema import metadata
from storage.search import NoteSearch

FIXTURE = Path(__file__).resolve().parents[1] / "data" / "v5-library"
EXPECTED: dict[str, Any] = json.loads((FIXTURE / "expected.json").read_text())
NAMES = ("primary", "phone")


def describe(r: Replica) -> dict[str, Any]:
    """What a replica shows, as ``tests/data/v5-library/make.py`` recorded it."""
    out: dict[str, Any] = {"csn": r.csn, "truncated_csn": r.truncated_csn, "digest": r.state_digest().hex()}
    out["entities"] = {}
    for kind in ("calendar", "event", "note", "device", "library"):
        for entity, doc in sorted(r.entities(kind).items()):
            out["entities"][entity] = {
                "kind": kind,
                "exists": doc.exists,
                "conflicted": doc.conflicted,
                "values": r.values(entity) if doc.exists else None,
            }
    out["log"] = r.log_labels()
    out["tentative"] = [f"{w.id.stamp}@{w.id.origin}" for w in r.tentative()]
    # As make.py wrote it: through JSON (tuples become lists, anything else its str()).
    shown: dict[str, Any] = json.loads(json.dumps(out, sort_keys=True, default=str))
    return shown


def schema_version(path: Path) -> int:
    with closing(sqlite3.connect(path)) as db:
        return int(db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0])


@pytest.fixture
def copies(tmp_path: Path) -> dict[str, Path]:
    """Copies of the schema-5 files (the fixture itself is never opened for writing)."""
    out = {}
    for name in NAMES:
        out[name] = tmp_path / f"{name}.sqlite"
        shutil.copyfile(FIXTURE / f"{name}.sqlite", out[name])
        assert schema_version(out[name]) == 5
    return out


@pytest.fixture
def opened(copies: dict[str, Path]) -> Iterator[dict[str, Replica]]:
    replicas = {name: open_replica(path) for name, path in copies.items()}
    yield replicas
    for r in replicas.values():
        r.close()


@pytest.mark.parametrize("name", NAMES)
def test_a_schema_5_library_shows_exactly_what_it_showed(name: str, copies: dict[str, Path]) -> None:
    r = open_replica(copies[name])
    try:
        assert describe(r) == EXPECTED[name]
        assert r.verify(full=True).ok
    finally:
        r.close()
    assert schema_version(copies[name]) == SCHEMA_VERSION
    r = open_replica(copies[name])  # and again, migrated: nothing moves on a second open
    try:
        assert describe(r) == EXPECTED[name]
    finally:
        r.close()


def test_the_fixture_holds_what_the_migration_must_carry() -> None:
    """The fixture keeps its point: text op batches, a saved state, a snapshot with rows,
    siblings, tentative writes, and a deleted note."""
    with closing(sqlite3.connect(f"file:{FIXTURE / 'primary.sqlite'}?mode=ro", uri=True)) as db:
        assert db.execute("SELECT count(*) FROM text_ops").fetchone()[0] > 0
        assert db.execute("SELECT count(*) FROM texts WHERE state IS NOT NULL").fetchone()[0] > 0
        assert db.execute("SELECT count(*) FROM snapshot_docs").fetchone()[0] > 0
    primary = EXPECTED["primary"]
    assert primary["truncated_csn"] > 0
    assert primary["tentative"]
    assert any(e["conflicted"] for e in primary["entities"].values())
    assert sum(e["kind"] == "note" for e in primary["entities"].values()) == 3  # of 4: one deleted


def _words() -> list[str]:
    """Every word of every note title and body the fixture holds, and prefixes of some."""
    found: set[str] = set()
    for replica in EXPECTED.values():
        for entity in replica["entities"].values():
            if entity["kind"] == "note" and entity["values"]:
                found.update(
                    re.findall(
                        r"\w+", f"{entity['values'].get('title', '')} {entity['values'].get('body', '')}"
                    )
                )
    return [*sorted(found), "lin", "Not", "ty", "line 2 of", "Note 1", "nothing here"]


@pytest.mark.parametrize("name", NAMES)
def test_note_search_finds_exactly_what_it_found(name: str, copies: dict[str, Path], tmp_path: Path) -> None:
    """Same ids in the same order (bm25 included) as the schema-5 index gave, for every word."""
    with NoteSearch(FIXTURE / f"{name}.sqlite") as old:
        before = {w: old.search(w) for w in _words()}
    assert any(before.values())
    open_replica(copies[name]).close()
    with NoteSearch(copies[name]) as new:
        after = {w: new.search(w) for w in _words()}
    assert after == before
    with closing(sqlite3.connect(copies[name])) as db:
        assert index_matches(db)


@pytest.mark.parametrize("name", NAMES)
def test_the_migrated_file_keeps_no_second_copy_and_no_free_pages(name: str, copies: dict[str, Path]) -> None:
    """Issue 17's schema 6: the search index reads titles and bodies from the notes, op batches
    are folded into saved states, and the file gives free pages back."""
    open_replica(copies[name]).close()
    with closing(sqlite3.connect(copies[name])) as db:
        tables = {n for (n,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert "note_search_content" not in tables
        assert db.execute("SELECT count(*) FROM text_ops").fetchone()[0] == 0
        assert db.execute("PRAGMA auto_vacuum").fetchone()[0] == INCREMENTAL
        assert db.execute("PRAGMA freelist_count").fetchone()[0] == 0
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def _exchange(a: Replica, b: Replica) -> None:
    b.receive(a.batch_for(b.summary()))
    a.receive(b.batch_for(a.summary()))


def test_migrated_replicas_sync_commit_truncate_reopen_and_converge(
    opened: dict[str, Replica], copies: dict[str, Path]
) -> None:
    p, ph = opened["primary"], opened["phone"]
    _exchange(p, ph)
    p.commit()
    _exchange(p, ph)
    assert not p.tentative()
    assert not ph.tentative()
    p.truncate()
    ph.truncate(p.csn)
    for r in (p, ph):
        r.close()
    p, ph = open_replica(copies["primary"]), open_replica(copies["phone"])
    try:
        assert p.csn == ph.csn == p.truncated_csn == ph.truncated_csn
        shown = describe(p)
        assert shown == describe(ph)
        assert shown["digest"] == ph.state_digest().hex()
        # What both showed, each one's tentative write now committed on both.
        phone_draft = [e for e in EXPECTED["phone"]["entities"].values() if "Draft: " in str(e["values"])]
        assert len(phone_draft) == 1
        assert phone_draft[0] in shown["entities"].values()
        assert shown["entities"] != EXPECTED["primary"]["entities"]
        assert p.verify(full=True).ok
        assert ph.verify(full=True).ok
    finally:
        p.close()
        ph.close()


def test_a_file_newer_than_this_app_is_still_refused_untouched(copies: dict[str, Path]) -> None:
    path = copies["primary"]
    with closing(sqlite3.connect(path)) as db, db:
        db.execute(
            "UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION + 1).encode(),)
        )
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    with pytest.raises(NewerSchema, match=f"schema version {SCHEMA_VERSION + 1}"):
        open_replica(path)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before
    assert schema_version(path) == SCHEMA_VERSION + 1


def test_damage_in_a_schema_5_file_is_carried_over_not_folded_away(copies: dict[str, Path]) -> None:
    """A body changed behind the app's back keeps its op batches (they no longer spell it, so
    they are not folded), and a changed snapshot row is not resealed: verify still sees both."""
    path = copies["primary"]
    with closing(sqlite3.connect(path)) as db, db:
        (tampered,) = db.execute(
            "SELECT id FROM text_ops GROUP BY id ORDER BY count(*) DESC LIMIT 1"
        ).fetchone()
        batches = db.execute("SELECT count(*) FROM text_ops WHERE id = ?", (tampered,)).fetchone()[0]
        db.execute("UPDATE texts SET text = 'tampered' WHERE id = ? AND field = 'body'", (tampered,))
        one, other = db.execute("SELECT doc FROM snapshot_docs ORDER BY id LIMIT 2").fetchall()
        db.execute("UPDATE snapshot_docs SET doc = ? WHERE doc = ?", (other[0], one[0]))
    r = open_replica(path)
    try:
        with closing(sqlite3.connect(path)) as db:
            left = dict(db.execute("SELECT id, count(*) FROM text_ops GROUP BY id").fetchall())
        assert left == {tampered: batches}
        assert not r.verify(full=True).ok
    finally:
        r.close()
    with closing(sqlite3.connect(path)) as db, db:  # the body put back: only the snapshot is wrong
        db.execute(
            "UPDATE texts SET text = ? WHERE id = ? AND field = 'body'",
            (EXPECTED["primary"]["entities"][tampered]["values"]["body"], tampered),
        )
        db.execute("DELETE FROM meta WHERE key = 'verify_damaged'")
    r = open_replica(path)
    try:
        report = r.verify(full=True)
        assert not report.ok
        assert report.problem == SNAPSHOT_MISMATCH
    finally:
        r.close()


def test_a_migrated_file_has_the_tables_the_schema_defines(copies: dict[str, Path]) -> None:
    """Every table of ``storage.schema.metadata`` exists in the migrated file with its columns,
    primary key and rowid-ness (migrations write their own DDL: this keeps the two in step)."""
    open_replica(copies["primary"]).close()
    with closing(sqlite3.connect(copies["primary"])) as db:
        for table in metadata.sorted_tables:
            info = db.execute(f"PRAGMA table_info({table.name})").fetchall()
            assert [row[1] for row in info] == [c.name for c in table.columns], table.name
            assert [row[1] for row in sorted(info, key=lambda r: r[5]) if row[5]] == [
                c.name for c in table.primary_key.columns
            ], table.name
            (sql,) = db.execute("SELECT sql FROM sqlite_master WHERE name = ?", (table.name,)).fetchone()
            without_rowid = table.dialect_options["sqlite"]["with_rowid"] is False
            assert ("WITHOUT ROWID" in sql) == without_rowid, table.name
