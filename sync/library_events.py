"""Events as the library commands show them: an event's fields and how it stands in a bookable
calendar, the occurrences in a window, and the occurrence an edit of a whole event goes through."""

from __future__ import annotations

from datetime import datetime, timedelta, tzinfo
from typing import Any

from localfirst import Replica, edits
from localfirst.calendar_ops import EventIndex
from localfirst.errors import UnknownEntity
from localfirst.recurrence import Occurrence, expand, is_recurring, shape_of

#: The window ``event list`` shows when given only one end of it.
DEFAULT_SPAN = timedelta(days=30)


def _at(epoch: int, tz: tzinfo) -> str:
    return datetime.fromtimestamp(epoch, tz).isoformat(timespec="seconds")


def booking(
    r: Replica, entity: str, values: dict[str, Any], tz: tzinfo
) -> tuple[str | None, list[str] | None]:
    """How a single event stands in a bookable calendar, as the window draws it: "booked"
    (committed), "tentative" or "conflict" (no slot), and the slot it holds; (None, None) elsewhere."""
    if not edits.is_bookable(r, values.get("calendar")) or is_recurring(values) or values.get("series"):
        return None, None
    held = r.booking(entity)
    if held is None or held.slot is None:
        return "conflict", None
    return ("tentative" if held.tentative else "booked"), [_at(held.slot.start, tz), _at(held.slot.end, tz)]


def event_json(r: Replica, entity: str, tz: tzinfo) -> dict[str, Any]:
    """An event's stored fields (times as wall-clock time in its zone ``tz``) and its booking."""
    values = edits.current(r, entity)
    if values is None:
        raise UnknownEntity(entity)
    cal = r.get(str(values.get("calendar", "")))
    status, slot = booking(r, entity, values, tz)
    return {
        "id": entity,
        "title": values.get("title", ""),
        "calendar": values.get("calendar", ""),
        "calendar_name": str(cal.value("name") or "") if cal is not None else "",
        "start": values.get("start"),
        "end": values.get("end"),
        "all_day": values.get("all_day") is True,
        "tz": values.get("tz"),
        "rrule": values.get("rrule"),
        "location": values.get("location", ""),
        "description": values.get("description", ""),
        "booking": status,
        "slot": slot,
    }


def list_events(r: Replica, lo: datetime | None, hi: datetime | None, tz: tzinfo) -> dict[str, Any]:
    """Without a window every event (a series once); with one, each occurrence in it, in order."""
    live = {k: d.values() for k, d in r.entities("event").items()}
    if lo is None and hi is None:
        rows = [event_json(r, k, tz) for k, v in live.items() if not v.get("series")]
        rows.sort(key=lambda e: (str(e["start"]), e["id"]))
        return {"events": rows}
    if lo is None:
        assert hi is not None
        lo = hi - DEFAULT_SPAN
    if hi is None:
        hi = lo + DEFAULT_SPAN
    index = EventIndex()
    index.load(live.items())
    rows = []
    for occ in index.query(lo, hi, display_tz=tz):
        status, slot = booking(r, occ.event, occ.values, tz)
        rows.append(
            {
                "id": occ.event,
                "occurrence": occ.key,
                "title": occ.title,
                "calendar": occ.calendar,
                "start": occ.start.astimezone(tz).isoformat(timespec="seconds"),
                "end": occ.end.astimezone(tz).isoformat(timespec="seconds"),
                "all_day": occ.all_day,
                "recurring": occ.recurring,
                "booking": status,
                "slot": slot,
            }
        )
    return {"events": rows}


def occurrence_of(r: Replica, entity: str) -> Occurrence:
    """An occurrence to change a whole event through: the event itself, or a series' first."""
    values = edits.current(r, entity)
    if values is None:
        raise UnknownEntity(entity)
    shape = shape_of(values)
    if is_recurring(values) and shape is not None:
        first = shape.start.replace(tzinfo=shape.tz)
        found = expand(values, {}, first - timedelta(days=2), first + timedelta(days=800), series_id=entity)
        if found:
            return found[0]
    now = datetime.now().astimezone()
    return Occurrence(entity, entity, now, now, values.get("all_day") is True, dict(values))
