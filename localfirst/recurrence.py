"""Recurring events: expanding a series into occurrences in a window, and the fields of edits.

A series event holds an RFC 5545 ``rrule`` (without the ``RRULE:`` prefix), ``rdates`` and
``exdates``; its ``start``/``end`` are wall-clock ISO 8601 in the zone ``tz`` (None: UTC), or
dates with an exclusive end when ``all_day``. An edited occurrence is its own event whose id is
derived from the series and the occurrence's original start (``occurrence_id``), holding only
the fields the user changed, so two devices editing one occurrence write the same entity and
their edits merge field by field, while series edits still show where no override sets a field.

A series that has moved keeps an ``anchor``: its start when it was first moved (absent: its
start). The rule, ``rdates``, ``exdates`` and every override's ``recurrence_id`` are read in the
anchor's frame and the instances shifted by ``start - anchor``, so exceptions and overrides
follow the series wherever it moves, whether the move happened before, after or concurrently
with them (RFC 5545: a RECURRENCE-ID names the original instance).

Everything here is pure and never raises on bad synced data: an unreadable rule or date makes
the event show as a single occurrence, or not at all.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from dateutil.rrule import rrule, rrulestr
from dateutil.tz import tzlocal

#: Recurrence frequencies the editor offers.
FREQUENCIES = ("DAILY", "WEEKLY", "MONTHLY", "YEARLY")
#: Frequencies finer than a day: expanded too (a window shows at most ``MAX_OCCURRENCES`` of a
#: series, and the rule is read from near the window, not from its first instance).
SUB_DAILY = {"HOURLY": timedelta(hours=1), "MINUTELY": timedelta(minutes=1), "SECONDLY": timedelta(seconds=1)}
#: The ``tz`` of a floating event (iCalendar: no TZID, no Z): the same wall-clock time in
#: whatever zone the device shows, never converted.
FLOATING = "floating"
#: Most occurrences one series yields in one window (a guard against hostile rules).
MAX_OCCURRENCES = 2000
#: Fields of a series that describe its recurrence, not an occurrence.
SERIES_ONLY = ("rrule", "rdates", "exdates", "anchor")
#: Longest move of a series honoured (a guard against hostile anchors overflowing dates).
MAX_SHIFT = timedelta(days=365 * 200)
#: Fields of an override that link it to its series.
LINK_FIELDS = ("series", "recurrence_id")

Values = Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Occurrence:
    """One occurrence of an event in a window, with the fields it shows (overrides applied).

    ``key`` is unique per occurrence: the event id of a single event, else
    ``occurrence_id(series, recurrence_id)``, which is also the id of its override entity.
    ``start``/``end`` are aware; all-day ones are midnights in the display zone.
    """

    key: str
    event: str
    start: datetime
    end: datetime
    all_day: bool
    values: dict[str, Any] = field(compare=False)
    series: str | None = None
    recurrence_id: str | None = None
    overridden: bool = False

    @property
    def title(self) -> str:
        title = self.values.get("title")
        return title if isinstance(title, str) else ""

    @property
    def calendar(self) -> str:
        cal = self.values.get("calendar")
        return cal if isinstance(cal, str) else ""

    @property
    def recurring(self) -> bool:
        return self.series is not None


def occurrence_id(series: str, recurrence_id: str) -> str:
    """The entity id of an occurrence's override: the same on every device."""
    return f"{series}@{recurrence_id}"


# -- times --------------------------------------------------------------------------------------


def zone(name: object) -> tzinfo:
    """The IANA zone of that name; UTC for None or a name this machine does not know; the
    device's zone for a floating event (views pass their own zone to ``shape_of``)."""
    if not isinstance(name, str) or not name:
        return UTC
    if name == FLOATING:
        return _LOCAL
    try:
        return ZoneInfo(name)
    except (ValueError, OSError, KeyError):
        return UTC


_LOCAL: tzinfo = tzlocal()


def zone_name(tz: tzinfo) -> str | None:
    """The IANA name to store for a zone (None for UTC)."""
    if isinstance(tz, ZoneInfo):
        return None if tz.key == "UTC" else tz.key
    return None


def parse_date(text: object) -> date | None:
    if not isinstance(text, str):
        return None
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        return None


def parse_wall(text: object, tz: tzinfo) -> datetime | None:
    """A stored date-time as naive wall-clock time in ``tz`` (one with an offset is converted)."""
    if not isinstance(text, str):
        return None
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        return None
    if dt.tzinfo is not None:
        dt = dt.astimezone(tz).replace(tzinfo=None)
    return dt


def localize(wall: datetime, tz: tzinfo) -> datetime:
    """Naive wall-clock time in ``tz`` as an aware time (a time skipped by DST moves forward)."""
    return wall.replace(tzinfo=tz).astimezone(UTC).astimezone(tz)


def format_wall(dt: datetime) -> str:
    """How a time is stored: ISO 8601 wall-clock time, to the second, without offset."""
    return dt.replace(tzinfo=None, microsecond=0).isoformat(timespec="seconds")


def stored_time(moment: datetime, tz: tzinfo) -> str:
    """An aware time stored as wall-clock time in the event's zone."""
    return format_wall(moment.astimezone(tz))


def canonical_id(text: object, all_day: bool, tz: tzinfo) -> str | None:
    """A recurrence id or exdate in the one form used as a key ("2026-11-21T10:00:00")."""
    if all_day:
        day = parse_date(text)
        return None if day is None else day.isoformat()
    wall = parse_wall(text, tz)
    return None if wall is None else format_wall(wall)


def midnight(day: date, tz: tzinfo) -> datetime:
    return datetime.combine(day, time(), tzinfo=tz)


# -- rules --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RuleSpec:
    """The parts of an RRULE the editor shows; ``extra`` keeps the rest (BYDAY=...) verbatim."""

    freq: str
    interval: int = 1
    until: date | None = None
    count: int | None = None
    extra: tuple[tuple[str, str], ...] = ()


def rule_parts(text: str) -> list[tuple[str, str]]:
    """The KEY=value parts of an RRULE value, keys upper-cased, in their order."""
    out = []
    for part in text.strip().removeprefix("RRULE:").split(";"):
        if "=" in part:
            key, _, value = part.partition("=")
            out.append((key.strip().upper(), value.strip()))
    return out


def parse_rule(text: object) -> RuleSpec | None:
    """The editor's view of a stored rule, or None when there is none the app expands."""
    if not isinstance(text, str):
        return None
    parts = rule_parts(text)
    keys = dict(parts)
    freq = keys.get("FREQ", "").upper()
    if freq not in FREQUENCIES:
        return None
    try:
        interval = max(1, int(keys.get("INTERVAL", "1")))
        count = int(keys["COUNT"]) if "COUNT" in keys else None
    except ValueError:
        return None
    until = None
    if "UNTIL" in keys:
        until = _until_date(keys["UNTIL"])
    extra = tuple((k, v) for k, v in parts if k not in ("FREQ", "INTERVAL", "UNTIL", "COUNT"))
    return RuleSpec(freq, interval, until, count, extra)


def _until_date(value: str) -> date | None:
    try:
        return datetime.strptime(value[:8], "%Y%m%d").date()
    except ValueError:
        return None


def format_rule(spec: RuleSpec | None, *, all_day: bool = False, tz: tzinfo = UTC) -> str | None:
    """The RRULE value of a spec; UNTIL is a date for all-day events, else the end of that day in UTC."""
    if spec is None:
        return None
    parts = [f"FREQ={spec.freq}"]
    if spec.interval > 1:
        parts.append(f"INTERVAL={spec.interval}")
    if spec.count is not None:
        parts.append(f"COUNT={spec.count}")
    elif spec.until is not None:
        if all_day:
            parts.append(f"UNTIL={spec.until:%Y%m%d}")
        else:
            last = localize(datetime.combine(spec.until, time(23, 59, 59)), tz).astimezone(UTC)
            parts.append(f"UNTIL={last:%Y%m%dT%H%M%SZ}")
    parts.extend(f"{k}={v}" for k, v in spec.extra)
    return ";".join(parts)


def _freq(text: str) -> str | None:
    """A rule's frequency if the app expands it (COUNT and INTERVAL readable), else None."""
    keys = dict(rule_parts(text))
    freq = keys.get("FREQ", "").upper()
    if freq not in FREQUENCIES and freq not in SUB_DAILY:
        return None
    try:
        int(keys.get("INTERVAL", "1"))
        int(keys.get("COUNT", "1"))
    except ValueError:
        return None
    return freq


def expands(text: object) -> bool:
    """Whether the app expands this RRULE value (sub-daily ones too, which the editor's
    ``parse_rule`` does not offer)."""
    return isinstance(text, str) and _freq(text) is not None


def _rule(
    text: object, start: datetime, all_day: bool, tz: tzinfo, near: datetime | None = None
) -> rrule | None:
    """The dateutil rule over naive wall-clock times in ``tz``; None if absent or unreadable.

    ``near``: a sub-daily rule without COUNT is read from the last step at or before it rather
    than from ``start`` (the same instances there: every ``INTERVAL`` steps from ``start``), so
    an hourly series started years ago costs no more than one started today.
    """
    if not isinstance(text, str):
        return None
    freq = _freq(text)
    if freq is None:
        return None
    parts = []
    for key, raw in rule_parts(text):
        value = _until_wall(raw, all_day, tz) if key == "UNTIL" else raw
        if value is None:
            return None
        parts.append(f"{key}={value}")
    keys = dict(rule_parts(text))
    if freq in SUB_DAILY and near is not None and near > start and "COUNT" not in keys:
        step = SUB_DAILY[freq] * max(1, int(keys.get("INTERVAL", "1")))
        start += step * ((near - start) // step)
    try:
        rule = rrulestr(";".join(parts), dtstart=start)
    except (ValueError, TypeError, OverflowError):
        return None
    return rule if isinstance(rule, rrule) else None


def _until_wall(value: str, all_day: bool, tz: tzinfo) -> str | None:
    """UNTIL as naive wall-clock time in the event's zone, as dateutil wants for a naive start."""
    try:
        if value.endswith("Z"):
            moment = datetime.strptime(value, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
            wall = moment.astimezone(tz).replace(tzinfo=None)
        elif "T" in value:
            wall = datetime.strptime(value, "%Y%m%dT%H%M%S")
        else:
            day = datetime.strptime(value, "%Y%m%d")
            wall = day if all_day else day.replace(hour=23, minute=59, second=59)
    except ValueError:
        return None
    return f"{wall:%Y%m%dT%H%M%S}"


# -- expansion ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Shape:
    """An event's times read once: naive wall-clock start and duration in its zone, and for a
    series how far it moved since its recurrence ids were fixed (``start - anchor``)."""

    all_day: bool
    tz: tzinfo
    start: datetime
    duration: timedelta
    shift: timedelta = timedelta(0)

    @property
    def anchor(self) -> datetime:
        """The series' start in the frame its recurrence ids are written in."""
        return self.start - self.shift


def _wall_of(rid: str, all_day: bool) -> datetime:
    """The naive wall-clock start a canonical recurrence id names."""
    return datetime.combine(date.fromisoformat(rid), time()) if all_day else datetime.fromisoformat(rid)


def shape_of(values: Values, floating: tzinfo | None = None) -> Shape | None:
    """An event's times read once; ``floating`` is the zone a floating event is shown in
    (default: the device's)."""
    all_day = values.get("all_day") is True
    tz = floating if floating is not None and values.get("tz") == FLOATING else zone(values.get("tz"))
    if all_day:
        first, last = parse_date(values.get("start")), parse_date(values.get("end"))
        if first is None:
            return None
        days = (last - first).days if last is not None else 1
        midnight_start = datetime.combine(first, time())
        shift = _shift(values, midnight_start, True, tz)
        return Shape(True, tz, midnight_start, timedelta(days=max(1, days)), shift)
    start = parse_wall(values.get("start"), tz)
    if start is None:
        return None
    end = parse_wall(values.get("end"), tz)
    duration = end - start if end is not None and end >= start else timedelta(hours=1)
    return Shape(False, tz, start, duration, _shift(values, start, False, tz))


def _shift(values: Values, start: datetime, all_day: bool, tz: tzinfo) -> timedelta:
    """``start - anchor`` (whole days for all-day events); nothing without a readable anchor."""
    raw = values.get("anchor")
    if raw is None:
        return timedelta(0)
    if all_day:
        day = parse_date(raw)
        shift = timedelta(0) if day is None else timedelta(days=(start.date() - day).days)
    else:
        wall = parse_wall(raw, tz)
        shift = timedelta(0) if wall is None else start - wall
    return shift if abs(shift) <= MAX_SHIFT else timedelta(0)


def anchor_id(shape: Shape) -> str:
    """The recurrence id of a series' first instance (its anchor, in canonical form)."""
    return _key(shape.anchor, shape.all_day)


def anchor_fields(series_values: Values) -> dict[str, Any]:
    """The ``anchor`` to write before a series first moves (nothing once it has one).

    Written once, the anchor never changes: every device that moves the series, concurrently
    or not, writes the same value, so recurrence ids keep naming the same instances.
    """
    shape = shape_of(series_values)
    if shape is None or series_values.get("anchor") is not None:
        return {}
    return {"anchor": anchor_id(shape)}


def _bounds(shape: Shape, wall_start: datetime, display: tzinfo) -> tuple[datetime, datetime]:
    if shape.all_day:
        day = wall_start.date()
        return midnight(day, display), midnight(day + shape.duration, display)
    return localize(wall_start, shape.tz), localize(wall_start + shape.duration, shape.tz)


def _in_window(start: datetime, end: datetime, window_start: datetime, window_end: datetime) -> bool:
    if end <= start:
        return window_start <= start < window_end
    return start < window_end and end > window_start


def _key(wall: datetime, all_day: bool) -> str:
    return wall.date().isoformat() if all_day else format_wall(wall)


def is_recurring(values: Values) -> bool:
    return bool(values.get("rrule")) or bool(values.get("rdates"))


def expand(
    series_values: Values,
    overrides: Mapping[str, Values],
    window_start: datetime,
    window_end: datetime,
    *,
    series_id: str = "",
    display_tz: tzinfo | None = None,
) -> list[Occurrence]:
    """The occurrences of an event that intersect [window_start, window_end), sorted by start.

    Args:
        series_values: the event's fields (a series, or a single event).
        overrides: the series' override entities by id (their ``recurrence_id`` says which
            occurrence each replaces); cancelled ones remove it.
        window_start, window_end: aware bounds of the window.
        series_id: the event's entity id (used in keys and override ids).
        display_tz: the viewer's zone, where all-day events start at midnight
            (default: the window's).
    """
    display = display_tz or window_start.tzinfo or UTC
    shape = shape_of(series_values, display)
    if shape is None:
        return []
    if not is_recurring(series_values):
        start, end = _bounds(shape, shape.start, display)
        if not _in_window(start, end, window_start, window_end):
            return []
        values = dict(series_values)
        return [Occurrence(series_id, series_id, start, end, shape.all_day, values)]

    base = {k: v for k, v in series_values.items() if k not in SERIES_ONLY}
    base["rrule"] = shown_rule(series_values)
    starts = _instance_starts(series_values, shape, window_start, window_end, display)
    by_rid: dict[str, tuple[str, Values]] = {}
    for oid, ov in overrides.items():
        rid = canonical_id(ov.get("recurrence_id"), shape.all_day, shape.tz)
        if rid is not None and ov.get("series") in (series_id, None):
            by_rid[rid] = (oid, ov)
    out: list[Occurrence] = []
    for original in starts:
        rid = _key(original, shape.all_day)
        if rid in by_rid:
            continue  # shown below, wherever its override moved it
        wall = original + shape.shift
        start, end = _bounds(shape, wall, display)
        if _in_window(start, end, window_start, window_end):
            values = dict(base)
            values["start"], values["end"] = _stored_pair(
                Shape(shape.all_day, shape.tz, wall, shape.duration)
            )
            key = occurrence_id(series_id, rid)
            out.append(Occurrence(key, series_id, start, end, shape.all_day, values, series_id, rid))
    for rid, (oid, ov) in by_rid.items():
        if ov.get("cancelled") is True or not _is_instance(series_values, shape, rid):
            continue
        try:
            occ = _overridden(base, shape, rid, oid, ov, series_id, display)
        except OverflowError:
            continue
        if occ is not None and _in_window(occ.start, occ.end, window_start, window_end):
            out.append(occ)
    out.sort(key=lambda o: (o.start, o.key))
    return out


def _instance_starts(
    values: Values, shape: Shape, window_start: datetime, window_end: datetime, display: tzinfo
) -> list[datetime]:
    """Original (anchor-frame) wall-clock starts of the series' instances near the window,
    exdates removed; each shows at its original start plus ``shape.shift``."""
    ref = display if shape.all_day else shape.tz
    slack = timedelta(days=2)
    try:
        lo = window_start.astimezone(ref).replace(tzinfo=None) - shape.duration - slack - shape.shift
        hi = window_end.astimezone(ref).replace(tzinfo=None) + slack - shape.shift
        first = shape.anchor
    except OverflowError:
        return []
    found: set[datetime] = set()
    rule = _rule(values.get("rrule"), first, shape.all_day, shape.tz, lo)
    if rule is not None:
        for n, wall in enumerate(rule.xafter(lo, inc=True)):
            if wall > hi or n >= MAX_OCCURRENCES:
                break
            found.add(wall)
    if lo <= first <= hi:
        found.add(first)  # DTSTART is always the first instance (RFC 5545 3.8.5.3)
    for wall in _rdates(values, shape):
        if lo <= wall <= hi:
            found.add(wall)
    excluded = _exdates(values, shape)
    return sorted(w for w in found if _key(w, shape.all_day) not in excluded)


def _rdates(values: Values, shape: Shape) -> list[datetime]:
    raw = values.get("rdates")
    out = []
    for text in raw if isinstance(raw, list) else ():
        if shape.all_day:
            day = parse_date(text)
            if day is not None:
                out.append(datetime.combine(day, time()))
        else:
            wall = parse_wall(text, shape.tz)
            if wall is not None:
                out.append(wall)
    return out


def _exdates(values: Values, shape: Shape) -> set[str]:
    raw = values.get("exdates")
    ids = (canonical_id(t, shape.all_day, shape.tz) for t in (raw if isinstance(raw, list) else ()))
    return {i for i in ids if i is not None}


def _is_instance(values: Values, shape: Shape, rid: str) -> bool:
    """Whether the series (still) has an instance at that original start."""
    if rid in _exdates(values, shape):
        return False
    wall = _wall_of(rid, shape.all_day)
    if wall == shape.anchor or wall in _rdates(values, shape):
        return True
    rule = _rule(values.get("rrule"), shape.anchor, shape.all_day, shape.tz, wall)
    if rule is None:
        return False
    return any(w == wall for w in rule.between(wall, wall, inc=True))


def _overridden(
    base: Values, shape: Shape, rid: str, oid: str, ov: Values, series_id: str, display: tzinfo
) -> Occurrence | None:
    values = {**base, **{k: v for k, v in ov.items() if k not in LINK_FIELDS}}
    own = shape_of(values, display) if "start" in ov else None
    if own is None:
        # Not moved on its own: it follows the series (its original start, shifted as the series was).
        wall = _wall_of(rid, shape.all_day) + shape.shift
        own = Shape(shape.all_day, shape.tz, wall, shape.duration)
        if "end" in ov:  # only the end changed: a resize
            moved = shape_of({**values, "start": _key(wall, shape.all_day)}, display)
            own = moved or own
    start, end = _bounds(own, own.start, display)
    values["start"], values["end"] = _stored_pair(own)
    return Occurrence(
        occurrence_id(series_id, rid), series_id, start, end, own.all_day, values, series_id, rid, True
    )


def _stored_pair(shape: Shape) -> tuple[str, str]:
    if shape.all_day:
        return shape.start.date().isoformat(), (shape.start + shape.duration).date().isoformat()
    return format_wall(shape.start), format_wall(shape.start + shape.duration)


# -- frames of a moved series ----------------------------------------------------------------


#: Weekday names in RRULE order (Monday first, as ``date.weekday()``).
_DAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
#: Rule parts that name days or times and do not follow a move (only plain BYDAY is moved).
_FIXED_BY_DAY = ("BYMONTHDAY", "BYYEARDAY", "BYWEEKNO", "BYSETPOS")
_FIXED_BY_TIME = ("BYHOUR", "BYMINUTE", "BYSECOND")


@dataclass(frozen=True, slots=True)
class Frame:
    """How far a series moved from its anchor: ``shift`` of wall-clock time, ``days`` of weekday."""

    anchor: str
    shift: timedelta
    days: int
    all_day: bool
    tz: tzinfo


def frame_of(values: Mapping[str, Any]) -> Frame | None:
    """The frame of a series that has moved from its anchor; None when it has not (or cannot be read)."""
    shape = shape_of(values)
    if shape is None or not shape.shift:
        return None
    days = (shape.start.date() - shape.anchor.date()).days
    return Frame(anchor_id(shape), shape.shift, days, shape.all_day, shape.tz)


def moved_id(text: object, frame: Frame, sign: int) -> str | None:
    """A recurrence id, rdate or exdate moved by the frame's shift (``sign`` -1: back), canonical."""
    key = canonical_id(text, frame.all_day, frame.tz)
    if key is None:
        return None
    try:
        if frame.all_day:
            day = datetime.fromisoformat(key) + sign * timedelta(days=frame.days)
            return day.date().isoformat()
        return format_wall(datetime.fromisoformat(key) + sign * frame.shift)
    except OverflowError:
        return None


def shown_rule(series_values: Values) -> Any:
    """A series' rule as its editor shows it: read from its current start (UNTIL, weekdays)."""
    rule, frame = series_values.get("rrule"), frame_of(series_values)
    if frame is None or not isinstance(rule, str) or not rule:
        return rule
    return moved_rule(rule, frame, 1)[0]


def stored_rule(rule: Any, series_values: Values) -> Any:
    """A rule the editor gave (from the current start) as the series stores it (its anchor's frame)."""
    frame = frame_of(series_values)
    if frame is None or not isinstance(rule, str) or not rule:
        return rule
    return moved_rule(rule, frame, -1)[0]


def moved_ids(values: object, frame: Frame, sign: int) -> list[str]:
    items = values if isinstance(values, list) else []
    return [m for m in (moved_id(t, frame, sign) for t in items) if m is not None]


def moved_rule(text: str, frame: Frame, sign: int) -> tuple[str, bool]:
    """The rule moved by the frame (UNTIL, and plain BYDAY weekdays when the days change),
    and whether it moved exactly (False: a part naming days or hours stayed where it was)."""
    parts: list[str] = []
    exact = True
    for key, value in rule_parts(text):
        out = value
        if key == "UNTIL":
            out = _moved_until(value, frame, sign) or value
        elif key == "BYDAY" and frame.days:
            moved = _moved_weekdays(value, sign * frame.days)
            exact = exact and moved is not None
            out = moved or value
        elif (key in _FIXED_BY_DAY and frame.days) or (key in _FIXED_BY_TIME and frame.shift % timedelta(1)):
            exact = False
        parts.append(f"{key}={out}")
    return ";".join(parts), exact


def _moved_weekdays(value: str, days: int) -> str | None:
    """Plain weekdays ("MO,WE") moved by ``days``; None for ordinal ones ("1MO")."""
    out = []
    for day in value.upper().split(","):
        if day not in _DAYS:
            return None
        out.append(_DAYS[(_DAYS.index(day) + days) % 7])
    return ",".join(out)


def _moved_until(value: str, frame: Frame, sign: int) -> str | None:
    """UNTIL moved as the instances are: as wall-clock time in the series' zone."""
    try:
        if frame.all_day or "T" not in value:
            day = datetime.strptime(value[:8], "%Y%m%d") + sign * timedelta(days=frame.days)
            return f"{day:%Y%m%d}"
        if value.endswith("Z"):
            moment = datetime.strptime(value, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
            wall = moment.astimezone(frame.tz).replace(tzinfo=None) + sign * frame.shift
            return f"{localize(wall, frame.tz).astimezone(UTC):%Y%m%dT%H%M%SZ}"
        return f"{datetime.strptime(value, '%Y%m%dT%H%M%S') + sign * frame.shift:%Y%m%dT%H%M%S}"
    except (ValueError, OverflowError):
        return None


# -- edits --------------------------------------------------------------------------------------


def times_fields(start: datetime, end: datetime, all_day: bool, tz: tzinfo) -> dict[str, Any]:
    """The ``start``/``end`` fields of aware times (all-day: the dates, end exclusive)."""
    if all_day:
        return {
            "start": start.date().isoformat(),
            "end": max(end.date(), start.date() + timedelta(1)).isoformat(),
        }
    return {"start": stored_time(start, tz), "end": stored_time(end, tz)}


def override_fields(occ: Occurrence, changes: Mapping[str, Any]) -> dict[str, Any]:
    """The fields to put on ``occurrence_id(series, recurrence_id)`` for "edit this occurrence"."""
    if occ.series is None or occ.recurrence_id is None:
        raise ValueError("not an occurrence of a series")
    fields = {k: v for k, v in changes.items() if k not in SERIES_ONLY}
    return {"series": occ.series, "recurrence_id": occ.recurrence_id, **fields}


def cancel_fields(occ: Occurrence) -> dict[str, Any]:
    """The override fields that remove one occurrence from its series."""
    return override_fields(occ, {"cancelled": True})


def series_move_fields(
    series_values: Values, occ: Occurrence, start: datetime, end: datetime
) -> dict[str, Any]:
    """ "Move the whole series": shift the series' start by the occurrence's move, take its duration."""
    shape = shape_of(series_values)
    if shape is None:
        raise ValueError("the series has no start")
    if shape.all_day:
        delta_days = (start.date() - occ.start.date()).days
        first = shape.start.date() + timedelta(days=delta_days)
        days = max(1, (end.date() - start.date()).days)
        return {"start": first.isoformat(), "end": (first + timedelta(days=days)).isoformat()}
    old = occ.start.astimezone(shape.tz).replace(tzinfo=None)
    new = start.astimezone(shape.tz).replace(tzinfo=None)
    first = shape.start + (new - old)
    return {"start": format_wall(first), "end": format_wall(first + (end - start))}


def following_split(series_values: Values, occ: Occurrence) -> tuple[dict[str, Any], dict[str, Any]]:
    """ "This and following": (fields ending the old series before ``occ``, the new series' fields).

    The new series starts where the occurrence's instance is (its original start, shifted as
    the series moved) with the same rule: to the old one's UNTIL, or for what is left of its
    COUNT, or forever. Its anchor is the occurrence's recurrence id, so the
    recurrence ids, rdates and exdates from there on keep naming the same instances in it.
    """
    shape = shape_of(series_values)
    spec = parse_rule(series_values.get("rrule"))
    if shape is None or spec is None or occ.recurrence_id is None:
        raise ValueError("not an occurrence of a readable series")
    rid = occ.recurrence_id
    original = _wall_of(rid, shape.all_day)
    until = (original - timedelta(days=1)).date()  # the rule is read in the anchor's frame
    old = {"rrule": format_rule(replace(spec, until=until, count=None), all_day=shape.all_day, tz=shape.tz)}
    new = {k: v for k, v in series_values.items() if k not in (*SERIES_ONLY, *LINK_FIELDS)}
    new["rrule"] = format_rule(
        replace(spec, count=_left(series_values, shape, spec, original)), all_day=shape.all_day, tz=shape.tz
    )
    wall = original + shape.shift
    new["start"], new["end"] = _stored_pair(Shape(shape.all_day, shape.tz, wall, shape.duration))
    if shape.shift:
        new["anchor"] = rid
    for name in ("rdates", "exdates"):
        later = [t for t in _dates(series_values, name) if _after(t, rid, shape)]
        if later:
            new[name] = later
    return old, new


def _left(values: Values, shape: Shape, spec: RuleSpec, original: datetime) -> int | None:
    """What is left of a rule's COUNT from the instance at ``original`` on (None: no COUNT)."""
    if spec.count is None:
        return None
    rule = _rule(values.get("rrule"), shape.anchor, shape.all_day, shape.tz)
    before = 0
    for wall in rule or ():
        if wall >= original or before >= min(spec.count, 100 * MAX_OCCURRENCES):
            break
        before += 1
    return max(1, spec.count - before)


def _dates(values: Values, name: str) -> list[str]:
    raw = values.get(name)
    return [t for t in raw if isinstance(t, str)] if isinstance(raw, list) else []


def _after(text: str, rid: str, shape: Shape) -> bool:
    """Whether a stored rdate/exdate is at or after the recurrence id ``rid``."""
    key = canonical_id(text, shape.all_day, shape.tz)
    return key is not None and key >= rid


# -- reminders ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Reminder:
    """A reminder to show: the occurrence it is for and when it is due."""

    key: str
    title: str
    start: datetime
    due: datetime


def reminders_due(occurrences: Iterable[Occurrence], t0: datetime, t1: datetime) -> list[Reminder]:
    """Reminders due in (t0, t1], sorted by when they are due (minutes before each start)."""
    out = []
    for occ in occurrences:
        raw = occ.values.get("reminders")
        for minutes in raw if isinstance(raw, list) else ():
            if type(minutes) is not int or minutes < 0:
                continue
            due = occ.start - timedelta(minutes=minutes)
            if t0 < due <= t1:
                out.append(Reminder(occ.key, occ.title, occ.start, due))
    out.sort(key=lambda r: (r.due, r.key))
    return out


#: Slack around a series' span in epoch seconds: a naive wall time read as UTC is within a day
#: of the moment in any zone, and all-day instances start at the viewer's midnight.
_SPAN_SLACK = 2 * 86_400.0


def series_span(values: Values) -> tuple[float, float]:
    """Epoch seconds [lo, hi] outside which a series has no occurrence (before its overrides
    move any): its first start to the end of its last instance by COUNT or UNTIL (open-ended:
    infinity), rdates included, with a zone's worth of slack either side."""
    shape = shape_of(values, UTC)
    if shape is None:
        return -math.inf, math.inf
    walls = [shape.anchor, *_rdates(values, shape)]
    lo, hi = min(walls), max(walls)
    text = values.get("rrule")
    if isinstance(text, str) and _freq(text) is not None:
        last = _rule_last(text, shape)
        if last is None:
            return _epoch(lo + shape.shift) - _SPAN_SLACK, math.inf
        hi = max(hi, last)
    return _epoch(lo + shape.shift) - _SPAN_SLACK, _epoch(hi + shape.shift + shape.duration) + _SPAN_SLACK


#: The longest each plain frequency's period can be (a rule with no BY parts).
_PERIODS = {
    "DAILY": timedelta(days=1, hours=1),
    "WEEKLY": timedelta(days=7, hours=1),
    "MONTHLY": timedelta(days=31, hours=1),
    "YEARLY": timedelta(days=366, hours=1),
}


def _rule_last(text: str, shape: Shape) -> datetime | None:
    """The last instance's wall start of a bounded rule (None: open-ended or too long to walk)."""
    keys = dict(rule_parts(text))
    if "COUNT" in keys:
        count = int(keys["COUNT"])
        period = _PERIODS.get(keys.get("FREQ", "").upper()) or SUB_DAILY.get(keys.get("FREQ", "").upper())
        if period is not None and set(keys) <= {"FREQ", "INTERVAL", "COUNT", "WKST"}:
            # One instance every period at most that long, so the last is no later than this.
            return shape.anchor + period * max(1, int(keys.get("INTERVAL", "1"))) * max(0, count - 1)
        if count > MAX_OCCURRENCES:
            return None
        rule = _rule(text, shape.anchor, shape.all_day, shape.tz)
        last = shape.anchor
        for wall in rule or ():
            last = wall
        return last
    if "UNTIL" in keys:
        until = _until_wall(keys["UNTIL"], shape.all_day, shape.tz)
        return None if until is None else _compact(until)
    return None


def _compact(wall: str) -> datetime | None:
    try:
        return datetime.strptime(wall, "%Y%m%dT%H%M%S") if "T" in wall else datetime.strptime(wall, "%Y%m%d")
    except ValueError:
        return None


def _epoch(wall: datetime) -> float:
    try:
        return wall.replace(tzinfo=UTC).timestamp()
    except (OverflowError, ValueError):
        return -math.inf if wall.year < 2000 else math.inf
