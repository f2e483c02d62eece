"""The node's scheduled re-verification of its replica (issue 12: integrity that can be proven).

At start the replica is verified (its first check in a process recomputes the whole chain and
the state digest from the stored rows); then every ``VERIFY_INTERVAL_S`` what is new since the
verified mark, and every ``VERIFY_FULL_EVERY``-th time all of it, so damage at rest is found
within a day at most even where no session asks. ``localfirst verify`` runs the full check on
demand through :meth:`Verifier.check`. Damage found ends every session: each starts again
claiming nothing and asks its peer for a repair (see :mod:`sync.session`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

from localfirst import Replica
from localfirst.integrity import VerifyReport
from storage.errors import StorageError
from sync.const import VERIFY_FULL_EVERY, VERIFY_INTERVAL_S

log = logging.getLogger(__name__)


class Verifier:
    """Verifies the replica now and on a schedule; ``on_damaged(report)`` hears of damage."""

    def __init__(
        self,
        replica: Callable[[], Replica | None],
        on_damaged: Callable[[VerifyReport], None],
        *,
        interval: float = VERIFY_INTERVAL_S,
        full_every: int = VERIFY_FULL_EVERY,
    ) -> None:
        self._replica = replica
        self._on_damaged = on_damaged
        self.interval = interval
        self.full_every = full_every
        self._task: asyncio.Task[None] | None = None
        #: The last check's report and when it ran (``time.time()``), for status.
        self.last: VerifyReport | None = None
        self.last_at: float | None = None

    def start(self) -> None:
        """Check now, then on the schedule (on the running loop)."""
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        rounds = 0
        while True:
            self.check(full=rounds > 0 and rounds % self.full_every == 0)
            rounds += 1
            await asyncio.sleep(self.interval)

    def check(self, *, full: bool = False) -> VerifyReport | None:
        """Verify the replica (in full if asked); None if there is none or its file failed."""
        replica = self._replica()
        if replica is None:
            return None
        try:
            report = replica.verify(full=full)
        except StorageError as exc:  # a locked or unreadable file: said, and tried again later
            log.error("could not verify the library: %s", exc)
            return None
        self.last, self.last_at = report, time.time()
        if not report.ok:
            log.error("the library is damaged: %s; repairing from a member", report.describe())
            self._on_damaged(report)
        return report
