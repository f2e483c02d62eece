"""Stamps, version vectors and the write encoding."""

from __future__ import annotations

import msgpack
import pytest

from localfirst import (
    ManualClock,
    Ordered,
    Put,
    TextEdit,
    VersionVector,
    Write,
    WriteFormatError,
    WriteId,
    decode_write,
    encode_write,
    next_stamp,
)
from localfirst.write import WRITE_FORMAT

# -- the stamp rule -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("clock", "highest", "stamp"),
    [(0, 0, 1), (5, 0, 5), (6, 12, 13), (13, 12, 13), (100, 12, 100), (-3, 4, 5)],
)
def test_next_stamp_is_max_of_clock_and_highest_plus_one(clock, highest, stamp):
    assert next_stamp(clock, highest) == stamp


def test_manual_clock_reads_what_was_set():
    clock = ManualClock(7)
    assert clock.now() == 7
    clock.set(3)
    assert clock.now() == 3


def test_local_stamps_increase_even_when_the_clock_goes_back(mem_cluster):
    lib = mem_cluster("P")
    first = lib.at("P", 50).put("note", "n", {"title": "a"})
    second = lib.at("P", 10).put("note", "n", {"title": "b"})
    third = lib.at("P", 80).put("note", "n", {"title": "c"})
    assert [first.id, second.id, third.id] == [WriteId(50, "P"), WriteId(51, "P"), WriteId(80, "P")]


def test_a_stamp_exceeds_every_stamp_seen_from_any_origin(mem_cluster):
    lib = mem_cluster("P", "A")
    lib.at("A", 40).put("note", "n", {"title": "from A"})
    lib["P"].receive(lib["A"].batch_for(lib["P"].summary()))
    write = lib.at("P", 2).put("note", "n", {"title": "from P"})
    assert write.id == WriteId(41, "P")


# -- version vectors ----------------------------------------------------------------------------


def test_vector_missing_origins_are_zero_and_zero_entries_dropped():
    v = VersionVector({"A": 3, "B": 0})
    assert v["A"] == 3
    assert v["Z"] == 0
    assert len(v) == 1
    assert list(v) == ["A"]
    assert v == {"A": 3}
    assert v == VersionVector({"A": 3, "C": 0})
    assert hash(v) == hash(VersionVector({"A": 3}))
    assert v != {"A": 4}


def test_vector_covers_exactly_up_to_its_stamp():
    v = VersionVector({"A": 12, "B": 5})
    assert v.covers(WriteId(12, "A"))
    assert v.covers(WriteId(1, "A"))
    assert not v.covers(WriteId(13, "A"))
    assert not v.covers(WriteId(1, "P"))
    assert VersionVector().highest() == 0
    assert v.highest() == 12


def test_vector_merged_takes_the_maximum_and_leaves_both_unchanged():
    a = VersionVector({"A": 12, "B": 5})
    b = VersionVector({"B": 13, "P": 7})
    assert a.merged(b) == {"A": 12, "B": 13, "P": 7}
    assert a == {"A": 12, "B": 5}
    assert b == {"B": 13, "P": 7}


def test_vector_dominates():
    big = VersionVector({"A": 12, "B": 13, "P": 7})
    small = VersionVector({"A": 12, "B": 5})
    assert big.dominates(small)
    assert not small.dominates(big)
    assert big.dominates(big)
    assert big.dominates({})
    concurrent = VersionVector({"A": 13})
    assert not big.dominates(concurrent)
    assert not concurrent.dominates(big)


def test_vector_format():
    v = VersionVector({"A": 12, "B": 13, "P": 7})
    assert v.format(["P", "A", "B"]) == "P:7 A:12 B:13"
    assert v.format() == "A:12 B:13 P:7"
    assert VersionVector({"A": 12, "B": 5}).format(["P", "A", "B"]) == "P:0 A:12 B:5"
    assert VersionVector().format() == ""


# -- writes -------------------------------------------------------------------------------------


def test_write_id_orders_by_stamp_then_origin_and_labels():
    ids = [WriteId(7, "P"), WriteId(5, "B"), WriteId(7, "A"), WriteId(12, "A")]
    assert sorted(ids) == [WriteId(5, "B"), WriteId(7, "A"), WriteId(7, "P"), WriteId(12, "A")]
    assert WriteId(7, "A").label(4) == "4:7:A"
    assert WriteId(7, "A").label(None) == "inf:7:A"


def test_put_round_trips_with_its_seen_versions():
    put = Put(
        "note",
        "n1",
        {"title": "Hello", "tags": ["a", "b"], "pinned": True, "created": 17},
        {"title": (WriteId(3, "A"), WriteId(4, "B")), "tags": (WriteId(1, "P"),)},
    )
    write = Write(WriteId(9, "A"), (put,))
    decoded = decode_write(encode_write(write))
    assert decoded == write
    assert decoded.ordered is None
    op = decoded.ops[0]
    assert isinstance(op, Put)
    assert op.seen["title"] == (WriteId(3, "A"), WriteId(4, "B"))


def test_empty_seen_lists_are_dropped_on_the_wire():
    write = Write(WriteId(2, "A"), (Put("note", "n", {"title": "x"}, {"title": ()}),))
    assert decode_write(encode_write(write)).ops == (Put("note", "n", {"title": "x"}, {}),)


def test_ordered_ops_round_trip_in_order():
    write = Write(
        WriteId(20, "B"),
        (
            Put("event", "e", {"title": "Meeting", "calendar": "room"}, {}),
            Ordered("calendar.book", {"calendar": "room", "event": "e", "slots": [[10, 20], [30, 40]]}),
        ),
    )
    decoded = decode_write(encode_write(write))
    assert decoded == write
    assert decoded.ordered == Ordered(
        "calendar.book", {"calendar": "room", "event": "e", "slots": [[10, 20], [30, 40]]}
    )
    assert [type(op) for op in decoded.ops] == [Put, Ordered]


def test_encoding_is_deterministic():
    write = Write(WriteId(1, "P"), (Put("note", "n", {"title": "t"}, {}),))
    assert encode_write(write) == encode_write(write)
    assert msgpack.unpackb(encode_write(write))[:3] == [1, 1, "P"]  # nothing format 2 added


def test_unknown_write_format_version_is_refused_naming_it():
    data = msgpack.packb([99, 1, "P", [[0, "note", "n", {"title": "t"}, {}]]])
    with pytest.raises(WriteFormatError, match=r"version 99 .*not supported"):
        decode_write(data)


@pytest.mark.parametrize(
    "data",
    [
        b"\xc1\xff\x00garbage",
        b"",
        msgpack.packb({"not": "a list"}),
        msgpack.packb([WRITE_FORMAT, 1, "P"]),
        msgpack.packb([WRITE_FORMAT, -1, "P", [[0, "note", "n", {}, {}]]]),
        msgpack.packb([WRITE_FORMAT, 1, 7, [[0, "note", "n", {}, {}]]]),
        msgpack.packb([WRITE_FORMAT, 1, "P", []]),
        msgpack.packb([WRITE_FORMAT, 1, "P", [[9, "x"]]]),
        msgpack.packb([WRITE_FORMAT, 1, "P", [[0, "note", "", {}, {}]]]),
        msgpack.packb([WRITE_FORMAT, 1, "P", [[0, "note", "n", [], {}]]]),
        msgpack.packb([WRITE_FORMAT, 1, "P", [[0, "note", "n", {}, {"title": [[1]]}]]]),
        msgpack.packb([WRITE_FORMAT, 1, "P", [[1, 5, {}]]]),
        msgpack.packb([WRITE_FORMAT, True, "P", [[0, "note", "n", {}, {}]]]),
        msgpack.packb([WRITE_FORMAT, 2**63, "P", [[0, "note", "n", {"title": "t"}, {}]]]),
        msgpack.packb([WRITE_FORMAT, 1, "P", [[0, "note", "n", {"title": "t"}, {}, "extra"]]]),
        msgpack.packb([WRITE_FORMAT, 1, "P", [[2, "note", "n", "body", "not bytes"]]]),
        msgpack.packb([WRITE_FORMAT, 1, "P", [[0, "note", "n", {}, {"title": [[-1, "A"]]}]]]),
        msgpack.packb([WRITE_FORMAT, 1, "P", [[0, "note", "n", {"title": "t"}, {}]]]) + b"\x00",
        # A value nested 100,000 arrays deep (one byte each): refused, not a RecursionError.
        msgpack.packb([WRITE_FORMAT, 1, "P", [[0, "note", "n", {"title": "X"}, {}]]]).replace(
            b"\xa1X", b"\x91" * 100_000 + b"\x01"
        ),
    ],
)
def test_malformed_writes_raise_write_format_error(data):
    with pytest.raises(WriteFormatError, match="malformed write"):
        decode_write(data)


def test_writes_encoded_by_earlier_builds_decode_to_the_same_write():
    # The log keeps every write's bytes as first encoded: a new decoder must read them all.
    data = msgpack.packb(
        [
            1,
            7,
            "A",
            [
                [0, "event", "e", {"title": "t", "reminders": [5]}, {"title": [[3, "B"], [2, "A"]]}],
                [1, "calendar.release", {"calendar": "c", "event": "e"}],
                [2, "note", "n", "body", b"\x01ops"],
            ],
        ]
    )
    assert decode_write(data) == Write(
        WriteId(7, "A"),
        (
            Put(
                "event", "e", {"title": "t", "reminders": [5]}, {"title": (WriteId(3, "B"), WriteId(2, "A"))}
            ),
            Ordered("calendar.release", {"calendar": "c", "event": "e"}),
            TextEdit("note", "n", "body", b"\x01ops"),
        ),
    )
    assert encode_write(decode_write(data)) == data
