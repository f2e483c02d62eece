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

#: Bumped whenever the encoding changes; a decoder refuses versions it does not know.
WRITE_FORMAT = 1

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


class Put(msgspec.Struct, frozen=True, array_like=True, forbid_unknown_fields=True, tag=0):
    """Sets fields of one entity; supersedes exactly the versions of each field the writer saw.

    A delete is a put of the ``_deleted`` field that supersedes every version it saw.
    """

    kind: str
    entity: Annotated[str, msgspec.Meta(min_length=1)]
    fields: dict[str, Value]
    seen: dict[str, tuple[WriteId, ...]]


class Ordered(msgspec.Struct, frozen=True, array_like=True, forbid_unknown_fields=True, tag=1):
    """An order-sensitive op: a dependency check and merge procedure chosen by name."""

    procedure: str
    params: dict[str, Value]


class TextEdit(msgspec.Struct, frozen=True, array_like=True, forbid_unknown_fields=True, tag=2):
    """Edits of a text field (a note body) as encoded text-CRDT ops; they commute like puts."""

    kind: str
    entity: Annotated[str, msgspec.Meta(min_length=1)]
    field: str
    ops: bytes


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


def _without_empty_seen(op: Op) -> Op:
    if isinstance(op, Put) and not all(op.seen.values()):
        return Put(op.kind, op.entity, op.fields, {f: ws for f, ws in op.seen.items() if ws})
    return op


def encode_write(write: Write) -> bytes:
    """The write's bytes as stored in the log and sent to peers."""
    ops = tuple([_without_empty_seen(op) for op in write.ops])
    return _encoder.encode(_Wire(WRITE_FORMAT, write.id.stamp, write.id.origin, ops))


def decode_write(data: bytes) -> Write:
    """Parse a write's bytes; raise ``WriteFormatError`` on anything malformed or unknown."""
    try:
        wire = _decoder.decode(data)
    except msgspec.MsgspecError as exc:
        raise _refused(data, exc) from None
    except RecursionError:  # values nested thousands deep: only a hostile peer sends them
        raise WriteFormatError("malformed write: values nested too deeply") from None
    if wire.format != WRITE_FORMAT:
        raise _unknown_format(wire.format)
    return Write(WriteId(wire.stamp, wire.origin), wire.ops)


def _refused(data: bytes, exc: Exception) -> WriteFormatError:
    """Why bytes are not a write: a format this build does not know, or damage."""
    try:
        head = msgspec.msgpack.decode(data)
    except (msgspec.MsgspecError, RecursionError):
        head = None
    if isinstance(head, list) and head and type(head[0]) is int and head[0] != WRITE_FORMAT:
        return _unknown_format(head[0])
    return WriteFormatError(f"malformed write: {exc}")


def _unknown_format(version: object) -> WriteFormatError:
    return WriteFormatError(
        f"write format version {version!r:.20} is not supported (this build reads {WRITE_FORMAT})"
    )
