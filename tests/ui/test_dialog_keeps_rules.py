"""Regression (issue 15): editing an event whose rule the editor cannot show (an HOURLY series
from another app) in the event dialog kept everything but dropped its rule."""

from __future__ import annotations

from ui.calendar import EventDialog


def test_a_rule_the_editor_cannot_show_is_kept(qtbot):
    values = {
        "calendar": "c",
        "title": "Medication",
        "start": "2026-06-10T08:00:00",
        "end": "2026-06-10T08:30:00",
        "tz": "floating",
        "rrule": "FREQ=HOURLY;INTERVAL=3;COUNT=4",
    }
    dialog = EventDialog({"c": {"name": "Home"}}, values)
    qtbot.addWidget(dialog)
    fields = dialog.fields()
    assert "rrule" not in fields or fields["rrule"] == values["rrule"]
    assert fields["tz"] == "floating"
    assert (fields["start"], fields["end"]) == ("2026-06-10T08:00:00", "2026-06-10T08:30:00")
