"""Regression tests for defects found in the core, each named by the bug it guards."""

from __future__ import annotations

from localfirst import Booking, Notice, Slot, WriteId

from .conftest import sync


def test_sqlite_member_whose_log_is_empty_catches_up_from_a_snapshot(sql_cluster):
    """SqlStore.replace_snapshot runs ``DELETE FROM log ... VALUES (?, ?)`` with an empty list of
    parameters when none of the receiver's known origins is in the snapshot vector (a member that
    never held a write), and SQLite refuses it: StorageError "Incorrect number of bindings"."""
    lib = sql_cluster("P", "B")
    p, b = lib["P"], lib["B"]
    lib.at("P", 1).put("note", "n", {"title": "t"})
    p.commit()
    p.truncate()
    b.receive(p.batch_for(b.summary()))
    assert b.csn == 1
    assert b.values("n") == {"title": "t"}


def test_sqlite_member_with_only_its_own_writes_catches_up_from_a_snapshot(sql_cluster):
    """Same bug: B's only origin is itself, which the snapshot vector does not name."""
    lib = sql_cluster("P", "B")
    p, b = lib["P"], lib["B"]
    lib.at("P", 1).put("note", "n", {"title": "t"})
    p.commit()
    p.truncate()
    lib.at("B", 5).put("note", "m", {"title": "offline"})
    b.receive(p.batch_for(b.summary()))
    assert b.log_labels() == ["inf:5:B"]
    assert b.values("n") == {"title": "t"}


def test_commit_learned_from_a_snapshot_marks_the_outcome_committed(mem_cluster):
    """A booking B holds tentatively, committed and truncated at P before B hears of the commit:
    B receives the snapshot, but ``outcome(w)`` stays ``(0, False)`` for good (outcomes of writes
    folded into a received snapshot are never saved as committed)."""
    lib = mem_cluster("P", "A", "B")
    lib.at("P", 1).put("calendar", "room", {"name": "Room", "bookable": True})
    sync(lib["P"], lib["A"])
    lib.at("A", 2).book("room", [(10, 20)], {"title": "meet"}, event="e")
    wid = WriteId(2, "A")
    sync(lib["A"], lib["B"])
    assert lib["B"].outcome(wid) == (0, False)
    sync(lib["A"], lib["P"])
    lib["P"].commit()
    lib["P"].truncate()
    sync(lib["P"], lib["B"])
    assert lib["B"].booking("e") == Booking(Slot(10, 20, wid), tentative=False)
    assert lib["B"].outcome(wid) == lib["P"].outcome(wid) == (0, True)


def test_commit_learned_from_a_snapshot_reports_a_changed_outcome(mem_cluster):
    """As above, when commitment changed the outcome B saw: no notice is ever given."""
    lib = mem_cluster("P", "A", "B")
    lib.at("P", 1).put("calendar", "room", {"name": "Room", "bookable": True})
    sync(lib["P"], lib["A"])
    sync(lib["P"], lib["B"])
    lib.at("A", 5).book("room", [(10, 20)], {"title": "A's"}, event="ea")
    lib.at("B", 3).book("room", [(10, 20), (30, 40)], {"title": "B's"}, event="eb")
    wb = WriteId(3, "B")
    sync(lib["A"], lib["B"])
    assert lib["B"].outcome(wb) == (0, False)
    sync(lib["A"], lib["P"])
    lib["P"].commit()
    sync(lib["B"], lib["P"])
    lib["P"].commit()
    lib["P"].truncate()
    sync(lib["P"], lib["B"])
    assert lib["B"].booking("eb") == Booking(Slot(30, 40, wb), tentative=False)
    assert lib["B"].notices() == [Notice(wb, 0, 1)]  # B is not told about A's booking


def test_deleting_an_event_whose_committed_booking_won_releases_the_slot(mem_cluster):
    """Replica.delete adds the RELEASE op only if the *tentative* view shows the event booked.
    B sees e1's booking as a conflict (its own earlier booking e2 wins tentatively) and deletes
    e1; P had already committed e1's booking, so in committed order e1 holds the slot and its
    delete releases nothing: the deleted event keeps the slot forever and no later booking of
    that interval can succeed."""
    lib = mem_cluster("P", "A", "B")
    p, b = lib["P"], lib["B"]
    lib.at("P", 1).put("calendar", "room", {"name": "Room", "bookable": True})
    sync(p, lib["A"])
    sync(p, b)
    lib.at("A", 5).book("room", [(10, 20)], {"title": "A's"}, event="e1")
    lib.at("B", 3).book("room", [(10, 20)], {"title": "B's"}, event="e2")
    sync(lib["A"], p)
    p.commit()  # e1 holds 10-20 for good
    sync(lib["A"], b)
    assert b.booking("e1") == Booking(None, tentative=False)  # B's view: e2 won
    lib.at("B", 6).delete("e1")
    sync(b, p)
    p.commit()
    assert not p.get("e1").exists
    lib.at("P", 20).book("room", [(10, 20)], {"title": "later"}, event="e3")
    p.commit()
    assert p.booking("e3") == Booking(Slot(10, 20, WriteId(20, "P")), tentative=False)
