"""Benchmark: a new device catching up with a library over loopback TLS; the in-sync check.

Usage: ``python tests/perf/sync_catchup.py [--small]``. Two nodes in one process (one event
loop, real sockets, real TLS 1.3): the new device paired at genesis, then the library grows
to 10,000 events plus a note carrying the automerge-paper history (every keystroke of the
trace as a text-CRDT op, a burst of typing per write, ending at the trace's final text; a
generated history of the same size where ../shared/traces is absent, and always in the smoke
run); then the new
device connects and catches up. A third member makes the in-sync check a 3-member library.
Prints one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from localfirst import Replica  # noqa: E402
from sync.node import Node, join_from_welcome, load_identity  # noqa: E402
from sync.pairing import join  # noqa: E402

TRACE = REPO.parent / "shared" / "traces" / "automerge-paper.json.gz"
LOOPBACK = "127.0.0.1"


def generated_patches(count: int, seed: int = 7) -> list[tuple[int, int, str]]:
    """A typing history made here: runs of keystrokes, backspaces and jumps of the cursor."""
    rng = random.Random(seed)
    patches: list[tuple[int, int, str]] = []
    length = cursor = 0
    while len(patches) < count:
        roll = rng.random()
        if roll < 0.03:
            cursor = rng.randint(0, length)
        elif roll < 0.15 and cursor > 0:
            patches.append((cursor - 1, 1, ""))
            cursor, length = cursor - 1, length - 1
        else:
            patches.append((cursor, 0, rng.choice("etaoin shrdlu\n")))
            cursor, length = cursor + 1, length + 1
    return patches


def note_history(bursts: int, trace: bool) -> tuple[list[list[tuple[int, int, str]]], str]:
    """Keystrokes cut into ``bursts`` equal bursts, and the final text they lead to.

    With ``trace`` the keystrokes are automerge-paper's (from ../shared/traces); otherwise a
    generated history of the same size, so the benchmark runs in a clone with nothing beside it.
    """
    if trace:
        with gzip.open(TRACE, "rt", encoding="utf-8") as f:
            data: dict[str, Any] = json.load(f)
        patches = [(p[0], p[1], p[2]) for t in data["txns"] for p in t["patches"]]
        end = str(data["endContent"])
    else:
        patches = generated_patches(259_778 if bursts > 100 else 10_000)
        text: list[str] = []
        for pos, deleted, inserted in patches:
            text[pos : pos + deleted] = inserted
        end = "".join(text)
    step = max(1, len(patches) // bursts)
    return [patches[i : i + step] for i in range(0, len(patches), step)], end


async def until(cond: Any, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise TimeoutError("benchmark condition not reached")
        await asyncio.sleep(0.002)


def same(a: Node, b: Node) -> bool:
    ra, rb = a.replica, b.replica
    return ra.vector == rb.vector and ra.csn == rb.csn and ra.chain == rb.chain and not rb.tentative()


async def pair(inviter: Node, data: Path, name: str) -> None:
    inv = await inviter.invite()
    ident = load_identity(data, name)
    _, welcome = await join(inv.code, LOOPBACK, inv.port, ident)
    join_from_welcome(data, ident, welcome).close()


def node(data: Path, name: str, peer: int | None = None) -> Node:
    peers = [(LOOPBACK, peer)] if peer else []
    return Node(data, name=name, discovery=False, control=False, peers=peers)


async def bench(root: Path, events: int, bursts: int, trace: bool) -> dict[str, Any]:
    primary = node(root / "p", "primary")
    await primary.start()
    try:
        await pair(primary, root / "new", "new")
        await pair(primary, root / "third", "third")
        # The third member writes once and syncs, so the vector has three origins.
        third = node(root / "third", "third", primary.port)
        await third.start()
        await third.write(lambda r: r.put("note", "hello", {"title": "from the third member"}))
        await until(lambda: same(primary, third), 30)
        await third.stop()

        history, final = note_history(bursts, trace)

        def grow(r: Replica) -> int:
            with r.transaction():
                for i in range(events):
                    r.put("event", f"e{i:05d}", {"title": f"event {i}", "start": "2026-11-21T10:00:00"})
                r.put("note", "paper", {"title": "automerge paper"})
                for burst in history:  # every keystroke of the paper, a burst of typing per write
                    r.edit_text("paper", burst)
            return events + sum(len(b) for b in history)

        ops = await primary.write(grow)
        # The new device wrote one note while away; it has never seen any of the library.
        fresh = node(root / "new", "new", primary.port)
        start = time.perf_counter()
        await fresh.start()
        await fresh.write(lambda r: r.put("note", "mine", {"title": "written on the new device"}))
        await until(lambda: same(primary, fresh) and primary.replica.get("mine") is not None, 600)
        catchup = time.perf_counter() - start
        sent_to_new, sent_from_new = primary.traffic(fresh.device)
        assert fresh.replica.text("paper") == final
        await fresh.stop()

        # Already in sync: a fresh session is one HELLO each way.
        again = node(root / "new", "new", primary.port)
        await again.start()
        await until(lambda: again._conns and next(iter(again._conns.values())).session.live, 30)
        conn = next(iter(again._conns.values()))
        in_sync = (conn.session.bytes_sent, conn.session.bytes_received)
        assert conn.session.in_sync
        await again.stop()
        return {
            "events": events,
            "history": "automerge-paper" if trace else "generated",
            "note_writes": len(history),
            "note_keystrokes": sum(len(b) for b in history),
            "note_chars": len(final),
            "members": len(primary.replica.members()),
            "catchup_ops": ops,
            "catchup_s": round(catchup, 3),
            "catchup_ops_per_s": round(ops / catchup),
            "bytes_to_new_device": sent_to_new,
            "bytes_from_new_device": sent_from_new,
            "in_sync_bytes_each_way": max(in_sync),
            "in_sync_round_trips": 1,
        }
    finally:
        await primary.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="a quick smoke run (CI)")
    args = parser.parse_args()
    events, bursts = (500, 20) if args.small else (10_000, 2_600)
    # The smoke run always types a generated history, so it runs in a clone with nothing beside
    # it; the full run replays the real trace when ../shared/traces holds it.
    trace = not args.small and TRACE.exists()
    if not args.small and not trace:
        print(f"{TRACE} not found: typing a generated history of the same size", file=sys.stderr)
    with tempfile.TemporaryDirectory() as tmp:
        result = asyncio.run(bench(Path(tmp), events, bursts, trace))
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
