"""Issue 12, defect 5: a revoked device's writes are accepted by the core.

A revoked device never learns of its revocation, so its later writes are concurrent with it;
the commit order decides (Bayou): the primary commits a write whose origin the committed log
has already revoked as rejected, and every replica ends without its effects.
"""

from __future__ import annotations

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
