"""What the mirror remembers between runs, kept in the mirror folder itself.

``.localfirst-mirror.json`` binds each file (by name) to the entity it stands for, says whether
the mirror created it (only those are ever renamed), and keeps the file's status as last seen
(size, modification time: a start skips files that did not change), the hash of its bytes and
of the library's rendering (a file is rewritten only when the library changed what it holds),
and its bases: the last few versions the mirror wrote or read there, each with the library
position it reflects, for the three-way merge of an outside edit. The bases' bytes live in
``.localfirst-base/`` under their SHA-256. The library position the whole folder reflects lets
a start with nothing new in the library write nothing.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from typing import Any

from storage.files import CALENDAR_SUFFIXES, NOTE_SUFFIXES, Folder, PlainFileError

MANIFEST = ".localfirst-mirror.json"
BASES = ".localfirst-base"
#: Bases kept per file: enough for an editor holding a buffer across a few rewrites.
MAX_BASES = 4
VERSION = 2


def sha(data: bytes) -> str:
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


@dataclass(frozen=True, slots=True)
class Base:
    """A version of a file the mirror wrote or read, and the library position it reflects."""

    sha: str
    vector: dict[str, int]


@dataclass(slots=True)
class Entry:
    """A file the mirror knows: whose it is, whether it made it, and what it last saw there."""

    entity: str
    kind: str  # "note" or "calendar"
    sha: str  # the bytes last written or read
    own: bool = True  # the mirror created it (it may rename it when the title changes)
    rendered: str = ""  # the library's rendering when ``sha`` was taken ("" unknown)
    size: int = -1
    mtime: int = -1  # st_mtime_ns
    ino: int = -1  # a save by rename is a new inode even within one clock tick
    bases: list[Base] = field(default_factory=list)

    def seen(self, info: os.stat_result) -> None:
        self.size, self.mtime, self.ino = info.st_size, info.st_mtime_ns, info.st_ino

    def unchanged(self, info: os.stat_result) -> bool:
        return (self.size, self.mtime, self.ino) == (info.st_size, info.st_mtime_ns, info.st_ino)

    def push(self, base: Base) -> None:
        self.bases = [base, *(b for b in self.bases if b.sha != base.sha)][:MAX_BASES]


def _entry(name: str, item: Any) -> Entry:
    if not (isinstance(name, str) and is_candidate(name) and "/" not in name and isinstance(item, dict)):
        raise ValueError(f"bad entry {name!r:.60}")
    entity, kind, digest = item["id"], item["kind"], item["sha256"]
    if not (isinstance(entity, str) and kind in ("note", "calendar") and isinstance(digest, str)):
        raise ValueError(f"bad entry {name!r:.60}")
    bases = [
        Base(str(b["sha256"]), {str(k): int(v) for k, v in b["vector"].items()})
        for b in item.get("bases", [])
    ]
    return Entry(
        entity,
        kind,
        digest,
        bool(item.get("own", True)),
        str(item.get("rendered", "")),
        int(item.get("size", -1)),
        int(item.get("mtime", -1)),
        int(item.get("ino", -1)),
        bases,
    )


class MirrorState:
    """The manifest and the bases' store of one mirror folder (used on the owner's thread)."""

    def __init__(self, folder: Folder) -> None:
        self._folder = folder
        self._bases: Folder | None = None
        self.files: dict[str, Entry] = {}
        self.vector: dict[str, int] | None = None  # the library position the folder reflects
        self.csn = -1
        self._saved = ""

    def close(self) -> None:
        if self._bases is not None:
            self._bases.close()
            self._bases = None

    def load(self, library: str) -> str | None:
        """Read the manifest; returns a problem to report (the state then starts afresh)."""
        folder = self._folder
        try:
            data = folder.read(MANIFEST, limit=64 * 1024 * 1024)
        except PlainFileError as exc:
            return f"{exc}; starting afresh" if folder.lstat(MANIFEST) is not None else None
        try:
            raw = json.loads(data.decode("utf-8"))
            if raw.get("version") not in (1, VERSION) or raw.get("library") != library:
                return None
            self.files = {name: _entry(name, item) for name, item in raw["files"].items()}
            vector = raw.get("vector")
            if isinstance(vector, dict):
                self.vector = {str(k): int(v) for k, v in vector.items()}
                self.csn = int(raw.get("csn", -1))
        except (ValueError, KeyError, TypeError, AttributeError, UnicodeDecodeError) as exc:
            self.files, self.vector = {}, None
            return f"unreadable ({exc}); starting afresh"
        self._saved = sha(data)
        return None

    def save(self, library: str) -> str | None:
        """Write the manifest if it changed and drop bases no file needs; returns a problem."""
        body = {
            "version": VERSION,
            "library": library,
            "vector": self.vector,
            "csn": self.csn,
            "files": {
                n: {
                    "id": e.entity,
                    "kind": e.kind,
                    "sha256": e.sha,
                    "own": e.own,
                    "rendered": e.rendered,
                    "size": e.size,
                    "mtime": e.mtime,
                    "ino": e.ino,
                    "bases": [{"sha256": b.sha, "vector": b.vector} for b in e.bases],
                }
                for n, e in sorted(self.files.items())
            },
        }
        data = json.dumps(body, indent=1, sort_keys=True).encode("utf-8")
        digest = sha(data)
        if digest == self._saved:
            return None
        try:
            self._folder.write(MANIFEST, data)
        except PlainFileError as exc:
            return str(exc)
        self._saved = digest
        self._prune()
        return None

    # -- bases -----------------------------------------------------------------------------------

    def _store(self) -> Folder:
        if self._bases is None:
            self._bases = self._folder.child(BASES)
        return self._bases

    def keep_base(self, entry: Entry, data: bytes, vector: dict[str, int]) -> None:
        """Remember ``data`` (now in the file) as the entry's newest base."""
        digest = sha(data)
        try:
            store = self._store()
            if store.lstat(digest) is None:
                store.write(digest, data)
        except PlainFileError:
            return  # without a base the next outside edit merges two-way, as before
        entry.push(Base(digest, dict(vector)))

    def base_texts(self, entry: Entry) -> list[tuple[Base, bytes]]:
        """The entry's bases still held, newest first."""
        out: list[tuple[Base, bytes]] = []
        for base in entry.bases:
            try:
                data = self._store().read(base.sha, limit=1 << 40)
            except PlainFileError:
                continue
            if sha(data) == base.sha:
                out.append((base, data))
        return out

    def _prune(self) -> None:
        keep = {b.sha for e in self.files.values() for b in e.bases}
        try:
            store = self._store()
            for name in store.names():
                if name not in keep and len(name) == 64:
                    store.remove(name)
        except PlainFileError:
            pass
