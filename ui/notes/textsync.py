"""Pure helpers binding an editor's text to the text CRDT: local edits from Qt's change hints,
remote changes as small edits (so cursors outside them stay on their characters), and UTF-16
offsets (Qt counts UTF-16 code units, Python counts code points). No Qt here."""

from __future__ import annotations

import difflib

#: (position, deleted count, inserted text), positions in code points.
Edit = tuple[int, int, str]

#: A changed region up to this many characters (both sides) is refined character by character.
REFINE_LIMIT = 20_000


def has_astral(text: str) -> bool:
    """Whether some character takes two UTF-16 code units (Qt positions then differ from ours)."""
    return not text.isascii() and len(text.encode("utf-16-le")) != 2 * len(text)


def utf16_offset(text: str, pos: int) -> int:
    """The UTF-16 offset of code point ``pos`` in ``text``."""
    if not has_astral(text):
        return pos
    return len(text[:pos].encode("utf-16-le")) // 2


def _common_prefix(a: str, b: str) -> int:
    """Length of the common prefix, by bisection over C-speed slice comparisons."""
    lo, hi = 0, min(len(a), len(b))
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if a[lo:mid] == b[lo:mid]:
            lo = mid
        else:
            hi = mid - 1
    return lo


def _common_suffix(a: str, b: str, limit: int) -> int:
    lo, hi = 0, min(len(a), len(b)) - limit
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if a[len(a) - mid : len(a) - lo] == b[len(b) - mid : len(b) - lo]:
            lo = mid
        else:
            hi = mid - 1
    return lo


def span_diff(old: str, new: str) -> Edit | None:
    """The one edit turning ``old`` into ``new`` that keeps their common prefix and suffix."""
    if old == new:
        return None
    start = _common_prefix(old, new)
    end = _common_suffix(old, new, start)
    return start, len(old) - start - end, new[start : len(new) - end]


def local_edit(old: str, new: str, pos: int, removed: int, added: int) -> Edit | None:
    """The edit a Qt ``contentsChange(pos, removed, added)`` made to ``old`` giving ``new``.

    Qt's hint may cover more than changed (a re-format reports the block as removed and
    re-added) or, with astral characters, be in other units: the hint is trimmed to what
    changed and checked, else the edit is found by comparing the texts.
    """
    if (
        len(new) - len(old) == added - removed
        and pos + removed <= len(old)
        and new[:pos] == old[:pos]
        and new[pos + added :] == old[pos + removed :]
    ):
        before, after = old[pos : pos + removed], new[pos : pos + added]
        if before == after:
            return None
        head = _common_prefix(before, after)
        tail = _common_suffix(before, after, head)
        return pos + head, removed - head - tail, after[head : len(after) - tail]
    return span_diff(old, new)


def remote_edits(old: str, new: str) -> list[Edit]:
    """Small edits turning ``old`` into ``new``, last first (apply them in the order given).

    The changed span is refined character by character when small enough, so a cursor
    between two remote changes stays where it was instead of being swept to the span's start.
    """
    span = span_diff(old, new)
    if span is None:
        return []
    start, deleted, inserted = span
    before = old[start : start + deleted]
    if deleted + len(inserted) > REFINE_LIMIT or not before or not inserted:
        return [span]
    matcher = difflib.SequenceMatcher(None, before, inserted, autojunk=False)
    edits = [
        (start + i1, i2 - i1, inserted[j1:j2])
        for tag, i1, i2, j1, j2 in matcher.get_opcodes()
        if tag != "equal"
    ]
    return edits[::-1]


def apply_edits(text: str, edits: list[Edit]) -> str:
    """Apply edits each found in the text as the previous ones left it."""
    for pos, deleted, inserted in edits:
        text = text[:pos] + inserted + text[pos + deleted :]
    return text
