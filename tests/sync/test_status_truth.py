"""Status that tells the truth: a silent peer shows offline within 10 s, data in flight is
counted, the primary commits what waits as it starts, and truncation never stalls the node."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from localfirst import Replica
from localfirst.truncation import fold_log
from storage import open_replica
from sync import node as node_module
from sync import session as session_module
from sync.node import Node, library_path
from tests.sync.nodes import NodeProcess, pair_new, run_cli, start_node, synced, until, wait_for
from ui.cli import _in_flight

pytestmark = pytest.mark.timeout(120)

#: The issue's bound: a peer that went silent shows offline within this many seconds.
OFFLINE_WITHIN_S = 10.0


def cli(data: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_cli(data, *args)


def peer_row(node: NodeProcess, other: NodeProcess) -> dict[str, Any]:
    row: dict[str, Any] = node.status()["peers"].get(other.device, {})
    return row


@pytest.mark.slow
def test_a_frozen_peer_shows_offline_within_10_s_and_reconnects_after_it_resumes(tmp_path: Path) -> None:
    n1 = NodeProcess(tmp_path / "n1", "--no-discovery", name="n1")
    n2: NodeProcess | None = None
    try:
        offer = json.loads(cli(n1.data, "invite").stdout)
        joined = cli(
            tmp_path / "n2", "join", offer["code"], "--peer", f"127.0.0.1:{offer['port']}", "--name", "n2"
        )
        assert joined.returncode == 0, joined.stderr
        n2 = NodeProcess(tmp_path / "n2", "--no-discovery", "--peer", f"127.0.0.1:{n1.port}", name="n2")
        wait_for(lambda: peer_row(n1, n2).get("online") and peer_row(n2, n1).get("online"), 20, "connected")

        # SIGSTOP: the process holds its sockets open and answers nothing, like a hung machine
        # whose kernel still ACKs -- TCP keepalive alone would never notice.
        n2.proc.send_signal(signal.SIGSTOP)
        frozen = time.monotonic()
        try:
            wait_for(lambda: not peer_row(n1, n2).get("online"), 15, "n1 sees n2 offline")
            took = time.monotonic() - frozen
            assert took < OFFLINE_WITHIN_S, f"offline only after {took:.1f} s"
            human = cli(n1.data, "status")
            assert human.returncode == 0, human.stderr
            assert f"{n2.device[:12]}  n2" in human.stdout
            line = next(x for x in human.stdout.splitlines() if n2.device[:12] in x)
            assert "offline" in line
            n1.request(cmd="put", kind="note", id="while-frozen", fields={"title": "written meanwhile"})
        finally:
            n2.proc.send_signal(signal.SIGCONT)
        wait_for(lambda: peer_row(n1, n2).get("online") and peer_row(n2, n1).get("online"), 30, "reconnected")
        wait_for(
            lambda: n2.request(cmd="get", id="while-frozen").get("values") == {"title": "written meanwhile"},
            20,
            "n2 catches up after it resumes",
        )
    finally:
        errs = [n.stop() for n in (n2, n1) if n is not None]
    assert not any("Traceback" in e for e in errs), errs


def test_writes_in_flight_are_counted_during_a_catch_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Small slices: the catch-up takes many round trips, each visible in status.
    monkeypatch.setattr(session_module, "BATCH_SLICE_SIZE", 2048)

    async def main() -> None:
        a = await start_node(tmp_path / "a", "a")
        b = await pair_new(a, tmp_path / "b", "b")
        await b.stop()  # b misses the writes, then catches up from a

        def many(r: Replica) -> None:
            for i in range(600):
                r.put("note", f"n{i}", {"title": f"note {i}", "body": "x" * 200})

        await a.write(many)
        b = Node(tmp_path / "b", name="b", discovery=False, control=False, peers=[("127.0.0.1", a.port)])
        seen: list[tuple[int, int]] = []

        def look(_changes: object) -> None:
            if a.device in b.status()["peers"] and b.device in a.status()["peers"]:
                row_a, row_b = a.status()["peers"][b.device], b.status()["peers"][a.device]
                seen.append((row_a["sending"], row_b["receiving"]))

        b.subscribe(look)
        await b.start()
        try:
            await until(lambda: synced(a, b), timeout=60, what="b catches up")
            assert any(sending > 0 for sending, _ in seen), seen
            assert any(receiving > 0 for _, receiving in seen), seen
            # The counts fall as slices are acknowledged.
            assert max(r for _, r in seen) >= 500
            await until(lambda: a.status()["peers"][b.device]["sending"] == 0, what="all acknowledged")
            assert b.status()["peers"][a.device]["receiving"] == 0
        finally:
            await b.stop()
            await a.stop()

    asyncio.run(main())


def test_a_primary_commits_its_pending_writes_as_it_starts(tmp_path: Path) -> None:
    async def main() -> None:
        a = await start_node(tmp_path / "a", "a")
        csn = a.replica.csn
        await a.stop()
        replica = open_replica(library_path(tmp_path / "a"))  # offline, under no node
        try:
            replica.put("note", "offline", {"title": "written offline"})
            assert len(replica.tentative()) == 1
        finally:
            replica.close()
        a = await start_node(tmp_path / "a", "a")
        try:
            status = a.status()  # right after start, no write in between
            assert status["tentative"] == 0
            assert status["csn"] == csn + 1
        finally:
            await a.stop()

    asyncio.run(main())


def test_truncating_a_long_log_goes_in_steps_while_the_node_answers_and_pushes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(node_module, "TRUNCATE_STEP", 5)

    async def main() -> None:
        a = await start_node(tmp_path / "a", "a", truncate_after=10**9)
        b = await pair_new(a, tmp_path / "b", "b")
        seen: dict[str, Any] = {"steps": 0}

        def fold(replica: Replica, upto: int, step: int) -> Iterator[int]:
            """The node's fold, watched: at its first pause, ask for status and write."""
            for done in fold_log(replica, upto, step):
                if not seen["steps"]:
                    seen["status"] = a.status()
                    seen["write"] = asyncio.get_running_loop().create_task(
                        a.write(lambda r: r.put("note", "during", {"title": "written while truncating"}))
                    )
                seen["steps"] += 1
                yield done

        def on_b(_changes: object) -> None:
            if "arrived" not in seen and b.replica.get("during") is not None:
                seen["arrived"] = a._truncating is not None

        def many(r: Replica) -> None:
            for i in range(1500):
                r.put("note", f"n{i}", {"title": f"note {i}"})

        try:
            await a.write(many)
            await until(lambda: synced(a, b), timeout=60, what="b holds the long log")
            await until(lambda: a.status()["peers"][b.device]["identical_up_to"] == a.replica.csn)
            assert a.replica.truncated_csn < 100
            monkeypatch.setattr(node_module, "fold_log", fold)
            b.subscribe(on_b)
            a.truncate_after = 1000
            # The next step b acknowledges proves more: truncation starts in the background.
            await a.write(lambda r: r.put("note", "trigger", {"title": "go"}))
            await until(lambda: "arrived" in seen, timeout=60, what="the write made during truncation")
            assert seen["arrived"], "the push waited for the whole truncation"
            assert seen["status"]["peers"][b.device]["online"]
            await until(lambda: a._truncating is None and a.replica.truncated_csn > 1000, timeout=60)
            assert seen["steps"] >= 1500 // 5 - 1
            assert len(a.replica.log()) == a.replica.csn - a.replica.truncated_csn
            assert a.replica.values("n1499") == {"title": "note 1499"}
            await until(lambda: synced(a, b), what="still in step after truncation")
        finally:
            await b.stop()
            await a.stop()

    asyncio.run(main())


def test_status_prints_the_writes_in_flight_per_peer() -> None:
    assert _in_flight({"sending": 0, "receiving": 0}) == ""
    assert _in_flight({"sending": 3, "receiving": 1}) == ", sending 3 writes, receiving 1 write"
    assert _in_flight({"sending": 0, "receiving": 250}) == ", receiving 250 writes"
