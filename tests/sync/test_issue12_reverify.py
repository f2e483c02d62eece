"""Issue 12 defect 6: the node re-verifies its replica on a schedule (``sync.verifier``), so
damage that happens while it runs is found without anyone asking, every session ends, and the
replica repairs from a member over real TLS on 127.0.0.1."""

from __future__ import annotations

import asyncio
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from localfirst import Replica
from sync.node import Node, library_path
from tests.sync.nodes import LOOPBACK, pair_new, start_node, synced, until

pytestmark = pytest.mark.timeout(90)


def put_notes(r: Replica) -> None:
    for i in range(1, 6):
        r.put("note", f"n{i}", {"title": f"t{i}"})


def test_corruption_not_noticed_scheduled_full_check_finds_damage_and_repairs(tmp_path: Path) -> None:
    async def main() -> None:
        a = await start_node(tmp_path / "a", "a")
        b: Node | None = None
        try:
            first = await pair_new(a, tmp_path / "b", "b")
            await first.stop()
            b = Node(tmp_path / "b", name="b", discovery=False, control=False, peers=[(LOOPBACK, a.port)])
            b.verifier.interval = 0.2  # every 0.2 s, each check in full
            b.verifier.full_every = 1
            await b.start()
            await a.write(put_notes)
            running = b
            await until(lambda: synced(a, running), what="b holds a's commits")
            await until(lambda: running.status()["peers"][a.device]["in_sync"], what="in sync")
            assert running.status()["repaired"] is None
            with closing(sqlite3.connect(library_path(tmp_path / "b"))) as conn, conn:
                (doc,) = conn.execute("SELECT doc FROM docs WHERE id = 'n4'").fetchone()
                conn.execute("UPDATE docs SET doc = ? WHERE id = 'n4'", (doc.replace(b"t4", b"ZZ"),))
            assert running.replica.values("n4") == {"title": "ZZ"}  # damaged behind the node's back
            await until(lambda: running.status()["repaired"] is not None, timeout=30, what="repaired")
            assert "state digest mismatch" in running.status()["repaired"]["found"]
            await until(lambda: running.status()["damaged"] is None, what="sound again")
            assert running.replica.values("n4") == {"title": "t4"}
            await until(lambda: running.status()["peers"][a.device]["in_sync"], what="in sync again")
            assert running.replica.state_digest() == a.replica.state_digest()
            assert running.verifier.last is not None
        finally:
            await a.stop()
            if b is not None:
                await b.stop()

    asyncio.run(main())
