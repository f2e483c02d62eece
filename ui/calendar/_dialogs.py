"""The event editor and the new-calendar dialog."""

from __future__ import annotations

import zoneinfo
from collections.abc import Mapping
from datetime import date, datetime, time, timedelta
from functools import cache
from typing import Any

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
    QLineEdit,
    QPlainTextEdit,
    QSpinBox,
    QTime,
    QWidget,
)

#: Colours offered for a new calendar.
PALETTE = ("#4a7fd4", "#2e9e5b", "#d4794a", "#a64ad4", "#d44a6f", "#8a8a8a", "#c9a227")
_REPEAT = ("Does not repeat", "Daily", "Weekly", "Monthly", "Yearly")
_ENDS = ("Never", "On date", "After")


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

    Args:
        calendars: calendar id -> its values, offered in the calendar box.
        values: the event's current fields (of the occurrence being edited).
        occurrence: editing one occurrence: the recurrence controls are disabled.
    """

    def __init__(
        self,
        calendars: Mapping[str, Mapping[str, Any]],
        values: Mapping[str, Any],
        *,
        occurrence: bool = False,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Edit event" if values.get("title") else "New event")
        self._values = dict(values)
        self._tz = zone(values.get("tz"))
        form = QFormLayout(self)

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
        form.addRow("", self.all_day_box)

        self.start_edit = QDateTimeEdit()
        self.end_edit = QDateTimeEdit()
        for edit in (self.start_edit, self.end_edit):
            edit.setCalendarPopup(True)
            edit.setDisplayFormat("yyyy-MM-dd HH:mm")
        self._load_times()
        form.addRow("Starts", self.start_edit)
        form.addRow("Ends", self.end_edit)

        self.tz_box = QComboBox()
        self.tz_box.setEditable(True)
        self.tz_box.addItems(["UTC", *_zones()])
        self.tz_box.setCurrentText(str(values.get("tz") or "UTC"))
        form.addRow("Time zone", self.tz_box)

        self.location_edit = QLineEdit(str(values.get("location") or ""))
        form.addRow("Location", self.location_edit)
        self.description_edit = QPlainTextEdit(str(values.get("description") or ""))
        self.description_edit.setFixedHeight(70)
        form.addRow("Description", self.description_edit)

        spec = parse_rule(values.get("rrule"))
        self._spec = spec
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
        form.addRow("Ends", ends_row)
        for widget in (self.repeat_box, self.interval_spin, self.ends_box, self.until_edit, self.count_spin):
            widget.setEnabled(not occurrence)

        raw = values.get("reminders")
        minutes = [str(m) for m in raw] if isinstance(raw, list) else []
        self.reminders_edit = QLineEdit(", ".join(minutes))
        self.reminders_edit.setPlaceholderText("minutes before, e.g. 10, 60")
        form.addRow("Reminders", self.reminders_edit)

        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        form.addRow(self.buttons)
        self.all_day_box.toggled.connect(self._all_day_toggled)
        self._all_day_toggled(self.all_day_box.isChecked())
        self.title_edit.setFocus()

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

    def _all_day_toggled(self, on: bool) -> None:
        fmt = "yyyy-MM-dd" if on else "yyyy-MM-dd HH:mm"
        self.start_edit.setDisplayFormat(fmt)
        self.end_edit.setDisplayFormat(fmt)
        self.tz_box.setEnabled(not on)

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
            end = max(end, start)
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

    def _rule_spec(self) -> RuleSpec | None:
        index = self.repeat_box.currentIndex()
        if index == 0:
            return None
        freq = FREQUENCIES[index - 1]
        extra = self._spec.extra if self._spec is not None and self._spec.freq == freq else ()
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
        self.colour_box = QComboBox()
        self.colour_box.setEditable(True)
        self.colour_box.addItems(PALETTE)
        self.colour_box.setCurrentText(colour)
        form.addRow("Colour", self.colour_box)
        self.bookable_box = QCheckBox("Bookable (no two events may overlap: a room, a car)")
        form.addRow("", self.bookable_box)
        if values is not None:
            name, shade = values.get("name"), values.get("colour")
            self.name_edit.setText(name if isinstance(name, str) else "")
            self.colour_box.setCurrentText(shade if isinstance(shade, str) and shade else colour)
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
            "colour": self.colour_box.currentText().strip()[:32] or PALETTE[0],
            "bookable": self.bookable_box.isChecked(),
        }
