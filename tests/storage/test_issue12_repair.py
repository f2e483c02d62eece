"""Issue 12 defect 6, repair: a replica whose stored log, documents or note bodies were edited
behind its back rebuilds them from a member's copy (``localfirst.repair``), keeps the writes
its user made that no member holds yet, verifies clean, and ends identical with the member."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

import pytest

from localfirst import InvalidWrite, Replica
from localfirst.integrity import (
    CHAIN_MISMATCH,
    SNAPSHOT_MISMATCH,
    STATE_MISMATCH,
    TEXT_MISMATCH,
    UNDECODABLE,
    ReplicaDamaged,
)
from localfirst.repair import repair, repair_batch
from tests.storage.conftest import Replicas


def _pair(replicas: Replicas) -> tuple[Replica, Replica]:
    """A (primary) and B holding the same five committed notes, one with a body; then B writes
    offline: a tentative write only B holds."""
    a = replicas.create("a", "dev-a", members={"dev-b": "B"})
    for i in range(1, 6):
        a.put("note", f"n{i}", {"title": f"t{i}"})
    a.put("note", "n1", {"body": "the body of one"})
    a.commit()
    b = replicas.join("b", "dev-b", a.genesis())
    b.receive(a.batch_for(b.summary()))
    assert (b.csn, b.chain) == (a.csn, a.chain) == (6, a.chain)
    b.put("note", "mine", {"title": "written offline on B"})
    return a, b


def _edit(path: Path, sql: str, *params: object) -> None:
    with closing(sqlite3.connect(path)) as conn, conn:
        conn.execute(sql, params)


def _row(path: Path, sql: str, *params: object) -> bytes:
    with closing(sqlite3.connect(path)) as conn:
        (data,) = conn.execute(sql, params).fetchone()
    return bytes(data)


def _edit_log_row(path: Path) -> None:
    data = _row(path, "SELECT data FROM log WHERE csn = 2")
    assert b"t2" in data
    _edit(path, "UPDATE log SET data = ? WHERE csn = 2", data.replace(b"t2", b"XX"))


def _truncate_log_row(path: Path) -> None:
    _edit(path, "UPDATE log SET data = substr(data, 1, 5) WHERE csn = 4")


def _edit_doc_row(path: Path) -> None:
    doc = _row(path, "SELECT doc FROM docs WHERE id = 'n4'")
    _edit(path, "UPDATE docs SET doc = ? WHERE id = 'n4'", doc.replace(b"t4", b"ZZ"))


def _edit_text_row(path: Path) -> None:
    _edit(path, "UPDATE texts SET text = 'tampered' WHERE id = 'n1' AND field = 'body'")


DAMAGE: dict[str, tuple[Callable[[Path], None], int, str]] = {
    "log row": (_edit_log_row, 2, CHAIN_MISMATCH),
    "truncated row": (_truncate_log_row, 4, UNDECODABLE),
    "document row": (_edit_doc_row, 6, STATE_MISMATCH),
    "note body": (_edit_text_row, 6, STATE_MISMATCH),
}


@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_corruption_not_noticed_repaired_from_a_member(replicas: Replicas, damage: str) -> None:
    a, b = _pair(replicas)
    edit, at, problem = DAMAGE[damage]
    path = replicas.store_of(b).path
    replicas.close(b)
    edit(path)
    b = replicas.open("b")
    found = b.verify()  # the first check in a process is full
    assert (found.ok, found.csn, found.problem) == (False, at, problem)
    with pytest.raises(ReplicaDamaged):
        b.welcome()

    changes = repair(b, repair_batch(a))

    assert changes.snapshot
    assert b.damaged is None or not b.damaged.ok  # not cleared until verified
    report = b.verify(full=True)
    assert report.ok, report.describe()
    assert b.damaged is None
    b.check_sound()
    assert [w.id.origin for w in b.tentative()] == ["dev-b"]  # the user's unsynced write is kept
    assert b.values("mine") == {"title": "written offline on B"}
    assert b.values("n4") == {"title": "t4"}
    assert b.values("n1") == {"title": "t1", "body": "the body of one"}
    assert (b.csn, b.chain) == (a.csn, a.chain)
    a.receive(b.batch_for(a.summary()))
    a.commit()
    b.receive(a.batch_for(b.summary()))
    assert (b.csn, b.chain, b.vector) == (a.csn, a.chain, a.vector) == (7, a.chain, a.vector)
    assert b.state_digest() == a.state_digest()
    assert not b.tentative()
    b = replicas.reopen(b)  # what the repair stored is sound from the rows, too
    assert b.verify(full=True).ok
    assert b.state_digest() == a.state_digest()
    assert b.values("n1") == {"title": "t1", "body": "the body of one"}


def test_corruption_not_noticed_edited_snapshot_row_is_caught_and_repaired(replicas: Replicas) -> None:
    # The snapshot is what a joining device or a repair is handed: a row of it changed on disk
    # must be caught by the full check, not passed on.
    a, b = _pair(replicas)
    b.truncate()  # the committed notes now live in B's snapshot
    a.truncate()
    # The snapshot keeps apart only what differs from the live rows: n3, renamed on B since.
    b.put("note", "n3", {"title": "t3 renamed on B"})
    path = replicas.store_of(b).path
    replicas.close(b)
    doc = _row(path, "SELECT doc FROM snapshot_docs WHERE id = 'n3'")
    _edit(path, "UPDATE snapshot_docs SET doc = ? WHERE id = 'n3'", doc.replace(b"t3", b"QQ"))
    b = replicas.open("b")
    found = b.verify(full=True)
    assert (found.ok, found.problem) == (False, SNAPSHOT_MISMATCH)
    with pytest.raises(ReplicaDamaged):
        b.welcome()
    repair(b, repair_batch(a))
    assert b.verify(full=True).ok
    b = replicas.reopen(b)
    assert b.verify(full=True).ok
    assert b.values("mine") == {"title": "written offline on B"}
    assert b.values("n3") == {"title": "t3 renamed on B"}
    assert b.genesis().docs["n3"].values() == {"title": "t3"}
    a.receive(b.batch_for(a.summary()))
    assert b.state_digest() == a.state_digest()


def test_corruption_not_noticed_edited_note_body_is_a_state_mismatch(replicas: Replicas) -> None:
    _, b = _pair(replicas)
    before = b.state_digest()
    path = replicas.store_of(b).path
    replicas.close(b)
    _edit_text_row(path)
    b = replicas.open("b")
    assert b.values("n1")["body"] == "tampered"
    assert b.state_digest() != before
    found = b.verify(full=True)
    assert (found.ok, found.problem) == (False, STATE_MISMATCH)
    with pytest.raises(ReplicaDamaged, match="state digest mismatch"):
        b.check_sound()


def test_corruption_not_noticed_body_edits_keep_the_digest_equal(replicas: Replicas) -> None:
    a, b = _pair(replicas)
    b.receive(a.batch_for(b.summary()))
    a.receive(b.batch_for(a.summary()))
    assert b.state_digest() == a.state_digest()
    a.edit_text("n1", [(0, 3, "A")])
    assert b.state_digest() != a.state_digest()
    b.receive(a.batch_for(b.summary()))
    assert b.values("n1")["body"] == "A body of one"
    assert b.state_digest() == a.state_digest()
    a = replicas.reopen(a)
    assert a.verify(full=True).ok
    assert b.state_digest() == a.state_digest()


def test_corruption_not_noticed_damaged_member_serves_no_repair(replicas: Replicas) -> None:
    a, _ = _pair(replicas)
    path = replicas.store_of(a).path
    replicas.close(a)
    _edit_log_row(path)
    a = replicas.open("a")
    with pytest.raises(ReplicaDamaged):
        repair_batch(a)


def test_corruption_not_noticed_primary_repaired_from_a_member_behind_keeps_its_csns(
    replicas: Replicas,
) -> None:
    """The primary's commits the member lacks stay committed under the CSNs they were given
    (they chain on from the member's hash to their stored ones): no CSN is ever reused."""
    a, b = _pair(replicas)
    a.put("note", "n7", {"title": "t7"})
    a.put("note", "n8", {"title": "t8"})
    a.commit()
    c = replicas.join("c", "dev-c", a.genesis())  # a third replica that saw commits #7 and #8
    c.receive(a.batch_for(c.summary()))
    assert (a.csn, b.csn, c.csn) == (8, 6, 8)
    chain = a.chain
    path = replicas.store_of(a).path
    replicas.close(a)
    _edit_log_row(path)
    a = replicas.open("a")
    assert not a.verify().ok

    repair(a, repair_batch(b))

    assert a.verify(full=True).ok
    assert (a.csn, a.chain) == (8, chain) == (c.csn, c.chain)
    assert a.tentative() == []
    assert a.log_labels() == []  # all folded into the snapshot at #8
    assert a.values("n8") == {"title": "t8"}
    a.receive(b.batch_for(a.summary()))  # B's offline write
    a.commit()
    c.receive(a.batch_for(c.summary()))
    assert (c.csn, c.chain) == (a.csn, a.chain) == (9, a.chain)


def test_corruption_not_noticed_repair_from_a_log_that_disagrees_is_refused(replicas: Replicas) -> None:
    """A "member" whose log differs at a commit this replica verified sound is not believed."""
    a, b = _pair(replicas)
    assert b.verify(full=True).ok  # the verified mark: commit #6 and its chain hash
    forged = replicas.create("f", "dev-a", members={"dev-b": "B"}, library=a.library)
    for i in range(1, 7):
        forged.put("note", f"n{i}", {"title": f"other {i}"})
    forged.commit()
    path = replicas.store_of(b).path
    replicas.close(b)
    _edit_doc_row(path)
    b = replicas.open("b")
    assert not b.verify().ok
    with pytest.raises(InvalidWrite, match="disagrees at commit #6 with a hash known here"):
        repair(b, repair_batch(forged))
    assert not b.verify(full=True).ok  # nothing was applied
    assert b.values("n4") == {"title": "ZZ"}
    repair(b, repair_batch(a))
    assert b.verify(full=True).ok


def test_corruption_not_noticed_edited_note_body_crdt_is_a_text_mismatch(replicas: Replicas) -> None:
    """The stored texts and their CRDTs disagree (the op batches are gone): the full check finds
    it, and a repair brings the bodies back, the one only this replica holds included."""
    a, b = _pair(replicas)
    b.put("note", "n2", {"body": "another body"})
    b = replicas.reopen(b)
    path = replicas.store_of(b).path
    replicas.close(b)
    with closing(sqlite3.connect(path)) as conn, conn:
        assert conn.execute("SELECT count(*) FROM texts WHERE state IS NULL").fetchone() == (2,)
        conn.execute("DELETE FROM text_ops")
    b = replicas.open("b")
    assert b.text("n1") == "the body of one"  # the stored text still reads right
    found = b.verify(full=True)
    assert (found.ok, found.problem) == (False, TEXT_MISMATCH)
    repair(b, repair_batch(a))
    assert b.verify(full=True).ok
    assert b.text("n1") == "the body of one"
    b.edit_text("n1", [(0, 3, "A")])  # the CRDT loaded after the repair is the right one
    assert b.text("n1") == "A body of one"
    assert b.text("n2") == "another body"
