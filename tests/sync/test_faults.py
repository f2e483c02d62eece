"""Whose fault a failed session is: the peer's (data refused), this device's (disk full), or a bug."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from localfirst import ManualClock, MemoryStore, Replica
from storage import SqlStore
from storage.errors import DiskFull
from sync.errors import FrameError, LocalFault, MessageError, PairingError, PeerFault, SessionError, SyncError
from sync.frames import BadVersion, ConnectionClosed, Frame
from sync.messages import BatchMessage, MessageType
from sync.pairing import PairingUnreachable
from sync.session import Phase, Session, digest_of
from tests.storage.conftest import lift_cap, set_max_pages, state_of
from tests.sync.test_session import A, P, run, same

#: Notes A writes while P's disk is full: enough to need pages P's file does not have.
NOTES = 100


@pytest.fixture
def on_files(tmp_path: Path) -> Iterator[tuple[Replica, Replica, SqlStore]]:
    """P (primary) and A on real SQLite files; A holds notes P lacks. Yields P, A, P's store."""
    stores = [SqlStore(tmp_path / "p.db", create=True), SqlStore(tmp_path / "a.db", create=True)]
    try:
        p = Replica.new_library(stores[0], P, members={A: "a"}, clock=ManualClock(1))
        a = Replica.join(stores[1], A, p.genesis(), ManualClock(1000))
        for i in range(NOTES):
            a.create("note", {"title": f"t{i}", "body": f"{i}" * 1000}, entity=f"n{i}")
        yield p, a, stores[0]
    finally:
        for store in stores:
            store.close()


def started(p: Replica, a: Replica) -> tuple[Session, Session, list[bytes]]:
    """Sessions on P and A, and the frames A sends P up to its BATCH (after the HELLOs)."""
    sp, sa = Session(p, A), Session(a, P)
    hello_p, hello_a = sp.start()[0], sa.start()[0]
    summary_p = sp.feed(hello_a).out
    summary_a = sa.feed(hello_p).out
    batch_from_a = sa.feed(b"".join(summary_p)).out
    return sp, sa, summary_a + batch_from_a


def test_error_classes_say_whose_fault() -> None:
    for peer in (FrameError, BadVersion, MessageError, SessionError):
        assert issubclass(peer, PeerFault)
        assert issubclass(peer, SyncError)
    for other in (LocalFault, PairingError, PairingUnreachable):
        assert issubclass(other, SyncError)
        assert not issubclass(other, PeerFault)
    assert issubclass(ConnectionClosed, FrameError)  # node.py tells it apart before FrameError


def test_batch_the_replica_refuses_is_the_peers_fault_and_applies_nothing() -> None:
    p = Replica.new_library(MemoryStore(), P, members={A: "a"}, clock=ManualClock(1))
    a = Replica.join(MemoryStore(), A, p.genesis(), ManualClock(1000))
    # Writes by a device that is no member of the library, relayed by member A.
    stranger = Replica.new_library(MemoryStore(), "c" * 64, library=p.library)
    stranger.put("note", "evil", {"title": "pwned"})
    before = state_of(p)
    sp = Session(p, A)
    sp.start()
    sp.feed(Session(a, P).start()[0])
    assert sp.live
    push = BatchMessage(stranger.batch_for(p.summary()), True, digest_of(a), live=True)
    with pytest.raises(SessionError, match=r"^batch refused: UnknownOrigin: ") as info:
        sp.receive(Frame(*push.encode()))
    assert isinstance(info.value, PeerFault)
    assert sp.phase is Phase.CLOSED
    assert state_of(p) == before
    assert p.get("evil") is None


def test_disk_full_while_applying_is_a_local_fault_and_nothing_is_half_applied(
    on_files: tuple[Replica, Replica, SqlStore],
) -> None:
    p, a, store = on_files
    before = state_of(p)
    sp, _sa, to_p = started(p, a)
    assert [MessageType(f[5]) for f in to_p] == [MessageType.SUMMARY, MessageType.BATCH]
    set_max_pages(store, None)  # P's disk is full from here on
    with pytest.raises(LocalFault, match=r"^this device could not take what a{12} sent: ") as info:
        sp.feed(b"".join(to_p))
    assert not isinstance(info.value, PeerFault)
    assert isinstance(info.value.__cause__, DiskFull)
    assert sp.phase is Phase.CLOSED
    assert state_of(p) == before
    assert p.entities("note") == {}

    # Space is freed: a new session takes the same writes, and the replicas are identical.
    lift_cap(store)
    sp, sa = Session(p, A), Session(a, P)
    run(sp, sa)
    assert sp.live
    assert sa.live
    assert len(p.entities("note")) == NOTES
    assert same(p, a)
    assert store.integrity_check() == "ok"


def test_a_bug_while_applying_propagates_as_itself(
    on_files: tuple[Replica, Replica, SqlStore], monkeypatch: pytest.MonkeyPatch
) -> None:
    p, a, _store = on_files
    before = state_of(p)
    sp, _sa, to_p = started(p, a)

    def broken(_batch: object) -> None:
        raise RuntimeError("a programming error in receive")

    # Simulates a bug in the replica: neither the peer's fault nor a storage failure.
    monkeypatch.setattr(p, "receive", broken)
    with pytest.raises(RuntimeError, match="a programming error in receive") as info:
        sp.feed(b"".join(to_p))
    assert not isinstance(info.value, SyncError)
    assert sp.phase is Phase.CLOSED
    assert state_of(p) == before
