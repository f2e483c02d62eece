"""Text fields (note bodies) inside the replica: open text CRDTs kept in memory, loaded from a
saved state plus the op batches appended since it, so opening a note never replays history."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import Protocol

from .errors import InvalidWrite, WriteFormatError
from .text import TextDoc, TextFormatError, decode_ops
from .write import TextEdit

#: (entity id, field name) of a text field.
TextKey = tuple[str, str]

#: A fresh state is saved instead of appending once the op batches since the saved state weigh
#: as much as it: a note's ops then never take more room than its state, and encoding a state
#: (the cost, proportional to its size) is paid once per as many op bytes as it holds, so
#: typing costs the same per keystroke in a short note and a long one.
#: Below this weight a small note's ops are left alone (a state of a few bytes would be
#: re-encoded every keystroke for no room saved).
COMPACT_MIN_BYTES = 4096
#: Whatever the weight, at most this many batches stay unsaved (each is replayed on opening).
COMPACT_AFTER = 256
#: What a stored op batch costs beside its bytes (its row's key, sequence number, index entry).
BATCH_OVERHEAD = 48
#: How many open texts stay in memory (the notes a user has open, and recent ones).
CACHE_SIZE = 64


class TextSource(Protocol):
    def load_texts(self, keys: Collection[TextKey]) -> dict[TextKey, tuple[bytes | None, list[bytes]]]: ...


def diff_edit(old: str, new: str) -> tuple[int, int, str] | None:
    """The one edit turning ``old`` into ``new`` that keeps their common prefix and suffix,
    so a whole-text replacement (an import, an external editor, an editor's change) merges
    like typing. Positions count code points; the prefix and suffix are found by bisection
    over slice comparisons, so a long text costs C-speed compares, not a Python loop."""
    if old == new:
        return None
    start = _common_prefix(old, new)
    end = _common_suffix(old, new, start)
    return start, len(old) - start - end, new[start : len(new) - end]


def _common_prefix(a: str, b: str) -> int:
    lo, hi = 0, min(len(a), len(b))
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if a[lo:mid] == b[lo:mid]:
            lo = mid
        else:
            hi = mid - 1
    return lo


def _common_suffix(a: str, b: str, limit: int) -> int:
    """Length of the common suffix, not reaching into the first ``limit`` characters."""
    lo, hi = 0, min(len(a), len(b)) - limit
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if a[len(a) - mid : len(a) - lo] == b[len(b) - mid : len(b) - lo]:
            lo = mid
        else:
            hi = mid - 1
    return lo


@dataclass(slots=True)
class OpenText:
    """A text CRDT in memory, the size of its saved state and what was appended since."""

    doc: TextDoc
    unsaved: int
    unsaved_bytes: int = 0
    state_bytes: int = 0

    def appended(self, batches: list[bytes]) -> bytes | None:
        """Count batches appended to the store; a fresh state to save instead when due."""
        self.unsaved += len(batches)
        self.unsaved_bytes += sum(map(len, batches)) + BATCH_OVERHEAD * len(batches)
        if self.unsaved < COMPACT_AFTER and self.unsaved_bytes < max(self.state_bytes, COMPACT_MIN_BYTES):
            return None
        state = self.doc.encode_state()
        self.unsaved = self.unsaved_bytes = 0
        self.state_bytes = len(state)
        return state


class TextCache:
    """The open text CRDTs of one replica, least recently used dropped first."""

    def __init__(self, agent: str, size: int = CACHE_SIZE) -> None:
        self.agent = agent
        self.size = size
        self._open: OrderedDict[TextKey, OpenText] = OrderedDict()

    def get(self, source: TextSource, key: TextKey) -> OpenText:
        return self.get_many(source, [key])[key]

    def get_many(self, source: TextSource, keys: Collection[TextKey]) -> dict[TextKey, OpenText]:
        """The texts, loading those not open in one call to the store."""
        out = {k: self._open[k] for k in keys if k in self._open}
        missing = [k for k in keys if k not in out]
        saved = source.load_texts(missing) if missing else {}
        for key in missing:
            state, batches = saved.get(key, (None, []))
            doc = TextDoc.decode_state(state, self.agent) if state else TextDoc(self.agent)
            for batch in batches:
                doc.apply(decode_ops(batch))
            weight = sum(map(len, batches)) + BATCH_OVERHEAD * len(batches)
            out[key] = self._open[key] = OpenText(doc, len(batches), weight, len(state) if state else 0)
        for key in out:
            self._open.move_to_end(key)
        while len(self._open) > self.size:
            self._open.popitem(last=False)
        return out

    def peek(self, key: TextKey) -> OpenText | None:
        return self._open.get(key)

    def forget(self, keys: Iterable[TextKey]) -> None:
        for key in keys:
            self._open.pop(key, None)

    def clear(self) -> None:
        self._open.clear()


def apply_remote(doc: TextDoc, op: TextEdit) -> None:
    """Integrate a peer's text ops; ops naming characters nobody sent are refused."""
    try:
        ops = decode_ops(op.ops)
    except TextFormatError as exc:
        raise WriteFormatError(f"text edit of {op.entity}.{op.field}: {exc}") from None
    try:
        doc.apply(ops)
    except (ValueError, IndexError) as exc:
        raise InvalidWrite(f"bad text edit of {op.entity}.{op.field}: {exc}") from None
    if doc.pending():
        raise InvalidWrite(f"text edit of {op.entity}.{op.field} refers to text never sent")
