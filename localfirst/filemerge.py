"""Three-way merge of an edit made to a plain file: base, file, library.

The base is the version of the file the mirror last wrote or read; the file is what another
program saved since; the library is what the replica holds now (it may have moved on too:
an edit typed in the app, or one received from another device). Only what the file changed
against its base is an edit of the file; everything else the library holds stays. Pure
functions on values, no I/O: the mirror applies their result through the core's writes.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from difflib import SequenceMatcher
from typing import cast

from merge3 import Merge3

from .write import Value

_MISSING = object()
#: Replaced runs up to this many characters are compared character by character.
_FINE_LIMIT = 4096
#: merge3's conflict region: base, library and file ranges.
_Conflict = tuple[str, int, int, int, int, int, int]


def changed_fields(
    base: Mapping[str, Value], file: Mapping[str, Value], skip: Collection[str] = ()
) -> dict[str, Value]:
    """The fields ``file`` states with a value other than ``base``'s (``skip`` left out)."""
    return {k: v for k, v in file.items() if k not in skip and base.get(k, _MISSING) != v}


def merge_set(base: Sequence[Value], file: Sequence[Value], library: Sequence[Value]) -> list[Value]:
    """A set field (tags, reminders): the library's elements, less those the file removed from
    its base, plus those the file added (in the library's order, then the file's)."""
    removed = [e for e in base if e not in file]
    out = [e for e in library if e not in removed]
    out += [e for e in file if e not in base and e not in out]
    return out


def merge_text(base: str, file: str, library: str) -> str:
    """The library's text with the file's changes since ``base`` applied.

    Changes to different lines both land; where both changed the same lines, a finer merge by
    character is tried, and if that overlaps too both versions of the lines are kept (the
    library's, then the file's), as concurrent typing in the text CRDT would: nothing is dropped.
    """
    if file in (base, library):
        return library
    if library == base:
        return file
    merged = _merge(base.splitlines(keepends=True), file.splitlines(keepends=True), library.splitlines(True))
    return "".join(merged)


def _merge(base: Sequence[str], file: Sequence[str], library: Sequence[str]) -> list[str]:
    out: list[str] = []
    for region in Merge3(base, library, file).merge_regions():
        what = region[0]
        if what == "unchanged":
            out.extend(base[region[1] : region[2]])
        elif what in ("a", "same"):
            out.extend(library[region[1] : region[2]])
        elif what == "b":
            out.extend(file[region[1] : region[2]])
        else:
            _, z1, z2, a1, a2, b1, b2 = cast(_Conflict, region)
            mine, theirs = "".join(library[a1:a2]), "".join(file[b1:b2])
            fine = _merge_chars("".join(base[z1:z2]), theirs, mine)
            if fine is not None:
                out.append(fine)
            else:  # both changed the same characters: keep both versions of the lines
                out.append(mine if not mine or mine.endswith("\n") else mine + "\n")
                out.append(theirs)
    return out


def _merge_chars(base: str, file: str, library: str) -> str | None:
    """One conflicting run of lines merged by character, or None if both sides changed the
    same characters (then both versions are kept whole)."""
    out: list[str] = []
    for region in Merge3(base, library, file).merge_regions():
        what = region[0]
        if what == "unchanged":
            out.append(base[region[1] : region[2]])
        elif what in ("a", "same"):
            out.append(library[region[1] : region[2]])
        elif what == "b":
            out.append(file[region[1] : region[2]])
        else:
            return None
    return "".join(out)


def closest(bases: Sequence[str], text: str) -> int:
    """Which base ``text`` was most likely edited from: the one it takes the fewest characters
    of change to reach (the newest on a tie). An editor saving an old buffer edited an older
    base, and its reverts of what came since are then not mistaken for edits of its own."""
    if len(bases) <= 1:
        return 0
    best, best_cost = 0, -1
    for i, base in enumerate(bases):
        cost = edit_cost(base, text)
        if best_cost < 0 or cost < best_cost:
            best, best_cost = i, cost
    return best


def edit_cost(old: str, new: str) -> int:
    """About how many characters an edit from ``old`` to ``new`` inserts and deletes: lines are
    matched first, then the characters of each replaced run of lines (a long run counts whole)."""
    a, b = old.splitlines(keepends=True), new.splitlines(keepends=True)
    cost = 0
    for tag, i1, i2, j1, j2 in SequenceMatcher(None, a, b).get_opcodes():
        if tag == "equal":
            continue
        x, y = "".join(a[i1:i2]), "".join(b[j1:j2])
        if tag == "replace" and len(x) + len(y) <= _FINE_LIMIT:
            kept = sum(
                block.size for block in SequenceMatcher(None, x, y, autojunk=False).get_matching_blocks()
            )
            cost += len(x) + len(y) - 2 * kept
        else:
            cost += len(x) + len(y)
    return cost
