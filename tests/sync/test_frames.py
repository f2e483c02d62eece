"""Tests of sync.frames: round trips, caps checked before reading, hostile bytes."""

from __future__ import annotations

import asyncio
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sync.const import PROTOCOL_VERSION
from sync.frames import (
    BadVersion,
    ConnectionClosed,
    Frame,
    FrameDecoder,
    FrameError,
    FrameTooLarge,
    Truncated,
    encode_frame,
    read_frame,
)

pytestmark = pytest.mark.timeout(60)


def _reader(data: bytes, *, eof: bool = True) -> asyncio.StreamReader:
    """Return a stream reader holding ``data`` (must be called inside a loop)."""
    reader = asyncio.StreamReader()
    reader.feed_data(data)
    if eof:
        reader.feed_eof()
    return reader


async def _read_all(data: bytes, max_size: int) -> list[Frame]:
    """Read frames from ``data`` until the stream ends cleanly."""
    reader = _reader(data)
    frames = []
    while True:
        try:
            frames.append(await read_frame(reader, max_size))
        except ConnectionClosed:
            return frames


def test_round_trip() -> None:
    data = encode_frame(7, b"hello") + encode_frame(0, b"") + encode_frame(255, b"\x00" * 1000)
    frames = asyncio.run(_read_all(data, 1000))
    assert frames == [Frame(7, b"hello"), Frame(0, b""), Frame(255, b"\x00" * 1000)]
    assert all(f.version == PROTOCOL_VERSION for f in frames)


def test_header_layout() -> None:
    assert encode_frame(3, b"ab") == struct.pack(">IBB", 2, PROTOCOL_VERSION, 3) + b"ab"


def test_oversized_length_rejected_without_reading_payload() -> None:
    async def run() -> bytes:
        # No EOF and only part of the payload: reading it would block forever.
        header = struct.pack(">IBB", 0xFFFFFFFF, PROTOCOL_VERSION, 1)
        reader = _reader(header + b"rest", eof=False)
        async with asyncio.timeout(2):
            with pytest.raises(FrameTooLarge, match="4294967295 bytes, the cap is 1024"):
                await read_frame(reader, 1024)
        reader.feed_eof()
        return await reader.read()

    assert asyncio.run(run()) == b"rest"


def test_length_equal_to_cap_is_accepted() -> None:
    frames = asyncio.run(_read_all(encode_frame(1, b"x" * 64), 64))
    assert frames == [Frame(1, b"x" * 64)]


def test_bad_version() -> None:
    data = struct.pack(">IBB", 0, PROTOCOL_VERSION + 1, 1)
    with pytest.raises(BadVersion, match=f"version {PROTOCOL_VERSION + 1}, .* on this device"):
        asyncio.run(_read_all(data, 100))


def test_frame_of_an_older_protocol_is_refused_naming_both_versions() -> None:
    # A device still on protocol 1 (msgpack maps, hand-packed headers) sends its HELLO.
    data = struct.pack(">IBB", 4, 1, 0x20) + b"\x81\xa1v\x01"
    expected = (
        f"frame has protocol version 1, this node speaks {PROTOCOL_VERSION} "
        "(update the app on the other device)"
    )
    with pytest.raises(BadVersion) as info:
        asyncio.run(_read_all(data, 100))
    assert str(info.value) == expected
    with pytest.raises(BadVersion) as info:
        FrameDecoder(100).feed(data)
    assert str(info.value) == expected


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\x00\x00", "after 2 of 6 header bytes"),
        (encode_frame(1, b"abcdef")[:-2], "after 4 of 6 payload bytes"),
    ],
)
def test_truncated(data: bytes, message: str) -> None:
    with pytest.raises(Truncated, match=message):
        asyncio.run(_read_all(data, 100))


def test_clean_close_between_frames() -> None:
    async def run() -> None:
        reader = _reader(b"")
        with pytest.raises(ConnectionClosed):
            await read_frame(reader)

    asyncio.run(run())
    assert issubclass(ConnectionClosed, Truncated)
    assert issubclass(FrameError, ValueError)


def test_encode_checks() -> None:
    with pytest.raises(FrameTooLarge):
        encode_frame(1, b"x" * 11, max_size=10)
    with pytest.raises(ValueError, match="one byte"):
        encode_frame(256, b"")
    with pytest.raises(ValueError, match="one byte"):
        encode_frame(-1, b"")


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300), st.integers(min_value=0, max_value=64))
def test_random_bytes_raise_only_frame_errors(data: bytes, max_size: int) -> None:
    async def run() -> None:
        reader = _reader(data)
        for _ in range(len(data) + 1):  # every frame consumes at least its header
            try:
                await read_frame(reader, max_size)
            except FrameError:
                return
        pytest.fail("reader never reported the end of the stream")

    asyncio.run(run())


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 255), st.binary(max_size=200)), max_size=5))
def test_round_trip_any_frames(messages: list[tuple[int, bytes]]) -> None:
    data = b"".join(encode_frame(t, p) for t, p in messages)
    frames = asyncio.run(_read_all(data, 200))
    assert [(f.type, f.payload) for f in frames] == messages
