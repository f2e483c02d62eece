"""iCalendar in and out (localfirst.ics): real-world-shaped files, exact fields, round trips."""

from __future__ import annotations

from pathlib import Path

import pytest

from localfirst.ics import IcsError, event_id, iana_zone, parse_ics, render_ics

DATA = Path(__file__).resolve().parent.parent / "data" / "ics"
SAMPLES = sorted(DATA.glob("*.ics"))

GOOGLE_SERIES = "5q7k3mbs0j1uve2qnd0hbq5h1c@google.com"
OUTLOOK_UID = (
    "040000008200E00074C5B7101A82E00800000000B0C5B1F0F37BDC01"
    "000000000000000010000000E4A0A1A4C5B3F84B9B8D1A2E3F4A5B6C"
)


def load(name: str):
    return parse_ics((DATA / name).read_text(encoding="utf-8"))


def by_id(cal):
    return {ev.id: ev.fields for ev in cal.events}


def known(cal):
    """The fields of each event but the lines kept verbatim (``extra``; tested on their own)."""
    return {ev.id: {k: v for k, v in ev.fields.items() if k != "extra"} for ev in cal.events}


def fields_of(cal):
    return {k: v for k, v in cal.fields.items() if k != "extra"}


def plain(**fields):
    base: dict[str, object] = {
        "title": "",
        "start": None,
        "end": None,
        "all_day": False,
        "tz": None,
        "location": "",
        "description": "",
        "rrule": None,
        "rdates": [],
        "exdates": [],
        "reminders": [],
    }
    return {**base, **fields}


def test_google_weekly_series_in_berlin_with_exceptions():
    cal = load("google_weekly_berlin.ics")
    assert fields_of(cal) == {"name": "Team Berlin"}
    assert cal.id is None
    assert cal.warnings == []
    assert known(cal) == {
        GOOGLE_SERIES: plain(
            title="Standup",
            start="2026-10-19T09:30:00",
            end="2026-10-19T09:45:00",
            tz="Europe/Berlin",
            location="Room 4.12; Hauptstraße 5, Berlin",
            description="Daily sync, keep it short.\nAgenda: blockers",
            rrule="FREQ=WEEKLY;UNTIL=20261221T083000Z;BYDAY=MO,WE;WKST=MO",
            rdates=["2026-10-24T10:00:00"],
            exdates=["2026-10-26T09:30:00", "2026-11-04T09:30:00", "2026-11-11T09:30:00"],
            reminders=[10, 1440],
        ),
        # Moved by 90 minutes and renamed: only what differs from the series.
        f"{GOOGLE_SERIES}@2026-10-28T09:30:00": {
            "series": GOOGLE_SERIES,
            "recurrence_id": "2026-10-28T09:30:00",
            "start": "2026-10-28T11:00:00",
            "end": "2026-10-28T11:30:00",
            "title": "Standup (moved for the offsite)",
        },
        # RECURRENCE-ID given in UTC: converted to the series' zone (after the DST change).
        f"{GOOGLE_SERIES}@2026-11-09T09:30:00": {
            "series": GOOGLE_SERIES,
            "recurrence_id": "2026-11-09T09:30:00",
            "location": "Online only",
            "reminders": [],
        },
        f"{GOOGLE_SERIES}@2026-12-02T09:30:00": {
            "series": GOOGLE_SERIES,
            "recurrence_id": "2026-12-02T09:30:00",
            "cancelled": True,
        },
        "0p1r2s3t4u5v6w7x8y9z@google.com": plain(
            title="Call with São Paulo office", start="2026-11-05T14:00:00", end="2026-11-05T15:30:00"
        ),
    }


def test_outlook_windows_zone_monthly_override_all_day_and_custom_zone():
    cal = load("outlook_monthly_windows_zone.ics")
    series = event_id(OUTLOOK_UID)
    assert series.startswith("uid-")
    assert len(series) == 36
    assert cal.id == event_id("{0000002E-8A4F-1D7C-5E61-C1B7F3A2D9E0}")
    assert fields_of(cal) == {"name": "Calendar"}
    assert known(cal) == {
        series: plain(
            title="Monthly review",
            start="2026-01-05T09:00:00",
            end="2026-01-05T10:00:00",
            tz="Europe/Berlin",  # "W. Europe Standard Time"
            location="Conference Room B",
            description="Monthly review of the numbers.\n\nJoin: https://example.com/j/123456",
            rrule="FREQ=MONTHLY;COUNT=6;BYDAY=1MO",
            reminders=[15],
        ),
        f"{series}@2026-03-02T09:00:00": {
            "series": series,
            "recurrence_id": "2026-03-02T09:00:00",
            "start": "2026-03-02T10:00:00",
            "end": "2026-03-02T11:30:00",
            "location": "Conference Room C",
            "description": "\n",
            "reminders": [30],
        },
        "040000008200E00074C5B7101A82E00800000000C1D2E3F4A5B6C7D8": plain(
            title="Trade fair (Hannover)",
            start="2026-04-01",
            end="2026-04-04",
            all_day=True,
            reminders=[1080],
        ),
        # An unnamed custom zone (UTC-4 in March after the US change): converted to UTC.
        "outlook-custom-zone-1": plain(
            title="Call with Toronto", start="2026-03-10T12:30:00", end="2026-03-10T13:00:00"
        ),
    }
    assert cal.warnings == [
        "event 'outlook-custom-zone-1': time zone 'Customized Time Zone' is not an IANA zone; "
        "times converted to UTC"
    ]


def test_apple_all_day_alarms_duration_and_related_end():
    cal = load("apple_allday_alarms.ics")
    assert fields_of(cal) == {"name": "Home", "colour": "#34AADC"}
    shift = "6BA7B810-9DAD-11D1-80B4-00C04FD430C8"
    assert known(cal) == {
        # -PT15H before an all-day start; the ACTION:NONE placeholder alarm is dropped.
        "9C1F4A2E-7B3D-4E5F-8A6B-1C2D3E4F5A6B": plain(
            title="Summer holiday", start="2026-07-06", end="2026-07-20", all_day=True, reminders=[900]
        ),
        # An absolute trigger (14:00 UTC the day before) in a yearly series cannot be a
        # reminder of every occurrence: it is kept verbatim in ``extra`` instead.
        "2B7E1516-28AE-D2A6-ABF7-158809CF4F3C": plain(
            title="Mum's birthday",
            start="2026-03-14",
            end="2026-03-15",
            all_day=True,
            rrule="FREQ=YEARLY",
            rdates=["2026-09-15"],
            exdates=["2027-03-14"],
        ),
        # DURATION instead of DTEND, across the US DST change; RELATED=END -PT30M is 90 after start.
        shift: plain(
            title="Night shift",
            start="2026-03-08T01:30:00",
            end="2026-03-08T03:30:00",
            tz="America/New_York",
            location="St. Mary's Hospital\nWard 3",
            rrule="FREQ=DAILY;COUNT=5",
            reminders=[-90],
        ),
        f"{shift}@2026-03-10T01:30:00": {
            "series": shift,
            "recurrence_id": "2026-03-10T01:30:00",
            "reminders": [-90, 60],
        },
    }


@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: p.name)
def test_round_trip_gives_identical_fields(path: Path):
    first = parse_ics(path.read_text(encoding="utf-8"))
    text, warnings = render_ics("cal-1", {"name": "X", "colour": "#112233", "bookable": True}, by_id(first))
    assert warnings == []
    second = parse_ics(text)
    assert by_id(second) == by_id(first)
    assert second.id == "cal-1"
    assert second.fields == {"name": "X", "colour": "#112233", "bookable": True, "extra": []}
    assert set(second.warnings) <= set(first.warnings)  # lines kept but not shown, named again
    again, _ = render_ics("cal-1", {"name": "X", "colour": "#112233", "bookable": True}, by_id(second))
    assert again == text  # byte-stable: a mirror does not rewrite an unchanged calendar


def test_export_writes_tzid_vtimezone_utc_and_dates():
    text, _ = render_ics(
        None,
        {"name": "T"},
        {
            "a": plain(
                title="Zoned", start="2026-11-21T10:00:00", end="2026-11-21T11:00:00", tz="Europe/Berlin"
            ),
            "b": plain(title="Utc", start="2026-11-21T10:00:00", end="2026-11-21T11:00:00"),
            "c": plain(title="Day", start="2026-11-21", end="2026-11-22", all_day=True, reminders=[15]),
        },
    )
    assert "DTSTART;TZID=Europe/Berlin:20261121T100000" in text
    assert "BEGIN:VTIMEZONE\r\nTZID:Europe/Berlin" in text
    assert "DTSTART:20261121T100000Z" in text
    assert "DTSTART;VALUE=DATE:20261121" in text
    assert "TRIGGER:-PT15M" in text


def test_vendor_prefixed_and_windows_zone_names():
    assert iana_zone("/freeassociation.sourceforge.net/Tzfile/Europe/Paris") == "Europe/Paris"
    assert iana_zone("Pacific Standard Time") == "America/Los_Angeles"
    assert iana_zone("Etc/UTC") is None
    assert iana_zone("../../etc/passwd") is False
    assert iana_zone("Not/A_Zone") is False


def test_globally_unique_tzid_guess_is_a_warning_not_an_exception():
    text = (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\nBEGIN:VEVENT\r\nUID:g1\r\n"
        "DTSTART;TZID=/freeassociation.sourceforge.net/Tzfile/Europe/Paris:20261121T100000\r\n"
        "DTEND;TZID=/freeassociation.sourceforge.net/Tzfile/Europe/Paris:20261121T110000\r\n"
        "SUMMARY:Evolution\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    cal = parse_ics(text)
    assert known(cal)["g1"] == plain(
        title="Evolution", start="2026-11-21T10:00:00", end="2026-11-21T11:00:00", tz="Europe/Paris"
    )
    assert any("globally unique" in w for w in cal.warnings)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("hello", "no BEGIN:VCALENDAR"),
        ("BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:x\r\n", "iCalendar"),
        (
            "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:x\r\nSUMMARY:no start\r\n"
            "END:VEVENT\r\nEND:VCALENDAR\r\n",
            "has no DTSTART",
        ),
        (
            "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:x\r\nDTSTART:2026-99-99\r\n"
            "END:VEVENT\r\nEND:VCALENDAR\r\n",
            "cannot read an event.*DTSTART",
        ),
        (
            "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:x\r\nDTSTART:20261121T100000Z\r\n"
            f"SUMMARY:{'x' * 20_000}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
            "cannot import",
        ),
    ],
)
def test_malformed_calendars_are_refused_with_a_reason(text: str, reason: str):
    with pytest.raises(IcsError, match=reason):
        parse_ics(text)


def test_export_survives_garbage_from_a_peer():
    events = {
        "ok": plain(title="Fine", start="2026-01-01T10:00:00", end="2026-01-01T11:00:00"),
        "bad-start": plain(title="x", start="yesterday", end="today"),
        "bad-zone": plain(title="Z", start="2026-01-01T10:00:00", end="2026-01-01T11:00:00", tz="../../etc"),
        "bad-rule": plain(
            title="R\x00\x07", start="2026-01-01T10:00:00", end="2026-01-01T11:00:00", rrule="??"
        ),
    }
    text, warnings = render_ics(None, {"name": "Evil\r\nX-INJECTED:1"}, events)
    cal = parse_ics(text)
    got = by_id(cal)
    assert set(got) == {"ok", "bad-zone", "bad-rule"}
    assert got["bad-zone"]["tz"] is None
    assert got["bad-rule"]["title"] == "R"
    assert got["bad-rule"]["rrule"] is None
    assert "\r\nX-INJECTED" not in text  # a line break in a name cannot add a property
    assert cal.fields == {"name": "Evil\nX-INJECTED:1", "extra": []}
    assert len(warnings) == 3


# -- a moved series (issue 12, defect 2): exceptions follow it, in files too ----------------------


def _moved_library():
    """A weekly series in Paris moved from Mondays 10:00 to Tuesdays 11:00, with an exdate, a
    cancelled occurrence and one moved and retitled, all named in the anchor's frame."""
    series = plain(
        title="Standup",
        start="2026-11-03T11:00:00",
        end="2026-11-03T11:30:00",
        tz="Europe/Paris",
        rrule="FREQ=WEEKLY;UNTIL=20261230T225959Z;BYDAY=MO",
        exdates=["2026-11-09T10:00:00"],
        rdates=["2026-11-12T10:00:00"],
        anchor="2026-11-02T10:00:00",
    )
    return {
        "s": series,
        "s@2026-11-16T10:00:00": {"series": "s", "recurrence_id": "2026-11-16T10:00:00", "cancelled": True},
        "s@2026-11-23T10:00:00": {
            "series": "s",
            "recurrence_id": "2026-11-23T10:00:00",
            "title": "Retro",
            "start": "2026-11-26T15:00:00",
            "end": "2026-11-26T16:00:00",
        },
    }


def _shown(events):
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from localfirst.calendar_ops import EventIndex

    paris = ZoneInfo("Europe/Paris")
    index = EventIndex()
    index.load(events.items())
    occs = index.query(datetime(2026, 10, 1, tzinfo=paris), datetime(2027, 2, 1, tzinfo=paris))
    return [(o.start.isoformat(), o.title) for o in occs]


def test_a_moved_series_with_exceptions_round_trips_through_a_file():
    events = _moved_library()
    before = _shown(events)
    assert before == [
        ("2026-11-03T11:00:00+01:00", "Standup"),
        ("2026-11-13T11:00:00+01:00", "Standup"),  # the rdate, moved as the series was
        ("2026-11-26T15:00:00+01:00", "Retro"),  # 10 Nov excluded, 17 Nov cancelled, 24 Nov moved
        ("2026-12-01T11:00:00+01:00", "Standup"),
        ("2026-12-08T11:00:00+01:00", "Standup"),
        ("2026-12-15T11:00:00+01:00", "Standup"),
        ("2026-12-22T11:00:00+01:00", "Standup"),
        ("2026-12-29T11:00:00+01:00", "Standup"),
    ]
    text, notes = render_ics("cal", {"name": "Work"}, events)
    assert notes == []
    # The file speaks from the current start, as every client reads it.
    assert "DTSTART;TZID=Europe/Paris:20261103T110000" in text
    assert "RRULE:FREQ=WEEKLY;UNTIL=20261231T235959Z;BYDAY=TU" in text
    assert "EXDATE;TZID=Europe/Paris:20261110T110000" in text
    assert "RECURRENCE-ID;TZID=Europe/Paris:20261117T110000" in text
    assert "RECURRENCE-ID;TZID=Europe/Paris:20261124T110000" in text
    assert "X-LOCALFIRST-ANCHOR:2026-11-02T10:00:00" in text
    back = parse_ics(text)
    assert back.warnings == []
    assert known(back) == events  # the library's own ids and fields, anchor and all
    assert _shown(by_id(back)) == before
    # Another app, which ignores the anchor, sees the same occurrences from the file alone.
    foreign = parse_ics(text.replace("X-LOCALFIRST-ANCHOR:2026-11-02T10:00:00\r\n", ""))
    assert "anchor" not in by_id(foreign)["s"]
    assert _shown(by_id(foreign)) == before
