"""Issue 14 through the whole window, as a user sees it: undo with one owner of Ctrl+Z, event
conflicts marked and resolved side by side, the calendar manager, first run, reminders,
pairing's invite, and rejected bookings that say why."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pytestqt.qtbot import QtBot

from localfirst import Replica, calendar
from ui.app import make_window
from ui.backend import Backend
from ui.calendar import CalendarPane
from ui.calendars import CalendarManager
from ui.conflicts import ConflictDialog
from ui.main_window import SOLO_TEXT, MainWindow
from ui.qt import QAction, QKeySequence, QMessageBox, QPushButton, Qt
from ui.reminders import REMINDERS_SEEN_FILE, ReminderPopup

from .conftest import Library, exchange

DAY = date(2026, 11, 18)  # a Wednesday


def open_window(qtbot: QtBot, backend: Backend, data_dir: Path) -> MainWindow:
    win = MainWindow(backend, data_dir)
    qtbot.addWidget(win)
    win.resize(1400, 900)
    with qtbot.waitSignal(win.window_did_paint, timeout=5000):
        win.show()
    return win


@pytest.fixture
def window(qtbot: QtBot, backend: Backend, library: Library) -> Iterator[MainWindow]:
    win = open_window(qtbot, backend, library.dir)
    pane = pane_of(win)
    pane.go_to(DAY)
    yield win
    win.close()


def pane_of(window: MainWindow) -> CalendarPane:
    pane = window.calendar
    assert isinstance(pane, CalendarPane)
    return pane


def add(backend: Backend, kind: str, fields: dict[str, Any], entity: str | None = None) -> str:
    return str(backend.call(lambda r: r.create(kind, fields, entity=entity)))


def event_fields(title: str, cal: str, hour: int = 10, day: date = DAY, **more: Any) -> dict[str, Any]:
    return {
        "calendar": cal,
        "title": title,
        "start": f"{day.isoformat()}T{hour:02}:00:00",
        "end": f"{day.isoformat()}T{hour:02}:30:00",
        "all_day": False,
        "tz": "UTC",
        **more,
    }


def shown_in(pane: CalendarPane, key: str) -> dict[str, Any]:
    """How each view shows an occurrence: (conflicted, status, note) per view holding it."""
    out = {}
    for name, view in (("month", pane.month_view), ("week", pane.week_view), ("day", pane.day_view)):
        for item in view.shown:
            if item.key == key:
                out[name] = (item.conflicted, item.status, item.note)
    return out


# -- 1. undo ---------------------------------------------------------------------------------------


def test_ctrl_z_and_ctrl_shift_z_have_one_owner_the_edit_menu(window: MainWindow) -> None:
    """Regression: the calendar pane and the Edit menu both claimed Ctrl+Z ("Ambiguous
    shortcut overload"), so neither fired in the Calendar tab."""
    for keys, owner in (("Ctrl+Z", window.undo_action), ("Ctrl+Shift+Z", window.redo_action)):
        wanted = QKeySequence(keys)
        claim = [a for a in window.findChildren(QAction) if wanted in a.shortcuts()]
        assert claim == [owner], keys


def test_undo_of_a_note_delete_restores_it_and_no_other_notes_tags(
    qtbot: QtBot, window: MainWindow, backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Regression: a deleted note could not be undone, and undo after that delete removed the
    tags of a different note."""
    bye = add(backend, "note", {"title": "Bye", "tags": ["old"], "created": 1})
    keep = add(backend, "note", {"title": "Keep", "tags": ["work", "home"], "created": 2})
    notes = window.notes
    window.tabs.setCurrentWidget(notes)
    qtbot.waitUntil(lambda: set(notes.model.ids()) == {bye, keep})
    notes.select(bye)
    qtbot.waitUntil(lambda: notes.editor.note == bye and notes.editor.body.isEnabled())
    monkeypatch.setattr(QMessageBox, "question", lambda *_a, **_k: QMessageBox.StandardButton.Yes)
    qtbot.mouseClick(notes.editor.delete, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: notes.model.ids() == [keep])
    qtbot.waitUntil(lambda: window.undo_action.text() == "&Undo Delete “Bye”")
    notes.list.setFocus()
    qtbot.keyClick(notes.list, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: set(notes.model.ids()) == {bye, keep})
    values = backend.call(lambda r: {k: d.values() for k, d in r.entities("note").items()})
    assert values[bye]["title"] == "Bye"
    assert values[bye]["tags"] == ["old"]
    assert values[keep]["tags"] == ["work", "home"]  # untouched
    assert window.redo_action.text() == "&Redo Delete “Bye”"
    assert backend.call(lambda r: r.conflicts()) == {}


def test_ctrl_z_in_the_devices_tab_takes_back_nothing_out_of_sight(
    qtbot: QtBot, window: MainWindow, backend: Backend
) -> None:
    note = add(backend, "note", {"title": "One", "created": 1})
    notes = window.notes
    window.tabs.setCurrentWidget(notes)
    qtbot.waitUntil(lambda: note in notes.model.ids())
    notes.select(note)
    qtbot.waitUntil(lambda: notes.editor.note == note and notes.editor.pin.isEnabled())
    qtbot.mouseClick(notes.editor.pin, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.undo_action.text() == "&Undo Pin “One”")
    window.tabs.setCurrentWidget(window.devices)
    assert window.undo_action.text() == "&Undo"
    assert not window.undo_action.isEnabled()
    window.devices.new_name.setFocus()
    qtbot.keyClick(window.devices.table, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert window.notes.undo_stack.undoText() == "Pin “One”"  # still there: nothing was undone
    assert backend.call(lambda r: r.values(note)["pinned"]) is True
    window.tabs.setCurrentWidget(notes)
    assert window.undo_action.isEnabled()
    assert window.undo_action.text() == "&Undo Pin “One”"


def test_undo_in_the_calendar_tab_names_and_undoes_a_recolour(
    qtbot: QtBot, window: MainWindow, backend: Backend
) -> None:
    cal = add(backend, "calendar", {"name": "Work", "colour": calendar.CALENDAR_PALETTE[0]})
    pane = pane_of(window)
    window.tabs.setCurrentWidget(pane)
    qtbot.waitUntil(lambda: cal in pane.calendars)
    manager = window.manage_calendars()
    assert manager is not None
    qtbot.waitUntil(lambda: manager.selected() == cal)
    qtbot.mouseClick(manager.swatches[calendar.CALENDAR_PALETTE[2]], Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.undo_action.text() == "&Undo Recolour “Work”")
    manager.close()
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)
    pane.week_view.setFocus()
    qtbot.keyClick(pane.week_view, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: backend.call(lambda r: r.values(cal)["colour"]) == calendar.CALENDAR_PALETTE[0])


# -- 2. conflicting event edits ----------------------------------------------------------------------


def test_a_conflicting_event_is_marked_in_every_view_and_resolved_side_by_side(
    qtbot: QtBot, window: MainWindow, backend: Backend, other: Backend
) -> None:
    cal = add(backend, "calendar", {"name": "Work"})
    event = add(backend, "event", event_fields("Standup", cal))
    exchange(backend, other)
    backend.call(lambda r: r.put("event", event, {"title": "Standup (desk)"}))
    other.call(lambda r: r.put("event", event, {"title": "Standup (laptop)"}))
    exchange(backend, other)
    pane = pane_of(window)
    qtbot.waitUntil(lambda: event in pane.conflicted)
    for view in ("month", "week", "day"):
        pane.set_view(view)
        qtbot.waitUntil(lambda: view in shown_in(pane, event))  # noqa: B023 (waited on here)
        assert shown_in(pane, event)[view][0] is True, view
    pane.set_view("week")
    [occ] = [o for o in pane.occurrences if o.key == event]
    pane.edit_occurrence(occ)  # as a double-click does
    qtbot.waitUntil(lambda: isinstance(pane.active_dialog, ConflictDialog))
    dialog = pane.active_dialog
    assert isinstance(dialog, ConflictDialog)
    qtbot.waitUntil(lambda: len(dialog.buttons) == 2)
    assert dialog.windowTitle().startswith("Resolve conflicts in “Standup (")
    first, second = dialog.buttons[("title", 0)], dialog.buttons[("title", 1)]

    def side_by_side() -> bool:
        a, b = first.mapTo(dialog, first.rect().topLeft()), second.mapTo(dialog, second.rect().topLeft())
        return a.y() == b.y() and a.x() + first.width() <= b.x()

    qtbot.waitUntil(side_by_side)  # once laid out: the versions in columns, one row
    assert dialog.state is not None
    laptop = next(i for i, v in enumerate(dialog.state.fields["title"]) if v.device_name == "Laptop")
    assert dialog.state.fields["title"][laptop].value == "Standup (laptop)"
    assert "title" in dialog.merges  # or a merged value typed by hand
    qtbot.mouseClick(dialog.buttons[("title", laptop)], Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.resolved)
    assert backend.call(lambda r: r.values(event)["title"]) == "Standup (laptop)"
    qtbot.waitUntil(lambda: event not in pane.conflicted)
    assert shown_in(pane, event)["week"][0] is False
    assert window.undo_action.text().startswith("&Undo Resolve “Standup")
    dialog.close()


def test_a_merged_value_resolves_a_calendar_name_from_the_manager(
    qtbot: QtBot, window: MainWindow, backend: Backend, other: Backend
) -> None:
    cal = add(backend, "calendar", {"name": "Work"})
    exchange(backend, other)
    backend.call(lambda r: r.put("calendar", cal, {"name": "Job"}))
    other.call(lambda r: r.put("calendar", cal, {"name": "Office"}))
    exchange(backend, other)
    pane = pane_of(window)  # the calendar list marks it too
    qtbot.waitUntil(
        lambda: pane.calendar_list.count() == 1 and pane.calendar_list.item(0).text().startswith("⚠ ")
    )
    manager = window.manage_calendars()
    assert manager is not None
    qtbot.waitUntil(lambda: manager.list.count() == 1 and manager.list.item(0).text().startswith("⚠ "))
    assert manager.resolve_button.isVisibleTo(manager)
    dialog = manager.resolve_selected()
    assert dialog is not None
    qtbot.waitUntil(lambda: "name" in dialog.merges)
    dialog.merges["name"].setText("Job and office")
    save = next(b for b in dialog.findChildren(QPushButton) if b.text() == "Save merge")
    qtbot.mouseClick(save, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.resolved)
    assert backend.call(lambda r: r.values(cal)["name"]) == "Job and office"
    qtbot.waitUntil(lambda: manager.list.item(0).text() == "Job and office")
    qtbot.waitUntil(lambda: pane.calendar_list.item(0).text() == "Job and office")
    dialog.close()
    manager.close()


# -- 3. calendars --------------------------------------------------------------------------------


def test_the_manager_creates_distinct_colours_renames_hides_and_deletes_undoably(
    qtbot: QtBot, window: MainWindow, backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    pane = pane_of(window)
    manager = window.manage_calendars()
    assert isinstance(manager, CalendarManager)
    qtbot.mouseClick(manager.new_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: manager.list.count() == 1)
    qtbot.mouseClick(manager.new_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: manager.list.count() == 2)
    colours = sorted(r.colour for r in manager.rows)
    assert colours == sorted(calendar.CALENDAR_PALETTE[:2])  # distinct, from the palette
    # Each row shows its colour, as painted.
    for i, row_ in enumerate(manager.rows):
        pixel = manager.list.item(i).icon().pixmap(14, 14).toImage().pixelColor(7, 7)
        assert pixel.name() == row_.colour
    # The selected calendar's swatch is the checked one.
    row = manager.row(manager.selected())
    assert row is not None
    assert [c for c, b in manager.swatches.items() if b.isChecked()] == [row.colour]
    # Rename.
    manager.name.setText("Work")
    qtbot.mouseClick(manager.rename_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: any(r.name == "Work" for r in manager.rows))
    work = next(r.entity for r in manager.rows if r.name == "Work")
    assert window.undo_action.text() == "&Undo Rename calendar “New calendar”"
    # Events in it; hiding it takes them off the views.
    event = add(backend, "event", event_fields("Standup", work))
    add(backend, "event", event_fields("Review", work, hour=14))
    qtbot.waitUntil(lambda: "week" in shown_in(pane, event))
    qtbot.waitUntil(lambda: manager.row(work) is not None and manager.row(work).events == 2)  # type: ignore[union-attr]
    item = next(
        manager.list.item(i) for i in range(manager.list.count()) if manager.list.item(i).text() == "Work"
    )
    item.setCheckState(Qt.CheckState.Unchecked)
    qtbot.waitUntil(lambda: "week" not in shown_in(pane, event))
    assert work in pane.hidden
    item.setCheckState(Qt.CheckState.Checked)
    qtbot.waitUntil(lambda: "week" in shown_in(pane, event))
    # Delete with its events, then one undo brings all back.
    manager.list.setCurrentItem(item)
    manager.ask_delete()
    box = manager.confirm
    assert box is not None
    assert box.text() == "Delete “Work” and its 2 event(s) on all your devices? Edit > Undo brings them back."
    [delete] = [b for b in box.buttons() if b.text() == "Delete"]
    qtbot.mouseClick(delete, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: backend.call(lambda r: len(r.entities("event"))) == 0)
    qtbot.waitUntil(lambda: window.undo_action.text() == "&Undo Delete calendar “Work”")
    window.undo_action.trigger()
    qtbot.waitUntil(lambda: backend.call(lambda r: len(r.entities("event"))) == 2)
    assert backend.call(lambda r: r.values(work)["name"]) == "Work"
    manager.close()


# -- 6. first run ----------------------------------------------------------------------------------


def test_first_run_has_a_default_calendar_a_welcome_hints_and_this_device_only(
    qtbot: QtBot, tmp_path: Path
) -> None:
    backend, window = make_window(tmp_path / "data")
    qtbot.addWidget(window)
    try:
        window.resize(1400, 900)
        with qtbot.waitSignal(window.views_did_load, timeout=5000):
            window.show()
        pane = pane_of(window)
        qtbot.waitUntil(lambda: len(pane.calendars) == 1)
        [(cal, values)] = pane.calendars.items()
        assert values == {"name": "Personal", "colour": calendar.CALENDAR_PALETTE[0]}
        assert pane._default_calendar() == cal  # a new event goes there, not to "(no calendar)"
        # "This device only" rather than an alarming "Offline" while no device is paired.
        qtbot.waitUntil(lambda: window.devices.members is not None)
        assert window.online_label.text() == SOLO_TEXT
        assert window.devices.solo_hint.isVisibleTo(window.devices)
        # An empty-state hint in each view.
        qtbot.waitUntil(lambda: window.calendar_hint is not None and window.calendar_hint.isVisible())
        assert window.calendar_hint is not None
        assert window.calendar_hint.text().startswith("No events this week.")
        hint, over = window.calendar_hint.geometry(), window.calendar_hint.target.rect()
        assert abs(hint.center().x() - over.center().x()) <= 1  # centred over the view
        assert abs(hint.center().y() - over.center().y()) <= 1
        window.tabs.setCurrentWidget(window.notes)
        qtbot.waitUntil(window.notes_hint.isVisible)
        assert window.notes_hint.text() == "No notes yet.\nPress Ctrl+N or New note to write one."
        # The welcome names this device.
        dialog = window.welcome
        assert dialog is not None
        qtbot.waitUntil(lambda: dialog.name.text() != "")
        dialog.name.setText("Study laptop")
        dialog.accept()
        qtbot.waitUntil(lambda: backend.call(lambda r: r.members()[r.device]) == "Study laptop")
        # A note takes the hint away.
        backend.call(lambda r: r.create("note", {"title": "First"}))
        qtbot.waitUntil(lambda: not window.notes_hint.isVisible())
    finally:
        window.close()
        backend.close()


def test_a_second_start_does_not_welcome_again_or_add_a_calendar(qtbot: QtBot, tmp_path: Path) -> None:
    for run in range(2):
        backend, window = make_window(tmp_path / "data")
        qtbot.addWidget(window)
        try:
            with qtbot.waitSignal(window.views_did_load, timeout=5000):
                window.show()
            assert (window.welcome is not None) is (run == 0)
            pane = pane_of(window)
            qtbot.waitUntil(lambda: len(pane.calendars) == 1)  # noqa: B023 (waited on here)
        finally:
            window.close()
            backend.close()


# -- 10. reminders ---------------------------------------------------------------------------------


def _with_reminder(r: Replica, start: datetime, minutes: int, title: str = "Dentist") -> None:
    r.put("calendar", "cal", {"name": "Home"})
    r.put(
        "event",
        title.lower(),
        {
            "calendar": "cal",
            "title": title,
            "start": start.strftime("%Y-%m-%dT%H:%M:%S"),
            "end": (start + timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M:%S"),
            "tz": "UTC",
            "reminders": [minutes],
        },
    )


def test_a_reminder_fires_within_a_second_in_a_popup_with_snooze_and_dismiss(
    qtbot: QtBot, window: MainWindow, backend: Backend
) -> None:
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=1, seconds=2)
    due = start - timedelta(minutes=1)
    with qtbot.waitSignal(backend.changed, timeout=5000):
        backend.submit(lambda r: _with_reminder(r, start, 1))
    with qtbot.waitSignal(window.reminder_did_show, timeout=8000) as shown:
        pass
    late = datetime.now(UTC) - due
    assert timedelta(0) <= late < timedelta(seconds=1), late
    assert shown.args[0].startswith("Dentist in 1 min (")
    popup = window.reminder_popup
    assert isinstance(popup, ReminderPopup)
    assert popup.isVisible()
    assert [label.text() for label in popup.labels] == [shown.args[0]]
    assert [b.text() for b in popup.snooze_buttons] == ["Snooze 5 min"]
    assert "Reminder: Dentist" in window.statusBar().currentMessage()
    center = window.reminders
    assert center is not None
    qtbot.mouseClick(popup.snooze_buttons[0], Qt.MouseButton.LeftButton)
    assert not popup.isVisible()
    [again] = center.snoozed
    assert timedelta(minutes=4, seconds=58) < again.due - datetime.now(UTC) <= timedelta(minutes=5)
    # The snoozed reminder comes back when its time comes.
    center.now = lambda: datetime.now(UTC) + timedelta(minutes=5, seconds=1)
    with qtbot.waitSignal(window.reminder_did_show, timeout=3000):
        center.check()
    assert popup.isVisible()
    qtbot.mouseClick(popup.dismiss_buttons[0], Qt.MouseButton.LeftButton)
    assert not popup.isVisible()
    assert center.snoozed == []


def test_reminders_missed_while_closed_are_shown_at_start(
    qtbot: QtBot, backend: Backend, library: Library
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    backend.call(lambda r: _with_reminder(r, now - timedelta(minutes=30), 10))
    (library.dir / REMINDERS_SEEN_FILE).write_text((now - timedelta(hours=2)).isoformat(), "ascii")
    win = MainWindow(backend, library.dir)
    qtbot.addWidget(win)
    with qtbot.waitSignal(win.reminder_did_show, timeout=8000) as shown:
        win.show()
    assert shown.args[0].startswith("Missed: Dentist started 30 min ago (")
    popup = win.reminder_popup
    assert popup is not None
    assert popup.isVisible()
    assert popup.labels[0].text() == shown.args[0]
    # Shown once: the mark moved on, so the next start does not show it again.
    seen = datetime.fromisoformat((library.dir / REMINDERS_SEEN_FILE).read_text("ascii"))
    assert seen >= now
    win.close()


# -- 10. pairing -----------------------------------------------------------------------------------


class InviteOnly:
    """A sync source whose invitation lives ``lifetime`` seconds (no network)."""

    def __init__(self, lifetime: float) -> None:
        self.lifetime = lifetime

    def peers(self) -> list[Any]:
        return []

    def discovered(self) -> list[str]:
        return []

    def invite(self) -> Any:
        import concurrent.futures

        from ui.devices import Invite

        future: concurrent.futures.Future[Invite] = concurrent.futures.Future()
        future.set_result(Invite("12-3456-7890", ["0.0.0.0", "192.0.2.7", "fe80::1"], 40123, self.lifetime))
        return future

    def join(self, code: str, host: str, port: int) -> Any:
        raise AssertionError("not joined here")


def test_the_invite_shows_dialable_addresses_counts_down_and_clears_when_expired(
    qtbot: QtBot, backend: Backend
) -> None:
    from ui.devices import DevicesPanel

    panel = DevicesPanel(backend, InviteOnly(lifetime=1.5))
    qtbot.addWidget(panel)
    panel.reload()
    qtbot.waitUntil(lambda: panel.members is not None)
    qtbot.mouseClick(panel.invite_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: panel.code.text() == "12-3456-7890")
    assert panel.countdown.text() == "expires in 0:02"
    assert panel.invite_help.text().endswith("one of these addresses: 192.0.2.7:40123, [fe80::1]:40123")
    assert "0.0.0.0" not in panel.invite_help.text()
    qtbot.waitUntil(lambda: panel.countdown.text() == "expires in 0:01", timeout=2000)
    qtbot.waitUntil(lambda: panel.code.text() == "", timeout=3000)
    assert panel.countdown.text() == ""
    assert panel.invite_help.text() == "The code expired. Press Invite for a new one."


def test_the_panel_knows_how_long_a_code_lives() -> None:
    from sync.const import PAIRING_CODE_LIFETIME_S
    from ui.devices import PAIRING_CODE_LIFETIME_S as shown

    assert shown == PAIRING_CODE_LIFETIME_S


def test_this_device_is_renamed_from_the_panel(qtbot: QtBot, window: MainWindow, backend: Backend) -> None:
    devices = window.devices
    qtbot.waitUntil(lambda: devices.members is not None and devices.my_name.text() == "Desk")
    devices.my_name.setText("Kitchen PC")
    qtbot.mouseClick(devices.my_name_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: devices.me.text().startswith("This device: Kitchen PC"))
    assert backend.call(lambda r: r.members()[r.device]) == "Kitchen PC"


# -- 11. rejected bookings -------------------------------------------------------------------------


def test_a_rejected_booking_says_why_in_the_event_and_a_notice(
    qtbot: QtBot, window: MainWindow, backend: Backend
) -> None:
    pane = pane_of(window)
    room = add(backend, "calendar", {"name": "Room A", "bookable": True})
    first = backend.call(lambda r: calendar.create_event(r, event_fields("Standup", room)).entities[0])
    second = backend.call(lambda r: calendar.create_event(r, event_fields("Review", room)).entities[0])
    qtbot.waitUntil(lambda: pane.status.get(second) == "conflict")
    why = "Rejected: Wed 18 Nov 10:00 to 10:30 is taken by “Standup”."
    assert pane.notes[second] == why.replace("10:00", _local(10)).replace("10:30", _local(10, 30))
    assert first not in pane.notes
    assert shown_in(pane, second)["week"][1:] == ("conflict", pane.notes[second])
    [occ] = [o for o in pane.occurrences if o.key == second]
    pane.edit_occurrence(occ)  # opening the event tells why, too
    assert pane.message_label.isVisible()
    assert pane.message_label.text() == pane.notes[second]
    if pane.active_dialog is not None:
        pane.active_dialog.close()


def _local(hour: int, minute: int = 0) -> str:
    """A UTC wall time on DAY as the pane (this machine's zone) shows it."""
    from ui.calendar._pane import system_zone

    return (
        f"{datetime(DAY.year, DAY.month, DAY.day, hour, minute, tzinfo=UTC).astimezone(system_zone()):%H:%M}"
    )


def test_a_booking_moved_to_an_alternative_says_which_and_why(
    qtbot: QtBot, window: MainWindow, backend: Backend
) -> None:
    pane = pane_of(window)
    room = add(backend, "calendar", {"name": "Room A", "bookable": True})
    backend.call(lambda r: calendar.create_event(r, event_fields("Standup", room)))

    def book_with_an_alternative(r: Replica) -> str:
        asked = event_fields("Review", room)
        ten = int(datetime(2026, 11, 18, 10, tzinfo=UTC).timestamp())
        eleven = int(datetime(2026, 11, 18, 11, tzinfo=UTC).timestamp())
        r.book(room, [(ten, ten + 1800), (eleven, eleven + 1800)], asked, event="review")
        return "review"

    review = backend.call(book_with_an_alternative)
    qtbot.waitUntil(lambda: review in pane.notes)
    assert pane.notes[review] == (
        f"Moved to the alternative Wed 18 Nov {_local(11)} to {_local(11, 30)}: "
        f"Wed 18 Nov {_local(10)} to {_local(10, 30)} is taken by “Standup”."
    )  # this device is the primary: committed at once
