"""Issue 12 defect 6: corruption is not noticed, and "identical" is claimed over different data.

Real SQLite files edited behind the store's back: ``verify`` recomputes the chain from the rows
and names the first damaged CSN; a damaged replica claims nothing and serves no welcome.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from localfirst import Replica
from localfirst.integrity import CHAIN_MISMATCH, MISSING, STATE_MISMATCH, UNDECODABLE, ReplicaDamaged
from tests.storage.conftest import Replicas


def _library(replicas: Replicas) -> Replica:
    a = replicas.create("a", "dev-a")
    for i in range(1, 6):
        a.put("note", f"n{i}", {"title": f"t{i}"})
    a.commit()  # the primary commits
    assert a.csn == 5
    return a


def _edit(path: Path, sql: str, *params: object) -> None:
    with closing(sqlite3.connect(path)) as conn, conn:
        conn.execute(sql, params)


def test_corruption_not_noticed_edited_log_row_is_reported_at_its_csn(replicas: Replicas) -> None:
    a = _library(replicas)
    path = replicas.store_of(a).path
    assert a.verify(full=True).ok
    replicas.close(a)
    with closing(sqlite3.connect(path)) as conn:
        (csn, data), *_ = conn.execute(
            "SELECT csn, data FROM log WHERE csn IS NOT NULL ORDER BY csn"
        ).fetchall()[1:]
    assert b"t2" in data
    _edit(path, "UPDATE log SET data = ? WHERE csn = ?", data.replace(b"t2", b"XX"), csn)
    a = replicas.open("a")
    report = a.verify(full=True)
    assert (report.ok, report.csn, report.problem) == (False, 2, CHAIN_MISMATCH)
    assert a.damaged == report
    with pytest.raises(ReplicaDamaged, match="commit #2"):
        a.check_sound()
    with pytest.raises(ReplicaDamaged):
        a.welcome()  # nothing bad is handed to a joining device


def test_corruption_not_noticed_truncated_row_is_undecodable(replicas: Replicas) -> None:
    a = _library(replicas)
    path = replicas.store_of(a).path
    replicas.close(a)
    _edit(path, "UPDATE log SET data = substr(data, 1, 5) WHERE csn = 4")
    a = replicas.open("a")
    report = a.verify()  # the first check in a process is full
    assert (report.ok, report.csn, report.problem) == (False, 4, UNDECODABLE)
    with pytest.raises(ReplicaDamaged):
        a.welcome()


def test_corruption_not_noticed_missing_row(replicas: Replicas) -> None:
    a = _library(replicas)
    path = replicas.store_of(a).path
    replicas.close(a)
    _edit(path, "DELETE FROM log WHERE csn = 3")
    a = replicas.open("a")
    report = a.verify(full=True)
    assert (report.ok, report.csn, report.problem) == (False, 3, MISSING)


def test_corruption_not_noticed_incremental_mark_and_recovery(replicas: Replicas) -> None:
    a = _library(replicas)
    assert a.verify().checked == 5
    a.put("note", "n6", {"title": "t6"})
    a.commit()
    again = a.verify()
    assert (again.ok, again.csn, again.checked) == (True, 6, 1)  # only what is new
    assert a.verify().checked == 0
    path = replicas.store_of(a).path
    replicas.close(a)
    with closing(sqlite3.connect(path)) as conn:
        (data,) = conn.execute("SELECT data FROM log WHERE csn = 6").fetchone()
    _edit(path, "UPDATE log SET data = ? WHERE csn = 6", data.replace(b"t6", b"Z6"))
    a = replicas.open("a")
    assert not a.verify().ok
    _edit(path, "UPDATE log SET data = ? WHERE csn = 6", data)  # the row is put back
    assert not a.verify().ok  # damage is remembered until a full check passes
    assert a.verify(full=True).ok
    assert a.verify().ok
    assert a.damaged is None


def test_corruption_not_noticed_edited_document_row_is_a_state_mismatch(replicas: Replicas) -> None:
    a = _library(replicas)
    path = replicas.store_of(a).path
    before = a.state_digest()
    replicas.close(a)
    with closing(sqlite3.connect(path)) as conn:
        (doc,) = conn.execute("SELECT doc FROM docs WHERE id = 'n4'").fetchone()
    _edit(path, "UPDATE docs SET doc = ? WHERE id = 'n4'", doc.replace(b"t4", b"ZZ"))
    a = replicas.open("a")
    assert a.values("n4") == {"title": "ZZ"}
    assert a.state_digest() != before
    report = a.verify(full=True)
    assert (report.ok, report.csn, report.problem) == (False, 5, STATE_MISMATCH)
    with pytest.raises(ReplicaDamaged, match="state digest mismatch"):
        a.check_sound()


def test_a_local_write_does_not_make_a_damaged_state_look_sound(replicas: Replicas) -> None:
    # Found through the app: a first-run write after opening a damaged file saved the digest
    # folded from the damaged rows, and the next full verify called the library sound.
    a = _library(replicas)
    path = replicas.store_of(a).path
    replicas.close(a)
    with closing(sqlite3.connect(path)) as conn:
        (doc,) = conn.execute("SELECT doc FROM docs WHERE id = 'n4'").fetchone()
    _edit(path, "UPDATE docs SET doc = ? WHERE id = 'n4'", doc.replace(b"t4", b"ZZ"))
    a = replicas.open("a")
    assert not a.verify(full=True).ok
    a.put("note", "n6", {"title": "written while damaged"})
    a = replicas.reopen(a)
    report = a.verify(full=True)
    assert (report.ok, report.problem) == (False, STATE_MISMATCH)
    assert a.values("n6") == {"title": "written while damaged"}


def test_corruption_not_noticed_state_digest_follows_writes(replicas: Replicas) -> None:
    a = _library(replicas)
    b = replicas.join("b", "dev-b", a.genesis())
    b.receive(a.batch_for(b.summary()))
    assert b.state_digest() == a.state_digest()
    a.put("note", "n1", {"title": "changed"})
    assert b.state_digest() != a.state_digest()
    b.receive(a.batch_for(b.summary()))
    assert b.state_digest() == a.state_digest()
    a = replicas.reopen(a)  # recomputed from the rows, equal to the one kept up to date
    assert a.verify(full=True).ok
    assert b.state_digest() == a.state_digest()
