"""Entity documents as CRDT maps: one multi-value register per field.

Concurrent writes to one field are all kept as *siblings* (as in Dynamo's vector-clock
reconciliation); the winner shown is the sibling with the highest write id, the others stay
visible until a write that saw them supersedes them. A delete is a put of ``_deleted`` that
supersedes every version it saw, so whatever survives it was written concurrently and is
surfaced, never dropped. Applying a put is commutative and idempotent given causal delivery,
which the Bayou log guarantees (a write never arrives before one it saw).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import msgpack

from .errors import WriteFormatError
from .write import Put, Value, WriteId

DELETED = "_deleted"

#: One version of a field: (stamp, origin, value), kept sorted newest first.
Version = tuple[int, str, Value]


@dataclass(slots=True)
class Doc:
    """The replicated state of one entity: its kind and the sibling versions of each field."""

    kind: str
    fields: dict[str, list[Version]] = field(default_factory=dict)

    def apply(self, wid: WriteId, put: Put) -> None:
        """Supersede what the writer saw, then add its versions (skipping ones already held)."""
        fields = self.fields
        for name, seen in put.seen.items():
            versions = fields.get(name)
            if not versions:
                continue
            if len(versions) == 1 and len(seen) == 1:
                # The usual edit: it saw the one version there was.
                if versions[0][0] == seen[0][0] and versions[0][1] == seen[0][1]:
                    del fields[name]
                continue
            gone = set(seen)
            kept = [v for v in versions if (v[0], v[1]) not in gone]
            if kept:
                fields[name] = kept
            else:
                del fields[name]
        stamp, origin = wid
        for name, value in put.fields.items():
            versions = fields.get(name)
            if not versions:
                fields[name] = [(stamp, origin, value)]
                continue
            if any(v[0] == stamp and v[1] == origin for v in versions):
                continue
            versions.append((stamp, origin, value))
            versions.sort(key=_version_id, reverse=True)

    def value(self, name: str, default: Value = None) -> Value:
        """The winning value of a field (the sibling with the highest write id)."""
        versions = self.fields.get(name)
        return versions[0][2] if versions else default

    def versions(self, name: str) -> list[Version]:
        return list(self.fields.get(name, ()))

    def seen(self, names: Iterable[str]) -> dict[str, tuple[WriteId, ...]]:
        """The versions a local write to these fields supersedes: all it can see now."""
        out: dict[str, tuple[WriteId, ...]] = {}
        for name in names:
            versions = self.fields.get(name)
            if versions:
                out[name] = tuple(WriteId(s, o) for s, o, _ in versions)
        return out

    @property
    def deleted(self) -> bool:
        """Deleted when a surviving delete is newer than every surviving field version."""
        tomb = self.fields.get(DELETED)
        if not tomb:
            return False
        newest_tomb = (tomb[0][0], tomb[0][1])
        return all((vs[0][0], vs[0][1]) < newest_tomb for name, vs in self.fields.items() if name != DELETED)

    @property
    def exists(self) -> bool:
        return bool(self.fields) and not self.deleted

    def values(self) -> dict[str, Value]:
        """The winners of every live field."""
        return {name: vs[0][2] for name, vs in self.fields.items() if name != DELETED}

    @property
    def conflicted(self) -> bool:
        """Whether ``conflicts()`` is non-empty (asked of every saved document: stops at the first)."""
        return next(self._conflicting(), None) is not None

    def conflicts(self) -> list[str]:
        """Fields whose siblings disagree; ``_deleted`` when a delete and a concurrent edit both
        survive. Siblings holding one value (two devices wrote the same) ask nothing of the user."""
        return sorted(self._conflicting())

    def _conflicting(self) -> Iterator[str]:
        fields = self.fields
        for name, vs in fields.items():
            if name != DELETED and len(vs) > 1 and any(v[2] != vs[0][2] for v in vs[1:]):
                yield name
        if DELETED in fields and len(fields) > 1:
            yield DELETED

    def copy(self) -> Doc:
        return Doc(self.kind, {n: list(vs) for n, vs in self.fields.items()})


def _version_id(version: Version) -> tuple[int, str]:
    return (version[0], version[1])


def encode_doc(doc: Doc) -> bytes:
    data: bytes = msgpack.packb((doc.kind, doc.fields))  # tuples pack as arrays, as lists do
    return data


def decode_doc(data: bytes) -> Doc:
    try:
        kind, fields = msgpack.unpackb(data, raw=False)
        return Doc(kind, {n: [(v[0], v[1], v[2]) for v in vs] for n, vs in fields.items()})
    except Exception as exc:
        raise WriteFormatError(f"corrupt entity document: {exc}") from None


def doc_from_wire(raw: Any) -> Doc:
    """A document as carried inside a snapshot (already msgpack-decoded)."""
    if not isinstance(raw, list) or len(raw) != 2 or not isinstance(raw[1], dict):
        raise WriteFormatError("corrupt entity document in snapshot")
    try:
        return Doc(raw[0], {n: [(v[0], v[1], v[2]) for v in vs] for n, vs in raw[1].items()})
    except (TypeError, IndexError, AttributeError) as exc:
        raise WriteFormatError(f"corrupt entity document in snapshot: {exc}") from None


def doc_to_wire(doc: Doc) -> list[Any]:
    return [doc.kind, {n: [list(v) for v in vs] for n, vs in doc.fields.items()}]
