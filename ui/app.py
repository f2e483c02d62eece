"""The desktop app's entry point: ``run(data_dir)`` (called by ``localfirst gui``).

The app runs a sync node (``sync.service.NodeService``) on a background thread: its TLS
listener on the local network, discovery by zeroconf, live push. Without a network the node
runs offline and the app works the same; changes sync when a peer is reachable again.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ui.main_window import MainWindow
from ui.qt import QApplication, QMessageBox, qconnect
from ui.settings import APPLICATION, ORGANIZATION, saved_data_dir, saved_mirror_folder

if TYPE_CHECKING:
    from ui.backend import Backend

#: Node options for tests: loopback only, no discovery (no traffic leaves the machine).
LOOPBACK: Mapping[str, Any] = {"host": "127.0.0.1", "interfaces": ["127.0.0.1"], "discovery": False}


def lan_options() -> dict[str, Any]:
    """Node options for real use, the same as ``serve``'s default: listen on every address,
    zeroconf on every LAN interface that is up, following interfaces as they come and go."""
    from sync.node import network_options

    return network_options()


def make_window(
    data_dir: Path, *, lazy: bool = True, network: Mapping[str, Any] | None = None
) -> tuple[Backend, MainWindow]:
    """Open (or create) the library in ``data_dir`` in the background and build the window.

    With ``network`` (options for ``sync.node.Node``) the library is owned by a sync node and
    the devices panel shows it; without, by a local thread and the app stays offline.
    """
    from sync.const import LIBRARY_FILE
    from ui.backend import Backend, open_local
    from ui.devices import NodeSource, SyncSource

    name = os.uname().nodename
    first_run = not (data_dir / LIBRARY_FILE).exists()
    sync: SyncSource | None = None
    if network is None:
        service, path = open_local(data_dir, name)
        backend = Backend(service, path)
    else:
        from sync.service import NodeService

        node = NodeService(data_dir, name=name, **network)
        backend = Backend(node, data_dir / LIBRARY_FILE)
        sync = NodeSource(node)
    # A library that never had a calendar gets one, so a new event always has a calendar.
    from localfirst.calendar import ensure_default_calendar

    backend.op(ensure_default_calendar).run_in_background()
    window = MainWindow(backend, data_dir, sync, lazy=lazy, first_run=first_run)
    return backend, window


def run(data_dir: Path) -> int:
    """Show the main window over the library in ``data_dir``; returns the exit status."""
    app = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(app, QApplication)
    app.setOrganizationName(ORGANIZATION)
    app.setApplicationName(APPLICATION)
    data_dir = saved_data_dir() or data_dir
    # LOCALFIRST_NETWORK=loopback keeps the node on 127.0.0.1 without discovery (tests, demos).
    loopback = os.environ.get("LOCALFIRST_NETWORK") == "loopback"
    backend, window = make_window(data_dir, network=LOOPBACK if loopback else lan_options())

    def opened_failed(exc: object) -> None:
        QMessageBox.critical(window, "Cannot open the library", f"{data_dir}:\n{exc}")

    qconnect(backend.op_did_fail, opened_failed)
    mirror = saved_mirror_folder()
    if mirror is not None:
        window.mirror_folder.set_folder(mirror)
    window.show()
    try:
        return app.exec()
    finally:
        window.close()
        backend.close()
