"""Preferences: saved and read back, refused when wrong, and applied to the running app (theme,
week start, working hours, default reminder, time zone)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialogButtonBox

from ui import preferences
from ui.calendar import CalendarPane, EventDialog
from ui.preferences import (
    Preferences,
    PreferencesDialog,
    apply_preferences,
    load_preferences,
    save_preferences,
)
from ui.qt import QApplication, QPalette, QSettings, QWidget
from ui.theme import apply_theme, is_dark

from .test_calendar import WEDNESDAY, backend, dialog_of, pane

__all__ = ["backend", "pane"]


@pytest.fixture(autouse=True)
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, qapp: QApplication) -> Iterator[QSettings]:
    settings = QSettings(str(tmp_path / "prefs.ini"), QSettings.Format.IniFormat)
    monkeypatch.setattr(preferences, "_store", lambda: settings)
    yield settings
    apply_theme(qapp, "system")


def test_preferences_round_trip_and_bad_values_fall_back(store):
    assert load_preferences() == Preferences()
    chosen = Preferences("dark", 6, 8, 18, 10, "America/New_York")
    save_preferences(chosen)
    assert load_preferences() == chosen
    store.setValue("preferences/time_zone", "Mars/Olympus")
    store.setValue("preferences/work_end", "3")
    assert load_preferences() == Preferences("dark", 6, 9, 17, 10, "")


def test_dialog_refuses_working_hours_that_end_before_they_start(qtbot):
    dialog = PreferencesDialog(Preferences())
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.work_start.setValue(18)
    dialog.work_end.setValue(8)
    assert not dialog.buttons.button(QDialogButtonBox.StandardButton.Save).isEnabled()
    assert dialog.error_label.text() == "Working hours must end after they start, within the day."
    dialog.work_end.setValue(20)
    assert dialog.buttons.button(QDialogButtonBox.StandardButton.Save).isEnabled()
    assert dialog.preferences().work_start == 18


def test_choosing_dark_then_light_repaints_with_the_palette(qtbot, qapp):
    window = QWidget()
    qtbot.addWidget(window)
    apply_preferences(window, Preferences(theme="dark"))
    assert is_dark(qapp.palette())
    assert qapp.palette().color(QPalette.ColorRole.Base).lightness() < 60
    apply_preferences(window, Preferences(theme="light"))
    assert not is_dark(qapp.palette())


def test_week_start_working_hours_reminder_and_zone_reach_the_calendar(qtbot, pane: CalendarPane):
    holder: Any = QWidget()
    holder.calendar = pane
    apply_preferences(
        holder,
        Preferences(week_start=6, work_start=7, work_end=19, default_reminder=15, time_zone="Asia/Tokyo"),
    )
    pane.go_to(WEDNESDAY)
    assert pane.week_view.header_labels()[0] == "Sun 15"
    assert pane.month_view.day_names()[0] == "Sun"
    assert pane.month_view.first_day.isoformat() == "2026-11-01"
    assert pane.week_view.working_hours == (7, 19)
    assert pane.mini_month.firstDayOfWeek() == Qt.DayOfWeek.Sunday
    assert pane.week_view.zone_label() == "JST"
    pane.new_event()
    dialog = dialog_of(qtbot, pane, EventDialog)
    assert dialog.reminders_edit.text() == "15"
    assert dialog.tz_box.currentText() == "Asia/Tokyo"
