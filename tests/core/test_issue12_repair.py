"""Issue 12 defect 6, repair through the public API on both stores: a replica rebuilt from a
member's snapshot and committed log keeps its unsynced writes (field writes, note bodies, a
booking) and converges with the others; the state digests agree."""

from __future__ import annotations

from localfirst.repair import repair, repair_batch

from .conftest import MakeCluster, sync, sync_both


def test_corruption_not_noticed_repair_keeps_unsynced_writes(any_cluster: MakeCluster) -> None:
    c = any_cluster("P", "A", "B")
    p, a, b = c["P"], c["A"], c["B"]
    room = p.create("calendar", {"name": "Room", "bookable": True})
    for i in range(4):
        p.put("note", f"n{i}", {"title": f"t{i}", "tags": ["x"]})
    p.put("note", "n0", {"body": "hello"})
    p.commit()
    sync(p, a)
    sync(p, b)
    b.put("note", "n1", {"tags": ["x", "home"]})  # offline on B: none of these reached anyone
    b.edit_text("n0", [(5, 0, " from B")])
    b.book(room, [(10, 11)], {"title": "B's meeting"}, "ev")
    p.put("note", "n2", {"title": "moved on"})
    p.commit()
    sync(p, a)

    repair(b, repair_batch(a))

    assert b.verify(full=True).ok
    assert b.csn == a.csn
    assert b.values("n2")["title"] == "moved on"
    assert b.text("n0") == "hello from B"
    assert sorted(b.values("n1")["tags"]) == ["home", "x"]
    booking = b.booking("ev")
    assert booking is not None
    assert booking.tentative
    sync_both(p, b)
    p.commit()
    sync_both(p, b)
    sync_both(p, a)
    for r in (p, a, b):
        assert r.text("n0") == "hello from B"
        assert sorted(r.values("n1")["tags"]) == ["home", "x"]
        assert (r.csn, r.chain, r.vector) == (p.csn, p.chain, p.vector)
        assert r.state_digest() == p.state_digest()
    booking = b.booking("ev")
    assert booking is not None
    assert not booking.tentative
