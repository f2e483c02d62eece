"""Crash safety: ``kill -9`` at random moments loses no write whose call returned and never
corrupts the file (DESIGN.md, "Bad input and faults").

A child process (crash_writer.py) writes notes in a loop through the public API and prints
each id once its call has returned; the parent kills it with SIGKILL at a random moment, again
and again on the same file, then checks everything the child reported is there.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import storage
from storage import SqlStore

ROOT = Path(__file__).resolve().parents[2]
WRITER = Path(__file__).with_name("crash_writer.py")
KILLS = 24
TIME_BUDGET_S = 50


def run_and_kill(path: Path, delay: float) -> tuple[list[str], list[int]]:
    """Start a writer, let it write for ``delay`` seconds after it is ready, SIGKILL it.

    Returns the note ids and the CSNs it reported (complete lines only).
    """
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, str(WRITER), str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        # Unbuffered: a buffered readline() of "ready" could swallow reports that follow it,
        # which communicate() (reading the pipe directly) would then never see.
        bufsize=0,
        env=env,
        cwd=ROOT,
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        if first != b"ready\n":
            _, err = proc.communicate(timeout=10)
            pytest.fail(f"writer did not start: {first!r} {err.decode(errors='replace')}")
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        out, err = proc.communicate(timeout=10)
    finally:
        if proc.returncode is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == -signal.SIGKILL, err.decode(errors="replace")
    lines = out.decode().split("\n")[:-1]  # a torn last line (no newline) is not a report
    ids = [line for line in lines if line.startswith("n")]
    csns = [int(line.split()[1]) for line in lines if line.startswith("commit ")]
    return ids, csns


def check_file(path: Path, reported: list[str], commits: list[int], kills: int) -> None:
    with SqlStore(path) as check:
        assert check.integrity_check() == "ok"
    replica = storage.open_replica(path)
    try:
        notes = replica.entities("note")
        for entity in reported:
            assert entity in notes, f"{entity} was reported saved but is gone"
            assert notes[entity].value("title") == entity
        # Writes are sequential: the file holds n0..n(k-1) and nothing else.
        assert sorted(notes) == sorted(f"n{i}" for i in range(len(notes)))
        # At most one write per kill returned (and is kept) without having been reported.
        assert len(reported) <= len(notes) <= len(reported) + kills
        labels = replica.log_labels()
        assert len(labels) == len(notes)
        stamps = [int(label.split(":")[1]) for label in labels if label.split(":")[2] == "D"]
        assert replica.vector["D"] == max(stamps)
        assert replica.vector.as_dict() == {"D": max(stamps)}
        assert len(set(stamps)) == len(stamps)
        # Committed prefix 1..csn with no holes, then tentative writes in stamp order.
        csns = [label.split(":")[0] for label in labels]
        committed = [int(c) for c in csns if c != "inf"]
        assert committed == list(range(1, replica.csn + 1))
        assert csns[len(committed) :] == ["inf"] * (len(csns) - len(committed))
        tentative = stamps[len(committed) :]
        assert tentative == sorted(tentative)
        assert replica.csn >= max(commits, default=0)
    finally:
        store = replica._store
        assert isinstance(store, SqlStore)
        store.close()


@pytest.mark.slow
def test_kill_9_loses_no_reported_write_and_never_corrupts(tmp_path: Path) -> None:
    path = tmp_path / "crash.db"
    rng = random.Random(20240501)
    reported: list[str] = []
    commits: list[int] = []
    started = time.monotonic()
    kills = 0
    while kills < KILLS:
        assert time.monotonic() - started < TIME_BUDGET_S, f"only {kills} kills in {TIME_BUDGET_S}s"
        ids, csns = run_and_kill(path, rng.uniform(0.020, 0.300))
        kills += 1
        reported += ids
        commits += csns
        if kills % 6 == 0:
            check_file(path, reported, commits, kills)
    check_file(path, reported, commits, kills)
    # The test exercised what it claims: many writes and commits across the kills.
    assert len(reported) >= KILLS
    assert len(set(reported)) == len(reported)
    assert commits
    print(f"{kills} kills, {len(reported)} writes reported, {len(commits)} commits reported")
