"""Recurrence expansion, occurrence overrides and the calendar's pure edit helpers."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from localfirst import ManualClock, MemoryStore, Notice, Replica, WriteId
from localfirst.calendar_ops import (
    EventIndex,
    booking_slot,
    describe_notice,
    floor_to,
    moved,
    resized,
    restore_plan,
    round_delta,
    time_changes,
)
from localfirst.recurrence import (
    MAX_OCCURRENCES,
    Occurrence,
    RuleSpec,
    cancel_fields,
    expand,
    following_split,
    format_rule,
    occurrence_id,
    override_fields,
    parse_rule,
    reminders_due,
    series_move_fields,
    shown_rule,
    stored_rule,
)
from localfirst.series_frame import to_file

PARIS = ZoneInfo("Europe/Paris")


def at(year: int, month: int, day: int, hour: int = 0, minute: int = 0, tz: Any = PARIS) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=tz)


def starts(occs: list[Occurrence]) -> list[str]:
    return [o.start.isoformat() for o in occs]


def weekly(**extra):
    return {
        "title": "Standup",
        "start": "2026-10-19T10:00:00",
        "end": "2026-10-19T10:30:00",
        "tz": "Europe/Paris",
        "rrule": "FREQ=WEEKLY",
        **extra,
    }


def test_single_event_in_and_out_of_window():
    ev = {"title": "x", "start": "2026-11-21T10:00:00", "end": "2026-11-21T11:00:00", "tz": "Europe/Paris"}
    [occ] = expand(ev, {}, at(2026, 11, 21), at(2026, 11, 22), series_id="e1")
    assert (occ.key, occ.event, occ.series) == ("e1", "e1", None)
    assert occ.start == at(2026, 11, 21, 10)
    assert occ.end == at(2026, 11, 21, 11)
    assert expand(ev, {}, at(2026, 11, 21, 11), at(2026, 11, 22), series_id="e1") == []


def test_weekly_keeps_wall_clock_time_across_dst_in_paris():
    occs = expand(weekly(), {}, at(2026, 10, 19), at(2026, 11, 3), series_id="s")
    assert starts(occs) == [
        "2026-10-19T10:00:00+02:00",
        "2026-10-26T10:00:00+01:00",  # summer time ended on Sunday 25 October
        "2026-11-02T10:00:00+01:00",
    ]
    assert [o.end - o.start for o in occs] == [timedelta(minutes=30)] * 3
    assert [o.recurrence_id for o in occs] == [
        "2026-10-19T10:00:00",
        "2026-10-26T10:00:00",
        "2026-11-02T10:00:00",
    ]
    assert occs[1].key == occurrence_id("s", "2026-10-26T10:00:00") == "s@2026-10-26T10:00:00"


def test_daily_at_a_time_skipped_by_spring_forward_moves_to_the_next_valid_time():
    ev = {
        "start": "2026-03-28T02:30:00",
        "end": "2026-03-28T03:00:00",
        "tz": "Europe/Paris",
        "rrule": "FREQ=DAILY",
    }
    occs = expand(ev, {}, at(2026, 3, 28), at(2026, 3, 31), series_id="s")
    assert starts(occs) == [
        "2026-03-28T02:30:00+01:00",
        "2026-03-29T03:30:00+02:00",  # 02:30 does not exist that day
        "2026-03-30T02:30:00+02:00",
    ]
    assert occs[1].start.astimezone(UTC) == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)


def test_monthly_on_the_31st_skips_short_months():
    ev = {"start": "2026-01-31T09:00:00", "end": "2026-01-31T10:00:00", "rrule": "FREQ=MONTHLY"}
    occs = expand(ev, {}, at(2026, 1, 1, tz=UTC), at(2026, 8, 1, tz=UTC), series_id="s")
    assert [o.start.date() for o in occs] == [date(2026, m, 31) for m in (1, 3, 5, 7)]
    assert occs[0].start == datetime(2026, 1, 31, 9, tzinfo=UTC)  # tz None is UTC


def test_yearly_all_day_with_count():
    ev = {"title": "Birthday", "start": "2024-02-29", "end": "2024-03-01", "all_day": True}
    ev["rrule"] = "FREQ=YEARLY;COUNT=3"
    occs = expand(ev, {}, at(2024, 1, 1), at(2040, 1, 1), series_id="b")
    assert [o.start for o in occs] == [at(2024, 2, 29), at(2028, 2, 29), at(2032, 2, 29)]
    assert all(o.all_day and o.end - o.start == timedelta(days=1) for o in occs)
    assert occs[1].recurrence_id == "2028-02-29"


def test_until_in_utc_is_inclusive_in_the_event_zone():
    rule = format_rule(RuleSpec("WEEKLY", until=date(2026, 11, 2)), tz=PARIS)
    assert rule == "FREQ=WEEKLY;UNTIL=20261102T225959Z"
    occs = expand(weekly(rrule=rule), {}, at(2026, 10, 1), at(2027, 1, 1), series_id="s")
    assert [o.start.date() for o in occs] == [date(2026, 10, 19), date(2026, 10, 26), date(2026, 11, 2)]
    assert parse_rule(rule) == RuleSpec("WEEKLY", 1, date(2026, 11, 2), None)


def test_rule_round_trip_keeps_parts_the_editor_does_not_show():
    spec = parse_rule("FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,WE;COUNT=6")
    assert spec == RuleSpec("WEEKLY", 2, None, 6, (("BYDAY", "MO,WE"),))
    assert format_rule(spec) == "FREQ=WEEKLY;INTERVAL=2;COUNT=6;BYDAY=MO,WE"
    assert parse_rule("FREQ=SECONDLY") is None
    assert parse_rule(None) is None


def test_exdates_rdates_and_cancelled_or_moved_overrides():
    series = weekly(exdates=["2026-10-26T10:00:00"], rdates=["2026-10-21T15:00:00"])
    moved_id = occurrence_id("s", "2026-11-02T10:00:00")
    cancelled_id = occurrence_id("s", "2026-11-09T10:00:00")
    overrides: dict[str, dict[str, Any]] = {
        moved_id: {
            "series": "s",
            "recurrence_id": "2026-11-02T10:00:00",
            "start": "2026-11-03T16:00:00",
            "end": "2026-11-03T17:00:00",
            "title": "Moved",
        },
        cancelled_id: {"series": "s", "recurrence_id": "2026-11-09T10:00:00", "cancelled": True},
    }
    occs = expand(series, overrides, at(2026, 10, 19), at(2026, 11, 17), series_id="s")
    assert [(o.start, o.title) for o in occs] == [
        (at(2026, 10, 19, 10), "Standup"),
        (at(2026, 10, 21, 15), "Standup"),
        (at(2026, 11, 3, 16), "Moved"),
        (at(2026, 11, 16, 10), "Standup"),
    ]
    assert occs[2].key == moved_id
    assert occs[2].overridden
    # An occurrence moved into the window from outside it shows; its original slot does not.
    only = expand(series, overrides, at(2026, 11, 3), at(2026, 11, 4), series_id="s")
    assert [o.key for o in only] == [moved_id]
    # An override of an instance the rule no longer has is not shown.
    stray: dict[str, dict[str, Any]] = {
        "x": {"series": "s", "recurrence_id": "2026-10-20T10:00:00", "title": "ghost"}
    }
    assert "ghost" not in [
        o.title for o in expand(series, stray, at(2026, 10, 19), at(2026, 10, 27), series_id="s")
    ]


def test_hostile_or_broken_rules_never_raise():
    for rule in ("FREQ=DAILY;UNTIL=garbage", "nonsense", "FREQ=DAILY;INTERVAL=x"):
        occs = expand(weekly(rrule=rule), {}, at(2026, 10, 1), at(2026, 12, 1), series_id="s")
        assert len(occs) <= 1
    # A secondly rule is expanded, but one series shows at most MAX_OCCURRENCES in a window.
    occs = expand(weekly(rrule="FREQ=SECONDLY"), {}, at(2026, 10, 1), at(2026, 12, 1), series_id="s")
    assert len(occs) == MAX_OCCURRENCES
    assert expand({"start": "not a date"}, {}, at(2026, 1, 1), at(2027, 1, 1)) == []
    assert expand(weekly(tz="Mars/Olympus"), {}, at(2026, 10, 19), at(2026, 10, 20), series_id="s")[
        0
    ].start == (datetime(2026, 10, 19, 10, tzinfo=UTC))


def test_edit_helpers():
    [occ] = expand(weekly(), {}, at(2026, 10, 26), at(2026, 10, 27), series_id="s")
    assert override_fields(occ, {"title": "x", "rrule": "FREQ=DAILY"}) == {
        "series": "s",
        "recurrence_id": "2026-10-26T10:00:00",
        "title": "x",
    }
    assert cancel_fields(occ)["cancelled"] is True
    start, end = moved(occ, timedelta(hours=1))
    assert time_changes(occ, start, end) == {"start": "2026-10-26T11:00:00", "end": "2026-10-26T11:30:00"}
    assert series_move_fields(weekly(), occ, start, end + timedelta(minutes=30)) == {
        "start": "2026-10-19T11:00:00",
        "end": "2026-10-19T12:00:00",
    }
    assert resized(occ, timedelta(hours=-2)) == (occ.start, occ.start + timedelta(minutes=15))
    old, new = following_split(weekly(), occ)
    assert old == {"rrule": "FREQ=WEEKLY;UNTIL=20261025T225959Z"}  # 23:59:59 CET
    assert (new["start"], new["rrule"], new["title"]) == ("2026-10-26T10:00:00", "FREQ=WEEKLY", "Standup")


def test_time_math_across_the_autumn_dst_change():
    # A drag of +1h in wall-clock time over the repeated hour lands on the wall-clock time.
    occ = expand(
        {"start": "2026-10-25T01:00:00", "end": "2026-10-25T01:30:00", "tz": "Europe/Paris"},
        {},
        at(2026, 10, 25),
        at(2026, 10, 26),
        series_id="e",
    )[0]
    start, end = moved(occ, timedelta(hours=2))
    assert time_changes(occ, start, end) == {"start": "2026-10-25T03:00:00", "end": "2026-10-25T03:30:00"}
    assert floor_to(at(2026, 10, 25, 10, 44)) == at(2026, 10, 25, 10, 30)
    assert round_delta(timedelta(minutes=53)) == timedelta(hours=1)


def test_restore_plan():
    assert restore_plan(None, {"a": 1}).put == {"a": 1}
    assert restore_plan({"a": 1}, None).delete
    plan = restore_plan({"a": 1, "b": 2}, {"a": 1, "b": 3})
    assert (plan.delete, plan.put) == (False, {"b": 3})
    plan = restore_plan({"a": 1, "title": "x"}, {"a": 1})  # an override that inherited the title
    assert (plan.delete, plan.put) == (True, {"a": 1})
    assert restore_plan({"a": 1}, {"a": 1}).put is None


def test_index_queries_only_the_window_and_follows_updates():
    index = EventIndex()
    index.load(
        (
            f"e{i}",
            {"start": f"2026-{1 + i % 12:02d}-10T09:00:00", "end": f"2026-{1 + i % 12:02d}-10T10:00:00"},
        )
        for i in range(1200)
    )
    index.update("s", weekly(calendar="work"))
    index.update(
        "s@2026-10-26T10:00:00", {"series": "s", "recurrence_id": "2026-10-26T10:00:00", "title": "T"}
    )
    occs = index.query(at(2026, 10, 1), at(2026, 11, 1))
    assert len([o for o in occs if o.series is None]) == 100
    assert [o.title for o in occs if o.series == "s"] == ["Standup", "T"]
    assert [o.key for o in index.query(at(2026, 10, 1), at(2026, 11, 1), calendars=["work"])] == [
        "s@2026-10-19T10:00:00",
        "s@2026-10-26T10:00:00",
    ]
    index.update("s@2026-10-26T10:00:00", None)
    index.update("e9", None)
    assert [o.title for o in index.query(at(2026, 10, 1), at(2026, 11, 1)) if o.series] == ["Standup"] * 2
    assert len(index) == 1200


def test_booking_slot_and_notice_text():
    ev = {"start": "2026-11-21T10:00:00", "end": "2026-11-21T11:00:00", "tz": "Europe/Paris"}
    slot = booking_slot(ev)
    assert slot == (int(at(2026, 11, 21, 10).timestamp()), int(at(2026, 11, 21, 11).timestamp()))
    wid = WriteId(1, "A")
    assert "rejected" in describe_notice(Notice(wid, 0, -1), "Talk", [slot], PARIS)
    assert "moved to an alternative: Sat 21 Nov 10:00 to 11:00" in describe_notice(
        Notice(wid, 0, 1), "Talk", [slot, slot], PARIS
    )


def test_reminders_due_between_two_times():
    ev = weekly(reminders=[10, 60])
    occs = expand(ev, {}, at(2026, 10, 19), at(2026, 10, 27), series_id="s")
    due = reminders_due(occs, at(2026, 10, 19, 9, 0), at(2026, 10, 19, 9, 50))
    assert [(r.title, r.due) for r in due] == [("Standup", at(2026, 10, 19, 9, 50))]
    assert reminders_due(occs, at(2026, 10, 19, 9, 50), at(2026, 10, 26, 9, 0))[0].due == at(2026, 10, 26, 9)


def _sync(a: Replica, b: Replica) -> None:
    b.receive(a.batch_for(b.summary()))
    a.receive(b.batch_for(a.summary()))


def _occurrences(r: Replica) -> list[Occurrence]:
    index = EventIndex()
    index.load((k, d.values()) for k, d in r.entities("event").items())
    return index.query(at(2026, 10, 19), at(2026, 11, 9))


@pytest.mark.parametrize("order", ["occurrence first", "series first"])
def test_occurrence_and_series_edited_on_two_devices_merge(order: str):
    clocks = {"P": ManualClock(1), "A": ManualClock(1)}
    p = Replica.new_library(MemoryStore(), "P", members={"A": ""}, clock=clocks["P"])
    a = Replica.join(MemoryStore(), "A", p.genesis(), clocks["A"])
    p.create("event", weekly(), entity="s")
    _sync(p, a)
    [_, occ, _] = _occurrences(a)
    start, end = moved(occ, timedelta(hours=2))
    edits = [
        lambda: a.put("event", occ.key, override_fields(occ, time_changes(occ, start, end))),
        lambda: p.put("event", "s", {"title": "Daily sync"}),
    ]
    clocks["P"].set(10)
    clocks["A"].set(10)
    for edit in edits if order == "occurrence first" else edits[::-1]:
        edit()
    # P edits the same occurrence's location concurrently: one entity, merged field by field.
    p.put("event", occ.key, override_fields(occ, {"location": "Room 2"}))
    _sync(p, a)
    for r in (p, a):
        occs = _occurrences(r)
        assert [(o.start, o.title) for o in occs] == [
            (at(2026, 10, 19, 10), "Daily sync"),
            (at(2026, 10, 26, 12), "Daily sync"),
            (at(2026, 11, 2, 10), "Daily sync"),
        ]
        assert occs[1].values["location"] == "Room 2"
        assert occs[1].key == "s@2026-10-26T10:00:00"
        # Both devices wrote the override's link fields: siblings, but of one value only.
        for entity, names in r.conflicts().items():
            doc = r.get(entity)
            assert doc is not None
            assert all(len({repr(v[2]) for v in doc.versions(n)}) == 1 for n in names)


# -- a moved series: its exceptions follow it (issue 12, defect 2) --------------------------------


def _override_set() -> dict[str, dict[str, Any]]:
    return {
        "s@2026-11-02T10:00:00": {"series": "s", "recurrence_id": "2026-11-02T10:00:00", "cancelled": True},
        "s@2026-11-09T10:00:00": {"series": "s", "recurrence_id": "2026-11-09T10:00:00", "title": "Retro"},
    }


def test_a_cancelled_occurrence_comes_back_when_the_series_moves_expansion():
    legacy = weekly(exdates=["2026-10-26T10:00:00"])
    window = (at(2026, 10, 19), at(2026, 11, 17))
    before = expand(legacy, _override_set(), *window, series_id="s")
    assert [(o.key, o.start.hour, o.title) for o in before] == [
        ("s@2026-10-19T10:00:00", 10, "Standup"),
        ("s@2026-11-09T10:00:00", 10, "Retro"),
        ("s@2026-11-16T10:00:00", 10, "Standup"),
    ]
    # An anchor equal to the start changes nothing (libraries of earlier builds read the same).
    same = expand({**legacy, "anchor": legacy["start"]}, _override_set(), *window, series_id="s")
    assert [(o.key, o.start, o.title) for o in same] == [(o.key, o.start, o.title) for o in before]
    # Moved by 1 h 30: the same instances (keys), the exdate and cancellation still hold, at the new time.
    moved_series = {
        **legacy,
        "start": "2026-10-19T11:30:00",
        "end": "2026-10-19T12:00:00",
        "anchor": "2026-10-19T10:00:00",
    }
    after = expand(moved_series, _override_set(), *window, series_id="s")
    assert [(o.key, o.start, o.title) for o in after] == [
        ("s@2026-10-19T10:00:00", at(2026, 10, 19, 11, 30), "Standup"),
        ("s@2026-11-09T10:00:00", at(2026, 11, 9, 11, 30), "Retro"),
        ("s@2026-11-16T10:00:00", at(2026, 11, 16, 11, 30), "Standup"),
    ]
    assert after[1].recurrence_id == "2026-11-09T10:00:00"
    assert after[1].values["start"] == "2026-11-09T11:30:00"
    # Without the anchor (an earlier build moved it) the overrides name no instance: not shown.
    unanchored = {k: v for k, v in moved_series.items() if k != "anchor"}
    assert "Retro" not in [o.title for o in expand(unanchored, _override_set(), *window, series_id="s")]


def test_a_moved_series_splits_with_its_exceptions_and_shows_its_rule_from_its_start():
    moved_series = weekly(
        start="2026-10-20T11:00:00",
        end="2026-10-20T11:30:00",
        anchor="2026-10-19T10:00:00",
        rrule="FREQ=WEEKLY;BYDAY=MO;UNTIL=20261221T225959Z",
        exdates=["2026-10-26T10:00:00", "2026-11-16T10:00:00"],
    )
    occs = expand(moved_series, {}, at(2026, 10, 19), at(2026, 11, 17), series_id="s")
    assert starts(occs) == [
        at(2026, 10, 20, 11).isoformat(),
        at(2026, 11, 3, 11).isoformat(),
        at(2026, 11, 10, 11).isoformat(),
    ]
    shown = shown_rule(moved_series)
    assert shown == "FREQ=WEEKLY;BYDAY=TU;UNTIL=20261222T235959Z"
    assert occs[0].values["rrule"] == shown
    assert stored_rule(shown, moved_series) == moved_series["rrule"]
    old, new = following_split(moved_series, occs[1])
    assert old == {"rrule": "FREQ=WEEKLY;UNTIL=20261101T225959Z;BYDAY=MO"}
    assert new["start"] == "2026-11-03T11:00:00"
    assert new["anchor"] == "2026-11-02T10:00:00"
    assert new["exdates"] == ["2026-11-16T10:00:00"]
    later = expand(new, {}, at(2026, 11, 1), at(2026, 11, 30), series_id="n")
    assert starts(later) == [at(2026, 11, d, 11).isoformat() for d in (3, 10, 24)]
    assert [o.recurrence_id for o in later] == [
        "2026-11-02T10:00:00",
        "2026-11-09T10:00:00",
        "2026-11-23T10:00:00",
    ]


def test_a_moved_series_rule_that_cannot_follow_is_written_with_a_warning():
    monthly = weekly(
        rrule="FREQ=MONTHLY;BYDAY=1MO",
        start="2026-10-06T10:00:00",
        end="2026-10-06T11:00:00",
        anchor="2026-10-05T10:00:00",
    )
    fields, frame, notes = to_file(monthly)
    assert frame is not None
    assert frame.days == 1
    assert fields["rrule"] == "FREQ=MONTHLY;BYDAY=1MO"
    assert notes == ["a moved series' rule names days or hours that could not follow the move"]
    hourly = weekly(rrule="FREQ=DAILY;BYHOUR=10", start="2026-10-19T11:00:00", anchor="2026-10-19T10:00:00")
    assert to_file(hourly)[2] != []
    assert to_file(weekly())[1:] == (None, [])
