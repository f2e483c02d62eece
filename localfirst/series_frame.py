"""A moved series seen from its current start, as iCalendar files hold it, and back.

In the library a moved series keeps its rule, ``rdates``, ``exdates`` and its overrides'
recurrence ids in the frame of its ``anchor`` (see ``localfirst.recurrence``), so they follow
every move. A calendar file has no anchor: there DTSTART is the current start and the rule,
RDATE, EXDATE and RECURRENCE-ID are read from it. :func:`to_file` and :func:`from_file` move
them between the two frames; the anchor itself travels as ``X-LOCALFIRST-ANCHOR`` so a file
read back gives the library's own ids. Pure; never raises on bad synced data."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .recurrence import Frame, frame_of, moved_ids, moved_rule


def to_file(series: Mapping[str, Any]) -> tuple[dict[str, Any], Frame | None, list[str]]:
    """A series' recurrence fields as a file holds them (rule, rdates, exdates from its current
    start), its frame (None: it never moved) and warnings."""
    frame = frame_of(series)
    out = {k: series.get(k) for k in ("rrule", "rdates", "exdates")}
    if frame is None:
        return out, None, []
    notes = []
    rule = series.get("rrule")
    if isinstance(rule, str) and rule:
        out["rrule"], exact = moved_rule(rule, frame, 1)
        if not exact:
            notes.append("a moved series' rule names days or hours that could not follow the move")
    out["rdates"] = moved_ids(series.get("rdates"), frame, 1)
    out["exdates"] = moved_ids(series.get("exdates"), frame, 1)
    return out, frame, notes


def from_file(series: Mapping[str, Any], anchor: str) -> tuple[dict[str, Any], Frame | None]:
    """The library's fields of a series read from a file with ``X-LOCALFIRST-ANCHOR: anchor``:
    its anchor, and the rule, rdates and exdates moved back into the anchor's frame."""
    frame = frame_of({**series, "anchor": anchor})
    if frame is None:
        return dict(series), None
    out = {**series, "anchor": frame.anchor}
    rule = series.get("rrule")
    if isinstance(rule, str) and rule:
        out["rrule"] = moved_rule(rule, frame, -1)[0]
    out["rdates"] = moved_ids(series.get("rdates"), frame, -1)
    out["exdates"] = moved_ids(series.get("exdates"), frame, -1)
    return out, frame
