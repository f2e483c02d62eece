"""Repair of a damaged replica from a member's copy, keeping this device's unsynced writes.

A member sends its snapshot and every committed write after it (a :class:`Batch` with a
snapshot and full commit entries, nothing tentative). :func:`repair` checks it as a peer's
batch is checked (library, CSN order, write ids, the chain hash recomputed over it), folds it
into the committed state at the member's CSN, and replaces this replica's log, snapshot,
documents and texts with it in one transaction. Writes this replica holds that the member's
committed state does not cover stay: commits of its own beyond the member's CSN that still
chain on to their stored hashes stay committed under the CSNs the primary gave them (a primary
repaired from a member behind it reuses no CSN); its tentative writes, and its own commits past
a damaged one that can still be read, stay as tentative writes on top. Nothing the user made
is lost, and the next anti-entropy carries it on.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .errors import CsnGap, InvalidWrite, WriteFormatError
from .integrity import STATE_MISMATCH, VerifyReport, fold_states, state_digest_of
from .log import apply_puts, chain_next
from .records import Batch, Snapshot
from .text import TextDoc
from .textfields import apply_remote
from .truncation import CommittedFold
from .write import TextEdit, Write, WriteId, decode_write

if TYPE_CHECKING:
    from .replica import Changes, Replica


def _fold_member(
    replica: Replica, batch: Batch, claimed: tuple[int, bytes] | None
) -> tuple[CommittedFold, int, bytes]:
    """Fold a member's repair batch: the committed state at its last CSN, and its chain hash.
    The chain must agree with the hash this replica last verified and with ``claimed`` (the
    CSN and chain hash the member said it held), where the batch passes them.

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
    marks = [m for m in (_verified_mark(replica), claimed) if m is not None]
    _check_marks(marks, csn, chain)
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
        _check_marks(marks, csn, chain)
    return fold, csn, chain


def _verified_mark(replica: Replica) -> tuple[int, bytes] | None:
    mark = getattr(replica._store, "verified_mark", None)  # a store that keeps one (SQLite)
    found: tuple[int, bytes] | None = mark() if mark is not None else None
    return found


def _check_marks(marks: list[tuple[int, bytes]], csn: int, chain: bytes) -> None:
    for at, expected in marks:
        if at == csn and expected != chain:
            raise InvalidWrite(f"repair: the member's log disagrees at commit #{csn} with a hash known here")


def _decoded(wid: WriteId, data: bytes) -> Write | None:
    try:
        write = decode_write(bytes(data))
    except Exception:  # a damaged row: it is left out
        return None
    return write if write.id == wid else None


def _own_commits(replica: Replica, after: int) -> list[tuple[int, WriteId, bytes]]:
    """This replica's committed rows beyond ``after`` (the member lacks them), as far as they
    can be read at all."""
    try:
        return [(c, w, bytes(d)) for c, w, d in replica._store.committed_after(after)]
    except Exception:  # the rows are damaged: only the member's copy counts
        return []


def _fold_own(
    replica: Replica, fold: CommittedFold, csn: int, chain: bytes
) -> tuple[int, bytes, list[tuple[Write, bytes]]]:
    """Fold on this replica's own commits beyond the member's CSN while they chain on from the
    member's hash to the hashes stored with them (so their CSNs stay as the primary gave them);
    from the first that does not, the writes that can be read stay as tentative ones."""
    rest: list[tuple[Write, bytes]] = []
    for wcsn, wid, data in _own_commits(replica, csn):
        write = _decoded(wid, data)
        if write is None:
            continue
        if not rest and wcsn == csn + 1 and replica._store.chain_at(wcsn) == chain_next(chain, data):
            fold.add(write)
            csn, chain = wcsn, chain_next(chain, data)
        else:
            rest.append((write, data))
    return csn, chain, rest


def committed_state(
    replica: Replica, batch: Batch, claimed: tuple[int, bytes] | None = None
) -> tuple[Snapshot, list[tuple[Write, bytes]]]:
    """The committed state a repair rebuilds from: the member's, carried on by this replica's
    own sound commits beyond it; and the writes of this replica it does not cover (its
    tentative writes, and commits of its own that could not be proven), to keep on top."""
    fold, csn, chain = _fold_member(replica, batch, claimed)
    csn, chain, rest = _fold_own(replica, fold, csn, chain)
    snap = fold.snapshot(csn, chain)
    kept: dict[WriteId, tuple[Write, bytes]] = {}
    for write, data in [*((w, replica._bytes[w.id]) for w in replica.tentative()), *rest]:
        if not snap.vector.covers(write.id):
            kept[write.id] = (write, data)
    return snap, [kept[wid] for wid in sorted(kept)]


def repair(replica: Replica, batch: Batch, claimed: tuple[int, bytes] | None = None) -> Changes:
    """Replace the replica's committed log and state by a member's (see the module docstring);
    ``claimed``: the (CSN, chain hash) the member said it held, which its log must bear out.

    Returns what changed (``snapshot``: everything may have). The caller verifies afterwards.

    Raises:
        ReplicaError: the member's batch is bad; nothing was applied.
    """
    from .replica import Changes

    snap, kept = committed_state(replica, batch, claimed)
    writes = [write for write, _ in kept]
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
        store.reset_log([(write.id, data) for write, data in kept])
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


def rebuilt_digest(replica: Replica) -> bytes:
    """The state digest this replica's own snapshot and log make: what its stored documents and
    note bodies must show. Replays the log since the snapshot (a truncation's cost), so it is
    asked only when a peer with an equal log shows another state."""
    store = replica._store
    snap = store.snapshot()
    fold = CommittedFold(snap, replica.device)
    for _csn, _wid, data in store.committed_after(snap.csn):
        fold.add(decode_write(data))
    tentative = replica.tentative()
    apply_puts(fold.docs, tentative)
    opened = fold.all_texts()
    for write in tentative:
        for op in write.ops:
            if isinstance(op, TextEdit):
                apply_remote(opened.setdefault((op.entity, op.field), TextDoc(replica.device)), op)
    texts = ((entity, field, doc.text) for (entity, field), doc in opened.items())
    return state_digest_of(fold_states(fold.docs.items(), texts))


def mark_damaged(replica: Replica, problem: str = STATE_MISMATCH) -> VerifyReport:
    """Record that the replica's stored state is damaged though its log verifies: it then
    claims nothing and asks for a repair, until a repair (or a full check) clears it."""
    report = VerifyReport(False, replica.csn, replica.chain, problem)
    replica.damaged = report
    keep = getattr(replica._store, "mark_damaged", None)  # a store that remembers (SQLite)
    if keep is not None:
        keep(report)
    return report
