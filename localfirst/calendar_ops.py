"""Pure helpers behind the calendar views: an index of events for window queries, the time
math of moving and resizing, restoring an event's fields (undo) and describing booking notices.

No Qt and no I/O: the UI keeps an ``EventIndex`` on the thread that owns the replica and feeds
it the events a change touched, so a view asks only for its window.
"""

from __future__ import annotations

import heapq
from bisect import bisect_right
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

from .booking import CONFLICT, Notice
from .recurrence import (
    FLOATING,
    LINK_FIELDS,
    Occurrence,
    expand,
    is_recurring,
    midnight,
    series_span,
    shape_of,
    times_fields,
    zone,
)
from .recurrence import _in_window as in_window

#: Grid the views snap moves and resizes to.
SNAP = timedelta(minutes=15)
#: Shortest event a resize leaves.
MIN_DURATION = SNAP
#: Longest single event the index looks back for when a window starts (longer ones still show:
#: they sit in the index's long list).
_LONG = timedelta(days=2)

Values = Mapping[str, Any]


def floor_to(moment: datetime, step: timedelta = SNAP) -> datetime:
    """The moment rounded down to the grid (in its own zone's wall-clock time)."""
    wall = moment.replace(tzinfo=None)
    base = wall.replace(hour=0, minute=0, second=0, microsecond=0)
    steps = (wall - base) // step
    return (base + steps * step).replace(tzinfo=moment.tzinfo)


def round_delta(delta: timedelta, step: timedelta = SNAP) -> timedelta:
    """A drag's offset rounded to the nearest grid step."""
    return round(delta / step) * step


def moved(occ: Occurrence, delta: timedelta) -> tuple[datetime, datetime]:
    """New (start, end) of an occurrence dragged by ``delta`` (wall-clock in the viewer's zone)."""
    return _shift(occ.start, delta), _shift(occ.end, delta)


def resized(occ: Occurrence, delta: timedelta) -> tuple[datetime, datetime]:
    """New (start, end) of an occurrence whose end was dragged by ``delta`` (never shorter than 15 min)."""
    end = max(_shift(occ.end, delta), occ.start + MIN_DURATION)
    return occ.start, end


def _shift(moment: datetime, delta: timedelta) -> datetime:
    tz = moment.tzinfo or UTC
    return (moment.replace(tzinfo=None) + delta).replace(tzinfo=tz).astimezone(UTC).astimezone(tz)


def time_changes(occ: Occurrence, start: datetime, end: datetime) -> dict[str, Any]:
    """The ``start``/``end`` fields that put an occurrence at these times, in its own zone."""
    return times_fields(start, end, occ.all_day, zone(occ.values.get("tz")))


def booking_slot(values: Values, display: tzinfo = UTC) -> tuple[int, int] | None:
    """An event's [start, end) in epoch seconds, as a bookable calendar books it."""
    shape = shape_of(values)
    if shape is None:
        return None
    if shape.all_day:
        first = midnight(shape.start.date(), display)
        return int(first.timestamp()), int(
            midnight((shape.start + shape.duration).date(), display).timestamp()
        )
    start = shape.start.replace(tzinfo=shape.tz)
    end = (shape.start + shape.duration).replace(tzinfo=shape.tz)
    return int(start.timestamp()), max(int(end.timestamp()), int(start.timestamp()) + 60)


def at_slot(occ: Occurrence, start: int, end: int, display: tzinfo = UTC) -> Occurrence:
    """The occurrence as its booking holds it: at the slot [start, end) (epoch seconds).

    Commitment may book an alternative, so the slot can differ from the requested times in the
    event's fields; the views draw the committed outcome. The moved occurrence's ``start``/``end``
    fields say so too (what the editor shows); an all-day one stays all-day only at midnights.
    """
    if booking_slot(occ.values, display) == (start, end):
        return occ
    first = datetime.fromtimestamp(start, display)
    last = datetime.fromtimestamp(max(start, end), display)
    all_day = (
        occ.all_day and first == midnight(first.date(), display) and last == midnight(last.date(), display)
    )
    values = {**occ.values, **times_fields(first, last, all_day, zone(occ.values.get("tz")))}
    if occ.all_day and not all_day:
        values["all_day"] = False
    return replace(occ, start=first, end=last, all_day=all_day, values=values)


# -- restoring fields (undo, redo) ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RestorePlan:
    """How to bring an entity from its current fields to target ones.

    A CRDT map cannot unset a field, so when the target lacks fields the entity now has (an
    override that inherited them), the entity is deleted and put again with the target fields.
    """

    delete: bool
    put: dict[str, Any] | None


def restore_plan(current: Values | None, target: Values | None) -> RestorePlan:
    """Writes that make an entity hold exactly ``target`` (None: not exist)."""
    if target is None:
        return RestorePlan(current is not None, None)
    if current is None:
        return RestorePlan(False, dict(target))
    if any(k not in target for k in current):
        return RestorePlan(True, dict(target))
    changed = {k: v for k, v in target.items() if current.get(k) != v or k not in current}
    return RestorePlan(False, changed or None)


# -- an index of events for window queries ------------------------------------------------------


@dataclass(slots=True)
class _Single:
    values: dict[str, Any]
    start: float  # epoch seconds, widened by a day for all-day events (their zone is the viewer's)
    end: float
    #: Whether start/end are widened (all-day, floating): only then do they differ from the
    #: occurrence's own times.
    loose: bool = False
    #: Its occurrence as last shown, and in which zone (a single event has one, whatever the
    #: window: made once, not at every query).
    shown: tuple[tzinfo, Occurrence | None] | None = None

    def occurrence(self, entity: str, display: tzinfo) -> Occurrence | None:
        if self.shown is None or self.shown[0] is not display:
            lo = datetime.fromtimestamp(self.start - 86_400, UTC)
            hi = datetime.fromtimestamp(self.end + 86_400, UTC)
            found = expand(self.values, {}, lo, hi, series_id=entity, display_tz=display)
            self.shown = (display, found[0] if found else None)
        return self.shown[1]


#: Windows a series keeps its expansion for (the views switch among a few).
_CACHED_WINDOWS = 6


@dataclass(slots=True)
class _Series:
    """A series with the span its occurrences can fall in and its expansion per window, both
    dropped when the series or one of its overrides changes."""

    values: dict[str, Any]
    span: tuple[float, float] | None = None
    windows: dict[tuple[Any, ...], list[Occurrence]] | None = None
    #: The searchable text of the series and of each override, case-folded.
    texts: list[str] | None = None

    def reset(self) -> None:
        self.span, self.windows, self.texts = None, None, None

    def matches(self, overrides: Mapping[str, Values], words: list[str]) -> bool:
        if self.texts is None:
            self.texts = [_text(self.values), *(_text(v) for v in overrides.values())]
        return any(all(word in text for word in words) for text in self.texts)

    def bounds(self, overrides: Mapping[str, Values]) -> tuple[float, float]:
        if self.span is None:
            lo, hi = series_span(self.values)
            for values in overrides.values():  # an override may move its occurrence anywhere
                shape = shape_of(values, UTC)
                if shape is None:
                    continue
                start = shape.start.replace(tzinfo=UTC).timestamp()
                end = (shape.start + shape.duration).replace(tzinfo=UTC).timestamp()
                lo, hi = min(lo, start - 2 * 86_400), max(hi, end + 2 * 86_400)
            self.span = (lo, hi)
        return self.span


class EventIndex:
    """The live events of a library, kept on the replica's thread, queried by window.

    Single events are found by a scan of precomputed bounds; series are expanded for the window
    only; overrides are grouped under their series.
    """

    def __init__(self) -> None:
        self._singles: dict[str, _Single] = {}
        self._series: dict[str, _Series] = {}
        self._overrides: dict[str, dict[str, dict[str, Any]]] = {}
        self._override_of: dict[str, str] = {}
        #: The single events' searchable text in one string, with each one's offset and id
        #: (built at the first search after a change: one scan in C instead of one per event).
        self._hay: tuple[str, list[int], list[str]] | None = None

    def __len__(self) -> int:
        return len(self._singles) + len(self._series)

    def load(self, events: Iterable[tuple[str, Values]]) -> None:
        """Replace everything with these (id, values) of live events."""
        self.__init__()  # type: ignore[misc]
        for entity, values in events:
            self.update(entity, values)
        self._haystack()  # now, on the loading thread, rather than in the first search

    def update(self, entity: str, values: Values | None) -> None:
        """Record an event's current values (None: deleted or gone)."""
        self._forget(entity)
        if values is None:
            return
        series = values.get("series")
        if isinstance(series, str) and series:
            self._overrides.setdefault(series, {})[entity] = dict(values)
            self._override_of[entity] = series
            self._touch_series(series)
        elif is_recurring(values):
            self._series[entity] = _Series(dict(values))
        else:
            shape = shape_of(values)
            if shape is None:
                return
            loose = shape.all_day or values.get("tz") == FLOATING
            if loose:  # the viewer's zone decides: a day's slack
                start = shape.start.replace(tzinfo=UTC).timestamp() - 86_400
                end = (shape.start + shape.duration).replace(tzinfo=UTC).timestamp() + 86_400
            else:
                start = shape.start.replace(tzinfo=shape.tz).timestamp()
                end = (shape.start + shape.duration).replace(tzinfo=shape.tz).timestamp()
            self._singles[entity] = _Single(dict(values), start, max(end, start), loose)
            self._hay = None

    def _forget(self, entity: str) -> None:
        if self._singles.pop(entity, None) is not None:
            self._hay = None
        self._series.pop(entity, None)
        series = self._override_of.pop(entity, None)
        if series is not None:
            self._touch_series(series)
            group = self._overrides.get(series, {})
            group.pop(entity, None)
            if not group:
                self._overrides.pop(series, None)

    def _touch_series(self, series: str) -> None:
        entry = self._series.get(series)
        if entry is not None:
            entry.reset()

    def values(self, entity: str) -> dict[str, Any] | None:
        """The indexed values of an event, series or override."""
        single = self._singles.get(entity)
        if single is not None:
            return single.values
        if entity in self._series:
            return self._series[entity].values
        series = self._override_of.get(entity)
        return None if series is None else self._overrides[series][entity]

    def query(
        self,
        window_start: datetime,
        window_end: datetime,
        *,
        display_tz: tzinfo | None = None,
        calendars: Iterable[str] | None = None,
    ) -> list[Occurrence]:
        """Occurrences intersecting the window, sorted by start (only these calendars if given)."""
        wanted = None if calendars is None else set(calendars)
        lo, hi = window_start.timestamp(), window_end.timestamp()
        display = display_tz or window_start.tzinfo or UTC
        out: list[Occurrence] = []
        for entity, single in self._singles.items():
            if single.start < hi and single.end >= lo:
                if wanted is not None and single.values.get("calendar") not in wanted:
                    continue
                occ = single.occurrence(entity, display)
                if occ is not None and in_window(occ.start, occ.end, window_start, window_end):
                    out.append(occ)
        out.extend(self._series_in(window_start, window_end, wanted, display_tz))
        out.extend(self._lone(window_start, window_end, wanted, display_tz))
        out.sort(key=lambda o: (o.start, o.key))
        return out

    def _series_in(
        self, window_start: datetime, window_end: datetime, wanted: set[str] | None, display_tz: tzinfo | None
    ) -> list[Occurrence]:
        """Occurrences of the series whose span meets the window, each expanded once per window."""
        lo, hi = window_start.timestamp(), window_end.timestamp()
        key = (window_start, window_end, window_start.tzinfo, window_end.tzinfo, display_tz)
        out: list[Occurrence] = []
        for entity, entry in self._series.items():
            if wanted is not None and entry.values.get("calendar") not in wanted:
                continue
            overrides = self._overrides.get(entity, {})
            first, last = entry.bounds(overrides)
            if first >= hi or last < lo:
                continue
            windows = entry.windows
            if windows is None:
                windows = entry.windows = {}
            found = windows.get(key)
            if found is None:
                found = expand(
                    entry.values, overrides, window_start, window_end, series_id=entity, display_tz=display_tz
                )
                if len(windows) >= _CACHED_WINDOWS:
                    del windows[next(iter(windows))]
                windows[key] = found
            out.extend(found)
        return out

    def search(
        self, text: str, around: datetime, *, display_tz: tzinfo | None = None, limit: int = 50
    ) -> list[Occurrence]:
        """Events whose title, location or description hold every word of ``text`` (any case),
        each once: a single event as itself, a series as its first occurrence from ``around`` on
        (else its last before). Upcoming ones first, nearest first; then past ones, latest first."""
        words = text.casefold().split()
        if not words:
            return []
        out = self._singles_found(words, around.timestamp(), display_tz or UTC, limit)
        out.extend(self._series_found(words, around, display_tz))
        now = around.timestamp()
        out.sort(key=lambda o: (o.end.timestamp() < now, abs(o.start.timestamp() - now), o.key))
        return out[:limit]

    def _series_found(
        self, words: list[str], around: datetime, display_tz: tzinfo | None
    ) -> list[Occurrence]:
        """Each matching series once: its first occurrence in the year from ``around``, else its
        last in the year before (looked for only where its span reaches)."""
        year = timedelta(days=366)
        now = around.timestamp()
        out: list[Occurrence] = []
        for entity, entry in self._series.items():
            overrides = self._overrides.get(entity, {})
            if not entry.matches(overrides, words):
                continue
            lo, hi = entry.bounds(overrides)
            if hi < now - year.total_seconds() or lo >= now + year.total_seconds():
                continue
            ahead = (
                expand(
                    entry.values, overrides, around, around + year, series_id=entity, display_tz=display_tz
                )
                if hi >= now
                else []
            )
            if not ahead and lo < now:
                behind = expand(
                    entry.values, overrides, around - year, around, series_id=entity, display_tz=display_tz
                )
                ahead = behind[-1:]
            out.extend(ahead[:1])
        return out

    def _singles_found(self, words: list[str], now: float, display: tzinfo, limit: int) -> list[Occurrence]:
        """The single events holding every word, at most ``limit`` of those ranked first (and
        every loose one, whose rank only its occurrence tells)."""
        ranked: list[tuple[bool, float, str]] = []
        out: list[Occurrence] = []
        for entity in self._single_hits(words):
            single = self._singles[entity]
            if single.loose:
                occ = single.occurrence(entity, display)
                if occ is not None:
                    out.append(occ)
            else:
                ranked.append((single.end < now, abs(single.start - now), entity))
        for _past, _distance, entity in heapq.nsmallest(limit, ranked):
            occ = self._singles[entity].occurrence(entity, display)
            if occ is not None:
                out.append(occ)
        return out

    def _haystack(self) -> tuple[str, list[int], list[str]]:
        if self._hay is None:
            ids = list(self._singles)
            texts = [_text(self._singles[e].values) for e in ids]
            offsets, at = [], 0
            for text in texts:
                offsets.append(at)
                at += len(text) + 1
            self._hay = ("\0".join(texts), offsets, ids)
        return self._hay

    def _single_hits(self, words: list[str]) -> list[str]:
        """Ids of the single events whose title, location or description hold every word."""
        hay, offsets, ids = self._haystack()
        first = max(words, key=len)
        rest = [w for w in words if w != first]
        hits: list[str] = []
        last = len(offsets) - 1
        at = hay.find(first)
        while at >= 0:
            k = bisect_right(offsets, at) - 1
            end = offsets[k + 1] - 1 if k < last else len(hay)
            if not rest or all(w in hay[offsets[k] : end] for w in rest):
                hits.append(ids[k])
            at = hay.find(first, end)
        return hits

    def _lone(
        self, window_start: datetime, window_end: datetime, wanted: set[str] | None, display_tz: tzinfo | None
    ) -> list[Occurrence]:
        """Occurrences whose series is not here (an invitation to one occurrence): each shown
        on its own, at its own times."""
        out: list[Occurrence] = []
        for series, group in self._overrides.items():
            if series in self._series or series in self._singles:
                continue
            for entity, values in group.items():
                if values.get("cancelled") is True:
                    continue
                if wanted is not None and values.get("calendar") not in wanted:
                    continue
                own = {k: v for k, v in values.items() if k not in LINK_FIELDS}
                out.extend(expand(own, {}, window_start, window_end, series_id=entity, display_tz=display_tz))
        return out


def _text(values: Mapping[str, Any]) -> str:
    """An event's searchable text, case-folded (no NUL: it separates events in the haystack)."""
    text = " ".join(str(values.get(k) or "") for k in ("title", "location", "description"))
    return text.casefold().replace("\0", " ")


# -- booking notices ----------------------------------------------------------------------------


def describe_notice(notice: Notice, title: str, slots: list[tuple[int, int]], display: tzinfo) -> str:
    """What to tell the user whose booking's outcome changed: from what to what, and whether the
    new outcome is final (committed) or still tentative."""
    name = f"“{title}”" if title else "A booking"
    before, after = notice.before, notice.after

    def slot(index: int) -> str:
        if not 0 <= index < len(slots):
            return f"option {index + 1}"
        start = datetime.fromtimestamp(slots[index][0], display)
        end = datetime.fromtimestamp(slots[index][1], display)
        return f"{start:%a %d %b %H:%M} to {end:%H:%M}"

    if not notice.settled:
        return _tentative_notice(name, before, after, slots, display)
    if after == CONFLICT:
        return f"{name} was rejected: its time was taken by an earlier booking."
    if before == CONFLICT:
        return f"{name} is booked after all, at {slot(after)}."
    if after == 0:
        return f"{name} is booked at the time asked for after all: {slot(after)}."
    return f"{name} was moved to an alternative: {slot(after)}."


def _tentative_notice(
    name: str, before: int, after: int, slots: list[tuple[int, int]], display: tzinfo
) -> str:
    """A tentative outcome that changed: a booking arrived ahead of this one, or gave way."""
    starts = {i: datetime.fromtimestamp(slots[i][0], display) for i in (before, after) if 0 <= i < len(slots)}
    # Times alone read best; the day joins them when the two times fall on different days.
    days = {start.date() for start in starts.values()}
    pattern = "%H:%M" if len(days) == 1 else "%a %d %b %H:%M"

    def time(index: int) -> str:
        start = starts.get(index)
        return f"option {index + 1}" if start is None else f"{start:{pattern}}"

    if after == CONFLICT:
        return f"{name} has no free time for now (tentative): another booking took {time(before)}."
    if before == CONFLICT:
        return f"{name} is booked after all, at {time(after)} (tentative)."
    if after > before:
        return f"{name} moved to {time(after)} (tentative): another booking took {time(before)}."
    return f"{name} moved back to {time(after)} (tentative): {time(after)} is free again."
