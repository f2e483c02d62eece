"""Issue 12 defect 6 over real TLS on 127.0.0.1: a replica whose stored log was edited claims
no identity with its peer, says it is damaged in ``status``, and ``localfirst verify`` says so."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import pytest

from localfirst import Replica
from sync.node import Node, library_path
from tests.sync.nodes import LOOPBACK, REPO, pair_new, start_node, synced, until

pytestmark = pytest.mark.timeout(90)


def put_notes(r: Replica) -> None:
    for i in range(1, 6):
        r.put("note", f"n{i}", {"title": f"t{i}"})


def _verify_cli(data: Path) -> tuple[int, dict[str, object]]:
    done = subprocess.run(
        [sys.executable, "-m", "ui.cli", "--data", str(data), "verify", "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
        check=False,
    )
    return done.returncode, json.loads(done.stdout.strip().splitlines()[-1])


def test_corruption_not_noticed_session_no_longer_proves_identity(tmp_path: Path) -> None:
    async def main() -> None:
        a = await start_node(tmp_path / "a", "a")
        first = await pair_new(a, tmp_path / "b", "b")
        b: Node | None = None
        try:
            await a.write(put_notes)
            await until(lambda: synced(a, first), what="b holds a's commits")
            await until(lambda: first.status()["peers"][a.device]["identical_up_to"] == a.replica.csn)
            csn = a.replica.csn
            await first.stop()
            path = library_path(tmp_path / "b")
            with closing(sqlite3.connect(path)) as conn, conn:
                (data,) = conn.execute("SELECT data FROM log WHERE csn = ?", (csn - 3,)).fetchone()
                assert b"t2" in data
                conn.execute("UPDATE log SET data = ? WHERE csn = ?", (data.replace(b"t2", b"XX"), csn - 3))
            assert await asyncio.to_thread(_verify_cli, tmp_path / "b") == (
                1,
                {
                    "ok": False,
                    "csn": csn - 3,
                    "problem": "chain mismatch",
                    "checked": csn - 4,
                    "summary": f"damaged at commit #{csn - 3}: chain mismatch",
                },
            )
            b = restarted = await start_node(tmp_path / "b", "b", peers=[(LOOPBACK, a.port)])
            await until(lambda: restarted.status()["damaged"] is not None, what="b notices")
            status = restarted.status()
            assert status["damaged"] == f"damaged at commit #{csn - 3}: chain mismatch"
            assert all(p["identical_up_to"] is None for p in status["peers"].values())
            assert all(not p["in_sync"] for p in status["peers"].values())
        finally:
            await a.stop()
            await first.stop()
            if b is not None:
                await b.stop()

    asyncio.run(main())
