"""Verification of a committed log: recompute the hash chain from the stored rows.

The chain hash stored per row is only a claim; ``check_chain`` recomputes it from each row's
write bytes in CSN order, so an edited, truncated or missing row is found at its CSN.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

import msgpack

from .crdtmap import Doc
from .log import chain_next
from .write import decode_write

#: What can be wrong with a committed row.
CHAIN_MISMATCH = "chain mismatch"
STATE_MISMATCH = "state digest mismatch (a stored document was changed)"
TEXT_MISMATCH = "text mismatch (a stored note body was changed)"
SNAPSHOT_MISMATCH = "snapshot mismatch (a stored snapshot row was changed)"
UNDECODABLE = "undecodable row"
MISSING = "missing row"


class ReplicaDamaged(Exception):
    """The committed log failed verification: nothing may be claimed or served from it."""


@dataclass(frozen=True, slots=True)
class VerifyReport:
    """The outcome of a verification: ok up to ``csn``, or the first bad CSN and what is wrong."""

    ok: bool
    csn: int  # the last CSN verified (ok) or the first bad one
    chain: bytes  # the recomputed chain hash at ``csn`` when ok
    problem: str | None = None
    checked: int = 0  # rows recomputed

    def describe(self) -> str:
        """One line for status and the CLI."""
        if self.ok:
            return f"ok: committed log verified up to commit #{self.csn} ({self.checked} rows checked)"
        return f"damaged at commit #{self.csn}: {self.problem}"

    def to_json(self) -> dict[str, object]:
        """A JSON-able form for the CLI and the control socket."""
        return {"ok": self.ok, "csn": self.csn, "problem": self.problem, "checked": self.checked}


def check_chain(
    csn: int, chain: bytes, rows: Iterable[tuple[int, bytes | None, bytes | None]]
) -> VerifyReport:
    """Recompute the chain from ``(csn, chain)`` over ``rows`` of ``(csn, data, stored chain)``
    in CSN order; the first row that is missing, undecodable or disagrees is reported.

    A row whose bytes chain to its stored hash holds exactly the bytes that were committed
    (which decoded when they arrived), so only a row that disagrees is decoded, to say whether
    it is cut short or edited.
    """
    checked = 0
    for wcsn, data, stored in rows:
        if wcsn != csn + 1:
            return VerifyReport(False, csn + 1, chain, MISSING, checked)
        if data is None:
            return VerifyReport(False, wcsn, chain, UNDECODABLE, checked)
        chained = chain_next(chain, data)
        if stored is None or bytes(stored) != chained:
            return VerifyReport(False, wcsn, chain, _what_is_wrong(bytes(data)), checked)
        chain, csn = chained, wcsn
        checked += 1
    return VerifyReport(True, csn, chain, None, checked)


def _what_is_wrong(data: bytes) -> str:
    try:
        decode_write(data)
    except Exception:  # any decoding failure is damage, whatever the decoder raised
        return UNDECODABLE
    return CHAIN_MISMATCH


#: Size of the state digest folded into the in-sync check.
STATE_DIGEST_BYTES = 16


def _canonical(value: object) -> object:
    """Order-free form of a value: a set's elements arrive in different orders on replicas."""
    if isinstance(value, list):
        return sorted((_canonical(v) for v in value), key=msgpack.packb)
    return value


def doc_state_hash(key: str, doc: Doc) -> int:
    """The hash of one entity's visible state (kind, existence, winning values)."""
    values = sorted((k, _canonical(v)) for k, v in doc.values().items())
    data = msgpack.packb([key, doc.kind, doc.exists, values])
    return int.from_bytes(hashlib.sha256(data).digest()[:STATE_DIGEST_BYTES])


def text_state_hash(entity: str, field: str, text: str) -> int:
    """The hash of one text field's visible text (a note body): replicas holding the same edits
    show the same text, whatever their CRDT states' encodings."""
    data = msgpack.packb(["text", entity, field, text])
    return int.from_bytes(hashlib.sha256(data).digest()[:STATE_DIGEST_BYTES])


def text_matches(state: bytes | None, batches: Iterable[bytes], text: str) -> bool:
    """Whether a text field's saved CRDT state and the op batches appended since it spell the
    text stored beside them (the digest covers the text; this ties the CRDT to it)."""
    from .text import TextDoc, decode_ops

    try:
        doc = TextDoc.decode_state(state, "verify") if state else TextDoc("verify")
        for batch in batches:
            doc.apply(decode_ops(batch))
    except Exception:  # an undecodable state or batch is damage, whatever the decoder raised
        return False
    return doc.text == text


def snapshot_seal(docs: Iterable[tuple[str, bytes]], texts: Iterable[tuple[str, str, bytes]]) -> bytes:
    """A hash over a snapshot's stored rows (encoded documents and text states, in key order):
    kept beside them when the snapshot is written, so a row changed later on disk is caught
    before it is handed to a joining device or a repair."""
    h = hashlib.sha256()
    for key, data in sorted(docs):
        h.update(msgpack.packb(["doc", key, data]))
    for entity, field, state in sorted(texts):
        h.update(msgpack.packb(["text", entity, field, state]))
    return h.digest()


def state_digest_of(folded: int) -> bytes:
    """The state digest: the XOR of every entity's hash, so one entity's change updates it
    in O(1); replicas holding the same writes show the same state and so the same digest."""
    return folded.to_bytes(STATE_DIGEST_BYTES)


def fold_states(docs: Iterable[tuple[str, Doc]], texts: Iterable[tuple[str, str, str]] = ()) -> int:
    """XOR of ``doc_state_hash`` over all documents and ``text_state_hash`` over all texts
    (``(entity, field, text)``)."""
    folded = 0
    for key, doc in docs:
        folded ^= doc_state_hash(key, doc)
    for entity, field, text in texts:
        folded ^= text_state_hash(entity, field, text)
    return folded
