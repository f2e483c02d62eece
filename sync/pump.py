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
from typing import Any, Protocol

from sync.const import HEARTBEAT_INTERVAL_S, HEARTBEAT_TIMEOUT_S, MAX_FRAME_SIZE, SESSION_STEP_TIMEOUT_S
from sync.errors import LocalFault
from sync.frames import ConnectionClosed, Frame, FrameDecoder, FrameError, read_frame
from sync.messages import MessageType
from sync.session import Phase, Session, SessionError, Step

#: Frames that only prove the peer is there: they keep a session alive, not a sync moving.
_HEARTBEATS = (MessageType.PING, MessageType.PONG)

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


async def pump(
    session: Session,
    channel: Channel,
    on_step: Callable[[Step], None],
    *,
    heartbeat: float | None = None,
    silence: float | None = None,
) -> Ending:
    """Run ``session`` over ``channel`` until either side ends it; return why it ended.

    ``on_step(step)`` runs after each received frame, once its answer is queued. Before the
    session is live every frame must come within ``SESSION_STEP_TIMEOUT_S``. After
    ``heartbeat`` seconds without a frame a PING goes out; a peer silent for ``silence``
    seconds (default ``HEARTBEAT_INTERVAL_S`` / ``HEARTBEAT_TIMEOUT_S``) is declared gone. Frames
    are read while our own output drains, so a peer acknowledging a long catch-up is heard, and
    one that vanished mid-transfer is noticed too. A malformed frame ends the session with an
    error and applies nothing. The channel is left open for the caller (to say goodbye, then
    close it).
    """
    beat = Heartbeat(
        HEARTBEAT_INTERVAL_S if heartbeat is None else heartbeat,
        HEARTBEAT_TIMEOUT_S if silence is None else silence,
    )
    turns = _Turns(session, channel, on_step, beat)
    try:
        channel.send(session.start())
        while session.phase is not Phase.CLOSED:
            ending = await turns.next()
            if ending is not None:
                return ending
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
    finally:
        turns.cancel()
    return Ending("closed")


class _Turns:
    """The pump's loop, a turn at a time: wait for a frame (or a heartbeat's time) while the
    output drains, then hand the frame to the session and send what it answers."""

    def __init__(
        self, session: Session, channel: Channel, on_step: Callable[[Step], None], beat: Heartbeat
    ) -> None:
        self.session = session
        self.channel = channel
        self.on_step = on_step
        self.beat = beat
        self.receiving: asyncio.Future[Frame] | None = None
        self.draining: asyncio.Future[None] | None = None

    async def next(self) -> Ending | None:
        """One turn; an :class:`Ending` when the session is over."""
        if self.receiving is None:
            self.receiving = asyncio.ensure_future(self.channel.recv())
        waiting: set[asyncio.Future[Any]] = {self.receiving}
        if self.draining is not None:
            waiting.add(self.draining)
        await asyncio.wait(waiting, timeout=self.beat.wait_s(), return_when=asyncio.FIRST_COMPLETED)
        if self.draining is not None and self.draining.done():
            drained, self.draining = self.draining, None
            drained.result()  # a lost connection raises here
        if not self.receiving.done():
            return self._quiet()
        frame = self.receiving.result()
        self.receiving = None
        return self._take(frame)

    def _quiet(self) -> Ending | None:
        """No frame came in time: give the peer up, or PING it."""
        late = self.beat.late(self.session.live)
        if late is not None:
            return Ending(late)
        if self.beat.due():
            self.channel.send([self.session.ping()])
        return None

    def _take(self, frame: Frame) -> Ending | None:
        self.beat.heard(progress=frame.type not in _HEARTBEATS)
        if _closed(self.session):
            # Closed here meanwhile (the caller said goodbye): what still came is moot.
            raise ConnectionClosed("the session was closed")
        step = self.session.receive(frame)
        self.channel.send(step.out)
        self.on_step(step)
        if step.closed is not None:
            return Ending(f"peer ended the session ({step.closed})")
        if self.draining is None:
            self.draining = asyncio.ensure_future(self.channel.drain())
        return None

    def cancel(self) -> None:
        """Cancel what is still pending; retrieve what ended, so asyncio logs nothing."""
        for pending in (self.receiving, self.draining):
            if pending is not None and not pending.done():
                pending.cancel()
            elif pending is not None and not pending.cancelled():
                pending.exception()  # retrieved: asyncio would log it as never retrieved


def _closed(session: Session) -> bool:
    return session.phase is Phase.CLOSED


class Heartbeat:
    """When to PING a quiet peer and when to give it up, on the event loop's clock.

    A stall of this device's own loop (a long import) is not the peer's silence: time the loop
    did not run is not counted against the peer.
    """

    def __init__(self, interval: float, silence: float) -> None:
        self._loop = asyncio.get_running_loop()
        self.interval = interval
        self.silence = silence
        now = self._loop.time()
        self._heard = self._progress = self._pinged = self._tick = now

    def heard(self, *, progress: bool = True) -> None:
        """A frame arrived (``progress``: the sync moved on)."""
        self._heard = self._tick = self._loop.time()
        if progress:
            self._progress = self._heard

    def wait_s(self) -> float:
        """How long to wait for a frame before looking again."""
        now = self._loop.time()
        ping_at = max(self._pinged, self._heard) + self.interval
        return max(0.0, min(ping_at, self._heard + self.silence) - now)

    def late(self, live: bool) -> str | None:
        """Why the peer counts as gone now, or None."""
        now = self._loop.time()
        if now - self._tick > self.interval * 2:
            # This loop did not run for a while: forgive the peer that long.
            stalled = now - self._tick - self.interval
            self._heard += stalled
            self._progress += stalled
        self._tick = now
        if now - self._heard >= self.silence:
            return f"peer silent for {now - self._heard:.1f} s (offline)"
        if not live and now - self._progress >= SESSION_STEP_TIMEOUT_S:
            return f"connection lost: no progress for {SESSION_STEP_TIMEOUT_S:.0f} s while syncing"
        return None

    def due(self) -> bool:
        """Whether a PING should go out now (and note that it does)."""
        now = self._loop.time()
        if now - self._heard < self.interval or now - self._pinged < self.interval:
            return False
        self._pinged = now
        return True


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
