"""The two-way mirror folder (sync.mirror) with a real watchdog observer on tmp_path.

A one-thread executor owns the replicas, as the app's backend does. Tests wait on conditions
(polling with a deadline); to know that every earlier file event was handled, a test drops a
"barrier" file and waits for its note: inotify delivers events in order.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from localfirst import Replica, calendar
from localfirst.booking import BOOK
from localfirst.write import Ordered, Put, TextEdit
from storage import create_library, join_library
from sync.mirror import MANIFEST, Mirror
from tests.polling import wait_for
from tests.storage.test_files import HOSTILE, tree


class Env:
    """Two replicas of one library owned by one thread, and mirrors of replica A."""

    def __init__(self, tmp_path: Path) -> None:
        self.pool = ThreadPoolExecutor(1, thread_name_prefix="owner")
        self.parent = tmp_path / "parent"
        self.folder = self.parent / "mirror"
        self.folder.mkdir(parents=True)
        (self.parent / "keep.txt").write_text("keep")
        self.a: Replica = self.run(lambda: create_library(tmp_path / "a.db", "A", members={"B": ""}))
        self.b: Replica = self.run(lambda: join_library(tmp_path / "b.db", "B", self.a.genesis()))
        self.mirrors: list[Mirror] = []
        self.barriers = 0

    def run(self, fn: Callable[..., Any], *args: Any) -> Any:
        return self.pool.submit(fn, *args).result()

    def access(self, fn: Callable[[Replica], Any]) -> Any:
        return self.pool.submit(fn, self.a)

    def mirror(self) -> Mirror:
        mirror = Mirror(self.access, self.folder, debounce=0.1)
        mirror.start()
        self.mirrors.append(mirror)
        return mirror

    def stop(self, mirror: Mirror) -> None:
        mirror.stop()
        self.mirrors.remove(mirror)

    def close(self) -> None:
        for mirror in self.mirrors:
            mirror.stop()
        self.run(self.a.close)
        self.run(self.b.close)
        self.pool.shutdown()

    def sync(self) -> None:
        """Anti-entropy both ways; A's mirror hears of what A received."""

        def both() -> None:
            changes = self.a.receive(self.b.batch_for(self.a.summary()))
            self.b.receive(self.a.batch_for(self.b.summary()))
            for mirror in self.mirrors:
                mirror.on_change(changes)

        self.run(both)

    def write_all(self) -> None:
        def write() -> None:
            for mirror in self.mirrors:
                mirror.write_all()

        self.run(write)

    def body(self, replica: Replica, note: str) -> str:
        return str(self.run(lambda: replica.values(note).get("body", "")))

    def titles(self) -> dict[str, str]:
        return dict(self.run(lambda: {k: d.value("title") for k, d in self.a.entities("note").items()}))

    def writes_to(self, entity: str) -> int:
        def count() -> int:
            return sum(
                1
                for entry in self.a.log()
                if any(isinstance(op, Put | TextEdit) and op.entity == entity for op in entry.write.ops)
            )

        return int(self.run(count))

    def barrier(self) -> None:
        """Return once every file event before this call was handled."""
        self.barriers += 1
        title = f"barrier {self.barriers}"
        (self.folder / f"{title}.md").write_text("b")
        wait_for(lambda: title in self.titles().values(), what=title)

    def outside_untouched(self, before: dict[str, bytes | str]) -> None:
        after = tree(self.parent)
        assert {k: v for k, v in after.items() if not k.startswith("mirror/")} == before


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    environment = Env(tmp_path)
    try:
        yield environment
    finally:
        environment.close()


def read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def test_library_is_written_and_our_own_writes_never_echo(env: Env):
    note = env.run(lambda: env.a.create("note", {"title": "Groceries", "tags": ["home"], "body": "milk\n"}))
    cal = env.run(lambda: env.a.create("calendar", {"name": "Work"}))
    env.run(
        lambda: env.a.create(
            "event",
            {
                "calendar": cal,
                "title": "Standup",
                "start": "2026-11-21T10:00:00",
                "end": "2026-11-21T10:15:00",
                "tz": "Europe/Berlin",
                "all_day": False,
                "reminders": [10],
            },
            "ev1",
        )
    )
    mirror = env.mirror()
    text = read(env.folder / "Groceries.md")
    assert text.startswith(f'---\nid: "{note}"\ntitle: "Groceries"\ntags: ["home"]\npinned: false\n')
    assert text.endswith("---\nmilk\n")
    ics = read(env.folder / "Work.ics")
    assert "DTSTART;TZID=Europe/Berlin:20261121T100000" in ics
    assert "TRIGGER:-PT10M" in ics
    assert (env.folder / MANIFEST).exists()
    writes = env.writes_to(note)
    # An in-app edit rewrites the file; the watcher sees our write and ignores it.
    env.run(lambda: env.a.edit_text(note, [(4, 0, " and oats")]))
    env.write_all()
    assert read(env.folder / "Groceries.md").endswith("---\nmilk and oats\n")
    env.barrier()
    assert env.writes_to(note) == writes + 1
    assert mirror.errors == []


def test_temp_file_then_rename_is_one_edit(env: Env):
    note = env.run(lambda: env.a.create("note", {"title": "Draft", "body": "first line\n"}))
    mirror = env.mirror()
    path = env.folder / "Draft.md"
    writes = env.writes_to(note)
    new = read(path).replace("first line\n", "first line\nsecond line\n")
    for temp in (env.folder / ".Draft.md.swp", env.folder / "Draft.md.tmp"):
        temp.write_text(new + "partial", encoding="utf-8")
        temp.write_text(new, encoding="utf-8")
        os.replace(temp, path)
    wait_for(lambda: env.body(env.a, note) == "first line\nsecond line\n", what="the edit")
    env.barrier()
    assert env.writes_to(note) == writes + 1  # exactly one new write in the log
    assert mirror.errors == []


def test_external_edit_merges_with_a_concurrent_edit_on_another_device(env: Env):
    note = env.run(lambda: env.a.create("note", {"title": "Shared", "body": "hello world\n"}))
    env.sync()
    env.mirror()
    path = env.folder / "Shared.md"
    # Device B types at the start while an editor on A appends at the end of the body.
    env.run(lambda: env.b.edit_text(note, [(0, 0, "typed on B: ")]))
    path.write_text(read(path) + "from the editor\n", encoding="utf-8")
    wait_for(lambda: env.body(env.a, note) == "hello world\nfrom the editor\n", what="the external edit")
    env.sync()
    merged = "typed on B: hello world\nfrom the editor\n"
    assert env.body(env.a, note) == merged
    assert env.body(env.b, note) == merged
    assert read(path).endswith("---\n" + merged)


def test_typing_received_from_a_peer_rewrites_the_file_without_reading_the_log(env: Env):
    note = env.run(lambda: env.a.create("note", {"title": "Typed", "body": "start\n"}))
    env.sync()
    mirror = env.mirror()
    path = env.folder / "Typed.md"
    assert read(path).endswith("---\nstart\n")
    # Decoding the log on every change made each keystroke from a peer cost the whole log.
    reads: list[str] = []
    log, tentative = env.a.log, env.a.tentative

    def counted_log() -> Any:
        reads.append("log")
        return log()

    def counted_tentative() -> Any:
        reads.append("tentative")
        return tentative()

    env.a.log, env.a.tentative = counted_log, counted_tentative  # type: ignore[method-assign]
    # Only a text edit: no field of the note changes, the file must still follow.
    env.run(lambda: env.b.edit_text(note, [(5, 0, " typed on B")]))
    env.sync()
    assert read(path).endswith("---\nstart typed on B\n")
    assert reads == []
    assert mirror.errors == []


def test_new_files_become_notes_and_deleted_files_delete_them(env: Env):
    made = env.run(lambda: env.a.create("note", {"title": "Made here", "body": "x"}))
    mirror = env.mirror()
    (env.folder / "Ideas.md").write_text("# ideas\n- one\n", encoding="utf-8")
    note = wait_for(
        lambda: next((k for k, t in env.titles().items() if t == "Ideas"), ""), what="the new note"
    )
    assert env.body(env.a, note) == "# ideas\n- one\n"
    env.barrier()
    # Another program's file is bound to its note by the mirror's state: it is not rewritten.
    assert read(env.folder / "Ideas.md") == "# ideas\n- one\n"
    # A copy of a note's file (same id) is a note of its own.
    (env.folder / "Made here copy.md").write_text(read(env.folder / "Made here.md"), encoding="utf-8")
    wait_for(lambda: len([t for t in env.titles().values() if t == "Made here"]) == 2, what="the copy")
    (env.folder / "Ideas.md").unlink()
    (env.folder / "Made here.md").unlink()
    wait_for(lambda: note not in env.titles() and made not in env.titles(), what="the deletions")
    assert len([t for t in env.titles().values() if t == "Made here"]) == 1
    assert mirror.errors == []


def test_renamed_title_moves_the_file_and_name_clashes_stay_distinct(env: Env):
    one = env.run(lambda: env.a.create("note", {"title": "Same", "body": "1"}))
    two = env.run(lambda: env.a.create("note", {"title": "Same", "body": "2"}))
    env.mirror()
    names = sorted(n for n in os.listdir(env.folder) if n.endswith(".md"))
    assert len(names) == 2
    assert "Same.md" in names
    assert any(n.startswith("Same (") for n in names)
    three = env.run(lambda: env.a.create("note", {"title": "Same", "body": "3"}))
    env.write_all()
    after = sorted(n for n in os.listdir(env.folder) if n.endswith(".md"))
    assert set(names) < set(after)  # existing files keep their names
    env.run(lambda: env.a.put("note", one, {"title": "Renamed"}))
    env.write_all()
    assert (env.folder / "Renamed.md").exists()
    assert len([n for n in os.listdir(env.folder) if n.endswith(".md")]) == 3
    assert {two, three} <= set(env.titles())


def test_hostile_titles_from_a_peer_never_leave_the_folder(env: Env):
    before = tree(env.parent)
    mirror = env.mirror()
    for title in HOSTILE:
        env.run(env.b.create, "note", {"title": title, "body": "x"})
    env.run(lambda: env.b.create("calendar", {"name": "../../../calendar"}))
    env.sync()
    names = [n for n in os.listdir(env.folder) if not n.startswith(".")]
    assert len(names) == len(HOSTILE) + 1
    env.outside_untouched(before)
    env.barrier()
    assert mirror.errors == []
    env.outside_untouched(before)


def test_bad_files_are_reported_nothing_applied_and_the_watcher_keeps_running(env: Env):
    note = env.run(lambda: env.a.create("note", {"title": "Kept", "body": "kept"}))
    victim = env.parent / "victim.md"
    victim.write_text('---\ntitle: "victim"\n---\nsecret', encoding="utf-8")
    before = tree(env.parent)
    mirror = env.mirror()
    count = len(env.titles())
    (env.folder / "broken.md").write_text("---\ntitle: [oops\n---\n", encoding="utf-8")
    (env.folder / "binary.md").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00")
    (env.folder / "latin.md").write_bytes("caf\xe9".encode("latin-1"))
    (env.folder / "broken.ics").write_text(
        "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nDTSTART:x\r\n", encoding="utf-8"
    )
    with (env.folder / "huge.md").open("wb") as f:
        f.truncate(11 * 1024 * 1024)  # over the 10 MB cap there was: no size limit now
    (env.folder / "link.md").symlink_to(victim)
    (env.folder / "Kept.md").unlink()
    (env.folder / "Kept.md").symlink_to(victim)  # a link planted where a note's file was
    gone = env.folder / "gone.md"
    gone.write_text("here and gone")
    gone.unlink()
    expected = {"broken.md", "binary.md", "latin.md", "broken.ics", "huge.md", "link.md", "Kept.md"}
    wait_for(lambda: expected <= {e.name for e in mirror.errors}, what="an error per bad file")
    messages = {e.name: e.message for e in mirror.errors}
    assert "line 2" in messages["broken.md"]
    assert "binary" in messages["binary.md"]
    assert "UTF-8" in messages["latin.md"]
    assert "binary" in messages["huge.md"]  # read whole (no size cap), then refused as binary
    assert "symbolic link" in messages["link.md"]
    assert "symbolic link" in messages["Kept.md"]
    env.barrier()
    assert len(env.titles()) == count + 1  # only the barrier's note
    assert "victim" not in env.titles().values()
    # The note whose file became a link is kept; writing it never goes through the link.
    env.run(lambda: env.a.edit_text(note, [(0, 0, "still ")]))
    env.write_all()
    assert env.body(env.a, note) == "still kept"
    env.outside_untouched(before)
    assert victim.read_text() == '---\ntitle: "victim"\n---\nsecret'


def test_edits_made_while_stopped_are_picked_up_on_start(env: Env):
    keep = env.run(lambda: env.a.create("note", {"title": "Edited", "body": "v1"}))
    drop = env.run(lambda: env.a.create("note", {"title": "Dropped", "body": "x"}))
    env.stop(env.mirror())
    edited = env.folder / "Edited.md"
    edited.write_text(read(edited).replace("v1", "v2"), encoding="utf-8")
    (env.folder / "Dropped.md").unlink()
    (env.folder / "Offline.md").write_text("written offline", encoding="utf-8")
    env.mirror()
    assert env.body(env.a, keep) == "v2"
    titles = env.titles()
    assert drop not in titles
    assert "Offline" in titles.values()


def test_a_wiped_folder_rewrites_the_library_instead_of_deleting_it(env: Env):
    env.run(lambda: env.a.create("note", {"title": "Precious", "body": "x"}))
    env.stop(env.mirror())
    for name in os.listdir(env.folder):
        if name.endswith(".md"):
            (env.folder / name).unlink()
    mirror = env.mirror()
    assert "Precious" in env.titles().values()
    assert (env.folder / "Precious.md").exists()
    assert [e.message for e in mirror.errors] == [
        "the mirror folder lost every note file; writing the library again"
    ]


def test_calendar_file_edits_become_event_writes(env: Env):
    cal = env.run(lambda: env.a.create("calendar", {"name": "Home"}))
    for key in ("e1", "e2"):
        fields = {"calendar": cal, "title": key, "start": "2026-01-01", "end": "2026-01-02", "all_day": True}
        env.run(env.a.create, "event", fields, key)
    mirror = env.mirror()
    path = env.folder / "Home.ics"
    with path.open(encoding="utf-8", newline="") as f:
        text = f.read()
    start = text.rindex("BEGIN:VEVENT\r\n", 0, text.index("SUMMARY:e2"))
    end = text.index("END:VEVENT\r\n", start) + len("END:VEVENT\r\n")
    path.write_text(
        text[:start].replace("SUMMARY:e1", "SUMMARY:renamed") + text[end:], encoding="utf-8", newline=""
    )
    wait_for(lambda: env.run(lambda: set(env.a.entities("event"))) == {"e1"}, what="the removed event")
    assert env.run(lambda: env.a.values("e1")["title"]) == "renamed"
    assert mirror.errors == []


def test_a_file_with_two_calendars_is_left_alone_not_rewritten_without_the_second(env: Env):
    mirror = env.mirror()
    event = (
        "BEGIN:VEVENT\r\nUID:{0}\r\nDTSTART:20260101T100000Z\r\nDTEND:20260101T110000Z\r\n"
        "SUMMARY:{0}\r\nEND:VEVENT\r\n"
    )
    text = "".join(
        f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//other//EN\r\nX-WR-CALNAME:{name}\r\n"
        + event.format(name.lower())
        + "END:VCALENDAR\r\n"
        for name in ("First", "Second")
    )
    path = env.folder / "two.ics"
    path.write_bytes(text.encode())
    wait_for(lambda: "two.ics" in {e.name for e in mirror.errors}, what="the two-calendar file's error")
    [message] = [e.message for e in mirror.errors if e.name == "two.ics"]
    assert "holds 2 calendars" in message
    env.barrier()
    assert path.read_bytes() == text.encode()
    assert env.run(lambda: env.a.entities("calendar")) == {}


def test_an_event_added_to_a_bookable_calendars_file_is_booked_like_in_the_window(env: Env):
    room = env.run(lambda: env.a.create("calendar", {"name": "Room", "bookable": True}))
    fields = {"calendar": room, "title": "held", "all_day": False, "tz": None}
    times = {"start": "2026-11-23T10:00:00", "end": "2026-11-23T11:00:00"}
    env.run(lambda: calendar.save_event(env.a, "held", fields | times))
    mirror = env.mirror()
    path = env.folder / "Room.ics"
    with path.open(encoding="utf-8", newline="") as f:
        text = f.read()
    start = text.rindex("BEGIN:VEVENT\r\n")
    end = text.index("END:VEVENT\r\n", start) + len("END:VEVENT\r\n")
    # Another program adds an event overlapping the one that holds the slot.
    late = text[start:end].replace("UID:held", "UID:late").replace("SUMMARY:held", "SUMMARY:late")
    late = late.replace("T100000", "T103000").replace("T110000", "T113000")
    path.write_text(text[:end] + late + text[end:], encoding="utf-8", newline="")
    wait_for(lambda: env.run(lambda: env.a.booking("late")), what="the added event")
    held, late_booking = env.run(lambda: (env.a.booking("held"), env.a.booking("late")))
    assert held is not None
    assert held.slot is not None
    assert late_booking is not None
    assert late_booking.slot is None  # a visible conflict, as in the window
    booked = env.run(
        lambda: [
            op.params["event"]
            for write in env.a.tentative()
            for op in write.ops
            if isinstance(op, Ordered) and op.procedure == BOOK
        ]
    )
    assert booked == ["held", "late"]  # asked through the log, not written beside it
    assert mirror.errors == []
