"""Benchmark of calendar files: import, export and re-import of a large ``.ics``; one JSON line.

    python tests/perf/ics_roundtrip.py [--events 38000] [--small]

A calendar of ``--events`` events is written the way Google and Outlook write them (zoned
times, attendees, alarms, a weekly series every tenth event with an edited occurrence) and
imported into a new library file (``import_s``), the library is exported (``export_s``) and
that export imported into another new library (``reimport_s``): anything the app exports it
must import, whatever its size. ``ics_mb`` is the source file, ``export_mb`` the exported one,
``db_mb`` the library file after the import (checkpointed), ``db_per_ics`` their ratio.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from storage import create_library
from storage.files import export_library, import_files

ZONES = ("Europe/Berlin", "America/New_York", "Asia/Tokyo")


def calendar_text(count: int) -> str:
    """A calendar of ``count`` events (a tenth of them weekly series, each with an override)."""
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//Google Inc//Google Calendar 70.9054//EN"]
    lines += ["X-WR-CALNAME:Big", "X-WR-TIMEZONE:Europe/Berlin"]
    start = datetime(2020, 1, 6, 9, 0)
    for i in range(count):
        zone = ZONES[i % len(ZONES)]
        begin = start + timedelta(hours=7 * i)
        end = begin + timedelta(minutes=30 + 15 * (i % 4))
        uid = f"event-{i:06d}@example.com"
        lines += [
            "BEGIN:VEVENT",
            f"DTSTART;TZID={zone}:{begin:%Y%m%dT%H%M%S}",
            f"DTEND;TZID={zone}:{end:%Y%m%dT%H%M%S}",
            "DTSTAMP:20260101T000000Z",
            f"UID:{uid}",
            f"SUMMARY:Meeting {i}",
            f"LOCATION:Room {i % 50}",
            f"DESCRIPTION:Agenda for meeting {i}\\nNotes follow.",
            "ORGANIZER;CN=Pat Lee:mailto:pat@example.com",
            f"ATTENDEE;CN=Robin {i};PARTSTAT=ACCEPTED:mailto:robin{i}@example.com",
            "STATUS:CONFIRMED",
            "TRANSP:OPAQUE",
            "SEQUENCE:0",
        ]
        if i % 10 == 0:
            lines.append("RRULE:FREQ=WEEKLY;COUNT=20")
        lines += ["BEGIN:VALARM", "ACTION:DISPLAY", "DESCRIPTION:Reminder", "TRIGGER:-PT10M", "END:VALARM"]
        lines.append("END:VEVENT")
        if i % 10 == 0:
            moved = begin + timedelta(days=7)
            lines += [
                "BEGIN:VEVENT",
                f"RECURRENCE-ID;TZID={zone}:{moved:%Y%m%dT%H%M%S}",
                f"DTSTART;TZID={zone}:{moved + timedelta(hours=1):%Y%m%dT%H%M%S}",
                f"DTEND;TZID={zone}:{end + timedelta(days=7, hours=1):%Y%m%dT%H%M%S}",
                "DTSTAMP:20260101T000000Z",
                f"UID:{uid}",
                f"SUMMARY:Meeting {i} (moved)",
                "END:VEVENT",
            ]
    lines.append("END:VCALENDAR")
    return "\r\n".join(lines) + "\r\n"


def _db_mb(path: Path) -> float:
    db = sqlite3.connect(path)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    return path.stat().st_size / 1e6


def _import(db: Path, source: Path) -> tuple[float, int]:
    replica = create_library(db, "me")
    started = time.perf_counter()
    report = import_files(replica, [source])
    elapsed = time.perf_counter() - started
    assert report.ok, report.messages()[:3]
    events = len(report.events)
    replica.close()
    return elapsed, events


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=38_000)
    parser.add_argument("--small", action="store_true", help="500 events (a smoke run)")
    args = parser.parse_args()
    count = 500 if args.small else args.events
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        source = work / "big.ics"
        source.write_text(calendar_text(count), encoding="utf-8")
        import_s, written = _import(work / "first.db", source)
        from storage import open_replica

        replica = open_replica(work / "first.db")
        started = time.perf_counter()
        files = export_library(replica, work / "out")
        export_s = time.perf_counter() - started
        replica.close()
        [exported] = files
        reimport_s, rewritten = _import(work / "second.db", exported)
        assert rewritten == written, (rewritten, written)
        result = {
            "events": count,
            "entities": written,
            "ics_mb": round(source.stat().st_size / 1e6, 2),
            "import_s": round(import_s, 2),
            "export_s": round(export_s, 2),
            "export_mb": round(exported.stat().st_size / 1e6, 2),
            "reimport_s": round(reimport_s, 2),
            "db_mb": round(_db_mb(work / "first.db"), 2),
        }
        result["db_per_ics"] = round(result["db_mb"] / result["ics_mb"], 2)
        result["events_per_s_import"] = round(written / import_s)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
