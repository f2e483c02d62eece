"""Fixtures for the storage tests: replica files in a temporary directory, every store closed.

``replicas`` hands out durable replicas on SQLite files under ``tmp_path`` and closes each
``SqlStore`` at teardown (pytest runs with ``filterwarnings=error``, so a store left open would
fail the test with a ResourceWarning). ``state_of`` captures everything a user can observe of a
replica, so a test can compare it before and after a reopen, a crash or a refused batch.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Mapping
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

import storage
from localfirst import Clock, Replica, Snapshot
from storage import SqlStore


class Replicas:
    """Opens replica files under one directory and remembers every store to close it."""

    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self._stores: list[SqlStore] = []

    def path(self, name: str) -> Path:
        return self.dir / f"{name}.db"

    def store(self, name: str, *, create: bool = False) -> SqlStore:
        """A bare store on ``<name>.db`` (kept, so the test can reach its connection)."""
        store = SqlStore(self.path(name), create=create)
        self._stores.append(store)
        return store

    def create(
        self,
        name: str,
        device: str,
        *,
        members: Mapping[str, str] | None = None,
        clock: Clock | None = None,
        library: str | None = None,
    ) -> Replica:
        """A new library on ``<name>.db`` with ``device`` as its primary."""
        store = self.store(name, create=True)
        return Replica.new_library(store, device, members=members, clock=clock, library=library)

    def join(self, name: str, device: str, genesis: Snapshot, clock: Clock | None = None) -> Replica:
        """A new file ``<name>.db`` joining the library of ``genesis``."""
        return Replica.join(self.store(name, create=True), device, genesis, clock)

    def open(self, name: str, clock: Clock | None = None) -> Replica:
        """Open ``<name>.db`` through the public entry point, ``storage.open_replica``."""
        replica = storage.open_replica(self.path(name), clock)
        self._stores.append(self.store_of(replica))
        return replica

    def store_of(self, replica: Replica) -> SqlStore:
        store = replica._store
        assert isinstance(store, SqlStore)
        return store

    def close(self, replica: Replica) -> None:
        store = self.store_of(replica)
        store.close()
        self._stores = [s for s in self._stores if s is not store]

    def reopen(self, replica: Replica, clock: Clock | None = None) -> Replica:
        """Close the replica's file and open it again (same clock unless told otherwise)."""
        name = self.store_of(replica).path.stem
        self.close(replica)
        return self.open(name, clock if clock is not None else replica.clock)

    def close_all(self) -> None:
        while self._stores:
            self._stores.pop().close()


@pytest.fixture
def replicas(tmp_path: Path) -> Iterator[Replicas]:
    """Durable replicas on files under ``tmp_path``, all closed at teardown."""
    files = Replicas(tmp_path)
    try:
        yield files
    finally:
        files.close_all()


def state_of(replica: Replica) -> dict[str, Any]:
    """Everything a user (or a peer) can observe of a replica, as plain comparable data."""
    docs = {key: (doc.kind, doc.fields, doc.exists) for key, doc in replica._store.iter_docs()}
    events = sorted(key for key, (kind, _, _) in docs.items() if kind == "event")
    ordered = [entry.write.id for entry in replica.log() if entry.write.ordered is not None]
    return {
        "device": replica.device,
        "library": replica.library,
        "primary": replica.primary,
        "log": replica.log_labels(),
        "vector": replica.vector.as_dict(),
        "csn": replica.csn,
        "truncated": replica.truncated_csn,
        "summary": replica.summary(),
        "members": replica.members(),
        "docs": docs,
        "conflicts": replica.conflicts(),
        "bookings": {event: replica.booking(event) for event in events},
        "outcomes": {wid: replica.outcome(wid) for wid in ordered},
        "notices": replica.notices(),
        "genesis": replica.genesis(),
    }


def read_only(path: Path) -> sqlite3.Connection:
    """A plain sqlite3 connection that cannot change the file (close it with ``closing``)."""
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True)


def table_rows(path: Path, table: str) -> dict[str, tuple[Any, ...]]:
    """A materialized table read straight from the file: id -> the other columns."""
    with closing(read_only(path)) as conn:
        rows = conn.execute(f"SELECT * FROM {table}").fetchall()
    return {row[0]: tuple(row[1:]) for row in rows}


def set_max_pages(store: SqlStore, pages: int | None) -> None:
    """Cap the file at ``pages`` pages (None: at its current size) on the store's own connection,
    so the next write that needs a new page fails as on a full disk."""
    with store._conn.begin():
        conn = store._conn
        if pages is None:
            pages = int(conn.exec_driver_sql("PRAGMA page_count").scalar_one())
        conn.exec_driver_sql(f"PRAGMA max_page_count = {pages}")


def lift_cap(store: SqlStore) -> None:
    set_max_pages(store, 2**30)
