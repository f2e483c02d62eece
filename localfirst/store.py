"""The storage port of the replica engine, and an in-memory store for tests.

The engine (``replica.py``) keeps the rules; a store only keeps what the engine hands it: entity
documents, the log rows with their CSNs, the committed booking state, outcomes and the snapshot.
The engine validates a whole batch and computes every change before its first call inside
``atomic()``, so a store that fails mid-way (disk full) must roll back all of it, and a bad
batch never reaches a store at all.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Protocol

from .booking import BookingState, Notice
from .crdtmap import Doc, encode_doc
from .integrity import fold_states, state_digest_of
from .records import Snapshot
from .vector import VersionVector
from .write import WriteId

#: (entity id, field) of a text field.
TextKey = tuple[str, str]
#: A text field's change: key, current text, op batches to append, or a state replacing all.
TextUpdate = tuple[TextKey, str, list[bytes], bytes | None]


@dataclass(slots=True)
class SnapshotRows:
    """A stored snapshot as rows (``Store.snapshot_rows``): the header and counts up front, the
    rows as iterators over the stored bytes (consumed once, in one go)."""

    header: Snapshot
    doc_count: int
    docs: Iterator[tuple[str, bytes]]
    text_count: int
    texts: Iterator[tuple[str, str, bytes]]


@dataclass(slots=True)
class Header:
    """What the engine needs in memory on open; everything larger stays in the store."""

    device: str
    library: str
    primary: str
    csn: int
    vector: VersionVector
    snapshot_csn: int
    snapshot_vector: VersionVector
    bookings: BookingState
    chain: bytes


class Store(Protocol):
    """Durable (or not) home of one replica."""

    def atomic(self) -> AbstractContextManager[object]:
        """One transaction: everything inside is kept, or nothing is."""
        ...

    def close(self) -> None: ...

    def initialise(self, device: str, snapshot: Snapshot) -> None:
        """Create an empty replica of a library from its genesis (or a joiner's snapshot)."""
        ...

    def header(self) -> Header:
        """The replica's header; raises if the store holds no replica."""
        ...

    def save_committed(self, primary: str, bookings: BookingState) -> None: ...

    def load_docs(self, ids: Collection[str]) -> dict[str, Doc]:
        """Fresh copies of the named documents that exist (the engine mutates them)."""
        ...

    def save_docs(self, docs: Iterable[tuple[str, Doc]]) -> None: ...

    def iter_docs(self, kind: str | None = None, *, conflicted: bool = False) -> Iterator[tuple[str, Doc]]:
        """Documents in id order, of one kind, or only those with siblings to resolve."""
        ...

    def append(self, rows: Iterable[tuple[WriteId, int | None, bytes, bytes | None]]) -> None:
        """Add writes to the log: id, CSN (None while tentative), bytes, chain hash if committed."""
        ...

    def set_csns(self, entries: Sequence[tuple[int, WriteId, bytes]]) -> None:
        """Mark held tentative writes committed: CSN, id, chain hash."""
        ...

    def chain_at(self, csn: int) -> bytes | None:
        """The chain hash at a CSN still in the log (or the snapshot's), else None."""
        ...

    def committed_after(self, csn: int) -> Iterator[tuple[int, WriteId, bytes]]:
        """Committed writes with a CSN above ``csn``, in CSN order."""
        ...

    def tentative(self) -> list[bytes]:
        """Every tentative write, in any order."""
        ...

    def save_outcomes(self, outcomes: Sequence[tuple[WriteId, int, bool]]) -> None:
        """Record (write, outcome, committed) of order-sensitive writes."""
        ...

    def outcome(self, wid: WriteId) -> tuple[int, bool] | None: ...

    def add_notices(self, notices: Sequence[Notice]) -> None: ...

    def notices(self) -> list[Notice]: ...

    def load_texts(self, keys: Collection[TextKey]) -> dict[TextKey, tuple[bytes | None, list[bytes]]]:
        """Each text field's saved CRDT state and the op batches appended since it."""
        ...

    def save_texts(self, updates: Sequence[TextUpdate]) -> None:
        """Keep each text's current string; append its op batches, or replace its saved state
        (which then holds every op, so the batches before it are dropped)."""
        ...

    def text(self, key: TextKey) -> str | None:
        """A text field's current string, without loading its CRDT."""
        ...

    def snapshot(self) -> Snapshot:
        """The stored snapshot, documents included."""
        ...

    def reset_log(self, rows: Sequence[tuple[WriteId, bytes]]) -> None:
        """Replace every log row, committed or not, by these tentative writes (a repair)."""
        ...

    def replace_snapshot(
        self,
        snapshot: Snapshot,
        docs: dict[str, Doc] | None,
        texts: dict[TextKey, tuple[str, bytes]] | None = None,
        settled: Collection[TextKey] = (),
    ) -> None:
        """Keep a new snapshot, drop the log rows its vector covers, and replace all current
        documents and texts when given (a peer's snapshot replaces this replica's state).

        ``settled`` names text fields whose current CRDT is exactly the snapshot's (every edit
        of them is folded into it): their saved state may become the snapshot's, their op
        batches dropped."""
        ...

    # -- the welcome read from stored rows ------------------------------------------------------

    def snapshot_rows(self) -> SnapshotRows:
        """The stored snapshot's header (its documents and texts left empty) and its rows as
        stored: encoded documents by id and text states by (entity, field), each key once,
        read a part at a time, so a welcome is packed without decoding every document."""
        ...


class MemoryStore:
    """A ``Store`` in dictionaries: the core's rules run on it in memory, in milliseconds."""

    def __init__(self) -> None:
        self._header: Header | None = None
        self._docs: dict[str, Doc] = {}
        self._log: dict[WriteId, tuple[int | None, bytes]] = {}
        self._chains: dict[int, bytes] = {}
        self._outcomes: dict[WriteId, tuple[int, bool]] = {}
        self._notices: list[Notice] = []
        self._snapshot: Snapshot | None = None
        self._texts: dict[TextKey, tuple[str, bytes | None, list[bytes]]] = {}

    def close(self) -> None:
        return None

    def atomic(self) -> AbstractContextManager[object]:
        # The engine finishes every check before its first store call, so nothing can fail
        # half-way in memory.
        return nullcontext()

    def initialise(self, device: str, snapshot: Snapshot) -> None:
        self._snapshot = snapshot
        self._docs = {k: d.copy() for k, d in snapshot.docs.items()}
        self._header = Header(
            device,
            snapshot.library,
            snapshot.primary,
            snapshot.csn,
            snapshot.vector,
            snapshot.csn,
            snapshot.vector,
            snapshot.bookings.copy(),
            snapshot.chain,
        )

    def header(self) -> Header:
        if self._header is None:
            raise LookupError("this store holds no replica")
        h = self._header
        vector = dict(h.snapshot_vector)
        csn = h.snapshot_csn
        for wid, (wcsn, _) in self._log.items():
            vector[wid.origin] = max(vector.get(wid.origin, 0), wid.stamp)
            if wcsn is not None:
                csn = max(csn, wcsn)
        return Header(
            h.device,
            h.library,
            h.primary,
            csn,
            VersionVector(vector),
            h.snapshot_csn,
            h.snapshot_vector,
            h.bookings.copy(),
            self._chains.get(csn, h.chain) if csn > h.snapshot_csn else h.chain,
        )

    def save_committed(self, primary: str, bookings: BookingState) -> None:
        assert self._header is not None
        self._header.primary = primary
        self._header.bookings = bookings.copy()

    def load_docs(self, ids: Collection[str]) -> dict[str, Doc]:
        return {i: self._docs[i].copy() for i in ids if i in self._docs}

    def save_docs(self, docs: Iterable[tuple[str, Doc]]) -> None:
        for key, doc in docs:
            self._docs[key] = doc.copy()

    def iter_docs(self, kind: str | None = None, *, conflicted: bool = False) -> Iterator[tuple[str, Doc]]:
        for key, doc in sorted(self._docs.items()):
            if (kind is None or doc.kind == kind) and (not conflicted or doc.conflicts()):
                yield key, doc.copy()

    def append(self, rows: Iterable[tuple[WriteId, int | None, bytes, bytes | None]]) -> None:
        for wid, csn, data, chain in rows:
            self._log[wid] = (csn, data)
            if csn is not None and chain is not None:
                self._chains[csn] = chain

    def set_csns(self, entries: Sequence[tuple[int, WriteId, bytes]]) -> None:
        for csn, wid, chain in entries:
            self._log[wid] = (csn, self._log[wid][1])
            self._chains[csn] = chain

    def chain_at(self, csn: int) -> bytes | None:
        assert self._header is not None
        if csn == self._header.snapshot_csn:
            return self._header.chain
        return self._chains.get(csn) if csn > self._header.snapshot_csn else None

    def committed_after(self, csn: int) -> Iterator[tuple[int, WriteId, bytes]]:
        rows = [(c, w, d) for w, (c, d) in self._log.items() if c is not None and c > csn]
        yield from sorted(rows)

    def tentative(self) -> list[bytes]:
        return [d for c, d in self._log.values() if c is None]

    def save_outcomes(self, outcomes: Sequence[tuple[WriteId, int, bool]]) -> None:
        for wid, outcome, committed in outcomes:
            self._outcomes[wid] = (outcome, committed)

    def outcome(self, wid: WriteId) -> tuple[int, bool] | None:
        return self._outcomes.get(wid)

    def add_notices(self, notices: Sequence[Notice]) -> None:
        self._notices.extend(notices)

    def notices(self) -> list[Notice]:
        return list(self._notices)

    def load_texts(self, keys: Collection[TextKey]) -> dict[TextKey, tuple[bytes | None, list[bytes]]]:
        return {k: (self._texts[k][1], list(self._texts[k][2])) for k in keys if k in self._texts}

    def save_texts(self, updates: Sequence[TextUpdate]) -> None:
        for key, text, ops, state in updates:
            _, old_state, batches = self._texts.get(key, ("", None, []))
            if state is not None:
                self._texts[key] = (text, state, [])
            else:
                self._texts[key] = (text, old_state, [*batches, *ops])

    def text(self, key: TextKey) -> str | None:
        entry = self._texts.get(key)
        return None if entry is None else entry[0]

    def state_digest(self) -> bytes:
        """The digest of the documents and texts (``integrity.fold_states``), folded anew."""
        texts = ((entity, field, text) for (entity, field), (text, _, _) in self._texts.items())
        return state_digest_of(fold_states(self._docs.items(), texts))

    def reset_log(self, rows: Sequence[tuple[WriteId, bytes]]) -> None:
        self._log = {wid: (None, data) for wid, data in rows}
        self._chains = {}

    def snapshot(self) -> Snapshot:
        if self._snapshot is None:
            raise LookupError("this store holds no replica")
        return self._snapshot

    def replace_snapshot(
        self,
        snapshot: Snapshot,
        docs: dict[str, Doc] | None,
        texts: dict[TextKey, tuple[str, bytes]] | None = None,
        settled: Collection[TextKey] = (),
    ) -> None:
        assert self._header is not None
        if texts is not None:
            self._texts = {k: (text, state, []) for k, (text, state) in texts.items()}
        for key in settled:
            if key in self._texts:
                self._texts[key] = (self._texts[key][0], snapshot.texts[key], [])
        self._snapshot = snapshot
        self._log = {w: v for w, v in self._log.items() if not snapshot.vector.covers(w)}
        self._chains = {c: h for c, h in self._chains.items() if c > snapshot.csn}
        self._header.snapshot_csn = snapshot.csn
        self._header.snapshot_vector = snapshot.vector
        self._header.chain = snapshot.chain
        if docs is not None:
            self._docs = {k: d.copy() for k, d in docs.items()}

    # -- the welcome read from stored rows ------------------------------------------------------

    def snapshot_rows(self) -> SnapshotRows:
        snap = self.snapshot()
        header = Snapshot(
            snap.library, snap.csn, snap.vector, snap.primary, {}, snap.bookings, snap.chain, snap.outcomes
        )
        docs = ((key, encode_doc(doc)) for key, doc in sorted(snap.docs.items()))
        texts = ((e, f, state) for (e, f), state in sorted(snap.texts.items()))
        return SnapshotRows(header, len(snap.docs), docs, len(snap.texts), texts)
