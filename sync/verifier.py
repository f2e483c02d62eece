"""The node's scheduled re-verification of its replica (issue 12: integrity that can be proven).

At start the replica is verified (its first check in a process recomputes the whole chain and
the state digest from the stored rows); then every ``VERIFY_INTERVAL_S`` what is new since the
verified mark, and every ``VERIFY_FULL_EVERY``-th time all of it, so damage at rest is found
within a day at most even where no session asks. ``localfirst verify`` runs the full check on
demand through :meth:`Verifier.check_full`. Damage found ends every session: each starts again
claiming nothing and asks its peer for a repair (see :mod:`sync.session`).

A full check reads every document and note body: minutes of CPU on a large library. It runs in
a worker thread on a read-only connection of its own (``storage.verify_reader``), which sees one
consistent snapshot of the file while the node goes on writing; only its outcome is recorded, on
the loop, by the replica's own ``verify(full=True)``, which chains on over what was committed
since. Meanwhile sessions check from the verified mark, so the node answers as usual.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Protocol, runtime_checkable

from localfirst import Replica
from localfirst.integrity import VerifyReport
from storage.errors import StorageError
from storage.verify_reader import FileCheck, FullCheck
from sync.const import VERIFY_FULL_EVERY, VERIFY_INTERVAL_S

log = logging.getLogger(__name__)

#: Times a full check is read again when the log was cut or replaced while it read the file.
_ATTEMPTS = 3


@runtime_checkable
class _CheckedElsewhere(Protocol):
    """A store whose full check can be read off the loop (``storage.SqlStore``)."""

    def full_check_job(self) -> FileCheck: ...

    def take_full_check(self, found: FullCheck) -> bool: ...


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
        self._job: FileCheck | None = None  # the full check being read in a worker thread
        self._full = asyncio.Lock()  # one full check at a time
        #: The last check's report and when it ran (``time.time()``), for status.
        self.last: VerifyReport | None = None
        self.last_at: float | None = None

    def start(self) -> None:
        """Check now, then on the schedule (on the running loop)."""
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def close(self) -> None:
        if self._job is not None:
            self._job.cancel()  # the worker thread stops at its next read
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        rounds = 0
        while True:
            if rounds % self.full_every == 0:  # at start (the first check in a process is full)
                await self.check_full()
            else:
                self.check()
            rounds += 1
            await asyncio.sleep(self.interval)

    async def check_full(self) -> VerifyReport | None:
        """Verify the replica in full, reading it in a worker thread; None if there is none or
        its file failed. Sessions meanwhile check from the verified mark."""
        async with self._full:
            replica = self._replica()
            if replica is None:
                return None
            store = replica.store
            if not isinstance(store, _CheckedElsewhere):
                return self.check(full=True)  # a store without a file: checked here
            replica.defer_full_check()
            for _ in range(_ATTEMPTS):
                found = await self._read_off_loop(store)
                if self._replica() is not replica:
                    return None  # replaced meanwhile (a join): its own check comes next
                if found is None or store.take_full_check(found):
                    break  # unreadable there: checked here, which says why
            return self.check(full=True)  # records what was read (or, if it kept going stale, reads here)

    async def _read_off_loop(self, store: _CheckedElsewhere) -> FullCheck | None:
        self._job = job = store.full_check_job()
        try:
            return await asyncio.to_thread(job.run)
        except StorageError:
            return None
        finally:
            self._job = None

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
