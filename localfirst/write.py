"""The write record, the unit of the Bayou log, and its versioned binary encoding.

A write is one user action: ``(accept stamp, origin device, ops)``. ``(stamp, origin)`` is its id
and orders tentative writes. Ops are either CRDT ops (applied once, on arrival, commutative) or
one order-sensitive op naming a registered merge procedure (executed in log order, undone and
redone when an earlier write arrives).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

import msgpack

from .errors import WriteFormatError

#: Bumped whenever the encoding changes; a decoder refuses versions it does not know.
WRITE_FORMAT = 1

#: Values a field may hold: what msgpack carries without extension types.
Value = Any


class WriteId(NamedTuple):
    """Identifies a write and orders tentative writes: by stamp, then by origin."""

    stamp: int
    origin: str

    def label(self, csn: int | None) -> str:
        """``csn:stamp:origin`` as in the design; tentative writes print ``inf``."""
        return f"{'inf' if csn is None else csn}:{self.stamp}:{self.origin}"


@dataclass(frozen=True, slots=True)
class Put:
    """Sets fields of one entity; supersedes exactly the versions of each field the writer saw.

    A delete is a put of the ``_deleted`` field that supersedes every version it saw.
    """

    kind: str
    entity: str
    fields: Mapping[str, Value]
    seen: Mapping[str, tuple[WriteId, ...]]


@dataclass(frozen=True, slots=True)
class Ordered:
    """An order-sensitive op: a dependency check and merge procedure chosen by name."""

    procedure: str
    params: Mapping[str, Value]


@dataclass(frozen=True, slots=True)
class TextEdit:
    """Edits of a text field (a note body) as encoded text-CRDT ops; they commute like puts."""

    kind: str
    entity: str
    field: str
    ops: bytes


Op = Put | Ordered | TextEdit


@dataclass(frozen=True, slots=True)
class Write:
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


_PUT, _ORDERED, _TEXT = 0, 1, 2


def _op_to_wire(op: Op) -> list[Any]:
    if isinstance(op, Put):
        seen = {f: [[w.stamp, w.origin] for w in ws] for f, ws in op.seen.items() if ws}
        return [_PUT, op.kind, op.entity, dict(op.fields), seen]
    if isinstance(op, TextEdit):
        return [_TEXT, op.kind, op.entity, op.field, op.ops]
    return [_ORDERED, op.procedure, dict(op.params)]


def encode_write(write: Write) -> bytes:
    """The write's bytes as stored in the log and sent to peers."""
    ops = [_op_to_wire(op) for op in write.ops]
    data: bytes = msgpack.packb([WRITE_FORMAT, write.id.stamp, write.id.origin, ops])
    return data


def _fail(what: str) -> WriteFormatError:
    return WriteFormatError(f"malformed write: {what}")


def _wid(raw: Any) -> WriteId:
    if (
        type(raw) is not list
        or len(raw) != 2
        or type(raw[0]) is not int
        or raw[0] < 0
        or type(raw[1]) is not str
    ):
        raise _fail(f"bad write id {raw!r:.60}")
    return WriteId(raw[0], raw[1])


def _op_from_wire(raw: Any) -> Op:
    # Exact type checks: msgpack makes plain lists, dicts, str and bytes, and this runs for
    # every op of a catch-up.
    if type(raw) is not list or not raw:
        raise _fail("an op is not a list")
    tag = raw[0]
    if tag == _PUT and len(raw) == 5:
        _, kind, entity, fields, seen = raw
        if type(kind) is not str or type(entity) is not str or not entity:
            raise _fail("put needs a kind and an entity id")
        if type(fields) is not dict or type(seen) is not dict:
            raise _fail("put fields and seen must be maps")
        parsed_seen: dict[str, tuple[WriteId, ...]] = {}
        for field, ids in seen.items():
            if type(ids) is not list:
                raise _fail("seen versions must be a list")
            parsed_seen[field] = tuple([_wid(i) for i in ids])
        return Put(kind, entity, fields, parsed_seen)
    if tag == _ORDERED and len(raw) == 3:
        _, procedure, params = raw
        if type(procedure) is not str or not isinstance(params, dict):
            raise _fail("an ordered op needs a procedure name and parameters")
        return Ordered(procedure, params)
    if tag == _TEXT and len(raw) == 5:
        _, kind, entity, field, ops = raw
        if (
            type(kind) is not str
            or type(entity) is not str
            or not entity
            or type(field) is not str
            or type(ops) is not bytes
        ):
            raise _fail("a text edit needs a kind, an entity, a field and encoded ops")
        return TextEdit(kind, entity, field, ops)
    raise _fail(f"unknown op tag {tag!r:.20}")


def decode_write(data: bytes) -> Write:
    """Parse a write's bytes; raise ``WriteFormatError`` on anything malformed or unknown."""
    try:
        raw = msgpack.unpackb(data, raw=False, strict_map_key=True)
    except Exception as exc:  # msgpack raises several unrelated types on garbage
        raise WriteFormatError(f"malformed write: undecodable bytes ({exc})") from None
    if type(raw) is not list or len(raw) != 4:
        raise _fail("not a 4-element record")
    version, stamp, origin, ops = raw
    if version != WRITE_FORMAT:
        raise WriteFormatError(
            f"write format version {version!r:.20} is not supported (this build reads {WRITE_FORMAT})"
        )
    if type(stamp) is not int or stamp < 0 or type(origin) is not str:
        raise _fail(f"bad write id {[stamp, origin]!r:.60}")
    wid = WriteId(stamp, origin)
    if type(ops) is not list or not ops:
        raise _fail("a write needs at least one op")
    return Write(wid, tuple([_op_from_wire(op) for op in ops]))
