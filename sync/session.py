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

A replica whose committed log or state failed verification claims nothing: its HELLO carries
``NO_CLAIM``, and once it has the peer's HELLO it sends ``REPAIR`` instead of a SUMMARY. The
peer (a sound member) answers with ``REPAIR_DATA`` slices of its snapshot and committed log,
the last one flagged, and goes on waiting for a SUMMARY. The damaged side holds back the
peer's SUMMARY, rebuilds its log and state from the slices, keeping its own unsynced writes
(:func:`localfirst.repair.repair`), verifies the result in full, proves its chain against the
peer's HELLO, and only then sends its SUMMARY and answers the peer's: the session goes on
from step 4 as any other, and carries the kept writes to the peer.

Equal SUMMARYs (same vector, same CSN, chains proven equal) after HELLO digests that differed
mean the materialised states differ. Each side then replays its own log
(:func:`localfirst.repair.rebuilt_digest`); one whose stored state does not follow from it
marks itself damaged and ends the session (``LocalFault``), to be repaired in the next.

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
from collections.abc import Callable
from dataclasses import dataclass, field

from localfirst import Batch, Changes, Replica, ReplicaError, Summary, VersionVector
from localfirst.integrity import ReplicaDamaged
from localfirst.repair import mark_damaged, rebuilt_digest, repair, repair_batch
from storage.errors import StorageError
from sync.const import BATCH_SLICE_SIZE, MAX_FRAME_SIZE, MIN_PROTOCOL_VERSION, PROTOCOL_VERSION
from sync.errors import LocalFault, PeerFault, SessionError
from sync.frames import Frame, FrameDecoder, FrameError, encode_frame
from sync.messages import (
    NO_CLAIM,
    Ack,
    BatchMessage,
    Digest,
    Goodbye,
    Hello,
    MessageType,
    RepairData,
    RepairRequest,
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
    REPAIRING = "repairing"  # this replica is damaged: REPAIR sent, REPAIR_DATA expected
    LIVE = "live"  # in sync; PUSH in both directions
    CLOSED = "closed"


@dataclass(slots=True)
class Step:
    """What one received frame produced: frames to send, changes applied, and whether it ended."""

    out: list[bytes] = field(default_factory=list)
    changes: Changes | None = None
    closed: str | None = None  # the peer's BYE/ERROR reason
    repaired: str | None = None  # this replica was rebuilt from the peer: what was damaged


def digest_of(replica: Replica) -> Digest:
    """Return the replica's compact digest (what HELLO and ACK carry), once what is new in its
    committed log is verified: a damaged replica claims nothing (``LocalFault``)."""
    try:
        replica.check_sound()
    except ReplicaDamaged as exc:
        raise LocalFault(str(exc)) from None
    return Digest(replica.csn, vector_digest(replica.vector, replica.state_digest()), replica.chain)


def _claim(replica: Replica) -> tuple[Digest, int | None]:
    """The digest this replica may claim, and None; or ``NO_CLAIM`` and the first damaged CSN."""
    try:
        return digest_of(replica), None
    except LocalFault:
        assert replica.damaged is not None
        return NO_CLAIM, replica.damaged.csn


def _joined(parts: list[Batch]) -> Batch:
    """Consecutive slices of one batch as one batch again."""
    whole = Batch(snapshot=parts[0].snapshot)
    for part in parts:
        whole.committed += part.committed
        whole.tentative += part.tentative
    return whole


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
        #: Whether the peer's HELLO claimed nothing (it is damaged and asks for a repair).
        self.peer_damaged = False
        #: Whether this replica was repaired from the peer in this session.
        self.repaired = False
        self._damaged_at: int | None = None  # this replica's first damaged CSN, when it is
        self._peer_hello: Digest | None = None
        self._held_summary: Summary | None = None  # the peer's SUMMARY, answered after a repair
        self._repair_parts: list[Batch] = []
        self._repair_served = False

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
        digest, self._damaged_at = _claim(replica)
        self._hello = Hello(PROTOCOL_VERSION, replica.device, replica.library, digest)
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
        try:
            return self._send_batch(batch, live=True)
        except LocalFault as exc:  # found damaged: claim nothing more; the next session repairs
            return [self.goodbye(str(exc))]

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
            total.repaired = step.repaired or total.repaired
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
        handler = _HANDLERS.get(kind)
        if handler is None:
            raise SessionError(f"unexpected {_type_name(kind)}")
        return handler(self, frame)

    def _on_heartbeat(self, frame: Frame) -> Step:
        if frame.payload:
            raise SessionError(f"{_type_name(frame.type)} carries a payload")
        return Step([self._frame(MessageType.PONG, b"")] if frame.type == MessageType.PING else [])

    def _on_summary_frame(self, frame: Frame) -> Step:
        if self.phase not in (Phase.SYNCING, Phase.REPAIRING) or self._summary_received:
            raise SessionError("unexpected SUMMARY")
        self._summary_received = True
        summary = SummaryMessage.decode(frame).summary
        if self.phase is Phase.REPAIRING:
            self._held_summary = summary  # answered once repaired: nothing damaged is served
            return Step()
        replica = self.replica
        if not self.peer_damaged and summary == replica.summary() and self.proven_csn == replica.csn:
            self._check_own_state()  # equal logs, yet the HELLO digests differed: the states do
        return self._on_summary(summary)

    def _check_own_state(self) -> None:
        """The peer holds the same log and shows another state: replay this replica's own log
        to see whether its stored state is the one that is wrong; if so, it is damaged."""
        if rebuilt_digest(self.replica) == self.replica.state_digest():
            log.warning(
                "%s holds the same log with another state; this replica's matches its log", self.peer[:12]
            )
            return
        report = mark_damaged(self.replica)
        raise LocalFault(
            f"this replica's state does not follow from its log ({report.describe()}); it repairs"
        )

    def _on_batch_frame(self, frame: Frame) -> Step:
        if self.phase is not Phase.SYNCING or not self._summary_sent or self._recv_done:
            raise SessionError("unexpected BATCH")
        return self._on_batch(BatchMessage.decode(frame))

    def _on_push_frame(self, frame: Frame) -> Step:
        if self.phase is not Phase.LIVE:
            raise SessionError("PUSH before the session is live")
        return self._on_batch(BatchMessage.decode(frame))

    def _on_ack_frame(self, frame: Frame) -> Step:
        if self._unacked == 0:
            raise SessionError("ACK for nothing sent")
        self._unacked -= 1
        if self._slices:
            entries, catchup = self._slices.popleft()
            self._catchup_done += entries if catchup else 0
        self._on_ack(Ack.decode(frame).digest)
        return Step()

    def _on_repair_request(self, frame: Frame) -> Step:
        """A damaged peer asks for the committed log: send the snapshot and all commits."""
        request = RepairRequest.decode(frame)
        if not self.peer_damaged or self.phase is not Phase.SYNCING or self._repair_served:
            raise SessionError("unexpected REPAIR")
        self._repair_served = True
        try:
            batch = repair_batch(self.replica)
        except ReplicaDamaged as exc:
            raise LocalFault(f"cannot repair {self.peer[:12]}: {exc}") from None
        log.info("repairing %s (damaged at commit #%d)", self.peer[:12], request.damaged_at)
        parts = slice_batch(batch, self._slice_size)
        self.ops_sent += len(batch)
        return Step([self._frame(*RepairData(p, i == len(parts) - 1).encode()) for i, p in enumerate(parts)])

    def _on_repair_data(self, frame: Frame) -> Step:
        """A slice of the peer's committed log; on the last, rebuild this replica from it."""
        if self.phase is not Phase.REPAIRING:
            raise SessionError("unexpected REPAIR_DATA")
        data = RepairData.decode(frame)
        self._repair_parts.append(data.batch)
        if not data.last:
            return Step()
        whole, self._repair_parts = _joined(self._repair_parts), []
        found = self.replica.damaged.describe() if self.replica.damaged else "damaged"
        assert self._peer_hello is not None
        claimed = (self._peer_hello.csn, self._peer_hello.chain)
        try:
            changes = repair(self.replica, whole, claimed)
        except ReplicaError as exc:  # the peer's copy was refused: nothing was applied
            raise SessionError(f"repair refused: {type(exc).__name__}: {exc}") from None
        self.ops_received += len(whole)
        report = self.replica.verify(full=True)
        if not report.ok:
            raise LocalFault(f"still damaged after a repair from {self.peer[:12]}: {report.describe()}")
        self._check_chain(self._peer_hello)  # proven: what we now hold is what the peer said it held
        log.warning("repaired this replica (%s) from %s: %s", found, self.peer[:12], report.describe())
        self.repaired = True
        self.phase = Phase.SYNCING
        self._summary_sent = True
        out = [self._frame(*SummaryMessage(self.replica.summary()).encode())]
        if self._held_summary is not None:
            out += self._on_summary(self._held_summary).out
        return Step(out, changes, repaired=found)

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
        self._peer_hello = theirs
        if self._damaged_at is not None:
            return self._ask_repair(theirs)
        if mine == theirs:
            # Equal CSN, chain and vector: identical logs; one round trip and done.
            self.proven_csn = mine.csn
            self.in_sync = True
            self.peer_known = self._hello_summary
            self._summary_sent = self._summary_received = self._sent_done = self._recv_done = True
            self.phase = Phase.LIVE
            return Step(self.push())
        self.peer_damaged = theirs == NO_CLAIM
        if not self.peer_damaged:  # a damaged peer claims nothing to prove against
            self._check_chain(theirs)
        self.phase = Phase.SYNCING
        self._summary_sent = True
        return Step([self._frame(*SummaryMessage(self.replica.summary()).encode())])

    def _ask_repair(self, theirs: Digest) -> Step:
        """This replica is damaged: ask the peer for its committed log instead of syncing."""
        if theirs == NO_CLAIM:
            raise LocalFault(f"this replica is damaged and so is {self.peer[:12]}: no repair from it")
        assert self._damaged_at is not None
        self.phase = Phase.REPAIRING
        return Step([self._frame(*RepairRequest(self._damaged_at).encode())])

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


_HANDLERS: dict[int, Callable[[Session, Frame], Step]] = {
    MessageType.PING: Session._on_heartbeat,
    MessageType.PONG: Session._on_heartbeat,
    MessageType.SUMMARY: Session._on_summary_frame,
    MessageType.BATCH: Session._on_batch_frame,
    MessageType.PUSH: Session._on_push_frame,
    MessageType.ACK: Session._on_ack_frame,
    MessageType.REPAIR: Session._on_repair_request,
    MessageType.REPAIR_DATA: Session._on_repair_data,
}


def _type_name(kind: int) -> str:
    try:
        return MessageType(kind).name
    except ValueError:
        return f"unknown message type {kind:#04x}"
