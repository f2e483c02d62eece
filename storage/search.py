"""Full-text search over note titles and bodies (the FTS5 index of schema version 3).

A ``NoteSearch`` reads the replica file on its own read-only connection (WAL lets it read
while the replica writes), so it never shares the replica's connection. Use it from the
thread that owns the replica: it sees each write once that write's call has returned.
"""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

from .database import translated
from .errors import NotAReplica
from .note_index import NOTE_SEARCH

__all__ = ["NoteSearch", "fts_query"]

_WORD = re.compile(r"\w+", re.UNICODE)
#: Most words of a query that are looked up (a pasted paragraph is not a query).
MAX_QUERY_WORDS = 32


def fts_query(text: str) -> str | None:
    """An FTS5 query matching notes holding every word of ``text`` (the last one as a prefix).

    User input never reaches FTS5's query syntax: each word is quoted, operators and
    punctuation are dropped. Returns None when ``text`` holds no word.
    """
    words = _WORD.findall(text)[:MAX_QUERY_WORDS]
    if not words:
        return None
    quoted = [f'"{w}"' for w in words]
    if text[-1:].isalnum() or text.endswith("_"):
        quoted[-1] += "*"  # still typing the last word
    return " ".join(quoted)


class NoteSearch:
    """Queries the note index of one replica file."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        if not self.path.exists():
            raise NotAReplica(f"{self.path} does not exist")
        with translated(self.path):
            self._conn = sqlite3.connect(
                f"file:{self.path}?mode=ro", uri=True, check_same_thread=False, isolation_level=None
            )

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> NoteSearch:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def search(self, text: str, limit: int = 1000) -> list[str]:
        """Ids of the live notes matching ``text``, best match first."""
        query = fts_query(text)
        if query is None:
            return []
        sql = (
            f"SELECT n.id FROM {NOTE_SEARCH} s JOIN notes n ON n.rowid = s.rowid "
            f"WHERE {NOTE_SEARCH} MATCH ? ORDER BY bm25({NOTE_SEARCH}, 4.0, 1.0) LIMIT ?"
        )
        with translated(self.path):
            return [row[0] for row in self._conn.execute(sql, (query, limit))]
