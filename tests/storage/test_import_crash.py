"""Re-running an import that ``kill -9`` cut off adds no copies (issue 11, item 4).

A child process (crash_importer.py) imports a folder of notes and calendars file by file; the
parent kills it with SIGKILL at random moments, again and again on the same library, then lets
one run finish. The library must hold each note and event exactly once, every file the child
reported imported must be there whole, and the file must pass ``PRAGMA integrity_check``.
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
from storage.files import source_key

ROOT = Path(__file__).resolve().parents[2]
IMPORTER = Path(__file__).with_name("crash_importer.py")
KILLS = 20
PLAIN, NAMED, CALENDARS, EVENTS = 120, 40, 4, 40


def make_folder(folder: Path) -> None:
    folder.mkdir()
    for i in range(PLAIN):
        (folder / f"plain {i:03}.md").write_text(f"plain note {i}\n" * (1 + i % 5), encoding="utf-8")
    for i in range(NAMED):
        (folder / f"named {i:03}.md").write_text(
            f'---\nid: "named-{i}"\ntitle: "Named {i}"\ntags: ["t{i % 3}"]\n---\nbody {i}\n', encoding="utf-8"
        )
    for c in range(CALENDARS):
        lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//test//EN", f"X-WR-CALNAME:Calendar {c}"]
        if c == 0:
            lines.append("X-LOCALFIRST-BOOKABLE:TRUE")  # every event books a slot through the log
        for j in range(EVENTS):
            lines += [
                "BEGIN:VEVENT",
                f"UID:cal{c}-ev{j}@test",
                "DTSTAMP:20260101T000000Z",
                f"DTSTART:202612{1 + j // 10:02}T{8 + j % 10:02}0000Z",
                f"DTEND:202612{1 + j // 10:02}T{8 + j % 10:02}4500Z",
                f"SUMMARY:Event {c}.{j}",
                "END:VEVENT",
            ]
        (folder / f"calendar {c}.ics").write_text(
            "\r\n".join([*lines, "END:VCALENDAR", ""]), encoding="utf-8"
        )


def run(db: Path, folder: Path, kill_at: int | None = None, extra: float = 0.0) -> tuple[list[str], bool]:
    """Run the importer; SIGKILL it ``extra`` seconds after it reported ``kill_at`` files imported
    (None: let it finish). Returns the files it reported imported and whether it finished."""
    proc = subprocess.Popen(
        [sys.executable, str(IMPORTER), str(db), str(folder)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        bufsize=0,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        cwd=ROOT,
    )
    lines: list[str] = []
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        if first != b"ready\n":
            _, err = proc.communicate(timeout=10)
            pytest.fail(f"importer did not start: {first!r} {err.decode(errors='replace')}")
        if kill_at is not None:
            while sum(1 for line in lines if line.startswith("done ")) < kill_at:
                line = proc.stdout.readline()
                assert line.endswith(b"\n"), f"the importer stopped early: {line!r}"
                lines.append(line.decode().rstrip("\n"))
            time.sleep(extra)  # somewhere inside the next file's import
            proc.send_signal(signal.SIGKILL)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.returncode is None:
            proc.kill()
            proc.communicate()
    expected = 0 if kill_at is None else -signal.SIGKILL
    if proc.returncode != expected and not (kill_at is not None and proc.returncode == 0):
        pytest.fail(f"importer exited with {proc.returncode}: {err.decode(errors='replace')}")
    lines += out.decode().split("\n")[:-1]  # a torn last line is not a report
    assert not any(line.startswith("error") for line in lines), lines
    done = [line.removeprefix("done ") for line in lines if line.startswith("done ")]
    return done, "finished" in lines


def check_library(db: Path, folder: Path, reported: set[str]) -> list[str]:
    """Assert each item is there exactly once (and each reported file whole); the log labels."""
    with SqlStore(db) as check:
        assert check.integrity_check() == "ok"
    replica = storage.open_replica(db)
    try:
        notes = replica.entities("note")
        expected = {source_key(folder / f"plain {i:03}.md") for i in range(PLAIN)}
        expected |= {f"named-{i}" for i in range(NAMED)}
        assert set(notes) <= expected  # nothing but the files' notes: no copies
        for name in reported:
            if name.endswith(".md"):
                i = int(name.split()[1].removesuffix(".md"))
                key = source_key(folder / name) if name.startswith("plain") else f"named-{i}"
                body = f"plain note {i}\n" * (1 + i % 5) if name.startswith("plain") else f"body {i}\n"
                assert replica.values(key)["body"] == body, name
            else:
                c = int(name.split()[1].removesuffix(".ics"))
                assert sum(1 for k in replica.entities("event") if k.startswith(f"cal{c}-")) == EVENTS
        events = replica.entities("event")
        assert set(events) <= {f"cal{c}-ev{j}@test" for c in range(CALENDARS) for j in range(EVENTS)}
        per_calendar = {doc.value("calendar") for doc in events.values()}
        assert len(replica.entities("calendar")) == len(per_calendar)  # no empty copies
        return replica.log_labels()
    finally:
        replica.close()


def test_an_import_killed_at_random_points_and_run_again_holds_each_item_once(tmp_path: Path):
    folder = tmp_path / "in"
    make_folder(folder)
    db = tmp_path / "library.db"
    seed = random.randrange(1 << 32)
    rng = random.Random(seed)
    files = PLAIN + NAMED + CALENDARS
    reported: set[str] = set()
    started = time.monotonic()
    # Each run imports again from the first file; it is killed further on every time.
    cut = 0
    for point in sorted(rng.sample(range(files - 10), KILLS)):
        done, finished = run(db, folder, point, rng.uniform(0.0, 0.02))
        cut += not finished
        reported.update(done)
        check_library(db, folder, reported)
    assert cut >= KILLS // 2, f"seed {seed}: only {cut} runs were cut off"
    done, finished = run(db, folder)
    assert finished
    log = check_library(db, folder, reported | set(done))
    replica = storage.open_replica(db)
    try:
        assert len(replica.entities("note")) == PLAIN + NAMED, f"seed {seed}"
        assert len(replica.entities("event")) == CALENDARS * EVENTS, f"seed {seed}"
        assert len(replica.entities("calendar")) == CALENDARS, f"seed {seed}"
        room = [k for k, d in replica.entities("calendar").items() if d.value("bookable") is True]
        assert len(room) == 1
        booked = [replica.booking(f"cal0-ev{j}@test") for j in range(EVENTS)]
        assert all(b is not None and b.slot is not None for b in booked), f"seed {seed}"
    finally:
        replica.close()
    # Once more, start to finish: nothing new is written.
    assert run(db, folder, None)[1]
    assert check_library(db, folder, set()) == log
    assert time.monotonic() - started < 120
