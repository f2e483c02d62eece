"""Imports that can be re-run (storage.files): the same file twice adds nothing, an edited file
updates what it wrote, and events go through the calendar service (bookable calendars book)."""

from __future__ import annotations

from pathlib import Path

import pytest

from localfirst import ManualClock, Replica, calendar
from storage.files import import_files, source_key

from .conftest import Replicas
from .test_files import SAMPLES

OVERLAPPING = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//test//EN
X-WR-CALNAME:Room A
{bookable}BEGIN:VEVENT
UID:first@example.com
DTSTAMP:20260101T000000Z
DTSTART:20261123T100000Z
DTEND:20261123T110000Z
SUMMARY:Planning
END:VEVENT
BEGIN:VEVENT
UID:second@example.com
DTSTAMP:20260101T000000Z
DTSTART:20261123T103000Z
DTEND:20261123T113000Z
SUMMARY:Review
END:VEVENT
END:VCALENDAR
"""
EMPTY_CALENDAR = "BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//test//EN\nX-WR-CALNAME:Holidays\nEND:VCALENDAR\n"


@pytest.fixture
def replica(replicas: Replicas) -> Replica:
    return replicas.create("a", "A")


def counts(replica: Replica) -> dict[str, int]:
    return {kind: len(replica.entities(kind)) for kind in ("calendar", "event", "note")}


def test_importing_the_same_files_twice_adds_nothing(replica: Replica, tmp_path: Path):
    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(5):
        (folder / f"plain {i}.md").write_text(f"note {i}\n", encoding="utf-8")
    (folder / "same body.md").write_text("note 0\n", encoding="utf-8")  # same text, other file
    (folder / "named.md").write_text('---\nid: "named-1"\ntitle: "Named"\n---\nbody\n', encoding="utf-8")
    (folder / "Holidays.ics").write_text(EMPTY_CALENDAR, encoding="utf-8")
    files = [*sorted(folder.iterdir()), *SAMPLES]
    first = import_files(replica, files)
    assert first.ok, first.messages()
    assert counts(replica) == {"calendar": 4, "event": 13, "note": 7}
    log = replica.log_labels()
    again = import_files(replica, files)
    assert again.ok, again.messages()
    assert counts(replica) == {"calendar": 4, "event": 13, "note": 7}
    assert replica.log_labels() == log  # not one write
    assert again.notes == first.notes
    assert again.calendars == first.calendars
    assert again.events == []
    assert source_key(folder / "plain 0.md") in first.notes
    assert "named-1" in first.notes


def test_an_edited_file_updates_its_note_and_keeps_what_the_file_does_not_say(
    replicas: Replicas, tmp_path: Path
):
    clock = ManualClock(1_000)
    replica = replicas.create("a", "A", clock=clock)
    path = tmp_path / "Ideas.md"
    path.write_text("first\n", encoding="utf-8")
    [note] = import_files(replica, [path]).notes
    clock.set(2_000)
    replica.put("note", note, {"title": "My ideas", "tags": ["work"], "pinned": True})
    path.write_text("first\nsecond\n", encoding="utf-8")
    before = len(replica.log())
    assert import_files(replica, [path]).notes == [note]
    assert len(replica.log()) == before + 1
    values = replica.values(note)
    assert values["body"] == "first\nsecond\n"
    assert (values["title"], values["tags"], values["pinned"]) == ("My ideas", ["work"], True)
    assert (values["created"], values["modified"]) == (1_000, 2_000)
    assert len(replica.entities("note")) == 1


def test_a_note_deleted_in_the_app_comes_back_when_its_file_is_imported_again(
    replica: Replica, tmp_path: Path
):
    path = tmp_path / "Back.md"
    path.write_text("hello\n", encoding="utf-8")
    [note] = import_files(replica, [path]).notes
    replica.delete(note)
    assert replica.entities("note") == {}
    assert import_files(replica, [path]).notes == [note]
    assert list(replica.entities("note")) == [note]
    assert replica.values(note)["body"] == "hello\n"


def test_a_relative_path_and_its_absolute_path_are_one_file(
    replica: Replica, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    (tmp_path / "Here.md").write_text("x", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    [first] = import_files(replica, [Path("Here.md")]).notes
    [second] = import_files(replica, [tmp_path / "Here.md"]).notes
    assert first == second
    assert len(replica.entities("note")) == 1


def slots(replica: Replica) -> dict[str, tuple[int, int] | None]:
    out: dict[str, tuple[int, int] | None] = {}
    for event in ("first@example.com", "second@example.com"):
        booking = replica.booking(event)
        assert booking is not None
        out[event] = None if booking.slot is None else (booking.slot.start, booking.slot.end)
    return out


def booked_directly(replicas: Replicas) -> dict[str, tuple[int, int] | None]:
    """The two events saved through the calendar service, as the window saves them."""
    direct = replicas.create("direct", "A")
    room = direct.create("calendar", {"name": "Room A", "bookable": True})
    for event, title, start, end in (
        ("first@example.com", "Planning", "10:00", "11:00"),
        ("second@example.com", "Review", "10:30", "11:30"),
    ):
        calendar.save_event(
            direct,
            event,
            {"calendar": room, "title": title, "all_day": False, "tz": None}
            | {"start": f"2026-11-23T{start}:00", "end": f"2026-11-23T{end}:00"},
        )
    return slots(direct)


@pytest.mark.parametrize("how", ["into a bookable calendar", "the file says bookable"])
def test_overlapping_events_imported_into_a_bookable_calendar_are_arbitrated(
    replicas: Replicas, tmp_path: Path, how: str
):
    replica = replicas.create("a", "A")
    path = tmp_path / "room.ics"
    if how == "into a bookable calendar":
        room = replica.create("calendar", {"name": "Meeting room", "bookable": True})
        path.write_text(OVERLAPPING.format(bookable="X-LOCALFIRST-BOOKABLE:FALSE\n"), encoding="utf-8")
        report = import_files(replica, [path], calendar=room)
        # The file's own name and kind do not change the calendar the user chose.
        assert replica.values(room)["name"] == "Meeting room"
    else:
        path.write_text(OVERLAPPING.format(bookable="X-LOCALFIRST-BOOKABLE:TRUE\n"), encoding="utf-8")
        report = import_files(replica, [path])
        [room] = report.calendars
    assert report.ok, report.messages()
    assert replica.values(room)["bookable"] is True
    outcome = slots(replica)
    # The first holds its slot; the second, with no alternative, is a visible conflict.
    start = 1_795_428_000  # 2026-11-23 10:00 UTC
    assert outcome == {"first@example.com": (start, start + 3600), "second@example.com": None}
    assert outcome == booked_directly(replicas)
    replica.commit()
    assert slots(replica) == outcome
    # Importing the file again books nothing twice and writes nothing.
    log = replica.log_labels()
    assert import_files(replica, [path], calendar=room if how == "into a bookable calendar" else None).ok
    assert replica.log_labels() == log


def test_importing_into_a_calendar_that_does_not_exist_is_refused(replica: Replica, tmp_path: Path):
    path = tmp_path / "room.ics"
    path.write_text(OVERLAPPING.format(bookable=""), encoding="utf-8")
    report = import_files(replica, [path], calendar="nope")
    assert [str(e) for e in report.errors] == ["nope: no such calendar; nothing was imported"]
    assert counts(replica) == {"calendar": 0, "event": 0, "note": 0}
