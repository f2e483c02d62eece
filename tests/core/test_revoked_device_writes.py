"""Issue 12, defect 5: a revoked device's writes are accepted by the core.

A revoked device never learns of its revocation, so its later writes are concurrent with it;
the commit order decides (Bayou): the primary commits a write whose origin the committed log
has already revoked as rejected, and every replica ends without its effects.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from localfirst import InvalidWrite, Replica
from localfirst.revocation import REJECTED

from .conftest import Cluster, MakeCluster, sync, sync_both


def _relayed_after_revocation(lib: Cluster) -> None:
    """B writes before and after P revokes it; A relays B's later write before hearing of it."""
    p, a, b = lib["P"], lib["A"], lib["B"]
    lib.at("B", 2).put("note", "before", {"title": "kept"})
    sync_both(b, p)
    lib.at("P", 5).put("device", "B", {"revoked": True})
    p.commit()
    lib.at("B", 10).put("note", "after", {"title": "rejected"})
    sync(b, a)  # A has not heard of the revocation and relays B's write
    sync_both(a, p)
    p.commit()
    for _ in range(2):
        for x, y in ((p, a), (p, b), (a, b)):
            sync_both(x, y)


def test_revoked_device_writes_keep_earlier_effects(any_cluster: MakeCluster) -> None:
    lib = any_cluster("P", "A", "B")
    _relayed_after_revocation(lib)
    for device in "PAB":
        assert lib[device].values("before")["title"] == "kept"
        assert "B" not in lib[device].members()


def test_revoked_device_writes_relayed_after_revocation_have_no_effect(any_cluster: MakeCluster) -> None:
    lib = any_cluster("P", "A", "B")
    _relayed_after_revocation(lib)
    logs = {device: lib[device].log_labels() for device in "PAB"}
    assert logs["P"] == logs["A"] == logs["B"]
    for device in "PA":
        doc = lib[device].get("after")
        assert doc is None or not doc.exists


def _typed_over_revocation(lib: Cluster) -> None:
    """B types into a shared note after P revoked it; A, not yet told, types beside B's text."""
    p, a, b = lib["P"], lib["A"], lib["B"]
    lib.at("P", 1).put("note", "n", {"title": "shared", "body": "one two"})
    p.commit()
    sync(p, a)
    sync(p, b)
    lib.at("P", 5).put("device", "B", {"revoked": True})
    p.commit()
    lib.at("B", 10).edit_text("n", [(3, 0, " BBB"), (0, 3, "")])  # inserts and deletes one's
    lib.at("B", 11).put("note", "n", {"title": "hijacked", "tags": ["b"]})
    sync(b, a)
    assert a.values("n")["body"] == " BBB two"  # A applied them: it has not heard yet
    lib.at("A", 12).edit_text("n", [(4, 0, "<a>")])  # typed between B's characters
    sync_both(a, p)
    p.commit()
    for _ in range(2):
        for x, y in ((p, a), (p, b), (a, b)):
            sync_both(x, y)


def test_revoked_device_text_edits_are_rolled_back(any_cluster: MakeCluster) -> None:
    lib = any_cluster("P", "A", "B")
    _typed_over_revocation(lib)
    p, a, b = lib["P"], lib["A"], lib["B"]
    assert p.log_labels() == a.log_labels() == b.log_labels()
    assert all(label[:3] != "inf" for label in p.log_labels())
    for r in (p, a):
        # B's insert and delete are gone; A's typing stays where A put it.
        assert r.values("n")["body"] == "one<a> two"
        assert r.values("n")["title"] == "shared"
        assert "tags" not in r.values("n")
    assert p.state_digest() == a.state_digest()
    rejected = [e.write.id for e in p.log() if e.write.id.origin == "B"]
    assert [p.outcome(w) for w in rejected] == [(REJECTED, True)] * 2
    # The revoked device keeps what it wrote, and is told it may write no more.
    assert b.revoked
    assert not p.revoked
    assert b.values("n")["title"] == "hijacked"
    assert "BBB" in b.values("n")["body"]
    with pytest.raises(InvalidWrite, match="removed from the library"):
        b.put("note", "n", {"title": "again"})


def test_revoked_device_rollback_survives_reopen_and_truncation(
    sql_cluster: MakeCluster, reopen: Callable[[Path], Replica]
) -> None:
    lib = sql_cluster("P", "A", "B")
    _typed_over_revocation(lib)
    for device in "PAB":
        lib[device].close()
    p, a, b = (reopen(lib.paths[device]) for device in "PAB")
    p.clock, a.clock = lib.clocks["P"], lib.clocks["A"]
    assert not a.revoked
    assert b.revoked
    assert a.values("n")["body"] == "one<a> two"
    p.truncate()  # the rejected writes fold into the snapshot without their effects
    lib.clocks["A"].set(20)
    a.put("note", "later", {"title": "fine"})
    sync_both(a, p)
    p.commit()
    sync(p, a)
    assert p.truncated_csn > 0
    assert p.values("n") == a.values("n")
    assert a.values("later")["title"] == "fine"
    assert p.state_digest() == a.state_digest()
    p.close()
    p = reopen(lib.paths["P"])
    assert p.values("n")["body"] == "one<a> two"
    assert p.genesis().outcomes
