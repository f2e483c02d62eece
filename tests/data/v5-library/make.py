"""How ``primary.sqlite`` and ``phone.sqlite`` here were written: by the release that wrote schema
version 5 (commit 9389bf2), so the migration tests open files the previous release really wrote.

    python tests/data/v5-library/make.py   # only meaningful on that commit

``expected.json`` records what each replica showed when written (every entity's values, note
bodies, the log, the state digest): a migrated file must show exactly the same.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[2]))

from localfirst import Replica, calendar, notes  # noqa: E402
from localfirst.recurrence import expand  # noqa: E402
from storage import SCHEMA_VERSION, create_library, join_library  # noqa: E402


class Ticking:
    """A deterministic clock: every reading one millisecond after the last."""

    def __init__(self, start: int) -> None:
        self._t = start

    def now(self) -> int:
        self._t += 1
        return self._t


def describe(r: Replica) -> dict[str, Any]:
    out: dict[str, Any] = {"csn": r.csn, "truncated_csn": r.truncated_csn, "digest": r.state_digest().hex()}
    out["entities"] = {}
    for kind in ("calendar", "event", "note", "device", "library"):
        for entity, doc in sorted(r.entities(kind).items()):
            out["entities"][entity] = {
                "kind": kind,
                "exists": doc.exists,
                "conflicted": doc.conflicted,
                "values": r.values(entity) if doc.exists else None,
            }
    out["log"] = r.log_labels()
    out["tentative"] = [f"{w.id.stamp}@{w.id.origin}" for w in r.tentative()]
    return out


def main() -> None:
    assert SCHEMA_VERSION == 5, "this fixture is written by the schema-5 release"
    for name in ("primary.sqlite", "phone.sqlite"):
        for suffix in ("", "-wal", "-shm"):
            Path(f"{HERE / name}{suffix}").unlink(missing_ok=True)
    p = create_library(
        HERE / "primary.sqlite",
        "a" * 64,
        device_name="Desk",
        name="Home",
        members={"b" * 64: "Phone"},
        clock=Ticking(1_790_000_000_000),
    )
    ph = join_library(HERE / "phone.sqlite", "b" * 64, p.genesis(), clock=Ticking(1_790_000_000_500))
    work = calendar.create_calendar(p, {"name": "Work", "colour": "#3584e4"}).entities[0]
    home = calendar.create_calendar(p, {"name": "Home", "colour": "#33d17a"}).entities[0]
    start = datetime(2026, 3, 2, 9, 0)
    events = []
    for i in range(12):
        fields = {
            "calendar": work if i % 2 else home,
            "title": f"Event {i}",
            "start": (start + timedelta(days=i)).isoformat(),
            "end": (start + timedelta(days=i, hours=1)).isoformat(),
            "tz": "Europe/Berlin",
            "location": "Room 3" if i % 3 else "",
            "reminders": [10],
        }
        events.append(calendar.create_event(p, fields).entities[0])
    series = calendar.create_event(
        p,
        {
            "calendar": work,
            "title": "Standup (weekly)",
            "start": start.isoformat(),
            "end": (start + timedelta(minutes=15)).isoformat(),
            "tz": "Europe/Berlin",
            "rrule": "FREQ=WEEKLY;COUNT=10",
            "exdates": [],
        },
    ).entities[0]
    first = start.replace(tzinfo=UTC)
    occs = expand(
        p.values(series), {}, first - timedelta(days=1), first + timedelta(days=60), series_id=series
    )
    calendar.move_event(
        p, occs[1], occs[1].start + timedelta(hours=2), occs[1].end + timedelta(hours=2), "this"
    )
    calendar.delete_event(p, occs[3], "this")
    body_notes = []
    for n in range(4):
        note = notes.create_note(p, {"title": f"Note {n}", "tags": ["work"] if n % 2 else ["home"]}).entities[
            0
        ]
        body_notes.append(note)
        for k in range(270 if n == 0 else 6):  # note 0 passes a compaction (saved state + ops)
            p.edit_text(note, [(len(p.text(note)), 0, f"line {k} of note {n}, typed.\n")])
        p.edit_text(note, [(0, 5, "")])  # a deletion, so the state holds a tombstone
    ph.receive(p.batch_for(ph.summary()))
    p.commit()
    ph.receive(p.batch_for(ph.summary()))
    # Concurrent edits: a sibling conflict on an event title, text typed on both sides.
    p.put("event", events[0], {"title": "Event 0 (desk)"})
    ph.put("event", events[0], {"title": "Event 0 (phone)"})
    ph.edit_text(body_notes[1], [(0, 0, "Phone was here. ")])
    p.edit_text(body_notes[1], [(len(p.text(body_notes[1])), 0, "Desk too.")])
    notes.delete_note(p, body_notes[3])
    p.receive(ph.batch_for(p.summary()))
    p.commit()
    ph.receive(p.batch_for(ph.summary()))
    p.truncate(p.csn - 5)  # a snapshot with rows in it, and committed writes after it
    # Tentative writes left on both: a moved event and some typing not yet committed.
    p.put("event", events[5], {"title": "Event 5 (renamed, tentative)"})
    ph.edit_text(body_notes[2], [(0, 0, "Draft: ")])
    expected = {"primary": describe(p), "phone": describe(ph)}
    (HERE / "expected.json").write_text(json.dumps(expected, indent=1, sort_keys=True, default=str) + "\n")
    for r in (p, ph):
        r.close()
    for name in ("primary.sqlite", "phone.sqlite"):  # one self-contained file each
        import sqlite3

        db = sqlite3.connect(HERE / name)
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        db.execute("PRAGMA journal_mode=DELETE")
        db.close()


if __name__ == "__main__":
    main()
