"""The mirror folder: the library as plain files, kept in step both ways.

Each live note is ``<title>.md`` and each calendar ``<name>.ics`` in the folder the user chose.
The replica belongs to one thread (the node's, or the app's backend); everything that reads or
writes it runs there through ``submit(fn) -> Future``, so the mirror works the same in the window
and on a headless node (it lives in ``sync/`` for that: it runs threads and follows the node).
The owner calls ``on_change(changes)`` (or ``write_all()``) on that thread after writes, and the
files of the entities that changed are rewritten.

Edits other programs make are seen by a watchdog observer. Events only mark names dirty; after
a quiet moment (``debounce``) a worker thread hands the batch to the owner, which reads each
file and, if its bytes differ from what was last written or read there (so our own writes never
echo back), merges it three ways: what the file changed against its base (the version the
mirror last wrote or read there, or an older one an editor's buffer still held) is applied onto
what the library holds now, through the core's writes made as of the base's library position
(``Replica.as_of``), so an edit the library received since is never reverted, and a field both
changed is kept as siblings like any conflict. An editor's "write a temp file, rename it over
the original" arrives as one batch and is one edit. New files become notes (or calendars); a
deleted note file deletes its note.

Each file stays bound to its entity by name: a file the mirror did not create is never renamed,
and no file is rewritten unless the library changed what it holds. Nothing a file or a synced
title holds can make the mirror write outside the folder: names come from ``safe_names``, every
operation goes through ``files.Folder`` (a directory handle, no link ever followed or written
through). A file that cannot be used gets an entry in ``errors`` (for the UI), nothing of it is
applied, and the watcher keeps running. ``sync.mirror_state`` keeps what the mirror knows
across runs, so edits and deletions made while the app was closed are picked up on the next
start, and a start with nothing changed reads and writes nothing.
"""

from __future__ import annotations

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

from localfirst import Changes, Replica, ReplicaError, Summary, VersionVector
from localfirst.filemerge import closest
from localfirst.ics import IcsCalendar, IcsError, parse_ics
from localfirst.markdown import MarkdownError, ParsedNote, parse_note
from localfirst.safe_names import assign_names
from localfirst.write import Ordered, decode_write
from storage.files import (
    NOTE_SUFFIXES,
    Folder,
    PlainFileError,
    Rendered,
    apply_calendar,
    apply_note,
    decode_text,
    merge_calendar,
    merge_note,
    render_calendars,
    render_note_file,
)
from sync.mirror_state import MANIFEST, Base, Entry, MirrorState, is_candidate, sha

__all__ = ["MANIFEST", "Mirror", "MirrorError", "is_candidate"]

log = logging.getLogger(__name__)

T = TypeVar("T")
#: Runs ``fn(replica)`` on the thread that owns the replica; the Future holds its result.
ReplicaAccess = Callable[[Callable[[Replica], Any]], "Future[Any]"]

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
        self._state: MirrorState | None = None
        self._path = Path(folder)
        self.debounce = debounce
        self.max_delay = max_delay
        self._on_write = on_write
        self._folder: Folder | None = None
        self._identity: tuple[int, int] | None = None
        # owner-thread state
        self._files: dict[str, Entry] = {}
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
        self._state = MirrorState(folder)
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
        if self._state is not None:
            self._state.close()
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
        folder, state = self._folder, self._state
        assert folder is not None
        assert state is not None
        problem = state.load(replica.library)
        if problem:
            self._error(MANIFEST, problem)
        self._files = state.files
        self._note_names = {e.entity: n for n, e in self._files.items() if e.kind == "note"}
        self._cal_names = {e.entity: n for n, e in self._files.items() if e.kind == "calendar"}
        names = {n for n in folder.names() if is_candidate(n)}
        known = {n for n, e in self._files.items() if e.kind == "note"}
        if known and not (known & names):
            # Every note file is gone: more likely a wiped or replaced folder than the user
            # deleting each note. Write the library again rather than delete it everywhere.
            self._error("", "the mirror folder lost every note file; writing the library again")
            self._files.clear()
            state.vector = None
        self._sync(replica, names | set(self._files), start=True, library=self._library_changes(replica))

    def _library_changes(self, replica: Replica) -> set[str] | None:
        """The entities written since the folder was last brought up to date (None: unknown,
        or too much to tell: every file is checked)."""
        state = self._state
        assert state is not None
        if state.vector is None or state.csn < 0:
            return None
        now = replica.vector.as_dict()
        if now == state.vector and replica.csn == state.csn:
            return set()
        if replica.csn < state.csn or any(now.get(o, 0) < s for o, s in state.vector.items()):
            return None  # the folder reflects writes this replica lacks (a library restored)
        batch = replica.batch_for(Summary(VersionVector(state.vector), state.csn))
        if batch.snapshot is not None:
            return None
        changed: set[str] = set()
        datas = [c.write for c in batch.committed if c.write is not None] + list(batch.tentative)
        for data in datas:
            for op in decode_write(data).ops:
                if isinstance(op, Ordered):
                    event = op.params.get("event")
                    if isinstance(event, str):
                        changed.add(event)
                else:
                    changed.add(op.entity)
        return changed

    def _sync(
        self, replica: Replica, names: set[str], *, start: bool = False, library: set[str] | None = None
    ) -> None:
        """Apply the files ``names`` (changed, new or gone), then write what the library changed.

        At ``start``, ``library`` names the entities written since the last run (None: unknown,
        so every file is rendered and compared); a batch from the watcher writes what it touched.
        """
        folder = self._folder
        if folder is None:
            return
        self._replica = replica
        if not self._intact():
            self._error("", "the mirror folder was moved or removed; changes there are not applied")
            return
        touched: set[str] = set()
        claimed: set[str] = set()
        infos = {name: folder.lstat(name) for name in sorted(names)}
        missing = [name for name, info in infos.items() if info is None]
        self._follow_moves(missing, [n for n, info in infos.items() if info is not None])
        for name, info in infos.items():
            if info is not None:
                entity = self._sync_one(name, info, touched, start=start)
                if entity is not None:
                    claimed.add(entity)
        for name in missing:
            entry = self._files.pop(name, None)
            if entry is not None and entry.entity not in claimed:
                self._file_gone(replica, name, entry, touched)
        if not start:
            self._refresh(touched)
        else:
            self._refresh(None if library is None else library | touched)
        if touched and self._on_write is not None:
            self._on_write(touched)

    def _sync_one(self, name: str, info: os.stat_result, touched: set[str], *, start: bool) -> str | None:
        """``_sync_file`` with its problems reported; the entity the file belongs to, if any."""
        try:
            return self._sync_file(name, info, touched, start=start)
        except (PlainFileError, IcsError, MarkdownError) as exc:
            self._error(name, f"{exc}; nothing of it was applied")
        except (ReplicaError, ValueError) as exc:
            self._error(name, f"cannot be applied ({exc}); nothing of it was applied")
        return None

    def _follow_moves(self, missing: list[str], present: list[str]) -> None:
        """A file another program renamed (same bytes under a new name, the old name gone in
        the same batch) keeps its entity, and its new name: the mirror never renames it back."""
        gone = {self._files[n].sha: n for n in missing if n in self._files}
        folder = self._folder
        if not gone or folder is None:
            return
        for name in present:
            if name in self._files:
                continue
            try:
                digest = sha(folder.read(name))
            except PlainFileError:
                continue
            old = gone.pop(digest, None)
            if old is not None:
                entry = self._files.pop(old)
                entry.own = False
                self._files[name] = entry
                names = self._note_names if entry.kind == "note" else self._cal_names
                names[entry.entity] = name

    def _file_gone(self, replica: Replica, name: str, entry: Entry, touched: set[str]) -> None:
        doc = replica.get(entry.entity)
        if doc is None or not doc.exists:
            return
        if entry.kind != "note":
            self._error(name, "a calendar is not deleted with its file; it was written again")
            self._cal_names.pop(entry.entity, None)
            return
        try:
            base = entry.bases[0].vector if entry.bases else replica.vector.as_dict()
            with replica.as_of(base):
                replica.delete(entry.entity)
        except ReplicaError as exc:
            self._error(name, f"the note could not be deleted ({exc})")
            return
        touched.add(entry.entity)

    def _sync_file(
        self, name: str, info: os.stat_result, touched: set[str], *, start: bool = False
    ) -> str | None:
        """Apply one file's content if it changed; returns the entity it belongs to."""
        folder = self._folder
        assert folder is not None
        if stat.S_ISLNK(info.st_mode):
            raise PlainFileError("is a symbolic link; links in the mirror folder are ignored")
        if not stat.S_ISREG(info.st_mode):
            raise PlainFileError("is not a regular file")
        entry = self._files.get(name)
        if start and entry is not None and entry.unchanged(info):
            return entry.entity  # as the last run left it: not even read
        data = folder.read(name)
        digest = sha(data)
        if entry is not None and entry.sha == digest:
            entry.seen(info)
            return entry.entity  # our own write, or already applied
        text = decode_text(data)
        if name.lower().endswith(NOTE_SUFFIXES):
            entity, changed, in_sync = self._read_note(name, entry, text)
            kind = "note"
            self._note_names.setdefault(entity, name)
        else:
            entity, events, in_sync = self._read_calendar(name, entry, text)
            changed = bool(events)
            touched.update(events)
            kind = "calendar"
            self._cal_names.setdefault(entity, name)
        new = Entry(entity, kind, digest, entry.own if entry is not None else False)
        if entry is not None and entry.entity == entity:
            new.bases = entry.bases
        new.seen(info)
        replica = self._replica
        assert replica is not None
        assert self._state is not None
        self._state.keep_base(new, data, replica.vector.as_dict())
        if in_sync:
            new.rendered = self._rendering(entity, kind, name)
        self._files[name] = new
        if changed or not in_sync:
            touched.add(entity)
        return entity

    def _bases(
        self, entry: Entry | None, entity: str | None, kind: str, text: str
    ) -> tuple[Base, str] | None:
        """The base this edit was most likely made from, and its text (None: no base held)."""
        if entry is None or entry.kind != kind or entry.entity != entity or self._state is None:
            return None
        held = self._state.base_texts(entry)
        texts: list[str] = []
        for _, data in held:
            try:
                texts.append(decode_text(data))
            except PlainFileError:
                texts.append("")
        if not held:
            return None
        i = closest(texts, text)
        return held[i][0], texts[i]

    def _read_note(self, name: str, entry: Entry | None, text: str) -> tuple[str, bool, bool]:
        """Apply a note's file; (its note, whether anything was written, whether the file
        already says all the note holds)."""
        replica = self._replica
        assert replica is not None
        stem = name.rsplit(".", 1)[0]
        parsed = parse_note(text, stem)
        mine = entry.entity if entry is not None and entry.kind == "note" else None
        entity = parsed.id or mine
        if entity is not None and entity != mine and self._copy_of_other(entity, name):
            entity = None  # a copy of another note's file becomes a note of its own
        base = self._bases(entry, entity, "note", text) if entity is not None else None
        with replica.transaction():
            if entity is not None and base is not None:
                old = parse_note(base[1], stem)
                with replica.as_of(base[0].vector):
                    changed = merge_note(replica, entity, old, parsed)
            else:
                entity, changed = apply_note(replica, replace(parsed, id=entity), entity=entity, touch=True)
        return entity, changed, _note_in_sync(replica, entity, parsed)

    def _read_calendar(self, name: str, entry: Entry | None, text: str) -> tuple[str, list[str], bool]:
        """Apply a calendar's file; (its calendar, the events written, whether in sync)."""
        replica = self._replica
        assert replica is not None
        cal = parse_ics(text)
        if cal.others:
            # One file is one calendar here: writing it back would drop the other calendars.
            raise IcsError(
                f"holds {1 + len(cal.others)} calendars; the mirror keeps one calendar per file and "
                "leaves this one alone (importing it reads each as a calendar of its own)"
            )
        known = entry.entity if entry is not None and entry.kind == "calendar" else None
        base = self._bases(entry, known, "calendar", text) if known is not None else None
        with replica.transaction():
            if known is not None and base is not None:
                with replica.as_of(base[0].vector):
                    events = merge_calendar(replica, known, parse_ics(base[1]), cal)
                entity = known
            else:
                entity, events = apply_calendar(
                    replica,
                    cal,
                    fallback_name=name.rsplit(".", 1)[0],
                    calendar=known,
                    prune=known is not None,
                )
        for warning in cal.warnings:
            self._error(name, warning)
        return entity, events, _calendar_in_sync(replica, entity, cal)

    def _rendering(self, entity: str, kind: str, name: str) -> str:
        """The hash of the library's rendering of one file now."""
        replica = self._replica
        assert replica is not None
        if kind == "note":
            return sha(render_note_file(replica, entity, name).data)
        rendered, _ = render_calendars(replica, {entity: name}, [entity])
        return sha(rendered[0].data) if rendered else ""

    def _copy_of_other(self, entity: str, name: str) -> bool:
        """Whether another file in the folder already stands for this note."""
        other = self._note_names.get(entity)
        folder = self._folder
        return other is not None and other != name and folder is not None and folder.lstat(other) is not None

    # -- owner thread: writing the folder ------------------------------------------------------

    def _refresh(self, entities: set[str] | None) -> None:
        """Write the files of these entities (None: all) whose rendering the library changed,
        rename (only files the mirror made) and remove stale ones."""
        folder, replica = self._folder, self._replica
        if folder is None or replica is None:
            return
        if not self._intact():
            self._error("", "the mirror folder was moved or removed; it is not written")
            return
        try:
            present = set(folder.names())
        except PlainFileError as exc:
            self._error("", str(exc))
            return
        notes = replica.entities("note")
        cals = replica.entities("calendar")
        note_names, cal_names = self._names(notes, cals, present)
        want_notes, want_cals = self._wanted(entities, notes, cals)
        want_notes |= {k for k, n in note_names.items() if self._note_names.get(k) != n or n not in present}
        want_cals |= {k for k, n in cal_names.items() if self._cal_names.get(k) != n or n not in present}
        want_notes |= {k for k, n in note_names.items() if n not in self._files}
        want_cals |= {k for k, n in cal_names.items() if n not in self._files}
        self._note_names, self._cal_names = note_names, cal_names
        files = [render_note_file(replica, k, note_names[k]) for k in sorted(want_notes)]
        rendered, warnings = render_calendars(replica, cal_names, want_cals)
        for warning in warnings:
            self._error("", warning)
        for item in files + rendered:
            self._write(item)
        # Files of deleted entities, and old names of renamed ones.
        wanted = {(n, k) for k, n in note_names.items()} | {(n, k) for k, n in cal_names.items()}
        for name, entry in list(self._files.items()):
            if (name, entry.entity) not in wanted:
                self._remove(name, entry)
        self._save_state(replica)

    def _names(
        self, notes: dict[str, Any], cals: dict[str, Any], present: set[str]
    ) -> tuple[dict[str, str], dict[str, str]]:
        """Each entity's file name: a file the mirror did not make keeps its name (it is bound
        to its entity); the others follow their titles through ``safe_names``."""
        pinned = {(e.entity, e.kind): n for n, e in sorted(self._files.items()) if not e.own and n in present}
        foreign = {n for n in present if n not in self._files} | set(pinned.values())
        free_notes = (
            (k, str(d.value("title", "") or "")) for k, d in notes.items() if (k, "note") not in pinned
        )
        note_names = assign_names(free_notes, ".md", self._note_names, foreign)
        free_cals = (
            (k, str(d.value("name", "") or "")) for k, d in cals.items() if (k, "calendar") not in pinned
        )
        cal_names = assign_names(free_cals, ".ics", self._cal_names, foreign | set(note_names.values()))
        note_names.update({k: n for (k, kind), n in pinned.items() if kind == "note" and k in notes})
        cal_names.update({k: n for (k, kind), n in pinned.items() if kind == "calendar" and k in cals})
        return note_names, cal_names

    def _wanted(
        self, entities: set[str] | None, notes: dict[str, Any], cals: dict[str, Any]
    ) -> tuple[set[str], set[str]]:
        """The notes and calendars whose files these changed entities are in."""
        if entities is None:
            return set(notes), set(cals)
        replica = self._replica
        assert replica is not None
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
        return want_notes, want_cals

    def _on_disk_is(self, name: str, entry: Entry | None) -> bool | None:
        """True if the file holds what we last wrote or read; None if there is no file."""
        folder = self._folder
        assert folder is not None
        info = folder.lstat(name)
        if info is None:
            return None
        if entry is None or not stat.S_ISREG(info.st_mode):
            return False
        if entry.unchanged(info):
            return True
        try:
            return sha(folder.read(name)) == entry.sha
        except PlainFileError:
            return False

    def _write(self, item: Rendered) -> None:
        folder, state, replica = self._folder, self._state, self._replica
        assert folder is not None
        assert state is not None
        assert replica is not None
        name, data = item.name, item.data
        entry = self._files.get(name)
        digest = sha(data)
        same = entry is not None and entry.entity == item.entity
        if same and entry is not None and digest in (entry.sha, entry.rendered):
            return  # the library changed nothing this file shows
        if self._on_disk_is(name, entry) is False:
            self._not_written(name)
            return
        own = entry.own if same and entry is not None else True
        try:
            info = folder.write(
                name, data, existing=not own, check=lambda: self._on_disk_is(name, entry) is not False
            )
        except PlainFileError as exc:
            self._error(name, str(exc))
            return
        if info is None:
            self._not_written(name)
            return
        new = Entry(item.entity, item.kind, digest, own, digest)
        if same and entry is not None:
            new.bases = entry.bases
        new.seen(info)
        state.keep_base(new, data, replica.vector.as_dict())
        self._files[name] = new

    def _not_written(self, name: str) -> None:
        """The file changed since we last saw it: apply that edit first (then it is written)."""
        folder = self._folder
        assert folder is not None
        info = folder.lstat(name)
        if info is not None and not stat.S_ISREG(info.st_mode):
            self._error(name, "is a symbolic link or not a file; it was not written")
        else:
            self._mark([name])

    def _remove(self, name: str, entry: Entry) -> None:
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

    def _save_state(self, replica: Replica) -> None:
        state = self._state
        assert state is not None
        state.files = self._files
        state.vector, state.csn = replica.vector.as_dict(), replica.csn
        problem = state.save(replica.library)
        if problem:
            self._error(MANIFEST, problem)


def _note_in_sync(replica: Replica, entity: str, parsed: ParsedNote) -> bool:
    """Whether a note's file states what the note holds (timestamps aside): no rewrite needed."""
    doc = replica.get(entity)
    if doc is None or not doc.exists or doc.conflicted:
        return False
    values = doc.values()
    fields = {k: v for k, v in parsed.fields.items() if k not in parsed.defaulted and k not in _STAMPS}
    return all(values.get(k) == v for k, v in fields.items()) and replica.text(entity) == parsed.body


def _calendar_in_sync(replica: Replica, calendar: str, cal: IcsCalendar) -> bool:
    """Whether a calendar's file states every event the calendar holds, as the library holds it."""
    doc = replica.get(calendar)
    if doc is None or not doc.exists:
        return False
    values = doc.values()
    if any(not _same(values.get(k), v) for k, v in cal.fields.items()):
        return False
    held = {k: d for k, d in replica.entities("event").items() if d.value("calendar") == calendar}
    in_file = {ev.id: ev for ev in cal.events}
    if not set(held) <= set(in_file):
        return False
    for key, ev in in_file.items():
        event = replica.get(key)
        if event is None or not event.exists or event.conflicted:
            return False
        now = event.values()
        if any(not _same(now.get(k), v) for k, v in ev.fields.items() if k != "calendar"):
            return False
    return True


def _same(held: object, in_file: object) -> bool:
    """A field's value in the library against the file's: an empty set in the file is the
    field left unset in the library (an import never writes an empty ``extra``)."""
    return held == in_file or (held is None and in_file == [])


_STAMPS = frozenset({"created", "modified"})
