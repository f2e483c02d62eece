"""Plain files from the app: File > Import…, Export… and Mirror folder…

Import and export run ``sync.plainfiles`` on the replica's thread (through the backend, so an
import syncs like any write). The mirror belongs to the replica service (``set_mirror``): the
folder is kept in step by whoever owns the library; this window only switches it, off the GUI
thread.
"""

from __future__ import annotations

import concurrent.futures
import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from ui.qt import QFileDialog, QMessageBox, QObject, QWidget, Signal

if TYPE_CHECKING:
    from localfirst import Replica
    from sync.plainfiles import ImportReport
    from ui.backend import Backend

log = logging.getLogger(__name__)

FILE_FILTER = "Calendars and notes (*.ics *.md *.markdown);;All files (*)"


def import_files(replica: Replica, paths: list[Path]) -> ImportReport:
    from sync.plainfiles import import_files as run

    return run(replica, paths)


def export_library(replica: Replica, directory: Path) -> list[Path]:
    from sync.plainfiles import export_library as run

    return run(replica, directory)


def report_text(report: ImportReport) -> str:
    """What an import did, for a message box."""
    parts = [
        f"Imported {len(report.imported)} file(s): {len(report.notes)} note(s), "
        f"{len(report.calendars)} calendar(s), {len(report.events)} event(s)."
    ]
    return "\n".join(parts + report.messages())


def ask_import(parent: QWidget, backend: Backend, done: Callable[[str], object] | None = None) -> None:
    """Ask for files and import them in the background; show the report."""
    names, _ = QFileDialog.getOpenFileNames(parent, "Import calendars and notes", "", FILE_FILTER)
    if names:
        run_import(parent, backend, [Path(n) for n in names], done)


def run_import(
    parent: QWidget, backend: Backend, paths: list[Path], done: Callable[[str], object] | None = None
) -> None:
    def show(report: ImportReport) -> None:
        text = report_text(report)
        if done is not None:
            done(text)
        elif report.ok:
            QMessageBox.information(parent, "Import", text)
        else:
            QMessageBox.warning(parent, "Import", text)

    backend.op(lambda r: import_files(r, paths)).success(show).failure(
        lambda exc: QMessageBox.warning(parent, "Import", f"Nothing was imported: {exc}")
    ).run_in_background()


def ask_export(parent: QWidget, backend: Backend, done: Callable[[str], object] | None = None) -> None:
    """Ask for a folder and write every note and calendar there."""
    name = QFileDialog.getExistingDirectory(parent, "Export the library into a folder")
    if name:
        run_export(parent, backend, Path(name), done)


def run_export(
    parent: QWidget, backend: Backend, directory: Path, done: Callable[[str], object] | None = None
) -> None:
    def show(written: list[Path]) -> None:
        text = f"Wrote {len(written)} file(s) into {directory}."
        if done is not None:
            done(text)
        else:
            QMessageBox.information(parent, "Export", text)

    backend.op(lambda r: export_library(r, directory)).success(show).failure(
        lambda exc: QMessageBox.warning(parent, "Export", f"The export failed: {exc}")
    ).run_in_background()


class MirrorFolder(QObject):
    """The mirror folder of the open library, as the window sees it: switched off the GUI thread."""

    #: The folder now mirrored (a Path), or None when mirroring stopped.
    mirror_did_change = Signal(object)
    #: Why the folder cannot be mirrored (a message for the user).
    mirror_did_fail = Signal(str)

    def __init__(self, backend: Backend) -> None:
        super().__init__()
        self.backend = backend
        self.folder: Path | None = None
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="mirror-ui")

    def set_folder(self, folder: Path | None) -> concurrent.futures.Future[None]:
        """Mirror into ``folder`` (None: stop mirroring)."""
        return self._pool.submit(self._switch, folder)

    def errors(self) -> list[str]:
        """Files of the mirror folder that could not be used, one line each."""
        return self.backend.service.mirror_errors()

    def _switch(self, folder: Path | None) -> None:
        try:
            self.folder = self.backend.service.set_mirror(folder).result()
        except Exception as exc:
            self.folder = None
            log.warning("cannot mirror into %s: %s", folder, exc)
            self.mirror_did_fail.emit(f"Cannot mirror into {folder}: {exc}")
            return
        self.mirror_did_change.emit(self.folder)

    def close(self) -> None:
        """Stop mirroring (waits for the mirror's threads)."""
        self._pool.submit(self._switch, None).result()
        self._pool.shutdown(wait=True)
