"""Pure helpers binding an editor's text to the text CRDT: local edits from Qt's change hints,
remote changes as small edits (so cursors outside them stay on their characters), and UTF-16
offsets (Qt counts UTF-16 code units, Python counts code points). No Qt here; the one text diff
is the core's ``localfirst.textfields.diff_edit`` (in code points, like the CRDT)."""

from __future__ import annotations

import difflib

from localfirst.textfields import diff_edit

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
        inner = diff_edit(old[pos : pos + removed], new[pos : pos + added])
        return None if inner is None else (pos + inner[0], inner[1], inner[2])
    return diff_edit(old, new)


def remote_edits(old: str, new: str) -> list[Edit]:
    """Small edits turning ``old`` into ``new``, last first (apply them in the order given).

    The changed span is refined character by character when small enough, so a cursor
    between two remote changes stays where it was instead of being swept to the span's start.
    """
    span = diff_edit(old, new)
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
