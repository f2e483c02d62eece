"""The data model: which entity kinds exist and what each field may hold.

Every write received from a peer is checked against this before anything is applied, so a
buggy or hostile peer cannot plant fields the app does not understand.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from .crdtmap import DELETED, SET_FIELDS
from .errors import InvalidWrite
from .write import Put, TextEdit

Check = Callable[[Any], bool]

#: Longest text a field other than a note body may hold (characters).
MAX_FIELD_CHARS = 10_000
#: Most set instances one put may remove (a set holds at most 1000 elements, each seen a few times).
MAX_REMOVED = 10_000
#: Longest kept line or component another program wrote (``extra`` fields), and how many.
MAX_EXTRA_CHARS = 100_000
MAX_EXTRA_ITEMS = 1000
#: Fields that are text CRDTs rather than registers: edits merge character by character.
TEXT_FIELDS: dict[str, tuple[str, ...]] = {"note": ("body",)}


def _text(limit: int = MAX_FIELD_CHARS) -> Check:
    return lambda v: type(v) is str and len(v) <= limit


def _opt_text(v: Any) -> bool:
    return v is None or (type(v) is str and len(v) <= MAX_FIELD_CHARS)


def _extra() -> Check:
    """What a file held that the app has no field for, kept verbatim (``localfirst.ics_raw``,
    ``localfirst.markdown``): one element per line, component or front-matter key."""
    return _list_of(_text(MAX_EXTRA_CHARS), MAX_EXTRA_ITEMS)


def _bool(v: Any) -> bool:
    return type(v) is bool


def _int(v: Any) -> bool:
    return type(v) is int and -(2**63) <= v < 2**63  # what SQLite's INTEGER holds


def _list_of(check: Check, limit: int = 1000) -> Check:
    return lambda v: type(v) is list and len(v) <= limit and all(check(x) for x in v)


KINDS: dict[str, dict[str, Check]] = {
    "library": {"name": _text()},
    # A device's certificate (PEM) travels with its membership so every member can pin it.
    "device": {"name": _text(), "revoked": _bool, "cert": _text(8192)},
    "calendar": {"name": _text(), "colour": _text(32), "bookable": _bool, "extra": _extra()},
    "event": {
        "calendar": _text(128),
        "title": _text(),
        "start": _opt_text,  # ISO 8601 date or date-time; time zone in "tz"
        "end": _opt_text,
        "all_day": _bool,
        "tz": _opt_text,
        "location": _text(),
        "description": _text(),
        "rrule": _opt_text,  # RFC 5545 RRULE value, e.g. "FREQ=WEEKLY;BYDAY=MO"
        "rdates": _list_of(_text(64)),  # extra occurrence starts (ISO 8601)
        "exdates": _list_of(_text(64)),  # excluded occurrence starts (ISO 8601)
        "anchor": _opt_text,  # a moved series' start before its first move: recurrence ids' frame
        "reminders": _list_of(_int, 32),  # minutes before start
        # An edited occurrence of a series is its own event, whose id is derived from the
        # series and the occurrence, so concurrent edits of one occurrence merge field by field.
        "series": _opt_text,
        "recurrence_id": _opt_text,  # the original start of the occurrence it overrides
        "cancelled": _bool,  # a single occurrence removed from its series
        "extra": _extra(),  # iCalendar lines and alarms the app has no field for, verbatim
    },
    "note": {
        "title": _text(),
        "tags": _list_of(_text(200), 200),
        "pinned": _bool,
        "created": _int,
        "modified": _int,
        "extra": _extra(),  # front-matter keys other tools wrote, verbatim, one per key
    },
}


def check_fields(kind: str, fields: Mapping[str, Any]) -> None:
    """Raise ``InvalidWrite`` unless every field is known for the kind and holds a valid value."""
    schema = KINDS.get(kind)
    if schema is None:
        raise InvalidWrite(f"unknown entity kind {kind!r:.40}")
    for name, value in fields.items():
        if name == DELETED:
            if value is not True:
                raise InvalidWrite("_deleted may only be set to true")
            continue
        check = schema.get(name)
        if check is None:
            raise InvalidWrite(f"{kind} has no field {name!r:.40}")
        if not check(value):
            raise InvalidWrite(f"{kind}.{name}: invalid value {value!r:.60}")


def check_put(put: Put) -> None:
    if len(put.entity) > 128:
        raise InvalidWrite("entity id longer than 128 characters")
    if not put.fields and not put.seen and not put.removed:
        raise InvalidWrite("a put must set or supersede something")
    check_fields(put.kind, put.fields)
    if put.removed:
        _check_removed(put)


def _check_removed(put: Put) -> None:
    """Removals name set fields of the kind and elements such a set may hold."""
    sets = SET_FIELDS.get(put.kind, frozenset())
    schema = KINDS[put.kind]
    for name, instances in put.removed.items():
        if name not in sets:
            raise InvalidWrite(f"{put.kind}.{name:.40} is not a set")
        if len(instances) > MAX_REMOVED:
            raise InvalidWrite(f"{put.kind}.{name}: more than {MAX_REMOVED} removals in one put")
        check = schema[name]
        for _, _, element in instances:
            if element is not None and not check([element]):
                raise InvalidWrite(f"{put.kind}.{name}: invalid element {element!r:.60}")


def check_text_edit(edit: TextEdit) -> None:
    if edit.field not in TEXT_FIELDS.get(edit.kind, ()):
        raise InvalidWrite(f"{edit.kind}.{edit.field:.40} is not a text field")
    if len(edit.entity) > 128:
        raise InvalidWrite("entity id longer than 128 characters")
    if len(edit.seen) > MAX_REMOVED:
        raise InvalidWrite("a text edit saw too many writes")
