"""The session pump: drives one :class:`~sync.session.Session` over a :class:`Channel`.

A channel carries whole frames between two authenticated members; the pump sends the session's
opening, hands every received frame to the session, sends what it answers and tells the caller
after each step, until either side ends it. The TLS stream is one channel
(:class:`StreamChannel`); :func:`memory_pair` gives two channels joined in memory, so two
replicas can sync in a test without sockets.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from sync.const import MAX_FRAME_SIZE, SESSION_STEP_TIMEOUT_S
from sync.errors import LocalFault
from sync.frames import ConnectionClosed, Frame, FrameDecoder, FrameError, read_frame
from sync.session import Phase, Session, SessionError, Step

#: What a lost or refused connection raises (the peer's fault or the network's, never ours).
NET_ERRORS = (OSError, ssl.SSLError, TimeoutError, EOFError)


class Channel(Protocol):
    """A two-way, ordered, authenticated carrier of frames to one peer."""

    async def recv(self) -> Frame:
        """The next frame; :class:`ConnectionClosed` when the peer closed between frames,
        another :class:`FrameError` for a malformed one."""
        ...

    def send(self, frames: list[bytes]) -> None:
        """Queue encoded frames (nothing once closing)."""
        ...

    async def drain(self) -> None:
        """Wait until the queued frames may be handed on (flow control)."""
        ...

    def close(self) -> None:
        """Stop sending and receiving; the peer sees the end after what was queued."""
        ...

    def is_closing(self) -> bool: ...


@dataclass(frozen=True, slots=True)
class Ending:
    """Why a session ended: a protocol error is the peer's fault, a local fault is ours."""

    reason: str
    error: bool = False
    local: bool = False


async def pump(session: Session, channel: Channel, on_step: Callable[[Step], None]) -> Ending:
    """Run ``session`` over ``channel`` until either side ends it; return why it ended.

    ``on_step(step)`` runs after each received frame, once its answer is queued. Before the
    session is live every frame must come within ``SESSION_STEP_TIMEOUT_S``; a live session
    may idle. A malformed frame ends the session with an error and applies nothing. The
    channel is left open for the caller (to say goodbye, then close it).
    """
    try:
        channel.send(session.start())
        while session.phase is not Phase.CLOSED:
            timeout = None if session.live else SESSION_STEP_TIMEOUT_S
            async with asyncio.timeout(timeout):
                frame = await channel.recv()
            step = session.receive(frame)
            channel.send(step.out)
            on_step(step)
            if step.closed is not None:
                return Ending(f"peer ended the session ({step.closed})")
            await channel.drain()
    except ConnectionClosed:
        return Ending("peer closed the connection")
    except (SessionError, FrameError) as exc:
        return Ending(f"protocol error: {exc}", error=True)
    except LocalFault as exc:
        # Disk full or a locked database: this device's fault, so the peer is not blamed and
        # the link reconnects with its backoff as after any lost session.
        return Ending(f"local fault: {exc}", local=True)
    except NET_ERRORS as exc:
        return Ending(f"connection lost: {exc or type(exc).__name__}")
    return Ending("closed")


class StreamChannel:
    """A channel over an asyncio stream (the members' TLS connection)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    async def recv(self) -> Frame:
        return await read_frame(self.reader, MAX_FRAME_SIZE)

    def send(self, frames: list[bytes]) -> None:
        if frames and not self.writer.is_closing():
            self.writer.write(b"".join(frames))

    async def drain(self) -> None:
        await self.writer.drain()

    def close(self) -> None:
        self.writer.close()

    def is_closing(self) -> bool:
        return self.writer.is_closing()

    async def wait_closed(self) -> None:
        """Close without letting a dead peer hold us up."""
        await close_stream(self.writer)


async def close_stream(writer: asyncio.StreamWriter) -> None:
    """Close a connection, waiting at most a second for the peer."""
    writer.close()
    with contextlib.suppress(*NET_ERRORS):
        async with asyncio.timeout(1.0):
            await writer.wait_closed()


class MemoryChannel:
    """One end of an in-memory channel pair: what one end sends, the other receives, as bytes
    on a wire (decoded with the same size cap and version check as a socket)."""

    def __init__(self, max_frame: int = MAX_FRAME_SIZE) -> None:
        self._inbox: asyncio.Queue[bytes | None] = asyncio.Queue()
        self._frames: list[Frame] = []
        self._decoder = FrameDecoder(max_frame)
        self.peer: MemoryChannel | None = None
        self._closing = False
        self._ended = False

    async def recv(self) -> Frame:
        while not self._frames:
            if self._ended:
                raise ConnectionClosed("channel closed between frames")
            data = await self._inbox.get()
            if data is None:
                self._ended = True
                continue
            self._frames.extend(self._decoder.feed(data))
        return self._frames.pop(0)

    def send(self, frames: list[bytes]) -> None:
        """Queue frames for the peer; raw bytes are fine too (a test's malformed frame)."""
        if self._closing or self.peer is None:
            return
        for data in frames:
            self.peer._inbox.put_nowait(data)

    async def drain(self) -> None:
        await asyncio.sleep(0)  # let the other end run, as a socket's flow control would

    def close(self) -> None:
        if self._closing:
            return
        self._closing = True
        self._ended = True
        self._inbox.put_nowait(None)  # wake our own pending recv
        if self.peer is not None:
            self.peer._inbox.put_nowait(None)

    def is_closing(self) -> bool:
        return self._closing


def memory_pair(max_frame: int = MAX_FRAME_SIZE) -> tuple[MemoryChannel, MemoryChannel]:
    """Two channel ends joined in memory."""
    a, b = MemoryChannel(max_frame), MemoryChannel(max_frame)
    a.peer, b.peer = b, a
    return a, b
