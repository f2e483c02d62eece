"""The pure core of the local-first calendar and notes app: clocks, version vectors, writes,
the Bayou log rules, CRDT maps and the domain model. No I/O, no Qt, no SQL, no sockets."""

from .booking import BOOK, CONFLICT, RELEASE, SET_PRIMARY, BookingState, Notice, Slot
from .clock import Clock, ManualClock, SystemClock, next_stamp
from .crdtmap import DELETED, Doc
from .errors import (
    CausalityError,
    CsnGap,
    InvalidWrite,
    NotPrimary,
    ReplicaError,
    UnknownEntity,
    UnknownOrigin,
    UnknownProcedure,
    WriteFormatError,
)
from .records import (
    Batch,
    CommitEntry,
    Snapshot,
    Summary,
    decode_batch,
    decode_snapshot,
    decode_summary,
    encode_batch,
    encode_snapshot,
    encode_summary,
)
from .replica import Booking, Changes, LogEntry, Replica, new_id
from .store import Header, MemoryStore, Store
from .text import TextDoc, TextFormatError
from .vector import VersionVector
from .write import Ordered, Put, TextEdit, Write, WriteId, decode_write, encode_write

__version__ = "0.1.0"

__all__ = [
    "BOOK",
    "CONFLICT",
    "DELETED",
    "RELEASE",
    "SET_PRIMARY",
    "Batch",
    "Booking",
    "BookingState",
    "CausalityError",
    "Changes",
    "Clock",
    "CommitEntry",
    "CsnGap",
    "Doc",
    "Header",
    "InvalidWrite",
    "LogEntry",
    "ManualClock",
    "MemoryStore",
    "NotPrimary",
    "Notice",
    "Ordered",
    "Put",
    "Replica",
    "ReplicaError",
    "Slot",
    "Snapshot",
    "Store",
    "Summary",
    "SystemClock",
    "TextDoc",
    "TextEdit",
    "TextFormatError",
    "UnknownEntity",
    "UnknownOrigin",
    "UnknownProcedure",
    "VersionVector",
    "Write",
    "WriteFormatError",
    "WriteId",
    "__version__",
    "decode_batch",
    "decode_snapshot",
    "decode_summary",
    "decode_write",
    "encode_batch",
    "encode_snapshot",
    "encode_summary",
    "encode_write",
    "new_id",
    "next_stamp",
]
