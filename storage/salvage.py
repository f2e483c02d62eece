"""Reading what can still be read of a damaged library file, record by record.

A library whose file has a corrupt page, or holds one record that no longer decodes, cannot be
opened as a replica (or cannot be listed whole). ``read_records`` opens the file read-only
(never writes a byte into it) and gathers every note, calendar and event it can: entity ids come
from every place that names them (the documents, their index, the summary tables, the note
texts), each document is read on its own, and one that cannot be read falls back to what its
summary row still says. What could not be read is named in ``problems``, one line each; the
reading never stops at the first bad record.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from localfirst.crdtmap import decode_doc
from localfirst.write import Value

from .errors import CorruptReplica, NotAReplica

#: The kinds a user made, as exported.
KINDS = ("note", "calendar", "event")
#: Summary tables (one row per live entity) and the fields they keep.
_SUMMARY = {
    "note": ("notes", ("title", "pinned", "modified")),
    "calendar": ("calendars", ("name", "colour", "bookable")),
    "event": ("events", ("calendar", "title", "start", "end", "all_day", "tz", "rrule")),
}

#: Summary columns that hold a yes/no as 0 or 1.
_FLAGS = frozenset({"pinned", "bookable", "all_day"})


@dataclass(slots=True)
class Records:
    """The live notes, calendars and events read from a library file, and what was not read."""

    notes: dict[str, dict[str, Value]] = field(default_factory=dict)
    calendars: dict[str, dict[str, Value]] = field(default_factory=dict)
    events: dict[str, dict[str, Value]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def of(self, kind: str) -> dict[str, dict[str, Value]]:
        return {"note": self.notes, "calendar": self.calendars, "event": self.events}[kind]


def _connect(path: Path) -> sqlite3.Connection:
    if not path.is_file():
        raise NotAReplica(f"{path} does not exist (or is not a file): there is nothing to salvage there")
    try:
        conn = sqlite3.connect(f"file:{quote(str(path.resolve()))}?mode=ro", uri=True)
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.Error:
        raise CorruptReplica(
            f"{path} is not a library file, or its first page is damaged; nothing can be read"
        ) from None
    return conn


def _rows(conn: sqlite3.Connection, sql: str, args: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """The rows of a query up to the first one that cannot be read (a damaged page ends it)."""
    try:
        cursor = conn.execute(sql, args)
        while True:
            row = cursor.fetchone()
            if row is None:
                return
            yield tuple(row)
    except sqlite3.Error:
        return


def _ids(conn: sqlite3.Connection) -> dict[str, str]:
    """Every (entity id -> kind) any table still names, the documents first."""
    found: dict[str, str] = {}
    sources = [
        "SELECT id, kind FROM docs",
        "SELECT id, kind FROM docs INDEXED BY docs_kind ORDER BY kind, id",
        "SELECT id, kind FROM docs ORDER BY id DESC",  # from the other end, past a bad page
    ]
    for sql in sources:
        for key, kind in _rows(conn, sql):
            if isinstance(key, str) and kind in KINDS:
                found.setdefault(key, kind)
    for kind, (table, _) in _SUMMARY.items():
        for (key,) in _rows(conn, f"SELECT id FROM {table}"):
            if isinstance(key, str):
                found.setdefault(key, kind)
    for (key,) in _rows(conn, "SELECT id FROM texts WHERE field = 'body'"):
        if isinstance(key, str):
            found.setdefault(key, "note")
    return found


def _summary(conn: sqlite3.Connection, kind: str, key: str) -> dict[str, Value] | None:
    table, columns = _SUMMARY[kind]
    quoted = ", ".join(f'"{c}"' for c in columns)
    for row in _rows(conn, f"SELECT {quoted} FROM {table} WHERE id = ?", (key,)):
        return {c: bool(v) if c in _FLAGS else v for c, v in zip(columns, row, strict=True) if v is not None}
    return None


def _body(conn: sqlite3.Connection, key: str) -> str | None:
    for (text,) in _rows(conn, "SELECT text FROM texts WHERE id = ? AND field = 'body'", (key,)):
        return str(text)
    return None


def _read_one(conn: sqlite3.Connection, key: str, kind: str, out: Records) -> None:
    values: dict[str, Value] | None = None
    problem = ""
    try:
        row = conn.execute("SELECT doc FROM docs WHERE id = ?", (key,)).fetchone()
    except sqlite3.Error:
        row, problem = None, "its record sits on a damaged page"
    if row is not None:
        try:
            doc = decode_doc(row[0])
        except ValueError:
            problem = "its record cannot be decoded"
        else:
            if not doc.exists:
                return  # deleted: nothing to save
            values = doc.values()
    elif not problem:
        problem = "its record is missing"
    if values is None:
        values = _summary(conn, kind, key)
        what = f"{kind} {key}"
        if values is None and (kind != "note" or _body(conn, key) is None):
            out.problems.append(f"{what}: {problem}; nothing of it could be read")
            return
        values = values or {}
        out.problems.append(f"{what}: {problem}; saved from what the library's summary of it still says")
    if kind == "note":
        body = _body(conn, key)
        if body is None:
            out.problems.append(f"note {key}: its text cannot be read; saved without it")
        else:
            values["body"] = body
    out.of(kind)[key] = values


def read_records(path: Path | str) -> Records:
    """Every note, calendar and event that can be read from the library file at ``path``.

    Raises:
        CorruptReplica: nothing at all can be read (not a library file, or its first page).
    """
    out = Records()
    conn = _connect(Path(path))
    try:
        ids = _ids(conn)
        if not ids and not list(_rows(conn, "SELECT 1 FROM docs LIMIT 1")):
            tables = {n for (n,) in _rows(conn, "SELECT name FROM sqlite_master WHERE type = 'table'")}
            if "docs" not in tables:
                raise CorruptReplica(f"{path} holds no library records that can be read")
        for key, kind in sorted(ids.items()):
            _read_one(conn, key, kind, out)
    finally:
        conn.close()
    return out


#: The report a salvage leaves beside the files it saved.
REPORT = "salvage-report.txt"


@dataclass(slots=True)
class Salvaged:
    """What a salvage saved: the files written, the report, and what could not be read."""

    written: list[Path]
    report: Path
    problems: list[str]
    counts: dict[str, int]


def salvage(path: Path | str, out: Path | str) -> Salvaged:
    """Export every record that can be read from the library file ``path`` into ``out`` as
    Markdown notes and ``.ics`` calendars, with a report of what could not be read.

    The library file is opened read-only and never changed.

    Raises:
        CorruptReplica: nothing at all can be read from it.
    """
    from .files import Folder, render_records, write_files

    records = read_records(path)
    files, notes = render_records(records)
    problems = records.problems + notes
    written = write_files(files, out)
    counts = {"notes": len(records.notes), "calendars": len(records.calendars), "events": len(records.events)}
    lines = [
        f"Salvage of {path}",
        f"saved {counts['notes']} notes, {counts['calendars']} calendars, {counts['events']} events "
        f"in {len(written)} files",
        "",
        "Not read, or read only in part:" if problems else "Everything that was there could be read.",
        *(f"- {p}" for p in problems),
        "",
    ]
    with Folder(out, create=True) as folder:
        folder.write(REPORT, "\n".join(lines).encode("utf-8"))
        report = folder.path / REPORT
    return Salvaged(written, report, problems, counts)
