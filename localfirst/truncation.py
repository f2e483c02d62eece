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
from .text import TextDoc
from .vector import VersionVector
from .write import decode_write

if TYPE_CHECKING:
    from .replica import Replica


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
    docs = {k: d.copy() for k, d in snap.docs.items()}
    bookings, primary, vector = snap.bookings.copy(), snap.primary, snap.vector.as_dict()
    outcomes = dict(snap.outcomes)
    texts = {k: TextDoc.decode_state(st, replica.device) for k, st in snap.texts.items()}
    revocations = Revocations.from_docs(snap.docs.items())
    for done, (csn, wid, data) in enumerate(store.committed_after(snap.csn), 1):
        if csn > upto:
            break
        write = decode_write(data)
        rejected = revocations.commit(write)
        void = rejected and wid.origin != replica.device  # a revoked device keeps its own
        replay(write, void, docs, texts, agent=replica.device)
        outcome = None
        if not void:
            outcome, primary = commit_ordered(bookings, primary, write, devices_in(docs))
        if rejected:
            outcome = REJECTED
        if outcome is not None:
            outcomes[wid] = outcome
        vector[wid.origin] = max(vector.get(wid.origin, 0), wid.stamp)
        if step is not None and done % step == 0:
            yield done
            if replica.truncated_csn != snap.csn:
                return  # truncated meanwhile by someone else: this fold is stale
    chain = store.chain_at(upto)
    assert chain is not None, "every committed row carries its chain hash"
    states = {k: d.encode_state() for k, d in texts.items()}
    new = Snapshot(
        replica.library, upto, VersionVector(vector), primary, docs, bookings, chain, outcomes, states
    )
    with store.atomic():
        store.replace_snapshot(new, None)
    replica._snap_csn = upto
