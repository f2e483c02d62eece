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
