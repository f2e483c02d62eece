"""A replica owner's mirror folder (the app's, or a headless service's), switched off its thread.

``MirrorSlot`` drives ``storage.mirror.Mirror`` through the owner's ``submit`` and ``subscribe``,
so the folder is one more door through the owner of the library, never a second opener.
"""

from __future__ import annotations

import concurrent.futures
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, TypeVar

from sync.subscribers import Unsubscribe

if TYPE_CHECKING:
    from localfirst import Changes, Replica
    from storage.mirror import Mirror

_T = TypeVar("_T")


class _Owner(Protocol):
    """Who owns a replica: runs callables on its thread and tells about every change."""

    def submit(self, fn: Callable[[Replica], _T]) -> concurrent.futures.Future[_T]: ...

    def subscribe(self, callback: Callable[[Changes], None]) -> Unsubscribe: ...


class MirrorSlot:
    """The mirror folder of a replica owner: at most one, switched on a thread of its own.

    The mirror reaches the replica only through the owner (``submit``) and rewrites files after
    every change the owner reports, so the folder is one more door through the owner. (Once the
    node runs the mirror itself, ``NodeService.set_mirror`` hands the folder to the node.)
    """

    def __init__(self, owner: _Owner) -> None:
        self._owner = owner
        self._mirror: Mirror | None = None
        self._unsubscribe: Unsubscribe | None = None
        # Not the owner's thread: starting a mirror waits for the owner.
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="mirror")

    def set(self, folder: Path | None) -> concurrent.futures.Future[Path | None]:
        """Mirror into ``folder`` (None: stop); the future holds the folder now mirrored."""
        return self._pool.submit(self._switch, folder)

    def errors(self) -> list[str]:
        """Files of the mirror folder that could not be used, one line each (oldest first)."""
        mirror = self._mirror
        return [str(e) for e in mirror.errors] if mirror is not None else []

    def _switch(self, folder: Path | None) -> Path | None:
        self._stop()
        if folder is None:
            return None
        from storage.mirror import Mirror

        mirror = Mirror(self._owner.submit, folder)
        # Subscribe first: a change landing while the mirror starts is rewritten after it.
        unsubscribe = self._owner.subscribe(mirror.on_change)
        try:
            mirror.start()
        except BaseException:
            unsubscribe()
            raise
        self._mirror, self._unsubscribe = mirror, unsubscribe
        return mirror.folder

    def _stop(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        if self._mirror is not None:
            self._mirror.stop()
            self._mirror = None

    def close(self) -> None:
        """Stop mirroring (waits for the mirror's threads); call before the owner closes."""
        self._pool.submit(self._stop).result()
        self._pool.shutdown(wait=True)
