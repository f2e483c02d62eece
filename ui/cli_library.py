"""Command-line doors to the library for scripts: devices, conflicts, notes, calendars, events.

Each command becomes one request for ``sync.library_commands``; the running node runs it, or
(no node runs) this process runs the same function on the library under the folder's lock.
Output is a short table for people, or with ``--json`` the reply itself, whose keys are listed
in each command's ``--help``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

#: The keys of each reply, shown in ``--help`` (the ``--json`` output is exactly the reply).
DEVICE_KEYS = "devices: [{id, name, this, revoked, online, last_seen (ISO or null)}], running"
CONFLICT_KEYS = (
    "conflicts: [{id, kind, title, exists, deleted_with_edits, "
    "fields: {FIELD: [{value, device, device_name, stamp}]}}]"
)
NOTE_KEYS = "id, title, body, tags, pinned, created, modified (ISO, UTC), conflicts"
EVENT_KEYS = (
    "id, title, calendar, calendar_name, start, end (wall-clock time in tz), all_day, tz, rrule, "
    "location, description, booking (booked|tentative|conflict|null), slot ([start, end] or null)"
)
OCCURRENCE_KEYS = "id, occurrence, title, calendar, start, end, all_day, recurring, booking, slot"

GROUPS = {
    "note": ("add", "show", "list", "edit", "delete"),
    "event": ("add", "show", "list", "edit", "delete"),
    "calendar": ("add", "list"),
}
NAMES = ("devices", "rename", "revoke", "conflicts", "resolve", *GROUPS)


def _parser(subparsers: Any, name: str, help_text: str, keys: str, **kw: Any) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        name,
        help=help_text,
        description=help_text,
        epilog=f"--json prints one object: {keys}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        **kw,
    )
    parser.add_argument("--json", action="store_true", help="print the reply as JSON")
    return parser


def add_commands(subparsers: Any) -> None:
    """Add the library commands to the ``localfirst`` parser's subcommands."""
    _parser(subparsers, "devices", "list the library's devices: name, id, online, last seen", DEVICE_KEYS)
    p = _parser(subparsers, "rename", "rename a device (this one unless DEVICE is given)", "id, name")
    p.add_argument("device", nargs="?", metavar="DEVICE", help="id prefix or name (default: this device)")
    p.add_argument("name", metavar="NAME")
    p = _parser(subparsers, "revoke", "revoke a device: it is cut off from every member", "id, name, revoked")
    p.add_argument("device", metavar="DEVICE", help="a unique id prefix or a unique name")
    _parser(subparsers, "conflicts", "list conflicts: each field's values side by side", CONFLICT_KEYS)
    p = _parser(
        subparsers,
        "resolve",
        "resolve a conflict: keep VALUE for FIELD, or settle a delete made while edited",
        "id, field, value, keep (deleted|restore|null), exists, conflicts (fields still in conflict)",
    )
    p.add_argument("id", metavar="ID", help="a unique id prefix of an entity in conflict")
    p.add_argument("field", nargs="?", metavar="FIELD")
    p.add_argument("value", nargs="?", metavar="VALUE", help="yes/no, a number, or tags as a,b,c")
    how = p.add_mutually_exclusive_group()
    how.add_argument("--keep-deleted", action="store_true", help="delete it everywhere")
    how.add_argument("--restore", action="store_true", help="keep it, with the edits")
    _notes(subparsers.add_parser("note", help="add, show, list, edit and delete notes"))
    _events(subparsers.add_parser("event", help="add, show, list, edit and delete events"))
    cals = subparsers.add_parser("calendar", help="add and list calendars").add_subparsers(
        dest="action", metavar="ACTION", required=True
    )
    p = _parser(cals, "add", "add a calendar", "id, name, colour, bookable")
    p.add_argument("name", metavar="NAME")
    p.add_argument("--colour", default=None, help="e.g. #3a87ad")
    p.add_argument("--bookable", action="store_true", help="events may not overlap (booked in turn)")
    _parser(cals, "list", "list calendars", "calendars: [{id, name, colour, bookable}]")


def _note_fields(p: argparse.ArgumentParser) -> None:
    body = p.add_mutually_exclusive_group()
    body.add_argument("--body", default=None)
    body.add_argument(
        "--body-file", type=Path, default=None, metavar="FILE", help="the body from FILE (- : stdin)"
    )
    p.add_argument("--tag", action="append", default=None, help="a tag (repeatable; edit: replaces the tags)")
    pin = p.add_mutually_exclusive_group()
    pin.add_argument("--pin", dest="pinned", action="store_const", const=True, default=None)
    pin.add_argument("--unpin", dest="pinned", action="store_const", const=False)


def _notes(parent: argparse.ArgumentParser) -> None:
    sub = parent.add_subparsers(dest="action", metavar="ACTION", required=True)
    p = _parser(sub, "add", "add a note", NOTE_KEYS)
    p.add_argument("--title", default="")
    _note_fields(p)
    p = _parser(sub, "show", "show a note", NOTE_KEYS)
    p.add_argument("id", metavar="ID", help="a unique id prefix")
    p = _parser(
        sub, "list", "list notes, pinned first, newest first", "notes: [{id, title, tags, pinned, modified}]"
    )
    p.add_argument("--tag", default=None, help="only notes with this tag")
    p = _parser(sub, "edit", "change a note's title, body, tags or pin", NOTE_KEYS)
    p.add_argument("id", metavar="ID")
    p.add_argument("--title", default=None)
    _note_fields(p)
    p = _parser(sub, "delete", "delete a note (on every device)", "id, deleted")
    p.add_argument("id", metavar="ID")


def _event_fields(p: argparse.ArgumentParser, new: bool) -> None:
    p.add_argument("--title", required=new, default=None)
    p.add_argument("--start", required=new, default=None, metavar="ISO", help="date or date-time")
    p.add_argument("--end", default=None, metavar="ISO", help="default: an hour (a day) after the start")
    p.add_argument("--calendar", default=None, metavar="NAME_OR_ID")
    p.add_argument("--rrule", default=None, metavar="RULE", help="e.g. FREQ=WEEKLY;BYDAY=MO")
    day = p.add_mutually_exclusive_group()
    day.add_argument("--all-day", dest="all_day", action="store_const", const=True, default=None)
    if not new:
        day.add_argument("--timed", dest="all_day", action="store_const", const=False)
    p.add_argument("--location", default=None)
    p.add_argument("--description", default=None)
    _tz(p)


def _tz(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--tz",
        default=None,
        metavar="ZONE",
        help="IANA zone of times without an offset (default: this machine's)",
    )


def _events(parent: argparse.ArgumentParser) -> None:
    sub = parent.add_subparsers(dest="action", metavar="ACTION", required=True)
    _event_fields(_parser(sub, "add", "add an event (booked if its calendar is bookable)", EVENT_KEYS), True)
    p = _parser(sub, "show", "show an event", EVENT_KEYS)
    p.add_argument("id", metavar="ID", help="a unique id prefix")
    _tz(p)
    p = _parser(
        sub,
        "list",
        "list events (with --from/--to: the occurrences in that window)",
        f"events: [{{{EVENT_KEYS}}}]; with a window events: [{{{OCCURRENCE_KEYS}}}]",
    )
    p.add_argument("--from", dest="start", default=None, metavar="ISO")
    p.add_argument("--to", dest="end", default=None, metavar="ISO")
    _tz(p)
    p = _parser(sub, "edit", "change an event (a series as a whole)", EVENT_KEYS)
    p.add_argument("id", metavar="ID")
    _event_fields(p, False)
    p = _parser(sub, "delete", "delete an event (a series with its occurrences)", "id, deleted")
    p.add_argument("id", metavar="ID")


# -- requests -----------------------------------------------------------------------------------


def local_zone() -> str | None:
    """This machine's IANA zone name (TZ, else /etc/localtime's target), or None for UTC."""
    name = os.environ.get("TZ", "").lstrip(":")
    if not name:
        try:
            target = os.readlink("/etc/localtime")
        except OSError:
            return None
        name = target.split("zoneinfo/", 1)[1] if "zoneinfo/" in target else ""
    return name or None


def _body(args: argparse.Namespace) -> str | None:
    from ui.cli import CliExit

    if args.body_file is None:
        return args.body  # type: ignore[no-any-return]
    try:
        return sys.stdin.read() if str(args.body_file) == "-" else args.body_file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CliExit(f"cannot read {args.body_file}: {exc}") from None


def _resolve_request(args: argparse.Namespace) -> dict[str, Any]:
    """``resolve``'s fields: one value for a field, or keep/restore a deleted entity."""
    from ui.cli import CliExit

    deleted = args.keep_deleted or args.restore
    if (deleted and args.field is not None) or (not deleted and args.value is None):
        raise CliExit("usage: resolve ID FIELD VALUE | resolve ID --keep-deleted | resolve ID --restore", 2)
    if deleted:
        return {"id": args.id, "keep": "deleted" if args.keep_deleted else "restore"}
    return {"id": args.id, "field": args.field, "value": args.value}


def request(command: str, args: argparse.Namespace) -> dict[str, Any]:
    """The request a parsed command line makes."""
    if command in GROUPS:
        command = f"{command}-{args.action}"
    req: dict[str, Any] = {"cmd": command}
    if command == "resolve":
        req.update(_resolve_request(args))
        return req
    for name in ("device", "name", "id", "title", "tag", "pinned", "colour", "bookable", "calendar", "rrule"):
        if getattr(args, name, None) is not None:
            req[name] = getattr(args, name)
    if command.startswith("note-") and hasattr(args, "body"):
        req["body"] = _body(args)
        if command == "note-add" or args.tag is not None:
            req["tags"] = req.pop("tag", None) or []
    for name in ("start", "end", "all_day", "location", "description"):
        if getattr(args, name, None) is not None:
            req["from" if command == "event-list" and name == "start" else name] = getattr(args, name)
    if command == "event-list" and "end" in req:
        req["to"] = req.pop("end")
    if command.startswith("event-") and command != "event-delete":
        req["tz"] = getattr(args, "tz", None) or (local_zone() if command != "event-edit" else None)
    return req


def run(command: str, data: Path, args: argparse.Namespace) -> int:
    """Run a library command through the running node, or on the library under the lock."""
    from ui import cli  # not at the top: ui.cli imports this module

    try:
        req = request(command, args)
        reply = _call(data, req)
    except cli.CliExit as exc:  # also when run as ``python -m ui.cli`` (a second copy of ui.cli)
        print(f"localfirst: {exc}", file=sys.stderr)
        return exc.status
    if args.json:
        print(json.dumps(reply))
    else:
        SHOW.get(req["cmd"], _show_object)(reply)
    return 0


def _call(data: Path, req: dict[str, Any]) -> dict[str, Any]:
    from sync.control import local_apply
    from sync.library_commands import CommandError, execute
    from ui.cli import CliExit, _through_door

    try:
        return _through_door(data, req, f"running {req['cmd']}", lambda r: execute(local_apply(r), req))
    except CommandError as exc:
        raise CliExit(str(exc)) from None


# -- printing for people --------------------------------------------------------------------------


def _show_object(reply: dict[str, Any]) -> None:
    for key, value in reply.items():
        if key != "body":
            print(f"{key:14} {value if not isinstance(value, list) else ', '.join(map(str, value))}")
    if reply.get("body"):
        print()
        print(reply["body"])


def _show_devices(reply: dict[str, Any]) -> None:
    for d in reply["devices"]:
        if d["this"]:
            where = "this device"
        else:
            where = "revoked" if d["revoked"] else ("online" if d["online"] else "offline")
        seen = f"last seen {d['last_seen']}" if d["last_seen"] else ""
        print(f"{d['id'][:12]}  {d['name'] or '-':20}  {where:12}  {seen}".rstrip())


def _show_conflicts(reply: dict[str, Any]) -> None:
    if not reply["conflicts"]:
        print("no conflicts")
    for c in reply["conflicts"]:
        print(f"{c['id'][:12]}  {c['kind']}  “{c['title']}”")
        for field, values in c["fields"].items():
            shown = "  |  ".join(f"{v['value']!r} ({v['device_name'] or v['device'][:8]})" for v in values)
            print(f"    {field}: {shown}")
        if c["deleted_with_edits"]:
            print("    deleted on one device while edited on another: --keep-deleted or --restore")


def _show_rows(key: str, columns: tuple[str, ...]) -> Callable[[dict[str, Any]], None]:
    def show(reply: dict[str, Any]) -> None:
        for row in reply[key]:
            cells = [_cell(row[c]) for c in columns]
            print("  ".join([row["id"][:12], *cells]))

    return show


def _cell(value: Any) -> str:
    if isinstance(value, list):
        return ",".join(map(str, value)) or "-"
    return "-" if value is None else str(value)


def _show_deleted(reply: dict[str, Any]) -> None:
    print(f"deleted {reply['id']}")


SHOW: dict[str, Callable[[dict[str, Any]], None]] = {
    "devices": _show_devices,
    "conflicts": _show_conflicts,
    "note-list": _show_rows("notes", ("title", "tags")),
    "event-list": _show_rows("events", ("start", "end", "title", "booking")),
    "calendar-list": _show_rows("calendars", ("name", "bookable")),
    "note-delete": _show_deleted,
    "event-delete": _show_deleted,
}
