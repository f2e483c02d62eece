"""The anti-entropy session between two members: a socket-free state machine (bytes in, bytes out).

The whole conversation, both sides running the same code:

1. each sends ``HELLO`` (protocol version, device id, library id, digest = CSN, 16-byte vector
   digest, chain hash at that CSN) as soon as the channel is up;
2. equal digests: the replicas are identical, the session is live after this one round trip;
3. otherwise each checks the chain hashes at ``min(csn)`` (a mismatch means the committed
   logs differ: the session ends) and sends ``SUMMARY`` (vector and CSN);
4. on a ``SUMMARY`` each answers with ``BATCH`` slices of what the other lacks, the last one
   flagged; every slice received is applied in one transaction and answered with ``ACK``
   (CSN, vector digest, chain hash), which proves "identical up to commit #n";
5. once both directions are done the session is live: new writes, local or relayed from other
   peers, go out as ``PUSH`` slices (each ACKed);
6. ``BYE`` ends it; ``ERROR`` ends it after a fault.

After its HELLO either side may send ``PING`` at any time (the pump does after a quiet spell);
the other answers ``PONG``. Neither changes the session's state: they only prove the peer is
still there, so a silent peer is declared offline within seconds.

A resumed session starts again at step 1, and the SUMMARY tells exactly what the peer holds,
so nothing it acknowledged is sent again. Any malformed, unexpected or out-of-order frame, and
any batch the replica's checks refuse, raises :class:`SessionError` (the peer's fault); when this
device itself fails -- disk full, database locked -- :class:`LocalFault` is raised instead, so the
peer is not blamed; any other exception is a bug and propagates unchanged. Either way the
session is closed, the caller closes the connection, and a frame that raised applied nothing.
"""

from __future__ import annotations

import enum
import logging
from collections import deque
from dataclasses import dataclass, field

from localfirst import Batch, Changes, Replica, ReplicaError, Summary, VersionVector
from localfirst.integrity import ReplicaDamaged
from storage.errors import StorageError
from sync.const import BATCH_SLICE_SIZE, MAX_FRAME_SIZE, MIN_PROTOCOL_VERSION, PROTOCOL_VERSION
from sync.errors import LocalFault, PeerFault, SessionError
from sync.frames import Frame, FrameDecoder, FrameError, encode_frame
from sync.messages import (
    Ack,
    BatchMessage,
    Digest,
    Goodbye,
    Hello,
    MessageType,
    SummaryMessage,
    check_version,
    vector_digest,
)

__all__ = [
    "LocalFault",
    "Phase",
    "Session",
    "SessionError",
    "Step",
    "digest_of",
    "slice_batch",
]

log = logging.getLogger(__name__)

#: Per-entry overhead in an encoded batch (msgpack headers, stamp, origin, CSN), in bytes.
_ENTRY_OVERHEAD = 96


class Phase(enum.Enum):
    """Where a session stands; every step of the conversation in one place."""

    NEW = "new"  # nothing sent yet
    HELLO = "hello"  # HELLO sent, waiting for the peer's
    SYNCING = "syncing"  # SUMMARY / BATCH exchange in progress
    LIVE = "live"  # in sync; PUSH in both directions
    CLOSED = "closed"


@dataclass(slots=True)
class Step:
    """What one received frame produced: frames to send, changes applied, and whether it ended."""

    out: list[bytes] = field(default_factory=list)
    changes: Changes | None = None
    closed: str | None = None  # the peer's BYE/ERROR reason


def digest_of(replica: Replica) -> Digest:
    """Return the replica's compact digest (what HELLO and ACK carry), once what is new in its
    committed log is verified: a damaged replica claims nothing (``LocalFault``)."""
    try:
        replica.check_sound()
    except ReplicaDamaged as exc:
        raise LocalFault(str(exc)) from None
    return Digest(replica.csn, vector_digest(replica.vector, replica.state_digest()), replica.chain)


def slice_batch(batch: Batch, target: int = BATCH_SLICE_SIZE) -> list[Batch]:
    """Split a batch into consecutive slices of about ``target`` bytes, each valid on its own.

    Committed entries are CSN-contiguous and tentative writes ordered, so consecutive runs
    keep both properties; a snapshot rides in the first slice. Always at least one slice.
    """
    slices: list[Batch] = []
    current = Batch(snapshot=batch.snapshot)
    size = 0

    def room(extra: int) -> None:
        nonlocal current, size
        if size + extra > target and len(current):
            slices.append(current)
            current, size = Batch(), 0
        size += extra

    for entry in batch.committed:
        room(len(entry.write or b"") + _ENTRY_OVERHEAD)
        current.committed.append(entry)
    for data in batch.tentative:
        room(len(data) + _ENTRY_OVERHEAD)
        current.tentative.append(data)
    slices.append(current)
    return slices


def _merged(summary: Summary, other: Summary) -> Summary:
    return Summary(summary.vector.merged(other.vector), max(summary.csn, other.csn))


class Session:
    """One anti-entropy session with one authenticated peer, driving a replica.

    The caller owns the channel: it sends what :meth:`start`, :meth:`receive`, :meth:`feed`
    and :meth:`push` return and closes the channel when they raise :class:`SessionError` or
    report the peer closed. All calls must come from the thread that owns the replica.
    """

    def __init__(
        self,
        replica: Replica,
        peer: str,
        *,
        min_version: int = MIN_PROTOCOL_VERSION,
        slice_size: int | None = None,
        max_frame: int | None = None,
    ) -> None:
        """Prepare a session.

        Args:
            replica: the local replica.
            peer: the peer's device id, as authenticated by the channel (TLS + fingerprint).
            min_version: oldest protocol version accepted from this peer (the newest it spoke
                before), so it cannot be downgraded.
            slice_size: target size of one BATCH/PUSH slice, in bytes (default
                ``const.BATCH_SLICE_SIZE``).
            max_frame: largest frame payload accepted, in bytes (default ``const.MAX_FRAME_SIZE``).
        """
        self.replica = replica
        self.peer = peer
        self.phase = Phase.NEW
        self.peer_version: int | None = None
        #: Highest CSN up to which both committed logs are proven identical by chain hashes.
        self.proven_csn: int | None = None
        #: Whether the peer's last HELLO/ACK digest equals this replica's digest at that time.
        self.in_sync = False
        self.bytes_sent = 0
        self.bytes_received = 0
        #: Writes and commit entries sent and received in batches and pushes.
        self.ops_sent = 0
        self.ops_received = 0
        self._catchup_total = 0  # entries expected in the catch-up, both ways (a lower bound)
        self._catchup_done = 0  # entries of it acknowledged by the peer or applied here
        #: Entries in each unacknowledged slice, and whether it belongs to the catch-up.
        self._slices: deque[tuple[int, bool]] = deque()
        self._expect_in = 0  # committed entries the peer holds beyond us at its SUMMARY
        self._got_in = 0  # catch-up entries received so far
        self._min_version = min_version
        self._slice_size = slice_size or BATCH_SLICE_SIZE
        self._max_frame = max_frame or MAX_FRAME_SIZE
        self._decoder = FrameDecoder(self._max_frame)
        self._hello: Hello | None = None  # what we sent
        self._hello_summary: Summary | None = None  # our summary when we sent it
        self._summary_sent = False
        self._summary_received = False
        self._sent_done = False  # our last BATCH slice is out
        self._recv_done = False  # the peer's last BATCH slice arrived
        self._unacked = 0  # slices sent and not yet acknowledged
        #: A lower bound of what the peer holds; pushes send what it lacks beyond it.
        self.peer_known: Summary | None = None

    # -- outgoing ------------------------------------------------------------------------------

    @property
    def live(self) -> bool:
        return self.phase is Phase.LIVE

    @property
    def progress(self) -> tuple[int, int] | None:
        """(entries done, entries expected) of a running catch-up, both ways; None unless syncing.

        What this side sends is known exactly; what it receives is estimated from the peer's
        CSN (its tentative writes are counted as they arrive).
        """
        if self.phase is not Phase.SYNCING:
            return None
        return self._catchup_done, max(self._catchup_total, self._catchup_done)

    @property
    def sending(self) -> int:
        """Writes and commit entries sent to the peer that it has not acknowledged yet."""
        return sum(entries for entries, _ in self._slices)

    @property
    def receiving(self) -> int:
        """Commit entries still expected from the peer in the running catch-up (a lower bound)."""
        if self.phase is not Phase.SYNCING or self._recv_done:
            return 0
        return max(0, self._expect_in - self._got_in)

    def _frame(self, kind: MessageType, payload: bytes) -> bytes:
        data = encode_frame(kind, payload, max_size=self._max_frame)
        self.bytes_sent += len(data)
        return data

    def start(self) -> list[bytes]:
        """Return the opening frames (HELLO)."""
        if self.phase is not Phase.NEW:
            raise RuntimeError("a session starts once")
        replica = self.replica
        self._hello = Hello(PROTOCOL_VERSION, replica.device, replica.library, digest_of(replica))
        self._hello_summary = replica.summary()
        self.phase = Phase.HELLO
        return [self._frame(*self._hello.encode())]

    def goodbye(self, reason: str, *, error: bool = False) -> bytes:
        """Return a BYE (or ERROR) frame and mark the session closed."""
        self.phase = Phase.CLOSED
        return self._frame(*Goodbye(reason, error).encode())

    def ping(self) -> bytes:
        """Return a PING frame (the peer answers PONG): a heartbeat on a quiet channel."""
        return self._frame(MessageType.PING, b"")

    def push(self) -> list[bytes]:
        """Return PUSH slices of whatever the peer lacks now (after a local or relayed change)."""
        if self.phase is not Phase.LIVE or self.peer_known is None:
            return []
        batch = self.replica.batch_for(self.peer_known)
        if not len(batch):
            return []
        return self._send_batch(batch, live=True)

    def _send_batch(self, batch: Batch, *, live: bool) -> list[bytes]:
        parts = slice_batch(batch, self._slice_size)
        sender = digest_of(self.replica)
        self.ops_sent += len(batch)
        if not live:
            self._catchup_total += len(batch)
        self._slices.extend((len(part), not live) for part in parts)
        out = [
            self._frame(*BatchMessage(part, i == len(parts) - 1, sender, live).encode())
            for i, part in enumerate(parts)
        ]
        assert self.peer_known is not None
        # Once applied, the peer holds at least everything this replica holds now.
        self.peer_known = _merged(self.peer_known, self.replica.summary())
        self._unacked += len(out)
        return out

    # -- incoming ------------------------------------------------------------------------------

    def feed(self, data: bytes) -> Step:
        """Take raw bytes from the channel; return what the complete frames produced."""
        try:
            frames = self._decoder.feed(data)
        except FrameError as exc:
            self.phase = Phase.CLOSED
            raise SessionError(str(exc)) from None
        total = Step()
        for frame in frames:
            step = self.receive(frame)
            total.out += step.out
            total.changes = step.changes or total.changes
            if step.closed is not None:
                total.closed = step.closed
                break
        return total

    def receive(self, frame: Frame) -> Step:
        """Handle one frame from the peer.

        Raises:
            SessionError: the frame is malformed, unexpected here, or its data was refused
                (the peer's fault); nothing from it was applied.
            LocalFault: this device failed to store what the frame carried (disk full, database
                locked, a damaged file); nothing from it was applied, and the peer is not to blame.
        """
        if self.phase is Phase.CLOSED:
            raise SessionError("frame after the session closed")
        if self.phase is Phase.NEW:
            raise RuntimeError("start() the session before receiving")
        self.bytes_received += len(frame.payload) + 6
        try:
            return self._dispatch(frame)
        except SessionError:
            self.phase = Phase.CLOSED
            raise
        except PeerFault as exc:  # a malformed message: the peer's fault all the same
            self.phase = Phase.CLOSED
            raise SessionError(str(exc)) from None
        except StorageError as exc:  # rolled back: nothing of the frame was applied
            self.phase = Phase.CLOSED
            raise LocalFault(f"this device could not take what {self.peer[:12]} sent: {exc}") from exc
        except BaseException:  # a bug (or cancellation): it propagates as it is
            self.phase = Phase.CLOSED
            raise

    def _dispatch(self, frame: Frame) -> Step:
        kind = frame.type
        if kind in (MessageType.BYE, MessageType.ERROR):
            bye = Goodbye.decode(frame)
            self.phase = Phase.CLOSED
            return Step(closed=f"{'error' if bye.error else 'bye'}: {bye.reason}")
        if self.peer_version is None:
            if kind != MessageType.HELLO:
                raise SessionError(f"expected HELLO first, got {_type_name(kind)}")
            return self._on_hello(Hello.decode(frame))
        if kind in (MessageType.PING, MessageType.PONG):
            if frame.payload:
                raise SessionError(f"{_type_name(kind)} carries a payload")
            return Step([self._frame(MessageType.PONG, b"")] if kind == MessageType.PING else [])
        if kind == MessageType.SUMMARY:
            if self.phase is not Phase.SYNCING or self._summary_received:
                raise SessionError("unexpected SUMMARY")
            self._summary_received = True
            return self._on_summary(SummaryMessage.decode(frame).summary)
        if kind == MessageType.BATCH:
            if self.phase is not Phase.SYNCING or not self._summary_sent or self._recv_done:
                raise SessionError("unexpected BATCH")
            return self._on_batch(BatchMessage.decode(frame))
        if kind == MessageType.PUSH:
            if self.phase is not Phase.LIVE:
                raise SessionError("PUSH before the session is live")
            return self._on_batch(BatchMessage.decode(frame))
        if kind == MessageType.ACK:
            if self._unacked == 0:
                raise SessionError("ACK for nothing sent")
            self._unacked -= 1
            if self._slices:
                entries, catchup = self._slices.popleft()
                self._catchup_done += entries if catchup else 0
            self._on_ack(Ack.decode(frame).digest)
            return Step()
        raise SessionError(f"unexpected {_type_name(kind)}")

    def _on_hello(self, hello: Hello) -> Step:
        check_version(hello.version, self._min_version)
        if hello.device != self.peer:
            raise SessionError(
                f"HELLO names device {hello.device[:16]}, the channel authenticated {self.peer[:16]}"
            )
        if hello.library != self.replica.library:
            raise SessionError("HELLO names another library")
        self.peer_version = hello.version
        assert self._hello is not None
        assert self._hello_summary is not None
        mine, theirs = self._hello.digest, hello.digest
        if mine == theirs:
            # Equal CSN, chain and vector: identical logs; one round trip and done.
            self.proven_csn = mine.csn
            self.in_sync = True
            self.peer_known = self._hello_summary
            self._summary_sent = self._summary_received = self._sent_done = self._recv_done = True
            self.phase = Phase.LIVE
            return Step(self.push())
        self._check_chain(theirs)
        self.phase = Phase.SYNCING
        self._summary_sent = True
        return Step([self._frame(*SummaryMessage(self.replica.summary()).encode())])

    def _check_chain(self, theirs: Digest) -> None:
        """Compare chain hashes at ``min(csn)``; equal proves identical committed logs up to it."""
        if theirs.csn > self.replica.csn:
            return  # the peer holds more commits; it checks at our CSN
        chain = self.replica.chain_at(theirs.csn)
        if chain is None:
            return  # truncated away here: cannot prove, the batch carries a snapshot
        if chain != theirs.chain:
            raise SessionError(f"committed logs differ at commit #{theirs.csn} (chain hashes disagree)")
        self.proven_csn = theirs.csn

    def _on_summary(self, summary: Summary) -> Step:
        if summary.csn < self.replica.truncated_csn:
            log.info("peer %s is behind the truncation point; it receives the snapshot", self.peer[:12])
        self.peer_known = summary
        self._expect_in = max(0, summary.csn - self.replica.csn)
        self._catchup_total += self._expect_in
        out = self._send_batch(self.replica.batch_for(summary), live=False)
        self._sent_done = True
        return Step(out + self._maybe_live())

    def _on_batch(self, message: BatchMessage) -> Step:
        batch = message.batch
        try:
            changes = self.replica.receive(batch)
        except StorageError:
            raise  # this device's failure, not the peer's (see receive)
        except ReplicaError as exc:  # the replica's checks refused the data: nothing was applied
            raise SessionError(f"batch refused: {type(exc).__name__}: {exc}") from None
        self._learn(batch, changes)
        self.ops_received += len(batch)
        if not message.live:
            self._catchup_done += len(batch)
            self._got_in += len(batch)
        self._compare(message.sender)
        out = [self._frame(*Ack(digest_of(self.replica)).encode())]
        if not message.live and message.last:
            self._recv_done = True
            out += self._maybe_live()
        return Step(out, changes)

    def _learn(self, batch: Batch, changes: Changes) -> None:
        """The peer holds what it sent: raise the lower bound so nothing is echoed back."""
        if self.peer_known is None:
            return
        vector: dict[str, int] = {}
        for wid in changes.writes:
            vector[wid.origin] = max(vector.get(wid.origin, 0), wid.stamp)
        for entry in batch.committed:
            vector[entry.id.origin] = max(vector.get(entry.id.origin, 0), entry.id.stamp)
        csn = max((e.csn for e in batch.committed), default=0)
        if batch.snapshot is not None:
            csn = max(csn, batch.snapshot.csn)
            vector = batch.snapshot.vector.merged(vector).as_dict()
        self.peer_known = _merged(self.peer_known, Summary(VersionVector(vector), csn))

    def _on_ack(self, digest: Digest) -> None:
        self._compare(digest)

    def _compare(self, digest: Digest) -> None:
        """Compare the peer's digest with this replica: chain hashes prove identical prefixes."""
        if digest.csn <= self.replica.csn:
            chain = self.replica.chain_at(digest.csn)
            if chain is not None and chain != digest.chain:
                raise SessionError(f"committed logs differ at commit #{digest.csn} (chain hashes disagree)")
            if chain is not None:
                self.proven_csn = digest.csn
        self.in_sync = digest == digest_of(self.replica)

    def _maybe_live(self) -> list[bytes]:
        if self._sent_done and self._recv_done and self.phase is Phase.SYNCING:
            self.phase = Phase.LIVE
            return self.push()  # whatever changed here while syncing
        return []


def _type_name(kind: int) -> str:
    try:
        return MessageType(kind).name
    except ValueError:
        return f"unknown message type {kind:#04x}"
