"""Entity documents as CRDT maps: a multi-value register or an add-wins set per field.

Concurrent writes to one register are all kept as *siblings* (as in Dynamo's vector-clock
reconciliation); the winner shown is the sibling with the highest write id, the others stay
visible until a write that saw them supersedes them. A set field (tags, reminders) is an
observed-remove set: each element added is tagged with the adding write, a removal drops only the
tags its writer saw, so concurrent additions all survive and nothing conflicts. A text edit is
recorded too (``_edited``), so it takes part in the document's causality like a field write.

A delete is a put of ``_deleted`` that supersedes every version it saw, so whatever survives it
was written concurrently and is surfaced, never dropped; a later write that saw the delete
supersedes it in turn. Applying a put is commutative and idempotent given causal delivery,
which the Bayou log guarantees (a write never arrives before one it saw).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import msgpack
import msgspec

from .errors import WriteFormatError
from .write import Put, Value, WriteId

DELETED = "_deleted"
#: Hidden field recording the text edits of an entity (one version per edit not yet seen by a
#: later write), so a delete that did not see an edit is concurrent with it like any field.
EDITED = "_edited"
#: Fields that are sets (add-wins observed-remove sets), by entity kind. Each version of such a
#: field is one *instance* ``(stamp, origin, element)``: the element as added by that write.
#: ``None`` is the field's own presence, added by every write naming the field, so a set written
#: empty reads ``[]`` rather than absent.
SET_FIELDS: dict[str, frozenset[str]] = {
    "note": frozenset({"tags", "extra"}),
    "event": frozenset({"reminders", "exdates", "rdates", "extra"}),
    "calendar": frozenset({"extra"}),
}
_NO_SETS: frozenset[str] = frozenset()
_NOTHING: frozenset[WriteId] = frozenset()

#: One version of a field: (stamp, origin, value); registers keep them newest first, sets
#: oldest first (so a set reads in the order its elements were added).
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
        sets = SET_FIELDS.get(self.kind, _NO_SETS)
        if put.removed:
            self._remove(put.removed)
        stamp, origin = wid
        for name, value in put.fields.items():
            if name in sets:
                self._add(name, stamp, origin, value)
                continue
            versions = fields.get(name)
            if not versions:
                fields[name] = [(stamp, origin, value)]
                continue
            if any(v[0] == stamp and v[1] == origin for v in versions):
                continue
            versions.append((stamp, origin, value))
            versions.sort(key=_version_id, reverse=True)

    def _remove(self, removed: Mapping[str, Iterable[Version]]) -> None:
        """Drop exactly the set instances a writer saw and removed."""
        fields = self.fields
        for name, instances in removed.items():
            versions = fields.get(name)
            if not versions:
                continue
            gone = {(s, o, e) for s, o, e in instances}
            kept = [v for v in versions if v not in gone]
            if kept:
                fields[name] = kept
            else:
                del fields[name]

    def _add(self, name: str, stamp: int, origin: str, value: Value) -> None:
        """Add a write's elements to a set (an earlier build's whole new value adds all of it)."""
        versions = self.fields.setdefault(name, [])
        if any(v[0] == stamp and v[1] == origin for v in versions):
            return  # applied already
        added = [(stamp, origin, None)]
        for element in value if type(value) is list else ():
            if (stamp, origin, element) not in added:
                added.append((stamp, origin, element))
        versions.extend(added)
        versions.sort(key=_version_id)  # stable: one write's elements keep their order

    def apply_text(self, wid: WriteId, seen: Iterable[WriteId]) -> None:
        """Record a text edit: it supersedes the edits and deletes its writer saw, and every
        earlier edit of its own device (a device sees its own writes)."""
        fields = self.fields
        gone = set(seen) if seen else _NOTHING
        if gone and DELETED in fields:
            kept = [v for v in fields[DELETED] if (v[0], v[1]) not in gone]
            if kept:
                fields[DELETED] = kept
            else:
                del fields[DELETED]
        stamp, origin = wid
        edits = fields.get(EDITED)
        if not edits:
            fields[EDITED] = [(stamp, origin, True)]
            return
        if len(edits) == 1:  # the usual burst of typing: it saw the one edit recorded
            s, o, _ = edits[0]
            if o == origin or (s, o) in gone:
                if s != stamp or o != origin:
                    fields[EDITED] = [(stamp, origin, True)]
                return
        if any(v[0] == stamp and v[1] == origin for v in edits):
            return
        edits = [v for v in edits if v[1] != origin and (v[0], v[1]) not in gone]
        edits.append((stamp, origin, True))
        edits.sort(key=_version_id, reverse=True)
        fields[EDITED] = edits

    def value(self, name: str, default: Value = None) -> Value:
        """The winning value of a field (the sibling with the highest write id); a set's elements."""
        versions = self.fields.get(name)
        if not versions:
            return default
        if name in SET_FIELDS.get(self.kind, _NO_SETS):
            return _elements(versions)
        return versions[0][2]

    def versions(self, name: str) -> list[Version]:
        return list(self.fields.get(name, ()))

    def seen(self, names: Iterable[str]) -> dict[str, tuple[WriteId, ...]]:
        """The versions a local write to these fields supersedes: all it can see now."""
        out: dict[str, tuple[WriteId, ...]] = {}
        for name in names:
            versions = self.fields.get(name)
            if versions:
                out[name] = tuple(dict.fromkeys(WriteId(s, o) for s, o, _ in versions))
        return out

    def set_change(self, name: str, wanted: list[Value]) -> tuple[list[Value], tuple[Version, ...]] | None:
        """What setting a set field to ``wanted`` adds and removes against what is held here
        (None: nothing changes)."""
        versions = self.fields.get(name, [])
        want = list(dict.fromkeys(wanted))
        held = {v[2] for v in versions if v[2] is not None}
        adds = [e for e in want if e not in held]
        keep = set(want)
        removed = tuple(v for v in versions if v[2] is None or v[2] not in keep)
        if not adds and versions and held == keep:
            return None
        return adds, removed

    @property
    def deleted(self) -> bool:
        """Deleted when a surviving delete is newer than every surviving field version."""
        tomb = self.fields.get(DELETED)
        if not tomb:
            return False
        newest_tomb = (tomb[0][0], tomb[0][1])
        return all(
            max(_version_id(v) for v in vs) < newest_tomb
            for name, vs in self.fields.items()
            if name != DELETED
        )

    @property
    def exists(self) -> bool:
        return bool(self.fields) and not self.deleted

    def values(self) -> dict[str, Value]:
        """The winners of every live field (a set's elements)."""
        sets = SET_FIELDS.get(self.kind, _NO_SETS)
        return {
            name: _elements(vs) if name in sets else vs[0][2]
            for name, vs in self.fields.items()
            if name[0] != "_"
        }

    @property
    def conflicted(self) -> bool:
        """Whether ``conflicts()`` is non-empty (asked of every saved document: stops at the first)."""
        return next(self._conflicting(), None) is not None

    def conflicts(self) -> list[str]:
        """Fields whose siblings disagree; ``_deleted`` when a delete and a concurrent edit both
        survive. Siblings holding one value (two devices wrote the same) ask nothing of the user;
        sets and hidden fields never conflict (they merge)."""
        return sorted(self._conflicting())

    def _conflicting(self) -> Iterator[str]:
        fields = self.fields
        sets = SET_FIELDS.get(self.kind, _NO_SETS)
        for name, vs in fields.items():
            if len(vs) > 1 and name[0] != "_" and name not in sets and any(v[2] != vs[0][2] for v in vs[1:]):
                yield name
        if DELETED in fields and len(fields) > 1:
            yield DELETED

    def copy(self) -> Doc:
        return Doc(self.kind, {n: list(vs) for n, vs in self.fields.items()})


def _elements(versions: list[Version]) -> list[Value]:
    """A set's elements, each once, in the order they were first added."""
    return list(dict.fromkeys(v[2] for v in versions if v[2] is not None))


def _version_id(version: Version) -> tuple[int, str]:
    return (version[0], version[1])


def _upgraded(doc: Doc) -> Doc:
    """Earlier builds kept a set field as a register of whole lists: each version becomes the
    instances of its elements, so siblings' elements are united."""
    sets = SET_FIELDS.get(doc.kind)
    if sets:
        fields = doc.fields
        for name in sets & fields.keys():
            versions = fields[name]
            if any(type(v[2]) is list for v in versions):
                out: list[Version] = []
                for s, o, value in sorted(versions, key=_version_id):
                    if type(value) is list:
                        out.append((s, o, None))
                        out.extend((s, o, e) for e in dict.fromkeys(value))
                    else:
                        out.append((s, o, value))
                fields[name] = out
    return doc


#: Leads a compact document (msgpack never uses this byte, and a document of the first format
#: opens with a two-element array).
_COMPACT = b"\xc1"
_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder()


def encode_doc(doc: Doc) -> bytes:
    """A document as stored: the marker, then ``(kind, origins, base, {field: flat})`` where
    ``origins`` lists each writing device once, ``base`` is the stamp of the first version and
    ``flat`` holds each version as three items ``stamp - base, origin index, value``. A device
    id is 64 characters and every version once repeated it; fields are sorted and origins
    numbered in order of first use, so equal documents always encode to equal bytes."""
    fields = doc.fields
    origins: dict[str, int] = {}
    out: dict[str, list[Any]] = {}
    base: int | None = None
    for name in sorted(fields):
        flat: list[Any] = []
        for stamp, origin, value in fields[name]:
            if base is None:
                base = stamp
            index = origins.get(origin)
            if index is None:
                index = origins[origin] = len(origins)
            flat += (stamp - base, index, value)
        out[name] = flat
    return _COMPACT + _encoder.encode((doc.kind, list(origins), base or 0, out))


def decode_doc(data: bytes) -> Doc:
    try:
        if data[:1] != _COMPACT:
            return _decode_first(data)
        kind, origins, base, fields = _decoder.decode(memoryview(data)[1:])
        out: dict[str, list[Version]] = {}
        for name, flat in fields.items():
            if len(flat) == 3:  # the usual field: one version
                out[name] = [(base + flat[0], origins[flat[1]], flat[2])]
            else:
                items = iter(flat)
                out[name] = [(base + s, origins[o], v) for s, o, v in zip(items, items, items, strict=True)]
        return Doc(kind, out)
    except Exception as exc:
        raise WriteFormatError(f"corrupt entity document: {exc}") from None


def _decode_first(data: bytes) -> Doc:
    """A document as the first format stored it: ``(kind, {field: [[stamp, origin, value]]})``."""
    kind, fields = msgpack.unpackb(data, raw=False)
    return _upgraded(Doc(kind, {n: [(v[0], v[1], v[2]) for v in vs] for n, vs in fields.items()}))


def doc_from_wire(raw: Any) -> Doc:
    """A document as carried inside a snapshot (already msgpack-decoded)."""
    if not isinstance(raw, list) or len(raw) != 2 or not isinstance(raw[1], dict):
        raise WriteFormatError("corrupt entity document in snapshot")
    try:
        return _upgraded(Doc(raw[0], {n: [(v[0], v[1], v[2]) for v in vs] for n, vs in raw[1].items()}))
    except (TypeError, IndexError, AttributeError) as exc:
        raise WriteFormatError(f"corrupt entity document in snapshot: {exc}") from None


def doc_to_wire(doc: Doc) -> list[Any]:
    return [doc.kind, {n: [list(v) for v in vs] for n, vs in doc.fields.items()}]
