"""What replicas exchange: a snapshot of the committed state, a sync summary, and a batch.

Anti-entropy (DESIGN.md): a replica sends its ``Summary`` (version vector and highest CSN); the
other answers with a ``Batch`` of what the first lacks: a snapshot if it has truncated past the
first's CSN, then commit entries in CSN order (a full write, or only its id when the receiver
already holds it tentatively), then tentative writes in ``(stamp, origin)`` order.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import msgpack

from .booking import BookingState
from .crdtmap import Doc, decode_doc, doc_from_wire, doc_to_wire
from .errors import WriteFormatError
from .vector import VersionVector
from .write import WriteId

RECORD_FORMAT = 1


@dataclass(slots=True)
class Snapshot:
    """The committed state at ``csn``: every write covered by ``vector`` is folded into it.

    The genesis of a library is the snapshot at CSN 0 (its members and primary).
    """

    library: str
    csn: int
    vector: VersionVector
    primary: str
    docs: dict[str, Doc]
    bookings: BookingState = field(default_factory=BookingState)
    #: The hash chained over the committed log up to ``csn`` (see ``log.chain_next``).
    chain: bytes = b""
    #: Committed outcomes of the order-sensitive writes folded into this snapshot.
    outcomes: dict[WriteId, int] = field(default_factory=dict)
    #: Saved text-CRDT state of every text field, by (entity, field).
    texts: dict[tuple[str, str], bytes] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Summary:
    """What a replica holds, as it tells a peer: version vector and highest CSN."""

    vector: VersionVector
    csn: int


@dataclass(frozen=True, slots=True)
class CommitEntry:
    """A commit the receiver lacks: the write itself, or only its id if the receiver holds it."""

    csn: int
    id: WriteId
    write: bytes | None


@dataclass(slots=True)
class Batch:
    """Everything a peer lacks, in an order that keeps each replica's write set causally closed."""

    snapshot: Snapshot | None = None
    committed: list[CommitEntry] = field(default_factory=list)
    tentative: list[bytes] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.committed) + len(self.tentative) + (self.snapshot is not None)


def _pack(obj: Any) -> bytes:
    data: bytes = msgpack.packb(obj)
    return data


def _unpack(data: bytes | bytearray, what: str) -> Any:
    try:
        raw = msgpack.unpackb(data, raw=False, strict_map_key=True)
    except Exception as exc:
        raise WriteFormatError(f"malformed {what}: undecodable bytes ({exc})") from None
    if not isinstance(raw, list) or not raw:
        raise WriteFormatError(f"malformed {what}")
    if raw[0] != RECORD_FORMAT:
        raise WriteFormatError(
            f"{what} format version {raw[0]!r:.20} is not supported (this build reads {RECORD_FORMAT})"
        )
    return raw


def _vector(raw: Any, what: str) -> VersionVector:
    if not isinstance(raw, dict) or not all(
        type(k) is str and type(v) is int and v >= 0 for k, v in raw.items()
    ):
        raise WriteFormatError(f"malformed {what}: bad version vector")
    return VersionVector(raw)


def _bytes(value: Any) -> bytes:
    if type(value) is not bytes:
        raise TypeError("expected bytes")
    return value


def snapshot_to_wire(snap: Snapshot) -> list[Any]:
    return [
        snap.library,
        snap.csn,
        snap.vector.as_dict(),
        snap.primary,
        {k: doc_to_wire(d) for k, d in snap.docs.items()},
        snap.bookings.to_wire(),
        snap.chain,
        [[w.stamp, w.origin, o] for w, o in snap.outcomes.items()],
        [[e, f, state] for (e, f), state in snap.texts.items()],
    ]


def snapshot_from_wire(raw: Any) -> Snapshot:
    try:
        library, csn, vector, primary, docs, bookings, chain, outcomes, texts = raw
        if type(library) is not str or type(csn) is not int or type(primary) is not str:
            raise TypeError("bad header")
        if type(chain) is not bytes:
            raise TypeError("bad chain hash")
        return Snapshot(
            library,
            csn,
            _vector(vector, "snapshot"),
            primary,
            {k: doc_from_wire(d) for k, d in docs.items()},
            BookingState.from_wire(bookings),
            chain,
            {WriteId(s, o): out for s, o, out in outcomes},
            {(e, f): _bytes(state) for e, f, state in texts},
        )
    except (TypeError, ValueError, AttributeError, IndexError) as exc:
        raise WriteFormatError(f"malformed snapshot: {exc}") from None


def encode_snapshot(snap: Snapshot) -> bytes:
    return _pack([RECORD_FORMAT, *snapshot_to_wire(snap)])


def decode_snapshot(data: bytes) -> Snapshot:
    return snapshot_from_wire(_unpack(data, "snapshot")[1:])


def encode_summary(summary: Summary) -> bytes:
    return _pack([RECORD_FORMAT, summary.vector.as_dict(), summary.csn])


def decode_summary(data: bytes) -> Summary:
    raw = _unpack(data, "summary")
    if len(raw) != 3 or type(raw[2]) is not int or raw[2] < 0:
        raise WriteFormatError("malformed summary")
    return Summary(_vector(raw[1], "summary"), raw[2])


def encode_batch(batch: Batch) -> bytes:
    snap = None if batch.snapshot is None else snapshot_to_wire(batch.snapshot)
    committed = [[c.csn, c.id.stamp, c.id.origin, c.write] for c in batch.committed]
    return _pack([RECORD_FORMAT, snap, committed, list(batch.tentative)])


def _entries(raw: Iterable[Any]) -> list[CommitEntry]:
    out = []
    for item in raw:
        if (
            not isinstance(item, list)
            or len(item) != 4
            or type(item[0]) is not int
            or type(item[1]) is not int
            or type(item[2]) is not str
            or not (item[3] is None or type(item[3]) is bytes)
        ):
            raise WriteFormatError("malformed batch: bad commit entry")
        out.append(CommitEntry(item[0], WriteId(item[1], item[2]), item[3]))
    return out


def decode_batch(data: bytes) -> Batch:
    raw = _unpack(data, "batch")
    if len(raw) != 4 or not isinstance(raw[2], list) or not isinstance(raw[3], list):
        raise WriteFormatError("malformed batch")
    if not all(type(w) is bytes for w in raw[3]):
        raise WriteFormatError("malformed batch: tentative writes must be bytes")
    snap = None if raw[1] is None else snapshot_from_wire(raw[1])
    return Batch(snap, _entries(raw[2]), list(raw[3]))


def encode_welcome(snapshot: Snapshot, batch: Batch) -> bytes:
    return _pack([RECORD_FORMAT, snapshot_to_wire(snapshot), encode_batch(batch)])


def decode_welcome(data: bytes | bytearray) -> tuple[Snapshot, Batch]:
    raw = _unpack(data, "welcome")
    if len(raw) != 3 or type(raw[2]) is not bytes:
        raise WriteFormatError("malformed welcome")
    return snapshot_from_wire(raw[1]), decode_batch(raw[2])


def write_welcome_rows(
    header: Snapshot,
    docs: tuple[int, Iterable[tuple[str, bytes]]],
    texts: tuple[int, Iterable[tuple[str, str, bytes]]],
    batch: Batch,
    write: Callable[[bytes], object],
) -> None:
    """``encode_welcome`` packed from a snapshot's stored rows, one row at a time, each piece
    handed to ``write``: the same bytes a joiner decodes with ``decode_welcome``, but the sender
    never holds the snapshot's documents decoded, nor (writing to a file) the welcome itself.

    ``docs`` and ``texts`` are (count, rows): msgpack announces a container's length first.
    """
    packer = msgpack.Packer()
    write(packer.pack_array_header(3))
    write(packer.pack(RECORD_FORMAT))
    write(packer.pack_array_header(9))
    for value in (header.library, header.csn, header.vector.as_dict(), header.primary):
        write(packer.pack(value))
    count, rows = docs
    write(packer.pack_map_header(count))
    for key, data in rows:
        write(packer.pack(key))
        # The stored form is compact (one device table per document); the wire keeps its own
        # form, so a document is decoded here, one at a time.
        write(packer.pack(doc_to_wire(decode_doc(data))))
        count -= 1
    write(packer.pack(header.bookings.to_wire()))
    write(packer.pack(header.chain))
    write(packer.pack([[w.stamp, w.origin, o] for w, o in header.outcomes.items()]))
    n_texts, text_rows = texts
    write(packer.pack_array_header(n_texts))
    for entity, field_name, state in text_rows:
        write(packer.pack([entity, field_name, state]))
        n_texts -= 1
    if count or n_texts:
        raise ValueError("the snapshot's rows changed while the welcome was packed")
    write(packer.pack(encode_batch(batch)))
