"""Every sync message as a typed ``msgspec`` record, and its one (de)serialiser: bytes in, bytes out.

A payload is a msgpack array of the record's fields in order (``array_like``: no keys on the
wire, so the in-sync HELLO fits in a few dozen bytes). Every bound -- lengths, integer ranges --
is part of the field's type (``msgspec.Meta``), as for writes in ``localfirst.write``, so decoding
checks shape, types and sizes of hostile bytes in one pass of compiled code. Anything malformed,
oversized, wrongly typed or of another type raises :class:`MessageError` naming the message and
the field. The only payloads that are not records are welcome chunks (raw bytes of a snapshot).

Where the wire form differs from what callers hold (ids as raw bytes, a batch as
``localfirst``'s encoding, the BATCH/PUSH or BYE/ERROR flag as the frame type), a private
``_...Wire`` record is what travels.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from enum import IntEnum
from typing import Annotated, Any, ClassVar, Self, TypeVar

import msgspec

from localfirst import Batch, ReplicaError, Summary, VersionVector, decode_batch, encode_batch
from sync.const import (
    DEVICE_ID_CHARS,
    MAX_CERT_SIZE,
    MAX_DEVICE_NAME_CHARS,
    MAX_LIBRARY_ID_BYTES,
    MAX_REASON_CHARS,
    MIN_PROTOCOL_VERSION,
    PROTOCOL_VERSION,
)
from sync.errors import MessageError
from sync.frames import Frame

__all__ = [
    "CHAIN_BYTES",
    "NO_CLAIM",
    "VECTOR_DIGEST_BYTES",
    "Ack",
    "BatchMessage",
    "Digest",
    "Goodbye",
    "Hello",
    "Message",
    "MessageError",
    "MessageType",
    "PairAbort",
    "PairConfirm",
    "PairDone",
    "PairHello",
    "PairPake",
    "PairWelcome",
    "RepairData",
    "RepairRequest",
    "SummaryMessage",
    "check_version",
    "expect_type",
    "printable",
    "vector_digest",
]


class MessageType(IntEnum):
    """The message type byte of every frame; one list for the whole protocol."""

    # ---- pairing messages (sync.pairing) ------------------------------------------
    #: joiner -> inviter: its certificate and SPAKE2 message.
    PAIR_HELLO = 0x10
    #: inviter -> joiner: SPAKE2 message and the inviter's key confirmation.
    PAIR_PAKE = 0x11
    #: joiner -> inviter: key confirmation, signature by its certificate's key, name.
    PAIR_CONFIRM = 0x12
    #: inviter -> joiner: the inviter's display name and the welcome payload size.
    PAIR_WELCOME = 0x13
    #: inviter -> joiner: raw bytes of the welcome payload (not a record).
    PAIR_WELCOME_CHUNK = 0x14
    #: joiner -> inviter: the welcome payload arrived whole.
    PAIR_DONE = 0x15
    #: either side: pairing failed, with a human-readable reason.
    PAIR_ABORT = 0x1F

    # ---- member-session messages (sync.session) ------------------------------------
    #: both sides, first: protocol version, device id, library id and a compact digest.
    HELLO = 0x20
    #: both sides, when the digests differ: the full version vector and CSN.
    SUMMARY = 0x21
    #: answer to a SUMMARY: a slice of the batch the peer lacks (flag: last slice).
    BATCH = 0x22
    #: receiver of a BATCH or PUSH slice: what it now holds (CSN, vector digest, chain).
    ACK = 0x23
    #: live session: a slice of new writes (local or relayed) the peer lacks.
    PUSH = 0x24
    #: either side, after a quiet spell: are you there? (empty payload)
    PING = 0x25
    #: answer to a PING (empty payload).
    PONG = 0x26
    #: a damaged replica, after the HELLOs: send me your committed log (first damaged CSN).
    REPAIR = 0x27
    #: answer to a REPAIR: a slice of the member's snapshot and committed log (flag: last slice).
    REPAIR_DATA = 0x28
    #: either side: the session ends normally (shutdown, duplicate connection).
    BYE = 0x2E
    #: either side: the session ends because of an error, with a reason.
    ERROR = 0x2F


# ---- field types: every bound a hostile peer could break --------------------------------

#: Size of the truncated SHA-256 of the canonical version vector carried in HELLO and ACK.
VECTOR_DIGEST_BYTES = 16
#: Size of a chain hash (SHA-256, see ``localfirst.log.chain_next``).
CHAIN_BYTES = 32
#: A SPAKE2 message is 33 bytes with the default Ed25519 group; leave some room.
_MAX_PAKE_BYTES = 256
#: An ECDSA P-256 DER signature is at most 72 bytes; leave some room.
_MAX_SIGNATURE_BYTES = 256
#: HMAC-SHA256 output size.
_CONFIRM_BYTES = 32


def _exactly(size: int) -> msgspec.Meta:
    return msgspec.Meta(min_length=size, max_length=size)


#: A CSN, stamp or size: fits SQLite's signed 64-bit integer.
Count = Annotated[int, msgspec.Meta(ge=0, le=2**63 - 1)]
ProtocolVersion = Annotated[int, msgspec.Meta(ge=0, le=255)]
Port = Annotated[int, msgspec.Meta(ge=0, le=65535)]
VectorDigest = Annotated[bytes, _exactly(VECTOR_DIGEST_BYTES)]
ChainHash = Annotated[bytes, _exactly(CHAIN_BYTES)]
#: A device id travels as the 32 raw bytes of its SHA-256 hex digest.
DeviceIdBytes = Annotated[bytes, _exactly(DEVICE_ID_CHARS // 2)]
LibraryIdBytes = Annotated[bytes, msgspec.Meta(max_length=MAX_LIBRARY_ID_BYTES)]
Origin = Annotated[str, msgspec.Meta(max_length=DEVICE_ID_CHARS)]
CertDer = Annotated[bytes, msgspec.Meta(max_length=MAX_CERT_SIZE)]
PakeMessage = Annotated[bytes, msgspec.Meta(max_length=_MAX_PAKE_BYTES)]
Confirmation = Annotated[bytes, _exactly(_CONFIRM_BYTES)]
Signature = Annotated[bytes, msgspec.Meta(max_length=_MAX_SIGNATURE_BYTES)]
#: Text fields are also checked for control characters (``_check_text``), which reach logs.
DeviceName = Annotated[str, msgspec.Meta(max_length=MAX_DEVICE_NAME_CHARS)]
Reason = Annotated[str, msgspec.Meta(max_length=MAX_REASON_CHARS)]


def printable(text: str, limit: int = MAX_REASON_CHARS) -> str:
    """Return ``text`` as a peer accepts it: control characters as spaces, at most ``limit``."""
    return "".join(ch if ch.isprintable() else " " for ch in text)[:limit]


def _check_text(what: str, text: str) -> None:
    if not text.isprintable():
        # msgspec reports this as a ValidationError at the field, like any other bound.
        raise ValueError(f"{what} has control characters")


# ---- the serialiser ----------------------------------------------------------------------


class Message(msgspec.Struct, frozen=True, array_like=True, forbid_unknown_fields=True):
    """Base of every message record: a msgpack array of its fields, in order."""


_W = TypeVar("_W", bound=Message)

_encoder = msgspec.msgpack.Encoder()
_decoders: dict[type[Message], msgspec.msgpack.Decoder[Any]] = {}
_AT = re.compile(r" - at (`key` in )?`\$\[(\d+)\](.*)`$")


def _encode(record: Message) -> bytes:
    return _encoder.encode(record)


def _decode(frame: Frame, wire: type[_W]) -> _W:
    """Parse a frame's payload as a ``wire`` record, or raise MessageError saying why not."""
    decoder = _decoders.get(wire)
    if decoder is None:
        decoder = _decoders[wire] = msgspec.msgpack.Decoder(wire)
    try:
        record: _W = decoder.decode(frame.payload)
    except msgspec.ValidationError as exc:
        raise MessageError(f"{_name(frame.type)}: {_reason(exc, wire)}") from None
    except msgspec.DecodeError as exc:
        raise MessageError(f"{_name(frame.type)}: undecodable payload ({exc})") from None
    return record


def _reason(exc: msgspec.ValidationError, wire: type[Message]) -> str:
    """msgspec's message with the field's name instead of its position (``$[2]``)."""
    text = str(exc)
    at = _AT.search(text)
    if at is None:
        return text
    key, position, inner = at.groups()
    fields = wire.__struct_fields__
    index = int(position)
    where = (fields[index] if index < len(fields) else f"item {index}") + inner
    return f"{where}{' key' if key else ''}: {text[: at.start()]}"


def _name(msg_type: int) -> str:
    """Return the message type's name for error messages, even if unknown."""
    try:
        return MessageType(msg_type).name
    except ValueError:
        return f"unknown message type {msg_type:#04x}"


def expect_type(frame: Frame, *allowed: MessageType) -> MessageType:
    """Return the frame's type if it is one of ``allowed``.

    Raises:
        MessageError: the frame has another (or an unknown) type.
    """
    for msg_type in allowed:
        if frame.type == msg_type:
            return msg_type
    wanted = " or ".join(t.name for t in allowed)
    raise MessageError(f"expected {wanted}, got {_name(frame.type)}")


class _Plain(Message, frozen=True):
    """A message whose record is exactly what travels, under one frame type."""

    KIND: ClassVar[MessageType]

    def encode(self) -> tuple[MessageType, bytes]:
        """Return the frame type and payload."""
        return self.KIND, _encode(self)

    @classmethod
    def decode(cls, frame: Frame) -> Self:
        """Parse a frame of this message's type."""
        expect_type(frame, cls.KIND)
        return _decode(frame, cls)


# ---- pairing messages ----------------------------------------------------------------------


class PairHello(_Plain, frozen=True):
    """Joiner -> inviter: the joiner's certificate DER and its SPAKE2 message."""

    KIND = MessageType.PAIR_HELLO
    cert_der: CertDer
    pake: PakeMessage


class PairPake(_Plain, frozen=True):
    """Inviter -> joiner: the inviter's SPAKE2 message and key confirmation."""

    KIND = MessageType.PAIR_PAKE
    pake: PakeMessage
    confirm: Confirmation


class PairConfirm(_Plain, frozen=True):
    """Joiner -> inviter: key confirmation, proof of its certificate's key, display name."""

    KIND = MessageType.PAIR_CONFIRM
    confirm: Confirmation
    signature: Signature
    name: DeviceName

    def __post_init__(self) -> None:
        _check_text("name", self.name)


class PairWelcome(_Plain, frozen=True):
    """Inviter -> joiner: the inviter's display name, the welcome payload's size (range-checked
    by the caller), and the inviter's member listener port (0: unknown), so the joiner can dial
    it without discovery."""

    KIND = MessageType.PAIR_WELCOME
    name: DeviceName
    size: Count
    port: Port

    def __post_init__(self) -> None:
        _check_text("name", self.name)


class PairDone(_Plain, frozen=True):
    """Joiner -> inviter: the welcome payload arrived whole."""

    KIND = MessageType.PAIR_DONE


class PairAbort(_Plain, frozen=True):
    """Either side: pairing failed; ``reason`` (see :func:`printable`) is for logs and the user."""

    KIND = MessageType.PAIR_ABORT
    reason: Reason

    def __post_init__(self) -> None:
        _check_text("reason", self.reason)


# ---- member-session messages ---------------------------------------------------------------

_HEX_ID = re.compile(r"(?:[0-9a-f]{2})+")
#: A random library id is 16 raw bytes; any other length on the wire is UTF-8 text.
_RANDOM_LIBRARY_BYTES = 16


def vector_digest(vector: Mapping[str, int], state: bytes = b"") -> bytes:
    """Return the 16-byte digest of a version vector (canonical: sorted, zeros dropped),
    folded with the replica's state digest when given: equal vectors over different
    materialised state then differ, at no cost in bytes."""
    items = sorted((o, s) for o, s in vector.items() if s > 0)
    return hashlib.sha256(_encoder.encode(items) + state).digest()[:VECTOR_DIGEST_BYTES]


class Digest(Message, frozen=True):
    """What a replica holds, compactly: CSN, vector digest and the chain hash at that CSN."""

    csn: Count
    vector: VectorDigest
    chain: ChainHash


#: The digest a damaged replica sends in its HELLO: it claims to hold nothing (no chain hash is
#: all zeros), so no peer proves anything against it; it asks for a repair instead.
NO_CLAIM = Digest(0, bytes(VECTOR_DIGEST_BYTES), bytes(CHAIN_BYTES))


class _HelloWire(Message, frozen=True):
    version: ProtocolVersion
    device: DeviceIdBytes
    library: LibraryIdBytes
    digest: Digest


class Hello(Message, frozen=True):
    """Both sides, first: protocol version, device id, library id and the holder's digest.

    Ids travel as raw bytes (a hex id as the bytes it spells), so an in-sync check stays
    under 128 bytes each way.
    """

    version: int
    device: str
    library: str
    digest: Digest

    def encode(self) -> tuple[MessageType, bytes]:
        """Return the frame type and payload."""
        wire = _HelloWire(self.version, bytes.fromhex(self.device), _id_to_wire(self.library), self.digest)
        return MessageType.HELLO, _encode(wire)

    @classmethod
    def decode(cls, frame: Frame) -> Hello:
        """Parse a frame of type HELLO."""
        expect_type(frame, MessageType.HELLO)
        wire = _decode(frame, _HelloWire)
        return cls(wire.version, wire.device.hex(), _library(wire.library), wire.digest)


def _id_to_wire(text: str) -> bytes:
    """Return an id as compact bytes: lowercase hex ids as raw bytes, anything else as UTF-8."""
    if _HEX_ID.fullmatch(text):
        return bytes.fromhex(text)
    return text.encode("utf-8")


def _library(raw: bytes) -> str:
    if len(raw) == _RANDOM_LIBRARY_BYTES:
        return raw.hex()
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise MessageError("HELLO: library: not a random id and not UTF-8 text") from None


class _SummaryWire(Message, frozen=True):
    vector: dict[Origin, Count]
    csn: Count


class SummaryMessage(Message, frozen=True):
    """When the digests differ: the sender's full version vector and CSN."""

    summary: Summary

    def encode(self) -> tuple[MessageType, bytes]:
        """Return the frame type and payload."""
        return MessageType.SUMMARY, _encode(_SummaryWire(self.summary.vector.as_dict(), self.summary.csn))

    @classmethod
    def decode(cls, frame: Frame) -> SummaryMessage:
        """Parse a frame of type SUMMARY."""
        expect_type(frame, MessageType.SUMMARY)
        wire = _decode(frame, _SummaryWire)
        return cls(Summary(VersionVector(wire.vector), wire.csn))


class _BatchWire(Message, frozen=True):
    last: bool
    sender: Digest
    #: ``localfirst.encode_batch`` bytes: the replica core's own record of writes and commits.
    batch: bytes


class BatchMessage(Message, frozen=True):
    """A slice of a batch (BATCH answers a SUMMARY; PUSH carries live writes).

    The sender's digest rides along, so the receiver proves by chain hashes what it now
    shares with the sender without another message.
    """

    batch: Batch
    last: bool
    sender: Digest
    live: bool = False

    def encode(self) -> tuple[MessageType, bytes]:
        """Return the frame type (PUSH if live, else BATCH) and payload."""
        kind = MessageType.PUSH if self.live else MessageType.BATCH
        return kind, _encode(_BatchWire(self.last, self.sender, encode_batch(self.batch)))

    @classmethod
    def decode(cls, frame: Frame) -> BatchMessage:
        """Parse a frame of type BATCH or PUSH."""
        kind = expect_type(frame, MessageType.BATCH, MessageType.PUSH)
        wire = _decode(frame, _BatchWire)
        try:
            batch = decode_batch(wire.batch)
        except ReplicaError as exc:
            raise MessageError(f"{kind.name}: batch: {exc}") from None
        return cls(batch, wire.last, wire.sender, kind is MessageType.PUSH)


class RepairRequest(_Plain, frozen=True):
    """A damaged replica asks its peer for the committed log; ``damaged_at`` is the first CSN
    found damaged (for the member's log: the whole log and snapshot are sent either way)."""

    KIND = MessageType.REPAIR
    damaged_at: Count


class _RepairWire(Message, frozen=True):
    last: bool
    #: ``localfirst.encode_batch`` bytes: a snapshot and committed writes, nothing tentative.
    batch: bytes


class RepairData(Message, frozen=True):
    """A slice of a member's snapshot and committed log, answering a REPAIR."""

    batch: Batch
    last: bool

    def encode(self) -> tuple[MessageType, bytes]:
        """Return the frame type and payload."""
        return MessageType.REPAIR_DATA, _encode(_RepairWire(self.last, encode_batch(self.batch)))

    @classmethod
    def decode(cls, frame: Frame) -> RepairData:
        """Parse a frame of type REPAIR_DATA."""
        expect_type(frame, MessageType.REPAIR_DATA)
        wire = _decode(frame, _RepairWire)
        try:
            batch = decode_batch(wire.batch)
        except ReplicaError as exc:
            raise MessageError(f"REPAIR_DATA: batch: {exc}") from None
        return cls(batch, wire.last)


class Ack(_Plain, frozen=True):
    """What the receiver of a slice now holds: CSN, vector digest and chain hash at that CSN."""

    KIND = MessageType.ACK
    digest: Digest


class _GoodbyeWire(Message, frozen=True):
    reason: Reason

    def __post_init__(self) -> None:
        _check_text("reason", self.reason)


class Goodbye(Message, frozen=True):
    """Either side: the session ends (BYE normally, ERROR after a fault), with a reason."""

    reason: str
    error: bool = False

    def encode(self) -> tuple[MessageType, bytes]:
        """Return the frame type and payload (the reason made :func:`printable`)."""
        kind = MessageType.ERROR if self.error else MessageType.BYE
        return kind, _encode(_GoodbyeWire(printable(self.reason)))

    @classmethod
    def decode(cls, frame: Frame) -> Goodbye:
        """Parse a frame of type BYE or ERROR."""
        kind = expect_type(frame, MessageType.BYE, MessageType.ERROR)
        return cls(_decode(frame, _GoodbyeWire).reason, kind is MessageType.ERROR)


def check_version(version: int, at_least: int = MIN_PROTOCOL_VERSION) -> None:
    """Refuse a HELLO version this node does not speak or one older than the peer spoke before.

    Raises:
        MessageError: the version is out of range.
    """
    if version > PROTOCOL_VERSION:
        raise MessageError(
            f"peer speaks protocol version {version}, newer than {PROTOCOL_VERSION} "
            "(update the app on this device)"
        )
    if version < at_least:
        raise MessageError(
            f"peer speaks protocol version {version}, older than {at_least} (downgrade refused)"
        )
