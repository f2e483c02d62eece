"""Three-way merge of an edit made to a plain file: base, file, library.

The base is the version of the file the mirror last wrote or read; the file is what another
program saved since; the library is what the replica holds now (it may have moved on too:
an edit typed in the app, or one received from another device). Only what the file changed
against its base is an edit of the file; everything else the library holds stays. Pure
functions on values, no I/O: the mirror applies their result through the core's writes.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from typing import cast

from merge3 import Merge3

from .write import Value

_MISSING = object()
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
    character is tried, and what still overlaps keeps both versions (the library's, then the
    file's), as concurrent typing in the text CRDT would: nothing is dropped.
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
            out.append(_merge_chars("".join(base[z1:z2]), "".join(file[b1:b2]), "".join(library[a1:a2])))
    return out


def _merge_chars(base: str, file: str, library: str) -> str:
    """One conflicting region, merged by character; overlaps keep the library's then the file's."""
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
            _, _z1, _z2, a1, a2, b1, b2 = cast(_Conflict, region)
            out.append(library[a1:a2] + file[b1:b2])
    return "".join(out)


def closest(bases: Sequence[str], text: str) -> int:
    """Which base ``text`` was most likely edited from: the one with the fewest lines differing
    (the newest on a tie). An editor saving an old buffer edited an older base, and its
    reverts of what came since are then not mistaken for edits."""
    if len(bases) <= 1:
        return 0
    lines = Counter(text.splitlines())
    best, best_score = 0, -1
    for i, base in enumerate(bases):
        other = Counter(base.splitlines())
        score = sum(((lines - other) + (other - lines)).values())
        if best_score < 0 or score < best_score:
            best, best_score = i, score
    return best
