"""Reading iCalendar text into field dicts (``localfirst.ics.parse_ics``); see ``localfirst.ics``."""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import icalendar

from . import ics_raw
from ._ics_common import (
    _CALENDAR_KNOWN,
    _CONTROL,
    _EVENT_KNOWN,
    _PLAIN_ALARM,
    _TEXT_PROPS,
    FIXED_DTSTAMP,
    OVERRIDE_FIELDS,
    IcsCalendar,
    IcsError,
    IcsEvent,
    _as_aware,
    _date_list,
    _first,
    _iso,
    _shift,
    _span,
    _text,
    _wall,
    _x_text,
    alarm_minutes,
    event_id,
    iana_zone,
    override_id,
)
from .domain import MAX_EXTRA_CHARS, MAX_EXTRA_ITEMS, check_fields
from .errors import InvalidWrite
from .recurrence import FLOATING, Frame, Occurrence, following_split, frame_of, moved_id
from .series_frame import from_file
from .write import Value


# -- reading --------------------------------------------------------------------------------------
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
