"""Repair of a damaged replica from a member's copy, keeping this device's unsynced writes.

A member sends its snapshot and every committed write after it (a :class:`Batch` with a
snapshot and full commit entries, nothing tentative). :func:`repair` checks it as a peer's
batch is checked (library, CSN order, write ids, the chain hash recomputed over it), folds it
into the committed state at the member's CSN, and replaces this replica's log, snapshot,
documents and texts with it in one transaction. Writes this replica holds that the member's
committed state does not cover -- its tentative writes, and any committed here but not yet
there that can still be read -- stay as tentative writes on top, so nothing the user made is
lost and the next anti-entropy carries them on.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .errors import CsnGap, InvalidWrite, WriteFormatError
from .log import apply_puts, chain_next
from .records import Batch, Snapshot
from .text import TextDoc
from .textfields import apply_remote
from .truncation import CommittedFold
from .write import TextEdit, Write, WriteId, decode_write

if TYPE_CHECKING:
    from .replica import Changes, Replica


def committed_state(replica: Replica, batch: Batch) -> Snapshot:
    """Fold a member's repair batch into the committed state at its last CSN.

    Raises:
        InvalidWrite, CsnGap, WriteFormatError: the batch is not a whole committed log of this
            library after a snapshot (nothing was applied).
    """
    snap = batch.snapshot
    if snap is None:
        raise InvalidWrite("a repair carries the member's snapshot")
    if snap.library != replica.library:
        raise InvalidWrite("the repair snapshot belongs to another library")
    if batch.tentative:
        raise InvalidWrite("a repair carries committed writes only")
    fold = CommittedFold(snap, replica.device)
    csn, chain = snap.csn, snap.chain
    for entry in batch.committed:
        if entry.csn != csn + 1:
            raise CsnGap(f"repair: expected commit #{csn + 1}, got #{entry.csn}")
        if entry.write is None:
            raise InvalidWrite(f"repair: commit #{entry.csn} comes without its write")
        write = decode_write(entry.write)
        if write.id != entry.id:
            raise WriteFormatError(f"repair: commit #{entry.csn}: the write is not {entry.id}")
        fold.add(write)
        csn, chain = entry.csn, chain_next(chain, entry.write)
    return fold.snapshot(csn, chain)


def _readable_rows(replica: Replica, after: int) -> list[tuple[Write, bytes]]:
    """This replica's own writes beyond ``after`` that can still be read: its tentative writes
    and committed rows the member lacks (a damaged row among them is left to the member)."""
    out = [(w, replica._bytes[w.id]) for w in replica.tentative()]
    try:
        rows = list(replica._store.committed_after(after))
    except Exception:  # the rows are damaged: only the member's copy counts
        rows = []
    for _csn, wid, data in rows:
        try:
            write = decode_write(bytes(data))
        except Exception:  # a damaged row: the member's copy replaces it
            continue
        if write.id == wid:
            out.append((write, bytes(data)))
    return out


def repair(replica: Replica, batch: Batch) -> Changes:
    """Replace the replica's committed log and state by a member's (see the module docstring).

    Returns what changed (``snapshot``: everything may have). The caller verifies afterwards.

    Raises:
        ReplicaError: the member's batch is bad; nothing was applied.
    """
    from .replica import Changes

    snap = committed_state(replica, batch)
    kept: dict[WriteId, tuple[Write, bytes]] = {}
    for write, data in _readable_rows(replica, snap.csn):
        if not snap.vector.covers(write.id):
            kept[write.id] = (write, data)
    writes = [kept[wid][0] for wid in sorted(kept)]
    docs = {k: d.copy() for k, d in snap.docs.items()}
    apply_puts(docs, writes)
    texts = {k: TextDoc.decode_state(st, replica.device) for k, st in snap.texts.items()}
    for write in writes:
        for op in write.ops:
            if isinstance(op, TextEdit):
                apply_remote(texts.setdefault((op.entity, op.field), TextDoc(replica.device)), op)
    saved = {k: (d.text, d.encode_state()) for k, d in texts.items()}
    store = replica._store
    with store.atomic():
        store.reset_log([(wid, kept[wid][1]) for wid in sorted(kept)])
        store.replace_snapshot(snap, docs, saved)
        store.save_committed(snap.primary, snap.bookings)
        store.save_outcomes([(wid, outcome, True) for wid, outcome in snap.outcomes.items()])
    replica._texts.clear()
    replica._load()
    replica._generation += 1
    changes = Changes(frozenset(docs), snapshot=True)
    replica._unseen.add(changes)
    return changes


def repair_batch(replica: Replica) -> Batch:
    """What a member sends a damaged peer: its snapshot and every committed write after it,
    once its own committed log is verified (``ReplicaDamaged`` if it is damaged too)."""
    from .records import Summary
    from .vector import VersionVector

    replica.check_sound()
    batch = replica.batch_for(Summary(VersionVector(), -1))  # -1: before any snapshot
    batch.tentative = []
    return batch
