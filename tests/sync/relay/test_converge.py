"""Three devices with no LAN path converge through a real S3 store (SeaweedFS); a booking is
arbitrated by the primary; a revoked device is cut off; a fourth catches up from a snapshot."""

from __future__ import annotations

import asyncio
import functools
from pathlib import Path

from localfirst import Doc, Replica
from sync.node import Node
from sync.relay import compaction
from sync.relay.exchange import RelayLink
from sync.relay.segments import device_hash
from tests.sync.nodes import synced, until
from tests.sync.relay.conftest import Seaweed
from tests.sync.relay.devices import lan_sessions, pair_offline, start_offline, use_relay


async def three(tmp_path: Path, address: str, endpoint: str | None) -> tuple[Node, Node, Node]:
    """P (primary) invites A and B over loopback, then all three run with LAN sync off."""
    p = await start_offline(tmp_path / "P", "P")
    await pair_offline(p, tmp_path / "A", "A")
    await pair_offline(p, tmp_path / "B", "B")
    for name in "PAB":
        use_relay(tmp_path / name, address, endpoint)
    a = await start_offline(tmp_path / "A", "A")
    b = await start_offline(tmp_path / "B", "B")
    p.relays.reload()  # P started before it had a relay (the node re-reads it; this is sooner)
    return p, a, b


def holds(node: Node, entity: str) -> bool:
    doc = node.replica.get(entity)
    return doc is not None and doc.exists


async def stop(*nodes: Node) -> None:
    for n in nodes:
        await n.stop()


def test_three_devices_converge_through_s3_with_a_booking_arbitrated_by_the_primary(
    tmp_path: Path, s3_env: Seaweed
) -> None:
    async def main() -> None:
        p, a, b = await three(tmp_path, s3_env.new_relay(), s3_env.endpoint)
        try:
            await until(
                lambda: len(a.replica.members()) == 3 and len(b.replica.members()) == 3, 30, "members"
            )
            room = await p.write(lambda r: r.create("calendar", {"name": "Room", "bookable": True}))
            await until(lambda: holds(a, room) and holds(b, room), 30, "the room everywhere")
            # Concurrent edits of one note, and two bookings of one slot, all offline of each other.
            note = await a.write(lambda r: r.create("note", {"title": "Plan"}))
            await until(lambda: holds(b, note), 30, "the note at B")
            await a.write(lambda r: r.put("note", note, {"title": "Plan (A)"}))
            await b.write(lambda r: r.put("note", note, {"title": "Plan (B)"}))
            await a.write(lambda r: r.book(room, [(10, 11)], {"title": "A's"}, event="ea"))
            await b.write(lambda r: r.book(room, [(10, 11), (12, 13)], {"title": "B's"}, event="eb"))
            await until(lambda: synced(p, a, b), 60, "P, A and B identical")
            # The primary arbitrated: A's booking takes 10-11 and B's moves to 12-13, or B's
            # (ordered first) takes 10-11 and A's, with no alternative, is a conflict.
            outcome = {e: _slot(p.replica, e) for e in ("ea", "eb")}
            assert outcome in ({"ea": 10, "eb": 12}, {"ea": None, "eb": 10})
            for node in (p, a, b):
                r: Replica = node.replica
                assert {e: _slot(r, e) for e in ("ea", "eb")} == outcome
                assert not any(x.tentative for x in (r.booking("ea"), r.booking("eb")) if x)
                titles = sorted(map(repr, _doc(r, note).versions("title")))
                assert titles == sorted(map(repr, _doc(p.replica, note).versions("title")))
                assert len(titles) == 2  # both concurrent titles are kept
            assert lan_sessions(p, a, b) == 0
            status = p.status()["relays"][0]
            assert status["reachable"] is True
            assert status["last_upload"] is not None
            assert status["last_download"] is not None
            assert status["segments"] >= 3
            assert status["bytes"] > 0
        finally:
            await stop(p, a, b)

    asyncio.run(main())


def test_a_revoked_device_is_cut_off_and_a_fourth_catches_up_from_a_snapshot(
    tmp_path: Path, s3_env: Seaweed
) -> None:
    async def main() -> None:
        p, a, b = await three(tmp_path, s3_env.new_relay(), s3_env.endpoint)
        try:
            await until(lambda: all(len(n.replica.members()) == 3 for n in (p, a, b)), 30, "members")
            for i in range(5):
                await a.write(functools.partial(_note, title=f"n{i}"))
            await until(lambda: synced(p, a, b), 60, "identical")
            p.revoke(b.device)
            await until(lambda: b.device not in a.replica.members(), 30, "A learns of the revocation")
            secret = await a.write(lambda r: r.create("note", {"title": "after the revocation"}))
            sent = b.relays.links()[0].state.next_seq  # B's next segment carries its note
            from_b = await b.write(lambda r: r.create("note", {"title": "written by the revoked B"}))
            await until(lambda: holds(p, secret), 30, "P gets A's note")
            # B's segment with its note is in the store, P and A list it, and refuse it.
            bl = b.relays.links()[0]
            await until(lambda: bl.state.next_seq > sent, 30, "B uploads")
            b_hash = device_hash(p.replica.library, b.device)
            for node in (p, a):
                await listed_then_two_rounds(node.relays.links()[0], b_hash, bl.state.next_seq - 1)
            assert not holds(p, from_b)
            assert not holds(a, from_b)
            assert not holds(b, secret)  # not sealed to B: it cannot read what came after
            # Compaction: everyone has read everything; P snapshots and deletes what is read.
            link = p.relays.links()[0]
            before = p.status()["relays"][0]["segments"]
            for _ in range(100):
                await compaction.maybe_compact(link, force=True)
                if p.status()["relays"][0]["segments"] < before:
                    break
                await asyncio.sleep(0.3)
            assert link.state.snapshot_seq > 0
            assert p.status()["relays"][0]["segments"] < before
            # A fourth device joins; what is written before it first runs reaches it only
            # through the relay: the full segments (snapshots) sealed to it once its key is seen.
            await pair_offline(p, tmp_path / "C", "C")
            late = await a.write(lambda r: r.create("note", {"title": "late"}))
            await until(lambda: holds(p, late), 30, "P gets the late note")
            use_relay(tmp_path / "C", link.config.address, link.config.endpoint)
            c = await start_offline(tmp_path / "C", "C")
            try:
                assert not holds(c, late)
                await until(lambda: holds(c, late) and synced(p, a, c), 60, "C catches up")
                assert c.status()["relays"][0]["last_download"] is not None
                assert not holds(c, from_b)
            finally:
                await c.stop()
        finally:
            await stop(p, a, b)

    asyncio.run(main())


def _doc(r: Replica, entity: str) -> Doc:
    doc = r.get(entity)
    assert doc is not None
    return doc


def _note(r: Replica, title: str) -> str:
    return r.create("note", {"title": title})


async def listed_then_two_rounds(link: RelayLink, dev_hash: str, seq: int) -> None:
    """Wait until ``link`` has listed segment ``seq`` of a stream, then for two more rounds."""
    await until(lambda: seq in link.seen.layout.segments.get(dev_hash, {}), 30, "the segment listed")
    lists = link.store.counters.lists
    await until(lambda: link.store.counters.lists > lists + 1, 30, "two more rounds")


def _slot(r: Replica, event: str) -> int | None:
    booking = r.booking(event)
    return booking.slot.start if booking is not None and booking.slot is not None else None
