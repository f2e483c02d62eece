"""Issue 12 on the SQLite store: set fields migrate forward on open (schema 4), a re-imported
deleted note asks nothing, and typing concurrent with a delete survives a reopen."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import msgpack

from localfirst import DELETED, ManualClock, notes
from localfirst.crdtmap import decode_doc
from storage.files import import_files
from storage.schema import SCHEMA_VERSION, SNAPSHOT_DOCS

from .conftest import Replicas, read_only


def old_doc(kind: str, fields: dict[str, list[list[object]]]) -> bytes:
    """A document as schema 3 stored it: a set field was a register of whole lists."""
    data: bytes = msgpack.packb((kind, fields))
    return data


def test_existing_libraries_migrate_their_list_registers_to_sets(replicas: Replicas) -> None:
    """Defect 7 on open: today's list registers become sets, their siblings' elements united,
    and the conflict they raised is gone (the conflict flag is recomputed)."""
    clock = ManualClock(1)
    r = replicas.create("lib", "P", members={"A": "", "B": ""}, clock=clock)
    r.put("note", "n", {"title": "t", "tags": ["x"]})
    r.put("event", "e", {"title": "Standup", "reminders": [5]})
    a = replicas.join("a", "A", r.genesis(), ManualClock(5))
    a.put("note", "other", {"title": "same"})
    b = replicas.join("b", "B", r.genesis(), ManualClock(6))
    b.put("note", "other", {"title": "same"})
    clock.set(5)
    r.put("note", "other", {"title": "same"})
    r.receive(a.batch_for(r.summary()))
    r.receive(b.batch_for(r.summary()))
    replicas.close(r)
    path = replicas.path("lib")
    # What schema 3 kept after concurrent tag and reminder writes of P, A and B.
    siblings = {
        "title": [[1, "P", "t"]],
        "tags": [[5, "P", ["x", "home"]], [5, "A", ["x", "work"]]],
    }
    event = {"title": [[2, "P", "Standup"]], "reminders": [[6, "B", [10]], [5, "A", [5, 60]]]}
    with closing(sqlite3.connect(path, isolation_level=None)) as conn:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("UPDATE docs SET doc = ?, conflicted = 1 WHERE id = 'n'", (old_doc("note", siblings),))
        conn.execute("UPDATE docs SET doc = ?, conflicted = 1 WHERE id = 'e'", (old_doc("event", event),))
        conn.execute("INSERT INTO snapshot_docs (id, doc) VALUES ('n', ?)", (old_doc("note", siblings),))
        conn.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (b"3",))
        conn.execute("COMMIT")

    r = replicas.open("lib", clock)
    with closing(read_only(path)) as conn:
        version = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0]
        flags = dict(conn.execute("SELECT id, conflicted FROM docs WHERE id IN ('n', 'e')").fetchall())
        stored = conn.execute(f"SELECT doc FROM ({SNAPSHOT_DOCS}) WHERE id = 'n'").fetchone()[0]
    assert version == str(SCHEMA_VERSION).encode()
    assert flags == {"n": 0, "e": 0}
    assert r.conflicts() == {}
    assert r.values("n") == {"title": "t", "tags": ["x", "work", "home"]}
    assert r.values("e") == {"title": "Standup", "reminders": [5, 60, 10]}
    assert r.genesis().docs["n"].value("tags") == ["x", "work", "home"]
    assert decode_doc(stored).fields["tags"][0] == (5, "A", None)  # rewritten in the set form
    # The migrated sets take set writes: a removal removes what was seen, both siblings' x.
    notes.set_tags(r, "n", ["work", "home", "new"])
    r = replicas.reopen(r)
    assert r.values("n")["tags"] == ["work", "home", "new"]
    assert replicas.store_of(r).integrity_check() == "ok"


def test_reimporting_a_deleted_notes_file_asks_nothing(replicas: Replicas, tmp_path: Path) -> None:
    """Defect 3 as users meet it: delete a note, re-import its ``.md``: no Keep/Delete prompt."""
    r = replicas.create("lib", "P", clock=ManualClock(1))
    md = tmp_path / "plan.md"
    md.write_text('---\nid: "plan-1"\ntitle: "Plan"\ntags: [a, b]\n---\nstep one\n', encoding="utf-8")
    assert import_files(r, [md]).ok
    notes.delete_note(r, "plan-1")
    report = import_files(r, [md])
    assert report.ok, report.messages()
    assert r.conflicts() == {}
    assert r.values("plan-1")["title"] == "Plan"
    assert r.values("plan-1")["tags"] == ["a", "b"]
    assert r.text("plan-1") == "step one\n"
    r = replicas.reopen(r)
    assert r.conflicts() == {}


def test_typing_concurrent_with_a_delete_stays_surfaced_after_a_reopen(replicas: Replicas) -> None:
    """Defect 1 on files: the record of typing is durable with the document."""
    p = replicas.create("p", "P", members={"A": ""}, clock=ManualClock(1))
    p.put("note", "n", {"title": "t", "body": "x"})
    a = replicas.join("a", "A", p.genesis(), ManualClock(1))
    a.receive(p.batch_for(a.summary()))
    a.clock.set(5)  # type: ignore[attr-defined]
    a.edit_text("n", [(1, 0, "y")])
    p.clock.set(9)  # type: ignore[attr-defined]
    p.delete("n")
    p.receive(a.batch_for(p.summary()))
    a.receive(p.batch_for(a.summary()))
    p, a = replicas.reopen(p), replicas.reopen(a)
    for r in (p, a):
        assert r.conflicts() == {"n": [DELETED]}
        assert r.text("n") == "xy"
    notes.restore_note(a, "n")
    p.receive(a.batch_for(p.summary()))
    for r in (p, a):
        assert r.conflicts() == {}
        assert r.values("n") == {"title": "t", "body": "xy"}
