"""The calendar's application services in memory: every action's exact result, its undo and
redo, booking arbitration whichever door a write comes through, and undo after a sync."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from localfirst import ManualClock, MemoryStore, Replica, UnknownEntity, calendar
from localfirst.calendar_ops import EventIndex, time_changes
from localfirst.recurrence import Occurrence

from .conftest import Cluster, MakeCluster, sync, sync_both

PARIS = ZoneInfo("Europe/Paris")


def at(day: int, hour: int, minute: int = 0, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=PARIS)


def single(title: str = "Standup", day: int = 18, hour: int = 10, cal: str = "work") -> dict[str, Any]:
    return {
        "calendar": cal,
        "title": title,
        "start": f"2026-11-{day:02}T{hour:02}:00:00",
        "end": f"2026-11-{day:02}T{hour:02}:30:00",
        "all_day": False,
        "tz": "Europe/Paris",
    }


def weekly(title: str = "Gym") -> dict[str, Any]:
    return {**single(title, 2, 18), "rrule": "FREQ=WEEKLY"}


def events(r: Replica) -> dict[str, dict[str, Any]]:
    return {k: d.values() for k, d in r.entities("event").items()}


def occurrences(r: Replica) -> list[Occurrence]:
    """Every occurrence in November 2026, in Paris."""
    index = EventIndex()
    index.load(events(r).items())
    return index.query(at(1, 0), at(1, 0, month=12), display_tz=PARIS)


def shown(r: Replica) -> list[tuple[str, str]]:
    return [(o.start.isoformat(), o.title) for o in occurrences(r) if not o.values.get("cancelled")]


@pytest.fixture
def r() -> Replica:
    replica = Replica.new_library(MemoryStore(), "P", clock=ManualClock())
    replica.put("calendar", "work", {"name": "Work", "colour": "#3366cc"})
    replica.put("calendar", "room", {"name": "Room A", "bookable": True})
    return replica


def occ_of(r: Replica, key: str) -> Occurrence:
    return next(o for o in occurrences(r) if o.key == key)


def nth(r: Replica, series: str, n: int) -> Occurrence:
    return [o for o in occurrences(r) if o.event == series][n]


# -- single events ------------------------------------------------------------------------------


def test_create_event_undo_and_redo(r):
    edit = calendar.create_event(r, {**single(), "rrule": None})
    [entity] = edit.entities
    assert edit.label == "New event “Standup”"
    assert events(r) == {entity: single()}  # the empty rrule is not stored
    calendar.undo(r, edit)
    assert events(r) == {}
    calendar.redo(r, edit)
    assert events(r) == {entity: single()}
    assert r.conflicts() == {}


def test_move_and_resize_single_event_with_undo_redo(r):
    [e] = calendar.create_event(r, single()).entities
    move = calendar.move_event(r, occ_of(r, e), at(18, 14), at(18, 14, 30), tz=PARIS)
    assert move.label == "Move “Standup”"
    assert events(r)[e]["start"] == "2026-11-18T14:00:00"
    assert events(r)[e]["end"] == "2026-11-18T14:30:00"
    resize = calendar.move_event(r, occ_of(r, e), at(18, 14), at(18, 15, 15))
    assert resize.label == "Resize “Standup”"
    assert events(r)[e]["end"] == "2026-11-18T15:15:00"
    calendar.undo(r, resize)
    calendar.undo(r, move)
    assert events(r) == {e: single()}
    calendar.redo(r, move)
    assert events(r)[e] == {**single(), "start": "2026-11-18T14:00:00", "end": "2026-11-18T14:30:00"}


def test_edit_event_fields_and_an_added_field_goes_on_undo(r):
    [e] = calendar.create_event(r, single()).entities
    edit = calendar.edit_event(r, occ_of(r, e), {"title": "Sync", "location": "Room 1"})
    assert edit.label == "Edit “Standup”"
    assert events(r)[e] == {**single(), "title": "Sync", "location": "Room 1"}
    calendar.undo(r, edit)
    assert events(r)[e] == single()  # the field the edit added is gone, not left behind
    assert r.conflicts() == {}


def test_delete_and_undo_brings_the_event_back_without_a_conflict(r):
    [e] = calendar.create_event(r, single("Dentist")).entities
    edit = calendar.delete_event(r, occ_of(r, e))
    assert edit.label == "Delete “Dentist”"
    assert events(r) == {}
    calendar.undo(r, edit)
    assert events(r) == {e: single("Dentist")}
    assert r.conflicts() == {}
    calendar.redo(r, edit)
    assert events(r) == {}


def test_restore_a_deleted_event_from_the_log(r):
    [e] = calendar.create_event(r, single("Dentist")).entities
    calendar.edit_event(r, occ_of(r, e), {"location": "Main St"})
    r.delete(e)
    edit = calendar.restore_event(r, e)
    assert edit.label == "Restore “Dentist”"
    assert events(r) == {e: {**single("Dentist"), "location": "Main St"}}
    calendar.undo(r, edit)
    assert events(r) == {}
    with pytest.raises(UnknownEntity):
        calendar.restore_event(r, "never-made")


def test_unknown_scope_is_one_clear_error(r):
    [e] = calendar.create_event(r, single()).entities
    with pytest.raises(Exception, match="unknown scope 'all': this, following or series"):
        calendar.edit_event(r, occ_of(r, e), {"title": "x"}, scope="all")  # type: ignore[arg-type]


# -- series ---------------------------------------------------------------------------------------


def test_edit_this_occurrence_then_undo_removes_the_override(r):
    [s] = calendar.create_event(r, weekly()).entities
    before = shown(r)
    third = nth(r, s, 2)
    edit = calendar.edit_event(r, third, {"title": "Gym with Ann"}, scope="this")
    assert edit.label == "Edit occurrence “Gym”"
    assert [t for _, t in shown(r)] == ["Gym", "Gym", "Gym with Ann", "Gym", "Gym"]
    calendar.undo(r, edit)
    assert shown(r) == before
    assert list(events(r)) == [s]


def test_edit_whole_series_moves_every_occurrence_and_undo_puts_it_back(r):
    [s] = calendar.create_event(r, weekly()).entities
    before = shown(r)
    edit = calendar.move_event(r, nth(r, s, 1), at(9, 19), at(9, 19, 30), scope="series")
    assert edit.label == "Move series “Gym”"
    assert [d for d, _ in shown(r)][:2] == ["2026-11-02T19:00:00+01:00", "2026-11-09T19:00:00+01:00"]
    calendar.undo(r, edit)
    assert shown(r) == before
    calendar.redo(r, edit)
    assert events(r)[s]["start"] == "2026-11-02T19:00:00"


def test_edit_this_and_following_splits_the_series_and_undo_joins_it(r):
    [s] = calendar.create_event(r, weekly()).entities
    before, fields = shown(r), events(r)[s]
    edit = calendar.move_event(r, nth(r, s, 2), at(16, 7), at(16, 7, 30), scope="following")
    assert edit.label == "Move following “Gym”"
    assert [d[:19] for d, _ in shown(r)] == [
        "2026-11-02T18:00:00",
        "2026-11-09T18:00:00",
        "2026-11-16T07:00:00",
        "2026-11-23T07:00:00",
        "2026-11-30T07:00:00",
    ]
    assert len(events(r)) == 2
    assert events(r)[s]["rrule"] == "FREQ=WEEKLY;UNTIL=20261115T225959Z"
    calendar.undo(r, edit)
    assert events(r) == {s: fields}
    assert shown(r) == before


def test_following_from_the_first_occurrence_is_the_whole_series(r):
    [s] = calendar.create_event(r, weekly()).entities
    edit = calendar.edit_event(r, nth(r, s, 0), {"title": "Swim"}, scope="following")
    assert edit.label == "Edit series “Gym”"
    assert list(events(r)) == [s]


def test_following_keeps_later_overrides_on_the_new_series(r):
    [s] = calendar.create_event(r, weekly()).entities
    calendar.edit_event(r, nth(r, s, 3), {"title": "Gym late"}, scope="this")
    edit = calendar.edit_event(r, nth(r, s, 1), {"location": "Pool"}, scope="following")
    titles = [(o.title, o.values.get("location")) for o in occurrences(r)]
    assert titles == [("Gym", None), ("Gym", "Pool"), ("Gym", "Pool"), ("Gym late", "Pool"), ("Gym", "Pool")]
    calendar.undo(r, edit)
    assert [(o.title, o.values.get("location")) for o in occurrences(r)] == [
        ("Gym", None),
        ("Gym", None),
        ("Gym", None),
        ("Gym late", None),
        ("Gym", None),
    ]


@pytest.mark.parametrize(
    ("scope", "label", "left"),
    [
        ("this", "Delete occurrence “Gym”", ["02", "09", "23", "30"]),
        ("following", "Delete following “Gym”", ["02", "09"]),
        ("series", "Delete series “Gym”", []),
    ],
)
def test_delete_in_each_scope_and_undo(r, scope, label, left):
    [s] = calendar.create_event(r, weekly()).entities
    calendar.edit_event(r, nth(r, s, 3), {"title": "Gym late"}, scope="this")
    before, stored = shown(r), events(r)
    edit = calendar.delete_event(r, nth(r, s, 2), scope=scope)
    assert edit.label == label
    assert [d[8:10] for d, _ in shown(r)] == left
    calendar.undo(r, edit)
    assert shown(r) == before
    assert events(r) == stored
    assert r.conflicts() == {}


# -- calendars ----------------------------------------------------------------------------------


def test_calendar_create_rename_recolour_with_undo(r):
    edit = calendar.create_calendar(r, {"name": "Home", "colour": "#aa0000"})
    [c] = edit.entities
    assert edit.label == "New calendar “Home”"
    rename = calendar.rename_calendar(r, c, "Family")
    assert rename.label == "Rename calendar “Home”"
    recolour = calendar.recolour_calendar(r, c, "#00aa00")
    assert recolour.label == "Recolour “Family”"
    assert r.values(c) == {"name": "Family", "colour": "#00aa00"}
    calendar.undo(r, recolour)
    calendar.undo(r, rename)
    assert r.values(c) == {"name": "Home", "colour": "#aa0000"}
    calendar.undo(r, edit)
    assert c not in r.entities("calendar")


def test_delete_calendar_takes_its_events_and_undo_brings_all_back(r):
    [s] = calendar.create_event(r, weekly()).entities
    calendar.edit_event(r, nth(r, s, 1), {"title": "Gym early"}, scope="this")
    [one] = calendar.create_event(r, single()).entities
    [other] = calendar.create_event(r, single("Lunch", cal="room")).entities
    stored = events(r)
    edit = calendar.delete_calendar(r, "work")
    assert edit.label == "Delete calendar “Work”"
    assert "work" not in r.entities("calendar")
    assert list(events(r)) == [other]
    calendar.undo(r, edit)
    assert r.values("work") == {"name": "Work", "colour": "#3366cc"}
    assert events(r) == stored
    assert r.conflicts() == {}
    calendar.redo(r, edit)
    assert list(events(r)) == [other]
    assert one not in events(r)


def test_bookable_calendar_deleted_and_restored_books_its_events_again(r):
    [e] = calendar.create_event(r, single("Meeting", cal="room")).entities
    assert r.booking(e).slot is not None
    edit = calendar.delete_calendar(r, "room")
    calendar.undo(r, edit)
    booking = r.booking(e)
    assert booking is not None
    assert booking.slot is not None
    assert (booking.slot.start, booking.slot.end) == (
        int(at(18, 10).timestamp()),
        int(at(18, 10, 30).timestamp()),
    )


# -- conflicts ----------------------------------------------------------------------------------


def two(mem_cluster: MakeCluster) -> Cluster:
    lib: Cluster = mem_cluster("P", "A")
    lib.at("P", 1).put("calendar", "work", {"name": "Work"})
    lib["P"].put("event", "e", single())
    sync_both(lib["P"], lib["A"])
    return lib


def test_resolve_an_event_field_conflict_picking_one_sibling(mem_cluster):
    lib = two(mem_cluster)
    lib.at("P", 5).put("event", "e", {"title": "From P"})
    lib.at("A", 5).put("event", "e", {"title": "From A"})
    sync_both(lib["P"], lib["A"])
    assert lib["P"].conflicts() == {"e": ["title"]}
    winner = lib["P"].values("e")["title"]
    edit = calendar.resolve_field(lib["P"], "e", "title", "From A" if winner == "From P" else "From P")
    assert edit.label == f"Resolve “{winner}”"
    assert lib["P"].conflicts() == {}
    sync_both(lib["P"], lib["A"])
    assert lib["A"].conflicts() == {}
    assert lib["A"].values("e")["title"] != winner
    calendar.undo(lib["P"], edit)
    assert lib["P"].values("e")["title"] == winner
    assert lib["P"].conflicts() == {}


def test_resolve_a_calendar_name_with_a_merge(mem_cluster):
    lib = two(mem_cluster)
    lib.at("P", 5).put("calendar", "work", {"name": "Job"})
    lib.at("A", 5).put("calendar", "work", {"name": "Office"})
    sync_both(lib["P"], lib["A"])
    calendar.resolve_field(lib["A"], "work", "name", "Job / Office")
    sync_both(lib["P"], lib["A"])
    assert lib["P"].values("work")["name"] == "Job / Office"
    assert lib["P"].conflicts() == {} == lib["A"].conflicts()


@pytest.mark.parametrize("keep", [True, False])
def test_resolve_an_edit_concurrent_with_a_delete(mem_cluster, keep):
    lib = two(mem_cluster)
    lib.at("P", 5).delete("e")
    lib.at("A", 5).put("event", "e", {"title": "Moved to Friday"})
    sync_both(lib["P"], lib["A"])
    assert lib["P"].conflicts() == {"e": ["_deleted"]}
    edit = calendar.resolve_deleted(lib["P"], "e", keep=keep)
    assert edit.label.startswith("Keep “" if keep else "Delete “")
    sync_both(lib["P"], lib["A"])
    for device in ("P", "A"):
        assert lib[device].conflicts() == {}
        assert ("e" in lib[device].entities("event")) is keep
    if keep:
        assert lib["P"].values("e")["title"] == "Moved to Friday"


# -- booking, whichever door --------------------------------------------------------------------


def test_save_event_books_in_a_bookable_calendar_one_gets_the_slot(r):
    first = calendar.save_event(r, "a", single("A", cal="room"), tz=PARIS, label="Import “A”")
    second = calendar.save_event(r, "b", {**single("B", cal="room"), "end": "2026-11-18T11:00:00"}, tz=PARIS)
    assert first.label == "Import “A”"
    assert second.label == "Edit event"
    r.commit()
    booked, rejected = r.booking("a"), r.booking("b")
    assert booked is not None
    assert booked.slot is not None
    assert not booked.tentative
    assert rejected is not None
    assert rejected.slot is None


def test_overlapping_saves_on_two_devices_are_arbitrated_by_commit_order(mem_cluster):
    lib = mem_cluster("P", "A", "B")
    lib.at("P", 1).put("calendar", "room", {"name": "Room", "bookable": True})
    for d in ("A", "B"):
        sync(lib["P"], lib[d])
    lib.at("A", 5)
    lib.at("B", 6)
    calendar.save_event(lib["A"], "a", single("A", cal="room"), tz=PARIS)
    calendar.save_event(lib["B"], "b", single("B", cal="room"), tz=PARIS)
    assert lib["A"].booking("a").slot is not None
    assert lib["B"].booking("b").slot is not None
    sync(lib["B"], lib["P"])
    sync(lib["A"], lib["P"])
    lib["P"].commit()
    for d in ("A", "B"):
        sync_both(lib["P"], lib[d])
    for d in ("P", "A", "B"):
        slots = {e: lib[d].booking(e).slot for e in ("a", "b")}
        assert slots["a"] is not None, d  # a's write is earlier (stamp 5)
        assert slots["b"] is None, d
    assert lib["B"].notices() != []  # B is told its tentative booking lost


def test_moving_a_booked_event_books_it_again_and_undo_books_the_old_time(r):
    [e] = calendar.create_event(r, single("Meeting", cal="room")).entities
    move = calendar.move_event(r, occ_of(r, e), at(18, 15), at(18, 16))
    assert (r.booking(e).slot.start, r.booking(e).slot.end) == (
        int(at(18, 15).timestamp()),
        int(at(18, 16).timestamp()),
    )
    calendar.undo(r, move)
    assert r.booking(e).slot.start == int(at(18, 10).timestamp())


# -- undo after a sync ----------------------------------------------------------------------------


def test_undo_after_sync_restores_both_and_keeps_a_peers_concurrent_edit(mem_cluster):
    lib = mem_cluster("P", "A", "B")
    lib.at("P", 1).put("calendar", "work", {"name": "Work"})
    lib["P"].put("event", "e", single())
    for d in ("A", "B"):
        sync(lib["P"], lib[d])
    a, b = lib.at("A", 5), lib.at("B", 5)
    move = calendar.move_event(a, occ_of(a, "e"), at(18, 14), at(18, 14, 30))
    sync_both(a, b)
    assert b.values("e")["start"] == "2026-11-18T14:00:00"
    b.put("event", "e", {"location": "Room 4"})  # B's own edit, unrelated to the move
    lib.at("A", 9)
    calendar.undo(a, move)  # concurrent with B's edit
    sync_both(a, b)
    for replica in (a, b):
        assert replica.values("e") == {**single(), "location": "Room 4"}
        assert replica.conflicts() == {}


def test_undo_of_a_delete_after_sync_brings_it_back_everywhere(mem_cluster):
    lib = mem_cluster("P", "A")
    lib.at("P", 1).put("calendar", "work", {"name": "Work"})
    [e] = calendar.create_event(lib["P"], single("Dentist")).entities
    sync_both(lib["P"], lib["A"])
    edit = calendar.delete_event(lib["A"], occ_of(lib["A"], e))
    sync_both(lib["P"], lib["A"])
    assert events(lib["P"]) == {}
    calendar.undo(lib["A"], edit)
    sync_both(lib["P"], lib["A"])
    assert events(lib["P"]) == events(lib["A"]) == {e: single("Dentist")}
    assert lib["P"].conflicts() == {}


# -- property: undoing every action in reverse gets back where we started -----------------------

ACTIONS = st.lists(
    st.tuples(st.sampled_from(["move", "edit", "delete", "create"]), st.integers(0, 3), st.integers(8, 20)),
    min_size=1,
    max_size=8,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ACTIONS)
def test_undo_all_then_redo_all_round_trips(actions):
    r = Replica.new_library(MemoryStore(), "P", clock=ManualClock())
    r.put("calendar", "work", {"name": "Work"})
    for n in range(3):
        calendar.create_event(r, single(f"E{n}", 16 + n))
    start = events(r)
    done = []
    for action, which, hour in actions:
        live = sorted(events(r))
        if action == "create" or not live:
            done.append(calendar.create_event(r, single(f"N{hour}", 20, hour)))
            continue
        occ = occ_of(r, live[which % len(live)])
        if action == "move":
            done.append(
                calendar.move_event(r, occ, occ.start.replace(hour=hour), occ.end.replace(hour=hour + 1))
            )
        elif action == "edit":
            done.append(calendar.edit_event(r, occ, {"title": f"T{hour}", "location": str(hour)}))
        else:
            done.append(calendar.delete_event(r, occ))
    end = events(r)
    for edit in reversed(done):
        calendar.undo(r, edit)
    assert events(r) == start
    for edit in done:
        calendar.redo(r, edit)
    assert events(r) == end
    assert r.conflicts() == {}


# -- regression: a cancelled occurrence comes back when the series moves (issue 12, defect 2) ---


def ten_weeks(title: str = "Standup") -> dict[str, Any]:
    """A weekly series of 10 occurrences, Mondays at 10:00 from 2 November 2026."""
    return {**single(title, 2, 10), "rrule": "FREQ=WEEKLY;COUNT=10"}


def winter(r: Replica) -> list[Occurrence]:
    """Every occurrence from November to January, in Paris."""
    index = EventIndex()
    index.load(events(r).items())
    return index.query(at(1, 0), datetime(2027, 2, 1, tzinfo=PARIS), display_tz=PARIS)


def every(r: Replica) -> list[tuple[str, str, str]]:
    """Every occurrence shown from November to January: (key, start, title)."""
    return [(o.key, o.start.isoformat(), o.title) for o in winter(r)]


def nth_of(r: Replica, series: str, n: int) -> Occurrence:
    return [o for o in winter(r) if o.event == series][n]


def key_of(r: Replica, key: str) -> Occurrence:
    return next(o for o in winter(r) if o.key == key)


def mondays(hour: int, skip: tuple[int, ...] = ()) -> list[str]:
    """The series' ten Mondays at ``hour`` (skipping these indices), as shown in Paris."""
    days = [datetime(2026, 11, 2, hour, tzinfo=PARIS) + timedelta(weeks=n) for n in range(10)]
    return [d.isoformat() for n, d in enumerate(days) if n not in skip]


def test_a_cancelled_occurrence_comes_back_when_the_series_moves(r):
    [s] = calendar.create_event(r, ten_weeks()).entities
    calendar.delete_event(r, nth_of(r, s, 2), scope="this")
    assert len(every(r)) == 9
    first = nth_of(r, s, 0)
    edit = calendar.move_event(r, first, at(2, 11), at(2, 11, 30), scope="series")
    assert [start for _, start, _ in every(r)] == mondays(11, skip=(2,))
    assert f"{s}@2026-11-16T10:00:00" not in [key for key, _, _ in every(r)]
    # Moving again, by a day through another occurrence, and by the editor's series scope.
    fifth = nth_of(r, s, 4)
    calendar.move_event(r, fifth, fifth.start + timedelta(days=1), fifth.end + timedelta(days=1), "series")
    tuesdays = [(datetime.fromisoformat(d) + timedelta(days=1)).isoformat() for d in mondays(11, (2,))]
    assert [start for _, start, _ in every(r)] == tuesdays
    calendar.edit_event(
        r, nth_of(r, s, 0), {"start": "2026-11-03T08:00:00", "end": "2026-11-03T08:30:00"}, "series"
    )
    assert len(every(r)) == 9
    assert all(start[11:16] == "08:00" for _, start, _ in every(r))
    assert r.conflicts() == {}
    # Undo of the first move (after later ones) takes back only its own shift; the cancellation stays.
    calendar.undo(r, edit)
    assert len(every(r)) == 9


def test_an_edited_occurrence_stays_when_the_series_moves(r):
    [s] = calendar.create_event(r, ten_weeks()).entities
    third = nth_of(r, s, 2)
    calendar.move_event(r, third, at(18, 15), at(18, 16), scope="this")
    calendar.edit_event(r, key_of(r, third.key), {"title": "Retro"}, scope="this")
    calendar.move_event(r, nth_of(r, s, 0), at(2, 11), at(2, 11, 30), scope="series")
    shown_now = every(r)
    assert len(shown_now) == 10
    assert (third.key, at(18, 15).isoformat(), "Retro") in shown_now
    plain = [start for key, start, _ in shown_now if key != third.key]
    assert plain == mondays(11, skip=(2,))
    # An occurrence only retitled follows the series' new time.
    calendar.edit_event(r, nth_of(r, s, 5), {"title": "Demo"}, scope="this")
    calendar.move_event(r, nth_of(r, s, 0), at(2, 9), at(2, 9, 30), scope="series")
    assert (f"{s}@2026-12-07T10:00:00", mondays(9)[5], "Demo") in every(r)
    assert (third.key, at(18, 15).isoformat(), "Retro") in every(r)


@pytest.mark.parametrize("order", ["A first", "B first"])
def test_a_cancelled_or_edited_occurrence_survives_a_concurrent_series_move(mem_cluster, order):
    lib = mem_cluster("P", "A", "B")
    lib.at("P", 1).put("calendar", "work", {"name": "Work"})
    [s] = calendar.create_event(lib["P"], ten_weeks()).entities
    for d in ("A", "B"):
        sync(lib["P"], lib[d])
    a, b = lib.at("A", 5), lib.at("B", 5)
    fifth = nth_of(a, s, 4)
    calendar.delete_event(a, nth_of(a, s, 2), scope="this")
    calendar.move_event(a, fifth, at(2, 15, month=12), at(2, 16, month=12), scope="this")
    calendar.edit_event(a, key_of(a, fifth.key), {"title": "Moved"}, scope="this")
    calendar.move_event(b, nth_of(b, s, 0), at(2, 11), at(2, 11, 30), scope="series")
    first, second = (a, b) if order == "A first" else (b, a)
    sync(first, second)
    sync(second, first)
    sync(lib["A"], lib["P"])
    sync(lib["B"], lib["P"])
    expected = every(a)
    assert every(b) == every(lib["P"]) == expected
    assert len(expected) == 9
    assert (fifth.key, at(2, 15, month=12).isoformat(), "Moved") in expected
    plain = [start for key, start, _ in expected if key != fifth.key]
    assert plain == mondays(11, skip=(2, 4))
    assert a.conflicts() == b.conflicts() == {}


SERIES_OPS = st.lists(
    st.one_of(
        st.tuples(st.just("cancel"), st.integers(0, 2), st.integers(0, 9)),
        st.tuples(st.just("override"), st.integers(0, 2), st.integers(0, 9), st.integers(7, 20)),
        st.tuples(st.just("move"), st.integers(0, 2), st.integers(0, 9), st.integers(-30, 30)),
        st.tuples(st.just("title"), st.integers(0, 2), st.integers(0, 9)),
        st.tuples(st.just("sync"), st.integers(0, 2), st.integers(0, 2)),
    ),
    min_size=1,
    max_size=14,
)


def spring(r: Replica) -> list[Occurrence]:
    """Every occurrence from October to February (a series moved back and forth stays inside)."""
    index = EventIndex()
    index.load(events(r).items())
    return index.query(at(1, 0, month=10), datetime(2027, 3, 1, tzinfo=PARIS), display_tz=PARIS)


@dataclass
class SeriesRun:
    """Devices sharing one ten-week series, and what the ops did to it."""

    replicas: list[Replica]
    clocks: list[ManualClock]
    series: str
    cancelled: set[str] = field(default_factory=set)
    written: dict[str, set[tuple[str, str]]] = field(default_factory=dict)


def _series_run(devices: int) -> SeriesRun:
    clocks = [ManualClock() for _ in range(devices)]
    members = {f"D{i}": "" for i in range(1, devices)}
    first = Replica.new_library(MemoryStore(), "D0", members=members, clock=clocks[0])
    first.put("calendar", "work", {"name": "Work"})
    [s] = calendar.create_event(first, ten_weeks()).entities
    genesis = first.genesis()
    replicas = [first] + [Replica.join(MemoryStore(), f"D{i}", genesis, clocks[i]) for i in range(1, devices)]
    for other in replicas[1:]:
        sync(first, other)
    return SeriesRun(replicas, clocks, s)


def _series_op(run: SeriesRun, step: int, action: str, who: int, args: tuple[int, ...]) -> None:
    devices = len(run.replicas)
    r = run.replicas[who % devices]
    run.clocks[who % devices].set(step)
    if action == "sync":
        sync(r, run.replicas[args[0] % devices])
        return
    occs = [o for o in spring(r) if o.event == run.series]
    if not occs:
        return
    occ = occs[args[0] % len(occs)]
    if action == "cancel":
        calendar.delete_event(r, occ, scope="this")
        run.cancelled.add(occ.key)
    elif action == "override":
        start = occ.start.replace(hour=args[1])
        title = f"O{step}"
        changes = {"title": title, **time_changes(occ, start, start + timedelta(hours=1))}
        calendar.edit_event(r, occ, changes, scope="this")
        run.written.setdefault(occ.key, set()).add((title, start.isoformat()))
    elif action == "move" and not occ.overridden and args[1]:
        delta = timedelta(hours=args[1])
        calendar.move_event(r, occ, occ.start + delta, occ.end + delta, scope="series")
    elif action == "title":
        calendar.edit_event(r, occ, {"title": f"S{step}"}, scope="series")


def _sync_all(replicas: list[Replica]) -> None:
    for _ in range(2):
        for x in replicas:
            for y in replicas:
                if x is not y:
                    sync(x, y)


def _check_nothing_lost(run: SeriesRun) -> None:
    replicas = run.replicas
    shown_all = [[(o.key, o.start, o.title) for o in spring(r)] for r in replicas]
    assert all(view == shown_all[0] for view in shown_all)
    occs = spring(replicas[0])
    keys = [o.key for o in occs]
    assert len(keys) == len(set(keys)) == 10 - len(run.cancelled)
    assert not run.cancelled & set(keys)
    series_title = replicas[0].values(run.series)["title"]
    shifts = set()
    for o in occs:
        if o.key in run.written:
            assert o.title in {t for t, _ in run.written[o.key]}
            assert o.start.isoformat() in {st_ for _, st_ in run.written[o.key]}
        else:
            assert o.title == series_title
            original = datetime.fromisoformat(o.key.split("@")[1]).replace(tzinfo=PARIS)
            shifts.add(o.start.replace(tzinfo=None) - original.replace(tzinfo=None))
    assert len(shifts) <= 1  # every occurrence not edited on its own follows the series alike


@settings(max_examples=60, deadline=None)
@given(st.integers(2, 3), SERIES_OPS)
def test_series_moves_cancels_and_overrides_converge_with_nothing_lost(devices, ops):
    run = _series_run(devices)
    for step, (action, who, *args) in enumerate(ops, start=1):
        _series_op(run, step, action, who, tuple(args))
    _sync_all(run.replicas)
    _check_nothing_lost(run)


def test_this_and_following_of_a_moved_series_keeps_its_exceptions(r):
    [s] = calendar.create_event(r, ten_weeks()).entities
    calendar.delete_event(r, nth_of(r, s, 6), scope="this")  # 14 December
    calendar.edit_event(r, nth_of(r, s, 7), {"title": "Party"}, scope="this")  # 21 December
    calendar.move_event(r, nth_of(r, s, 0), at(2, 11), at(2, 11, 30), scope="series")
    fourth = nth_of(r, s, 3)  # 23 November, now at 11:00
    edit = calendar.move_event(
        r, fourth, fourth.start + timedelta(hours=2), fourth.end + timedelta(hours=2), "following"
    )
    after = every(r)
    assert [start[:16] for _, start, _ in after] == [
        "2026-11-02T11:00",
        "2026-11-09T11:00",
        "2026-11-16T11:00",
        "2026-11-23T13:00",
        "2026-11-30T13:00",
        "2026-12-07T13:00",
        "2026-12-21T13:00",  # the cancellation of the 14th and the retitled 21st followed
        "2026-12-28T13:00",
        "2027-01-04T13:00",
    ]
    assert [t for _, _, t in after].count("Party") == 1
    assert len(events(r)) == 4  # old series, new series, its cancellation and its override
    calendar.undo(r, edit)
    assert [start[11:16] for _, start, _ in every(r)] == ["11:00"] * 9
    assert r.conflicts() == {}


def test_editing_the_rule_of_a_series_moved_by_a_day_reads_it_as_shown(r):
    [s] = calendar.create_event(r, ten_weeks()).entities
    first = nth_of(r, s, 0)
    calendar.move_event(r, first, first.start + timedelta(days=1), first.end + timedelta(days=1), "series")
    occ = nth_of(r, s, 0)
    assert occ.values["rrule"] == "FREQ=WEEKLY;COUNT=10"
    # The editor asks for Tuesdays and Thursdays, until Tuesday 17 November (as shown).
    rule = "FREQ=WEEKLY;UNTIL=20261117T225959Z;BYDAY=TU,TH"
    calendar.edit_event(r, occ, {"rrule": rule}, scope="series")
    assert [start[:10] for _, start, _ in every(r)] == [
        "2026-11-03",
        "2026-11-05",
        "2026-11-10",
        "2026-11-12",
        "2026-11-17",
    ]
    assert nth_of(r, s, 0).values["rrule"] == rule
    assert events(r)[s]["rrule"] == "FREQ=WEEKLY;UNTIL=20261116T225959Z;BYDAY=MO,WE"


def test_a_cancelled_all_day_occurrence_stays_cancelled_when_the_series_moves(r):
    fields = {**ten_weeks("Bins"), "start": "2026-11-02", "end": "2026-11-03", "all_day": True}
    [s] = calendar.create_event(r, fields).entities
    calendar.delete_event(r, nth_of(r, s, 2), scope="this")
    first = nth_of(r, s, 0)
    calendar.move_event(r, first, first.start + timedelta(days=2), first.end + timedelta(days=2), "series")
    assert events(r)[s]["anchor"] == "2026-11-02"
    wednesdays = [(datetime(2026, 11, 4) + timedelta(weeks=n)).date().isoformat() for n in range(10)]
    assert [start[:10] for _, start, _ in every(r)] == wednesdays[:2] + wednesdays[3:]


# -- calendar colours, the default calendar, booking explanations ---------------------------------


def test_each_new_calendar_gets_a_distinct_palette_colour(r):
    made = [calendar.create_calendar(r, {"name": f"C{i}"}).entities[0] for i in range(4)]
    colours = [r.values(c)["colour"] for c in made]
    assert colours == list(calendar.CALENDAR_PALETTE[:4])  # "room" has none, "work" a colour of its own
    given = calendar.create_calendar(r, {"name": "Mine", "colour": "#123456"}).entities[0]
    assert r.values(given)["colour"] == "#123456"


def test_once_the_palette_is_used_the_least_used_colour_comes_next(r):
    for i in range(len(calendar.CALENDAR_PALETTE)):
        calendar.create_calendar(r, {"name": f"C{i}"})
    [again] = calendar.create_calendar(r, {"name": "Again"}).entities
    assert r.values(again)["colour"] == calendar.CALENDAR_PALETTE[0]


def test_imported_calendars_without_a_colour_get_distinct_colours():
    from storage.files import ImportReport, import_text

    r = Replica.new_library(MemoryStore(), "P", clock=ManualClock())
    ics = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\nX-WR-CALNAME:{}\r\nEND:VCALENDAR\r\n"
    for name in ("Work", "Home", "Sport"):
        import_text(r, ics.format(name), ".ics", name, ImportReport(), Path(f"/{name}.ics"))
    colours = {d.value("name"): d.value("colour") for d in r.entities("calendar").values()}
    assert colours == dict(zip(("Work", "Home", "Sport"), calendar.CALENDAR_PALETTE[:3], strict=True))


def test_a_new_library_gets_a_default_calendar_once():
    r = Replica.new_library(MemoryStore(), "P", clock=ManualClock())
    edit = calendar.ensure_default_calendar(r)
    assert edit is not None
    [cal] = edit.entities
    assert r.values(cal) == {"name": "Personal", "colour": calendar.CALENDAR_PALETTE[0]}
    assert calendar.ensure_default_calendar(r) is None
    assert calendar.holds_only_the_default(r)  # joining another library loses nothing
    calendar.create_event(r, single(cal=cal))
    assert not calendar.holds_only_the_default(r)
    calendar.delete_calendar(r, cal)
    assert calendar.ensure_default_calendar(r) is None  # the user deleted it: it stays deleted
    assert r.entities("calendar") == {}


def test_a_rejected_booking_says_why_and_who_holds_the_time(r):
    calendar.save_event(r, "a", single("Standup", cal="room"), tz=PARIS)
    calendar.save_event(r, "b", single("Review", cal="room"), tz=PARIS)
    assert calendar.booking_explanation(r, "a", PARIS) is None
    assert calendar.booking_explanation(r, "b", PARIS) == (
        "Rejected: Wed 18 Nov 10:00 to 10:30 is taken by “Standup” "
        "(tentative until the primary device confirms)."
    )
    r.commit()
    assert calendar.booking_explanation(r, "b", PARIS) == (
        "Rejected: Wed 18 Nov 10:00 to 10:30 is taken by “Standup”."
    )
    assert calendar.booking_explanation(r, "nothing", PARIS) is None


def test_a_booking_moved_to_an_alternative_says_which_and_why(r):
    calendar.save_event(r, "a", single("Standup", cal="room"), tz=PARIS)
    asked = (int(at(18, 10).timestamp()), int(at(18, 10, 30).timestamp()))
    other = (int(at(18, 11).timestamp()), int(at(18, 11, 30).timestamp()))
    r.book("room", [asked, other], {**single("Review"), "calendar": "room"}, event="c")
    r.commit()
    assert calendar.booking_explanation(r, "c", PARIS) == (
        "Moved to the alternative Wed 18 Nov 11:00 to 11:30: Wed 18 Nov 10:00 to 10:30 is taken by “Standup”."
    )
