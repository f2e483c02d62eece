"""Fixtures for the relay tests: one real S3-compatible server (SeaweedFS on 127.0.0.1) per test
session, data in a temp folder; each test gets a relay prefix of its own in one bucket. Fault
tests may stop and start it (same data folder)."""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.sync.relay.seaweed import ACCESS_KEY, SECRET_KEY, Seaweed

__all__ = ["Seaweed"]


@pytest.fixture(scope="session")
def seaweed() -> Iterator[Seaweed]:
    root = Path(tempfile.mkdtemp(prefix="seaweed-"))
    server = Seaweed(root)
    server.start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def s3_env(seaweed: Seaweed, monkeypatch: pytest.MonkeyPatch) -> Seaweed:
    """The server, with its credentials in the usual AWS_* variables."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    with contextlib.suppress(Exception):
        if seaweed.proc is None:
            seaweed.start()  # a fault test stopped it and failed before starting it again
    return seaweed
