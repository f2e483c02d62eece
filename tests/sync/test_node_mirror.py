"""The headless mirror: a node keeps its library as plain files in a folder, both ways."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest

from sync.node import Node, NodeError
from tests.sync.nodes import pair_new, start_node, synced, until


def _titles(node: Node) -> dict[str, str]:
    return {k: str(d.value("title")) for k, d in node.replica.entities("note").items()}


def _body(path: Path) -> str:
    return path.read_text(encoding="utf-8").split("---\n", 2)[-1] if path.exists() else ""


def test_a_node_mirrors_writes_to_files_and_files_to_writes_that_sync(tmp_path: Path) -> None:
    folder = tmp_path / "m"

    async def main() -> None:
        a = await start_node(tmp_path / "a", "a", mirror=folder)
        b = await pair_new(a, tmp_path / "b", "b")
        try:
            assert a.status()["mirror"] == {"folder": str(folder.resolve()), "errors": []}
            assert b.status()["mirror"] is None
            # A write through the node (here: one that came from the peer) becomes a file.
            await b.write(lambda r: r.create("note", {"title": "Groceries", "body": "milk\n"}))
            await until(lambda: _body(folder / "Groceries.md") == "milk\n", what="the note's file")
            # A file dropped into the folder becomes a note, committed and synced to the peer.
            (folder / "Dropped.md").write_text("---\ntitle: Dropped\n---\nfrom a file\n", encoding="utf-8")
            await until(lambda: "Dropped" in _titles(b).values() and synced(a, b), what="the dropped note")
            dropped = next(k for k, t in _titles(b).items() if t == "Dropped")
            assert b.replica.values(dropped)["body"] == "from a file\n"
            assert not a.replica.tentative()
            assert a.status()["mirror"]["errors"] == []
        finally:
            await b.stop()
            await a.stop()
        assert not [t for t in threading.enumerate() if t.name == "mirror-worker"]

    asyncio.run(main())


def test_set_mirror_switches_folders_and_stops(tmp_path: Path) -> None:
    first, second = tmp_path / "first", tmp_path / "second"

    async def main() -> None:
        a = await start_node(tmp_path / "a", "a")
        try:
            assert a.status()["mirror"] is None
            await a.write(lambda r: r.create("note", {"title": "Kept", "body": "one\n"}))
            assert await a.set_mirror(first) == first.resolve()
            assert _body(first / "Kept.md") == "one\n"  # the whole library is written at start
            assert await a.set_mirror(second) == second.resolve()
            assert a.status()["mirror"]["folder"] == str(second.resolve())
            await a.write(lambda r: r.create("note", {"title": "Later", "body": "two\n"}))
            await until(lambda: _body(second / "Later.md") == "two\n", what="the new folder's file")
            assert not (first / "Later.md").exists()  # the first folder is no longer mirrored
            assert await a.set_mirror(None) is None
            assert a.status()["mirror"] is None
            assert not [t for t in threading.enumerate() if t.name == "mirror-worker"]
        finally:
            await a.stop()

    asyncio.run(main())


def test_a_folder_that_cannot_be_mirrored_is_one_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")

    async def main() -> None:
        a = await start_node(tmp_path / "a", "a")
        try:
            with pytest.raises(NodeError, match=r"^cannot mirror into .*a-file: "):
                await a.set_mirror(blocker)
            assert a.status()["mirror"] is None
            await a.write(lambda r: r.create("note", {"title": "Still works"}))
        finally:
            await a.stop()
        node = Node(tmp_path / "b", discovery=False, control=False, mirror=blocker)
        with pytest.raises(NodeError, match="cannot mirror into"):
            await node.start()
        with pytest.raises(NodeError):
            node.replica  # noqa: B018 -- a node that failed to start holds no library open

    asyncio.run(main())
