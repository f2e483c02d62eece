"""Errors a user can hit with a replica file; each says what happened and that nothing was lost."""

from localfirst.errors import ReplicaError

#: What to do when a library file cannot be opened (every open failure's line ends with it).
WHAT_TO_DO = (
    "to get it back from another device, move the file aside and join again (`localfirst join CODE`); "
    "to keep what can still be read, run `localfirst salvage OUT`; "
    "or move the file aside to start a new library"
)


class StorageError(ReplicaError):
    """Base class of storage failures; the transaction in flight was rolled back."""


class DatabaseLocked(StorageError):
    """Another process holds the replica's write lock longer than the busy timeout."""


class DiskFull(StorageError):
    """The disk is full; the write was not saved and the replica is unchanged."""


class CorruptReplica(StorageError):
    """The file is not a replica database or is damaged."""


class NewerSchema(StorageError):
    """The file was written by a newer version of the app; this one will not touch it."""


class NotAReplica(StorageError):
    """The file holds no replica (yet)."""
