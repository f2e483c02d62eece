"""Month, week and day views: custom-painted widgets over the occurrences of their window.

The views hold no rule: they lay out what the pane gives them, turn mouse gestures into
requests (create, edit, move, delete) and leave the time math to ``localfirst.calendar_ops``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo

# Not re-exported by ui.qt (only the time grid needs them).
from localfirst.calendar_ops import SNAP, floor_to, moved, resized, round_delta
from localfirst.recurrence import Occurrence, localize
from ui.qt import (
    QBrush,
    QColor,
    QFont,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPen,
    QPointF,
    QRectF,
    QScrollBar,
    QSize,
    QSizePolicy,
    Qt,
    QWheelEvent,
    QWidget,
    Signal,
)

DEFAULT_COLOUR = "#4a7fd4"
#: Drawn before the title of an event with conflicting versions (ui.conflicts).
CONFLICT_MARK = "⚠ "
#: Pixels of the bottom edge of an event that resize it instead of moving it.
RESIZE_GRIP = 6


@dataclass(frozen=True, slots=True)
class Shown:
    """An occurrence as a view draws it: its calendar's colour and its booking status."""

    occ: Occurrence
    colour: str = DEFAULT_COLOUR
    status: str = ""  # "", "tentative", "confirmed" or "conflict"
    #: Hook (ui.conflicts): versions from two devices wait to be resolved; drawn with a ⚠.
    conflicted: bool = False
    #: Why a booking is not at the time asked for (rejected, or moved to an alternative).
    note: str = ""

    @property
    def key(self) -> str:
        return self.occ.key


@dataclass(slots=True)
class _Placed:
    shown: Shown
    rect: QRectF
    day: date
    band: bool = False  # in a time grid's all-day band


@dataclass(slots=True)
class _Drag:
    placed: _Placed
    mode: str  # "move" or "resize"
    origin: QPointF
    preview: tuple[datetime, datetime] | None = None


def _paint_item(painter: QPainter, rect: QRectF, shown: Shown, text: str, selected: bool) -> None:
    colour = QColor(shown.colour) if QColor.isValidColorName(shown.colour) else QColor(DEFAULT_COLOUR)
    fill = QColor(colour)
    fill.setAlpha(200)
    pen = QPen(colour.darker(150), 2 if selected else 1)
    brush = QBrush(fill)
    if shown.status in ("tentative", "conflict"):
        fill.setAlpha(90)
        brush = QBrush(fill)
        pen.setStyle(Qt.PenStyle.DashLine)
        if shown.status == "conflict":
            pen.setColor(QColor("#c0392b"))
    painter.setPen(pen)
    painter.setBrush(brush)
    painter.drawRoundedRect(rect.adjusted(0.5, 0.5, -0.5, -0.5), 3, 3)
    if shown.status in ("tentative", "conflict"):
        pattern = (
            Qt.BrushStyle.BDiagPattern if shown.status == "tentative" else Qt.BrushStyle.DiagCrossPattern
        )
        painter.setBrush(QBrush(colour.darker(130), pattern))
        painter.setPen(Qt.PenStyle.NoPen)
        painter.drawRoundedRect(rect.adjusted(1, 1, -1, -1), 3, 3)
    painter.setPen(QColor("#111111"))
    # The status goes first, so a short block cuts the title rather than the word "Rejected".
    label = {"tentative": "Tentative: ", "conflict": "Rejected: "}.get(shown.status, "")
    mark = CONFLICT_MARK if shown.conflicted else ""
    painter.drawText(rect.adjusted(3, 1, -2, -1), Qt.TextFlag.TextWordWrap, mark + label + text)


class _EventView(QWidget):
    """What month and time-grid views share: items, selection, signals."""

    create_requested = Signal(object, object, bool)  # start, end, all day
    edit_requested = Signal(object)  # Occurrence
    move_requested = Signal(object, object, object)  # Occurrence, new start, new end
    delete_requested = Signal(object)  # Occurrence

    def __init__(self, tz: tzinfo, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.tz = tz
        self.shown: list[Shown] = []
        self.selected: str | None = None
        self._placed: list[_Placed] = []
        self._drag: _Drag | None = None
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setMouseTracking(False)

    def set_items(self, shown: list[Shown]) -> None:
        self.shown = shown
        if self.selected is not None and all(s.key != self.selected for s in shown):
            self.selected = None
        self._layout()
        self.update()

    def occurrence_keys(self) -> list[str]:
        """Keys of the occurrences laid out (each once)."""
        return list(dict.fromkeys(p.shown.key for p in self._placed))

    def rects_of(self, key: str) -> list[QRectF]:
        """Where an occurrence is drawn (one rectangle per day it covers)."""
        return [QRectF(p.rect) for p in self._placed if p.shown.key == key]

    def selected_occurrence(self) -> Occurrence | None:
        for s in self.shown:
            if s.key == self.selected:
                return s.occ
        return None

    def resizeEvent(self, event: object) -> None:
        self._layout()

    def _layout(self) -> None:
        raise NotImplementedError

    def _hit(self, pos: QPointF) -> _Placed | None:
        for placed in reversed(self._placed):
            if placed.rect.contains(pos):
                return placed
        return None

    def keyPressEvent(self, event: QKeyEvent) -> None:
        occ = self.selected_occurrence()
        if occ is not None and event.key() in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace):
            self.delete_requested.emit(occ)
            return
        if occ is not None and event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self.edit_requested.emit(occ)
            return
        super().keyPressEvent(event)

    def mousePressEvent(self, event: QMouseEvent) -> None:
        self.setFocus()
        if event.button() != Qt.MouseButton.LeftButton:
            return
        placed = self._hit(event.position())
        self.selected = placed.shown.key if placed else None
        if placed is not None:
            mode = "resize" if self._on_grip(placed, event.position()) else "move"
            self._drag = _Drag(placed, mode, event.position())
        self.update()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        drag = self._drag
        if drag is None:
            return
        drag.preview = self._preview(drag, event.position())
        self.update()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        drag, self._drag = self._drag, None
        if drag is None or event.button() != Qt.MouseButton.LeftButton:
            return
        preview = self._preview(drag, event.position())
        occ = drag.placed.shown.occ
        if preview is not None and preview != (occ.start, occ.end):
            self.move_requested.emit(occ, *preview)
        self.update()

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        self._drag = None
        placed = self._hit(event.position())
        if placed is not None:
            self.edit_requested.emit(placed.shown.occ)
            return
        slot = self._slot_at(event.position())
        if slot is not None:
            self.create_requested.emit(*slot)

    def _on_grip(self, placed: _Placed, pos: QPointF) -> bool:
        return False

    def _preview(self, drag: _Drag, pos: QPointF) -> tuple[datetime, datetime] | None:
        raise NotImplementedError

    def _slot_at(self, pos: QPointF) -> tuple[datetime, datetime, bool] | None:
        raise NotImplementedError


class TimeGridView(_EventView):
    """A day or a week: a header naming each day, an all-day band, then 24 hours of timed events.

    The header and the all-day band stay put; only the hours scroll (the view's own scroll bar,
    so every geometry the view reports is in its own coordinates, whatever the scroll).
    """

    GUTTER = 48
    HEADER = 24
    ALL_DAY_ROW = 20
    #: Space between the all-day band and the hours.
    BAND_GAP = 4
    HOUR = 44.0

    def __init__(self, days: int, tz: tzinfo, parent: QWidget | None = None) -> None:
        super().__init__(tz, parent)
        self.days = days
        self.first_day = date.today()
        self._all_day_rows = 1
        self.scrollbar = QScrollBar(Qt.Orientation.Vertical, self)
        self.scrollbar.setSingleStep(int(self.HOUR / 2))
        self.scrollbar.valueChanged.connect(self._scrolled)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumHeight(int(self.HEADER + 2 * self.ALL_DAY_ROW + 4 * self.HOUR))

    def sizeHint(self) -> QSize:
        return QSize(800, int(self.top + 14 * self.HOUR))

    @property
    def top(self) -> float:
        """Where the hours begin: below the header and the all-day band."""
        return self.band_bottom + self.BAND_GAP

    @property
    def band_bottom(self) -> float:
        return self.HEADER + self._all_day_rows * self.ALL_DAY_ROW

    @property
    def midnight(self) -> float:
        """Where the first midnight is drawn (above ``top`` when the hours are scrolled)."""
        return self.top - self.scrollbar.value()

    @property
    def column_width(self) -> float:
        return max(1.0, (self.width() - self.GUTTER - self._scrollbar_width()) / self.days)

    def _scrollbar_width(self) -> int:
        return self.scrollbar.sizeHint().width() if self.scrollbar.isVisibleTo(self) else 0

    def set_first_day(self, day: date) -> None:
        self.first_day = day
        self._layout()
        self.update()

    def scroll_to_hour(self, hour: float) -> None:
        """Scroll the hours so that this one is the first shown (as far as the grid allows)."""
        self._fit_scrollbar()
        self.scrollbar.setValue(round(hour * self.HOUR))

    def header_labels(self) -> list[str]:
        """What the header shows above each column, e.g. "Mon 16"."""
        return [f"{day:%a} {day.day}" for day in self.column_days()]

    def column_days(self) -> list[date]:
        return [self.first_day + timedelta(days=column) for column in range(self.days)]

    def today_column(self) -> int | None:
        """The column of today (highlighted in the header), if shown."""
        column = (date.today() - self.first_day).days
        return column if 0 <= column < self.days else None

    def band_keys(self) -> list[str]:
        """Keys of the occurrences drawn in the all-day band, top row first."""
        placed = sorted((p for p in self._placed if p.band), key=lambda p: (p.rect.top(), p.rect.left()))
        return [p.shown.key for p in placed]

    def band_span(self, key: str) -> tuple[date, date, int] | None:
        """First and last day an occurrence covers in the all-day band, and its row (None: not there)."""
        for p in self._placed:
            if p.band and p.shown.key == key:
                last = p.day + timedelta(days=round((p.rect.width() + 2) / self.column_width) - 1)
                return p.day, last, round((p.rect.top() - 1 - self.HEADER) / self.ALL_DAY_ROW)
        return None

    def time_window(self) -> tuple[datetime, datetime]:
        start = datetime.combine(self.first_day, time(), tzinfo=self.tz)
        return start, datetime.combine(self.first_day + timedelta(days=self.days), time(), tzinfo=self.tz)

    def pos_for(self, moment: datetime) -> QPointF:
        """The point of the grid that shows this moment (middle of its day's column)."""
        local = moment.astimezone(self.tz)
        column = (local.date() - self.first_day).days
        minutes = local.hour * 60 + local.minute + local.second / 60
        return QPointF(
            self.GUTTER + (column + 0.5) * self.column_width, self.midnight + minutes * self.HOUR / 60
        )

    def _moment_at(self, pos: QPointF) -> datetime | None:
        column = int((pos.x() - self.GUTTER) // self.column_width)
        if not 0 <= column < self.days or pos.y() < self.top:
            return None
        minutes = min(24 * 60 - 1, max(0.0, (pos.y() - self.midnight) * 60 / self.HOUR))
        wall = datetime.combine(self.first_day + timedelta(days=column), time()) + timedelta(minutes=minutes)
        return localize(wall, self.tz)

    def _fit_scrollbar(self) -> None:
        """Size the scroll bar to the hours' area (keeps its value in range, without signalling)."""
        bar = self.scrollbar
        shown = max(0.0, self.height() - self.top)
        maximum = max(0, math.ceil(24 * self.HOUR + 1 - shown))
        bar.blockSignals(True)
        bar.setRange(0, maximum)
        bar.setPageStep(max(1, int(shown)))
        bar.blockSignals(False)
        bar.setVisible(maximum > 0)
        width = bar.sizeHint().width()
        bar.setGeometry(self.width() - width, int(self.top), width, max(0, self.height() - int(self.top)))

    def _scrolled(self, _value: int) -> None:
        self._layout()
        self.update()

    def wheelEvent(self, event: QWheelEvent) -> None:
        delta = event.angleDelta().y()
        step = -delta / 120 * self.HOUR if delta else -float(event.pixelDelta().y())
        self.scrollbar.setValue(self.scrollbar.value() + round(step))
        event.accept()

    def _layout(self) -> None:
        self._placed = []
        col_w, days = self.column_width, self.days
        last = self.first_day + timedelta(days=days)
        rows: list[date] = []  # per all-day row: the first free day
        band: list[tuple[Shown, int, int, int]] = []
        timed: dict[int, list[tuple[Shown, datetime, datetime]]] = {}
        spanning = sorted(
            (s for s in self.shown if s.occ.all_day or s.occ.end - s.occ.start >= timedelta(days=1)),
            key=lambda s: (s.occ.start, -(s.occ.end - s.occ.start).total_seconds(), s.key),
        )
        for shown in spanning:
            occ = shown.occ
            first = max(occ.start.astimezone(self.tz).date(), self.first_day)
            end_day = (occ.end - timedelta(seconds=1)).astimezone(self.tz).date()
            end = min(end_day, last - timedelta(days=1))
            if end < first:
                continue
            row = next((i for i, free in enumerate(rows) if free <= first), len(rows))
            if row == len(rows):
                rows.append(first)
            rows[row] = end + timedelta(days=1)
            band.append((shown, row, (first - self.first_day).days, (end - self.first_day).days))
        for shown in self.shown:
            occ = shown.occ
            if occ.all_day or occ.end - occ.start >= timedelta(days=1):
                continue
            day = occ.start.astimezone(self.tz).date()
            while day < last:
                day_start = localize(datetime.combine(day, time()), self.tz)
                day_end = localize(datetime.combine(day + timedelta(days=1), time()), self.tz)
                if occ.start >= day_end:
                    break
                if day >= self.first_day and occ.end > day_start:
                    column = (day - self.first_day).days
                    timed.setdefault(column, []).append(
                        (shown, max(occ.start, day_start), min(occ.end, day_end))
                    )
                day += timedelta(days=1)
        self._all_day_rows = max(1, len(rows))
        self._fit_scrollbar()
        col_w = self.column_width  # the scroll bar may have come or gone
        for shown, row, c0, c1 in band:
            rect = QRectF(
                self.GUTTER + c0 * col_w + 1,
                self.HEADER + row * self.ALL_DAY_ROW + 1,
                (c1 - c0 + 1) * col_w - 2,
                self.ALL_DAY_ROW - 2,
            )
            self._placed.append(_Placed(shown, rect, self.first_day + timedelta(days=c0), band=True))
        for column, entries in timed.items():
            lanes: list[datetime] = []
            assigned = []
            for shown, start, end in sorted(entries, key=lambda e: (e[1], -(e[2] - e[1]).total_seconds())):
                lane = next((i for i, free in enumerate(lanes) if free <= start), len(lanes))
                if lane == len(lanes):
                    lanes.append(end)
                lanes[lane] = max(end, start + SNAP)
                assigned.append((shown, start, end, lane))
            width = col_w / max(1, len(lanes))
            for shown, start, end, lane in assigned:
                y0 = self.pos_for(start).y()
                local_end = end.astimezone(self.tz)
                y1 = self.midnight + 24 * self.HOUR if local_end.time() == time() else self.pos_for(end).y()
                rect = QRectF(
                    self.GUTTER + column * col_w + lane * width + 1, y0, width - 3, max(y1 - y0, 14.0)
                )
                self._placed.append(_Placed(shown, rect, self.first_day + timedelta(days=column)))

    def _hit(self, pos: QPointF) -> _Placed | None:
        in_band = pos.y() < self.top  # timed events scrolled under the band are hidden there
        for placed in reversed(self._placed):
            if placed.band == in_band and placed.rect.contains(pos):
                return placed
        return None

    def _on_grip(self, placed: _Placed, pos: QPointF) -> bool:
        return not placed.band and pos.y() >= placed.rect.bottom() - RESIZE_GRIP

    def _preview(self, drag: _Drag, pos: QPointF) -> tuple[datetime, datetime] | None:
        occ = drag.placed.shown.occ
        dx, dy = pos.x() - drag.origin.x(), pos.y() - drag.origin.y()
        days = timedelta(days=round(dx / self.column_width))
        if drag.placed.band:  # the band moves whole days only
            return moved(occ, days)
        minutes = round_delta(timedelta(minutes=dy * 60 / self.HOUR))
        if drag.mode == "resize":
            return resized(occ, minutes)
        return moved(occ, days + minutes)

    def _slot_at(self, pos: QPointF) -> tuple[datetime, datetime, bool] | None:
        column = int((pos.x() - self.GUTTER) // self.column_width)
        if not 0 <= column < self.days or pos.y() < self.HEADER:
            return None
        if pos.y() < self.top:
            day = datetime.combine(self.first_day + timedelta(days=column), time(), tzinfo=self.tz)
            return day, day + timedelta(days=1), True
        moment = self._moment_at(pos)
        if moment is None:
            return None
        start = floor_to(moment)
        return start, start + timedelta(hours=1), False

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor("#ffffff"))
        col_w, top = self.column_width, self.top
        right = self.GUTTER + self.days * col_w
        today = self.today_column()
        # The hours, clipped below the band.
        painter.setClipRect(QRectF(0, top, self.width(), self.height() - top))
        if today is not None:
            painter.fillRect(
                QRectF(self.GUTTER + today * col_w, top, col_w, self.height() - top), QColor("#fdf6f5")
            )
        for hour in range(25):
            y = self.midnight + hour * self.HOUR
            painter.setPen(QColor("#d0d0d0"))
            painter.drawLine(QPointF(self.GUTTER, y), QPointF(right, y))
            if hour < 24:
                painter.setPen(QColor("#666666"))
                painter.drawText(
                    QRectF(0, y - 2, self.GUTTER - 6, 14), Qt.AlignmentFlag.AlignRight, f"{hour:02d}:00"
                )
        painter.setPen(QColor("#d0d0d0"))
        for column in range(self.days + 1):
            x = self.GUTTER + column * col_w
            painter.drawLine(QPointF(x, top), QPointF(x, self.height()))
        for placed in self._placed:
            if not placed.band:
                self._paint_placed(painter, placed)
        drag = self._drag
        if drag is not None and drag.preview is not None and not drag.placed.band:
            self._paint_ghost(painter, drag.preview)
        painter.setClipping(False)
        self._paint_header(painter, today)
        # The all-day band.
        band = QRectF(0, self.HEADER, self.width(), self.band_bottom - self.HEADER)
        painter.fillRect(band, QColor("#fafafa"))
        painter.setPen(QColor("#666666"))
        painter.drawText(
            QRectF(0, self.HEADER + 3, self.GUTTER - 6, self.ALL_DAY_ROW),
            Qt.AlignmentFlag.AlignRight,
            "all day",
        )
        painter.setPen(QColor("#d0d0d0"))
        for column in range(self.days + 1):
            x = self.GUTTER + column * col_w
            painter.drawLine(QPointF(x, self.HEADER), QPointF(x, top))
        painter.setPen(QPen(QColor("#a0a0a0"), 1))
        painter.drawLine(QPointF(0, top - 0.5), QPointF(self.width(), top - 0.5))
        for placed in self._placed:
            if placed.band:
                self._paint_placed(painter, placed)
        if drag is not None and drag.preview is not None and drag.placed.band:
            shift = (
                drag.preview[0].astimezone(self.tz).date()
                - drag.placed.shown.occ.start.astimezone(self.tz).date()
            ).days
            painter.setPen(QPen(QColor("#333333"), 1, Qt.PenStyle.DotLine))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRect(drag.placed.rect.translated(shift * col_w, 0))
        painter.end()

    def _paint_header(self, painter: QPainter, today: int | None) -> None:
        col_w = self.column_width
        painter.fillRect(QRectF(0, 0, self.width(), self.HEADER), QColor("#f4f4f4"))
        bold = QFont(painter.font())
        bold.setBold(True)
        for column, label in enumerate(self.header_labels()):
            cell = QRectF(self.GUTTER + column * col_w, 0, col_w, self.HEADER)
            if column == today:
                painter.fillRect(cell, QColor("#f9e0dd"))
            painter.setPen(QColor("#c0392b") if column == today else QColor("#333333"))
            painter.setFont(bold if column == today else self.font())
            painter.drawText(cell, Qt.AlignmentFlag.AlignCenter, label)
        painter.setFont(self.font())
        painter.setPen(QColor("#d0d0d0"))
        for column in range(self.days + 1):
            x = self.GUTTER + column * col_w
            painter.drawLine(QPointF(x, 0), QPointF(x, self.HEADER))
        painter.drawLine(QPointF(0, self.HEADER - 0.5), QPointF(self.width(), self.HEADER - 0.5))

    def _paint_placed(self, painter: QPainter, placed: _Placed) -> None:
        occ = placed.shown.occ
        text = occ.title if placed.band else f"{occ.start.astimezone(self.tz):%H:%M} {occ.title}"
        _paint_item(painter, placed.rect, placed.shown, text, placed.shown.key == self.selected)

    def _paint_ghost(self, painter: QPainter, preview: tuple[datetime, datetime]) -> None:
        start, end = preview
        p0, p1 = self.pos_for(start), self.pos_for(end)
        if p1.y() <= p0.y():
            p1 = QPointF(p0.x(), p0.y() + 14)
        rect = QRectF(p0.x() - self.column_width / 2 + 1, p0.y(), self.column_width - 3, p1.y() - p0.y())
        painter.setPen(QPen(QColor("#333333"), 1, Qt.PenStyle.DotLine))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawRect(rect)
        painter.drawText(rect.adjusted(3, 1, 0, 0), f"{start.astimezone(self.tz):%H:%M}")


class MonthView(_EventView):
    """Six weeks from the Monday on or before the first of the month; events as chips per day."""

    HEADER = 20
    CHIP = 17

    def __init__(self, tz: tzinfo, parent: QWidget | None = None) -> None:
        super().__init__(tz, parent)
        self.month = date.today().replace(day=1)
        self._more: dict[date, int] = {}
        self.setMinimumSize(420, 360)

    @property
    def first_day(self) -> date:
        return self.month - timedelta(days=self.month.weekday())

    def set_month(self, day: date) -> None:
        self.month = day.replace(day=1)
        self._layout()
        self.update()

    def time_window(self) -> tuple[datetime, datetime]:
        start = datetime.combine(self.first_day, time(), tzinfo=self.tz)
        return start, datetime.combine(self.first_day + timedelta(days=42), time(), tzinfo=self.tz)

    def keys_on(self, day: date) -> list[str]:
        """Keys of the occurrences drawn in a day's cell."""
        return [p.shown.key for p in self._placed if p.day == day]

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

    def _layout(self) -> None:
        self._placed, self._more = [], {}
        per_day: dict[date, list[Shown]] = {}
        last = self.first_day + timedelta(days=42)
        for shown in self.shown:
            occ = shown.occ
            day = max(occ.start.astimezone(self.tz).date(), self.first_day)
            end = occ.end.astimezone(self.tz)
            end_day = (
                end.date() if end.time() != time() or end.date() == day else end.date() - timedelta(days=1)
            )
            while day <= min(end_day, last - timedelta(days=1)):
                per_day.setdefault(day, []).append(shown)
                day += timedelta(days=1)
        for day, items in per_day.items():
            cell = self.cell(day)
            fits = max(0, int((cell.height() - 18) // self.CHIP))
            items.sort(key=lambda s: (not s.occ.all_day, s.occ.start, s.key))
            if len(items) > fits:
                fits = max(0, fits - 1)
                self._more[day] = len(items) - fits
            for n, shown in enumerate(items[:fits]):
                rect = QRectF(cell.x() + 2, cell.y() + 18 + n * self.CHIP, cell.width() - 4, self.CHIP - 2)
                self._placed.append(_Placed(shown, rect, day))

    def _preview(self, drag: _Drag, pos: QPointF) -> tuple[datetime, datetime] | None:
        target = self._day_at(pos)
        if target is None:
            return None
        return moved(drag.placed.shown.occ, timedelta(days=(target - drag.placed.day).days))

    def _slot_at(self, pos: QPointF) -> tuple[datetime, datetime, bool] | None:
        day = self._day_at(pos)
        if day is None:
            return None
        start = localize(datetime.combine(day, time(9)), self.tz)
        return start, start + timedelta(hours=1), False

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor("#ffffff"))
        w = self.width() / 7
        painter.setPen(QColor("#333333"))
        for column, name in enumerate(("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")):
            painter.drawText(QRectF(column * w, 0, w, self.HEADER), Qt.AlignmentFlag.AlignCenter, name)
        today = date.today()
        for index in range(42):
            day = self.first_day + timedelta(days=index)
            cell = self.cell(day)
            painter.setPen(QColor("#d0d0d0"))
            painter.setBrush(QColor("#ffffff") if day.month == self.month.month else QColor("#f4f4f4"))
            painter.drawRect(cell)
            painter.setPen(QColor("#c0392b") if day == today else QColor("#555555"))
            painter.drawText(cell.adjusted(4, 2, -4, 0), Qt.AlignmentFlag.AlignLeft, str(day.day))
            more = self._more.get(day)
            if more:
                painter.drawText(
                    cell.adjusted(4, 0, -4, -2),
                    Qt.AlignmentFlag.AlignBottom | Qt.AlignmentFlag.AlignRight,
                    f"+{more} more",
                )
        for placed in self._placed:
            occ = placed.shown.occ
            text = occ.title if occ.all_day else f"{occ.start.astimezone(self.tz):%H:%M} {occ.title}"
            _paint_item(painter, placed.rect, placed.shown, text, placed.shown.key == self.selected)
        drag = self._drag
        if drag is not None and drag.preview is not None:
            cell = self.cell(drag.preview[0].astimezone(self.tz).date())
            painter.setPen(QPen(QColor("#333333"), 1, Qt.PenStyle.DotLine))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRect(cell.adjusted(1, 1, -1, -1))
        painter.end()
