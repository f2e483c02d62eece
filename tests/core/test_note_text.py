"""Note bodies as text CRDTs inside the Bayou log: edits are writes, merges never interleave."""

from __future__ import annotations

import msgpack
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from localfirst import (
    Batch,
    InvalidWrite,
    ManualClock,
    MemoryStore,
    Replica,
    TextEdit,
    Write,
    WriteFormatError,
    WriteId,
    encode_write,
)
from localfirst.textfields import BATCH_OVERHEAD, COMPACT_AFTER, COMPACT_MIN_BYTES, diff_edit


def sync(a: Replica, b: Replica) -> None:
    b.receive(a.batch_for(b.summary()))
    a.receive(b.batch_for(a.summary()))


def cluster(*names: str) -> list[Replica]:
    first, *rest = names
    p = Replica.new_library(MemoryStore(), first, members={n: n for n in rest}, clock=ManualClock(1))
    return [p, *(Replica.join(MemoryStore(), n, p.genesis(), ManualClock(1)) for n in rest)]


def test_concurrent_words_at_one_place_stay_whole():
    p, a = cluster("P", "A")
    p.create("note", {"title": "t", "body": "Say: !"}, entity="n")
    sync(p, a)
    p.edit_text("n", [(5, 0, "hello ")])
    a.edit_text("n", [(5, 0, "world ")])
    sync(p, a)
    assert p.text("n") == a.text("n")
    assert p.text("n") in ("Say: hello world !", "Say: world hello !")


def test_a_burst_of_keystrokes_is_one_write():
    (p,) = cluster("P")
    p.create("note", {"title": "t"}, entity="n")
    before = len(p.log())
    p.edit_text("n", [(0, 0, "a"), (1, 0, "b"), (2, 0, "c"), (1, 1, "")])
    assert p.text("n") == "ac"
    assert len(p.log()) == before + 1


def test_putting_a_body_becomes_the_smallest_edit_and_merges():
    p, a = cluster("P", "A")
    p.create("note", {"title": "t", "body": "one two three"}, entity="n")
    sync(p, a)
    p.put("note", "n", {"body": "one 2 three"})
    a.edit_text("n", [(13, 0, " four")])
    sync(p, a)
    assert p.text("n") == a.text("n") == "one 2 three four"
    assert p.put("note", "n", {"body": "one 2 three four"}) is None


def test_diff_edit_keeps_common_prefix_and_suffix():
    assert diff_edit("abcdef", "abXYef") == (2, 2, "XY")
    assert diff_edit("aaa", "aaaa") == (3, 0, "a")
    assert diff_edit("same", "same") is None
    assert diff_edit("", "new") == (0, 0, "new")


def test_edit_outside_the_text_is_refused_and_changes_nothing():
    (p,) = cluster("P")
    p.create("note", {"title": "t", "body": "abc"}, entity="n")
    labels = p.log_labels()
    with pytest.raises(InvalidWrite):
        p.edit_text("n", [(1, 0, "x"), (10, 0, "y")])
    assert p.text("n") == "abc"
    assert p.log_labels() == labels


def test_text_edit_of_a_register_field_is_refused():
    (p,) = cluster("P")
    p.create("note", {"title": "t"}, entity="n")
    with pytest.raises(InvalidWrite):
        p.edit_text("n", [(0, 0, "x")], field="title")


def test_garbage_text_ops_from_a_peer_are_refused_whole():
    p, a = cluster("P", "A")
    p.create("note", {"title": "t", "body": "abc"}, entity="n")
    good = a.batch_for(p.summary())
    sync(p, a)
    bad = Write(WriteId(50, "A"), (TextEdit("note", "n", "body", b"\x01garbage"),))
    before = (p.log_labels(), p.text("n"), p.vector)
    with pytest.raises(WriteFormatError):
        p.receive(Batch(tentative=[*good.tentative, encode_write(bad)]))
    assert (p.log_labels(), p.text("n"), p.vector) == before


def test_text_ops_naming_characters_never_sent_are_refused():
    p, a = cluster("P", "A")
    p.create("note", {"title": "t", "body": "abc"}, entity="n")
    sync(p, a)
    # An insert after a character id nobody ever made: a hostile or broken peer.
    ops = msgpack.packb([1, ["Z"], [[0, 0, 999, 0, 999, 1, "x"]]])
    bad = Write(WriteId(60, "A"), (TextEdit("note", "n", "body", ops),))
    with pytest.raises((InvalidWrite, WriteFormatError)):
        p.receive(Batch(tentative=[encode_write(bad)]))
    assert p.text("n") == "abc"


def test_snapshot_catch_up_carries_bodies():
    p, a, b = cluster("P", "A", "B")
    p.create("note", {"title": "t", "body": "committed text"}, entity="n")
    sync(p, a)
    a.edit_text("n", [(0, 0, "A: ")])
    sync(a, p)
    p.commit()
    p.truncate()
    b.receive(p.batch_for(b.summary()))
    assert b.truncated_csn == p.csn
    assert b.text("n") == p.text("n") == "A: committed text"
    b.edit_text("n", [(len(b.text("n")), 0, "!")])
    sync(b, p)
    assert p.text("n") == "A: committed text!"


def _stored_ops(path, key=("n", "body")):
    from storage import SqlStore

    with SqlStore(path) as store:
        state, batches = store.load_texts([key])[key]
    return state, batches


def _ops_weight(batches):
    return sum(len(b) + BATCH_OVERHEAD for b in batches)


def test_bodies_survive_reopen_and_compaction(tmp_path):
    from storage import create_library, open_replica

    path = tmp_path / "r.db"
    r = create_library(path, "P")
    r.create("note", {"title": "t"}, entity="n")
    for i in range(COMPACT_AFTER + 10):
        r.edit_text("n", [(i, 0, "x")])
    expected = r.text("n")
    r.close()
    state, batches = _stored_ops(path)
    assert state is not None
    assert 0 < len(batches) < COMPACT_AFTER
    assert _ops_weight(batches) < COMPACT_MIN_BYTES  # a short note: compacted on the floor
    again = open_replica(path)
    try:
        assert again.text("n") == expected == "x" * (COMPACT_AFTER + 10)
        again.edit_text("n", [(0, 0, "y")])
        assert again.text("n") == "y" + expected
    finally:
        again.close()


def test_a_long_notes_ops_never_outweigh_its_state_even_when_reopened_between_edits(tmp_path):
    """The compaction counts the batches it finds in the store, so a note evicted from the
    open texts (here: the replica closed) still compacts."""
    from storage import create_library, open_replica

    path = tmp_path / "r.db"
    r = create_library(path, "P")
    r.create("note", {"title": "t"}, entity="n")
    r.edit_text("n", [(0, 0, "word " * 4000)])
    compactions, held = 0, 0
    for round_ in range(30):
        r.close()
        r = open_replica(path)
        for i in range(20):
            r.edit_text("n", [(round_ * 20 + i, 0, "typed ")])
        state, batches = _stored_ops(path)
        assert state is not None
        assert _ops_weight(batches) < max(len(state), COMPACT_MIN_BYTES) + 200
        compactions += len(batches) < held + 20  # fewer held than before plus this round's
        held = len(batches)
    text = r.text("n")
    r.close()
    assert compactions >= 2  # 600 batches of ~100 bytes against a state of ~20 KB
    again = open_replica(path)
    try:
        assert again.text("n") == text
    finally:
        again.close()


edits = st.lists(
    st.tuples(
        st.integers(0, 2),  # replica
        st.floats(0, 1),  # position as a fraction of the text
        st.integers(0, 3),  # deleted count
        st.text(alphabet="abcé€😀 ", max_size=4),
        st.booleans(),  # sync with a random partner afterwards
        st.integers(0, 2),
    ),
    max_size=25,
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(edits)
def test_concurrent_bodies_converge(steps):
    replicas = cluster("P", "A", "B")
    replicas[0].create("note", {"title": "t", "body": "start"}, entity="n")
    for r in replicas[1:]:
        sync(replicas[0], r)
    for who, frac, delete, insert, do_sync, partner in steps:
        r = replicas[who]
        text = r.text("n")
        pos = int(frac * len(text))
        r.edit_text("n", [(pos, min(delete, len(text) - pos), insert)])
        if do_sync and partner != who:
            sync(r, replicas[partner])
    for _ in range(2):
        for x in replicas:
            for y in replicas:
                if x is not y:
                    sync(x, y)
    texts = {r.text("n") for r in replicas}
    assert len(texts) == 1


def test_take_changes_reports_everything_since_the_last_call():
    p, a = cluster("P", "A")
    p.take_changes()
    p.create("note", {"title": "t"}, entity="n")
    p.edit_text("n", [(0, 0, "hi")])
    a.receive(p.batch_for(a.summary()))
    seen = p.take_changes()
    assert seen.entities == {"n"}
    assert len(seen.writes) == 2
    assert p.take_changes() == type(seen)()
    assert a.take_changes().entities == {"n"}
    assert p.commit().commits == 2
    assert p.take_changes().commits == 2
