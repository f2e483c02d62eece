"""The calendar pane driven as a person would: double-click, type, drag, keys, dialogs."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtWidgets import QDialogButtonBox, QMessageBox

from localfirst import ManualClock, MemoryStore, Replica
from storage import create_library, join_library
from ui.backend import Backend, LocalService
from ui.calendar import CalendarDialog, CalendarPane, EventDialog, TimeGridView

PARIS = ZoneInfo("Europe/Paris")
WEDNESDAY = date(2026, 11, 18)


def at(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=PARIS)


def _backend(opener: Callable[[], Replica]) -> Iterator[Backend]:
    backend = Backend(LocalService(opener, auto_commit=False))
    yield backend
    backend.close()


@pytest.fixture
def backend(tmp_path: Path) -> Iterator[Backend]:
    yield from _backend(lambda: create_library(tmp_path / "r.db", "me"))


def _pane(qtbot: Any, backend: Backend) -> CalendarPane:
    pane = CalendarPane(backend, tz=PARIS)
    qtbot.addWidget(pane)
    pane.resize(1200, 800)
    pane.show()
    pane.go_to(WEDNESDAY)
    qtbot.waitUntil(lambda: pane._seen_notices is not None)
    return pane


@pytest.fixture
def pane(qtbot: Any, backend: Backend) -> CalendarPane:
    return _pane(qtbot, backend)


def events(backend: Backend) -> dict[str, dict[str, Any]]:
    return backend.call(lambda r: {k: d.values() for k, d in r.entities("event").items()})


def add_event(backend: Backend, **fields: Any) -> str:
    values = {
        "title": "Talk",
        "start": "2026-11-18T10:00:00",
        "end": "2026-11-18T11:00:00",
        "tz": "Europe/Paris",
    }
    return backend.call(lambda r: r.create("event", {**values, **fields}))


def shown(qtbot: Any, view: Any, key: str) -> None:
    qtbot.waitUntil(lambda: key in view.occurrence_keys())


def point(p: QPointF) -> QPoint:
    return QPoint(round(p.x()), round(p.y()))


def drag(qtbot: Any, view: Any, start: QPointF, end: QPointF) -> None:
    qtbot.mousePress(view, Qt.MouseButton.LeftButton, pos=point(start))
    qtbot.mouseMove(view, point(QPointF((start.x() + end.x()) / 2, (start.y() + end.y()) / 2)))
    qtbot.mouseMove(view, point(end))
    qtbot.mouseRelease(view, Qt.MouseButton.LeftButton, pos=point(end))


def dialog_of(qtbot: Any, pane: CalendarPane, kind: type) -> Any:
    qtbot.waitUntil(lambda: isinstance(pane.active_dialog, kind))
    return pane.active_dialog


def ok(qtbot: Any, dialog: Any) -> None:
    qtbot.mouseClick(dialog.buttons.button(QDialogButtonBox.StandardButton.Ok), Qt.MouseButton.LeftButton)


def choose_scope(qtbot: Any, pane: CalendarPane, label: str) -> None:
    box = dialog_of(qtbot, pane, QMessageBox)
    [button] = [b for b in box.buttons() if b.text() == label]
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def test_double_click_a_slot_creates_an_event_with_exact_times(qtbot, pane, backend):
    view = pane.week_view
    qtbot.mouseDClick(view, Qt.MouseButton.LeftButton, pos=point(view.pos_for(at(2026, 11, 18, 14, 20))))
    dialog = dialog_of(qtbot, pane, EventDialog)
    qtbot.keyClicks(dialog.title_edit, "Dentist")
    qtbot.keyClicks(dialog.location_edit, "Rue de Rivoli")
    ok(qtbot, dialog)
    qtbot.waitUntil(lambda: len(events(backend)) == 1)
    [(key, values)] = events(backend).items()
    assert values["title"] == "Dentist"
    assert values["location"] == "Rue de Rivoli"
    assert (values["start"], values["end"], values["tz"]) == (
        "2026-11-18T14:15:00",
        "2026-11-18T15:15:00",
        "Europe/Paris",
    )
    assert values["all_day"] is False
    shown(qtbot, view, key)
    [rect] = view.rects_of(key)
    assert rect.top() == pytest.approx(view.pos_for(at(2026, 11, 18, 14, 15)).y())
    assert rect.height() == pytest.approx(TimeGridView.HOUR)


def test_drag_moves_by_one_hour_and_undo_redo_restore_exact_times(qtbot, pane, backend):
    key = add_event(backend)
    view = pane.week_view
    shown(qtbot, view, key)
    [rect] = view.rects_of(key)
    grab = QPointF(rect.center().x(), rect.top() + 10)
    drag(qtbot, view, grab, QPointF(grab.x(), grab.y() + TimeGridView.HOUR + 3))  # snaps to +1h
    qtbot.waitUntil(lambda: events(backend)[key]["start"] == "2026-11-18T11:00:00")
    assert events(backend)[key]["end"] == "2026-11-18T12:00:00"
    qtbot.waitUntil(pane.undo_stack.canUndo)
    pane.undo_stack.undo()
    qtbot.waitUntil(lambda: events(backend)[key]["start"] == "2026-11-18T10:00:00")
    assert events(backend)[key]["end"] == "2026-11-18T11:00:00"
    pane.undo_stack.redo()
    qtbot.waitUntil(lambda: events(backend)[key]["start"] == "2026-11-18T11:00:00")
    assert events(backend)[key]["end"] == "2026-11-18T12:00:00"
    qtbot.waitUntil(lambda: view.rects_of(key) and view.rects_of(key)[0].top() > rect.top())
    # Dragging sideways moves it to another day, same time.
    [rect] = view.rects_of(key)
    grab = QPointF(rect.center().x(), rect.top() + 10)
    drag(qtbot, view, grab, QPointF(grab.x() + view.column_width, grab.y()))
    qtbot.waitUntil(lambda: events(backend)[key]["start"] == "2026-11-19T11:00:00")


def test_drag_bottom_edge_resizes_in_quarter_hours(qtbot, pane, backend):
    key = add_event(backend)
    view = pane.week_view
    shown(qtbot, view, key)
    [rect] = view.rects_of(key)
    grab = QPointF(rect.center().x(), rect.bottom() - 2)
    drag(qtbot, view, grab, QPointF(grab.x(), grab.y() + TimeGridView.HOUR * 0.8))  # 48 min -> 45
    qtbot.waitUntil(lambda: events(backend)[key]["end"] == "2026-11-18T11:45:00")
    assert events(backend)[key]["start"] == "2026-11-18T10:00:00"


def test_delete_key_deletes_the_selected_event(qtbot, pane, backend):
    key = add_event(backend)
    view = pane.week_view
    shown(qtbot, view, key)
    qtbot.mouseClick(view, Qt.MouseButton.LeftButton, pos=point(view.rects_of(key)[0].center()))
    assert view.selected == key
    qtbot.keyClick(view, Qt.Key.Key_Delete)
    qtbot.waitUntil(lambda: key not in events(backend))
    qtbot.waitUntil(lambda: key not in view.occurrence_keys())
    pane.undo_stack.undo()
    qtbot.waitUntil(lambda: key in events(backend))
    assert events(backend)[key]["start"] == "2026-11-18T10:00:00"


def test_each_view_shows_the_event_where_it_belongs(qtbot, pane, backend):
    key = add_event(backend)
    all_day = add_event(backend, title="Holiday", start="2026-11-20", end="2026-11-22", all_day=True, tz=None)
    pane.set_view("week")
    shown(qtbot, pane.week_view, key)
    [rect] = pane.week_view.rects_of(key)
    assert rect.center().x() == pytest.approx(pane.week_view.pos_for(at(2026, 11, 18, 10)).x(), abs=3)
    [band] = pane.week_view.rects_of(all_day)  # one bar over Friday and Saturday
    assert band.width() == pytest.approx(2 * pane.week_view.column_width - 2)
    assert band.bottom() < pane.week_view.top
    pane.set_view("month")
    qtbot.waitUntil(lambda: key in pane.month_view.keys_on(WEDNESDAY))
    assert pane.month_view.keys_on(date(2026, 11, 20)) == [all_day]
    assert pane.month_view.keys_on(date(2026, 11, 21)) == [all_day]
    assert pane.month_view.keys_on(date(2026, 11, 22)) == []
    pane.set_view("day")
    qtbot.waitUntil(lambda: pane.day_view.occurrence_keys() == [key])
    pane.step(1)
    qtbot.waitUntil(lambda: pane.day_view.occurrence_keys() == [])
    pane.step(1)
    qtbot.waitUntil(lambda: pane.day_view.occurrence_keys() == [all_day])
    assert pane.title_label.text() == "Friday 20 November 2026"


def test_weekly_series_shows_every_week_and_one_occurrence_is_edited_alone(qtbot, pane, backend):
    series = add_event(backend, title="Standup", start="2026-11-02T09:00:00", end="2026-11-02T09:30:00")
    backend.call(lambda r: r.put("event", series, {"rrule": "FREQ=WEEKLY"}))
    pane.set_view("month")
    month = pane.month_view
    mondays = [date(2026, 10, 26) + timedelta(weeks=n) for n in range(6)]
    qtbot.waitUntil(lambda: all(len(month.keys_on(d)) == 1 for d in mondays[1:]))
    assert month.keys_on(date(2026, 10, 26)) == []  # before the series began
    monday = date(2026, 11, 16)
    [occ_key] = month.keys_on(monday)
    assert occ_key == f"{series}@2026-11-16T09:00:00"
    [chip] = month.rects_of(occ_key)
    qtbot.mouseDClick(month, Qt.MouseButton.LeftButton, pos=point(chip.center()))
    choose_scope(qtbot, pane, "This occurrence")
    dialog = dialog_of(qtbot, pane, EventDialog)
    assert not dialog.repeat_box.isEnabled()
    dialog.title_edit.clear()
    qtbot.keyClicks(dialog.title_edit, "Retro")
    ok(qtbot, dialog)
    qtbot.waitUntil(lambda: occ_key in events(backend))
    assert events(backend)[occ_key] == {
        "series": series,
        "recurrence_id": "2026-11-16T09:00:00",
        "title": "Retro",
    }
    titles = lambda: {d: [o.title for o in pane.occurrences if o.start.date() == d] for d in mondays[1:]}  # noqa: E731
    qtbot.waitUntil(lambda: titles()[monday] == ["Retro"])
    assert [titles()[d] for d in mondays[1:] if d != monday] == [["Standup"]] * 4
    # Dragging another occurrence to Tuesday asks, then moves only that one.
    other = f"{series}@2026-11-23T09:00:00"
    [chip] = month.rects_of(other)
    drag(qtbot, month, chip.center(), month.cell(date(2026, 11, 24)).center())
    choose_scope(qtbot, pane, "This occurrence")
    qtbot.waitUntil(lambda: other in events(backend))
    assert events(backend)[other]["start"] == "2026-11-24T09:00:00"
    assert events(backend)[series]["start"] == "2026-11-02T09:00:00"
    # Deleting the whole series.
    qtbot.mouseClick(
        month,
        Qt.MouseButton.LeftButton,
        pos=point(month.rects_of(f"{series}@2026-11-09T09:00:00")[0].center()),
    )
    qtbot.keyClick(month, Qt.Key.Key_Delete)
    choose_scope(qtbot, pane, "All occurrences")
    qtbot.waitUntil(lambda: series not in events(backend))
    qtbot.waitUntil(lambda: not any(month.keys_on(d) for d in mondays))


def test_editing_the_whole_series_from_an_occurrence(qtbot, pane, backend):
    series = add_event(
        backend, title="Gym", start="2026-11-02T18:00:00", end="2026-11-02T19:00:00", rrule="FREQ=WEEKLY"
    )
    occ = f"{series}@2026-11-16T18:00:00"
    shown(qtbot, pane.week_view, occ)
    [rect] = pane.week_view.rects_of(occ)
    grab = QPointF(rect.center().x(), rect.top() + 10)
    drag(qtbot, pane.week_view, grab, QPointF(grab.x(), grab.y() + TimeGridView.HOUR / 2))
    choose_scope(qtbot, pane, "All occurrences")
    qtbot.waitUntil(lambda: events(backend)[series]["start"] == "2026-11-02T18:30:00")
    assert events(backend)[series]["end"] == "2026-11-02T19:30:00"
    assert occ not in events(backend)


def test_new_calendar_colours_and_hiding(qtbot, pane, backend):
    qtbot.mouseClick(pane.new_calendar_button, Qt.MouseButton.LeftButton)
    dialog = dialog_of(qtbot, pane, CalendarDialog)
    qtbot.keyClicks(dialog.name_edit, "Work")
    # The palette's least used colour is ringed at first; a click on another swatch picks it.
    assert [c for c, b in dialog.picker.buttons.items() if b.isChecked()] == ["#3d7fd9"]
    qtbot.mouseClick(dialog.picker.buttons["#2f9e58"], Qt.MouseButton.LeftButton)
    assert [c for c, b in dialog.picker.buttons.items() if b.isChecked()] == ["#2f9e58"]
    ok(qtbot, dialog)
    qtbot.waitUntil(lambda: pane.calendar_list.count() == 1)
    [cal] = pane.calendars
    assert pane.calendars[cal] == {"name": "Work", "colour": "#2f9e58", "bookable": False}
    key = add_event(backend, calendar=cal)
    shown(qtbot, pane.week_view, key)
    assert pane.week_view.shown[0].colour == "#2f9e58"
    pane.calendar_list.item(0).setCheckState(Qt.CheckState.Unchecked)
    assert pane.week_view.occurrence_keys() == []
    pane.calendar_list.item(0).setCheckState(Qt.CheckState.Checked)
    assert pane.week_view.occurrence_keys() == [key]


def _new_booking(qtbot, pane, backend) -> tuple[str, str]:
    """Through the dialogs: a bookable calendar, then an event in it; returns (calendar, event)."""
    qtbot.mouseClick(pane.new_calendar_button, Qt.MouseButton.LeftButton)
    dialog = dialog_of(qtbot, pane, CalendarDialog)
    qtbot.keyClicks(dialog.name_edit, "Room A")
    dialog.bookable_box.setChecked(True)
    ok(qtbot, dialog)
    qtbot.waitUntil(lambda: len(pane.calendars) == 1)
    [cal] = pane.calendars
    return cal, _review_in(qtbot, pane, backend, cal)


def _review_in(qtbot, pane, backend, cal):
    """Double-click Wednesday 10:05 in the week view and save "Review" in ``cal``; its id."""
    view = pane.week_view
    qtbot.mouseDClick(view, Qt.MouseButton.LeftButton, pos=point(view.pos_for(at(2026, 11, 18, 10, 5))))
    dialog = dialog_of(qtbot, pane, EventDialog)
    dialog.calendar_box.setCurrentIndex(dialog.calendar_box.findData(cal))
    qtbot.keyClicks(dialog.title_edit, "Review")
    ok(qtbot, dialog)
    qtbot.waitUntil(lambda: len(events(backend)) == 1)
    [key] = events(backend)
    return key


def test_booking_is_tentative_until_the_primary_commits(qtbot, pane, backend):
    _cal, key = _new_booking(qtbot, pane, backend)
    qtbot.waitUntil(lambda: pane.status.get(key) == "tentative")
    booking = backend.call(lambda r: r.booking(key))
    assert booking is not None
    assert booking.slot is not None
    assert (booking.slot.start, booking.slot.end) == (
        int(at(2026, 11, 18, 10).timestamp()),
        int(at(2026, 11, 18, 11).timestamp()),
    )
    assert pane.week_view.shown[0].status == "tentative"
    backend.call(lambda r: r.commit())
    pane.refresh()
    qtbot.waitUntil(lambda: pane.status.get(key) == "confirmed")
    # Moving a booked event rebooks it: tentative again, at the new time.
    [rect] = pane.week_view.rects_of(key)
    grab = QPointF(rect.center().x(), rect.top() + 10)
    drag(qtbot, pane.week_view, grab, QPointF(grab.x(), grab.y() + TimeGridView.HOUR))
    qtbot.waitUntil(lambda: pane.status.get(key) == "tentative")
    booking = backend.call(lambda r: r.booking(key))
    assert booking is not None
    assert booking.slot is not None
    assert booking.slot.start == int(at(2026, 11, 18, 11).timestamp())


def test_user_is_told_when_commitment_rejects_a_booking(qtbot, tmp_path):
    primary = Replica.new_library(MemoryStore(), "P", members={"me": "", "B": ""})
    other = Replica.join(MemoryStore(), "B", primary.genesis(), ManualClock(0))
    genesis = primary.genesis()
    backend_iter = _backend(lambda: join_library(tmp_path / "me.db", "me", genesis))
    backend = next(backend_iter)
    try:
        pane = _pane(qtbot, backend)
        cal = primary.create("calendar", {"name": "Room A", "bookable": True})
        other.receive(primary.batch_for(other.summary()))
        backend.call(lambda r: r.receive(primary.batch_for(r.summary())))
        qtbot.waitUntil(lambda: cal in pane.calendars)
        key = _review_in(qtbot, pane, backend, cal)
        qtbot.waitUntil(lambda: pane.status.get(key) == "tentative")
        # B booked an overlapping slot earlier (a lower stamp); the primary commits B's first.
        other.book(
            cal,
            [(int(at(2026, 11, 18, 10, 30).timestamp()), int(at(2026, 11, 18, 12).timestamp()))],
            {"title": "B"},
        )
        primary.receive(other.batch_for(primary.summary()))
        primary.receive(backend.call(lambda r: r.batch_for(primary.summary())))
        primary.commit()
        with qtbot.waitSignal(pane.booking_outcome_changed) as blocker:
            backend.call(lambda r: r.receive(primary.batch_for(r.summary())))
        assert blocker.args == ["“Review” was rejected: its time was taken by an earlier booking, “B”."]
        assert pane.message_label.isVisible()
        assert "rejected" in pane.message_label.text()
        qtbot.waitUntil(lambda: pane.status.get(key) == "conflict")
    finally:
        next(backend_iter, None)


def test_reminders_are_due_at_their_time(qtbot, pane, backend):
    shown(qtbot, pane.week_view, add_event(backend, reminders=[15]))
    now = [at(2026, 11, 18, 9, 40)]
    pane.reminders._now = lambda: now[0]
    pane.reminders._since = now[0]
    now[0] = at(2026, 11, 18, 9, 44)
    got: list[tuple[str, datetime]] = []
    pane.reminder_due.connect(lambda title, when: got.append((title, when)))
    pane.reminders.check()
    now[0] = at(2026, 11, 18, 9, 46)
    with qtbot.waitSignal(pane.reminder_due):
        pane.reminders.check()
    assert got == [("Talk", at(2026, 11, 18, 10))]


def test_a_large_library_is_queried_by_window(qtbot, pane, backend):
    def fill(r: Replica) -> None:
        with r.transaction():
            for i in range(3000):
                day = date(2026, 1, 1) + timedelta(days=i % 365)
                r.create("event", {"title": f"e{i}", "start": f"{day}T08:00:00", "end": f"{day}T09:00:00"})

    backend.call(fill)
    pane.refresh()
    qtbot.waitUntil(lambda: len(pane.occurrences) > 0)
    start, end = pane.week_view.time_window()
    assert all(o.start < end and o.end > start for o in pane.occurrences)
    assert len(pane.occurrences) == sum(
        1
        for i in range(3000)
        if date(2026, 11, 16) <= date(2026, 1, 1) + timedelta(days=i % 365) < date(2026, 11, 23)
    )
    pane.set_view("month")
    qtbot.waitUntil(lambda: len(pane.occurrences) > 7 * 8)


def test_week_and_day_headers_name_each_column_and_stay_put(qtbot, pane, backend):
    week = pane.week_view
    assert week.header_labels() == ["Mon 16", "Tue 17", "Wed 18", "Thu 19", "Fri 20", "Sat 21", "Sun 22"]
    assert week.column_days()[0] == date(2026, 11, 16)
    pane.step(1)
    assert week.header_labels()[0] == "Mon 23"
    assert week.header_labels()[-1] == "Sun 29"
    pane.set_view("day")
    pane.go_to(WEDNESDAY)
    assert pane.day_view.header_labels() == ["Wed 18"]
    pane.go_to(pane.today())  # today where the pane's zone is
    assert pane.day_view.today_column() == 0
    pane.set_view("week")
    assert week.today_column() == pane.today().weekday()
    pane.go_to(WEDNESDAY)
    # Scrolling the hours moves timed events, not the header or the all-day band.
    key = add_event(backend)
    holiday = add_event(backend, title="Holiday", start="2026-11-18", end="2026-11-19", all_day=True, tz=None)
    shown(qtbot, week, holiday)
    shown(qtbot, week, key)
    week.scroll_to_hour(0)
    [band], [timed] = week.rects_of(holiday), week.rects_of(key)
    week.scroll_to_hour(4)
    assert week.scrollbar.value() == round(4 * TimeGridView.HOUR)
    assert week.rects_of(holiday) == [band]
    assert week.rects_of(key)[0].top() == pytest.approx(timed.top() - 4 * TimeGridView.HOUR, abs=1)
    assert week.rects_of(key)[0].top() == pytest.approx(week.pos_for(at(2026, 11, 18, 10)).y())
    assert band.top() >= TimeGridView.HEADER
    assert band.bottom() < week.top


def test_all_day_events_span_their_days_in_the_band_and_stack(qtbot, pane, backend):
    lake = add_event(
        backend, title="Lake weekend", start="2026-11-21", end="2026-11-23", all_day=True, tz=None
    )
    fair = add_event(backend, title="Fair", start="2026-11-20", end="2026-11-22", all_day=True, tz=None)
    trip = add_event(backend, title="Trip", start="2026-11-13", end="2026-11-18", all_day=True, tz=None)
    week = pane.week_view
    qtbot.waitUntil(lambda: len(week.band_keys()) == 3)
    assert week.occurrence_keys() == week.band_keys()
    # Trip began the week before: drawn from Monday; Fair and Lake overlap on Saturday: two rows.
    assert week.band_span(trip) == (date(2026, 11, 16), date(2026, 11, 17), 0)
    assert week.band_span(fair) == (date(2026, 11, 20), date(2026, 11, 21), 0)
    assert week.band_span(lake) == (date(2026, 11, 21), date(2026, 11, 22), 1)
    [rect] = week.rects_of(lake)
    saturday = week.pos_for(at(2026, 11, 21, 12)).x() - week.column_width / 2
    assert rect.left() == pytest.approx(saturday + 1)
    assert rect.width() == pytest.approx(2 * week.column_width - 2)
    assert rect.top() == pytest.approx(TimeGridView.HEADER + TimeGridView.ALL_DAY_ROW + 1)
    assert rect.bottom() < week.top
    # Clicking selects it; a double-click opens the editor as for timed events.
    qtbot.mouseClick(week, Qt.MouseButton.LeftButton, pos=point(rect.center()))
    assert week.selected == lake
    assert week.selected_occurrence() is not None
    qtbot.mouseDClick(week, Qt.MouseButton.LeftButton, pos=point(rect.center()))
    dialog = dialog_of(qtbot, pane, EventDialog)
    assert dialog.title_edit.text() == "Lake weekend"
    dialog.reject()
    qtbot.waitUntil(lambda: pane.active_dialog is None)
    # Dragging it along the band moves it by whole days.
    [rect] = week.rects_of(fair)
    drag(qtbot, week, rect.center(), QPointF(rect.center().x() - week.column_width, rect.center().y()))
    qtbot.waitUntil(lambda: events(backend)[fair]["start"] == "2026-11-19")
    assert events(backend)[fair]["end"] == "2026-11-21"
    # The day view shows the band too.
    pane.set_view("day")
    pane.go_to(date(2026, 11, 22))
    qtbot.waitUntil(lambda: pane.day_view.band_keys() == [lake])
    assert pane.day_view.band_span(lake) == (date(2026, 11, 22), date(2026, 11, 22), 0)


def test_user_is_told_when_a_tentative_booking_moves(qtbot, tmp_path):
    """Issue 12, defect 4: another device's earlier booking arrives and takes 10:30; this
    device's "Standup" moves to its alternative, 15:00, still tentative, and the pane says so,
    once."""
    primary = Replica.new_library(MemoryStore(), "P", members={"me": "", "A": ""})
    other = Replica.join(MemoryStore(), "A", primary.genesis(), ManualClock(0))
    genesis = primary.genesis()
    backend_iter = _backend(lambda: join_library(tmp_path / "me.db", "me", genesis))
    backend = next(backend_iter)
    try:
        pane = _pane(qtbot, backend)
        cal = primary.create("calendar", {"name": "Room A", "bookable": True})
        other.receive(primary.batch_for(other.summary()))
        backend.call(lambda r: r.receive(primary.batch_for(r.summary())))
        qtbot.waitUntil(lambda: cal in pane.calendars)

        def slot(start: datetime) -> tuple[int, int]:
            return int(start.timestamp()), int((start + timedelta(hours=1)).timestamp())

        fields = {"title": "Standup", "start": "2026-11-18T10:30:00", "end": "2026-11-18T11:30:00"}
        key = backend.call(
            lambda r: r.book(
                cal,
                [slot(at(2026, 11, 18, 10, 30)), slot(at(2026, 11, 18, 15))],
                {**fields, "tz": "Europe/Paris"},
            )
        )
        qtbot.waitUntil(lambda: pane.status.get(key) == "tentative")
        other.book(cal, [slot(at(2026, 11, 18, 10))], {"title": "Review"})
        assert other.tentative()[-1].id < backend.call(lambda r: r.tentative()[-1].id)
        with qtbot.waitSignal(pane.booking_outcome_changed) as blocker:
            backend.call(lambda r: r.receive(other.batch_for(r.summary())))
        told = "“Standup” moved to 15:00 (tentative): another booking took 10:30."
        assert blocker.args == [told]
        assert pane.message_label.isVisible()
        assert pane.message_label.text() == told
        qtbot.waitUntil(lambda: [o.start for o in pane.occurrences if o.key == key] == [at(2026, 11, 18, 15)])
        assert pane.status[key] == "tentative"
        # Refreshing again, or the same batch again, tells nothing more.
        backend.call(lambda r: r.receive(other.batch_for(r.summary())))
        pane.refresh()
        with qtbot.waitSignal(pane.view_did_refresh):
            pane.refresh()
        assert pane.messages == [told]
    finally:
        next(backend_iter, None)


def test_a_booking_moved_to_an_alternative_is_drawn_at_its_booked_slot(qtbot, pane, backend):
    cal = backend.call(lambda r: r.create("calendar", {"name": "Room A", "bookable": True}))

    def slot(start: datetime, hours: int = 1) -> tuple[int, int]:
        return int(start.timestamp()), int((start + timedelta(hours=hours)).timestamp())

    fields = {"start": "2026-11-18T10:00:00", "end": "2026-11-18T11:00:00", "tz": "Europe/Paris"}
    wed10 = slot(at(2026, 11, 18, 10))
    first = backend.call(lambda r: r.book(cal, [wed10], {**fields, "title": "First"}))
    moved = backend.call(
        lambda r: r.book(cal, [wed10, slot(at(2026, 11, 18, 14))], {**fields, "title": "Moved"})
    )
    later = backend.call(
        lambda r: r.book(cal, [wed10, slot(at(2026, 11, 23, 9))], {**fields, "title": "Next week"})
    )
    rejected = backend.call(lambda r: r.book(cal, [wed10], {**fields, "title": "Rejected"}))
    backend.call(lambda r: r.commit())
    pane.refresh()
    view = pane.week_view
    qtbot.waitUntil(lambda: pane.status.get(moved) == "confirmed" and pane.status.get(rejected) == "conflict")
    shown(qtbot, view, moved)
    booking = backend.call(lambda r: r.booking(moved))
    assert booking is not None
    assert booking.slot is not None
    assert (booking.slot.start, booking.slot.end) == slot(at(2026, 11, 18, 14))
    assert events(backend)[moved]["start"] == "2026-11-18T10:00:00"  # the request is kept
    # Drawn at the committed slot, not the requested time.
    [rect] = view.rects_of(moved)
    assert rect.top() == pytest.approx(view.pos_for(at(2026, 11, 18, 14)).y())
    assert rect.height() == pytest.approx(TimeGridView.HOUR)
    [occ] = [o for o in pane.occurrences if o.key == moved]
    assert occ.values["start"] == "2026-11-18T14:00:00"  # what the editor shows
    # The one that lost its slot stays at its requested time, drawn as rejected.
    [rect] = view.rects_of(rejected)
    assert rect.top() == pytest.approx(view.pos_for(at(2026, 11, 18, 10)).y())
    assert {s.key: s.status for s in view.shown}[rejected] == "conflict"
    [rect] = view.rects_of(first)
    assert rect.top() == pytest.approx(view.pos_for(at(2026, 11, 18, 10)).y())
    # One moved to next week shows there, and not in this week.
    assert later not in view.occurrence_keys()
    pane.step(1)
    qtbot.waitUntil(lambda: later in view.occurrence_keys())
    [rect] = view.rects_of(later)
    assert rect.top() == pytest.approx(view.pos_for(at(2026, 11, 23, 9)).y())
    assert rect.center().x() == pytest.approx(view.pos_for(at(2026, 11, 23, 9)).x(), abs=3)


# -- undo through the window, named; every action a service ------------------------------------


@pytest.fixture
def window(qtbot: Any, backend: Backend, tmp_path: Path) -> Any:
    from ui.main_window import MainWindow

    win = MainWindow(backend, tmp_path)
    qtbot.addWidget(win)
    win.show()
    assert isinstance(win.calendar, CalendarPane)
    win.tabs.setCurrentWidget(win.calendar)
    win.calendar.go_to(WEDNESDAY)
    return win


def test_ctrl_z_in_the_calendar_tab_undoes_a_move_named_in_the_edit_menu(qtbot, window, backend):
    """Regression: the pane and the Edit menu both claimed Ctrl+Z ("Ambiguous shortcut
    overload"), so neither fired in the Calendar tab; the Edit menu now owns it alone."""
    pane = window.calendar
    key = add_event(backend, title="Standup")
    qtbot.waitUntil(lambda: any(o.key == key for o in pane.occurrences))
    [occ] = [o for o in pane.occurrences if o.key == key]
    pane.move_occurrence(occ, occ.start + timedelta(hours=1), occ.end + timedelta(hours=1))
    qtbot.waitUntil(lambda: events(backend)[key]["start"] == "2026-11-18T11:00:00")
    qtbot.waitUntil(lambda: window.undo_action.text() == "&Undo Move “Standup”")
    pane.week_view.setFocus()
    qtbot.keyClick(pane.week_view, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: events(backend)[key]["start"] == "2026-11-18T10:00:00")
    assert window.redo_action.text() == "&Redo Move “Standup”"
    qtbot.keyClick(
        pane.week_view, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier
    )
    qtbot.waitUntil(lambda: events(backend)[key]["start"] == "2026-11-18T11:00:00")
    assert events(backend)[key]["end"] == "2026-11-18T12:00:00"


def test_edit_menu_follows_the_shown_tab(qtbot, window, backend):
    pane = window.calendar
    key = add_event(backend, title="Dentist")
    qtbot.waitUntil(lambda: any(o.key == key for o in pane.occurrences))
    [occ] = [o for o in pane.occurrences if o.key == key]
    pane.delete_event(occ)
    qtbot.waitUntil(lambda: window.undo_action.text() == "&Undo Delete “Dentist”")
    window.tabs.setCurrentWidget(window.notes)
    assert window.undo_action.text() == "&Undo"
    window.undo_action.trigger()  # nothing to undo in Notes: the event stays deleted
    window.tabs.setCurrentWidget(pane)
    window.undo_action.trigger()
    qtbot.waitUntil(lambda: key in events(backend))
    assert events(backend)[key]["title"] == "Dentist"


def test_this_and_following_from_the_scope_question_and_undo(qtbot, pane, backend):
    series = add_event(
        backend, title="Gym", start="2026-11-02T18:00:00", end="2026-11-02T19:00:00", rrule="FREQ=WEEKLY"
    )
    occ = f"{series}@2026-11-16T18:00:00"
    shown(qtbot, pane.week_view, occ)
    [rect] = pane.week_view.rects_of(occ)
    grab = QPointF(rect.center().x(), rect.top() + 10)
    drag(qtbot, pane.week_view, grab, QPointF(grab.x(), grab.y() + TimeGridView.HOUR))
    choose_scope(qtbot, pane, "This and following")
    qtbot.waitUntil(lambda: len(events(backend)) == 2)
    [new] = [k for k in events(backend) if k != series]
    assert events(backend)[new]["start"] == "2026-11-16T19:00:00"
    assert events(backend)[series]["rrule"] == "FREQ=WEEKLY;UNTIL=20261115T225959Z"
    qtbot.waitUntil(lambda: pane.undo_stack.undoText() == "Move following “Gym”")
    pane.undo_stack.undo()
    qtbot.waitUntil(lambda: list(events(backend)) == [series])
    assert events(backend)[series]["rrule"] == "FREQ=WEEKLY"


def test_deleting_a_calendar_takes_its_events_and_undo_brings_them_back(qtbot, pane, backend):
    backend.call(lambda r: r.put("calendar", "work", {"name": "Work", "colour": "#2e9e5b"}))
    key = add_event(backend, calendar="work")
    shown(qtbot, pane.week_view, key)
    pane.delete_calendar("work")
    box = dialog_of(qtbot, pane, QMessageBox)
    [button] = [b for b in box.buttons() if b.text() == "Delete"]
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: pane.calendar_list.count() == 0)
    assert events(backend) == {}
    qtbot.waitUntil(lambda: pane.week_view.occurrence_keys() == [])
    assert pane.undo_stack.undoText() == "Delete calendar “Work”"
    pane.undo_stack.undo()
    qtbot.waitUntil(lambda: pane.week_view.occurrence_keys() == [key])
    assert events(backend)[key]["calendar"] == "work"
    assert pane.calendars["work"] == {"name": "Work", "colour": "#2e9e5b"}


def test_editing_a_calendar_renames_it_undoably(qtbot, pane, backend):
    backend.call(lambda r: r.put("calendar", "work", {"name": "Work", "colour": "#2e9e5b"}))
    qtbot.waitUntil(lambda: pane.calendar_list.count() == 1)
    pane.edit_calendar("work")
    dialog = dialog_of(qtbot, pane, CalendarDialog)
    assert dialog.name_edit.text() == "Work"
    dialog.name_edit.setText("Office")
    ok(qtbot, dialog)
    qtbot.waitUntil(lambda: pane.calendar_list.count() == 1 and pane.calendar_list.item(0).text() == "Office")
    assert pane.undo_stack.undoText() == "Rename calendar “Work”"
    pane.undo_stack.undo()
    qtbot.waitUntil(lambda: pane.calendar_list.item(0).text() == "Work")
