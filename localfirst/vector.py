"""Version vectors: for each origin, the highest accept stamp a replica holds from it."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from .write import WriteId


class VersionVector(Mapping[str, int]):
    """An immutable map origin -> highest stamp held; missing origins are 0.

    Because every replica receives each origin's writes in stamp order (the prefix property),
    ``covers(w)`` is exactly "this replica holds write w".
    """

    __slots__ = ("_entries",)

    def __init__(self, entries: Mapping[str, int] | None = None) -> None:
        self._entries = {o: s for o, s in (entries or {}).items() if s > 0}

    def __getitem__(self, origin: str) -> int:
        return self._entries.get(origin, 0)

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"VersionVector({self._entries!r})"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Mapping):
            return self._entries == {o: s for o, s in other.items() if s > 0}
        return NotImplemented

    def __hash__(self) -> int:
        return hash(frozenset(self._entries.items()))

    def covers(self, wid: WriteId) -> bool:
        return self._entries.get(wid.origin, 0) >= wid.stamp

    def highest(self) -> int:
        return max(self._entries.values(), default=0)

    def merged(self, other: Mapping[str, int]) -> VersionVector:
        out = dict(self._entries)
        for origin, stamp in other.items():
            if stamp > out.get(origin, 0):
                out[origin] = stamp
        return VersionVector(out)

    def dominates(self, other: Mapping[str, int]) -> bool:
        return all(self[o] >= s for o, s in other.items())

    def as_dict(self) -> dict[str, int]:
        return dict(self._entries)

    def format(self, origins: list[str] | None = None) -> str:
        """The vector as the design prints it: ``P:7 A:12 B:13``."""
        names = origins if origins is not None else sorted(self._entries)
        return " ".join(f"{o}:{self[o]}" for o in names)
