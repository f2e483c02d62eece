"""The Bayou log rules in memory: tentative order, commits, bookings with undo and redo,
notices, primary hand-over and truncation."""

from __future__ import annotations

import pytest

from localfirst import CONFLICT, Booking, InvalidWrite, Notice, NotPrimary, Slot, WriteId

from .conftest import Cluster, sync, sync_both


def room(lib: Cluster, by: str = "P", *to: str) -> str:
    """A bookable calendar made at ``by`` (clock 1) and synced to ``to``."""
    lib.at(by, 1).put("calendar", "room", {"name": "Room A", "bookable": True})
    for device in to:
        sync(lib[by], lib[device])
    return "room"


def last_id(lib: Cluster, device: str) -> WriteId:
    return max(w.id for w in lib[device].tentative() if w.id.origin == device)


def everything(lib: Cluster) -> None:
    """Anti-entropy between every ordered pair, twice."""
    for _ in range(2):
        for a in lib.replicas.values():
            for b in lib.replicas.values():
                if a is not b:
                    sync(a, b)


# -- tentative order and commit -----------------------------------------------------------------


def test_tentative_writes_are_ordered_by_stamp_then_origin(mem_cluster):
    lib = mem_cluster("P", "A", "B")
    lib.at("P", 7).put("note", "x", {"title": "p"})
    lib.at("A", 7).put("note", "y", {"title": "a"})
    lib.at("B", 5).put("note", "z", {"title": "b"})
    lib.at("A", 9).put("note", "y", {"title": "a2"})
    everything(lib)
    for r in lib.replicas.values():
        assert r.log_labels() == ["inf:5:B", "inf:7:A", "inf:7:P", "inf:9:A"]
        assert [w.id for w in r.tentative()] == [
            WriteId(5, "B"),
            WriteId(7, "A"),
            WriteId(7, "P"),
            WriteId(9, "A"),
        ]
        assert r.vector.format(["P", "A", "B"]) == "P:7 A:9 B:5"
        assert r.csn == 0


def test_only_the_primary_commits(mem_cluster):
    lib = mem_cluster("P", "A")
    lib.at("A", 3).put("note", "n", {"title": "a"})
    sync(lib["A"], lib["P"])
    with pytest.raises(NotPrimary, match="A is not the primary"):
        lib["A"].commit()
    assert lib["A"].log_labels() == ["inf:3:A"]
    assert lib["A"].csn == 0
    assert lib["P"].commit().commits == 1
    assert lib["P"].commit().commits == 0
    assert lib["P"].log_labels() == ["1:3:A"]
    sync(lib["P"], lib["A"])
    assert lib["A"].log_labels() == ["1:3:A"]
    assert lib["A"].csn == 1
    assert lib["A"].log()[0].csn == 1


def test_commit_numbers_follow_the_tentative_order_and_continue(mem_cluster):
    lib = mem_cluster("P", "A")
    lib.at("A", 4).put("note", "a", {"title": "a"})
    lib.at("P", 2).put("note", "p", {"title": "p"})
    sync(lib["A"], lib["P"])
    assert lib["P"].commit().commits == 2
    lib.at("P", 3).put("note", "p", {"title": "p2"})  # stamp 5: after what P has seen
    assert lib["P"].log_labels() == ["1:2:P", "2:4:A", "inf:5:P"]
    lib["P"].commit()
    assert lib["P"].log_labels() == ["1:2:P", "2:4:A", "3:5:P"]


# -- bookings -----------------------------------------------------------------------------------


def test_booking_takes_the_first_free_slot_else_conflicts(mem_cluster):
    lib = mem_cluster("P")
    p = lib["P"]
    room(lib)
    e1 = lib.at("P", 2).book("room", [(10, 20), (30, 40)], {"title": "one"}, event="e1")
    w1 = last_id(lib, "P")
    e2 = lib.at("P", 3).book("room", [(15, 25), (30, 40)], {"title": "two"}, event="e2")
    w2 = last_id(lib, "P")
    e3 = lib.at("P", 4).book("room", [(10, 20), (35, 36)], {"title": "three"}, event="e3")
    w3 = last_id(lib, "P")
    assert (e1, e2, e3) == ("e1", "e2", "e3")
    assert p.booking("e1") == Booking(Slot(10, 20, w1), tentative=True)
    assert p.booking("e2") == Booking(Slot(30, 40, w2), tentative=True)
    assert p.booking("e3") == Booking(None, tentative=False)
    assert p.outcome(w1) == (0, False)
    assert p.outcome(w2) == (1, False)
    assert p.outcome(w3) == (CONFLICT, False)
    assert p.values("e3") == {"title": "three", "calendar": "room"}  # the event exists, unbooked
    p.commit()
    assert p.booking("e1") == Booking(Slot(10, 20, w1), tentative=False)
    assert p.booking("e2") == Booking(Slot(30, 40, w2), tentative=False)
    assert p.outcome(w1) == (0, True)
    assert p.outcome(w2) == (1, True)
    assert p.outcome(w3) == (CONFLICT, True)
    assert p.notices() == []


def test_adjacent_slots_do_not_overlap(mem_cluster):
    lib = mem_cluster("P")
    room(lib)
    lib.at("P", 2).book("room", [(10, 20)], {"title": "one"}, event="e1")
    lib.at("P", 3).book("room", [(20, 30)], {"title": "two"}, event="e2")
    assert lib["P"].booking("e2").slot.start == 20


def test_an_earlier_booking_arriving_late_undoes_and_redoes_later_ones(mem_cluster):
    lib = mem_cluster("P", "A", "B")
    room(lib, "P", "A", "B")
    lib.at("B", 10).book("room", [(10, 20), (30, 40)], {"title": "B's"}, event="eb")
    wb = last_id(lib, "B")
    lib.at("B", 11).book("room", [(30, 40), (50, 60)], {"title": "B's second"}, event="eb2")
    wb2 = last_id(lib, "B")
    b = lib["B"]
    assert b.booking("eb") == Booking(Slot(10, 20, wb), tentative=True)
    assert b.booking("eb2") == Booking(Slot(30, 40, wb2), tentative=True)
    lib.at("A", 5).book("room", [(10, 20)], {"title": "A's"}, event="ea")
    wa = last_id(lib, "A")
    assert wa < wb
    sync(lib["A"], b)
    assert b.log_labels() == ["inf:1:P", "inf:5:A", "inf:10:B", "inf:11:B"]
    assert b.booking("ea") == Booking(Slot(10, 20, wa), tentative=True)
    assert b.booking("eb") == Booking(Slot(30, 40, wb), tentative=True)  # moved to its alternative
    assert b.booking("eb2") == Booking(Slot(50, 60, wb2), tentative=True)  # pushed on in turn
    assert b.outcome(wa) == (0, False)
    assert b.outcome(wb) == (1, False)
    assert b.outcome(wb2) == (1, False)


def test_a_later_booking_arriving_does_not_disturb_earlier_ones(mem_cluster):
    lib = mem_cluster("P", "A")
    room(lib, "P", "A")
    lib.at("P", 5).book("room", [(10, 20)], {"title": "P's"}, event="ep")
    wp = last_id(lib, "P")
    lib.at("A", 9).book("room", [(10, 20)], {"title": "A's"}, event="ea")
    wa = last_id(lib, "A")
    assert lib["A"].booking("ea") == Booking(Slot(10, 20, wa), tentative=True)
    sync_both(lib["P"], lib["A"])
    for r in (lib["P"], lib["A"]):
        assert r.booking("ep") == Booking(Slot(10, 20, wp), tentative=True)
        assert r.booking("ea") == Booking(None, tentative=False)
        assert r.outcome(wa) == (CONFLICT, False)


def test_commitment_in_another_order_changes_outcomes_and_says_so(mem_cluster):
    lib = mem_cluster("P", "A", "B")
    room(lib, "P", "A", "B")
    lib.at("A", 5).book("room", [(10, 20)], {"title": "A's"}, event="ea")
    wa = last_id(lib, "A")
    lib.at("B", 3).book("room", [(10, 20), (30, 40)], {"title": "B's"}, event="eb")
    wb = last_id(lib, "B")
    assert wb < wa
    b = lib["B"]
    sync(lib["A"], b)  # B's view: its own earlier booking wins, A's conflicts
    assert b.booking("eb") == Booking(Slot(10, 20, wb), tentative=True)
    assert b.booking("ea") == Booking(None, tentative=False)
    assert b.outcome(wa) == (CONFLICT, False)
    # P hears of A's booking first and commits it before B's arrives.
    sync(lib["A"], lib["P"])
    lib["P"].commit()
    sync(b, lib["P"])
    lib["P"].commit()
    assert lib["P"].log_labels() == ["1:1:P", "2:5:A", "3:3:B"]
    assert lib["P"].notices() == []
    sync(lib["P"], b)
    assert b.log_labels() == ["1:1:P", "2:5:A", "3:3:B"]
    assert b.booking("ea") == Booking(Slot(10, 20, wa), tentative=False)
    assert b.booking("eb") == Booking(Slot(30, 40, wb), tentative=False)
    assert b.outcome(wa) == (0, True)
    assert b.outcome(wb) == (1, True)
    # Only B's own booking is news to B: A's user is told about A's, on A.
    assert b.notices() == [Notice(wb, 0, 1)]
    sync(lib["P"], lib["A"])
    assert lib["A"].notices() == []  # A's tentative view was its commit outcome all along


def test_commit_with_unchanged_outcome_gives_no_notice(mem_cluster):
    lib = mem_cluster("P", "A")
    room(lib, "P", "A")
    lib.at("A", 5).book("room", [(10, 20)], {"title": "A's"}, event="ea")
    wa = last_id(lib, "A")
    sync(lib["A"], lib["P"])
    lib["P"].commit()
    sync(lib["P"], lib["A"])
    assert lib["A"].outcome(wa) == (0, True)
    assert lib["A"].notices() == []
    assert lib["A"].booking("ea") == Booking(Slot(10, 20, wa), tentative=False)


def test_deleting_a_booked_event_releases_its_slot(mem_cluster):
    lib = mem_cluster("P", "A")
    room(lib, "P", "A")
    lib.at("P", 2).book("room", [(10, 20)], {"title": "one"}, event="e1")
    sync(lib["P"], lib["A"])
    lib.at("A", 3).delete("e1")
    assert lib["A"].booking("e1") == Booking(None, tentative=False)
    lib.at("A", 4).book("room", [(10, 20)], {"title": "two"}, event="e2")
    w2 = last_id(lib, "A")
    assert lib["A"].booking("e2") == Booking(Slot(10, 20, w2), tentative=True)
    sync(lib["A"], lib["P"])
    lib["P"].commit()
    sync(lib["P"], lib["A"])
    for r in (lib["P"], lib["A"]):
        assert r.booking("e2") == Booking(Slot(10, 20, w2), tentative=False)
        assert r.booking("e1") == Booking(None, tentative=False)
        assert r.outcome(w2) == (0, True)
        assert r.entities("event").keys() == {"e2"}


def test_rebooking_moves_an_event_and_keeps_its_slot_when_nothing_is_free(mem_cluster):
    lib = mem_cluster("P")
    p = lib["P"]
    room(lib)
    lib.at("P", 2).book("room", [(10, 20)], {"title": "one"}, event="e1")
    lib.at("P", 3).book("room", [(30, 40)], {"title": "two"}, event="e2")
    lib.at("P", 4).book("room", [(12, 18)], {"title": "one"}, event="e1")  # inside its own slot
    w = last_id(lib, "P")
    assert p.booking("e1") == Booking(Slot(12, 18, w), tentative=True)
    lib.at("P", 5).book("room", [(30, 40)], {"title": "one"}, event="e1")
    assert p.outcome(last_id(lib, "P")) == (CONFLICT, False)
    assert p.booking("e1") == Booking(Slot(12, 18, w), tentative=True)


# -- primary hand-over --------------------------------------------------------------------------


def test_primary_hand_over_takes_effect_once_committed(mem_cluster):
    lib = mem_cluster("P", "A")
    p, a = lib["P"], lib["A"]
    lib.at("P", 2).set_primary("A")
    sync(p, a)
    assert p.primary == a.primary == "P"
    with pytest.raises(NotPrimary):
        a.commit()
    assert p.commit().commits == 1  # the old primary commits the hand-over
    assert p.primary == "A"
    lib.at("P", 3).put("note", "n", {"title": "t"})
    with pytest.raises(NotPrimary, match="A is"):
        p.commit()
    assert p.log_labels() == ["1:2:P", "inf:3:P"]
    assert a.primary == "P"
    sync(p, a)
    assert a.primary == "A"
    assert a.commit().commits == 1
    assert a.log_labels() == ["1:2:P", "2:3:P"]
    sync(a, p)
    assert p.log_labels() == ["1:2:P", "2:3:P"]
    assert p.primary == "A"


def test_hand_over_requested_by_a_member_waits_for_the_primary(mem_cluster):
    lib = mem_cluster("P", "A")
    p, a = lib["P"], lib["A"]
    lib.at("A", 2).set_primary("A")
    assert a.primary == "P"
    sync(a, p)
    assert p.primary == "P"
    p.commit()
    assert p.primary == "A"
    with pytest.raises(NotPrimary):
        p.commit()
    sync(p, a)
    assert a.primary == "A"
    assert a.commit().commits == 0


# -- truncation ---------------------------------------------------------------------------------


def _build_history(lib: Cluster) -> None:
    room(lib, "P", "A")
    lib.at("P", 2).put("note", "n1", {"title": "one", "tags": ["a"]})
    lib.at("A", 3).put("note", "n1", {"title": "concurrent"})
    lib.at("A", 4).book("room", [(10, 20)], {"title": "meet"}, event="e1")
    lib.at("A", 5).put("note", "n2", {"title": "doomed"})
    lib.at("A", 6).delete("n2")
    sync_both(lib["P"], lib["A"])
    lib["P"].commit()
    lib.at("P", 9).put("calendar", "cal", {"name": "Home", "colour": "#ff0000"})
    lib["P"].commit()
    lib.at("P", 11).put("note", "n3", {"title": "after"})  # stays tentative


def test_a_member_that_never_synced_catches_up_from_the_snapshot(mem_cluster):
    lib = mem_cluster("P", "A", "B")
    _build_history(lib)
    p, b = lib["P"], lib["B"]
    labels = p.log_labels()
    assert labels[-2:] == ["7:9:P", "inf:11:P"]
    p.truncate(6)
    assert p.truncated_csn == 6
    assert p.log_labels() == ["7:9:P", "inf:11:P"]
    assert p.csn == 7
    assert b.csn == 0
    changes = b.receive(p.batch_for(b.summary()))
    assert changes.snapshot
    assert b.csn == p.csn == 7
    assert b.truncated_csn == 6
    assert b.vector == p.vector
    assert b.log_labels() == ["7:9:P", "inf:11:P"]
    for kind in ("note", "event", "calendar", "device", "library"):
        assert b.entities(kind) == p.entities(kind)
        for key in p.entities(kind):
            assert b.values(key) == p.values(key)
    assert b.values("n1") == {"title": "concurrent", "tags": ["a"]}
    assert b.get("n2") == p.get("n2")
    assert not b.get("n2").exists
    assert b.conflicts() == p.conflicts() == {"n1": ["title"]}
    assert b.booking("e1") == p.booking("e1")
    assert b.booking("e1").slot is not None
    assert b.booking("e1").tentative is False
    assert b.primary == "P"
    # And the new member can take part as usual.
    lib.at("B", 1).put("note", "n1", {"title": "from B"})
    sync(b, p)
    p.commit()
    sync(p, b)
    assert b.log_labels() == p.log_labels() == ["7:9:P", "8:11:P", "9:12:B"]
    assert b.values("n1") == p.values("n1") == {"title": "from B", "tags": ["a"]}


def test_truncating_everything_and_catching_up(mem_cluster):
    lib = mem_cluster("P", "A", "B")
    _build_history(lib)
    p, b = lib["P"], lib["B"]
    p.commit()
    p.truncate()
    assert p.truncated_csn == p.csn == 8
    assert p.log_labels() == []
    sync(p, b)
    assert b.log_labels() == []
    assert (b.csn, b.truncated_csn, b.vector) == (8, 8, p.vector)
    assert b.entities("note") == p.entities("note")


def test_truncate_keeps_tentative_writes_of_the_receiver(mem_cluster):
    lib = mem_cluster("P", "A", "B")
    _build_history(lib)
    lib.at("B", 1).put("note", "nb", {"title": "B offline"})
    p, b = lib["P"], lib["B"]
    p.truncate()
    sync(p, b)
    assert b.log_labels() == ["inf:1:B", "inf:11:P"]
    assert b.values("nb") == {"title": "B offline"}
    assert b.csn == p.csn
    sync(b, p)
    assert p.log_labels() == ["inf:1:B", "inf:11:P"]


def test_truncate_refuses_to_pass_the_committed_prefix_and_ignores_going_back(mem_cluster):
    lib = mem_cluster("P", "A")
    _build_history(lib)
    p = lib["P"]
    with pytest.raises(ValueError, match="committed prefix"):
        p.truncate(p.csn + 1)
    p.truncate(3)
    labels = p.log_labels()
    p.truncate(2)
    assert p.truncated_csn == 3
    assert p.log_labels() == labels
    assert labels[0].startswith("4:")


def test_a_member_behind_can_also_truncate_up_to_its_csn(mem_cluster):
    lib = mem_cluster("P", "A", "B")
    _build_history(lib)
    sync(lib["P"], lib["A"])
    a, b = lib["A"], lib["B"]
    a.truncate()
    assert a.truncated_csn == a.csn == 7
    sync(a, b)
    assert b.log_labels() == a.log_labels() == ["inf:11:P"]
    assert b.entities("note") == a.entities("note") == lib["P"].entities("note")


def test_log_labels_print_csn_or_inf(mem_cluster):
    lib = mem_cluster("P", "A")
    lib.at("P", 1).put("note", "x", {"title": "4"})
    lib["P"].commit()
    lib.at("P", 7).put("note", "y", {"title": "8"})
    entries = lib["P"].log()
    assert [e.label for e in entries] == lib["P"].log_labels() == ["1:1:P", "inf:7:P"]
    assert [e.csn for e in entries] == [1, None]
    assert entries[1].write.id == WriteId(7, "P")


def test_revocation_is_sticky_and_a_device_cannot_readmit_itself(mem_cluster):
    lib = mem_cluster("P", "A", "B")
    p, a = lib["P"], lib["A"]
    lib.at("P", 5).put("device", "B", {"revoked": True})
    # A, unaware of the revocation, sets B's flag concurrently: the revocation still holds.
    lib.at("A", 6).put("device", "B", {"revoked": False})
    sync(p, a)
    sync(a, p)
    assert "B" not in p.members()
    assert "B" not in a.members()
    with pytest.raises(InvalidWrite, match="itself"):
        lib.at("B", 9).put("device", "B", {"revoked": False})
    # A member who saw the revocation lifts it deliberately.
    lib.at("P", 10).put("device", "B", {"revoked": False})
    assert "B" in p.members()


def test_moving_a_booked_event_to_another_calendar_frees_its_slot(mem_cluster):
    lib = mem_cluster("P")
    p = lib["P"]
    lib.at("P", 1).put("calendar", "room", {"name": "Room", "bookable": True})
    lib.at("P", 2).put("calendar", "work", {"name": "Work"})
    lib.at("P", 3).book("room", [(10, 20)], {"title": "first"}, event="e1")
    lib.at("P", 4).put("event", "e1", {"calendar": "work"})
    lib.at("P", 5).book("room", [(10, 20)], {"title": "second"}, event="e2")
    booking = p.booking("e2")
    assert booking is not None
    assert booking.slot == Slot(10, 20, WriteId(5, "P"))
