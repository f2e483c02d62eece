"""The month view: six weeks of day cells; an event spanning days is one bar across them, a day
with more events than fit shows "+N more", which opens the list of that day's events."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, tzinfo

from localfirst.calendar_ops import moved
from localfirst.recurrence import Occurrence, localize
from ui.qt import (
    QFont,
    QFrame,
    QKeyEvent,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPalette,
    QPen,
    QPointF,
    QRectF,
    Qt,
    QVBoxLayout,
    QWidget,
    Signal,
)
from ui.theme import grid_colours, text_on

from ._paint import Shown, paint_item
from ._views import _Drag, _EventView, _Placed

DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


class DayList(QFrame):
    """A popup listing one day's events; activating one (click, Enter) opens it."""

    occurrence_chosen = Signal(object)  # Occurrence

    def __init__(self, day: date, items: list[tuple[str, Occurrence]], parent: QWidget) -> None:
        super().__init__(parent, Qt.WindowType.Popup)
        self.day = day
        self.setFrameShape(QFrame.Shape.StyledPanel)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        self.title = QLabel(f"{day:%A %d %B}")
        bold = QFont(self.title.font())
        bold.setBold(True)
        self.title.setFont(bold)
        self.list = QListWidget()
        for text, occ in items:
            item = QListWidgetItem(text)
            item.setData(Qt.ItemDataRole.UserRole, occ)
            item.setToolTip(text)
            self.list.addItem(item)
        self.list.setCurrentRow(0)
        self.list.itemActivated.connect(self._chosen)
        self.list.itemClicked.connect(self._chosen)
        layout.addWidget(self.title)
        layout.addWidget(self.list)
        self.resize(260, min(360, 60 + 22 * len(items)))

    def texts(self) -> list[str]:
        return [self.list.item(i).text() for i in range(self.list.count())]

    def _chosen(self, item: QListWidgetItem) -> None:
        occ = item.data(Qt.ItemDataRole.UserRole)
        self.close()
        self.occurrence_chosen.emit(occ)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and self.list.currentItem() is not None:
            self._chosen(self.list.currentItem())
            return
        super().keyPressEvent(event)


class MonthView(_EventView):
    """Six weeks from the week start on or before the first of the month; events as chips."""

    HEADER = 20
    CHIP = 20
    #: Height of a cell's day number.
    DAY_ROW = 20

    def __init__(self, tz: tzinfo, parent: QWidget | None = None) -> None:
        super().__init__(tz, parent)
        self.month = date.today().replace(day=1)
        self._more: dict[date, int] = {}
        self.day_list: DayList | None = None
        self.setMinimumSize(420, 360)

    @property
    def first_day(self) -> date:
        return self.week_first(self.month)

    def set_month(self, day: date) -> None:
        self.month = day.replace(day=1)
        self._invalidate()

    def time_window(self) -> tuple[datetime, datetime]:
        start = datetime.combine(self.first_day, time(), tzinfo=self.tz)
        return start, datetime.combine(self.first_day + timedelta(days=42), time(), tzinfo=self.tz)

    def day_names(self) -> list[str]:
        return [DAY_NAMES[(self.week_start + i) % 7] for i in range(7)]

    def keys_on(self, day: date) -> list[str]:
        """Keys of the occurrences drawn in a day's cell (a bar counts in each day it covers)."""
        return [p.shown.key for p in self._placed if p.day <= day < p.day + timedelta(days=p.span)]

    def more_on(self, day: date) -> int:
        """How many of a day's events do not fit its cell ("+N more"; 0: all shown)."""
        _ = self._placed  # laid out
        return self._more.get(day, 0)

    def more_rect(self, day: date) -> QRectF:
        """Where a day's "+N more" is drawn (and clicked)."""
        cell = self.cell(day)
        return QRectF(cell.x() + 2, cell.bottom() - self.CHIP, cell.width() - 4, self.CHIP - 1)

    def cell(self, day: date) -> QRectF:
        index = (day - self.first_day).days
        w, h = self.width() / 7, (self.height() - self.HEADER) / 6
        return QRectF((index % 7) * w, self.HEADER + (index // 7) * h, w, h)

    def _day_at(self, pos: QPointF) -> date | None:
        if pos.y() < self.HEADER:
            return None
        w, h = self.width() / 7, (self.height() - self.HEADER) / 6
        column, row = int(pos.x() // w), int((pos.y() - self.HEADER) // h)
        if not (0 <= column < 7 and 0 <= row < 6):
            return None
        return self.first_day + timedelta(days=row * 7 + column)

    def _days_of(self, occ: Occurrence) -> tuple[date, date]:
        """First and last day an occurrence shows on (an end at midnight is not a day)."""
        first = occ.start.astimezone(self.tz).date()
        end = occ.end.astimezone(self.tz)
        last = end.date() if end.time() != time() or end.date() == first else end.date() - timedelta(days=1)
        return first, last

    def events_on(self, day: date) -> list[Shown]:
        """Every occurrence on a day, in the order the day's list shows them."""
        on = [s for s in self.shown if self._days_of(s.occ)[0] <= day <= self._days_of(s.occ)[1]]
        return sorted(on, key=_order)

    def _layout(self) -> None:
        self._placed, self._more = [], {}
        slots = max(0, int((self.cell(self.first_day).height() - self.DAY_ROW) // self.CHIP))
        spans = [(shown, *self._days_of(shown.occ)) for shown in sorted(self.shown, key=_order)]
        for week in range(6):
            self._layout_week(self.first_day + timedelta(days=7 * week), slots, spans)

    def _layout_week(self, first: date, slots: int, spans: list[tuple[Shown, date, date]]) -> None:
        """One week row: each event in the first slot row free over all its days there."""
        last = first + timedelta(days=6)
        taken = [[False] * 7 for _ in range(slots)]  # slot row -> day column -> taken
        bars: list[tuple[Shown, int, int, int]] = []
        overflow = False  # an event found no free row: the last row gives way to "+N more"
        for shown, a, b in spans:
            if b < first or a > last:
                continue
            c0, c1 = (max(a, first) - first).days, (min(b, last) - first).days
            row = next((r for r, used in enumerate(taken) if not any(used[c0 : c1 + 1])), slots)
            if row < slots:
                for c in range(c0, c1 + 1):
                    taken[row][c] = True
            else:
                overflow = True
            bars.append((shown, row, c0, c1))
        shown_rows = max(0, slots - 1) if overflow else slots
        for c in range(7):
            hidden = sum(1 for _s, row, c0, c1 in bars if row >= shown_rows and c0 <= c <= c1)
            if hidden:
                self._more[first + timedelta(days=c)] = hidden
        for shown, row, c0, c1 in bars:
            if row >= shown_rows:
                continue
            left, right = self.cell(first + timedelta(days=c0)), self.cell(first + timedelta(days=c1))
            top = left.y() + self.DAY_ROW + row * self.CHIP
            rect = QRectF(left.x() + 2, top, right.right() - left.x() - 4, self.CHIP - 2)
            self._placed.append(_Placed(shown, rect, first + timedelta(days=c0), span=c1 - c0 + 1))

    def _more_at(self, pos: QPointF) -> date | None:
        _ = self._placed  # laid out
        day = self._day_at(pos)
        if day is not None and day in self._more and self.more_rect(day).contains(pos):
            return day
        return None

    def open_day(self, day: date) -> DayList:
        """Show the list of a day's events (what "+N more" opens)."""
        if self.day_list is not None:
            self.day_list.close()
        items = [(self._item_text(s.occ), s.occ) for s in self.events_on(day)]
        popup = DayList(day, items, self)
        popup.occurrence_chosen.connect(self.edit_requested)
        cell = self.cell(day)
        popup.move(self.mapToGlobal(QPointF(cell.x(), cell.y()).toPoint()))
        popup.show()
        self.day_list = popup
        return popup

    def _item_text(self, occ: Occurrence) -> str:
        return occ.title if occ.all_day else f"{occ.start.astimezone(self.tz):%H:%M} {occ.title}"

    def mousePressEvent(self, event: QMouseEvent) -> None:
        day = self._more_at(event.position())
        if day is not None and event.button() == Qt.MouseButton.LeftButton:
            self.open_day(day)
            return
        super().mousePressEvent(event)

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        day = self._more_at(event.position())
        if day is not None:  # a double-click on "+N more" opens the list, never a new event
            if self.day_list is None or not self.day_list.isVisible():
                self.open_day(day)
            return
        super().mouseDoubleClickEvent(event)

    def _preview(self, drag: _Drag, pos: QPointF) -> tuple[datetime, datetime] | None:
        target, grabbed = self._day_at(pos), self._day_at(drag.origin)
        if target is None or grabbed is None:
            return None
        return moved(drag.placed.shown.occ, timedelta(days=(target - grabbed).days))

    def _slot_at(self, pos: QPointF) -> tuple[datetime, datetime, bool] | None:
        day = self._day_at(pos)
        if day is None:
            return None
        start = localize(datetime.combine(day, time(9)), self.tz)
        return start, start + timedelta(hours=1), False

    def paintEvent(self, event: QPaintEvent) -> None:
        placed = self._placed  # lays out first when stale (the cells read the "+N more")
        painter = QPainter(self)
        colours = grid_colours(self.palette())
        painter.fillRect(self.rect(), colours.header)
        w = self.width() / 7
        painter.setPen(colours.text)
        for column, name in enumerate(self.day_names()):
            painter.drawText(QRectF(column * w, 0, w, self.HEADER), Qt.AlignmentFlag.AlignCenter, name)
        for index in range(42):
            self._paint_cell(painter, self.first_day + timedelta(days=index))
        for item in placed:
            text = self._item_text(item.shown.occ)
            selected = item.shown.key == self.selected
            paint_item(painter, self.palette(), item.rect, item.shown, text, selected)
        drag = self._drag
        grabbed = self._day_at(drag.origin) if drag is not None else None
        if drag is not None and drag.preview is not None and grabbed is not None:
            shift = (
                drag.preview[0].astimezone(self.tz).date()
                - drag.placed.shown.occ.start.astimezone(self.tz).date()
            )
            cell = self.cell(grabbed + shift)
            painter.setPen(QPen(colours.ghost, 1, Qt.PenStyle.DotLine))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRect(cell.adjusted(1, 1, -1, -1))
        painter.end()

    def _paint_cell(self, painter: QPainter, day: date) -> None:
        colours = grid_colours(self.palette())
        cell = self.cell(day)
        today = day == self.today()
        fill = colours.background if day.month == self.month.month else colours.outside
        painter.setPen(colours.line)
        painter.setBrush(colours.today if today else fill)
        painter.drawRect(cell)
        number = QRectF(cell.x() + 3, cell.y() + 2, 22, self.DAY_ROW - 3)
        if today:
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(colours.today_text)
            painter.drawRoundedRect(number, 8, 8)
            painter.setPen(text_on(colours.today_text))
            bold = QFont(painter.font())
            bold.setBold(True)
            painter.setFont(bold)
        else:
            painter.setPen(colours.text if day.month == self.month.month else colours.dim_text)
        painter.drawText(number, Qt.AlignmentFlag.AlignCenter, str(day.day))
        painter.setFont(self.font())
        if self.hasFocus() and day == self.focus_day:
            painter.setPen(QPen(self.palette().color(QPalette.ColorRole.Highlight), 2))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRect(cell.adjusted(1, 1, -1, -1))
        more = self._more.get(day)
        if more:
            painter.setPen(colours.text)
            painter.drawText(
                self.more_rect(day).adjusted(2, 0, -2, 0),
                Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft,
                f"+{more} more",
            )

    def today_cell_colour(self) -> str:
        """The fill of today's cell (tests compare it with the palette's)."""
        return grid_colours(self.palette()).today.name()


def _order(shown: Shown) -> tuple[bool, bool, datetime, str]:
    """Long and all-day first (they make bars), then by start."""
    occ = shown.occ
    return (not occ.all_day, occ.end - occ.start < timedelta(days=1), occ.start, shown.key)
