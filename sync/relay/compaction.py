"""Keeping a relay small: snapshots replace the segments every member has read.

Only the primary compacts (one writer of decisions, as for commits). It reads every member's
sealed read marker; when enough segments have been read by all of them, it uploads a snapshot
(a full segment of its own stream, recording how far it had read every stream), and on a later
pass deletes each segment that every other member has read *and* that snapshot covers. A new
member then catches up from the snapshot plus the segments after it. Nothing a member has not
read is ever deleted: a member that stays silent holds compaction back, and is warned about in
status once it has been silent longer than the relay's ``silent_days`` (90 by default).
Segments of revoked devices are refused by everyone, so they are deleted once the snapshot is up.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

import msgspec

from sync.relay import seal as sealing
from sync.relay.segments import MarkerBody, device_hash, marker_path, segment_path
from sync.relay.store import RelayStore
from sync.trust import member_certs

if TYPE_CHECKING:
    from sync.relay.exchange import RelayLink

log = logging.getLogger(__name__)

#: How often the primary looks at markers (each look reads one marker per member).
COMPACT_EVERY_S = 600.0
#: Segments all members have read before a snapshot is worth its size.
COMPACT_AT = 64


async def read_markers(link: RelayLink) -> dict[str, MarkerBody]:
    """Every other member's read marker that opens and checks (by device id)."""
    replica = link.host.replica
    certs = member_certs(replica, link.identity.device_id)
    out: dict[str, MarkerBody] = {}
    for device, pem in certs.items():
        if device_hash(link.library, device) not in link.seen.layout.markers:
            continue
        data = await link.store.get(marker_path(link.library, device))
        if data is None:
            continue
        try:
            body = sealing.open_sealed(
                data,
                link.age,
                kind="mark",
                library=link.library,
                device=device,
                seq=0,
                cert=sealing.cert_der(pem),
            )
            out[device] = msgspec.msgpack.decode(body, type=MarkerBody)
        except (sealing.SealError, ValueError) as exc:  # sealed before this device's key was known?
            level = logging.INFO if "not sealed to this device" in str(exc) else logging.WARNING
            log.log(level, "relay %s: read marker of %s refused: %s", link.config.address, device[:12], exc)
    link.seen.markers = out
    return out


def deletable(link: RelayLink, markers: dict[str, MarkerBody], *, with_snapshot: bool) -> list[str]:
    """Segments every other member has read (and, ``with_snapshot``, this device's snapshot
    covers), as paths; segments of revoked devices too once a snapshot is up."""
    replica = link.host.replica
    me = link.identity.device_id
    members = set(replica.members())
    others = members - {me}
    if any(m not in markers for m in others):
        return []  # someone has never said how far it read: keep everything
    revoked = {device_hash(link.library, k): k for k in replica.entities("device") if k not in members}
    by_hash = {device_hash(link.library, d): d for d in members}
    state = link.state
    out: list[str] = []
    for dev_hash, seqs in link.seen.layout.segments.items():
        device = by_hash.get(dev_hash)
        for seq in seqs:
            if device is None:
                if with_snapshot and state.snapshot_seq and dev_hash in revoked:
                    out.append(segment_path(link.library, revoked[dev_hash], seq))
                continue
            if not all(markers[m].read.get(dev_hash, 0) >= seq for m in others if m != device):
                continue
            if with_snapshot:
                covered = (
                    seq < state.snapshot_seq if device == me else state.snapshot_read.get(dev_hash, 0) >= seq
                )
                if not covered:
                    continue
            out.append(segment_path(link.library, device, seq))
    return out


async def maybe_compact(link: RelayLink, *, force: bool = False) -> int:
    """On the primary, now and then: snapshot, then delete what every member has read and the
    snapshot covers. Returns the number of segments deleted."""
    replica = link.host.replica
    if replica.primary != link.identity.device_id:
        return 0
    now = time.time()
    if not force and now - link.state.last_compaction < COMPACT_EVERY_S:
        return 0
    link.state.last_compaction = now
    markers = await read_markers(link)
    ready = deletable(link, markers, with_snapshot=False)
    if len(ready) < (1 if force else COMPACT_AT):
        return 0
    gone = deletable(link, markers, with_snapshot=True)
    if len(gone) < len(ready):
        link.force_full = True  # the next round uploads a snapshot; the next pass deletes
    return await _delete(link.store, gone)


async def _delete(store: RelayStore, paths: list[str]) -> int:
    for path in paths:
        await store.delete(path)
    return len(paths)


def warnings(link: RelayLink) -> list[str]:
    """Members that have not read this relay for longer than its ``silent_days`` (from the last
    markers the primary read), or never have; they hold compaction back."""
    out = []
    now = time.time()
    replica = link.host.replica
    if replica.primary == link.identity.device_id and link.seen.layout.keys:
        for device in sorted(replica.members()):
            if device_hash(link.library, device) not in link.seen.layout.markers:
                out.append(f"member {device[:12]} has not read this relay yet (compaction waits for it)")
    for device, marker in link.seen.markers.items():
        if now - marker.at > link.config.silent_days * 86400.0:
            days = int((now - marker.at) // 86400)
            out.append(f"member {device[:12]} has not read this relay for {days} days")
    return out
