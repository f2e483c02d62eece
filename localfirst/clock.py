"""Accept stamps: a hybrid logical clock whose stamps respect causality."""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    """Where a replica reads the time for a new stamp."""

    def now(self) -> int:
        """The current clock value; need not be monotonic, the stamp rule makes stamps so."""
        ...


class SystemClock:
    """Milliseconds since the epoch, so tentative order follows wall-clock order across devices."""

    def now(self) -> int:
        return time.time_ns() // 1_000_000


class ManualClock:
    """A clock tests set by hand (the reference scenario writes at given clock values)."""

    def __init__(self, value: int = 0) -> None:
        self.value = value

    def now(self) -> int:
        return self.value

    def set(self, value: int) -> None:
        self.value = value


def next_stamp(clock_value: int, highest_seen: int) -> int:
    """The Bayou rule: stamp = max(clock, highest stamp seen + 1), so it exceeds all it depends on."""
    return max(clock_value, highest_seen + 1)
