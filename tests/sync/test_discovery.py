"""Tests of sync.discovery with real zeroconf bound to loopback only."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from zeroconf import Zeroconf

from sync.const import PROTOCOL_VERSION, SERVICE_TYPE
from sync.discovery import DiscoveredPeer, Discovery, parse_txt, service_name
from sync.identity import Identity
from tests.sync.conftest import LOOPBACK

pytestmark = pytest.mark.timeout(30)


class _Seen:
    """Collects discovery callbacks and lets a test wait for a condition."""

    def __init__(self) -> None:
        self.peers: dict[str, DiscoveredPeer] = {}
        self.lost: list[str] = []
        self.changed = asyncio.Event()

    def on_peer(self, peer: DiscoveredPeer) -> None:
        self.peers[peer.device_id] = peer
        self.changed.set()

    def on_lost(self, device_id: str) -> None:
        self.lost.append(device_id)
        self.changed.set()

    async def until(self, check: Callable[[], bool]) -> None:
        """Wait (bounded) until ``check()`` is true."""
        async with asyncio.timeout(10):
            while not check():
                self.changed.clear()
                await self.changed.wait()


def test_two_announcers_find_each_other(alice: Identity, bob: Identity, zc_loopback: Zeroconf) -> None:
    # zc_loopback is only a probe: it skips the test where loopback multicast is missing.
    async def run() -> tuple[_Seen, _Seen]:
        seen_a, seen_b = _Seen(), _Seen()
        a = Discovery(
            alice.device_id, 4001, seen_a.on_peer, interfaces=[LOOPBACK], on_peer_lost=seen_a.on_lost
        )
        b = Discovery(bob.device_id, 4002, seen_b.on_peer, interfaces=[LOOPBACK])
        try:
            await asyncio.gather(a.start(), b.start())
            # Other processes may announce on loopback too: look for ours only.
            await seen_a.until(lambda: bob.device_id in seen_a.peers)
            await seen_b.until(lambda: alice.device_id in seen_b.peers)
            await b.stop()
            await seen_a.until(lambda: bob.device_id in seen_a.lost)
        finally:
            await b.stop()
            await a.stop()
        return seen_a, seen_b

    seen_a, seen_b = asyncio.run(run())
    assert seen_a.peers[bob.device_id] == DiscoveredPeer(bob.device_id, PROTOCOL_VERSION, (LOOPBACK,), 4002)
    assert seen_b.peers[alice.device_id] == DiscoveredPeer(
        alice.device_id, PROTOCOL_VERSION, (LOOPBACK,), 4001
    )
    assert alice.device_id not in seen_a.peers  # never reports itself
    assert bob.device_id not in seen_b.peers


def test_txt_holds_only_version_and_id(alice: Identity, zc_loopback: Zeroconf) -> None:
    async def run() -> dict[bytes, bytes | None]:
        announcer = Discovery(alice.device_id, 4003, lambda _: None, interfaces=[LOOPBACK])
        try:
            await announcer.start()
            # The blocking zeroconf runs its own loop thread; ask it from a worker thread
            # so this loop stays free to answer.
            info = await asyncio.to_thread(
                zc_loopback.get_service_info, SERVICE_TYPE, service_name(alice.device_id), 5000
            )
        finally:
            await announcer.stop()
        assert info is not None
        assert info.port == 4003
        assert info.parsed_addresses() == [LOOPBACK]
        return dict(info.properties)

    properties = asyncio.run(run())
    assert properties == {b"v": str(PROTOCOL_VERSION).encode(), b"id": alice.device_id.encode()}
    assert b"alice" not in b"".join(properties.values())  # type: ignore[arg-type]


def test_constructor_opens_no_sockets(alice: Identity) -> None:
    # No running loop here: constructing must not need one nor touch the network.
    discovery = Discovery(alice.device_id, 1, lambda _: None, interfaces=[LOOPBACK])
    assert discovery.service_info().properties == {
        b"v": str(PROTOCOL_VERSION).encode(),
        b"id": alice.device_id.encode(),
    }
    with pytest.raises(ValueError, match="interface"):
        Discovery(alice.device_id, 1, lambda _: None, interfaces=[])


def test_instance_name_fits_a_dns_label(alice: Identity) -> None:
    label = service_name(alice.device_id).removesuffix("." + SERVICE_TYPE)
    assert len(label) <= 63
    assert alice.device_id.startswith(label)


@pytest.mark.parametrize(
    "properties",
    [
        {},
        {b"v": b"1"},
        {b"id": b"a" * 64},
        {b"v": b"one", b"id": b"a" * 64},
        {b"v": b"1", b"id": b"A" * 64},
        {b"v": b"1", b"id": b"a" * 63},
        {b"v": b"1", b"id": None},
        {b"v": b"1", b"id": b"\xff" * 64},
        {b"v": b"99999999", b"id": b"a" * 64},
    ],
)
def test_malformed_txt_is_ignored(properties: dict[bytes, bytes | None]) -> None:
    assert parse_txt(properties) is None


def test_wellformed_txt() -> None:
    assert parse_txt({b"v": b"1", b"id": b"ab" * 32, b"extra": b"x"}) == (1, "ab" * 32)
