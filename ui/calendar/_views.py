"""The event views' shared behaviour, and the week and day views (a time grid).

The views hold no rule: they lay out what the pane gives them, turn mouse gestures into
requests (create, edit, move, delete) and leave the time math to ``localfirst.calendar_ops``.
Every colour comes from ``ui.theme``, derived from the widget's palette.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo

from localfirst.calendar_ops import SNAP, floor_to, moved, resized, round_delta
from localfirst.recurrence import Occurrence, localize
from ui.qt import (
    QEvent,
    QFont,
    QHelpEvent,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPalette,
    QPen,
    QPointF,
    QRectF,
    QScrollBar,
    QSize,
    QSizePolicy,
    Qt,
    QTimer,
    QToolTip,
    QWheelEvent,
    QWidget,
    Signal,
)
from ui.theme import grid_colours

from ._paint import DEFAULT_COLOUR, Shown, occurrence_key, paint_item, tooltip_text

__all__ = ["DEFAULT_COLOUR", "RESIZE_GRIP", "Shown", "TimeGridView"]

#: Pixels of the bottom edge of an event that resize it instead of moving it.
RESIZE_GRIP = 6
#: How often the now-line moves (milliseconds).
NOW_TICK_MS = 60_000


@dataclass(slots=True)
class _Placed:
    shown: Shown
    rect: QRectF
    day: date
    band: bool = False  # in a time grid's all-day band
    span: int = 1  # days covered by this rectangle (a month bar, an all-day band bar)


@dataclass(slots=True)
class _Drag:
    placed: _Placed
    mode: str  # "move" or "resize"
    origin: QPointF
    preview: tuple[datetime, datetime] | None = None


def when_text(occ: Occurrence, tz: tzinfo) -> str:
    """An occurrence's time as a tooltip says it ("Wed 18 Nov, 10:00-11:00")."""
    start, end = occ.start.astimezone(tz), occ.end.astimezone(tz)
    if occ.all_day:
        last = (occ.end - timedelta(seconds=1)).astimezone(tz).date()
        first = start.date()
        days = f"{first:%a %d %b}" if last == first else f"{first:%a %d %b} - {last:%a %d %b}"
        return f"{days} (all day)"
    if start.date() == end.date():
        return f"{start:%a %d %b}, {start:%H:%M}-{end:%H:%M}"
    return f"{start:%a %d %b %H:%M} - {end:%a %d %b %H:%M}"


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
        self._placed_now: list[_Placed] = []
        self._stale = True  # laid out again when next painted or asked (hidden views wait)
        self._drag: _Drag | None = None
        #: Calendar id -> name, for tooltips.
        self.calendar_names: dict[str, str] = {}
        #: 0: weeks start on Monday ... 6: on Sunday.
        self.week_start = 0
        #: The day the keyboard is on (outlined while the view has the focus); the pane sets it.
        self.focus_day: date | None = None
        #: The clock (the now-line, today's highlight); tests set it.
        self.now: Callable[[], datetime] = lambda: datetime.now(self.tz)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setMouseTracking(False)

    def today(self) -> date:
        return self.now().astimezone(self.tz).date()

    def week_first(self, day: date) -> date:
        """The first day of the week holding ``day`` (per ``week_start``)."""
        return day - timedelta(days=(day.weekday() - self.week_start) % 7)

    def tooltip_at(self, pos: QPointF) -> str:
        """What hovering here shows ("" over no event)."""
        placed = self._hit(pos)
        if placed is None:
            return ""
        occ = placed.shown.occ
        return tooltip_text(
            occ, placed.shown, when_text(occ, self.tz), self.calendar_names.get(occ.calendar, "")
        )

    def event(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.ToolTip and isinstance(event, QHelpEvent):
            text = self.tooltip_at(QPointF(event.pos()))
            if text:
                QToolTip.showText(event.globalPos(), text, self)
            else:
                QToolTip.hideText()
                event.ignore()
            return True
        return super().event(event)

    @property
    def _placed(self) -> list[_Placed]:
        """Where each item is drawn, laid out on first use after a change."""
        if self._stale:
            self._stale = False
            self._layout()
        return self._placed_now

    @_placed.setter
    def _placed(self, placed: list[_Placed]) -> None:
        self._placed_now = placed

    def _invalidate(self) -> None:
        """Items, period or size changed: lay out again before the next use (a hidden view
        does no work until it is shown, so switching views lays out one view, not three)."""
        self._stale = True
        self.update()

    def set_items(self, shown: list[Shown]) -> None:
        self.shown = shown
        if self.selected is not None and all(s.key != self.selected for s in shown):
            self.selected = None
        self._invalidate()

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
        self._invalidate()

    def _layout(self) -> None:
        raise NotImplementedError

    def _hit(self, pos: QPointF) -> _Placed | None:
        for placed in reversed(self._placed):
            if placed.rect.contains(pos):
                return placed
        return None

    def focusNextPrevChild(self, next: bool) -> bool:
        """Tab and Shift+Tab go from event to event (in time order) inside the view, then on."""
        keys = [p.shown.key for p in sorted(self._placed, key=lambda p: (p.shown.occ.start, p.shown.key))]
        keys = list(dict.fromkeys(keys))
        if not keys:
            return super().focusNextPrevChild(next)
        at = keys.index(self.selected) if self.selected in keys else (-1 if next else len(keys))
        to = at + (1 if next else -1)
        if not 0 <= to < len(keys):  # past the last (or first) event: leave the view, no trap
            self.selected = None
            self.update()
            return super().focusNextPrevChild(next)
        self.selected = keys[to]
        self.update()
        return True

    def keyPressEvent(self, event: QKeyEvent) -> None:
        occ = self.selected_occurrence()
        if occurrence_key(occ, event.key(), self.edit_requested, self.delete_requested):
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


def _in_band(occ: Occurrence) -> bool:
    return occ.all_day or occ.end - occ.start >= timedelta(days=1)


def _clusters(
    entries: list[tuple[Shown, datetime, datetime]],
) -> list[list[tuple[Shown, datetime, datetime]]]:
    """Pieces of one column grouped into runs that overlap (each a chain of overlaps), by start."""
    clusters: list[list[tuple[Shown, datetime, datetime]]] = []
    reach: datetime | None = None
    for entry in sorted(entries, key=lambda e: (e[1], -(e[2] - e[1]).total_seconds(), e[0].key)):
        _shown, start, end = entry
        if reach is None or start >= reach:
            clusters.append([])
            reach = start
        clusters[-1].append(entry)
        reach = max(reach, end, start + SNAP)
    return clusters


def _free_lanes_right(
    assigned: list[tuple[Shown, datetime, datetime, int]],
    start: datetime,
    end: datetime,
    lane: int,
    lanes: int,
) -> int:
    """How many lanes an event may take, from its own rightwards while none of them holds an
    event beside it (an event with free room on its right widens into it)."""
    shown_end = max(end, start + SNAP)
    span = 1
    for right in range(lane + 1, lanes):
        beside = any(
            other == right and s < shown_end and start < max(e, s + SNAP) for _x, s, e, other in assigned
        )
        if beside:
            break
        span += 1
    return span


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
    HOUR = 52.0
    #: Working hours shaded in the grid (first hour, end hour); the pane sets them.
    working_hours = (9, 17)

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
        self._now_timer = QTimer(self)
        self._now_timer.setInterval(NOW_TICK_MS)
        self._now_timer.timeout.connect(self.update)
        self._now_timer.start()

    def sizeHint(self) -> QSize:
        return QSize(800, int(self.top + 14 * self.HOUR))

    @property
    def top(self) -> float:
        """Where the hours begin: below the header and the all-day band."""
        return self.band_bottom + self.BAND_GAP

    @property
    def band_bottom(self) -> float:
        _ = self._placed  # the band's rows are known once laid out
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
        self._invalidate()

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
        column = (self.today() - self.first_day).days
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
        self._invalidate()

    def wheelEvent(self, event: QWheelEvent) -> None:
        delta = event.angleDelta().y()
        step = -delta / 120 * self.HOUR if delta else -float(event.pixelDelta().y())
        self.scrollbar.setValue(self.scrollbar.value() + round(step))
        event.accept()

    def _layout(self) -> None:
        self._placed = []
        band, rows = self._band_rows()
        self._all_day_rows = max(1, rows)
        self._fit_scrollbar()
        col_w = self.column_width  # the scroll bar may have come or gone
        for shown, row, c0, c1 in band:
            rect = QRectF(
                self.GUTTER + c0 * col_w + 1,
                self.HEADER + row * self.ALL_DAY_ROW + 1,
                (c1 - c0 + 1) * col_w - 2,
                self.ALL_DAY_ROW - 2,
            )
            day = self.first_day + timedelta(days=c0)
            self._placed.append(_Placed(shown, rect, day, band=True, span=c1 - c0 + 1))
        for column, entries in self._timed_columns().items():
            for cluster in _clusters(entries):
                self._place_cluster(column, cluster)

    def _band_rows(self) -> tuple[list[tuple[Shown, int, int, int]], int]:
        """All-day and day-long occurrences as (shown, row, first column, last column); rows."""
        last = self.first_day + timedelta(days=self.days)
        rows: list[date] = []  # per all-day row: the first free day
        band: list[tuple[Shown, int, int, int]] = []
        spanning = sorted(
            (s for s in self.shown if _in_band(s.occ)),
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
        return band, len(rows)

    def _timed_columns(self) -> dict[int, list[tuple[Shown, datetime, datetime]]]:
        """Timed occurrences cut at midnight, per column: (shown, start, end) of each piece."""
        # Each shown day's midnights, localized once (not once per event).
        bounds = [
            localize(datetime.combine(self.first_day + timedelta(days=c), time()), self.tz)
            for c in range(self.days + 1)
        ]
        timed: dict[int, list[tuple[Shown, datetime, datetime]]] = {}
        for shown in self.shown:
            occ = shown.occ
            if _in_band(occ):
                continue
            for column in range(self.days):
                day_start, day_end = bounds[column], bounds[column + 1]
                if occ.start < day_end and occ.end > day_start:
                    timed.setdefault(column, []).append(
                        (shown, max(occ.start, day_start), min(occ.end, day_end))
                    )
        return timed

    def _place_cluster(self, column: int, cluster: list[tuple[Shown, datetime, datetime]]) -> None:
        """Events that overlap one another share their column in lanes; the lanes of one cluster
        do not narrow an event elsewhere in the day (as GNOME Calendar and Thunderbird)."""
        col_w = self.column_width
        lanes: list[datetime] = []
        assigned = []
        for shown, start, end in cluster:
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
            height = max(y1 - y0, self.HOUR * SNAP.total_seconds() / 3600)
            span = _free_lanes_right(assigned, start, end, lane, len(lanes))
            rect = QRectF(self.GUTTER + column * col_w + lane * width + 1, y0, span * width - 3, height)
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

    def zone_label(self) -> str:
        """The time zone the grid shows, in the header's corner ("CET", "UTC")."""
        name = self.now().astimezone(self.tz).tzname() or ""
        return name if len(name) <= 6 else str(getattr(self.tz, "key", name))[-6:]

    def now_line_y(self) -> float | None:
        """Where the current-time line is drawn (None: today is not shown)."""
        if self.today_column() is None:
            return None
        return self.pos_for(self.now()).y()

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        colours = grid_colours(self.palette())
        painter.fillRect(self.rect(), colours.background)
        top = self.top
        today = self.today_column()
        # The hours, clipped below the band.
        painter.setClipRect(QRectF(0, top, self.width(), self.height() - top))
        self._paint_hours(painter, today)
        for placed in self._placed:
            if not placed.band:
                self._paint_placed(painter, placed)
        self._paint_now(painter)
        drag = self._drag
        if drag is not None and drag.preview is not None and not drag.placed.band:
            self._paint_ghost(painter, drag.preview)
        painter.setClipping(False)
        self._paint_header(painter, today)
        self._paint_band(painter)
        painter.end()

    def _paint_hours(self, painter: QPainter, today: int | None) -> None:
        colours = grid_colours(self.palette())
        col_w, top = self.column_width, self.top
        right = self.GUTTER + self.days * col_w
        first, last = self.working_hours
        work = QRectF(
            self.GUTTER, self.midnight + first * self.HOUR, right - self.GUTTER, (last - first) * self.HOUR
        )
        painter.fillRect(work, colours.working)
        if today is not None and self.days > 1:  # a day view needs no column marked
            painter.fillRect(
                QRectF(self.GUTTER + today * col_w, top, col_w, self.height() - top), colours.today
            )
        for hour in range(25):
            y = self.midnight + hour * self.HOUR
            painter.setPen(colours.line)
            painter.drawLine(QPointF(self.GUTTER, y), QPointF(right, y))
            if hour < 24:
                painter.setPen(colours.dim_text)
                painter.drawText(
                    QRectF(0, y - 2, self.GUTTER - 6, 14), Qt.AlignmentFlag.AlignRight, f"{hour:02d}:00"
                )
        painter.setPen(colours.line)
        for column in range(self.days + 1):
            x = self.GUTTER + column * col_w
            painter.drawLine(QPointF(x, top), QPointF(x, self.height()))

    def _paint_now(self, painter: QPainter) -> None:
        y, today = self.now_line_y(), self.today_column()
        if y is None or today is None:
            return
        colour = grid_colours(self.palette()).now
        x0 = self.GUTTER + today * self.column_width
        painter.setPen(QPen(colour, 2))
        painter.drawLine(QPointF(x0, y), QPointF(x0 + self.column_width, y))
        painter.setBrush(colour)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.drawEllipse(QPointF(x0, y), 4, 4)

    def _paint_band(self, painter: QPainter) -> None:
        colours = grid_colours(self.palette())
        col_w, top = self.column_width, self.top
        band = QRectF(0, self.HEADER, self.width(), self.band_bottom - self.HEADER)
        painter.fillRect(band, colours.header)
        painter.setPen(colours.dim_text)
        painter.drawText(
            QRectF(0, self.HEADER + 3, self.GUTTER - 6, self.ALL_DAY_ROW),
            Qt.AlignmentFlag.AlignRight,
            "all day",
        )
        painter.setPen(colours.line)
        for column in range(self.days + 1):
            x = self.GUTTER + column * col_w
            painter.drawLine(QPointF(x, self.HEADER), QPointF(x, top))
        painter.setPen(QPen(colours.strong_line, 1))
        painter.drawLine(QPointF(0, top - 0.5), QPointF(self.width(), top - 0.5))
        for placed in self._placed:
            if placed.band:
                self._paint_placed(painter, placed)
        drag = self._drag
        if drag is not None and drag.preview is not None and drag.placed.band:
            shift = (
                drag.preview[0].astimezone(self.tz).date()
                - drag.placed.shown.occ.start.astimezone(self.tz).date()
            ).days
            painter.setPen(QPen(colours.ghost, 1, Qt.PenStyle.DotLine))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRect(drag.placed.rect.translated(shift * col_w, 0))

    def _paint_header(self, painter: QPainter, today: int | None) -> None:
        colours = grid_colours(self.palette())
        col_w = self.column_width
        painter.fillRect(QRectF(0, 0, self.width(), self.HEADER), colours.header)
        bold = QFont(painter.font())
        bold.setBold(True)
        painter.setPen(colours.dim_text)
        painter.drawText(
            QRectF(0, 0, self.GUTTER - 4, self.HEADER), Qt.AlignmentFlag.AlignCenter, self.zone_label()
        )
        for column, label in enumerate(self.header_labels()):
            cell = QRectF(self.GUTTER + column * col_w, 0, col_w, self.HEADER)
            if column == today:
                painter.fillRect(cell, colours.today)
            painter.setPen(colours.today_text if column == today else colours.text)
            painter.setFont(bold if column == today else self.font())
            painter.drawText(cell, Qt.AlignmentFlag.AlignCenter, label)
            if self.hasFocus() and self.first_day + timedelta(days=column) == self.focus_day:
                painter.setPen(QPen(self.palette().color(QPalette.ColorRole.Highlight), 2))
                painter.setBrush(Qt.BrushStyle.NoBrush)
                painter.drawRect(cell.adjusted(2, 2, -2, -2))
        painter.setFont(self.font())
        painter.setPen(colours.line)
        for column in range(self.days + 1):
            x = self.GUTTER + column * col_w
            painter.drawLine(QPointF(x, 0), QPointF(x, self.HEADER))
        painter.drawLine(QPointF(0, self.HEADER - 0.5), QPointF(self.width(), self.HEADER - 0.5))

    def _paint_placed(self, painter: QPainter, placed: _Placed) -> None:
        occ = placed.shown.occ
        text = occ.title if placed.band else f"{occ.start.astimezone(self.tz):%H:%M} {occ.title}"
        selected = placed.shown.key == self.selected
        paint_item(painter, self.palette(), placed.rect, placed.shown, text, selected)

    def _paint_ghost(self, painter: QPainter, preview: tuple[datetime, datetime]) -> None:
        start, end = preview
        p0, p1 = self.pos_for(start), self.pos_for(end)
        if p1.y() <= p0.y():
            p1 = QPointF(p0.x(), p0.y() + 14)
        rect = QRectF(p0.x() - self.column_width / 2 + 1, p0.y(), self.column_width - 3, p1.y() - p0.y())
        painter.setPen(QPen(grid_colours(self.palette()).ghost, 1, Qt.PenStyle.DotLine))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawRect(rect)
        painter.drawText(rect.adjusted(3, 1, 0, 0), f"{start.astimezone(self.tz):%H:%M}")
