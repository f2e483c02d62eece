"""The one way tests wait: poll a condition until it holds, failing with what was awaited.

Tests wait on conditions, never on bare sleeps; :func:`wait_for` is the blocking twin of
:func:`until`, for tests that drive threads or child processes.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TypeVar

_T = TypeVar("_T")


async def until(cond: Callable[[], object], timeout: float = 15.0, what: str = "condition") -> None:
    """Wait until ``cond()`` holds, checking every 20 ms; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


def wait_for(cond: Callable[[], _T], timeout: float = 30.0, what: str = "condition") -> _T:
    """Block until ``cond()`` returns something true and return it; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not (value := cond()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)
    return value
