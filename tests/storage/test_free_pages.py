"""Issue 17: a truncation deletes log rows, and the file gives the pages they held back to the
file system (incremental auto-vacuum) instead of keeping them free for ever."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from localfirst import ManualClock
from storage import database
from storage.database import INCREMENTAL, KEEP_FREE_PAGES

from .conftest import Replicas


def pages(path: Path) -> tuple[int, int, int]:
    """(auto_vacuum mode, pages, free pages) of a file."""
    with closing(sqlite3.connect(path)) as db:
        mode, count, free = (
            db.execute(f"PRAGMA {p}").fetchone()[0] for p in ("auto_vacuum", "page_count", "freelist_count")
        )
    return int(mode), int(count), int(free)


def test_a_truncation_gives_the_log_pages_back(replicas: Replicas) -> None:
    r = replicas.create("lib", "P", clock=ManualClock(1))
    ids = [r.create("event", {"title": "x"}) for _ in range(10)]
    with replicas.store_of(r).atomic():  # one transaction: the test is about pages, not fsyncs
        for k in range(60):
            for entity in ids:
                r.put("event", entity, {"title": f"{k} " + "long title " * 400})  # ~4 KB a write
    r.commit()
    mode, before, _ = pages(replicas.path("lib"))
    assert mode == INCREMENTAL  # a new file has it from birth
    r.truncate()
    mode, after, free = pages(replicas.path("lib"))
    assert free <= KEEP_FREE_PAGES
    assert before - after > 500  # 600 writes of ~4 KB left, folded into 10 documents
    assert r.verify(full=True).ok


def test_opening_a_file_gives_back_what_it_holds_free(replicas: Replicas) -> None:
    """Pages freed by something else (here a scratch table another program dropped) are given
    back when the library is opened."""
    replicas.close(replicas.create("lib", "P", clock=ManualClock(1)))
    path = replicas.path("lib")
    with closing(sqlite3.connect(path, isolation_level=None)) as db:
        db.execute("CREATE TABLE scratch (x)")
        db.executemany("INSERT INTO scratch VALUES (randomblob(4000))", [()] * 600)
        db.execute("DROP TABLE scratch")
    _, before, free = pages(path)
    assert free > KEEP_FREE_PAGES
    r = replicas.open("lib")
    _, after, free = pages(path)
    assert free == 0
    assert before - after > KEEP_FREE_PAGES
    assert r.verify(full=True).ok


def test_the_write_ahead_log_shrinks_back_after_a_big_transaction(
    replicas: Replicas, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Regression (issue 17): a join or a migration writes the whole library in one transaction;
    # the write-ahead log kept that size on disk for as long as the library stayed open.
    monkeypatch.setattr(database, "WAL_SIZE_LIMIT", 64 * 1024)
    r = replicas.create("big", "dev-a")
    wal = Path(f"{replicas.store_of(r).path}-wal")
    with r.transaction():
        for i in range(400):
            r.put("note", f"n{i}", {"title": f"note {i}"})
            r.edit_text(f"n{i}", [(0, 0, "x" * 5000)])
    grown = wal.stat().st_size
    assert grown > 1_000_000
    for i in range(3):  # later small writes checkpoint the log and start it over
        r.put("note", "n0", {"title": f"renamed {i}"})
    assert wal.stat().st_size < grown // 4  # cut back to the limit, then the small writes
    assert r.values("n399")["body"] == "x" * 5000
