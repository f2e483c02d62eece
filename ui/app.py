"""The desktop app's entry point: ``run(data_dir)`` (called by ``localfirst gui``)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from ui.backend import open_local
from ui.main_window import MainWindow
from ui.qt import QApplication, QMessageBox, qconnect
from ui.settings import APPLICATION, ORGANIZATION, saved_data_dir

if TYPE_CHECKING:
    from ui.backend import Backend


def make_window(data_dir: Path, *, lazy: bool = True) -> tuple[Backend, MainWindow]:
    """Open (or create) the library in ``data_dir`` in the background and build the window."""
    from ui.backend import Backend

    service, path = open_local(data_dir, os.uname().nodename)
    backend = Backend(service, path)
    window = MainWindow(backend, data_dir, lazy=lazy)
    return backend, window


def run(data_dir: Path) -> int:
    """Show the main window over the library in ``data_dir``; returns the exit status."""
    app = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(app, QApplication)
    app.setOrganizationName(ORGANIZATION)
    app.setApplicationName(APPLICATION)
    data_dir = saved_data_dir() or data_dir
    backend, window = make_window(data_dir)

    def opened_failed(exc: object) -> None:
        QMessageBox.critical(window, "Cannot open the library", f"{data_dir}:\n{exc}")

    qconnect(backend.op_did_fail, opened_failed)
    window.show()
    try:
        return app.exec()
    finally:
        window.close()
        backend.close()
