"""The mirror folder: the library as plain files, kept in step both ways.

Each live note is ``<title>.md`` and each calendar ``<name>.ics`` in the folder the user chose.
The replica belongs to one thread (the node's, or the app's backend); everything that reads or
writes it runs there through ``submit(fn) -> Future``, so the mirror works the same in the window
and on a headless node (it lives in ``sync/`` for that: it runs threads and follows the node).
The owner calls ``on_change(changes)`` (or ``write_all()``) on that thread after writes, and the
files of the entities that changed are rewritten.

Edits other programs make are seen by a watchdog observer. Events only mark names dirty; after
a quiet moment (``debounce``) a worker thread hands the batch to the owner, which reads each
file, compares it with what was last written or read there (a SHA-256 per name, so our own
writes never echo back), parses it, and writes only what differs: changed fields, and a body
replaced by the smallest text edit, so it merges with concurrent edits from other devices. An
editor's "write a temp file, rename it over the original" arrives as one batch and is one edit.
New files become notes (or calendars); a deleted note file deletes its note.

Nothing a file or a synced title holds can make the mirror write outside the folder: names come
from ``safe_names``, every operation goes through ``files.Folder`` (a directory handle, no link
ever followed or written through). A file that cannot be used gets an entry in ``errors`` (for
the UI), nothing of it is applied, and the watcher keeps running. A small manifest
(``.localfirst-mirror.json``) remembers what was written, so edits and deletions made while the
app was closed are picked up on the next start.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import stat
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TypeVar

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

from localfirst import Changes, Replica, ReplicaError
from localfirst.ics import IcsError, parse_ics
from localfirst.markdown import MarkdownError, parse_note
from localfirst.safe_names import assign_names
from storage.files import (
    CALENDAR_SUFFIXES,
    NOTE_SUFFIXES,
    Folder,
    PlainFileError,
    apply_calendar,
    apply_note,
    decode_text,
    render_calendars,
    render_note_file,
)

log = logging.getLogger(__name__)

T = TypeVar("T")
#: Runs ``fn(replica)`` on the thread that owns the replica; the Future holds its result.
ReplicaAccess = Callable[[Callable[[Replica], Any]], "Future[Any]"]

MANIFEST = ".localfirst-mirror.json"
#: How many errors are kept for the UI (the oldest go first).
MAX_ERRORS = 200


@dataclass(frozen=True, slots=True)
class MirrorError:
    """Something the mirror could not do, for the UI to show."""

    name: str
    message: str
    at: float

    def __str__(self) -> str:
        return f"{self.name}: {self.message}" if self.name else self.message


@dataclass(slots=True)
class _Entry:
    """A file the mirror knows: whose it is and the hash of what was last written or read."""

    entity: str
    kind: str  # "note" or "calendar"
    sha: str


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def is_candidate(name: str) -> bool:
    """Names the mirror reads: notes and calendars, not hidden or editors' backup files."""
    lower = name.lower()
    return (
        bool(name)
        and not name.startswith(".")
        and not name.endswith("~")
        and lower.endswith(NOTE_SUFFIXES + CALENDAR_SUFFIXES)
    )


class _Handler(FileSystemEventHandler):
    def __init__(self, mirror: Mirror, folder: str) -> None:
        self._mirror = mirror
        self._folder = folder

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.is_directory or event.event_type in ("opened", "closed_no_write"):
            return
        names: set[str] = set()
        for raw in (event.src_path, getattr(event, "dest_path", "")):
            path = os.fsdecode(raw)
            if path and os.path.dirname(path) == self._folder:
                name = os.path.basename(path)
                if is_candidate(name):
                    names.add(name)
        if names:
            self._mirror._mark(names)


class Mirror:
    """Two-way mirror of a replica's notes and calendars in ``folder``.

    ``access(fn)`` runs ``fn(replica)`` on the replica's owner thread and returns a Future; the
    replica is touched only there (``on_change`` and ``write_all`` are called by the owner on its
    thread). ``on_write`` (optional) is called on the owner thread with the entities an
    external edit changed, so the app can refresh its views and push the new writes to peers.
    """

    def __init__(
        self,
        access: ReplicaAccess,
        folder: Path | str,
        *,
        debounce: float = 0.2,
        max_delay: float = 2.0,
        on_write: Callable[[set[str]], None] | None = None,
    ) -> None:
        self._access = access
        self._replica: Replica | None = None  # set on the owner thread, used only there
        self._manifest_sha = ""
        self._path = Path(folder)
        self.debounce = debounce
        self.max_delay = max_delay
        self._on_write = on_write
        self._folder: Folder | None = None
        self._identity: tuple[int, int] | None = None
        # owner-thread state
        self._files: dict[str, _Entry] = {}
        self._note_names: dict[str, str] = {}
        self._cal_names: dict[str, str] = {}
        # shared with the watcher and the worker
        self._cond = threading.Condition()
        self._dirty: set[str] = set()
        self._first = 0.0
        self._last = 0.0
        self._busy = False
        self._stopping = False
        self._errors: list[MirrorError] = []
        self._batches = 0
        self._observer: Any = None
        self._worker: threading.Thread | None = None

    # -- life cycle ----------------------------------------------------------------------------

    @property
    def folder(self) -> Path:
        return self._folder.path if self._folder is not None else self._path

    def start(self) -> None:
        """Open the folder, catch up with it (edits made while closed), write the library, watch.

        Call from any thread but the owner's (it waits for the owner).
        """
        folder = self._folder = Folder(self._path, create=True)
        info = os.stat(folder.path)
        self._identity = (info.st_dev, info.st_ino)
        observer = Observer()
        observer.schedule(_Handler(self, str(folder.path)), str(folder.path), recursive=False)
        observer.daemon = True
        observer.start()
        self._observer = observer
        try:
            self._access(self._initial).result()
        except BaseException:
            self.stop()
            raise
        self._worker = threading.Thread(target=self._run, name="mirror-worker", daemon=True)
        self._worker.start()

    def stop(self) -> None:
        """Stop watching (call from any thread but the owner's: it may wait for the owner).

        Edits not yet handed to the owner are not lost: the next start reads them.
        """
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(timeout=10)
            self._observer = None
        if self._worker is not None:
            self._worker.join(timeout=30)
            self._worker = None
        if self._folder is not None:
            self._folder.close()
            self._folder = None

    def __enter__(self) -> Mirror:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    # -- what the UI and tests read ------------------------------------------------------------

    @property
    def errors(self) -> list[MirrorError]:
        with self._cond:
            return list(self._errors)

    @property
    def batches(self) -> int:
        """How many batches of external changes were handled (tests wait on this)."""
        with self._cond:
            return self._batches

    def idle(self) -> bool:
        """No change seen by the watcher is waiting or being handled."""
        with self._cond:
            return not self._dirty and not self._busy

    def _error(self, name: str, message: str) -> None:
        log.warning("mirror: %s: %s", name or self._path, message)
        with self._cond:
            self._errors.append(MirrorError(name, message, time.time()))
            del self._errors[:-MAX_ERRORS]

    # -- the owner's side ----------------------------------------------------------------------

    def on_change(self, changes: Changes) -> None:
        """After the replica changed (owner thread): rewrite the files of what changed."""
        if self._folder is None:
            return
        if changes.snapshot:
            self._refresh(None)
            return
        # ``entities`` names every entity a write put to or edited the text of, so typing
        # received from another device rewrites its note without a look at the log.
        if changes.entities:
            self._refresh(set(changes.entities))

    def write_all(self) -> None:
        """Bring every file up to date with the replica (owner thread)."""
        if self._folder is not None:
            self._refresh(None)

    def refresh(self) -> Future[Any]:
        """``write_all`` on the owner thread, from any other thread."""
        return self._access(lambda replica: self.write_all())

    # -- watcher and worker --------------------------------------------------------------------

    def _mark(self, names: Iterable[str]) -> None:
        with self._cond:
            if self._stopping:
                return
            now = time.monotonic()
            if not self._dirty:
                self._first = now
            self._dirty.update(names)
            self._last = now
            self._cond.notify_all()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._dirty and not self._stopping:
                    self._cond.wait()
                while not self._stopping:
                    now = time.monotonic()
                    wake = min(self._last + self.debounce, self._first + self.max_delay)
                    if now >= wake:
                        break
                    self._cond.wait(wake - now)
                if self._stopping:
                    return
                names, self._dirty = self._dirty, set()
                self._busy = True
            try:
                self._access(self._batch(names)).result()
            except Exception as exc:  # never let one bad batch stop the watcher
                self._error("", f"could not apply changes from the folder: {exc}")
            finally:
                with self._cond:
                    self._busy = False
                    self._batches += 1

    def _batch(self, names: set[str]) -> Callable[[Replica], None]:
        return lambda replica: self._sync(replica, names)

    # -- owner thread: reading the folder ------------------------------------------------------

    def _intact(self) -> bool:
        """The folder is still where it was (not removed, moved or swapped for another)."""
        try:
            info = os.stat(self._path.resolve())
        except OSError:
            return False
        return (info.st_dev, info.st_ino) == self._identity

    def _initial(self, replica: Replica) -> None:
        self._replica = replica
        folder = self._folder
        assert folder is not None
        self._load_manifest()
        names = {n for n in folder.names() if is_candidate(n)}
        known = {n for n, e in self._files.items() if e.kind == "note"}
        if known and not (known & names):
            # Every note file is gone: more likely a wiped or replaced folder than the user
            # deleting each note. Write the library again rather than delete it everywhere.
            self._error("", "the mirror folder lost every note file; writing the library again")
            self._files.clear()
        self._sync(replica, names | set(self._files), initial=True)

    def _sync(self, replica: Replica, names: set[str], *, initial: bool = False) -> None:
        folder = self._folder
        if folder is None:
            return
        self._replica = replica
        if not self._intact():
            self._error("", "the mirror folder was moved or removed; changes there are not applied")
            return
        touched: set[str] = set()
        claimed: set[str] = set()
        missing: list[str] = []
        for name in sorted(names):
            info = folder.lstat(name)
            if info is None:
                missing.append(name)
                continue
            try:
                entity = self._sync_file(name, info, touched)
            except (PlainFileError, IcsError, MarkdownError) as exc:
                self._error(name, f"{exc}; nothing of it was applied")
            except (ReplicaError, ValueError) as exc:
                self._error(name, f"cannot be applied ({exc}); nothing of it was applied")
            else:
                if entity is not None:
                    claimed.add(entity)
        for name in missing:
            entry = self._files.pop(name, None)
            if entry is None or entry.entity in claimed:
                continue
            doc = replica.get(entry.entity)
            if doc is None or not doc.exists:
                continue
            if entry.kind == "note":
                try:
                    replica.delete(entry.entity)
                except ReplicaError as exc:
                    self._error(name, f"the note could not be deleted ({exc})")
                    continue
                touched.add(entry.entity)
            else:
                self._error(name, "a calendar is not deleted with its file; it was written again")
                self._cal_names.pop(entry.entity, None)
        self._refresh(None if initial else touched)
        if touched and self._on_write is not None:
            self._on_write(touched)

    def _sync_file(self, name: str, info: os.stat_result, touched: set[str]) -> str | None:
        """Apply one file's content if it changed; returns the entity it belongs to."""
        folder = self._folder
        assert folder is not None
        if stat.S_ISLNK(info.st_mode):
            raise PlainFileError("is a symbolic link; links in the mirror folder are ignored")
        if not stat.S_ISREG(info.st_mode):
            raise PlainFileError("is not a regular file")
        data = folder.read(name)
        sha = _sha(data)
        entry = self._files.get(name)
        if entry is not None and entry.sha == sha:
            return entry.entity  # our own write, or already applied
        text = decode_text(data)
        stem = name.rsplit(".", 1)[0]
        replica = self._replica
        assert replica is not None
        if name.lower().endswith(NOTE_SUFFIXES):
            parsed = parse_note(text, stem)
            entity = parsed.id or (entry.entity if entry is not None and entry.kind == "note" else None)
            if entity is not None and self._copy_of_other(entity, name):
                entity = None  # a copy of another note's file becomes a note of its own
            with replica.transaction():
                entity, changed = apply_note(replica, replace(parsed, id=entity), entity=entity, touch=True)
            kind = "note"
            self._note_names.setdefault(entity, name)
        else:
            cal = parse_ics(text)
            known = entry.entity if entry is not None and entry.kind == "calendar" else None
            with replica.transaction():
                entity, events = apply_calendar(
                    replica, cal, fallback_name=stem, calendar=known, prune=known is not None
                )
            for warning in cal.warnings:
                self._error(name, warning)
            changed = True
            touched.update(events)
            kind = "calendar"
            self._cal_names.setdefault(entity, name)
        self._files[name] = _Entry(entity, kind, sha)
        if changed:
            touched.add(entity)
        return entity

    def _copy_of_other(self, entity: str, name: str) -> bool:
        """Whether another file in the folder already stands for this note."""
        other = self._note_names.get(entity)
        folder = self._folder
        return other is not None and other != name and folder is not None and folder.lstat(other) is not None

    # -- owner thread: writing the folder ------------------------------------------------------

    def _refresh(self, entities: set[str] | None) -> None:
        """Write the files of these entities (None: all), rename and remove stale ones."""
        folder, replica = self._folder, self._replica
        if folder is None or replica is None:
            return
        if not self._intact():
            self._error("", "the mirror folder was moved or removed; it is not written")
            return
        notes = replica.entities("note")
        cals = replica.entities("calendar")
        try:
            present = set(folder.names())
        except PlainFileError as exc:
            self._error("", str(exc))
            return
        foreign = {n for n in present if n not in self._files}
        note_names = assign_names(
            ((k, str(d.value("title", "") or "")) for k, d in notes.items()), ".md", self._note_names, foreign
        )
        cal_names = assign_names(
            ((k, str(d.value("name", "") or "")) for k, d in cals.items()),
            ".ics",
            self._cal_names,
            foreign | set(note_names.values()),
        )
        if entities is None:
            want_notes, want_cals = set(notes), set(cals)
        else:
            want_notes = {k for k in entities if k in notes}
            want_cals = {k for k in entities if k in cals}
            for key in entities - want_notes - want_cals:
                doc = replica.get(key)
                if doc is not None and doc.kind == "event":
                    owner = doc.value("calendar")
                    if isinstance(owner, str) and owner in cals:
                        want_cals.add(owner)
                    else:  # a deleted event no longer names its calendar
                        want_cals = set(cals)
        want_notes |= {k for k, n in note_names.items() if self._note_names.get(k) != n}
        want_notes |= {k for k, n in note_names.items() if n not in self._files or n not in present}
        want_cals |= {k for k, n in cal_names.items() if self._cal_names.get(k) != n}
        want_cals |= {k for k, n in cal_names.items() if n not in self._files or n not in present}
        self._note_names, self._cal_names = note_names, cal_names
        files = [render_note_file(replica, k, note_names[k]) for k in sorted(want_notes)]
        rendered, warnings = render_calendars(replica, cal_names, want_cals)
        for warning in warnings:
            self._error("", warning)
        for item in files + rendered:
            self._write(item.name, item.data, item.entity, item.kind)
        # Files of deleted entities, and old names of renamed ones.
        wanted = {(n, k) for k, n in note_names.items()} | {(n, k) for k, n in cal_names.items()}
        for name, entry in list(self._files.items()):
            if (name, entry.entity) not in wanted:
                self._remove(name, entry)
        self._save_manifest()

    def _on_disk_is(self, name: str, entry: _Entry | None) -> bool | None:
        """True if the file holds what we last wrote or read; None if there is no file."""
        folder = self._folder
        assert folder is not None
        info = folder.lstat(name)
        if info is None:
            return None
        if entry is None or not stat.S_ISREG(info.st_mode):
            return False
        try:
            return _sha(folder.read(name)) == entry.sha
        except PlainFileError:
            return False

    def _write(self, name: str, data: bytes, entity: str, kind: str) -> None:
        folder = self._folder
        assert folder is not None
        entry = self._files.get(name)
        sha = _sha(data)
        state = self._on_disk_is(name, entry)
        if state is True and entry is not None and entry.sha == sha and entry.entity == entity:
            return
        if state is False:
            info = folder.lstat(name)
            if info is not None and not stat.S_ISREG(info.st_mode):
                self._error(name, "is a symbolic link or not a file; it was not written")
            else:
                self._mark([name])  # an edit there is not applied yet: apply it first
            return
        try:
            folder.write(name, data)
        except PlainFileError as exc:
            self._error(name, str(exc))
            return
        self._files[name] = _Entry(entity, kind, sha)

    def _remove(self, name: str, entry: _Entry) -> None:
        folder = self._folder
        assert folder is not None
        state = self._on_disk_is(name, entry)
        if state is False:
            info = folder.lstat(name)
            if info is not None and stat.S_ISREG(info.st_mode):
                self._mark([name])  # edited there since: apply the edit before removing
                return
            self._files.pop(name, None)  # a link or another entry now: not ours to remove
            return
        if state is True:
            try:
                folder.remove(name)
            except PlainFileError as exc:
                self._error(name, str(exc))
                return
        self._files.pop(name, None)

    # -- the manifest --------------------------------------------------------------------------

    def _load_manifest(self) -> None:
        folder, replica = self._folder, self._replica
        assert folder is not None
        assert replica is not None
        try:
            data = folder.read(MANIFEST, limit=64 * 1024 * 1024)
        except PlainFileError as exc:
            if folder.lstat(MANIFEST) is not None:
                self._error(MANIFEST, f"{exc}; starting afresh")
            return
        try:
            raw = json.loads(data.decode("utf-8"))
            if raw.get("version") != 1 or raw.get("library") != replica.library:
                return
            files: dict[str, _Entry] = {}
            for name, item in raw["files"].items():
                entity, kind, sha = item["id"], item["kind"], item["sha256"]
                if not (
                    isinstance(name, str)
                    and is_candidate(name)
                    and "/" not in name
                    and isinstance(entity, str)
                    and kind in ("note", "calendar")
                    and isinstance(sha, str)
                ):
                    raise ValueError(f"bad entry {name!r:.60}")
                files[name] = _Entry(entity, kind, sha)
        except (ValueError, KeyError, TypeError, AttributeError, UnicodeDecodeError) as exc:
            self._error(MANIFEST, f"unreadable ({exc}); starting afresh")
            return
        self._files = files
        self._note_names = {e.entity: n for n, e in files.items() if e.kind == "note"}
        self._cal_names = {e.entity: n for n, e in files.items() if e.kind == "calendar"}

    def _save_manifest(self) -> None:
        folder, replica = self._folder, self._replica
        assert folder is not None
        assert replica is not None
        body = {
            "version": 1,
            "library": replica.library,
            "files": {
                n: {"id": e.entity, "kind": e.kind, "sha256": e.sha} for n, e in sorted(self._files.items())
            },
        }
        data = json.dumps(body, indent=1).encode("utf-8")
        if self._manifest_sha == _sha(data):
            return
        try:
            folder.write(MANIFEST, data)
        except PlainFileError as exc:
            self._error(MANIFEST, str(exc))
            return
        self._manifest_sha = _sha(data)
