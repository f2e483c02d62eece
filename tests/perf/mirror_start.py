"""Benchmark of starting the mirror folder; prints one JSON line of figures.

    python tests/perf/mirror_start.py [--events 38000] [--calendars 4] [--notes 200]

Builds a library of that many events (spread over the calendars) and notes, mirrors it once
(every file written), then measures ``Mirror.start()`` again with nothing changed since (the
incremental start: no file read or written), and once more after one event changed (only its
calendar's file is rendered and written).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from localfirst import Replica
from storage import create_library
from sync.mirror import Mirror


def build(replica: Replica, events: int, calendars: int, notes: int) -> list[str]:
    cals = [replica.create("calendar", {"name": f"Calendar {c}"}) for c in range(calendars)]
    with replica.transaction():
        for i in range(events):
            day = 1 + i % 28
            fields = {
                "calendar": cals[i % calendars],
                "title": f"Meeting {i}",
                "start": f"2026-{1 + i % 12:02d}-{day:02d}T10:00:00",
                "end": f"2026-{1 + i % 12:02d}-{day:02d}T11:00:00",
                "tz": "Europe/Berlin",
                "all_day": False,
            }
            replica.put("event", f"ev{i}", fields)
        for n in range(notes):
            replica.put("note", f"note{n}", {"title": f"Note {n}", "body": f"body of note {n}\n" * 5})
    return cals


def timed_start(pool: ThreadPoolExecutor, replica: Replica, folder: Path) -> float:
    def access(fn: Any) -> Any:
        return pool.submit(fn, replica)

    mirror = Mirror(access, folder)
    began = time.perf_counter()
    mirror.start()
    took = time.perf_counter() - began
    errors = mirror.errors
    mirror.stop()
    assert errors == [], errors
    return took


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=38_000)
    parser.add_argument("--calendars", type=int, default=4)
    parser.add_argument("--notes", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, ThreadPoolExecutor(1) as pool:
        root = Path(tmp)
        replica = pool.submit(create_library, root / "lib.db", "A").result()
        began = time.perf_counter()
        pool.submit(build, replica, args.events, args.calendars, args.notes).result()
        build_s = time.perf_counter() - began
        folder = root / "mirror"
        first = timed_start(pool, replica, folder)
        files = sorted(p.name for p in folder.iterdir() if not p.name.startswith("."))
        stamps = {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}
        unchanged = timed_start(pool, replica, folder)
        rewritten = [p.name for p in folder.iterdir() if stamps.get(p.name) != p.stat().st_mtime_ns]
        assert [n for n in rewritten if not n.startswith(".")] == [], rewritten
        pool.submit(lambda: replica.put("event", "ev0", {"title": "changed"})).result()
        one_changed = timed_start(pool, replica, folder)
        assert "SUMMARY:changed" in (folder / "Calendar 0.ics").read_text(encoding="utf-8")
        pool.submit(replica.close).result()
    print(
        json.dumps(
            {
                "events": args.events,
                "calendars": args.calendars,
                "notes": args.notes,
                "files": len(files),
                "build_s": round(build_s, 3),
                "first_start_s": round(first, 3),
                "unchanged_start_s": round(unchanged, 3),
                "one_event_changed_start_s": round(one_changed, 3),
            }
        )
    )


if __name__ == "__main__":
    main()
