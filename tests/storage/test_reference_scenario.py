"""The reference scenario of DESIGN.md, step by step, on three durable replicas (SQLite files).

P (primary), A and B start with clocks at 0; every write happens at a given clock value, so
every stamp, log line and version vector is known in advance and asserted after every step.
The keys X, Y and Z are notes whose title holds the value written (as a string).
"""

from __future__ import annotations

import pytest

from localfirst import (
    ManualClock,
    Replica,
    decode_batch,
    decode_summary,
    encode_batch,
    encode_summary,
)

from .conftest import Replicas, state_of

ORIGINS = ["P", "A", "B"]
COMMITTED = ["1:1:P", "2:7:P", "3:5:B", "4:7:A", "5:12:A", "6:13:B"]


def sync(a: Replica, b: Replica) -> None:
    """Anti-entropy both ways, through the wire encoding (a's news to b, then b's to a)."""
    for src, dst in ((a, b), (b, a)):
        summary = decode_summary(encode_summary(dst.summary()))
        dst.receive(decode_batch(encode_batch(src.batch_for(summary))))


class Scenario:
    """The three replicas, their clocks, and what each one's log and vector must read."""

    def __init__(self, files: Replicas, reopen_each_step: bool) -> None:
        self.files = files
        self.reopen_each_step = reopen_each_step
        self.clocks = {name: ManualClock() for name in ORIGINS}
        p = files.create("P", "P", members={"A": "", "B": ""}, clock=self.clocks["P"])
        self.r = {
            "P": p,
            "A": files.join("A", "A", p.genesis(), self.clocks["A"]),
            "B": files.join("B", "B", p.genesis(), self.clocks["B"]),
        }

    def write(self, name: str, clock: int, key: str, value: str) -> None:
        self.clocks[name].set(clock)
        self.r[name].put("note", key, {"title": value})

    def check(self, expected: dict[str, tuple[list[str], str, int]]) -> None:
        """Every replica's log lines, vector and CSN; then (optionally) the same after a reopen."""
        for name, (labels, vector, csn) in expected.items():
            replica = self.r[name]
            assert replica.log_labels() == labels, name
            assert replica.vector.format(ORIGINS) == vector, name
            assert replica.csn == csn, name
        if self.reopen_each_step:
            for name in ORIGINS:
                before = state_of(self.r[name])
                self.r[name] = self.files.reopen(self.r[name])
                assert state_of(self.r[name]) == before, name


@pytest.mark.parametrize("reopen_each_step", [False, True], ids=["open", "reopen-each-step"])
def test_reference_scenario_on_sqlite(replicas: Replicas, reopen_each_step: bool) -> None:
    s = Scenario(replicas, reopen_each_step)
    p, a, b = (s.r[n] for n in ORIGINS)
    s.check(dict.fromkeys(ORIGINS, ([], "P:0 A:0 B:0", 0)))

    # Clients write: at P W(X,4) stamp 1 and W(Y,8) stamp 7; at A W(X,3) stamp 7 and W(Y,4)
    # stamp 12; at B W(Z,8) stamp 5.
    s.write("P", 1, "X", "4")
    s.check({"P": (["inf:1:P"], "P:1 A:0 B:0", 0)})
    s.write("P", 7, "Y", "8")
    s.write("A", 7, "X", "3")
    s.write("A", 12, "Y", "4")
    s.write("B", 5, "Z", "8")
    s.check(
        {
            "P": (["inf:1:P", "inf:7:P"], "P:7 A:0 B:0", 0),
            "A": (["inf:7:A", "inf:12:A"], "P:0 A:12 B:0", 0),
            "B": (["inf:5:B"], "P:0 A:0 B:5", 0),
        }
    )
    p, a, b = (s.r[n] for n in ORIGINS)
    assert p.values("X") == {"title": "4"}
    assert a.values("X") == {"title": "3"}
    assert b.get("X") is None

    # Anti-entropy A<->B: both hold inf:5:B, inf:7:A, inf:12:A, vectors P:0 A:12 B:5.
    sync(a, b)
    s.check(
        {
            "A": (["inf:5:B", "inf:7:A", "inf:12:A"], "P:0 A:12 B:5", 0),
            "B": (["inf:5:B", "inf:7:A", "inf:12:A"], "P:0 A:12 B:5", 0),
            "P": (["inf:1:P", "inf:7:P"], "P:7 A:0 B:0", 0),
        }
    )

    # P commits its own writes: 1:1:P W(X,4), 2:7:P W(Y,8).
    p = s.r["P"]
    assert p.commit().commits == 2
    s.check({"P": (["1:1:P", "2:7:P"], "P:7 A:0 B:0", 2)})

    # At B a client deletes Y: stamp max(clock, 12+1) = 13, inf:13:B D(Y).
    s.clocks["B"].set(6)
    b = s.r["B"]
    b.delete("Y")
    s.check({"B": (["inf:5:B", "inf:7:A", "inf:12:A", "inf:13:B"], "P:0 A:12 B:13", 0)})
    assert not s.r["B"].get("Y").exists  # type: ignore[union-attr]

    # Anti-entropy P<->B: both hold all six writes, vectors P:7 A:12 B:13.
    sync(s.r["P"], s.r["B"])
    six = ["1:1:P", "2:7:P", "inf:5:B", "inf:7:A", "inf:12:A", "inf:13:B"]
    s.check(
        {
            "P": (six, "P:7 A:12 B:13", 2),
            "B": (six, "P:7 A:12 B:13", 2),
            "A": (["inf:5:B", "inf:7:A", "inf:12:A"], "P:0 A:12 B:5", 0),
        }
    )

    # P commits the rest in tentative order: 3:5:B, 4:7:A, 5:12:A, 6:13:B.
    assert s.r["P"].commit().commits == 4
    s.check({"P": (COMMITTED, "P:7 A:12 B:13", 6), "B": (six, "P:7 A:12 B:13", 2)})

    # More anti-entropy with no new writes: all three converge.
    sync(s.r["P"], s.r["A"])
    s.check({"P": (COMMITTED, "P:7 A:12 B:13", 6), "A": (COMMITTED, "P:7 A:12 B:13", 6)})
    sync(s.r["A"], s.r["B"])
    s.check(dict.fromkeys(ORIGINS, (COMMITTED, "P:7 A:12 B:13", 6)))

    for name in ORIGINS:
        assert_final_state(s.r[name])

    # Close all three files and open them with storage.open_replica: nothing moved.
    before = {name: state_of(s.r[name]) for name in ORIGINS}
    for name in ORIGINS:
        replicas.close(s.r[name])
    for name in ORIGINS:
        reopened = replicas.open(name, s.clocks[name])
        assert reopened.log_labels() == COMMITTED
        assert reopened.vector.format(ORIGINS) == "P:7 A:12 B:13"
        assert reopened.csn == 6
        assert state_of(reopened) == before[name]
        assert_final_state(reopened)
        # A further anti-entropy round has nothing to send.
        assert len(reopened.batch_for(before[name]["summary"])) == 0


def assert_final_state(r: Replica) -> None:
    """X=3, Y deleted, Z=8, and the concurrency stays visible as siblings."""
    assert r.values("X") == {"title": "3"}
    assert r.values("Z") == {"title": "8"}
    y = r.get("Y")
    assert y is not None
    assert not y.exists
    assert "Y" not in r.entities("note")
    assert sorted(r.entities("note")) == ["X", "Z"]
    # W(X,4) is a sibling of W(X,3): A had not seen it.
    x = r.get("X")
    assert x is not None
    assert x.versions("title") == [(7, "A", "3"), (1, "P", "4")]
    # D(Y) at B superseded only W(Y,4); P's concurrent W(Y,8) is surfaced next to the delete.
    assert y.versions("title") == [(7, "P", "8")]
    assert y.versions("_deleted") == [(13, "B", True)]
    assert r.conflicts() == {"X": ["title"], "Y": ["_deleted"]}
    assert r.primary == "P"
    assert r.tentative() == []
