"""The main window: Calendar, Notes and Devices tabs, menus (undo/redo, import/export), and a
status bar with the offline indicator. It shows at once; every view fills in the background."""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from ui.plainfiles import MirrorFolder, ask_export, ask_import
from ui.qt import (
    QAction,
    QApplication,
    QCloseEvent,
    QFileDialog,
    QKeySequence,
    QLabel,
    QMainWindow,
    QMessageBox,
    QPaintEvent,
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
from ui.settings import SettingsDialog, save_mirror_folder

if TYPE_CHECKING:
    from ui.backend import Backend
    from ui.devices import DevicesPanel, SyncSource
    from ui.notes import NotesPane

log = logging.getLogger(__name__)

#: Replacements for File > Import… and Export… (``fn(window) -> None``); None: the file
#: dialogs of ``ui.plainfiles``.
IMPORT_HOOK: Callable[[MainWindow], None] | None = None
EXPORT_HOOK: Callable[[MainWindow], None] | None = None


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

    #: A reminder was shown (its message), as a notification or in the status bar.
    reminder_did_show = Signal(str)

    def __init__(
        self, backend: Backend, data_dir: Path, sync: SyncSource | None = None, *, lazy: bool = False
    ) -> None:
        """Build the window; with ``lazy`` the views are built just after the first paint."""
        super().__init__()
        self.backend = backend
        self.data_dir = data_dir
        self.sync = sync
        self.setWindowTitle("Local-first calendar and notes")
        self.resize(1100, 720)
        self.undo_stack = QUndoStack(self)
        self.tray: QSystemTrayIcon | None = None
        self.tabs = QTabWidget()
        for name in ("Calendar", "Notes", "Devices"):
            self.tabs.addTab(QWidget(), name)
        self.setCentralWidget(self.tabs)
        self.online_label = QLabel()
        self.statusBar().addPermanentWidget(self.online_label)
        self._online = False
        self._show_online(False)
        if sync is not None:  # the node's status says when this device was removed (issue 12)
            self._removal_timer = QTimer(self)
            qconnect(self._removal_timer.timeout, lambda: self._show_online(self._online))
            self._removal_timer.start(2000)
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
        calendar_stack = getattr(self.calendar, "undo_stack", None)
        if isinstance(calendar_stack, QUndoStack):
            self._watch(calendar_stack)
        self.update_edit_actions()
        reminders = getattr(self.calendar, "reminders", None)
        if reminders is not None:
            qconnect(self.calendar.reminder_due, self.show_reminder)  # type: ignore[attr-defined]
            reminders.start()
        # Views load in the background, queued behind opening the library.
        self.notes.reload()
        self.devices.reload()
        self.loaded = True
        self.views_did_load.emit()

    def show_reminder(self, title: str, start: object) -> None:
        """A reminder's time came: a desktop notification, or the status bar without a tray."""
        when = start.strftime("%H:%M") if isinstance(start, datetime) else ""
        message = f"{title} at {when}" if when else title
        if QSystemTrayIcon.isSystemTrayAvailable():
            if self.tray is None:
                self.tray = QSystemTrayIcon(self.windowIcon(), self)
                self.tray.show()
            self.tray.showMessage("Reminder", message)
        self.statusBar().showMessage(f"Reminder: {message}", 60_000)
        self.reminder_did_show.emit(message)

    def _build_menus(self) -> None:
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        self.import_action = self._action(file_menu, "&Import…", self.import_files)
        self.export_action = self._action(file_menu, "&Export…", self.export_files)
        self.mirror_action = self._action(file_menu, "&Mirror folder…", self.choose_mirror_folder)
        file_menu.addSeparator()
        self._action(file_menu, "&Settings…", self.open_settings, QKeySequence.StandardKey.Preferences)
        self._action(file_menu, "&Quit", self.close, QKeySequence.StandardKey.Quit)
        edit = bar.addMenu("&Edit")
        self.undo_action = self._action(edit, "&Undo", self.undo, QKeySequence.StandardKey.Undo)
        self.redo_action = self._action(edit, "&Redo", self.redo, QKeySequence.StandardKey.Redo)
        # The platform's Redo may be Ctrl+Y alone: Ctrl+Shift+Z redoes everywhere too.
        redo_keys = QKeySequence.keyBindings(QKeySequence.StandardKey.Redo)
        if QKeySequence("Ctrl+Shift+Z") not in redo_keys:
            redo_keys.append(QKeySequence("Ctrl+Shift+Z"))
        self.redo_action.setShortcuts(redo_keys)
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

    def _current_undo_stack(self) -> QUndoStack:
        """The shown tab's undo stack: the calendar's own, else the notes' (the window's)."""
        stack = getattr(self.tabs.currentWidget(), "undo_stack", None)
        return stack if isinstance(stack, QUndoStack) else self.undo_stack

    def _watch(self, stack: QUndoStack) -> None:
        for signal in (stack.undoTextChanged, stack.redoTextChanged):
            qconnect(signal, lambda _text: self.update_edit_actions())
        for signal in (stack.canUndoChanged, stack.canRedoChanged):
            qconnect(signal, lambda _can: self.update_edit_actions())

    def update_edit_actions(self) -> None:
        """Name the action Undo and Redo would take back or do again in the shown tab."""
        try:
            stack = self._current_undo_stack()
            undo, redo = stack.undoText(), stack.redoText()
        except RuntimeError:  # a stack clearing itself while the window is being torn down
            return
        self.undo_action.setText(f"&Undo {undo}" if undo else "&Undo")
        self.redo_action.setText(f"&Redo {redo}" if redo else "&Redo")

    def undo(self) -> None:
        """Undo in the focused text editor if there is one, else in the shown view."""
        focused = QApplication.focusWidget()
        if isinstance(focused, QPlainTextEdit) and focused.document().isUndoAvailable():
            focused.undo()
        else:
            self._current_undo_stack().undo()

    def redo(self) -> None:
        focused = QApplication.focusWidget()
        if isinstance(focused, QPlainTextEdit) and focused.document().isRedoAvailable():
            focused.redo()
        else:
            self._current_undo_stack().redo()

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

    def _show_online(self, online: bool) -> None:
        self._online = online
        status = getattr(self.sync, "status", None)
        removed = status.get("removed") if isinstance(status, dict) else None
        if removed:
            certain = isinstance(status, dict) and status.get("revoked")
            text = "Removed from the library" if certain else "Refused by the library's members"
            self.online_label.setText(f"⊘ {text}")
            self.online_label.setStyleSheet("color: #a33;")
            self.online_label.setToolTip(str(removed)[:1].upper() + str(removed)[1:] + ".")
            return
        self.online_label.setText("● Online" if online else "○ Offline")
        self.online_label.setStyleSheet("color: #2a7a2a;" if online else "color: #888;")
        self.online_label.setToolTip(
            "Connected to another device of this library"
            if online
            else "No other device connected: changes are saved here and sync later"
        )

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
        reminders = getattr(self.calendar, "reminders", None)
        if reminders is not None:
            # The library closes after the window: a later tick would ask a closed service.
            reminders.stop()
        if self.loaded:
            self.notes.editor.flush()
        self.mirror_folder.close()
        super().closeEvent(event)
