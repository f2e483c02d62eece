"""Rewriting stored rows in their current form (the migration to schema version 6): each text's
op batches folded into a fresh saved state, each document re-encoded with today's encoding, and
the snapshot's seal written anew over its rewritten rows.

What the rows mean never changes: the same values, texts and state digest. A row that does not
decode, or a text whose batches do not spell its stored text, is left exactly as it was, so the
damage stays there for ``verify`` to report rather than being folded out of sight.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

import msgpack

from localfirst.crdtmap import decode_doc, encode_doc
from localfirst.integrity import snapshot_seal
from localfirst.text import TextDoc, decode_ops

#: Rows read and rewritten per round, so a large library never sits in memory at once.
_ROUND = 500
#: The agent a folded text is loaded as: folding makes no edit of its own.
_AGENT = "migration"


def _folded(state: bytes | None, batches: list[bytes], text: str) -> bytes | None:
    """The saved state of a text after its batches, or None to leave the text as it is."""
    try:
        doc = TextDoc.decode_state(state, _AGENT) if state else TextDoc(_AGENT)
        for batch in batches:
            doc.apply(decode_ops(batch))
    except Exception:  # damage, whatever the decoder raised: verify reports it, we keep it
        return None
    if doc.pending() or doc.text != text:
        return None
    return doc.encode_state()


def fold_text_ops(db: sqlite3.Connection) -> None:
    """Give every text with op batches a fresh saved state and delete its batches."""
    keys = db.execute("SELECT DISTINCT id, field FROM text_ops ORDER BY id, field").fetchall()
    for i in range(0, len(keys), _ROUND):
        states, done = [], []
        for entity, field in keys[i : i + _ROUND]:
            row = db.execute(
                "SELECT state, text FROM texts WHERE id = ? AND field = ?", (entity, field)
            ).fetchone()
            if row is None:
                continue  # batches of no text: nothing reads them, nothing to fold them into
            batches = [
                b
                for (b,) in db.execute(
                    "SELECT ops FROM text_ops WHERE id = ? AND field = ? ORDER BY seq", (entity, field)
                )
            ]
            state = _folded(row[0], batches, str(row[1]))
            if state is not None:
                states.append((state, entity, field))
                done.append((entity, field))
        db.executemany("UPDATE texts SET state = ? WHERE id = ? AND field = ?", states)
        db.executemany("DELETE FROM text_ops WHERE id = ? AND field = ?", done)


def _reencoded(rows: list[tuple[str, bytes]]) -> Iterator[tuple[bytes, str]]:
    for key, data in rows:
        try:
            fresh = encode_doc(decode_doc(data))
        except Exception:  # an undecodable row is damage: kept as it is, for verify to report
            continue
        if fresh != data:
            yield fresh, key


def _rewrite(db: sqlite3.Connection, table: str) -> None:
    last = ""
    while True:
        rows = db.execute(
            f"SELECT id, doc FROM {table} WHERE id > ? ORDER BY id LIMIT ?", (last, _ROUND)
        ).fetchall()
        if not rows:
            return
        db.executemany(f"UPDATE {table} SET doc = ? WHERE id = ?", list(_reencoded(rows)))
        last = rows[-1][0]


def _seal(db: sqlite3.Connection) -> bytes:
    docs = [(k, bytes(d)) for k, d in db.execute("SELECT id, doc FROM snapshot_docs")]
    texts = [(e, f, bytes(s)) for e, f, s in db.execute("SELECT id, field, state FROM snapshot_texts")]
    return snapshot_seal(docs, texts)


def _kept_seal(db: sqlite3.Connection) -> bytes | None:
    row = db.execute("SELECT value FROM meta WHERE key = 'snapshot_seal'").fetchone()
    try:
        return None if row is None else bytes(msgpack.unpackb(row[0]))
    except Exception:  # an unreadable seal is damage: left for verify, never resealed
        return None


def reencode_docs(db: sqlite3.Connection) -> None:
    """Re-encode every document and snapshot document; reseal the snapshot if it was sealed and
    its rows still matched the seal (a broken seal stays broken)."""
    kept = _kept_seal(db)
    sound = kept is not None and kept == _seal(db)
    _rewrite(db, "docs")
    _rewrite(db, "snapshot_docs")
    if sound:
        db.execute("UPDATE meta SET value = ? WHERE key = 'snapshot_seal'", (msgpack.packb(_seal(db)),))
