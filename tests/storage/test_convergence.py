"""Property: replicas on real SQLite files converge to identical logs and state, whatever the
writes, partitions, clocks, commits and truncations, once anti-entropy has run everywhere."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from localfirst import BOOK, DELETED, RELEASE, ManualClock, Replica, WriteId
from storage import SqlStore, open_replica

DEVICES = ["P", "A", "B", "C", "D"]
NOTES = ["n1", "n2", "n3"]
EVENTS = ["e1", "e2", "e3"]
CALENDARS = ["c1", "c2"]
ROOM = "room"
INTERVALS = [(10, 20), (15, 25), (20, 30), (30, 40)]
KINDS = ("note", "event", "calendar", "device", "library")
ALL_IDS = [*NOTES, *EVENTS, *CALENDARS, ROOM]

who = st.integers(0, len(DEVICES) - 1)
clock = st.integers(0, 40)
text = st.sampled_from(["a", "b", "c", "d"])

put_step = st.one_of(
    st.tuples(st.just("note"), who, clock, st.sampled_from(NOTES), st.sampled_from(["title", "body"]), text),
    st.tuples(st.just("note"), who, clock, st.sampled_from(NOTES), st.just("pinned"), st.booleans()),
    st.tuples(
        st.just("event"), who, clock, st.sampled_from(EVENTS), st.sampled_from(["title", "location"]), text
    ),
    st.tuples(
        st.just("calendar"), who, clock, st.sampled_from(CALENDARS), st.sampled_from(["name", "colour"]), text
    ),
    st.tuples(st.just("calendar"), who, clock, st.just(ROOM), st.just("name"), text),
)
delete_step = st.tuples(st.just("delete"), who, clock, st.sampled_from([*NOTES, *EVENTS, *CALENDARS]))
restore_step = st.tuples(st.just("restore"), who, clock, st.sampled_from([*NOTES, *EVENTS, *CALENDARS]))
book_step = st.tuples(
    st.just("book"),
    who,
    clock,
    st.sampled_from(EVENTS),
    st.lists(st.sampled_from(INTERVALS), min_size=1, max_size=3),
)
#: Each kind of step and how often (in 31) it is drawn: anti-entropy and bookings often,
#: hand-overs and partitions now and then.
STEPS: dict[str, tuple[int, st.SearchStrategy[tuple[Any, ...]]]] = {
    "put": (6, put_step),
    "delete": (2, delete_step),
    "restore": (1, restore_step),
    "book": (5, book_step),
    "set_primary": (1, st.tuples(st.just("set_primary"), who, clock, who)),
    "sync": (7, st.tuples(st.just("sync"), who, who)),
    "gossip": (2, st.tuples(st.just("gossip"), who)),
    "partition": (1, st.tuples(st.just("partition"), st.lists(st.integers(0, 1), min_size=5, max_size=5))),
    "commit": (3, st.tuples(st.just("commit"))),
    "truncate": (3, st.tuples(st.just("truncate"), who, st.floats(0, 1))),
}
step = st.sampled_from([name for name, (weight, _) in STEPS.items() for _ in range(weight)]).flatmap(
    lambda name: STEPS[name][1]
)


class Library:
    """Replicas of one library in SQLite files in a throwaway directory."""

    def __init__(self, root: Path, size: int) -> None:
        self.root = root
        self.stores: list[SqlStore] = []
        self.clocks = [ManualClock() for _ in range(size)]
        names = DEVICES[:size]
        self.paths = [root / f"{name}.sqlite" for name in names]
        primary = Replica.new_library(
            self._store(0), names[0], members=dict.fromkeys(names[1:], ""), clock=self.clocks[0]
        )
        genesis = primary.genesis()
        self.replicas = [primary] + [
            Replica.join(self._store(i), names[i], genesis, self.clocks[i]) for i in range(1, size)
        ]
        self.groups = [0] * size
        self.snapshots = 0

    def _store(self, i: int) -> SqlStore:
        store = SqlStore(self.paths[i], create=True)
        self.stores.append(store)
        return store

    def close(self) -> None:
        for store in self.stores:
            store.close()

    def sync(self, i: int, j: int) -> bool:
        """One-directional anti-entropy from i to j; whether anything changed."""
        src, dst = self.replicas[i], self.replicas[j]
        changes = dst.receive(src.batch_for(dst.summary()))
        self.snapshots += changes.snapshot
        return bool(changes)

    def sync_all(self) -> None:
        for _ in range(8):
            changed = False
            for i in range(len(self.replicas)):
                for j in range(len(self.replicas)):
                    if i != j:
                        changed |= self.sync(i, j)
            if not changed:
                return
        raise AssertionError("anti-entropy did not quiesce")

    def commit(self) -> None:
        for r in self.replicas:
            if r.primary == r.device:
                r.commit()


@contextmanager
def library(size: int) -> Iterator[Library]:
    with tempfile.TemporaryDirectory() as tmp:
        lib = Library(Path(tmp), size)
        try:
            yield lib
        finally:
            lib.close()


def run(lib: Library, steps: list[tuple[Any, ...]]) -> None:
    n = len(lib.replicas)
    for s in steps:
        kind = s[0]
        if kind == "sync":
            i, j = s[1] % n, s[2] % n
            if i != j and lib.groups[i] == lib.groups[j]:
                lib.sync(i, j)
        elif kind == "gossip":
            i = s[1] % n
            for j in range(n):
                if i != j and lib.groups[i] == lib.groups[j]:
                    lib.sync(i, j)
        elif kind == "partition":
            lib.groups = list(s[1][:n])
        elif kind == "commit":
            lib.commit()
        elif kind == "truncate":
            r = lib.replicas[s[1] % n]
            if r.csn > r.truncated_csn:
                r.truncate(r.truncated_csn + 1 + int(s[2] * (r.csn - r.truncated_csn - 1)))
        else:
            i = s[1] % n
            r = lib.replicas[i]
            lib.clocks[i].set(s[2])
            write(r, s)


def write(r: Replica, s: tuple[Any, ...]) -> None:
    kind = s[0]
    if kind in ("note", "event", "calendar"):
        _, _, _, entity, field, value = s
        r.put(kind, entity, {field: value})
    elif kind == "delete":
        doc = r.get(s[3])
        if doc is not None and doc.exists:
            r.delete(s[3])
    elif kind == "restore":
        doc = r.get(s[3])
        if doc is not None and DELETED in doc.fields:
            r.restore(s[3])
    elif kind == "book":
        room = r.get(ROOM)
        if room is not None and room.exists:
            r.book(ROOM, s[4], {"title": "booked"}, event=s[3])
    elif kind == "set_primary":
        r.set_primary(DEVICES[s[3] % len(r.members())])


def view(r: Replica, after: int) -> dict[str, Any]:
    """What must be identical on every replica after full anti-entropy."""
    return {
        "log": [e.label for e in r.log() if e.csn is None or e.csn > after],
        "vector": r.vector.as_dict(),
        "csn": r.csn,
        "primary": r.primary,
        "conflicts": r.conflicts(),
        "entities": {kind: {k: d.fields for k, d in r.entities(kind).items()} for kind in KINDS},
        "docs": {k: r.get(k) for k in ALL_IDS},
        "bookings": {e: r.booking(e) for e in EVENTS},
        "members": r.members(),
    }


def check_bookings(r: Replica, after: int) -> None:
    """Booked slots never overlap, are committed, and match the latest committed booking."""
    shown = [(e, b) for e in EVENTS if (b := r.booking(e)) is not None and b.slot is not None]
    slots = [(e, b.slot) for e, b in shown if b.slot is not None]
    assert all(b.tentative is False for _, b in shown)
    for e, slot in slots:
        for f, other in slots:
            assert e == f or not other.overlaps(slot.start, slot.end), (e, f)
    latest: dict[str, tuple[WriteId, str, list[list[int]]]] = {}
    for entry in r.log():
        assert entry.csn is not None, "everything is committed"
        op = entry.write.ordered
        if op is not None and op.procedure in (BOOK, RELEASE):
            latest[op.params["event"]] = (entry.write.id, op.procedure, op.params.get("slots", []))
    for booked, (wid, procedure, candidates) in latest.items():
        if procedure != BOOK:
            continue
        outcome = r.outcome(wid)
        assert outcome is not None
        assert outcome[1] is True
        doc = r.get(booked)
        booking = r.booking(booked)
        assert booking is not None
        if outcome[0] >= 0 and doc is not None and doc.value("calendar") == ROOM:
            start, end = candidates[outcome[0]]
            assert booking.slot is not None
            assert (booking.slot.start, booking.slot.end, booking.slot.by) == (start, end, wid)


def outcomes(r: Replica, after: int) -> dict[WriteId, tuple[int, bool] | None]:
    return {e.write.id: r.outcome(e.write.id) for e in r.log() if e.write.ordered and e.csn and e.csn > after}


@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(size=st.integers(3, 5), steps=st.lists(step, min_size=10, max_size=50))
def test_replicas_converge(size, steps):
    with library(size) as lib:
        p = lib.replicas[0]
        lib.clocks[0].set(1)
        p.put("calendar", ROOM, {"name": "Room", "bookable": True})
        p.commit()
        for j in range(1, size):
            lib.sync(0, j)

        run(lib, steps)

        lib.groups = [0] * size
        lib.sync_all()
        lib.commit()
        lib.sync_all()

        after = max(r.truncated_csn for r in lib.replicas)
        first = view(lib.replicas[0], after)
        assert not any(label.startswith("inf") for label in first["log"])
        event(f"snapshots received: {min(lib.snapshots, 3)}")
        event(f"primary moved: {first['primary'] != 'P'}")
        event(f"notices: {any(r.notices() for r in lib.replicas)}")
        event(
            f"booked events: {sum(b is not None and b.slot is not None for b in first['bookings'].values())}"
        )
        event(f"conflicts: {bool(first['conflicts'])}")
        for r in lib.replicas:
            assert r.tentative() == []
            assert view(r, after) == first, r.device
            check_bookings(r, after)
            assert outcomes(r, after) == outcomes(lib.replicas[0], after)
            assert all(o is not None and o[1] for o in outcomes(r, after).values())

        last = lib.replicas[-1]
        again = open_replica(lib.paths[-1])
        try:
            assert isinstance(again._store, SqlStore)
            assert view(again, after) == view(last, after)
            assert again.truncated_csn == last.truncated_csn
            assert again.log_labels() == last.log_labels()
            assert again.notices() == last.notices()
        finally:
            store = again._store
            assert isinstance(store, SqlStore)
            store.close()
