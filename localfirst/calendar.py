"""Calendar application services: what a user's calendar action means, decided once for every door.

The window, import, the mirror folder and the control channel all call these functions on the
thread that owns the replica, as Anki's ``CollectionOp(parent, lambda col: col.decks.remove(ids))``
does. Each returns an :class:`~localfirst.edits.Edit` named for the Edit menu ("Move “Standup”")
with the states of the entities it touched before and after, so undo and redo are ordinary writes
(:func:`undo`, :func:`redo`) and undo of a change that has already synced is just another write.

Scopes of a change made through an occurrence of a series: ``"this"`` occurrence (an override
entity), ``"following"`` (the series ends before it and a new series starts there) or the whole
``"series"``. A single event ignores the scope.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, tzinfo
from typing import Any, Literal

from .booking import BOOK, CONFLICT, Notice
from .calendar_ops import EventIndex, describe_notice, time_changes
from .edits import (
    TIME_FIELDS,
    Edit,
    State,
    apply_state,
    change,
    current,
    is_bookable,
    last_fields,
    quoted,
    redo,
    resolve_deleted,
    resolve_field,
    restore_deleted,
    undo,
)
from .errors import InvalidWrite, UnknownEntity
from .recurrence import (
    LINK_FIELDS,
    SERIES_ONLY,
    Occurrence,
    anchor_fields,
    anchor_id,
    cancel_fields,
    canonical_id,
    following_split,
    occurrence_id,
    override_fields,
    series_move_fields,
    shape_of,
    stored_rule,
    times_fields,
    zone,
    zone_name,
)
from .replica import Replica, new_id
from .write import Ordered, Put

__all__ = [
    "CALENDAR_PALETTE",
    "DEFAULT_CALENDAR_NAME",
    "SCOPES",
    "TIME_FIELDS",
    "Edit",
    "Scope",
    "State",
    "apply_state",
    "booking_explanation",
    "change",
    "changed_fields",
    "clean_fields",
    "create_calendar",
    "create_event",
    "current",
    "delete_calendar",
    "delete_event",
    "edit_calendar",
    "edit_event",
    "ensure_default_calendar",
    "holds_only_the_default",
    "is_bookable",
    "least_used_colour",
    "move_event",
    "new_calendar_fields",
    "new_event_fields",
    "next_colour",
    "notice_text",
    "recolour_calendar",
    "redo",
    "rename_calendar",
    "resolve_deleted",
    "resolve_field",
    "restore_event",
    "save_event",
    "series_target",
    "undo",
]

Scope = Literal["this", "following", "series"]
SCOPES: tuple[Scope, ...] = ("this", "following", "series")

#: Optional event fields a new event leaves out when empty (a CRDT map keeps only what is set).
_OPTIONAL = ("rrule", "tz")


def notice_text(r: Replica, index: EventIndex, notice: Notice, tz: tzinfo) -> str:
    """Describe a notice: find the booking write it is about (recent ones first)."""
    for entry in reversed(r.log()):
        if entry.write.id != notice.write:
            continue
        for op in entry.write.ops:
            if isinstance(op, Ordered) and op.procedure == BOOK:
                event = str(op.params.get("event", ""))
                values = index.values(event) or {}
                slots = [(int(s[0]), int(s[1])) for s in op.params.get("slots", [])]
                text = describe_notice(notice, str(values.get("title", "")), slots, tz)
                holder = _holder(r, event, slots[0]) if notice.after == CONFLICT and slots else None
                if holder is not None:  # name the booking holding the time asked for
                    text = f"{text[:-1]}, {quoted(holder)}."
                return text
    return describe_notice(notice, "", [], tz)


# -- building fields ---------------------------------------------------------------------------


def new_event_fields(
    calendar: str, start: datetime, end: datetime, all_day: bool, tz: tzinfo
) -> dict[str, Any]:
    """The fields of a new event at [start, end) in zone ``tz`` (what the editor opens with)."""
    values: dict[str, Any] = {"calendar": calendar, "all_day": all_day, "tz": zone_name(tz)}
    if all_day:
        values["start"], values["end"] = start.date().isoformat(), end.date().isoformat()
    else:
        values.update(times_fields(start, end, False, zone(values["tz"])))
    return values


def clean_fields(fields: Mapping[str, Any]) -> dict[str, Any]:
    """Drop empty optional fields of a new event (the CRDT map keeps only what is set)."""
    return {k: v for k, v in fields.items() if not (v is None and k in _OPTIONAL)}


def changed_fields(values: Mapping[str, Any], edited: Mapping[str, Any]) -> dict[str, Any]:
    """The fields an editor changed: those that differ, an empty value for a field the event
    never had not counting as a change."""
    return {
        k: v
        for k, v in edited.items()
        if values.get(k) != v and not (k not in values and v in ("", None, [], False))
    }


def _label(verb: str, occ: Occurrence, scope: Scope) -> str:
    if occ.series is None:
        return f"{verb} {quoted(occ.title)}"
    what = {"this": "occurrence", "following": "following", "series": "series"}[scope]
    return f"{verb} {what} {quoted(occ.title)}"


# -- events ------------------------------------------------------------------------------------


def save_event(
    r: Replica, entity: str, fields: Mapping[str, Any] | None, tz: tzinfo = UTC, label: str = "Edit event"
) -> Edit:
    """Make event ``entity`` hold exactly ``fields`` (None: delete it), booking it if needed."""
    return change(r, label, [(entity, None if fields is None else dict(fields))], tz)


def create_event(r: Replica, fields: Mapping[str, Any], tz: tzinfo = UTC, entity: str | None = None) -> Edit:
    """A new event (booked if its calendar is bookable); ``edit.entities[0]`` is its id."""
    entity = entity or new_id()
    wanted = clean_fields(fields)
    return change(r, f"New event {quoted(wanted.get('title'))}", [(entity, wanted)], tz)


def edit_event(
    r: Replica,
    occ: Occurrence,
    changes: Mapping[str, Any],
    scope: Scope = "this",
    tz: tzinfo = UTC,
    verb: str = "Edit",
) -> Edit:
    """Change fields of an event through one of its occurrences, in ``scope``."""
    if scope not in SCOPES:
        raise InvalidWrite(f"unknown scope {scope!r:.20}: this, following or series")
    changes = dict(changes)
    with r.transaction():
        if occ.series is None:
            return change(r, _label(verb, occ, scope), [(occ.event, {**_live(r, occ.event), **changes})], tz)
        if scope == "following" and _is_first(r, occ):
            scope = "series"
        label = _label(verb, occ, scope)
        if scope == "series":
            target = series_target(r, occ, changes)
            target.update(_anchor(r, occ.event, target))
            return change(r, label, [(occ.event, target)], tz)
        if scope == "this":
            key = occurrence_id(occ.event, occ.recurrence_id or "")
            return change(r, label, [(key, {**(current(r, key) or {}), **override_fields(occ, changes)})], tz)
        return change(r, label, _following(r, occ, changes), tz)


def move_event(
    r: Replica, occ: Occurrence, start: datetime, end: datetime, scope: Scope = "this", tz: tzinfo = UTC
) -> Edit:
    """Move (or resize, when only the end changes) an occurrence to [start, end)."""
    verb = "Resize" if start == occ.start and end != occ.end else "Move"
    return edit_event(r, occ, time_changes(occ, start, end), scope, tz, verb)


def delete_event(r: Replica, occ: Occurrence, scope: Scope = "this", tz: tzinfo = UTC) -> Edit:
    """Delete an event, or one occurrence, or it and the following ones, or the whole series."""
    if scope not in SCOPES:
        raise InvalidWrite(f"unknown scope {scope!r:.20}: this, following or series")
    with r.transaction():
        if occ.series is None:
            return change(r, _label("Delete", occ, scope), [(occ.event, None)], tz)
        if scope == "following" and _is_first(r, occ):
            scope = "series"
        label = _label("Delete", occ, scope)
        if scope == "series":
            targets: list[State] = [(o, None) for o in _overrides(r, occ.event)]
            return change(r, label, [*targets, (occ.event, None)], tz)
        if scope == "this":
            key = occurrence_id(occ.event, occ.recurrence_id or "")
            return change(r, label, [(key, {**(current(r, key) or {}), **cancel_fields(occ)})], tz)
        series = _live(r, occ.event)
        ended, _new = following_split(series, occ)
        later = [(o, None) for o, rid in _overrides(r, occ.event).items() if rid >= (occ.recurrence_id or "")]
        return change(r, label, [(occ.event, {**series, **ended}), *later], tz)


def restore_event(r: Replica, entity: str, tz: tzinfo = UTC) -> Edit:
    """Bring back a deleted event (kept with the edits that survived its delete, if any)."""
    title = (current(r, entity) or last_fields(r, entity) or {}).get("title")
    return restore_deleted(r, entity, f"Restore {quoted(title)}", tz)


def series_target(r: Replica, occ: Occurrence, changes: Mapping[str, Any]) -> dict[str, Any]:
    """The fields of a whole series after ``changes`` made through one of its occurrences."""
    return _moved_series(current(r, occ.event) or {}, occ, changes)


def _moved_series(series: Mapping[str, Any], occ: Occurrence, changes: Mapping[str, Any]) -> dict[str, Any]:
    """A series' fields after ``changes``: a new time for ``occ`` moves every instance alike."""
    changes = {k: v for k, v in changes.items() if k not in LINK_FIELDS}
    if "start" in changes or "end" in changes:
        moved: dict[str, Any] = dict(occ.values)
        moved.update({k: changes[k] for k in ("start", "end", "all_day", "tz") if k in changes})
        shape = shape_of(moved)
        if shape is not None:
            start = shape.start.replace(tzinfo=shape.tz)
            end = (shape.start + shape.duration).replace(tzinfo=shape.tz)
            changes = {**changes, **series_move_fields(series, occ, start, end)}
    if "rrule" in changes:  # the editor shows the rule from the series' start before this change
        changes["rrule"] = stored_rule(changes["rrule"], series)
    return {**series, **changes}


def _anchor(r: Replica, series: str, target: Mapping[str, Any]) -> dict[str, Any]:
    """Fix a series' recurrence ids before its first move (returns the anchor written, if any).

    A write of its own, before the move's, so the move's undo (which puts back the start)
    keeps it: every device then reads the recurrence ids in the same frame."""
    now = current(r, series) or {}
    fields = anchor_fields(now) if now.get("start") != target.get("start") else {}
    if fields:
        r.put("event", series, fields)
    return fields


def _following(r: Replica, occ: Occurrence, changes: Mapping[str, Any]) -> list[State]:
    """“This and following”: the old series ends before ``occ``; a new one starts there with
    the changes. Overrides from there on move to the new series (same recurrence ids, read
    from the new series' anchor), so cancellations and edited occurrences follow a new time;
    ``occ``'s own override takes the changes too."""
    series = _live(r, occ.event)
    ended, fresh = following_split(series, occ)
    rid = occ.recurrence_id or ""
    changes = {k: v for k, v in changes.items() if k not in LINK_FIELDS}
    fresh = _moved_series(fresh, occ, changes)
    if canonical_id(fresh.get("start"), fresh.get("all_day") is True, zone(fresh.get("tz"))) != rid:
        fresh["anchor"] = rid
    new = new_id()
    targets: list[State] = [(occ.event, {**series, **ended}), (new, fresh)]
    for override, at in _overrides(r, occ.event).items():
        if at < rid:
            continue
        targets.append((override, None))
        values = current(r, override)
        if values is not None:
            own = {k: v for k, v in changes.items() if k not in SERIES_ONLY} if at == rid else {}
            targets.append((occurrence_id(new, at), {**values, **own, "series": new}))
    return targets


def _is_first(r: Replica, occ: Occurrence) -> bool:
    """Whether ``occ`` is its series' first occurrence ("following" is then the whole series)."""
    shape = shape_of(_live(r, occ.event))
    return shape is not None and anchor_id(shape) == occ.recurrence_id


def _overrides(r: Replica, series: str) -> dict[str, str]:
    """The live overrides of a series: their id and recurrence id."""
    out: dict[str, str] = {}
    for entity, doc in r.entities("event").items():
        if doc.value("series") == series:
            rid = doc.value("recurrence_id")
            out[entity] = rid if isinstance(rid, str) else ""
    return out


def _live(r: Replica, entity: str) -> dict[str, Any]:
    values = current(r, entity)
    if values is None:
        raise UnknownEntity(entity)
    return values


# -- calendars ---------------------------------------------------------------------------------


def create_calendar(r: Replica, fields: Mapping[str, Any], entity: str | None = None) -> Edit:
    """A new calendar (``fields``: name, colour, bookable); ``edit.entities[0]`` is its id.

    Without a colour it gets the palette colour fewest calendars use (:func:`next_colour`)."""
    entity = entity or new_id()
    label = f"New calendar {quoted(fields.get('name'))}"
    with r.transaction():
        return change(r, label, [(entity, new_calendar_fields(r, fields))], kind="calendar")


def rename_calendar(r: Replica, calendar: str, name: str) -> Edit:
    values = _calendar(r, calendar)
    return change(r, f"Rename calendar {quoted(values.get('name'))}", [(calendar, {**values, "name": name})])


def recolour_calendar(r: Replica, calendar: str, colour: str) -> Edit:
    values = _calendar(r, calendar)
    return change(r, f"Recolour {quoted(values.get('name'))}", [(calendar, {**values, "colour": colour})])


def edit_calendar(r: Replica, calendar: str, fields: Mapping[str, Any]) -> Edit:
    """Change a calendar's fields (a rename or a recolour is named as such)."""
    values = _calendar(r, calendar)
    changed = set(changed_fields(values, fields))
    if changed == {"name"}:
        return rename_calendar(r, calendar, fields["name"])
    if changed == {"colour"}:
        return recolour_calendar(r, calendar, fields["colour"])
    return change(r, f"Edit calendar {quoted(values.get('name'))}", [(calendar, {**values, **fields})])


def delete_calendar(r: Replica, calendar: str, tz: tzinfo = UTC) -> Edit:
    """Delete a calendar and every event in it (series with their overrides); one undo brings
    all of them back, the calendar first so its bookings are booked again."""
    values = _calendar(r, calendar)
    with r.transaction():
        events = [e for e, d in r.entities("event").items() if d.value("calendar") == calendar]
        series = set(events)
        overrides = [
            e for e, d in r.entities("event").items() if d.value("series") in series and e not in series
        ]
        targets: list[State] = [(e, None) for e in (*overrides, *events)]
        return change(r, f"Delete calendar {quoted(values.get('name'))}", [*targets, (calendar, None)], tz)


#: Calendar colours, told apart at a glance and readable in light and dark themes alike: mid
#: tones (neither pale nor dark) that dark text reads on and that stand out on a dark window.
CALENDAR_PALETTE: tuple[str, ...] = (
    "#3d7fd9",  # blue
    "#2f9e58",  # green
    "#e07b39",  # orange
    "#9b59d0",  # purple
    "#d6455d",  # red
    "#1a9e9e",  # teal
    "#c99a1c",  # amber
    "#c2569d",  # magenta
    "#6f8f2a",  # olive
    "#7f7fd6",  # lavender
)
#: The calendar a new library starts with, so a new event always has one.
DEFAULT_CALENDAR_NAME = "Personal"


def next_colour(r: Replica) -> str:
    """The palette colour fewest live calendars use (the first such, in palette order)."""
    return least_used_colour(doc.value("colour") for doc in r.entities("calendar").values())


def least_used_colour(colours: Iterable[object]) -> str:
    """The palette colour that appears least among ``colours`` (the first such, in palette order)."""
    used: dict[str, int] = dict.fromkeys(CALENDAR_PALETTE, 0)
    for colour in colours:
        if isinstance(colour, str) and colour.lower() in used:
            used[colour.lower()] += 1
    return min(CALENDAR_PALETTE, key=lambda c: (used[c], CALENDAR_PALETTE.index(c)))


def new_calendar_fields(r: Replica, fields: Mapping[str, Any]) -> dict[str, Any]:
    """A new calendar's fields: a distinct colour from the palette unless one was given."""
    out = dict(fields)
    colour = out.get("colour")
    if not isinstance(colour, str) or not colour.strip():
        out["colour"] = next_colour(r)
    return out


def ensure_default_calendar(r: Replica) -> Edit | None:
    """First run: a library that never had a calendar gets :data:`DEFAULT_CALENDAR_NAME`.

    A library whose calendars were all deleted by the user stays without one (the log still
    holds them), so a deleted default does not come back at every start."""
    if r.entities("calendar"):
        return None
    with r.transaction():
        for entry in r.log():
            if any(isinstance(op, Put) and op.kind == "calendar" for op in entry.write.ops):
                return None
        return create_calendar(r, {"name": DEFAULT_CALENDAR_NAME})


def holds_only_the_default(r: Replica) -> bool:
    """Whether the library holds nothing a user made: no note, no event, and no calendar but
    the untouched one a first run made (a device that only opened the app may join another
    library without losing anything)."""
    if r.entities("note") or r.entities("event"):
        return False
    cals = list(r.entities("calendar").values())
    return len(cals) == 1 and cals[0].values() == {
        "name": DEFAULT_CALENDAR_NAME,
        "colour": CALENDAR_PALETTE[0],
    }


def booking_explanation(r: Replica, event: str, tz: tzinfo = UTC) -> str | None:
    """Why a booking is not at the time asked for: rejected (and what holds that time) or moved
    to an alternative (which, and why); None when it holds the time asked for, or is no booking.
    """
    found = _last_booking(r, event)
    if found is None:
        return None
    wid, slots = found
    outcome = r.outcome(wid)
    if outcome is None or outcome[0] == 0 or not slots:
        return None
    index, committed = outcome
    asked = _slot_text(slots[0], tz)
    holder = _holder(r, event, slots[0])
    taken = f"{asked} is taken by {quoted(holder)}" if holder is not None else f"{asked} is taken"
    final = "" if committed else " (tentative until the primary device confirms)"
    if index == CONFLICT:
        others = " and no alternative was free" if len(slots) > 1 else ""
        return f"Rejected: {taken}{others}{final}."
    if 0 < index < len(slots):
        return f"Moved to the alternative {_slot_text(slots[index], tz)}: {taken}{final}."
    return None


def _last_booking(r: Replica, event: str) -> tuple[Any, list[tuple[int, int]]] | None:
    for entry in reversed(r.log()):
        for op in entry.write.ops:
            if isinstance(op, Ordered) and op.procedure == BOOK and op.params.get("event") == event:
                raw = op.params.get("slots", [])
                slots = [(int(s[0]), int(s[1])) for s in raw] if isinstance(raw, list) else []
                return entry.write.id, slots
    return None


def _slot_text(slot: tuple[int, int], tz: tzinfo) -> str:
    start, end = datetime.fromtimestamp(slot[0], tz), datetime.fromtimestamp(slot[1], tz)
    return f"{start:%a %d %b %H:%M} to {end:%H:%M}"


def _holder(r: Replica, event: str, slot: tuple[int, int]) -> str | None:
    """The title of the event holding (part of) ``slot`` in ``event``'s calendar, if any."""
    calendar = (current(r, event) or {}).get("calendar")
    for other, doc in r.entities("event").items():
        if other == event or doc.value("calendar") != calendar:
            continue
        booking = r.booking(other)
        held = booking.slot if booking is not None else None
        if held is not None and held.overlaps(*slot):
            return str(doc.value("title") or "")
    return None


def _calendar(r: Replica, calendar: str) -> dict[str, Any]:
    doc = r.get(calendar)
    if doc is None or not doc.exists or doc.kind != "calendar":
        raise UnknownEntity(calendar)
    return doc.values()
