"""Writing a calendar and its events as iCalendar text (``localfirst.ics.render_ics``); see
``localfirst.ics``."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import icalendar

from . import ics_raw
from ._ics_common import (
    _CONTROL,
    _KEPT_KNOWN,
    _TEXT_PROPS,
    _WRITTEN,
    FIXED_DTSTAMP,
    MAX_REMINDER,
    PRODID,
    _date_list,
    _shift,
    _span,
    _tzinfo,
    alarm_minutes,
    event_id,
    iana_zone,
)
from .recurrence import FLOATING, Frame, moved_id
from .series_frame import to_file
from .write import Value

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
