"""What a hostile or broken store can put in front of a reader: each object is refused, nothing
from it is applied, and the real segments still flow. Two devices share a folder relay, as a
sync program (Syncthing, Dropbox) would present it, including a half-written file."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from localfirst import encode_batch
from sync.identity import Identity
from sync.node import Node
from sync.relay import seal as sealing
from sync.relay.exchange import RelayLink
from sync.relay.segments import SegmentBody, encode_body, segment_path
from tests.sync.nodes import synced, until
from tests.sync.relay.devices import pair_offline, start_offline, use_relay


async def two(tmp_path: Path) -> tuple[Node, Node, Path]:
    folder = tmp_path / "Dropbox" / "calendar"
    p = await start_offline(tmp_path / "P", "P")
    await pair_offline(p, tmp_path / "B", "B")
    use_relay(tmp_path / "P", f"folder:{folder}")
    use_relay(tmp_path / "B", f"folder:{folder}")
    p.relays.reload()
    b = await start_offline(tmp_path / "B", "B")
    return p, b, folder


def holds(node: Node, entity: str) -> bool:
    doc = node.replica.get(entity)
    return doc is not None and doc.exists


def link_of(node: Node) -> RelayLink:
    return node.relays.links()[0]


def test_two_devices_share_a_folder_relay_and_a_half_written_file_waits(tmp_path: Path) -> None:
    async def main() -> None:
        p, b, folder = await two(tmp_path)
        try:
            note = await p.write(lambda r: r.create("note", {"title": "from P"}))
            await until(lambda: holds(b, note) and synced(p, b), 30, "B gets P's note")
            reply = await b.write(lambda r: r.create("note", {"title": "from B"}))
            await until(lambda: holds(p, reply) and synced(p, b), 30, "P gets B's note")
            # A sync program shows P's next segment half-written, then whole.
            lib = p.replica.library
            pl = link_of(p)
            pb = link_of(b)
            seq = pl.state.next_seq + 5
            whole = await _sealed_write(p, pl, seq, "from the half-written file")
            target = folder / segment_path(lib, p.device, seq)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(whole[0][: len(whole[0]) // 2])
            key = (_hash(lib, p.device), seq)
            await until(lambda: key in pb.failed, 15, "B tried the half file")
            assert not holds(b, whole[1])
            assert "damaged or truncated" in pb.failed[key].reason
            target.write_bytes(whole[0])  # the sync program finished the file
            await until(lambda: holds(b, whole[1]), 15, "B applies the finished segment")
            assert key not in pb.failed
            assert not [f for f in folder.rglob("*") if f.name.endswith(".tmp") or "#" in f.name]
        finally:
            await b.stop()
            await p.stop()

    asyncio.run(main())


async def _sealed_write(p: Node, link: RelayLink, seq: int, title: str) -> tuple[bytes, str]:
    """A real segment of P carrying one new note, sealed to B, without storing it: the note is
    written to P's replica then taken out of what P will upload by raising P's known summary."""
    before = p.replica.summary()
    note = await p.write(lambda r: r.create("note", {"title": title}))
    batch = p.replica.batch_for(before)
    after = p.replica.summary()
    link._learn(after)  # P's own rounds will not upload it: only the file below carries it
    body = SegmentBody(
        before.vector.as_dict(), before.csn, after.vector.as_dict(), after.csn, encode_batch(batch)
    )
    data = sealing.seal(
        p.identity,  # type: ignore[arg-type]
        kind="seg",
        library=p.replica.library,
        seq=seq,
        body=encode_body(body),
        recipients=sorted(set(link.recipients.values())),
    )
    return data, note


def test_moved_replayed_truncated_and_forged_segments_are_refused(tmp_path: Path) -> None:
    async def main() -> None:
        p, b, folder = await two(tmp_path)
        try:
            first = await p.write(lambda r: r.create("note", {"title": "one"}))
            await until(lambda: holds(b, first), 30, "B gets the first note")
            lib = p.replica.library
            pl, bl = link_of(p), link_of(b)
            own = sorted(pl.seen.layout.segments[_hash(lib, p.device)])
            real = (folder / segment_path(lib, p.device, own[-1])).read_bytes()
            stranger = Identity.load_or_create(tmp_path / "stranger", "stranger")
            hostile = {
                # P's real segment under a later number of P: a replay in a new place
                segment_path(lib, p.device, 900): real,
                # P's real segment under B's name: swapped streams (B does not read its own,
                # so P is the reader of this one)
                segment_path(lib, b.device, 901): real,
                # truncated
                segment_path(lib, p.device, 902): real[:-40],
                # a stranger's segment, sealed to B, under P's name
                segment_path(lib, p.device, 903): await _forged(stranger, b, bl, lib, 903, claim=p.device),
                # one bit flipped in the middle
                segment_path(lib, p.device, 904): _flipped(real),
                # a sync program's temporary file beside P's segments: not a name of ours
                segment_path(lib, p.device, 905).replace(
                    "/000000000905", "/.syncthing.000000000905.tmp"
                ): real,
                # a stranger's segment under its own name: not a member, never even fetched
                segment_path(lib, stranger.device_id, 1): await _forged(stranger, b, bl, lib, 1),
            }
            for name, data in hostile.items():
                path = folder / name
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(data)
            state_b = (b.replica.vector, b.replica.csn, b.replica.chain)
            p_hash, b_hash = _hash(lib, p.device), _hash(lib, b.device)
            tried = {(p_hash, 900), (p_hash, 902), (p_hash, 903), (p_hash, 904)}
            await until(lambda: tried <= set(bl.failed) and (b_hash, 901) in pl.failed, 20, "all tried")
            reasons = {seq: f.reason for (_, seq), f in bl.failed.items()}
            assert "object moved" in reasons[900]
            assert "damaged or truncated" in reasons[902]
            assert "bad signature" in reasons[903]
            assert "damaged or truncated" in reasons[904]
            assert 905 not in reasons
            assert "object moved" in pl.failed[(b_hash, 901)].reason
            assert not any(h == _hash(lib, stranger.device_id) for h, _ in bl.failed)  # never fetched
            assert (b.replica.vector, b.replica.csn, b.replica.chain) == state_b  # nothing applied
            # The real stream still flows past the garbage.
            later = await p.write(lambda r: r.create("note", {"title": "two"}))
            await until(lambda: holds(b, later) and synced(p, b), 30, "B gets the later note")
            # B forgets how far it read (its state file lost): it reads P's stream again from
            # the start, and nothing is applied twice.
            notes = len(b.replica.entities("note"))
            state_b = (b.replica.vector, b.replica.csn, b.replica.chain)
            applied = bl.state.cursors[_hash(lib, p.device)]
            bl.state.cursors.clear()
            b.relays.kick()
            await until(lambda: bl.state.cursors.get(_hash(lib, p.device)) == applied, 20, "B re-read P")
            assert (b.replica.vector, b.replica.csn, b.replica.chain) == state_b
            assert len(b.replica.entities("note")) == notes
        finally:
            await b.stop()
            await p.stop()

    asyncio.run(main())


def _hash(library: str, device: str) -> str:
    from sync.relay.segments import device_hash

    return device_hash(library, device)


class _Claiming:
    """A stranger's key claiming to be a member: seals with the member's id, signs with its own."""

    def __init__(self, key: Identity, device: str) -> None:
        self.key, self.device_id = key, device

    def sign(self, data: bytes) -> bytes:
        return self.key.sign(data)


async def _forged(
    stranger: Identity, b: Node, bl: RelayLink, library: str, seq: int, claim: str | None = None
) -> bytes:
    note_batch = b.replica.batch_for(b.replica.summary())
    s = b.replica.summary()
    body = SegmentBody(s.vector.as_dict(), s.csn, s.vector.as_dict(), s.csn, encode_batch(note_batch))
    signer: Any = _Claiming(stranger, claim) if claim else stranger
    return sealing.seal(
        signer, kind="seg", library=library, seq=seq, body=encode_body(body), recipients=[bl.recipient]
    )


def _flipped(data: bytes) -> bytes:
    middle = len(data) // 2
    return data[:middle] + bytes([data[middle] ^ 0x10]) + data[middle + 1 :]
