"""Node subscribers, joining while running, catch-up progress, and the node on its own thread."""

from __future__ import annotations

import asyncio
import re
import threading
from pathlib import Path

import pytest

from localfirst import Changes, Replica
from sync import session as session_module
from sync.node import Node, NodeError, library_path
from sync.service import NodeService
from tests.sync.nodes import LOOPBACK, pair_new, start_node, synced, until

pytestmark = pytest.mark.timeout(60)


def test_subscribers_hear_local_writes_received_batches_and_commits(tmp_path: Path) -> None:
    async def main() -> None:
        a = await start_node(tmp_path / "a", "a")
        b = await pair_new(a, tmp_path / "b", "b")
        heard_a: list[Changes] = []
        heard_b: list[Changes] = []
        a.subscribe(heard_a.append)
        unsubscribe = b.subscribe(heard_b.append)
        try:
            await until(lambda: synced(a, b), what="first sync")
            note = await b.write(lambda r: r.create("note", {"title": "from b", "body": "hi"}))
            assert note in heard_b[0].entities
            assert len(heard_b[0].writes) == 1
            assert not heard_b[0].commits  # b is not the primary
            await until(lambda: any(note in c.entities and c.writes for c in heard_a), what="a hears b")
            assert any(c.commits for c in heard_a), "the primary commits what arrives, and says so"
            await until(lambda: any(c.commits and not c.writes for c in heard_b), what="b hears the commit")
            count = len(heard_b)
            assert await b.write(lambda r: r.text(note)) == "hi"
            assert len(heard_b) == count, "a read is no change"
            # typing on a: the text edit's entity is named, on both sides
            await a.write(lambda r: r.edit_text(note, [(2, 0, "!")]))
            await until(lambda: b.replica.text(note) == "hi!", what="edit reaches b")
            assert any(note in c.entities for c in heard_b[count:])
            unsubscribe()
            count = len(heard_b)
            await a.write(lambda r: r.put("note", note, {"title": "renamed"}))
            await until(lambda: synced(a, b) and b.replica.values(note)["title"] == "renamed")
            assert len(heard_b) == count
        finally:
            await b.stop()
            await a.stop()

    asyncio.run(main())


def test_a_running_node_joins_a_library_and_dials_the_inviter(tmp_path: Path) -> None:
    async def main() -> None:
        a = await start_node(tmp_path / "a", "a")
        b = await start_node(tmp_path / "b", "b")  # its own fresh library, no peers configured
        heard: list[Changes] = []
        b.subscribe(heard.append)
        try:
            await a.write(lambda r: r.create("note", {"title": f"n{0}"}))
            for i in range(1, 200):
                a.replica.create("note", {"title": f"n{i}"})
            a.changed()
            own = b.replica.library
            await b.write(lambda r: r.create("note", {"title": "mine"}))
            inv = await a.invite()
            peer = await b.join(inv.code, LOOPBACK, inv.port)
            assert peer.device_id == a.device
            assert peer.port == a.port
            assert b.replica.library == a.replica.library != own
            assert heard[-1].snapshot
            kept = list((tmp_path / "b").glob("library.sqlite.replaced-*"))
            assert len(kept) == 1  # the lone library was kept aside, not deleted
            await until(lambda: synced(a, b), what="b dials a at the port the welcome named")
            assert len(b.replica.entities("note")) == 200
            await until(lambda: b.status()["peers"].get(a.device, {}).get("last_sync") is not None)
            status = b.status()["peers"][a.device]
            assert status["online"]
            assert status["progress"] is None
            with pytest.raises(NodeError):  # now it shares a library: no second join
                await b.join("00000000", LOOPBACK, 1)
        finally:
            await b.stop()
            await a.stop()

    asyncio.run(main())


def test_catch_up_progress_counts_entries_both_ways(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(session_module, "BATCH_SLICE_SIZE", 2000)  # many slices: progress to see

    async def main() -> None:
        a = await start_node(tmp_path / "a", "a")
        b = await pair_new(a, tmp_path / "b", "b")
        await until(lambda: synced(a, b))
        await b.stop()
        for i in range(300):
            a.replica.create("note", {"title": f"n{i}"})
        a.changed()
        seen: list[tuple[int, int]] = []

        def watch(_changes: Changes) -> None:
            for conn in b._conns.values():
                if conn.session.progress is not None:
                    seen.append(conn.session.progress)

        b = await start_node(tmp_path / "b", "b", peers=[(LOOPBACK, a.port)])
        b.subscribe(watch)
        try:
            await until(lambda: synced(a, b), what="catch-up")
            assert seen, "progress is reported while catching up"
            done, total = seen[-1]
            assert 0 < done <= total
            assert total >= 300
            peer = b.status()["peers"][a.device]
            assert peer["ops"][1] >= 300
        finally:
            await b.stop()
            await a.stop()

    asyncio.run(main())


def test_node_service_runs_a_node_on_its_own_thread(tmp_path: Path) -> None:
    service = NodeService(tmp_path / "a", name="a", host=LOOPBACK, discovery=False, control=False)
    heard: list[tuple[Changes, str]] = []
    service.subscribe(lambda c: heard.append((c, threading.current_thread().name)))
    try:
        # submitted before the node finished starting: it waits for it
        note = service.submit(lambda r: r.create("note", {"title": "t"})).result(10)
        node = service.started.result(10)
        assert isinstance(node, Node)
        assert not service.offline
        assert heard[0][0].entities == {note}
        assert heard[0][0].commits == 1
        assert heard[0][1] == "sync-node"
        assert service.status().result(10)["device"] == node.device
        code, host, port = service.invite().result(10)
        assert re.fullmatch(r"\d{2}-\d{4}-\d{4}", code)
        assert host == LOOPBACK
        assert port > 0
    finally:
        service.close()
    assert not any(t.name == "sync-node" for t in threading.enumerate())


def test_node_service_runs_offline_when_it_cannot_listen(tmp_path: Path) -> None:
    # 192.0.2.1 (TEST-NET-1) is no address of this machine: binding it fails like a vanished network
    service = NodeService(tmp_path / "a", name="a", host="192.0.2.1", discovery=False, control=False)
    try:
        titles = service.submit(lambda r: r.create("note", {"title": "offline"})).result(10)
        assert service.offline
        assert service.started.result(10).host == LOOPBACK
        assert service.submit(lambda r: r.values(titles)["title"]).result(10) == "offline"
        assert library_path(tmp_path / "a").exists()
    finally:
        service.close()
    assert isinstance(Replica, type)
