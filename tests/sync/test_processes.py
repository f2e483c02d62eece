"""Nodes as separate processes: real zeroconf on 127.0.0.1, pairing, offline edits, late joiner."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from storage import open_replica
from sync.node import library_path
from tests.sync.nodes import NodeProcess, run_cli, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]


def cli(data: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_cli(data, *args)


def pair(inviter: NodeProcess, data: Path, name: str) -> None:
    """Pair a new device in ``data`` through the inviter's control socket and the CLI."""
    asked = cli(inviter.data, "invite")  # the CLI asks the running node over its control socket
    assert asked.returncode == 0, asked.stderr
    offer = json.loads(asked.stdout)
    done = cli(data, "join", offer["code"], "--peer", f"127.0.0.1:{offer['port']}", "--name", name)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["inviter"] == inviter.device


def converged(nodes: list[NodeProcess]) -> bool:
    states = [n.status() for n in nodes]
    keys = [(s["csn"], s["chain"], s["vector"], s["tentative"]) for s in states]
    return all(k == keys[0] for k in keys) and keys[0][3] == 0


def online(node: NodeProcess, others: list[NodeProcess]) -> bool:
    peers: dict[str, Any] = node.status()["peers"]
    return all(peers.get(o.device, {}).get("online") for o in others)


def test_three_nodes_discover_pair_converge_and_a_late_fourth_catches_up(tmp_path: Path) -> None:
    dirs = {n: tmp_path / n for n in ("n1", "n2", "n3", "n4")}
    procs: dict[str, NodeProcess] = {}
    try:
        procs["n1"] = NodeProcess(dirs["n1"], name="n1")
        for name in ("n2", "n3"):
            pair(procs["n1"], dirs[name], name)
            procs[name] = NodeProcess(dirs[name], name=name)
        n1, n2, n3 = procs["n1"], procs["n2"], procs["n3"]
        # n2 and n3 were never told each other's address: zeroconf on 127.0.0.1 finds them.
        wait_for(lambda: online(n2, [n1, n3]) and online(n3, [n1, n2]), 30, "all three connected")
        assert len(n1.status()["members"]) == 3

        # Offline edits: n2 stops, everyone writes, n2 restarts; all converge.
        n2.stop()
        n1.request(cmd="put", kind="note", id="a", fields={"title": "from n1"})
        n3.request(cmd="put", kind="event", id="e", fields={"title": "from n3"})
        replica = open_replica(library_path(dirs["n2"]))
        try:
            replica.put("note", "b", {"title": "from n2 offline"})
        finally:
            replica.close()
        procs["n2"] = n2 = NodeProcess(dirs["n2"], name="n2")
        wait_for(lambda: converged([n1, n2, n3]), 30, "three converge")
        for n in (n1, n2, n3):
            assert n.request(cmd="get", id="b")["values"] == {"title": "from n2 offline"}
            assert n.request(cmd="get", id="e")["values"] == {"title": "from n3"}
        wait_for(
            lambda: n2.status()["peers"][n1.device]["identical_up_to"] == n1.status()["csn"],
            10,
            "n2 proves identity with n1",
        )
        human = cli(dirs["n2"], "status")
        assert human.returncode == 0
        assert f"identical up to commit #{n1.status()['csn']}" in human.stdout

        # A fourth device pairs with n3, which then goes away; n1 writes; n4 starts and catches up
        # by relay from n1/n2, which it never paired with (membership is replicated data).
        pair(n3, dirs["n4"], "n4")
        wait_for(lambda: len(n1.status()["members"]) == 4, 15, "n1 learns n4 through n3")
        n3.stop()
        n1.request(cmd="put", kind="note", id="late", fields={"title": "written while n4 was away"})
        procs["n4"] = n4 = NodeProcess(dirs["n4"], name="n4")
        wait_for(lambda: converged([n1, n2, n4]), 30, "n4 catches up")
        assert n4.request(cmd="get", id="late")["values"] == {"title": "written while n4 was away"}
        procs["n3"] = n3 = NodeProcess(dirs["n3"], name="n3")
        wait_for(lambda: converged([n1, n2, n3, n4]), 30, "four converge")
    finally:
        for proc in procs.values():
            proc.stop()


def test_cli_join_with_the_code_only_finds_a_serving_node(tmp_path: Path) -> None:
    # The serving node runs zeroconf on 127.0.0.1; the joiner gets no --peer and searches there.
    n1 = NodeProcess(tmp_path / "n1", "--interface", "127.0.0.1", name="n1")
    try:
        asked = cli(n1.data, "invite")
        assert asked.returncode == 0, asked.stderr
        code = json.loads(asked.stdout)["code"]
        done = cli(tmp_path / "n2", "join", code, "--loopback", "--name", "n2")
        assert done.returncode == 0, done.stderr
        joined = json.loads(done.stdout)
        assert joined["inviter"] == n1.device
        assert joined["joined"] == n1.status()["library"]
        wait_for(lambda: joined["device"] in n1.status()["members"], 10, "n1 lists n2 as a member")

        # Without an address and without discovery: a clear error, nothing created.
        refused = cli(tmp_path / "n3", "join", code, "--no-discovery")
        assert refused.returncode == 1
        assert "no address given and discovery is off" in refused.stderr
        assert not library_path(tmp_path / "n3").exists()
    finally:
        n1.stop()
