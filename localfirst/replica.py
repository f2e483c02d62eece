"""The replica: the small public API that tests, the sync layer and the UI all use.

It turns user actions into writes, receives peers' batches, commits (on the primary), tells
what a peer lacks, and truncates. Rules live in ``log.py``, ``crdtmap.py`` and ``booking.py``;
persistence sits behind the ``Store`` port, so the same engine runs in memory and on SQLite.
"""

from __future__ import annotations

import bisect
import gc
import uuid
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from operator import itemgetter

from ._textcodec import unpack_state
from .booking import BOOK, RELEASE, SET_PRIMARY, Notice, Slot, notices_for
from .clock import Clock, SystemClock, next_stamp
from .crdtmap import DELETED, EDITED, SET_FIELDS, Doc, Version
from .domain import TEXT_FIELDS
from .errors import (
    InvalidWrite,
    NotPrimary,
    UnknownEntity,
)
from .integrity import (
    CHAIN_MISMATCH,
    MISSING,
    ReplicaDamaged,
    VerifyReport,
    check_chain,
    fold_states,
    state_digest_of,
)
from .log import (
    Execution,
    Reordered,
    apply_puts,
    chain_next,
    devices_in,
    genesis_chain,
    redo,
    reorder,
)
from .receive import Plan, check_write, plan_batch
from .records import (
    Batch,
    CommitEntry,
    Snapshot,
    Summary,
    decode_welcome,
    write_welcome_rows,
)
from .revocation import REJECTED, Revocations, replay, weave
from .store import Store, TextKey, TextUpdate
from .text import Op as TextOp
from .text import TextDoc, encode_ops
from .textfields import TextCache, diff_edit
from .truncation import fold_log
from .vector import VersionVector
from .write import Op, Ordered, Put, TextEdit, Value, Write, WriteId, decode_write, encode_write


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One line of the log: a write and its CSN (None while tentative)."""

    csn: int | None
    write: Write

    @property
    def label(self) -> str:
        return self.write.id.label(self.csn)


@dataclass(frozen=True, slots=True)
class Changes:
    """What one local write, commit or received batch changed, so views refresh only that.

    ``entities`` names every entity a write put fields to or edited the text of (typing received
    from a peer included), so a view of a note body or the mirror folder needs no look at the log.
    """

    entities: frozenset[str] = frozenset()
    writes: tuple[WriteId, ...] = ()
    commits: int = 0
    notices: tuple[Notice, ...] = ()
    snapshot: bool = False

    def __bool__(self) -> bool:
        return bool(self.entities or self.writes or self.commits or self.snapshot)


@dataclass(frozen=True, slots=True)
class Booking:
    """How an event stands in its bookable calendar: its slot, or None (no free slot: a conflict)."""

    slot: Slot | None
    tentative: bool


class _Unseen:
    """Changes piling up until the owner asks (kept mutable: a long import adds thousands)."""

    def __init__(self) -> None:
        self.entities: set[str] = set()
        self.writes: list[WriteId] = []
        self.commits = 0
        self.notices: list[Notice] = []
        self.snapshot = False

    def add(self, changes: Changes) -> None:
        self.entities.update(changes.entities)
        self.writes.extend(changes.writes)
        self.commits += changes.commits
        self.notices.extend(changes.notices)
        self.snapshot = self.snapshot or changes.snapshot

    def changes(self) -> Changes:
        return Changes(
            frozenset(self.entities), tuple(self.writes), self.commits, tuple(self.notices), self.snapshot
        )


@dataclass(slots=True)
class _Step:
    """A change on its way in: what it commits and brings, and what is left without effect."""

    kept: list[Write]  # the held tentative writes it starts from
    new: list[Write]
    commits: list[tuple[int, Write]]  # in CSN order
    arrived: list[Write]  # new tentative writes
    revocations: Revocations  # the committed revocations once applied
    ordered: bool = False  # an order-sensitive write may be affected
    refused: list[WriteId] = field(default_factory=list)  # committed now as rejected
    void: set[WriteId] = field(default_factory=set)  # writes that have no effect once applied
    flipped: list[Write] = field(default_factory=list)  # held writes whose verdict changed
    own: Doc | None = None  # this device's document, when the change saved it


def new_id() -> str:
    """A random 128-bit id for a library or an entity."""
    return uuid.uuid4().hex


class Replica:
    """One device's replica of one library."""

    def __init__(self, store: Store, clock: Clock | None = None) -> None:
        self._store = store
        self.clock: Clock = clock or SystemClock()
        self._generation = 0  # bumped by every change; tells transaction() what to undo
        self._unseen = _Unseen()  # what changed since the owner last asked (take_changes)
        self.damaged: VerifyReport | None = None  # set by verify() when the log is damaged
        self._verified_once = False
        self._as_of: Mapping[str, int] | None = None  # see as_of()
        self._load()

    def _load(self) -> None:
        store = self._store
        head = store.header()
        self.device = head.device
        self.library = head.library
        self.csn = head.csn
        self.chain = head.chain  # hash chained over the committed log up to self.csn
        self.vector = head.vector
        self._snap_csn = head.snapshot_csn
        self._tentative: list[Write] = []
        self._bytes: dict[WriteId, bytes] = {}
        for data in store.tentative():
            write = decode_write(data)
            self._tentative.append(write)
            self._bytes[write.id] = data
        self._tentative.sort(key=_write_id)
        self._by_id = {w.id: w for w in self._tentative}
        devices = list(store.iter_docs("device"))
        self._devices = {key for key, _ in devices}
        self._self_revoked = self._sees_own_revocation(dict(devices).get(self.device))
        self._revocations = self._committed_revocations(devices)
        gone = self._revocations.revoked() - {self.device}
        self._exec = Execution(head.bookings, head.primary, head.bookings.copy())
        redo(self._exec, self._tentative, None, {w.id for w in self._tentative if w.id.origin in gone})
        self._texts = TextCache(self.device)

    def _committed_revocations(self, devices: list[tuple[str, Doc]]) -> Revocations:
        """The committed revocations, replayed from the snapshot and the committed log; skipped
        (none) in a library where no device document was ever given a ``revoked`` field."""
        if not any("revoked" in doc.fields for _, doc in devices) and not any(
            type(op) is Put and op.kind == "device" and "revoked" in op.fields
            for write in self._tentative
            for op in write.ops
        ):
            return Revocations()
        snap = self._store.snapshot()
        revs = Revocations.from_docs(snap.docs.items())
        for _, _, data in self._store.committed_after(snap.csn):
            # Only a write naming the field can change it: the rest need not be decoded.
            if b"revoked" in data:
                revs.commit(decode_write(data))
        return revs

    @property
    def revoked(self) -> bool:
        """Whether this device knows it was revoked (a member's revocation of it arrived, even
        if not committed yet: its later writes, which saw it, commit after it and are refused).
        It is no longer a member and may not write any more; what it holds stays readable."""
        return self._self_revoked or self._revocations.is_revoked(self.device)

    def _sees_own_revocation(self, doc: Doc | None) -> bool:
        return doc is not None and any(v[2] is True for v in doc.versions("revoked"))

    @contextmanager
    def transaction(self) -> Iterator[Replica]:
        """Several local writes in one durable transaction (an import, a bulk edit): all or none."""
        mark = self._generation
        try:
            with self._store.atomic():
                yield self
        except BaseException:
            if self._generation != mark:
                self._load()  # the in-memory view ran ahead of what was rolled back
            raise

    @contextmanager
    def as_of(self, vector: Mapping[str, int]) -> Iterator[Replica]:
        """Local writes made inside supersede only versions within ``vector``.

        For an edit made from an older view (a plain file last synced when the replica stood
        at ``vector``): whatever the replica learned since is concurrent with it, so a field
        both changed is kept as siblings, and a delete seen only since is surfaced, never lost.
        """
        old, self._as_of = self._as_of, dict(vector)
        try:
            yield self
        finally:
            self._as_of = old

    # -- creating and joining ------------------------------------------------------------------

    @classmethod
    def new_library(
        cls,
        store: Store,
        device: str,
        *,
        device_name: str = "",
        members: Mapping[str, str] | None = None,
        name: str = "",
        library: str | None = None,
        clock: Clock | None = None,
    ) -> Replica:
        """Start a new library on this device, its primary; ``members`` join at genesis."""
        library = library or new_id()
        docs = {library: Doc("library", {"name": [(0, "", name)]})}
        for dev, dev_name in {device: device_name, **(members or {})}.items():
            docs[dev] = Doc("device", {"name": [(0, "", dev_name)]})
        genesis = Snapshot(library, 0, VersionVector(), device, docs, chain=genesis_chain(library))
        return cls.join(store, device, genesis, clock)

    @classmethod
    def join(cls, store: Store, device: str, snapshot: Snapshot, clock: Clock | None = None) -> Replica:
        """Make this store a replica of the library the snapshot (or genesis) belongs to."""
        with store.atomic():
            store.initialise(device, snapshot)
            # A saved state keeps exactly the visible text as one string, checked against its
            # live runs when unpacked: reading it needs no text CRDT built per note (issue 17:
            # that was a third of a joiner's time in ``join``).
            texts = snapshot.texts.items()
            store.save_texts([(key, unpack_state(state).content, [], state) for key, state in texts])
        return cls(store, clock)

    def close(self) -> None:
        """Release the store (the SQLite connection of a durable replica)."""
        self._store.close()

    def genesis(self) -> Snapshot:
        """The stored snapshot, to hand a joining device (pairing sends it as the welcome)."""
        return self._store.snapshot()

    # -- properties ----------------------------------------------------------------------------

    @property
    def primary(self) -> str:
        return self._exec.primary

    @property
    def truncated_csn(self) -> int:
        return self._snap_csn

    def summary(self) -> Summary:
        return Summary(self.vector, self.csn)

    def chain_at(self, csn: int) -> bytes | None:
        """The hash chained over the committed log up to ``csn`` (None once truncated away).

        Equal hashes at CSN n prove two replicas hold byte-identical committed logs up to n.
        """
        if csn == self.csn:
            return self.chain
        return self._store.chain_at(csn) if 0 <= csn < self.csn else None

    @property
    def store(self) -> Store:
        """The store under this replica (a node's full check reads its file off the loop)."""
        return self._store

    def defer_full_check(self) -> None:
        """A full check of this replica is under way elsewhere and will be recorded through
        ``verify(full=True)``: until then ``verify`` checks from the verified mark instead of
        making its first check in this process a full one."""
        self._verified_once = True

    def verify(self, *, full: bool = False) -> VerifyReport:
        """Recompute the committed log's chain from the stored rows (from the last verified
        mark, or all of it when ``full``); the first verification in a process is always full.

        A damaged report is kept in ``self.damaged``: sessions then neither claim identity
        nor serve rows, and no joining device is welcomed.
        """
        full = full or not self._verified_once
        checker = getattr(self._store, "verify", None)
        if checker is not None:
            report: VerifyReport = checker(full=full)
        else:  # a store without its own check: recompute through the port
            start = self._snap_csn
            base = self._store.chain_at(start)
            rows = ((c, d, self._store.chain_at(c)) for c, _w, d in self._store.committed_after(start))
            report = check_chain(start, base or b"", rows)
        if report.ok and report.csn != self.csn:
            report = VerifyReport(False, report.csn + 1, report.chain, MISSING, report.checked)
        if report.ok and report.chain != self.chain:
            report = VerifyReport(False, self.csn, report.chain, CHAIN_MISMATCH, report.checked)
        self._verified_once = True
        self.damaged = None if report.ok else report
        return report

    def state_digest(self) -> bytes:
        """A digest of the materialised state (every entity's visible values): replicas that
        hold the same writes show the same digest, so equal logs over different stored state
        are caught by the in-sync check."""
        digest = getattr(self._store, "state_digest", None)
        if digest is not None:
            found: bytes = digest()
            return found
        return state_digest_of(fold_states(self._store.iter_docs()))

    def check_sound(self) -> None:
        """Verify what is new in the committed log; raise ``ReplicaDamaged`` if it is damaged,
        before anything about it is claimed to a peer or served."""
        report = self.verify()
        if not report.ok:
            raise ReplicaDamaged(f"this replica is damaged: {report.describe()}; run `localfirst verify`")

    def welcome(self) -> bytearray:
        """What a device joining by pairing receives: the snapshot and every write after it.

        The joiner then holds the write that added it as a member, so its own stamps come
        after it and no replica ever sees the joiner's writes before its membership.
        """
        out = bytearray()
        self.write_welcome(out.extend)
        return out

    def write_welcome(self, write: Callable[[bytes], object]) -> None:
        """``welcome`` handed piece by piece to ``write`` (a node spools it to a file, so it
        never holds the library's welcome in memory; issue 17)."""
        self.check_sound()
        # Packed from the stored rows: the node never holds the snapshot's documents decoded.
        rows = self._store.snapshot_rows()
        snap = rows.header
        batch = self.batch_for(Summary(snap.vector, snap.csn))
        docs, texts = (rows.doc_count, rows.docs), (rows.text_count, rows.texts)
        write_welcome_rows(snap, docs, texts, batch, write)

    @classmethod
    def from_welcome(
        cls, store: Store, device: str, data: bytes | bytearray, clock: Clock | None = None
    ) -> Replica:
        """Make this store a replica of the library a welcome describes (see ``welcome``)."""
        snap, batch = decode_welcome(data)
        replica = cls.join(store, device, snap, clock)
        replica.receive(batch)
        return replica

    # -- local writes --------------------------------------------------------------------------

    def put(self, kind: str, entity: str, fields: Mapping[str, Value]) -> Write | None:
        """Set fields; the write supersedes exactly the versions of those fields seen here.

        A text field (a note body) given here is replaced by the smallest edit from its
        current text, so it merges with concurrent typing like any edit. Returns None when
        that leaves nothing to write (only text fields, all unchanged).
        """
        with self.transaction():
            return self._put(kind, entity, fields, self.get(entity))

    def _put(self, kind: str, entity: str, fields: Mapping[str, Value], doc: Doc | None) -> Write | None:
        """``put`` given the entity's document as read in this transaction."""
        texts = TEXT_FIELDS.get(kind, ())
        registers = {k: v for k, v in fields.items() if k not in texts}
        if doc is not None and doc.kind != kind:
            raise InvalidWrite(f"{entity} is a {doc.kind}, not a {kind}")
        ops: list[Op] = []
        if doc is None and not registers and kind == "note":
            # An entity exists through its fields; a note given only a body gets its
            # creation time, which notes carry anyway.
            registers = {"created": self.clock.now()}
        if registers or not fields:
            put = _put_op(kind, entity, doc, registers)
            if put is not None:
                ops.append(put)
        old_calendar = doc.value("calendar") if doc is not None else None
        if kind == "event" and old_calendar and registers.get("calendar", old_calendar) != old_calendar:
            # Leaving a calendar frees any slot held there (a no-op if none, decided in log order).
            ops.append(Ordered(RELEASE, {"calendar": old_calendar, "event": entity}))
        for name in texts:
            if name in fields:
                if not isinstance(fields[name], str):
                    raise InvalidWrite(f"{kind}.{name} must be text")
                edit = diff_edit(self.text(entity, name), fields[name])
                if edit is not None:
                    ops.append(self._text_edit(kind, entity, name, [edit], doc))
        return self._local(ops, doc) if ops else None

    def edit_text(self, entity: str, edits: Iterable[tuple[int, int, str]], field: str = "body") -> Write:
        """Apply an editor's edits (position, deleted count, inserted text; positions in the text
        as each edit finds it) to a text field, as one write: a burst of typing."""
        with self.transaction():
            doc = self.get(entity)
            kind = doc.kind if doc is not None else "note"
            return self._local([self._text_edit(kind, entity, field, list(edits), doc)], doc)

    def text(self, entity: str, field: str = "body") -> str:
        """A text field's current text ("" if it was never written)."""
        entry = self._texts.peek((entity, field))
        if entry is not None:
            return entry.doc.text
        return self._store.text((entity, field)) or ""

    def _text_edit(
        self, kind: str, entity: str, field: str, edits: list[tuple[int, int, str]], doc: Doc | None
    ) -> TextEdit:
        if field not in TEXT_FIELDS.get(kind, ()):
            raise InvalidWrite(f"{kind}.{field} is not a text field")
        text = self._texts.get(self._store, (entity, field)).doc
        ops: list[TextOp] = []
        try:
            for pos, delete, insert in edits:
                ops.extend(text.local_edit(pos, delete, insert))
        except (IndexError, ValueError) as exc:
            self._texts.forget([(entity, field)])  # undo the edits made before the bad one
            raise InvalidWrite(f"edit outside the text: {exc}") from None
        # The edits and deletes seen here: a delete seen is superseded (typing brings it back).
        seen = doc.seen([EDITED, DELETED]) if doc is not None else {}
        return TextEdit(kind, entity, field, encode_ops(ops), tuple(w for ws in seen.values() for w in ws))

    def create(self, kind: str, fields: Mapping[str, Value], entity: str | None = None) -> str:
        if entity:
            self.put(kind, entity, fields)
            return entity
        entity = new_id()
        with self.transaction():
            self._put(kind, entity, fields, None)  # a fresh id names nothing yet: no lookup
        return entity

    def delete(self, entity: str) -> Write:
        """Delete an entity: a tombstone superseding every version seen here."""
        with self.transaction():
            doc = self.get(entity)
            if doc is None or not doc.exists:
                raise UnknownEntity(entity)
            ops: list[Op] = [Put(doc.kind, entity, {DELETED: True}, doc.seen(doc.fields))]
            calendar = doc.value("calendar")
            if doc.kind == "event" and calendar:
                # Whether the event holds a slot is decided in commit order, not by this
                # replica's tentative view, so the release always rides along (a no-op if not).
                ops.append(Ordered(RELEASE, {"calendar": calendar, "event": entity}))
            return self._local(ops, doc)

    def restore(self, entity: str) -> Write:
        """Keep an entity that was deleted concurrently with edits: supersede the deletes."""
        with self.transaction():
            doc = self.get(entity)
            if doc is None or DELETED not in doc.fields:
                raise UnknownEntity(entity)
            return self._local([Put(doc.kind, entity, {}, doc.seen([DELETED]))], doc)

    def book(
        self,
        calendar: str,
        slots: Iterable[tuple[int, int]],
        fields: Mapping[str, Value],
        event: str | None = None,
    ) -> str:
        """Book a slot in a bookable calendar, else the first free alternative, else a conflict.

        The outcome is tentative until the primary commits the write.
        """
        event = event or new_id()
        with self.transaction():
            cal = self.get(calendar)
            if cal is None or cal.kind != "calendar" or not cal.exists:
                raise UnknownEntity(calendar)
            if cal.value("bookable") is not True:
                raise InvalidWrite("bookings need a bookable calendar")
            doc = self.get(event)
            if doc is not None and doc.kind != "event":
                raise InvalidWrite(f"{event} is a {doc.kind}, not an event")
            values = {**fields, "calendar": calendar}
            params = {"calendar": calendar, "event": event, "slots": [list(s) for s in slots]}
            put = _put_op("event", event, doc, values)
            self._local([*([put] if put is not None else []), Ordered(BOOK, params)], doc)
        return event

    def set_primary(self, device: str) -> Write:
        """Hand the primary role over; it moves once this write is committed."""
        if device not in self._devices:
            raise UnknownEntity(device)
        return self._local([Ordered(SET_PRIMARY, {"device": device})], None)

    def _local(self, ops: list[Op], doc: Doc | None) -> Write:
        """Stamp, check and integrate a local write; ``doc`` is the document it read."""
        if self.revoked:
            raise InvalidWrite(
                "this device was removed from the library: it can no longer change it "
                "(what it holds stays readable and exportable)"
            )
        stamp = next_stamp(self.clock.now(), self.vector.highest())
        if self._as_of is not None:
            ops = [_seen_as_of(op, self._as_of) for op in ops]
        write = Write(WriteId(stamp, self.device), tuple(ops))
        entities = {op.entity for op in ops if not isinstance(op, Ordered)}
        docs = {e: doc for e in entities if doc is not None}
        plan = Plan(
            new=[(write, encode_write(write), None)],
            docs=docs,
            looked_up=frozenset(entities if doc is None else ()),
            local=True,
            ordered=write.ordered is not None,
            vector={**self.vector.as_dict(), self.device: stamp},
        )
        try:
            check_write(write, self.vector.as_dict(), set(self._devices))
            self._integrate(plan)
        except BaseException:
            self._texts.forget(_text_keys([write]))  # its edits are in the open texts
            raise
        return write

    # -- commit, anti-entropy, truncation ------------------------------------------------------

    def commit(self) -> Changes:
        """On the primary: commit every tentative write in tentative order.

        Returns what changed: ``commits`` counts them; ``notices`` are outcomes that changed.
        """
        if self.primary != self.device:
            raise NotPrimary(f"{self.device} is not the primary ({self.primary} is)")
        entries = [(self.csn + i, w.id) for i, w in enumerate(self._tentative, 1)]
        return self._integrate(Plan(commits=entries, ordered=False)) if entries else Changes()

    def batch_for(self, peer: Summary) -> Batch:
        """Everything a peer with this summary lacks, in causally safe order."""
        batch = Batch()
        after, vector = peer.csn, peer.vector
        if peer.csn < self._snap_csn:
            batch.snapshot = self._store.snapshot()
            after, vector = self._snap_csn, vector.merged(batch.snapshot.vector)
        for csn, wid, data in self._store.committed_after(after):
            batch.committed.append(CommitEntry(csn, wid, None if vector.covers(wid) else data))
        batch.tentative = [self._bytes[w.id] for w in self._tentative if not vector.covers(w.id)]
        return batch

    def receive(self, batch: Batch) -> Changes:
        """Apply a peer's batch in one transaction; a bad batch raises and applies nothing."""
        with _gc_paused(len(batch) > 1000):
            plan = plan_batch(
                batch,
                library=self.library,
                csn=self.csn,
                vector=self.vector,
                devices=self._devices,
                held=set(self._by_id),
            )
            try:
                return self._integrate(plan)
            finally:
                # Freed while the collector still sleeps: waking it first would make it walk
                # every object of the batch once before they go.
                del plan

    def truncate(self, upto: int | None = None) -> None:
        """Fold committed writes up to ``upto`` (default: all) into the snapshot and drop them.

        The sync layer calls this only for writes every member is known to hold; a peer that
        is behind the truncation point catches up from the snapshot. In bounded steps (a
        node's event loop stays responsive): :func:`localfirst.truncation.fold_log`.
        """
        for _ in fold_log(self, upto):
            pass

    # -- reads ---------------------------------------------------------------------------------

    def get(self, entity: str) -> Doc | None:
        """The entity's document (deleted ones too: check ``exists``)."""
        return self._store.load_docs([entity]).get(entity)

    def values(self, entity: str) -> dict[str, Value]:
        """The winning value of each field of a live entity, and its text fields' text."""
        doc = self.get(entity)
        if doc is None or not doc.exists:
            raise UnknownEntity(entity)
        out = doc.values()
        for name in TEXT_FIELDS.get(doc.kind, ()):
            entry = self._texts.peek((entity, name))
            text = entry.doc.text if entry is not None else self._store.text((entity, name))
            if text is not None:
                out[name] = text
        return out

    def entities(self, kind: str) -> dict[str, Doc]:
        """Every live entity of a kind."""
        return {k: d for k, d in self._store.iter_docs(kind) if d.exists}

    def iter_entities(self, kind: str) -> Iterator[tuple[str, Doc]]:
        """Every live entity of a kind, one at a time (a caller keeping only what it needs
        never holds every document at once)."""
        return ((k, d) for k, d in self._store.iter_docs(kind) if d.exists)

    def conflicts(self) -> dict[str, list[str]]:
        """Entities with siblings to resolve, and fields (``_deleted``: edit concurrent with delete)."""
        return {k: d.conflicts() for k, d in self._store.iter_docs(conflicted=True)}

    def members(self) -> dict[str, str]:
        """Devices of the library that are not revoked, with their names.

        Revocation is sticky: a revocation concurrent with anything keeps the device out; only
        a member who saw the revocation can lift it (its write supersedes it).
        """
        return {
            k: d.value("name", "")
            for k, d in self._store.iter_docs("device")
            if d.exists and not any(v[2] is True for v in d.versions("revoked"))
        }

    def booking(self, event: str) -> Booking | None:
        """The event's slot in its bookable calendar (tentative until committed)."""
        doc = self.get(event)
        if doc is None:
            return None
        slot = self._exec.working.slot(doc.value("calendar"), event)
        return Booking(slot, slot is not None and slot.by in self._by_id)

    def take_changes(self) -> Changes:
        """Everything that changed since the last call: the thread owning the replica tells its
        subscribers from this, whatever the change came from (a write, a batch, a commit)."""
        changes, self._unseen = self._unseen.changes(), _Unseen()
        return changes

    def notices(self) -> list[Notice]:
        """Every change of the outcome of a booking made here from the one its user had seen."""
        return self._store.notices()

    def outcome(self, wid: WriteId) -> tuple[int, bool] | None:
        """(outcome, committed) of an order-sensitive write."""
        return self._store.outcome(wid)

    def tentative(self) -> list[Write]:
        return list(self._tentative)

    def log(self) -> list[LogEntry]:
        """The log after the truncation point: committed by CSN, then tentative."""
        entries = [
            LogEntry(csn, decode_write(data)) for csn, _, data in self._store.committed_after(self._snap_csn)
        ]
        return entries + [LogEntry(None, w) for w in self._tentative]

    def log_labels(self) -> list[str]:
        return [entry.label for entry in self.log()]

    # -- the one path every change takes -------------------------------------------------------

    def _integrate(self, plan: Plan) -> Changes:
        try:
            return self._integrate_plan(plan)
        except BaseException:
            # Text edits may already sit in the open text CRDTs: reload those from the store.
            if plan.snapshot is not None:
                self._texts.clear()
            self._texts.forget(_text_keys(w for w, _, _ in plan.new))
            raise

    def _sequence(self, plan: Plan) -> _Step:
        """What the plan commits and brings, in order, and which writes it leaves without effect."""
        snap = plan.snapshot
        kept = (
            self._tentative if snap is None else [w for w in self._tentative if not snap.vector.covers(w.id)]
        )
        by_id = self._by_id if snap is None else {w.id: w for w in kept}
        commits: list[tuple[int, Write]] = []
        arrived: list[Write] = []
        for write, _, at in plan.new:
            if at is None:
                arrived.append(write)
            else:
                commits.append((at, write))
        if plan.commits:
            commits += [(csn, by_id[wid]) for csn, wid in plan.commits]
            commits.sort(key=_first)
        base = self._revocations if snap is None else Revocations.from_docs(snap.docs.items())
        step = _Step(kept, [w for w, _, _ in plan.new], commits, arrived, base.copy())
        step.ordered = plan.ordered or any(by_id[wid].ordered for _, wid in plan.commits)
        self._judge(step, snap is None)
        return step

    def _judge(self, step: _Step, incremental: bool) -> None:
        """Decide, in commit order, which commits are rejected, and which writes are void (no
        effect) once the plan is applied; held writes whose verdict changes are ``flipped``."""
        revs = step.revocations
        step.refused = [w.id for _, w in step.commits if revs.commit(w)]
        mine = self.device  # a revoked device keeps showing its own writes
        gone = revs.revoked() - {mine}
        was = self._revocations.revoked() - {mine}
        if not gone and not was and not step.refused:
            return  # the usual case: nobody was ever revoked
        void = step.void
        void.update(wid for wid in step.refused if wid.origin != mine)
        committed = {w.id for _, w in step.commits}
        void.update(w.id for w in step.arrived if w.id.origin in gone)
        void.update(w.id for w in step.kept if w.id.origin in gone and w.id not in committed)
        if incremental and (was != gone or step.refused):
            step.flipped = [w for w in step.kept if (w.id.origin in was) != (w.id in void)]

    def _apply_docs(self, plan: Plan, step: _Step) -> tuple[dict[str, Doc], set[str], _TextEdits]:
        """Apply the plan's field writes: (documents, entities touched, text edits to apply)."""
        snap = plan.snapshot
        touched: set[str] = set()
        if snap is not None:
            docs = {k: d.copy() for k, d in snap.docs.items()}
            apply_puts(docs, step.kept, step.void)
            touched.update(docs)
        ids, text_edits = _keys(step.new, step.void)
        if snap is None:
            docs = plan.docs
            missing = ids - docs.keys() - plan.looked_up
            if missing:
                docs.update(self._store.load_docs(missing))
        apply_puts(docs, step.new, step.void)
        touched.update(ids)
        return docs, touched, text_edits

    def _apply_texts(
        self, plan: Plan, step: _Step, edits: _TextEdits
    ) -> tuple[list[TextUpdate], dict[TextKey, tuple[str, bytes]] | None]:
        """Apply the plan's text edits: (updates to save, or every text when a snapshot lands)."""
        snap = plan.snapshot
        if snap is not None:
            docs = {k: TextDoc.decode_state(st, self.device) for k, st in snap.texts.items()}
            for write in [*step.kept, *step.new]:
                for op in write.ops:
                    if isinstance(op, TextEdit):
                        text = docs.setdefault((op.entity, op.field), TextDoc(self.device))
                        weave(text, op, write.id in step.void)
            return [], {k: (d.text, d.encode_state()) for k, d in docs.items()}
        # Texts this batch touches stay here until saved: the cache may evict them meanwhile.
        if not edits:
            return [], None
        opened = self._texts.get_many(self._store, edits.keys())
        updates: list[TextUpdate] = []
        for key, ops in edits.items():
            entry = opened[key]
            batches = [op.ops for op, _ in ops] if plan.local else [weave(entry.doc, op, v) for op, v in ops]
            state = entry.appended(batches)
            updates.append((key, entry.doc.text, batches, state))
            if self._texts.peek(key) is not entry:
                entry.doc.close()  # opened for this batch only; the cache has let it go
        return updates, None

    def _reorder(
        self, plan: Plan, step: _Step, devices: set[str]
    ) -> tuple[list[Write], bool, Reordered | None]:
        """The tentative suffix once applied, whether it is extended in place, and the booking
        state when order-sensitive writes are affected."""
        snap = plan.snapshot
        committed_ids = {wid for _, wid in plan.commits}
        # The common case (writes arriving, nothing committed, nothing order-sensitive) extends
        # the tentative suffix in place once saved; only the others build the new one first.
        in_place = snap is None and not step.commits and not step.ordered
        tentative = (
            self._tentative if in_place else self._next_tentative(step.kept, committed_ids, step.arrived)
        )
        folded = [] if snap is None else [w for w in self._tentative if snap.vector.covers(w.id)]
        force = any(w.ordered for w in step.flipped)
        done = (
            # Nothing order-sensitive came or was committed: the booking state stands.
            None
            if snap is None and not step.ordered and not force
            else reorder(
                self._exec,
                [w for _, w in step.commits],
                tentative,
                step.arrived,
                devices,
                snap,
                folded,
                step.void,
                force,
            )
        )
        if done is not None:
            done.notices = notices_for(self.device, done.notices)  # told to who booked
        return tentative, in_place, done

    def _chains(self, plan: Plan, commits: list[tuple[int, Write]]) -> tuple[bytes, dict[int, bytes]]:
        """The chain hash once the commits are applied, and at each of their CSNs."""
        chain = self.chain if plan.snapshot is None else plan.snapshot.chain
        chains: dict[int, bytes] = {}
        if plan.commits:
            data_of = {w.id: d for w, d, _ in plan.new}
            for seq, write in commits:
                chain = chains[seq] = chain_next(chain, data_of.get(write.id) or self._bytes[write.id])
        else:  # a catch-up: every commit arrived with its write, in CSN order
            for _, data, at in plan.new:
                if at is not None:
                    chain = chains[at] = chain_next(chain, data)
        return chain, chains

    def _integrate_plan(self, plan: Plan) -> Changes:
        store, snap = self._store, plan.snapshot
        step = self._sequence(plan)
        docs, touched, text_edits = self._apply_docs(plan, step)
        devices = self._devices | devices_in(docs) if touched else self._devices
        text_updates, snap_texts = self._apply_texts(plan, step, text_edits)
        tentative, in_place, done = self._reorder(plan, step, devices)
        chain, chains = self._chains(plan, step.commits)
        rebuilt: set[str] = set()
        with store.atomic():
            # Texts first: a new note's search entry then takes its body in one go, where the
            # other order would index the note twice (empty, then with the body).
            if text_updates:
                store.save_texts(text_updates)
            if snap is not None:
                store.replace_snapshot(snap, docs, snap_texts)
            elif touched:
                store.save_docs((k, docs[k]) for k in touched)
            if plan.new:
                store.append((w.id, c, d, None if c is None else chains[c]) for w, d, c in plan.new)
            if plan.commits:
                store.set_csns([(c, wid, chains[c]) for c, wid in plan.commits])
            if done is not None:
                self._persist(done)
            if step.refused:
                store.save_outcomes([(wid, REJECTED, True) for wid in step.refused])
            if step.flipped:
                rebuilt = self._rebuild(step.flipped, tentative, step.void)
        if self.device in rebuilt:
            step.own = store.load_docs([self.device]).get(self.device)
        elif self.device in touched:
            step.own = docs.get(self.device)
        # Only now, with the transaction durable, does the in-memory view move on.
        self._advance(plan, step, tentative, in_place, devices, chain, done)
        changes = Changes(
            frozenset(touched | rebuilt | {entity for entity, _ in text_edits}),
            tuple([w.id for w in step.new]),
            len(step.commits),
            tuple(done.notices) if done else (),
            snap is not None,
        )
        self._unseen.add(changes)
        return changes

    def _advance(
        self,
        plan: Plan,
        step: _Step,
        tentative: list[Write],
        in_place: bool,
        devices: set[str],
        chain: bytes,
        done: Reordered | None,
    ) -> None:
        """Move the in-memory view on to the state just saved."""
        snap = plan.snapshot
        if in_place:
            _insert_sorted(tentative, step.arrived)
        self._tentative = tentative
        if snap is not None:
            self._by_id = {w.id: w for w in step.kept}
            self._bytes = {w.id: self._bytes[w.id] for w in step.kept}
        for _, wid in plan.commits:
            del self._by_id[wid], self._bytes[wid]
        if step.arrived:
            for write, data, csn in plan.new:
                if csn is None:
                    self._by_id[write.id] = write
                    self._bytes[write.id] = data
        self._devices = set(devices)
        if snap is not None:
            self._texts.clear()
            self._snap_csn = snap.csn
            self.csn = snap.csn
        if step.commits:
            self.csn = step.commits[-1][0]
        self.chain = chain
        if plan.vector is not None:
            self.vector = VersionVector(plan.vector)
        if done is not None:
            self._exec = done.execution
        self._revocations = step.revocations
        if step.own is not None:
            self._self_revoked = self._sees_own_revocation(step.own)
        self._generation += 1

    def _rebuild(self, flipped: list[Write], tentative: list[Write], void: set[WriteId]) -> set[str]:
        """Rebuild from the log (inside the open transaction) the documents and texts of writes
        whose effect changed: a revoked device's writes applied before its revocation was
        committed here are rolled back so, as if they had arrived after it."""
        store = self._store
        entities, edits = _keys(flipped)
        snap = store.snapshot()
        docs = {e: snap.docs[e].copy() for e in entities if e in snap.docs}
        texts = {
            k: TextDoc.decode_state(snap.texts[k], self.device) if k in snap.texts else TextDoc(self.device)
            for k in edits
        }
        revs = Revocations.from_docs(snap.docs.items())
        for _, _, data in store.committed_after(snap.csn):
            write = decode_write(data)
            dead = revs.commit(write) and write.id.origin != self.device
            replay(write, dead, docs, texts, entities=entities)
        for write in tentative:
            replay(write, write.id in void, docs, texts, entities=entities)
        store.save_docs(docs.items())
        store.save_texts([(k, d.text, [], d.encode_state()) for k, d in texts.items()])
        self._texts.forget(texts)
        return set(docs)

    @staticmethod
    def _next_tentative(kept: list[Write], committed: set[WriteId], arrived: list[Write]) -> list[Write]:
        """The tentative suffix once the committed writes leave it and the arrived ones join."""
        tentative = [w for w in kept if w.id not in committed]
        _insert_sorted(tentative, arrived)
        return tentative

    def _persist(self, done: Reordered) -> None:
        store = self._store
        if done.outcomes:
            store.save_outcomes(done.outcomes)
        if done.notices:
            store.add_notices(done.notices)
        if done.committed_changed:
            store.save_committed(done.execution.primary, done.execution.committed)


def _put_op(kind: str, entity: str, doc: Doc | None, values: Mapping[str, Value]) -> Put | None:
    """A put of ``values`` as a write made here: it supersedes the versions of those fields seen
    here and any delete seen here (a write that saw the delete is not concurrent with it); a set
    field becomes the elements it adds and the instances it removes. None: nothing changes."""
    if doc is None:
        return Put(kind, entity, dict(values), {})
    sets = SET_FIELDS.get(kind, frozenset())
    fields: dict[str, Value] = {}
    removed: dict[str, tuple[Version, ...]] = {}
    for name, value in values.items():
        if name in sets and type(value) is list:
            change = doc.set_change(name, value)
            if change is None:
                continue
            fields[name], gone = change
            if gone:
                removed[name] = gone
        else:
            fields[name] = value
    seen = doc.seen([n for n in fields if n not in sets] + [DELETED])
    if not fields and not seen and values:
        return None
    return Put(kind, entity, fields, seen, removed)


def _seen_as_of(op: Op, vector: Mapping[str, int]) -> Op:
    """``op`` as written from the view ``vector``: it supersedes and removes only what that saw."""
    if isinstance(op, TextEdit):
        kept = tuple(w for w in op.seen if w.stamp <= vector.get(w.origin, 0))
        return TextEdit(op.kind, op.entity, op.field, op.ops, kept)
    if not isinstance(op, Put):
        return op
    seen = {n: tuple(w for w in ws if w.stamp <= vector.get(w.origin, 0)) for n, ws in op.seen.items()}
    removed = {n: tuple(v for v in vs if v[0] <= vector.get(v[1], 0)) for n, vs in op.removed.items()}
    return Put(
        op.kind,
        op.entity,
        op.fields,
        {n: ws for n, ws in seen.items() if ws},
        {n: vs for n, vs in removed.items() if vs},
    )


def _insert_sorted(tentative: list[Write], arrived: list[Write]) -> None:
    """Add writes to the tentative suffix, keeping ``(stamp, origin)`` order (new local writes
    usually go at the end)."""
    for write in arrived:
        if not tentative or tentative[-1].id < write.id:
            tentative.append(write)
        else:
            bisect.insort(tentative, write, key=_write_id)


_first = itemgetter(0)


def _write_id(write: Write) -> WriteId:
    return write.id


@contextmanager
def _gc_paused(pause: bool) -> Iterator[None]:
    """Pause the cyclic collector: a big batch allocates only acyclic objects, and collections
    triggered by their sheer number would cost a third of the time to apply it."""
    if not pause or not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _text_keys(writes: Iterable[Write]) -> set[TextKey]:
    return set(_keys(writes)[1])


#: The text edits of a batch by text field, in write order, each with whether it is void.
_TextEdits = dict[TextKey, list[tuple[TextEdit, bool]]]


def _keys(writes: Iterable[Write], void: Collection[WriteId] = ()) -> tuple[set[str], _TextEdits]:
    """The entities the writes put to, and the edits of each text field in write order (one
    pass: a catch-up holds a hundred thousand writes)."""
    entities: set[str] = set()
    texts: _TextEdits = {}
    for write in writes:
        for op in write.ops:
            if type(op) is Put:
                entities.add(op.entity)
            elif type(op) is TextEdit:
                entities.add(op.entity)  # the edit is recorded in the entity's document
                key = (op.entity, op.field)
                edit = (op, bool(void) and write.id in void)
                edits = texts.get(key)
                if edits is None:
                    texts[key] = [edit]
                else:
                    edits.append(edit)
    return entities, texts
