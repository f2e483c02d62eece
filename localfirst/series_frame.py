"""A moved series seen from its current start, as iCalendar files hold it, and back.

In the library a moved series keeps its rule, ``rdates``, ``exdates`` and its overrides'
recurrence ids in the frame of its ``anchor`` (see ``localfirst.recurrence``), so they follow
every move. A calendar file has no anchor: there DTSTART is the current start and the rule,
RDATE, EXDATE and RECURRENCE-ID are read from it. :func:`to_file` and :func:`from_file` move
them between the two frames; the anchor itself travels as ``X-LOCALFIRST-ANCHOR`` so a file
read back gives the library's own ids. Pure; never raises on bad synced data.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

from .recurrence import anchor_id, canonical_id, format_wall, localize, rule_parts, shape_of

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


def to_file(series: Mapping[str, Any]) -> tuple[dict[str, Any], Frame | None, list[str]]:
    """A series' recurrence fields as a file holds them (rule, rdates, exdates from its current
    start), its frame (None: it never moved) and warnings."""
    frame = frame_of(series)
    out = {k: series.get(k) for k in ("rrule", "rdates", "exdates")}
    if frame is None:
        return out, None, []
    notes = []
    rule = series.get("rrule")
    if isinstance(rule, str) and rule:
        out["rrule"], exact = moved_rule(rule, frame, 1)
        if not exact:
            notes.append("a moved series' rule names days or hours that could not follow the move")
    out["rdates"] = moved_ids(series.get("rdates"), frame, 1)
    out["exdates"] = moved_ids(series.get("exdates"), frame, 1)
    return out, frame, notes


def from_file(series: Mapping[str, Any], anchor: str) -> tuple[dict[str, Any], Frame | None]:
    """The library's fields of a series read from a file with ``X-LOCALFIRST-ANCHOR: anchor``:
    its anchor, and the rule, rdates and exdates moved back into the anchor's frame."""
    frame = frame_of({**series, "anchor": anchor})
    if frame is None:
        return dict(series), None
    out = {**series, "anchor": frame.anchor}
    rule = series.get("rrule")
    if isinstance(rule, str) and rule:
        out["rrule"] = moved_rule(rule, frame, -1)[0]
    out["rdates"] = moved_ids(series.get("rdates"), frame, -1)
    out["exdates"] = moved_ids(series.get("exdates"), frame, -1)
    return out, frame
