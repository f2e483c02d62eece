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

Time zones: a TZID that names an IANA zone (or a Windows zone, or a vendor-prefixed IANA name)
keeps its wall times; any other zone is converted to UTC, with a warning. Floating times are
read as UTC, with a warning. Export writes TZID with the IANA name and a VTIMEZONE for it.
"""

from __future__ import annotations

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

from .domain import check_fields
from .errors import InvalidWrite
from .recurrence import Frame, moved_id
from .series_frame import from_file, to_file
from .write import Value

#: A stamp that does not change from one export to the next, so unchanged calendars give
#: byte-identical files (DTSTAMP matters to scheduling messages, not to calendar files).
FIXED_DTSTAMP = datetime(2000, 1, 1, tzinfo=UTC)
PRODID = "-//localfirst//localfirst calendar//EN"
#: UIDs longer than this (or with odd characters) are replaced by a digest, so an override's
#: id ``series@recurrence_id`` stays within the 128 characters an entity id may have.
MAX_UID = 100
MAX_EVENTS = 50_000

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
)
#: The fields an overridden occurrence may change.
OVERRIDE_FIELDS = ("title", "start", "end", "all_day", "tz", "location", "description", "reminders")


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
    return UTC if zone is None else ZoneInfo(zone)


# -- reading --------------------------------------------------------------------------------------


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


def _prop_zone(prop: Any, where: str, notes: list[str]) -> str | None:
    """The zone a date-time property is written in (None: UTC); unknown zones become UTC."""
    value = prop.dt
    if not isinstance(value, datetime):
        return None
    tzid = prop.params.get("TZID") if hasattr(prop, "params") else None
    if value.tzinfo is None:
        if tzid is None:
            notes.append(f"{where}: floating time read as UTC")
        else:
            notes.append(f"{where}: unknown time zone {str(tzid)[:60]!r}, times read as UTC")
        return None
    if tzid is None:
        key = getattr(value.tzinfo, "key", None)
        if isinstance(key, str):
            found = iana_zone(key)
            return found if isinstance(found, str) else None
        if value.utcoffset() == timedelta(0):
            return None
        notes.append(f"{where}: a time zone without a name, converted to UTC")
        return None
    found = iana_zone(str(tzid))
    if found is False:
        notes.append(f"{where}: time zone {str(tzid)[:60]!r} is not an IANA zone; times converted to UTC")
        return None
    return found if isinstance(found, str) else None


def _wall(value: Any, tzid: Any, zone: str | None, all_day: bool) -> date | datetime:
    """A parsed date or date-time as the naive wall time in ``zone`` (dates stay dates)."""
    if isinstance(value, tuple):  # a PERIOD: its start
        value = value[0]
    if not isinstance(value, datetime):
        if not isinstance(value, date):
            raise IcsError(f"expected a date or date-time, got {value!r:.60}")
        return value
    if all_day:
        return value.date()
    if value.tzinfo is None:
        return value.replace(microsecond=0)
    if tzid is not None and iana_zone(str(tzid)) == zone and zone is not None:
        return value.replace(tzinfo=None, microsecond=0)  # the wall time as written
    return value.astimezone(_tzinfo(zone)).replace(tzinfo=None, microsecond=0)


def _iso(value: date | datetime) -> str:
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    return value.isoformat()


def _date_list(component: Any, name: str, zone: str | None, all_day: bool) -> list[str]:
    raw = component.get(name)
    if raw is None:
        return []
    props = raw if isinstance(raw, list) else [raw]
    out: set[str] = set()
    for prop in props:
        tzid = prop.params.get("TZID")
        for item in prop.dts:
            out.add(_iso(_wall(item.dt, tzid, zone, all_day)))
    return sorted(out)


def _reminders(event: Any, start: Any, end: Any, where: str, notes: list[str]) -> list[int]:
    out: list[int] = []
    for alarm in event.subcomponents:
        if alarm.name != "VALARM":
            continue
        if _text(alarm, "ACTION").upper() == "NONE":
            continue  # Apple's placeholder alarm
        trigger = _first(alarm, "TRIGGER")
        if trigger is None:
            notes.append(f"{where}: an alarm without TRIGGER was skipped")
            continue
        when = trigger.dt
        if isinstance(when, timedelta):
            if str(trigger.params.get("RELATED", "START")).upper() == "END":
                when += _as_aware(end) - _as_aware(start)
            seconds = -when.total_seconds()
        elif isinstance(when, datetime):
            seconds = (_as_aware(start) - _as_aware(when)).total_seconds()
        else:
            notes.append(f"{where}: an alarm with an odd TRIGGER was skipped")
            continue
        out.append(round(seconds / 60))
    if len(out) > 32:
        notes.append(f"{where}: only the first 32 of {len(out)} alarms were kept")
        out = out[:32]
    return out


def _as_aware(value: date | datetime) -> datetime:
    if not isinstance(value, datetime):
        return datetime.combine(value, time(), UTC)
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _instance(event: Any, notes: list[str]) -> _Instance:
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
    zone = _prop_zone(start_prop, where, notes)
    end_prop = _first(event, "DTEND")
    if end_prop is not None:
        end = end_prop.dt
        end_tzid = end_prop.params.get("TZID")
    elif event.get("DURATION") is not None:
        duration = _first(event, "DURATION").dt
        if not isinstance(duration, timedelta):
            raise IcsError(f"{where}: DURATION is not a duration")
        end, end_tzid = start + duration, start_prop.params.get("TZID")
    else:
        end, end_tzid = (start + timedelta(days=1) if all_day else start), start_prop.params.get("TZID")
    if not isinstance(end, date) or isinstance(end, datetime) == all_day:
        raise IcsError(f"{where}: DTEND and DTSTART must both be dates or both date-times")
    wall_start = _wall(start, start_prop.params.get("TZID"), zone, all_day)
    wall_end = _wall(end, end_tzid, zone, all_day)
    if _as_aware(end) < _as_aware(start):
        notes.append(f"{where}: ends before it starts; the end was set to the start")
        wall_end = wall_start
    rrule: str | None = None
    rule = event.get("RRULE")
    if isinstance(rule, list):
        notes.append(f"{where}: several RRULEs; only the first was kept")
        rule = rule[0]
    if rule is not None:
        rrule = rule.to_ical().decode("ascii", "replace")
    full: dict[str, Value] = {
        "title": _CONTROL.sub("", _text(event, "SUMMARY")),
        "start": _iso(wall_start),
        "end": _iso(wall_end),
        "all_day": all_day,
        "tz": zone,
        "location": _CONTROL.sub("", _text(event, "LOCATION")),
        "description": _CONTROL.sub("", _text(event, "DESCRIPTION")),
        "rrule": rrule,
        "rdates": _date_list(event, "RDATE", zone, all_day),
        "exdates": _date_list(event, "EXDATE", zone, all_day),
        "reminders": _reminders(event, start, end, where, notes),
    }
    rid = _first(event, "RECURRENCE-ID")
    cancelled = _text(event, "STATUS").upper() == "CANCELLED"
    if cancelled and rid is None:
        notes.append(f"{where}: a cancelled event was imported as an ordinary one")
    anchor = _x_text(event, "X-LOCALFIRST-ANCHOR")[:64]
    return _Instance(uid, event_id(uid), full, zone, all_day, rid, cancelled, anchor)


def _shift(iso: str, delta: timedelta, all_day: bool) -> str:
    if all_day:
        return (date.fromisoformat(iso) + delta).isoformat()
    return (datetime.fromisoformat(iso) + delta).isoformat(timespec="seconds")


def _span(fields: Mapping[str, Value]) -> timedelta:
    start, end = str(fields["start"]), str(fields["end"])
    if fields.get("all_day") is True:
        return date.fromisoformat(end) - date.fromisoformat(start)
    return datetime.fromisoformat(end) - datetime.fromisoformat(start)


def _override(inst: _Instance, master: _Instance | None, frame: Frame | None = None) -> IcsEvent:
    """An occurrence's event; ``frame`` (of a moved series) takes its RECURRENCE-ID back to the
    series' anchor."""
    series_zone = master.zone if master is not None else inst.zone
    series_all_day = master.all_day if master is not None else inst.all_day
    rid_prop = inst.rid
    rid = _iso(_wall(rid_prop.dt, rid_prop.params.get("TZID"), series_zone, series_all_day))
    own = {k: inst.full[k] for k in OVERRIDE_FIELDS}
    original = (moved_id(rid, frame, -1) if frame is not None else None) or rid
    head: dict[str, Value] = {"series": event_id(inst.uid), "recurrence_id": original}
    full: dict[str, Value] = {**head, **own, "cancelled": inst.cancelled}
    if inst.cancelled:  # a removed occurrence: nothing else about it matters
        fields = {**head, "cancelled": True}
    elif master is None:
        fields = dict(full)
    else:
        base = master.full
        fields = dict(head)
        default = (rid, _shift(rid, _span(base), series_all_day), base["all_day"], base["tz"])
        if (own["start"], own["end"], own["all_day"], own["tz"]) != default:
            fields["start"], fields["end"] = own["start"], own["end"]
            for name in ("all_day", "tz"):
                if own[name] != base[name]:
                    fields[name] = own[name]
        for name in ("title", "location", "description", "reminders"):
            if own[name] != base[name]:
                fields[name] = own[name]
    return IcsEvent(override_id(str(head["series"]), original), fields, full)


def parse_ics(text: str) -> IcsCalendar:
    """Read an iCalendar file; raises ``IcsError`` (with a reason) when it cannot be used."""
    if "BEGIN:VCALENDAR" not in text[:4096].upper():
        raise IcsError("not an iCalendar file (no BEGIN:VCALENDAR)")
    notes: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            calendars = icalendar.Calendar.from_ical(text, multiple=True)
        except Exception as exc:  # the parser raises many kinds on bad input
            raise IcsError(f"not a valid iCalendar file: {exc}"[:300]) from None
        if not calendars:
            raise IcsError("not an iCalendar file (no VCALENDAR)")
        instances: list[_Instance] = []
        try:
            for cal in calendars:
                for event in cal.walk("VEVENT"):
                    instances.append(_instance(event, notes))
                    if len(instances) > MAX_EVENTS:
                        raise IcsError(f"more than {MAX_EVENTS} events")
        except IcsError:
            raise
        except Exception as exc:
            raise IcsError(f"cannot read an event: {exc}"[:300]) from None
    notes += [f"iCalendar: {w.message}"[:300] for w in caught]
    cal = calendars[0]
    cal_fields: dict[str, Value] = {}
    name = _x_text(cal, "X-WR-CALNAME") or _text(cal, "NAME")
    if name:
        cal_fields["name"] = _CONTROL.sub("", name)[:10_000]
    colour = _x_text(cal, "X-APPLE-CALENDAR-COLOR") or _text(cal, "COLOR")
    if colour and len(colour) <= 32:
        cal_fields["colour"] = _CONTROL.sub("", colour)
    bookable = _text(cal, "X-LOCALFIRST-BOOKABLE").upper()
    if bookable in ("TRUE", "FALSE"):
        cal_fields["bookable"] = bookable == "TRUE"
    raw_id = _x_text(cal, "X-WR-RELCALID")
    cal_id = event_id(raw_id) if raw_id else None

    masters: dict[str, _Instance] = {}
    frames: dict[str, Frame] = {}
    events: list[IcsEvent] = []
    for inst in instances:
        if inst.rid is not None:
            continue
        if inst.id in masters:
            notes.append(f"event {inst.uid[:60]!r} appears twice; the first was kept")
            continue
        masters[inst.id] = inst
        fields, frame = from_file(inst.full, inst.anchor) if inst.anchor else (dict(inst.full), None)
        if frame is not None:
            frames[inst.id] = frame
        events.append(IcsEvent(inst.id, fields, dict(fields)))
    seen: set[str] = set()
    try:
        for inst in instances:
            if inst.rid is None:
                continue
            override = _override(inst, masters.get(inst.id), frames.get(inst.id))
            if override.id in seen:
                notes.append(f"occurrence {override.id[:80]!r} appears twice; the first was kept")
                continue
            seen.add(override.id)
            events.append(override)
        for ev in events:
            check_fields("event", ev.fields)
            check_fields("event", ev.full)
        check_fields("calendar", cal_fields)
    except (InvalidWrite, IcsError) as exc:
        raise IcsError(f"cannot import: {exc}"[:300]) from None
    except Exception as exc:
        raise IcsError(f"cannot read an occurrence: {exc}"[:300]) from None
    return IcsCalendar(cal_id, cal_fields, events, notes)


# -- writing --------------------------------------------------------------------------------------


def _clean(value: Value) -> str:
    return _CONTROL.sub("", value) if isinstance(value, str) else ""


def _when(iso: Value, all_day: bool, zone: str | None) -> date | datetime:
    if not isinstance(iso, str):
        raise ValueError("missing")
    if all_day:
        return date.fromisoformat(iso[:10])
    stamp = datetime.fromisoformat(iso)
    if stamp.tzinfo is not None:
        return stamp.astimezone(_tzinfo(zone))
    return stamp.replace(tzinfo=_tzinfo(zone))


def _zone_for_export(value: Value, where: str, notes: list[str]) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        found = iana_zone(value)
        if found is not False:
            return found if isinstance(found, str) else None
    notes.append(f"{where}: unknown time zone {str(value)[:60]!r}, written as UTC")
    return None


def _vevent(
    uid: str,
    values: Mapping[str, Value],
    base: Mapping[str, Value] | None,
    notes: list[str],
    dtstamp: datetime,
) -> Any:
    """A VEVENT for a series/single event (base None) or an occurrence of ``base``.

    Recurrence fields go out from the series' current start (``series_frame.to_file``)."""
    where = f"event {uid[:60]!r}"
    recurrence, frame, moved_notes = to_file(base if base is not None else values)
    if base is None:
        notes += [f"{where}: {n}" for n in moved_notes]
    merged = {**(base or {}), **values}
    all_day = merged.get("all_day") is True
    zone = _zone_for_export(merged.get("tz"), where, notes)
    event = icalendar.Event()
    event.add("uid", uid)
    event.add("dtstamp", dtstamp)
    if base is not None:
        series_all_day = base.get("all_day") is True
        series_zone = _zone_for_export(base.get("tz"), where, notes)
        rid = values["recurrence_id"]
        if frame is not None:
            rid = moved_id(rid, frame, 1) or rid
        event.add("recurrence-id", _when(rid, series_all_day, series_zone))
        if "start" not in values:  # the occurrence keeps its original time
            span = _span(base)
            merged["start"] = rid
            merged["end"] = _shift(str(rid), span, series_all_day)
            all_day, zone = series_all_day, series_zone
    start = _when(merged.get("start"), all_day, zone)
    end_raw = merged.get("end")
    end = _when(end_raw, all_day, zone) if isinstance(end_raw, str) else start
    event.add("dtstart", start)
    event.add("dtend", end)
    title = _clean(merged.get("title"))
    event.add("summary", title)
    for name in ("location", "description"):
        if text := _clean(merged.get(name)):
            event.add(name, text)
    if base is None:
        merged.update(recurrence)
        if frame is not None:
            event.add("x-localfirst-anchor", icalendar.vText(frame.anchor))
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
        for name, prop in (("rdates", "rdate"), ("exdates", "exdate")):
            items = merged.get(name)
            if isinstance(items, list) and items:
                event.add(prop, [_when(item, all_day, zone) for item in items])
    if values.get("cancelled") is True:
        event.add("status", "CANCELLED")
    reminders = merged.get("reminders")
    for minutes in reminders if isinstance(reminders, list) else []:
        if type(minutes) is not int or abs(minutes) > 10_000_000:
            continue
        alarm = icalendar.Alarm()
        alarm.add("action", "DISPLAY")
        alarm.add("description", title or "Reminder")
        alarm.add("trigger", timedelta(minutes=-minutes))
        event.add_component(alarm)
    return event


def render_ics(
    calendar_id: str | None,
    calendar: Mapping[str, Value],
    events: Mapping[str, Mapping[str, Value]],
    *,
    dtstamp: datetime = FIXED_DTSTAMP,
) -> tuple[str, list[str]]:
    """One calendar and its events (entity id -> values) as iCalendar text, and warnings.

    Values may come from any peer: an event that cannot be written (a malformed start, say)
    is left out with a warning; nothing here raises on bad values.
    """
    notes: list[str] = []
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
    for uid, values, base in order:
        try:
            if base is None and values.get("series"):
                event = _lone_occurrence(uid, values, notes, dtstamp)
            else:
                event = _vevent(uid, values, base, notes, dtstamp)
        except (ValueError, TypeError, KeyError, OverflowError) as exc:
            notes.append(f"event {uid[:60]!r} could not be written ({exc}) and was left out"[:300])
            continue
        cal.add_component(event)
    try:
        cal.add_missing_timezones()
    except Exception as exc:  # pragma: no cover -- TZID still names the IANA zone
        notes.append(f"time zone definitions could not be added: {exc}"[:300])
    return cal.to_ical().decode("utf-8"), notes


def _lone_occurrence(uid: str, values: Mapping[str, Value], notes: list[str], dtstamp: datetime) -> Any:
    """An occurrence whose series is not in this calendar: written with its own fields."""
    base: dict[str, Value] = {
        "start": values["recurrence_id"],
        "end": values.get("end", values["recurrence_id"]),
        "all_day": values.get("all_day") is True,
        "tz": values.get("tz"),
    }
    return _vevent(uid, values, base, notes, dtstamp)
