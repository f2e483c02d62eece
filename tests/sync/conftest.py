"""Fixtures for the sync tests: throwaway identities and a loopback-only zeroconf."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from zeroconf import Zeroconf

from sync.identity import Identity

#: The only interface any sync test may put traffic on.
LOOPBACK = "127.0.0.1"


@pytest.fixture
def make_identity(tmp_path: Path) -> Callable[[str], Identity]:
    """Return a factory of fresh identities, each in its own directory under tmp_path."""

    def make(name: str) -> Identity:
        return Identity.load_or_create(tmp_path / "identities" / name, name)

    return make


@pytest.fixture
def alice(make_identity: Callable[[str], Identity]) -> Identity:
    """A device identity named Alice."""
    return make_identity("alice")


@pytest.fixture
def bob(make_identity: Callable[[str], Identity]) -> Identity:
    """A device identity named Bob."""
    return make_identity("bob")


@pytest.fixture
def stranger(make_identity: Callable[[str], Identity]) -> Identity:
    """A device identity nobody paired with."""
    return make_identity("stranger")


@pytest.fixture
def zc_loopback() -> Iterator[Zeroconf]:
    """A real blocking Zeroconf bound to loopback only, closed in finally."""
    try:
        zc = Zeroconf(interfaces=[LOOPBACK], use_asyncio=False)
    except OSError as exc:  # e.g. no multicast route on lo in a minimal container
        pytest.skip(f"multicast on loopback is unavailable here: {exc}")
    try:
        yield zc
    finally:
        zc.close()


@pytest.fixture(autouse=True)
def no_thread_left() -> Iterator[None]:
    """Fail a test that leaves a thread running (zeroconf, executors, servers)."""
    before = set(threading.enumerate())
    yield
    deadline = time.monotonic() + 2.0
    while True:
        extra = [t for t in threading.enumerate() if t not in before and t.is_alive()]
        if not extra or time.monotonic() > deadline:
            break
        time.sleep(0.01)
    assert not extra, f"threads left running: {extra}"
