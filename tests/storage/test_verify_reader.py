"""The full check read from one consistent snapshot of the file (``storage.verify_reader``):
writes landing while it reads are not damage, a check made stale by a truncation is refused,
and damage in the file is found exactly as ``verify(full=True)`` on the store's own connection
finds it. Real SQLite files, a second real connection."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from contextlib import closing
from dataclasses import replace
from pathlib import Path

import pytest

from localfirst import Replica
from localfirst.integrity import STATE_MISMATCH, TEXT_MISMATCH, state_digest_of
from storage import SqlStore, create_library
from storage.errors import CorruptReplica
from storage.verify_reader import FullCheck, fold_states, read_full_check


def _library(path: Path, notes: int = 20) -> Replica:
    r = create_library(path, "dev-a")
    for i in range(notes):
        r.put("note", f"n{i:03}", {"title": f"t{i}", "body": f"body {i}"})
        r.commit()
    return r


def _store(r: Replica) -> SqlStore:
    store = r.store
    assert isinstance(store, SqlStore)
    return store


def _folded(path: Path) -> bytes:
    with closing(sqlite3.connect(path)) as conn:
        return state_digest_of(fold_states(conn)[2])


def _read_while(path: Path, store: SqlStore, writes: object) -> FullCheck:
    """A full check of the file as it was before ``writes()`` ran on the store's connection."""
    job = store.full_check_job()
    with closing(sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True, isolation_level=None)) as conn:
        conn.execute("BEGIN")
        conn.execute("SELECT count(*) FROM meta").fetchone()  # the snapshot is fixed here
        assert callable(writes)
        writes()
        found = read_full_check(conn, path)
        conn.execute("COMMIT")
    return replace(found, token=job.token)


def test_writes_landing_during_the_check_are_not_damage(tmp_path: Path) -> None:
    path = tmp_path / "lib.sqlite"
    r = _library(path)
    store = _store(r)
    before = r.csn

    def write_more() -> None:
        for i in range(5):
            r.put("note", f"late{i}", {"title": "late", "body": "written during the check"})
            r.commit()
        r.put("note", "n001", {"title": "changed during the check"})
        r.commit()

    found = _read_while(path, store, write_more)
    assert found.chain.ok
    assert found.chain.csn == before  # it saw the file as it was before the writes
    assert found.problem is None
    assert store.take_full_check(found)
    report = r.verify(full=True)
    assert report.ok, report.describe()
    assert report.csn == r.csn == before + 6
    assert report.checked == r.csn  # the snapshot's rows, then the six committed since
    assert r.damaged is None
    assert store.verified_mark() == (r.csn, r.chain)
    # The hashes read before the writes were not kept: the digest is the one the rows fold to.
    assert r.state_digest() == _folded(path)
    r.close()


def test_a_check_made_stale_by_a_truncation_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "lib.sqlite"
    r = _library(path)
    store = _store(r)
    found = _read_while(path, store, lambda: r.truncate(r.csn - 3))
    assert not store.take_full_check(found)
    report = r.verify(full=True)  # read again on the store's connection
    assert report.ok, report.describe()
    assert report.csn == r.csn
    r.close()


def _edit_doc(conn: sqlite3.Connection) -> int:
    (doc,) = conn.execute("SELECT doc FROM docs WHERE id = 'n004'").fetchone()
    return conn.execute("UPDATE docs SET doc = ? WHERE id = 'n004'", (doc.replace(b"t4", b"ZZ"),)).rowcount


def _drop_body_ops(conn: sqlite3.Connection) -> int:
    return conn.execute("DELETE FROM text_ops WHERE id = 'n004'").rowcount


@pytest.mark.parametrize(
    ("damage", "problem"), [(_edit_doc, STATE_MISMATCH), (_drop_body_ops, TEXT_MISMATCH)]
)
def test_damage_is_found_by_a_check_read_elsewhere(
    tmp_path: Path, damage: Callable[[sqlite3.Connection], int], problem: str
) -> None:
    path = tmp_path / "lib.sqlite"
    r = _library(path)
    store = _store(r)
    with closing(sqlite3.connect(path)) as conn, conn:
        changed = damage(conn)
    assert changed >= 1
    job = store.full_check_job()
    found = job.run()
    assert found.problem == problem
    assert store.take_full_check(found)
    report = r.verify(full=True)
    assert not report.ok
    assert report.problem == problem
    assert r.damaged == report
    assert r.verify().problem == problem  # remembered: the next quick check says so too
    r.close()


def test_a_cancelled_check_stops_with_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "lib.sqlite"
    r = _library(path)
    job = _store(r).full_check_job()
    job.cancel()
    with pytest.raises(CorruptReplica, match="could not be read to verify it: interrupted"):
        job.run()
    r.close()
