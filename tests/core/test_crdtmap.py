"""Entity documents as CRDT maps: siblings, superseding, deletes concurrent with edits."""

from __future__ import annotations

import msgpack
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from localfirst import DELETED, Doc, Put, UnknownEntity, WriteId
from localfirst.crdtmap import EDITED, SET_FIELDS, decode_doc, encode_doc
from localfirst.errors import WriteFormatError

from .conftest import sync, sync_both


def put(fields, seen=None, entity="n"):
    return Put("note", entity, fields, seen or {})


# -- the Doc on its own -------------------------------------------------------------------------


def test_concurrent_puts_keep_siblings_and_the_highest_id_wins_in_any_order():
    a, b = WriteId(7, "A"), WriteId(7, "P")
    first, second = Doc("note"), Doc("note")
    first.apply(a, put({"title": "from A"}))
    first.apply(b, put({"title": "from P"}))
    second.apply(b, put({"title": "from P"}))
    second.apply(a, put({"title": "from A"}))
    assert first == second
    assert first.value("title") == "from P"  # (7, "P") > (7, "A")
    assert first.versions("title") == [(7, "P", "from P"), (7, "A", "from A")]
    assert first.conflicts() == ["title"]


def test_higher_stamp_beats_higher_origin():
    doc = Doc("note")
    doc.apply(WriteId(9, "Z"), put({"title": "Z"}))
    doc.apply(WriteId(10, "A"), put({"title": "A"}))
    assert doc.value("title") == "A"


def test_a_resolving_put_supersedes_exactly_the_siblings_it_saw():
    doc = Doc("note")
    doc.apply(WriteId(3, "A"), put({"title": "a"}))
    doc.apply(WriteId(4, "B"), put({"title": "b"}))
    doc.apply(WriteId(5, "C"), put({"title": "c"}))  # not seen by the resolver
    doc.apply(WriteId(6, "A"), put({"title": "merged"}, {"title": (WriteId(3, "A"), WriteId(4, "B"))}))
    assert doc.versions("title") == [(6, "A", "merged"), (5, "C", "c")]
    assert doc.conflicts() == ["title"]


def test_superseding_all_siblings_resolves_the_conflict():
    doc = Doc("note")
    doc.apply(WriteId(3, "A"), put({"title": "a"}))
    doc.apply(WriteId(4, "B"), put({"title": "b"}))
    doc.apply(WriteId(5, "A"), put({"title": "ab"}, doc.seen(["title"])))
    assert doc.versions("title") == [(5, "A", "ab")]
    assert doc.conflicts() == []


def test_seen_only_names_fields_that_hold_versions():
    doc = Doc("note")
    doc.apply(WriteId(3, "A"), put({"title": "a", "pinned": True}))
    assert doc.seen(["title", "body"]) == {"title": (WriteId(3, "A"),)}


def test_applying_the_same_put_twice_changes_nothing():
    doc = Doc("note")
    doc.apply(WriteId(3, "A"), put({"title": "a"}))
    doc.apply(WriteId(4, "B"), put({"title": "b", "tags": ["x"]}))
    before = doc.copy()
    doc.apply(WriteId(4, "B"), put({"title": "b", "tags": ["x"]}))
    assert doc == before
    assert doc.versions("title") == [(4, "B", "b"), (3, "A", "a")]


def test_fields_are_independent_registers():
    doc = Doc("note")
    doc.apply(WriteId(3, "A"), put({"title": "a"}))
    doc.apply(WriteId(4, "B"), put({"pinned": True}))
    assert doc.values() == {"title": "a", "pinned": True}
    assert doc.conflicts() == []


def test_delete_superseding_everything_it_saw_deletes():
    doc = Doc("note")
    doc.apply(WriteId(3, "A"), put({"title": "a"}))
    doc.apply(WriteId(4, "A"), put({DELETED: True}, doc.seen(doc.fields)))
    assert doc.deleted
    assert not doc.exists
    assert doc.values() == {}
    assert doc.conflicts() == []


def test_edit_concurrent_with_and_newer_than_a_delete_is_surfaced_and_shown():
    doc = Doc("note")
    doc.apply(WriteId(3, "A"), put({"title": "a"}))
    seen = doc.seen(doc.fields)
    doc.apply(WriteId(4, "B"), put({DELETED: True}, seen))
    doc.apply(WriteId(5, "A"), put({"title": "edited"}, {"title": (WriteId(3, "A"),)}))
    assert not doc.deleted
    assert doc.exists
    assert doc.values() == {"title": "edited"}
    assert doc.conflicts() == [DELETED]


def test_edit_concurrent_with_and_older_than_a_delete_is_surfaced_but_deleted():
    doc = Doc("note")
    doc.apply(WriteId(3, "A"), put({"title": "a"}))
    doc.apply(WriteId(5, "A"), put({"title": "edited"}, {"title": (WriteId(3, "A"),)}))
    doc.apply(WriteId(6, "B"), put({DELETED: True}, {"title": (WriteId(3, "A"),)}))  # B had not seen 5:A
    assert doc.deleted
    assert not doc.exists
    assert doc.versions("title") == [(5, "A", "edited")]
    assert doc.conflicts() == [DELETED]


def test_doc_encoding_round_trips():
    doc = Doc("note")
    doc.apply(WriteId(3, "A"), put({"title": "a", "tags": ["x", "y"]}))
    doc.apply(WriteId(4, "B"), put({"title": "b"}))
    assert decode_doc(encode_doc(doc)) == doc


_DEVICE = "58deaa28b3709581c1727fa6b4537967656bd49cf3bd0bf1d17b8c2d7f16c4f8"
_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False)
    | st.text(max_size=20)
    | st.binary(max_size=8)
)
#: Values as a write carries them: scalars, lists and string-keyed maps of them, nested.
_values = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4),
    max_leaves=8,
)
_doc_versions = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=2**63 - 1),
        st.sampled_from([_DEVICE, "A", "B", "", "ü" * 3]),
        _values,
    ),
    max_size=5,
)
_docs = st.builds(
    Doc,
    st.sampled_from(["note", "event", "calendar", "library", "device"]),
    st.dictionaries(
        st.sampled_from(["title", "start", "tags", "reminders", "extra", DELETED, EDITED, "x" * 40]),
        _doc_versions.filter(bool),
        max_size=6,
    ),
)


def _first_format(doc: Doc) -> bytes:
    """A document as the previous release stored it."""
    data: bytes = msgpack.packb((doc.kind, doc.fields))
    return data


def _set_containers(doc: Doc) -> bool:
    """Whether a set field holds a list or map element: the first format read a list as a whole
    set of an earlier build (and could not read containers inside it); real elements are scalars."""
    sets = SET_FIELDS.get(doc.kind, frozenset())
    return any(type(v[2]) in (list, dict) for name in sets & doc.fields.keys() for v in doc.fields[name])


@given(_docs)
def test_any_document_round_trips_through_the_compact_encoding(doc):
    assert decode_doc(encode_doc(doc)) == doc


@given(_docs)
def test_a_document_of_the_first_format_reads_as_it_did(doc):
    assume(not _set_containers(doc))
    old = decode_doc(_first_format(doc))
    assert old == doc
    assert decode_doc(encode_doc(old)) == doc


def test_a_first_format_set_of_an_earlier_build_reads_as_instances_in_both_formats():
    doc = Doc("note", {"tags": [(2, "B", ["y"]), (1, "A", ["x", "y"])]})
    old = decode_doc(_first_format(doc))
    assert old.fields["tags"] == [(1, "A", None), (1, "A", "x"), (1, "A", "y"), (2, "B", None), (2, "B", "y")]
    assert decode_doc(encode_doc(old)) == old


@given(_docs, st.randoms())
def test_equal_documents_encode_to_equal_bytes_whatever_their_field_order(doc, rnd):
    names = list(doc.fields)
    rnd.shuffle(names)
    assert encode_doc(Doc(doc.kind, {n: doc.fields[n] for n in names})) == encode_doc(doc)


def test_the_compact_encoding_names_each_device_once():
    doc = Doc("event")
    doc.apply(
        WriteId(1796687250333, _DEVICE), put({"title": "Budget review", "start": "2024-10-07T10:45:00"})
    )
    doc.apply(WriteId(1796687250400, _DEVICE), put({"end": "2024-10-07T12:15:00", "tz": "Europe/Berlin"}))
    doc.apply(WriteId(1796687250500, "B" * 64), put({"title": "Budget"}))
    data = encode_doc(doc)
    assert data.count(_DEVICE.encode()) == 1
    assert data.count(b"B" * 64) == 1
    assert len(data) * 10 < len(_first_format(doc)) * 6  # 260 bytes against 486
    assert decode_doc(data) == doc


@pytest.mark.parametrize(
    "data", [b"", b"\xc1", b"\xc1\x94\xa4note\x90\x00\x81\xa1t\x92\x00\x00", b"\x92\x01"]
)
def test_a_damaged_document_is_refused_with_one_line(data):
    with pytest.raises(WriteFormatError, match=r"^corrupt entity document: [^\n]*$"):
        decode_doc(data)


# -- through replicas ---------------------------------------------------------------------------


def test_replicas_keep_concurrent_edits_as_siblings(mem_cluster):
    lib = mem_cluster("P", "A")
    lib.at("P", 1).put("note", "n", {"title": "base"})
    sync(lib["P"], lib["A"])
    lib.at("P", 5).put("note", "n", {"title": "P's"})
    lib.at("A", 5).put("note", "n", {"title": "A's"})
    sync_both(lib["P"], lib["A"])
    for r in (lib["P"], lib["A"]):
        assert r.values("n") == {"title": "P's"}
        assert r.get("n").versions("title") == [(5, "P", "P's"), (5, "A", "A's")]
        assert r.conflicts() == {"n": ["title"]}


def test_replica_resolving_put_leaves_an_unseen_sibling(mem_cluster):
    lib = mem_cluster("P", "A", "B")
    lib.at("P", 1).put("note", "n", {"title": "p"})
    lib.at("A", 2).put("note", "n", {"title": "a"})
    lib.at("B", 3).put("note", "n", {"title": "b"})
    sync(lib["P"], lib["A"])
    assert lib["A"].conflicts() == {"n": ["title"]}
    lib.at("A", 4).put("note", "n", {"title": "resolved"})  # saw P's and A's, not B's
    sync(lib["A"], lib["B"])
    sync(lib["B"], lib["P"])
    sync(lib["B"], lib["A"])
    for r in lib.replicas.values():
        assert r.get("n").versions("title") == [(4, "A", "resolved"), (3, "B", "b")]
        assert r.conflicts() == {"n": ["title"]}


def test_delete_then_concurrent_edit_is_surfaced_and_restore_keeps_the_entity(mem_cluster):
    lib = mem_cluster("P", "A")
    lib.at("P", 1).put("note", "n", {"title": "t", "pinned": False})
    sync(lib["P"], lib["A"])
    lib.at("P", 2).delete("n")
    lib.at("A", 3).put("note", "n", {"title": "edited offline"})
    sync_both(lib["P"], lib["A"])
    for r in (lib["P"], lib["A"]):
        assert r.conflicts() == {"n": [DELETED]}
        assert r.get("n").exists
        assert r.values("n") == {"title": "edited offline"}  # the deleted pinned field stays gone
        assert r.entities("note").keys() == {"n"}
    lib.at("A", 4).restore("n")
    sync_both(lib["P"], lib["A"])
    for r in (lib["P"], lib["A"]):
        assert r.conflicts() == {}
        assert r.values("n") == {"title": "edited offline"}
        assert DELETED not in r.get("n").fields


def test_older_concurrent_edit_keeps_the_entity_deleted_but_surfaced(mem_cluster):
    lib = mem_cluster("P", "A")
    lib.at("P", 1).put("note", "n", {"title": "t"})
    sync(lib["P"], lib["A"])
    lib.at("A", 2).put("note", "n", {"title": "edited offline"})
    lib.at("P", 9).delete("n")
    sync_both(lib["P"], lib["A"])
    for r in (lib["P"], lib["A"]):
        assert r.conflicts() == {"n": [DELETED]}
        assert not r.get("n").exists
        assert r.entities("note") == {}
        with pytest.raises(UnknownEntity):
            r.values("n")
    lib.at("P", 10).restore("n")
    sync(lib["P"], lib["A"])
    for r in (lib["P"], lib["A"]):
        assert r.values("n") == {"title": "edited offline"}
        assert r.conflicts() == {}


def test_delete_of_a_missing_or_deleted_entity_and_restore_of_a_live_one_raise(mem_cluster):
    r = mem_cluster("P")["P"]
    with pytest.raises(UnknownEntity):
        r.delete("nope")
    r.put("note", "n", {"title": "t"})
    with pytest.raises(UnknownEntity):
        r.restore("n")
    r.delete("n")
    with pytest.raises(UnknownEntity):
        r.delete("n")


def test_receiving_the_same_batch_twice_is_idempotent(mem_cluster):
    lib = mem_cluster("P", "A")
    lib.at("P", 1).put("note", "n", {"title": "t"})
    lib.at("P", 2).put("note", "n", {"title": "u"})
    batch = lib["P"].batch_for(lib["A"].summary())
    lib["A"].receive(batch)
    labels, doc = lib["A"].log_labels(), lib["A"].get("n")
    changes = lib["A"].receive(batch)
    assert not changes
    assert lib["A"].log_labels() == labels == ["inf:1:P", "inf:2:P"]
    assert lib["A"].get("n") == doc
    assert lib["A"].values("n") == {"title": "u"}


_versions = st.lists(
    st.tuples(st.integers(1, 4), st.sampled_from(["A", "B"]), st.sampled_from([1, 2, True])),
    min_size=1,
    max_size=3,
    unique_by=lambda v: (v[0], v[1]),
)


@given(st.dictionaries(st.sampled_from(["title", "start", DELETED]), _versions, max_size=3))
def test_conflicted_says_exactly_whether_there_are_conflicts(fields):
    doc = Doc("event", {name: sorted(vs, reverse=True) for name, vs in fields.items()})
    assert doc.conflicted is bool(doc.conflicts())


def test_an_edit_that_saw_the_only_version_replaces_it_and_one_that_did_not_adds_a_sibling():
    doc = Doc("note", {})
    doc.apply(WriteId(1, "A"), Put("note", "n", {"title": "a"}, {}))
    doc.apply(WriteId(2, "B"), Put("note", "n", {"title": "b"}, {"title": (WriteId(1, "A"),)}))
    assert doc.versions("title") == [(2, "B", "b")]
    doc.apply(WriteId(3, "A"), Put("note", "n", {"title": "c"}, {"title": (WriteId(1, "A"),)}))
    assert doc.versions("title") == [(3, "A", "c"), (2, "B", "b")]
    assert doc.conflicted
    assert doc.conflicts() == ["title"]
