"""Helpers for node tests: in-process nodes on 127.0.0.1, node processes, condition waits."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from collections.abc import Awaitable, Sequence
from pathlib import Path
from typing import Any

from sync.control import control_request
from sync.node import Node, join_from_welcome, load_identity
from sync.pairing import join
from tests.polling import until, wait_for

LOOPBACK = "127.0.0.1"
REPO = Path(__file__).resolve().parents[2]
__all__ = ["until", "wait_for"]  # the polling helpers, for the tests that import them from here


async def start_node(data: Path, name: str, **kw: Any) -> Node:
    kw.setdefault("discovery", False)
    kw.setdefault("control", False)
    node = Node(data, name=name, **kw)
    await node.start()
    return node


async def pair_new(inviter: Node, data: Path, name: str, **kw: Any) -> Node:
    """Pair a fresh device in ``data`` with ``inviter`` and start it, dialing the inviter."""
    inv = await inviter.invite()
    identity = load_identity(data, name)
    _, welcome = await join(inv.code, LOOPBACK, inv.port, identity, step_timeout=5)
    join_from_welcome(data, identity, welcome).close()
    kw.setdefault("peers", [(LOOPBACK, inviter.port)])
    return await start_node(data, name, **kw)


def synced(*nodes: Node) -> bool:
    """Whether all nodes hold identical logs (same vector, CSN and chain hash, nothing tentative)."""
    first = nodes[0].replica
    return all(
        n.replica.vector == first.vector
        and n.replica.csn == first.csn
        and n.replica.chain == first.chain
        and not n.replica.tentative()
        for n in nodes
    )


class NodeProcess:
    """``python -m ui.cli --data DIR serve`` in a subprocess, with its control socket."""

    def __init__(self, data: Path, *args: str, name: str = "", netns: str | None = None) -> None:
        self.data = data
        cmd = [sys.executable, "-m", "ui.cli", "--data", str(data), "serve", *args]
        if name:
            cmd += ["--name", name]
        if netns is None:
            cmd.append("--loopback")  # network safety: outside a test's namespace, 127.0.0.1 only
        else:
            cmd = ["ip", "netns", "exec", netns, *cmd]
        env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONWARNINGS": "ignore"}
        self.proc = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=REPO, env=env, text=True
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"node did not start: {self.stop()}")
        info = json.loads(line)
        self.port: int = info["port"]
        self.device: str = info["device"]

    def request(self, **req: Any) -> dict[str, Any]:
        return asyncio.run(control_request(self.data, req))

    def status(self) -> dict[str, Any]:
        return self.request(cmd="status")

    def stop(self) -> str:
        """Stop with SIGTERM (kill after 10 s); return stderr."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        _, err = self.proc.communicate()
        return err


def run_cli(
    data: Path, *args: str, prefix: Sequence[str] = (), timeout: float = 60, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``localfirst --data DATA ARGS`` as a child process (``prefix``: e.g. setpriv)."""
    environ = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONWARNINGS": "ignore", **(env or {})}
    cmd = [*prefix, sys.executable, "-m", "ui.cli", "--data", str(data), *args]
    return subprocess.run(
        cmd, capture_output=True, text=True, cwd=REPO, env=environ, timeout=timeout, check=False
    )


def run(aw: Awaitable[Any]) -> Any:
    async def wrapper() -> Any:
        return await aw

    return asyncio.run(wrapper())
