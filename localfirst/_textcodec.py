"""Operation types and binary encodings for the note-body text CRDT.

Kept apart from :mod:`localfirst.text` so the CRDT core stays readable. Every
encoding starts with a format version byte; anything we cannot fully validate
raises :class:`TextFormatError` before a single field is used, so a bad blob
never half-applies.
"""

from __future__ import annotations

import zlib
from itertools import accumulate, chain, compress
from operator import add, mul, sub
from typing import Any, NamedTuple

import msgpack

__all__ = [
    "OPS_FORMAT",
    "STATE_FORMAT",
    "Delete",
    "Id",
    "Insert",
    "LoadedState",
    "Op",
    "StateColumns",
    "TextFormatError",
    "TextOps",
    "decode_ops",
    "encode_ops",
    "pack_state",
    "unpack_state",
]

Id = tuple[str, int]

OPS_FORMAT = 1
STATE_FORMAT = 1


class TextFormatError(ValueError):
    """Raised for encoded text data that is malformed or of an unknown format."""


class Insert(NamedTuple):
    """Insert ``text`` between the characters ``left`` and ``right``.

    The characters get the ids ``(agent, seq)``, ``(agent, seq + 1)``, ...;
    ``left``/``right`` are the neighbours the author saw (``None`` for the
    document start/end).
    """

    agent: str
    seq: int
    left: Id | None
    right: Id | None
    text: str


class Delete(NamedTuple):
    """Delete the characters ``(target_agent, target_seq .. target_seq+length-1)``.

    A delete consumes ``length`` sequence numbers of its author, so versions
    count deletes too and ``ops_since`` can tell exactly what a peer lacks.
    """

    agent: str
    seq: int
    target_agent: str
    target_seq: int
    length: int


Op = Insert | Delete


_new_tuple = tuple.__new__


class TextOps(list[Op]):
    """A batch of text operations (inserts and deletes), in a causal-friendly order."""

    __slots__ = ()


def _agent_table() -> tuple[list[str], dict[str, int]]:
    return [], {}


def _intern(table: list[str], index: dict[str, int], agent: str) -> int:
    i = index.get(agent)
    if i is None:
        i = index[agent] = len(table)
        table.append(agent)
    return i


def encode_ops(ops: TextOps | list[Op]) -> bytes:
    """Encode a batch of operations: version byte + msgpack, agents interned in a table."""
    table, index = _agent_table()
    rows: list[list[Any]] = []
    for op in ops:
        a = _intern(table, index, op[0])
        if type(op) is Insert:
            left, right = op.left, op.right
            rows.append(
                [
                    a,
                    op.seq,
                    -1 if left is None else _intern(table, index, left[0]),
                    0 if left is None else left[1],
                    -1 if right is None else _intern(table, index, right[0]),
                    0 if right is None else right[1],
                    op.text,
                ]
            )
        elif type(op) is Delete:
            rows.append([a, op.seq, _intern(table, index, op.target_agent), op.target_seq, op.length])
        else:
            raise TypeError(f"not a text operation: {op!r}")
    body: bytes = msgpack.packb([table, rows], use_bin_type=True)
    return bytes((OPS_FORMAT,)) + body


def _unpack(data: object, fmt: int, what: str) -> Any:
    if type(data) is not bytes:
        if not isinstance(data, bytearray | memoryview):
            raise TextFormatError(f"{what}: expected bytes, got {type(data).__name__}")
        data = bytes(data)
    if len(data) < 2:
        raise TextFormatError(f"{what}: too short ({len(data)} bytes)")
    if data[0] != fmt:
        raise TextFormatError(f"{what}: unknown format version {data[0]} (expected {fmt})")
    return data[1:]


def decode_ops(data: bytes) -> TextOps:  # noqa: PLR0912, PLR0915 -- catch-up hot path: one call per tiny batch, checks kept inline
    """Decode :func:`encode_ops` output, validating every field (TextFormatError if bad)."""
    # Catch-up decodes one tiny batch per call, so per-call overhead dominates:
    # the usual bytes input skips _unpack (which does the same checks and
    # produces every error otherwise).
    if type(data) is bytes and len(data) >= 2 and data[0] == OPS_FORMAT:
        body = data[1:]
    else:
        body = _unpack(data, OPS_FORMAT, "text ops")
    try:
        obj = msgpack.unpackb(body, raw=False, use_list=True)
    except Exception as exc:
        raise TextFormatError(f"text ops: undecodable msgpack ({exc})") from exc
    if not (type(obj) is list and len(obj) == 2):
        raise TextFormatError("text ops: expected [agents, rows]")
    table, rows = obj
    if type(table) is not list:
        raise TextFormatError("text ops: bad agent table")
    # Dict lookups resolve agent indexes and reject out-of-range ones at once.
    names: dict[int, str]
    origins: dict[int, str | None]
    if len(table) == 1:
        # The usual batch has a single author: skip the generic loop/dict building.
        a0 = table[0]
        if not (type(a0) is str and a0):
            raise TextFormatError("text ops: bad agent table")
        names = {0: a0}
        origins = {0: a0, -1: None}
    else:
        if not all(type(a) is str and a for a in table):
            raise TextFormatError("text ops: bad agent table")
        names = dict(enumerate(table))
        origins = {**names, -1: None}
    if type(rows) is not list:
        raise TextFormatError("text ops: bad rows")
    out = TextOps()
    append = out.append
    for row in rows:
        if type(row) is not list:
            raise TextFormatError("text ops: row is not a list")
        try:
            if len(row) == 7:
                a, seq, la, ls, ra, rs, text = row
                agent = names[a]
                lagent = origins[la]
                ragent = origins[ra]
                if (
                    type(seq) is not int
                    or type(ls) is not int
                    or type(rs) is not int
                    or type(text) is not str
                    or seq < 0
                    or ls < 0
                    or rs < 0
                    or not text
                ):
                    raise TextFormatError(f"text ops: bad insert row {row!r}")
                # tuple.__new__ directly: the NamedTuple's own __new__ is a
                # Python-level call, a large share of decoding a small batch.
                append(
                    _new_tuple(
                        Insert,
                        (
                            agent,
                            seq,
                            None if lagent is None else (lagent, ls),
                            None if ragent is None else (ragent, rs),
                            text,
                        ),
                    )
                )
            elif len(row) == 5:
                a, seq, ta, ts, n = row
                agent = names[a]
                tagent = names[ta]
                if (
                    type(seq) is not int
                    or type(ts) is not int
                    or type(n) is not int
                    or seq < 0
                    or ts < 0
                    or n <= 0
                ):
                    raise TextFormatError(f"text ops: bad delete row {row!r}")
                append(_new_tuple(Delete, (agent, seq, tagent, ts, n)))
            else:
                raise TextFormatError(f"text ops: row of unexpected length {len(row)}")
        except (KeyError, TypeError) as exc:
            raise TextFormatError(f"text ops: bad agent index in row {row!r}") from exc
    return out


# --- whole-document state -------------------------------------------------
#
# The payload is msgpack of flat integer columns (cheap to unpack in C, and
# the decoder can build items with zip/map instead of a Python loop), then
# deflated: the columns are highly repetitive (one agent, small lengths) and
# the live text is prose.


class StateColumns(NamedTuple):
    """Raw, validated columns of an encoded document state."""

    agents: list[str]
    version: list[int]  # flattened (agent index, count) pairs
    i_agent: list[int]
    i_seq: list[int]
    i_len: list[int]
    i_live: list[int]
    i_la: list[int]  # -1 = no left origin
    i_ls: list[int]
    i_ra: list[int]  # -1 = no right origin
    i_rs: list[int]
    content: str
    d_agent: list[int]
    d_seq: list[int]
    d_tagent: list[int]
    d_tseq: list[int]
    d_len: list[int]
    d_step: list[int]


def pack_state(cols: StateColumns) -> bytes:
    """Serialise state columns (see :class:`StateColumns`).

    Ids are stored as differences from what usually precedes them (a run
    starts where the previous one ended, a left origin sits just before the
    run, the right origin near the left), which deflate then squeezes.
    """
    seq, ln, ls, rs = cols.i_seq, cols.i_len, cols.i_ls, cols.i_rs
    i_gap = list(map(sub, seq, map(add, chain((0,), seq), chain((0,), ln))))
    i_lrel = list(map(sub, seq, ls))
    i_rrel = list(map(sub, rs, ls))
    ds, dl, dt = cols.d_seq, cols.d_len, cols.d_tseq
    d_gap = list(map(sub, ds, map(add, chain((0,), ds), chain((0,), dl))))
    d_tdelta = list(map(sub, dt, chain((0,), dt)))
    out = cols._replace(i_seq=i_gap, i_ls=i_lrel, i_rs=i_rrel, d_seq=d_gap, d_tseq=d_tdelta)
    raw = msgpack.packb(list(out), use_bin_type=True)
    return bytes((STATE_FORMAT,)) + zlib.compress(raw, 9)


class LoadedState(NamedTuple):
    """Decoded state columns with ids resolved (agents as strings, absolute seqs)."""

    version: dict[str, int]
    i_seq: list[int]
    i_vis: list[int]
    i_len: list[int]
    i_agent: list[str]
    i_la: list[str | None]
    i_ls: list[int]
    i_ra: list[str | None]
    i_rs: list[int]
    content: str
    d_agent: list[str]
    d_seq: list[int]
    d_tagent: list[str]
    d_tseq: list[int]
    d_len: list[int]
    d_step: list[int]


def _ints(col: object, name: str) -> list[int]:
    if type(col) is not list:
        raise TextFormatError(f"text state: column {name} is not a list")
    try:
        # sum() runs in C; it fails on non-numbers and turns float if any is.
        total = sum(col)
    except TypeError as exc:
        raise TextFormatError(f"text state: column {name} holds non-integers") from exc
    if type(total) is not int:
        raise TextFormatError(f"text state: column {name} holds non-integers")
    return col


def _lookup_all(table: dict[int, Any], col: object, name: str) -> list[Any]:
    if not isinstance(col, list):
        raise TextFormatError(f"text state: column {name} is not a list")
    try:
        return list(map(table.__getitem__, col))
    except (KeyError, TypeError) as exc:
        raise TextFormatError(f"text state: column {name} has an out-of-range value") from exc


def unpack_state(data: bytes) -> LoadedState:
    """Parse and structurally validate :func:`pack_state` output.

    Built for load speed: ranges are checked by mapping through dicts and
    sums/mins run in C, so a snapshot loads without a per-item Python loop.
    """
    body = _unpack(data, STATE_FORMAT, "text state")
    try:
        raw = zlib.decompress(body)
        obj = msgpack.unpackb(raw, raw=False, use_list=True)
    except Exception as exc:
        raise TextFormatError(f"text state: undecodable payload ({exc})") from exc
    if not (isinstance(obj, list) and len(obj) == len(StateColumns._fields)):
        raise TextFormatError("text state: wrong number of columns")
    agents = obj[0]
    if not (isinstance(agents, list) and all(type(a) is str and a for a in agents)):
        raise TextFormatError("text state: bad agent table")
    names: dict[int, str | None] = dict(enumerate(agents))
    origins: dict[int, str | None] = {**names, -1: None}
    vlist = _ints(obj[1], "version")
    if len(vlist) % 2:
        raise TextFormatError("text state: bad version vector")
    version = dict(zip(_lookup_all(names, vlist[::2], "version"), vlist[1::2], strict=True))
    if any(n < 0 for n in version.values()):
        raise TextFormatError("text state: negative version")
    items = _unpack_items(obj, names, origins)
    deletes = _unpack_deletes(obj, names)
    return LoadedState(version, *items, *deletes)


def _unpack_items(
    obj: list[Any], names: dict[int, str | None], origins: dict[int, str | None]
) -> tuple[Any, ...]:
    """The item columns of a state: (i_seq, i_vis, i_len, i_agent, i_la, i_ls, i_ra, i_rs, content)."""
    i_agent = _lookup_all(names, obj[2], "i_agent")
    n_items = len(i_agent)
    i_gap = _ints(obj[3], "i_seq")
    i_len = _ints(obj[4], "i_len")
    i_vis = list(map(mul, i_len, _lookup_all({0: 0, 1: 1}, obj[5], "i_live")))
    i_la = _lookup_all(origins, obj[6], "i_la")
    i_lrel = _ints(obj[7], "i_ls")
    i_ra = _lookup_all(origins, obj[8], "i_ra")
    i_rrel = _ints(obj[9], "i_rs")
    if any(len(c) != n_items for c in (i_gap, i_len, i_vis, i_la, i_lrel, i_ra, i_rrel)):
        raise TextFormatError("text state: item columns differ in length")
    i_seq = list(accumulate(map(add, i_gap, chain((0,), i_len))))
    if n_items and (min(i_len) < 1 or min(i_seq) < 0):
        raise TextFormatError("text state: item ids or lengths out of range")
    i_ls = list(map(sub, i_seq, i_lrel))
    i_rs = list(map(add, i_ls, i_rrel))
    content = obj[10]
    if type(content) is not str:
        raise TextFormatError("text state: content is not a string")
    if len(content) != sum(i_vis):
        raise TextFormatError("text state: content length does not match live items")
    return i_seq, i_vis, i_len, i_agent, i_la, i_ls, i_ra, i_rs, content


def _unpack_deletes(obj: list[Any], names: dict[int, str | None]) -> tuple[Any, ...]:
    """The delete columns of a state: (d_agent, d_seq, d_tagent, d_tseq, d_len, d_step)."""
    d_agent = _lookup_all(names, obj[11], "d_agent")
    d_gap = _ints(obj[12], "d_seq")
    d_tagent = _lookup_all(names, obj[13], "d_tagent")
    d_tdelta = _ints(obj[14], "d_tseq")
    d_len = _ints(obj[15], "d_len")
    d_step = _ints(obj[16], "d_step")
    if any(len(c) != len(d_agent) for c in (d_gap, d_tagent, d_tdelta, d_len, d_step)):
        raise TextFormatError("text state: delete columns differ in length")
    d_seq = list(accumulate(map(add, d_gap, chain((0,), d_len))))
    d_tseq = list(accumulate(d_tdelta))
    if d_seq and (min(d_seq) < 0 or min(d_tseq) < 0 or min(d_len) < 1 or not set(d_step) <= {1, -1}):
        raise TextFormatError("text state: delete runs out of range")
    backwards = list(map((-1).__eq__, d_step))
    if min(map(sub, compress(d_tseq, backwards), compress(d_len, backwards)), default=0) < -1:
        raise TextFormatError("text state: delete run reaches a negative id")
    return d_agent, d_seq, d_tagent, d_tseq, d_len, d_step
