"""The calendar pane: toolbar, calendar list, month/week/day views, editing, undo, notices.

Every read and write runs on the backend's replica thread (``backend.submit``); results come
back to the GUI thread through a queued signal. The pane keeps an ``EventIndex`` that only the
replica thread touches, refreshed with the entities each change names, so a view queries its
window without reading the whole library.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from localfirst import Changes, Replica, calendar, new_id
from localfirst.calendar import Edit, Scope
from localfirst.calendar_ops import EventIndex, at_slot
from localfirst.recurrence import Occurrence, reminders_due, zone
from ui.conflicts import event_conflicts_dialog, marks
from ui.qt import (
    QAbstractButton,
    QButtonGroup,
    QCalendarWidget,
    QColor,
    QDate,
    QDialog,
    QHBoxLayout,
    QIcon,
    QKeyEvent,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QMessageBox,
    QObject,
    QPalette,
    QPixmap,
    QPoint,
    QPushButton,
    QSplitter,
    QStackedWidget,
    Qt,
    QTimer,
    QTimeZone,
    QUndoStack,
    QVBoxLayout,
    QWidget,
    Signal,
)
from ui.undo import EditRunner

if TYPE_CHECKING:
    from ui.preferences import Preferences

from ._agenda import AGENDA_DAYS, AgendaView
from ._dialogs import CalendarDialog, EventDialog
from ._month import MonthView
from ._search import SearchBox, SearchResults
from ._views import DEFAULT_COLOUR, Shown, TimeGridView

log = logging.getLogger(__name__)
T = TypeVar("T")

VIEWS = ("month", "week", "day", "agenda")
#: How far ahead the reminder scheduler looks for reminders (the longest lead it honours).
REMINDER_LEAD = timedelta(days=7)
#: How often the reminder scheduler checks (milliseconds).
REMINDER_TICK_MS = 30_000
#: The hour the week and day views scroll to.
FIRST_HOUR = 8
#: How far from the window a booking's requested time may lie and still be found when
#: commitment moved it to an alternative inside the window.
BOOKING_REACH = timedelta(days=7)


class Backend(Protocol):
    """What the pane needs of the app's backend: the replica's thread, and change signals."""

    @property
    def changed(self) -> Any: ...  # Signal(object): a Changes, or None when unknown

    def submit(self, fn: Callable[[Replica], T]) -> Future[T]: ...


def _pydate(value: QDate) -> date:
    return date(value.year(), value.month(), value.day())


def system_zone() -> tzinfo:
    """This machine's IANA zone (UTC if Qt cannot name it)."""
    name = bytes(QTimeZone.systemTimeZoneId().data()).decode("ascii", "replace")
    return zone(name)


@dataclass(slots=True)
class _Result:
    calendars: dict[str, dict[str, Any]]
    occurrences: list[Occurrence]
    status: dict[str, str]
    notices: list[tuple[int, str]] = field(default_factory=list)  # (position, text) of new ones
    conflicted: set[str] = field(default_factory=set)  # occurrence keys with versions to resolve
    notes: dict[str, str] = field(default_factory=dict)  # occurrence key -> why a booking moved


def _fresh_notices(r: Replica, index: EventIndex, tz: tzinfo, seen: int | None) -> list[tuple[int, str]]:
    """The replica's notices after the first ``seen`` with their texts (all, untold, if None:
    those were there before the pane opened)."""
    notices = r.notices()
    if seen is None:
        return [(at, "") for at in range(len(notices))]
    return [(at, calendar.notice_text(r, index, notices[at], tz)) for at in range(seen, len(notices))]


class _Relay(QObject):
    """Carries a finished job's callback from the replica thread to the GUI thread."""

    finished = Signal(object)

    def __init__(self) -> None:
        super().__init__()
        self.finished.connect(self._run, Qt.ConnectionType.QueuedConnection)

    def _run(self, callback: Callable[[], None]) -> None:
        callback()


class ReminderScheduler(QObject):
    """Emits ``reminder_due(title, start)`` for each reminder as its time comes."""

    reminder_due = Signal(str, object)

    def __init__(
        self,
        fetch: Callable[[datetime, datetime, Callable[[list[Occurrence]], None]], None],
        now: Callable[[], datetime] | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._fetch = fetch
        self._now = now or (lambda: datetime.now(UTC))
        self._since = self._now()
        self.timer = QTimer(self)
        self.timer.setInterval(REMINDER_TICK_MS)
        self.timer.timeout.connect(self.check)

    def start(self) -> None:
        self.timer.start()

    def stop(self) -> None:
        self.timer.stop()

    def check(self) -> None:
        """Emit the reminders due since the last check."""
        t0, t1 = self._since, self._now()
        if t1 <= t0:
            return
        self._since = t1

        def show(occurrences: list[Occurrence]) -> None:
            for reminder in reminders_due(occurrences, t0, t1):
                self.reminder_due.emit(reminder.title, reminder.start)

        self._fetch(t0, t1 + REMINDER_LEAD, show)


class CalendarPane(QWidget):
    """The calendar part of the main window.

    Signals:
        booking_outcome_changed(str): commitment moved or rejected a booking (a message to show).
        reminder_due(str, datetime): a reminder's time came (title, start of the event).
        error_did_occur(str): a read or write failed (a message to show).
    """

    booking_outcome_changed = Signal(str)
    reminder_due = Signal(str, object)
    error_did_occur = Signal(str)
    #: Emitted on the GUI thread whenever the shown occurrences were refreshed.
    view_did_refresh = Signal()
    #: An event search's results are shown.
    search_did_finish = Signal()

    def __init__(self, backend: Backend, parent: QWidget | None = None, *, tz: tzinfo | None = None) -> None:
        super().__init__(parent)
        self.backend = backend
        self.tz = tz or system_zone()
        self.undo_stack = QUndoStack(self)
        self.edits = EditRunner(backend, self.tz, self)
        self.edits.edit_did_apply.connect(lambda edit: self._touch(edit.entities))
        self.edits.edit_did_fail.connect(self._on_edit_failed)
        self.calendars: dict[str, dict[str, Any]] = {}
        self.hidden: set[str] = set()
        self.occurrences: list[Occurrence] = []
        self.status: dict[str, str] = {}
        self.conflicted: set[str] = set()
        self.notes: dict[str, str] = {}
        self.messages: list[str] = []
        self.active_dialog: QDialog | None = None
        self.current_date = datetime.now(self.tz).date()
        self.view_name = "week"
        #: Minutes before a new event its reminder rings (None: no reminder).
        self.default_reminder: int | None = None
        self._index = EventIndex()  # touched only on the replica thread
        self._dirty: set[str] | None = None  # None: reload the whole index
        # How many of the replica's notices were shown (None: not read yet). They only ever
        # grow at the end, and two can be equal (a slot lost, regained, lost again): count them.
        self._seen_notices: int | None = None
        self._generation = 0
        self._search_generation = 0
        self._relay = _Relay()
        self._refresh_timer = QTimer(self)
        self._refresh_timer.setSingleShot(True)
        self._refresh_timer.setInterval(0)
        self._refresh_timer.timeout.connect(self.refresh)
        self._build()
        self.reminders = ReminderScheduler(self.fetch, parent=self)
        self.reminders.reminder_due.connect(self.reminder_due)
        backend.changed.connect(self._on_changed)
        self.set_view("week")

    # -- building -----------------------------------------------------------------------------

    def _build(self) -> None:
        self._build_views()
        bar = self._build_toolbar()
        side = self._build_sidebar()
        splitter = QSplitter()
        splitter.addWidget(side)
        splitter.addWidget(self.stack)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([180, 800])

        self.message_label = QLabel()
        self.message_label.setWordWrap(True)
        self.message_label.setAutoFillBackground(True)  # a notice strip in the palette's colours
        self.message_label.setBackgroundRole(QPalette.ColorRole.ToolTipBase)
        self.message_label.setForegroundRole(QPalette.ColorRole.ToolTipText)
        self.message_label.setContentsMargins(4, 4, 4, 4)
        self.message_label.hide()

        layout = QVBoxLayout(self)
        layout.addLayout(bar)
        layout.addWidget(self.message_label)
        layout.addWidget(self.search_results)
        layout.addWidget(splitter, 1)
        # Ctrl+Z / Ctrl+Shift+Z belong to the window's Edit menu alone (it undoes on this
        # pane's stack while the Calendar tab shows): one owner per shortcut.

    def _build_views(self) -> None:
        self.month_view = MonthView(self.tz)
        self.week_view = TimeGridView(7, self.tz)
        self.day_view = TimeGridView(1, self.tz)
        self.agenda_view = AgendaView(self.tz)
        self.stack = QStackedWidget()
        for v in self.views():
            self.stack.addWidget(v)  # the time grids scroll their hours themselves
        for v in self.views():
            v.create_requested.connect(self._create_at)
            v.edit_requested.connect(self.edit_occurrence)
            v.move_requested.connect(self.move_occurrence)
            v.delete_requested.connect(self.delete_occurrence)

    def _build_toolbar(self) -> QHBoxLayout:
        bar = QHBoxLayout()
        self.prev_button = QPushButton("<")
        self.today_button = QPushButton("Today")
        self.next_button = QPushButton(">")
        self.prev_button.clicked.connect(lambda: self.step(-1))
        self.next_button.clicked.connect(lambda: self.step(1))
        self.today_button.clicked.connect(lambda: self.go_to(self.today()))
        self.title_label = QLabel()
        self.view_buttons: dict[str, QPushButton] = {}
        group = QButtonGroup(self)
        for w in (self.prev_button, self.today_button, self.next_button, self.title_label):
            bar.addWidget(w)
        bar.addStretch(1)
        for name in VIEWS:
            button = QPushButton(name.capitalize())
            button.setCheckable(True)
            group.addButton(button)
            button.clicked.connect(lambda _=False, n=name: self.set_view(n))
            self.view_buttons[name] = button
            bar.addWidget(button)
        self.new_event_button = QPushButton("New event")
        self.new_event_button.clicked.connect(self.new_event)
        bar.addWidget(self.new_event_button)
        self.search_box = SearchBox()
        self.search_results = SearchResults()
        self.search_box.query_changed.connect(self.search)
        self.search_box.down_pressed.connect(self.search_results.setFocus)
        self.search_box.submitted.connect(self.search_results.choose_current)
        self.search_results.occurrence_chosen.connect(self.open_found)
        bar.insertWidget(bar.count() - len(VIEWS) - 1, self.search_box)
        return bar

    def _build_sidebar(self) -> QWidget:
        self.calendar_list = QListWidget()
        self.calendar_list.itemChanged.connect(self._calendar_toggled)
        self.calendar_list.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.calendar_list.customContextMenuRequested.connect(self._calendar_menu)
        self.new_calendar_button = QPushButton("New calendar")
        self.new_calendar_button.clicked.connect(self.new_calendar)
        self.mini_month = QCalendarWidget()  # the date picker
        self.mini_month.setVerticalHeaderFormat(QCalendarWidget.VerticalHeaderFormat.NoVerticalHeader)
        self.mini_month.setGridVisible(False)
        self.mini_month.setMaximumHeight(200)
        self.mini_month.clicked.connect(lambda picked: self.go_to(_pydate(picked)))
        side = QWidget()
        side_layout = QVBoxLayout(side)
        side_layout.setContentsMargins(0, 0, 0, 0)
        side_layout.addWidget(self.mini_month)
        side_layout.addWidget(QLabel("Calendars"))
        side_layout.addWidget(self.calendar_list)
        side_layout.addWidget(self.new_calendar_button)
        return side

    # -- preferences --------------------------------------------------------------------------

    def set_preferences(self, prefs: Preferences) -> None:
        """Week start, working hours, default reminder and time zone (``ui.preferences``)."""
        self.default_reminder = prefs.default_reminder
        self.tz = zone(prefs.time_zone) if prefs.time_zone else system_zone()
        self.edits.tz = self.tz
        for v in self.views():
            v.tz = self.tz
            v.week_start = prefs.week_start
        for grid in (self.week_view, self.day_view):
            grid.working_hours = (prefs.work_start, prefs.work_end)
        self.mini_month.setFirstDayOfWeek(Qt.DayOfWeek(prefs.week_start + 1))
        self.go_to(self.current_date)

    # -- navigation ---------------------------------------------------------------------------

    def today(self) -> date:
        """Today in the pane's time zone."""
        return self.week_view.today()

    def views(self) -> tuple[MonthView, TimeGridView, TimeGridView, AgendaView]:
        return (self.month_view, self.week_view, self.day_view, self.agenda_view)

    @property
    def view(self) -> MonthView | TimeGridView | AgendaView:
        return self.views()[VIEWS.index(self.view_name)]

    def set_view(self, name: str) -> None:
        """Show the "month", "week", "day" or "agenda" view."""
        if name not in VIEWS:
            raise ValueError(f"unknown view {name!r}")
        self.view_name = name
        self.view_buttons[name].setChecked(True)
        self.stack.setCurrentWidget(self.view)
        self.go_to(self.current_date)

    def go_to(self, day: date) -> None:
        """Show the period holding this day."""
        self.current_date = day
        self.month_view.set_month(day)
        self.week_view.set_first_day(self.week_view.week_first(day))
        self.day_view.set_first_day(day)
        self.agenda_view.set_first_day(day)
        for v in (self.month_view, self.week_view, self.day_view):
            v.focus_day = day
        self.title_label.setText(self._title(day))
        self.mini_month.blockSignals(True)
        self.mini_month.setSelectedDate(QDate(day.year, day.month, day.day))
        self.mini_month.blockSignals(False)
        view = self.view
        if isinstance(view, TimeGridView):
            view.scroll_to_hour(FIRST_HOUR)
        self.refresh()

    def _title(self, day: date) -> str:
        if self.view_name == "month":
            return f"{day:%B %Y}"
        if self.view_name == "week":
            return f"Week of {self.week_view.week_first(day):%d %b %Y}"
        if self.view_name == "agenda":
            return f"From {day:%A %d %B %Y}"
        return f"{day:%A %d %B %Y}"

    def step(self, direction: int) -> None:
        """The previous (-1) or next (1) month, week, day or four weeks."""
        day = self.current_date
        if self.view_name == "month":
            month = day.month - 1 + direction
            self.go_to(date(day.year + month // 12, month % 12 + 1, 1))
        else:
            days = {"week": 7, "day": 1, "agenda": AGENDA_DAYS}[self.view_name]
            self.go_to(day + timedelta(days=direction * days))

    def keyPressEvent(self, event: QKeyEvent) -> None:
        """Keys a view left alone: T today, 1-4 views, arrows move the day, Page Up/Down the
        period, N or Enter a new event on the day."""
        key, day = int(event.key()), self.current_date
        grid = self.view_name in ("week", "day")
        moves: dict[int, int] = {
            Qt.Key.Key_Left: -1,
            Qt.Key.Key_Right: 1,
            Qt.Key.Key_Up: -7 if self.view_name != "day" else 0,
            Qt.Key.Key_Down: 7 if self.view_name != "day" else 0,
        }
        if key == Qt.Key.Key_T:
            self.go_to(self.today())
        elif Qt.Key.Key_1 <= key <= Qt.Key.Key_4:
            self.set_view(VIEWS[key - int(Qt.Key.Key_1)])
        elif key in moves and not (grid and moves[key] == 0):
            self.go_to(day + timedelta(days=moves[key]))
        elif key in (Qt.Key.Key_Up, Qt.Key.Key_Down) and isinstance(self.view, TimeGridView):
            bar = self.view.scrollbar  # the day view: Up and Down scroll the hours
            bar.setValue(bar.value() + (-1 if key == Qt.Key.Key_Up else 1) * round(self.view.HOUR))
        elif key in (Qt.Key.Key_PageUp, Qt.Key.Key_PageDown):
            self.step(-1 if key == Qt.Key.Key_PageUp else 1)
        elif key in (Qt.Key.Key_N, Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self.new_event()
        else:
            super().keyPressEvent(event)
            return
        self.view.setFocus()

    # -- reading ------------------------------------------------------------------------------

    def _run(
        self,
        fn: Callable[[Replica], T],
        done: Callable[[T], None] | None = None,
        what: str = "The calendar could not be read",
    ) -> None:
        """Run ``fn`` on the replica thread, then ``done`` with its result on the GUI thread."""
        future = self.backend.submit(fn)

        def finish() -> None:
            exc = future.exception()
            if exc is not None:
                log.error("%s: %s", what, exc, exc_info=exc)
                self.error_did_occur.emit(f"{what}: {exc}")
                self._show_message(f"{what}: {exc}")
                return
            if done is not None:
                done(future.result())

        future.add_done_callback(lambda _f: self._relay.finished.emit(finish))

    def _sync_index(self) -> Callable[[Replica], None]:
        """A replica-thread step bringing the index up to date with the changes seen so far."""
        dirty, self._dirty = self._dirty, set()
        index = self._index

        def sync(r: Replica) -> None:
            if dirty is None:
                index.load((k, d.values()) for k, d in r.iter_entities("event"))
                return
            for entity in dirty:
                doc = r.get(entity)
                alive = doc is not None and doc.exists and doc.kind == "event"
                index.update(entity, doc.values() if alive and doc is not None else None)

        return sync

    def refresh(self) -> None:
        """Query the window shown (on the replica thread) and redraw."""
        self._generation += 1
        generation = self._generation
        sync = self._sync_index()
        index, tz, seen = self._index, self.tz, self._seen_notices
        start, end = self.view.time_window()

        def query(r: Replica) -> _Result:
            sync(r)
            calendars = {k: d.values() for k, d in r.entities("calendar").items()}
            occurrences = index.query(start, end, display_tz=tz)
            bookable = {c for c, v in calendars.items() if v.get("bookable") is True}
            if bookable:
                # A booking shows where it holds its slot, which commitment may have moved to an
                # alternative: look a little around the window for those that moved into it.
                near = index.query(
                    start - BOOKING_REACH, end + BOOKING_REACH, display_tz=tz, calendars=bookable
                )
                seen_keys = {o.key for o in occurrences}
                occurrences = occurrences + [o for o in near if o.key not in seen_keys]
            shown, status = _place_bookings(r, occurrences, bookable, tz, (start, end))
            shown.sort(key=lambda o: (o.start, o.key))
            result = _Result(calendars, shown, status)
            result.notices = _fresh_notices(r, index, tz, seen)
            result.conflicted, result.notes = marks(r, shown, status, tz)  # hook: ui.conflicts
            return result

        def show(result: _Result) -> None:
            first = self._seen_notices is None
            seen = self._seen_notices or 0
            for at, text in result.notices:
                if at < seen:
                    continue  # an earlier query already showed it
                if not first:
                    if not text:
                        self._refresh_timer.start()  # queried before the first answer: ask again
                        break
                    self._announce(text)
                seen = at + 1
            self._seen_notices = seen
            if generation != self._generation:
                return  # a newer query is on its way
            self.calendars = result.calendars
            self.occurrences = result.occurrences
            self.status = result.status
            self.conflicted, self.notes = result.conflicted, result.notes
            self._fill_calendar_list()
            self._render()
            self.view_did_refresh.emit()

        self._run(query, show)

    def search(self, query: str) -> None:
        """Find events by title, location or description (every word); show them to pick."""
        self._search_generation += 1
        generation = self._search_generation
        if not query:
            self.search_results.show_results("", [], self.tz)
            self.search_did_finish.emit()
            return
        sync = self._sync_index()
        index, tz = self._index, self.tz
        now = datetime.now(tz)

        def find(r: Replica) -> list[Occurrence]:
            sync(r)
            return index.search(query, now, display_tz=tz)

        def show(found: list[Occurrence]) -> None:
            if generation == self._search_generation:
                visible = [o for o in found if o.calendar not in self.hidden]
                self.search_results.show_results(query, visible, self.tz)
                self.search_did_finish.emit()

        self._run(find, show, "The search failed")

    def open_found(self, occ: Occurrence) -> None:
        """Show a found event's day and open it."""
        self.go_to(occ.start.astimezone(self.tz).date())
        self.edit_occurrence(occ)

    def fetch(self, start: datetime, end: datetime, done: Callable[[list[Occurrence]], None]) -> None:
        """Occurrences of the visible calendars in a window, given to ``done`` on the GUI thread."""
        sync = self._sync_index()
        index, tz = self._index, self.tz

        def query(r: Replica) -> list[Occurrence]:
            sync(r)
            return index.query(start, end, display_tz=tz)

        self._run(query, lambda occs: done([o for o in occs if o.calendar not in self.hidden]))

    def _on_changed(self, changes: Changes | None) -> None:
        if changes is None or changes.snapshot:
            self._dirty = None
        elif self._dirty is not None:
            self._dirty.update(changes.entities)
        self._refresh_timer.start()

    def _render(self) -> None:
        shown = [
            Shown(
                o,
                self._colour(o.calendar),
                self.status.get(o.key, ""),
                o.key in self.conflicted,
                self.notes.get(o.key, ""),
            )
            for o in self.occurrences
            if o.calendar not in self.hidden
        ]
        names = {c: str(v.get("name") or "Untitled") for c, v in self.calendars.items()}
        for v in self.views():
            v.calendar_names = names
            start, end = v.time_window()
            v.set_items(
                [s for s in shown if s.occ.start < end and (s.occ.end > start or s.occ.start == start)]
            )

    def _colour(self, calendar: str) -> str:
        colour = self.calendars.get(calendar, {}).get("colour")
        return colour if isinstance(colour, str) and colour else DEFAULT_COLOUR

    def _fill_calendar_list(self) -> None:
        lst = self.calendar_list
        lst.blockSignals(True)
        lst.clear()
        for cal_id, values in sorted(self.calendars.items(), key=lambda kv: str(kv[1].get("name", ""))):
            suffix = " (bookable)" if values.get("bookable") is True else ""
            mark = "⚠ " if cal_id in self.conflicted else ""  # hook: ui.conflicts.marks
            item = QListWidgetItem(f"{mark}{values.get('name') or 'Untitled'}{suffix}")
            item.setData(Qt.ItemDataRole.UserRole, cal_id)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Unchecked if cal_id in self.hidden else Qt.CheckState.Checked)
            swatch = QPixmap(12, 12)
            swatch.fill(QColor(self._colour(cal_id)))
            item.setIcon(QIcon(swatch))
            lst.addItem(item)
        lst.blockSignals(False)

    def _calendar_toggled(self, item: QListWidgetItem) -> None:
        cal_id = item.data(Qt.ItemDataRole.UserRole)
        if item.checkState() == Qt.CheckState.Checked:
            self.hidden.discard(cal_id)
        else:
            self.hidden.add(cal_id)
        self._render()

    # -- messages -----------------------------------------------------------------------------

    def _announce(self, text: str) -> None:
        self.booking_outcome_changed.emit(text)
        self._show_message(text)

    def _show_message(self, text: str) -> None:
        self.messages.append(text)
        self.message_label.setText(text)
        self.message_label.show()

    # -- writing ------------------------------------------------------------------------------

    def _edit(self, text: str, fn: Callable[[Replica], Edit]) -> None:
        """Run a calendar service as one undoable action (``text`` names it until it is done)."""
        self.edits.do(fn, self.undo_stack, text)

    def _on_edit_failed(self, message: str) -> None:
        self.error_did_occur.emit(message)
        self._show_message(message)

    def _touch(self, entities: Iterable[str]) -> None:
        if self._dirty is not None:
            self._dirty.update(entities)
        self.refresh()

    def create_event(self, fields: dict[str, Any], entity: str | None = None) -> str:
        """Create an event (booked if its calendar is bookable); returns its id."""
        entity, tz = entity or new_id(), self.tz
        self._edit("New event", lambda r: calendar.create_event(r, fields, tz, entity))
        return entity

    def update_event(self, occ: Occurrence, changes: dict[str, Any], scope: Scope = "this") -> None:
        """Change fields of an occurrence in ``scope`` ("this", "following" or "series")."""
        if changes:
            tz = self.tz
            self._edit("Edit event", lambda r: calendar.edit_event(r, occ, changes, scope, tz))

    def delete_event(self, occ: Occurrence, scope: Scope = "this") -> None:
        tz = self.tz
        self._edit("Delete event", lambda r: calendar.delete_event(r, occ, scope, tz))

    # -- user flows (dialogs) -----------------------------------------------------------------

    def _default_calendar(self) -> str:
        visible = [c for c in sorted(self.calendars) if c not in self.hidden]
        plain = [c for c in visible if self.calendars[c].get("bookable") is not True]
        return (plain or visible or [""])[0]

    def new_event(self) -> None:
        """Open the editor for a new event at 09:00 on the current day."""
        start = datetime.combine(self.current_date, datetime.min.time(), tzinfo=self.tz) + timedelta(hours=9)
        self._create_at(start, start + timedelta(hours=1), False)

    def _create_at(self, start: datetime, end: datetime, all_day: bool) -> None:
        values = calendar.new_event_fields(self._default_calendar(), start, end, all_day, self.tz)
        if self.default_reminder is not None:
            values["reminders"] = [self.default_reminder]
        dialog = EventDialog(self.calendars, values, parent=self)

        def accepted() -> None:
            self.create_event(dialog.fields())

        self._open(dialog, accepted)

    def edit_occurrence(self, occ: Occurrence) -> None:
        """Ask "this occurrence or all" for a recurring event, then open the editor; an event
        with conflicting versions opens the resolve dialog first (ui.conflicts)."""
        if self.notes.get(occ.key):
            self._show_message(self.notes[occ.key])
        if occ.key in self.conflicted:
            self._open(event_conflicts_dialog(self, occ), None)
            return

        def edit(scope: Scope) -> None:
            values = dict(occ.values)
            one = occ.series is not None and scope == "this"  # one occurrence: no rule to change
            dialog = EventDialog(self.calendars, values, occurrence=one, deletable=True, parent=self)

            def accepted() -> None:
                self.update_event(occ, calendar.changed_fields(values, dialog.fields()), scope)

            dialog.delete_requested.connect(lambda: self.delete_event(occ, scope))
            self._open(dialog, accepted)

        self._ask_scope(occ, "Edit", edit)

    def move_occurrence(self, occ: Occurrence, start: datetime, end: datetime) -> None:
        """Move or resize an occurrence (asks "this or all" for a recurring one)."""
        tz = self.tz

        def move(scope: Scope) -> None:
            self._edit("Move event", lambda r: calendar.move_event(r, occ, start, end, scope, tz))

        self._ask_scope(occ, "Move", move)

    def delete_occurrence(self, occ: Occurrence) -> None:
        self._ask_scope(occ, "Delete", lambda scope: self.delete_event(occ, scope))

    def new_calendar(self) -> None:
        colour = calendar.least_used_colour(v.get("colour") for v in self.calendars.values())
        dialog = CalendarDialog(self, colour=colour)

        def accepted() -> None:
            fields = dialog.fields()
            self._edit("New calendar", lambda r: calendar.create_calendar(r, fields))

        self._open(dialog, accepted)

    def _calendar_menu(self, pos: QPoint) -> None:
        item = self.calendar_list.itemAt(pos)
        if item is None:
            return
        cal = str(item.data(Qt.ItemDataRole.UserRole))
        menu = QMenu(self)
        menu.addAction("Edit calendar…").triggered.connect(lambda: self.edit_calendar(cal))
        menu.addAction("Delete calendar…").triggered.connect(lambda: self.delete_calendar(cal))
        menu.popup(self.calendar_list.viewport().mapToGlobal(pos))

    def edit_calendar(self, cal: str) -> None:
        """Rename, recolour or change the bookability of a calendar (undoable)."""
        dialog = CalendarDialog(self, values=self.calendars.get(cal, {}))

        def accepted() -> None:
            fields = dialog.fields()
            self._edit("Edit calendar", lambda r: calendar.edit_calendar(r, cal, fields))

        self._open(dialog, accepted)

    def delete_calendar(self, cal: str) -> None:
        """Ask, then delete a calendar and its events (one undo brings them all back)."""
        name = self.calendars.get(cal, {}).get("name") or "Untitled"
        box = QMessageBox(self)
        box.setWindowTitle("Delete calendar")
        box.setText(f"Delete the calendar “{name}” and every event in it, on all your devices?")
        delete = box.addButton("Delete", QMessageBox.ButtonRole.DestructiveRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        tz = self.tz

        def clicked(button: QAbstractButton) -> None:
            if button is delete:
                self._edit("Delete calendar", lambda r: calendar.delete_calendar(r, cal, tz))

        box.buttonClicked.connect(clicked)
        self._open(box, None)

    def _ask_scope(self, occ: Occurrence, verb: str, then: Callable[[Scope], None]) -> None:
        if occ.series is None:
            then("this")
            return
        box = QMessageBox(self)
        box.setWindowTitle(f"{verb} recurring event")
        box.setText(f"{verb} only this occurrence of “{occ.title}”, this and the following ones, or all?")
        scopes: dict[QAbstractButton, Scope] = {
            box.addButton("This occurrence", QMessageBox.ButtonRole.AcceptRole): "this",
            box.addButton("This and following", QMessageBox.ButtonRole.AcceptRole): "following",
            box.addButton("All occurrences", QMessageBox.ButtonRole.AcceptRole): "series",
        }
        box.addButton(QMessageBox.StandardButton.Cancel)

        def clicked(button: QAbstractButton) -> None:
            scope = scopes.get(button)
            if scope is not None:
                then(scope)

        box.buttonClicked.connect(clicked)
        self._open(box, None)

    def _open(self, dialog: QDialog, accepted: Callable[[], None] | None) -> None:
        """Show a dialog without a nested event loop; ``active_dialog`` names it while open."""
        self.active_dialog = dialog
        if accepted is not None:
            dialog.accepted.connect(accepted)

        def finished(_result: int) -> None:
            if self.active_dialog is dialog:
                self.active_dialog = None
            dialog.deleteLater()

        dialog.finished.connect(finished)
        dialog.open()


def _place_bookings(
    r: Replica,
    occurrences: list[Occurrence],
    bookable: set[str],
    tz: tzinfo,
    window: tuple[datetime, datetime],
) -> tuple[list[Occurrence], dict[str, str]]:
    """Occurrences where they show in ``window`` (a booking at the slot it holds), and each
    booking's status: confirmed, tentative, or conflict (drawn at the requested time)."""
    start, end = window
    status: dict[str, str] = {}
    shown: list[Occurrence] = []
    for found in occurrences:
        occ = found
        if occ.calendar in bookable and not occ.recurring:
            booking = r.booking(occ.event)
            if booking is None or booking.slot is None:
                status[occ.key] = "conflict"
            else:
                status[occ.key] = "tentative" if booking.tentative else "confirmed"
                occ = at_slot(occ, booking.slot.start, booking.slot.end, tz)
        if occ.start < end and (occ.end > start or occ.start == start):
            shown.append(occ)
    return shown, status
