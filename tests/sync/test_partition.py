"""Partition and heal: three node processes in network namespaces joined by a bridge.

Every namespace, veth pair and the bridge are made here and removed in ``finally``; the bridge
lives in a namespace of its own, so nothing is added to the host's network. zeroconf in each
namespace binds to that namespace's veth address only.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.sync.nodes import REPO, NodeProcess, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.timeout(150)]

SUBNET = "10.213.77"

#: The issue's bound: a peer cut off shows offline within this many seconds.
OFFLINE_WITHIN_S = 10.0


def ip(*args: str, netns: str | None = None) -> None:
    cmd = ["ip", *(["-n", netns] if netns else []), *args]
    subprocess.run(cmd, check=True, capture_output=True, timeout=10)


def _can_make_namespaces() -> str | None:
    name = f"lfprobe{secrets.token_hex(3)}"
    try:
        subprocess.run(["ip", "netns", "add", name], check=True, capture_output=True, timeout=10)
    except (OSError, subprocess.SubprocessError) as exc:
        return f"cannot create network namespaces here (needs root/CAP_NET_ADMIN): {exc}"
    subprocess.run(["ip", "netns", "del", name], check=False, capture_output=True, timeout=10)
    return None


@pytest.fixture
def lan() -> Iterator[tuple[list[str], str, str]]:
    """Three namespaces on one bridge; yields (namespaces, bridge namespace, prefix)."""
    reason = _can_make_namespaces()
    if reason is not None:
        pytest.skip(reason)
    prefix = f"lf{secrets.token_hex(3)}"
    bridge_ns = f"{prefix}br"
    spaces = [f"{prefix}n{i}" for i in (1, 2, 3)]
    made: list[str] = []
    try:
        for ns in (bridge_ns, *spaces):
            ip("netns", "add", ns)
            made.append(ns)
            ip("link", "set", "lo", "up", netns=ns)
        ip("link", "add", "br0", "type", "bridge", "mcast_snooping", "0", netns=bridge_ns)
        ip("link", "set", "br0", "up", netns=bridge_ns)
        for i, ns in enumerate(spaces, 1):
            inner, outer = f"{prefix}v{i}", f"{prefix}b{i}"
            ip("link", "add", inner, "netns", ns, "type", "veth", "peer", "name", outer, "netns", bridge_ns)
            ip("link", "set", outer, "master", "br0", netns=bridge_ns)
            ip("link", "set", outer, "up", netns=bridge_ns)
            ip("addr", "add", f"{SUBNET}.{i}/24", "dev", inner, netns=ns)
            ip("link", "set", inner, "up", netns=ns)
            ip("route", "add", "224.0.0.0/4", "dev", inner, netns=ns)
        yield spaces, bridge_ns, prefix
    finally:
        for ns in made:
            subprocess.run(["ip", "netns", "del", ns], check=False, capture_output=True, timeout=10)


def join_in(ns: str, data: Path, code: str, host: str, port: int) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONWARNINGS": "ignore"}
    cmd = ["ip", "netns", "exec", ns, sys.executable, "-m", "ui.cli", "--data", str(data)]
    done = subprocess.run(
        [*cmd, "join", code, "--peer", f"{host}:{port}"],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["joined"]


def converged(nodes: list[NodeProcess]) -> bool:
    states = [n.status() for n in nodes]
    keys = [(s["csn"], s["chain"], s["vector"], s["tentative"]) for s in states]
    return all(k == keys[0] for k in keys) and keys[0][3] == 0


def test_partition_and_heal(lan: tuple[list[str], str, str], tmp_path: Path) -> None:
    spaces, bridge_ns, prefix = lan
    addr = [f"{SUBNET}.{i}" for i in (1, 2, 3)]
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
        ip("link", "set", f"{prefix}b3", "down", netns=bridge_ns)
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

        ip("link", "set", f"{prefix}b3", "up", netns=bridge_ns)
        wait_for(lambda: converged(procs), 60, "convergence after the heal")
        wait_for(all_online, 30, "n3 online again on every side after the heal")
        for n in procs:
            assert n.request(cmd="get", id="right")["values"] == {"title": "written by n3 during the cut"}
            assert n.request(cmd="get", id="left")["values"] == {"title": "written by n1 during the cut"}
    finally:
        for proc in procs:
            proc.stop()
