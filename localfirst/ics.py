"""Calendars as iCalendar text (RFC 5545), and back; pure: text in, field dicts out.

Events are represented as the rest of the app agreed:

- ``start``/``end``: ISO 8601. Timed: ``"2026-11-21T10:00:00"``, the wall time in zone ``tz``
  (an IANA name; ``None`` means UTC). All-day: ``"2026-11-21"``, ``end`` exclusive,
  ``all_day`` true.
- ``rrule``: the RRULE value without ``RRULE:``; ``rdates``/``exdates``: ISO starts.
- An overridden occurrence is its own event ``f"{series}@{recurrence_id}"`` holding ``series``,
  ``recurrence_id`` (the original start, ISO, in the series' zone) and only the fields that
  differ from the series; ``cancelled`` marks a removed occurrence.
- A series that moved keeps its ``anchor`` and reads its rule, dates and recurrence ids in the
  anchor's frame (``localfirst.series_frame``); a file holds them from DTSTART, as every
  client reads them, and the anchor as ``X-LOCALFIRST-ANCHOR``, so reading it back gives the
  same ids. A file without it (or from another app) is read in its own frame.
- ``reminders``: minutes before the start (``TRIGGER:-PT15M`` is 15).

- ``extra``: what the app has no field for, verbatim (``localfirst.ics_raw``): ATTENDEE,
  ORGANIZER, CATEGORIES, URL, CLASS, STATUS, TRANSP, X- properties, alarms it cannot show as
  reminders (and the exact lines of those it can), and on a calendar its other properties and
  components (VTODO, VJOURNAL, ...). Written back on export; it syncs like any other field.

Time zones: a TZID that names an IANA zone (or a Windows zone, or a vendor-prefixed IANA name)
keeps its wall times; any other zone is converted to UTC, with a warning. Floating times (no
TZID, no Z) stay floating (``tz`` is ``"floating"``): the same wall time in whatever zone the
device is in, and written floating again; under X-WR-TIMEZONE they are in that zone. Export
writes TZID with the IANA name and a VTIMEZONE for it, zones in name order.

Recurrence as mature readers expand it: RANGE=THISANDFUTURE ends the series before that
occurrence and starts a new one there with its changes; an occurrence whose series is not in
the file is kept (and shown) on its own; a DTEND of the other kind than DTSTART (DATE and
DATE-TIME mixed) is read as DTSTART's kind; a DATE in EXDATE/RDATE/RECURRENCE-ID of a timed
series means the series' time that day. What the app does not expand (a second RRULE, RDATE
periods) is kept verbatim and named in the warnings; nothing is dropped without a warning.
"""

from __future__ import annotations

import functools
import hashlib
import re
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import icalendar
from icalendar.timezone.windows_to_olson import WINDOWS_TO_OLSON

from . import ics_raw
from .domain import MAX_EXTRA_CHARS, MAX_EXTRA_ITEMS, check_fields
from .errors import InvalidWrite
from .recurrence import FLOATING, Frame, Occurrence, following_split, frame_of, moved_id
from .series_frame import from_file, to_file
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


# -- reading --------------------------------------------------------------------------------------

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


@dataclass(slots=True)
class _Context:
    """What the events of one VCALENDAR are read with."""

    notes: list[str]
    #: The zone floating times are in: X-WR-TIMEZONE when the calendar names one, else floating.
    floating: str | None = FLOATING


@dataclass(slots=True)
class _Instance:
    uid: str
    id: str
    full: dict[str, Value]
    zone: str | None
    all_day: bool
    rid: Any  # the RECURRENCE-ID property, or None
    cancelled: bool
    anchor: str = ""  # X-LOCALFIRST-ANCHOR: where a moved series' recurrence ids are read
    at: time | None = None  # a timed event's start time (a DATE recurrence id means that time)
    revision: tuple[int, str] = (0, "")  # SEQUENCE, then LAST-MODIFIED or DTSTAMP


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


def _prop_zone(prop: Any, where: str, ctx: _Context) -> str | None:
    """The zone a date-time property is written in (None: UTC; ``FLOATING``: no zone)."""
    value = prop.dt
    if not isinstance(value, datetime):
        return None
    tzid = prop.params.get("TZID") if hasattr(prop, "params") else None
    if value.tzinfo is None:
        if tzid is None:
            return ctx.floating  # floating: the same wall time wherever the device is
        ctx.notes.append(f"{where}: unknown time zone {str(tzid)[:60]!r}, times read as UTC")
        return None
    if tzid is None:
        key = getattr(value.tzinfo, "key", None)
        if isinstance(key, str):
            found = iana_zone(key)
            return found if isinstance(found, str) else None
        if value.utcoffset() == timedelta(0):
            return None
        ctx.notes.append(f"{where}: a time zone without a name, converted to UTC")
        return None
    found = iana_zone(str(tzid))
    if found is False:
        ctx.notes.append(f"{where}: time zone {str(tzid)[:60]!r} is not an IANA zone; times converted to UTC")
        return None
    return found if isinstance(found, str) else None


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


def _plain_alarm(raw: ics_raw.RawComponent) -> bool:
    """An alarm the app writes back as it was: ACTION:DISPLAY and a trigger before the start."""
    names = {name for name, _ in raw.props}
    if raw.children or not names <= _PLAIN_ALARM:
        return False
    for name, line in raw.props:
        head, _, value = line.partition(":")
        if name == "ACTION" and value.strip().upper() != "DISPLAY":
            return False
        if name == "TRIGGER" and (";" in head or not value.strip().startswith(("-P", "P", "+P"))):
            return False
    return True


def _extra_props(event: Any, raw: ics_raw.RawComponent, where: str, notes: list[str]) -> list[str]:
    """The event's property lines the app has no field for, verbatim, in their order."""
    out: list[str] = []
    rules = 0
    cancelled_override = _first(event, "RECURRENCE-ID") is not None
    for name, line in raw.props:
        if name in _TEXT_PROPS and line[len(name) : len(name) + 1] == ";":
            out.append(line)  # its parameters (LANGUAGE, ALTREP) are kept with it
            continue
        if name in _EVENT_KNOWN:
            continue
        if name == "RRULE":
            rules += 1
            if rules == 1:
                continue
            notes.append(f"{where}: more than one RRULE; the others are kept in the file but not shown")
        elif name in ("RDATE", "EXDATE"):
            if name == "EXDATE" or "PERIOD" not in line.partition(":")[0].upper():
                continue
            notes.append(
                f"{where}: RDATE periods are shown with the event's length; their ends are kept in the file"
            )
        elif (
            name == "STATUS" and cancelled_override and line.partition(":")[2].strip().upper() == "CANCELLED"
        ):
            continue
        out.append(line)
    return out


def _alarms_and_components(
    event: Any, raw: ics_raw.RawComponent | None, times: tuple[Any, Any], recurring: bool
) -> tuple[list[int], list[str]]:
    """Reminders the alarms give, and the alarms and components kept verbatim."""
    start, end = times
    reminders: list[int] = []
    kept: list[str] = []
    parsed = list(event.subcomponents)
    children = raw.children if raw is not None else []
    paired = len(children) == len(parsed) and all(
        c.name == p.name for c, p in zip(children, parsed, strict=True)
    )
    for index, component in enumerate(parsed):
        child = children[index] if paired else None
        minutes = alarm_minutes(component, start, end, recurring) if component.name == "VALARM" else None
        if minutes is not None:
            reminders.append(minutes)
        if child is not None and (minutes is None or not _plain_alarm(child)):
            kept.append(child.text())
    return reminders, kept


def _end(event: Any, start_prop: Any, all_day: bool, where: str, notes: list[str]) -> tuple[Any, Any]:
    """DTEND (or DTSTART + DURATION, or the default length) and the TZID it is written in; a
    DTEND of the other kind (DATE for a timed start, or the reverse) is read as that kind."""
    start = start_prop.dt
    end_prop = _first(event, "DTEND")
    tzid = start_prop.params.get("TZID")
    if end_prop is not None:
        end, tzid = end_prop.dt, end_prop.params.get("TZID")
    elif event.get("DURATION") is not None:
        duration = _first(event, "DURATION").dt
        if not isinstance(duration, timedelta):
            raise IcsError(f"{where}: DURATION is not a duration")
        end = start + duration
    else:
        end = start + timedelta(days=1) if all_day else start
    if not isinstance(end, date):
        raise IcsError(f"{where}: DTEND is not a date or date-time")
    if isinstance(end, datetime) == all_day:
        notes.append(
            f"{where}: DTSTART and DTEND mix a date and a date-time; "
            f"the end was read as a {'date' if all_day else 'date-time'}"
        )
        if all_day:
            assert isinstance(end, datetime)
            day = end.date() + (timedelta(days=1) if end.time() != time() else timedelta(0))
            end = max(day, start + timedelta(days=1))
        else:
            end = datetime.combine(end, time(), start.tzinfo)
    return end, tzid


def _instance(event: Any, raw: ics_raw.RawComponent | None, ctx: _Context) -> _Instance:
    raw_uid = _text(event, "UID")
    uid = raw_uid or "nouid-" + hashlib.sha256(event.to_ical()).hexdigest()[:32]
    where = f"event {uid[:60]!r}"
    start_prop = _first(event, "DTSTART")
    if start_prop is None:
        raise IcsError(f"{where} has no DTSTART")
    start = start_prop.dt
    if not isinstance(start, date):
        raise IcsError(f"{where}: DTSTART is not a date or date-time")
    all_day = not isinstance(start, datetime)
    zone = _prop_zone(start_prop, where, ctx)
    end, end_tzid = _end(event, start_prop, all_day, where, ctx.notes)
    wall_start = _wall(start, start_prop.params.get("TZID"), zone, all_day)
    wall_end = _wall(end, end_tzid, zone, all_day)
    if _as_aware(end) < _as_aware(start):
        ctx.notes.append(f"{where}: ends before it starts; the end was set to the start")
        wall_end = wall_start
    at = None if all_day or not isinstance(wall_start, datetime) else wall_start.time()
    rule = _first(event, "RRULE")
    rrule = rule.to_ical().decode("ascii", "replace") if rule is not None else None
    recurring = rule is not None or event.get("RDATE") is not None
    reminders, kept = _alarms_and_components(event, raw, (start, end), recurring)
    extra = (_extra_props(event, raw, where, ctx.notes) if raw is not None else []) + kept
    if event_id(uid) != uid and raw_uid and raw is not None:
        # A long UID (Outlook's are 112 characters) is written back as it was, not as its digest.
        extra.insert(0, next(line for name, line in raw.props if name == "UID"))
    full: dict[str, Value] = {
        "title": _CONTROL.sub("", _text(event, "SUMMARY")),
        "start": _iso(wall_start),
        "end": _iso(wall_end),
        "all_day": all_day,
        "tz": zone,
        "location": _CONTROL.sub("", _text(event, "LOCATION")),
        "description": _CONTROL.sub("", _text(event, "DESCRIPTION")),
        "rrule": rrule,
        "rdates": _date_list(event, "RDATE", zone, all_day, at),
        "exdates": _date_list(event, "EXDATE", zone, all_day, at),
        "reminders": _capped(reminders, where, ctx.notes),
        "extra": _bounded(extra, where, ctx.notes),
    }
    rid = _first(event, "RECURRENCE-ID")
    cancelled = rid is not None and _text(event, "STATUS").upper() == "CANCELLED"
    anchor = _x_text(event, "X-LOCALFIRST-ANCHOR")[:64]
    return _Instance(uid, event_id(uid), full, zone, all_day, rid, cancelled, anchor, at, _revision(event))


def _revision(event: Any) -> tuple[int, str]:
    """Which of two copies of one event is the later revision (RFC 5545 3.8.7.4: SEQUENCE,
    then the time it was last changed)."""
    try:
        sequence = int(_first(event, "SEQUENCE") or 0)
    except (TypeError, ValueError):
        sequence = 0
    stamp = _first(event, "LAST-MODIFIED") or _first(event, "DTSTAMP")
    return sequence, _iso(_as_aware(stamp.dt).astimezone(UTC)) if hasattr(stamp, "dt") else ""


def _latest(instances: list[_Instance], notes: list[str]) -> list[_Instance]:
    """One copy of each event and occurrence: a calendar that holds several revisions of one
    (a later EXDATE or RDATE list, say) means the latest; the others are named, not used."""
    chosen: dict[tuple[str, str], tuple[tuple[int, str, int], _Instance]] = {}
    for index, inst in enumerate(instances):
        key = (inst.id, "" if inst.rid is None else str(inst.rid.to_ical()))
        revision = (*inst.revision, index)
        if key in chosen:
            at = f" (occurrence {key[1][2:-1]})" if key[1] else ""
            notes.append(f"event {inst.uid[:60]!r}{at} appears more than once; the latest revision was kept")
        if key not in chosen or revision > chosen[key][0]:
            chosen[key] = (revision, inst)
    kept = {id(inst) for _, inst in chosen.values()}
    return [inst for inst in instances if id(inst) in kept]


def _bounded(extra: list[str], where: str, notes: list[str]) -> list[str]:
    """Kept lines within what a field may hold; what is over is named, never silently lost."""
    out = []
    for item in extra:
        if len(item) > MAX_EXTRA_CHARS:
            notes.append(
                f"{where}: a line or component over {MAX_EXTRA_CHARS} characters was not kept: {item[:40]!r}"
            )
        else:
            out.append(item)
    if len(out) > MAX_EXTRA_ITEMS:
        notes.append(
            f"{where}: only the first {MAX_EXTRA_ITEMS} of {len(out)} lines and components were kept"
        )
    return out[:MAX_EXTRA_ITEMS]


def _capped(reminders: list[int], where: str, notes: list[str]) -> list[int]:
    if len(reminders) > 32:
        notes.append(f"{where}: only the first 32 of {len(reminders)} alarms are shown")
    return reminders[:32]


def _shift(iso: str, delta: timedelta, all_day: bool) -> str:
    if all_day:
        return (date.fromisoformat(iso) + delta).isoformat()
    return (datetime.fromisoformat(iso) + delta).isoformat(timespec="seconds")


def _span(fields: Mapping[str, Value]) -> timedelta:
    start, end = str(fields["start"]), str(fields["end"])
    if fields.get("all_day") is True:
        return date.fromisoformat(end) - date.fromisoformat(start)
    return datetime.fromisoformat(end) - datetime.fromisoformat(start)


def _rid(inst: _Instance, master: _Instance | None) -> str:
    """An occurrence's RECURRENCE-ID in its series' frame (zone, and a date's time of day)."""
    zone = master.zone if master is not None else inst.zone
    all_day = master.all_day if master is not None else inst.all_day
    at = master.at if master is not None else inst.at
    prop = inst.rid
    return _iso(_wall(prop.dt, prop.params.get("TZID"), zone, all_day, at))


def _override(inst: _Instance, master: _Instance | None, frame: Frame | None = None) -> IcsEvent:
    """An occurrence's event; ``frame`` (of a moved series) takes its RECURRENCE-ID back to the
    series' anchor."""
    series_all_day = master.all_day if master is not None else inst.all_day
    rid = _rid(inst, master)
    own = {k: inst.full[k] for k in OVERRIDE_FIELDS}
    original = (moved_id(rid, frame, -1) if frame is not None else None) or rid
    head: dict[str, Value] = {"series": event_id(inst.uid), "recurrence_id": original}
    full: dict[str, Value] = {**head, **own, "cancelled": inst.cancelled}
    extra = {"extra": own["extra"]} if own["extra"] else {}
    if inst.cancelled:  # a removed occurrence: nothing else about it matters
        fields = {**head, "cancelled": True, **extra}
    elif master is None:
        fields = dict(full)
    else:
        fields = _diff({**head, **extra}, own, master.full, rid, series_all_day)
    return IcsEvent(override_id(str(head["series"]), original), fields, full)


def _diff(
    head: dict[str, Value], own: Mapping[str, Value], base: Mapping[str, Value], rid: str, all_day: bool
) -> dict[str, Value]:
    """An occurrence's fields that differ from its series ``base`` (``rid``: its original start
    as the file holds it, from the series' current start)."""
    fields = dict(head)
    default = (rid, _shift(rid, _span(base), all_day), base["all_day"], base["tz"])
    if (own["start"], own["end"], own["all_day"], own["tz"]) != default:
        fields["start"], fields["end"] = own["start"], own["end"]
        for name in ("all_day", "tz"):
            if own[name] != base[name]:
                fields[name] = own[name]
    for name in ("title", "location", "description", "reminders"):
        if own[name] != base.get(name):
            fields[name] = own[name]
    return fields


def _split_future(series: IcsEvent, override: IcsEvent, where: str, notes: list[str]) -> IcsEvent | None:
    """RECURRENCE-ID;RANGE=THISANDFUTURE: the series ends before the occurrence and a new one
    starts there with the occurrence's changes (RFC 5545 3.8.4.4), as "this and following"
    does in the app. Returns the new series (``series`` is ended in place), or None."""
    rid = str(override.fields["recurrence_id"])
    occ = Occurrence("", series.id, FIXED_DTSTAMP, FIXED_DTSTAMP, False, {}, series.id, rid)
    try:
        ended, fresh = following_split(series.fields, occ)
    except ValueError:
        notes.append(
            f"{where}: RANGE=THISANDFUTURE on a rule the app cannot split; applied to one occurrence"
        )
        return None
    series.fields.update(ended)
    series.full.update(ended)
    own = {k: v for k, v in override.fields.items() if k not in ("series", "recurrence_id", "cancelled")}
    fields: dict[str, Value] = {"rdates": [], "exdates": [], **fresh, **own}
    if "start" in own and own["start"] != rid:
        fields["anchor"] = rid
    check_fields("event", fields)
    return IcsEvent(event_id(f"{series.id}+{rid}"), fields, dict(fields))


def _calendar_fields(
    cal: Any, raw: ics_raw.RawComponent | None, notes: list[str]
) -> tuple[dict[str, Value], str | None]:
    fields: dict[str, Value] = {}
    name = _x_text(cal, "X-WR-CALNAME") or _text(cal, "NAME")
    if name:
        fields["name"] = _CONTROL.sub("", name)[:10_000]
    colour = _x_text(cal, "X-APPLE-CALENDAR-COLOR") or _text(cal, "COLOR")
    if colour and len(colour) <= 32:
        fields["colour"] = _CONTROL.sub("", colour)
    bookable = _text(cal, "X-LOCALFIRST-BOOKABLE").upper()
    if bookable in ("TRUE", "FALSE"):
        fields["bookable"] = bookable == "TRUE"
    extra: list[str] = []
    if raw is not None:
        extra = [line for name, line in raw.props if name not in _CALENDAR_KNOWN]
        extra += [c.text() for c in raw.children if c.name not in ("VEVENT", "VTIMEZONE")]
    fields["extra"] = _bounded(extra, "the calendar", notes)
    raw_id = _x_text(cal, "X-WR-RELCALID")
    return fields, (event_id(raw_id) if raw_id else None)


def _floating_zone(cal: Any) -> str | None:
    """X-WR-TIMEZONE (Google, Apple): the zone floating times of this calendar are in."""
    name = _x_text(cal, "X-WR-TIMEZONE")
    found = iana_zone(name) if name else False
    return found if isinstance(found, str) or found is None else FLOATING


def _instances(cal: Any, raw: ics_raw.RawComponent | None, ctx: _Context) -> list[_Instance]:
    parsed = [c for c in cal.subcomponents if c.name == "VEVENT"]
    raws = [c for c in raw.children if c.name == "VEVENT"] if raw is not None else []
    if len(raws) != len(parsed):
        if parsed:
            ctx.notes.append(
                "the file's lines could not be matched to its events; unknown properties were not kept"
            )
        raws = []
    out = []
    for index, event in enumerate(parsed):
        out.append(_instance(event, raws[index] if raws else None, ctx))
    return out


def _masters(
    instances: list[_Instance], notes: list[str]
) -> tuple[dict[str, _Instance], dict[str, Frame], list[IcsEvent]]:
    masters: dict[str, _Instance] = {}
    frames: dict[str, Frame] = {}
    events: list[IcsEvent] = []
    for inst in instances:
        if inst.rid is not None:
            continue
        masters[inst.id] = inst
        fields, frame = from_file(inst.full, inst.anchor) if inst.anchor else (dict(inst.full), None)
        if frame is not None:
            frames[inst.id] = frame
        events.append(IcsEvent(inst.id, fields, dict(fields)))
    return masters, frames, events


def _events(instances: list[_Instance], notes: list[str]) -> list[IcsEvent]:
    """Series and single events first, then occurrences; a THISANDFUTURE occurrence splits its
    series, and later occurrences belong to the part they fall in."""
    instances = _latest(instances, notes)
    masters, frames, events = _masters(instances, notes)
    by_id = {ev.id: ev for ev in events}
    parts: dict[str, list[tuple[str, IcsEvent]]] = {}  # series -> (from rid, part) in rid order
    seen: set[str] = set()
    overrides = [
        (inst, _override(inst, masters.get(inst.id), frames.get(inst.id)))
        for inst in instances
        if inst.rid is not None
    ]
    overrides.sort(key=lambda pair: str(pair[1].fields["recurrence_id"]))
    for inst, found in overrides:
        override = found
        if override.id in seen:  # two RECURRENCE-IDs naming one occurrence (written differently)
            notes.append(f"occurrence {override.id[:80]!r} appears twice; the first was kept")
            continue
        seen.add(override.id)
        rid = str(override.fields["recurrence_id"])
        owner = next((p for start, p in reversed(parts.get(inst.id, [])) if start <= rid), None)
        if owner is not None:
            override = _moved_to(override, owner)
        series = owner or by_id.get(inst.id)
        future = str(inst.rid.params.get("RANGE", "")).upper() == "THISANDFUTURE"
        if future and series is not None and not inst.cancelled:
            part = _split_future(series, override, f"event {inst.uid[:60]!r}", notes)
            if part is not None:
                parts.setdefault(inst.id, []).append((rid, part))
                events.append(part)
                continue
        events.append(override)
    return events


def _moved_to(override: IcsEvent, part: IcsEvent) -> IcsEvent:
    """An occurrence after a THISANDFUTURE split: it belongs to the new part, and differs from
    it (not from the series it was read against)."""
    rid = str(override.fields["recurrence_id"])
    full = {**override.full, "series": part.id}
    head: dict[str, Value] = {"series": part.id, "recurrence_id": rid}
    extra = override.fields.get("extra")
    if extra:
        head["extra"] = extra
    if override.fields.get("cancelled") is True:
        fields = {**head, "cancelled": True}
    else:
        frame = frame_of(part.fields)
        at = (moved_id(rid, frame, 1) if frame is not None else None) or rid
        fields = _diff(head, full, part.full, at, part.fields.get("all_day") is True)
    return IcsEvent(override_id(part.id, rid), fields, full)


def _read_calendar(cal: Any, raw: ics_raw.RawComponent | None, notes: list[str]) -> IcsCalendar:
    ctx = _Context(notes, _floating_zone(cal))
    fields, cal_id = _calendar_fields(cal, raw, notes)
    try:
        instances = _instances(cal, raw, ctx)
    except IcsError:
        raise
    except Exception as exc:
        raise IcsError(f"cannot read an event: {exc}"[:300]) from None
    try:
        events = _events(instances, notes)
        for ev in events:
            check_fields("event", ev.fields)
            check_fields("event", ev.full)
        check_fields("calendar", fields)
    except (InvalidWrite, IcsError) as exc:
        raise IcsError(f"cannot import: {exc}"[:300]) from None
    except Exception as exc:
        raise IcsError(f"cannot read an occurrence: {exc}"[:300]) from None
    return IcsCalendar(cal_id, fields, events, notes)


def parse_ics(text: str) -> IcsCalendar:
    """Read an iCalendar file; raises ``IcsError`` (with a reason) when it cannot be used.

    A file holding several VCALENDARs gives the first, with the others in ``others``."""
    if "BEGIN:VCALENDAR" not in text[:4096].upper():
        raise IcsError("not an iCalendar file (no BEGIN:VCALENDAR)")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            calendars = icalendar.Calendar.from_ical(text, multiple=True)
        except Exception as exc:  # the parser raises many kinds on bad input
            raise IcsError(f"not a valid iCalendar file: {exc}"[:300]) from None
        if not calendars:
            raise IcsError("not an iCalendar file (no VCALENDAR)")
        raws: list[ics_raw.RawComponent | None] = [r for r in ics_raw.scan(text) if r.name == "VCALENDAR"]
        if len(raws) != len(calendars):
            raws = [None] * len(calendars)
        read = [_read_calendar(cal, raw, []) for cal, raw in zip(calendars, raws, strict=True)]
    read[0].warnings += [f"iCalendar: {w.message}"[:300] for w in caught]
    first = read[0]
    first.others = read[1:]
    return first


# -- writing --------------------------------------------------------------------------------------


def _clean(value: Value) -> str:
    return _CONTROL.sub("", value) if isinstance(value, str) else ""


def _when(iso: Value, all_day: bool, zone: str | None) -> date | datetime:
    if not isinstance(iso, str):
        raise ValueError("missing")
    if all_day:
        return date.fromisoformat(iso[:10])
    stamp = datetime.fromisoformat(iso)
    if zone == FLOATING:
        return stamp.replace(tzinfo=None)  # written without TZID or Z: floating
    if stamp.tzinfo is not None:
        return stamp.astimezone(_tzinfo(zone))
    return stamp.replace(tzinfo=_tzinfo(zone))


def _zone_for_export(value: Value, where: str, notes: list[str]) -> str | None:
    if value is None:
        return None
    if value == FLOATING:
        return FLOATING
    if isinstance(value, str):
        found = iana_zone(value)
        if found is not False:
            return found if isinstance(found, str) else None
    notes.append(f"{where}: unknown time zone {str(value)[:60]!r}, written as UTC")
    return None


def _stamp(value: date | datetime) -> str:
    """A DATE or DATE-TIME value (RFC 5545 3.3.4, 3.3.5): ``Z`` for UTC, nothing for floating
    or zoned times (their zone is the TZID parameter)."""
    day = f"{value.year:04d}{value.month:02d}{value.day:02d}"
    if not isinstance(value, datetime):
        return day
    text = f"{day}T{value.hour:02d}{value.minute:02d}{value.second:02d}"
    return text + "Z" if value.tzinfo is not None and _is_utc(value) else text


def _is_utc(value: datetime) -> bool:
    return value.tzinfo is UTC or getattr(value.tzinfo, "key", None) in ("UTC", "Etc/UTC")


class _Lines:
    """A component's own properties written straight to content lines with icalendar's value
    encoders (no component tree: a 38,000-event export spends its time here)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.lines = [f"BEGIN:{name}"]

    def add(self, name: str, value: Any) -> None:
        name = name.upper()
        items = value if isinstance(value, list) else [value]
        if items and isinstance(items[0], date):
            self.lines.append(f"{name}{_date_params(items[0])}:{','.join(_stamp(v) for v in items)}")
        elif isinstance(value, icalendar.vRecur):
            self.lines.append(f"{name}:{_encoded(value)}")
        else:
            self.lines.append(f"{name}:{icalendar.vText(str(value)).to_ical().decode('utf-8')}")

    def text(self) -> str:
        return "".join(ics_raw.fold(line) for line in self.lines)


def _encoded(prop: Any) -> str:
    """A property value as icalendar writes it (its types are untyped)."""
    return str(prop.to_ical().decode("utf-8"))


def _date_params(value: date | datetime) -> str:
    if not isinstance(value, datetime):
        return ";VALUE=DATE"
    if value.tzinfo is None or _is_utc(value):
        return ""
    key = getattr(value.tzinfo, "key", None)
    return f";TZID={key}" if isinstance(key, str) else ""


@dataclass(slots=True)
class _Times:
    """An event's times as it is written: start, end, and the kind and zone they are in."""

    start: date | datetime
    end: date | datetime
    all_day: bool
    zone: str | None


def _times(
    values: Mapping[str, Value],
    base: Mapping[str, Value] | None,
    merged: dict[str, Value],
    event: Any,
    frame: Frame | None,
    where: str,
    notes: list[str],
) -> _Times:
    """DTSTART/DTEND (and RECURRENCE-ID for an occurrence of ``base``) of an event."""
    all_day = merged.get("all_day") is True
    zone = _zone_for_export(merged.get("tz"), where, notes)
    if base is not None:
        series_all_day = base.get("all_day") is True
        series_zone = _zone_for_export(base.get("tz"), where, notes)
        rid = values["recurrence_id"]
        if frame is not None:
            rid = moved_id(rid, frame, 1) or rid
        event.add("recurrence-id", _when(rid, series_all_day, series_zone))
        if "start" not in values:  # the occurrence keeps its original time
            merged["start"] = rid
            merged["end"] = _shift(str(rid), _span(base), series_all_day)
            all_day, zone = series_all_day, series_zone
    start = _when(merged.get("start"), all_day, zone)
    end_raw = merged.get("end")
    end = _when(end_raw, all_day, zone) if isinstance(end_raw, str) else start
    return _Times(start, end, all_day, zone)


def _add_recurrence(
    event: Any, merged: Mapping[str, Value], times: _Times, props: list[str], where: str, notes: list[str]
) -> None:
    rrule = merged.get("rrule")
    if isinstance(rrule, str) and rrule:
        try:
            recur = icalendar.vRecur.from_ical(rrule)
        except Exception:
            recur = None
        if recur is not None and "FREQ" in recur:
            event.add("rrule", recur)
        else:
            notes.append(f"{where}: a malformed recurrence rule was left out")
    periods = _period_starts(props, times)
    for name, prop in (("rdates", "rdate"), ("exdates", "exdate")):
        items = merged.get(name)
        if name == "rdates" and isinstance(items, list):
            items = [item for item in items if item not in periods]  # written as their PERIOD lines
        if isinstance(items, list) and items:
            event.add(prop, [_when(item, times.all_day, times.zone) for item in items])


def _period_starts(props: list[str], times: _Times) -> set[Value]:
    """The starts of the RDATE periods a kept line writes (the rdates it already covers)."""
    lines = [line for line in props if ics_raw.prop_name(line) == "RDATE"]
    if not lines:
        return set()
    try:
        component = icalendar.Event.from_ical("BEGIN:VEVENT\r\n" + "\r\n".join(lines) + "\r\nEND:VEVENT\r\n")
        at = times.start.time() if isinstance(times.start, datetime) else None
        return set(_date_list(component, "RDATE", times.zone, times.all_day, at))
    except Exception:
        return set()


def _extras(
    values: Mapping[str, Value], where: str = "", notes: list[str] | None = None
) -> tuple[list[str], list[str]]:
    """Kept lines of an event or calendar: (property lines, components), each in its order.

    They may come from a peer: a line that is not one content line, one that would write a
    property the app writes itself, or a component that is not one balanced block is left
    out (with a warning), so nothing synced can change the file's structure."""
    raw = values.get("extra")
    items = [e for e in raw if isinstance(e, str)] if isinstance(raw, list) else []
    props: list[str] = []
    comps: list[str] = []
    for item in items:
        if ics_raw.is_component(item):
            ok = ics_raw.safe_component(item)
            if ok:
                comps.append(item)
        else:
            name = ics_raw.prop_name(item)
            ok = ics_raw.safe_line(item) and (name not in _WRITTEN or name in _KEPT_KNOWN)
            if ok:
                props.append(item)
        if not ok and notes is not None:
            notes.append(f"{where}: a kept line that is not valid iCalendar was left out: {item[:40]!r}")
    return props, comps


def _uid(uid: str, props: list[str]) -> str:
    """The UID to write: the one the file had (kept when its id is a digest of it), else the id."""
    for line in props:
        if ics_raw.prop_name(line) == "UID":
            props.remove(line)
            _, value = ics_raw.split_line(line)
            if value and event_id(value) == uid:
                return value
            break
    return uid


def _text_lines(event: Any, merged: Mapping[str, Value], props: list[str]) -> list[str]:
    """The kept lines with SUMMARY, LOCATION and DESCRIPTION brought up to date: another
    program's line with parameters (``SUMMARY;LANGUAGE=de:``) stays where it was, as it was
    while the text is unchanged, else with the new text and its parameters. Text properties
    without such a line are added to ``event``."""
    out: list[str] = []
    written: set[str] = set()
    for line in props:
        name = ics_raw.prop_name(line)
        if name not in _TEXT_PROPS:
            out.append(line)
            continue
        parts = _parts(line)
        text = _clean(merged.get(_TEXT_PROPS[name]))
        if parts is None or name in written:
            continue
        written.add(name)
        head, value = parts
        if _CONTROL.sub("", str(icalendar.vText.from_ical(value))) == text:
            out.append(line)
        elif text or name == "SUMMARY":
            out.append(f"{head}:{icalendar.vText(text).to_ical().decode('utf-8')}")
    for name, field_name in _TEXT_PROPS.items():
        text = _clean(merged.get(field_name))
        if name not in written and (text or name == "SUMMARY"):
            event.add(name, text)
    return out


def _parts(line: str) -> tuple[str, str] | None:
    """(name and parameters, value) of a content line (a colon inside quotes is a parameter's)."""
    head, value = ics_raw.split_line(line)
    return None if value is None else (head, value)


def _kept_alarm(text: str) -> Any:
    try:
        return icalendar.Alarm.from_ical(text.replace("\n", "\r\n") + "\r\n")
    except Exception:
        return None


def _alarm_text(minutes: int, title: str) -> str:
    """A reminder as the VALARM the app writes (DISPLAY, the title, a trigger before the start)."""
    description = icalendar.vText(title or "Reminder").to_ical().decode("utf-8")
    trigger = _encoded(icalendar.vDuration(timedelta(minutes=-minutes)))
    return f"BEGIN:VALARM\nACTION:DISPLAY\nDESCRIPTION:{description}\nTRIGGER:{trigger}\nEND:VALARM"


def _components(
    merged: Mapping[str, Value], comps: list[str], times: _Times, recurring: bool, title: str
) -> list[str]:
    """Alarms and other components to write: a kept alarm for each reminder it still is (so an
    Apple alarm keeps its sound and UID), a new one for each other reminder, then every kept
    alarm the app cannot show and every other kept component."""
    wanted = merged.get("reminders")
    reminders = (
        [m for m in wanted if type(m) is int and abs(m) <= MAX_REMINDER] if isinstance(wanted, list) else []
    )
    shown: dict[int, list[str]] = {}
    always: list[str] = []
    for text in comps:
        alarm = _kept_alarm(text) if text[:12].upper() == "BEGIN:VALARM" else None
        minutes = alarm_minutes(alarm, times.start, times.end, recurring) if alarm is not None else None
        if minutes is None:
            always.append(text)
        else:
            shown.setdefault(minutes, []).append(text)
    out = [shown[m].pop(0) if shown.get(m) else _alarm_text(m, title) for m in reminders]
    return out + always


def _vevent(
    uid: str,
    values: Mapping[str, Value],
    base: Mapping[str, Value] | None,
    notes: list[str],
    dtstamp: datetime,
) -> str:
    """A VEVENT for a series/single event (base None) or an occurrence of ``base``, as text.

    Recurrence fields go out from the series' current start (``series_frame.to_file``)."""
    where = f"event {uid[:60]!r}"
    recurrence, frame, moved_notes = to_file(base if base is not None else values)
    if base is None:
        notes += [f"{where}: {n}" for n in moved_notes]
    merged = {**(base or {}), **values}
    if base is not None and "extra" not in values:
        merged.pop("extra", None)  # an occurrence's own lines are its own (RFC 5545 3.8.4.4)
    props, comps = _extras(merged, where, notes)
    event = _Lines("VEVENT")
    event.add("uid", _uid(uid, props))
    event.add("dtstamp", dtstamp)
    times = _times(values, base, merged, event, frame, where, notes)
    event.add("dtstart", times.start)
    event.add("dtend", times.end)
    props = _text_lines(event, merged, props)
    if base is None:
        merged.update(recurrence)
        if frame is not None:
            event.add("x-localfirst-anchor", icalendar.vText(frame.anchor))
        _add_recurrence(event, merged, times, props, where, notes)
    if values.get("cancelled") is True:
        event.add("status", "CANCELLED")
    title = _clean(merged.get("title"))
    recurring = bool(merged.get("rrule")) or bool(merged.get("rdates")) or base is not None
    body = event.text()
    tail = _components(merged, comps, times, recurring, title)
    return body + ics_raw.fold_all(props) + ics_raw.fold_all(tail) + "END:VEVENT\r\n"


@functools.lru_cache(maxsize=64)
def _vtimezone(zone: str) -> str:
    """A zone's VTIMEZONE (from the zone database, the same every time)."""
    text: str = icalendar.Timezone.from_tzid(zone).to_ical().decode("utf-8")
    return text


def _zones(events: Mapping[str, Mapping[str, Value]]) -> list[str]:
    """The IANA zones the events are written in, sorted (so the same library gives the same bytes)."""
    found = set()
    for values in events.values():
        zone = values.get("tz")
        if isinstance(zone, str) and zone != FLOATING and values.get("all_day") is not True:
            name = iana_zone(zone)
            if isinstance(name, str):
                found.add(name)
    return sorted(found)


def _header(calendar_id: str | None, calendar: Mapping[str, Value], notes: list[str]) -> str:
    cal = icalendar.Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    if name := _clean(calendar.get("name")):
        cal.add("x-wr-calname", icalendar.vText(name))
    if calendar_id:
        cal.add("x-wr-relcalid", icalendar.vText(_clean(calendar_id)))
    if colour := _clean(calendar.get("colour")):
        cal.add("x-apple-calendar-color", icalendar.vText(colour))
    if isinstance(calendar.get("bookable"), bool):
        cal.add("x-localfirst-bookable", "TRUE" if calendar.get("bookable") else "FALSE")
    text: str = cal.to_ical().decode("utf-8")
    props, _ = _extras(calendar, "the calendar", notes)
    return text[: -len("END:VCALENDAR\r\n")] + ics_raw.fold_all(props)


def _order(
    events: Mapping[str, Mapping[str, Value]], notes: list[str]
) -> list[tuple[str, Mapping[str, Value], Mapping[str, Value] | None]]:
    """(UID, values, series values or None) of each VEVENT to write, in a fixed order: each
    series followed by its occurrences, then occurrences whose series is not here."""
    masters = {k: v for k, v in events.items() if not v.get("series")}
    overrides: dict[str, list[tuple[str, Mapping[str, Value]]]] = {}
    for key, values in events.items():
        series = values.get("series")
        if isinstance(series, str) and series and isinstance(values.get("recurrence_id"), str):
            overrides.setdefault(series, []).append((key, values))
        elif series:
            notes.append(f"occurrence {key[:60]!r} without a recurrence id was left out")
    order: list[tuple[str, Mapping[str, Value], Mapping[str, Value] | None]] = []
    for key in sorted(masters):
        order.append((key, masters[key], None))
        for _, values in sorted(overrides.pop(key, []), key=lambda kv: str(kv[1]["recurrence_id"])):
            order.append((key, values, masters[key]))
    for series, items in sorted(overrides.items()):  # occurrences whose series is not here
        for _, values in sorted(items, key=lambda kv: str(kv[1]["recurrence_id"])):
            lone = dict(values)
            lone.setdefault("start", values["recurrence_id"])
            order.append((series, lone, None))
    return order


def render_ics(
    calendar_id: str | None,
    calendar: Mapping[str, Value],
    events: Mapping[str, Mapping[str, Value]],
    *,
    dtstamp: datetime = FIXED_DTSTAMP,
) -> tuple[str, list[str]]:
    """One calendar and its events (entity id -> values) as iCalendar text, and warnings.

    Values may come from any peer: an event that cannot be written (a malformed start, say)
    is left out with a warning; nothing here raises on bad values. The same values always give
    the same bytes; lines and components kept from another program's file (``extra``) are
    written back where they were.
    """
    notes: list[str] = []
    parts = [_header(calendar_id, calendar, notes)]
    parts += [_vtimezone(zone) for zone in _zones(events)]
    for uid, values, base in _order(events, notes):
        try:
            if base is None and values.get("series"):
                parts.append(_lone_occurrence(uid, values, notes, dtstamp))
            else:
                parts.append(_vevent(uid, values, base, notes, dtstamp))
        except (ValueError, TypeError, KeyError, OverflowError) as exc:
            notes.append(f"event {uid[:60]!r} could not be written ({exc}) and was left out"[:300])
    parts.append(ics_raw.fold_all(_extras(calendar)[1]))  # warned about in _header
    parts.append("END:VCALENDAR\r\n")
    return "".join(parts), notes


def _lone_occurrence(uid: str, values: Mapping[str, Value], notes: list[str], dtstamp: datetime) -> str:
    """An occurrence whose series is not in this calendar: written with its own fields."""
    base: dict[str, Value] = {
        "start": values["recurrence_id"],
        "end": values.get("end", values["recurrence_id"]),
        "all_day": values.get("all_day") is True,
        "tz": values.get("tz"),
    }
    return _vevent(uid, values, base, notes, dtstamp)
