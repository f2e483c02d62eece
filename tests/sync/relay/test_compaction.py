"""Compaction never deletes what a member has not read; a silent member is named in status; LAN
sync and a relay side by side apply every write once."""

from __future__ import annotations

import asyncio
import functools
import time
from pathlib import Path

from localfirst import Replica
from sync.node import Node
from sync.relay import compaction, config
from sync.relay.exchange import RelayLink
from sync.relay.segments import MarkerBody, device_hash
from tests.sync.nodes import start_node, synced, until
from tests.sync.relay.devices import FAST, pair_offline, start_offline, use_relay


def _note(r: Replica, title: str) -> str:
    return r.create("note", {"title": title})


def link_of(node: Node) -> RelayLink:
    return node.relays.links()[0]


def segments(node: Node) -> set[tuple[str, int]]:
    layout = link_of(node).seen.layout
    return {(d, s) for d, seqs in layout.segments.items() for s in seqs}


async def round_done(node: Node) -> None:
    lists = link_of(node).store.counters.lists
    await until(lambda: link_of(node).store.counters.lists > lists + 1, 30, "two more rounds")


def test_compaction_keeps_what_a_member_has_not_read_and_deletes_it_once_read(tmp_path: Path) -> None:
    async def main() -> None:
        folder = tmp_path / "Sync"
        p = await start_offline(tmp_path / "P", "P")
        for name in "AB":
            await pair_offline(p, tmp_path / name, name)
        for name in "PAB":
            use_relay(tmp_path / name, f"folder:{folder}")
        p.relays.reload()
        a = await start_offline(tmp_path / "A", "A")
        b = await start_offline(tmp_path / "B", "B")
        try:
            await until(
                lambda: synced(p, a, b) and all(len(link_of(n).recipients) == 3 for n in (p, a, b)), 30
            )
            await a.write(functools.partial(_note, title="read by everyone"))
            await until(lambda: synced(p, a, b), 30, "everyone read it")
            await b.stop()  # B goes quiet: what comes next it has not read
            for i in range(5):
                await a.write(functools.partial(_note, title=f"unread by B {i}"))
                await until(lambda: synced(p, a), 30, "P and A in step")
            await round_done(a)
            await round_done(p)
            unread = set(segments(p))
            for _ in range(3):  # snapshot, then delete
                await compaction.maybe_compact(link_of(p), force=True)
                await round_done(p)
            left = segments(p)
            assert unread - left  # something was compacted
            markers = link_of(p).seen.markers
            b_marker = markers[b.device]
            lib = p.replica.library
            for dev, seq in unread - left:  # everything deleted was read by B
                assert b_marker.read.get(dev, 0) >= seq or dev == device_hash(lib, b.device)
            a_hash = device_hash(lib, a.device)
            newest_a = max(s for d, s in unread if d == a_hash)
            assert (a_hash, newest_a) in left  # A's newest segment, unread by B, is kept
            b = await start_offline(tmp_path / "B", "B")
            await until(lambda: synced(p, a, b), 30, "B catches up after compaction")
        finally:
            for n in (p, a, b):
                await n.stop()

    asyncio.run(main())


def test_a_member_silent_for_longer_than_the_relays_silent_days_is_named_in_status(tmp_path: Path) -> None:
    async def main() -> None:
        p = await start_offline(tmp_path / "P", "P")
        await pair_offline(p, tmp_path / "A", "A")
        config.add(tmp_path / "P", f"folder:{tmp_path / 'Sync'}", None, None, silent_days=30)
        p.relays.reload()
        try:
            await until(lambda: bool(p.relays.links()) and link_of(p).state.last_compaction > 0, 30)
            # From here on no await: the node's rounds cannot run between these lines.
            a = next(d for d in p.replica.members() if d != p.device)
            (status,) = p.status()["relays"]
            assert status["warnings"] == [
                f"member {a[:12]} has not read this relay yet (compaction waits for it)"
            ]
            link_of(p).seen.layout.markers.add(device_hash(p.replica.library, a))
            link_of(p).seen.markers = {a: MarkerBody({}, time.time() - 29 * 86400)}
            assert p.status()["relays"][0]["warnings"] == []
            link_of(p).seen.markers = {a: MarkerBody({}, time.time() - 31 * 86400)}
            (status,) = p.status()["relays"]
            assert status["warnings"] == [f"member {a[:12]} has not read this relay for 31 days"]
        finally:
            await p.stop()

    asyncio.run(main())


def test_lan_and_relay_side_by_side_apply_each_write_once(tmp_path: Path) -> None:
    async def main() -> None:
        folder = tmp_path / "Sync"
        p = await start_node(tmp_path / "P", "P", relay_polling=FAST)
        await pair_offline(p, tmp_path / "A", "A")
        use_relay(tmp_path / "P", f"folder:{folder}")
        use_relay(tmp_path / "A", f"folder:{folder}")
        p.relays.reload()
        a = await start_node(tmp_path / "A", "A", peers=[("127.0.0.1", p.port)], relay_polling=FAST)
        try:
            for i in range(10):
                await a.write(functools.partial(_note, title=f"a{i}"))
                await p.write(functools.partial(_note, title=f"p{i}"))
            await until(lambda: synced(p, a), 30, "in step")
            await round_done(a)
            await round_done(p)
            assert p.stats["sessions"] >= 1  # the LAN carried writes too
            for n in (p, a):
                titles = sorted(d.value("title") for d in n.replica.entities("note").values())
                assert titles == sorted([f"a{i}" for i in range(10)] + [f"p{i}" for i in range(10)])
                assert link_of(n).refused == {}
            assert synced(p, a)
        finally:
            await a.stop()
            await p.stop()

    asyncio.run(main())


def test_the_primary_reads_the_marker_of_a_member_that_used_the_relay_first(tmp_path: Path) -> None:
    """A member's first read marker is sealed to itself alone (no other key is known yet); once
    the primary's key appears the member seals it again, so compaction can count on it."""

    async def main() -> None:
        folder = tmp_path / "Sync"
        p = await start_offline(tmp_path / "P", "P")
        await pair_offline(p, tmp_path / "A", "A")
        use_relay(tmp_path / "A", f"folder:{folder}")
        a = await start_offline(tmp_path / "A", "A")
        try:
            await until(lambda: bool(a.relays.links()) and a.relays.links()[0]._marker_to is not None, 30)
            assert len(link_of(a).recipients) == 1  # only itself so far
            use_relay(tmp_path / "P", f"folder:{folder}")
            p.relays.reload()
            await until(lambda: bool(p.relays.links()) and len(link_of(a).recipients) == 2, 30, "keys")
            await round_done(a)
            markers = await compaction.read_markers(link_of(p))
            assert set(markers) == {a.device}
        finally:
            await a.stop()
            await p.stop()

    asyncio.run(main())
