"""Checking what arrives before anything is applied: the rules every write must keep, and
what a peer's batch means for this replica (the commits it names, the writes that are new).

A buggy or hostile peer's batch raises here, before the replica or its store is touched.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from .booking import procedure
from .crdtmap import Doc
from .domain import check_put, check_text_edit
from .errors import CausalityError, CsnGap, InvalidWrite, UnknownOrigin, WriteFormatError
from .log import devices_in
from .records import Batch, CommitEntry, Snapshot
from .vector import VersionVector
from .write import Put, TextEdit, Write, WriteId, decode_write


@dataclass(slots=True)
class Plan:
    """A batch checked and ready to apply; building it changed nothing."""

    new: list[tuple[Write, bytes, int | None]] = field(default_factory=list)
    commits: list[tuple[int, WriteId]] = field(default_factory=list)
    snapshot: Snapshot | None = None
    docs: dict[str, Doc] = field(default_factory=dict)  # already loaded by a local write
    looked_up: frozenset[str] = frozenset()  # ids a local write found missing: no second look
    local: bool = False  # a local write's text edits are already in the open text CRDTs
    ordered: bool = True  # whether a new write may carry an order-sensitive op (False: none does)
    vector: dict[str, int] | None = None  # the version vector once applied (None: unchanged)


def check_write(write: Write, vector: dict[str, int], devices: set[str]) -> bool:
    """Refuse a write that breaks a rule; learn the devices it adds (for later writes).

    Returns whether the write carries an order-sensitive op.
    """
    if write.id.origin not in devices:
        raise UnknownOrigin(f"write {write.id.label(None)} comes from a device not in the library")
    ordered = 0
    added: list[str] = []  # devices this write admits, learnt once it passes every check
    for op in write.ops:
        if isinstance(op, Put):
            _check_put(write, op, vector)
            if op.kind == "device":
                added.append(op.entity)
        elif isinstance(op, TextEdit):
            check_text_edit(op)  # its ops are decoded once, when applied (still before saving)
            _check_seen(write, op.seen, vector)
        else:
            ordered += 1
            procedure(op.procedure).validate(op.params)
    if ordered > 1:
        raise InvalidWrite("a write carries at most one order-sensitive op")
    devices.update(added)
    return ordered == 1


def _check_put(write: Write, op: Put, vector: dict[str, int]) -> None:
    """A put is well formed, saw only writes that arrived, and revokes no device by itself."""
    check_put(op)
    for versions in op.seen.values():
        _check_seen(write, versions, vector)
    for instances in op.removed.values():
        _check_seen(write, (WriteId(stamp, origin) for stamp, origin, _ in instances), vector)
    if op.kind == "device" and op.entity == write.id.origin and "revoked" in op.fields:
        raise InvalidWrite("a device cannot revoke or re-admit itself")


def _check_seen(write: Write, seen: Iterable[WriteId], vector: dict[str, int]) -> None:
    for wid in seen:
        if vector.get(wid.origin, 0) < wid.stamp:
            raise _unseen(write, wid)


def _unseen(write: Write, seen: WriteId) -> CausalityError:
    """A write saw one that has not arrived: causal delivery is broken."""
    return CausalityError(f"write {write.id.label(None)} saw {seen.label(None)}, which has not arrived")


def plan_batch(
    batch: Batch, *, library: str, csn: int, vector: VersionVector, devices: set[str], held: set[WriteId]
) -> Plan:
    """Check a peer's batch against a replica's state (its library, CSN, vector, members and
    tentative writes) and say what applying it means; raises, having changed nothing, if any
    of it is bad."""
    plan = Plan(ordered=False)
    seen = _Seen(csn, vector.as_dict(), set(devices), set(held))
    snap = batch.snapshot
    if snap is not None and snap.csn > csn:
        if snap.library != library:
            raise InvalidWrite("the snapshot belongs to another library")
        plan.snapshot = snap
        seen.csn = snap.csn
        seen.known = snap.vector.merged(seen.known).as_dict()
        seen.held = {w for w in seen.held if not snap.vector.covers(w)}
        seen.devices |= devices_in(snap.docs)
    _plan_commits(plan, batch.committed, seen)
    known = seen.known
    for data in batch.tentative:
        write = decode_write(data)
        if known.get(write.id.origin, 0) >= write.id.stamp:
            continue
        if check_write(write, known, seen.devices):
            plan.ordered = True
        known[write.id.origin] = write.id.stamp
        plan.new.append((write, data, None))
        seen.held.add(write.id)
    plan.vector = known
    return plan


@dataclass(slots=True)
class _Seen:
    """What the replica holds as a batch is checked entry by entry."""

    csn: int
    known: dict[str, int]  # the version vector
    devices: set[str]
    held: set[WriteId]  # tentative writes held


def _plan_commits(plan: Plan, entries: Iterable[CommitEntry], seen: _Seen) -> None:
    """Check the batch's commit entries, in CSN order, and add them to the plan."""
    known, held = seen.known, seen.held
    add = plan.new.append  # a catch-up runs this loop a hundred thousand times
    for entry in entries:
        seq, wid, data = entry.csn, entry.id, entry.write
        if seq <= seen.csn:
            continue
        if seq != seen.csn + 1:
            raise CsnGap(f"expected commit #{seen.csn + 1}, got #{seq}")
        seen.csn = seq
        if known.get(wid.origin, 0) >= wid.stamp:
            if wid not in held:
                raise InvalidWrite(f"commit #{seq} names a write committed already")
            held.discard(wid)
            plan.commits.append((seq, wid))
            continue
        if data is None:
            raise InvalidWrite(f"commit #{seq} names a write this replica does not hold")
        write = decode_write(data)
        if write.id != wid:
            raise WriteFormatError(f"commit #{seq}: the write is not {wid}")
        if check_write(write, known, seen.devices):
            plan.ordered = True
        known[wid.origin] = wid.stamp
        add((write, data, seq))
