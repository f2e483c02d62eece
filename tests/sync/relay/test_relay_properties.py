"""Property: whatever the devices write and in whatever order they meet the relay -- rounds in any
interleaving, a device forgetting how far it read, bookings racing -- once every device has run
rounds with nothing new, all replicas hold identical logs and state.

Real parts, no node: replicas in memory (the core's ``MemoryStore``), real identities and age
keys, obstore's in-memory object store, and the same :class:`RelayLink` a node runs.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from obstore.store import MemoryStore

from localfirst import MemoryStore as ReplicaMemory
from localfirst import Replica
from sync.identity import Identity
from sync.relay.config import RelayConfig
from sync.relay.exchange import RelayLink
from sync.relay.segments import device_hash
from sync.relay.store import RelayStore

_T = TypeVar("_T")
NAMES = ("P", "A", "B")


class Device:
    """What a relay needs of a node: a replica, its identity, a data folder; the primary commits."""

    def __init__(self, data_dir: Path, identity: Identity, replica: Replica) -> None:
        self.data_dir = data_dir
        self.identity: Identity | None = identity
        self._replica = replica

    @property
    def replica(self) -> Replica:
        return self._replica

    def apply(self, fn: Callable[[Replica], _T]) -> _T:
        try:
            return fn(self._replica)
        finally:
            r = self._replica
            if r.primary == r.device and r.tentative():
                r.commit()


def make_devices(root: Path) -> list[Device]:
    ids = [Identity.load_or_create(root / n, n) for n in NAMES]
    p = Replica.new_library(ReplicaMemory(), ids[0].device_id, members={i.device_id: "" for i in ids[1:]})
    for ident in ids:  # what pairing does: the member records carry each certificate
        p.put("device", ident.device_id, {"cert": ident.cert_pem.decode("ascii")})
    p.create("calendar", {"name": "Room", "bookable": True}, entity="room")
    p.commit()
    welcome = p.welcome()
    replicas = [p] + [Replica.from_welcome(ReplicaMemory(), i.device_id, welcome) for i in ids[1:]]
    return [Device(root / n, i, r) for n, i, r in zip(NAMES, ids, replicas, strict=True)]


ACTIONS = st.lists(
    st.tuples(
        st.integers(0, 2),
        st.sampled_from(["note", "title", "book", "round", "round", "round", "forget"]),
        st.integers(0, 3),
    ),
    min_size=1,
    max_size=25,
)


def act(device: Device, link: RelayLink, action: str, n: int) -> None:
    r = device.replica
    if action == "note":
        device.apply(lambda r: r.create("note", {"title": f"{r.device[:4]} {n}"}, entity=f"n{n}"))
    elif action == "title" and (doc := r.get(f"n{n}")) is not None and doc.exists:
        device.apply(lambda r: r.put("note", f"n{n}", {"title": f"edited at {r.device[:4]}"}))
    elif action == "book":
        slots = [(n, n + 1), (n + 10, n + 11)]
        device.apply(lambda r: r.book("room", slots, {"title": f"by {r.device[:4]}"}))
    elif action == "forget":
        link.state.cursors.clear()  # its state file lost: it reads every stream again


def identical(devices: list[Device]) -> bool:
    first = devices[0].replica
    return all(
        d.replica.vector == first.vector
        and d.replica.csn == first.csn
        and d.replica.chain == first.chain
        and not d.replica.tentative()
        for d in devices
    )


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ACTIONS)
def test_devices_meeting_only_through_a_relay_converge(actions: list[tuple[int, str, int]]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        devices = make_devices(Path(tmp))
        store = MemoryStore()
        cfg = RelayConfig("folder:/memory")

        async def scenario() -> None:
            links = [RelayLink(d, cfg, RelayStore(store, "memory")) for d in devices]
            for who, action, n in actions:
                if action == "round":
                    await links[who].round()
                else:
                    act(devices[who], links[who], action, n)
            for _ in range(6):  # every device meets the relay a few times with nothing new
                for link in links:
                    await link.round()
            assert identical(devices), [d.replica.summary() for d in devices]
            notes = [sorted(d.replica.entities("note")) for d in devices]
            assert notes[0] == notes[1] == notes[2]
            for link in links:
                assert link.refused == {}
                assert link.waiting == 0

        asyncio.run(scenario())
        for d in devices:
            d.replica.close()


def test_regression_a_segment_sealed_in_the_round_a_revocation_arrived_excludes_the_revoked() -> None:
    """A learnt B's revocation from P's segment and uploaded its own in the same round: the
    recipients were those read at the start of the round, so B could read it."""
    with tempfile.TemporaryDirectory() as tmp:
        devices = make_devices(Path(tmp))
        p, a, b = devices
        store = MemoryStore()
        cfg = RelayConfig("folder:/memory")

        async def scenario() -> None:
            links = [RelayLink(d, cfg, RelayStore(store, "memory")) for d in devices]
            for _ in range(3):
                for link in links:
                    await link.round()
            assert identical(devices)
            assert len(links[1].recipients) == 3
            b_device = b.replica.device
            p.apply(lambda r: r.put("device", b_device, {"revoked": True}))
            await links[0].round()  # P uploads the revocation, sealed to P and A
            a.apply(lambda r: r.create("note", {"title": "for A and P only"}, entity="secret"))
            await links[1].round()  # A applies the revocation, then uploads its note
            assert b_device not in a.replica.members()
            await links[2].round()
            assert b.replica.get("secret") is None
            # B could not even open A's segment (not merely wait for its base).
            a_stream = device_hash(a.replica.library, a.replica.device)
            newest = max(links[2].seen.layout.segments[a_stream])
            assert links[2].waiting == 0
            assert links[2].failed[(a_stream, newest)].reason == "not sealed to this device"

        asyncio.run(scenario())
        for d in devices:
            d.replica.close()
