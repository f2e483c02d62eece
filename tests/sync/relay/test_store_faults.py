"""The store dies mid-upload and mid-download and comes back: devices keep working locally, back
off, resume, and converge with nothing lost and nothing applied twice."""

from __future__ import annotations

import asyncio
import functools
import threading
from pathlib import Path

from localfirst import Replica
from sync.node import Node
from tests.sync.nodes import synced, until
from tests.sync.relay.conftest import Seaweed
from tests.sync.relay.devices import pair_offline, start_offline, use_relay


def test_the_store_killed_mid_traffic_then_back_loses_and_duplicates_nothing(
    tmp_path: Path, s3_env: Seaweed
) -> None:
    async def main() -> None:
        address = s3_env.new_relay()
        p = await start_offline(tmp_path / "P", "P")
        await pair_offline(p, tmp_path / "A", "A")
        use_relay(tmp_path / "P", address, s3_env.endpoint)
        use_relay(tmp_path / "A", address, s3_env.endpoint)
        p.relays.reload()
        a = await start_offline(tmp_path / "A", "A")
        try:
            await until(lambda: synced(p, a) and len(a.relays.links()) == 1, 30, "first sync")
            titles: list[str] = []

            async def burst(node: Node, tag: str, n: int) -> None:
                for i in range(n):
                    title = f"{tag}{i}"
                    titles.append(title)
                    await node.write(functools.partial(_note, title=title))
                    await asyncio.sleep(0.02)

            # Kill the store while both devices upload and download.
            killer = threading.Timer(0.3, s3_env.kill)
            killer.start()
            await asyncio.gather(burst(p, "p", 30), burst(a, "a", 30))
            killer.join()
            # Local work goes on while the store is down; status says it is unreachable.
            await burst(a, "offline", 5)
            await until(lambda: a.status()["relays"][0]["reachable"] is False, 30, "A sees the store down")
            assert a.status()["relays"][0]["error"] in (
                "cannot connect to the store",
                "the store did not answer in time",
            )
            assert a.status()["relays"][0]["unsent"] is True  # its offline writes wait to go up
            await asyncio.to_thread(s3_env.start)
            await until(lambda: synced(p, a), 90, "P and A converge once the store is back")
            for node in (p, a):
                got = sorted(d.value("title") for d in node.replica.entities("note").values())
                assert got == sorted(titles)  # every note once: nothing lost, nothing doubled
            assert a.status()["relays"][0]["reachable"] is True
            await until(lambda: a.status()["relays"][0]["unsent"] is False, 30, "all uploaded")
        finally:
            await a.stop()
            await p.stop()
            if s3_env.proc is None:
                s3_env.start()

    asyncio.run(main())


def _note(r: Replica, title: str) -> str:
    return r.create("note", {"title": title})
