"""The stored snapshot as an overlay on the live rows (schema 7, issue 17): it keeps apart only
what differs from the library as it is now, and reads back exactly the snapshot a full copy
held, through truncations, later edits, joins, repairs and reopening."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from localfirst import Replica
from localfirst.clock import ManualClock
from localfirst.records import Snapshot
from localfirst.store import MemoryStore

from .conftest import Replicas


def _kept_apart(path: Path) -> tuple[int, int]:
    with closing(sqlite3.connect(path)) as db:
        docs = db.execute("SELECT count(*) FROM snapshot_docs").fetchone()[0]
        texts = db.execute("SELECT count(*) FROM snapshot_texts").fetchone()[0]
    return int(docs), int(texts)


def _same(a: Snapshot, b: Snapshot) -> None:
    assert (a.csn, a.vector, a.chain, a.primary) == (b.csn, b.vector, b.chain, b.primary)
    assert a.docs == b.docs
    assert a.texts == b.texts


def _library(replicas: Replicas, notes: int = 20) -> Replica:
    r = replicas.create("a", "dev-a")
    for i in range(notes):
        r.put("note", f"n{i}", {"title": f"note {i}"})
        r.edit_text(f"n{i}", [(0, 0, f"the body of note {i}")])
    r.commit()
    return r


def test_a_truncated_library_keeps_no_second_copy(replicas: Replicas) -> None:
    r = _library(replicas)
    r.truncate()
    path = replicas.store_of(r).path
    assert _kept_apart(path) == (0, 0)
    snap = r.genesis()
    assert snap.docs["n7"].values() == {"title": "note 7"}
    assert sorted(snap.texts) == sorted((f"n{i}", "body") for i in range(20))
    r = replicas.reopen(r)
    assert r.verify(full=True).ok


def test_an_edit_after_the_snapshot_keeps_the_snapshots_value_apart(replicas: Replicas) -> None:
    r = _library(replicas)
    r.truncate()
    before = r.genesis()
    r.put("note", "n3", {"title": "renamed"})
    for k in range(300):  # enough typing for a fresh saved state of the body
        r.edit_text("n4", [(0, 0, f"{k} ")])
    path = replicas.store_of(r).path
    assert _kept_apart(path) == (2, 1)  # n3 and n4 (a text edit marks its document too)
    _same(r.genesis(), before)
    assert r.values("n3")["title"] == "renamed"
    r = replicas.reopen(r)
    _same(r.genesis(), before)
    assert r.verify(full=True).ok
    r.commit()
    r.truncate()  # the edits folded: the live rows are the snapshot's again
    assert _kept_apart(path) == (0, 0)
    assert r.genesis().docs["n3"].values() == {"title": "renamed"}
    assert r.verify(full=True).ok


def test_a_device_joining_from_a_welcome_keeps_no_second_copy(replicas: Replicas, tmp_path: Path) -> None:
    a = _library(replicas)
    a.truncate()
    b = Replica.from_welcome(replicas.store("b", create=True), "dev-b", a.welcome())
    assert _kept_apart(replicas.store_of(b).path) == (0, 0)
    _same(b.genesis(), a.genesis())
    assert b.state_digest() == a.state_digest()
    assert b.verify(full=True).ok


def test_a_deleted_entity_keeps_its_snapshot_value(replicas: Replicas) -> None:
    r = _library(replicas, notes=3)
    r.truncate()
    r.delete("n1")
    assert r.genesis().docs["n1"].exists
    r.commit()
    r.truncate()
    assert not r.genesis().docs["n1"].exists
    assert _kept_apart(replicas.store_of(r).path) == (0, 0)


_STEPS = st.lists(
    st.one_of(
        st.tuples(st.just("put"), st.integers(0, 4), st.text("abc", max_size=3)),
        st.tuples(st.just("type"), st.integers(0, 4), st.text("xyz", min_size=1, max_size=4)),
        st.tuples(st.just("delete"), st.integers(0, 4), st.just("")),
        st.tuples(st.just("commit"), st.just(0), st.just("")),
        st.tuples(st.just("truncate"), st.integers(0, 3), st.just("")),
        st.tuples(st.just("reopen"), st.just(0), st.just("")),
    ),
    max_size=25,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=_STEPS)
def test_the_overlay_always_reads_as_the_full_snapshot_of_a_store_keeping_a_copy(
    tmp_path_factory: object, steps: list[tuple[str, int, str]]
) -> None:
    """The same writes on a SQLite replica and on the in-memory store (which keeps the whole
    snapshot as a copy) give the same snapshot, values and digest after every step."""
    import pytest

    folder = pytest.TempPathFactory.mktemp(tmp_path_factory, "overlay")  # type: ignore[arg-type]
    files = Replicas(folder)
    clocks = (ManualClock(1), ManualClock(1))
    sql = files.create("a", "dev-a", library="lib", clock=clocks[0])
    mem = Replica.new_library(MemoryStore(), "dev-a", library="lib", clock=clocks[1])
    try:
        for n, (kind, i, arg) in enumerate(steps, start=2):
            for clock in clocks:
                clock.set(n)
            for r in (sql, mem):
                _step(r, kind, i, arg)
            if kind == "reopen":
                sql = files.reopen(sql)
            _same(sql.genesis(), mem.genesis())
            assert sql.state_digest() == mem.state_digest()
            for e in (f"e{j}" for j in range(5)):
                assert _shown(sql, e) == _shown(mem, e)
        assert sql.verify(full=True).ok
    finally:
        files.close_all()


def _shown(r: Replica, entity: str) -> object:
    doc = r.get(entity)
    return None if doc is None else (doc.exists, r.values(entity) if doc.exists else doc.values())


def _step(r: Replica, kind: str, i: int, arg: str) -> None:
    entity = f"e{i}"
    if kind == "put":
        r.put("note", entity, {"title": arg})
    elif kind == "type":
        doc = r.get(entity)
        if doc is None or not doc.exists:
            r.put("note", entity, {"title": ""})
        r.edit_text(entity, [(0, 0, arg)])
    elif kind == "delete":
        doc = r.get(entity)
        if doc is not None and doc.exists:
            r.delete(entity)
    elif kind == "commit":
        r.commit()
    elif kind == "truncate":
        r.truncate(max(r.truncated_csn, r.csn - i))
