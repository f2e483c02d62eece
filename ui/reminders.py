"""Reminders: each one shown at its time (a precise timer armed for the next one, so it fires
within a second), as a system notification where there is a tray and in a popup with Snooze
and Dismiss; those that fell due while the app was closed are shown, marked missed, at start.

How far the app has shown reminders is kept in the data folder (``REMINDERS_SEEN_FILE``), so
a reminder is shown once however often the app starts.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path

from localfirst.recurrence import Occurrence, Reminder, reminders_due
from ui.qt import (
    QDialog,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QObject,
    QPushButton,
    QSystemTrayIcon,
    Qt,
    QTimer,
    QVBoxLayout,
    QWidget,
    Signal,
    qconnect,
)

log = logging.getLogger(__name__)

#: Where the time up to which reminders were shown is kept, in the data folder.
REMINDERS_SEEN_FILE = "reminders-seen"
#: How far ahead the next reminders are read (the longest lead a reminder is honoured with).
LOOKAHEAD = timedelta(days=8)
#: How far back a reminder missed while the app was closed is still shown.
CATCH_UP = timedelta(days=7)
#: The longest the timer sleeps before looking again (ms): a clock change or a suspended
#: machine is noticed within this.
MAX_SLEEP_MS = 60_000
#: How often the upcoming reminders are read again even when nothing changed.
REPLAN_EVERY = timedelta(hours=1)
#: Minutes a Snooze puts a reminder off by.
SNOOZE_MINUTES = 5

Fetch = Callable[[datetime, datetime, Callable[[list[Occurrence]], None]], None]


@dataclass(frozen=True, slots=True)
class Due:
    """A reminder to show now; ``missed`` when it fell due while the app was closed."""

    reminder: Reminder
    missed: bool = False

    def text(self, now: datetime, tz: tzinfo | None = None) -> str:
        start = self.reminder.start
        local = start.astimezone(tz) if tz is not None else start
        minutes = round((start - now).total_seconds() / 60)
        if minutes > 0:
            when = f"in {minutes} min" if minutes < 60 else f"at {local:%H:%M}"
        elif minutes == 0:
            when = "now"
        else:
            when = f"started {-minutes} min ago" if -minutes < 60 else f"was at {local:%a %H:%M}"
        prefix = "Missed: " if self.missed else ""
        return f"{prefix}{self.reminder.title or 'Untitled'} {when} ({local:%H:%M})"


class ReminderCenter(QObject):
    """Schedules reminders from ``fetch`` (the calendar pane's, visible calendars only).

    Signals:
        reminder_did_fire(Due): a reminder is to be shown (on time, missed, or snoozed).
    """

    reminder_did_fire = Signal(object)

    def __init__(
        self,
        fetch: Fetch,
        data_dir: Path | None,
        now: Callable[[], datetime] | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._fetch = fetch
        self._file = data_dir / REMINDERS_SEEN_FILE if data_dir is not None else None
        self.now = now or (lambda: datetime.now(UTC))
        self.upcoming: list[Reminder] = []
        self.snoozed: list[Reminder] = []
        self.seen = self._load_seen()
        self.timer = QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        qconnect(self.timer.timeout, self.check)
        self._started = False
        self._planned = self.now()

    # -- the seen mark -------------------------------------------------------------------------

    def _load_seen(self) -> datetime:
        now = self.now()
        try:
            text = self._file.read_text("ascii").strip() if self._file is not None else ""
            seen = datetime.fromisoformat(text) if text else now
        except (OSError, ValueError):
            seen = now  # never run here, or unreadable: nothing to catch up with
        if seen.tzinfo is None:
            seen = seen.replace(tzinfo=UTC)
        return max(min(seen, now), now - CATCH_UP)

    def _save_seen(self) -> None:
        if self._file is None:
            return
        try:
            self._file.write_text(self.seen.isoformat(), "ascii")
        except OSError as exc:  # a read-only folder: reminders still show, once per run
            log.warning("cannot record shown reminders: %s", exc)

    # -- scheduling ----------------------------------------------------------------------------

    def start(self) -> None:
        """Show what was missed while closed, then follow the upcoming reminders."""
        self._started = True
        self.replan(catch_up=True)

    def stop(self) -> None:
        self._started = False
        self.timer.stop()

    @property
    def active(self) -> bool:
        return self._started

    def replan(self, catch_up: bool = False) -> None:
        """Read the reminders from the last shown one to the look-ahead; arm the timer."""
        if not self._started:
            return
        since, now = self.seen, self.now()
        self._planned = now

        def got(occurrences: list[Occurrence]) -> None:
            if not self._started:
                return
            self.upcoming = reminders_due(occurrences, since, now + LOOKAHEAD)
            self.check(missed=catch_up)

        # An occurrence's reminder is due before it starts: read from the mark on.
        self._fetch(since, now + LOOKAHEAD + timedelta(minutes=1), got)

    def check(self, missed: bool = False) -> None:
        """Fire every reminder due up to now, then arm the timer for the next one."""
        now = self.now()
        due = [r for r in self.upcoming if self.seen < r.due <= now]
        woken = [r for r in self.snoozed if r.due <= now]
        self.snoozed = [r for r in self.snoozed if r.due > now]
        if now > self.seen:
            self.seen = now
            self._save_seen()
        self.upcoming = [r for r in self.upcoming if r.due > now]
        if now - self._planned > REPLAN_EVERY:
            self.replan()  # the look-ahead moves on
        for reminder in due:
            self.reminder_did_fire.emit(Due(reminder, missed and reminder.due < now - timedelta(seconds=2)))
        for reminder in woken:
            self.reminder_did_fire.emit(Due(reminder))
        self._arm(now)

    def _arm(self, now: datetime) -> None:
        if not self._started:
            return
        times = [r.due for r in (*self.upcoming, *self.snoozed)]
        wait = MAX_SLEEP_MS
        if times:
            ms = (min(times) - now).total_seconds() * 1000
            wait = max(0, min(MAX_SLEEP_MS, int(ms) + 1))
        self.timer.start(wait)

    def snooze(self, reminder: Reminder, minutes: int = SNOOZE_MINUTES) -> None:
        """Show this reminder again in ``minutes``."""
        self.snoozed.append(replace(reminder, due=self.now() + timedelta(minutes=minutes)))
        self._arm(self.now())


class ReminderPopup(QDialog):
    """The reminders shown now, each with Snooze and Dismiss; stays on top until dismissed."""

    def __init__(
        self, center: ReminderCenter, tz: tzinfo | None = None, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.center = center
        self.tz = tz
        self.setWindowTitle("Reminders")
        self.setWindowFlag(Qt.WindowType.WindowStaysOnTopHint, True)
        self.setMinimumWidth(520)
        self.items: list[Due] = []
        self.labels: list[QLabel] = []
        self.snooze_buttons: list[QPushButton] = []
        self.dismiss_buttons: list[QPushButton] = []
        self._grid = QGridLayout()
        self._grid.setColumnStretch(0, 1)
        self._grid.setHorizontalSpacing(8)
        self.dismiss_all = QPushButton("Dismiss all")
        qconnect(self.dismiss_all.clicked, self.clear)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(self.dismiss_all)
        layout = QVBoxLayout(self)
        layout.addLayout(self._grid)
        layout.addStretch(1)
        layout.addLayout(row)

    def add(self, due: Due) -> None:
        self.items = [d for d in self.items if d.reminder.key != due.reminder.key or d == due]
        if due not in self.items:
            self.items.append(due)
        self._fill()
        self.show()
        self.raise_()

    def _fill(self) -> None:
        while self._grid.count():
            item = self._grid.takeAt(0)
            widget = item.widget() if item is not None else None
            if widget is not None:
                widget.hide()  # off screen now; deleted once control returns to the loop
                widget.deleteLater()
        self.labels, self.snooze_buttons, self.dismiss_buttons = [], [], []
        now = self.center.now()
        for row, due in enumerate(self.items):
            label = QLabel(due.text(now, self.tz))
            label.setTextFormat(Qt.TextFormat.PlainText)  # synced titles are never rich text
            label.setWordWrap(True)
            label.setMinimumWidth(260)
            snooze = QPushButton(f"Snooze {SNOOZE_MINUTES} min")
            dismiss = QPushButton("Dismiss")
            qconnect(snooze.clicked, lambda _=False, d=due: self.snooze(d))
            qconnect(dismiss.clicked, lambda _=False, d=due: self.dismiss(d))
            self._grid.addWidget(label, row, 0)
            self._grid.addWidget(snooze, row, 1)
            self._grid.addWidget(dismiss, row, 2)
            self.labels.append(label)
            self.snooze_buttons.append(snooze)
            self.dismiss_buttons.append(dismiss)

    def snooze(self, due: Due) -> None:
        self.center.snooze(due.reminder)
        self.dismiss(due)

    def dismiss(self, due: Due) -> None:
        self.items = [d for d in self.items if d != due]
        self._fill()
        if not self.items:
            self.hide()

    def clear(self) -> None:
        self.items = []
        self._fill()
        self.hide()


def notify(tray: QSystemTrayIcon | None, due: Due, text: str) -> bool:
    """A system notification through the tray, if this desktop has one; whether it was sent."""
    if tray is None or not QSystemTrayIcon.isSystemTrayAvailable():
        return False
    title = "Missed reminder" if due.missed else "Reminder"
    tray.showMessage(title, text, QSystemTrayIcon.MessageIcon.Information, 10_000)
    return True
