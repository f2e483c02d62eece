"""Regression (issue 12, defect 2) through real SQLite files: a cancelled or edited occurrence
follows its series when the series moves, on one replica, across a sync in either order, after
a reopen, and through an exported and re-imported calendar file."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from localfirst import ManualClock, Replica, calendar
from localfirst.calendar_ops import EventIndex
from localfirst.recurrence import Occurrence
from storage.files import export_library, import_files

from .conftest import Replicas

PARIS = ZoneInfo("Europe/Paris")
SERIES = {
    "calendar": "work",
    "title": "Standup",
    "start": "2026-11-02T10:00:00",
    "end": "2026-11-02T10:30:00",
    "all_day": False,
    "tz": "Europe/Paris",
    "rrule": "FREQ=WEEKLY;COUNT=10",
}


def occurrences(r: Replica) -> list[Occurrence]:
    index = EventIndex()
    index.load((k, d.values()) for k, d in r.entities("event").items())
    start = datetime(2026, 10, 1, tzinfo=PARIS)
    return index.query(start, datetime(2027, 2, 1, tzinfo=PARIS), display_tz=PARIS)


def shown(r: Replica) -> list[tuple[str, str, str]]:
    return [(o.key, o.start.isoformat(), o.title) for o in occurrences(r)]


def nth(r: Replica, n: int) -> Occurrence:
    return occurrences(r)[n]


def mondays_at(hour: int, skip: tuple[int, ...]) -> list[str]:
    first = datetime(2026, 11, 2, hour, tzinfo=PARIS)
    return [(first + timedelta(weeks=n)).isoformat() for n in range(10) if n not in skip]


def moved(r: Replica, occ: Occurrence, hours: int, scope: Any = "series") -> None:
    delta = timedelta(hours=hours)
    calendar.move_event(r, occ, occ.start + delta, occ.end + delta, scope=scope)


@pytest.fixture
def pair(replicas: Replicas) -> tuple[Replica, Replica]:
    a = replicas.create("a", "A", members={"B": ""}, clock=ManualClock())
    a.put("calendar", "work", {"name": "Work"})
    a.create("event", SERIES, "s")
    b = replicas.join("b", "B", a.genesis(), ManualClock())
    b.receive(a.batch_for(b.summary()))
    return a, b


@pytest.mark.parametrize("order", ["A then B", "B then A"])
def test_a_cancelled_occurrence_comes_back_when_the_series_moves_on_sqlite(replicas, pair, order):
    a, b = pair
    calendar.delete_event(a, nth(a, 2), scope="this")
    moved(a, nth(a, 0), 1)  # on one replica: 9 occurrences, at the moved times
    assert [start for _, start, _ in shown(a)] == mondays_at(11, skip=(2,))
    fifth = nth(b, 4)
    calendar.edit_event(b, fifth, {"title": "Retro", "start": "2026-12-01T15:00:00"}, scope="this")
    moved(b, nth(b, 0), 2)  # concurrently, B moves the series again and edits an occurrence
    first, second = (a, b) if order == "A then B" else (b, a)
    second.receive(first.batch_for(second.summary()))
    first.receive(second.batch_for(first.summary()))
    a, b = replicas.reopen(a), replicas.reopen(b)
    assert shown(a) == shown(b)
    assert len(shown(a)) == 9
    assert ("s@2026-11-30T10:00:00", "2026-12-01T15:00:00+01:00", "Retro") in shown(a)
    hours = {start[11:13] for key, start, _ in shown(a) if key != fifth.key}
    assert len(hours) == 1  # both moves conflict on the start; every plain one follows the winner
    assert a.conflicts() == b.conflicts() == {"s": ["end", "start"]}  # the anchor agrees


def test_a_moved_series_round_trips_through_its_calendar_file(replicas, pair, tmp_path: Path):
    a, _ = pair
    calendar.delete_event(a, nth(a, 2), scope="this")
    calendar.edit_event(a, nth(a, 3), {"title": "Retro"}, scope="this")
    moved(a, nth(a, 0), 25)  # to Tuesdays, 11:00
    before = shown(a)
    assert len(before) == 9
    assert before[0][1] == "2026-11-03T11:00:00+01:00"
    written = export_library(a, tmp_path / "out")
    fresh = replicas.create("c", "C", clock=ManualClock())
    assert import_files(fresh, written).ok
    assert shown(fresh) == before
    assert import_files(a, written).ok  # importing its own export again changes nothing
    assert shown(a) == before
    assert len(a.entities("event")) == 3
