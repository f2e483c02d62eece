"""Bad input from a peer is refused with a typed error, and nothing of its batch is applied,
in memory and on disk (also after reopening the file)."""

from __future__ import annotations

from typing import Any

import msgpack
import pytest

from localfirst import (
    Batch,
    CausalityError,
    CommitEntry,
    CsnGap,
    Doc,
    InvalidWrite,
    Ordered,
    Put,
    Replica,
    Snapshot,
    Summary,
    UnknownOrigin,
    UnknownProcedure,
    VersionVector,
    Write,
    WriteFormatError,
    WriteId,
    decode_batch,
    decode_snapshot,
    decode_summary,
    encode_batch,
    encode_snapshot,
    encode_summary,
    encode_write,
)
from localfirst.records import RECORD_FORMAT, snapshot_to_wire

from .conftest import Cluster, sync

KINDS = ("note", "event", "calendar", "device", "library")


def state(r: Replica) -> dict[str, Any]:
    """Everything a bad batch must leave as it was."""
    return {
        "labels": r.log_labels(),
        "vector": r.vector.as_dict(),
        "csn": r.csn,
        "truncated": r.truncated_csn,
        "primary": r.primary,
        "docs": {kind: {k: d.fields for k, d in r.entities(kind).items()} for kind in KINDS},
        "all": {k: r.get(k) for k in ("n", "good", "good2", "Mallory", "evil", "e")},
        "conflicts": r.conflicts(),
        "booking": r.booking("e"),
        "members": r.members(),
    }


def w(stamp: int, origin: str, *ops: Put | Ordered) -> bytes:
    return encode_write(Write(WriteId(stamp, origin), ops))


def note(entity: str, fields: dict[str, Any], seen: dict[str, tuple[WriteId, ...]] | None = None) -> Put:
    return Put("note", entity, fields, seen or {})


GOOD = w(100, "P", note("good", {"title": "ok"}))
GOOD2 = w(101, "P", note("good2", {"title": "ok too"}))
NEW_DEVICE = w(102, "P", Put("device", "Mallory", {"name": "Mallory"}, {}))


def history(make) -> Cluster:
    """P with some committed and tentative history; A holds part of it."""
    lib: Cluster = make("P", "A", "B")
    p, a = lib["P"], lib["A"]
    lib.at("P", 1).put("calendar", "room", {"name": "Room", "bookable": True})
    lib.at("P", 2).put("note", "n", {"title": "first", "tags": ["x"]})
    lib.at("P", 3).book("room", [(10, 20)], {"title": "meet"}, event="e")
    p.commit()
    lib.at("P", 4).put("note", "n", {"title": "second"})
    sync(p, a)
    lib.at("A", 5).put("note", "n", {"title": "A's"})
    return lib


@pytest.fixture
def lib(any_cluster) -> Cluster:
    return history(any_cluster)


def check_refused(lib: Cluster, batch: Batch, error: type[Exception], match: str) -> None:
    a = lib["A"]
    before = state(a)
    with pytest.raises(error, match=match):
        a.receive(batch)
    assert state(a) == before
    # A good batch still goes through afterwards.
    sync(lib["P"], a)
    assert a.log_labels() == ["1:1:P", "2:2:P", "3:3:P", "inf:4:P", "inf:5:A"]


CASES: list[tuple[str, Batch, type[Exception], str]] = [
    ("garbage", Batch(tentative=[GOOD, b"\xc1\xc1garbage"]), WriteFormatError, "malformed write"),
    (
        "unknown version",
        Batch(tentative=[GOOD, msgpack.packb([7, 103, "P", [[0, "note", "x", {"title": "t"}, {}]]])]),
        WriteFormatError,
        "version 7",
    ),
    (
        "unknown procedure",
        Batch(tentative=[GOOD, w(103, "P", Ordered("os.system", {"cmd": "rm -rf /"}))]),
        UnknownProcedure,
        "unknown merge procedure 'os.system'",
    ),
    (
        "unknown origin",
        Batch(tentative=[GOOD, w(1, "Mallory", note("evil", {"title": "x"}))]),
        UnknownOrigin,
        "1:Mallory comes from a device not in the library",
    ),
    (
        "unknown origin added by a bad later write",
        Batch(tentative=[NEW_DEVICE, w(1, "Mallory", note("evil", {"title": "x"})), b"\x00"]),
        WriteFormatError,
        "malformed write",
    ),
    (
        "seen not held",
        Batch(tentative=[GOOD, w(103, "P", note("n", {"title": "y"}, {"title": (WriteId(99, "B"),)}))]),
        CausalityError,
        "saw inf:99:B, which has not arrived",
    ),
    (
        "unknown field",
        Batch(tentative=[GOOD, w(103, "P", note("n", {"colour": "red"}))]),
        InvalidWrite,
        "note has no field 'colour'",
    ),
    (
        "unknown kind",
        Batch(tentative=[GOOD, w(103, "P", Put("spaceship", "s", {"name": "x"}, {}))]),
        InvalidWrite,
        "unknown entity kind 'spaceship'",
    ),
    (
        "wrong type",
        Batch(tentative=[GOOD, w(103, "P", note("n", {"pinned": "yes"}))]),
        InvalidWrite,
        "note.pinned: invalid value 'yes'",
    ),
    (
        "integer beyond SQLite's 64 bits",
        Batch(tentative=[GOOD, w(103, "P", note("n", {"modified": 2**64 - 1}))]),
        InvalidWrite,
        "note.modified: invalid value 18446744073709551615",
    ),
    (
        "wrong type in a list",
        Batch(tentative=[GOOD, w(103, "P", note("n", {"tags": ["ok", 3]}))]),
        InvalidWrite,
        "note.tags: invalid value",
    ),
    (
        "undelete by value",
        Batch(tentative=[GOOD, w(103, "P", note("n", {"_deleted": False}))]),
        InvalidWrite,
        "_deleted may only be set to true",
    ),
    (
        "empty put",
        Batch(tentative=[GOOD, w(103, "P", note("n", {}))]),
        InvalidWrite,
        "must set or supersede",
    ),
    (
        "bad slot",
        Batch(
            tentative=[
                GOOD,
                w(
                    103,
                    "P",
                    Ordered("calendar.book", {"calendar": "room", "event": "e", "slots": [[20, 10]]}),
                ),
            ]
        ),
        InvalidWrite,
        "bad slot",
    ),
    (
        "two ordered ops",
        Batch(
            tentative=[
                GOOD,
                w(
                    103,
                    "P",
                    Ordered("library.set_primary", {"device": "A"}),
                    Ordered("library.set_primary", {"device": "B"}),
                ),
            ]
        ),
        InvalidWrite,
        "at most one order-sensitive op",
    ),
    (
        "kind changed",
        Batch(tentative=[GOOD, w(103, "P", Put("event", "n", {"title": "x"}, {}))]),
        InvalidWrite,
        "n is a note, not a event",
    ),
    (
        "csn gap",
        Batch(
            committed=[
                CommitEntry(4, WriteId(4, "P"), None),
                CommitEntry(6, WriteId(100, "P"), GOOD),
            ],
            tentative=[GOOD2],
        ),
        CsnGap,
        "expected commit #5, got #6",
    ),
    (
        "commit of a write not held and not sent",
        Batch(committed=[CommitEntry(4, WriteId(4, "P"), None), CommitEntry(5, WriteId(100, "P"), None)]),
        InvalidWrite,
        "#5 names a write this replica does not hold",
    ),
    (
        "commit whose write is another",
        Batch(committed=[CommitEntry(4, WriteId(4, "P"), None), CommitEntry(5, WriteId(100, "P"), GOOD2)]),
        WriteFormatError,
        "commit #5: the write is not",
    ),
    (
        "bad write after good commits",
        Batch(
            committed=[CommitEntry(4, WriteId(4, "P"), None), CommitEntry(5, WriteId(100, "P"), GOOD)],
            tentative=[GOOD2, w(1, "Nobody", note("evil", {"title": "x"}))],
        ),
        UnknownOrigin,
        "Nobody",
    ),
    (
        "snapshot of another library",
        Batch(snapshot=Snapshot("other", 9, VersionVector({"P": 50}), "P", {})),
        InvalidWrite,
        "another library",
    ),
]


@pytest.mark.parametrize(("batch", "error", "match"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_batch_is_refused_and_nothing_applied(lib, batch, error, match):
    check_refused(lib, batch, error, match)


def test_bad_batches_leave_the_file_unchanged_after_reopening(sql_cluster, reopen):
    lib = history(sql_cluster)
    a = lib["A"]
    before = state(a)
    for _, batch, error, match in CASES:
        with pytest.raises(error, match=match):
            a.receive(batch)
    assert state(a) == before
    again = reopen(lib.paths["A"])
    assert state(again) == before
    assert again.tentative() == a.tentative()
    assert again.summary() == a.summary()
    assert again.outcome(WriteId(3, "P")) == a.outcome(WriteId(3, "P")) == (0, True)


def test_refused_local_writes_change_nothing(any_cluster):
    lib = any_cluster("P")
    p = lib["P"]
    p.put("note", "n", {"title": "t"})
    before = state(p)
    with pytest.raises(InvalidWrite, match="no field"):
        p.put("note", "n", {"nonsense": 1})
    with pytest.raises(InvalidWrite, match="is a note, not a event"):
        p.put("event", "n", {"title": "x"})
    p.put("calendar", "c", {"name": "plain"})
    with pytest.raises(InvalidWrite, match="bookable calendar"):
        p.book("c", [(1, 2)], {"title": "x"})
    assert p.log_labels() == [*before["labels"], "inf:2:P"]


# -- encoded records ----------------------------------------------------------------------------


def test_batch_summary_and_snapshot_round_trip(mem_cluster):
    lib = mem_cluster("P", "A")
    p = lib["P"]
    p.put("calendar", "room", {"name": "Room", "bookable": True})
    p.book("room", [(1, 2)], {"title": "x"}, event="e")
    p.commit()
    p.put("note", "n", {"title": "t"})
    p.truncate(1)
    batch = p.batch_for(Summary(VersionVector(), 0))
    assert batch.snapshot is not None
    assert len(batch) == 3
    again = decode_batch(encode_batch(batch))
    assert again == batch
    summary = p.summary()
    assert decode_summary(encode_summary(summary)) == summary
    snap = p.genesis()
    assert decode_snapshot(encode_snapshot(snap)) == snap
    assert snap.csn == 1


def _record(*items: Any) -> bytes:
    data: bytes = msgpack.packb(list(items))
    return data


def _snapshot_with(index: int, value: Any) -> bytes:
    """A genesis snapshot's record with one wire field replaced."""
    snap = Snapshot("lib", 0, VersionVector(), "P", {"P": Doc("device", {"name": [(0, "", "")]})})
    wire = snapshot_to_wire(snap)
    wire[index] = value
    return _record(RECORD_FORMAT, *wire)


@pytest.mark.parametrize(
    ("decode", "data", "match"),
    [
        (decode_batch, b"\xc1garbage", "malformed batch: undecodable"),
        (decode_batch, b"", "malformed batch"),
        (decode_batch, _record(99, None, [], []), "batch format version 99 is not supported"),
        (decode_batch, _record(RECORD_FORMAT, None, []), "malformed batch"),
        (decode_batch, _record(RECORD_FORMAT, None, [[1, 2]], []), "bad commit entry"),
        (decode_batch, _record(RECORD_FORMAT, None, [[1, 2, "P", "str"]], []), "bad commit entry"),
        (decode_batch, _record(RECORD_FORMAT, None, [], ["text"]), "tentative writes must be bytes"),
        (decode_batch, _record(RECORD_FORMAT, ["lib", 1], [], []), "malformed snapshot"),
        (decode_summary, b"\xff\xff", "malformed summary"),
        (decode_summary, _record(2, {}, 0), "summary format version 2"),
        (decode_summary, _record(RECORD_FORMAT, {"P": -1}, 0), "bad version vector"),
        (decode_summary, _record(RECORD_FORMAT, {}, -1), "malformed summary"),
        (decode_snapshot, b"\x93", "malformed snapshot"),
        (decode_snapshot, _record(0, "lib", 0, {}, "P", {}, {}), "snapshot format version 0"),
        (decode_snapshot, _snapshot_with(1, "0"), "malformed snapshot"),
        (decode_snapshot, _snapshot_with(2, {"P": "x"}), "malformed snapshot: bad version vector"),
        (decode_snapshot, _snapshot_with(4, {"d": [1]}), "corrupt entity"),
        (decode_snapshot, _record(RECORD_FORMAT, "lib", 0), "malformed snapshot"),
    ],
)
def test_malformed_records_raise_write_format_error(decode, data, match):
    with pytest.raises(WriteFormatError, match=match):
        decode(data)
