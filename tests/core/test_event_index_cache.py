"""The event index keeps each single event's occurrence between queries (view switches stay
fast); what a query returns must be exactly what expanding the event for that window gives,
in any window and display zone, and after the event changes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from localfirst.calendar_ops import EventIndex
from localfirst.recurrence import expand

ZONES = [UTC, ZoneInfo("Europe/Paris"), ZoneInfo("Pacific/Auckland"), ZoneInfo("America/St_Johns")]
BASE = datetime(2026, 3, 25)


def event(day: int, hour: int, minutes: int, all_day: bool, tz: str) -> dict[str, object]:
    start = BASE + timedelta(days=day, hours=hour)
    if all_day:
        first = start.date()
        return {
            "title": "e",
            "all_day": True,
            "start": first.isoformat(),
            "end": (first + timedelta(days=1 + minutes % 3)).isoformat(),
        }
    end = start + timedelta(minutes=minutes)
    return {"title": "e", "start": start.isoformat(), "end": end.isoformat(), "tz": tz}


events = st.lists(
    st.builds(
        event,
        st.integers(0, 10),
        st.integers(0, 23),
        st.integers(0, 3000),
        st.booleans(),
        st.sampled_from(["UTC", "Europe/Paris", "Pacific/Auckland"]),
    ),
    min_size=1,
    max_size=8,
)
windows = st.tuples(st.integers(-2, 12), st.integers(0, 14), st.sampled_from(ZONES))


@settings(max_examples=80, deadline=None)
@given(events, st.lists(windows, min_size=2, max_size=5), st.integers(0, 7))
def test_query_equals_fresh_expansion_across_windows_zones_and_edits(values, queries, edited):
    index = EventIndex()
    for n, v in enumerate(values):
        index.update(f"e{n}", v)
    for step, (day, length, zone) in enumerate(queries):
        if step == 1:  # an edit between queries: the kept occurrence must not be stale
            target = f"e{edited % len(values)}"
            moved = dict(values[edited % len(values)], title="moved")
            index.update(target, moved)
            values[edited % len(values)] = moved
        start = datetime.combine((BASE + timedelta(days=day)).date(), datetime.min.time(), tzinfo=zone)
        end = start + timedelta(days=length)
        got = index.query(start, end, display_tz=zone)
        want = sorted(
            (
                o
                for n, v in enumerate(values)
                for o in expand(v, {}, start, end, series_id=f"e{n}", display_tz=zone)
            ),
            key=lambda o: (o.start, o.key),
        )
        assert [(o.key, o.start, o.end, o.title) for o in got] == [
            (o.key, o.start, o.end, o.title) for o in want
        ]


# -- series: expanded once per window, only where their span reaches -----------------------------

RULES = [
    "FREQ=WEEKLY;COUNT=5",
    "FREQ=DAILY;INTERVAL=3;COUNT=4",
    "FREQ=MONTHLY;BYMONTHDAY=31;COUNT=3",
    "FREQ=WEEKLY;BYDAY=MO,WE;UNTIL=20260420T235959Z",
    "FREQ=YEARLY",
    "FREQ=HOURLY;COUNT=30",
]


def series_values(rule: str, day: int, tz: str) -> dict[str, object]:
    start = BASE + timedelta(days=day, hours=9)
    return {
        "title": "s",
        "start": start.isoformat(),
        "end": (start + timedelta(hours=1)).isoformat(),
        "tz": tz,
        "rrule": rule,
        "exdates": [(start + timedelta(days=7)).isoformat()],
        "rdates": [(start + timedelta(days=200)).isoformat()],
    }


@settings(max_examples=60, deadline=None)
@given(
    rule=st.sampled_from(RULES),
    day=st.integers(-40, 40),
    tz=st.sampled_from(["UTC", "Europe/Paris", "Pacific/Auckland", "floating"]),
    moved_to=st.integers(-400, 400),
    windows=st.lists(st.tuples(st.integers(-500, 500), st.integers(1, 45)), min_size=1, max_size=6),
    display=st.sampled_from(ZONES),
)
def test_series_query_is_its_expansion_in_any_window_after_overrides_change(
    rule, day, tz, moved_to, windows, display
):
    index = EventIndex()
    values = series_values(rule, day, tz)
    index.update("s", values)
    overrides: dict[str, dict[str, object]] = {}

    def check() -> None:
        for lo, days in windows:
            start = datetime(2026, 3, 25, tzinfo=display) + timedelta(days=lo)
            end = start + timedelta(days=days)
            want = expand(values, overrides, start, end, series_id="s", display_tz=display)
            assert index.query(start, end, display_tz=display) == want

    check()
    check()  # from the cache
    first = BASE + timedelta(days=day, hours=9)
    moved = first + timedelta(days=moved_to)
    overrides["o"] = {
        **values,
        "series": "s",
        "recurrence_id": first.isoformat(),
        "start": moved.isoformat(),
        "end": (moved + timedelta(hours=2)).isoformat(),
    }
    del overrides["o"]["rrule"]
    index.update("o", overrides["o"])
    check()  # the override moved the first instance far from the series' span
    overrides["o"] = {**overrides["o"], "cancelled": True}
    index.update("o", overrides["o"])
    check()
    del overrides["o"]
    index.update("o", None)
    check()
    values = {**values, "rrule": "FREQ=DAILY;COUNT=2"}
    index.update("s", values)
    check()


def test_search_finds_a_past_series_within_a_year_and_not_older_ones():
    index = EventIndex()
    index.update("recent", {**series_values("FREQ=WEEKLY;COUNT=3", 0, "UTC"), "title": "Choir", "rdates": []})
    index.update("old", {**series_values("FREQ=WEEKLY;COUNT=3", -800, "UTC"), "title": "Choir", "rdates": []})
    index.update("open", {**series_values("FREQ=YEARLY", -800, "UTC"), "title": "Choir day", "rdates": []})
    around = datetime(2026, 9, 1, tzinfo=UTC)
    found = index.search("choir", around)
    assert [(o.event, o.start) for o in found] == [
        ("open", datetime(2027, 1, 15, 9, tzinfo=UTC)),  # the next one
        ("recent", datetime(2026, 4, 8, 9, tzinfo=UTC)),  # the last one, its exdate skipped
    ]
