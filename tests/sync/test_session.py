"""The anti-entropy session as a pure state machine: two in-memory replicas, no sockets."""

from __future__ import annotations

import random

import msgspec
import pytest

from localfirst import ManualClock, MemoryStore, Replica
from sync.const import PROTOCOL_VERSION
from sync.frames import Frame, FrameDecoder, encode_frame
from sync.messages import Ack, BatchMessage, Digest, Goodbye, Hello, MessageType
from sync.session import Phase, Session, SessionError, digest_of, slice_batch

P, A, B = "0" * 63 + "1", "a" * 64, "b" * 64


def trio() -> tuple[Replica, Replica, Replica]:
    """A 3-member library: P (primary), A and B, on manual clocks."""
    p = Replica.new_library(MemoryStore(), P, members={A: "a", B: "b"}, clock=ManualClock())
    a = Replica.join(MemoryStore(), A, p.genesis(), ManualClock())
    b = Replica.join(MemoryStore(), B, p.genesis(), ManualClock())
    return p, a, b


def run(x: Session, y: Session) -> list[tuple[str, bytes]]:
    """Shuttle bytes between two sessions until both are quiet; return the transcript."""
    transcript: list[tuple[str, bytes]] = []
    queue = [(x, y, data) for data in x.start()] + [(y, x, data) for data in y.start()]
    while queue:
        src, dst, data = queue.pop(0)
        transcript.append((src.peer, data))
        step = dst.feed(data)
        queue += [(dst, src, out) for out in step.out]
    return transcript


def same(r1: Replica, r2: Replica) -> bool:
    return r1.log_labels() == r2.log_labels() and r1.vector == r2.vector and r1.chain == r2.chain


def test_in_sync_check_is_one_round_trip_under_128_bytes() -> None:
    p, a, _ = trio()
    for i in range(5):
        p.put("note", f"n{i}", {"title": str(i)})
    p.commit()
    sync_pair(p, a)
    assert same(p, a)
    sp, sa = Session(p, A), Session(a, P)
    transcript = run(sp, sa)
    assert [MessageType(d[5]) for _, d in transcript] == [MessageType.HELLO, MessageType.HELLO]
    assert sp.bytes_sent == sa.bytes_sent <= 128
    assert sp.bytes_received == sa.bytes_received <= 128
    assert sp.live
    assert sa.live
    assert sp.in_sync
    assert sa.in_sync
    assert sp.proven_csn == sa.proven_csn == p.csn == 5


def sync_pair(x: Replica, y: Replica) -> tuple[Session, Session]:
    sx, sy = Session(x, y.device), Session(y, x.device)
    run(sx, sy)
    assert sx.live
    assert sy.live
    return sx, sy


def test_reference_scenario_converges_through_sessions() -> None:
    p, a, b = trio()
    clocks = {r.device: r.clock for r in (p, a, b)}

    def w(r: Replica, t: int, key: str, value: str) -> None:
        clock = clocks[r.device]
        assert isinstance(clock, ManualClock)
        clock.set(t)
        r.put("note", key, {"title": value})

    w(p, 1, "X", "4")
    w(p, 7, "Y", "8")
    w(a, 7, "X", "3")
    w(a, 12, "Y", "4")
    w(b, 5, "Z", "8")
    sync_pair(a, b)
    assert a.log_labels() == b.log_labels() == ["inf:5:" + B, "inf:7:" + A, "inf:12:" + A]
    p.commit()
    b.delete("Y")
    sync_pair(p, b)
    p.commit()
    sync_pair(p, a)
    sync_pair(a, b)
    for r in (p, a, b):
        assert same(r, p)
        assert r.values("X") == {"title": "3"}
        assert not r.get("Y").exists  # type: ignore[union-attr]


def test_live_push_relays_and_echoes_nothing() -> None:
    p, a, b = trio()
    spa, sap = sync_pair(p, a)
    sab, sba = sync_pair(a, b)
    p.put("note", "n", {"title": "from P"})
    # P pushes to A; A relays to B; each hop acked; nothing comes back.
    frames = spa.push()
    assert frames
    step = sap.feed(b"".join(frames))
    assert step.changes
    assert sap.push() == []  # A does not echo P's write back to P
    assert spa.feed(b"".join(step.out)).out == []  # P takes the ACK
    relay = sab.push()
    acks = sba.feed(b"".join(relay)).out
    sab.feed(b"".join(acks))
    assert b.values("n") == {"title": "from P"}
    assert sab.in_sync
    assert spa.in_sync


def test_big_batch_is_sliced_and_resumed_without_resending_acked() -> None:
    p, a, _ = trio()
    with p.transaction():
        for i in range(300):
            p.put("event", f"e{i}", {"title": "x" * 200})
    p.commit()
    batch = p.batch_for(a.summary())
    parts = slice_batch(batch, 8_000)
    assert len(parts) > 5
    assert sum(len(s.committed) for s in parts) == 300
    # A first session dies after two slices were applied and acknowledged.
    sp, sa = Session(p, A, slice_size=8_000), Session(a, P, slice_size=8_000)
    hp, ha = sp.start(), sa.start()
    summary_a = sa.feed(hp[0]).out
    summary_p = sp.feed(ha[0]).out
    sa.feed(summary_p[0])
    batches = sp.feed(summary_a[0]).out
    assert len(batches) > 5
    for data in batches[:2]:
        sp.feed(b"".join(sa.feed(data).out))
    held = a.csn
    assert 0 < held < 300
    # The resumed session's SUMMARY says what A holds: nothing acknowledged is sent again.
    sp2, sa2 = Session(p, A), Session(a, P)
    transcript = run(sp2, sa2)
    sent = [BatchMessage.decode(Frame(d[5], d[6:])) for who, d in transcript if d[5] == MessageType.BATCH]
    from_p = [
        m
        for m, (who, _) in zip(sent, [t for t in transcript if t[1][5] == MessageType.BATCH], strict=True)
        if who == A
    ]
    assert min(e.csn for m in from_p for e in m.batch.committed) == held + 1
    assert same(p, a)


def test_old_protocol_version_and_wrong_device_are_refused() -> None:
    p, a, _ = trio()
    sp = Session(p, A, min_version=1)
    sp.start()
    old = Hello(0, A, p.library, digest_of(a))
    with pytest.raises(SessionError, match="older"):
        sp.receive(Frame(*old.encode()))
    sp = Session(p, A)
    sp.start()
    with pytest.raises(SessionError, match="authenticated"):
        sp.receive(Frame(*Hello(PROTOCOL_VERSION, B, p.library, digest_of(a)).encode()))
    sp = Session(p, A)
    sp.start()
    with pytest.raises(SessionError, match="another library"):
        sp.receive(Frame(*Hello(PROTOCOL_VERSION, A, "f" * 32, digest_of(a)).encode()))


def test_diverged_committed_logs_are_detected_by_chain_hashes() -> None:
    p, _a, _ = trio()
    p.put("note", "n", {"title": "x"})
    p.commit()
    sp = Session(p, A)
    sp.start()
    forged = Digest(1, b"\0" * 16, b"\1" * 32)
    with pytest.raises(SessionError, match="differ at commit #1"):
        sp.receive(Frame(*Hello(PROTOCOL_VERSION, A, p.library, forged).encode()))


def state(r: Replica) -> tuple[object, ...]:
    return (tuple(r.log_labels()), r.vector, r.csn, r.chain)


def test_out_of_order_and_malformed_frames_apply_nothing() -> None:
    p, a, _ = trio()
    p.put("note", "n", {"title": "x"})
    batch_payload = BatchMessage(p.batch_for(a.summary()), True, digest_of(p)).encode()
    before = state(a)
    bad: list[tuple[int, bytes]] = [
        batch_payload,  # BATCH before HELLO
        (MessageType.PUSH, batch_payload[1]),
        Ack(Digest(0, b"\0" * 16, b"\0" * 32)).encode(),
        (MessageType.SUMMARY, b"\x93\x01"),
        (0x7E, b""),
        (MessageType.HELLO, b"\xc1"),
    ]
    for kind, payload in bad:
        sa = Session(a, P)
        sa.start()
        with pytest.raises(SessionError):
            sa.receive(Frame(kind, payload))
        assert sa.phase is Phase.CLOSED
        assert state(a) == before
    # After a good HELLO: a PUSH while syncing, an ACK for nothing, a corrupt batch.
    for kind, payload in [
        (MessageType.PUSH, batch_payload[1]),
        Ack(Digest(0, b"\0" * 16, b"\0" * 32)).encode(),
        (MessageType.BATCH, msgspec.msgpack.encode([True, [0, bytes(16), bytes(32)], b"\x94\x01\xc0"])),
    ]:
        sp, sa = Session(p, A), Session(a, P)
        hello_p = sp.start()[0]
        sa.start()
        sa.feed(hello_p)
        with pytest.raises(SessionError):
            sa.receive(Frame(kind, payload))
        assert state(a) == before


def test_fuzzed_frames_never_apply_and_never_crash() -> None:
    rng = random.Random(4)
    p, a, _ = trio()
    stranger = "c" * 64
    s = Replica.new_library(MemoryStore(), stranger, library=p.library)
    s.put("note", "evil", {"title": "pwned"})
    corpus = [
        encode_frame(*Hello(PROTOCOL_VERSION, P, p.library, Digest(3, b"\1" * 16, b"\2" * 32)).encode()),
        encode_frame(*BatchMessage(s.batch_for(a.summary()), True, digest_of(s)).encode()),
        encode_frame(*BatchMessage(s.batch_for(a.summary()), False, digest_of(s), live=True).encode()),
        encode_frame(*Ack(Digest(0, b"\0" * 16, b"\0" * 32)).encode()),
        encode_frame(*Goodbye("x").encode()),
    ]
    before = state(a)
    ahead = Digest(9, b"\1" * 16, b"\2" * 32)
    for i in range(2000):
        base = bytearray(rng.choice(corpus))
        if i % 4 == 0:
            data = bytes(rng.randrange(256) for _ in range(rng.randrange(64)))
        else:
            for _ in range(rng.randrange(1, 4)):
                base[rng.randrange(len(base))] = rng.randrange(256)
            data = bytes(base[: rng.randrange(1, len(base) + 1)]) if i % 3 == 0 else bytes(base)
        sa = Session(a, P)
        sa.start()
        try:
            sa.feed(encode_frame(*Hello(PROTOCOL_VERSION, P, p.library, ahead).encode()))
            sa.feed(data)
        except SessionError:
            pass
    assert state(a) == before


def test_decoder_refuses_oversized_frames_before_buffering() -> None:
    dec = FrameDecoder(max_size=100)
    with pytest.raises(Exception, match="cap"):
        dec.feed(b"\x00\x10\x00\x00" + bytes([PROTOCOL_VERSION, 0x20]))
