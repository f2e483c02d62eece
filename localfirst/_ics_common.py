"""What reading and writing iCalendar share: the parsed shapes, ids, zones and values.

See ``localfirst.ics`` for how events are represented; this module has no public names of its own.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from icalendar.timezone.windows_to_olson import WINDOWS_TO_OLSON

from .recurrence import FLOATING
from .write import Value

#: A stamp that does not change from one export to the next, so unchanged calendars give
#: byte-identical files (DTSTAMP matters to scheduling messages, not to calendar files).
FIXED_DTSTAMP = datetime(2000, 1, 1, tzinfo=UTC)
PRODID = "-//localfirst//localfirst calendar//EN"
#: UIDs longer than this (or with odd characters) are replaced by a digest, so an override's
#: id ``series@recurrence_id`` stays within the 128 characters an entity id may have.
MAX_UID = 100

_UID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@+=-]*")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_UTC_NAMES = {"UTC", "Etc/UTC", "GMT", "Etc/GMT", "Z", "Zulu", "Etc/Zulu", "Universal", "Etc/UCT", "UCT"}
#: The fields an event (series or single) always gets on import.
EVENT_FIELDS = (
    "title",
    "start",
    "end",
    "all_day",
    "tz",
    "location",
    "description",
    "rrule",
    "rdates",
    "exdates",
    "reminders",
    "extra",
)
#: The fields an overridden occurrence may change.
OVERRIDE_FIELDS = ("title", "start", "end", "all_day", "tz", "location", "description", "reminders", "extra")


class IcsError(ValueError):
    """The text is not an iCalendar file this app can read; nothing of it is used."""


@dataclass(slots=True)
class IcsEvent:
    """One VEVENT: its entity id, the fields to write, and every field of the instance.

    For a series or single event ``fields == full``. For an overridden occurrence ``fields``
    holds ``series``, ``recurrence_id`` and what differs from the series, while ``full`` is the
    whole occurrence (an importer uses it to undo an earlier override of a field).
    """

    id: str
    fields: dict[str, Value]
    full: dict[str, Value]


@dataclass(slots=True)
class IcsCalendar:
    id: str | None
    fields: dict[str, Value]
    events: list[IcsEvent]
    warnings: list[str] = field(default_factory=list)
    #: The file's further VCALENDARs, each a calendar of its own (not merged into this one).
    others: list[IcsCalendar] = field(default_factory=list)


# -- ids and zones ----------------------------------------------------------------------------------


def event_id(uid: str) -> str:
    """The entity id of a UID: the UID itself when it is short and plain, else a digest."""
    if len(uid) <= MAX_UID and _UID.fullmatch(uid):
        return uid
    return "uid-" + hashlib.sha256(uid.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def override_id(series: str, recurrence_id: str) -> str:
    return f"{series}@{recurrence_id}"


def calendar_of(values: Mapping[str, Value], events: Mapping[str, Mapping[str, Value]]) -> Value:
    """The calendar an event's file holds it in: an edited occurrence that names none (the
    window writes only what changed) is in its series' calendar."""
    owner = values.get("calendar")
    series = values.get("series")
    if owner is None and isinstance(series, str) and series in events:
        owner = events[series].get("calendar")
    return owner


def _zone_ok(name: str) -> bool:
    if not name or len(name) > 64 or name.startswith(("/", ".")) or "\\" in name:
        return False
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return False
    return True


def iana_zone(tzid: str) -> str | bool | None:
    """The IANA name a TZID means; None for UTC; False when it names no known zone."""
    name = tzid.strip().strip('"')
    candidates = [name]
    if name in WINDOWS_TO_OLSON:
        candidates.append(WINDOWS_TO_OLSON[name])
    if name.startswith("/"):  # "globally unique" TZIDs: /vendor/.../Europe/Paris
        parts = name.strip("/").split("/")
        candidates += ["/".join(parts[i:]) for i in range(1, len(parts))]
    for candidate in candidates:
        if candidate in _UTC_NAMES:
            return None
        if _zone_ok(candidate):
            return candidate
    return False


def _tzinfo(zone: str | None) -> Any:
    return UTC if zone is None or zone == FLOATING else ZoneInfo(zone)


#: VEVENT properties read into fields; every other property line is kept verbatim in ``extra``.
_EVENT_KNOWN = frozenset(
    {
        "UID",
        "DTSTAMP",
        "DTSTART",
        "DTEND",
        "DURATION",
        "SUMMARY",
        "LOCATION",
        "DESCRIPTION",
        "RECURRENCE-ID",
        "X-LOCALFIRST-ANCHOR",
    }
)
#: VCALENDAR properties read into fields (PRODID and VERSION are the writer's own).
_CALENDAR_KNOWN = frozenset(
    {
        "PRODID",
        "VERSION",
        "CALSCALE",
        "X-WR-CALNAME",
        "NAME",
        "X-APPLE-CALENDAR-COLOR",
        "COLOR",
        "X-WR-RELCALID",
        "X-LOCALFIRST-BOOKABLE",
    }
)
#: Properties the app writes itself: a kept line never writes them a second time.
_WRITTEN = _EVENT_KNOWN | _CALENDAR_KNOWN | {"BEGIN", "END"}
#: Text properties whose parameters (LANGUAGE, ALTREP) are kept: by property, the field.
_TEXT_PROPS = {"SUMMARY": "title", "LOCATION": "location", "DESCRIPTION": "description"}
#: Known properties a kept line may still give: text with parameters, a UID too long for an id.
_KEPT_KNOWN = frozenset({*_TEXT_PROPS, "UID"})
#: Alarm properties an alarm the app writes itself has: one with more is kept verbatim.
_PLAIN_ALARM = frozenset({"ACTION", "TRIGGER", "DESCRIPTION", "SUMMARY"})
#: Longest reminder honoured (minutes; about 19 years).
MAX_REMINDER = 10_000_000


# -- values ------------------------------------------------------------------------------------


def _text(component: Any, name: str) -> str:
    value = component.get(name)
    if isinstance(value, list):
        value = value[0] if value else None
    return "" if value is None else str(value)


def _x_text(component: Any, name: str) -> str:
    """An X- property's text: the parser leaves those escaped (RFC 5545 3.3.11)."""
    raw = _text(component, name)
    return re.sub(r"\\([\\;,nN])", lambda m: "\n" if m.group(1) in "nN" else m.group(1), raw)


def _first(component: Any, name: str) -> Any:
    value = component.get(name)
    if isinstance(value, list):
        return value[0] if value else None
    return value


def _wall(value: Any, tzid: Any, zone: str | None, all_day: bool, at: time | None = None) -> date | datetime:
    """A parsed date or date-time as the naive wall time in ``zone`` (dates stay dates, unless
    ``at`` gives the time a date means in a timed series)."""
    if isinstance(value, tuple):  # a PERIOD: its start
        value = value[0]
    if not isinstance(value, datetime):
        if not isinstance(value, date):
            raise IcsError(f"expected a date or date-time, got {value!r:.60}")
        return datetime.combine(value, at) if at is not None and not all_day else value
    if all_day:
        return value.date()
    if value.tzinfo is None:
        return value.replace(microsecond=0)
    if zone == FLOATING:
        return value.astimezone(UTC).replace(tzinfo=None, microsecond=0)
    if tzid is not None and iana_zone(str(tzid)) == zone and zone is not None:
        return value.replace(tzinfo=None, microsecond=0)  # the wall time as written
    return value.astimezone(_tzinfo(zone)).replace(tzinfo=None, microsecond=0)


def _iso(value: date | datetime) -> str:
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    return value.isoformat()


def _is_period(prop: Any) -> bool:
    return str(prop.params.get("VALUE", "")).upper() == "PERIOD" or any(
        isinstance(item.dt, tuple) for item in prop.dts
    )


def _date_list(component: Any, name: str, zone: str | None, all_day: bool, at: time | None) -> list[str]:
    """RDATE or EXDATE starts (an RDATE period's start: its line is kept too, for its end)."""
    raw = component.get(name)
    if raw is None:
        return []
    props = raw if isinstance(raw, list) else [raw]
    out: set[str] = set()
    for prop in props:
        tzid = prop.params.get("TZID")
        for item in prop.dts:
            out.add(_iso(_wall(item.dt, tzid, zone, all_day, at)))
    return sorted(out)


def _as_aware(value: date | datetime) -> datetime:
    if not isinstance(value, datetime):
        return datetime.combine(value, time(), UTC)
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def alarm_minutes(alarm: Any, start: date | datetime, end: date | datetime, recurring: bool) -> int | None:
    """The reminder an alarm is (minutes before the start), or None when the app cannot show
    it as one (no trigger, Apple's ACTION:NONE placeholder, an absolute time in a series)."""
    if _text(alarm, "ACTION").upper() == "NONE":
        return None
    trigger = _first(alarm, "TRIGGER")
    when = getattr(trigger, "dt", None)
    if isinstance(when, timedelta):
        if str(trigger.params.get("RELATED", "START")).upper() == "END":
            when += _as_aware(end) - _as_aware(start)
        seconds = -when.total_seconds()
    elif isinstance(when, datetime) and not recurring:
        seconds = (_as_aware(start) - _as_aware(when)).total_seconds()
    else:
        return None
    minutes = round(seconds / 60)
    return minutes if abs(minutes) <= MAX_REMINDER else None


def _shift(iso: str, delta: timedelta, all_day: bool) -> str:
    if all_day:
        return (date.fromisoformat(iso) + delta).isoformat()
    return (datetime.fromisoformat(iso) + delta).isoformat(timespec="seconds")


def _span(fields: Mapping[str, Value]) -> timedelta:
    start, end = str(fields["start"]), str(fields["end"])
    if fields.get("all_day") is True:
        return date.fromisoformat(end) - date.fromisoformat(start)
    return datetime.fromisoformat(end) - datetime.fromisoformat(start)
