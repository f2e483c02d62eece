"""The reference scenario of DESIGN.md on in-memory replicas (quick check of the rules)."""

from localfirst import ManualClock, MemoryStore, Replica


def sync(a: Replica, b: Replica) -> None:
    b.receive(a.batch_for(b.summary()))
    a.receive(b.batch_for(a.summary()))


def test_reference_scenario_in_memory():
    clocks = {n: ManualClock() for n in "PAB"}
    p = Replica.new_library(MemoryStore(), "P", members={"A": "", "B": ""}, clock=clocks["P"])
    a = Replica.join(MemoryStore(), "A", p.genesis(), clocks["A"])
    b = Replica.join(MemoryStore(), "B", p.genesis(), clocks["B"])

    def w(r: Replica, t: int, key: str, value: str) -> None:
        clocks[r.device].set(t)
        r.put("note", key, {"title": value})

    w(p, 1, "X", "4")
    w(p, 7, "Y", "8")
    w(a, 7, "X", "3")
    w(a, 12, "Y", "4")
    w(b, 5, "Z", "8")
    sync(a, b)
    assert a.log_labels() == b.log_labels() == ["inf:5:B", "inf:7:A", "inf:12:A"]
    assert a.vector.format(["P", "A", "B"]) == "P:0 A:12 B:5"
    assert p.commit().commits == 2
    assert p.log_labels() == ["1:1:P", "2:7:P"]
    clocks["B"].set(6)
    b.delete("Y")
    assert b.log_labels()[-1] == "inf:13:B"
    sync(p, b)
    assert p.log_labels() == b.log_labels()
    assert p.vector.format(["P", "A", "B"]) == "P:7 A:12 B:13"
    p.commit()
    assert p.log_labels() == ["1:1:P", "2:7:P", "3:5:B", "4:7:A", "5:12:A", "6:13:B"]
    sync(p, a)
    sync(a, b)
    for r in (p, a, b):
        assert r.log_labels() == p.log_labels()
        assert r.vector.format(["P", "A", "B"]) == "P:7 A:12 B:13"
        assert r.values("X") == {"title": "3"}
        y = r.get("Y")
        assert y is not None
        assert not y.exists
        assert r.values("Z") == {"title": "8"}
        assert r.conflicts() == {"X": ["title"], "Y": ["_deleted"]}
