"""Notes as Markdown with front matter (localfirst.markdown): exact round trips, strict parsing."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from localfirst.markdown import MarkdownError, ParsedNote, parse_note, render_note

FIELDS = {
    "title": 'Groceries: "weekly" \\ list',
    "tags": ["home", "weekly", "ünïcode tag"],
    "pinned": True,
    "created": 1_763_719_200_123,
    "modified": 1_763_719_500_000,
}


def test_render_is_readable_front_matter_then_the_body_verbatim():
    text = render_note("n1", {**FIELDS, "body": "# Milk\n\n- [ ] oat\n"})
    assert text == (
        "---\n"
        'id: "n1"\n'
        'title: "Groceries: \\"weekly\\" \\\\ list"\n'
        'tags: ["home", "weekly", "ünïcode tag"]\n'
        "pinned: true\n"
        "created: 2025-11-21T10:00:00.123Z\n"
        "modified: 2025-11-21T10:05:00.000Z\n"
        "---\n"
        "# Milk\n\n- [ ] oat\n"
    )


def test_round_trip_is_exact():
    body = "---\nnot front matter\n---\r\nwindows line\n\ttab \u0007 bell"
    parsed = parse_note(render_note("n1", {**FIELDS, "body": body}))
    assert parsed == ParsedNote("n1", FIELDS, body)


@given(
    title=st.text(max_size=200),
    tags=st.lists(st.text(max_size=30), max_size=5),
    pinned=st.booleans(),
    created=st.integers(0, 253_402_300_799_999),
    body=st.text(max_size=300).map(lambda s: s.replace("\x00", "")),
)
def test_round_trip_property(title, tags, pinned, created, body):
    fields = {"title": title, "tags": tags, "pinned": pinned, "created": created}
    assert parse_note(render_note("x", {**fields, "body": body})) == ParsedNote("x", fields, body)


def test_hand_written_front_matter_other_tools_produce():
    text = (
        "\ufeff---\r\n"
        "title: Trip to Lisbon\r\n"
        "tags:\r\n"
        "  - travel\r\n"
        "  - 'summer 2026'\r\n"
        "pinned: yes-please\r\n"
        "aliases: [Lisboa]\r\n"
        "cssclass:\r\n"
        "  nested: thing\r\n"
        "created: 2026-05-01T08:00:00+02:00\r\n"
        "---\r\n"
        "Body"
    )
    with pytest.raises(MarkdownError, match="line 6: pinned must be true or false"):
        parse_note(text)
    parsed = parse_note(text.replace("pinned: yes-please", "pinned: false"))
    assert parsed == ParsedNote(
        None,
        {
            "title": "Trip to Lisbon",
            "tags": ["travel", "summer 2026"],
            "pinned": False,
            "created": 1_777_615_200_000,
        },
        "Body",
    )


def test_no_front_matter_is_all_body_with_the_file_name_as_title():
    plain = {"tags": [], "pinned": False}
    unstated = frozenset({"title", "tags", "pinned"})
    assert parse_note("just text\n---\n", "Inbox") == ParsedNote(
        None, {"title": "Inbox", **plain}, "just text\n---\n", unstated
    )
    assert parse_note("", "Empty") == ParsedNote(None, {"title": "Empty", **plain}, "", unstated)
    assert parse_note("---\n---\n", "Bare") == ParsedNote(None, {"title": "Bare", **plain}, "", unstated)


def test_fields_the_file_does_not_state_are_named():
    assert parse_note('---\ntitle: "T"\n---\nbody', "f").defaulted == {"tags", "pinned"}
    assert parse_note("---\ntags: []\npinned: true\n---\n", "f").defaulted == {"title"}
    assert parse_note("---\ntitle:\ntags:\npinned: false\n---\n", "f").defaulted == {"title"}
    assert parse_note(render_note("x", {"title": "T", "body": "b"})).defaulted == frozenset()


def test_flow_lists_of_plain_words():
    parsed = parse_note("---\ntags: [a, b c, 3]\n---\n")
    assert parsed.fields["tags"] == ["a", "b c", "3"]


@pytest.mark.parametrize(
    ("front", "message"),
    [
        ("title: x", "not closed"),
        ("title: x\ntitle: y\n---", "line 3: title given twice"),
        ("  title: x\n---", "line 2: unexpected indentation"),
        ("just words\n---", "line 2: expected 'key: value'"),
        ('title: "unterminated\n---', "line 2: bad double-quoted string"),
        ("title: 'it's'\n---", "bad single-quoted string"),
        ("tags: [a, b\n---", "unterminated list"),
        ("tags: 7\n---", "tags must be a list"),
        ("tags:\n  key: v\n---", "expected '- item' under tags"),
        ("pinned: 1\n---", "pinned must be true or false"),
        ("id: ../../etc/passwd\n---", "line 2: id must be"),
        ('id: "a b"\n---', "id must be"),
        ("created: last tuesday\n---", "created must be a date"),
        ("title: [1]\n---", "title must be text"),
        (f"title: {'x' * 10_001}\n---", "invalid value"),
        ("tags: [" + ", ".join(["t"] * 201) + "]\n---", "invalid value"),
    ],
)
def test_malformed_front_matter_is_refused_with_the_line(front: str, message: str):
    with pytest.raises(MarkdownError, match=message):
        parse_note("---\n" + front + "\nbody")


def test_huge_front_matter_is_refused():
    with pytest.raises(MarkdownError, match="front matter longer"):
        parse_note("---\n" + "# comment line\n" * 10_000 + "---\n")


def test_render_keeps_hostile_values_inside_the_header():
    text = render_note(
        "n2",
        {"title": "x\n---\nid: evil", "tags": ["a\nb", 5], "pinned": "yes", "created": -1, "body": "a\x00b"},
    )
    parsed = parse_note(text)
    assert parsed == ParsedNote(
        "n2", {"title": "x\n---\nid: evil", "tags": ["a\nb"], "pinned": False}, "a\ufffdb"
    )
