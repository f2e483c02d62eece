"""The notes' application services in memory: exact results, undo and redo of each, a deleted
note coming back with its body, conflicts resolved, and undo after a sync."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from localfirst import ManualClock, MemoryStore, Replica, UnknownEntity, notes
from localfirst.textfields import diff_edit

from .conftest import MakeCluster, sync_both


@pytest.fixture
def r() -> Replica:
    clock = ManualClock()
    clock.set(100)
    return Replica.new_library(MemoryStore(), "P", clock=clock)


def test_create_note_undo_redo(r):
    edit = notes.create_note(r, {"title": "Shopping"})
    [n] = edit.entities
    assert edit.label == "New note “Shopping”"
    assert r.values(n) == {"title": "Shopping", "created": 100, "modified": 100}
    notes.undo(r, edit)
    assert r.entities("note") == {}
    r.clock.set(200)
    notes.redo(r, edit)
    assert r.values(n) == {"title": "Shopping", "created": 100, "modified": 100}
    assert r.conflicts() == {}


def test_title_tags_and_pin_with_undo_of_each(r):
    [n] = notes.create_note(r, {"title": "Plan"}).entities
    rename = notes.set_title(r, n, "Plan B")
    tag = notes.set_tags(r, n, notes.parse_tags("work, #home work"))
    pin = notes.set_pinned(r, n, True)
    assert [rename.label, tag.label, pin.label] == ["Rename “Plan”", "Tag “Plan B”", "Pin “Plan B”"]
    assert r.values(n) == {
        "title": "Plan B",
        "tags": ["work", "home"],
        "pinned": True,
        "created": 100,
        "modified": 100,
    }
    r.clock.set(300)
    notes.undo(r, tag)  # out of order: only the tags go back (and the note was modified now)
    assert "tags" not in r.values(n)
    assert r.values(n)["modified"] == 300
    assert r.values(n)["title"] == "Plan B"
    assert r.values(n)["pinned"] is True
    notes.undo(r, pin)
    notes.undo(r, rename)
    assert r.values(n) == {"title": "Plan", "created": 100, "modified": 300}
    notes.redo(r, rename)
    assert r.values(n)["title"] == "Plan B"
    assert notes.set_pinned(r, n, False).label == "Unpin “Plan B”"


def test_unknown_note_is_one_clear_error(r):
    with pytest.raises(UnknownEntity, match="nope"):
        notes.set_title(r, "nope", "x")
    with pytest.raises(UnknownEntity, match="nope"):
        notes.delete_note(r, "nope")


def test_delete_and_undo_bring_the_note_back_with_its_body(r):
    [n] = notes.create_note(r).entities
    r.edit_text(n, [(0, 0, "milk\neggs")])
    edit = notes.delete_note(r, n)
    assert edit.label == "Delete “milk”"  # no title: the body's first line names it
    assert r.entities("note") == {}
    notes.undo(r, edit)
    assert r.values(n) == {"title": "", "created": 100, "modified": 100, "body": "milk\neggs"}
    assert r.conflicts() == {}
    notes.redo(r, edit)
    assert r.entities("note") == {}


def test_restore_a_deleted_note_from_the_log_with_its_body(r):
    [n] = notes.create_note(r, {"title": "Ideas", "tags": ["x"]}).entities
    r.edit_text(n, [(0, 0, "one")])
    r.delete(n)
    edit = notes.restore_note(r, n)
    assert edit.label == "Restore “Ideas”"
    assert r.values(n) == {"title": "Ideas", "tags": ["x"], "created": 100, "modified": 100, "body": "one"}
    notes.undo(r, edit)
    assert r.entities("note") == {}


def test_resolve_a_title_conflict_and_undo_it(mem_cluster: MakeCluster):
    lib = mem_cluster("P", "A")
    [n] = notes.create_note(lib.at("P", 1), {"title": "Plan"}).entities
    sync_both(lib["P"], lib["A"])
    notes.set_title(lib.at("P", 5), n, "Plan A")
    notes.set_title(lib.at("A", 5), n, "Plan B")
    sync_both(lib["P"], lib["A"])
    assert lib["P"].conflicts() == {n: ["title"]}
    winner = lib["P"].values(n)["title"]
    edit = notes.resolve_field(lib["A"], n, "title", "Plan A + B")
    sync_both(lib["P"], lib["A"])
    assert lib["P"].values(n)["title"] == "Plan A + B"
    assert lib["P"].conflicts() == {} == lib["A"].conflicts()
    notes.undo(lib["A"], edit)
    sync_both(lib["P"], lib["A"])
    assert lib["P"].values(n)["title"] == lib["A"].values(n)["title"] == winner  # the one shown before


def test_keep_a_note_deleted_while_edited_elsewhere(mem_cluster: MakeCluster):
    lib = mem_cluster("P", "A")
    [n] = notes.create_note(lib.at("P", 1), {"title": "Keep me"}).entities
    lib["P"].edit_text(n, [(0, 0, "text")])
    sync_both(lib["P"], lib["A"])
    notes.delete_note(lib.at("P", 5), n)
    notes.set_title(lib.at("A", 5), n, "Edited on A")
    sync_both(lib["P"], lib["A"])
    edit = notes.resolve_deleted(lib["P"], n, keep=True)
    assert edit.label == "Keep “Edited on A”"
    sync_both(lib["P"], lib["A"])
    for d in ("P", "A"):
        assert lib[d].values(n)["title"] == "Edited on A"
        assert lib[d].values(n)["body"] == "text"
        assert lib[d].conflicts() == {}, d


def test_undo_after_sync_keeps_the_peers_typing(mem_cluster: MakeCluster):
    lib = mem_cluster("P", "A", "B")
    a, b = lib["A"], lib["B"]
    [n] = notes.create_note(lib.at("A", 1), {"title": "Draft"}).entities
    sync_both(a, b)
    rename = notes.set_title(lib.at("A", 3), n, "Final")
    sync_both(a, b)
    lib.at("B", 6).edit_text(n, [(0, 0, "typed on B")])
    notes.set_pinned(b, n, True)
    notes.undo(lib.at("A", 6), rename)
    sync_both(a, b)
    for replica in (a, b):
        values = replica.values(n)
        assert values["title"] == "Draft"
        assert values["pinned"] is True
        assert values["body"] == "typed on B"
        assert replica.conflicts() == {}


@pytest.mark.parametrize(
    ("typed", "tags"),
    [
        ("work, #home ideas", ["work", "home", "ideas"]),
        ("a a #a", ["a"]),
        ("  ", []),
        ("#" + "x" * 300, ["x" * 200]),
    ],
)
def test_parse_tags(typed, tags):
    assert notes.parse_tags(typed) == tags


# -- the one text diff --------------------------------------------------------------------------

TEXT = st.text(alphabet=st.sampled_from("ab \n\u00e9\U0001f600"), max_size=30)


@given(TEXT, TEXT)
def test_diff_edit_turns_old_into_new_keeping_the_longest_common_ends(old, new):
    edit = diff_edit(old, new)
    if old == new:
        assert edit is None
        return
    assert edit is not None
    pos, deleted, inserted = edit
    assert old[:pos] + inserted + old[pos + deleted :] == new
    end = len(old) - pos - deleted
    assert pos == _shared(old, new)
    assert end == min(_shared(old[pos:][::-1], new[pos:][::-1]), len(old) - pos)


def _shared(a: str, b: str) -> int:
    """Characters a and b share at their start (counted one by one: the plain way)."""
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return n
