"""One owner per data folder: an OS-level lock held for as long as the library is open.

Whoever opens the library in a data folder -- the app's node, ``serve``, or a command run with
no node -- first takes ``DATA/lock`` with ``flock`` on an open file descriptor and keeps it
until the library is closed. A second opener gets :class:`LibraryBusy`, whose message names
the holder (its pid and command line, which the holder writes into the file once it holds the
lock). The kernel drops the lock when the holder's process ends, however it ends, so a lock
left by a killed process is simply free again: there is nothing stale to break.

    with LibraryLock(data_dir):   # raises LibraryBusy
        replica = open_or_create(data_dir, identity)
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from sync.const import LOCK_FILE


@dataclass(frozen=True, slots=True)
class Holder:
    """The process holding a data folder, as it recorded itself."""

    pid: int
    command: str

    def __str__(self) -> str:
        return f"pid {self.pid} ({self.command})" if self.command else f"pid {self.pid}"


class LibraryBusy(Exception):
    """Another process holds the data folder: the library is open there."""

    def __init__(self, data_dir: Path, holder: Holder | None) -> None:
        self.data_dir = data_dir
        self.holder = holder
        by = f"by {holder}" if holder is not None else "by another process"
        super().__init__(f"the library in {data_dir} is in use {by}")


def this_command() -> str:
    """This process's command line, short enough for a message: ``localfirst serve``."""
    argv = list(sys.argv) or ["python"]
    program = Path(argv[0]).name
    argv[0] = "localfirst" if program in ("cli.py", "__main__.py", "localfirst") else program
    # Options such as --data DIR say nothing the message does not already say.
    words: list[str] = []
    skip = False
    for word in argv:
        if skip:
            skip = False
        elif word == "--data":
            skip = True
        elif not word.startswith("--data="):
            words.append(word)
    return " ".join(words)[:200]


def read_holder(data_dir: Path) -> Holder | None:
    """Who recorded itself as the holder of ``data_dir`` (None: nobody, or unreadable)."""
    try:
        raw = json.loads((Path(data_dir) / LOCK_FILE).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(raw, dict) or type(raw.get("pid")) is not int:
        return None
    return Holder(raw["pid"], str(raw.get("command", "")))


class LibraryLock:
    """The lock on one data folder; take it with :meth:`acquire` (or ``with``), drop it with
    :meth:`release`. Not re-entrant: a second lock on the same folder is refused even in the
    same process, since each would open the library on its own."""

    def __init__(self, data_dir: Path, command: str | None = None) -> None:
        self.data_dir = Path(data_dir)
        self.path = self.data_dir / LOCK_FILE
        self.command = this_command() if command is None else command
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> LibraryLock:
        """Take the lock now or fail; creates the data folder if it is missing.

        Raises:
            LibraryBusy: another process (or another lock in this one) holds the folder.
            OSError: the folder or the lock file cannot be created.
        """
        if self._fd is not None:
            return self
        self.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)  # as the identity wants it
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise LibraryBusy(self.data_dir, read_holder(self.data_dir)) from None
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        record = json.dumps({"pid": os.getpid(), "command": self.command}).encode()
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, record, 0)
        except OSError:
            pass  # the lock holds without the record; a refused opener just names nobody
        return self

    def release(self) -> None:
        """Drop the lock (the record is cleared first, so nobody is named after us)."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
        os.close(fd)  # closing the only descriptor releases the flock

    def __enter__(self) -> LibraryLock:
        return self.acquire()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()
