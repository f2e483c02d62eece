"""Who wants to hear of changes to a replica: a thread-safe list of callbacks."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

log = logging.getLogger(__name__)

_E = TypeVar("_E")

#: Calling it stops the callback from being called.
Unsubscribe = Callable[[], None]


class Subscribers(Generic[_E]):
    """Callbacks told of each event, in the order they subscribed; one that raises is logged
    and the others are still told."""

    def __init__(self) -> None:
        self._callbacks: list[Callable[[_E], None]] = []
        self._lock = threading.Lock()

    def add(self, callback: Callable[[_E], None]) -> Unsubscribe:
        with self._lock:
            self._callbacks.append(callback)

        def unsubscribe() -> None:
            with self._lock:
                if callback in self._callbacks:
                    self._callbacks.remove(callback)

        return unsubscribe

    def notify(self, event: _E) -> None:
        with self._lock:
            callbacks = list(self._callbacks)
        for callback in callbacks:
            try:
                callback(event)
            except Exception:
                log.exception("change subscriber failed")
