"""Fixtures for the UI tests: Qt offscreen, a library on a temp file, backends always closed.

QT_QPA_PLATFORM is set before anything imports Qt, so the tests run without a display.
"""

from __future__ import annotations

import os

os.environ["QT_QPA_PLATFORM"] = "offscreen"

import functools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

import storage
from localfirst import Batch, Replica, Summary
from ui.backend import Backend, LocalService

if TYPE_CHECKING:
    from sync.service import NodeService

DEVICE_A = "device-a"
DEVICE_B = "device-b"


@dataclass
class Library:
    """A library file of two members, A (primary, the app's) and B (a second replica)."""

    dir: Path
    path: Path
    library: str


@pytest.fixture
def library(tmp_path: Path) -> Library:
    path = tmp_path / "a.sqlite"
    replica = storage.create_library(path, DEVICE_A, device_name="Desk", members={DEVICE_B: "Laptop"})
    library_id = replica.library
    genesis = replica.genesis()
    replica.close()
    storage.join_library(tmp_path / "b.sqlite", DEVICE_B, genesis).close()
    return Library(tmp_path, path, library_id)


def make_backend(path: Path) -> Backend:
    return Backend(LocalService(lambda: storage.open_replica(path)), path)


@pytest.fixture
def backends() -> Iterator[Callable[[Path], Backend]]:
    """Open backends on replica files; every one is closed at teardown."""
    opened: list[Backend] = []

    def open_(path: Path) -> Backend:
        backend = make_backend(path)
        opened.append(backend)
        return backend

    yield open_
    for backend in opened:
        backend.close()


@pytest.fixture
def backend(library: Library, backends: Callable[[Path], Backend]) -> Backend:
    return backends(library.path)


@pytest.fixture
def other(library: Library, backends: Callable[[Path], Backend]) -> Backend:
    """Device B's replica of the same library, behind its own backend."""
    return backends(library.dir / "b.sqlite")


def exchange(a: Backend, b: Backend) -> None:
    """Anti-entropy both ways between two backends' replicas (each on its own thread)."""
    for src, dst in ((a, b), (b, a)):
        summary: Summary = dst.call(Replica.summary)
        batch: Batch = src.call(functools.partial(_batch_for, peer=summary))
        dst.call(functools.partial(_receive, batch=batch))


def _batch_for(replica: Replica, peer: Summary) -> Batch:
    return replica.batch_for(peer)


def _receive(replica: Replica, batch: Batch) -> object:
    return replica.receive(batch)


def text_of(backend: Backend, note: str) -> str:
    return backend.call(lambda r: r.text(note))


def values_of(backend: Backend, note: str) -> dict[str, object]:
    return backend.call(lambda r: dict(r.values(note)))


def replica_call(backend: Backend, fn: Callable[[Replica], object]) -> object:
    return backend.call(fn)


@dataclass
class NodeApp:
    """A device of its own: a sync node on its own thread (loopback only) and a backend over it."""

    service: NodeService
    backend: Backend
    dir: Path


@pytest.fixture
def node_apps(tmp_path: Path) -> Iterator[Callable[..., NodeApp]]:
    """Start devices, each a node over loopback TLS (zeroconf only if asked, and then bound to
    127.0.0.1 alone); all closed at teardown."""
    from sync.const import LIBRARY_FILE
    from sync.service import NodeService

    opened: list[NodeApp] = []

    def start(name: str, *, discovery: bool = False) -> NodeApp:
        data = tmp_path / name
        service = NodeService(
            data,
            name=name,
            host="127.0.0.1",
            interfaces=["127.0.0.1"],
            discovery=discovery,
            control=False,
        )
        app = NodeApp(service, Backend(service, data / LIBRARY_FILE), data)
        opened.append(app)
        return app

    yield start
    for app in reversed(opened):
        app.backend.close()


def pair(inviter: NodeApp, joiner: NodeApp) -> None:
    """Pair two node apps through the nodes' own invite and join (the real pairing exchange)."""
    code, host, port = inviter.service.invite().result(10)
    joiner.service.join(code, host, port).result(20)


REPO_ICS = Path(__file__).resolve().parents[1] / "data" / "ics" / "google_weekly_berlin.ics"
