"""Issue 12, defect 4: a user whose tentative booking moved is told, on the device that booked
it, once per change of the outcome last seen, tentative to tentative as well as at commit; in
memory and on SQLite files alike."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from localfirst import CONFLICT, Booking, Notice, Slot, WriteId
from localfirst.calendar_ops import describe_notice

from .conftest import Cluster, MakeCluster, sync

PARIS = ZoneInfo("Europe/Paris")


def at(hour: int, minute: int = 0, day: int = 18) -> int:
    return int(datetime(2026, 11, day, hour, minute, tzinfo=PARIS).timestamp())


def hour_at(hour: int, minute: int = 0) -> tuple[int, int]:
    return at(hour, minute), at(hour, minute) + 3600


#: A asks for 10:00-11:00, else 11:00 or 14:00; B for 10:30-11:30, else 15:00.
A_SLOTS = [hour_at(10), hour_at(11), hour_at(14)]
B_SLOTS = [hour_at(10, 30), hour_at(15)]
WA, WB = WriteId(5, "A"), WriteId(6, "B")


def offline_bookings(make: MakeCluster) -> Cluster:
    """P, A and B share a bookable room; A (stamp 5) and B (stamp 6) book it offline."""
    lib = make("P", "A", "B")
    lib.at("P", 1).put("calendar", "room", {"name": "Room", "bookable": True})
    sync(lib["P"], lib["A"])
    sync(lib["P"], lib["B"])
    lib.at("A", 5).book("room", A_SLOTS, {"title": "Review"}, event="ea")
    lib.at("B", 6).book("room", B_SLOTS, {"title": "Standup"}, event="eb")
    for device in ("A", "B"):
        lib[device].take_changes()
    assert lib["B"].booking("eb") == Booking(Slot(*B_SLOTS[0], WB), tentative=True)
    return lib


@pytest.mark.parametrize("first", ["A", "B"])
def test_a_user_whose_tentative_booking_moved_is_told(any_cluster: MakeCluster, first: str) -> None:
    """The issue's scenario, in both sync orders: B's booking moves to 15:00 and B is told."""
    lib = offline_bookings(any_cluster)
    second = "B" if first == "A" else "A"
    sync(lib[first], lib[second])
    sync(lib[second], lib[first])
    a, b = lib["A"], lib["B"]
    for r in (a, b):
        assert r.booking("ea") == Booking(Slot(*A_SLOTS[0], WA), tentative=True)
        assert r.booking("eb") == Booking(Slot(*B_SLOTS[1], WB), tentative=True)
        assert r.outcome(WB) == (1, False)
    moved = Notice(WB, 0, 1, settled=False)
    assert b.notices() == [moved]
    assert b.take_changes().notices == (moved,)
    assert describe_notice(moved, "Standup", B_SLOTS, PARIS) == (
        "“Standup” moved to 15:00 (tentative): another booking took 10:30."
    )
    # A's outcome never changed, and B's write is not A's to be told about.
    assert a.notices() == []
    assert a.take_changes().notices == ()
    # More anti-entropy redoes nothing new: the same notice is not given twice.
    sync(lib[first], lib[second])
    sync(lib[second], lib[first])
    assert b.notices() == [moved]
    assert b.take_changes().notices == ()
    # The primary commits in the tentative order: the committed outcomes are the ones seen.
    sync(a, lib["P"])
    sync(b, lib["P"])
    lib["P"].commit()
    sync(lib["P"], a)
    sync(lib["P"], b)
    assert b.booking("eb") == Booking(Slot(*B_SLOTS[1], WB), tentative=False)
    assert b.outcome(WB) == (1, True)
    assert b.notices() == [moved]
    assert a.notices() == []
    assert lib["P"].notices() == []


def test_a_notice_at_commit_when_committed_differs_from_the_last_tentative_outcome(
    any_cluster: MakeCluster,
) -> None:
    """B last saw 15:00 (tentative); the primary heard of B first, so B keeps 10:30 and A, who
    saw 10:00 all along, is moved to 14:00. Each is told from what it last saw."""
    lib = offline_bookings(any_cluster)
    a, b, p = lib["A"], lib["B"], lib["P"]
    sync(b, p)  # the primary holds B's booking, not yet A's
    sync(a, b)
    sync(b, a)
    assert b.notices() == [Notice(WB, 0, 1, settled=False)]
    p.commit()
    sync(a, p)
    p.commit()
    assert p.log_labels() == ["1:1:P", "2:6:B", "3:5:A"]
    sync(p, a)
    sync(p, b)
    assert b.booking("eb") == Booking(Slot(*B_SLOTS[0], WB), tentative=False)
    assert a.booking("ea") == Booking(Slot(*A_SLOTS[2], WA), tentative=False)
    back, moved = Notice(WB, 1, 0), Notice(WA, 0, 2)
    assert b.notices() == [Notice(WB, 0, 1, settled=False), back]
    assert b.take_changes().notices == (Notice(WB, 0, 1, settled=False), back)
    assert a.notices() == [moved]
    assert describe_notice(back, "Standup", B_SLOTS, PARIS) == (
        "“Standup” is booked at the time asked for after all: Wed 18 Nov 10:30 to 11:30."
    )
    assert describe_notice(moved, "Review", A_SLOTS, PARIS) == (
        "“Review” was moved to an alternative: Wed 18 Nov 14:00 to 15:00."
    )


def test_no_notice_when_a_redo_lands_on_the_outcome_already_seen(any_cluster: MakeCluster) -> None:
    """An earlier booking elsewhere in the room makes B's write be undone and redone: same
    outcome, so no notice; nor when commitment confirms what B saw."""
    lib = any_cluster("P", "B")
    lib.at("P", 1).put("calendar", "room", {"name": "Room", "bookable": True})
    sync(lib["P"], lib["B"])
    lib.at("B", 6).book("room", B_SLOTS, {"title": "Standup"}, event="eb")
    lib.at("P", 3).book("room", [hour_at(8)], {"title": "Early"}, event="ep")
    sync(lib["P"], lib["B"])
    assert lib["B"].outcome(WB) == (0, False)
    assert lib["B"].notices() == []
    sync(lib["B"], lib["P"])
    lib["P"].commit()
    sync(lib["P"], lib["B"])
    assert lib["B"].outcome(WB) == (0, True)
    assert lib["B"].notices() == []
    assert lib["B"].take_changes().notices == ()


def test_a_booking_that_loses_every_slot_tentatively_is_told_and_told_again_when_it_returns(
    any_cluster: MakeCluster,
) -> None:
    """B's only slot is taken by an earlier booking arriving (tentative conflict); when that one
    is released before B's in the order, B's is booked again: two notices, from what to what."""
    lib = any_cluster("P", "A", "B")
    lib.at("P", 1).put("calendar", "room", {"name": "Room", "bookable": True})
    sync(lib["P"], lib["A"])
    sync(lib["P"], lib["B"])
    lib.at("A", 3).book("room", [hour_at(10)], {"title": "Review"}, event="ea")
    lib.at("B", 6).book("room", [hour_at(10, 30)], {"title": "Standup"}, event="eb")
    sync(lib["A"], lib["B"])
    lost = Notice(WB, 0, CONFLICT, settled=False)
    assert lib["B"].notices() == [lost]
    assert describe_notice(lost, "Standup", [hour_at(10, 30)], PARIS) == (
        "“Standup” has no free time for now (tentative): another booking took 10:30."
    )
    lib.at("A", 4).delete("ea")  # released at stamp 4, before B's booking in the order
    sync(lib["A"], lib["B"])
    back = Notice(WB, CONFLICT, 0, settled=False)
    assert lib["B"].notices() == [lost, back]
    assert lib["B"].booking("eb") == Booking(Slot(*hour_at(10, 30), WB), tentative=True)
    assert describe_notice(back, "Standup", [hour_at(10, 30)], PARIS) == (
        "“Standup” is booked after all, at 10:30 (tentative)."
    )
    assert lib["A"].notices() == []


def test_tentative_notice_texts_name_the_new_time() -> None:
    wid = WriteId(1, "B")
    slots = [hour_at(10, 30), hour_at(15), (at(9, day=19), at(10, day=19))]
    assert describe_notice(Notice(wid, 1, 0, settled=False), "Standup", slots, PARIS) == (
        "“Standup” moved back to 10:30 (tentative): 10:30 is free again."
    )
    # On another day, the day is named.
    assert describe_notice(Notice(wid, 0, 2, settled=False), "", slots, PARIS) == (
        "A booking moved to Thu 19 Nov 09:00 (tentative): another booking took Wed 18 Nov 10:30."
    )
    assert describe_notice(Notice(wid, 0, 5, settled=False), "X", slots, PARIS) == (
        "“X” moved to option 6 (tentative): another booking took 10:30."
    )


def test_no_notice_for_a_request_the_user_has_since_moved_or_deleted(any_cluster: MakeCluster) -> None:
    """B books "Standup" at 10:30 (else 15:00), then moves it to 13:00 and books "Sync" at
    10:30 and deletes it. A's earlier 10:00 booking arrives: the replaced requests would have
    moved to 15:00 or lost their slot, but B sees 13:00 and nothing deleted: nothing to tell."""
    lib = offline_bookings(any_cluster)
    b = lib["B"]
    lib.at("B", 7).book("room", [hour_at(13)], {"title": "Standup"}, event="eb")
    lib.at("B", 8).book("room", [hour_at(10, 30)], {"title": "Sync"}, event="ec")
    lib.at("B", 9).delete("ec")
    sync(lib["A"], b)
    assert b.booking("eb") == Booking(Slot(*hour_at(13), WriteId(7, "B")), tentative=True)
    assert b.outcome(WB) == (1, False)  # the replaced request did move
    assert b.outcome(WriteId(8, "B")) == (CONFLICT, False)
    assert b.notices() == []


def test_a_move_that_found_no_slot_keeps_the_booking_it_would_replace_and_its_notices(
    any_cluster: MakeCluster,
) -> None:
    """B's move of "Standup" to 13:00 finds 13:00 taken, so Standup keeps its 10:30 booking;
    when A's earlier booking takes 10:30, B is told Standup moved to 15:00."""
    lib = offline_bookings(any_cluster)
    b = lib["B"]
    lib.at("P", 2).book("room", [hour_at(13)], {"title": "Lunch talk"}, event="ep")
    sync(lib["P"], b)
    lib.at("B", 7).book("room", [hour_at(13)], {"title": "Standup"}, event="eb")
    assert b.booking("eb") == Booking(Slot(*B_SLOTS[0], WB), tentative=True)
    sync(lib["A"], b)
    assert b.booking("eb") == Booking(Slot(*B_SLOTS[1], WB), tentative=True)
    assert b.notices() == [Notice(WB, 0, 1, settled=False)]
