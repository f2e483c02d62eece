"""Event search: every word of the query in the title, location or description; a series found
once (its next occurrence); hidden calendars left out; a result opens its event."""

from __future__ import annotations

from datetime import UTC, datetime

from PySide6.QtCore import Qt

from localfirst.calendar_ops import EventIndex
from ui.calendar import EventDialog

from .test_calendar import PARIS, add_event, backend, dialog_of, pane

__all__ = ["backend", "pane"]  # fixtures, imported for these tests


def test_index_search_matches_every_word_in_title_location_or_description():
    index = EventIndex()
    base = {"start": "2026-11-18T10:00:00", "end": "2026-11-18T11:00:00", "tz": "UTC"}
    index.update("a", {**base, "title": "Design review", "location": "Room 2"})
    index.update("b", {**base, "title": "Lunch", "description": "review the design doc"})
    index.update("c", {**base, "title": "Dentist"})
    index.update(
        "s",
        {
            **base,
            "start": "2026-01-05T09:00:00",
            "end": "2026-01-05T09:15:00",
            "title": "Design sync",
            "rrule": "FREQ=WEEKLY",
        },
    )
    around = datetime(2026, 11, 20, tzinfo=UTC)
    found = index.search("DESIGN review", around)
    assert sorted(o.event for o in found) == ["a", "b"]
    assert [o.title for o in index.search("room 2", around)] == ["Design review"]
    [series] = index.search("sync", around)
    assert series.start == datetime(2026, 11, 23, 9, tzinfo=UTC)  # the next one, once
    assert index.search("   ", around) == []
    upcoming = index.search("design", around)
    assert [o.event for o in upcoming] == ["s", "a", "b"]  # upcoming first, then past ones


def test_typing_a_query_lists_results_and_enter_opens_the_event(qtbot, pane, backend):
    add_event(
        backend,
        title="Design review",
        location="Room 2",
        start="2026-12-02T14:00:00",
        end="2026-12-02T15:00:00",
    )
    add_event(backend, title="Dentist")
    with qtbot.waitSignal(pane.search_did_finish, timeout=3000):
        qtbot.keyClicks(pane.search_box, "room")
    assert pane.search_results.isVisible()
    assert pane.search_results.texts() == ["Wed 02 Dec 2026 14:00   Design review  · Room 2"]
    qtbot.keyClick(pane.search_box, Qt.Key.Key_Return)
    dialog = dialog_of(qtbot, pane, EventDialog)
    assert dialog.title_edit.text() == "Design review"
    assert pane.current_date.isoformat() == "2026-12-02"


def test_no_match_says_so_and_clearing_hides_the_list(qtbot, pane, backend):
    add_event(backend, title="Dentist")
    with qtbot.waitSignal(pane.search_did_finish, timeout=3000):
        qtbot.keyClicks(pane.search_box, "zebra")
    assert pane.search_results.texts() == ["No event matches “zebra”."]
    with qtbot.waitSignal(pane.search_did_finish, timeout=3000):
        qtbot.keyClick(pane.search_box, Qt.Key.Key_Escape)
    assert not pane.search_results.isVisible()
    assert PARIS is pane.tz
