"""The event editor as a person uses it: End follows Start, bad times are refused with a reason
shown in the dialog, a single event becomes a weekly one on chosen days, Delete, and "this and
following" from the editor."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from PySide6.QtCore import QDate, QDateTime, Qt
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QDialogButtonBox

from ui.calendar import EventDialog

from .test_calendar import (
    WEDNESDAY,
    add_event,
    backend,
    choose_scope,
    dialog_of,
    events,
    ok,
    pane,
    point,
    shown,
)

__all__ = ["backend", "pane"]  # fixtures, imported for these tests

VALUES = {"title": "Talk", "start": "2026-11-18T10:00:00", "end": "2026-11-18T11:30:00", "tz": "Europe/Paris"}


def dialog(qtbot: Any, values: dict[str, Any] = VALUES, **kw: Any) -> EventDialog:
    widget = EventDialog({}, values, **kw)
    qtbot.addWidget(widget)
    widget.show()
    return widget


def distance(a: QColor, b: QColor) -> int:
    return abs(a.red() - b.red()) + abs(a.green() - b.green()) + abs(a.blue() - b.blue())


def wall(edit: Any) -> datetime:
    return datetime.fromisoformat(edit.dateTime().toString("yyyy-MM-ddTHH:mm:ss"))


def test_end_follows_start_keeping_the_duration(qtbot):
    d = dialog(qtbot)
    d.start_edit.setDateTime(QDateTime.fromString("2026-11-18T14:15:00", Qt.DateFormat.ISODate))
    assert wall(d.end_edit) == datetime(2026, 11, 18, 15, 45)
    assert d.fields()["end"] == "2026-11-18T15:45:00"
    assert not d.error_label.isVisible()


def test_an_end_before_the_start_is_refused_with_the_reason_shown(qtbot):
    d = dialog(qtbot)
    d.end_edit.setDateTime(QDateTime.fromString("2026-11-18T09:00:00", Qt.DateFormat.ISODate))
    ok_button = d.buttons.button(QDialogButtonBox.StandardButton.Ok)
    assert not ok_button.isEnabled()
    assert d.error_label.isVisible()
    assert d.error_label.text() == (
        "The event would end (18 Nov 09:00) before its start (18 Nov 10:00): "
        "an event needs an end after its start."
    )
    d.accept()
    assert d.result() == 0
    assert d.isVisible()
    d.end_edit.setDateTime(QDateTime.fromString("2026-11-18T10:00:00", Qt.DateFormat.ISODate))
    assert "at its start" in d.error_label.text()
    d.end_edit.setDateTime(QDateTime.fromString("2026-11-18T10:30:00", Qt.DateFormat.ISODate))
    assert ok_button.isEnabled()
    assert not d.error_label.isVisible()


def test_a_repeat_ending_before_the_event_is_refused(qtbot):
    d = dialog(qtbot)
    d.repeat_box.setCurrentIndex(1)  # daily
    d.ends_box.setCurrentIndex(1)  # on date
    d.until_edit.setDate(QDate(2026, 11, 1))
    assert "repeat ends (01 Nov 2026) before the event starts" in d.error_label.text()


def test_weekday_picker_shows_for_weekly_only_and_sets_byday(qtbot):
    d = dialog(qtbot)
    assert not d.weekday_row.isVisible()
    d.repeat_box.setCurrentIndex(2)  # weekly
    assert d.weekday_row.isVisible()
    assert d.weekdays() == ["WE"]  # the start's own day
    assert d.fields()["rrule"] == "FREQ=WEEKLY"
    d.weekday_buttons[0].setChecked(True)
    d.weekday_buttons[4].setChecked(True)
    assert d.fields()["rrule"] == "FREQ=WEEKLY;BYDAY=MO,WE,FR"
    assert d.interval_spin.suffix() == " week(s)"
    # A ticked day is drawn in the palette's highlight, an unticked one is not.
    highlight = d.palette().color(QPalette.ColorRole.Highlight)
    ticked, unticked = d.weekday_buttons[0], d.weekday_buttons[1]
    on = QColor(ticked.grab().toImage().pixel(4, ticked.height() // 2))
    off = QColor(unticked.grab().toImage().pixel(4, unticked.height() // 2))
    assert distance(on, highlight) < 60 < distance(off, highlight)


def test_a_single_event_is_made_weekly_on_two_days_from_the_editor(qtbot, pane, backend):
    key = add_event(backend)
    view = pane.week_view
    shown(qtbot, view, key)
    qtbot.mouseDClick(view, Qt.MouseButton.LeftButton, pos=point(view.rects_of(key)[0].center()))
    d = dialog_of(qtbot, pane, EventDialog)
    assert d.repeat_box.isEnabled()
    assert d.delete_button.isVisible()
    d.repeat_box.setCurrentIndex(2)
    d.weekday_buttons[0].setChecked(True)  # Monday too
    ok(qtbot, d)
    qtbot.waitUntil(lambda: events(backend)[key].get("rrule") == "FREQ=WEEKLY;BYDAY=MO,WE")
    pane.go_to(date(2026, 11, 23))
    qtbot.waitUntil(lambda: len(view.occurrence_keys()) == 2)
    days = sorted(o.start.date() for o in pane.occurrences)
    assert days == [date(2026, 11, 23), date(2026, 11, 25)]


def test_delete_button_deletes_the_event(qtbot, pane, backend):
    key = add_event(backend)
    view = pane.week_view
    shown(qtbot, view, key)
    qtbot.mouseDClick(view, Qt.MouseButton.LeftButton, pos=point(view.rects_of(key)[0].center()))
    d = dialog_of(qtbot, pane, EventDialog)
    qtbot.mouseClick(d.delete_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: key not in events(backend))
    qtbot.waitUntil(lambda: view.occurrence_keys() == [])


def test_new_event_dialog_has_no_delete_button(qtbot):
    assert not dialog(qtbot).delete_button.isVisible()


def test_this_and_following_from_the_editor_retitles_only_the_later_ones(qtbot, pane, backend):
    series = add_event(
        backend, title="Gym", start="2026-11-02T18:00:00", end="2026-11-02T19:00:00", rrule="FREQ=WEEKLY"
    )
    pane.set_view("month")
    month = pane.month_view
    occ_key = f"{series}@2026-11-16T18:00:00"
    shown(qtbot, month, occ_key)
    qtbot.mouseDClick(month, Qt.MouseButton.LeftButton, pos=point(month.rects_of(occ_key)[0].center()))
    choose_scope(qtbot, pane, "This and following")
    d = dialog_of(qtbot, pane, EventDialog)
    assert d.repeat_box.isEnabled()
    d.title_edit.setText("Swim")
    ok(qtbot, d)

    def titles() -> dict[date, str]:
        return {o.start.date(): o.title for o in pane.occurrences if o.start.date().month == 11}

    qtbot.waitUntil(lambda: titles().get(date(2026, 11, 16)) == "Swim")
    got = titles()
    assert got[date(2026, 11, 9)] == "Gym"
    assert got[date(2026, 11, 23)] == "Swim"
    assert WEDNESDAY not in got
