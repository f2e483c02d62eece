"""Partition and heal: three node processes in network namespaces joined by a bridge.

Every namespace, veth pair and the bridge are made here and removed in ``finally``; the bridge
lives in a namespace of its own, so nothing is added to the host's network. zeroconf in each
namespace binds to that namespace's veth address only.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.sync.netns import Lan, bridged_hosts, cli_in
from tests.sync.nodes import NodeProcess, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.timeout(150)]

SUBNET = "10.213.77"
#: The issue's bound: a peer cut off shows offline within this many seconds.
OFFLINE_WITHIN_S = 10.0


@pytest.fixture
def lan() -> Iterator[Lan]:
    with bridged_hosts(3, SUBNET) as made:
        yield made


def join_in(ns: str, data: Path, code: str, host: str, port: int) -> None:
    done = cli_in(ns, data, "join", code, "--peer", f"{host}:{port}")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["joined"]


def converged(nodes: list[NodeProcess]) -> bool:
    states = [n.status() for n in nodes]
    keys = [(s["csn"], s["chain"], s["vector"], s["tentative"]) for s in states]
    return all(k == keys[0] for k in keys) and keys[0][3] == 0


def test_partition_and_heal(lan: Lan, tmp_path: Path) -> None:
    spaces, addr = lan.spaces, lan.addresses
    procs: list[NodeProcess] = []

    def serve(i: int) -> NodeProcess:
        args = ["--host", addr[i], "--interface", addr[i]]
        return NodeProcess(tmp_path / f"n{i}", *args, name=f"n{i}", netns=spaces[i])

    try:
        procs.append(serve(0))
        for i in (1, 2):
            offer = procs[0].request(cmd="invite")
            join_in(spaces[i], tmp_path / f"n{i}", offer["code"], addr[0], offer["port"])
            procs.append(serve(i))
        n1, n2, n3 = procs

        def all_online() -> bool:
            return all(
                all(n.status()["peers"].get(o.device, {}).get("online") for o in procs if o is not n)
                for n in procs
            )

        wait_for(all_online, 40, "three nodes find each other by zeroconf in their namespaces")
        wait_for(lambda: converged(procs), 20, "initial convergence")

        # Cut n3 off, write on both sides of the partition.
        lan.cut(2)
        cut = time.monotonic()
        n1.request(cmd="put", kind="note", id="left", fields={"title": "written by n1 during the cut"})
        n3.request(cmd="put", kind="note", id="right", fields={"title": "written by n3 during the cut"})

        def n3_cut_off() -> bool:
            seen_by = [n.status()["peers"].get(n3.device, {}).get("online") for n in (n1, n2)]
            sees = [n3.status()["peers"].get(n.device, {}).get("online") for n in (n1, n2)]
            return not any(seen_by) and not any(sees)

        # Status tells the truth on both sides within 10 s: the heartbeat, not TCP keepalive.
        wait_for(n3_cut_off, 20, "both sides of the cut show each other offline")
        took = time.monotonic() - cut
        assert took < OFFLINE_WITHIN_S, f"offline only after {took:.1f} s"
        assert n1.status()["peers"][n2.device]["online"]
        wait_for(
            lambda: n2.request(cmd="get", id="left")["values"] is not None, 20, "n1 -> n2 in the majority"
        )
        assert n3.request(cmd="get", id="left")["values"] is None
        assert n1.request(cmd="get", id="right")["values"] is None

        lan.heal(2)
        wait_for(lambda: converged(procs), 60, "convergence after the heal")
        wait_for(all_online, 30, "n3 online again on every side after the heal")
        for n in procs:
            assert n.request(cmd="get", id="right")["values"] == {"title": "written by n3 during the cut"}
            assert n.request(cmd="get", id="left")["values"] == {"title": "written by n1 during the cut"}
    finally:
        for proc in procs:
            proc.stop()
