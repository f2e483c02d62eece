"""Issue 12 defect 6 over real TLS on 127.0.0.1: a replica whose stored log or documents were
edited notices at start, claims no identity with its peers, says it is damaged in ``status``
and ``localfirst verify``, and repairs from the first member it reaches, keeping its user's
unsynced write."""

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
from localfirst.integrity import CHAIN_MISMATCH, STATE_MISMATCH
from storage import open_replica
from sync.node import Node, library_path
from tests.sync.nodes import LOOPBACK, REPO, pair_new, run_cli, start_node, synced, until

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


def _edit_log_row(data: Path, csn: int) -> None:
    with closing(sqlite3.connect(library_path(data))) as conn, conn:
        (row,) = conn.execute("SELECT data FROM log WHERE csn = ?", (csn - 3,)).fetchone()
        assert b"t2" in row
        conn.execute("UPDATE log SET data = ? WHERE csn = ?", (row.replace(b"t2", b"XX"), csn - 3))


def _edit_doc_row(data: Path, _csn: int) -> None:
    _edit_doc(data, forget_digest=False)


def _write_offline(data: Path) -> None:
    """B's user writes while B's node is stopped (the offline door): a write no member holds."""
    replica = open_replica(library_path(data))
    try:
        replica.put("note", "mine", {"title": "written on B, offline"})
    finally:
        replica.close()


@pytest.mark.parametrize(
    ("damage", "problem"), [("log row", CHAIN_MISMATCH), ("document row", STATE_MISMATCH)]
)
def test_corruption_not_noticed_repaired_from_a_member_over_tls(
    tmp_path: Path, damage: str, problem: str
) -> None:
    """B's file is damaged while B is stopped: B notices at start, claims no identity and serves
    nothing; once it reaches A it repairs from A, keeps its user's offline write, verifies clean
    and ends identical with A, in sync."""

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
            _write_offline(tmp_path / "b")
            (_edit_log_row if damage == "log row" else _edit_doc_row)(tmp_path / "b", csn)
            code, offline = await asyncio.to_thread(_verify_cli, tmp_path / "b")  # under the lock
            at = csn - 3 if damage == "log row" else csn
            assert (code, offline["ok"], offline["csn"], offline["problem"]) == (1, False, at, problem)
            assert offline["summary"] == f"damaged at commit #{at}: {problem}"
            printed = run_cli(tmp_path / "b", "status")  # no node runs: the offline door says it too
            assert printed.returncode == 0, printed.stderr
            assert f"DAMAGED  {offline['summary']}; nothing is claimed or served" in printed.stdout
            b = restarted = await start_node(tmp_path / "b", "b", control=True)  # no member in reach
            await until(lambda: restarted.status()["damaged"] is not None, what="b notices at start")
            assert await asyncio.to_thread(_verify_cli, tmp_path / "b") == (code, offline)  # through the node
            status = restarted.status()
            assert status["damaged"] == offline["summary"]
            assert all(p["identical_up_to"] is None for p in status["peers"].values())
            assert all(not p["in_sync"] for p in status["peers"].values())

            restarted._ensure_target("a", a.device, [(LOOPBACK, a.port)])  # A comes in reach
            await until(lambda: restarted.status()["damaged"] is None, timeout=30, what="b repaired")
            await until(lambda: synced(a, restarted), timeout=30, what="b identical with a")
            await until(lambda: restarted.status()["peers"][a.device]["in_sync"], what="in sync")
            await until(lambda: a.status()["peers"][restarted.device]["in_sync"], what="a in sync")
            assert restarted.status()["repaired"]["found"] == offline["summary"]
            printed = await asyncio.to_thread(run_cli, tmp_path / "b", "status")  # through the node
            assert f"REPAIRED from a member (it was {offline['summary']})" in printed.stdout
            assert "DAMAGED" not in printed.stdout
            assert restarted.status()["peers"][a.device]["identical_up_to"] == a.replica.csn == csn + 1
            for r in (a.replica, restarted.replica):
                assert r.values("mine") == {"title": "written on B, offline"}  # kept, and committed
                assert r.values("n2") == {"title": "t2"}
                assert r.values("n4") == {"title": "t4"}
            assert restarted.replica.state_digest() == a.replica.state_digest()
            code, after = await asyncio.to_thread(_verify_cli, tmp_path / "b")
            assert (code, after["ok"], after["csn"]) == (0, True, csn + 1)
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


def test_corruption_not_noticed_edited_document_without_its_digest_is_found_by_the_peer(
    tmp_path: Path,
) -> None:
    """The rows and their saved digest changed together, so B's own check passes: only A's
    digest can tell. Equal logs with another state: B replays its own log, finds its state
    does not follow from it, and repairs from A; A, whose state does, is left alone."""

    async def main() -> None:
        a = await start_node(tmp_path / "a", "a")
        first = await pair_new(a, tmp_path / "b", "b")
        b: Node | None = None
        try:
            await a.write(put_notes)
            await until(lambda: synced(a, first), what="b holds a's commits")
            await until(lambda: first.status()["peers"][a.device]["in_sync"], what="in sync")
            await first.stop()
            _edit_doc(tmp_path / "b", forget_digest=True)
            b = restarted = await start_node(tmp_path / "b", "b", peers=[(LOOPBACK, a.port)])
            assert restarted.replica.values("n4") == {"title": "ZZ"}
            assert restarted.replica.verify(full=True).ok  # its own check cannot tell
            await until(lambda: restarted.status()["repaired"] is not None, timeout=30, what="b repaired")
            assert "state digest mismatch" in restarted.status()["repaired"]["found"]
            assert restarted.replica.values("n4") == a.replica.values("n4") == {"title": "t4"}
            await until(lambda: restarted.status()["peers"][a.device]["in_sync"], what="b in sync")
            await until(lambda: a.status()["peers"][restarted.device]["in_sync"], what="a in sync")
            assert a.status()["damaged"] is None
            assert a.status()["repaired"] is None
            assert restarted.replica.state_digest() == a.replica.state_digest()
        finally:
            await a.stop()
            await first.stop()
            if b is not None:
                await b.stop()

    asyncio.run(main())
