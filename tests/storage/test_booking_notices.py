"""Issue 12, defect 4 on SQLite files: a user whose tentative booking moved is told, the notice
survives a restart exactly (tentative or settled), and is never given again by a reopen or by a
commit that confirms it; files written before tentative notices existed keep theirs."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from localfirst import Booking, ManualClock, Notice, Replica, Slot, WriteId
from storage import SCHEMA_VERSION

from .conftest import Replicas, state_of

PARIS = ZoneInfo("Europe/Paris")


def hour_at(hour: int, minute: int = 0) -> tuple[int, int]:
    start = int(datetime(2026, 11, 18, hour, minute, tzinfo=PARIS).timestamp())
    return start, start + 3600


A_SLOTS = [hour_at(10), hour_at(11), hour_at(14)]
B_SLOTS = [hour_at(10, 30), hour_at(15)]
WA, WB = WriteId(5, "A"), WriteId(6, "B")


def send(src: Replica, dst: Replica) -> None:
    dst.receive(src.batch_for(dst.summary()))


def offline_bookings(replicas: Replicas) -> tuple[Replica, Replica, Replica]:
    """P, A, B on files; A (stamp 5) and B (stamp 6) book the same room offline."""
    p = replicas.create("P", "P", members={"A": "", "B": ""}, clock=ManualClock(1))
    p.create("calendar", {"name": "Room", "bookable": True}, entity="room")
    a = replicas.join("A", "A", p.genesis(), ManualClock(5))
    b = replicas.join("B", "B", p.genesis(), ManualClock(6))
    send(p, a)
    send(p, b)
    a.book("room", A_SLOTS, {"title": "Review"}, event="ea")
    b.book("room", B_SLOTS, {"title": "Standup"}, event="eb")
    return p, a, b


@pytest.mark.parametrize("first", ["A", "B"])
def test_a_user_whose_tentative_booking_moved_is_told_and_still_after_a_restart(
    replicas: Replicas, first: str
) -> None:
    p, a, b = offline_bookings(replicas)
    one, other = (a, b) if first == "A" else (b, a)
    send(one, other)
    send(other, one)
    moved = Notice(WB, 0, 1, settled=False)
    assert b.booking("eb") == Booking(Slot(*B_SLOTS[1], WB), tentative=True)
    assert b.notices() == [moved]
    assert a.notices() == []
    before = state_of(b)
    b = replicas.reopen(b)
    assert state_of(b) == before
    assert b.notices() == [moved]
    assert b.take_changes().notices == ()  # reopening tells nothing anew
    # The primary commits in the tentative order: nothing changes, nothing more is told.
    send(b, p)
    p.commit()
    send(p, b)
    a = replicas.reopen(a)
    send(p, a)
    assert b.outcome(WB) == (1, True)
    assert b.notices() == [moved]
    assert a.notices() == []
    b = replicas.reopen(b)
    assert b.notices() == [moved]


def test_notices_of_a_file_from_before_tentative_notices_read_as_settled(replicas: Replicas) -> None:
    """A version 3 file (no ``settled`` column) migrates; its notices were all about commitment."""
    p, a, b = offline_bookings(replicas)
    send(b, p)  # the primary commits B's booking before hearing of A's
    p.commit()
    send(a, p)
    p.commit()
    send(p, a)
    assert a.notices() == [Notice(WA, 0, 2)]
    path = replicas.store_of(a).path
    replicas.close(a)
    with closing(sqlite3.connect(path, isolation_level=None)) as conn:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("ALTER TABLE notices DROP COLUMN settled")
        conn.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (b"3",))
        conn.execute("COMMIT")
    a = replicas.open("A", ManualClock(50))
    assert a.notices() == [Notice(WA, 0, 2, settled=True)]
    with closing(sqlite3.connect(path)) as conn:
        version = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0]
        columns = [row[1] for row in conn.execute("PRAGMA table_info(notices)")]
    assert version == str(SCHEMA_VERSION).encode()
    assert columns[-1] == "settled"
