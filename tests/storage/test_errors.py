"""Errors users can hit with a replica file: each is a typed error with a clear message, nothing
saved is lost, and the replica (or the app) keeps working once the cause is gone.

DESIGN.md, "Bad input and faults": disk full, a locked database, a missing or corrupt file.
"""

from __future__ import annotations

import os
import random
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine

import storage
import storage.database
from localfirst import ManualClock, Replica
from storage import (
    SCHEMA_VERSION,
    CorruptReplica,
    DatabaseLocked,
    DiskFull,
    NewerSchema,
    NotAReplica,
    SqlStore,
    StorageError,
)
from storage.schema import migrate

from .conftest import Replicas, lift_cap, read_only, set_max_pages, state_of

#: Busy timeout the lock tests use, so a refused write takes a fraction of a second.
SHORT_TIMEOUT_MS = 150

#: A child process that takes the write lock on a file and holds it until told to let go.
LOCKER = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
sys.stdin.readline()
conn.execute("ROLLBACK")
conn.close()
"""


def schema_version(path: Path) -> bytes:
    with closing(read_only(path)) as conn:
        row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    return bytes(row[0])


@pytest.fixture
def short_busy_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    """``open_engine`` reads ``BUSY_TIMEOUT_MS`` when a file is opened: patch it before opening."""
    monkeypatch.setattr(storage.database, "BUSY_TIMEOUT_MS", SHORT_TIMEOUT_MS)


@contextmanager
def lock_in_this_process(path: Path) -> Iterator[None]:
    """A raw sqlite3 connection in this process holding BEGIN IMMEDIATE on the file."""
    with closing(sqlite3.connect(path, isolation_level=None)) as conn:
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            conn.execute("ROLLBACK")


@contextmanager
def lock_in_another_process(path: Path) -> Iterator[None]:
    """Another program holding the file's write lock until the block ends."""
    proc = subprocess.Popen(
        [sys.executable, "-c", LOCKER, str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline() == b"locked\n"
        yield
        _, err = proc.communicate(b"go\n", timeout=10)
        assert proc.returncode == 0, err
    finally:
        if proc.returncode is None:
            proc.kill()
            proc.communicate()


LOCKERS = {"same-process": lock_in_this_process, "other-process": lock_in_another_process}


# -- a locked database ---------------------------------------------------------------------------


@pytest.mark.usefixtures("short_busy_timeout")
@pytest.mark.parametrize("locker", sorted(LOCKERS))
def test_locked_database_refuses_the_write_then_it_succeeds(replicas: Replicas, locker: str) -> None:
    clock = ManualClock(100)
    r = replicas.create("lib", "P", clock=clock)
    r.create("note", {"title": "saved before"}, entity="old")
    before = state_of(r)

    with LOCKERS[locker](replicas.path("lib")):
        with pytest.raises(DatabaseLocked) as info:
            r.create("note", {"title": "while locked"}, entity="new")
        message = str(info.value)
        assert str(replicas.path("lib")) in message
        assert "locked by another program" in message
        assert "try again" in message
        # Nothing moved, in memory or on disk, and reading still works (WAL readers never wait).
        assert state_of(r) == before
        assert r.values("old") == {"title": "saved before"}
        assert r.get("new") is None
        # A received batch and a commit are refused the same way.
        with pytest.raises(DatabaseLocked):
            r.commit()
        assert r.csn == 0

    # The lock is gone: the same write succeeds, with the stamp it would have had.
    r.create("note", {"title": "while locked"}, entity="new")
    assert r.log_labels() == ["inf:100:P", "inf:101:P"]
    assert r.commit().commits == 2
    r = replicas.reopen(r)
    assert r.log_labels() == ["1:100:P", "2:101:P"]
    assert r.values("old") == {"title": "saved before"}
    assert r.values("new") == {"title": "while locked"}


@pytest.mark.usefixtures("short_busy_timeout")
def test_locked_database_refuses_a_received_batch_whole(replicas: Replicas) -> None:
    p = replicas.create("p", "P", members={"A": ""}, clock=ManualClock(10))
    a = replicas.join("a", "A", p.genesis(), ManualClock(20))
    for i in range(5):
        a.create("note", {"title": f"t{i}"}, entity=f"n{i}")
    batch = a.batch_for(p.summary())
    before = state_of(p)
    with lock_in_another_process(replicas.path("p")), pytest.raises(DatabaseLocked):
        p.receive(batch)
    assert state_of(p) == before
    assert state_of(replicas.reopen(p)) == before
    p = replicas.reopen(p)
    p.receive(batch)
    assert p.log_labels() == [f"inf:{20 + i}:A" for i in range(5)]
    assert sorted(p.entities("note")) == [f"n{i}" for i in range(5)]


@pytest.mark.usefixtures("short_busy_timeout")
def test_locked_database_on_open_when_a_migration_is_due(replicas: Replicas) -> None:
    """Opening an old file needs the write lock to migrate; while it is held: DatabaseLocked."""
    r = replicas.create("lib", "P")
    r.create("note", {"title": "kept"}, entity="n")
    replicas.close(r)
    make_version_1(replicas.path("lib"))
    with lock_in_this_process(replicas.path("lib")), pytest.raises(DatabaseLocked):
        replicas.open("lib")
    assert schema_version(replicas.path("lib")) == b"1"
    r = replicas.open("lib")
    assert schema_version(replicas.path("lib")) == str(SCHEMA_VERSION).encode()
    assert r.values("n") == {"title": "kept"}


def test_busy_timeout_is_read_when_the_file_is_opened(
    replicas: Replicas, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A store opened before the patch keeps the default wait; one opened after uses the patch."""
    assert storage.database.BUSY_TIMEOUT_MS == 5_000
    monkeypatch.setattr(storage.database, "BUSY_TIMEOUT_MS", 1234)
    store = replicas.store("lib", create=True)
    raw = store._conn.connection.dbapi_connection
    assert raw is not None
    assert raw.execute("PRAGMA busy_timeout").fetchone() == (1234,)


# -- disk full -----------------------------------------------------------------------------------


def test_disk_full_on_a_local_write_then_it_succeeds(replicas: Replicas) -> None:
    clock = ManualClock(5)
    r = replicas.create("lib", "P", clock=clock)
    for i in range(3):
        r.create("note", {"title": f"t{i}", "body": "b" * 100}, entity=f"n{i}")
    before = state_of(r)
    store = replicas.store_of(r)
    set_max_pages(store, None)

    big = {"title": "big", "body": "x" * 50_000}
    with pytest.raises(DiskFull) as info:
        r.create("note", big, entity="big")
    assert "full" in str(info.value)
    assert "nothing was saved" in str(info.value)
    assert str(replicas.path("lib")) in str(info.value)
    assert state_of(r) == before
    assert r.get("big") is None
    # Small writes that fit in free space on existing pages may still work; reading does.
    assert r.values("n1") == {"title": "t1", "body": "b" * 100}

    lift_cap(store)
    r.create("note", big, entity="big")
    assert r.values("big") == big
    assert r.log_labels() == ["inf:5:P", "inf:6:P", "inf:7:P", "inf:8:P"]
    r = replicas.reopen(r)
    assert r.values("big") == big
    assert r.log_labels() == ["inf:5:P", "inf:6:P", "inf:7:P", "inf:8:P"]
    assert replicas.store_of(r).integrity_check() == "ok"


def test_disk_full_on_a_received_batch_keeps_the_replica_working(replicas: Replicas) -> None:
    p = replicas.create("p", "P", members={"A": ""}, clock=ManualClock(1))
    a = replicas.join("a", "A", p.genesis(), ManualClock(1000))
    for i in range(100):
        a.create("note", {"title": f"t{i}", "body": f"{i}" * 1000}, entity=f"n{i}")
    p.create("note", {"title": "mine"}, entity="mine")
    batch = a.batch_for(p.summary())
    before = state_of(p)
    store = replicas.store_of(p)
    set_max_pages(store, None)
    with pytest.raises(DiskFull):
        p.receive(batch)
    assert state_of(p) == before
    assert p.entities("note").keys() == {"mine"}

    # Space is freed: the same replica object takes the same batch.
    lift_cap(store)
    p.receive(batch)
    assert p.log_labels() == ["inf:1:P"] + [f"inf:{1000 + i}:A" for i in range(100)]
    assert len(p.entities("note")) == 101
    assert p.commit().commits == 101
    p = replicas.reopen(p)
    assert len(p.entities("note")) == 101
    assert p.csn == 101
    assert replicas.store_of(p).integrity_check() == "ok"


# -- missing, corrupt and foreign files ----------------------------------------------------------


def test_missing_file_is_not_a_replica_and_is_not_created(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.db"
    with pytest.raises(NotAReplica) as info:
        storage.open_replica(path)
    assert str(path) in str(info.value)
    assert "does not exist" in str(info.value)
    assert sorted(os.listdir(tmp_path)) == []


def test_create_in_a_missing_folder_is_a_storage_error(tmp_path: Path) -> None:
    path = tmp_path / "no such folder" / "lib.db"
    with pytest.raises(StorageError) as info:
        storage.create_library(path, "P")
    assert str(path) in str(info.value)
    assert not path.parent.exists()


def valid_replica_bytes(replicas: Replicas) -> bytes:
    r = replicas.create("good", "P")
    for i in range(20):
        r.create("note", {"title": f"t{i}", "body": "text " * 200}, entity=f"n{i}")
    replicas.close(r)
    return replicas.path("good").read_bytes()


@pytest.mark.parametrize("damage", ["random-bytes", "header-overwritten", "truncated", "zeroed-header"])
def test_corrupt_file_is_refused_on_open(replicas: Replicas, damage: str) -> None:
    rng = random.Random(damage)
    data = bytearray(valid_replica_bytes(replicas))
    assert data.startswith(b"SQLite format 3\x00")
    if damage == "random-bytes":
        data = bytearray(rng.randbytes(len(data)))
    elif damage == "header-overwritten":
        data[:100] = rng.randbytes(100)
    elif damage == "zeroed-header":
        data[:4096] = bytes(4096)
    else:
        del data[len(data) // 2 :]
    path = replicas.path("bad")
    path.write_bytes(bytes(data))

    with pytest.raises(CorruptReplica) as info:
        replicas.open("bad")
    assert str(path) in str(info.value)
    assert "damaged" in str(info.value)
    # The damaged file is left as it was for recovery tools; nothing else was created next to it.
    assert path.read_bytes() == bytes(data)
    assert sorted(p.name for p in replicas.dir.iterdir()) == ["bad.db", "good.db"]
    # The app keeps running: another, sound file opens fine.
    good = replicas.open("good")
    assert len(good.entities("note")) == 20


def test_foreign_sqlite_file_is_not_a_replica_and_its_data_stays(tmp_path: Path) -> None:
    path = tmp_path / "contacts.db"
    with closing(sqlite3.connect(path, isolation_level=None)) as conn:
        conn.execute("CREATE TABLE contacts (name TEXT)")
        conn.execute("INSERT INTO contacts VALUES ('Ada'), ('Grace')")
    with pytest.raises(NotAReplica) as info:
        storage.open_replica(path)
    assert str(path) in str(info.value)
    assert "holds no replica" in str(info.value)
    with closing(read_only(path)) as conn:
        assert conn.execute("SELECT name FROM contacts ORDER BY name").fetchall() == [("Ada",), ("Grace",)]
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    # Asking again gives the same answer (the first attempt did not half-make a replica).
    with pytest.raises(NotAReplica):
        storage.open_replica(path)


def test_empty_file_is_not_a_replica(tmp_path: Path) -> None:
    path = tmp_path / "empty.db"
    path.write_bytes(b"")
    with pytest.raises(NotAReplica):
        storage.open_replica(path)


def test_unreadable_schema_version_is_a_storage_error(replicas: Replicas) -> None:
    replicas.close(replicas.create("lib", "P"))
    path = replicas.path("lib")
    with closing(sqlite3.connect(path, isolation_level=None)) as conn:
        conn.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (b"two",))
    data = path.read_bytes()
    with pytest.raises(StorageError) as info:
        storage.open_replica(path)
    assert "unreadable schema version" in str(info.value)
    assert path.read_bytes() == data


# -- schema versions -----------------------------------------------------------------------------


def test_newer_schema_is_refused_and_the_file_is_untouched(replicas: Replicas) -> None:
    r = replicas.create("lib", "P")
    r.create("note", {"title": "from the future"}, entity="n")
    replicas.close(r)
    path = replicas.path("lib")
    newer = str(SCHEMA_VERSION + 1).encode()
    with closing(sqlite3.connect(path, isolation_level=None)) as conn:
        conn.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (newer,))
    data = path.read_bytes()

    with pytest.raises(NewerSchema) as info:
        storage.open_replica(path)
    message = str(info.value)
    assert f"schema version {SCHEMA_VERSION + 1}" in message
    assert f"reads up to {SCHEMA_VERSION}" in message
    assert "not touched" in message
    assert path.read_bytes() == data
    assert sorted(p.name for p in replicas.dir.iterdir()) == ["lib.db"]
    assert schema_version(path) == newer


def make_version_1(path: Path) -> None:
    """Turn a current replica file into what version 1 wrote: no notices table."""
    with closing(sqlite3.connect(path, isolation_level=None)) as conn:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("DROP TABLE notices")
        conn.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (b"1",))
        conn.execute("COMMIT")


def tables(path: Path) -> set[str]:
    with closing(read_only(path)) as conn:
        return {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def test_forward_migration_of_a_version_1_replica(replicas: Replicas) -> None:
    clock = ManualClock(3)
    r = replicas.create("lib", "P", members={"A": "phone"}, clock=clock)
    r.create("note", {"title": "old", "tags": ["a", "b"]}, entity="n1")
    r.create("calendar", {"name": "Room", "bookable": True}, entity="room")
    r.commit()
    r.create("note", {"title": "tentative"}, entity="n2")
    before = state_of(r)
    replicas.close(r)
    make_version_1(replicas.path("lib"))
    assert "notices" not in tables(replicas.path("lib"))

    r = replicas.open("lib", clock)
    assert schema_version(replicas.path("lib")) == str(SCHEMA_VERSION).encode()
    assert "notices" in tables(replicas.path("lib"))
    assert r.notices() == []
    assert state_of(r) == before
    assert r.log_labels() == ["1:3:P", "2:4:P", "inf:5:P"]
    # The migrated file takes new writes, and notices can be recorded in it.
    r.book("room", [(10, 20)], {"title": "meeting"}, event="e1")
    r.commit()
    assert r.booking("e1") is not None
    assert replicas.store_of(r).integrity_check() == "ok"
    r = replicas.reopen(r)
    assert r.values("n1") == {"title": "old", "tags": ["a", "b"]}
    assert r.log_labels() == ["1:3:P", "2:4:P", "3:5:P", "4:6:P"]


def test_forward_migration_from_a_bare_version_1_schema(tmp_path: Path) -> None:
    """A file holding only version 1's schema (built by migration 1 itself) migrates to the
    current version on open; it holds no replica yet, so a library can then be created in it."""
    path = tmp_path / "v1.db"
    engine = create_engine(f"sqlite:///{path}")
    try:
        with engine.begin() as conn:
            migrate(conn, 0, target=1)
    finally:
        engine.dispose()
    assert schema_version(path) == b"1"
    assert "notices" not in tables(path)

    with SqlStore(path) as store:
        assert schema_version(path) == str(SCHEMA_VERSION).encode()
        assert "notices" in tables(path)
        assert store.notices() == []
        with pytest.raises(NotAReplica):
            store.header()
        r = Replica.new_library(store, "P", clock=ManualClock(1))
        r.create("note", {"title": "first"}, entity="n")
        assert r.notices() == []
    r = storage.open_replica(path)
    try:
        assert r.values("n") == {"title": "first"}
        assert r.log_labels() == ["inf:1:P"]
    finally:
        store_of = r._store
        assert isinstance(store_of, SqlStore)
        store_of.close()


def test_creating_over_an_existing_replica_is_refused(replicas: Replicas) -> None:
    r = replicas.create("lib", "P", clock=ManualClock(1))
    r.create("note", {"title": "precious"}, entity="n")
    before = state_of(r)
    store = replicas.store("lib", create=True)
    with pytest.raises(StorageError) as info:
        Replica.new_library(store, "Q")
    assert "already holds a replica" in str(info.value)
    assert state_of(r) == before
    assert state_of(replicas.reopen(r)) == before
