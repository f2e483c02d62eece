"""Full-text search of notes (FTS5, schema version 3): kept in step with every kind of change."""

from __future__ import annotations

import sqlite3
from contextlib import closing

import pytest

from localfirst import ManualClock, Summary, VersionVector
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
