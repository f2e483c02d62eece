"""Network namespaces for tests: hosts on one bridge, and the CLI run inside a host.

Every namespace, veth pair and the bridge are made by :func:`bridged_hosts` and removed when it
exits; the bridge lives in a namespace of its own, so nothing is added to the host's network.
Making namespaces needs root (CAP_NET_ADMIN); :func:`skip_without_namespaces` skips and says why.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.sync.nodes import REPO


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


def skip_without_namespaces() -> None:
    reason = _can_make_namespaces()
    if reason is not None:
        pytest.skip(reason)


@dataclass(frozen=True)
class Lan:
    """Hosts (namespaces) on one bridge: host ``i`` has ``addresses[i]`` on its veth."""

    spaces: list[str]
    addresses: list[str]
    bridge_ns: str
    prefix: str

    def cut(self, i: int) -> None:
        """Unplug host ``i``'s cable (its veth end on the bridge goes down)."""
        ip("link", "set", f"{self.prefix}b{i + 1}", "down", netns=self.bridge_ns)

    def heal(self, i: int) -> None:
        ip("link", "set", f"{self.prefix}b{i + 1}", "up", netns=self.bridge_ns)


@contextlib.contextmanager
def bridged_hosts(count: int, subnet: str) -> Iterator[Lan]:
    """``count`` namespaces on one bridge, addresses ``{subnet}.1`` ... (skips without root)."""
    skip_without_namespaces()
    prefix = f"lf{secrets.token_hex(3)}"
    bridge_ns = f"{prefix}br"
    spaces = [f"{prefix}n{i}" for i in range(1, count + 1)]
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
            ip("addr", "add", f"{subnet}.{i}/24", "dev", inner, netns=ns)
            ip("link", "set", inner, "up", netns=ns)
            ip("route", "add", "224.0.0.0/4", "dev", inner, netns=ns)
        yield Lan(spaces, [f"{subnet}.{i}" for i in range(1, count + 1)], bridge_ns, prefix)
    finally:
        for ns in made:
            subprocess.run(["ip", "netns", "del", ns], check=False, capture_output=True, timeout=10)


def cli_in(
    ns: str | None, data: Path, *args: str, timeout: float = 60, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    """``localfirst --data DATA ARGS...`` run inside the namespace ``ns`` (None: here), bounded
    by ``timeout``."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONWARNINGS": "ignore"}
    cmd = [sys.executable, "-m", "ui.cli", "--data", str(data), *args]
    if ns is not None:
        cmd = ["ip", "netns", "exec", ns, *cmd]
    return subprocess.run(
        cmd,
        input=stdin,
        stdin=None if stdin is not None else subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=timeout,
        check=False,
    )
