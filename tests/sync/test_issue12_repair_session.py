"""Issue 12 defect 6, repair over the session protocol (bytes in, bytes out, no sockets): a
replica damaged on disk sends HELLO claiming nothing, asks its peer for a REPAIR, rebuilds from
the REPAIR_DATA it gets, keeps its own unsynced write, and the session ends live and in sync."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import ExitStack, closing
from pathlib import Path

import pytest

from localfirst import Replica
from localfirst.integrity import CHAIN_MISMATCH, VerifyReport
from localfirst.repair import repair_batch
from storage import create_library, join_library, open_replica
from sync.errors import LocalFault
from sync.frames import Frame, FrameDecoder, encode_frame
from sync.messages import NO_CLAIM, Hello, MessageType, RepairData, RepairRequest
from sync.session import Phase, Session, SessionError

A, B = "a" * 64, "b" * 64


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    """A (primary) with five committed notes; B's file holds them too, plus a write of B's own."""
    a = create_library(tmp_path / "a.db", A, members={B: "B"})
    for i in range(1, 6):
        a.put("note", f"n{i}", {"title": f"t{i}"})
    a.commit()
    b = join_library(tmp_path / "b.db", B, a.genesis())
    b.receive(a.batch_for(b.summary()))
    b.put("note", "mine", {"title": "offline on B"})
    a.close()
    b.close()
    return tmp_path / "a.db", tmp_path / "b.db"


@pytest.fixture
def opened() -> Iterator[ExitStack]:
    with ExitStack() as stack:
        yield stack


def _open(stack: ExitStack, path: Path) -> Replica:
    replica = open_replica(path)
    stack.callback(replica.close)
    return replica


def _damage(path: Path) -> None:
    with closing(sqlite3.connect(path)) as conn, conn:
        (data,) = conn.execute("SELECT data FROM log WHERE csn = 2").fetchone()
        conn.execute("UPDATE log SET data = ? WHERE csn = 2", (data.replace(b"t2", b"XX"),))


def _damage_of(replica: Replica) -> VerifyReport | None:
    return replica.damaged


def _frames(data: bytes) -> list[Frame]:
    return FrameDecoder(1 << 30).feed(data)


def _run(x: Session, y: Session) -> list[MessageType]:
    """Drive two sessions to quiescence; the message types in the order they were sent."""
    sent: list[MessageType] = []
    queue = [(y, data) for data in x.start()] + [(x, data) for data in y.start()]
    while queue:
        dst, data = queue.pop(0)
        sent += [MessageType(f.type) for f in _frames(data)]
        src = x if dst is y else y
        queue += [(src, out) for out in dst.feed(data).out]
    return sent


def test_corruption_not_noticed_repaired_through_the_session(
    files: tuple[Path, Path], opened: ExitStack
) -> None:
    _damage(files[1])
    a, b = _open(opened, files[0]), _open(opened, files[1])
    found = b.verify()
    assert (found.ok, found.problem) == (False, CHAIN_MISMATCH)
    assert _damage_of(b) == found
    assert Hello.decode(_frames(Session(b, A).start()[0])[0]).digest == NO_CLAIM  # claims nothing
    sb, sa = Session(b, A), Session(a, B)
    sent = _run(sb, sa)
    assert sent.count(MessageType.REPAIR) == sent.count(MessageType.REPAIR_DATA) == 1
    assert sent.index(MessageType.REPAIR_DATA) < sent.index(MessageType.BATCH)  # nothing served first
    assert sb.repaired
    assert sa.peer_damaged
    assert sb.phase is sa.phase is Phase.LIVE
    assert _damage_of(b) is None
    assert b.verify(full=True).ok
    assert sb.proven_csn == 5
    a.commit()  # B's offline write reached the primary in the same session
    assert a.log_labels()[-1].startswith("6:")
    assert a.values("mine") == {"title": "offline on B"}
    again_b, again_a = Session(b, A), Session(a, B)
    _run(again_b, again_a)
    assert (b.csn, b.chain, b.vector) == (a.csn, a.chain, a.vector)
    assert b.state_digest() == a.state_digest()
    assert again_b.in_sync
    assert again_a.in_sync
    assert again_b.proven_csn == again_a.proven_csn == 6


def test_corruption_not_noticed_two_damaged_replicas_do_not_repair_each_other(
    files: tuple[Path, Path], opened: ExitStack
) -> None:
    _damage(files[0])
    _damage(files[1])
    a, b = _open(opened, files[0]), _open(opened, files[1])
    with pytest.raises(LocalFault, match="no repair from it"):
        _run(Session(b, A), Session(a, B))
    assert b.damaged is not None


def test_corruption_not_noticed_repair_asked_of_a_sound_peer_is_refused(
    files: tuple[Path, Path], opened: ExitStack
) -> None:
    a, b = _open(opened, files[0]), _open(opened, files[1])
    sa, sb = Session(a, B), Session(b, A)
    sa.start()
    for frame in _frames(sb.start()[0]):
        sa.receive(frame)  # a sound HELLO: no repair is owed
    (request,) = _frames(encode_frame(*RepairRequest(1).encode()))
    with pytest.raises(SessionError, match="unexpected REPAIR"):
        sa.receive(request)


def test_corruption_not_noticed_in_sync_check_stays_one_round_trip_under_128_bytes(
    files: tuple[Path, Path], opened: ExitStack
) -> None:
    """With the state digest (note bodies included) folded into HELLO, and after a repair, the
    in-sync check is still one HELLO each way of at most 128 bytes."""
    _damage(files[1])
    a, b = _open(opened, files[0]), _open(opened, files[1])
    a.put("note", "n1", {"body": "a body, so texts count in the digest"})
    _run(Session(b, A), Session(a, B))  # repairs B, then syncs both ways
    a.commit()
    _run(Session(b, A), Session(a, B))
    sb, sa = Session(b, A), Session(a, B)
    assert _run(sb, sa) == [MessageType.HELLO, MessageType.HELLO]
    assert sb.in_sync
    assert sa.in_sync
    assert sb.bytes_sent == sa.bytes_sent == sb.bytes_received == sa.bytes_received <= 128
    # The figure for issue 12: a 6-byte frame header and a 108-byte HELLO (commit #7 takes one
    # msgpack byte; the largest CSN takes 8 more, still under 128: tests/sync/test_messages.py).
    assert sb.bytes_sent == 114


def test_corruption_not_noticed_bad_repair_data_applies_nothing(
    files: tuple[Path, Path], opened: ExitStack
) -> None:
    """A peer's REPAIR_DATA that is not a whole committed log of this library closes the session
    as the peer's fault; the damaged replica is left as it was."""
    _damage(files[1])
    a, b = _open(opened, files[0]), _open(opened, files[1])
    sb, sa = Session(b, A), Session(a, B)
    sb.start()
    for frame in _frames(sa.start()[0]):
        assert [MessageType(f.type) for f in _frames(sb.receive(frame).out[0])] == [MessageType.REPAIR]
    batch = repair_batch(a)
    batch.committed = batch.committed[:2] + batch.committed[3:]  # commit #3 left out
    (frame,) = _frames(encode_frame(*RepairData(batch, last=True).encode()))
    with pytest.raises(SessionError, match="repair refused: CsnGap: repair: expected commit #3, got #4"):
        sb.receive(frame)
    assert not b.verify(full=True).ok
    assert b.log_labels()[-1].startswith("inf:")  # the offline write is still there


def test_corruption_not_noticed_repair_data_unasked_is_refused(
    files: tuple[Path, Path], opened: ExitStack
) -> None:
    a, b = _open(opened, files[0]), _open(opened, files[1])
    sb, sa = Session(b, A), Session(a, B)
    sb.start()
    for frame in _frames(sa.start()[0]):
        sb.receive(frame)  # b is sound: it sends a SUMMARY, not a REPAIR
    (frame,) = _frames(encode_frame(*RepairData(repair_batch(a), last=True).encode()))
    with pytest.raises(SessionError, match="unexpected REPAIR_DATA"):
        sb.receive(frame)


def test_corruption_not_noticed_equal_logs_other_state_the_damaged_side_repairs(
    files: tuple[Path, Path], opened: ExitStack
) -> None:
    """B's document and its saved digest were changed together: B's own check passes. The
    HELLO digests differ, the SUMMARYs show equal logs, so each side replays its own log: B's
    state does not follow from it (damaged: the session ends, the next one repairs), A's does."""
    a, b = _open(opened, files[0]), _open(opened, files[1])
    _run(Session(b, A), Session(a, B))
    a.commit()
    _run(Session(b, A), Session(a, B))
    b.close()
    with closing(sqlite3.connect(files[1])) as conn, conn:
        (doc,) = conn.execute("SELECT doc FROM docs WHERE id = 'n4'").fetchone()
        conn.execute("UPDATE docs SET doc = ? WHERE id = 'n4'", (doc.replace(b"t4", b"ZZ"),))
        conn.execute("DELETE FROM meta WHERE key = 'state_digest_v2'")
    b = _open(opened, files[1])
    assert b.verify(full=True).ok
    with pytest.raises(LocalFault, match="does not follow from its log"):
        _run(Session(b, A), Session(a, B))
    assert _damage_of(b) is not None
    assert a.damaged is None
    sb, sa = Session(b, A), Session(a, B)
    _run(sb, sa)
    assert sb.repaired
    assert b.values("n4") == {"title": "t4"}
    again_b, again_a = Session(b, A), Session(a, B)
    assert _run(again_b, again_a) == [MessageType.HELLO, MessageType.HELLO]
    assert again_b.in_sync
    assert again_a.in_sync
