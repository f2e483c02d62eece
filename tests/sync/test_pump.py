"""The session pump over an in-memory channel: two SQLite replicas sync with no socket at all."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest

from localfirst import Replica
from storage import SqlStore, create_library
from sync.const import PROTOCOL_VERSION
from sync.frames import encode_frame
from sync.messages import BatchMessage, Hello, SummaryMessage
from sync.pump import Ending, MemoryChannel, memory_pair, pump
from sync.session import Session, Step, digest_of
from tests.storage.conftest import lift_cap, set_max_pages
from tests.sync.nodes import until

P, A = "0" * 63 + "1", "a" * 64


def library(tmp_path: Path) -> tuple[Replica, Replica]:
    """A library in two SQLite files: P (primary) and A, a member that joined by welcome."""
    p = create_library(tmp_path / "p.sqlite", P, members={A: "a"})
    a = Replica.from_welcome(SqlStore(tmp_path / "a.sqlite", create=True), A, p.welcome())
    return p, a


def same(x: Replica, y: Replica) -> bool:
    return x.log_labels() == y.log_labels() and x.vector == y.vector and x.chain == y.chain


class Side:
    """One replica's end: its session, its channel, and the primary's commit after each step."""

    def __init__(self, replica: Replica, peer: str, channel: MemoryChannel) -> None:
        self.replica, self.channel = replica, channel
        self.session = Session(replica, peer)

    def on_step(self, step: Step) -> None:
        if step.changes and self.replica.primary == self.replica.device and self.replica.tentative():
            self.replica.commit()  # what a node does: commit, then push the commit back
            self.push()

    def push(self) -> None:
        self.channel.send(self.session.push())

    def end(self, reason: str) -> None:
        self.channel.send([self.session.goodbye(reason)])
        self.channel.close()


def test_two_replicas_catch_up_go_live_and_push_through_the_pump(tmp_path: Path) -> None:
    p, a = library(tmp_path)
    start = p.csn
    for i in range(30):
        p.put("note", f"p{i}", {"title": f"from p {i}"})
    p.commit()
    a.put("note", "a1", {"title": "from a"})

    async def main() -> tuple[Ending, Ending]:
        cp, ca = memory_pair()
        sp, sa = Side(p, A, cp), Side(a, P, ca)
        runs = asyncio.gather(pump(sp.session, cp, sp.on_step), pump(sa.session, ca, sa.on_step))
        await until(lambda: sp.session.live and sa.session.live and same(p, a), what="catch-up")
        a.put("note", "a2", {"title": "live from a"})
        sa.push()
        await until(lambda: same(p, a) and p.get("a2") is not None and not a.tentative(), what="live push")
        sp.end("done")
        ending_p, ending_a = await runs
        return ending_p, ending_a

    ending_p, ending_a = asyncio.run(main())
    try:
        assert ending_a == Ending("peer ended the session (bye: done)")
        assert ending_p == Ending("peer closed the connection")
        assert p.csn == a.csn == start + 32  # P's 30 notes, then A's two writes committed by P
        assert a.get("p29") is not None
        assert a.get("p29").value("title") == "from p 29"  # type: ignore[union-attr]
        assert p.get("a1").value("title") == "from a"  # type: ignore[union-attr]
        assert same(p, a)
    finally:
        p.close()
        a.close()


def _fake_member(p: Replica, a: Replica, batch_payload: bytes) -> list[bytes]:
    """What a broken A sends P: a good HELLO and SUMMARY, then a BATCH with ``batch_payload``."""
    hello = Hello(PROTOCOL_VERSION, A, a.library, digest_of(a))
    return [
        encode_frame(*hello.encode()),
        encode_frame(*SummaryMessage(a.summary()).encode()),
        encode_frame(BatchMessage(a.batch_for(p.summary()), True, digest_of(a)).encode()[0], batch_payload),
    ]


def _good_then_garbage(p: Replica, a: Replica) -> bytes:
    batch = a.batch_for(p.summary())
    batch.tentative.append(b"\x93not a write")  # the first writes are fine, this one is not
    return BatchMessage(batch, True, digest_of(a)).encode()[1]


def _truncated(p: Replica, a: Replica) -> bytes:
    return BatchMessage(a.batch_for(p.summary()), True, digest_of(a)).encode()[1][:-3]


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (_good_then_garbage, "protocol error: batch refused: WriteFormatError: malformed write"),
        (_truncated, "protocol error: BATCH: undecodable payload (Input data was truncated)"),
    ],
    ids=["bad-write", "truncated"],
)
def test_a_malformed_batch_ends_the_session_with_an_error_and_applies_nothing(
    tmp_path: Path, payload: Callable[[Replica, Replica], bytes], reason: str
) -> None:
    p, a = library(tmp_path)
    a.put("note", "a1", {"title": "from a"})
    a.put("note", "a2", {"title": "also from a"})
    before = (p.log_labels(), p.vector, p.csn, p.chain)

    async def main() -> Ending:
        cp, fake = memory_pair()
        side = Side(p, A, cp)
        fake.send(_fake_member(p, a, payload(p, a)))
        return await pump(side.session, cp, side.on_step)

    try:
        ending = asyncio.run(main())
        assert ending.error
        assert ending.reason.startswith(reason), ending
        assert (p.log_labels(), p.vector, p.csn, p.chain) == before
        assert p.get("a1") is None
        assert p.get("a2") is None
    finally:
        p.close()
        a.close()


def test_a_frame_of_another_protocol_version_ends_the_session(tmp_path: Path) -> None:
    p, a = library(tmp_path)

    async def main() -> Ending:
        cp, fake = memory_pair()
        side = Side(p, A, cp)
        fake.send([b"\x00\x00\x00\x01\xee\x01x"])  # version byte 0xee
        return await pump(side.session, cp, side.on_step)

    before = (p.log_labels(), p.vector, p.csn)
    try:
        ending = asyncio.run(main())
        assert ending == Ending(
            f"protocol error: frame has protocol version 238, this node speaks {PROTOCOL_VERSION} "
            "(update the app on this device)",
            error=True,
        )
        assert (p.log_labels(), p.vector, p.csn) == before
    finally:
        p.close()
        a.close()


def test_disk_full_ends_the_session_as_a_local_fault_not_the_peers(tmp_path: Path) -> None:
    store = SqlStore(tmp_path / "a.sqlite", create=True)
    p = create_library(tmp_path / "p.sqlite", P, members={A: "a"})
    a = Replica.from_welcome(store, A, p.welcome())
    for i in range(200):
        p.put("note", f"p{i}", {"title": f"from p {i} " + "x" * 200})
    p.commit()
    set_max_pages(store, None)  # A's disk is full: it cannot take P's writes

    async def main() -> tuple[Ending, Ending]:
        cp, ca = memory_pair()
        sp, sa = Side(p, A, cp), Side(a, P, ca)
        run_p = asyncio.ensure_future(pump(sp.session, cp, sp.on_step))
        ending_a = await asyncio.wait_for(pump(sa.session, ca, sa.on_step), 30)
        ca.close()
        return await asyncio.wait_for(run_p, 30), ending_a

    ending_p, ending_a = asyncio.run(main())
    try:
        assert ending_a.local
        assert not ending_a.error
        assert ending_a.reason.startswith(f"local fault: this device could not take what {P[:12]} sent: ")
        assert ending_p == Ending("peer closed the connection")
        assert a.entities("note") == {}
        lift_cap(store)
        assert store.integrity_check() == "ok"
    finally:
        p.close()
        a.close()
