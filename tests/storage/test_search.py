"""Full-text search of notes (FTS5, schema version 3; external content since 6): kept in step with
every kind of change."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from localfirst import ManualClock, Summary, VersionVector
from localfirst.textfields import COMPACT_AFTER
from storage.note_index import index_matches
from storage.search import NoteSearch, fts_query

from .conftest import Replicas


@pytest.fixture
def search(replicas: Replicas):
    opened: list[NoteSearch] = []

    def open_(name: str) -> NoteSearch:
        s = NoteSearch(replicas.path(name))
        opened.append(s)
        return s

    yield open_
    for s in opened:
        s.close()


def test_query_text_never_reaches_fts_syntax() -> None:
    assert fts_query("") is None
    assert fts_query("  -- ") is None
    assert fts_query('a" OR b ') == '"a" "OR" "b"'  # quotes and operators are plain words
    assert fts_query("hello wor") == '"hello" "wor"*'
    assert fts_query("hello ") == '"hello"'


def test_finds_notes_by_title_and_body_words(replicas: Replicas, search) -> None:
    r = replicas.create("lib", "P", clock=ManualClock(1))
    r.create("note", {"title": "Shopping", "body": "milk and bread"}, entity="n1")
    r.create("note", {"title": "Trip", "body": "pack the tent"}, entity="n2")
    s = search("lib")
    assert s.search("bread") == ["n1"]
    assert s.search("shop") == ["n1"]  # prefix of the word being typed
    assert s.search("tent trip") == ["n2"]
    assert s.search("milk tent") == []
    assert s.search("caviar") == []


def test_index_follows_edits_title_changes_and_deletes(replicas: Replicas, search) -> None:
    r = replicas.create("lib", "P", clock=ManualClock(1))
    r.create("note", {"title": "Plan", "body": "alpha"}, entity="n1")
    s = search("lib")
    r.edit_text("n1", [(5, 0, " beta")])
    assert s.search("beta") == ["n1"]
    r.put("note", "n1", {"title": "Schedule"})
    assert s.search("plan") == []
    assert s.search("schedule beta") == ["n1"]
    r.delete("n1")
    assert s.search("beta") == []


def test_index_follows_received_batches(replicas: Replicas, search) -> None:
    p = replicas.create("p", "P", members={"A": ""}, clock=ManualClock(1))
    a = replicas.join("a", "A", p.genesis(), clock=ManualClock(1))
    a.create("note", {"title": "From A", "body": "remote words"}, entity="n1")
    p.receive(a.batch_for(Summary(VersionVector(), 0)))
    assert search("p").search("remote") == ["n1"]


def test_migration_to_3_indexes_existing_notes(replicas: Replicas, search) -> None:
    r = replicas.create("lib", "P", clock=ManualClock(1))
    r.create("note", {"title": "Old", "body": "kept words"}, entity="n1")
    replicas.close(r)
    with closing(sqlite3.connect(replicas.path("lib"), isolation_level=None)) as conn:
        conn.execute("DROP TABLE note_search")
        for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'").fetchall():
            conn.execute(f"DROP TRIGGER {name}")
        conn.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (b"2",))
    replicas.open("lib")
    assert search("lib").search("kept") == ["n1"]


def _index_sound(path: Path) -> bool:
    with closing(sqlite3.connect(path)) as conn:
        return index_matches(conn)


def test_index_stays_exact_through_every_kind_of_write(replicas: Replicas, search) -> None:
    """The index keeps no copy of the text (schema 6), so each trigger must tell it exactly the
    values it indexed: through typing (op batches appended: an upsert), a compaction (a fresh
    state: INSERT OR REPLACE), title changes, deletes, received notes, and a truncation that
    rewrites every row."""
    p = replicas.create("p", "P", members={"A": ""}, clock=ManualClock(1))
    a = replicas.join("a", "A", p.genesis(), clock=ManualClock(1))
    p.create("note", {"title": "Long", "body": ""}, entity="n1")
    for k in range(COMPACT_AFTER + 5):  # past a compaction: a saved state replaces the row
        p.edit_text("n1", [(len(p.text("n1")), 0, f"word{k} ")])
    p.create("note", {"title": "Gone", "body": "soon deleted"}, entity="n2")
    p.put("note", "n1", {"title": "Longer"})
    p.delete("n2")
    a.create("note", {"title": "Remote", "body": "from afar"}, entity="n3")
    p.receive(a.batch_for(p.summary()))
    p.commit()
    assert _index_sound(replicas.path("p"))
    s = search("p")
    assert s.search("word0 word260") == ["n1"]
    assert s.search("longer") == ["n1"]
    assert s.search("long") == ["n1"]  # prefix of "Longer"
    assert s.search("soon") == []
    assert s.search("afar") == ["n3"]
    p.truncate()  # every text, document and materialized row replaced
    assert _index_sound(replicas.path("p"))
    assert s.search("word0 word260") == ["n1"]
    assert s.search("afar remote") == ["n3"]


def test_index_follows_a_raw_update_of_a_body(replicas: Replicas, search) -> None:
    """An UPDATE of the text column (what an editing tool might do) moves the entry too."""
    r = replicas.create("lib", "P", clock=ManualClock(1))
    r.create("note", {"title": "Raw", "body": "before"}, entity="n1")
    replicas.close(r)
    with closing(sqlite3.connect(replicas.path("lib"), isolation_level=None)) as conn:
        conn.execute("UPDATE texts SET text = 'after' WHERE id = 'n1' AND field = 'body'")
    assert _index_sound(replicas.path("lib"))
    assert search("lib").search("after") == ["n1"]
    assert search("lib").search("before") == []


def test_a_drifted_index_is_caught(replicas: Replicas) -> None:
    """The check the tests above rely on can fail: an index told the wrong values drifts."""
    r = replicas.create("lib", "P", clock=ManualClock(1))
    r.create("note", {"title": "Plan", "body": "alpha"}, entity="n1")
    replicas.close(r)
    assert _index_sound(replicas.path("lib"))
    with closing(sqlite3.connect(replicas.path("lib"), isolation_level=None)) as conn:
        rowid = conn.execute("SELECT rowid FROM notes WHERE id = 'n1'").fetchone()[0]
        conn.execute(
            "INSERT INTO note_search (note_search, rowid, title, body) VALUES ('delete', ?, 'Plan', 'beta')",
            (rowid,),
        )
    assert not _index_sound(replicas.path("lib"))


def test_index_keeps_no_copy_of_titles_and_bodies(replicas: Replicas) -> None:
    r = replicas.create("lib", "P", clock=ManualClock(1))
    r.create("note", {"title": "Plan", "body": "alpha " * 1000}, entity="n1")
    with closing(sqlite3.connect(replicas.path("lib"))) as conn:
        tables = {name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"note_search", "note_search_data", "note_search_idx"} <= tables
    assert "note_search_content" not in tables
