"""The full integrity check of a library file, read from one consistent snapshot of it.

``read_full_check`` recomputes, inside one read transaction on any SQLite connection, what
``SqlStore.verify(full=True)`` proves: the state digest folded from the document and text rows
against the digest saved in meta, every note body's CRDT against its stored text, the stored
snapshot's rows against their seal, and the hash chain from the snapshot up to the top CSN of
that same snapshot of the file. It touches no store object, so a node runs it in a worker thread
on its own read-only connection (``check_file``): WAL gives that connection one consistent view
while the node's own connection keeps writing, and only the outcome is recorded afterwards, on
the node's thread (``SqlStore.take_full_check``).
"""

from __future__ import annotations

import sqlite3
import threading
from collections import defaultdict
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import msgpack

from localfirst.crdtmap import decode_doc
from localfirst.integrity import (
    SNAPSHOT_MISMATCH,
    STATE_MISMATCH,
    TEXT_MISMATCH,
    VerifyReport,
    check_chain,
    doc_state_hash,
    snapshot_seal,
    state_digest_of,
    text_matches,
    text_state_hash,
)
from localfirst.store import TextKey

from .errors import CorruptReplica
from .schema import SNAPSHOT_DOCS, SNAPSHOT_TEXTS

#: Where the state digest is kept in meta (the same key ``SqlStore`` writes).
DIGEST_KEY = "state_digest_v2"
#: Rows fetched per step: bounded memory on a large library.
_BATCH = 512


@dataclass(frozen=True)
class FullCheck:
    """What one snapshot of the file showed: the chain up to its top CSN, which check failed
    (None when all passed), and the per-entity state hashes folded from its rows."""

    chain: VerifyReport
    problem: str | None
    state_sound: bool
    states: dict[str, int] = field(repr=False)
    text_states: dict[TextKey, int] = field(repr=False)
    folded: int = 0
    #: What the store counted when the check was made (see ``FileCheck``).
    token: tuple[int, int] = (0, 0)

    def report(self) -> VerifyReport:
        """The chain's report, turned into damage when a row check failed."""
        if self.chain.ok and self.problem is not None:
            c = self.chain
            return VerifyReport(False, c.csn, c.chain, self.problem, c.checked)
        return self.chain

    def then(self, rest: VerifyReport) -> VerifyReport:
        """This check's report followed by ``rest``, the chain recomputed on from its top."""
        first = self.report()
        if not first.ok:
            return first
        return VerifyReport(rest.ok, rest.csn, rest.chain, rest.problem, first.checked + rest.checked)


def _unpack(data: bytes) -> Any:
    return msgpack.unpackb(data, raw=False, strict_map_key=False)


def _meta(conn: sqlite3.Connection, label: object) -> dict[str, Any]:
    rows = conn.execute("SELECT key, value FROM meta WHERE key != 'schema_version'").fetchall()
    try:
        return {k: _unpack(v) for k, v in rows}
    except Exception as exc:
        raise CorruptReplica(f"{label} is damaged: unreadable metadata ({exc!r})") from None


def fold_states(conn: sqlite3.Connection) -> tuple[dict[str, int], dict[TextKey, int], int]:
    """Every document's and text field's state hash, and their XOR, from the stored rows."""
    states: dict[str, int] = {}
    folded = 0
    rows = conn.execute("SELECT id, doc FROM docs")
    while batch := rows.fetchmany(_BATCH):
        for key, data in batch:
            h = doc_state_hash(key, decode_doc(data))
            states[key] = h
            folded ^= h
    texts: dict[TextKey, int] = {}
    rows = conn.execute("SELECT id, field, text FROM texts")
    while batch := rows.fetchmany(_BATCH):
        for entity, fname, body in batch:
            h = text_state_hash(entity, fname, str(body))
            texts[(entity, fname)] = h
            folded ^= h
    return states, texts, folded


def texts_consistent(conn: sqlite3.Connection) -> bool:
    """Whether every text field's CRDT (saved state and op batches) spells its stored text."""
    ops: dict[TextKey, list[bytes]] = defaultdict(list)
    for entity, fname, batch in conn.execute("SELECT id, field, ops FROM text_ops ORDER BY seq"):
        ops[(entity, fname)].append(batch)
    rows = conn.execute("SELECT id, field, text, state FROM texts")
    while batch := rows.fetchmany(_BATCH):
        for entity, fname, body, state in batch:
            if not text_matches(state, ops.get((entity, fname), ()), str(body)):
                return False
    return True


def snapshot_rows(conn: sqlite3.Connection) -> tuple[list[tuple[str, bytes]], list[tuple[str, str, bytes]]]:
    """The stored snapshot's rows as they were sealed: ``(id, encoded doc)`` and
    ``(entity, field, CRDT state)``. The one place the check reads the snapshot's rows."""
    docs = [(k, bytes(d)) for k, d in conn.execute(SNAPSHOT_DOCS)]
    texts = [(e, f, bytes(s)) for e, f, s in conn.execute(SNAPSHOT_TEXTS)]
    return docs, texts


def snapshot_sealed(conn: sqlite3.Connection, kept: bytes | None) -> bool:
    """Whether the snapshot's rows still hash to ``kept``, the seal written with them (a
    library whose snapshot predates seals has none to check)."""
    if kept is None:
        return True
    docs, texts = snapshot_rows(conn)
    return bytes(kept) == snapshot_seal(docs, texts)


def read_full_check(conn: sqlite3.Connection, label: object) -> FullCheck:
    """The full check of the file ``conn`` is open on (``label`` names it in errors), from the
    rows that connection sees now.

    Run it inside one read transaction so every part sees the same snapshot of the file.
    """
    meta = _meta(conn, label)
    states, text_states, folded = fold_states(conn)
    kept = meta.get(DIGEST_KEY)
    state_sound = kept is None or bytes(kept) == state_digest_of(folded)
    texts_ok = texts_consistent(conn)
    sealed = snapshot_sealed(conn, meta.get("snapshot_seal"))
    try:
        start, chain = int(meta["snapshot_csn"]), bytes(meta["snapshot_chain"])
    except KeyError as exc:
        raise CorruptReplica(f"{label} is damaged: its metadata lacks {exc.args[0]!r}") from None
    rows = conn.execute("SELECT csn, data, chain FROM log WHERE csn > ? ORDER BY csn", (start,))
    report = check_chain(start, chain, rows)
    failed = [
        p
        for ok, p in ((state_sound, STATE_MISMATCH), (texts_ok, TEXT_MISMATCH), (sealed, SNAPSHOT_MISMATCH))
        if not ok
    ]
    problem = failed[0] if failed else None
    return FullCheck(report, problem, state_sound, states, text_states, folded)


class FileCheck:
    """``read_full_check`` of the file at ``path`` on a read-only connection of its own, in one
    read transaction: ``run`` it in any thread (it shares nothing with the store's connection),
    ``cancel`` it from another. ``token`` is handed back in the result for the store to tell
    whether its rows changed since the job was made."""

    def __init__(self, path: Path, token: tuple[int, int]) -> None:
        self.path = path
        self.token = token
        self._conn: sqlite3.Connection | None = None
        self._cancelled = False
        self._guard = threading.Lock()

    def run(self) -> FullCheck:
        """The check (raises ``CorruptReplica`` if the file cannot be read, or was cancelled)."""
        uri = f"{self.path.resolve().as_uri()}?mode=ro"
        try:
            conn = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False, timeout=30)
        except sqlite3.Error as exc:
            raise CorruptReplica(f"{self.path} could not be read to verify it: {exc}") from None
        with self._guard:
            self._conn = conn
        try:
            if self._cancelled:
                raise sqlite3.OperationalError("interrupted")
            conn.execute("BEGIN")  # deferred: the first read fixes the snapshot every part sees
            try:
                return replace(read_full_check(conn, self.path), token=self.token)
            finally:
                conn.execute("COMMIT")
        except sqlite3.Error as exc:
            raise CorruptReplica(f"{self.path} could not be read to verify it: {exc}") from None
        finally:
            with self._guard:
                self._conn = None
            conn.close()

    def cancel(self) -> None:
        """Stop a running check at its next read (SQLite's interrupt is safe from any thread)."""
        with self._guard:
            self._cancelled = True
            if self._conn is not None:
                self._conn.interrupt()
