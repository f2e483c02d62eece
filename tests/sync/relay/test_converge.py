"""Three devices with no LAN path converge through a real S3 store (SeaweedFS); a booking is
arbitrated by the primary; a revoked device is cut off; a fourth catches up from a snapshot."""

from __future__ import annotations

import asyncio
from pathlib import Path

from localfirst import Replica
from sync.node import Node
from sync.relay import compaction
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
        p, a, b = await three(tmp_path, f"s3://{s3_env.new_bucket()}/lib", s3_env.endpoint)
        try:
            await until(lambda: len(a.replica.members()) == 3 and len(b.replica.members()) == 3, 30, "members")
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
            for node in (p, a, b):
                r: Replica = node.replica
                booked = {e: r.booking(e) for e in ("ea", "eb")}
                assert {b_.slot.start for b_ in booked.values() if b_ and b_.slot} == {10, 12}
                assert not any(b_.tentative for b_ in booked.values() if b_)
                assert sorted(r.get(note).versions("title")) == sorted(p.replica.get(note).versions("title"))
                assert len(r.get(note).versions("title")) == 2  # both concurrent titles are kept
            assert lan_sessions(p, a, b) == 0
            status = p.status()["relays"][0]
            assert status["reachable"] is True
            assert status["last_upload"] is not None and status["last_download"] is not None
            assert status["segments"] >= 3 and status["bytes"] > 0
        finally:
            await stop(p, a, b)

    asyncio.run(main())


def test_a_revoked_device_is_cut_off_and_a_fourth_catches_up_from_a_snapshot(
    tmp_path: Path, s3_env: Seaweed
) -> None:
    async def main() -> None:
        p, a, b = await three(tmp_path, f"s3://{s3_env.new_bucket()}/lib", s3_env.endpoint)
        try:
            await until(lambda: all(len(n.replica.members()) == 3 for n in (p, a, b)), 30, "members")
            for i in range(5):
                await a.write(lambda r, i=i: r.create("note", {"title": f"n{i}"}))
            await until(lambda: synced(p, a, b), 60, "identical")
            p.revoke(b.device)
            await until(lambda: b.device not in a.replica.members(), 30, "A learns of the revocation")
            secret = await a.write(lambda r: r.create("note", {"title": "after the revocation"}))
            from_b = await b.write(lambda r: r.create("note", {"title": "written by the revoked B"}))
            await until(lambda: holds(p, secret), 30, "P gets A's note")
            await asyncio.sleep(2.0)  # several polls: B's segment is there to be refused
            assert not holds(p, from_b) and not holds(a, from_b)
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
