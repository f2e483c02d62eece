"""Issue 17: the welcome is packed from the snapshot's stored rows (the node decodes no
document), and a joiner reads note bodies from their saved states without building a CRDT.

The bytes must be exactly what ``encode_welcome`` makes of the decoded snapshot, so a joiner
of any build reads them; the joined replica must show the inviter's state digest.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from localfirst import Replica
from localfirst.records import Summary, decode_welcome, encode_welcome
from localfirst.store import MemoryStore, Store
from storage import SqlStore

P, J = "primary-device", "joiner-device"


def _library(store: Store) -> Replica:
    """A primary whose snapshot holds events, a typed note and a note deleted, with writes after."""
    p = Replica.new_library(store, P, members={J: "joiner"})
    for i in range(30):
        p.put("event", f"e{i:03d}", {"title": f"event {i}", "start": "2026-12-01T10:00:00"})
    p.put("note", "n1", {"title": "typed", "body": "hello world"})
    p.edit_text("n1", [(5, 0, ","), (0, 1, "H")])
    p.put("note", "n2", {"title": "gone", "body": "bye"})
    p.delete("n2")
    p.commit()
    p.truncate(p.csn)
    p.put("event", "after", {"title": "after the snapshot"})
    p.edit_text("n1", [(0, 0, ">> ")])
    p.commit()
    return p


@pytest.mark.parametrize("durable", [False, True])
def test_welcome_packed_from_rows_is_the_decoded_snapshots_welcome(tmp_path: Path, durable: bool) -> None:
    p = _library(SqlStore(tmp_path / "p.sqlite", create=True) if durable else MemoryStore())
    snap = p._store.snapshot()
    assert len(snap.texts) == 2  # the notes' bodies are in it
    assert len(snap.docs) == 35
    old = encode_welcome(snap, p.batch_for(Summary(snap.vector, snap.csn)))
    new = p.welcome()
    assert decode_welcome(bytes(new)) == decode_welcome(old)
    assert len(new) == len(old)


@pytest.mark.parametrize("durable", [False, True])
def test_joiner_from_rows_welcome_shows_the_inviters_state(tmp_path: Path, durable: bool) -> None:
    p = _library(SqlStore(tmp_path / "p.sqlite", create=True) if durable else MemoryStore())
    store: Store = SqlStore(tmp_path / "j.sqlite", create=True) if durable else MemoryStore()
    j = Replica.from_welcome(store, J, p.welcome())
    assert j.text("n1") == ">> Hello, world"
    gone = j.get("n2")
    assert gone is not None
    assert not gone.exists
    assert j.get("after") is not None
    assert (j.csn, j.chain, j.vector) == (p.csn, p.chain, p.vector)
    assert j.state_digest() == p.state_digest()
    assert j.verify(full=True).ok


def test_joiner_refuses_a_welcome_whose_text_state_is_damaged(tmp_path: Path) -> None:
    p = _library(MemoryStore())
    snap = p._store.snapshot()
    key = next(iter(snap.texts))
    snap.texts[key] = snap.texts[key][:-3]
    bad = encode_welcome(snap, p.batch_for(Summary(snap.vector, snap.csn)))
    store = MemoryStore()
    with pytest.raises(Exception, match="text state"):
        Replica.from_welcome(store, J, bad)
