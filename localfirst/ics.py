"""Calendars as iCalendar text (RFC 5545), and back; pure: text in, field dicts out.

Events are represented as the rest of the app agreed:

- ``start``/``end``: ISO 8601. Timed: ``"2026-11-21T10:00:00"``, the wall time in zone ``tz``
  (an IANA name; ``None`` means UTC). All-day: ``"2026-11-21"``, ``end`` exclusive,
  ``all_day`` true.
- ``rrule``: the RRULE value without ``RRULE:``; ``rdates``/``exdates``: ISO starts.
- An overridden occurrence is its own event ``f"{series}@{recurrence_id}"`` holding ``series``,
  ``recurrence_id`` (the original start, ISO, in the series' zone) and only the fields that
  differ from the series; ``cancelled`` marks a removed occurrence.
- A series that moved keeps its ``anchor`` and reads its rule, dates and recurrence ids in the
  anchor's frame (``localfirst.series_frame``); a file holds them from DTSTART, as every
  client reads them, and the anchor as ``X-LOCALFIRST-ANCHOR``, so reading it back gives the
  same ids. A file without it (or from another app) is read in its own frame.
- ``reminders``: minutes before the start (``TRIGGER:-PT15M`` is 15).

- ``extra``: what the app has no field for, verbatim (``localfirst.ics_raw``): ATTENDEE,
  ORGANIZER, CATEGORIES, URL, CLASS, STATUS, TRANSP, X- properties, alarms it cannot show as
  reminders (and the exact lines of those it can), and on a calendar its other properties and
  components (VTODO, VJOURNAL, ...). Written back on export; it syncs like any other field.

Time zones: a TZID that names an IANA zone (or a Windows zone, or a vendor-prefixed IANA name)
keeps its wall times; any other zone is converted to UTC, with a warning. Floating times (no
TZID, no Z) stay floating (``tz`` is ``"floating"``): the same wall time in whatever zone the
device is in, and written floating again; under X-WR-TIMEZONE they are in that zone. Export
writes TZID with the IANA name and a VTIMEZONE for it, zones in name order.

Recurrence as mature readers expand it: RANGE=THISANDFUTURE ends the series before that
occurrence and starts a new one there with its changes; an occurrence whose series is not in
the file is kept (and shown) on its own; a DTEND of the other kind than DTSTART (DATE and
DATE-TIME mixed) is read as DTSTART's kind; a DATE in EXDATE/RDATE/RECURRENCE-ID of a timed
series means the series' time that day. What the app does not expand (a second RRULE, RDATE
periods) is kept verbatim and named in the warnings; nothing is dropped without a warning.
"""

from __future__ import annotations

from ._ics_common import (
    EVENT_FIELDS,
    FIXED_DTSTAMP,
    MAX_UID,
    OVERRIDE_FIELDS,
    PRODID,
    IcsCalendar,
    IcsError,
    IcsEvent,
    alarm_minutes,
    calendar_of,
    event_id,
    iana_zone,
    override_id,
)
from ._ics_read import parse_ics
from ._ics_write import render_ics

__all__ = [
    "EVENT_FIELDS",
    "FIXED_DTSTAMP",
    "MAX_UID",
    "OVERRIDE_FIELDS",
    "PRODID",
    "IcsCalendar",
    "IcsError",
    "IcsEvent",
    "alarm_minutes",
    "calendar_of",
    "event_id",
    "iana_zone",
    "override_id",
    "parse_ics",
    "render_ics",
]
