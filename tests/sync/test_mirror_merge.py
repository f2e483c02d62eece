"""The mirror keeps other programs' files where they are and never loses a concurrent edit.

Files another program made keep their names and bytes until the library changes what they
hold; an outside edit is merged three ways against the version the mirror last wrote or read
(or an older one an editor's buffer still held), so an edit made in the app or received from a
peer meanwhile survives, and the same field changed on both sides is kept as siblings.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from localfirst import notes
from localfirst.edits import QUIET_FIELDS
from sync.mirror import Mirror
from tests.polling import wait_for
from tests.sync.test_mirror import Env, env, read

__all__ = ["env"]  # the fixture, shared with test_mirror

OBSIDIAN = """---
title: Obsidian style
date: 2026-01-05
publish: true
---
# Heading
body
"""

MEETINGS = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Other app//EN\r\nX-WR-CALNAME:Meetings\r\n"
    "BEGIN:VEVENT\r\nUID:m1\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20260105T100000Z\r\n"
    "DTEND:20260105T110000Z\r\nSUMMARY:Planning\r\nEND:VEVENT\r\n"
    "END:VCALENDAR\r\n"
)


def _note(env: Env, title: str) -> str:
    return str(wait_for(lambda: next((k for k, t in env.titles().items() if t == title), ""), what=title))


def _conflicts(env: Env, entity: str) -> list[str]:
    """The conflicts a user is shown (timestamps' siblings are not)."""
    doc = env.run(lambda: env.a.get(entity))
    return [f for f in env.run(doc.conflicts) if f not in QUIET_FIELDS]


def _slow_mirror(env: Env, debounce: float) -> Mirror:
    mirror = Mirror(env.access, env.folder, debounce=debounce)
    mirror.start()
    env.mirrors.append(mirror)
    return mirror


def _stat(path: Path) -> tuple[int, int]:
    info = path.stat()
    return info.st_ino, info.st_mtime_ns


def test_files_another_program_made_are_never_renamed_or_rewritten_unless_the_library_changes(env: Env):
    (env.folder / "obsidian.md").write_text(OBSIDIAN, encoding="utf-8")
    (env.folder / "meetings-with-todo.ics").write_bytes(MEETINGS.encode())
    before = {n: _stat(env.folder / n) for n in ("obsidian.md", "meetings-with-todo.ics")}
    mirror = env.mirror()
    note = _note(env, "Obsidian style")
    assert env.body(env.a, note) == "# Heading\nbody\n"
    assert env.run(lambda: env.a.values("m1")["title"]) == "Planning"
    names = sorted(n for n in os.listdir(env.folder) if not n.startswith("."))
    assert names == ["meetings-with-todo.ics", "obsidian.md"]
    assert read(env.folder / "obsidian.md") == OBSIDIAN
    assert (env.folder / "meetings-with-todo.ics").read_bytes() == MEETINGS.encode()
    assert {n: _stat(env.folder / n) for n in before} == before  # not even rewritten in place
    # A restart changes nothing either.
    env.stop(mirror)
    mirror = env.mirror()
    assert {n: _stat(env.folder / n) for n in before} == before
    # Renaming the note in the app writes the file back in place, under its own name.
    env.run(lambda: notes.set_title(env.a, note, "Renamed in the app"))
    env.write_all()
    assert sorted(n for n in os.listdir(env.folder) if not n.startswith(".")) == names
    assert "Renamed in the app" in read(env.folder / "obsidian.md")
    assert read(env.folder / "obsidian.md").endswith("# Heading\nbody\n")
    assert mirror.errors == []


def test_a_file_renamed_by_another_program_keeps_its_note_and_its_new_name(env: Env):
    note = env.run(lambda: env.a.create("note", {"title": "Moved", "body": "x\n"}))
    env.mirror()
    os.replace(env.folder / "Moved.md", env.folder / "elsewhere.md")
    env.barrier()
    assert env.titles()[note] == "Moved"
    assert len([t for t in env.titles().values() if t == "Moved"]) == 1
    env.run(lambda: env.a.edit_text(note, [(0, 0, "more ")]))
    env.write_all()
    assert not (env.folder / "Moved.md").exists()
    assert read(env.folder / "elsewhere.md").endswith("---\nmore x\n")


def test_an_in_app_edit_landing_right_after_a_file_save_is_not_reverted(env: Env):
    note = env.run(lambda: env.a.create("note", {"title": "Plan", "body": "one\ntwo\nthree\n"}))
    _slow_mirror(env, debounce=1.5)
    path = env.folder / "Plan.md"
    # Someone saves the file; within the debounce the app edits another field and the body.
    path.write_text(read(path).replace("three\n", "three\nfrom the file\n"), encoding="utf-8")
    env.run(lambda: notes.set_title(env.a, note, "Plan (app)"))
    env.run(lambda: env.a.edit_text(note, [(0, 0, "from the app\n")]))
    env.write_all()  # the file has an unapplied edit: it is read first, never overwritten
    merged = "from the app\none\ntwo\nthree\nfrom the file\n"
    wait_for(lambda: env.body(env.a, note) == merged, what="both edits")
    assert env.titles()[note] == "Plan (app)"
    renamed = env.folder / "Plan (app).md"  # the mirror made this file: it follows the title
    wait_for(lambda: renamed.exists() and read(renamed).endswith("---\n" + merged), what="the file")
    assert not path.exists()
    assert _conflicts(env, note) == []


def test_the_same_field_changed_in_the_file_and_in_the_app_keeps_both_as_siblings(env: Env):
    note = env.run(lambda: env.a.create("note", {"title": "Old", "body": "b\n"}))
    _slow_mirror(env, debounce=1.5)
    path = env.folder / "Old.md"
    path.write_text(read(path).replace('title: "Old"', 'title: "From the file"'), encoding="utf-8")
    env.run(lambda: notes.set_title(env.a, note, "From the app"))
    wait_for(lambda: _conflicts(env, note) == ["title"], what="the conflict")
    versions = env.run(lambda: {v[2] for v in env.a.get(note).versions("title")})  # type: ignore[union-attr]
    assert versions == {"From the file", "From the app"}


def test_an_editor_saving_an_older_buffer_does_not_revert_a_peers_edit(env: Env):
    note = env.run(lambda: env.a.create("note", {"title": "Shared", "body": "first\nsecond\n"}))
    env.sync()
    mirror = env.mirror()
    path = env.folder / "Shared.md"
    buffer = read(path)  # an editor opens the file
    # Another device pins the note and edits the body; the mirror rewrites the file.
    env.run(lambda: notes.set_pinned(env.b, note, True))
    env.run(lambda: env.b.edit_text(note, [(0, 0, "peer line\n")]))
    env.sync()
    assert "pinned: true" in read(path)
    # The editor saves its old buffer with its own change.
    path.write_text(buffer.replace("second\n", "second\nfrom the editor\n"), encoding="utf-8")
    merged = "peer line\nfirst\nsecond\nfrom the editor\n"
    wait_for(lambda: env.body(env.a, note) == merged, what="the editor's edit")
    assert env.run(lambda: env.a.values(note)["pinned"]) is True
    env.sync()
    assert env.body(env.b, note) == merged
    wait_for(lambda: read(path).endswith("---\n" + merged), what="the merged file")
    assert mirror.errors == []


def test_a_calendar_saved_from_an_older_buffer_keeps_events_added_since(env: Env):
    cal = env.run(lambda: env.a.create("calendar", {"name": "Home"}))
    fields = {"calendar": cal, "title": "old", "start": "2026-01-01", "end": "2026-01-02", "all_day": True}
    env.run(env.a.create, "event", fields, "e1")
    env.sync()
    mirror = env.mirror()
    path = env.folder / "Home.ics"
    with path.open(encoding="utf-8", newline="") as f:
        buffer = f.read()
    # A peer adds an event; the file is rewritten with it.
    env.run(env.b.create, "event", {**fields, "title": "added on B"}, "e2")
    env.sync()
    assert "added on B" in path.read_text(encoding="utf-8")
    # The editor saves its old buffer (without e2), having renamed e1.
    path.write_text(buffer.replace("SUMMARY:old", "SUMMARY:renamed"), encoding="utf-8", newline="")
    wait_for(lambda: env.run(lambda: env.a.values("e1")["title"]) == "renamed", what="the rename")
    assert env.run(lambda: env.a.values("e2")["title"]) == "added on B"
    wait_for(lambda: "added on B" in path.read_text(encoding="utf-8"), what="e2 written back")
    assert mirror.errors == []


def test_a_start_with_nothing_changed_reads_and_writes_nothing(env: Env):
    env.run(lambda: env.a.create("note", {"title": "Kept", "body": "x"}))
    cal = env.run(lambda: env.a.create("calendar", {"name": "Cal"}))
    fields = {"calendar": cal, "title": "e", "start": "2026-01-01", "end": "2026-01-02", "all_day": True}
    env.run(env.a.create, "event", fields, "e1")
    env.stop(env.mirror())
    files = sorted(p for p in env.folder.iterdir())
    before = {p.name: _stat(p) for p in files}
    reads: list[str] = []
    import storage.files as plain

    real = plain.Folder.read

    def counted(self: plain.Folder, name: str, limit: int | None = plain.MAX_FILE_BYTES) -> bytes:
        reads.append(name)
        return real(self, name, limit)

    plain.Folder.read = counted  # type: ignore[method-assign]
    try:
        env.stop(env.mirror())
    finally:
        plain.Folder.read = real  # type: ignore[method-assign]
    assert [n for n in reads if not n.startswith(".")] == []
    assert {p.name: _stat(p) for p in sorted(env.folder.iterdir())} == before
    # One event changed in the library: only its calendar's file is written.
    env.run(lambda: env.a.put("event", "e1", {"title": "changed"}))
    env.run(env.a.commit)  # the change reaches the mirror's look-up as a committed write
    time.sleep(0.01)
    env.stop(env.mirror())
    after = {p.name: _stat(p) for p in sorted(env.folder.iterdir())}
    assert after["Kept.md"] == before["Kept.md"]
    assert after["Cal.ics"] != before["Cal.ics"]
    assert "SUMMARY:changed" in (env.folder / "Cal.ics").read_text(encoding="utf-8")


def test_an_edit_of_the_file_just_written_is_not_merged_as_an_old_buffer(env: Env):
    # Regression: with several bases held (the note empty, then typed into), an edit of the
    # newest one was merged from the empty one and the body came out twice.
    note = env.run(lambda: env.a.create("note", {"title": "Ideas", "body": ""}))
    mirror = env.mirror()
    path = env.folder / "Ideas.md"
    for at, typed in ((0, "first"), (5, " thought")):
        env.run(env.a.edit_text, note, [(at, 0, typed)])
        env.write_all()
    assert read(path).endswith("---\nfirst thought")
    path.write_text(read(path).replace("first thought", "first thought, edited elsewhere"), encoding="utf-8")
    wait_for(lambda: env.body(env.a, note) != "first thought", what="the edit")
    assert env.body(env.a, note) == "first thought, edited elsewhere"
    assert mirror.errors == []


def test_a_link_planted_as_the_bases_folder_is_never_written_through(env: Env):
    outside = env.parent / "outside"
    outside.mkdir()
    (env.folder / ".localfirst-base").symlink_to(outside)
    note = env.run(lambda: env.a.create("note", {"title": "Safe", "body": "one\n"}))
    env.mirror()
    path = env.folder / "Safe.md"
    path.write_text(read(path).replace("one\n", "one\ntwo\n"), encoding="utf-8")
    wait_for(lambda: env.body(env.a, note) == "one\ntwo\n", what="the edit, merged without a base")
    assert list(outside.iterdir()) == []
    assert (env.folder / ".localfirst-base").is_symlink()
