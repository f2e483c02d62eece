"""The mirror folder a node runs: at most one at a time, started, switched and stopped on request.

The mirror itself (:class:`sync.mirror.Mirror`) watches the folder on threads of its own and
writes through the node's ``submit``, so what it writes commits, syncs and is heard like any
other write; it hears the node's changes as a subscriber. Starting and stopping wait for the
node's loop, so they run on a worker thread while the loop keeps serving.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from localfirst import Changes
from sync.library import NodeError
from sync.subscribers import Unsubscribe

if TYPE_CHECKING:
    from sync.mirror import Mirror, ReplicaAccess

log = logging.getLogger(__name__)


class MirrorRunner:
    """Runs the mirror of one replica: ``access`` reaches the replica, ``subscribe`` its changes."""

    def __init__(
        self, access: ReplicaAccess, subscribe: Callable[[Callable[[Changes], None]], Unsubscribe]
    ) -> None:
        self._access = access
        self._subscribe = subscribe
        self._running: tuple[Mirror, Unsubscribe] | None = None
        self._lock = asyncio.Lock()

    async def set(self, folder: Path | None) -> Path | None:
        """Mirror into ``folder`` (None: stop mirroring); return the folder mirrored now.

        Raises:
            NodeError: the folder cannot be mirrored (mirroring is then off).
        """
        async with self._lock:
            if self._running is not None:
                mirror, unsubscribe = self._running
                self._running = None
                unsubscribe()
                await asyncio.to_thread(mirror.stop)
            if folder is None:
                return None
            from sync.mirror import Mirror

            mirror = Mirror(self._access, folder)
            # Subscribe first: a change landing while the mirror starts is rewritten after it.
            unsubscribe = self._subscribe(mirror.on_change)
            try:
                await asyncio.to_thread(mirror.start)
            except Exception as exc:
                unsubscribe()
                raise NodeError(f"cannot mirror into {folder}: {exc}") from None
            self._running = (mirror, unsubscribe)
            log.info("mirroring the library into %s", mirror.folder)
            return mirror.folder

    def status(self) -> dict[str, Any] | None:
        """The folder mirrored and the mirror's errors (for the user), or None when off."""
        if self._running is None:
            return None
        mirror = self._running[0]
        return {"folder": str(mirror.folder), "errors": [str(e) for e in mirror.errors]}
