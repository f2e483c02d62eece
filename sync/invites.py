"""Pairing on a running node: its open invitations, and joining another device's by code.

Each invitation listens with a one-time code; with discovery on it is announced on the LAN
until it ends (paired, failed, expired or closed), so a joiner given only the code finds it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from sync import pairing
from sync.discovery import Discovery
from sync.identity import Identity
from sync.library import NodeError
from sync.pairing import Invitation, PairedPeer, PairingError

log = logging.getLogger(__name__)


class Invitations:
    """The invitations a node has open, each announced (with discovery) until it ends."""

    def __init__(self) -> None:
        self._open: set[Invitation] = set()
        self._ads: dict[Invitation, str] = {}  # invitation -> its zeroconf instance name
        self._tasks: set[asyncio.Task[Any]] = set()

    async def open(
        self,
        identity: Identity,
        welcome: Callable[[str], bytes],
        admit: Callable[[PairedPeer], None],
        *,
        host: str,
        member_port: int,
        lifetime: float,
        discovery: Discovery | None,
    ) -> Invitation:
        """Open a pairing listener with a fresh code; ``admit`` records the paired device."""
        inv = Invitation(
            identity, welcome, host=host, lifetime=lifetime, admit=admit, member_port=member_port
        )
        await inv.start()
        self._open.add(inv)
        if discovery is not None:
            self._ads[inv] = discovery.announce_pairing(inv.port)
        task = asyncio.get_running_loop().create_task(self._outcome(inv, discovery))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return inv

    async def _outcome(self, inv: Invitation, discovery: Discovery | None) -> None:
        try:
            peer = await inv.wait()
            log.info("paired with %s (%s)", peer.device_id[:12], peer.name)
        except PairingError as exc:
            log.info("invitation ended: %s", exc)
        finally:
            self._open.discard(inv)
            await self._withdraw(inv, discovery)
            await inv.aclose()

    async def _withdraw(self, inv: Invitation, discovery: Discovery | None) -> None:
        """Stop announcing an invitation's pairing listener."""
        name = self._ads.pop(inv, None)
        if name is not None and discovery is not None:
            try:
                await discovery.withdraw_pairing(name)
            except (OSError, RuntimeError) as exc:
                log.warning("could not withdraw the pairing announcement: %s", exc)

    @property
    def announcements(self) -> list[str]:
        """Zeroconf instance names of the pairing listeners announced now."""
        return sorted(self._ads.values())

    async def close(self) -> None:
        """End every invitation (its outcome task finishes it)."""
        for inv in list(self._open):
            await inv.aclose()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def pair_by_code(
    identity: Identity,
    code: str,
    address: tuple[str, int] | None,
    discovery: Discovery | None,
    search: float,
) -> tuple[PairedPeer, bytes, str]:
    """Pair with the device inviting at ``address``, or with one found on the network.

    Returns the peer, its welcome and the host it answered on.

    Raises:
        NodeError: no address was given and discovery is off.
        PairingError: see :func:`sync.pairing.join`.
    """
    if address is not None:
        peer, welcome = await pairing.join(code, *address, identity)
        return peer, welcome, address[0]
    if discovery is None:
        raise NodeError("no address given and discovery is off: enter the inviting device's host:port")
    pairing.normalize_code(code)  # a typo fails before searching
    log.info("searching the network for an inviting device (up to %.0f s)", search)
    async with contextlib.aclosing(discovery.browse_pairing(search)) as found:
        return await pairing.join_found(code, found, identity)
