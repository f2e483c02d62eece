"""Render each main view with sample data to PNG files, offscreen (no display needed).

    python -m ui.render OUTDIR [--theme light|dark|both]

Writes ``calendar-month``, ``calendar-week``, ``calendar-day``, ``calendar-agenda``,
``notes``, ``notes-preview``, ``conflicts`` and ``devices``, each as ``NAME-light.png`` and
``NAME-dark.png`` (1400x900 windows); ``python -m ui.render docs/gallery`` regenerates the
README's gallery.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from localfirst import Replica
    from ui.main_window import MainWindow

SAMPLE_BODY = """# Trip to the lake

Pack **warm clothes**, the _good_ stove and `spare gas`.

- [x] tent and sleeping bags
- [ ] [map](https://example.com/lake-map)
- [ ] buy food, see [[Groceries]]

```
check weather the night before
```
<script>alert('synced text is shown as text')</script>
"""


def sample_library(data_dir: Path) -> Path:
    """A library of two devices with notes, tags, a pinned note, a title conflict and a week of
    events; the views show the laptop's replica, where a booking waits for the primary (desk)."""
    from sync.const import LIBRARY_FILE
    from sync.plainfiles import create_library, join_library

    path = data_dir / LIBRARY_FILE
    desk = create_library(
        data_dir / "desk.sqlite", "desk-" + "0" * 59, device_name="Desk", members={"laptop": "Laptop"}
    )
    laptop = join_library(path, "laptop", desk.genesis())
    try:
        desk.create(
            "note", {"title": "Trip to the lake", "tags": ["travel"], "pinned": True, "body": SAMPLE_BODY}
        )
        desk.create("note", {"title": "Groceries", "tags": ["home"], "body": "milk\nbread\ncheese"})
        desk.create("note", {"title": "Book ideas", "body": "A story told by a *calendar*."})
        plan = desk.create("note", {"title": "Quarterly plan", "tags": ["work"], "body": "Goals..."})
        sample_calendar(desk, laptop)
        laptop.receive(desk.batch_for(laptop.summary()))
        desk.put("note", plan, {"title": "Quarterly plan (draft 2)"})
        laptop.put("note", plan, {"title": "Q3 plan"})
        desk.receive(laptop.batch_for(desk.summary()))
        laptop.receive(desk.batch_for(laptop.summary()))
    finally:
        laptop.close()
        desk.close()
    return path


def sample_calendar(desk: Replica, laptop: Replica) -> None:
    """This week: a recurring stand-up, meetings, an all-day event, and a booking of the
    meeting room made on the laptop, still tentative on the desk (the primary has not
    committed it yet)."""
    today = datetime.now(UTC).date()
    monday = today - timedelta(days=today.weekday())

    def at(day: int, hour: int, minute: int = 0) -> str:
        moment = datetime.combine(monday + timedelta(days=day), time(hour, minute))
        return moment.strftime("%Y-%m-%dT%H:%M:%S")

    desk.create("calendar", {"name": "Work", "colour": "#4a7fd4"}, entity="work")
    desk.create("calendar", {"name": "Home", "colour": "#2e9e5b"}, entity="home")
    desk.create("calendar", {"name": "Meeting room", "colour": "#d4794a", "bookable": True}, entity="room")
    timed = {"tz": "UTC", "all_day": False}
    desk.create(
        "event",
        {
            **timed,
            "calendar": "work",
            "title": "Stand-up",
            "start": at(0, 9, 30),
            "end": at(0, 9, 45),
            "rrule": "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR",
            "reminders": [5],
        },
    )
    desk.create(
        "event",
        {
            **timed,
            "calendar": "work",
            "title": "Design review",
            "start": at(1, 14),
            "end": at(1, 15, 30),
            "location": "Room 2",
        },
    )
    desk.create(
        "event", {**timed, "calendar": "home", "title": "Dentist", "start": at(3, 11), "end": at(3, 12)}
    )
    desk.create(
        "event",
        {
            "calendar": "home",
            "title": "Lake weekend",
            "all_day": True,
            "start": (monday + timedelta(days=5)).isoformat(),
            "end": (monday + timedelta(days=7)).isoformat(),
        },
    )
    busy_week(desk, at)
    laptop.receive(desk.batch_for(laptop.summary()))
    start = datetime.combine(today, time(15), tzinfo=UTC)
    slot = (int(start.timestamp()), int((start + timedelta(hours=1)).timestamp()))
    fields = {
        "title": "Planning",
        "tz": "UTC",
        "start": at(today.weekday(), 15),
        "end": at(today.weekday(), 16),
    }
    laptop.book("room", [slot], fields)
    desk.receive(laptop.batch_for(desk.summary()))


def busy_week(desk: Replica, at: Callable[[int, int, int], str]) -> None:
    """What makes a week busy: overlapping meetings, short calls, a trip over several days, and
    a Thursday with more events than a month cell holds."""
    timed = {"tz": "UTC", "all_day": False}
    busy = [
        ("work", "1:1 with Sam", 0, (11, 0), (11, 30), ""),
        ("work", "Quarterly planning with the whole product team", 0, (13, 0), (15, 0), "Big room"),
        ("work", "Budget check", 0, (14, 0), (14, 15), ""),
        ("work", "Hiring sync", 0, (14, 30), (15, 30), ""),
        ("home", "Gym", 1, (7, 0), (8, 0), ""),
        ("work", "Customer call: Acme renewal", 1, (10, 0), (10, 15), ""),
        ("work", "Release notes", 1, (10, 15), (11, 0), ""),
        ("work", "Lunch & learn: accessibility", 2, (12, 0), (13, 0), "Kitchen"),
        ("home", "Pick up the kids", 2, (16, 30), (17, 0), ""),
        ("work", "Incident review", 3, (9, 0), (10, 0), ""),
        ("work", "Roadmap", 3, (13, 0), (14, 0), ""),
        ("work", "Vendor demo", 3, (15, 0), (15, 30), ""),
        ("home", "Piano lesson", 3, (17, 0), (18, 0), ""),
        ("home", "Dinner with Alex", 3, (19, 30), (21, 0), "Chez Marcel"),
        ("work", "Retro", 4, (16, 0), (17, 0), ""),
    ]
    for cal, title, day, (h0, m0), (h1, m1), where in busy:
        fields = {**timed, "calendar": cal, "title": title, "start": at(day, h0, m0), "end": at(day, h1, m1)}
        if where:
            fields["location"] = where
        desk.create("event", fields)
    desk.create(
        "event",
        {**timed, "calendar": "work", "title": "Offsite in Lyon", "start": at(9, 9, 0), "end": at(11, 17, 0)},
    )


def render(outdir: Path, themes: tuple[str, ...] = ("light", "dark")) -> list[Path]:
    written: list[Path] = []
    for theme in themes:
        written += render_theme(outdir, theme)
    return written


def render_theme(outdir: Path, theme: str) -> list[Path]:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from sync.plainfiles import open_replica
    from ui.backend import Backend, LocalService
    from ui.main_window import MainWindow
    from ui.qt import QApplication, QWidget
    from ui.theme import apply_theme

    app = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(app, QApplication)
    outdir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    with tempfile.TemporaryDirectory() as tmp:
        path = sample_library(Path(tmp))
        backend = Backend(LocalService(lambda: open_replica(path)), path)
        window = MainWindow(backend, Path(tmp))
        apply_theme(app, theme)  # after the window applied any saved preferences
        window.resize(1400, 900)
        window.show()

        def wait(cond: Callable[[], bool]) -> None:
            for _ in range(500):
                app.processEvents()
                backend.call(lambda _r: None)
                app.processEvents()
                if cond():
                    return

        def save(widget: QWidget, name: str) -> None:
            app.processEvents()
            target = outdir / f"{name}-{theme}.png"
            widget.grab().save(str(target))
            written.append(target)

        try:
            shoot(window, wait, save)
        finally:
            window.close()
            backend.close()
    return written


def shoot(window: MainWindow, wait: Callable[[Callable[[], bool]], None], save: Callable[..., None]) -> None:
    """Each view of the window in turn, saved once it has loaded."""
    wait(lambda: window.notes.loaded and window.devices.members is not None)
    window.tabs.setCurrentWidget(window.calendar)
    for view in ("month", "week", "day", "agenda"):
        window.calendar.set_view(view)  # type: ignore[attr-defined]
        wait(lambda: True)
        save(window, f"calendar-{view}")
    window.tabs.setCurrentWidget(window.notes)
    first = window.notes.model.ids()[0]
    window.notes.select(first)
    wait(window.notes.editor.body.isEnabled)
    save(window, "notes")
    window.notes.editor.set_preview(True)
    save(window, "notes-preview")
    window.notes.editor.set_preview(False)
    conflicted = next(
        e
        for e in window.notes.model.ids()
        if window.notes.model.row(e).conflicts  # type: ignore[union-attr]
    )
    dialog = window.notes.show_conflicts(conflicted)
    wait(lambda: dialog.state is not None)
    save(dialog, "conflicts")
    dialog.close()
    window.tabs.setCurrentWidget(window.devices)
    wait(lambda: window.devices.table.rowCount() > 0)
    save(window, "devices")


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    themes: tuple[str, ...] = ("light", "dark")
    if len(args) == 3 and args[1] == "--theme" and args[2] in ("light", "dark", "both"):
        themes = themes if args[2] == "both" else (args[2],)
        args = args[:1]
    if len(args) != 1:
        print("usage: python -m ui.render OUTDIR [--theme light|dark|both]", file=sys.stderr)
        return 2
    for path in render(Path(args[0]), themes):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
