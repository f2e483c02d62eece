"""Order-sensitive writes: the registry of named, deterministic merge procedures.

As in Bayou's meeting-room scheduler, a write carries a dependency check and a merge procedure
chosen *by name* from this registry (never code received from a peer). Procedures run in log
order against ``BookingState``; each returns an outcome and an undo record so the log can undo
later writes when an earlier one arrives, apply it, and redo them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .errors import InvalidWrite, UnknownProcedure
from .write import Ordered, Write, WriteId

BOOK = "calendar.book"
RELEASE = "calendar.release"
SET_PRIMARY = "library.set_primary"

#: Outcome of a booking that found no free slot: a conflict the user sees.
CONFLICT = -1
#: Outcome of procedures that cannot fail.
DONE = 0

#: How many alternatives one booking may list.
MAX_SLOTS = 16


@dataclass(frozen=True, slots=True)
class Slot:
    """A booked interval (epoch seconds, end exclusive) and the write that booked it."""

    start: int
    end: int
    by: WriteId

    def overlaps(self, start: int, end: int) -> bool:
        return self.start < end and start < self.end


@dataclass(slots=True)
class BookingState:
    """Which events hold which slot in each bookable calendar."""

    calendars: dict[str, dict[str, Slot]] = field(default_factory=dict)

    def slot(self, calendar: str, event: str) -> Slot | None:
        return self.calendars.get(calendar, {}).get(event)

    def free(self, calendar: str, start: int, end: int, ignoring: str) -> bool:
        taken = self.calendars.get(calendar, {})
        return not any(s.overlaps(start, end) for ev, s in taken.items() if ev != ignoring)

    def put(self, calendar: str, event: str, slot: Slot | None) -> None:
        taken = self.calendars.setdefault(calendar, {})
        if slot is None:
            taken.pop(event, None)
            if not taken:
                del self.calendars[calendar]
        else:
            taken[event] = slot

    def copy(self) -> BookingState:
        return BookingState({c: dict(t) for c, t in self.calendars.items()})

    def to_wire(self) -> dict[str, Any]:
        return {
            c: {e: [s.start, s.end, s.by.stamp, s.by.origin] for e, s in t.items()}
            for c, t in self.calendars.items()
        }

    @classmethod
    def from_wire(cls, raw: Mapping[str, Any]) -> BookingState:
        return cls(
            {c: {e: Slot(v[0], v[1], WriteId(v[2], v[3])) for e, v in t.items()} for c, t in raw.items()}
        )


#: Restores the state a procedure changed.
Undo = Callable[[BookingState], None]


def _restore(calendar: str, event: str, previous: Slot | None) -> Undo:
    return lambda state: state.put(calendar, event, previous)


def _no_undo(state: BookingState) -> None:
    return None


def _ids(params: Mapping[str, Any]) -> tuple[str, str]:
    calendar, event = params.get("calendar"), params.get("event")
    if type(calendar) is not str or type(event) is not str or not calendar or not event:
        raise InvalidWrite("a booking names a calendar and an event")
    return calendar, event


def _slots(params: Mapping[str, Any]) -> list[tuple[int, int]]:
    raw = params.get("slots")
    if type(raw) is not list or not 1 <= len(raw) <= MAX_SLOTS:
        raise InvalidWrite(f"a booking lists 1 to {MAX_SLOTS} slots")
    out = []
    for item in raw:
        if (
            type(item) is not list
            or len(item) != 2
            or type(item[0]) is not int
            or type(item[1]) is not int
            or item[0] >= item[1]
        ):
            raise InvalidWrite(f"bad slot {item!r:.40}: [start, end) in epoch seconds")
        out.append((item[0], item[1]))
    return out


class Procedure:
    """A named merge procedure: validates parameters, then runs deterministically in log order."""

    name: str = ""

    def validate(self, params: Mapping[str, Any]) -> None:
        raise NotImplementedError

    def execute(self, state: BookingState, wid: WriteId, params: Mapping[str, Any]) -> tuple[int, Undo]:
        raise NotImplementedError


class Book(Procedure):
    """Book a slot in a bookable calendar; if taken, the first free alternative; else a conflict.

    Rebooking an event that holds a slot moves it; if no listed slot is free it keeps the old one.
    """

    name = BOOK

    def validate(self, params: Mapping[str, Any]) -> None:
        _ids(params)
        _slots(params)

    def execute(self, state: BookingState, wid: WriteId, params: Mapping[str, Any]) -> tuple[int, Undo]:
        calendar, event = _ids(params)
        previous = state.slot(calendar, event)
        for index, (start, end) in enumerate(_slots(params)):
            if state.free(calendar, start, end, ignoring=event):
                state.put(calendar, event, Slot(start, end, wid))
                return index, _restore(calendar, event, previous)
        return CONFLICT, _no_undo


class Release(Procedure):
    """Free the slot an event holds (the event was deleted or left the calendar)."""

    name = RELEASE

    def validate(self, params: Mapping[str, Any]) -> None:
        _ids(params)

    def execute(self, state: BookingState, wid: WriteId, params: Mapping[str, Any]) -> tuple[int, Undo]:
        calendar, event = _ids(params)
        previous = state.slot(calendar, event)
        state.put(calendar, event, None)
        return DONE, _restore(calendar, event, previous)


class SetPrimary(Procedure):
    """Hand the primary role to another device; takes effect only once committed."""

    name = SET_PRIMARY

    def validate(self, params: Mapping[str, Any]) -> None:
        device = params.get("device")
        if type(device) is not str or not device:
            raise InvalidWrite("set_primary names a device")

    def execute(self, state: BookingState, wid: WriteId, params: Mapping[str, Any]) -> tuple[int, Undo]:
        return DONE, _no_undo


REGISTRY: dict[str, Procedure] = {p.name: p for p in (Book(), Release(), SetPrimary())}


def procedure(name: str) -> Procedure:
    """The registered procedure of that name, or ``UnknownProcedure``."""
    proc = REGISTRY.get(name)
    if proc is None:
        raise UnknownProcedure(f"unknown merge procedure {name!r:.60}")
    return proc


@dataclass(frozen=True, slots=True)
class Notice:
    """A booking's outcome changed from the one its user last saw (DESIGN.md, Bayou rules).

    ``before`` is the outcome last seen (always tentative), ``after`` the new one: the committed
    outcome when ``settled``, else a new tentative one (a write that arrived ahead of it in the
    tentative order took its slot, or gave one back).
    """

    write: WriteId
    before: int
    after: int
    settled: bool = True


def changed_outcomes(
    seen: Mapping[WriteId, int],
    outcomes: Sequence[tuple[WriteId, int, bool]],
    writes: Iterable[Write],
) -> list[Notice]:
    """A notice for each (write, outcome, committed), in log order, whose outcome differs from
    the one ``seen``; ``writes`` holds (at least) the order-sensitive writes of ``outcomes``.

    Writes not seen before (just arrived, or folded in unseen) give none; nor does a redo that
    lands on the outcome already seen; nor a booking whose event a later write rebooked (a move)
    or released (a delete): the user sees that one, not the request it replaced. A later
    booking that found no slot keeps the old one, so it replaces nothing.
    """
    events = {w.id: _event_of(w.ordered) for w in writes if w.ordered is not None}
    replaced: set[str] = set()
    notices = []
    for wid, outcome, committed in reversed(outcomes):
        event = events.get(wid)
        before = seen.get(wid)
        if before is not None and before != outcome and event not in replaced:
            notices.append(Notice(wid, before, outcome, committed))
        if event is not None and outcome != CONFLICT:
            replaced.add(event)
    notices.reverse()
    return notices


def _event_of(op: Ordered) -> str | None:
    """The event a booking or release names (None for other procedures)."""
    if op.procedure not in (BOOK, RELEASE):
        return None
    event = op.params.get("event")
    return event if type(event) is str else None


def notices_for(device: str, notices: Iterable[Notice]) -> list[Notice]:
    """The notices a device's user is told: those about the bookings it made."""
    return [n for n in notices if n.write.origin == device]
