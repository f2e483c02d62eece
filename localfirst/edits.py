"""Undoable edits: a user action as the states of the entities it touched, before and after.

Every application service (``localfirst.calendar``, ``localfirst.notes``) returns an
:class:`Edit`. Undo and redo are ordinary writes: each puts back, field by field, only what the
action changed, over whatever the entity holds now, so a peer's concurrent edit to another field
survives the undo, and undoing a change that has already synced is just another write. In a
bookable calendar an event whose time changes is booked again (:func:`apply_state`), whichever
door the write came through.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, tzinfo
from typing import Any

from .calendar_ops import booking_slot, restore_plan
from .crdtmap import DELETED, Doc
from .errors import InvalidWrite, UnknownEntity
from .recurrence import is_recurring
from .replica import Replica
from .write import Put

#: Fields whose change moves a booking in a bookable calendar.
TIME_FIELDS = frozenset({"start", "end", "all_day", "tz", "calendar"})

#: Fields that say when an entity last changed: an undo or redo sets them to now, not back.
STAMP_FIELDS = ("modified",)
#: Fields whose siblings are not worth the user's attention (timestamps): never shown as conflicts.
QUIET_FIELDS = frozenset({"created", "modified"})

#: (entity id, its fields, or None for "does not exist").
State = tuple[str, dict[str, Any] | None]

_MISSING = object()


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


def quoted(name: object, fallback: str = "Untitled") -> str:
    """A name as the Edit menu shows it: “Standup”."""
    text = name.strip() if isinstance(name, str) else ""
    if len(text) > 40:
        text = text[:39] + "…"
    return f"“{text or fallback}”"


def is_bookable(r: Replica, calendar: object) -> bool:
    """Whether ``calendar`` names a live calendar whose events may not overlap."""
    if not isinstance(calendar, str) or not calendar:
        return False
    doc = r.get(calendar)
    return doc is not None and doc.exists and doc.kind == "calendar" and doc.value("bookable") is True


def apply_state(
    r: Replica, entity: str, target: Mapping[str, Any] | None, tz: tzinfo = UTC, kind: str = "event"
) -> None:
    """Make an entity hold exactly ``target`` (None: deleted); ``kind`` names a new one's kind.

    In a bookable calendar a single event whose time (or calendar) changes is booked through
    the Bayou log, so the same arbitration holds whichever door the write came through. A
    deleted entity brought back first supersedes its delete, so it shows no conflict.
    """
    doc = r.get(entity)
    if doc is not None:
        kind = doc.kind
    now = doc.values() if doc is not None and doc.exists else None
    plan = restore_plan(now, target)
    if plan.delete:
        r.delete(entity)
        doc = r.get(entity)
    if plan.put is None or target is None:
        return
    if doc is not None and DELETED in doc.fields:
        r.restore(entity)
    calendar = target.get("calendar")
    single = kind == "event" and not is_recurring(target) and not target.get("series")
    if single and is_bookable(r, calendar) and (plan.delete or now is None or TIME_FIELDS & plan.put.keys()):
        slot = booking_slot(target, tz)
        if slot is not None:
            assert isinstance(calendar, str)
            r.book(calendar, [slot], {k: v for k, v in plan.put.items() if k != "calendar"}, event=entity)
            return
    r.put(kind, entity, plan.put)


def change(r: Replica, label: str, targets: Iterable[State], tz: tzinfo = UTC, kind: str = "event") -> Edit:
    """Bring each entity to its target state in one transaction; the Edit undoes it.

    ``kind`` is the kind of entities that do not exist yet (others keep theirs).
    """
    wanted = list(targets)
    with r.transaction():
        before = tuple((e, current(r, e)) for e, _ in wanted)
        for entity, target in wanted:
            apply_state(r, entity, target, tz, kind)
        after = tuple((e, current(r, e)) for e, _ in wanted)
    return Edit(label, before, after)


def revert(
    now: Mapping[str, Any] | None, frm: Mapping[str, Any] | None, to: Mapping[str, Any] | None
) -> dict[str, Any] | None:
    """The state taking ``now`` from ``frm`` to ``to`` in the fields that differ between them only.

    Fields the action did not touch keep what ``now`` holds (a peer's edit since), so undo
    and redo are three-way: only the action's own change is taken back or done again.
    """
    if to is None:
        return None
    if frm is None or now is None:
        return {**(now or {}), **to}
    out = dict(now)
    for name in frm.keys() | to.keys():
        old, new = frm.get(name, _MISSING), to.get(name, _MISSING)
        if old == new:
            continue
        if new is _MISSING:
            out.pop(name, None)
        else:
            out[name] = new
    return out


def _step(r: Replica, label: str, frm: tuple[State, ...], to: tuple[State, ...], tz: tzinfo) -> Edit:
    # Applied last entity first when undoing, so a calendar comes back before the events booked in it.
    wanted = dict(to)
    old = dict(frm)
    with r.transaction():
        targets = [(e, _stamped(r, revert(current(r, e), old.get(e), wanted[e]), old.get(e))) for e in wanted]
        return change(r, label, targets, tz)


def _stamped(
    r: Replica, target: dict[str, Any] | None, frm: Mapping[str, Any] | None
) -> dict[str, Any] | None:
    if target is None or frm is None:
        return target
    for name in STAMP_FIELDS:
        if name in target and name in frm:
            target[name] = r.clock.now()
    return target


def undo(r: Replica, edit: Edit, tz: tzinfo = UTC) -> Edit:
    """Take back what ``edit`` changed (only that); returns what the undo did."""
    return _step(r, edit.label, edit.after[::-1], edit.before[::-1], tz)


def redo(r: Replica, edit: Edit, tz: tzinfo = UTC) -> Edit:
    """Do ``edit`` again after an undo (its changes only, over what is there now)."""
    return _step(r, edit.label, edit.before, edit.after, tz)


# -- conflicts ----------------------------------------------------------------------------------


def _name(r: Replica, entity: str) -> str:
    doc = r.get(entity)
    if doc is None:
        return quoted("")
    field = "name" if doc.kind == "calendar" else "title"
    return quoted(doc.value(field))


def resolve_field(r: Replica, entity: str, field: str, value: Any, tz: tzinfo = UTC) -> Edit:
    """Keep ``value`` for a conflicted field: one write superseding every sibling seen here.

    ``value`` is one of the siblings or a merge the user wrote. An event's time in a bookable
    calendar is booked again at the chosen time.
    """
    label = f"Resolve {_name(r, entity)}"
    with r.transaction():
        doc = r.get(entity)
        if doc is None or not doc.fields:
            raise UnknownEntity(entity)
        if field == DELETED:
            raise InvalidWrite("keep or delete an entity with resolve_deleted")
        before = current(r, entity)
        target = {**doc.values(), field: value}
        single = doc.kind == "event" and not is_recurring(target) and not target.get("series")
        slot = booking_slot(target, tz) if single and field in TIME_FIELDS else None
        calendar = target.get("calendar")
        if slot is not None and is_bookable(r, calendar):
            assert isinstance(calendar, str)
            r.book(calendar, [slot], {k: v for k, v in target.items() if k != "calendar"}, event=entity)
        else:
            r.put(doc.kind, entity, {field: value})
        return Edit(label, ((entity, before),), ((entity, current(r, entity)),))


def resolve_deleted(r: Replica, entity: str, keep: bool) -> Edit:
    """An entity deleted on one device while edited on another: keep it with the edits, or
    delete it everywhere (a delete that supersedes the surviving edits)."""
    verb = "Keep" if keep else "Delete"
    label = f"{verb} {_name(r, entity)}"
    with r.transaction():
        doc = r.get(entity)
        if doc is None or not doc.fields:
            raise UnknownEntity(entity)
        before = current(r, entity)
        if keep:
            # Only typing survived the delete (no field did): the fields come back as they were.
            fields = None if _visible(doc) else last_fields(r, entity)
            if DELETED in doc.fields:
                r.restore(entity)
            if fields:
                apply_state(r, entity, {**fields, **(current(r, entity) or {})})
        elif doc.exists:
            r.delete(entity)
        else:  # already deleted: supersede the surviving edits by deleting again
            r.restore(entity)
            r.delete(entity)
        return Edit(label, ((entity, before),), ((entity, current(r, entity)),))


def last_fields(r: Replica, entity: str) -> dict[str, Any] | None:
    """The fields an entity last held, as the log still tells them (None: nothing left to tell).

    A delete supersedes every field, so a deleted entity's values live only in the writes
    that set them: replayed here in log order (sets merge as sets), the deletes skipped.
    """
    doc: Doc | None = None
    for entry in r.log():
        for op in entry.write.ops:
            if isinstance(op, Put) and op.entity == entity and DELETED not in op.fields:
                if doc is None:
                    doc = Doc(op.kind)
                doc.apply(entry.write.id, op)
    return (doc.values() or None) if doc is not None else None


def _visible(doc: Doc) -> bool:
    """Whether a field a user sees survives (not only the record of typing, or the delete)."""
    return any(name[0] != "_" for name in doc.fields)


def restore_deleted(r: Replica, entity: str, label: str, tz: tzinfo = UTC) -> Edit:
    """Bring back a deleted entity: keep it if an edit survived its delete, else with the
    fields it last held (as the log tells them), booked again in a bookable calendar."""
    with r.transaction():
        doc = r.get(entity)
        if doc is None or not doc.fields:
            raise UnknownEntity(entity)
        if doc.exists and DELETED not in doc.fields:
            return Edit(label, ((entity, doc.values()),), ((entity, doc.values()),))
        if DELETED in doc.fields and len(doc.fields) > 1:
            edit = resolve_deleted(r, entity, keep=True)
            return Edit(label, edit.before, edit.after)
        fields = last_fields(r, entity)
        if fields is None:
            raise UnknownEntity(f"{entity} (its fields are no longer in the log)")
        return change(r, label, [(entity, fields)], tz)
