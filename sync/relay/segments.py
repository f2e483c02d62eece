"""What a relay holds and what a segment means: names, the segment record, and which segments a
replica can take now.

Layout under the relay's root, every name opaque (hashes, numbers)::

    <lib>/s/<dev>/<seq>   segment number seq of a device: sealed, created once, never rewritten
    <lib>/k/<dev>         the device's key entry (its age recipient, signed; rewritten at start)
    <lib>/m/<dev>         the device's read marker (sealed; how far it has read every stream)

``<lib>`` is a hash of the library id and ``<dev>`` a hash of library and device id, so the
store never sees either.

A segment is a :class:`localfirst.Batch` -- the same record a LAN peer sends -- of everything
its writer held beyond a *base*: what the writer knew the relay to hold already (its own
earlier segments and every segment it applied). Its *upto* is the writer's summary when it
sealed it, so whoever applies it holds at least that much. A reader can take a segment once it
holds the base (its version vector and CSN cover it); a later segment of the same device holds
everything the earlier ones did beyond its base, so a reader takes the newest it can and skips
the rest. A *full* segment has an empty base: anyone can take it (a snapshot for a new member,
or a re-seal after membership changed).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Annotated

import msgspec

from localfirst import Summary, VersionVector

__all__ = [
    "Layout",
    "SegmentBody",
    "covers",
    "decode_body",
    "device_hash",
    "key_path",
    "library_prefix",
    "marker_path",
    "segment_path",
]

#: A segment larger than this is not downloaded (a hostile store cannot make us allocate more).
MAX_SEGMENT_BYTES = 512 * 1024 * 1024
_SEQ_DIGITS = 12
_Vector = dict[Annotated[str, msgspec.Meta(max_length=128)], Annotated[int, msgspec.Meta(ge=0)]]


def library_prefix(library: str) -> str:
    """The relay folder of a library: a hash of its id, never the id itself."""
    return "lf" + hashlib.sha256(b"localfirst relay library\0" + library.encode()).hexdigest()[:30]


def device_hash(library: str, device: str) -> str:
    """A device's folder name in a library's relay (unlinkable across libraries)."""
    return hashlib.sha256(f"localfirst relay device\0{library}\0{device}".encode()).hexdigest()[:32]


def segment_path(library: str, device: str, seq: int) -> str:
    return f"{library_prefix(library)}/s/{device_hash(library, device)}/{seq:0{_SEQ_DIGITS}d}"


def key_path(library: str, device: str) -> str:
    return f"{library_prefix(library)}/k/{device_hash(library, device)}"


def marker_path(library: str, device: str) -> str:
    return f"{library_prefix(library)}/m/{device_hash(library, device)}"


class SegmentBody(msgspec.Struct, frozen=True, array_like=True, forbid_unknown_fields=True):
    """What a sealed segment carries: base and upto summaries, the batch, and the last segment
    its writer had applied of every stream (for a snapshot: what of each stream it covers)."""

    base_vector: _Vector
    base_csn: Annotated[int, msgspec.Meta(ge=0)]
    upto_vector: _Vector
    upto_csn: Annotated[int, msgspec.Meta(ge=0)]
    batch: bytes
    read: dict[Annotated[str, msgspec.Meta(max_length=64)], int] = {}

    @property
    def full(self) -> bool:
        return not self.base_vector and self.base_csn == 0

    @property
    def base(self) -> Summary:
        return Summary(VersionVector(self.base_vector), self.base_csn)

    @property
    def upto(self) -> Summary:
        return Summary(VersionVector(self.upto_vector), self.upto_csn)


def encode_body(body: SegmentBody) -> bytes:
    return msgspec.msgpack.encode(body)


def decode_body(data: bytes) -> SegmentBody:
    """Raises ``msgspec.DecodeError`` (a ``ValueError``) on anything malformed."""
    return msgspec.msgpack.decode(data, type=SegmentBody)


class MarkerBody(msgspec.Struct, frozen=True, array_like=True, forbid_unknown_fields=True):
    """A read marker: the last segment applied of each stream (by device hash), and when."""

    read: dict[Annotated[str, msgspec.Meta(max_length=64)], int]
    at: float


def covers(have: Summary, want: Summary) -> bool:
    """Whether a replica holding ``have`` holds everything ``want`` names."""
    return have.csn >= want.csn and have.vector.dominates(want.vector)


def merged(a: Summary, b: Summary) -> Summary:
    return Summary(a.vector.merged(b.vector), max(a.csn, b.csn))


_NAME = re.compile(r"^(?P<lib>lf[0-9a-f]{30})/(?P<kind>[skm])/(?P<dev>[0-9a-f]{32})(?:/(?P<seq>\d{12}))?$")


@dataclass(slots=True)
class Layout:
    """A listing of one library's relay folder, sorted out; names that are not ours (a sync
    program's temporary files, a half-renamed upload) are ignored."""

    segments: dict[str, dict[int, int]] = field(default_factory=dict)  # dev hash -> seq -> size
    keys: set[str] = field(default_factory=set)
    markers: set[str] = field(default_factory=set)
    bytes: int = 0

    @classmethod
    def parse(cls, library: str, listing: list[tuple[str, int]]) -> Layout:
        prefix = library_prefix(library)
        out = cls()
        for path, size in listing:
            m = _NAME.match(path)
            if m is None or m["lib"] != prefix:
                continue
            kind, dev, seq = m["kind"], m["dev"], m["seq"]
            out.bytes += size
            if kind == "s" and seq is not None:
                out.segments.setdefault(dev, {})[int(seq)] = size
            elif kind == "k" and seq is None:
                out.keys.add(dev)
            elif kind == "m" and seq is None:
                out.markers.add(dev)
        return out
