"""The replica's SQLite schema, its version, and the forward migrations applied on open.

One file per library. ``docs`` holds each entity's CRDT document (the truth); ``calendars``,
``events`` and ``notes`` are materialized views of the winning values of live entities, kept in
the same transaction, so the UI can query and sort without decoding documents.
"""

from __future__ import annotations

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

#: The version this build writes; files with a higher one are refused, lower ones migrated.
SCHEMA_VERSION = 2

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
    Index("log_csn", "csn", unique=True),
    sqlite_with_rowid=False,
)

docs = Table(
    "docs",
    metadata,
    Column("id", String, primary_key=True),
    Column("kind", String, nullable=False),
    Column("doc", LargeBinary, nullable=False),
    Index("docs_kind", "kind"),
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
    sqlite_with_rowid=False,
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
    sqlite_with_rowid=False,
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
)

#: Materialized table and columns of each kind that has one.
MATERIALIZED: dict[str, Table] = {"calendar": calendars, "event": events, "note": notes}


def _v1(conn: Connection) -> None:
    metadata.create_all(conn, tables=[t for t in metadata.sorted_tables if t is not notices])


def _v2(conn: Connection) -> None:
    notices.create(conn)


#: MIGRATIONS[n] brings a file from version n-1 to n.
MIGRATIONS: dict[int, Callable[[Connection], None]] = {1: _v1, 2: _v2}


def migrate(conn: Connection, current: int, target: int = SCHEMA_VERSION) -> None:
    """Apply migrations current+1 .. target in order, inside the caller's transaction."""
    for version in range(current + 1, target + 1):
        MIGRATIONS[version](conn)
        conn.execute(
            text("INSERT OR REPLACE INTO meta(key, value) VALUES ('schema_version', :v)"),
            {"v": str(version).encode()},
        )
