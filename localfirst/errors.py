"""Typed errors of the replica core: every bad input is refused with one, before anything is applied."""


class ReplicaError(Exception):
    """Base class of every error the replica raises on purpose."""


class WriteFormatError(ReplicaError, ValueError):
    """An encoded write, batch or snapshot is malformed or of an unknown format version."""


class InvalidWrite(ReplicaError, ValueError):
    """A write is well formed but breaks a rule: unknown kind or field, wrong value type, bad parameters."""


class UnknownProcedure(InvalidWrite):
    """A write names a merge procedure this build does not have (never run code received from a peer)."""


class UnknownOrigin(InvalidWrite):
    """A write comes from a device that is not a member of the library."""


class CausalityError(InvalidWrite):
    """A write arrived before a write it depends on (it names a version this replica has not seen)."""


class CsnGap(InvalidWrite):
    """Commit notices skip a commit sequence number; the committed prefix must have no holes."""


class NotPrimary(ReplicaError):
    """Only the primary device may commit writes."""


class UnknownEntity(ReplicaError, KeyError):
    """The entity does not exist (or is deleted) in this replica."""
