"""The calendar part of the desktop app: month, week, day and agenda views, event search, editing,
calendars, reminders."""

from ._agenda import AgendaView
from ._dialogs import CalendarDialog, EventDialog
from ._month import MonthView
from ._pane import Backend, CalendarPane, ReminderScheduler
from ._views import Shown, TimeGridView

__all__ = [
    "AgendaView",
    "Backend",
    "CalendarDialog",
    "CalendarPane",
    "EventDialog",
    "MonthView",
    "ReminderScheduler",
    "Shown",
    "TimeGridView",
]
