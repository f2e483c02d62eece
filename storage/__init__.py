"""The durable replica: the core's engine on a SQLite file through SQLAlchemy 2.

A local write is durable when its call returns; a received batch and its version vector
commit in one transaction; reopening restores exactly the same state and log.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from localfirst import Clock, Replica, Snapshot

from .database import check_library_file
from .errors import CorruptReplica, DatabaseLocked, DiskFull, NewerSchema, NotAReplica, StorageError
from .schema import SCHEMA_VERSION
from .store import SqlStore

__all__ = [
    "SCHEMA_VERSION",
    "CorruptReplica",
    "DatabaseLocked",
    "DiskFull",
    "NewerSchema",
    "NotAReplica",
    "SqlStore",
    "StorageError",
    "create_library",
    "join_library",
    "open_replica",
]


def open_replica(path: Path | str, clock: Clock | None = None) -> Replica:
    """Open an existing replica file (migrating its schema forward if it is older)."""
    check_library_file(Path(path))
    store = SqlStore(path)
    try:
        store.reclaim_free_pages()  # a file from before schema 6: switched to auto-vacuum once
        return Replica(store, clock)
    except BaseException:
        store.close()
        raise


def create_library(
    path: Path | str,
    device: str,
    *,
    device_name: str = "",
    members: Mapping[str, str] | None = None,
    name: str = "",
    library: str | None = None,
    clock: Clock | None = None,
) -> Replica:
    """Create a new file holding a new library, with this device as its primary."""
    store = SqlStore(path, create=True)
    try:
        return Replica.new_library(
            store,
            device,
            device_name=device_name,
            members=members,
            name=name,
            library=library,
            clock=clock,
        )
    except BaseException:
        store.close()
        raise


def join_library(path: Path | str, device: str, snapshot: Snapshot, clock: Clock | None = None) -> Replica:
    """Create a new file holding a library this device joined (from its snapshot)."""
    store = SqlStore(path, create=True)
    try:
        return Replica.join(store, device, snapshot, clock)
    except BaseException:
        store.close()
        raise
