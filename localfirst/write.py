"""The write record, the unit of the Bayou log, and its versioned binary encoding.

A write is one user action: ``(accept stamp, origin device, ops)``. ``(stamp, origin)`` is its id
and orders tentative writes. Ops are either CRDT ops (applied once, on arrival, commutative) or
one order-sensitive op naming a registered merge procedure (executed in log order, undone and
redone when an earlier write arrives).
"""

from __future__ import annotations

from typing import Annotated, Any, NamedTuple

import msgspec

from .errors import WriteFormatError

#: Bumped whenever the encoding changes; a decoder refuses versions it does not know. Format 2
#: added a put's set removals and a text edit's ``seen``; format 1 bytes decode as before.
WRITE_FORMAT = 2
#: Formats this build decodes (earlier ones are a prefix of the current shape).
READ_FORMATS = frozenset({1, 2})

#: Values a field may hold: what msgpack carries without extension types.
Value = Any

#: A stamp fits SQLite's signed 64-bit integer.
Stamp = Annotated[int, msgspec.Meta(ge=0, le=2**63 - 1)]


class WriteId(NamedTuple):
    """Identifies a write and orders tentative writes: by stamp, then by origin."""

    stamp: Stamp
    origin: str

    def label(self, csn: int | None) -> str:
        """``csn:stamp:origin`` as in the design; tentative writes print ``inf``."""
        return f"{'inf' if csn is None else csn}:{self.stamp}:{self.origin}"


#: One instance of a set field's element as the writer saw it: (stamp, origin, element).
Instance = tuple[Stamp, str, Value]


class Put(msgspec.Struct, frozen=True, array_like=True, forbid_unknown_fields=True, tag=0):
    """Sets fields of one entity; supersedes exactly the versions of each field the writer saw.

    A delete is a put of the ``_deleted`` field that supersedes every version it saw. For a set
    field (``crdtmap.SET_FIELDS``) ``fields`` holds the elements the write adds and ``removed`` the
    instances it saw and removes; an earlier build's put of a whole list (no ``removed``, its
    ``seen`` naming whole versions) decodes to the same write and merges as a set.
    """

    kind: str
    entity: Annotated[str, msgspec.Meta(min_length=1)]
    fields: dict[str, Value]
    seen: dict[str, tuple[WriteId, ...]]
    # Trailing, so an earlier build's four-element put decodes with none.
    removed: dict[str, tuple[Instance, ...]] = {}


class Ordered(msgspec.Struct, frozen=True, array_like=True, forbid_unknown_fields=True, tag=1):
    """An order-sensitive op: a dependency check and merge procedure chosen by name."""

    procedure: str
    params: dict[str, Value]


class TextEdit(msgspec.Struct, frozen=True, array_like=True, forbid_unknown_fields=True, tag=2):
    """Edits of a text field (a note body) as encoded text-CRDT ops; they commute like puts.

    ``seen`` names the entity's text edits and deletes the writer saw: an edit is recorded in
    the entity's document, so a delete that did not see it is concurrent with it (and one it saw
    is brought back by it). Earlier builds' edits carry none.
    """

    kind: str
    entity: Annotated[str, msgspec.Meta(min_length=1)]
    field: str
    ops: bytes
    seen: tuple[WriteId, ...] = ()


Op = Put | Ordered | TextEdit


class Write(msgspec.Struct, frozen=True):
    """One user action as it travels and is logged."""

    id: WriteId
    ops: tuple[Op, ...]

    @property
    def ordered(self) -> Ordered | None:
        """The write's order-sensitive op, if it has one (at most one is allowed)."""
        for op in self.ops:
            if isinstance(op, Ordered):
                return op
        return None


class _Wire(msgspec.Struct, array_like=True, forbid_unknown_fields=True):
    """A write as encoded: ``[format, stamp, origin, [op, ...]]``; each op is an array whose
    first element says which (0 put, 1 ordered, 2 text edit)."""

    format: int
    stamp: Stamp
    origin: str
    ops: Annotated[tuple[Op, ...], msgspec.Meta(min_length=1)]


_encoder = msgspec.msgpack.Encoder()
# Decoding checks the whole shape (types, tags, lengths) in one pass of compiled code: a
# catch-up decodes a hundred thousand writes.
_decoder = msgspec.msgpack.Decoder(_Wire)


class _Put1(msgspec.Struct, frozen=True, array_like=True, tag=0):
    """A put as format 1 encodes it (no removals): encoding only."""

    kind: str
    entity: str
    fields: dict[str, Value]
    seen: dict[str, tuple[WriteId, ...]]


class _TextEdit1(msgspec.Struct, frozen=True, array_like=True, tag=2):
    """A text edit as format 1 encodes it (no ``seen``): encoding only."""

    kind: str
    entity: str
    field: str
    ops: bytes


class _WireOut(msgspec.Struct, array_like=True):
    """``_Wire`` as encoded, each op in the shape ``_wire_op`` chose."""

    format: int
    stamp: int
    origin: str
    ops: tuple[msgspec.Struct, ...]


def _wire_op(op: Op) -> msgspec.Struct:
    """The op in the earliest shape that holds it (empty ``seen`` lists dropped)."""
    if isinstance(op, Put):
        seen = op.seen if all(op.seen.values()) else {f: ws for f, ws in op.seen.items() if ws}
        removed = {f: vs for f, vs in op.removed.items() if vs}
        if removed:
            return Put(op.kind, op.entity, op.fields, seen, removed)
        return _Put1(op.kind, op.entity, op.fields, seen)
    if isinstance(op, TextEdit) and not op.seen:
        return _TextEdit1(op.kind, op.entity, op.field, op.ops)
    return op


def encode_write(write: Write) -> bytes:
    """The write's bytes as stored in the log and sent to peers.

    A write that needs nothing format 2 added is encoded as format 1, byte for byte as earlier
    builds did, so they read it; one that does says its format, which they refuse by name.
    """
    ops = [_wire_op(op) for op in write.ops]
    fmt = 2 if any(type(op) is Put or type(op) is TextEdit for op in ops) else 1
    return _encoder.encode(_WireOut(fmt, write.id.stamp, write.id.origin, tuple(ops)))


def decode_write(data: bytes) -> Write:
    """Parse a write's bytes; raise ``WriteFormatError`` on anything malformed or unknown."""
    try:
        wire = _decoder.decode(data)
    except msgspec.MsgspecError as exc:
        raise _refused(data, exc) from None
    except RecursionError:  # values nested thousands deep: only a hostile peer sends them
        raise WriteFormatError("malformed write: values nested too deeply") from None
    if wire.format not in READ_FORMATS:
        raise _unknown_format(wire.format)
    return Write(WriteId(wire.stamp, wire.origin), wire.ops)


def _refused(data: bytes, exc: Exception) -> WriteFormatError:
    """Why bytes are not a write: a format this build does not know, or damage."""
    try:
        head = msgspec.msgpack.decode(data)
    except (msgspec.MsgspecError, RecursionError):
        head = None
    if isinstance(head, list) and head and type(head[0]) is int and head[0] not in READ_FORMATS:
        return _unknown_format(head[0])
    return WriteFormatError(f"malformed write: {exc}")


def _unknown_format(version: object) -> WriteFormatError:
    return WriteFormatError(
        f"write format version {version!r:.20} is not supported "
        f"(this build reads {', '.join(map(str, sorted(READ_FORMATS)))})"
    )
