"""Benchmark: sync through a real S3-compatible store (SeaweedFS on 127.0.0.1), no LAN path.

Usage: ``python tests/perf/relay.py [--small]``. A primary and a new device, paired at genesis
and then sharing only the store. The primary's library grows to 10,000 events plus a note
carrying every keystroke of the automerge-paper trace (generated where ../shared/traces is
absent, and always in the smoke run) and goes up to the store; then the new device starts and
catches up from the store alone. Then: bytes stored per single write, the time for one edit to
reach the other device (default polling: 1 s after activity), and the store requests a device
makes per minute once idle (default polling: one list every 30 s). Prints one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from localfirst import Replica  # noqa: E402
from sync.node import Node  # noqa: E402
from sync.relay import config as relay_config  # noqa: E402
from sync.relay.exchange import RelayLink  # noqa: E402
from sync.relay.runner import Polling  # noqa: E402
from tests.perf.sync_catchup import TRACE, note_history, pair, same, until  # noqa: E402
from tests.sync.relay.seaweed import ACCESS_KEY, BUCKET, SECRET_KEY, Seaweed  # noqa: E402


def node(data: Path, name: str, polling: Polling) -> Node:
    return Node(data, name=name, discovery=False, control=False, peers=[], relay_polling=polling)


def link(n: Node) -> RelayLink:
    links = n.relays.links()
    assert links, "the relay has not started"
    return links[0]


async def started(data: Path, name: str, polling: Polling) -> Node:
    n = node(data, name, polling)
    await n.start()
    await until(lambda: bool(n.relays.links()) and link(n).state.recipients != [], 60)
    return n


async def bench(
    root: Path, store: Seaweed, events: int, bursts: int, trace: bool, idle_s: float
) -> dict[str, Any]:
    polling = Polling() if idle_s >= 60 else Polling(active=1.0, idle=idle_s / 4, window=idle_s / 4)
    address = f"s3://{BUCKET}/perf"
    primary = node(root / "p", "primary", polling)
    await primary.start()
    try:
        await pair(primary, root / "new", "new")
        for d in ("p", "new"):
            relay_config.add(root / d, address, store.endpoint, None)
        # The new device runs once, so its key is in the store, then goes away.
        fresh = await started(root / "new", "new", polling)
        await fresh.stop()
        history, final = note_history(bursts, trace)

        def grow(r: Replica) -> int:
            with r.transaction():
                for i in range(events):
                    r.put("event", f"e{i:05d}", {"title": f"event {i}", "start": "2026-11-21T10:00:00"})
                r.put("note", "paper", {"title": "automerge paper"})
                for burst in history:
                    r.edit_text("paper", burst)
            return events + sum(len(b) for b in history)

        ops = await primary.write(grow)
        primary.relays.reload()
        want = primary.replica.summary()
        await until(lambda: bool(primary.relays.links()) and _uploaded(link(primary), want), 600)
        stored = link(primary).store.counters.bytes_up

        start = time.perf_counter()
        fresh = node(root / "new", "new", polling)
        await fresh.start()
        await until(lambda: same(primary, fresh), 600)
        catchup = time.perf_counter() - start
        assert fresh.replica.text("paper") == final
        try:
            per_write = await _bytes_per_write(primary, fresh)
            edit_s = await _edit_to_peer(primary, fresh)
            idle = await _idle(fresh, idle_s, polling)
        finally:
            await fresh.stop()
        return {
            "events": events,
            "history": "automerge-paper" if trace else "generated",
            "note_keystrokes": sum(len(b) for b in history),
            "catchup_ops": ops,
            "catchup_s": round(catchup, 3),
            "catchup_ops_per_s": round(ops / catchup),
            "store_bytes_for_library": stored,
            "bytes_per_write": per_write,
            "edit_to_peer_s": edit_s,
            "poll_active_s": polling.active,
            "idle_window_s": round(idle_s, 1),
            **idle,
        }
    finally:
        await primary.stop()


def _put(r: Replica, *, kind: str, entity: str, title: str) -> None:
    r.put(kind, entity, {"title": title})


def _holds(n: Node, entity: str) -> bool:
    return n.replica.get(entity) is not None


def _uploaded(lk: RelayLink, want: Any) -> bool:
    return lk.known.csn >= want.csn and lk.known.vector.dominates(want.vector)


async def _bytes_per_write(primary: Node, fresh: Node, writes: int = 10) -> int:
    """Bytes put into the store per single write (one segment each)."""
    lk = link(primary)
    sizes = []
    for i in range(writes):
        before, seq = lk.store.counters.bytes_up, lk.state.next_seq
        await primary.write(functools.partial(_put, kind="event", entity=f"e{i:05d}", title=f"moved {i}"))
        await until(lambda seq=seq: lk.state.next_seq > seq, 60)
        sizes.append(lk.store.counters.bytes_up - before)
    await until(lambda: same(primary, fresh), 60)
    return round(statistics.median(sizes))


async def _edit_to_peer(primary: Node, fresh: Node, edits: int = 5) -> float:
    """Median seconds from a write on one device to the other holding it, via the store."""
    times = []
    for i in range(edits):
        start = time.perf_counter()
        entity = f"edit{i}"
        await fresh.write(functools.partial(_put, kind="note", entity=entity, title=f"edit {i}"))
        await until(functools.partial(_holds, primary, entity), 60)
        times.append(time.perf_counter() - start)
    return round(statistics.median(times), 3)


async def _idle(n: Node, seconds: float, polling: Polling) -> dict[str, float]:
    """Requests the device makes per minute once nothing changes (after the active window)."""
    await asyncio.sleep(polling.window + polling.active)
    c = link(n).store.counters
    lists, total = c.lists, c.lists + c.gets + c.puts + c.deletes
    await asyncio.sleep(seconds)
    per_min = 60.0 / seconds
    return {
        "idle_list_requests_per_min": round((c.lists - lists) * per_min, 2),
        "idle_requests_per_min": round((c.lists + c.gets + c.puts + c.deletes - total) * per_min, 2),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="a quick smoke run (CI)")
    args = parser.parse_args()
    events, bursts, idle_s = (300, 10, 4.0) if args.small else (10_000, 2_600, 120.0)
    trace = not args.small and TRACE.exists()
    if not args.small and not trace:
        print(f"{TRACE} not found: typing a generated history of the same size", file=sys.stderr)
    import os

    os.environ.update(AWS_ACCESS_KEY_ID=ACCESS_KEY, AWS_SECRET_ACCESS_KEY=SECRET_KEY, AWS_REGION="us-east-1")
    with tempfile.TemporaryDirectory() as tmp:
        store = Seaweed(Path(tmp) / "store")
        store.start()
        try:
            result = asyncio.run(bench(Path(tmp), store, events, bursts, trace, idle_s))
        finally:
            store.stop()
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
