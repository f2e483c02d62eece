"""The sync layer's errors under one root, split by whose fault they are.

``SyncError`` is the root. A :class:`PeerFault` means the other device sent something this one
refuses (a malformed frame or message, a broken protocol step, a batch the replica's checks
reject): its session closes, nothing from it was applied, and the peer is to blame. A
:class:`LocalFault` means this device failed while handling good data (disk full, database
locked, a damaged file): the session closes without blaming the peer, and a later session may
succeed. Any other exception out of the sync layer is a bug and is never caught as either.
"""

from __future__ import annotations


class SyncError(Exception):
    """Base class of every error the sync layer raises on purpose."""


class PeerFault(SyncError):
    """The other device sent something this one refuses; its session must close."""


class FrameError(PeerFault, ValueError):
    """A frame is malformed; the session must close and apply nothing."""


class MessageError(PeerFault, ValueError):
    """A frame's payload is not a well-formed message of the expected type."""


class SessionError(PeerFault):
    """The peer broke the protocol (or its data was refused); the session must close."""


class LocalFault(SyncError):
    """This device could not handle what the peer sent for a reason of its own (disk full,
    database locked, a damaged file); nothing was applied and the peer is not to blame."""


class PairingError(SyncError):
    """Pairing failed; nothing was pinned. The message says why, for the user."""
