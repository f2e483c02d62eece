"""Regression tests for defects found in the durable replica (storage/), each named by its bug."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

import storage
from storage import SCHEMA_VERSION, CorruptReplica, NewerSchema


def make_replica(path: Path) -> None:
    replica = storage.create_library(path, "P")
    try:
        replica.create("note", {"title": "a"}, entity="n")
    finally:
        store = replica._store
        assert isinstance(store, storage.SqlStore)
        store.close()


def test_newer_schema_in_rollback_journal_mode_is_left_untouched(tmp_path: Path) -> None:
    """Bug: NewerSchema said "the file was not touched", but the connect hook had already run
    ``PRAGMA journal_mode=WAL`` before the version check, rewriting the header of a file that a
    newer app keeps in rollback-journal mode (bytes 18-19 went from 1 to 2)."""
    path = tmp_path / "future.db"
    make_replica(path)
    with closing(sqlite3.connect(path, isolation_level=None)) as conn:
        conn.execute(
            "UPDATE meta SET value = ? WHERE key = 'schema_version'", (b"%d" % (SCHEMA_VERSION + 1),)
        )
        assert conn.execute("PRAGMA journal_mode=DELETE").fetchone() == ("delete",)
    data = path.read_bytes()

    with pytest.raises(NewerSchema, match="not touched"):
        storage.open_replica(path)
    assert path.read_bytes()[18:20] == data[18:20]
    assert path.read_bytes() == data


@pytest.mark.parametrize(
    "damage",
    [
        "UPDATE meta SET value = x'c1' WHERE key = 'library'",
        "DELETE FROM meta WHERE key = 'snapshot_vector'",
    ],
    ids=["undecodable-meta-value", "missing-meta-key"],
)
def test_damaged_replica_metadata_is_a_corrupt_replica(tmp_path: Path, damage: str) -> None:
    """Bug: a replica file whose pages are sound but whose metadata is damaged escaped as a raw
    ``msgpack.exceptions.FormatError`` (empty message) or ``KeyError('snapshot_vector')``, not
    as a ``StorageError`` with a clear message the app can show."""
    path = tmp_path / "damaged.db"
    make_replica(path)
    with closing(sqlite3.connect(path, isolation_level=None)) as conn:
        conn.execute(damage)
    with pytest.raises(CorruptReplica, match="damaged"):
        storage.open_replica(path)
