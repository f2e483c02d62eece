"""The calendar from the keyboard alone (T, 1-4, arrows, Page Up/Down, Tab, Enter, Delete) and
the agenda view."""

from __future__ import annotations

from datetime import date
from typing import Any

from PySide6.QtCore import Qt

from ui.calendar import EventDialog

from .test_calendar import WEDNESDAY, add_event, backend, dialog_of, events, pane, shown

__all__ = ["backend", "pane"]  # fixtures, imported for these tests


def key(qtbot: Any, pane: Any, k: Qt.Key) -> None:
    qtbot.keyClick(pane.view, k)


def selected(view: Any) -> str | None:
    return view.selected  # type: ignore[no-any-return]


def test_t_numbers_arrows_and_pages_move_around(qtbot, pane):
    pane.view.setFocus()
    key(qtbot, pane, Qt.Key.Key_Right)
    assert pane.current_date == date(2026, 11, 19)
    key(qtbot, pane, Qt.Key.Key_Up)  # the week before
    assert pane.current_date == date(2026, 11, 12)
    key(qtbot, pane, Qt.Key.Key_1)
    assert pane.view_name == "month"
    key(qtbot, pane, Qt.Key.Key_PageDown)
    assert pane.current_date == date(2026, 12, 1)
    assert pane.title_label.text() == "December 2026"
    key(qtbot, pane, Qt.Key.Key_3)
    assert pane.view_name == "day"
    key(qtbot, pane, Qt.Key.Key_Left)
    assert pane.current_date == date(2026, 11, 30)
    key(qtbot, pane, Qt.Key.Key_4)
    assert pane.view_name == "agenda"
    key(qtbot, pane, Qt.Key.Key_T)
    assert pane.current_date == pane.today()
    key(qtbot, pane, Qt.Key.Key_2)
    assert pane.view_name == "week"
    assert pane.view.hasFocus()


def test_tab_selects_events_in_time_order_enter_opens_delete_deletes(qtbot, pane, backend):
    late = add_event(backend, title="Late", start="2026-11-18T16:00:00", end="2026-11-18T17:00:00")
    early = add_event(backend, title="Early", start="2026-11-17T09:00:00", end="2026-11-17T10:00:00")
    view = pane.week_view
    pane.refresh()
    shown(qtbot, view, late)
    shown(qtbot, view, early)
    view.setFocus()
    qtbot.keyClick(view, Qt.Key.Key_Tab)
    assert view.selected == early
    qtbot.keyClick(view, Qt.Key.Key_Tab)
    assert view.selected == late
    qtbot.keyClick(view, Qt.Key.Key_Tab)  # past the last event: the focus moves on
    assert selected(view) is None
    view.setFocus()
    qtbot.keyClick(view, Qt.Key.Key_Backtab)
    assert selected(view) == late
    qtbot.keyClick(view, Qt.Key.Key_Return)
    dialog = dialog_of(qtbot, pane, EventDialog)
    assert dialog.title_edit.text() == "Late"
    dialog.reject()
    qtbot.waitUntil(lambda: pane.active_dialog is None)
    view.setFocus()
    qtbot.keyClick(view, Qt.Key.Key_Delete)
    qtbot.waitUntil(lambda: late not in events(backend))
    assert early in events(backend)


def test_enter_on_an_empty_day_opens_a_new_event_on_that_day(qtbot, pane):
    pane.view.setFocus()
    key(qtbot, pane, Qt.Key.Key_Right)
    key(qtbot, pane, Qt.Key.Key_Return)
    dialog = dialog_of(qtbot, pane, EventDialog)
    assert dialog.fields()["start"] == "2026-11-19T09:00:00"


def test_agenda_lists_days_and_events_and_opens_one(qtbot, pane, backend):
    add_event(backend, title="Talk", location="Room 2")
    add_event(backend, title="Fair", all_day=True, start="2026-11-20", end="2026-11-21")
    pane.set_view("agenda")
    agenda = pane.agenda_view
    qtbot.waitUntil(lambda: len(agenda.occurrence_keys()) == 2)
    assert agenda.texts() == [
        "Wednesday 18 November",
        "10:00-11:00   Talk  · Room 2",
        "Friday 20 November",
        "all day       Fair",
    ]
    assert pane.title_label.text() == "From Wednesday 18 November 2026"
    agenda.setFocus()
    agenda.setCurrentRow(1)
    qtbot.keyClick(agenda, Qt.Key.Key_Return)
    dialog = dialog_of(qtbot, pane, EventDialog)
    assert dialog.title_edit.text() == "Talk"


def test_an_empty_agenda_says_so(qtbot, pane):
    pane.set_view("agenda")
    qtbot.waitUntil(lambda: pane.agenda_view.count() == 1)
    assert pane.agenda_view.texts()[0].startswith("Nothing planned in these four weeks")
    assert pane.current_date == WEDNESDAY


def test_mini_month_picks_the_day_and_follows_navigation(qtbot, pane):
    from PySide6.QtCore import QDate

    picker = pane.mini_month
    assert picker.selectedDate() == QDate(2026, 11, 18)
    picker.clicked.emit(QDate(2026, 12, 24))
    assert pane.current_date == date(2026, 12, 24)
    assert pane.week_view.header_labels()[0] == "Mon 21"
    pane.step(1)
    assert picker.selectedDate() == QDate(2026, 12, 31)
