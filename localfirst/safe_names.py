"""File names from untrusted titles (a note title may come from any synced device).

A name made here is always one plain path component that every common file system accepts:
no separators, no NUL or control characters, never ``.`` or ``..`` or a hidden name, no
characters Windows refuses, no name Windows reserves (``CON``, ``COM1``...), no trailing dot
or space, and at most ``MAX_NAME_BYTES`` bytes of UTF-8. ``assign_names`` gives entities
distinct names (case-insensitively) and keeps each entity's previous name while it still fits,
so a file does not move when another entity with the same title appears.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping

#: Longest stem (the name before its extension), in UTF-8 bytes; leaves room for a suffix.
MAX_STEM_BYTES = 120
#: Longest file name we ever create (most file systems allow 255 bytes).
MAX_NAME_BYTES = 200
#: The stem used when a title leaves nothing usable.
FALLBACK_STEM = "untitled"

_RESERVED = {
    "CON",
    "PRN",
    "AUX",
    "NUL",
    "CLOCK$",
    "CONIN$",
    "CONOUT$",
    *(f"COM{i}" for i in "123456789¹²³"),
    *(f"LPT{i}" for i in "123456789¹²³"),
}
# Separators, characters Windows refuses in names, and every control character.
_BAD = re.compile(r'[\x00-\x1f\x7f-\x9f/\\<>:"|?*]')
_SPACES = re.compile(r"\s+")
_SUFFIX = re.compile(r" \([0-9A-Za-z]{1,16}\)$")


def _cap(text: str, limit: int) -> str:
    """The longest prefix of ``text`` whose UTF-8 form fits in ``limit`` bytes."""
    data = text.encode("utf-8")
    if len(data) <= limit:
        return text
    return data[:limit].decode("utf-8", errors="ignore")


def _trim(stem: str) -> str:
    # Leading dots would hide the file (and ``..`` is the parent); trailing dots and spaces
    # are silently dropped by Windows, so two names could meet there.
    return stem.lstrip(". ").rstrip(". ")


def is_reserved(stem: str) -> bool:
    """Whether Windows reserves this name (with any extension: ``nul.txt`` is ``NUL``)."""
    base = stem.split(".", 1)[0].rstrip(" ").upper()
    return base in _RESERVED


def safe_stem(title: str, *, limit: int = MAX_STEM_BYTES) -> str:
    """A file name stem for a title: always non-empty, one plain, portable path component."""
    text = unicodedata.normalize("NFC", title)
    text = _BAD.sub("_", text)
    text = _SPACES.sub(" ", text).strip()
    text = _trim(_cap(_trim(text), limit))
    if not text:
        return FALLBACK_STEM
    if is_reserved(text):
        text = "_" + text
    return text


def is_safe_name(name: str) -> bool:
    """Whether ``name`` is a plain file name of the kind this module makes (checked before use)."""
    return (
        bool(name)
        and name == _trim(name)
        and not _BAD.search(name)
        and not is_reserved(name)
        and len(name.encode("utf-8")) <= MAX_NAME_BYTES
        and name == unicodedata.normalize("NFC", name)
    )


def _key(name: str) -> str:
    """Names that collide on a case-insensitive file system (Windows, macOS) share a key."""
    return unicodedata.normalize("NFC", name).casefold()


def assign_names(
    items: Iterable[tuple[str, str]],
    extension: str,
    previous: Mapping[str, str] | None = None,
    taken: Iterable[str] = (),
) -> dict[str, str]:
    """Distinct file names for (entity id, title) pairs, e.g. ``{"id1": "Groceries.md"}``.

    An entity keeps its ``previous`` name while that name still derives from its title; the
    others get ``<title><extension>`` if free, else ``<title> (<id prefix>)<extension>``.
    Names in ``taken`` (other files, case-insensitively) are never given out. The result
    depends only on the arguments, so it is stable from one run to the next.
    """
    if not re.fullmatch(r"\.[A-Za-z0-9]{1,8}", extension):
        raise ValueError(f"bad extension {extension!r}")
    previous = previous or {}
    used = {_key(n) for n in taken}
    pending = sorted(items)
    out: dict[str, str] = {}
    stems = {entity: safe_stem(title) for entity, title in pending}
    # First, entities whose previous name still fits their title keep it.
    for entity, _ in pending:
        old = previous.get(entity)
        if old is None or not is_safe_name(old) or not old.endswith(extension):
            continue
        old_stem = old[: -len(extension)]
        if (old_stem == stems[entity] or _SUFFIX.sub("", old_stem) == stems[entity]) and (
            _key(old) not in used
        ):
            out[entity] = old
            used.add(_key(old))
    for entity, _ in pending:
        if entity in out:
            continue
        stem = stems[entity]
        tag = re.sub(r"[^0-9A-Za-z]", "", entity)[:8] or "x"
        candidates = [f"{stem}{extension}", f"{stem} ({tag}){extension}"]
        candidates += [f"{stem} ({tag}{n}){extension}" for n in range(2, 10_000)]
        for name in candidates:
            if _key(name) not in used:
                out[entity] = name
                used.add(_key(name))
                break
        else:  # pragma: no cover -- ten thousand entities with one title and one id prefix
            raise ValueError(f"no free file name for {stem!r}")
    return out
