"""What the calendar views show in busy weeks and months, in a light and a dark palette:
overlap lanes per cluster, short events on one elided line, tooltips, the now-line, the zone,
month bars, "+N more" and today's cell."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QFontMetricsF

from ui.backend import Backend
from ui.calendar import CalendarPane, EventDialog
from ui.calendar._paint import chip_lines
from ui.qt import QApplication
from ui.theme import ACCENT_RED, apply_theme, grid_colours, is_dark

from .test_calendar import WEDNESDAY, _pane, add_event, at, backend, dialog_of, point, shown

__all__ = ["backend"]  # the fixture, imported for these tests


@pytest.fixture(params=["light", "dark"])
def theme(request: pytest.FixtureRequest, qapp: QApplication) -> Iterator[str]:
    apply_theme(qapp, request.param)
    yield str(request.param)
    apply_theme(qapp, "system")


@pytest.fixture
def pane(qtbot: Any, backend: Backend, theme: str) -> CalendarPane:
    widget = _pane(qtbot, backend)
    for view in (widget.month_view, widget.week_view, widget.day_view):
        view.now = lambda: at(2026, 11, 18, 10, 30)
    widget.go_to(WEDNESDAY)
    return widget


def pixel(view: Any, x: float, y: float) -> QColor:
    return QColor(view.grab().toImage().pixel(round(x), round(y)))


def close(a: QColor, b: QColor, tolerance: int = 6) -> bool:
    pairs = ((a.red(), b.red()), (a.green(), b.green()), (a.blue(), b.blue()))
    return all(abs(p - q) <= tolerance for p, q in pairs)


def test_grid_follows_the_palette_and_is_dark_under_a_dark_theme(qtbot, pane, theme):
    week = pane.week_view
    palette = week.palette()
    assert is_dark(palette) == (theme == "dark")
    colours = grid_colours(palette)
    # An empty slot, outside working hours, not today (Monday 06:30 after scrolling to 6).
    week.scroll_to_hour(5)
    spot = week.pos_for(at(2026, 11, 16, 6, 30))
    seen = pixel(week, spot.x(), spot.y())
    assert close(seen, colours.background)
    assert (seen.lightness() < 60) == (theme == "dark")
    month = pane.month_view
    pane.set_view("month")
    cell = month.cell(date(2026, 11, 3))
    assert close(pixel(month, cell.right() - 5, cell.bottom() - 5), colours.background)


def test_an_event_alone_keeps_the_full_width_beside_a_cluster_of_overlaps(qtbot, pane, backend):
    a = add_event(backend, title="A", start="2026-11-18T09:00:00", end="2026-11-18T10:00:00")
    b = add_event(backend, title="B", start="2026-11-18T09:30:00", end="2026-11-18T10:30:00")
    c = add_event(backend, title="C", start="2026-11-18T14:00:00", end="2026-11-18T15:00:00")
    week = pane.week_view
    pane.refresh()
    for key in (a, b, c):
        shown(qtbot, week, key)
    [ra], [rb], [rc] = week.rects_of(a), week.rects_of(b), week.rects_of(c)
    full = week.column_width
    assert rc.width() == pytest.approx(full - 3)
    assert ra.width() == pytest.approx(full / 2 - 3)
    assert rb.left() == pytest.approx(ra.left() + full / 2)


def test_a_quarter_hour_event_shows_one_elided_line_and_stops_where_the_next_begins(qtbot, pane, backend):
    title = "Stand-up with the whole platform team and the guests from marketing"
    short = add_event(backend, title=title, start="2026-11-18T09:30:00", end="2026-11-18T09:45:00")
    after = add_event(backend, title="Review", start="2026-11-18T09:45:00", end="2026-11-18T10:45:00")
    week = pane.week_view
    pane.refresh()
    shown(qtbot, week, short)
    shown(qtbot, week, after)
    [rs], [ra] = week.rects_of(short), week.rects_of(after)
    assert rs.bottom() <= ra.top() + 0.01
    assert rs.width() == pytest.approx(week.column_width - 3)  # not squeezed into a lane
    font, lines = chip_lines(week.font(), rs, f"09:30 {title}")
    assert len(lines) == 1
    assert lines[0].startswith("09:30 Stand-up")
    assert lines[0].endswith("…")
    assert font.pixelSize() >= 7


def test_tall_chip_wraps_whole_lines_and_ends_in_an_ellipsis():
    font = QFont()
    rect = QFontMetricsF(font).height() * 2.5 + 3
    _font, lines = chip_lines(font, QRectF(0, 0, 90, rect), "Quarterly planning with the whole product team")
    assert len(lines) == 2
    assert lines[-1].endswith("…")


def test_hovering_an_event_tells_its_title_time_place_and_calendar(qtbot, pane, backend):
    cal = backend.call(lambda r: r.create("calendar", {"name": "Work", "colour": "#2e9e5b"}))
    key = add_event(backend, title="Design review", location="Room 2", calendar=cal)
    week = pane.week_view
    pane.refresh()
    shown(qtbot, week, key)
    [rect] = week.rects_of(key)
    assert week.tooltip_at(rect.center()) == "Design review\nWed 18 Nov, 10:00-11:00\nat Room 2\nWork"
    assert week.tooltip_at(QPointF(rect.center().x(), rect.bottom() + 30)) == ""


def test_now_line_is_drawn_at_the_current_time_and_the_zone_is_in_the_header(qtbot, pane):
    week = pane.week_view
    y = week.now_line_y()
    assert y == pytest.approx(week.pos_for(at(2026, 11, 18, 10, 30)).y())
    x = week.GUTTER + 2.5 * week.column_width
    assert close(pixel(week, x, y), QColor(ACCENT_RED), 40)
    assert week.zone_label() == "CET"
    pane.go_to(date(2026, 11, 25))
    assert week.now_line_y() is None  # today is not in that week


def test_month_draws_a_multi_day_event_as_one_bar_per_week(qtbot, pane, backend):
    trip = add_event(backend, title="Offsite", start="2026-11-17T09:00:00", end="2026-11-19T17:00:00")
    long = add_event(backend, title="Fair", start="2026-11-21T09:00:00", end="2026-11-24T17:00:00")
    pane.set_view("month")
    month = pane.month_view
    shown(qtbot, month, trip)
    shown(qtbot, month, long)
    [bar] = month.rects_of(trip)
    assert bar.left() == pytest.approx(month.cell(date(2026, 11, 17)).left() + 2)
    assert bar.right() == pytest.approx(month.cell(date(2026, 11, 19)).right() - 2)
    assert all(trip in month.keys_on(date(2026, 11, d)) for d in (17, 18, 19))
    assert trip not in month.keys_on(date(2026, 11, 20))
    first, second = sorted(month.rects_of(long), key=lambda r: r.top())  # Sat-Sun, then Mon-Tue
    assert first.right() == pytest.approx(month.cell(date(2026, 11, 22)).right() - 2)
    assert second.left() == pytest.approx(month.cell(date(2026, 11, 23)).left() + 2)


def test_more_opens_the_days_list_and_double_click_there_creates_nothing(qtbot, pane, backend):
    keys = [
        add_event(
            backend,
            title=f"Call {n}",
            start=f"2026-11-18T{8 + n:02d}:00:00",
            end=f"2026-11-18T{8 + n:02d}:30:00",
        )
        for n in range(8)
    ]
    pane.set_view("month")
    month = pane.month_view
    qtbot.waitUntil(lambda: month.more_on(WEDNESDAY) > 0)
    drawn = month.keys_on(WEDNESDAY)
    assert len(drawn) + month.more_on(WEDNESDAY) == len(keys)
    spot = month.more_rect(WEDNESDAY).center()
    qtbot.mouseDClick(month, Qt.MouseButton.LeftButton, pos=point(spot))
    assert pane.active_dialog is None  # no New event
    day_list = month.day_list
    assert day_list is not None
    assert day_list.isVisible()
    assert day_list.texts() == [f"{8 + n:02d}:00 Call {n}" for n in range(8)]
    item = day_list.list.item(7)
    day_list.list.itemActivated.emit(item)
    dialog = dialog_of(qtbot, pane, EventDialog)
    assert dialog.title_edit.text() == "Call 7"
    assert not day_list.isVisible()


def test_month_titles_are_elided_and_today_is_a_highlighted_cell(qtbot, pane, backend, theme):
    key = add_event(backend, title="A very long title that cannot fit in one month cell at all")
    pane.set_view("month")
    month = pane.month_view
    shown(qtbot, month, key)
    [chip] = month.rects_of(key)
    _font, lines = chip_lines(
        month.font(), chip, "10:00 A very long title that cannot fit in one month cell at all"
    )
    assert len(lines) == 1
    assert lines[0].endswith("…")
    colours = grid_colours(month.palette())
    today, other = month.cell(WEDNESDAY), month.cell(date(2026, 11, 19))
    assert close(pixel(month, today.right() - 4, today.bottom() - 4), colours.today)
    assert close(pixel(month, other.right() - 4, other.bottom() - 4), colours.background)
    assert not close(colours.today, colours.background, 4)


def test_an_event_with_concurrent_versions_is_marked_in_every_view(qtbot, pane, backend):
    from dataclasses import replace

    from ui.calendar._paint import chip_text

    key = add_event(backend, title="Budget")
    week = pane.week_view
    pane.refresh()
    shown(qtbot, week, key)
    week.set_items([replace(s, conflicted=True) for s in week.shown])
    [item] = week.shown
    assert chip_text(item, "10:00 Budget") == "⚠ 10:00 Budget"
    [rect] = week.rects_of(key)
    assert week.tooltip_at(rect.center()).endswith("changed on two devices at once: open it to choose")
    outline = pixel(week, rect.left() + rect.width() / 2, rect.top() + 1)
    assert close(outline, QColor(ACCENT_RED), 60)
    pane.agenda_view.set_items([replace(s, conflicted=True) for s in week.shown])
    assert "⚠ Budget" in pane.agenda_view.texts()[1]


def test_an_event_widens_into_lanes_left_free_beside_it(qtbot, pane, backend):
    long = add_event(backend, title="Long", start="2026-11-18T09:00:00", end="2026-11-18T12:00:00")
    first = add_event(backend, title="First", start="2026-11-18T09:00:00", end="2026-11-18T10:00:00")
    third = add_event(backend, title="Third", start="2026-11-18T09:30:00", end="2026-11-18T10:30:00")
    late = add_event(backend, title="Late", start="2026-11-18T11:00:00", end="2026-11-18T12:00:00")
    week = pane.week_view
    pane.refresh()
    for key in (long, first, third, late):
        shown(qtbot, week, key)
    lane = week.column_width / 3
    [rl], [rf], [rt], [rlate] = (week.rects_of(k) for k in (long, first, third, late))
    assert (rl.width(), rf.width(), rt.width()) == pytest.approx((lane - 3, lane - 3, lane - 3))
    assert rlate.left() == pytest.approx(rf.left())  # the second lane, free again at 11:00
    assert rlate.width() == pytest.approx(2 * lane - 3)  # and the third beside it is free too
