"""Notes application services: each note action as one function over a replica, decided once
for every door (the window, import, the mirror folder, the control channel).

Each returns an :class:`~localfirst.edits.Edit` named for the Edit menu (“Delete “Shopping””) so
undo and redo are ordinary writes (:func:`undo`, :func:`redo`). A body is a text CRDT that the
editor writes with ``Replica.edit_text`` (typing has its own undo); a delete leaves the body in
place, so undoing it brings the note back with its text.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from .edits import (
    Edit,
    change,
    current,
    last_fields,
    quoted,
    redo,
    resolve_deleted,
    resolve_field,
    restore_deleted,
    undo,
)
from .errors import UnknownEntity
from .replica import Replica, new_id

__all__ = [
    "DEFAULTS",
    "Edit",
    "create_note",
    "delete_note",
    "display_name",
    "note_name",
    "parse_tags",
    "redo",
    "resolve_deleted",
    "resolve_field",
    "restore_note",
    "set_fields",
    "set_pinned",
    "set_tags",
    "set_title",
    "undo",
]

#: What a note shows for a field it never had.
DEFAULTS: dict[str, Any] = {"title": "", "tags": [], "pinned": False}
#: Tags a note may carry, and characters per tag (the schema's limits).
MAX_TAGS, MAX_TAG_CHARS = 200, 200


def parse_tags(text: str) -> list[str]:
    """Tags typed as ``work, #home ideas``: split on commas and spaces, ``#`` dropped, unique."""
    out: list[str] = []
    for raw in text.replace(",", " ").split():
        tag = raw.lstrip("#").strip()[:MAX_TAG_CHARS]
        if tag and tag not in out:
            out.append(tag)
    return out[:MAX_TAGS]


def display_name(title: object, body: str) -> str:
    """What a note is called in the list and the Edit menu: its title, else its body's first
    line ("" if both are empty)."""
    if isinstance(title, str) and title.strip():
        return title
    return body.strip().split("\n", 1)[0]


def note_name(r: Replica, entity: str, values: Mapping[str, Any] | None = None) -> str:
    """A note's name for the Edit menu, quoted: “Shopping”."""
    title = (values if values is not None else current(r, entity) or {}).get("title")
    if isinstance(title, str) and title.strip():
        return quoted(title)
    return quoted(display_name(None, r.text(entity)))


def create_note(r: Replica, fields: Mapping[str, Any] | None = None, entity: str | None = None) -> Edit:
    """A new note (empty unless ``fields`` say otherwise); ``edit.entities[0]`` is its id."""
    entity = entity or new_id()
    now = r.clock.now()
    wanted = {"title": "", "created": now, "modified": now, **(fields or {})}
    return change(r, f"New note {quoted(wanted.get('title'))}", [(entity, wanted)], kind="note")


def set_fields(r: Replica, entity: str, fields: Mapping[str, Any], label: str | None = None) -> Edit:
    """Set fields of a live note (title, tags, pinned) and its modified time."""
    with r.transaction():
        values = current(r, entity)
        if values is None:
            raise UnknownEntity(entity)
        label = label or f"Edit {note_name(r, entity, values)}"
        return change(r, label, [(entity, {**values, **fields, "modified": r.clock.now()})], kind="note")


def set_title(r: Replica, entity: str, title: str) -> Edit:
    return set_fields(r, entity, {"title": title}, f"Rename {note_name(r, entity)}")


def set_tags(r: Replica, entity: str, tags: Iterable[str]) -> Edit:
    return set_fields(r, entity, {"tags": list(tags)}, f"Tag {note_name(r, entity)}")


def set_pinned(r: Replica, entity: str, pinned: bool) -> Edit:
    verb = "Pin" if pinned else "Unpin"
    return set_fields(r, entity, {"pinned": pinned}, f"{verb} {note_name(r, entity)}")


def delete_note(r: Replica, entity: str) -> Edit:
    """Delete a note on every device; undo brings it back with its body."""
    with r.transaction():
        if current(r, entity) is None:
            raise UnknownEntity(entity)
        return change(r, f"Delete {note_name(r, entity)}", [(entity, None)])


def restore_note(r: Replica, entity: str) -> Edit:
    """Bring back a deleted note with its body (kept with the edits that survived its delete)."""
    name = note_name(r, entity, current(r, entity) or last_fields(r, entity) or {})
    return restore_deleted(r, entity, f"Restore {name}")
