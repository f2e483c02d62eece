"""The Bayou log rules as pure functions: applying writes, executing order-sensitive writes in
log order (with undo and redo), and advancing the committed state.

The log is a committed prefix ordered by CSN, then a tentative suffix ordered by
``(stamp, origin)``. CRDT ops are applied once on arrival; order-sensitive ops are executed on
the committed booking state in CSN order, then tentatively in ``(stamp, origin)`` order on top.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field

from .booking import DONE, SET_PRIMARY, BookingState, Notice, Undo, changed_outcomes, procedure
from .crdtmap import Doc
from .errors import InvalidWrite
from .records import Snapshot
from .write import Ordered, Put, TextEdit, Write, WriteId


def genesis_chain(library: str) -> bytes:
    """The chain hash of an empty committed log."""
    return hashlib.sha256(b"localfirst-chain:" + library.encode()).digest()


def chain_next(chain: bytes, write: bytes) -> bytes:
    """The hash chained over the committed log: two replicas with equal hashes at CSN n hold
    byte-identical committed logs up to n."""
    return hashlib.sha256(chain + write).digest()


def apply_puts(docs: dict[str, Doc], writes: Iterable[Write], void: Collection[WriteId] = ()) -> None:
    """Apply the writes' CRDT ops, in order, to the documents they name (loaded in ``docs``).

    A text edit is recorded in its entity's document too (its text goes to the text CRDT
    elsewhere), so it takes part in the document's causality like a field write. A ``void``
    write (a revoked device's, see ``revocation.py``) has no effect: it only leaves an empty
    document where none was, so every replica holding it holds the same documents.
    """
    for write in writes:
        if void and write.id in void:
            for op in write.ops:
                if not isinstance(op, Ordered) and op.entity not in docs:
                    docs[op.entity] = Doc(op.kind, {})
            continue
        for op in write.ops:
            if isinstance(op, Ordered):
                continue
            doc = docs.get(op.entity)
            if doc is None:
                doc = docs[op.entity] = Doc(op.kind, {})
            elif doc.kind != op.kind:
                raise InvalidWrite(f"{op.entity} is a {doc.kind}, not a {op.kind}")
            if type(op) is Put:
                doc.apply(write.id, op)
            elif isinstance(op, TextEdit):
                doc.apply_text(write.id, op.seen)


def commit_ordered(
    bookings: BookingState, primary: str, write: Write, devices: Collection[str]
) -> tuple[int | None, str]:
    """Run a newly committed write's order-sensitive op for good; returns (outcome, primary).

    The primary changes only here: hand-over takes effect by a committed write.
    """
    op = write.ordered
    if op is None:
        return None, primary
    outcome, _ = procedure(op.procedure).execute(bookings, write.id, op.params)
    if op.procedure == SET_PRIMARY and outcome == DONE and op.params["device"] in devices:
        primary = op.params["device"]
    return outcome, primary


@dataclass(slots=True)
class Execution:
    """Booking state after the committed prefix and the tentative writes run on top of it."""

    committed: BookingState
    primary: str
    working: BookingState
    executed: list[tuple[WriteId, Undo]] = field(default_factory=list)
    tentative_outcomes: dict[WriteId, int] = field(default_factory=dict)


@dataclass(slots=True)
class Reordered:
    """The result of running order-sensitive writes after a batch, and what to persist of it."""

    execution: Execution
    outcomes: list[tuple[WriteId, int, bool]]
    notices: list[Notice]
    committed_changed: bool


def redo(
    execution: Execution,
    tentative: Iterable[Write],
    after: WriteId | None,
    void: Collection[WriteId] = (),
) -> list[tuple[WriteId, int, bool]]:
    """Execute the tentative order-sensitive writes later than ``after`` on the working state
    (``void`` ones, a revoked device's, are not run)."""
    outcomes = []
    for write in tentative:
        op = write.ordered
        if op is None or (after is not None and write.id <= after) or write.id in void:
            continue
        outcome, undo = procedure(op.procedure).execute(execution.working, write.id, op.params)
        execution.executed.append((write.id, undo))
        execution.tentative_outcomes[write.id] = outcome
        outcomes.append((write.id, outcome, False))
    return outcomes


def reorder(
    current: Execution,
    commits: list[Write],
    tentative: list[Write],
    arrived: list[Write],
    devices: Collection[str],
    snapshot: Snapshot | None = None,
    folded: Collection[Write] = (),
    void: Collection[WriteId] = (),
    force: bool = False,
) -> Reordered | None:
    """Bring the booking state up to date after writes were committed or arrived.

    Args:
        current: the execution state before the batch (left untouched).
        commits: newly committed writes, in CSN order.
        tentative: the whole tentative suffix after the batch, in ``(stamp, origin)`` order.
        arrived: the tentative writes new in this batch.
        snapshot: a snapshot that replaced the committed state, to restart from.
        folded: tentative writes the snapshot committed (their outcomes come from it).
        void: writes of revoked devices, which run nothing (committed: rejected).
        force: run everything again (a held write became void or stopped being void).

    Returns None when no order-sensitive write is affected (the common, fast case).
    """
    commits_ordered = any(w.ordered for w in commits)
    arrived_ordered = [w.id for w in arrived if w.ordered and w.id not in void]
    if snapshot is None and not commits_ordered and not arrived_ordered and not force:
        return None
    if snapshot is not None or commits_ordered or force:
        # Commitment may reorder: undo every tentative execution, run the commits for good,
        # redo the tentative suffix.
        committed, primary = current.committed, current.primary
        decided: list[tuple[WriteId, int]] = []
        if snapshot is not None:
            committed, primary = snapshot.bookings, snapshot.primary
            decided = [(w.id, snapshot.outcomes[w.id]) for w in folded if w.id in snapshot.outcomes]
        committed = committed.copy()
        for write in commits:
            if write.id in void:
                continue  # rejected: its outcome is recorded apart
            outcome, primary = commit_ordered(committed, primary, write, devices)
            if outcome is not None:
                decided.append((write.id, outcome))
        outcomes = [(wid, outcome, True) for wid, outcome in decided]
        execution = Execution(committed, primary, committed.copy())
        outcomes += redo(execution, tentative, None, void)
        notices = changed_outcomes(current.tentative_outcomes, outcomes, [*folded, *commits, *tentative])
        return Reordered(execution, outcomes, notices, committed_changed=True)
    # Only new tentative writes: undo the executions later than the earliest of them, then
    # apply it and redo the rest.
    first = min(arrived_ordered)
    execution = Execution(
        current.committed,
        current.primary,
        current.working.copy(),
        list(current.executed),
        dict(current.tentative_outcomes),
    )
    while execution.executed and execution.executed[-1][0] > first:
        wid, undo = execution.executed.pop()
        undo(execution.working)
        del execution.tentative_outcomes[wid]
    after = execution.executed[-1][0] if execution.executed else None
    outcomes = redo(execution, tentative, after, void)
    notices = changed_outcomes(current.tentative_outcomes, outcomes, tentative)
    return Reordered(execution, outcomes, notices, committed_changed=False)


def devices_in(docs: Mapping[str, Doc]) -> set[str]:
    return {key for key, doc in docs.items() if doc.kind == "device"}
