"""Issue 15 through a real library: what other programs wrote survives import, an edit in the
app and export; exports of any size import again; untitled notes are named from their text."""

from __future__ import annotations

from pathlib import Path

from localfirst import calendar, ics_raw, notes
from storage.files import export_library, import_files
from tests.core.test_ics_corpus import occurrences

from .conftest import Replicas

DATA = Path(__file__).resolve().parent.parent / "data" / "ics"
CORPUS = sorted(DATA.rglob("*.ics"))


def _occurrences(paths: list[Path]) -> set[tuple[str, str, str]]:
    return occurrences(p.read_text(encoding="utf-8") for p in paths)


def test_the_corpus_survives_import_and_export_through_a_library(replicas: Replicas, tmp_path: Path):
    replica = replicas.create("a", "A")
    report = import_files(replica, CORPUS)
    assert report.ok, report.messages()
    written = export_library(replica, tmp_path / "out")
    calendars = [p for p in written if p.suffix == ".ics"]
    # A file's second VCALENDAR became a calendar (and a file) of its own.
    assert len(calendars) == len(CORPUS) + 1
    assert _occurrences(calendars) == _occurrences(CORPUS)
    lines = {line for p in calendars for line in ics_raw.unfold(p.read_text(encoding="utf-8"))}
    for kept in (
        "ATTENDEE;RSVP=TRUE;CN=Sam Roe;PARTSTAT=NEEDS-ACTION;ROLE=REQ-PARTICIPANT:mailto:sam@example.org",
        "ORGANIZER;CN=Pat Lee:mailto:pat.lee@contoso.example",
        "CATEGORIES:Personal,Friends",
        "URL:https://choir.example/rehearsals",
        "CLASS:PRIVATE",
        "STATUS:TENTATIVE",
        "TRANSP:TRANSPARENT",
        "X-MOZ-GENERATION:2",
        "BEGIN:VTODO",
        "SUMMARY:Renew passport",
        "TRIGGER;VALUE=DATE-TIME:20260324T230000Z",
        "SUMMARY;LANGUAGE=en-US:Weekly sync",
        "METHOD:REQUEST",
    ):
        assert kept in lines, kept


def test_an_edit_in_the_app_keeps_what_the_app_does_not_show(replicas: Replicas, tmp_path: Path):
    replica = replicas.create("a", "A")
    assert import_files(replica, [DATA / "corpus" / "thunderbird_floating_todo.ics"]).ok
    group = "7c2b9e44-1f0a-4c6d-8e3b-5a9d0c1f2e33"
    values = replica.values(group)
    calendar.save_event(replica, group, {**values, "title": "Book club", "location": "Library"})
    [path] = export_library(replica, tmp_path / "out")
    lines = ics_raw.unfold(path.read_text(encoding="utf-8"))
    assert "SUMMARY:Book club" in lines
    assert "ORGANIZER;CN=Alex Doe:mailto:alex@example.org" in lines
    assert "X-MOZ-LASTACK:20260301T090500Z" in lines
    assert "BEGIN:VTODO" in lines


def test_an_export_over_ten_megabytes_imports_again(replicas: Replicas, tmp_path: Path):
    """Regression (issue 15, item 7): a file over 10 MB was refused, even the app's own export."""
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//test//big//EN", "X-WR-CALNAME:Big"]
    for i in range(1_200):
        lines += [
            "BEGIN:VEVENT",
            f"UID:big-{i}",
            "DTSTAMP:20260101T000000Z",
            f"DTSTART:2026{1 + i % 12:02d}{1 + i % 28:02d}T{i % 24:02d}0000Z",
            f"SUMMARY:Event {i}",
            f"DESCRIPTION:{'long notes ' * 900}",
            "END:VEVENT",
        ]
    source = tmp_path / "big.ics"
    source.write_text("\r\n".join([*lines, "END:VCALENDAR"]) + "\r\n", encoding="utf-8")
    first = replicas.create("a", "A")
    assert import_files(first, [source]).ok
    [exported] = export_library(first, tmp_path / "out")
    assert exported.stat().st_size > 10 * 1024 * 1024
    second = replicas.create("b", "B")
    report = import_files(second, [exported])
    assert report.ok, report.messages()
    assert len(report.events) == 1_200


def test_untitled_notes_are_exported_under_their_first_line(replicas: Replicas, tmp_path: Path):
    """Regression (issue 15, item 9): a note titled by its first line was ``untitled (hash).md``."""
    replica = replicas.create("a", "A")
    note = notes.create_note(replica).entities[0]
    replica.edit_text(note, [(0, 0, "Shopping list\n- milk\n")])
    written = export_library(replica, tmp_path / "out")
    assert [p.name for p in written] == ["Shopping list.md"]


def test_other_tools_front_matter_survives_an_edit_in_the_app(replicas: Replicas, tmp_path: Path):
    replica = replicas.create("a", "A")
    source = tmp_path / "obsidian.md"
    source.write_text(
        '---\ntitle: Obsidian style\ntags: [travel, "2026", portugal]\ndate: 2026-05-01\n'
        "publish: true\ncover:\n  image: lisbon.jpg\n---\nBody\n",
        encoding="utf-8",
    )
    report = import_files(replica, [source])
    assert report.ok, report.messages()
    [note] = report.notes
    notes.set_title(replica, note, "Renamed")
    notes.set_tags(replica, note, ["travel"])
    [path] = export_library(replica, tmp_path / "out")
    text = path.read_text(encoding="utf-8")
    assert 'title: "Renamed"' in text
    assert "date: 2026-05-01\npublish: true\ncover:\n  image: lisbon.jpg\n---\nBody\n" in text
