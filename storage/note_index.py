"""The note search index (FTS5) of schema version 6: external content, so it keeps no copy of
the titles and bodies that ``notes`` and ``texts`` already hold.

FTS5 reads the indexed text from the view ``note_search_source`` (one row per note: the rowid of
its ``notes`` row, its title, its body) and keeps only the index itself. Triggers on ``notes``
and ``texts`` keep the index in step: an external-content index forgets an entry only when told
the exact values it indexed (FTS5's ``'delete'`` command), so every trigger runs in an AFTER
phase, reads the other table as it stands, and moves the note's entry from the old values to
the new ones. ``INSERT OR REPLACE`` removes the old row without firing delete triggers unless
``recursive_triggers`` is on, which is why every connection that writes sets it
(``storage.database``); an UPSERT fires the UPDATE triggers, so both statement forms stay
balanced.
"""

from __future__ import annotations

import sqlite3

#: The FTS5 table of note titles and bodies (schema version 3 on).
NOTE_SEARCH = "note_search"
#: The view FTS5 reads titles and bodies from (schema version 6 on).
NOTE_SOURCE = "note_search_source"

#: Schema 3's triggers (an index with its own copy of the text), dropped by the migration to 6.
_V3_TRIGGER_NAMES = (
    "note_search_before_insert",
    "note_search_after_insert",
    "note_search_after_update",
    "note_search_after_delete",
    "note_search_body_insert",
    "note_search_body_update",
    "note_search_body_delete",
)

_BODY = "coalesce((SELECT text FROM texts WHERE id = {0}.id AND field = 'body'), '')"


def _forget(note: str, title: str, body: str) -> str:
    """SQL telling the index to drop the entry it holds for a note with these values."""
    return (
        f"INSERT INTO {NOTE_SEARCH} ({NOTE_SEARCH}, rowid, title, body) "
        f"VALUES ('delete', {note}, coalesce({title}, ''), {body});"
    )


def _add(note: str, title: str, body: str) -> str:
    return f"INSERT INTO {NOTE_SEARCH} (rowid, title, body) VALUES ({note}, coalesce({title}, ''), {body});"


def _body_change(old_body: str, new_body: str) -> str:
    """Statements moving a note's entry from one body to another (its title unchanged); no-ops
    when the text belongs to no live note."""
    return (
        f"INSERT INTO {NOTE_SEARCH} ({NOTE_SEARCH}, rowid, title, body) "
        f"SELECT 'delete', rowid, coalesce(title, ''), {old_body} FROM notes WHERE id = {{row}}.id;"
        f"INSERT INTO {NOTE_SEARCH} (rowid, title, body) "
        f"SELECT rowid, coalesce(title, ''), {new_body} FROM notes WHERE id = {{row}}.id;"
    )


TRIGGERS: dict[str, str] = {
    "note_index_insert": (
        f"AFTER INSERT ON notes BEGIN {_add('new.rowid', 'new.title', _BODY.format('new'))} END"
    ),
    "note_index_delete": (
        f"AFTER DELETE ON notes BEGIN {_forget('old.rowid', 'old.title', _BODY.format('old'))} END"
    ),
    "note_index_title": (
        "AFTER UPDATE OF id, title ON notes BEGIN "
        f"{_forget('old.rowid', 'old.title', _BODY.format('old'))} "
        f"{_add('new.rowid', 'new.title', _BODY.format('new'))} END"
    ),
    "note_index_body_insert": (
        "AFTER INSERT ON texts WHEN new.field = 'body' BEGIN "
        + _body_change("''", "new.text").format(row="new")
        + " END"
    ),
    "note_index_body_update": (
        "AFTER UPDATE OF text ON texts WHEN new.field = 'body' AND old.field = 'body' BEGIN "
        + _body_change("old.text", "new.text").format(row="new")
        + " END"
    ),
    "note_index_body_delete": (
        "AFTER DELETE ON texts WHEN old.field = 'body' BEGIN "
        + _body_change("old.text", "''").format(row="old")
        + " END"
    ),
}


def drop_note_search(db: sqlite3.Connection) -> None:
    """Drop the index, its view and every trigger that kept it (schema 3's or 6's)."""
    for name in (*_V3_TRIGGER_NAMES, *TRIGGERS):
        db.execute(f"DROP TRIGGER IF EXISTS {name}")
    db.execute(f"DROP TABLE IF EXISTS {NOTE_SEARCH}")
    db.execute(f"DROP VIEW IF EXISTS {NOTE_SOURCE}")


def create_note_search(db: sqlite3.Connection) -> None:
    """Create the view, the external-content index and its triggers, and index every note."""
    db.execute(
        f"CREATE VIEW {NOTE_SOURCE} (note, title, body) AS "
        "SELECT n.rowid, coalesce(n.title, ''), coalesce(t.text, '') FROM notes n "
        "LEFT JOIN texts t ON t.id = n.id AND t.field = 'body'"
    )
    db.execute(
        f"CREATE VIRTUAL TABLE {NOTE_SEARCH} USING fts5(title, body, content='{NOTE_SOURCE}', "
        "content_rowid='note', tokenize='unicode61 remove_diacritics 2')"
    )
    for name, body in TRIGGERS.items():
        db.execute(f"CREATE TRIGGER {name} {body}")
    db.execute(f"INSERT INTO {NOTE_SEARCH} ({NOTE_SEARCH}) VALUES ('rebuild')")


def index_matches(db: sqlite3.Connection) -> bool:
    """Whether the index holds exactly the entries of the notes and bodies it is built from
    (FTS5's integrity check, which re-reads the view)."""
    try:
        db.execute(f"INSERT INTO {NOTE_SEARCH} ({NOTE_SEARCH}, rank) VALUES ('integrity-check', 1)")
    except sqlite3.DatabaseError:
        return False
    return True
