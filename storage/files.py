"""Plain files: import ``.ics`` calendars and Markdown notes, export the library to a folder.

Every file is imported in one ``replica.transaction()``: all of it or none of it. A file that
cannot be used (malformed, binary, not UTF-8, vanished, not a regular file) gets a
clear message in the ``ImportReport`` and changes nothing. Only fields that differ from the
library are written, so importing the same file twice writes nothing the second time, and a
note body is replaced by the smallest text edit, so it merges with concurrent typing.

Imports can be re-run: what a file holds is matched to what an earlier import of it wrote, so
a second import, or the re-run of one a crash cut off, adds no copies. A note is matched by its
front-matter ``id``, else by the file's absolute path (``source_key``): the file stands for one
note, as a mirror file does, so editing it and importing it again updates that note (fields the
file does not state, such as tags set in the app, stay as they are). An event is matched by its
UID (an override by UID and RECURRENCE-ID), which its entity id is derived from, and written
through ``localfirst.calendar.save_event``, so a bookable calendar books it as the window would.

``Folder`` is the one way this package touches a folder it writes to (export, the mirror):
names are single checked components resolved against a directory handle opened once, symbolic
links are never followed (``O_NOFOLLOW``; a link in the way is replaced, never written
through), and every file is written to a temporary name and renamed over the old one.
"""

from __future__ import annotations

import errno
import hashlib
import logging
import os
import secrets
import stat
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from localfirst import Replica, ReplicaError, UnknownEntity, new_id
from localfirst import notes as note_services
from localfirst.calendar import new_calendar_fields, save_event
from localfirst.crdtmap import SET_FIELDS
from localfirst.filemerge import changed_fields, merge_set, merge_text
from localfirst.ics import (
    OVERRIDE_FIELDS,
    IcsCalendar,
    IcsError,
    IcsEvent,
    calendar_of,
    parse_ics,
    render_ics,
)
from localfirst.markdown import MarkdownError, ParsedNote, parse_note, render_note
from localfirst.notes import display_name
from localfirst.safe_names import assign_names, is_safe_name
from localfirst.write import Value

from .salvage import Records, read_records
from .store import SqlStore

log = logging.getLogger(__name__)

#: No size limit of its own: a file is read whole, so the limit is memory (a 38,000-event
#: export is 11 MB, and anything the app exports it must import). ``read_bytes`` takes one.
MAX_FILE_BYTES: int | None = None
NOTE_SUFFIXES = (".md", ".markdown")
CALENDAR_SUFFIXES = (".ics",)
#: The calendar file holding events whose calendar is missing.
UNFILED = "Unfiled events"
#: What an import's edits are called (the Edit menu's undo names it).
IMPORT = "Import"
#: What an edit made in the mirror folder is called.
MIRRORED = "Edit in the mirror folder"

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)  # a FIFO planted in a folder must not hang a read
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_BINARY = getattr(os, "O_BINARY", 0)
_DIRECTORY = getattr(os, "O_DIRECTORY", 0)
_DIR_FD = os.open in os.supports_dir_fd and os.replace in os.supports_dir_fd


_GONE = object()


class PlainFileError(ValueError):
    """A file cannot be imported or written; the message is meant for the user."""


# -- reading one file -----------------------------------------------------------------------------


def _describe_open_error(exc: OSError) -> str:
    if isinstance(exc, FileNotFoundError):
        return "the file vanished before it could be read"
    if exc.errno == errno.ELOOP:
        return "is a symbolic link; links are not followed"
    if isinstance(exc, PermissionError):
        return "permission denied"
    if isinstance(exc, IsADirectoryError):
        return "is a folder, not a file"
    return f"cannot be opened ({exc.strerror or exc})"


def read_bytes(
    name: str | Path, *, dir_fd: int | None = None, follow: bool = False, limit: int | None = MAX_FILE_BYTES
) -> bytes:
    """A regular file's bytes, refusing links (unless ``follow``), FIFOs, devices and files
    over ``limit`` bytes (None: no limit)."""
    flags = os.O_RDONLY | _NONBLOCK | _CLOEXEC | _BINARY | (0 if follow else _NOFOLLOW)
    try:
        fd = os.open(name, flags, dir_fd=dir_fd) if dir_fd is not None else os.open(name, flags)
    except OSError as exc:
        raise PlainFileError(_describe_open_error(exc)) from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise PlainFileError("is not a regular file")
        if limit is not None and info.st_size > limit:
            raise PlainFileError(
                f"is too large ({info.st_size / 1e6:.1f} MB; the limit is {limit / 1e6:.0f} MB)"
            )
        chunks: list[bytes] = []
        size = 0
        while limit is None or size <= limit:
            chunk = os.read(fd, 1 << 20 if limit is None else min(1 << 20, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if limit is not None and size > limit:
            raise PlainFileError(f"is too large (over {limit / 1e6:.0f} MB)")
        return b"".join(chunks)
    except OSError as exc:
        raise PlainFileError(f"cannot be read ({exc.strerror or exc})") from None
    finally:
        os.close(fd)


def decode_text(data: bytes) -> str:
    """The text of a file's bytes; binary or non-UTF-8 content is refused."""
    if b"\x00" in data:
        raise PlainFileError("is a binary file (it contains NUL bytes), not text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise PlainFileError(f"is not UTF-8 text (bad byte at offset {exc.start})") from None


# -- a folder we write into -------------------------------------------------------------------------


def _check_name(name: str) -> None:
    if not name or name in (".", "..") or "/" in name or "\\" in name or "\x00" in name or os.sep in name:
        raise PlainFileError(f"{name!r:.80} is not a plain file name")


class Folder:
    """A directory opened once; every operation stays inside it and never follows a link."""

    def __init__(self, path: Path | str, *, create: bool = False) -> None:
        path = Path(path)
        if create:
            path.mkdir(parents=True, exist_ok=True)
        try:
            self.path = path.resolve(strict=True)
        except OSError as exc:
            raise PlainFileError(f"{path}: {_describe_open_error(exc)}") from None
        if not self.path.is_dir():
            raise PlainFileError(f"{path} is not a folder")
        self._fd: int | None = None
        if _DIR_FD:
            try:
                self._fd = os.open(self.path, os.O_RDONLY | _DIRECTORY | _NOFOLLOW | _CLOEXEC)
            except OSError as exc:
                raise PlainFileError(f"{path}: {_describe_open_error(exc)}") from None

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> Folder:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _target(self, name: str) -> str:
        _check_name(name)
        return name if self._fd is not None else str(self.path / name)

    def names(self) -> list[str]:
        """The names in the folder (any kind of entry)."""
        try:
            return sorted(os.listdir(self._fd if self._fd is not None else self.path))
        except OSError as exc:
            raise PlainFileError(f"{self.path}: cannot list ({exc.strerror or exc})") from None

    def lstat(self, name: str) -> os.stat_result | None:
        """The entry's own status (a link is not followed); None if there is none."""
        try:
            return os.stat(self._target(name), dir_fd=self._fd, follow_symlinks=False)
        except FileNotFoundError:
            return None

    def read(self, name: str, limit: int | None = MAX_FILE_BYTES) -> bytes:
        return read_bytes(self._target(name), dir_fd=self._fd, limit=limit)

    def child(self, name: str) -> Folder:
        """The sub-folder ``name`` (made if missing); refused if it is a link or not a folder."""
        _check_name(name)
        info = self.lstat(name)
        if info is None:
            try:
                os.mkdir(self._target(name), 0o700, dir_fd=self._fd)
            except FileExistsError:
                pass
            except OSError as exc:
                raise PlainFileError(f"{name}: cannot be made ({exc.strerror or exc})") from None
            info = self.lstat(name)
        if info is None or not stat.S_ISDIR(info.st_mode):
            raise PlainFileError(f"{name} is not a folder (or is a link)")
        return Folder(self.path / name)

    def write(
        self, name: str, data: bytes, *, existing: bool = False, check: Callable[[], bool] | None = None
    ) -> os.stat_result | None:
        """Replace the file ``name`` with ``data`` atomically (temp file, fsync, rename); returns
        the new file's status.

        A name is one this package makes (``safe_names``) unless ``existing``: writing back in
        place a file another program made, whatever its (single, plain) name, keeping its mode.
        ``check`` is asked last, just before the rename (once the data is on disk): if it says
        no, nothing is replaced and None is returned, so another program's save landing while
        the data was written is never overwritten unseen.
        """
        if not existing and not is_safe_name(name) and not name.startswith(".localfirst"):
            raise PlainFileError(f"{name!r:.80} is not a safe file name")
        target = self._target(name)
        old = self.lstat(name) if existing else None
        mode = stat.S_IMODE(old.st_mode) if old is not None and stat.S_ISREG(old.st_mode) else 0o644
        temp = self._target(f".{name[:150]}.{secrets.token_hex(4)}.lf-tmp")
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _CLOEXEC | _BINARY
        try:
            fd = os.open(temp, flags, 0o600, dir_fd=self._fd)
        except OSError as exc:
            raise PlainFileError(f"{name}: cannot be written ({exc.strerror or exc})") from None
        try:
            try:
                if hasattr(os, "fchmod"):  # not on Windows before Python 3.13
                    os.fchmod(fd, mode)
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view) :]
                os.fsync(fd)
            finally:
                os.close(fd)
            if check is not None and not check():
                os.unlink(temp, dir_fd=self._fd)
                return None
            # rename replaces whatever entry ``name`` is (a planted link too), never its target
            os.replace(temp, target, src_dir_fd=self._fd, dst_dir_fd=self._fd)
            return os.stat(target, dir_fd=self._fd, follow_symlinks=False)
        except OSError as exc:
            try:
                os.unlink(temp, dir_fd=self._fd)
            except OSError:
                pass
            raise PlainFileError(f"{name}: cannot be written ({exc.strerror or exc})") from None

    def remove(self, name: str) -> bool:
        """Remove the entry (a link itself, never its target); False if it was not there."""
        try:
            os.unlink(self._target(name), dir_fd=self._fd)
        except FileNotFoundError:
            return False
        except OSError as exc:
            raise PlainFileError(f"{name}: cannot be removed ({exc.strerror or exc})") from None
        return True


# -- from files into the replica ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FileProblem:
    path: Path
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


@dataclass(slots=True)
class ImportReport:
    """What an import did: per file, the entities it wrote, or why nothing of it was used."""

    imported: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    calendars: list[str] = field(default_factory=list)
    events: list[str] = field(default_factory=list)
    errors: list[FileProblem] = field(default_factory=list)
    warnings: list[FileProblem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def messages(self) -> list[str]:
        """Lines for the user: errors first, then warnings."""
        return [f"error: {p}" for p in self.errors] + [f"warning: {p}" for p in self.warnings]


def source_key(path: Path | str) -> str:
    """The stable key of a file: a note (or calendar) the file does not name gets this id.

    Derived from the file's absolute path, so importing the same file again, or re-running an
    import a crash cut off, finds what the earlier run wrote instead of adding a copy.
    """
    where = os.path.normcase(os.path.abspath(path))
    return "file-" + hashlib.sha256(where.encode("utf-8", "surrogateescape")).hexdigest()[:32]


def _current(replica: Replica, kind: str, entity: str) -> dict[str, Value] | None:
    """The entity's values, None if it does not exist; refuse an entity of another kind."""
    doc = replica.get(entity)
    if doc is not None and doc.kind != kind:
        raise PlainFileError(f"id {entity!r:.80} belongs to a {doc.kind}, not a {kind}")
    try:
        return replica.values(entity)
    except UnknownEntity:
        return None


def _changed(current: Mapping[str, Value] | None, fields: Mapping[str, Value]) -> dict[str, Value]:
    fields = _unset_empty(current, fields)
    if current is None:
        return dict(fields)
    return {k: v for k, v in fields.items() if k not in current or current[k] != v}


def _unset_empty(current: Mapping[str, Value] | None, fields: Mapping[str, Value]) -> dict[str, Value]:
    """A file holding no lines of other programs (``extra: []``) leaves an entity that never had
    any as it is, so an app-made library exports and imports back to identical entities."""
    if fields.get("extra") == [] and (current is None or "extra" not in current):
        return {k: v for k, v in fields.items() if k != "extra"}
    return dict(fields)


def apply_note(
    replica: Replica, parsed: ParsedNote, *, entity: str | None = None, touch: bool = False
) -> tuple[str, bool]:
    """Write a parsed note (the caller holds a transaction); (its id, whether anything changed).

    Only changed fields are written; the body becomes the smallest text edit; fields the file
    does not state keep an existing note's values. ``touch`` sets ``modified`` to now when
    something changed (an edit made outside the app).
    """
    entity = parsed.id or entity or new_id()
    current = _current(replica, "note", entity)
    fields = dict(parsed.fields)
    now = replica.clock.now()
    if current is None:
        fields.setdefault("created", now)
        fields.setdefault("modified", now)
    else:
        fields = {k: v for k, v in fields.items() if k not in parsed.defaulted}
    changes = _changed(current, fields)
    body_changed = (current or {}).get("body", "") != parsed.body
    if touch and (changes or body_changed) and "modified" not in changes:
        changes["modified"] = now
    if body_changed:
        changes["body"] = parsed.body
    if not changes and current is not None:
        return entity, False
    replica.put("note", entity, changes)
    return entity, True


def _calendar_of(replica: Replica, cal: IcsCalendar) -> str | None:
    for ev in cal.events:
        doc = replica.get(ev.id)
        if doc is not None and doc.exists and doc.kind == "event":
            found = doc.value("calendar")
            calendar = replica.get(found) if isinstance(found, str) else None
            if calendar is not None and calendar.exists and calendar.kind == "calendar":
                return str(found)
    return None


def _held_event(replica: Replica, entity: str) -> dict[str, Value] | None:
    """The fields event ``entity`` holds now (None: none, or deleted); an id that names
    something else is refused."""
    doc = replica.get(entity)
    if doc is not None and doc.kind != "event":
        raise PlainFileError(f"id {entity!r:.80} belongs to a {doc.kind}, not an event")
    return doc.values() if doc is not None and doc.exists else None


def _event_target(
    replica: Replica, ev: IcsEvent, cal_id: str
) -> tuple[dict[str, Value] | None, dict[str, Value]]:
    """What event ``ev`` holds now (None: nothing), and all it should hold after the import."""
    now = _held_event(replica, ev.id)
    values = {**_unset_empty(now, ev.fields), "calendar": cal_id}
    if now is not None and "series" in ev.fields and not ev.fields.get("cancelled"):
        # An occurrence's field no longer overridden goes back to the series' value.
        for name in (*OVERRIDE_FIELDS, "cancelled"):
            if name in now and name not in values and name in ev.full:
                values[name] = ev.full[name]
    return now, {**(now or {}), **values}


def apply_calendar(
    replica: Replica,
    cal: IcsCalendar,
    *,
    fallback_name: str = "",
    calendar: str | None = None,
    source: str | None = None,
    prune: bool = False,
) -> tuple[str, list[str]]:
    """Write a parsed calendar and its events (the caller holds a transaction).

    The calendar is ``calendar`` if given, else the one the file names (``X-WR-RELCALID``),
    else the one its events already belong to, else ``source`` (the file's key), else a new
    one. Events are matched by UID (and RECURRENCE-ID for an occurrence): the entity id is
    derived from them. Every event goes through ``calendar.save_event``, so a bookable calendar
    books it (same arbitration as the window). ``prune`` deletes the calendar's events the
    file no longer holds (the mirror: the file is the calendar). Returns (calendar id, events
    written).
    """
    cal_id = calendar or cal.id or _calendar_of(replica, cal) or source or new_id()
    current = _current(replica, "calendar", cal_id)
    fields = dict(cal.fields)
    if "name" not in fields and current is None:
        fields["name"] = fallback_name
    if current is None:  # a new calendar: a distinct colour from the palette unless the file has one
        fields = new_calendar_fields(replica, fields)
    if changes := _changed(current, fields):
        replica.put("calendar", cal_id, changes)
    written: list[str] = []
    for ev in cal.events:
        now, target = _event_target(replica, ev, cal_id)
        if target != now and save_event(replica, ev.id, target, label=IMPORT).changed:
            written.append(ev.id)
    if prune:
        keep = {ev.id for ev in cal.events}
        for key, doc in replica.entities("event").items():
            if key not in keep and doc.value("calendar") == cal_id:
                save_event(replica, key, None, label=IMPORT)
    return cal_id, written


# -- three-way: what a file changed since its base, onto what the library holds now -------------------


def merge_note(replica: Replica, entity: str, base: ParsedNote, parsed: ParsedNote) -> bool:
    """Apply what a note's file changed since ``base`` (the caller holds a transaction, and
    ``replica.as_of`` the base's position, so a field the library changed since as well is
    kept as siblings). Tags merge as a set, the body line by line (``filemerge``); fields the
    file did not change keep the library's values. Returns whether anything was written."""
    doc = replica.get(entity)
    if doc is not None and doc.kind != "note":
        raise PlainFileError(f"id {entity!r:.80} belongs to a {doc.kind}, not a note")
    now = doc.values() if doc is not None else {}
    base_fields = {k: v for k, v in base.fields.items() if k not in base.defaulted}
    changes = changed_fields(base_fields, parsed.fields, parsed.defaulted)
    if "tags" in changes and isinstance(changes["tags"], list):
        old, lib = base_fields.get("tags", []), now.get("tags", [])
        changes["tags"] = merge_set(
            old if isinstance(old, list) else [], changes["tags"], lib if isinstance(lib, list) else []
        )
    changes = {k: v for k, v in changes.items() if now.get(k, _GONE) != v}
    body = merge_text(base.body, parsed.body, replica.text(entity))
    if body != replica.text(entity):
        changes["body"] = body
    if not changes:
        return False
    if doc is not None and doc.exists:
        note_services.set_fields(replica, entity, changes, label=MIRRORED)  # the core's door, as the window
    else:  # deleted meanwhile: the edit is kept beside the delete (as_of), for the user to see
        changes.setdefault("modified", replica.clock.now())
        replica.put("note", entity, changes)
    return True


def _event_changes(
    replica: Replica, was: IcsEvent, ev: IcsEvent
) -> tuple[dict[str, Value] | None, dict[str, Value]]:
    """What event ``ev`` holds now (None: nothing) and the fields its file changed since ``was``."""
    now = _held_event(replica, ev.id)
    diff = changed_fields(was.fields, ev.fields)
    if "series" in ev.fields and not ev.fields.get("cancelled"):
        # An occurrence's field no longer overridden goes back to the series' value.
        for name in (*OVERRIDE_FIELDS, "cancelled"):
            if name in was.fields and name not in ev.fields and name in ev.full:
                diff[name] = ev.full[name]
    for name in SET_FIELDS["event"] & diff.keys():
        old, new, lib = was.fields.get(name), diff[name], (now or {}).get(name)
        if isinstance(new, list):
            diff[name] = merge_set(
                old if isinstance(old, list) else [], new, lib if isinstance(lib, list) else []
            )
    return now, diff


def merge_calendar(replica: Replica, calendar: str, base: IcsCalendar, cal: IcsCalendar) -> list[str]:
    """Apply what a calendar's file changed since ``base`` (see ``merge_note``): its fields, the
    events it added, changed or removed. An event the library gained since the base (from the
    app, or another device) is not in either file and stays. Returns the events written."""
    current = _current(replica, "calendar", calendar) or {}
    changes = {k: v for k, v in changed_fields(base.fields, cal.fields).items() if current.get(k, _GONE) != v}
    if changes:
        replica.put("calendar", calendar, changes)
    old = {ev.id: ev for ev in base.events}
    written: list[str] = []
    for ev in cal.events:
        was = old.pop(ev.id, None)
        if was is None:
            now, target = _event_target(replica, ev, calendar)
        else:
            now, diff = _event_changes(replica, was, ev)
            target = {**(now or ev.fields), **diff, "calendar": calendar}
        if target != now and save_event(replica, ev.id, target, label=IMPORT).changed:
            written.append(ev.id)
    for gone in old:
        doc = replica.get(gone)
        if doc is not None and doc.exists and doc.kind == "event":
            save_event(replica, gone, None, label=IMPORT)
            written.append(gone)
    return written


def import_text(
    replica: Replica,
    text: str,
    suffix: str,
    stem: str,
    report: ImportReport,
    path: Path,
    *,
    calendar: str | None = None,
) -> None:
    """Import one file's text, all or nothing; problems go to ``report``.

    ``path`` gives the file's key (``source_key``): a note without a front-matter id, or a
    calendar that names no id and has no known events, is matched by it. ``calendar`` puts the
    events of an ``.ics`` into that calendar instead of the one the file describes.
    """
    try:
        if suffix in CALENDAR_SUFFIXES:
            _import_calendars(replica, parse_ics(text), stem, report, path, calendar)
        else:
            parsed = parse_note(text, stem)
            with replica.transaction():
                note, _ = apply_note(replica, parsed, entity=source_key(path), touch=True)
            report.notes.append(note)
    except (IcsError, MarkdownError, PlainFileError) as exc:
        report.errors.append(FileProblem(path, f"{exc}; nothing was imported from it"))
        return
    except (ReplicaError, ValueError) as exc:
        report.errors.append(FileProblem(path, f"cannot be imported ({exc}); nothing was imported from it"))
        return
    report.imported.append(path)


def _import_calendars(
    replica: Replica, cal: IcsCalendar, stem: str, report: ImportReport, path: Path, calendar: str | None
) -> None:
    """A file's calendars, all or nothing: each VCALENDAR in it is a calendar of its own."""
    found = [cal, *cal.others]
    if calendar is not None:
        # Into a calendar the user chose: its name, colour and kind stay the user's.
        for item in found:
            if item.fields.get("extra"):
                what = "the file's calendar-level lines (to-dos, journals, ...) were not imported"
                report.warnings.append(FileProblem(path, what))
        found = [replace(item, fields={}) for item in found]
    with replica.transaction():
        for index, item in enumerate(found):
            source = source_key(path) + (f"-{index + 1}" if index else "")
            name = stem if not index else f"{stem} ({index + 1})"
            cal_id, events = apply_calendar(
                replica, item, fallback_name=name, calendar=calendar, source=source
            )
            report.calendars.append(cal_id)
            report.events.extend(events)
            report.warnings.extend(FileProblem(path, w) for w in item.warnings)


def import_files(
    replica: Replica, paths: Iterable[Path | str], *, calendar: str | None = None
) -> ImportReport:
    """Import ``.ics`` calendars and Markdown notes; each file all or nothing, safe to re-run.

    Paths the user names are read even through a symbolic link (the mirror never follows
    one); each must be a regular file (of any size: the limit is memory). Importing a file again
    (or re-running an import a crash cut off) updates what the first run wrote and writes
    nothing when nothing changed: notes are matched by their front-matter ``id``, else by the
    file's path (``source_key``); events by UID and RECURRENCE-ID. ``calendar`` (an existing
    calendar's id) receives the events of every ``.ics`` instead of the calendars they name.
    """
    report = ImportReport()
    if calendar is not None and _current(replica, "calendar", calendar) is None:
        report.errors.append(FileProblem(Path(calendar), "no such calendar; nothing was imported"))
        return report
    for item in paths:
        path = Path(item)
        suffix = path.suffix.lower()
        if suffix not in NOTE_SUFFIXES + CALENDAR_SUFFIXES:
            report.errors.append(FileProblem(path, "is neither an .ics calendar nor a .md note; skipped"))
            continue
        try:
            text = decode_text(read_bytes(path, follow=True))
        except PlainFileError as exc:
            report.errors.append(FileProblem(path, f"{exc}; nothing was imported from it"))
            continue
        import_text(replica, text, suffix, path.stem, report, path.resolve(), calendar=calendar)
    return report


# -- from the replica into files ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Rendered:
    """One file of the library: which entity (a note or a calendar) and its bytes."""

    entity: str
    kind: str
    name: str
    data: bytes


def note_names(replica: Replica, previous: Mapping[str, str] | None = None) -> dict[str, str]:
    """File names of the notes: from the title, else from the body's first line (as the list
    shows the note), so an untitled note is not named ``untitled (hash).md``."""
    notes = replica.entities("note")
    items = []
    for key, doc in notes.items():
        items.append((key, _note_title({"title": doc.value("title", ""), "body": replica.text(key)})))
    return assign_names(items, ".md", previous)


def calendar_names(replica: Replica, previous: Mapping[str, str] | None = None) -> dict[str, str]:
    cals = replica.entities("calendar")
    items = [(key, str(doc.value("name", "") or "")) for key, doc in cals.items()]
    return assign_names(items, ".ics", previous)


def render_note_file(replica: Replica, entity: str, name: str) -> Rendered:
    return Rendered(entity, "note", name, render_note(entity, replica.values(entity)).encode("utf-8"))


def render_calendars(
    replica: Replica, names: Mapping[str, str], only: Iterable[str] | None = None
) -> tuple[list[Rendered], list[str]]:
    """The calendars' files (all, or those in ``only``) and warnings about what was left out."""
    cals = replica.entities("calendar")
    wanted = set(cals if only is None else only) & set(cals)
    if not wanted:
        return [], []  # not a look at the events: a library may hold tens of thousands
    by_cal: dict[str, dict[str, Mapping[str, Value]]] = {key: {} for key in wanted}
    events = {key: doc.values() for key, doc in replica.entities("event").items()}
    for key, values in events.items():
        owner = calendar_of(values, events)
        if isinstance(owner, str) and owner in by_cal:
            by_cal[owner][key] = values
    out: list[Rendered] = []
    notes: list[str] = []
    for key in sorted(wanted):
        text, warnings = render_ics(key, cals[key].values(), by_cal[key])
        out.append(Rendered(key, "calendar", names[key], text.encode("utf-8")))
        notes += [f"{names[key]}: {w}" for w in warnings]
    return out, notes


def unfiled_events(replica: Replica) -> dict[str, Mapping[str, Value]]:
    cals = replica.entities("calendar")
    events = {key: doc.values() for key, doc in replica.entities("event").items()}
    return _unfiled(cals, events)


def _unfiled(
    cals: Collection[str], events: Mapping[str, Mapping[str, Value]]
) -> dict[str, Mapping[str, Value]]:
    out: dict[str, Mapping[str, Value]] = {}
    for key, values in events.items():
        owner = calendar_of(values, events)
        if not (isinstance(owner, str) and owner in cals):
            out[key] = values
    return out


def library_file(replica: Replica) -> Path | None:
    """The file a replica is stored in, to read a damaged one record by record (None: memory)."""
    store = getattr(replica, "_store", None)
    return store.path if isinstance(store, SqlStore) else None


def records_of(replica: Replica) -> Records:
    """The replica's live notes (with their text), calendars and events."""
    out = Records()
    out.notes = {key: replica.values(key) for key in replica.entities("note")}
    out.calendars = {key: doc.values() for key, doc in replica.entities("calendar").items()}
    out.events = {key: doc.values() for key, doc in replica.entities("event").items()}
    return out


def _note_title(values: Mapping[str, object]) -> str:
    """What names a note's file: its title, else its body's first line (as the list shows it)."""
    body = values.get("body")
    return display_name(values.get("title"), body if isinstance(body, str) else "")[:200]


def render_records(records: Records) -> tuple[list[Rendered], list[str]]:
    """Every file of these records, and what could not be rendered or was left out of one."""
    notes_out: list[str] = []
    files: list[Rendered] = []
    names = assign_names(((k, _note_title(v)) for k, v in records.notes.items()), ".md")
    for key, name in sorted(names.items()):
        try:
            files.append(Rendered(key, "note", name, render_note(key, records.notes[key]).encode("utf-8")))
        except (ValueError, TypeError) as exc:
            notes_out.append(f"note {key}: cannot be written as a file ({exc}); left out")
    cals = records.calendars
    cal_names = assign_names(((k, str(v.get("name", "") or "")) for k, v in cals.items()), ".ics")
    by_cal: dict[str, dict[str, Mapping[str, Value]]] = {key: {} for key in cals}
    for key, values in records.events.items():
        owner = calendar_of(values, records.events)
        if isinstance(owner, str) and owner in by_cal:
            by_cal[owner][key] = values
    groups: list[tuple[str | None, Mapping[str, Value], dict[str, Mapping[str, Value]], str]] = [
        (key, cals[key], by_cal[key], cal_names[key]) for key in sorted(cals)
    ]
    if loose := _unfiled(cals, records.events):
        taken = {n.casefold() for n in cal_names.values()}
        name = (
            f"{UNFILED}.ics"
            if f"{UNFILED}.ics".casefold() not in taken
            else f"{UNFILED} ({new_id()[:8]}).ics"
        )
        groups.append((None, {"name": UNFILED}, loose, name))
    for cal_key, cal_values, cal_events, file_name in groups:
        try:
            text, warnings = render_ics(cal_key, cal_values, cal_events)
        except (ValueError, TypeError) as exc:
            notes_out.append(f"calendar {cal_key or UNFILED}: cannot be written as a file ({exc}); left out")
            continue
        files.append(Rendered(cal_key or "", "calendar", file_name, text.encode("utf-8")))
        notes_out += [f"{file_name}: {w}" for w in warnings]
    return files, notes_out


def write_files(files: Iterable[Rendered], directory: Path | str) -> list[Path]:
    """Write rendered files into ``directory`` (made if missing); returns their paths."""
    written: list[Path] = []
    with Folder(directory, create=True) as folder:
        for item in files:
            folder.write(item.name, item.data)
            written.append(folder.path / item.name)
    return written


def export_library(
    replica: Replica,
    directory: Path | str,
    warnings: list[str] | None = None,
    *,
    problems: list[str] | None = None,
) -> list[Path]:
    """Write every note as ``<title>.md`` and every calendar as ``<name>.ics`` into ``directory``.

    File names come from titles through ``safe_names`` (never a path outside the folder).
    Events whose calendar is missing go to ``Unfiled events.ics``. Returns the files written.
    A library with a record that cannot be read is exported record by record from its file
    (``storage.salvage``): everything else is written, and ``problems`` names each record
    left out or saved only in part (for the caller to show; they are not logged).
    """
    notes_out = warnings if warnings is not None else []
    unreadable = problems if problems is not None else []
    try:
        records = records_of(replica)
    except (ReplicaError, ValueError):
        path = library_file(replica)
        if path is None:
            raise
        records = read_records(path)
    unreadable += records.problems
    files, notes = render_records(records)
    notes_out += notes
    written = write_files(files, directory)
    for line in notes_out:
        log.warning("export: %s", line)
    return written
