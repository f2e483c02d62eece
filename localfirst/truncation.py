"""Log truncation in bounded steps: fold committed writes into the snapshot a chunk at a time.

Folding a long log replays every write in it; done in one go it holds the caller (a node's
event loop) for as long as that takes. :func:`fold_log` is a generator that replays at most
``step`` commits per iteration, so the caller can hand control back between steps; the new
snapshot is stored, and the folded rows dropped, in one transaction after the last step. The
committed log up to the truncation point never changes, so writes and commits may go on
between steps; if the snapshot moved meanwhile (another truncation), the fold stops unwritten.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from .log import commit_ordered, devices_in
from .records import Snapshot
from .revocation import REJECTED, Revocations, replay
from .store import TextKey
from .text import TextDoc
from .vector import VersionVector
from .write import TextEdit, Write, decode_write

if TYPE_CHECKING:
    from .replica import Replica


class CommittedFold:
    """The committed state carried forward from a snapshot, one committed write at a time:
    what truncation stores as its new snapshot, and what a repair rebuilds a replica from."""

    def __init__(self, snap: Snapshot, device: str) -> None:
        self.library = snap.library
        self.device = device
        self.docs = {k: d.copy() for k, d in snap.docs.items()}
        self.bookings = snap.bookings.copy()
        self.primary = snap.primary
        self.vector = snap.vector.as_dict()
        self.outcomes = dict(snap.outcomes)
        # Text states are decoded only once a folded write edits them: a fold replays the recent
        # writes of a few notes, and decoding (then re-encoding) every note body of the library
        # made each truncation cost the whole library (issue 17).
        self.states = dict(snap.texts)
        self.texts: dict[TextKey, TextDoc] = {}
        self.revocations = Revocations.from_docs(snap.docs.items())
        # Kept up to date per write: scanning every document per folded write made a fold cost
        # writes x documents (issue 17's profile).
        self.devices = devices_in(self.docs)

    def add(self, write: Write) -> None:
        """Fold one committed write (the next in CSN order) into the state; a write whose
        origin the committed log already revoked is folded as REJECTED, with no effect."""
        wid = write.id
        rejected = self.revocations.commit(write)
        void = rejected and wid.origin != self.device  # a revoked device keeps its own
        self._open_texts(write)
        replay(write, void, self.docs, self.texts, agent=self.device)
        self._learn_devices(write)
        outcome = None
        if not void:
            outcome, self.primary = commit_ordered(self.bookings, self.primary, write, self.devices)
        if rejected:
            outcome = REJECTED
        if outcome is not None:
            self.outcomes[wid] = outcome
        self.vector[wid.origin] = max(self.vector.get(wid.origin, 0), wid.stamp)

    def _open_texts(self, write: Write) -> None:
        for op in write.ops:
            if isinstance(op, TextEdit):
                key = (op.entity, op.field)
                if key not in self.texts and key in self.states:
                    self.texts[key] = TextDoc.decode_state(self.states[key], self.device)

    def all_texts(self) -> dict[TextKey, TextDoc]:
        """Every text field folded so far, each decoded (for a rebuild that needs them all)."""
        for key, state in self.states.items():
            if key not in self.texts:
                self.texts[key] = TextDoc.decode_state(state, self.device)
        return self.texts

    def _learn_devices(self, write: Write) -> None:
        """Add the device documents this write made (a document's kind never changes)."""
        for op in write.ops:
            entity = getattr(op, "entity", None)
            if not isinstance(entity, str):
                continue
            doc = self.docs.get(entity)
            if doc is not None and doc.kind == "device":
                self.devices.add(entity)

    def snapshot(self, csn: int, chain: bytes) -> Snapshot:
        """The snapshot of the state folded so far, at commit ``csn`` with chain hash ``chain``."""
        states = {**self.states, **{k: d.encode_state() for k, d in self.texts.items()}}
        return Snapshot(
            self.library,
            csn,
            VersionVector(self.vector),
            self.primary,
            self.docs,
            self.bookings,
            chain,
            self.outcomes,
            states,
        )


def fold_log(replica: Replica, upto: int | None = None, step: int | None = None) -> Iterator[int]:
    """Fold committed writes up to ``upto`` (default: all) into the snapshot and drop them.

    Yields the number of commits replayed so far after every ``step`` of them (default: never
    in between); the store is written only once the generator is exhausted.

    Raises:
        ValueError: ``upto`` lies past the committed prefix.
    """
    upto = replica.csn if upto is None else upto
    if upto > replica.csn:
        raise ValueError(f"cannot truncate past the committed prefix (#{replica.csn})")
    if upto <= replica.truncated_csn:
        return
    store = replica._store
    snap = store.snapshot()
    fold = CommittedFold(snap, replica.device)
    for done, (csn, _wid, data) in enumerate(store.committed_after(snap.csn), 1):
        if csn > upto:
            break
        fold.add(decode_write(data))
        if step is not None and done % step == 0:
            yield done
            if replica.truncated_csn != snap.csn:
                return  # truncated meanwhile by someone else: this fold is stale
    chain = store.chain_at(upto)
    assert chain is not None, "every committed row carries its chain hash"
    later = [decode_write(data) for _csn, _wid, data in store.committed_after(upto)]
    pending = _text_keys([*later, *replica.tentative()])
    settled = [key for key in fold.texts if key not in pending]
    with store.atomic():
        store.replace_snapshot(fold.snapshot(upto, chain), None, settled=settled)
    replica._snap_csn = upto


def _text_keys(writes: list[Write]) -> set[TextKey]:
    """The text fields these writes edit."""
    return {(op.entity, op.field) for write in writes for op in write.ops if isinstance(op, TextEdit)}
