"""Issue 15: calendars as Outlook, Google, Apple, Thunderbird and Fastmail write them survive a
round trip through the app: the same occurrences (expanded before and after by the independent
``recurring-ical-events`` package), every property and component the app has no field for
written back verbatim, and the same bytes from the same library.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import icalendar
import pytest
import recurring_ical_events
from hypothesis import given, settings
from hypothesis import strategies as st

from localfirst import ics_raw
from localfirst.calendar_ops import EventIndex
from localfirst.ics import IcsCalendar, parse_ics, render_ics

DATA = Path(__file__).resolve().parent.parent / "data" / "ics"
CORPUS = sorted(DATA.rglob("*.ics"))
ROOT = Path(__file__).resolve().parents[2]
#: Lines the app writes from its own fields (their values are compared through the occurrences).
REWRITTEN = frozenset(
    {
        "BEGIN",
        "END",
        "PRODID",
        "VERSION",
        "CALSCALE",
        "DTSTAMP",
        "DTSTART",
        "DTEND",
        "DURATION",
        "RRULE",
        "RDATE",
        "EXDATE",
        "RECURRENCE-ID",
        "X-WR-CALNAME",
        "X-WR-RELCALID",  # the calendar's id: the app writes its own
        "X-APPLE-CALENDAR-COLOR",
    }
)
#: Lines of an alarm the app shows as a reminder and writes again itself.
ALARM_LINES = frozenset({"ACTION", "TRIGGER", "DESCRIPTION"})
WINDOW = (date(2025, 1, 1), date(2028, 1, 1))


def _moment(value: date | datetime) -> str:
    """An occurrence's time in one form: UTC for zoned times, the wall time for floating ones,
    midnight for dates (a DATE start read as UTC midnight is the same day)."""
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value.isoformat(timespec="minutes")
    return datetime.combine(value, datetime.min.time()).isoformat(timespec="minutes")


def occurrences(texts: Iterable[str]) -> set[tuple[str, str, str]]:
    """(start, end, summary) of every occurrence in the window, by recurring-ical-events."""
    out: set[tuple[str, str, str]] = set()
    for text in texts:
        for cal in icalendar.Calendar.from_ical(text, multiple=True):
            for event in recurring_ical_events.of(cal).between(*WINDOW):
                start = event.get("DTSTART").dt
                end = event.get("DTEND").dt if event.get("DTEND") is not None else start
                out.add((_moment(start), _moment(end), str(event.get("SUMMARY", ""))))
    return out


def calendars(cal: IcsCalendar) -> list[IcsCalendar]:
    return [cal, *cal.others]


def exported(cal: IcsCalendar) -> list[str]:
    """Each calendar of a file as the app writes it (one file per calendar)."""
    out = []
    for index, item in enumerate(calendars(cal)):
        text, warnings = render_ics(f"cal-{index}", item.fields, {ev.id: ev.fields for ev in item.events})
        assert warnings == []
        out.append(text)
    return out


def kept_lines(text: str) -> list[str]:
    """The unfolded lines another program wrote that the app must write back verbatim."""
    out: list[str] = []

    def walk(comp: ics_raw.RawComponent, inside: str) -> None:
        if comp.name == "VTIMEZONE":
            return  # written from the zone database
        plain_alarm = comp.name == "VALARM" and {n for n, _ in comp.props} <= ALARM_LINES
        for name, line in comp.props:
            if name in REWRITTEN or (plain_alarm and name in ALARM_LINES):
                continue
            if name in ("SUMMARY", "LOCATION", "DESCRIPTION") and ":" in line.split(";")[0]:
                continue  # no parameters: the field holds it
            out.append(line)
        for child in comp.children:
            walk(child, comp.name)

    for root in ics_raw.scan(text):
        walk(root, "")
    return out


@pytest.mark.parametrize("path", CORPUS, ids=lambda p: p.name)
def test_occurrences_are_the_same_after_a_round_trip(path: Path):
    text = path.read_text(encoding="utf-8")
    before = occurrences([text])
    assert before, "the sample has occurrences in the window"
    assert occurrences(exported(parse_ics(text))) == before


@pytest.mark.parametrize("path", CORPUS, ids=lambda p: p.name)
def test_properties_and_components_the_app_has_no_field_for_are_kept(path: Path):
    text = path.read_text(encoding="utf-8")
    out_lines = set()
    for out in exported(parse_ics(text)):
        out_lines |= set(ics_raw.unfold(out))
    missing = [line for line in kept_lines(text) if line not in out_lines]
    assert missing == []


@pytest.mark.parametrize("path", CORPUS, ids=lambda p: p.name)
def test_a_second_round_trip_gives_the_same_fields_and_bytes(path: Path):
    first = parse_ics(path.read_text(encoding="utf-8"))
    texts = exported(first)
    second = [parse_ics(t) for t in texts]
    for before, after in zip(calendars(first), second, strict=True):
        assert {e.id: e.fields for e in after.events} == {e.id: e.fields for e in before.events}
        assert set(after.warnings) <= set(before.warnings)  # what is kept but not shown, again
    again = [
        exported(cal)[0].replace("X-WR-RELCALID:cal-0", f"X-WR-RELCALID:cal-{i}")
        for i, cal in enumerate(second)
    ]
    assert again == texts


def test_floating_times_stay_floating_in_any_zone():
    """A floating 12:30 lunch shows at 12:30 in New York and in Tokyo, and is written floating."""
    cal = parse_ics((DATA / "corpus" / "thunderbird_floating_todo.ics").read_text(encoding="utf-8"))
    lunch = next(ev for ev in cal.events if ev.fields["title"] == "Lunch with Sam")
    assert (lunch.fields["start"], lunch.fields["tz"]) == ("2026-03-12T12:30:00", "floating")
    assert cal.warnings == []
    index = EventIndex()
    index.load([(lunch.id, lunch.fields)])
    for name in ("America/New_York", "Asia/Tokyo"):
        tz = ZoneInfo(name)
        [occ] = index.query(datetime(2026, 3, 12, tzinfo=tz), datetime(2026, 3, 13, tzinfo=tz), display_tz=tz)
        assert occ.start == datetime(2026, 3, 12, 12, 30, tzinfo=tz)
    text = exported(cal)[0]
    assert "DTSTART:20260312T123000\r\n" in text
    assert "DTEND:20260312T133000\r\n" in text


def test_x_wr_timezone_gives_floating_times_their_zone():
    cal = parse_ics((DATA / "corpus" / "apple_hourly_floating_xwr.ics").read_text(encoding="utf-8"))
    tzs = {ev.fields["tz"] for ev in cal.events}
    assert tzs == {"Europe/Lisbon"}


def test_an_hourly_series_shows_every_occurrence():
    cal = parse_ics((DATA / "corpus" / "apple_hourly_floating_xwr.ics").read_text(encoding="utf-8"))
    index = EventIndex()
    index.load([(ev.id, ev.fields) for ev in cal.events])
    lisbon = ZoneInfo("Europe/Lisbon")
    occs = index.query(datetime(2026, 6, 10, tzinfo=lisbon), datetime(2026, 6, 12, tzinfo=lisbon))
    medication = [o.start.strftime("%H:%M") for o in occs if o.title == "Medication"]
    stretch = [o.start.strftime("%H:%M") for o in occs if o.title == "Stretch"]
    assert medication == ["08:00", "11:00", "14:00", "17:00"]  # FREQ=HOURLY;INTERVAL=3;COUNT=4
    assert stretch == ["09:00", "09:20", "09:40", "10:00", "10:20", "10:40"]


def _shown(cal: IcsCalendar, start: datetime, end: datetime) -> list[tuple[str, str]]:
    index = EventIndex()
    index.load([(ev.id, ev.fields) for ev in cal.events])
    return [(o.start.isoformat(), o.title) for o in index.query(start, end)]


def test_this_and_future_applies_to_that_occurrence_and_all_later_ones():
    cal = parse_ics((DATA / "corpus" / "fastmail_thisandfuture.ics").read_text(encoding="utf-8"))
    ny = ZoneInfo("America/New_York")
    shown = _shown(cal, datetime(2026, 3, 1, tzinfo=ny), datetime(2026, 5, 1, tzinfo=ny))
    assert [(s[5:16], t) for s, t in shown if "Choir" in t] == [
        ("03-02T18:00", "Choir practice"),
        ("03-09T18:00", "Choir practice"),
        ("03-16T18:30", "Choir practice (new time)"),
        ("03-23T18:00", "Choir practice"),
        ("03-30T18:00", "Choir practice"),
        # From 6 April on: Tuesdays 19:00 at the community centre, as the override says.
        ("04-07T19:00", "Choir practice (Tuesdays)"),
        ("04-14T19:00", "Choir practice (Tuesdays)"),
        ("04-21T20:00", "Choir: short rehearsal"),  # a later single override still applies
        ("04-28T19:00", "Choir practice (Tuesdays)"),
    ]


def test_an_occurrence_whose_series_is_not_in_the_file_is_shown():
    cal = parse_ics((DATA / "corpus" / "outlook_invitation_occurrence.ics").read_text(encoding="utf-8"))
    ny = ZoneInfo("America/New_York")
    assert _shown(cal, datetime(2026, 3, 11, tzinfo=ny), datetime(2026, 3, 12, tzinfo=ny)) == [
        ("2026-03-11T14:00:00-04:00", "Weekly sync")
    ]
    text = exported(cal)[0]
    # Written back as the occurrence it is, with the organizer's 112-character UID.
    assert "RECURRENCE-ID;TZID=America/New_York:20260311T100000" in text
    assert "040000008200E00074C5B7101A82E008000000007A1B2C3D4E5FDC01000000000000000010000000" in "".join(
        ics_raw.unfold(text)
    )


def test_absolute_alarm_is_kept_and_exported():
    cal = parse_ics((DATA / "corpus" / "fastmail_thisandfuture.ics").read_text(encoding="utf-8"))
    dentist = next(ev for ev in cal.events if ev.fields["title"] == "Dentist")
    assert dentist.fields["reminders"] == [840]  # 23:00 UTC the day before a 09:00 EDT (13:00 UTC) start
    text = exported(cal)[0]
    assert "TRIGGER;VALUE=DATE-TIME:20260324T230000Z" in text
    # Moved in the app by a day: the reminder stays 14 hours before the start.
    moved = {**dentist.fields, "start": "2026-03-26T09:00:00", "end": "2026-03-26T09:30:00"}
    again, _ = render_ics("c", {}, {dentist.id: moved})
    assert "TRIGGER;VALUE=DATE-TIME" not in again
    assert "TRIGGER:-PT14H" in again


def test_a_second_vcalendar_is_a_calendar_of_its_own():
    cal = parse_ics((DATA / "corpus" / "two_calendars.ics").read_text(encoding="utf-8"))
    assert [c.fields["name"] for c in calendars(cal)] == ["Work", "Family"]
    assert [[e.fields["title"] for e in c.events] for c in calendars(cal)] == [["Planning"], ["Picnic"]]


def test_edge_cases_import_and_say_what_is_not_shown():
    cal = parse_ics((DATA / "corpus" / "bug_reports_edge_cases.ics").read_text(encoding="utf-8"))
    fields = {ev.id: ev.fields for ev in cal.events}
    assert cal.warnings == [
        "event 'edge-rdate-period': RDATE periods are shown with the event's length; "
        "their ends are kept in the file",
        "event 'edge-two-rules': more than one RRULE; the others are kept in the file but not shown",
        "event 'edge-mixed-kinds': DTSTART and DTEND mix a date and a date-time; the end was read as a date",
    ]
    assert fields["edge-rdate-period"]["rdates"] == ["2026-05-04T15:00:00"]
    # A DATE in EXDATE of a timed series removes that day's occurrence.
    assert fields["edge-date-exdate"]["exdates"] == ["2026-06-03T08:30:00"]
    assert (fields["edge-mixed-kinds"]["start"], fields["edge-mixed-kinds"]["end"]) == (
        "2026-07-01",
        "2026-07-03",
    )
    moved = fields["edge-moved-instance@2026-08-02T10:00:00"]
    assert (moved["start"], moved["title"]) == ("2026-08-02T16:00:00", "Daily (afternoon)")


def test_unknown_lines_survive_an_edit_in_the_app():
    cal = parse_ics((DATA / "corpus" / "thunderbird_floating_todo.ics").read_text(encoding="utf-8"))
    events = {ev.id: dict(ev.fields) for ev in cal.events}
    group = "7c2b9e44-1f0a-4c6d-8e3b-5a9d0c1f2e33"
    events[group]["title"] = "Book club"
    events[group]["reminders"] = [45]  # the second (RELATED=END) alarm removed in the app
    text, _ = render_ics(None, cal.fields, events)
    lines = ics_raw.unfold(text)
    assert "SUMMARY:Book club" in lines
    assert (
        "ATTENDEE;RSVP=TRUE;CN=Sam Roe;PARTSTAT=NEEDS-ACTION;ROLE=REQ-PARTICIPANT:mailto:sam@example.org"
        in lines
    )
    assert "TRIGGER;VALUE=DURATION:-PT45M" in lines
    assert "TRIGGER;RELATED=END;VALUE=DURATION:PT0S" not in lines
    assert "BEGIN:VTODO" in lines
    assert "SUMMARY:Renew passport" in lines


def test_hostile_kept_lines_from_a_peer_cannot_change_the_file_structure():
    events: dict[str, Any] = {
        "e": {
            "title": "T",
            "start": "2026-01-01T10:00:00",
            "end": "2026-01-01T11:00:00",
            "extra": [
                "X-OK:fine",
                "X-BAD:a\r\nBEGIN:VEVENT",
                "END:VEVENT",
                "DTSTART:20300101T000000Z",
                "BEGIN:VALARM\nACTION:DISPLAY\nEND:VEVENT\nBEGIN:VALARM\nEND:VALARM",
                "BEGIN:VEVENT\nUID:planted\nEND:VEVENT",
            ],
        }
    }
    text, warnings = render_ics(None, {"extra": ["BEGIN:VCALENDAR\nEND:VCALENDAR", "X-CAL:ok"]}, events)
    back = parse_ics(text)
    assert [ev.id for ev in back.events] == ["e"]
    assert back.events[0].fields["extra"] == ["X-OK:fine"]
    assert back.fields["extra"] == ["X-CAL:ok"]
    assert len(warnings) == 6


def _render_in_subprocess(seed: str) -> bytes:
    code = (
        "import sys\n"
        "from localfirst.ics import render_ics\n"
        "events = {f'e{i}': {'title': 'x', 'start': '2026-01-01T10:00:00', 'end': '2026-01-01T11:00:00',"
        " 'tz': tz} for i, tz in enumerate(['Europe/Berlin', 'Asia/Tokyo', 'America/New_York',"
        " 'Australia/Sydney', 'Europe/Lisbon', 'America/Sao_Paulo'])}\n"
        "sys.stdout.write(render_ics('c', {'name': 'Zones'}, events)[0])\n"
    )
    env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-c", code], env=env, check=True, capture_output=True).stdout


def test_the_same_library_gives_the_same_bytes_whatever_the_hash_seed():
    """Regression (issue 15, item 3): VTIMEZONE blocks were ordered by Python's hash seed."""
    first, second = _render_in_subprocess("1"), _render_in_subprocess("2")
    assert first == second
    zones = [line for line in first.decode().splitlines() if line.startswith("TZID:")]
    assert zones == sorted(zones)
    assert len(zones) == 6


def test_what_a_field_cannot_hold_is_named_not_dropped_silently():
    todo = "BEGIN:VTODO\r\nUID:t\r\nSUMMARY:" + "x" * 100_001 + "\r\nEND:VTODO\r\n"
    text = (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\n" + todo + "BEGIN:VEVENT\r\nUID:e\r\n"
        "DTSTART:20260101T100000Z\r\nSUMMARY:ok\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    cal = parse_ics(text)
    assert [e.id for e in cal.events] == ["e"]
    assert cal.fields["extra"] == []
    [warning] = cal.warnings
    assert warning.startswith("the calendar: a line or component over 100000 characters was not kept: ")
    assert "BEGIN:VTODO" in warning


def test_a_later_revision_of_an_event_wins():
    """A calendar holding two revisions of one series (the second with a new EXDATE)."""

    def revision(sequence: int, exdate: str) -> str:
        return (
            "BEGIN:VEVENT\r\nUID:rev\r\nDTSTAMP:20260101T000000Z\r\n"
            f"SEQUENCE:{sequence}\r\nDTSTART:20260105T090000Z\r\nRRULE:FREQ=DAILY;COUNT=5\r\n"
            f"EXDATE:{exdate}\r\nSUMMARY:Rev {sequence}\r\nEND:VEVENT\r\n"
        )

    text = (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\n"
        + revision(2, "20260107T090000Z")
        + revision(1, "20260106T090000Z")
        + "END:VCALENDAR\r\n"
    )
    cal = parse_ics(text)
    [event] = cal.events
    assert (event.fields["title"], event.fields["exdates"]) == ("Rev 2", ["2026-01-07T09:00:00"])
    assert cal.warnings == ["event 'rev' appears more than once; the latest revision was kept"]


def test_a_floating_late_evening_event_shows_in_a_zone_ahead_of_the_device():
    """The window prefilter must not judge a floating event by the device's zone."""
    fields = {
        "title": "Late call",
        "start": "2026-03-12T23:30:00",
        "end": "2026-03-12T23:45:00",
        "tz": "floating",
    }
    index = EventIndex()
    index.load([("late", fields)])
    for name in ("Asia/Tokyo", "Pacific/Honolulu"):
        tz = ZoneInfo(name)
        [occ] = index.query(datetime(2026, 3, 12, tzinfo=tz), datetime(2026, 3, 13, tzinfo=tz), display_tz=tz)
        assert occ.start == datetime(2026, 3, 12, 23, 30, tzinfo=tz)


_VALUE = st.text(
    alphabet=st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp"), blacklist_characters="\x85"),
    max_size=120,
)


@given(
    lines=st.lists(
        st.tuples(st.from_regex(r"X-[A-Z]{1,12}", fullmatch=True), _VALUE), max_size=8, unique_by=lambda t: t
    )
)
@settings(max_examples=60, deadline=None)
def test_any_x_property_lines_come_back_verbatim_and_in_order(lines: list[tuple[str, str]]):
    kept = list(dict.fromkeys(f"{name}:{value}" for name, value in lines))
    body = "".join(ics_raw.fold(line) for line in kept)
    text = (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\nBEGIN:VEVENT\r\nUID:p\r\n"
        f"DTSTART:20260101T100000Z\r\nSUMMARY:s\r\n{body}END:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    [event] = parse_ics(text).events
    assert event.fields["extra"] == kept
    out = exported(parse_ics(text))[0]
    [again] = parse_ics(out).events
    assert again.fields["extra"] == kept
