"""Length-prefixed binary frames over asyncio streams.

A frame is a 6-byte header -- payload length (4 bytes, big-endian, unsigned),
protocol version (1 byte), message type (1 byte) -- followed by the payload.
The length is checked against the caller's cap before anything is read or allocated.
"""

from __future__ import annotations

import asyncio
import struct
from dataclasses import dataclass

from sync.const import FRAME_HEADER_SIZE, MAX_FRAME_SIZE, PROTOCOL_VERSION
from sync.errors import FrameError

__all__ = [
    "BadVersion",
    "ConnectionClosed",
    "Frame",
    "FrameDecoder",
    "FrameError",
    "FrameTooLarge",
    "Truncated",
    "encode_frame",
    "read_frame",
]

_HEADER = struct.Struct(">IBB")
assert _HEADER.size == FRAME_HEADER_SIZE


class FrameTooLarge(FrameError):
    """The announced payload length exceeds the cap."""


class BadVersion(FrameError):
    """The frame carries a protocol version this node does not speak."""

    @classmethod
    def of(cls, version: int) -> BadVersion:
        """The refusal of a frame of ``version``, saying which device needs the update."""
        which = "this device" if version > PROTOCOL_VERSION else "the other device"
        return cls(
            f"frame has protocol version {version}, this node speaks {PROTOCOL_VERSION} "
            f"(update the app on {which})"
        )


class Truncated(FrameError):
    """The stream ended inside a frame."""


class ConnectionClosed(Truncated):
    """The stream ended cleanly between frames."""


@dataclass(frozen=True, slots=True)
class Frame:
    """One decoded frame: message type and payload (version already checked)."""

    type: int
    payload: bytes
    version: int = PROTOCOL_VERSION


def encode_frame(msg_type: int, payload: bytes, *, max_size: int = MAX_FRAME_SIZE) -> bytes:
    """Return the bytes of one frame.

    Raises:
        FrameTooLarge: ``payload`` is longer than ``max_size``.
        ValueError: ``msg_type`` does not fit in one byte.
    """
    if not 0 <= msg_type <= 0xFF:
        raise ValueError(f"message type {msg_type} does not fit in one byte")
    if len(payload) > max_size:
        raise FrameTooLarge(f"payload of {len(payload)} bytes exceeds the {max_size}-byte cap")
    return _HEADER.pack(len(payload), PROTOCOL_VERSION, msg_type) + payload


async def read_frame(reader: asyncio.StreamReader, max_size: int = MAX_FRAME_SIZE) -> Frame:
    """Read one frame from ``reader``.

    Args:
        reader: the stream.
        max_size: largest payload accepted, in bytes; checked before reading it.

    Raises:
        ConnectionClosed: the stream ended before the first header byte.
        Truncated: the stream ended inside the header or the payload.
        FrameTooLarge: the announced length exceeds ``max_size``.
        BadVersion: the header carries another protocol version.
    """
    try:
        header = await reader.readexactly(FRAME_HEADER_SIZE)
    except asyncio.IncompleteReadError as exc:
        if not exc.partial:
            raise ConnectionClosed("connection closed between frames") from None
        raise Truncated(
            f"connection closed after {len(exc.partial)} of {FRAME_HEADER_SIZE} header bytes"
        ) from None
    length, version, msg_type = _HEADER.unpack(header)
    if version != PROTOCOL_VERSION:
        raise BadVersion.of(version)
    if length > max_size:
        raise FrameTooLarge(f"frame announces {length} bytes, the cap is {max_size}")
    try:
        payload = await reader.readexactly(length)
    except asyncio.IncompleteReadError as exc:
        raise Truncated(f"connection closed after {len(exc.partial)} of {length} payload bytes") from None
    return Frame(msg_type, payload, version)


class FrameDecoder:
    """Incremental frame parser for bytes arriving in arbitrary pieces (no I/O).

    The header is checked (version, length against the cap) as soon as it is complete,
    so a hostile length is refused before its payload is buffered.
    """

    def __init__(self, max_size: int = MAX_FRAME_SIZE) -> None:
        self._max_size = max_size
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[Frame]:
        """Add bytes and return every frame now complete.

        Raises:
            FrameTooLarge: a header announces more than the cap.
            BadVersion: a header carries another protocol version.
        """
        self._buf += data
        frames: list[Frame] = []
        while len(self._buf) >= FRAME_HEADER_SIZE:
            length, version, msg_type = _HEADER.unpack_from(self._buf)
            if version != PROTOCOL_VERSION:
                raise BadVersion.of(version)
            if length > self._max_size:
                raise FrameTooLarge(f"frame announces {length} bytes, the cap is {self._max_size}")
            end = FRAME_HEADER_SIZE + length
            if len(self._buf) < end:
                break
            frames.append(Frame(msg_type, bytes(self._buf[FRAME_HEADER_SIZE:end]), version))
            del self._buf[:end]
        return frames

    @property
    def pending(self) -> int:
        """Bytes received but not yet part of a complete frame."""
        return len(self._buf)
