"""The README's headless set-up on a LAN of separate hosts, with no host or interface flags.

Each host is a network namespace on one bridge (made by the test, removed after; root needed,
elsewhere the tests skip and say why). Every host runs exactly the README's commands:
``localfirst --data DIR serve``, ``invite`` and ``join CODE`` (found by mDNS, no ``--peer``);
a note imported on one host appears on the others.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

import pytest

from tests.sync.netns import Lan, bridged_hosts, cli_in, ip
from tests.sync.nodes import NodeProcess, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]

SUBNET = "10.213.78"


def serve(lan: Lan, i: int, data: Path) -> NodeProcess:
    """``localfirst --data DIR serve`` on host ``i``, nothing else."""
    return NodeProcess(data, netns=lan.spaces[i])


def invite(lan: Lan, i: int, data: Path, *extra: str) -> dict[str, object]:
    done = cli_in(lan.spaces[i], data, "invite", *extra)
    assert done.returncode == 0, done.stderr
    offer: dict[str, object] = json.loads(done.stdout)
    # Addresses a peer can use: the host's LAN address, never a wildcard or loopback.
    assert offer["addresses"] == [lan.addresses[i]]
    assert offer["host"] == lan.addresses[i]
    assert str(offer["expires"]).endswith("Z")
    assert f"code {offer['code']}" in done.stderr
    return offer


def join(lan: Lan, i: int, data: Path, code: object, *extra: str) -> dict[str, str]:
    done = cli_in(lan.spaces[i], data, "join", str(code), *extra)
    assert done.returncode == 0, done.stderr
    joined: dict[str, str] = json.loads(done.stdout)
    return joined


def write_note(folder: Path, name: str, title: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.md"
    path.write_text(f"---\ntitle: {title}\n---\n\nwritten on one host\n")
    return path


def import_note(lan: Lan, i: int, data: Path, note: Path) -> None:
    done = cli_in(lan.spaces[i], data, "import", str(note))
    assert done.returncode == 0, done.stderr


def holds_title(node: NodeProcess, title: str, out: Path) -> bool:
    """Whether ``export`` (through the running node) writes a note with this title."""
    exported = node.request(cmd="export", directory=str(out))
    return any(title in Path(p).read_text() for p in exported["written"] if p.endswith(".md"))


def online(nodes: list[NodeProcess]) -> bool:
    return all(
        all(n.status()["peers"].get(o.device, {}).get("online") for o in nodes if o is not n) for n in nodes
    )


def test_two_hosts_follow_the_readme(tmp_path: Path) -> None:
    with bridged_hosts(2, SUBNET) as lan:
        home, laptop = tmp_path / "home", tmp_path / "laptop"
        procs: list[NodeProcess] = []
        try:
            procs.append(primary := serve(lan, 0, home))
            offer = invite(lan, 0, home)
            joined = join(lan, 1, laptop, offer["code"])  # no node runs on the laptop yet
            assert joined["inviter"] == primary.device
            procs.append(second := serve(lan, 1, laptop))
            wait_for(lambda: online(procs), 30, "the two hosts find each other by mDNS")

            import_note(lan, 0, home, write_note(tmp_path / "notes", "groceries", "Groceries from home"))
            wait_for(
                lambda: holds_title(second, "Groceries from home", tmp_path / "out"),
                20,
                "the note imported at home appears on the laptop",
            )
        finally:
            for proc in procs:
                proc.stop()


def test_three_hosts_join_while_serving_and_replace_asks(tmp_path: Path) -> None:
    with bridged_hosts(3, SUBNET) as lan:
        dirs = [tmp_path / name for name in ("home", "laptop", "tablet")]
        procs: list[NodeProcess] = []
        try:
            procs.append(serve(lan, 0, dirs[0]))
            joined = join(lan, 1, dirs[1], invite(lan, 0, dirs[0])["code"])
            assert joined["inviter"] == procs[0].device
            procs.append(serve(lan, 1, dirs[1]))

            # The tablet's node already runs, with a note of its own: join goes through it,
            # and replacing its library needs consent.
            procs.append(tablet := serve(lan, 2, dirs[2]))
            import_note(lan, 2, dirs[2], write_note(tmp_path / "own", "mine", "The tablet's own note"))
            own_library = tablet.status()["library"]
            offer = invite(lan, 0, dirs[0], "--port", "47123")  # a port fixed for a firewall
            assert offer["port"] == 47123
            refused = cli_in(lan.spaces[2], dirs[2], "join", str(offer["code"]))
            assert refused.returncode == 1
            assert "pass --replace" in refused.stderr
            assert len(refused.stderr.strip().splitlines()) == 1
            assert tablet.status()["library"] == own_library  # untouched, and the code unused
            joined = join(lan, 2, dirs[2], offer["code"], "--replace")
            assert joined["inviter"] == procs[0].device
            kept = list(dirs[2].glob("library.sqlite.replaced-*"))
            assert len(kept) == 1, kept  # the old library is kept aside, not deleted

            wait_for(lambda: online(procs), 40, "three hosts find each other by mDNS")
            import_note(lan, 2, dirs[2], write_note(tmp_path / "notes", "plan", "Plan from the tablet"))
            for i, node in enumerate(procs[:2]):
                wait_for(
                    functools.partial(holds_title, node, "Plan from the tablet", tmp_path / f"out{i}"),
                    20,
                    f"the tablet's note appears on host {i + 1}",
                )
            assert not holds_title(procs[0], "The tablet's own note", tmp_path / "out-own")
        finally:
            for proc in procs:
                proc.stop()


def test_a_node_started_offline_follows_the_interface_that_comes_up(tmp_path: Path) -> None:
    # The laptop starts serving with its cable out (no LAN interface: discovery waits), then
    # the cable goes in: zeroconf binds to the new interface and the two find each other.
    with bridged_hosts(2, SUBNET) as lan:
        home, laptop = tmp_path / "home", tmp_path / "laptop"
        procs: list[NodeProcess] = []
        try:
            procs.append(serve(lan, 0, home))
            join(lan, 1, laptop, invite(lan, 0, home)["code"])
            inner = f"{lan.prefix}v2"
            ip("link", "set", inner, "down", netns=lan.spaces[1])
            procs.append(second := serve(lan, 1, laptop))
            assert second.status()["addresses"] == []
            assert not online(procs)
            ip("link", "set", inner, "up", netns=lan.spaces[1])
            ip("route", "replace", "224.0.0.0/4", "dev", inner, netns=lan.spaces[1])
            wait_for(lambda: online(procs), 30, "the laptop is found once its interface is up")
            assert second.status()["addresses"] == [lan.addresses[1]]
        finally:
            for proc in procs:
                proc.stop()


def test_join_without_a_multicast_interface_says_so(tmp_path: Path) -> None:
    with bridged_hosts(1, SUBNET) as lan:
        ip("link", "set", f"{lan.prefix}v1", "down", netns=lan.spaces[0])  # the cable is out
        done = cli_in(lan.spaces[0], tmp_path / "d", "join", "any-code", timeout=30)
        assert done.returncode == 1
        assert done.stderr.startswith("localfirst: no network interface with multicast is up")
        assert "--peer HOST:PORT" in done.stderr
        assert not (tmp_path / "d" / "library.sqlite").exists()


@pytest.mark.timeout(90)
def test_offline_join_asks_before_replacing_and_keeps_the_old_library(tmp_path: Path) -> None:
    # Loopback only (no namespace needed): the joiner runs no node; its library holds a note.
    home = NodeProcess(tmp_path / "home", "--no-discovery")
    try:
        laptop = tmp_path / "laptop"
        assert cli_in(None, laptop, "init").returncode == 0
        done = cli_in(None, laptop, "import", str(write_note(tmp_path / "own", "mine", "Mine")))
        assert done.returncode == 0, done.stderr
        before = (laptop / "library.sqlite").read_bytes()
        offer = home.request(cmd="invite")
        peer = f"127.0.0.1:{offer['port']}"
        refused = cli_in(None, laptop, "join", offer["code"], "--peer", peer)
        assert refused.returncode == 1
        assert refused.stderr.startswith("localfirst: this device holds its own library")
        assert "pass --replace" in refused.stderr
        assert len(refused.stderr.strip().splitlines()) == 1
        assert not list(laptop.glob("library.sqlite.replaced-*"))

        done = cli_in(None, laptop, "join", offer["code"], "--peer", peer, "--replace")  # code unused
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["inviter"] == home.device
        (kept,) = laptop.glob("library.sqlite.replaced-*")
        assert kept.read_bytes()[:16] == before[:16] == b"SQLite format 3\x00"
        assert f"kept as {kept}" in done.stderr
        assert (
            json.loads(cli_in(None, laptop, "status", "--json").stdout)["library"]
            == (home.status()["library"])
        )
    finally:
        home.stop()
