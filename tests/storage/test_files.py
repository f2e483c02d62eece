"""Import and export of plain files through a durable replica (storage.files)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from localfirst import Replica
from storage.files import Folder, PlainFileError, export_library, import_files

from .conftest import Replicas

DATA = Path(__file__).resolve().parent.parent / "data" / "ics"
SAMPLES = sorted(DATA.glob("*.ics"))


def library(replica: Replica) -> dict[str, tuple[str, dict[str, Any]]]:
    out: dict[str, tuple[str, dict[str, Any]]] = {}
    for kind in ("calendar", "event", "note"):
        for key in replica.entities(kind):
            out[key] = (kind, replica.values(key))
    return out


def tree(path: Path) -> dict[str, bytes | str]:
    """Everything under a folder: files' bytes, links' targets."""
    out: dict[str, bytes | str] = {}
    for root, dirs, files in os.walk(path):
        for name in dirs + files:
            full = Path(root, name)
            rel = str(full.relative_to(path))
            if full.is_symlink():
                out[rel] = "-> " + os.readlink(full)
            elif full.is_file():
                out[rel] = full.read_bytes()
    return out


@pytest.fixture
def pair(replicas: Replicas) -> tuple[Replica, Replica]:
    a = replicas.create("a", "A", members={"B": ""})
    b = replicas.join("b", "B", a.genesis())
    return a, b


def sync_both(a: Replica, b: Replica) -> None:
    b.receive(a.batch_for(b.summary()))
    a.receive(b.batch_for(a.summary()))


def test_import_export_import_gives_identical_entities(pair, tmp_path: Path):
    a, b = pair
    notes = tmp_path / "in"
    notes.mkdir()
    (notes / "Trip.md").write_text(
        '---\nid: "note-trip"\ntitle: "Trip"\ntags: ["travel", "2026"]\npinned: true\n'
        "created: 2026-05-01T08:00:00.000Z\nmodified: 2026-05-02T09:30:00.250Z\n---\n# Lisbon\n\n- tram 28\n",
        encoding="utf-8",
    )
    (notes / "plain.markdown").write_text("no front matter at all\n", encoding="utf-8")
    report = import_files(a, [*SAMPLES, notes / "Trip.md", notes / "plain.markdown"])
    assert report.ok, report.messages()
    assert len(report.imported) == len(SAMPLES) + 2
    assert len(report.calendars) == 3
    assert len(report.notes) == 2
    assert [str(w) for w in report.warnings] == [
        f"{DATA / 'outlook_monthly_windows_zone.ics'}: event 'outlook-custom-zone-1': time zone "
        "'Customized Time Zone' is not an IANA zone; times converted to UTC"
    ]
    first = library(a)
    assert first["note-trip"] == (
        "note",
        {
            "title": "Trip",
            "tags": ["travel", "2026"],
            "pinned": True,
            "created": 1_777_622_400_000,
            "modified": 1_777_714_200_250,
            "body": "# Lisbon\n\n- tram 28\n",
        },
    )
    event = first["5q7k3mbs0j1uve2qnd0hbq5h1c@google.com@2026-10-28T09:30:00"]
    assert event[0] == "event"
    assert event[1]["start"] == "2026-10-28T11:00:00"
    out = tmp_path / "out"
    written = export_library(a, out)
    assert sorted(p.name for p in written) == [
        "Calendar.ics",
        "Home.ics",
        "Team Berlin.ics",
        "Trip.md",
        "plain.md",
    ]
    report = import_files(b, written)
    assert report.ok, report.messages()
    assert report.warnings == []
    assert library(b) == first
    # Importing what is already there writes nothing.
    log = a.log_labels()
    assert import_files(a, written).ok
    assert a.log_labels() == log
    # Exporting again gives the same bytes.
    again = export_library(b, tmp_path / "again")
    assert {p.name: p.read_bytes() for p in again} == {p.name: p.read_bytes() for p in written}


def test_reimport_updates_only_what_changed_and_merges_the_body(pair, tmp_path: Path):
    a, b = pair
    note = a.create("note", {"title": "Plan", "tags": [], "pinned": False, "body": "one\ntwo\n"})
    sync_both(a, b)
    [path] = [p for p in export_library(a, tmp_path / "out") if p.suffix == ".md"]
    text = path.read_text(encoding="utf-8")
    b.edit_text(note, [(0, 0, "zero\n")])  # typed on another device meanwhile
    path.write_text(text.replace("two\n", "two\nthree\n").replace("pinned: false", "pinned: true"))
    before = len(a.log())
    assert import_files(a, [path]).ok
    assert len(a.log()) == before + 1  # one write: the pinned field and a body edit
    sync_both(a, b)
    for replica in (a, b):
        assert replica.values(note)["body"] == "zero\none\ntwo\nthree\n"
        assert replica.values(note)["pinned"] is True


def test_in_app_library_round_trips(pair, tmp_path: Path):
    a, b = pair
    cal = a.create("calendar", {"name": "Rooms", "colour": "#ff8800", "bookable": True})
    a.create(
        "event",
        {
            "calendar": cal,
            "title": "Weekly",
            "start": "2026-03-02T09:00:00",
            "end": "2026-03-02T10:00:00",
            "all_day": False,
            "tz": "Australia/Sydney",
            "location": "",
            "description": "",
            "rrule": "FREQ=WEEKLY;BYDAY=MO",
            "rdates": [],
            "exdates": ["2026-03-16T09:00:00"],
            "reminders": [5, 60],
        },
        "series-1",
    )
    a.create(
        "event",
        {
            "calendar": cal,
            "series": "series-1",
            "recurrence_id": "2026-03-09T09:00:00",
            "title": "Weekly (long)",
            "start": "2026-03-09T09:00:00",
            "end": "2026-03-09T12:00:00",
        },
        "series-1@2026-03-09T09:00:00",
    )
    a.create(
        "event",
        {"calendar": cal, "series": "series-1", "recurrence_id": "2026-03-23T09:00:00", "cancelled": True},
        "series-1@2026-03-23T09:00:00",
    )
    a.create(
        "note", {"title": "Same", "tags": ["x"], "pinned": False, "created": 1, "modified": 2, "body": "1"}
    )
    a.create("note", {"title": "Same", "tags": [], "pinned": True, "created": 3, "modified": 4, "body": "2"})
    written = export_library(a, tmp_path / "out")
    names = sorted(p.name for p in written)
    assert names[0] == "Rooms.ics"
    assert {names[1][:6], names[2][:6]} == {"Same.m", "Same ("}
    assert import_files(b, written).ok
    assert library(b) == library(a)


HOSTILE = [
    "../../x",
    "/etc/passwd",
    "CON",
    "nul.md",
    "a\x00b",
    "a/b\\c",
    "..",
    ".",
    "~",
    "C:\\x",
    "\u202e.exe",
]


def test_export_with_hostile_titles_stays_inside_the_folder(pair, tmp_path: Path):
    a, _ = pair
    for title in HOSTILE:
        a.create("note", {"title": title, "body": title})
    a.create("calendar", {"name": "../../cal"})
    parent = tmp_path / "parent"
    out = parent / "export"
    out.mkdir(parents=True)
    (parent / "keep.txt").write_text("untouched")
    before = tree(parent)
    written = export_library(a, out)
    assert len(written) == len(HOSTILE) + 1
    assert all(p.parent == out.resolve() for p in written)
    after = tree(parent)
    assert {k: v for k, v in after.items() if not k.startswith("export/")} == before
    assert sorted(os.listdir(out)) == sorted(p.name for p in written)


def test_export_replaces_a_planted_link_without_writing_through_it(pair, tmp_path: Path):
    a, _ = pair
    a.create("note", {"title": "Groceries", "body": "milk"})
    target = tmp_path / "victim.txt"
    target.write_text("precious")
    out = tmp_path / "out"
    out.mkdir()
    (out / "Groceries.md").symlink_to(target)
    export_library(a, out)
    assert target.read_text() == "precious"
    assert not (out / "Groceries.md").is_symlink()
    assert "milk" in (out / "Groceries.md").read_text()


def test_bad_files_are_refused_with_clear_messages_and_nothing_half_imported(pair, tmp_path: Path):
    a, _ = pair
    a.create("note", {"title": "taken"}, "clash-id")
    log = a.log_labels()
    state = library(a)
    files = {
        "broken.ics": b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nDTSTART:nonsense\r\n"
        b"END:VEVENT\r\nEND:VCALENDAR\r\n",
        "broken.md": b"---\ntitle: [unterminated\n---\n",
        "binary.md": b"PK\x03\x04\x00\x00binary",
        "latin1.md": "caf\xe9".encode("latin-1"),
        # The first event is fine; the second names an id that is a note: all or nothing.
        "half.ics": (
            b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\n"
            b"BEGIN:VEVENT\r\nUID:fine-1\r\nDTSTART:20260101T100000Z\r\nSUMMARY:ok\r\nEND:VEVENT\r\n"
            b"BEGIN:VEVENT\r\nUID:clash-id\r\nDTSTART:20260101T100000Z\r\nSUMMARY:bad\r\nEND:VEVENT\r\n"
            b"END:VCALENDAR\r\n"
        ),
        "notes.txt": b"hello",
    }
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    huge = tmp_path / "huge.md"
    with huge.open("wb") as f:
        f.truncate(11 * 1024 * 1024)  # over the 10 MB cap there was: no size limit now
    os.mkfifo(tmp_path / "fifo.md")
    (tmp_path / "dir.md").mkdir()
    paths = [tmp_path / n for n in files] + [
        huge,
        tmp_path / "gone.md",
        tmp_path / "fifo.md",
        tmp_path / "dir.md",
    ]
    report = import_files(a, paths)
    assert not report.ok
    assert report.imported == []
    messages = {p.path.name: p.message for p in report.errors}
    assert set(messages) == {p.name for p in paths}
    assert "not a valid iCalendar" in messages["broken.ics"] or "cannot read" in messages["broken.ics"]
    assert "line 2" in messages["broken.md"]
    assert "binary file" in messages["binary.md"]
    assert "not UTF-8" in messages["latin1.md"]
    assert "belongs to a note" in messages["half.ics"]
    assert "neither an .ics calendar nor a .md note" in messages["notes.txt"]
    assert "binary" in messages["huge.md"]  # read whole (no size cap), then refused as binary
    assert "vanished" in messages["gone.md"]
    assert "not a regular file" in messages["fifo.md"]
    assert "folder" in messages["dir.md"] or "regular" in messages["dir.md"]
    assert all(m.endswith("skipped") or "nothing was imported" in m for m in messages.values())
    assert a.log_labels() == log
    assert library(a) == state


def test_a_file_vanishing_mid_read(pair, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    a, _ = pair
    path = tmp_path / "note.md"
    path.write_text("text")
    real_open = os.open

    def vanish(name, flags, *args, **kwargs):
        if str(name).endswith("note.md"):
            path.unlink()
        return real_open(name, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", vanish)
    report = import_files(a, [path])
    assert [p.message for p in report.errors] == [
        "the file vanished before it could be read; nothing was imported from it"
    ]


def test_folder_refuses_names_that_are_not_one_component(tmp_path: Path):
    with Folder(tmp_path) as folder:
        for name in ["../x.md", "/abs.md", "a/b.md", "..", "", "x\x00.md", "CON.md"]:
            with pytest.raises(PlainFileError):
                folder.write(name, b"x")
    assert list(tmp_path.iterdir()) == []
