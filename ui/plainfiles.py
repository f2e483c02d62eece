"""Plain files from the app: File > Import…, Export… and Mirror folder…

Import and export run ``storage.files`` on the replica's thread (through the backend, so an
import syncs like any write). The mirror is a ``sync.mirror.Mirror`` driven by the replica
service: it reaches the replica through ``service.submit`` and rewrites files after every change
the service reports; it starts and stops off the GUI thread.
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
    from storage.files import ImportReport
    from sync.mirror import Mirror
    from sync.subscribers import Unsubscribe
    from ui.backend import Backend

log = logging.getLogger(__name__)

FILE_FILTER = "Calendars and notes (*.ics *.md *.markdown);;All files (*)"


def import_files(replica: Replica, paths: list[Path]) -> ImportReport:
    from storage.files import import_files as run

    return run(replica, paths)


def export_library(replica: Replica, directory: Path) -> list[Path]:
    from storage.files import export_library as run

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
    """The mirror folder of the open library: at most one, started and stopped off the GUI thread."""

    #: The folder now mirrored (a Path), or None when mirroring stopped.
    mirror_did_change = Signal(object)
    #: Why the folder cannot be mirrored (a message for the user).
    mirror_did_fail = Signal(str)

    def __init__(self, backend: Backend) -> None:
        super().__init__()
        self.backend = backend
        self.mirror: Mirror | None = None
        self._unsubscribe: Unsubscribe | None = None
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="mirror")

    @property
    def folder(self) -> Path | None:
        return self.mirror.folder if self.mirror is not None else None

    def set_folder(self, folder: Path | None) -> concurrent.futures.Future[None]:
        """Mirror into ``folder`` (None: stop mirroring)."""
        return self._pool.submit(self._switch, folder)

    def _switch(self, folder: Path | None) -> None:
        self._stop()
        if folder is None:
            self.mirror_did_change.emit(None)
            return
        from sync.mirror import Mirror

        service = self.backend.service
        mirror = Mirror(service.submit, folder)
        # Subscribe first: a change landing while the mirror starts is rewritten after it.
        unsubscribe = service.subscribe(mirror.on_change)
        try:
            mirror.start()
        except Exception as exc:
            unsubscribe()
            log.warning("cannot mirror into %s: %s", folder, exc)
            self.mirror_did_fail.emit(f"Cannot mirror into {folder}: {exc}")
            return
        self.mirror, self._unsubscribe = mirror, unsubscribe
        self.mirror_did_change.emit(mirror.folder)

    def _stop(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        if self.mirror is not None:
            self.mirror.stop()
            self.mirror = None

    def close(self) -> None:
        """Stop mirroring (waits for the mirror's threads)."""
        self._pool.submit(self._stop).result()
        self._pool.shutdown(wait=True)
