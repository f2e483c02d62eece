"""Every error a command can end with, as one clear line on stderr (never a traceback).

:func:`run_command` wraps each command of ``localfirst``: a known failure -- a damaged or newer
library, a folder that is read-only or not ours, a full disk, a library held by another process,
a node that stopped -- becomes one line naming what happened and what to do, and exit status 1;
``--verbose`` adds the details (the traceback) after it. The UI layer never imports ``storage``,
so storage errors are recognised by their class names (``storage.errors``).
"""

from __future__ import annotations

import argparse
import errno
import os
import sys
import traceback
from collections.abc import Callable
from pathlib import Path

#: One line per storage/sync error class (by name), most specific first; ``{msg}`` is the
#: error's own message, which already names the file.
_BY_CLASS = {
    "DiskFull": "disk full: {msg}",
    "DatabaseLocked": "library locked: {msg}",
    "CorruptReplica": "the library is damaged: {msg}",
    "NewerSchema": "the library is from a newer version: {msg}",
    "NotAReplica": "no library: {msg}",
    "LibraryBusy": "{msg}",
    "NodeStopped": "{msg}",
    "ControlError": "{msg}",
    "PairingError": "{msg}",
    "NodeError": "{msg}",
    "StorageError": "the library could not be read or written: {msg}",
}


def add_verbose(parser: argparse.ArgumentParser) -> None:
    """Accept ``--verbose`` before or after any command (details of a failure on stderr)."""
    parser.add_argument("--verbose", action="store_true", help="on failure, show the details too")
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                if "--verbose" not in sub._option_string_actions:
                    sub.add_argument(
                        "--verbose",
                        action="store_true",
                        default=argparse.SUPPRESS,
                        help="on failure, show the details too",
                    )


def run_command(
    command: Callable[[Path, argparse.Namespace], int], data: Path, args: argparse.Namespace
) -> int:
    """Run one command; a failure ends it with one line on stderr and exit status 1."""
    try:
        return command(data, args)
    except KeyboardInterrupt:
        return 130
    except SystemExit:
        raise
    except Exception as exc:
        status = getattr(exc, "status", 1) if type(exc).__name__ == "CliExit" else 1
        print(f"localfirst: {explain(exc, data)}", file=sys.stderr)
        if getattr(args, "verbose", False):
            traceback.print_exception(exc, file=sys.stderr)
        return status if isinstance(status, int) else 1


def explain(exc: BaseException, data: Path) -> str:
    """One line for the user: what happened and, where it helps, what to do."""
    names = [cls.__name__ for cls in type(exc).__mro__]
    if "CliExit" in names:
        return str(exc)
    if _disk_full(exc, data):
        return (
            f"disk full: the disk holding {data} has no space left; nothing was saved, free space and retry"
        )
    denied = _denied(exc)
    if denied is not None:
        where = next((e.filename for e in _chain(exc) if isinstance(e, OSError) and e.filename), data)
        if denied == errno.EROFS:
            return f"read-only folder: cannot write in {where}; nothing was changed"
        return f"permission denied: {where} is not yours to open or change; nothing was changed"
    for name in names:
        line = _BY_CLASS.get(name)
        if line is not None:
            return line.format(msg=_one_line(str(exc) or name))
    if isinstance(exc, OSError):
        where = f" ({exc.filename})" if exc.filename else ""
        return f"{exc.strerror or type(exc).__name__}{where}"
    return f"unexpected error: {type(exc).__name__}: {_one_line(str(exc))} (run with --verbose for details)"


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    cur: BaseException | None = exc
    while cur is not None and cur not in seen:
        seen.append(cur)
        cur = cur.__cause__ or cur.__context__
    return seen


def _disk_full(exc: BaseException, data: Path) -> bool:
    """A full disk, however it surfaced: SQLite's "full" or "disk I/O error", or ENOSPC."""
    names = {cls.__name__ for e in _chain(exc) for cls in type(e).__mro__}
    if "DiskFull" in names or any(isinstance(e, OSError) and e.errno == errno.ENOSPC for e in _chain(exc)):
        return True
    # Only a failure that could be a write running out of space (a bare storage or OS error);
    # a damaged, newer or locked library is that, whatever room the disk has left.
    vague = type(exc).__name__ == "StorageError" or (
        isinstance(exc, OSError) and not isinstance(exc, PermissionError)
    )
    if not vague:
        return False
    # SQLite often reports a write that ran out of space as a plain I/O error: ask the disk.
    try:
        stat = os.statvfs(data if data.exists() else data.parent)
    except OSError:
        return False
    return stat.f_bavail * stat.f_frsize < 64 * 1024


def _denied(exc: BaseException) -> int | None:
    """``EROFS`` for a read-only file system, ``EACCES`` for a file or folder not ours, or None."""
    for e in _chain(exc):
        if isinstance(e, OSError) and e.errno == errno.EROFS:
            return errno.EROFS
        if isinstance(e, OSError) and e.errno in (errno.EACCES, errno.EPERM):
            return errno.EACCES
        if "readonly" in str(e).lower():  # SQLite's "attempt to write a readonly database"
            return errno.EROFS
    return None
