"""One round with one relay: publish this device's key, list, fetch and open what is new, apply
what the replica can take, upload what the relay lacks, record how far this device has read.

Applying goes through the node exactly like a LAN batch (``Replica.receive`` and its checks, in
one transaction, then commit on the primary, push to LAN peers, tell subscribers): a segment is
applied whole or not at all, and a write that arrives both ways is applied once. A segment that
cannot be opened -- not sealed to this device, damaged, truncated, half-written by a sync
program, moved, signed by someone else -- is never applied; it is tried again when its size
changes or a minute has passed. A segment the replica's checks refuse is refused for good.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, TypeVar

import msgspec

from localfirst import Replica, ReplicaError, Summary, VersionVector, decode_batch, encode_batch
from storage.errors import StorageError
from sync.identity import Identity
from sync.relay import seal as sealing
from sync.relay.config import RelayConfig, RelayState, load_state, save_state
from sync.relay.segments import (
    MAX_SEGMENT_BYTES,
    Layout,
    MarkerBody,
    SegmentBody,
    covers,
    decode_body,
    device_hash,
    encode_body,
    key_path,
    library_prefix,
    marker_path,
    merged,
    segment_path,
)
from sync.relay.store import ObjectExists, RelayStore
from sync.trust import member_certs

log = logging.getLogger(__name__)
_T = TypeVar("_T")

#: A segment that could not be opened is fetched again after this long (or when its size changes).
RETRY_OPEN_S = 60.0
SEGMENT = "seg"
MARKER = "mark"


class Host(Protocol):
    """What a relay needs of the node: its replica (on the node's loop) and a way to apply."""

    data_dir: Path
    identity: Identity | None

    @property
    def replica(self) -> Replica: ...

    def apply(self, fn: Callable[[Replica], _T]) -> _T: ...


@dataclass(slots=True)
class Failed:
    """A segment that could not be opened, and why."""

    size: int
    at: float
    reason: str


@dataclass(slots=True)
class RoundResult:
    """What one round did (the runner polls faster after activity)."""

    downloaded: int = 0
    applied: int = 0
    uploaded: int = 0

    @property
    def active(self) -> bool:
        return bool(self.downloaded or self.applied or self.uploaded)


@dataclass(slots=True)
class Seen:
    """What the last listing showed, for status and compaction."""

    layout: Layout = field(default_factory=Layout)
    markers: dict[str, MarkerBody] = field(default_factory=dict)


class RelayLink:
    """This device's exchange with one relay for the library its node holds."""

    def __init__(self, host: Host, config: RelayConfig, store: RelayStore) -> None:
        self.host = host
        self.config = config
        self.store = store
        assert host.identity is not None
        self.identity = host.identity
        self.age = sealing.load_age_identity(host.data_dir)
        self.recipient = str(self.age.to_public())
        self.state = load_state(host.data_dir, config, host.replica.library)
        self.pending: dict[str, dict[int, SegmentBody]] = {}  # opened, not applied yet
        self.failed: dict[tuple[str, int], Failed] = {}
        self.refused: dict[tuple[str, int], str] = {}  # the replica's checks said no: for good
        self.recipients: dict[str, str] = {}  # member device -> age recipient (key entries checked)
        self.bad_keys: dict[str, float] = {}  # member device -> when its key entry failed
        self.seen = Seen()
        self._key_published = False
        self.force_full = False  # compaction asks for a snapshot of this device's state
        self._marker_to: list[str] | None = None  # recipients of the last read marker written

    # -- the round ------------------------------------------------------------------------------

    @property
    def library(self) -> str:
        return self.host.replica.library

    async def round(self) -> RoundResult:
        """One exchange; raises ``StoreUnavailable`` if the store fails (the runner backs off)."""
        replica = self.host.replica
        if self.state.library != replica.library:  # joined another library meanwhile
            self.state = RelayState(library=replica.library)
            self.pending.clear()
            self.recipients.clear()
            self._key_published = False
        await self._publish_key()
        listing = await self.store.list(library_prefix(self.library) + "/")
        layout = Layout.parse(self.library, [(o.path, o.size) for o in listing])
        self.seen.layout = layout
        certs = member_certs(replica, "")
        by_hash = {device_hash(self.library, d): d for d in certs}
        await self._load_keys(layout, by_hash, certs)
        result = RoundResult()
        result.downloaded = await self._download(layout, by_hash, certs)
        result.applied = self._apply_ready()
        if result.applied:
            self.state.last_download = time.time()
        if result.applied or self._marker_to != self._sealed_to():
            # also a first one (compaction waits for every member's), and again when members'
            # keys change, so that the primary can read it
            await self._write_marker()
            layout.markers.add(device_hash(self.library, self.identity.device_id))
        result.uploaded = await self._upload(layout)
        save_state(self.host.data_dir, self.config, self.state)
        return result

    async def _publish_key(self) -> None:
        if self._key_published:
            return
        entry = sealing.key_entry(self.identity, self.library, self.recipient)
        # Written on every start, not created once: if this device's key file was lost and made
        # anew, members must learn the new recipient (the entry is signed, so nobody else can).
        await self.store.replace(key_path(self.library, self.identity.device_id), entry)
        self._key_published = True

    async def _load_keys(self, layout: Layout, by_hash: dict[str, str], certs: dict[str, str]) -> None:
        """Learn the age recipients of members whose key entries are new to this device."""
        for dev in list(self.recipients):
            if dev not in certs:
                del self.recipients[dev]  # revoked: no longer a recipient
        self.recipients[self.identity.device_id] = self.recipient
        now = time.monotonic()
        for dev_hash in layout.keys:
            device = by_hash.get(dev_hash)
            if device is None or device in self.recipients:
                continue
            if now - self.bad_keys.get(device, -RETRY_OPEN_S) < RETRY_OPEN_S:
                continue
            data = await self.store.get(key_path(self.library, device))
            if data is None:
                continue
            try:
                cert = sealing.cert_der(certs[device])
                self.recipients[device] = sealing.open_key_entry(
                    data, library=self.library, device=device, cert=cert
                )
            except (sealing.SealError, ValueError) as exc:
                self.bad_keys[device] = now
                log.warning("relay %s: key entry of %s refused: %s", self.config.address, device[:12], exc)

    # -- reading --------------------------------------------------------------------------------

    async def _download(self, layout: Layout, by_hash: dict[str, str], certs: dict[str, str]) -> int:
        """Fetch and open a member's segments newer than what was applied of its stream, newest
        first, down to the first whose base this replica holds (it covers the older ones)."""
        got = 0
        me = self.identity.device_id
        for gone in [h for h in self.pending if h not in by_hash]:
            del self.pending[gone]  # revoked meanwhile: what it sent is refused, even if fetched
        for dev_hash, seqs in layout.segments.items():
            device = by_hash.get(dev_hash)
            if device is None or device == me:
                continue  # not a member (a stranger, a revoked device), or this device's own
            cursor = self.state.cursors.get(dev_hash, 0)
            have = self.pending.setdefault(dev_hash, {})
            cert = sealing.cert_der(certs[device])
            summary = self.host.replica.summary()
            for seq in sorted((s for s in seqs if s > cursor), reverse=True):
                body = have.get(seq)
                if body is None:
                    if (dev_hash, seq) in self.refused or not self._worth_trying(dev_hash, seq, seqs[seq]):
                        continue
                    body = await self._fetch(device, dev_hash, seq, seqs[seq], cert)
                    if body is None:
                        continue
                    have[seq] = body
                    got += 1
                if covers(summary, body.base):
                    break  # applicable now, and it holds all the older ones hold beyond its base
        return got

    def _worth_trying(self, dev_hash: str, seq: int, size: int) -> bool:
        if size > MAX_SEGMENT_BYTES:
            return False
        failed = self.failed.get((dev_hash, seq))
        return failed is None or failed.size != size or time.monotonic() - failed.at >= RETRY_OPEN_S

    async def _fetch(
        self, device: str, dev_hash: str, seq: int, size: int, cert: bytes
    ) -> SegmentBody | None:
        data = await self.store.get(segment_path(self.library, device, seq))
        if data is None:
            return None  # compacted away meanwhile
        try:
            plain = await asyncio.to_thread(
                sealing.open_sealed,
                data,
                self.age,
                kind=SEGMENT,
                library=self.library,
                device=device,
                seq=seq,
                cert=cert,
            )
            body = decode_body(plain)
        except (sealing.SealError, ValueError) as exc:
            self.failed[(dev_hash, seq)] = Failed(size, time.monotonic(), str(exc))
            # Sealed before this device's key was known is expected (a later full segment
            # covers it); anything else is worth a warning.
            level = logging.INFO if "not sealed to this device" in str(exc) else logging.WARNING
            log.log(
                level, "relay %s: segment %d of %s not opened: %s", self.config.address, seq, device[:12], exc
            )
            return None
        self.failed.pop((dev_hash, seq), None)
        return body

    def _apply_ready(self) -> int:
        """Apply, stream by stream, the newest opened segment whose base this replica holds,
        until none is left that it can take."""
        applied = 0
        progress = True
        while progress:
            progress = False
            for dev_hash, bodies in self.pending.items():
                have = self.host.replica.summary()
                for seq in sorted(bodies, reverse=True):
                    if covers(have, bodies[seq].base) and self._apply_one(dev_hash, seq, bodies[seq]):
                        for old in [s for s in bodies if s <= seq]:
                            del bodies[old]
                        applied += 1
                        progress = True
                        break
        return applied

    def _apply_one(self, dev_hash: str, seq: int, body: SegmentBody) -> bool:
        try:
            batch = decode_batch(body.batch)
            self.host.apply(lambda r: r.receive(batch))
        except StorageError:
            raise  # this device's own failure: the runner reports it and tries again
        except (ReplicaError, ValueError) as exc:
            self.refused[(dev_hash, seq)] = str(exc)
            self.pending[dev_hash].pop(seq, None)
            log.warning("relay %s: segment %d refused: %s", self.config.address, seq, exc)
            return False
        self.state.cursors[dev_hash] = seq
        for key in [k for k in self.failed if k[0] == dev_hash and k[1] <= seq]:
            del self.failed[key]  # superseded: a later segment of that stream holds it all
        if covers(self.host.replica.summary(), body.upto):
            self._learn(body.upto)
        return True

    def _learn(self, summary: Summary) -> None:
        known = merged(self.known, summary)
        self.state.known_vector, self.state.known_csn = known.vector.as_dict(), known.csn

    @property
    def known(self) -> Summary:
        """A lower bound of what the relay holds (what this device uploaded or applied from it)."""
        return Summary(VersionVector(self.state.known_vector), self.state.known_csn)

    @property
    def waiting(self) -> int:
        """Segments opened but not applicable yet (their base is not held here)."""
        return sum(len(b) for b in self.pending.values())

    # -- writing --------------------------------------------------------------------------------

    def _sealed_to(self) -> list[str]:
        """The current members' recipients, read with the replica as it is now: whatever is
        sealed after a revocation arrived is never readable by the revoked device."""
        members = self.host.replica.members()
        me = self.identity.device_id
        return sorted({r for d, r in self.recipients.items() if d in members or d == me})

    async def _upload(self, layout: Layout) -> int:
        """Seal and upload what the relay lacks; everything, when the members' keys changed (so
        a new member can read this device's stream from here on) or compaction asks."""
        replica = self.host.replica
        have = replica.summary()
        recipients = self._sealed_to()
        snapshot = self.force_full  # read once: compaction may ask again while this one uploads
        full = snapshot or recipients != self.state.recipients
        if not full and covers(self.known, have):
            return 0
        base = Summary(VersionVector(), 0) if full else self.known
        body = SegmentBody(
            base.vector.as_dict(),
            base.csn,
            have.vector.as_dict(),
            have.csn,
            encode_batch(replica.batch_for(base)),
            dict(self.state.cursors),
        )
        me = self.identity.device_id
        own = layout.segments.get(device_hash(self.library, me), {})
        seq = max(self.state.next_seq, max(own, default=0) + 1)
        while True:
            data = await asyncio.to_thread(
                sealing.seal,
                self.identity,
                kind=SEGMENT,
                library=self.library,
                seq=seq,
                body=encode_body(body),
                recipients=recipients,
            )
            try:
                await self.store.put_new(segment_path(self.library, me, seq), data)
                break
            except ObjectExists:
                seq += 1  # written before a crash lost the state: never overwrite, take the next
        self.state.next_seq = seq + 1
        layout.segments.setdefault(device_hash(self.library, me), {})[seq] = len(data)  # status
        layout.bytes += len(data)
        if snapshot:  # a snapshot for compaction: what it holds of every stream
            self.state.snapshot_seq, self.state.snapshot_read = seq, body.read
            self.force_full = False
        self.state.recipients = recipients
        self.state.last_upload = time.time()
        self._learn(have)
        save_state(self.host.data_dir, self.config, self.state)
        return 1

    async def _write_marker(self) -> None:
        marker = MarkerBody(dict(self.state.cursors), time.time())
        recipients = self._sealed_to()
        data = await asyncio.to_thread(
            sealing.seal,
            self.identity,
            kind=MARKER,
            library=self.library,
            seq=0,
            body=msgspec.msgpack.encode(marker),
            recipients=recipients,
        )
        await self.store.replace(marker_path(self.library, self.identity.device_id), data)
        self._marker_to = recipients
