"""A replica owner's mirror folder (a node's, headless or in the app), switched off its thread.

``MirrorSlot`` drives :class:`sync.mirror.Mirror` through the owner's ``submit`` and
``subscribe``, so the folder is one more door through the owner of the library, never a second
opener. The mirror is imported only when a folder is set: watchdog costs start-up time.
"""

from __future__ import annotations

import concurrent.futures
import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from sync.library import NodeError
from sync.subscribers import Unsubscribe

if TYPE_CHECKING:
    from localfirst import Changes, Replica
    from sync.mirror import Mirror

_T = TypeVar("_T")
log = logging.getLogger(__name__)


class _Owner(Protocol):
    """Who owns a replica: runs callables on its thread and tells about every change."""

    def submit(self, fn: Callable[[Replica], _T]) -> concurrent.futures.Future[_T]: ...

    def subscribe(self, callback: Callable[[Changes], None]) -> Unsubscribe: ...


class MirrorSlot:
    """The mirror folder of a replica owner: at most one, switched on a thread of its own.

    The mirror reaches the replica only through the owner (``submit``) and rewrites files after
    every change the owner reports, so the folder is one more door through the owner.
    """

    def __init__(self, owner: _Owner) -> None:
        self._owner = owner
        self._mirror: Mirror | None = None
        self._unsubscribe: Unsubscribe | None = None
        # Not the owner's thread: starting a mirror waits for the owner. Made on first use.
        self._pool: concurrent.futures.ThreadPoolExecutor | None = None

    def set(self, folder: Path | None) -> concurrent.futures.Future[Path | None]:
        """Mirror into ``folder`` (None: stop); the future holds the folder now mirrored, or
        :class:`NodeError` saying why the folder cannot be mirrored (mirroring is then off)."""
        if self._pool is None:
            self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="mirror")
        return self._pool.submit(self._switch, folder)

    def status(self) -> dict[str, Any] | None:
        """The folder mirrored and the mirror's errors (for the user), or None when off."""
        mirror = self._mirror
        if mirror is None:
            return None
        return {"folder": str(mirror.folder), "errors": [str(e) for e in mirror.errors]}

    def errors(self) -> list[str]:
        """Files of the mirror folder that could not be used, one line each (oldest first)."""
        mirror = self._mirror
        return [str(e) for e in mirror.errors] if mirror is not None else []

    def _switch(self, folder: Path | None) -> Path | None:
        self._stop()
        if folder is None:
            return None
        from sync.mirror import Mirror

        mirror = Mirror(self._owner.submit, folder)
        # Subscribe first: a change landing while the mirror starts is rewritten after it.
        unsubscribe = self._owner.subscribe(mirror.on_change)
        try:
            mirror.start()
        except Exception as exc:
            unsubscribe()
            raise NodeError(f"cannot mirror into {folder}: {exc}") from None
        self._mirror, self._unsubscribe = mirror, unsubscribe
        log.info("mirroring the library into %s", mirror.folder)
        return mirror.folder

    def _stop(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        if self._mirror is not None:
            self._mirror.stop()
            self._mirror = None

    def close(self) -> None:
        """Stop mirroring (waits for the mirror's threads); call before the owner closes, and
        never on the owner's thread (the mirror may be waiting for it)."""
        if self._pool is not None:
            self._pool.submit(self._stop).result()
            self._pool.shutdown(wait=True)
            self._pool = None
