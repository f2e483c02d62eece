"""Durability: reopening a replica file restores exactly the same state and log; a received batch
applies in one transaction (a refused or failed batch leaves no trace); the materialized tables
hold the winners of live entities and nothing of deleted ones.
"""

from __future__ import annotations

import random
from collections import Counter
from contextlib import closing
from typing import Any

import pytest

from localfirst import (
    CONFLICT,
    InvalidWrite,
    ManualClock,
    Notice,
    Put,
    Replica,
    Write,
    WriteId,
    encode_write,
)
from storage import DiskFull

from .conftest import Replicas, lift_cap, read_only, set_max_pages, state_of, table_rows

DEVICES = ["P", "A", "B"]


def sync(a: Replica, b: Replica) -> None:
    b.receive(a.batch_for(b.summary()))
    a.receive(b.batch_for(a.summary()))


# -- what the materialized tables must hold ------------------------------------------------------


def _int(value: Any) -> Any:
    return int(value) if isinstance(value, bool) else value


def expected_rows(replica: Replica) -> dict[str, dict[str, tuple[Any, ...]]]:
    """The rows each materialized table must hold: one per live entity, its winning values."""
    out: dict[str, dict[str, tuple[Any, ...]]] = {"notes": {}, "events": {}, "calendars": {}}
    for key, doc in replica.entities("note").items():
        v = doc.values()
        out["notes"][key] = (v.get("title"), _int(v.get("pinned")), v.get("modified"))
    for key, doc in replica.entities("event").items():
        v = doc.values()
        out["events"][key] = (
            v.get("calendar"),
            v.get("title"),
            v.get("start"),
            v.get("end"),
            _int(v.get("all_day")),
            v.get("tz"),
            v.get("rrule"),
        )
    for key, doc in replica.entities("calendar").items():
        v = doc.values()
        out["calendars"][key] = (v.get("name"), v.get("colour"), _int(v.get("bookable")))
    return out


def assert_materialized(files: Replicas, replica: Replica) -> None:
    path = files.store_of(replica).path
    for table, rows in expected_rows(replica).items():
        assert table_rows(path, table) == rows, table
    # Note bodies are text CRDTs; their current text sits in `texts`, read without decoding.
    with closing(read_only(path)) as conn:
        bodies = dict(conn.execute("SELECT id, text FROM texts WHERE field = 'body'").fetchall())
    for key in replica.entities("note"):
        assert bodies.get(key, "") == replica.text(key), key


# -- a random workload ---------------------------------------------------------------------------


class Workload:
    """Random user actions on three durable replicas, with syncs, commits and truncations."""

    def __init__(self, files: Replicas, seed: int) -> None:
        self.files = files
        self.rng = random.Random(seed)
        self.clocks = {d: ManualClock(0) for d in DEVICES}
        p = files.create("P", "P", members={"A": "laptop", "B": "phone"}, clock=self.clocks["P"])
        self.r: dict[str, Replica] = {"P": p}
        for d in DEVICES[1:]:
            self.r[d] = files.join(d, d, p.genesis(), self.clocks[d])
        self.counts: Counter[str] = Counter()
        self.serial = 0

    def _name(self, prefix: str) -> str:
        self.serial += 1
        return f"{prefix}{self.serial}"

    def _live(self, r: Replica, kind: str) -> list[str]:
        return sorted(r.entities(kind))

    def _tick(self, d: str) -> None:
        self.clocks[d].set(self.clocks[d].value + self.rng.randint(0, 3))

    def note_fields(self) -> dict[str, Any]:
        rng = self.rng
        fields: dict[str, Any] = {"title": f"note {rng.randint(0, 999)}"}
        if rng.random() < 0.7:
            fields["body"] = "body " * rng.randint(0, 50)
        if rng.random() < 0.5:
            fields["pinned"] = rng.random() < 0.5
        if rng.random() < 0.5:
            fields["tags"] = [f"tag{rng.randint(0, 5)}" for _ in range(rng.randint(0, 3))]
        if rng.random() < 0.5:
            fields["modified"] = rng.randint(0, 10**9)
        return fields

    def step(self) -> None:
        rng = self.rng
        d = rng.choice(DEVICES)
        r = self.r[d]
        self._tick(d)
        action = rng.choices(
            ["create", "edit", "delete", "calendar", "event", "book", "unbook", "sync", "commit", "truncate"],
            weights=[8, 8, 3, 1, 3, 5, 2, 6, 3, 1],
        )[0]
        notes, events = self._live(r, "note"), self._live(r, "event")
        calendars = self._live(r, "calendar")
        bookable = [c for c in calendars if r.values(c).get("bookable") is True]
        if action == "create":
            r.create("note", self.note_fields(), entity=self._name("n"))
        elif action == "edit" and notes:
            fields = self.note_fields()
            keep = rng.sample(sorted(fields), rng.randint(1, len(fields)))
            r.put("note", rng.choice(notes), {k: fields[k] for k in keep})
        elif action == "delete" and (notes or events):
            r.delete(rng.choice(notes + events))
        elif action == "calendar" or (action in ("event", "book") and not calendars):
            fields = {"name": f"cal {rng.randint(0, 99)}", "colour": rng.choice(["red", "#00ff00"])}
            r.create("calendar", {**fields, "bookable": rng.random() < 0.6}, entity=self._name("c"))
        elif action == "event":
            start = rng.randint(0, 50)
            r.create(
                "event",
                {
                    "calendar": rng.choice(calendars),
                    "title": f"event {start}",
                    "start": f"2024-05-{start % 28 + 1:02d}T10:00:00",
                    "end": None if rng.random() < 0.3 else f"2024-05-{start % 28 + 1:02d}T11:00:00",
                    "all_day": rng.random() < 0.2,
                    "tz": rng.choice([None, "Europe/Paris"]),
                    "rrule": rng.choice([None, "FREQ=WEEKLY;COUNT=3"]),
                    "reminders": [10],
                },
                entity=self._name("e"),
            )
        elif action == "book" and bookable:
            starts = [rng.randint(0, 12) for _ in range(rng.randint(1, 3))]
            slots = [(s, s + rng.randint(1, 3)) for s in starts]
            r.book(rng.choice(bookable), slots, {"title": f"booking by {d}"}, event=self._name("b"))
            self.counts["book"] += 1
        elif action == "unbook" and events:
            booked = [e for e in events if (bk := r.booking(e)) is not None and bk.slot is not None]
            if booked:
                r.delete(rng.choice(booked))
        elif action == "sync":
            a, b = rng.sample(DEVICES, 2)
            sync(self.r[a], self.r[b])
        elif action == "commit":
            self.counts["commit"] += self.r["P"].commit().commits
        elif action == "truncate":
            self.truncate()
        else:
            return
        self.counts[action] += 1

    def truncate(self) -> None:
        """Spread everything, then fold the committed prefix into the snapshot on some replicas."""
        self.r["P"].commit()
        for a, b in (("P", "A"), ("A", "B"), ("B", "P"), ("P", "A")):
            sync(self.r[a], self.r[b])
        for d in DEVICES:
            if self.rng.random() < 0.7:
                self.r[d].truncate()

    def reopen_all_and_compare(self) -> None:
        for d in DEVICES:
            before = state_of(self.r[d])
            assert_materialized(self.files, self.r[d])
            self.r[d] = self.files.reopen(self.r[d])
            assert state_of(self.r[d]) == before, d
            assert_materialized(self.files, self.r[d])
            assert self.files.store_of(self.r[d]).integrity_check() == "ok"

    def settle(self) -> None:
        """Anti-entropy until nothing moves, then commit and spread the commits."""
        self.r["P"].commit()
        for _ in range(2):
            for a, b in (("P", "A"), ("A", "B"), ("B", "P")):
                sync(self.r[a], self.r[b])


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_reopen_restores_exactly_the_same_state_and_log(replicas: Replicas, seed: int) -> None:
    w = Workload(replicas, seed)
    for round_ in range(8):
        for _ in range(40):
            w.step()
        if round_ % 2:
            w.settle()
        w.reopen_all_and_compare()
    w.settle()
    w.reopen_all_and_compare()
    # Converged: identical logs, vectors and documents everywhere, also after the reopen.
    states = [state_of(w.r[d]) for d in DEVICES]
    for key in ("vector", "csn", "docs", "conflicts", "bookings", "members"):
        assert states[0][key] == states[1][key] == states[2][key], key
    # Each replica truncated at its own point: the logs agree after the highest one.
    point = max(w.r[d].truncated_csn for d in DEVICES)
    logs = [[label for label in s["log"] if int(label.split(":")[0]) > point] for s in states]
    assert logs[0] == logs[1] == logs[2]
    assert len(logs[0]) == states[0]["csn"] - point
    # The workload did what the test claims to cover.
    assert w.counts["delete"] >= 3
    assert w.counts["book"] >= 3
    assert w.counts["truncate"] >= 1
    assert w.counts["commit"] >= 10
    assert any(w.r[d].truncated_csn > 0 for d in DEVICES)
    assert any(doc.exists is False for _, doc in w.r["P"]._store.iter_docs())


def test_notices_and_outcomes_survive_a_reopen(replicas: Replicas) -> None:
    """A booking whose committed outcome differs from its tentative one leaves a notice; the
    notice, the outcomes and the bookings read back identically from the file."""
    clocks = {"P": ManualClock(0), "A": ManualClock(0)}
    p = replicas.create("P", "P", members={"A": ""}, clock=clocks["P"])
    clocks["P"].set(10)
    p.create("calendar", {"name": "Room A", "bookable": True}, entity="room")
    a = replicas.join("A", "A", p.genesis(), clocks["A"])
    sync(p, a)
    clocks["A"].set(100)
    a.book("room", [(10, 11), (12, 13)], {"title": "A's meeting"}, event="ea")
    assert a.booking("ea").slot.start == 10  # type: ignore[union-attr]
    clocks["P"].set(200)
    p.book("room", [(10, 11)], {"title": "P's meeting"}, event="ep")
    assert p.commit().commits == 2  # the calendar and P's booking: P holds 10-11 for good
    p.receive(a.batch_for(p.summary()))  # A's earlier-stamped booking reaches P too late
    assert p.commit().commits == 1
    a.receive(p.batch_for(a.summary()))  # A learns all three commits at once
    a_write = WriteId(100, "A")
    for r in (p, a):
        assert r.booking("ep").slot.start == 10  # type: ignore[union-attr]
        assert r.booking("ea").slot.start == 12  # type: ignore[union-attr]
        assert r.outcome(a_write) == (1, True)
        assert r.log_labels() == ["1:10:P", "2:200:P", "3:100:A"]
    assert a.notices() == [Notice(a_write, 0, 1)]
    before = {r.device: state_of(r) for r in (p, a)}
    p, a = replicas.reopen(p), replicas.reopen(a)
    assert a.notices() == [Notice(a_write, 0, 1)]
    assert {r.device: state_of(r) for r in (p, a)} == before
    assert CONFLICT not in (a.outcome(a_write)[0], p.outcome(WriteId(200, "P"))[0])  # type: ignore[index]


# -- a batch applies in one transaction ----------------------------------------------------------


def two_replicas(files: Replicas) -> tuple[Replica, Replica]:
    p = files.create("P", "P", members={"A": ""}, clock=ManualClock(1))
    a = files.join("A", "A", p.genesis(), ManualClock(50))
    p.create("note", {"title": "P's own"}, entity="own")
    p.commit()
    sync(p, a)
    return p, a


def test_batch_whose_last_write_is_invalid_applies_nothing(replicas: Replicas) -> None:
    p, a = two_replicas(replicas)
    for i in range(10):
        a.create("note", {"title": f"t{i}"}, entity=f"n{i}")
    a.delete("n3")
    batch = a.batch_for(p.summary())
    assert len(batch.tentative) == 11
    bad = Write(WriteId(1000, "A"), (Put("note", "n9", {"colour": "red"}, {}),))
    batch.tentative.append(encode_write(bad))
    before = state_of(p)

    with pytest.raises(InvalidWrite, match="colour"):
        p.receive(batch)
    assert state_of(p) == before
    p = replicas.reopen(p)
    assert state_of(p) == before
    assert_materialized(replicas, p)

    batch.tentative.pop()
    p.receive(batch)
    assert p.log_labels() == ["1:1:P"] + [f"inf:{50 + i}:A" for i in range(11)]
    assert sorted(p.entities("note")) == ["n0", "n1", "n2", "n4", "n5", "n6", "n7", "n8", "n9", "own"]
    labels = p.log_labels()
    assert replicas.reopen(p).log_labels() == labels


def test_batch_whose_last_write_changes_an_entity_kind_applies_nothing(replicas: Replicas) -> None:
    """The kind clash is found while applying, still before the first store call."""
    p, a = two_replicas(replicas)
    a.create("note", {"title": "first"}, entity="n1")
    batch = a.batch_for(p.summary())
    clash = Write(WriteId(1000, "A"), (Put("event", "n1", {"title": "now an event"}, {}),))
    batch.tentative.append(encode_write(clash))
    before = state_of(p)
    with pytest.raises(InvalidWrite):
        p.receive(batch)
    assert state_of(p) == before
    assert state_of(replicas.reopen(p)) == before


def test_storage_failure_mid_batch_leaves_the_replica_before_the_batch(replicas: Replicas) -> None:
    p, a = two_replicas(replicas)
    for i in range(30):
        a.create("note", {"title": f"t{i}"}, entity=f"n{i}")
    for i in range(0, 30, 10):
        a.delete(f"n{i}")
    # Many edits of one note: its document stays small, the log rows carrying them do not, so
    # the batch's first statements (documents, materialized rows) fit and a later one fails.
    for i in range(150):
        a.put("note", "draft", {"title": f"draft {i}", "body": f"{i:04d}" * 300})
    p.create("note", {"title": "tentative at P"}, entity="mine")
    batch = a.batch_for(p.summary())
    before = state_of(p)
    store = replicas.store_of(p)
    with store._conn.begin():
        pages = int(store._conn.exec_driver_sql("PRAGMA page_count").scalar_one())
    set_max_pages(store, pages + 8)

    with pytest.raises(DiskFull):
        p.receive(batch)
    assert state_of(p) == before  # the in-memory view did not move on either
    lift_cap(store)
    p = replicas.reopen(p)
    assert state_of(p) == before
    assert_materialized(replicas, p)
    assert replicas.store_of(p).integrity_check() == "ok"

    # A retry of the very same batch succeeds.
    p.receive(batch)
    assert p.vector.as_dict() == {"P": 2, "A": 50 + 30 + 3 + 150 - 1}
    assert len(p.entities("note")) == 1 + 1 + 30 - 3 + 1
    assert p.values("draft") == {"title": "draft 149", "body": "0149" * 300}
    assert_materialized(replicas, p)
    after = state_of(p)
    assert state_of(replicas.reopen(p)) == after


# -- materialized tables -------------------------------------------------------------------------


def test_materialized_tables_hold_winners_of_live_entities(replicas: Replicas) -> None:
    clocks = {"P": ManualClock(0), "A": ManualClock(0)}
    p = replicas.create("P", "P", members={"A": ""}, clock=clocks["P"])
    a = replicas.join("A", "A", p.genesis(), clocks["A"])
    clocks["P"].set(1)
    p.create("calendar", {"name": "Work", "colour": "blue", "bookable": False}, entity="work")
    p.create("calendar", {"name": "Car", "colour": "red", "bookable": True}, entity="car")
    p.create(
        "event",
        {"calendar": "work", "title": "Standup", "start": "2024-01-01T09:00", "end": "2024-01-01T09:15"},
        entity="standup",
    )
    p.create("note", {"title": "Groceries", "body": "milk", "pinned": True, "modified": 5}, entity="n1")
    p.create("note", {"title": "Doomed"}, entity="n2")
    sync(p, a)
    # Concurrent edits: P writes later (higher stamp), so P's title wins; both are siblings.
    clocks["A"].set(10)
    a.put("note", "n1", {"title": "Shopping"})
    clocks["P"].set(20)
    p.put("note", "n1", {"title": "Groceries!", "pinned": False})
    p.delete("n2")
    p.book("car", [(100, 200)], {"title": "Drive"}, event="drive")
    a.delete("standup")
    sync(p, a)
    for r in (p, a):
        assert r.conflicts() == {"n1": ["title"]}
        assert r.values("n1")["title"] == "Groceries!"
        assert table_rows(replicas.store_of(r).path, "notes") == {"n1": ("Groceries!", 0, 5)}
        assert r.text("n1") == "milk"
        assert table_rows(replicas.store_of(r).path, "events") == {
            "drive": ("car", "Drive", None, None, None, None, None)
        }
        assert table_rows(replicas.store_of(r).path, "calendars") == {
            "work": ("Work", "blue", 0),
            "car": ("Car", "red", 1),
        }
        assert_materialized(replicas, r)
    # Deleting the booked event frees the slot and drops the row; a restore brings a row back.
    p.delete("drive")
    assert table_rows(replicas.store_of(p).path, "events") == {}
    freed = p.booking("drive")
    assert freed is not None
    assert freed.slot is None
    p.commit()
    p.truncate()
    p = replicas.reopen(p)
    assert table_rows(replicas.store_of(p).path, "events") == {}
    assert_materialized(replicas, p)
