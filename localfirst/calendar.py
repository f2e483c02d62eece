"""Calendar application services: what a user's calendar action means, decided once for every door.

The window, import, the mirror folder and the control channel all call these functions on the
thread that owns the replica. Each returns an :class:`Edit` naming the states of the entities
it touched before and after, so undo and redo are ordinary writes (making an entity hold its
old fields again), and undo of a change that has already synced is just another write.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, tzinfo
from typing import Any

from .booking import BOOK, Notice
from .calendar_ops import EventIndex, booking_slot, describe_notice, restore_plan
from .recurrence import LINK_FIELDS, Occurrence, is_recurring, series_move_fields, shape_of
from .replica import Replica
from .write import Ordered

#: Fields whose change moves a booking in a bookable calendar.
TIME_FIELDS = frozenset({"start", "end", "all_day", "tz", "calendar"})

#: (entity id, its fields, or None for "does not exist").
State = tuple[str, dict[str, Any] | None]


@dataclass(frozen=True, slots=True)
class Edit:
    """One user action as done: its name for the Edit menu and the states before and after it."""

    label: str
    before: tuple[State, ...]
    after: tuple[State, ...]

    @property
    def entities(self) -> list[str]:
        return [entity for entity, _ in self.after]

    @property
    def changed(self) -> bool:
        return self.before != self.after


def current(r: Replica, entity: str) -> dict[str, Any] | None:
    """The live fields of an entity, or None when it does not exist (never made, or deleted)."""
    doc = r.get(entity)
    return doc.values() if doc is not None and doc.exists else None


def is_bookable(r: Replica, calendar: object) -> bool:
    """Whether ``calendar`` names a live calendar whose events may not overlap."""
    if not isinstance(calendar, str) or not calendar:
        return False
    doc = r.get(calendar)
    return doc is not None and doc.exists and doc.kind == "calendar" and doc.value("bookable") is True


def apply_state(r: Replica, entity: str, target: Mapping[str, Any] | None, tz: tzinfo = UTC) -> None:
    """Make an event hold exactly ``target`` (None: deleted).

    In a bookable calendar a single event whose time (or calendar) changes is booked through
    the Bayou log, so the same arbitration holds whichever door the write came through.
    """
    now = current(r, entity)
    plan = restore_plan(now, target)
    if plan.delete:
        r.delete(entity)
    if plan.put is None or target is None:
        return
    calendar = target.get("calendar")
    single = not is_recurring(target) and not target.get("series")
    if single and is_bookable(r, calendar) and (plan.delete or now is None or TIME_FIELDS & plan.put.keys()):
        slot = booking_slot(target, tz)
        if slot is not None:
            assert isinstance(calendar, str)
            r.book(calendar, [slot], {k: v for k, v in plan.put.items() if k != "calendar"}, event=entity)
            return
    r.put("event", entity, plan.put)


def change(r: Replica, label: str, targets: Iterable[State], tz: tzinfo = UTC) -> Edit:
    """Bring each entity to its target state in one transaction; the Edit undoes it."""
    wanted = list(targets)
    with r.transaction():
        before = tuple((e, current(r, e)) for e, _ in wanted)
        for entity, target in wanted:
            apply_state(r, entity, target, tz)
        after = tuple((e, current(r, e)) for e, _ in wanted)
    return Edit(label, before, after)


def undo(r: Replica, edit: Edit, tz: tzinfo = UTC) -> Edit:
    """Put back what ``edit`` changed; returns the Edit that redoes it."""
    return change(r, edit.label, edit.before, tz)


def redo(r: Replica, edit: Edit, tz: tzinfo = UTC) -> Edit:
    """Do ``edit`` again after an undo."""
    return change(r, edit.label, edit.after, tz)


def save_event(
    r: Replica, entity: str, fields: Mapping[str, Any] | None, tz: tzinfo = UTC, label: str = "Edit event"
) -> Edit:
    """Make event ``entity`` hold exactly ``fields`` (None: delete it), booking it if needed."""
    return change(r, label, [(entity, None if fields is None else dict(fields))], tz)


def series_target(r: Replica, occ: Occurrence, changes: Mapping[str, Any]) -> dict[str, Any]:
    """The fields of a whole series after ``changes`` made through one of its occurrences."""
    series = current(r, occ.event) or {}
    changes = {k: v for k, v in changes.items() if k not in LINK_FIELDS}
    if "start" in changes or "end" in changes:
        moved: dict[str, Any] = dict(occ.values)
        moved.update({k: changes[k] for k in ("start", "end", "all_day", "tz") if k in changes})
        shape = shape_of(moved)
        if shape is not None:
            start = shape.start.replace(tzinfo=shape.tz)
            end = (shape.start + shape.duration).replace(tzinfo=shape.tz)
            changes = {**changes, **series_move_fields(series, occ, start, end)}
    return {**series, **changes}


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
                return describe_notice(notice, str(values.get("title", "")), slots, tz)
    return describe_notice(notice, "", [], tz)
