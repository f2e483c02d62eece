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
            offline = await asyncio.to_thread(_verify_cli, tmp_path / "b")  # under the lock
            assert offline == (
                1,
                {
                    "ok": False,
                    "csn": csn - 3,
                    "problem": "chain mismatch",
                    "checked": csn - 4,
                    "summary": f"damaged at commit #{csn - 3}: chain mismatch",
                },
            )
            b = restarted = await start_node(tmp_path / "b", "b", peers=[(LOOPBACK, a.port)], control=True)
            await until(lambda: restarted.status()["damaged"] is not None, what="b notices")
            assert await asyncio.to_thread(_verify_cli, tmp_path / "b") == offline  # through the node
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


def _edit_doc(data: Path, *, forget_digest: bool) -> None:
    with closing(sqlite3.connect(library_path(data))) as conn, conn:
        (doc,) = conn.execute("SELECT doc FROM docs WHERE id = 'n4'").fetchone()
        conn.execute("UPDATE docs SET doc = ? WHERE id = 'n4'", (doc.replace(b"t4", b"ZZ"),))
        if forget_digest:  # as if the rows diverged with their saved digest: only a peer can tell
            conn.execute("DELETE FROM meta WHERE key = 'state_digest_v2'")


@pytest.mark.parametrize("forget_digest", [False, True])
def test_corruption_not_noticed_edited_document_is_not_in_sync(tmp_path: Path, forget_digest: bool) -> None:
    async def main() -> None:
        a = await start_node(tmp_path / "a", "a")
        first = await pair_new(a, tmp_path / "b", "b")
        b: Node | None = None
        try:
            await a.write(put_notes)
            await until(lambda: synced(a, first), what="b holds a's commits")
            await until(lambda: first.status()["peers"][a.device]["in_sync"], what="in sync")
            await first.stop()
            _edit_doc(tmp_path / "b", forget_digest=forget_digest)
            b = restarted = await start_node(tmp_path / "b", "b", peers=[(LOOPBACK, a.port)])
            assert restarted.replica.values("n4") == {"title": "ZZ"}
            assert a.replica.values("n4") == {"title": "t4"}
            if forget_digest:
                # Equal logs, different state: the in-sync check (one HELLO each way) sees it.
                await until(lambda: restarted.status()["peers"].get(a.device, {}).get("phase") == "live")
                await until(lambda: a.status()["peers"][restarted.device]["phase"] == "live")
                assert not restarted.status()["peers"][a.device]["in_sync"]
                assert not a.status()["peers"][restarted.device]["in_sync"]
                assert restarted.status()["damaged"] is None
            else:
                await until(lambda: restarted.status()["damaged"] is not None, what="b notices")
                assert "state digest mismatch" in restarted.status()["damaged"]
                assert all(p["identical_up_to"] is None for p in restarted.status()["peers"].values())
        finally:
            await a.stop()
            await first.stop()
            if b is not None:
                await b.stop()

    asyncio.run(main())
