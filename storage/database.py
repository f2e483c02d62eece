"""Opening a replica file: SQLite in WAL mode with synchronous=FULL, explicit BEGIN IMMEDIATE
write transactions (pysqlite's legacy transaction handling off), and SQLite errors turned into
the typed errors users can act on."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import StaticPool

from .errors import WHAT_TO_DO, CorruptReplica, DatabaseLocked, DiskFull, NotAReplica, StorageError

#: How long a write waits for another process's lock before DatabaseLocked (milliseconds).
BUSY_TIMEOUT_MS = 5_000

_CORRUPT = {"SQLITE_NOTADB", "SQLITE_CORRUPT"}
_LOCKED = {"SQLITE_BUSY", "SQLITE_LOCKED"}
_FULL = {"SQLITE_FULL"}


#: Bytes the write-ahead log is cut back to after a checkpoint.
WAL_SIZE_LIMIT = 16 * 1024 * 1024


def open_engine(path: Path) -> Engine:
    """An engine on one file with one shared connection (one writer per replica process)."""
    engine = create_engine(
        f"sqlite:///{path}",
        poolclass=StaticPool,
        connect_args={"check_same_thread": False, "timeout": BUSY_TIMEOUT_MS / 1000},
    )

    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn: sqlite3.Connection, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
        # journal_mode=WAL rewrites the file header, so SqlStore sets it only once it knows
        # the file is a replica of a version it may write.
        dbapi_conn.execute("PRAGMA synchronous=FULL")
        dbapi_conn.execute("PRAGMA foreign_keys=ON")
        # INSERT OR REPLACE then fires the delete triggers of the row it replaces: the note
        # search index is told the values it forgets (storage.note_index).
        dbapi_conn.execute("PRAGMA recursive_triggers=ON")
        # A big transaction (a join, a migration) grows the write-ahead log to its size; without
        # a limit the file keeps that size on disk after every checkpoint (issue 17).
        dbapi_conn.execute(f"PRAGMA journal_size_limit={WAL_SIZE_LIMIT}")
        # A new file gives back its free pages on request; an existing one changes mode only at
        # a VACUUM (``reclaim_free_pages``), and setting the mode writes to it, so not here.
        if dbapi_conn.execute("PRAGMA page_count").fetchone()[0] == 0:
            dbapi_conn.execute("PRAGMA auto_vacuum=INCREMENTAL")

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        # Writes take the lock up front so they never fail half-way on an upgrade. Issued on
        # the driver connection: SQLAlchemy's statement machinery costs more than the BEGIN.
        driver = conn.connection.driver_connection
        assert isinstance(driver, sqlite3.Connection)
        driver.execute("BEGIN IMMEDIATE" if conn.info.get("write") else "BEGIN")

    return engine


def translate(exc: BaseException, path: Path) -> StorageError:
    """The typed error for a SQLite failure."""
    orig = exc.orig if isinstance(exc, DBAPIError) else exc
    name = getattr(orig, "sqlite_errorname", "")
    if name in _LOCKED:
        return DatabaseLocked(f"{path} is locked by another program; try again when it closes")
    if name in _FULL:
        return DiskFull(f"the disk holding {path} is full; nothing was saved, free space and retry")
    if name.startswith("SQLITE_IOERR"):
        return StorageError(f"{path}: the disk failed to read or write ({orig}); nothing was saved")
    if name in _CORRUPT:
        return CorruptReplica(f"{path} is damaged (or is not a library file); {WHAT_TO_DO}")
    return StorageError(f"{path} cannot be read or written ({_plain(orig)})")


def _plain(orig: BaseException | None) -> str:
    """SQLite's own words for a failure, without the statement that failed."""
    text = str(orig).split("\n", 1)[0]
    return text.split(" [SQL:", 1)[0][:120]


#: The first bytes of every SQLite file.
SQLITE_HEADER = b"SQLite format 3\x00"


def check_library_file(path: Path) -> None:
    """Refuse, before anything opens it, a file that cannot be a library: an empty one (a
    schema is never written into a file that was meant to hold a library), or one that is not
    an SQLite file at all. A missing file is left to the caller."""
    try:
        with path.open("rb") as f:
            head = f.read(len(SQLITE_HEADER))
    except FileNotFoundError:
        return
    except IsADirectoryError:
        raise NotAReplica(f"{path} is a folder, not a library file; move it aside") from None
    except OSError as exc:
        raise StorageError(f"{path} cannot be read ({exc.strerror or exc})") from None
    if not head:
        raise NotAReplica(f"{path} is empty (0 bytes): the library in it was lost; {WHAT_TO_DO}")
    if head != SQLITE_HEADER:
        raise CorruptReplica(f"{path} is not a library file (or its first page is damaged); {WHAT_TO_DO}")


@contextmanager
def translated(path: Path) -> Iterator[None]:
    try:
        yield
    except (DBAPIError, sqlite3.Error) as exc:
        raise translate(exc, path) from exc


#: ``PRAGMA auto_vacuum``'s value for incremental auto-vacuum.
INCREMENTAL = 2
#: Free pages a file keeps for the next writes to reuse before any are given back (1 MB).
KEEP_FREE_PAGES = 256


def reclaim_free_pages(db: sqlite3.Connection, path: Path, *, in_transaction: bool) -> None:
    """Give a file's free pages back to the file system once there are more than
    ``KEEP_FREE_PAGES`` (truncation deletes rows, and a file never shrinks by itself): in the
    caller's transaction if it has one open, else in one of its own.

    A file written before schema 6 has no auto-vacuum: it is switched by one VACUUM, which
    SQLite runs only outside a transaction, so only then (on open). If another connection is
    reading or the disk has no room for the copy, the file stays as it is until a later open.
    """
    if db.execute("PRAGMA auto_vacuum").fetchone()[0] != INCREMENTAL:
        if not in_transaction:
            _switch_to_incremental(db, path)
        return
    free = db.execute("PRAGMA freelist_count").fetchone()[0]
    if free <= KEEP_FREE_PAGES:
        return
    if in_transaction:
        _give_back(db, free)
        return
    db.execute("BEGIN IMMEDIATE")  # one transaction, not one fsync'd commit per page
    try:
        _give_back(db, free)
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


def _give_back(db: sqlite3.Connection, pages: int) -> None:
    # Each step gives back one page, and the sqlite3 module steps a statement without result
    # columns only once: so once per free page.
    for _ in range(pages):
        db.execute("PRAGMA incremental_vacuum")


def _switch_to_incremental(db: sqlite3.Connection, path: Path) -> None:
    db.execute("PRAGMA auto_vacuum=INCREMENTAL")
    try:
        db.execute("VACUUM")
    except sqlite3.OperationalError as exc:
        if getattr(exc, "sqlite_errorname", "") in _LOCKED | _FULL:
            return
        raise translate(exc, path) from exc
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # the copy went through the WAL: shrink it
