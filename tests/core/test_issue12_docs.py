"""Regression tests for issue 12's defects in entity documents (1, 3 and 7), each named by the
bug it guards, through the public API on memory replicas and on SQLite files (``any_cluster``)."""

from __future__ import annotations

import itertools

import msgpack
import pytest

from localfirst import DELETED, Batch, Doc, InvalidWrite, ManualClock, MemoryStore, Replica, notes
from localfirst.crdtmap import EDITED

from .conftest import Cluster, sync, sync_both


def full_sync(*replicas: Replica) -> None:
    """Anti-entropy until every replica holds everything (two rounds through a chain)."""
    for _ in range(2):
        for a, b in itertools.pairwise(replicas):
            sync_both(a, b)


def doc(r: Replica, entity: str) -> Doc:
    found = r.get(entity)
    assert found is not None
    return found


def everywhere(lib: Cluster) -> list[Replica]:
    return list(lib.replicas.values())


# -- 1. a body edit concurrent with a delete vanishes ----------------------------------------------


def test_a_body_edit_concurrent_with_a_delete_is_surfaced_on_every_replica(any_cluster):
    """A deletes note n while B, offline, only types into n's body (no field write, not even
    ``modified``): after full sync n vanished everywhere, ``conflicts()`` was empty and B's text
    sat in the store out of reach. Later bursts of typing must surface it as the first does."""
    lib = any_cluster("P", "A", "B")
    p, a, b = lib["P"], lib["A"], lib["B"]
    lib.at("P", 1).put("note", "n", {"title": "Shopping", "tags": ["home"], "body": "milk\n"})
    full_sync(p, a, b)
    lib.at("B", 5).edit_text("n", [(5, 0, "eggs\n")])
    lib.at("B", 6).edit_text("n", [(10, 0, "bread\n")])  # a later burst, still offline
    lib.at("A", 9).delete("n")  # newer than B's typing: the note stays deleted, surfaced
    full_sync(a, p, b)
    for r in everywhere(lib):
        assert r.conflicts() == {"n": [DELETED]}, r.device
        assert not doc(r, "n").exists
        assert r.text("n") == "milk\neggs\nbread\n"
    # One action on any replica brings the note back with its fields and B's text, everywhere.
    notes.restore_note(lib.at("P", 20), "n")
    full_sync(p, a, b)
    for r in everywhere(lib):
        assert r.conflicts() == {}
        assert r.values("n") == {
            "title": "Shopping",
            "tags": ["home"],
            "body": "milk\neggs\nbread\n",
        }


def test_a_body_edit_newer_than_a_concurrent_delete_keeps_the_note_and_surfaces_it(any_cluster):
    lib = any_cluster("P", "A")
    p, a = lib["P"], lib["A"]
    lib.at("P", 1).put("note", "n", {"title": "t", "body": "x"})
    sync_both(p, a)
    lib.at("P", 3).delete("n")
    lib.at("A", 8).edit_text("n", [(1, 0, "y")])
    sync_both(p, a)
    for r in (p, a):
        assert r.conflicts() == {"n": [DELETED]}
        assert doc(r, "n").exists
        assert r.values("n") == {"body": "xy"}
    # Deleting everywhere is one action too, and nothing is left to resolve.
    notes.resolve_deleted(lib.at("A", 10), "n", keep=False)
    sync_both(p, a)
    for r in (p, a):
        assert r.conflicts() == {}
        assert not doc(r, "n").exists


def test_typing_seen_by_a_delete_is_deleted_with_it(any_cluster):
    lib = any_cluster("P", "A")
    p, a = lib["P"], lib["A"]
    lib.at("P", 1).put("note", "n", {"title": "t"})
    lib.at("P", 2).edit_text("n", [(0, 0, "body")])
    sync_both(p, a)
    lib.at("A", 5).delete("n")
    sync_both(p, a)
    for r in (p, a):
        assert r.conflicts() == {}
        assert not doc(r, "n").exists
        assert doc(r, "n").fields.keys() == {DELETED}


def test_each_device_keeps_one_record_of_its_typing():
    r = Replica.new_library(MemoryStore(), "P", clock=ManualClock(1))
    r.put("note", "n", {"title": "t"})
    for i in range(20):
        r.edit_text("n", [(i, 0, "x")])
    assert [(o, v) for _, o, v in doc(r, "n").versions(EDITED)] == [("P", True)]


# -- 3. a write that saw the delete is flagged as concurrent with it -------------------------------


def test_a_write_that_saw_the_delete_is_not_concurrent_with_it(any_cluster):
    """Set X.title, delete X, set X.title again on one replica: the tombstone showed as a
    sibling and ``conflicts() == {X: ['_deleted']}`` (a spurious Keep/Delete prompt)."""
    lib = any_cluster("P", "A")
    p, a = lib["P"], lib["A"]
    lib.at("P", 1).put("note", "x", {"title": "one"})
    lib.at("P", 2).delete("x")
    lib.at("P", 3).put("note", "x", {"title": "two"})
    assert p.conflicts() == {}
    assert DELETED not in doc(p, "x").fields
    sync_both(p, a)
    for r in (p, a):
        assert r.conflicts() == {}
        assert r.values("x") == {"title": "two"}
    # Only a write that did not see the delete is concurrent with it.
    lib.at("P", 10).delete("x")
    lib.at("A", 11).put("note", "x", {"pinned": True})
    sync_both(p, a)
    for r in (p, a):
        assert r.conflicts() == {"x": [DELETED]}


def test_typing_into_a_note_after_seeing_its_delete_brings_it_back_without_a_conflict(any_cluster):
    lib = any_cluster("P", "A")
    p, a = lib["P"], lib["A"]
    lib.at("P", 1).put("note", "n", {"title": "t", "body": "x"})
    sync_both(p, a)
    lib.at("P", 2).delete("n")
    sync_both(p, a)
    lib.at("A", 3).edit_text("n", [(1, 0, "y")])
    sync_both(p, a)
    for r in (p, a):
        assert r.conflicts() == {}
        assert doc(r, "n").exists
        assert r.text("n") == "xy"


# -- 7. concurrent additions to a set are shown as a conflict --------------------------------------


def test_concurrent_additions_to_a_set_both_survive_without_a_conflict(any_cluster):
    """A adds tag ``work`` and B adds ``home`` to a note tagged ``x``: the result was
    ``['x', 'home']`` with ``work`` only in a sibling and a conflict flagged; reminders alike."""
    lib = any_cluster("P", "A", "B")
    p, a, b = lib["P"], lib["A"], lib["B"]
    lib.at("P", 1).put("note", "n", {"title": "t", "tags": ["x"]})
    lib.at("P", 2).put("event", "e", {"title": "Standup", "reminders": [5]})
    full_sync(p, a, b)
    notes.set_tags(lib.at("A", 5), "n", ["x", "work"])
    notes.set_tags(lib.at("B", 5), "n", ["x", "home"])
    lib.at("A", 6).put("event", "e", {"reminders": [5, 10]})
    lib.at("B", 6).put("event", "e", {"reminders": [5, 60]})
    full_sync(a, b, p)
    for r in everywhere(lib):
        assert r.conflicts() == {}, r.device
        assert r.values("n")["tags"] == ["x", "work", "home"]
        assert r.values("e")["reminders"] == [5, 10, 60]


def test_a_removal_removes_only_the_elements_its_writer_saw(any_cluster):
    lib = any_cluster("P", "A", "B")
    p, a, b = lib["P"], lib["A"], lib["B"]
    lib.at("P", 1).put("note", "n", {"tags": ["x", "y"]})
    full_sync(p, a, b)
    lib.at("A", 5).put("note", "n", {"tags": ["y"]})  # removes x
    lib.at("B", 5).put("note", "n", {"tags": ["x", "y", "z"]})  # adds z, keeps x (not a re-add)
    lib.at("P", 5).put("note", "n", {"tags": []})  # removes x and y, as P saw them
    full_sync(a, b, p)
    for r in everywhere(lib):
        assert r.values("n")["tags"] == ["z"]
        assert r.conflicts() == {}
    # Add wins: a removal does not take away an addition it did not see.
    lib.at("A", 10).put("note", "n", {"tags": []})
    lib.at("B", 10).put("note", "n", {"tags": ["z", "w"]})
    full_sync(a, b, p)
    for r in everywhere(lib):
        assert r.values("n")["tags"] == ["w"]


def test_a_set_written_empty_reads_empty_and_a_delete_takes_it(any_cluster):
    lib = any_cluster("P")
    p = lib["P"]
    lib.at("P", 1).put("note", "n", {"title": "t", "tags": []})
    assert p.values("n") == {"title": "t", "tags": []}
    assert p.put("note", "n", {"tags": []}) is None  # nothing changes, nothing is written
    lib.at("P", 2).delete("n")
    assert doc(p, "n").fields.keys() == {DELETED}


def test_set_state_travels_in_snapshots_and_welcomes(any_cluster):
    lib = any_cluster("P", "A")
    p, a = lib["P"], lib["A"]
    lib.at("P", 1).put("note", "n", {"tags": ["x"]})
    lib.at("A", 1).put("note", "n", {"tags": ["y"]})
    sync_both(p, a)
    p.commit()
    p.truncate()
    joiner = Replica.from_welcome(MemoryStore(), "A", p.welcome())
    assert joiner.get("n") == p.get("n")
    assert joiner.values("n")["tags"] == ["y", "x"]  # in the order added: (1, A) before (1, P)
    behind = Replica.join(MemoryStore(), "A", p.genesis())
    behind.receive(p.batch_for(behind.summary()))
    assert behind.get("n") == p.get("n") == a.get("n")


def test_set_puts_written_by_earlier_builds_merge_as_sets(any_cluster):
    """A format-1 put carries a set's whole new value and supersedes whole versions: applied
    now, it unites with concurrent additions instead of becoming a sibling."""
    lib = any_cluster("P", "A")
    p, a = lib["P"], lib["A"]
    lib.at("P", 1).put("note", "n", {"tags": ["x"]})
    sync_both(p, a)
    first = doc(p, "n").versions("tags")[0]
    old = msgpack.packb(
        [1, 5, "A", [[0, "note", "n", {"tags": ["x", "old"]}, {"tags": [[first[0], first[1]]]}]]]
    )
    a.receive(Batch(tentative=[old]))
    lib.at("P", 5).put("note", "n", {"tags": ["x", "new"]})
    sync_both(p, a)
    for r in (p, a):
        assert r.conflicts() == {}
        assert r.values("n")["tags"] == ["x", "old", "new"]


def test_a_hostile_removal_is_refused_before_anything_is_applied(mem_cluster):
    lib = mem_cluster("P", "A")
    p, a = lib["P"], lib["A"]
    lib.at("P", 1).put("note", "n", {"tags": ["x"]})
    sync(p, a)
    before = a.log_labels()
    bad = msgpack.packb([2, 5, "P", [[0, "note", "n", {}, {}, {"title": [[1, "P", "t"]]}]]])
    with pytest.raises(InvalidWrite, match="not a set"):
        a.receive(Batch(tentative=[bad]))
    worse = msgpack.packb([2, 5, "P", [[0, "note", "n", {}, {}, {"tags": [[1, "P", 7]]}]]])
    with pytest.raises(InvalidWrite, match="invalid element"):
        a.receive(Batch(tentative=[worse]))
    assert a.log_labels() == before
