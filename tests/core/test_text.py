"""Unit and property tests for the note-body text CRDT (localfirst.text)."""

from __future__ import annotations

import random
import zlib

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from localfirst.text import (
    Delete,
    Insert,
    TextDoc,
    TextFormatError,
    TextOps,
    decode_ops,
    encode_ops,
)

A = "a" * 64
B = "b" * 64
C = "c" * 64


def test_insert_and_delete_basic() -> None:
    doc = TextDoc(A)
    ops = doc.local_edit(0, 0, "hello world")
    assert doc.text == "hello world"
    assert list(ops) == [Insert(A, 0, None, None, "hello world")]
    ops = doc.local_edit(5, 6, "")
    assert doc.text == "hello"
    assert list(ops) == [Delete(A, 11, A, 5, 6)]
    doc.local_edit(0, 1, "J")
    assert doc.text == "Jello"
    doc.local_edit(5, 0, "!")
    doc.local_edit(2, 2, "")
    assert doc.text == "Jeo!"
    assert len(doc) == 4
    assert doc.version() == {A: 11 + 6 + 1 + 1 + 1 + 2}


def test_typing_is_one_item_and_keeps_ids() -> None:
    doc = TextDoc(A)
    for i, ch in enumerate("abcdef"):
        ops = doc.local_edit(i, 0, ch)
        assert list(ops) == [Insert(A, i, (A, i - 1) if i else None, None, ch)]
    assert doc.items() == 1
    doc.local_edit(3, 0, "X")  # splits the run
    assert doc.text == "abcXdef"
    assert doc.items() == 3


def test_out_of_range_edit_raises() -> None:
    doc = TextDoc(A)
    doc.local_edit(0, 0, "abc")
    with pytest.raises(IndexError):
        doc.local_edit(4, 0, "x")
    with pytest.raises(IndexError):
        doc.local_edit(2, 2, "")
    assert doc.text == "abc"


def test_concurrent_words_do_not_interleave() -> None:
    a = TextDoc(A)
    b = TextDoc(B)
    base = a.local_edit(0, 0, "<>")
    b.apply(base)
    # Each replica types its word one keystroke at a time, offline.
    ops_a = [a.local_edit(1 + i, 0, ch) for i, ch in enumerate("hello ")]
    ops_b = [b.local_edit(1 + i, 0, ch) for i, ch in enumerate("world ")]
    for ops in ops_b:
        a.apply(ops)
    for ops in ops_a:
        b.apply(ops)
    assert a.text == b.text == "<hello world >"


def test_concurrent_backwards_typing_does_not_interleave() -> None:
    a = TextDoc(A)
    b = TextDoc(B)
    ops_a = [a.local_edit(0, 0, ch) for ch in reversed("abc")]
    ops_b = [b.local_edit(0, 0, ch) for ch in reversed("xyz")]
    for ops in ops_b:
        a.apply(ops)
    for ops in ops_a:
        b.apply(ops)
    assert a.text == b.text == "abcxyz"


def test_causal_buffering() -> None:
    a = TextDoc(A)
    first = a.local_edit(0, 0, "abc")
    second = a.local_edit(3, 0, "def")
    third = a.local_edit(1, 2, "")
    b = TextDoc(B)
    b.apply(third)
    b.apply(second)
    assert b.text == ""
    assert b.pending() == 2
    assert b.version() == {}
    b.apply(first)
    assert b.text == "adef"
    assert b.pending() == 0
    assert b.version() == a.version()


def test_buffering_waits_for_other_agents_origin() -> None:
    a = TextDoc(A)
    b = TextDoc(B)
    ops_a = a.local_edit(0, 0, "ab")
    b.apply(ops_a)
    ops_b = b.local_edit(1, 0, "X")  # origins are A's chars
    c = TextDoc(C)
    c.apply(ops_b)
    assert (c.text, c.pending()) == ("", 1)
    c.apply(ops_a)
    assert (c.text, c.pending()) == ("aXb", 0)


def test_apply_is_idempotent() -> None:
    a = TextDoc(A)
    ops = [a.local_edit(0, 0, "hello"), a.local_edit(5, 0, " there"), a.local_edit(0, 1, "J")]
    b = TextDoc(B)
    for _ in range(3):
        for batch in ops:
            b.apply(batch)
    assert b.text == "Jello there"
    # Overlapping re-sends (partly known ops) are trimmed, not duplicated.
    b.apply(a.ops_since({A: 3}))
    b.apply(a.ops_since({}))
    assert b.text == "Jello there"
    # Our own ops coming back are no-ops too.
    a.apply(b.ops_since({}))
    assert a.text == "Jello there"


def test_ops_since_syncs_exactly_the_missing_part() -> None:
    a = TextDoc(A)
    b = TextDoc(B)
    b.apply(a.local_edit(0, 0, "one two three"))
    v = b.version()
    a.local_edit(4, 4, "2 ")
    a.local_edit(0, 0, ">")
    missing = a.ops_since(v)
    assert all(op.seq >= v[A] for op in missing)
    b.apply(missing)
    assert b.text == a.text == ">one 2 three"
    assert a.ops_since(a.version()) == TextOps()


def test_state_round_trip_and_continue_editing() -> None:
    a = TextDoc(A)
    b = TextDoc(B)
    b.apply(a.local_edit(0, 0, "Grüße, 世界! 🎉"))
    a.apply(b.local_edit(7, 0, "schöne "))
    a.local_edit(0, 5, "Hallo")
    data = a.encode_state()
    assert data[0] == 1
    loaded = TextDoc.decode_state(data, A)
    assert loaded.text == a.text == "Hallo, schöne 世界! 🎉"
    assert loaded.version() == a.version()
    assert loaded.items() == a.items()
    # The loaded replica keeps its agent's sequence going and still syncs.
    ops = loaded.local_edit(len(loaded), 0, "?")
    assert ops[0].seq == a.version()[A]
    b.apply(a.ops_since(b.version()))
    b.apply(ops)
    assert b.text == "Hallo, schöne 世界! 🎉?"
    empty = TextDoc.decode_state(TextDoc(C).encode_state(), C)
    assert (empty.text, empty.version()) == ("", {})


def test_ops_round_trip() -> None:
    a = TextDoc(A)
    ops = TextOps()
    ops += a.local_edit(0, 0, "héllo 🌍")
    ops += a.local_edit(1, 3, "")
    ops += a.local_edit(0, 0, "x")
    data = encode_ops(ops)
    assert data[0] == 1
    assert decode_ops(data) == ops
    assert decode_ops(encode_ops(TextOps())) == TextOps()


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x01",
        b"\x02" + msgpack.packb([[], []]),
        b"\x01\xc1garbage",
        b"\x01" + msgpack.packb([["a"], [[0, 0, -1, 0, -1, 0]]]),
        b"\x01" + msgpack.packb([["a"], [[0, 0, 5, 0, -1, 0, "x"]]]),
        b"\x01" + msgpack.packb([["a"], [[0, -1, -1, 0, -1, 0, "x"]]]),
        b"\x01" + msgpack.packb([["a"], [[0, 0, -1, 0, -1, 0, ""]]]),
        b"\x01" + msgpack.packb([["a"], [[0, 0, 0, 0, 0]]]),
        b"\x01" + msgpack.packb([["a"], [[0, 0, 0, 1.5, 1]]]),
        b"\x01" + msgpack.packb([[""], []]),
        b"\x01" + msgpack.packb({"a": 1}),
    ],
)
def test_malformed_ops_raise(data: bytes) -> None:
    with pytest.raises(TextFormatError):
        decode_ops(data)


def _good_state() -> bytes:
    doc = TextDoc(A)
    doc.local_edit(0, 0, "hello world")
    doc.local_edit(2, 3, "")
    return doc.encode_state()


def _mutated_state(index: int, value: object) -> bytes:
    cols = msgpack.unpackb(zlib.decompress(_good_state()[1:]))
    cols[index] = value
    return b"\x01" + zlib.compress(msgpack.packb(cols))


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x07" + _good_state()[1:],
        _good_state()[:-5],
        b"\x01" + zlib.compress(b"\xc1"),
        b"\x01" + zlib.compress(msgpack.packb([1, 2, 3])),
        _mutated_state(2, [5, 0, 0]),  # agent index out of range
        _mutated_state(4, [1, 0, 1]),  # zero-length run
        _mutated_state(5, [2, 0, 1]),  # live flag not 0/1
        _mutated_state(10, "too long for the live runs"),
        _mutated_state(3, [0.5, 0, 0]),
        _mutated_state(16, [3]),  # delete step
        _mutated_state(0, [7]),
    ],
)
def test_malformed_state_raises(data: bytes) -> None:
    with pytest.raises(TextFormatError):
        TextDoc.decode_state(data, B)


def test_good_state_decodes() -> None:
    assert TextDoc.decode_state(_good_state(), B).text == "he world"


# ------------------------------------------------------------ properties

_ALPHABET = "ab é世🎉\n"

edit_st = st.tuples(
    st.integers(0, 3),  # replica
    st.floats(0, 1),  # position as a fraction of the length
    st.integers(0, 3),  # delete count (clipped)
    st.text(_ALPHABET, max_size=4),
)


@settings(max_examples=200, deadline=None)
@given(
    n_replicas=st.integers(2, 4),
    steps=st.lists(
        st.one_of(edit_st, st.tuples(st.just("sync"), st.integers(0, 3), st.integers(0, 10**6))),
        max_size=40,
    ),
)
def test_replicas_converge(n_replicas: int, steps: list[tuple[object, ...]]) -> None:
    agents = [f"{i:064x}" for i in range(n_replicas)]
    docs = [TextDoc(a) for a in agents]
    sent: list[list[TextOps]] = [[] for _ in agents]  # batches each replica produced
    for step in steps:
        if step[0] == "sync":
            _, who, seed = step
            target = docs[int(str(who)) % n_replicas]
            rng = random.Random(int(str(seed)))
            # A random subset of all batches, shuffled: out of causal order.
            batches = [b for bs in sent for b in bs if rng.random() < 0.6]
            rng.shuffle(batches)
            for b in batches:
                target.apply(decode_ops(encode_ops(b)))
            continue
        who, frac, dl, ins = step
        i = int(str(who)) % n_replicas
        doc = docs[i]
        pos = int(float(str(frac)) * len(doc))
        dl = min(int(str(dl)), len(doc) - pos)
        before = doc.text
        ops = doc.local_edit(pos, dl, str(ins))
        assert doc.text == before[:pos] + str(ins) + before[pos + dl :]
        if ops:
            sent[i].append(ops)
    everything = [b for bs in sent for b in bs]
    for doc in docs:
        for b in reversed(everything):
            doc.apply(b)
    texts = {doc.text for doc in docs}
    assert len(texts) == 1
    for doc in docs:
        assert doc.pending() == 0
        loaded = TextDoc.decode_state(doc.encode_state(), "z" * 64)
        assert loaded.text == doc.text
        assert loaded.version() == doc.version()
        # A fresh peer bootstrapped from ops_since({}) converges as well.
        fresh = TextDoc("y" * 64)
        fresh.apply(decode_ops(encode_ops(loaded.ops_since({}))))
        assert fresh.text == doc.text
    # Snapshot syncs: a replica's ops_since of another's version completes it.
    docs[0].apply(docs[1].ops_since(docs[0].version()))
    assert docs[0].text == docs[1].text


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 1), st.integers(0, 5), st.text(_ALPHABET, max_size=6))))
def test_local_edits_match_string_model(edits: list[tuple[float, int, str]]) -> None:
    doc = TextDoc(A)
    model = ""
    for frac, want_dl, ins in edits:
        pos = int(frac * len(model))
        dl = min(want_dl, len(model) - pos)
        doc.local_edit(pos, dl, ins)
        model = model[:pos] + ins + model[pos + dl :]
        assert doc.text == model
    assert TextDoc.decode_state(doc.encode_state(), B).text == model


@pytest.mark.parametrize("seed", range(4))
def test_large_random_sessions_converge(seed: int) -> None:
    # Long enough that blocks split and concurrent runs meet mid-document.
    rng = random.Random(seed)
    agents = [f"{i:064x}" for i in range(3)]
    docs = [TextDoc(a) for a in agents]
    models = ["", "", ""]
    outbox: list[list[TextOps]] = [[], [], []]
    for step in range(3000):
        i = rng.randrange(3)
        doc = docs[i]
        if step % 97 == 0:
            # Partial, shuffled delivery from the other replicas.
            for j in range(3):
                if j != i:
                    batches = outbox[j][:]
                    rng.shuffle(batches)
                    for b in batches[: len(batches) // 2 + 1]:
                        doc.apply(b)
            models[i] = doc.text
            continue
        n = len(doc)
        if n and rng.random() < 0.3:
            pos = rng.randrange(n)
            dl = min(rng.randint(1, 8), n - pos)
            ins = ""
        else:
            pos = rng.randint(0, n) if rng.random() < 0.2 else min(n, rng.randint(n // 2, n))
            dl = 0
            ins = "".join(rng.choice(_ALPHABET) for _ in range(rng.randint(1, 5)))
        outbox[i].append(doc.local_edit(pos, dl, ins))
        models[i] = models[i][:pos] + ins + models[i][pos + dl :]
        assert doc.text == models[i]
    for doc in docs:
        for j in range(3):
            for b in outbox[j]:
                doc.apply(b)
    assert docs[0].text == docs[1].text == docs[2].text
    assert len(docs[0].text) > 500
    for doc in docs:
        assert doc.pending() == 0
        assert TextDoc.decode_state(doc.encode_state(), "q" * 64).text == doc.text


# ------------------------------------------- reference model (differential)


class _RefDoc:
    """One char per entry, integrated exactly as Gentle's integrateYjsMod."""

    def __init__(self) -> None:
        self.ids: list[tuple[str, int]] = []
        self.chars: list[str] = []
        self.left: list[tuple[str, int] | None] = []
        self.right: list[tuple[str, int] | None] = []
        self.deleted: set[tuple[str, int]] = set()

    def _find(self, id_: tuple[str, int] | None, default: int) -> int:
        return default if id_ is None else self.ids.index(id_)

    def integrate(self, agent: str, seq: int, left: object, right: object, ch: str) -> None:
        lo = self._find(left, -1)  # type: ignore[arg-type]
        hi = self._find(right, len(self.ids))  # type: ignore[arg-type]
        dest = lo + 1
        scanning = False
        i = lo + 1
        while True:
            if not scanning:
                dest = i
            if i == len(self.ids) or i == hi:
                break
            oleft = self._find(self.left[i], -1)
            oright = self._find(self.right[i], len(self.ids))
            if oleft < lo:
                break
            if oleft == lo:
                if oright < hi:
                    scanning = True
                elif oright == hi:
                    if agent < self.ids[i][0]:
                        break
                    scanning = False
                else:
                    scanning = False
            i += 1
        self.ids.insert(dest, (agent, seq))
        self.chars.insert(dest, ch)
        self.left.insert(dest, left)  # type: ignore[arg-type]
        self.right.insert(dest, right)  # type: ignore[arg-type]

    def apply(self, ops: TextOps) -> None:
        for op in ops:
            if isinstance(op, Insert):
                for k, ch in enumerate(op.text):
                    left = op.left if k == 0 else (op.agent, op.seq + k - 1)
                    self.integrate(op.agent, op.seq + k, left, op.right, ch)
            else:
                for k in range(op.length):
                    self.deleted.add((op.target_agent, op.target_seq + k))

    @property
    def text(self) -> str:
        return "".join(c for c, i in zip(self.chars, self.ids, strict=True) if i not in self.deleted)


@settings(max_examples=150, deadline=None)
@given(
    steps=st.lists(
        st.tuples(
            st.integers(0, 2),
            st.floats(0, 1),
            st.integers(0, 2),
            st.text("xyz", min_size=0, max_size=3),
            st.booleans(),
        ),
        max_size=40,
    )
)
def test_matches_reference_yjsmod(steps: list[tuple[int, float, int, str, bool]]) -> None:
    agents = ["b", "a", "c"]  # unsorted on purpose: tie-breaks compare agent ids
    docs = [TextDoc(a) for a in agents]
    history: list[TextOps] = []  # creation order is a causal order
    for who, frac, want_dl, ins, sync in steps:
        doc = docs[who]
        if sync:
            for batch in history:
                doc.apply(batch)
        pos = int(frac * len(doc))
        ops = doc.local_edit(pos, min(want_dl, len(doc) - pos), ins)
        if ops:
            history.append(ops)
    ref = _RefDoc()
    for batch in history:
        ref.apply(batch)
    merged = TextDoc("m")
    for batch in reversed(history):
        merged.apply(batch)
    assert merged.text == ref.text
    for doc in docs:
        for batch in history:
            doc.apply(batch)
        assert doc.text == ref.text


def test_apply_rejects_ops_on_non_characters() -> None:
    a = TextDoc(A)
    a.apply([Insert(B, 0, None, None, "abc"), Delete(B, 3, B, 1, 1)])
    assert a.text == "ac"
    # (B, 3) is a delete, not a character: nothing may change.
    with pytest.raises(ValueError, match="no character"):
        a.apply([Delete(C, 0, B, 2, 2)])
    assert a.text == "ac"
    assert a.version() == {B: 4}
    with pytest.raises(TypeError):
        a.apply(["nonsense"])  # type: ignore[list-item]
