"""Devices for relay tests: paired once over loopback, then running with no LAN path at all
(no discovery, no peer addresses), so whatever they learn of each other comes through a relay."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sync.node import Node, join_from_welcome, load_identity
from sync.pairing import join
from sync.relay import config as relay_config
from sync.relay.runner import Polling
from tests.sync.nodes import LOOPBACK, start_node

FAST = Polling(active=0.2, idle=0.5, window=5.0, backoff_cap=2.0)


async def start_offline(data: Path, name: str, **kw: Any) -> Node:
    """A node with LAN sync off: nothing to dial, nothing discovered."""
    kw.setdefault("relay_polling", FAST)
    return await start_node(data, name, peers=[], discovery=False, **kw)


async def pair_offline(inviter: Node, data: Path, name: str) -> None:
    """Pair a fresh device in ``data`` with ``inviter`` over loopback, without starting it."""
    inv = await inviter.invite()
    identity = load_identity(data, name)
    _, welcome = await join(inv.code, LOOPBACK, inv.port, identity, step_timeout=5)
    join_from_welcome(data, identity, welcome).close()


def use_relay(data: Path, address: str, endpoint: str | None = None) -> None:
    relay_config.add(data, address, endpoint, None)


def lan_sessions(*nodes: Node) -> int:
    """Sessions ever run with LAN peers (must stay 0: these devices share no network)."""
    return sum(n.stats["sessions"] for n in nodes)
