"""Preferences: theme, week start, working hours, default reminder and time zone, and where the
data folder and the mirror folder are (each changed through the window's own dialog for it).

Kept in the app's QSettings (``ui.settings.settings``) under ``preferences/*``; applied at once
to the running app (``apply_preferences``) and at each start (``apply_saved``).
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import cache
from typing import Any

from ui.qt import (
    QApplication,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSettings,
    QSpinBox,
    Qt,
    QVBoxLayout,
    QWidget,
    qconnect,
)
from ui.theme import THEMES, apply_theme, mark_error

PREFIX = "preferences/"
WEEK_STARTS = {0: "Monday", 6: "Sunday", 5: "Saturday"}
#: Offered default reminders (minutes before; None: no reminder).
REMINDERS: dict[int | None, str] = {
    None: "None",
    0: "At the start",
    5: "5 minutes before",
    10: "10 minutes before",
    15: "15 minutes before",
    30: "30 minutes before",
    60: "1 hour before",
    1440: "1 day before",
}
SYSTEM_ZONE = "System time zone"


@dataclass(frozen=True, slots=True)
class Preferences:
    """What the user chose; the defaults are what a new install shows."""

    theme: str = "system"
    week_start: int = 0  # 0 Monday .. 6 Sunday
    work_start: int = 9
    work_end: int = 17
    default_reminder: int | None = None  # minutes before a new event
    time_zone: str = ""  # an IANA name; "" follows the system

    def problem(self) -> str:
        """What is wrong with these values ("" when nothing is)."""
        if self.theme not in THEMES:
            return f"Unknown theme {self.theme!r:.20}: choose system, light or dark."
        if not 0 <= self.week_start <= 6:
            return "The week must start on a weekday (0 Monday to 6 Sunday)."
        if not 0 <= self.work_start < self.work_end <= 24:
            return "Working hours must end after they start, within the day."
        if self.time_zone and self.time_zone not in _zones():
            return f"Unknown time zone {self.time_zone!r:.40}: pick one from the list."
        return ""


@cache
def _zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones()) | {"UTC"}


def _store() -> QSettings:
    from ui.settings import settings

    return settings()


def _int(value: Any, default: int | None) -> int | None:
    try:
        return int(value) if value not in (None, "") else default
    except (TypeError, ValueError):
        return default


def load_preferences() -> Preferences:
    """The saved preferences; a value that cannot be read falls back to its default."""
    store, default = _store(), Preferences()
    reminder = store.value(PREFIX + "default_reminder")
    loaded = Preferences(
        theme=str(store.value(PREFIX + "theme") or default.theme),
        week_start=_int(store.value(PREFIX + "week_start"), default.week_start) or 0,
        work_start=_int(store.value(PREFIX + "work_start"), default.work_start) or 0,
        work_end=_int(store.value(PREFIX + "work_end"), default.work_end) or default.work_end,
        default_reminder=_int(reminder, None) if reminder not in (None, "", "none") else None,
        time_zone=str(store.value(PREFIX + "time_zone") or ""),
    )
    if not loaded.problem():
        return loaded
    fixed = default  # keep what is valid, one field at a time
    for name in ("theme", "week_start", "time_zone", "default_reminder"):
        trial = replace(fixed, **{name: getattr(loaded, name)})
        fixed = trial if not trial.problem() else fixed
    trial = replace(fixed, work_start=loaded.work_start, work_end=loaded.work_end)
    return trial if not trial.problem() else fixed


def save_preferences(prefs: Preferences) -> None:
    store = _store()
    store.setValue(PREFIX + "theme", prefs.theme)
    store.setValue(PREFIX + "week_start", prefs.week_start)
    store.setValue(PREFIX + "work_start", prefs.work_start)
    store.setValue(PREFIX + "work_end", prefs.work_end)
    reminder = prefs.default_reminder
    store.setValue(PREFIX + "default_reminder", "none" if reminder is None else reminder)
    store.setValue(PREFIX + "time_zone", prefs.time_zone)
    store.sync()


def apply_preferences(window: QWidget, prefs: Preferences) -> None:
    """Apply to the running app: the theme everywhere, the rest to the calendar."""
    app = QApplication.instance()
    if isinstance(app, QApplication):
        apply_theme(app, prefs.theme)
    pane = getattr(window, "calendar", None)
    set_preferences = getattr(pane, "set_preferences", None)
    if set_preferences is not None:
        set_preferences(prefs)


def apply_saved(window: QWidget) -> None:
    """At start: apply what was saved (nothing to do for a fresh install's defaults)."""
    prefs = load_preferences()
    if prefs != Preferences():
        apply_preferences(window, prefs)


class PreferencesDialog(QDialog):
    """Theme, week start, working hours, default reminder and time zone; Save applies them."""

    def __init__(self, current: Preferences, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Preferences")
        form = QFormLayout()
        self.theme_box = QComboBox()
        for theme in THEMES:
            self.theme_box.addItem({"system": "Follow the system"}.get(theme, theme.capitalize()), theme)
        self.theme_box.setCurrentIndex(max(0, self.theme_box.findData(current.theme)))
        form.addRow("Theme", self.theme_box)
        self.week_box = QComboBox()
        for day, name in WEEK_STARTS.items():
            self.week_box.addItem(name, day)
        self.week_box.setCurrentIndex(max(0, self.week_box.findData(current.week_start)))
        form.addRow("Week starts on", self.week_box)
        self.work_start = QSpinBox()
        self.work_end = QSpinBox()
        for spin, value in ((self.work_start, current.work_start), (self.work_end, current.work_end)):
            spin.setRange(0, 24)
            spin.setSuffix(":00")
            spin.setValue(value)
            qconnect(spin.valueChanged, lambda _v: self.validate())
        hours = QHBoxLayout()
        hours.addWidget(self.work_start)
        hours.addWidget(QLabel("to"))
        hours.addWidget(self.work_end)
        hours.addStretch(1)
        form.addRow("Working hours", hours)
        self.reminder_box = QComboBox()
        for minutes, name in REMINDERS.items():
            self.reminder_box.addItem(name, minutes)
        self.reminder_box.setCurrentIndex(max(0, self.reminder_box.findData(current.default_reminder)))
        form.addRow("Default reminder", self.reminder_box)
        self.zone_box = QComboBox()
        self.zone_box.setEditable(True)
        self.zone_box.addItems([SYSTEM_ZONE, *sorted(_zones())])
        self.zone_box.setCurrentText(current.time_zone or SYSTEM_ZONE)
        qconnect(self.zone_box.currentTextChanged, lambda _t: self.validate())
        form.addRow("Time zone", self.zone_box)
        self.error_label = QLabel()
        self.error_label.setWordWrap(True)
        mark_error(self.error_label)
        self.error_label.hide()
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel
        )
        qconnect(self.buttons.accepted, self.accept)
        qconnect(self.buttons.rejected, self.reject)
        self.form = form
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.error_label)
        layout.addWidget(self.buttons)

    def add_folder_row(self, label: str, shown: str, button: str, action: Callable[[], None]) -> QPushButton:
        """A folder the window keeps (the data folder, the mirror folder): where it is, and a
        button that changes it (the window's own dialog for it)."""
        path = QLabel(shown)
        path.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        path.setToolTip(shown)
        change = QPushButton(button)
        qconnect(change.clicked, action)
        row = QHBoxLayout()
        row.addWidget(path, 1)
        row.addWidget(change)
        self.form.addRow(label, row)
        return change

    def preferences(self) -> Preferences:
        """The preferences as the dialog shows them."""
        zone = self.zone_box.currentText().strip()
        reminder = self.reminder_box.currentData()
        return Preferences(
            theme=str(self.theme_box.currentData()),
            week_start=int(self.week_box.currentData()),
            work_start=self.work_start.value(),
            work_end=self.work_end.value(),
            default_reminder=None if reminder is None else int(reminder),
            time_zone="" if zone in ("", SYSTEM_ZONE) else zone,
        )

    def validate(self) -> bool:
        text = self.preferences().problem()
        self.error_label.setText(text)
        self.error_label.setVisible(bool(text))
        self.buttons.button(QDialogButtonBox.StandardButton.Save).setEnabled(not text)
        return not text

    def accept(self) -> None:
        if self.validate():
            super().accept()


def open_preferences(window: QWidget) -> PreferencesDialog:
    """Show the dialog (not modal to the event loop); Save stores and applies the choice."""
    dialog = PreferencesDialog(load_preferences(), window)
    folder_rows = getattr(window, "folder_rows", None)
    for label, shown, button, action in folder_rows() if folder_rows is not None else ():
        dialog.add_folder_row(label, shown, button, action)

    def saved() -> None:
        prefs = dialog.preferences()
        save_preferences(prefs)
        apply_preferences(window, prefs)

    qconnect(dialog.accepted, saved)
    dialog.open()
    return dialog
