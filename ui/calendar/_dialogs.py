"""The event editor and the new-calendar dialog."""

from __future__ import annotations

import zoneinfo
from collections.abc import Mapping
from datetime import date, datetime, time, timedelta
from functools import cache
from typing import Any

from localfirst.calendar import CALENDAR_PALETTE
from localfirst.recurrence import FREQUENCIES, RuleSpec, format_rule, parse_date, parse_rule, parse_wall, zone
from ui.qt import (
    QCheckBox,
    QComboBox,
    QDate,
    QDateEdit,
    QDateTime,
    QDateTimeEdit,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QSpinBox,
    QTime,
    QToolButton,
    QWidget,
    Signal,
    qconnect,
)
from ui.swatches import SwatchPicker
from ui.theme import mark_error

#: Colours offered for a new calendar.
PALETTE = CALENDAR_PALETTE
_REPEAT = ("Does not repeat", "Daily", "Weekly", "Monthly", "Yearly")
_ENDS = ("Never", "On date", "After")
#: RRULE weekday codes, Monday first.
WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")


@cache
def _zones() -> list[str]:
    return sorted(zoneinfo.available_timezones())


def _qdate(day: date) -> QDate:
    return QDate(day.year, day.month, day.day)


def _pydate(value: QDate) -> date:
    return date(value.year(), value.month(), value.day())


def _qdatetime(wall: datetime) -> QDateTime:
    return QDateTime(_qdate(wall.date()), QTime(wall.hour, wall.minute, wall.second))


def _pywall(value: QDateTime) -> datetime:
    t = value.time()
    return datetime.combine(_pydate(value.date()), time(t.hour(), t.minute(), t.second()))


class EventDialog(QDialog):
    """Edit an event's fields; ``fields()`` gives what to store (times as wall-clock in its zone).

    End follows Start (the duration is kept); an end not after the start, or a repeat that ends
    before it begins, is explained under the form and OK stays disabled until it is mended.

    Args:
        calendars: calendar id -> its values, offered in the calendar box.
        values: the event's current fields (of the occurrence being edited).
        occurrence: editing one occurrence of a series: the recurrence controls are disabled.
        deletable: show a Delete button (an existing event); it emits ``delete_requested``.
    """

    #: The user pressed Delete (the dialog closes; the pane deletes).
    delete_requested = Signal()

    def __init__(
        self,
        calendars: Mapping[str, Mapping[str, Any]],
        values: Mapping[str, Any],
        *,
        occurrence: bool = False,
        deletable: bool = False,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Edit event" if values.get("title") else "New event")
        self._values = dict(values)
        self._tz = zone(values.get("tz"))
        self._spec = parse_rule(values.get("rrule"))
        form = QFormLayout(self)
        self._build_fields(form, calendars)
        self._build_times(form)
        self._build_details(form)
        self._build_repeat(form, occurrence)
        form.addRow("Reminders", self.reminders_edit)
        self._build_buttons(form, deletable)
        self._all_day_toggled(self.all_day_box.isChecked())
        self._repeat_changed()
        self.validate()
        self.title_edit.setFocus()

    # -- building ------------------------------------------------------------------------------

    def _build_fields(self, form: QFormLayout, calendars: Mapping[str, Mapping[str, Any]]) -> None:
        values = self._values
        self.title_edit = QLineEdit(str(values.get("title") or ""))
        self.title_edit.setPlaceholderText("Title")
        form.addRow("Title", self.title_edit)
        self.calendar_box = QComboBox()
        self.calendar_box.addItem("(no calendar)", "")
        for cal_id, cal in sorted(calendars.items(), key=lambda kv: str(kv[1].get("name", ""))):
            suffix = " (bookable)" if cal.get("bookable") is True else ""
            self.calendar_box.addItem(f"{cal.get('name') or 'Untitled'}{suffix}", cal_id)
        index = self.calendar_box.findData(values.get("calendar") or "")
        self.calendar_box.setCurrentIndex(max(0, index))
        form.addRow("Calendar", self.calendar_box)
        self.all_day_box = QCheckBox("All day")
        self.all_day_box.setChecked(values.get("all_day") is True)
        self.all_day_box.toggled.connect(self._all_day_toggled)
        form.addRow("", self.all_day_box)

    def _build_times(self, form: QFormLayout) -> None:
        self.start_edit = QDateTimeEdit()
        self.end_edit = QDateTimeEdit()
        for edit in (self.start_edit, self.end_edit):
            edit.setCalendarPopup(True)
            edit.setDisplayFormat("yyyy-MM-dd HH:mm")
        self._load_times()
        self._last_start = _pywall(self.start_edit.dateTime())
        self.start_edit.dateTimeChanged.connect(self._start_changed)
        self.end_edit.dateTimeChanged.connect(lambda _v: self.validate())
        form.addRow("Starts", self.start_edit)
        form.addRow("Ends", self.end_edit)
        self.tz_box = QComboBox()
        self.tz_box.setEditable(True)
        self.tz_box.addItems(["UTC", *_zones()])
        self.tz_box.setCurrentText(str(self._values.get("tz") or "UTC"))
        form.addRow("Time zone", self.tz_box)

    def _build_details(self, form: QFormLayout) -> None:
        values = self._values
        self.location_edit = QLineEdit(str(values.get("location") or ""))
        form.addRow("Location", self.location_edit)
        self.description_edit = QPlainTextEdit(str(values.get("description") or ""))
        self.description_edit.setFixedHeight(70)
        form.addRow("Description", self.description_edit)
        raw = values.get("reminders")
        minutes = [str(m) for m in raw] if isinstance(raw, list) else []
        self.reminders_edit = QLineEdit(", ".join(minutes))
        self.reminders_edit.setPlaceholderText("minutes before, e.g. 10, 60")

    def _build_repeat(self, form: QFormLayout, occurrence: bool) -> None:
        spec = self._spec
        self.repeat_box = QComboBox()
        self.repeat_box.addItems(_REPEAT)
        self.repeat_box.setCurrentIndex(0 if spec is None else 1 + FREQUENCIES.index(spec.freq))
        self.interval_spin = QSpinBox()
        self.interval_spin.setRange(1, 999)
        self.interval_spin.setValue(spec.interval if spec else 1)
        self.interval_spin.setPrefix("every ")
        repeat_row = QHBoxLayout()
        repeat_row.addWidget(self.repeat_box)
        repeat_row.addWidget(self.interval_spin)
        form.addRow("Repeat", repeat_row)
        self._build_weekdays(form)
        self.ends_box = QComboBox()
        self.ends_box.addItems(_ENDS)
        self.until_edit = QDateEdit()
        self.until_edit.setCalendarPopup(True)
        self.count_spin = QSpinBox()
        self.count_spin.setRange(1, 9999)
        self.count_spin.setSuffix(" times")
        self.until_edit.setDate(
            _qdate(spec.until if spec and spec.until else self._start_day() + timedelta(days=90))
        )
        self.count_spin.setValue(spec.count if spec and spec.count else 10)
        self.ends_box.setCurrentIndex(
            0 if spec is None or (spec.until is None and spec.count is None) else (1 if spec.until else 2)
        )
        ends_row = QHBoxLayout()
        for widget in (self.ends_box, self.until_edit, self.count_spin):
            ends_row.addWidget(widget)
        form.addRow("Until", ends_row)
        self._repeat_widgets: tuple[QWidget, ...] = (
            self.repeat_box,
            self.interval_spin,
            self.ends_box,
            self.until_edit,
            self.count_spin,
        )
        for each in (*self._repeat_widgets, *self.weekday_buttons):
            each.setEnabled(not occurrence)
        self.repeat_box.currentIndexChanged.connect(lambda _i: self._repeat_changed())
        self.ends_box.currentIndexChanged.connect(lambda _i: self._repeat_changed())
        self.until_edit.dateChanged.connect(lambda _d: self.validate())

    def _build_weekdays(self, form: QFormLayout) -> None:
        """Seven toggles, Monday first: the days a weekly event repeats on."""
        extra = dict(self._spec.extra) if self._spec is not None else {}
        chosen = {d.strip()[-2:] for d in extra.get("BYDAY", "").split(",") if d.strip()}
        if not chosen:
            chosen = {WEEKDAYS[self._start_day().weekday()]}
        self.weekday_row = QWidget()
        row = QHBoxLayout(self.weekday_row)
        row.setContentsMargins(0, 0, 0, 0)
        self.weekday_buttons: list[QToolButton] = []
        for code, name in zip(WEEKDAYS, ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"), strict=True):
            button = QToolButton()
            button.setText(name)
            button.setCheckable(True)
            button.setChecked(code in chosen)
            button.setToolTip(f"Repeat on {name}")
            # A ticked day in the palette's highlight, so that it reads in either theme.
            button.setStyleSheet(
                "QToolButton:checked { background: palette(highlight); color: palette(highlighted-text); }"
            )
            button.toggled.connect(lambda _on: self.validate())
            self.weekday_buttons.append(button)
            row.addWidget(button)
        row.addStretch(1)
        form.addRow("On", self.weekday_row)
        self._weekday_label = form.labelForField(self.weekday_row)

    def _build_buttons(self, form: QFormLayout, deletable: bool) -> None:
        self.error_label = QLabel()
        self.error_label.setWordWrap(True)
        mark_error(self.error_label)
        self.error_label.hide()
        form.addRow(self.error_label)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.delete_button = self.buttons.addButton("Delete", QDialogButtonBox.ButtonRole.DestructiveRole)
        self.delete_button.setVisible(deletable)
        self.delete_button.clicked.connect(self._delete)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        form.addRow(self.buttons)

    # -- behaviour -----------------------------------------------------------------------------

    def _start_day(self) -> date:
        return parse_date(self._values.get("start")) or date.today()

    def _load_times(self) -> None:
        values = self._values
        if values.get("all_day") is True:
            first = self._start_day()
            last = parse_date(values.get("end")) or first + timedelta(days=1)
            self.start_edit.setDateTime(_qdatetime(datetime.combine(first, time(9))))
            # The editor shows the last day; the stored end is the day after (exclusive).
            self.end_edit.setDateTime(
                _qdatetime(datetime.combine(max(first, last - timedelta(days=1)), time(10)))
            )
            return
        start = parse_wall(values.get("start"), self._tz) or datetime.combine(date.today(), time(9))
        end = parse_wall(values.get("end"), self._tz) or start + timedelta(hours=1)
        self.start_edit.setDateTime(_qdatetime(start))
        self.end_edit.setDateTime(_qdatetime(end))

    def _start_changed(self, _value: QDateTime) -> None:
        """Move the end with the start, keeping the duration (as every calendar app does)."""
        start = _pywall(self.start_edit.dateTime())
        shift, self._last_start = start - self._last_start, start
        end = _pywall(self.end_edit.dateTime())
        self.end_edit.blockSignals(True)
        self.end_edit.setDateTime(_qdatetime(end + shift))
        self.end_edit.blockSignals(False)
        self.validate()

    def _all_day_toggled(self, on: bool) -> None:
        fmt = "yyyy-MM-dd" if on else "yyyy-MM-dd HH:mm"
        self.start_edit.setDisplayFormat(fmt)
        self.end_edit.setDisplayFormat(fmt)
        self.tz_box.setEnabled(not on)
        self.validate()

    def _repeat_changed(self) -> None:
        repeats = self.repeat_box.currentIndex() != 0
        unit = ("", "day", "week", "month", "year")[self.repeat_box.currentIndex()]
        self.interval_spin.setSuffix(f" {unit}(s)" if unit else "")
        weekly = self.repeat_box.currentIndex() == 1 + FREQUENCIES.index("WEEKLY")
        self.weekday_row.setVisible(weekly)
        if self._weekday_label is not None:
            self._weekday_label.setVisible(weekly)
        for widget in (self.interval_spin, self.ends_box):
            widget.setVisible(repeats)
        ends = self.ends_box.currentIndex()
        self.until_edit.setVisible(repeats and ends == 1)
        self.count_spin.setVisible(repeats and ends == 2)
        self.validate()

    def problem(self) -> str:
        """What is wrong with the times or the repeat as shown ("" when nothing is)."""
        start = _pywall(self.start_edit.dateTime())
        end = _pywall(self.end_edit.dateTime())
        if self.all_day_box.isChecked():
            if end.date() < start.date():
                return (
                    f"The last day ({end:%d %b %Y}) is before the first ({start:%d %b %Y}): pick a later end."
                )
        elif end <= start:
            return (
                f"The event would end ({end:%d %b %H:%M}) {'at' if end == start else 'before'} its start "
                f"({start:%d %b %H:%M}): an event needs an end after its start."
            )
        if self.repeat_box.isEnabled() and self.repeat_box.currentIndex() != 0:
            until = _pydate(self.until_edit.date())
            if self.ends_box.currentIndex() == 1 and until < start.date():
                return f"The repeat ends ({until:%d %b %Y}) before the event starts: pick a later date."
        return ""

    def validate(self) -> bool:
        """Show what is wrong under the form, and allow OK only when nothing is."""
        if not hasattr(self, "buttons"):
            return True  # still building
        text = self.problem()
        self.error_label.setText(text)
        self.error_label.setVisible(bool(text))
        ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        ok.setEnabled(not text)
        ok.setToolTip(text)
        return not text

    def accept(self) -> None:
        if self.validate():
            super().accept()

    def _delete(self) -> None:
        self.delete_requested.emit()
        self.reject()

    def fields(self) -> dict[str, Any]:
        """The event's fields as the dialog now shows them."""
        all_day = self.all_day_box.isChecked()
        tz_name = self.tz_box.currentText().strip()
        tz = zone(tz_name)
        out: dict[str, Any] = {
            "title": self.title_edit.text().strip(),
            "calendar": self.calendar_box.currentData() or "",
            "all_day": all_day,
            "location": self.location_edit.text().strip(),
            "description": self.description_edit.toPlainText(),
        }
        start = _pywall(self.start_edit.dateTime())
        end = _pywall(self.end_edit.dateTime())
        if all_day:
            last = max(end.date(), start.date())
            out["start"], out["end"] = start.date().isoformat(), (last + timedelta(days=1)).isoformat()
            out["tz"] = self._values.get("tz")
        else:
            out["start"], out["end"] = start.isoformat(timespec="seconds"), end.isoformat(timespec="seconds")
            out["tz"] = None if tz_name in ("", "UTC") or zone(tz_name) is not tz else tz_name
        if self.repeat_box.isEnabled() and (self._spec is not None or not self._values.get("rrule")):
            # A rule the editor cannot show (HOURLY, from another app) is kept, not dropped.
            out["rrule"] = format_rule(self._rule_spec(), all_day=all_day, tz=tz)
        reminders = []
        for part in self.reminders_edit.text().replace(";", ",").split(","):
            if part.strip().isdigit():
                reminders.append(int(part.strip()))
        out["reminders"] = sorted(set(reminders))
        return out

    def weekdays(self) -> list[str]:
        """The weekdays ticked (RRULE codes, Monday first)."""
        return [code for code, b in zip(WEEKDAYS, self.weekday_buttons, strict=True) if b.isChecked()]

    def _rule_spec(self) -> RuleSpec | None:
        index = self.repeat_box.currentIndex()
        if index == 0:
            return None
        freq = FREQUENCIES[index - 1]
        extra = self._spec.extra if self._spec is not None and self._spec.freq == freq else ()
        if freq == "WEEKLY":
            own_day = [WEEKDAYS[_pywall(self.start_edit.dateTime()).weekday()]]
            days = self.weekdays() or own_day
            rest = tuple(kv for kv in extra if kv[0] != "BYDAY")
            # Only the start's own weekday: no BYDAY needed (a rule left as it was stays unchanged).
            had = any(kv[0] == "BYDAY" for kv in extra)
            extra = rest if days == own_day and not had else (*rest, ("BYDAY", ",".join(days)))
        ends = self.ends_box.currentIndex()
        until = _pydate(self.until_edit.date()) if ends == 1 else None
        count = self.count_spin.value() if ends == 2 else None
        return RuleSpec(freq, self.interval_spin.value(), until, count, extra)


class CalendarDialog(QDialog):
    """Name, colour and bookability of a new calendar, or of one being edited (``values``)."""

    def __init__(
        self, parent: QWidget | None = None, *, colour: str = PALETTE[0], values: dict[str, Any] | None = None
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("New calendar" if values is None else "Edit calendar")
        form = QFormLayout(self)
        self.name_edit = QLineEdit()
        self.name_edit.setPlaceholderText("Name")
        form.addRow("Name", self.name_edit)
        self.picker = SwatchPicker()
        qconnect(self.picker.picked, self.picker.show_colour)
        self.picker.show_colour(colour)
        form.addRow("Colour", self.picker)
        self.bookable_box = QCheckBox("Bookable (no two events may overlap: a room, a car)")
        form.addRow("", self.bookable_box)
        if values is not None:
            name, shade = values.get("name"), values.get("colour")
            self.name_edit.setText(name if isinstance(name, str) else "")
            self.picker.show_colour(shade if isinstance(shade, str) and shade else colour)
            self.bookable_box.setChecked(values.get("bookable") is True)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        form.addRow(self.buttons)

    def fields(self) -> dict[str, Any]:
        return {
            "name": self.name_edit.text().strip() or "Untitled",
            "colour": self.picker.current or PALETTE[0],
            "bookable": self.bookable_box.isChecked(),
        }
