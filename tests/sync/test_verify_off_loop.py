"""Issue 17: a node stays responsive while it verifies its library in full. The full check
reads the file in a worker thread on its own connection (``storage.verify_reader``), so the
control socket answers while it runs, damage planted before start is still found by the
start-up check, and writes made during the check do not make it report damage. Real nodes,
real SQLite files, the real control socket."""

from __future__ import annotations

import asyncio
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from localfirst import Replica
from localfirst.integrity import STATE_MISMATCH, state_digest_of
from localfirst.text import TextDoc
from storage import SqlStore, open_replica
from storage.verify_reader import fold_states
from sync.control import control_request
from sync.node import Node, library_path
from tests.sync.nodes import start_node, until

pytestmark = pytest.mark.timeout(120)

#: Notes whose bodies are CRDTs of many runs: decoding each takes milliseconds, so the full
#: check of the library takes seconds (slow by size, as a years-old library is).
_NOTES = 400


def _long_body() -> tuple[str, bytes]:
    """A body typed in 4,000 separate places: its CRDT state holds thousands of runs."""
    doc = TextDoc("typist")
    for i in range(4000):
        doc.local_edit((i * 7) % (len(doc.text) + 1), 0, "ab")
    return doc.text, doc.encode_state()


async def _big_library(data: Path, notes: int = _NOTES) -> None:
    """A node's library in ``data`` with ``notes`` long-edited note bodies."""
    first = await start_node(data, "a")
    await first.stop()
    body, state = _long_body()
    r = open_replica(library_path(data))
    for i in range(notes):
        r.put("note", f"n{i:04}", {"title": f"t{i}", "body": body})
    r.commit()
    store = r.store
    assert isinstance(store, SqlStore)
    # The same text, as the CRDT a long editing history leaves (the Store port's own call).
    store.save_texts([((f"n{i:04}", "body"), body, [], state) for i in range(notes)])
    assert r.verify(full=True).ok
    r.close()


class _Probe:
    """Sleeps 10 ms in a loop on the node's loop, recording its worst lateness."""

    def __init__(self) -> None:
        self.worst = 0.0

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            asked = loop.time()
            await asyncio.sleep(0.01)
            self.worst = max(self.worst, loop.time() - asked - 0.01)


def _running(node: Node) -> bool:
    """Whether the node's start-up check has not reported yet."""
    return node.verifier.last is None


def _folded(data: Path) -> bytes:
    with closing(sqlite3.connect(library_path(data))) as conn:
        return state_digest_of(fold_states(conn)[2])


def test_control_answers_while_the_start_up_check_runs(tmp_path: Path) -> None:
    async def main() -> None:
        await _big_library(tmp_path / "a")
        probe = _Probe()
        probing = asyncio.get_running_loop().create_task(probe.run())
        node = Node(tmp_path / "a", name="a", discovery=False)
        await node.start()
        try:
            answers = 0
            while node.verifier.last is None:  # the start-up check runs
                loop = asyncio.get_running_loop()
                asked = loop.time()
                status = await control_request(tmp_path / "a", {"cmd": "status"}, timeout=2)
                assert loop.time() - asked < 1.0
                assert status["device"] == node.device
                answers += node.verifier.last is None  # answered before the check ended
                await asyncio.sleep(0.1)
            assert answers >= 3, answers
            report = node.verifier.last
            assert report.ok, report.describe()
            assert report.csn == node.replica.csn
            assert probe.worst < 0.5, probe.worst  # the loop was never blocked by the check
        finally:
            probing.cancel()
            await node.stop()

    asyncio.run(main())


def test_damage_planted_before_start_is_found_by_the_start_up_check(tmp_path: Path) -> None:
    async def main() -> None:
        first = await start_node(tmp_path / "a", "a")
        await first.write(lambda r: r.put("note", "n4", {"title": "t4"}))
        await first.stop()
        with closing(sqlite3.connect(library_path(tmp_path / "a"))) as conn, conn:
            (doc,) = conn.execute("SELECT doc FROM docs WHERE id = 'n4'").fetchone()
            conn.execute("UPDATE docs SET doc = ? WHERE id = 'n4'", (doc.replace(b"t4", b"ZZ"),))
        node = await start_node(tmp_path / "a", "a")
        try:
            await until(lambda: node.verifier.last is not None, what="the start-up check")
            report = node.verifier.last
            assert report is not None
            assert not report.ok
            assert report.problem == STATE_MISMATCH
            assert node.replica.damaged == report
            assert node.status()["damaged"] is not None
        finally:
            await node.stop()

    asyncio.run(main())


def test_writes_during_the_start_up_check_are_not_damage(tmp_path: Path) -> None:
    async def main() -> None:
        await _big_library(tmp_path / "a")
        node = await start_node(tmp_path / "a", "a")
        try:
            written = 0

            def put(r: Replica) -> None:
                r.put("note", f"late{written}", {"title": "late", "body": "written during the check"})

            while node.verifier.last is None and written < 20:
                await node.write(put)
                written += 1
                await asyncio.sleep(0.05)
            assert _running(node), "the check ended before writes could land during it"
            await node.write(lambda r: r.put("note", "n0001", {"title": "retitled during the check"}))
            await until(lambda: not _running(node), timeout=60, what="the start-up check")
            report = node.verifier.last
            assert report is not None
            assert report.ok, report.describe()
            assert report.csn == node.replica.csn
            assert node.replica.damaged is None
            assert node.replica.values("late0") == {"title": "late", "body": "written during the check"}
            assert node.replica.state_digest() == _folded(tmp_path / "a")
            again = node.replica.verify(full=True)  # the same check, read on the loop
            assert again.ok, again.describe()
        finally:
            await node.stop()

    asyncio.run(main())
