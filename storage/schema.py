"""The replica's SQLite schema, its version, and the forward migrations applied on open.

One file per library. ``docs`` holds each entity's CRDT document (the truth); ``calendars``,
``events`` and ``notes`` are materialized views of the winning values of live entities, kept in
the same transaction, so the UI can query and sort without decoding documents.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

from sqlalchemy import (
    Column,
    Connection,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    text,
)

from localfirst.crdtmap import SET_FIELDS, decode_doc, encode_doc

from .note_index import NOTE_SEARCH, create_note_search, drop_note_search
from .rewrite import fold_text_ops, reencode_docs

#: The version this build writes; files with a higher one are refused, lower ones migrated.
SCHEMA_VERSION = 7

metadata = MetaData()

meta = Table(
    "meta",
    metadata,
    Column("key", String, primary_key=True),
    Column("value", LargeBinary, nullable=False),
)

origins = Table(
    "origins",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("device", String, nullable=False, unique=True),
)

log = Table(
    "log",
    metadata,
    Column("stamp", Integer, primary_key=True),
    Column("origin", Integer, primary_key=True),
    Column("csn", Integer, nullable=True),
    Column("data", LargeBinary, nullable=False),
    Column("chain", LargeBinary, nullable=True),  # hash chained over the committed log
    # Only committed rows are indexed, so a tentative write touches one page of the log.
    Index("log_csn", "csn", unique=True, sqlite_where=text("csn IS NOT NULL")),
    sqlite_with_rowid=False,
)

docs = Table(
    "docs",
    metadata,
    Column("id", String, primary_key=True),
    Column("kind", String, nullable=False),
    Column("doc", LargeBinary, nullable=False),
    # 1 while the entity has siblings to resolve, so the conflict list never scans the library
    Column("conflicted", Integer, nullable=False, server_default="0"),
    # Added in schema version 7: 1 while this row is also the snapshot's (see ``SNAPSHOT_DOCS``).
    Column("base", Integer, nullable=False, server_default="0"),
    Index("docs_kind", "kind"),
    Index("docs_conflicted", "conflicted", sqlite_where=text("conflicted = 1")),
    sqlite_with_rowid=False,
)

snapshot_docs = Table(
    "snapshot_docs",
    metadata,
    Column("id", String, primary_key=True),
    Column("doc", LargeBinary, nullable=False),
    sqlite_with_rowid=False,
)

outcomes = Table(
    "outcomes",
    metadata,
    Column("stamp", Integer, primary_key=True),
    Column("origin", Integer, primary_key=True),
    Column("outcome", Integer, nullable=False),
    Column("committed", Integer, nullable=False),
    sqlite_with_rowid=False,
)

calendars = Table(
    "calendars",
    metadata,
    Column("id", String, primary_key=True),
    Column("name", String),
    Column("colour", String),
    Column("bookable", Integer),
)

events = Table(
    "events",
    metadata,
    Column("id", String, primary_key=True),
    Column("calendar", String),
    Column("title", String),
    Column("start", String),
    Column("end", String),
    Column("all_day", Integer),
    Column("tz", String),
    Column("rrule", String),
    Index("events_range", "start", "end"),
)

notes = Table(
    "notes",
    metadata,
    Column("id", String, primary_key=True),
    Column("title", String),
    Column("pinned", Integer),
    Column("modified", Integer),
)

texts = Table(
    "texts",
    metadata,
    Column("id", String, primary_key=True),
    Column("field", String, primary_key=True),
    Column("text", String, nullable=False),  # the current text, so reading never decodes
    Column("state", LargeBinary, nullable=True),  # saved text-CRDT state
    # Added in schema version 7: 1 while the saved state is also the snapshot's.
    Column("base", Integer, nullable=False, server_default="0"),
    # A rowid table since schema 6: a body of a few KB fills its pages (a WITHOUT ROWID row
    # spills everything past ~1 KB into an overflow page of its own, mostly empty).
)

# Op batches appended to a text since its saved state, in order.
text_ops = Table(
    "text_ops",
    metadata,
    Column("seq", Integer, primary_key=True),
    Column("id", String, nullable=False),
    Column("field", String, nullable=False),
    Column("ops", LargeBinary, nullable=False),
    Index("text_ops_key", "id", "field", "seq"),
)

snapshot_texts = Table(
    "snapshot_texts",
    metadata,
    Column("id", String, primary_key=True),
    Column("field", String, primary_key=True),
    Column("state", LargeBinary, nullable=False),
    # A rowid table since schema 6, as ``texts``.
)

# Added in schema version 2: notices that commitment changed a booking's outcome.
notices = Table(
    "notices",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("stamp", Integer, nullable=False),
    Column("origin", Integer, nullable=False),
    Column("tentative", Integer, nullable=False),
    Column("committed", Integer, nullable=False),
    # Added in schema version 4: 0 when the new outcome is itself tentative (issue 12).
    Column("settled", Integer, nullable=False, server_default=text("1")),
)

#: Materialized table and columns of each kind that has one.
MATERIALIZED: dict[str, Table] = {"calendar": calendars, "event": events, "note": notes}


def _v1(conn: Connection) -> None:
    metadata.create_all(conn, tables=[t for t in metadata.sorted_tables if t is not notices])


def _v2(conn: Connection) -> None:
    # Version 2's table, without the column version 4 adds.
    conn.exec_driver_sql(
        "CREATE TABLE notices (id INTEGER NOT NULL PRIMARY KEY, stamp INTEGER NOT NULL, "
        "origin INTEGER NOT NULL, tentative INTEGER NOT NULL, committed INTEGER NOT NULL)"
    )


#: Added in schema version 3: the full-text index of note titles and bodies (FTS5), keyed by
#: the rowid of the note's row in ``notes`` and kept in step by triggers. ``notes`` rows are
#: written with INSERT OR REPLACE, which fires no delete trigger, so a BEFORE INSERT trigger
#: drops the old entry while the old row is still there.

_V3_TRIGGERS = {
    "note_search_before_insert": """
        CREATE TRIGGER note_search_before_insert BEFORE INSERT ON notes BEGIN
            DELETE FROM note_search WHERE rowid = (SELECT rowid FROM notes WHERE id = new.id);
        END""",
    "note_search_after_insert": """
        CREATE TRIGGER note_search_after_insert AFTER INSERT ON notes BEGIN
            INSERT INTO note_search (rowid, title, body) VALUES (new.rowid, coalesce(new.title, ''),
                coalesce((SELECT text FROM texts WHERE id = new.id AND field = 'body'), ''));
        END""",
    "note_search_after_update": """
        CREATE TRIGGER note_search_after_update AFTER UPDATE OF title ON notes BEGIN
            UPDATE note_search SET title = coalesce(new.title, '') WHERE rowid = new.rowid;
        END""",
    "note_search_after_delete": """
        CREATE TRIGGER note_search_after_delete AFTER DELETE ON notes BEGIN
            DELETE FROM note_search WHERE rowid = old.rowid;
        END""",
    "note_search_body_insert": """
        CREATE TRIGGER note_search_body_insert AFTER INSERT ON texts WHEN new.field = 'body' BEGIN
            UPDATE note_search SET body = new.text
            WHERE rowid = (SELECT rowid FROM notes WHERE id = new.id);
        END""",
    "note_search_body_update": """
        CREATE TRIGGER note_search_body_update AFTER UPDATE OF text ON texts WHEN new.field = 'body'
        BEGIN
            UPDATE note_search SET body = new.text
            WHERE rowid = (SELECT rowid FROM notes WHERE id = new.id);
        END""",
    "note_search_body_delete": """
        CREATE TRIGGER note_search_body_delete AFTER DELETE ON texts WHEN old.field = 'body' BEGIN
            UPDATE note_search SET body = ''
            WHERE rowid = (SELECT rowid FROM notes WHERE id = old.id);
        END""",
}


def _v3(conn: Connection) -> None:
    """(Re)build the note search index from the notes and texts tables."""
    for name in _V3_TRIGGERS:
        conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {name}")
    conn.exec_driver_sql(f"DROP TABLE IF EXISTS {NOTE_SEARCH}")
    conn.exec_driver_sql(
        f"CREATE VIRTUAL TABLE {NOTE_SEARCH} USING fts5(title, body, "
        "tokenize='unicode61 remove_diacritics 2')"
    )
    for sql in _V3_TRIGGERS.values():
        conn.exec_driver_sql(sql)
    conn.exec_driver_sql(
        f"INSERT INTO {NOTE_SEARCH} (rowid, title, body) "
        "SELECT n.rowid, coalesce(n.title, ''), coalesce(t.text, '') FROM notes n "
        "LEFT JOIN texts t ON t.id = n.id AND t.field = 'body'"
    )


def _v4(conn: Connection) -> None:
    """Set fields (tags, reminders, exdates, rdates) become add-wins sets: every stored document
    is rewritten in the set form (a register's siblings' elements united), and the conflict flag
    recomputed, since siblings of a set no longer conflict."""
    db = conn.connection.driver_connection
    assert isinstance(db, sqlite3.Connection)
    kinds = tuple(SET_FIELDS)
    marks = ",".join("?" * len(kinds))
    rows = db.execute(f"SELECT id, doc FROM docs WHERE kind IN ({marks})", kinds).fetchall()
    updates = []
    for key, data in rows:
        doc = decode_doc(data)
        updates.append((encode_doc(doc), int(doc.conflicted), key))
    db.executemany("UPDATE docs SET doc = ?, conflicted = ? WHERE id = ?", updates)
    snap = [
        (encode_doc(decode_doc(data)), key) for key, data in db.execute("SELECT id, doc FROM snapshot_docs")
    ]
    db.executemany("UPDATE snapshot_docs SET doc = ? WHERE id = ?", snap)


def _v5(conn: Connection) -> None:
    """Notices of tentative outcomes that changed: earlier notices were all about commitment."""
    columns = {row[1] for row in conn.exec_driver_sql("PRAGMA table_info(notices)")}
    if "settled" not in columns:  # a file marked older than its tables (tests downgrade so)
        conn.exec_driver_sql("ALTER TABLE notices ADD COLUMN settled INTEGER NOT NULL DEFAULT 1")


#: The text tables as schema 6 has them: rowid tables (written out here, not taken from the
#: definitions above, so a later version's change to those leaves this step as it was).
_V6_TEXT_TABLES = {
    "texts": (
        "CREATE TABLE texts (id VARCHAR NOT NULL, field VARCHAR NOT NULL, text VARCHAR NOT NULL, "
        "state BLOB, PRIMARY KEY (id, field))",
        "id, field, text, state",
    ),
    "snapshot_texts": (
        "CREATE TABLE snapshot_texts (id VARCHAR NOT NULL, field VARCHAR NOT NULL, "
        "state BLOB NOT NULL, PRIMARY KEY (id, field))",
        "id, field, state",
    ),
}


def _as_rowid_table(db: sqlite3.Connection, name: str) -> None:
    """Rebuild a text table as a rowid table, its rows copied in key order so the new pages
    come out full. Nothing may refer to it meanwhile: a rename rewrites references."""
    create, columns = _V6_TEXT_TABLES[name]
    db.execute(f"ALTER TABLE {name} RENAME TO {name}_old")
    db.execute(create)
    db.execute(f"INSERT INTO {name} ({columns}) SELECT {columns} FROM {name}_old ORDER BY id, field")
    db.execute(f"DROP TABLE {name}_old")


def _v6(conn: Connection) -> None:
    """Issue 17, a library that stays small: every text's op batches folded into a fresh saved
    state, every document re-encoded in the current encoding (the snapshot resealed), the text
    tables rebuilt as rowid tables, and the note search index made external-content (it keeps
    no copy of titles and bodies). The one VACUUM that switches the file to incremental
    auto-vacuum runs after this transaction, on open (``SqlStore.reclaim_free_pages``)."""
    db = conn.connection.driver_connection
    assert isinstance(db, sqlite3.Connection)
    drop_note_search(db)
    fold_text_ops(db)
    reencode_docs(db)
    for name in _V6_TEXT_TABLES:
        _as_rowid_table(db, name)
    create_note_search(db)


#: Schema version 7: the stored snapshot is an overlay on the live rows instead of a second
#: copy of the library. A ``docs`` row (a ``texts`` row's saved state) with ``base = 1`` is also
#: the snapshot's; ``snapshot_docs``/``snapshot_texts`` hold only the snapshot's values that
#: differ from the live row. An entity the snapshot lacks has base 0 and no snapshot row.
#: Replacing or updating a base row first copies it aside (these triggers), so the hot write
#: path costs no extra statement and a new entity no extra row.
SNAPSHOT_DOCS = "SELECT id, doc FROM docs WHERE base = 1 UNION ALL SELECT id, doc FROM snapshot_docs"
SNAPSHOT_TEXTS = (
    "SELECT id, field, state FROM texts WHERE base = 1 UNION ALL SELECT id, field, state FROM snapshot_texts"
)
#: Make every live row equal to its snapshot row the snapshot's base, dropping that row.
SNAPSHOT_SQUASH = (
    "UPDATE docs SET base = 1 WHERE base = 0 AND EXISTS "
    "(SELECT 1 FROM snapshot_docs s WHERE s.id = docs.id AND s.doc = docs.doc)",
    "DELETE FROM snapshot_docs WHERE id IN (SELECT id FROM docs WHERE base = 1)",
    "UPDATE texts SET base = 1 WHERE base = 0 AND EXISTS (SELECT 1 FROM snapshot_texts s "
    "WHERE s.id = texts.id AND s.field = texts.field AND s.state = texts.state)",
    "DELETE FROM snapshot_texts WHERE EXISTS (SELECT 1 FROM texts t "
    "WHERE t.id = snapshot_texts.id AND t.field = snapshot_texts.field AND t.base = 1)",
)
_V7_TRIGGERS = {
    "docs_keep_snapshot_delete": """
        CREATE TRIGGER docs_keep_snapshot_delete BEFORE DELETE ON docs WHEN old.base = 1 BEGIN
            INSERT OR REPLACE INTO snapshot_docs (id, doc) VALUES (old.id, old.doc);
        END""",
    "docs_keep_snapshot_update": """
        CREATE TRIGGER docs_keep_snapshot_update AFTER UPDATE OF doc ON docs
        WHEN old.base = 1 AND new.doc IS NOT old.doc BEGIN
            INSERT OR REPLACE INTO snapshot_docs (id, doc) VALUES (old.id, old.doc);
            UPDATE docs SET base = 0 WHERE id = new.id;
        END""",
    "texts_keep_snapshot_delete": """
        CREATE TRIGGER texts_keep_snapshot_delete BEFORE DELETE ON texts WHEN old.base = 1 BEGIN
            INSERT OR REPLACE INTO snapshot_texts (id, field, state) VALUES (old.id, old.field, old.state);
        END""",
    "texts_keep_snapshot_update": """
        CREATE TRIGGER texts_keep_snapshot_update AFTER UPDATE OF state ON texts
        WHEN old.base = 1 AND new.state IS NOT old.state BEGIN
            INSERT OR REPLACE INTO snapshot_texts (id, field, state) VALUES (old.id, old.field, old.state);
            UPDATE texts SET base = 0 WHERE rowid = new.rowid;
        END""",
}


def _v7(conn: Connection) -> None:
    """Issue 17: the snapshot becomes an overlay on the live rows (``SNAPSHOT_DOCS``): a
    snapshot row equal to its live row is dropped and the live row marked as the base."""
    db = conn.connection.driver_connection
    assert isinstance(db, sqlite3.Connection)
    for table in ("docs", "texts"):
        columns = {row[1] for row in db.execute(f"PRAGMA table_info({table})")}
        if "base" not in columns:  # a new file has it from its first version's tables
            db.execute(f"ALTER TABLE {table} ADD COLUMN base INTEGER NOT NULL DEFAULT 0")
    for name, sql in _V7_TRIGGERS.items():
        db.execute(f"DROP TRIGGER IF EXISTS {name}")
        db.execute(sql)
    for sql in SNAPSHOT_SQUASH:
        db.execute(sql)


#: MIGRATIONS[n] brings a file from version n-1 to n.
MIGRATIONS: dict[int, Callable[[Connection], None]] = {
    1: _v1,
    2: _v2,
    3: _v3,
    4: _v4,
    5: _v5,
    6: _v6,
    7: _v7,
}


def migrate(conn: Connection, current: int, target: int = SCHEMA_VERSION) -> None:
    """Apply migrations current+1 .. target in order, inside the caller's transaction."""
    for version in range(current + 1, target + 1):
        MIGRATIONS[version](conn)
        conn.execute(
            text("INSERT OR REPLACE INTO meta(key, value) VALUES ('schema_version', :v)"),
            {"v": str(version).encode()},
        )
