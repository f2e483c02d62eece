"""The main window: Calendar, Notes and Devices tabs, menus (undo/redo, import/export,
calendars), a status bar saying whether this device syncs, empty-state hints, and reminders.
It shows at once; every view fills in the background."""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ui.plainfiles import MirrorFolder, ask_export, ask_import
from ui.preferences import apply_saved, open_preferences
from ui.printing import print_with_dialog, save_pdf
from ui.qt import (
    QAction,
    QApplication,
    QCloseEvent,
    QColor,
    QEvent,
    QFileDialog,
    QIcon,
    QKeySequence,
    QLabel,
    QMainWindow,
    QMessageBox,
    QObject,
    QPaintEvent,
    QPalette,
    QPixmap,
    QPlainTextEdit,
    QSystemTrayIcon,
    Qt,
    QTabWidget,
    QTimer,
    QUndoStack,
    QWidget,
    Signal,
    qconnect,
)
from ui.settings import SettingsDialog, WelcomeDialog, save_mirror_folder
from ui.theme import ACCENT_RED

if TYPE_CHECKING:
    from ui.backend import Backend
    from ui.calendars import CalendarManager
    from ui.devices import DevicesPanel, SyncSource
    from ui.notes import NotesPane
    from ui.reminders import Due, ReminderCenter, ReminderPopup

log = logging.getLogger(__name__)

#: Replacements for File > Import… and Export… (``fn(window) -> None``); None: the file
#: dialogs of ``ui.plainfiles``.
IMPORT_HOOK: Callable[[MainWindow], None] | None = None
EXPORT_HOOK: Callable[[MainWindow], None] | None = None


#: What the status bar says while no other device is paired (nothing to be offline from).
SOLO_TEXT = "This device only"


class EmptyHint(QLabel):
    """A short hint centred over an empty view (“No notes yet…”); clicks go through it."""

    def __init__(self, target: QWidget) -> None:
        super().__init__(target)
        self.target = target
        self.setWordWrap(True)
        self.setTextFormat(Qt.TextFormat.PlainText)
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        self.setObjectName("empty_hint")
        self.hide()
        target.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.target and event.type() == QEvent.Type.Resize:
            self._place()
        return False

    def _place(self) -> None:
        width = min(420, max(120, self.target.width() - 40))
        self.setFixedWidth(width)
        self.adjustSize()
        self.move((self.target.width() - width) // 2, max(0, (self.target.height() - self.height()) // 2))

    def show_text(self, text: str | None) -> None:
        """Show ``text`` (None: hide the hint)."""
        if text is None:
            self.hide()
            return
        self.setText(text)
        self._place()
        self.show()
        self.raise_()


def calendar_pane(backend: Backend) -> QWidget:
    """The calendar (``ui.calendar.CalendarPane``) if it is available, else a placeholder."""
    try:
        module = importlib.import_module("ui.calendar")
        pane: QWidget = module.CalendarPane(backend)
    except (ImportError, AttributeError) as exc:
        log.info("calendar not available: %s", exc)
        label = QLabel("The calendar is not available in this build.")
        label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        return label
    return pane


class MainWindow(QMainWindow):
    """The app's one window."""

    #: Emitted once, on the first paint (startup benchmarks measure up to here).
    window_did_paint = Signal()

    #: The views exist (right away, or after the first paint when built lazily).
    views_did_load = Signal()

    #: A reminder was shown (its message), in the popup, the status bar and the tray if any.
    reminder_did_show = Signal(str)

    def __init__(
        self,
        backend: Backend,
        data_dir: Path,
        sync: SyncSource | None = None,
        *,
        lazy: bool = False,
        first_run: bool = False,
    ) -> None:
        """Build the window; with ``lazy`` the views are built just after the first paint;
        ``first_run`` welcomes the user (name this device) once the views are there."""
        super().__init__()
        self.backend = backend
        self.data_dir = data_dir
        self.sync = sync
        self.setWindowTitle("Local-first calendar and notes")
        self.resize(1100, 720)
        self.undo_stack = QUndoStack(self)
        self.first_run = first_run
        self.tray: QSystemTrayIcon | None = None
        self.reminders: ReminderCenter | None = None
        self.reminder_popup: ReminderPopup | None = None
        self.calendar_manager: CalendarManager | None = None
        self.welcome: WelcomeDialog | None = None
        self.paired = False
        self._online = False
        self.tabs = QTabWidget()
        for name in ("Calendar", "Notes", "Devices"):
            self.tabs.addTab(QWidget(), name)
        self.setCentralWidget(self.tabs)
        self.online_label = QLabel()
        self.statusBar().addPermanentWidget(self.online_label)
        self._show_status()
        # A damaged library, or this device removed from it (issue 12), shows in the same place,
        # from the node's last status.
        self._integrity_timer = QTimer(self)
        self._integrity_timer.setInterval(2000)
        qconnect(self._integrity_timer.timeout, self._show_status)
        self._integrity_timer.start()
        self._painted = False
        self.loaded = False
        self.mirror_folder = MirrorFolder(backend)
        qconnect(self.mirror_folder.mirror_did_change, self._on_mirror_changed)
        qconnect(self.mirror_folder.mirror_did_fail, self._on_mirror_failed)
        self._build_menus()
        self._watch(self.undo_stack)
        qconnect(self.tabs.currentChanged, lambda _i: self.update_edit_actions())
        qconnect(backend.op_did_fail, self._on_op_failed)
        if not lazy:
            self._build_views()

    def _build_views(self) -> None:
        if self.loaded:
            return
        from ui.devices import DevicesPanel
        from ui.notes import NotesPane

        self.calendar = calendar_pane(self.backend)
        self.notes: NotesPane = NotesPane(self.backend, self.undo_stack)
        self.devices: DevicesPanel = DevicesPanel(self.backend, self.sync)
        current = self.tabs.currentIndex()
        for index, (widget, name) in enumerate(
            ((self.calendar, "Calendar"), (self.notes, "Notes"), (self.devices, "Devices"))
        ):
            old = self.tabs.widget(index)
            self.tabs.removeTab(index)
            self.tabs.insertTab(index, widget, name)
            if old is not None:
                old.deleteLater()
        self.tabs.setCurrentIndex(current)
        qconnect(self.devices.online_did_change, self._show_online)
        qconnect(self.devices.members_did_load, self._on_members)
        calendar_stack = getattr(self.calendar, "undo_stack", None)
        if isinstance(calendar_stack, QUndoStack):
            self._watch(calendar_stack)
        self.update_edit_actions()
        self._build_hints()
        self._start_reminders()
        apply_saved(self)  # theme, week start, working hours... (ui.preferences)
        # Views load in the background, queued behind opening the library.
        self.notes.reload()
        self.devices.reload()
        self.loaded = True
        self.views_did_load.emit()
        if self.first_run:
            self.welcome_user()

    # -- empty states --------------------------------------------------------------------------

    def _build_hints(self) -> None:
        self.notes_hint = EmptyHint(self.notes.list)
        for signal in (self.notes.notes_did_load, self.notes.model.modelReset):
            qconnect(signal, self._update_notes_hint)
        self.calendar_hint: EmptyHint | None = None
        stack = getattr(self.calendar, "stack", None)
        if isinstance(stack, QWidget):
            self.calendar_hint = EmptyHint(stack)
            qconnect(self.calendar.view_did_refresh, self._update_calendar_hint)  # type: ignore[attr-defined]

    def _update_notes_hint(self) -> None:
        if self.notes.model.rowCount() > 0:
            self.notes_hint.show_text(None)
        elif self.notes.search.text().strip():
            self.notes_hint.show_text("No notes match this search.")
        else:
            self.notes_hint.show_text("No notes yet.\nPress Ctrl+N or New note to write one.")

    def _update_calendar_hint(self) -> None:
        pane: Any = self.calendar
        if self.calendar_hint is None:
            return
        shown = [o for o in pane.occurrences if o.calendar not in pane.hidden]
        if shown:
            self.calendar_hint.show_text(None)
            return
        period = {"month": "this month", "week": "this week", "day": "this day"}.get(pane.view_name, "here")
        self.calendar_hint.show_text(
            f"No events {period}.\nDouble-click a time, or press New event, to add one."
        )

    # -- reminders -----------------------------------------------------------------------------

    def _start_reminders(self) -> None:
        from ui.reminders import ReminderCenter  # the core loads after the first paint

        fetch = getattr(self.calendar, "fetch", None)
        if fetch is None:
            return
        self.reminders = ReminderCenter(fetch, self.data_dir, parent=self)
        qconnect(self.reminders.reminder_did_fire, self.show_reminder)
        self._replan = QTimer(self)
        self._replan.setSingleShot(True)
        self._replan.setInterval(200)
        qconnect(self._replan.timeout, lambda: self.reminders.replan() if self.reminders else None)
        qconnect(self.backend.changed, lambda _c: self._replan.start())
        self.reminders.start()

    def show_reminder(self, due: Due) -> None:
        """A reminder's time came (or it was missed while closed): the popup with Snooze and
        Dismiss, a system notification where there is a tray, and the status bar."""
        from ui.reminders import ReminderPopup, notify

        center = self.reminders
        if center is None:
            return
        tz = getattr(self.calendar, "tz", None)
        message = due.text(center.now(), tz)
        if self.reminder_popup is None:
            self.reminder_popup = ReminderPopup(center, tz, self)
        self.reminder_popup.add(due)
        if QSystemTrayIcon.isSystemTrayAvailable() and self.tray is None:
            self.tray = QSystemTrayIcon(_app_icon(), self)
            self.tray.show()
        notify(self.tray, due, message)
        self.statusBar().showMessage(f"Reminder: {message}", 60_000)
        self.reminder_did_show.emit(message)

    # -- first run and calendars ---------------------------------------------------------------

    def welcome_user(self) -> WelcomeDialog:
        """First run: say what the app keeps where, and let the user name this device."""
        dialog = WelcomeDialog(self.backend, self)
        self.welcome = dialog
        dialog.open()
        return dialog

    def manage_calendars(self) -> CalendarManager | None:
        """Open the calendar manager (colours, names, show/hide, delete)."""
        from ui.calendars import CalendarManager

        if not hasattr(self.calendar, "edits"):
            return None
        self.tabs.setCurrentWidget(self.calendar)
        manager = CalendarManager(self.calendar, self)  # type: ignore[arg-type]
        self.calendar_manager = manager
        manager.open()
        return manager

    def _build_menus(self) -> None:
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        self.import_action = self._action(file_menu, "&Import…", self.import_files)
        self.export_action = self._action(file_menu, "&Export…", self.export_files)
        self.mirror_action = self._action(file_menu, "&Mirror folder…", self.choose_mirror_folder)
        file_menu.addSeparator()
        self.print_action = self._action(
            file_menu, "&Print…", self.print_view, QKeySequence.StandardKey.Print
        )
        self.pdf_action = self._action(file_menu, "Save as P&DF…", self.ask_pdf)
        file_menu.addSeparator()
        self.preferences_action = self._action(
            file_menu, "&Preferences…", lambda: open_preferences(self), QKeySequence.StandardKey.Preferences
        )
        self._action(file_menu, "&Quit", self.close, QKeySequence.StandardKey.Quit)
        edit = bar.addMenu("&Edit")
        self.undo_action = self._action(edit, "&Undo", self.undo, QKeySequence.StandardKey.Undo)
        self.redo_action = self._action(edit, "&Redo", self.redo, QKeySequence.StandardKey.Redo)
        # The platform's Redo may be Ctrl+Y alone: Ctrl+Shift+Z redoes everywhere too.
        redo_keys = QKeySequence.keyBindings(QKeySequence.StandardKey.Redo)
        if QKeySequence("Ctrl+Shift+Z") not in redo_keys:
            redo_keys.append(QKeySequence("Ctrl+Shift+Z"))
        self.redo_action.setShortcuts(redo_keys)
        calendars = bar.addMenu("&Calendar")
        self.manage_calendars_action = self._action(calendars, "&Manage calendars…", self.manage_calendars)
        notes = bar.addMenu("&Notes")
        self._action(notes, "&New note", self.new_note, QKeySequence.StandardKey.New)
        self._action(notes, "&Find", self.find_notes, QKeySequence.StandardKey.Find)

    def _action(
        self,
        menu: object,
        text: str,
        slot: Callable[[], object],
        shortcut: QKeySequence.StandardKey | None = None,
    ) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        qconnect(action.triggered, lambda _checked=False: slot())
        menu.addAction(action)  # type: ignore[attr-defined]
        return action

    # -- actions -------------------------------------------------------------------------------

    def _current_undo_stack(self) -> QUndoStack | None:
        """The shown tab's undo stack (the calendar's, the notes'); None for a tab with no
        undoable actions (Devices), so Ctrl+Z there never takes back a change out of sight."""
        stack = getattr(self.tabs.currentWidget(), "undo_stack", None)
        return stack if isinstance(stack, QUndoStack) else None

    def _watch(self, stack: QUndoStack) -> None:
        for signal in (stack.undoTextChanged, stack.redoTextChanged):
            qconnect(signal, lambda _text: self.update_edit_actions())
        for signal in (stack.canUndoChanged, stack.canRedoChanged):
            qconnect(signal, lambda _can: self.update_edit_actions())

    def update_edit_actions(self) -> None:
        """Name the action Undo and Redo would take back or do again in the shown tab."""
        try:
            stack = self._current_undo_stack()
            undo, redo = (stack.undoText(), stack.redoText()) if stack is not None else ("", "")
        except RuntimeError:  # a stack clearing itself while the window is being torn down
            return
        self.undo_action.setText(f"&Undo {undo}" if undo else "&Undo")
        self.redo_action.setText(f"&Redo {redo}" if redo else "&Redo")
        self.undo_action.setEnabled(stack is not None)
        self.redo_action.setEnabled(stack is not None)

    def undo(self) -> None:
        """Undo in the focused text editor if there is one, else in the shown view."""
        focused = QApplication.focusWidget()
        if isinstance(focused, QPlainTextEdit) and focused.document().isUndoAvailable():
            focused.undo()
        elif (stack := self._current_undo_stack()) is not None:
            stack.undo()

    def redo(self) -> None:
        focused = QApplication.focusWidget()
        if isinstance(focused, QPlainTextEdit) and focused.document().isRedoAvailable():
            focused.redo()
        elif (stack := self._current_undo_stack()) is not None:
            stack.redo()

    def new_note(self) -> None:
        self.tabs.setCurrentWidget(self.notes)
        self.notes.new_note()

    def find_notes(self) -> None:
        self.tabs.setCurrentWidget(self.notes)
        self.notes.search.setFocus()
        self.notes.search.selectAll()

    def import_files(self) -> None:
        """Ask for .ics and .md files and import them (each file all or nothing); show the report."""
        if IMPORT_HOOK is None:
            ask_import(self, self.backend)
        else:
            IMPORT_HOOK(self)

    def export_files(self) -> None:
        """Ask for a folder and write every note and calendar there."""
        if EXPORT_HOOK is None:
            ask_export(self, self.backend)
        else:
            EXPORT_HOOK(self)

    def choose_mirror_folder(self) -> None:
        """Ask for the folder to keep the library in as plain files, both ways; remembered."""
        name = QFileDialog.getExistingDirectory(self, "Mirror the library into a folder")
        if name:
            save_mirror_folder(Path(name))
            self.mirror_folder.set_folder(Path(name))

    def _on_mirror_changed(self, folder: object) -> None:
        self.statusBar().showMessage(f"Mirroring into {folder}" if folder else "Mirror stopped", 10_000)

    def _on_mirror_failed(self, message: str) -> None:
        QMessageBox.warning(self, "Mirror folder", message)

    def open_settings(self) -> None:
        SettingsDialog(self.data_dir, self).exec()

    def folder_rows(self) -> list[tuple[str, str, str, Callable[[], None]]]:
        """The folders Preferences shows: (label, current folder, button, what it does)."""
        mirror = self.mirror_folder.folder
        return [
            ("Data folder", str(self.data_dir), "Change…", self.open_settings),
            ("Mirror folder", str(mirror) if mirror else "None", "Choose…", self.choose_mirror_folder),
        ]

    # -- printing ------------------------------------------------------------------------------

    def print_target(self) -> QWidget | None:
        """What File > Print prints in the shown tab: the calendar's view, or the open note."""
        if not self.loaded:
            return None
        shown = self.tabs.currentWidget()
        if shown is self.calendar:
            view: QWidget = self.calendar.view  # type: ignore[attr-defined]
            return view
        if shown is self.notes:
            return self.notes.editor.body
        return None

    def _nothing_to_print(self) -> None:
        tab = self.tabs.tabText(self.tabs.currentIndex())
        self.statusBar().showMessage(f"Nothing to print in the {tab} tab", 10_000)

    def print_view(self) -> None:
        target = self.print_target()
        if target is None:
            self._nothing_to_print()
            return
        self._print_dialog = print_with_dialog(target, self)

    def ask_pdf(self) -> None:
        if self.print_target() is None:
            self._nothing_to_print()
            return
        name, _ = QFileDialog.getSaveFileName(
            self, "Save as PDF", str(Path.home() / "print.pdf"), "PDF (*.pdf)"
        )
        if name:
            self.save_pdf(Path(name))

    def save_pdf(self, path: Path) -> None:
        """Write what the shown tab would print as a PDF file at ``path``."""
        target = self.print_target()
        if target is None:
            self._nothing_to_print()
            return
        try:
            save_pdf(target, path)
        except OSError as exc:
            self.statusBar().showMessage(f"Could not save {path.name}: {exc}", 10_000)
        else:
            self.statusBar().showMessage(f"Saved {path.name}", 10_000)

    def _show_online(self, online: bool) -> None:
        self._online = online
        self._show_status()

    def _on_members(self) -> None:
        members = self.devices.members
        self.paired = members is not None and len(members.names) > 1
        self._show_status()

    def _show_status(self) -> None:
        """Damaged above all; “This device only” until a second device is paired; then online or
        offline."""
        status = getattr(self.sync, "status", None)
        status = status if isinstance(status, dict) else {}
        damaged, removed = status.get("damaged"), status.get("removed")
        self.online_label.setStyleSheet(f"color: {ACCENT_RED};" if damaged or removed else "")
        if removed:
            certain = status.get("revoked")
            text = "Removed from the library" if certain else "Refused by the library's members"
            self.online_label.setText(f"⊘ {text}")
            self.online_label.setToolTip(str(removed)[:1].upper() + str(removed)[1:] + ".")
            return
        if damaged:
            self.online_label.setText("⚠ Damaged")
            self.online_label.setToolTip(
                f"This device's library is damaged ({damaged}). Nothing is shared from it; it "
                "repairs itself from the next device of this library it reaches, keeping your changes."
            )
            return
        if not self.paired:
            self.online_label.setText(SOLO_TEXT)
            self.online_label.setToolTip(
                "Everything is saved on this device. Pair another device in the Devices tab to sync."
            )
        elif self._online:
            self.online_label.setText("● Online")
            self.online_label.setToolTip("Connected to another device of this library")
        else:
            self.online_label.setText("○ Offline")
            self.online_label.setToolTip("No other device connected: changes are saved here and sync later")

    def _on_op_failed(self, exc: object) -> None:
        self.statusBar().showMessage(f"Error: {exc}", 10_000)

    # -- events --------------------------------------------------------------------------------

    def paintEvent(self, event: QPaintEvent) -> None:
        super().paintEvent(event)
        if not self._painted:
            self._painted = True
            self.window_did_paint.emit()
            QTimer.singleShot(0, self._build_views)

    def closeEvent(self, event: QCloseEvent) -> None:
        # The library closes after the window: a later tick would ask a closed service.
        if self.reminders is not None:
            self.reminders.stop()
        pane_reminders = getattr(getattr(self, "calendar", None), "reminders", None)
        if pane_reminders is not None:
            pane_reminders.stop()
        if self.loaded:
            self.notes.editor.flush()
        self.mirror_folder.close()
        super().closeEvent(event)


def _app_icon() -> QIcon:
    """The tray's icon: a calendar-blue square (the app ships no icon file yet)."""
    from localfirst.calendar import CALENDAR_PALETTE

    pixmap = QPixmap(32, 32)
    pixmap.fill(QColor(CALENDAR_PALETTE[0]))
    return QIcon(pixmap)
