"""Library commands for scripts: devices, conflicts, notes and events, one table for both doors.

Each command is a function ``(replica, request) -> reply`` (JSON-able dicts) built on the core's
services (``localfirst.calendar``, ``localfirst.notes``, ``localfirst.edits``), so a script
writes as the window does: an event in a bookable calendar is booked, a delete can be undone.
The control server runs them on the node (:func:`on_node`), the command line runs them on a
library it opened under the folder's lock (:func:`execute` over ``local_apply``). Entities are
named by a unique id prefix (devices and calendars also by a unique name). Bad input raises
:class:`CommandError` with one line for the user.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import TYPE_CHECKING, Any, TypeVar

from localfirst import DELETED, Replica, calendar, edits, notes
from localfirst.domain import check_fields
from localfirst.errors import ReplicaError, UnknownEntity
from localfirst.recurrence import expands, shape_of, times_fields, zone, zone_name
from sync.library_events import event_json, list_events, occurrence_of

if TYPE_CHECKING:
    from sync.node import Node

Request = dict[str, Any]
Reply = dict[str, Any]
_T = TypeVar("_T")
#: Applies a function to the replica and makes what it wrote count (``sync.control.Apply``).
Apply = Callable[[Callable[[Replica], _T]], _T]


class CommandError(ValueError):
    """A library command refused its input; the message is one line for the user."""


@dataclass(frozen=True, slots=True)
class Command:
    """A named command: its function, and whether it writes (the node then commits and pushes)."""

    run: Callable[[Replica, Request], Reply]
    writes: bool
    #: Reads the reply again once the write counted (committed on the primary): a booking's outcome.
    after: Callable[[Replica, Request, Reply], Reply] | None = None


# -- naming things -------------------------------------------------------------------------------


def pick(candidates: Iterable[str], key: str, what: str, names: dict[str, str] | None = None) -> str:
    """The one id that ``key`` names: the id itself, a unique prefix, or a unique name."""
    ids = sorted(candidates)
    if key in ids:
        return key
    if names is not None:
        named = [i for i in ids if names.get(i, "").casefold() == key.casefold()]
        if len(named) == 1:
            return named[0]
        if len(named) > 1:
            raise CommandError(f"{len(named)} {what}s are named {key!r}: give an id prefix")
    found = [i for i in ids if key and i.startswith(key)]
    if len(found) == 1:
        return found[0]
    if found:
        raise CommandError(f"the id prefix {key!r} is ambiguous ({len(found)} {what}s): give more of it")
    raise CommandError(f"no {what} {key!r}")


def _text(req: Request, name: str, default: str | None = None) -> str:
    value = req.get(name, default)
    if not isinstance(value, str):
        raise CommandError(f"the request needs {name} as text")
    return value


def _iso(ms: object) -> str | None:
    return (
        datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="seconds") if isinstance(ms, int) else None
    )


# -- devices ---------------------------------------------------------------------------------------


def _device_names(r: Replica) -> dict[str, str]:
    return {k: str(d.value("name") or "") for k, d in r.entities("device").items()}


def devices(r: Replica, req: Request) -> Reply:
    """Every device of the library; ``peers`` (the node's view) says which are online, and when
    each was last in sync, else the time of its newest write held here."""
    peers: dict[str, Any] = req.get("peers") or {}
    running = bool(req.get("running"))
    vector = r.vector.as_dict()
    rows = []
    for device, doc in r.entities("device").items():
        peer = peers.get(device) or {}
        this = device == r.device
        seen_at = peer.get("last_sync")
        last_seen = datetime.fromtimestamp(seen_at, UTC).isoformat(timespec="seconds") if seen_at else None
        rows.append(
            {
                "id": device,
                "name": str(doc.value("name") or ""),
                "this": this,
                "revoked": any(v[2] is True for v in doc.versions("revoked")),
                "online": running if this else bool(peer.get("online")),
                "last_seen": None if this else last_seen or _iso(vector.get(device)),
            }
        )
    rows.sort(key=lambda d: (not d["this"], str(d["name"]).casefold(), str(d["id"])))
    return {"devices": rows, "running": running}


def rename(r: Replica, req: Request) -> Reply:
    """Rename a device (this one unless ``device`` names another)."""
    name = _text(req, "name").strip()
    if not name:
        raise CommandError("a device name cannot be empty")
    key = req.get("device")
    device = r.device if not key else pick(r.entities("device"), str(key), "device", _device_names(r))
    values = edits.current(r, device) or {}
    edits.change(r, f"Rename {edits.quoted(values.get('name'))}", [(device, {**values, "name": name})])
    return {"id": device, "name": name}


def revoke(r: Replica, req: Request) -> Reply:
    """Revoke a member: its sessions close and no member trusts it any more (a replicated write)."""
    device = pick(r.entities("device"), _text(req, "device"), "device", _device_names(r))
    if device == r.device:
        raise CommandError("a device cannot revoke itself")
    values = edits.current(r, device) or {}
    if device in r.members():
        edits.change(r, f"Revoke {edits.quoted(values.get('name'))}", [(device, {**values, "revoked": True})])
    return {"id": device, "name": str(values.get("name") or ""), "revoked": True}


# -- conflicts -------------------------------------------------------------------------------------


def _title(r: Replica, entity: str) -> str:
    doc = r.get(entity)
    if doc is None:
        return ""
    if doc.kind in ("calendar", "device", "library"):
        return str(doc.value("name") or "")
    title = doc.value("title")
    if not title and DELETED in doc.fields:
        # Deleted while edited: the delete superseded the fields the edits left alone.
        title = (edits.last_fields(r, entity) or {}).get("title")
    if doc.kind == "note":
        return notes.display_name(title, r.text(entity))
    return title if isinstance(title, str) else ""


def _conflict(r: Replica, entity: str, names: dict[str, str]) -> Reply | None:
    doc = r.get(entity)
    if doc is None:
        return None
    fields = {
        name: [
            {"value": v, "device": o, "device_name": names.get(o, ""), "stamp": s}
            for s, o, v in doc.versions(name)
        ]
        for name in doc.conflicts()
        if name != DELETED and name not in edits.QUIET_FIELDS
    }
    deleted = DELETED in doc.conflicts()
    if not fields and not deleted:
        return None
    return {
        "id": entity,
        "kind": doc.kind,
        "title": _title(r, entity),
        "exists": doc.exists,
        "deleted_with_edits": deleted,
        "fields": fields,
    }


def conflicts(r: Replica, req: Request) -> Reply:
    """Every entity with siblings to resolve: each field's values side by side, and whether it
    was deleted on one device while edited on another."""
    names = _device_names(r)
    rows = [c for e in sorted(r.conflicts()) if (c := _conflict(r, e, names)) is not None]
    return {"conflicts": rows}


def _coerce(kind: str, field: str, value: Any, siblings: list[Any]) -> Any:
    """A value typed on the command line as the field's type (siblings tell which)."""
    if not isinstance(value, str):
        return value
    if all(isinstance(v, bool) for v in siblings):
        truth = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}
        if value.lower() not in truth:
            raise CommandError(f"{kind}.{field} is yes or no, not {value!r:.40}")
        return truth[value.lower()]
    if all(isinstance(v, int) and not isinstance(v, bool) for v in siblings):
        try:
            return int(value)
        except ValueError:
            raise CommandError(f"{kind}.{field} is a whole number, not {value!r:.40}") from None
    if all(isinstance(v, list) for v in siblings):
        return list(dict.fromkeys(p.strip() for p in value.split(",") if p.strip()))
    return value


def resolve(r: Replica, req: Request) -> Reply:
    """Keep one value for a conflicted field (``field`` and ``value``), or settle a delete made
    concurrently with edits: ``keep`` "deleted" (delete everywhere) or "restore"."""
    names = _device_names(r)
    entity = pick(r.conflicts(), _text(req, "id"), "entity in conflict")
    state = _conflict(r, entity, names)
    if state is None:
        raise CommandError(f"{entity} has no conflict left to resolve")
    keep = req.get("keep")
    if keep is not None:
        if keep not in ("deleted", "restore"):
            raise CommandError(f"keep is deleted or restore, not {keep!r:.20}")
        if not state["deleted_with_edits"]:
            raise CommandError(f"{entity} was not deleted while edited: resolve a field instead")
        edits.resolve_deleted(r, entity, keep=keep == "restore")
        field, value = None, None
    else:
        field = _text(req, "field")
        if field not in state["fields"]:
            listed = ", ".join(state["fields"]) or "none (deleted while edited: --keep-deleted or --restore)"
            raise CommandError(
                f"{entity} has no conflict in field {field!r:.40}; fields in conflict: {listed}"
            )
        kind = state["kind"]
        value = _coerce(kind, field, req.get("value"), [v["value"] for v in state["fields"][field]])
        try:
            check_fields(kind, {field: value})
        except ReplicaError as exc:
            raise CommandError(str(exc)) from None
        edits.resolve_field(r, entity, field, value, zone(req.get("tz")))
    after = _conflict(r, entity, names)
    doc = r.get(entity)
    return {
        "id": entity,
        "field": field,
        "value": value,
        "keep": keep,
        "exists": doc is not None and doc.exists,
        "conflicts": sorted(after["fields"]) + (["_deleted"] if after["deleted_with_edits"] else [])
        if after
        else [],
    }


# -- notes -----------------------------------------------------------------------------------------


def _note(r: Replica, key: str) -> str:
    return pick(r.entities("note"), key, "note")


def note_json(r: Replica, entity: str) -> Reply:
    values = r.values(entity)
    doc = r.get(entity)
    return {
        "id": entity,
        "title": values.get("title", ""),
        "body": values.get("body", ""),
        "tags": values.get("tags", []),
        "pinned": values.get("pinned", False),
        "created": _iso(values.get("created")),
        "modified": _iso(values.get("modified")),
        "conflicts": [f for f in doc.conflicts() if f not in edits.QUIET_FIELDS] if doc is not None else [],
    }


def _note_fields(req: Request) -> dict[str, Any]:
    fields: dict[str, Any] = {
        k: req[k] for k in ("title", "body", "tags", "pinned") if req.get(k) is not None
    }
    try:
        check_fields("note", {k: v for k, v in fields.items() if k != "body"})
    except ReplicaError as exc:
        raise CommandError(str(exc)) from None
    if "body" in fields and not isinstance(fields["body"], str):
        raise CommandError("a note's body is text")
    return fields


def note_add(r: Replica, req: Request) -> Reply:
    edit = notes.create_note(r, _note_fields(req))
    return note_json(r, edit.entities[0])


def note_show(r: Replica, req: Request) -> Reply:
    return note_json(r, _note(r, _text(req, "id")))


def note_list(r: Replica, req: Request) -> Reply:
    tag = req.get("tag")
    rows = []
    for entity, doc in r.entities("note").items():
        values = doc.values()
        tags = values.get("tags", [])
        if tag and tag not in tags:
            continue
        rows.append(
            {
                "id": entity,
                "title": notes.display_name(values.get("title"), r.text(entity)),
                "tags": tags,
                "pinned": values.get("pinned", False),
                "modified": _iso(values.get("modified")),
            }
        )
    rows.sort(key=lambda n: n["modified"] or "", reverse=True)
    rows.sort(key=lambda n: not n["pinned"])
    return {"notes": rows}


def note_edit(r: Replica, req: Request) -> Reply:
    entity = _note(r, _text(req, "id"))
    fields = _note_fields(req)
    if not fields:
        raise CommandError("nothing to change: give --title, --body, --tag, --pin or --unpin")
    notes.set_fields(r, entity, fields)
    return note_json(r, entity)


def note_delete(r: Replica, req: Request) -> Reply:
    entity = _note(r, _text(req, "id"))
    notes.delete_note(r, entity)
    return {"id": entity, "deleted": True}


# -- calendars and events --------------------------------------------------------------------------


def _calendar(r: Replica, key: str) -> str:
    cals = r.entities("calendar")
    return pick(cals, key, "calendar", {k: str(d.value("name") or "") for k, d in cals.items()})


def calendar_add(r: Replica, req: Request) -> Reply:
    name = _text(req, "name").strip()
    if not name:
        raise CommandError("a calendar name cannot be empty")
    fields = {
        "name": name,
        "colour": str(req.get("colour") or calendar.next_colour(r)),
        "bookable": bool(req.get("bookable")),
    }
    try:
        check_fields("calendar", fields)
    except ReplicaError as exc:
        raise CommandError(str(exc)) from None
    entity = calendar.create_calendar(r, fields).entities[0]
    return {"id": entity, **fields}


def calendar_list(r: Replica, req: Request) -> Reply:
    rows = [
        {
            "id": k,
            "name": v.get("name", ""),
            "colour": v.get("colour", ""),
            "bookable": v.get("bookable") is True,
        }
        for k, v in ((k, d.values()) for k, d in r.entities("calendar").items())
    ]
    rows.sort(key=lambda c: (str(c["name"]).casefold(), c["id"]))
    return {"calendars": rows}


def _moment(text: object, what: str, tz: tzinfo, all_day: bool) -> datetime:
    """An ISO date or date-time typed by the user, as an aware time (a naive one is in ``tz``)."""
    if not isinstance(text, str):
        raise CommandError(f"{what} needs an ISO 8601 date or date-time")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise CommandError(f"{what}: {text!r:.40} is not an ISO 8601 date or date-time") from None
    if all_day:
        return datetime.combine(moment.date(), datetime.min.time(), tzinfo=tz)
    return moment.replace(tzinfo=tz) if moment.tzinfo is None else moment.astimezone(tz)


def _times(
    req: Request, tz: tzinfo, all_day: bool, start: datetime | None, length: timedelta
) -> dict[str, Any]:
    """The start/end fields a request asks for (an end left out keeps the length)."""
    if req.get("start") is not None:
        start = _moment(req["start"], "start", tz, all_day)
    if start is None:
        raise CommandError("an event needs --start")
    end = _moment(req["end"], "end", tz, all_day) if req.get("end") is not None else start + length
    if end <= start if not all_day else end < start:
        raise CommandError("the end must be after the start")
    return {"all_day": all_day, **times_fields(start, end, all_day, tz)}


def _rule(req: Request) -> str | None:
    rule = req.get("rrule")
    if rule in (None, ""):
        return None
    if not expands(rule):
        raise CommandError(
            f"{rule!r:.60} is not a recurrence rule this app expands (e.g. FREQ=WEEKLY;BYDAY=MO)"
        )
    return str(rule)


def _event_text(req: Request) -> dict[str, Any]:
    return {k: req[k] for k in ("title", "location", "description") if isinstance(req.get(k), str)}


def event_add(r: Replica, req: Request) -> Reply:
    tz = zone(req.get("tz"))
    title = _text(req, "title")
    key = req.get("calendar")
    if key:
        cal = _calendar(r, str(key))
    else:
        cals = r.entities("calendar")
        plain = sorted(k for k, d in cals.items() if d.value("bookable") is not True)
        if not cals:
            raise CommandError("no calendar yet: add one with `localfirst calendar add NAME`")
        cal = (plain or sorted(cals))[0]
    all_day = bool(req.get("all_day"))
    times = _times(req, tz, all_day, None, timedelta(days=1) if all_day else timedelta(hours=1))
    fields = {"calendar": cal, "tz": zone_name(tz), **times}
    fields.update(_event_text(req), title=title, rrule=_rule(req))
    entity = calendar.create_event(r, calendar.clean_fields(fields), tz).entities[0]
    return event_json(r, entity, tz)


def _event(r: Replica, key: str) -> str:
    events = {k for k, d in r.entities("event").items() if not d.value("series")}
    return pick(events, key, "event")


def event_show(r: Replica, req: Request) -> Reply:
    return event_json(r, _event(r, _text(req, "id")), zone(req.get("tz")))


def event_list(r: Replica, req: Request) -> Reply:
    tz = zone(req.get("tz"))
    lo = _moment(req["from"], "from", tz, False) if req.get("from") is not None else None
    hi = _moment(req["to"], "to", tz, False) if req.get("to") is not None else None
    return list_events(r, lo, hi, tz)


def event_edit(r: Replica, req: Request) -> Reply:
    entity = _event(r, _text(req, "id"))
    values = edits.current(r, entity) or {}
    tz = zone(values.get("tz")) if req.get("tz") is None else zone(req["tz"])
    changes: dict[str, Any] = _event_text(req)
    if req.get("calendar"):
        changes["calendar"] = _calendar(r, str(req["calendar"]))
    if "rrule" in req and req["rrule"] is not None:
        changes["rrule"] = _rule(req)
    all_day = values.get("all_day") is True if req.get("all_day") is None else bool(req["all_day"])
    if (
        req.get("start") is not None
        or req.get("end") is not None
        or all_day != (values.get("all_day") is True)
    ):
        shape = shape_of(values)
        start, length = None, timedelta(hours=1)
        if shape is not None:
            start = shape.start.replace(tzinfo=shape.tz).astimezone(tz)
            length = shape.duration
        if all_day and length < timedelta(days=1):
            length = timedelta(days=1)
        changes.update(_times(req, tz, all_day, start, length))
        changes["tz"] = zone_name(tz) if not all_day else values.get("tz")
    changes = calendar.changed_fields(values, changes)
    if not changes:
        raise CommandError("nothing to change: give --title, --start, --end, --calendar, ...")
    occ = occurrence_of(r, entity)
    calendar.edit_event(r, occ, changes, "series" if occ.series else "this", tz)
    return event_json(r, entity, tz)


def _reread_event(r: Replica, req: Request, reply: Reply) -> Reply:
    return event_json(r, str(reply["id"]), zone(reply.get("tz") if req.get("tz") is None else req["tz"]))


def event_delete(r: Replica, req: Request) -> Reply:
    entity = _event(r, _text(req, "id"))
    occ = occurrence_of(r, entity)
    calendar.delete_event(r, occ, "series" if occ.series else "this")
    return {"id": entity, "deleted": True}


COMMANDS: dict[str, Command] = {
    "devices": Command(devices, writes=False),
    "rename": Command(rename, writes=True),
    "revoke": Command(revoke, writes=True),
    "conflicts": Command(conflicts, writes=False),
    "resolve": Command(resolve, writes=True),
    "note-add": Command(note_add, writes=True),
    "note-show": Command(note_show, writes=False),
    "note-list": Command(note_list, writes=False),
    "note-edit": Command(note_edit, writes=True),
    "note-delete": Command(note_delete, writes=True),
    "calendar-add": Command(calendar_add, writes=True),
    "calendar-list": Command(calendar_list, writes=False),
    "event-add": Command(event_add, writes=True, after=_reread_event),
    "event-show": Command(event_show, writes=False),
    "event-list": Command(event_list, writes=False),
    "event-edit": Command(event_edit, writes=True, after=_reread_event),
    "event-delete": Command(event_delete, writes=True),
}


def _guarded(fn: Callable[[Replica], Reply]) -> Callable[[Replica], Reply]:
    """``fn`` with the core's refusals turned into one line for the user."""

    def run(r: Replica) -> Reply:
        try:
            return fn(r)
        except UnknownEntity as exc:
            raise CommandError(f"no such entity: {exc.args[0] if exc.args else ''}") from None
        except ReplicaError as exc:
            raise CommandError(str(exc)) from None

    return run


def execute(apply: Apply[Reply], req: Request) -> Reply:
    """Run the command ``req["cmd"]`` through ``apply`` (the node's, or ``local_apply``)."""
    name = req.get("cmd")
    command = COMMANDS.get(name) if isinstance(name, str) else None
    if command is None:
        raise CommandError(f"unknown command {name!r:.40}")
    reply = apply(_guarded(lambda r: command.run(r, req)))
    after = command.after
    if after is not None:
        reply = apply(_guarded(lambda r: after(r, req, reply)))
    return reply


async def on_node(node: Node, req: Request) -> Reply:
    """Run a library command on the running node: a write commits and syncs like the window's;
    ``devices`` learns from the node which peers are online and when each was last in sync."""
    if req.get("cmd") == "devices":
        req = {**req, "peers": node.status()["peers"], "running": True}
    return execute(node.apply, req)


__all__ = ["COMMANDS", "Command", "CommandError", "execute", "on_node", "pick"]
