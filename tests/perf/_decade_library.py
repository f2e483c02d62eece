"""The ten-year library: a busy person's calendar and notes, written through the public core API.

Ten years hold 100,000 events (2,000 of them recurring series, each with a few exceptions: an
occurrence moved, one cancelled), 20 calendars, 10,000 notes averaging 2,000 characters typed in
bursts (``_decade_typing``), 1,000,000 writes through the log, and 3 member devices: this one
(the primary), a phone that adds some events and a laptop that writes some notes, both paired
over loopback TLS and sending their writes to the primary, which commits them. N years hold
N/10 of each (at least one of each kind). The log is truncated as a node does it, keeping the
last ``TRUNCATE_AFTER`` commits, whenever ``FOLD_EVERY`` more have gone by.

Time runs in chunks (about a week each): every entity is written in the chunk of its creation,
a note's bursts spread over the chunks after it, so the log interleaves as a real one does.
Each chunk is one transaction per device, then one commit on the primary.
"""

from __future__ import annotations

import asyncio
import random
import shutil
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from localfirst import Replica, calendar, notes, truncation
from localfirst.recurrence import expand
from storage import open_replica
from sync.const import LIBRARY_FILE, TRUNCATE_AFTER
from sync.library import load_identity, open_or_create
from tests.perf._decade_typing import Typist, load_runs
from tests.perf.sync_catchup import node, pair

#: Bumped whenever the generated library changes, so a cached one is never reused stale.
GENERATOR = 2
END = datetime(2027, 1, 1, tzinfo=UTC)
ZONE = "Europe/Berlin"
FOLD_EVERY = 50_000
WRITES_PER_CHUNK = 5_000
TITLES = (
    "Standup", "Dentist", "1:1 with Alex", "Team sync", "Yoga", "Lunch with Sam", "Flight",
    "Parents' evening", "Budget review", "Football", "Piano lesson", "Doctor", "Haircut",
    "Book club", "Sprint planning", "Retro", "Call the bank", "Concert", "Dinner", "Gym",
)  # fmt: skip
PLACES = ("Room 3", "Café Lindner", "Online", "Home", "Office", "Town hall", "Clinic")


@dataclass
class Plan:
    """How many of each thing N years hold."""

    years: float
    calendars: int
    events: int
    series: int
    notes: int
    writes: int
    event_edits: int = 0
    exceptions: int = 0
    note_bursts: int = 0

    @classmethod
    def for_years(cls, years: float) -> Plan:
        s = years / 10

        def n(x: float) -> int:
            return max(1, round(x * s))

        plan = cls(years, n(20), n(100_000), n(2_000), n(10_000), n(1_000_000))
        plan.event_edits = round(0.1 * (plan.events - plan.series))
        plan.exceptions = 2 * plan.series
        others = plan.calendars + plan.events + plan.event_edits + plan.exceptions + 2 * plan.notes
        plan.note_bursts = max(plan.notes, plan.writes - others)
        return plan


@dataclass
class Chunk:
    """What one chunk of time writes: indexes of things, made concrete when it runs."""

    events: list[int] = field(default_factory=list)
    series: list[int] = field(default_factory=list)
    event_edits: list[int] = field(default_factory=list)
    new_notes: list[int] = field(default_factory=list)
    bursts: list[tuple[int, int]] = field(default_factory=list)  # (note, how many of its bursts)
    note_edits: list[int] = field(default_factory=list)


class Writer:
    """Writes a plan's chunks into the primary and the two member replicas."""

    def __init__(self, plan: Plan, primary: Replica, phone: Replica, laptop: Replica, seed: int = 1) -> None:
        self.plan = plan
        self.primary, self.phone, self.laptop = primary, phone, laptop
        self.rng = random.Random(seed)
        runs, self.history = load_runs()
        self.typist = Typist(runs, seed)
        self.days = max(7, round(plan.years * 365))
        self.start = END - timedelta(days=self.days)
        self.calendars: list[str] = []
        self.events: dict[int, str] = {}
        self.notes: dict[int, str] = {}
        self.pending: dict[int, list[list[tuple[int, int, str]]]] = {}
        self.lengths: dict[int, int] = {}
        self.folds: list[float] = []

    # -- planning ------------------------------------------------------------------------------

    def chunks(self) -> list[Chunk]:
        """Spread the plan over about a week per chunk (at least one chunk per 5,000 writes)."""
        plan, rng = self.plan, self.rng
        count = max(1, min(self.days // 7, plan.writes // 500), plan.writes // WRITES_PER_CHUNK)
        out = [Chunk() for _ in range(count)]
        for i in range(plan.events - plan.series):
            out[i * count // max(1, plan.events - plan.series)].events.append(i)
        for i in range(plan.series):
            out[i * count // plan.series].series.append(i)
        singles = plan.events - plan.series
        for i in rng.sample(range(singles), min(singles, plan.event_edits)):
            at = i * count // max(1, singles)
            out[min(count - 1, at + rng.randint(0, 4))].event_edits.append(i)
        # Note lengths average 2,000 characters with a long tail (the largest a few times that).
        self.lengths = {n: max(40, round(rng.lognormvariate(7.25, 0.9))) for n in range(plan.notes)}
        total = sum(self.lengths.values())
        for n in range(plan.notes):
            at = n * count // plan.notes
            out[at].new_notes.append(n)
            bursts = max(1, round(plan.note_bursts * self.lengths[n] / total))
            span = rng.randint(1, 8)  # written over a few chunks
            for k in range(span):
                share = bursts // span + (1 if k < bursts % span else 0)
                if share:
                    out[min(count - 1, at + k)].bursts.append((n, share))
            out[min(count - 1, at + span + rng.randint(0, 20))].note_edits.append(n)
        return out

    # -- writing -------------------------------------------------------------------------------

    def when(self, i: int, total: int) -> datetime:
        day = self.start + timedelta(days=i * self.days // max(1, total))
        return day.replace(hour=8 + self.rng.randint(0, 10), minute=self.rng.choice((0, 15, 30, 45)))

    def event_fields(self, i: int, total: int) -> dict[str, Any]:
        rng = self.rng
        start = self.when(i, total)
        fields: dict[str, Any] = {
            "calendar": self.calendars[i % len(self.calendars)],
            "title": f"{rng.choice(TITLES)} {i}",
            "start": start.strftime("%Y-%m-%dT%H:%M:%S"),
            "end": (start + timedelta(minutes=rng.choice((30, 45, 60, 90)))).strftime("%Y-%m-%dT%H:%M:%S"),
            "tz": ZONE,
        }
        if rng.random() < 0.3:
            fields["location"] = rng.choice(PLACES)
        if rng.random() < 0.1:
            fields["description"] = self.typist._chunk(rng.randint(40, 400))
        if rng.random() < 0.2:
            fields["reminders"] = [10]
        return fields

    def device_for_event(self, i: int) -> Replica:
        return self.phone if i % 20 == 7 else self.primary

    def device_for_note(self, n: int) -> Replica:
        return self.laptop if n % 10 == 3 else self.primary

    def write_chunk(self, chunk: Chunk) -> None:
        plan = self.plan
        singles = plan.events - plan.series
        for i in chunk.events:
            edit = calendar.create_event(self.device_for_event(i), self.event_fields(i, singles))
            self.events[i] = edit.entities[0]
        for j in chunk.series:
            self.write_series(j)
        for i in chunk.event_edits:
            self.edit_event(i)
        for n in chunk.new_notes:
            self.new_note(n)
        for n, count in chunk.bursts:
            r = self.device_for_note(n)
            for burst in self.pending[n][:count]:
                r.edit_text(self.notes[n], burst)
            del self.pending[n][:count]
        for n in chunk.note_edits:
            tags = [self.rng.choice(("work", "home", "ideas", "travel", "reading"))]
            notes.set_fields(self.device_for_note(n), self.notes[n], {"tags": tags, "modified": n + 1})

    def write_series(self, j: int) -> None:
        rng = self.rng
        fields = self.event_fields(j * 50, self.plan.series * 50)
        fields["title"] = f"{rng.choice(TITLES)} (weekly) {j}"
        fields["rrule"] = f"FREQ=WEEKLY;COUNT={rng.randint(8, 60)}"
        series = calendar.create_event(self.primary, fields).entities[0]
        values = self.primary.values(series)
        first = datetime.fromisoformat(fields["start"]).replace(tzinfo=UTC)
        occs = expand(values, {}, first - timedelta(days=1), first + timedelta(days=8 * 7), series_id=series)
        moved, cancelled = occs[1], occs[3]
        later = moved.start + timedelta(hours=1)
        calendar.move_event(self.primary, moved, later, later + (moved.end - moved.start), "this")
        calendar.delete_event(self.primary, cancelled, "this")

    def edit_event(self, i: int) -> None:
        r = self.device_for_event(i)
        entity = self.events[i]
        if self.rng.random() < 0.5:
            r.put("event", entity, {"title": f"{r.values(entity).get('title')} (moved)"})
        else:
            r.put("event", entity, {"location": self.rng.choice(PLACES)})

    def new_note(self, n: int) -> None:
        r = self.device_for_note(n)
        stamp = int(self.when(n, self.plan.notes).timestamp())
        fields = {"title": f"Note {n}: {self.typist._chunk(24).strip()}", "created": stamp, "modified": stamp}
        self.notes[n] = notes.create_note(r, fields).entities[0]
        bursts = max(1, sum(c for m, c in self._burst_counts.get(n, ())))
        self.pending[n] = self.typist.bursts(self.lengths[n], bursts)

    # -- the run -------------------------------------------------------------------------------

    def run(self, progress: bool = False) -> None:
        plan = self.plan
        chunks = self.chunks()
        counts: dict[int, list[tuple[int, int]]] = defaultdict(list)
        for chunk in chunks:
            for n, c in chunk.bursts:
                counts[n].append((n, c))
        self._burst_counts = counts
        with self.primary.transaction():
            for c in range(plan.calendars):
                edit = calendar.create_calendar(self.primary, {"name": f"Calendar {c}", "colour": "#3366cc"})
                self.calendars.append(edit.entities[0])
        self.primary.commit()
        started = time.perf_counter()
        for k, chunk in enumerate(chunks):
            for r in (self.primary, self.phone, self.laptop):
                with r.transaction():
                    self.write_chunk_on(chunk, r)
            for member in (self.phone, self.laptop):
                self.primary.receive(member.batch_for(self.primary.summary()))
            self.primary.commit()
            self.maybe_fold(FOLD_EVERY)
            if progress and k % 20 == 0:
                print(
                    f"chunk {k}/{len(chunks)} csn {self.primary.csn} {time.perf_counter() - started:.0f}s",
                    flush=True,
                )

    def write_chunk_on(self, chunk: Chunk, r: Replica) -> None:
        """The part of a chunk device ``r`` writes (the rest waits for the other devices' turn)."""
        self.write_chunk(self._only(chunk, r))

    def _only(self, chunk: Chunk, r: Replica) -> Chunk:
        ev = self.device_for_event
        nd = self.device_for_note
        return Chunk(
            events=[i for i in chunk.events if ev(i) is r],
            series=chunk.series if r is self.primary else [],
            event_edits=[i for i in chunk.event_edits if ev(i) is r],
            new_notes=[n for n in chunk.new_notes if nd(n) is r],
            bursts=[(n, c) for n, c in chunk.bursts if nd(n) is r],
            note_edits=[n for n in chunk.note_edits if nd(n) is r],
        )

    def maybe_fold(self, every: int) -> None:
        """Truncate as a node does: keep the last TRUNCATE_AFTER commits, fold the rest.

        The fold asks ``devices_in(docs)`` once per folded write, a scan of every document: a
        fold costs folded writes x library size, hours for ten years' worth. Here the devices
        are known (the three members, there from the first commits, no write ever names
        another), so the fold is handed that set; the benchmark measures the real fold on its
        own (``fold_1k_s``).
        """
        r = self.primary
        if r.csn - r.truncated_csn >= every + TRUNCATE_AFTER:
            devices = set(r.entities("device"))
            names = vars(truncation)  # the fold's own reference to devices_in
            real = names["devices_in"]
            names["devices_in"] = lambda _docs: devices
            started = time.perf_counter()
            try:
                r.truncate(r.csn - TRUNCATE_AFTER)
            finally:
                names["devices_in"] = real
            self.folds.append(time.perf_counter() - started)


async def _pair_members(root: Path) -> None:
    primary = node(root / "primary", "primary")
    await primary.start()
    try:
        await pair(primary, root / "phone", "phone")
        await pair(primary, root / "laptop", "laptop")
    finally:
        await primary.stop()


def build(root: Path, years: float, *, progress: bool = False) -> dict[str, Any]:
    """Generate the library into ``root`` (primary/, phone/, laptop/ data folders)."""
    started = time.perf_counter()
    root.mkdir(parents=True, exist_ok=True)
    open_or_create(root / "primary", load_identity(root / "primary", "primary")).close()
    asyncio.run(_pair_members(root))
    primary = open_replica(root / "primary" / LIBRARY_FILE)
    phone = open_replica(root / "phone" / LIBRARY_FILE)
    laptop = open_replica(root / "laptop" / LIBRARY_FILE)
    try:
        plan = Plan.for_years(years)
        writer = Writer(plan, primary, phone, laptop)
        writer.run(progress)
        writer.maybe_fold(1)  # every member holds it all: the log keeps the last commits only
        largest = max(writer.lengths, key=lambda n: writer.lengths[n])
        info = {
            "years": years,
            "calendars": plan.calendars,
            "events": plan.events,
            "series": plan.series,
            "notes": plan.notes,
            "writes": primary.csn,
            "note_history": writer.history,
            "note_chars_mean": round(sum(len(primary.text(e)) for e in writer.notes.values()) / plan.notes),
            "largest_note": writer.notes[largest],
            "largest_note_chars": len(primary.text(writer.notes[largest])),
            "members": len(primary.members()),
            "log_kept": primary.csn - primary.truncated_csn,
            "folds": len(writer.folds),
            "last_fold_s": round(writer.folds[-1], 3) if writer.folds else None,
            "generate_s": round(time.perf_counter() - started, 1),
        }
    finally:
        for r in (primary, phone, laptop):
            r.close()
    return info


def cached(cache: Path, years: float, *, progress: bool = False) -> tuple[Path, dict[str, Any]]:
    """The library for ``years`` from the cache folder, generated once (atomically) if missing."""
    import json

    folder = cache / f"g{GENERATOR}-y{years:g}"
    info_file = folder / "info.json"
    if not info_file.exists():
        work = cache / f"g{GENERATOR}-y{years:g}.part"
        shutil.rmtree(work, ignore_errors=True)
        info = build(work, years, progress=progress)
        (work / "info.json").write_text(json.dumps(info))
        shutil.rmtree(folder, ignore_errors=True)
        work.rename(folder)
    return folder, json.loads(info_file.read_text())
