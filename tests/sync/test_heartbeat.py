"""The member channel's heartbeat: a quiet peer is PINGed and stays up; a silent one is given up."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from localfirst import Replica
from storage import SqlStore, create_library
from sync.frames import Frame, FrameDecoder, encode_frame
from sync.messages import MessageType
from sync.pump import Heartbeat, memory_pair, pump
from sync.session import Session, SessionError
from tests.sync.nodes import until

P, A = "0" * 63 + "1", "a" * 64


def library(tmp_path: Path) -> tuple[Replica, Replica]:
    p = create_library(tmp_path / "p.sqlite", P, members={A: "a"})
    a = Replica.from_welcome(SqlStore(tmp_path / "a.sqlite", create=True), A, p.welcome())
    return p, a


def test_a_ping_is_answered_with_an_empty_pong_and_changes_nothing(tmp_path: Path) -> None:
    p, a = library(tmp_path)
    try:
        sp, sa = Session(p, A), Session(a, P)
        _handshake(sp, sa)
        step = sa.receive(_only([sp.ping()]))
        assert [(f.type, f.payload) for f in _frames(step.out)] == [(MessageType.PONG, b"")]
        assert step.changes is None
        assert step.closed is None
        assert sp.receive(_only(step.out)).out == []
        assert (sp.live, sa.live, sp.in_sync) == (True, True, True)
        assert sp.bytes_sent == sa.bytes_received  # counted like any frame
    finally:
        p.close()
        a.close()


def test_a_ping_before_hello_or_with_a_payload_is_a_protocol_error(tmp_path: Path) -> None:
    p, a = library(tmp_path)
    try:
        early = Session(p, A)
        early.start()
        with pytest.raises(SessionError, match="expected HELLO first, got PING"):
            early.receive(Frame(MessageType.PING, b""))
        sp, sa = Session(p, A), Session(a, P)
        sa.start()
        sa.receive(_only(sp.start()))
        with pytest.raises(SessionError, match="PING carries a payload"):
            sa.receive(Frame(MessageType.PING, b"x"))
    finally:
        p.close()
        a.close()


def test_a_quiet_live_session_is_pinged_and_stays_up(tmp_path: Path) -> None:
    p, a = library(tmp_path)

    async def main() -> None:
        cp, ca = memory_pair()
        sp, sa = Session(p, A), Session(a, P)
        runs = [
            asyncio.ensure_future(pump(s, c, lambda _step: None, heartbeat=0.05, silence=0.5))
            for s, c in ((sp, cp), (sa, ca))
        ]
        await until(lambda: sp.live and sa.live, what="live")
        after_hello = sp.bytes_received
        # Ten heartbeats' worth of silence from the application: PINGs and PONGs keep it up.
        await until(lambda: sp.bytes_received >= after_hello + 10 * 6, timeout=10, what="heartbeats")
        assert not any(run.done() for run in runs)
        assert (sp.live, sa.live) == (True, True)
        cp.send([sp.goodbye("done")])
        cp.close()
        await asyncio.wait_for(asyncio.gather(*runs), 5)

    try:
        asyncio.run(main())
    finally:
        p.close()
        a.close()


def test_a_silent_peer_is_declared_gone_after_the_silence_limit(tmp_path: Path) -> None:
    p, a = library(tmp_path)

    async def main() -> None:
        cp, silent = memory_pair()
        sp = Session(p, A)
        silent.send(Session(a, P).start())  # the peer says HELLO, then never another word
        began = time.monotonic()
        ending = await asyncio.wait_for(pump(sp, cp, lambda _step: None, heartbeat=0.05, silence=0.4), 10)
        took = time.monotonic() - began
        assert ending.reason.startswith("peer silent for "), ending
        assert ending.reason.endswith(" s (offline)")
        assert not ending.error  # not the peer's protocol fault: it may come back
        assert 0.4 <= took < 2.0
        # What we sent the silent end: our HELLO, then PINGs (unanswered).
        got = []
        while not silent._inbox.empty():
            data = silent._inbox.get_nowait()
            got += [] if data is None else [f.type for f in FrameDecoder(1 << 20).feed(data)]
        assert got[0] == MessageType.HELLO
        assert got.count(MessageType.PING) >= 3
        assert set(got[1:]) == {MessageType.PING}

    try:
        asyncio.run(main())
    finally:
        p.close()
        a.close()


def test_a_stall_of_our_own_loop_is_not_counted_as_the_peers_silence() -> None:
    async def main() -> None:
        beat = Heartbeat(0.05, 0.3)
        time.sleep(0.6)  # this loop blocked (a long local job): the peer could not be heard
        assert beat.late(live=True) is None
        await until(lambda: beat.late(live=True) is not None, timeout=5, what="real silence")

    asyncio.run(main())


def _handshake(sp: Session, sa: Session) -> None:
    """Run two sessions' opening exchange to the end (both live)."""
    out_p, out_a = sp.start(), sa.start()
    while out_p or out_a:
        to_p = [x for f in _frames(out_a) for x in sp.receive(f).out]
        to_a = [x for f in _frames(out_p) for x in sa.receive(f).out]
        out_p, out_a = to_p, to_a
    assert (sp.live, sa.live) == (True, True)


def _frames(data: list[bytes]) -> list[Frame]:
    return FrameDecoder(1 << 20).feed(b"".join(data))


def _only(data: list[bytes]) -> Frame:
    (frame,) = _frames(data)
    return frame


def test_ping_and_pong_are_six_bytes_on_the_wire() -> None:
    assert len(encode_frame(MessageType.PING, b"")) == len(encode_frame(MessageType.PONG, b"")) == 6
