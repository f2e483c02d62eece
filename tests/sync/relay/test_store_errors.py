"""A store that throttles (503 SlowDown) and fails (500) for a while: devices back off, keep
working locally, say so in status, and converge once it answers again, nothing lost or doubled."""

from __future__ import annotations

import asyncio
import functools
from pathlib import Path

from localfirst import Replica
from tests.sync.nodes import synced, until
from tests.sync.relay.conftest import Seaweed
from tests.sync.relay.devices import pair_offline, start_offline, use_relay
from tests.sync.relay.faulty_proxy import FaultyProxy


def _note(r: Replica, title: str) -> str:
    return r.create("note", {"title": title})


def refused_since(proxy: FaultyProxy, faults: int) -> bool:
    return proxy.faults > faults + 3


def test_throttling_and_server_errors_are_waited_out(tmp_path: Path, s3_env: Seaweed) -> None:
    async def main(proxy: FaultyProxy) -> None:
        address = s3_env.new_relay()
        p = await start_offline(tmp_path / "P", "P")
        await pair_offline(p, tmp_path / "A", "A")
        use_relay(tmp_path / "P", address, proxy.endpoint)
        use_relay(tmp_path / "A", address, proxy.endpoint)
        p.relays.reload()
        a = await start_offline(tmp_path / "A", "A")
        try:
            await until(lambda: synced(p, a) and bool(a.relays.links()), 30, "first sync")
            titles = []
            for mode in ("throttle", "error"):
                proxy.mode = mode
                faults = proxy.faults
                for i in range(3):  # local work goes on while the store refuses
                    titles += [f"{mode} a{i}", f"{mode} p{i}"]
                    await a.write(functools.partial(_note, title=f"{mode} a{i}"))
                    await p.write(functools.partial(_note, title=f"{mode} p{i}"))
                await until(functools.partial(refused_since, proxy, faults), 30, "requests refused")
                await until(lambda: a.status()["relays"][0]["reachable"] is False, 30, "A sees it")
                error = a.status()["relays"][0]["error"]
                assert error == (
                    "the store answered HTTP 503 (SlowDown)"
                    if mode == "throttle"
                    else "the store answered HTTP 500 (InternalError)"
                )
                assert not synced(p, a)
                proxy.mode = "pass"
                await until(lambda: synced(p, a), 60, f"converged after {mode}")
            for node in (p, a):
                got = sorted(d.value("title") for d in node.replica.entities("note").values())
                assert got == sorted(titles)
                assert node.status()["relays"][0]["reachable"] is True
        finally:
            await a.stop()
            await p.stop()

    with FaultyProxy(s3_env.endpoint) as proxy:
        asyncio.run(main(proxy))
