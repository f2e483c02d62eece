"""Writes of revoked devices: refused by commit order, as Bayou decides every conflict.

A revoked device never learns of its revocation while cut off, so its later writes are
concurrent with it and no stamp rule can tell them apart. The commit order decides: the primary
commits a write whose origin the committed log has already revoked as ``REJECTED``, and every
replica that holds the committed revocation gives such writes no effect on arrival. They still
enter the log (so logs and vectors stay identical everywhere); only their effects are left out:
their field writes are not applied, their ops are not executed, and their text edits are woven
into the text as invisible characters (``void_ops``) so later edits that saw them still find
their neighbours.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping

from .crdtmap import Doc, Version
from .errors import InvalidWrite, WriteFormatError
from .log import apply_puts
from .text import Delete, Insert, TextDoc, TextFormatError, TextOps, decode_ops, encode_ops
from .textfields import TextKey, apply_remote
from .write import Ordered, Put, TextEdit, Write

#: The outcome of a write committed as rejected: its origin was revoked before its commit.
REJECTED = -2

#: The text agent whose deletes hide a rejected write's characters. Device ids are hashes (or,
#: in tests, plain names), never this.
VOID_AGENT = "~rejected"
_PLACEHOLDER = "\ufffd"
_REVOKED = "revoked"


class Revocations:
    """The committed revocations: for each device a committed write added, the versions of its
    ``revoked`` register that committed (and accepted) writes left, as in its document.

    Revocation is sticky (``Replica.members``): a device is revoked while any of those versions
    is ``True``. Advanced only in commit order, so every replica derives the same one.
    """

    __slots__ = ("_versions",)

    def __init__(self, versions: Mapping[str, list[Version]] | None = None) -> None:
        self._versions: dict[str, list[Version]] = {k: list(v) for k, v in (versions or {}).items()}

    @classmethod
    def from_docs(cls, docs: Iterable[tuple[str, Doc]]) -> Revocations:
        """The revocations in committed documents (a snapshot's)."""
        return cls({key: list(doc.versions(_REVOKED)) for key, doc in docs if doc.kind == "device"})

    def copy(self) -> Revocations:
        return Revocations(self._versions)

    def is_revoked(self, device: str) -> bool:
        return any(v[2] is True for v in self._versions.get(device, ()))

    def revoked(self) -> frozenset[str]:
        """Every device whose revocation is committed."""
        return frozenset(d for d in self._versions if self.is_revoked(d))

    def commit(self, write: Write) -> bool:
        """Advance past a committed write; True if it is rejected (its origin was revoked)."""
        if self.is_revoked(write.id.origin):
            return True
        for op in write.ops:
            if type(op) is Put and op.kind == "device":
                self._learn(write, op)
        return False

    def _learn(self, write: Write, op: Put) -> None:
        versions = self._versions.setdefault(op.entity, [])
        seen = {(w.stamp, w.origin) for w in op.seen.get(_REVOKED, ())}
        if seen:
            versions[:] = [v for v in versions if (v[0], v[1]) not in seen]
        if _REVOKED in op.fields:
            stamp, origin = write.id
            if not any(v[0] == stamp and v[1] == origin for v in versions):
                versions.append((stamp, origin, op.fields[_REVOKED]))


def void_edit(doc: TextDoc, op: TextEdit) -> bytes:
    """Weave a rejected text edit into ``doc`` with no visible effect (``void_ops``); returns
    the ops applied, encoded, to be saved as the text's next op batch."""
    try:
        ops = void_ops(doc, op.ops)
    except TextFormatError as exc:
        raise WriteFormatError(f"text edit of {op.entity}.{op.field}: {exc}") from None
    except (ValueError, IndexError) as exc:
        raise InvalidWrite(f"bad text edit of {op.entity}.{op.field}: {exc}") from None
    if doc.pending():
        raise InvalidWrite(f"text edit of {op.entity}.{op.field} refers to text never sent")
    return encode_ops(ops)


def void_ops(doc: TextDoc, data: bytes) -> TextOps:
    """A rejected text edit as ops that change nothing visible: its inserts become characters
    deleted at once, its deletes placeholder characters deleted at once (they take the sequence
    numbers the device's later ops count on). Applied to ``doc`` as they are made; returned to
    be saved, so replaying them on the same state rebuilds the same document."""
    out = TextOps()
    for op in decode_ops(data):
        have = doc.version().get(op[0], 0)
        if isinstance(op, Insert):
            agent, seq, left, right, text = op
            n = len(text)
        else:
            agent, seq, n = op.agent, op.seq, op.length
            left = right = None
            text = _PLACEHOLDER * n
        if seq + n <= have or n <= 0:
            continue  # woven in already
        doc.apply([Insert(agent, seq, left, right, text)])
        start = max(seq, have)
        hide = Delete(VOID_AGENT, doc.version().get(VOID_AGENT, 0), agent, start, seq + n - start)
        doc.apply([hide])
        out.extend([Insert(agent, seq, left, right, text), hide])
    return out


def replay(
    write: Write,
    void: bool,
    docs: dict[str, Doc],
    texts: dict[TextKey, TextDoc],
    *,
    entities: Collection[str] | None = None,
    agent: str | None = None,
) -> None:
    """Apply a logged write again to documents and texts being rebuilt (a fold, a rollback).

    Only ops naming ``entities`` (all when None) are applied; a text not in ``texts`` is opened
    empty as ``agent``, or skipped when ``agent`` is None. A ``void`` write has no effect.
    """
    ops = tuple(
        op for op in write.ops if not isinstance(op, Ordered) and (entities is None or op.entity in entities)
    )
    if not ops:
        return
    apply_puts(docs, [Write(write.id, ops)], (write.id,) if void else ())
    for op in ops:
        if not isinstance(op, TextEdit):
            continue
        key = (op.entity, op.field)
        text = texts.get(key)
        if text is None:
            if agent is None:
                continue
            text = texts[key] = TextDoc(agent)
        weave(text, op, void)


def weave(doc: TextDoc, op: TextEdit, void: bool) -> bytes:
    """Apply a text edit (``void``: with no visible effect); returns the op batch to save."""
    if void:
        return void_edit(doc, op)
    apply_remote(doc, op)
    return op.ops
