"""The UI's way to the replica: one background thread owns it; the GUI thread never touches SQLite.

``Backend`` wraps a :class:`ReplicaService` (anything with ``submit(fn)`` returning a
``concurrent.futures.Future`` and ``subscribe(callback)`` for :class:`~localfirst.Changes`):
:class:`LocalService` here, a thread executor owning the replica (no network), or
``sync.service.NodeService``, a sync node on its own thread (what the app runs).
Results and changes come back to the GUI thread through queued signals.

    backend.op(lambda r: r.values(note)).success(show).run_in_background()
"""

from __future__ import annotations

import concurrent.futures
import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from sync.mirroring import MirrorSlot
from sync.subscribers import Subscribers, Unsubscribe
from ui.qt import QObject, Signal, qconnect

if TYPE_CHECKING:  # the core loads on the replica's thread, so the window shows sooner
    from localfirst import Changes, Replica
    from sync.lock import LibraryLock
    from sync.plainfiles import NoteSearch

log = logging.getLogger(__name__)

T = TypeVar("T")


class ReplicaService(Protocol):
    """Who owns the replica: runs callables on its thread and tells about every change."""

    def submit(self, fn: Callable[[Replica], T]) -> concurrent.futures.Future[T]: ...

    def subscribe(self, callback: Callable[[Changes], None]) -> Unsubscribe: ...

    def close(self) -> None: ...

    def set_mirror(self, folder: Path | None) -> concurrent.futures.Future[Path | None]: ...

    def mirror_errors(self) -> list[str]: ...


class LocalService:
    """A single worker thread that opens the replica and runs every callable on it, in order.

    After each callable that changed the replica, subscribers get the :class:`Changes` (on
    the worker thread). On the primary, tentative writes are committed as the node does.
    """

    def __init__(
        self, opener: Callable[[], Replica], *, auto_commit: bool = True, lock: LibraryLock | None = None
    ) -> None:
        """``lock``: the data folder's, held by the caller; released once the replica is closed."""
        self._lock = lock
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="replica")
        self._subscribers: Subscribers[Changes] = Subscribers()
        self._replica: Replica | None = None
        self.auto_commit = auto_commit
        self.opened = self._pool.submit(self._open, opener)
        self._mirror = MirrorSlot(self)

    def _open(self, opener: Callable[[], Replica]) -> Replica:
        self._replica = opener()
        self._replica.take_changes()  # what opening wrote is no news to subscribers
        return self._replica

    def submit(self, fn: Callable[[Replica], T]) -> concurrent.futures.Future[T]:
        return self._pool.submit(self._run, fn)

    def _run(self, fn: Callable[[Replica], T]) -> T:
        replica = self._replica
        if replica is None:
            raise RuntimeError("the library could not be opened")
        try:
            return fn(replica)
        finally:
            # Also when fn wrote, then failed: what it wrote is saved, so it is told.
            if self.auto_commit and replica.primary == replica.device and replica.tentative():
                replica.commit()
            changes = replica.take_changes()
            if changes:
                self._subscribers.notify(changes)

    def subscribe(self, callback: Callable[[Changes], None]) -> Unsubscribe:
        return self._subscribers.add(callback)

    def set_mirror(self, folder: Path | None) -> concurrent.futures.Future[Path | None]:
        """Keep ``folder`` in step with the library both ways (None: stop)."""
        return self._mirror.set(folder)

    def mirror_errors(self) -> list[str]:
        return self._mirror.errors()

    def close(self) -> None:
        """Stop mirroring, finish queued work, then close the replica on its own thread."""
        self._mirror.close()

        def close_replica() -> None:
            if self._replica is not None:
                self._replica.close()
                self._replica = None

        try:
            self._pool.submit(close_replica).result()
            self._pool.shutdown(wait=True)
        finally:
            if self._lock is not None:
                self._lock.release()


class Op(Generic[T]):
    """A job for the replica's thread with callbacks on the GUI thread (as Anki's QueryOp)."""

    def __init__(self, backend: Backend, fn: Callable[[Replica], T]) -> None:
        self._backend = backend
        self._fn = fn
        self._success: Callable[[T], object] | None = None
        self._failure: Callable[[BaseException], object] | None = None

    def success(self, callback: Callable[[T], object]) -> Op[T]:
        self._success = callback
        return self

    def failure(self, callback: Callable[[BaseException], object]) -> Op[T]:
        self._failure = callback
        return self

    def run_in_background(self) -> concurrent.futures.Future[T]:
        future = self._backend.service.submit(self._fn)
        future.add_done_callback(lambda f: self._backend._op_did_finish.emit(self, f))
        return future

    def _finish(self, future: concurrent.futures.Future[T]) -> None:
        exc = future.exception()
        if exc is None:
            if self._success is not None:
                self._success(future.result())
        elif self._failure is not None:
            self._failure(exc)
        else:
            log.error("background job failed", exc_info=exc)
            self._backend.op_did_fail.emit(exc)


class Backend(QObject):
    """The replica service seen from the GUI thread."""

    #: A ``localfirst.Changes``, on the GUI thread, after every write (local or remote).
    changed = Signal(object)
    #: An exception from a job that had no failure callback (shown to the user).
    op_did_fail = Signal(object)
    _op_did_finish = Signal(object, object)
    _changes_from_worker = Signal(object)

    def __init__(self, service: ReplicaService, library_path: Path | None = None) -> None:
        super().__init__()
        self.service = service
        self.library_path = library_path
        self._search: NoteSearch | None = None  # used on the replica's thread only
        qconnect(self._op_did_finish, self._on_op_finished)
        qconnect(self._changes_from_worker, self.changed.emit)
        self._unsubscribe = service.subscribe(self._on_worker_changes)
        self._closed = False

    def _on_worker_changes(self, changes: Changes) -> None:
        """On the replica's thread: a new library (snapshot) needs a new search connection."""
        if changes.snapshot and self._search is not None:
            search, self._search = self._search, None
            search.close()
        self._changes_from_worker.emit(changes)

    def op(self, fn: Callable[[Replica], T]) -> Op[T]:
        return Op(self, fn)

    def submit(self, fn: Callable[[Replica], T]) -> concurrent.futures.Future[T]:
        """Run ``fn(replica)`` on the replica's thread (no GUI callback: see :meth:`op`)."""
        return self.service.submit(fn)

    def call(self, fn: Callable[[Replica], T], timeout: float = 30.0) -> T:
        """Run ``fn`` and wait for it: for tests and shutdown, never for a GUI handler."""
        return self.service.submit(fn).result(timeout)

    def search_notes(self, replica: Replica, query: str) -> list[str]:
        """On the replica's thread: ids of notes matching ``query`` (FTS5), best first."""
        del replica  # the index is read on its own connection, in the replica's thread
        if self.library_path is None:
            return []
        if self._search is None:
            from sync.plainfiles import NoteSearch

            self._search = NoteSearch(self.library_path)
        return self._search.search(query)

    def _on_op_finished(self, op: Op[Any], future: concurrent.futures.Future[Any]) -> None:
        if not self._closed:
            op._finish(future)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._unsubscribe()
        search = self._search
        if search is not None:
            self.service.submit(lambda _r: search.close())
        self.service.close()


def open_local(data_dir: Path, device_name: str = "") -> tuple[LocalService, Path]:
    """A service owning the library in ``data_dir`` (created on first run), and its file.

    Raises:
        LibraryBusy: another process (a node, a command) holds the data folder.
    """
    from sync.const import LIBRARY_FILE
    from sync.lock import LibraryLock

    lock = LibraryLock(data_dir).acquire()  # before the library is opened, held until close()
    path = data_dir / LIBRARY_FILE

    def opener() -> Replica:
        from sync.node import load_identity, open_or_create

        identity = load_identity(data_dir, device_name)
        return open_or_create(data_dir, identity)

    return LocalService(opener, lock=lock), path
