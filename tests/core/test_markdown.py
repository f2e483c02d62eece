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
    assert parsed == ParsedNote("n1", {**FIELDS, "extra": []}, body)


@given(
    title=st.text(max_size=200),
    tags=st.lists(st.text(max_size=30), max_size=5),
    pinned=st.booleans(),
    created=st.integers(0, 253_402_300_799_999),
    body=st.text(max_size=300).map(lambda s: s.replace("\x00", "")),
)
def test_round_trip_property(title, tags, pinned, created, body):
    fields = {"title": title, "tags": tags, "pinned": pinned, "created": created}
    assert parse_note(render_note("x", {**fields, "body": body})) == ParsedNote(
        "x", {**fields, "extra": []}, body
    )


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
            # Other tools' keys, verbatim (nested ones too), written back after the app's.
            "extra": ["aliases: [Lisboa]", "cssclass:\n  nested: thing"],
        },
        "Body",
    )


def test_no_front_matter_is_all_body_with_the_file_name_as_title():
    plain = {"tags": [], "pinned": False, "extra": []}
    unstated = frozenset({"title", "tags", "pinned", "extra"})
    assert parse_note("just text\n---\n", "Inbox") == ParsedNote(
        None, {"title": "Inbox", **plain}, "just text\n---\n", unstated
    )
    assert parse_note("", "Empty") == ParsedNote(None, {"title": "Empty", **plain}, "", unstated)
    assert parse_note("---\n---\n", "Bare") == ParsedNote(
        None, {"title": "Bare", **plain}, "", unstated - {"extra"}
    )


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
        ("title: x\ntitle: y\n---", "line 3: title given twice"),
        ('title: "unterminated\n---', "line 2: front matter is not valid YAML"),
        ("title: 'it's'\n---", "line 2: front matter is not valid YAML"),
        ("tags: [a, b\n---", "line 2: front matter is not valid YAML"),
        ("tags:\n  key: v\n---", "line 2: tags must be a list of words"),
        ("tags: [[a]]\n---", "line 2: tags must be a list of words"),
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
        "n2", {"title": "x\n---\nid: evil", "tags": ["a\nb"], "pinned": False, "extra": []}, "a\ufffdb"
    )


# -- issue 15: YAML front matter as other tools write it, and their keys kept --------------------

OBSIDIAN = (
    "---\n"
    "title: Lisbon\n"
    'tags: [travel, "2026", portugal]\n'
    "date: 2026-05-01\n"
    "publish: true\n"
    "# a comment another tool wrote\n"
    "cover:\n"
    "  image: lisbon.jpg\n"
    '  alt: "Tram 28"\n'
    "---\n"
    "Body\n"
)


def test_flow_list_with_quoted_number_is_accepted():
    parsed = parse_note(OBSIDIAN)
    assert parsed.fields["tags"] == ["travel", "2026", "portugal"]
    assert parsed.fields["title"] == "Lisbon"


def test_unknown_keys_are_kept_verbatim_and_written_back_after_an_edit():
    parsed = parse_note(OBSIDIAN)
    assert parsed.fields["extra"] == [
        "date: 2026-05-01",
        "publish: true\n# a comment another tool wrote",
        'cover:\n  image: lisbon.jpg\n  alt: "Tram 28"',
    ]
    # The note is renamed in the app: the other tool's keys come back unchanged.
    text = render_note("n1", {**parsed.fields, "title": "Lisboa", "body": parsed.body})
    assert text.endswith(
        "date: 2026-05-01\npublish: true\n# a comment another tool wrote\n"
        'cover:\n  image: lisbon.jpg\n  alt: "Tram 28"\n---\nBody\n'
    )
    again = parse_note(text)
    assert again.fields == {**parsed.fields, "title": "Lisboa"}


def test_a_key_added_later_by_another_tool_is_kept():
    text = render_note("n1", {"title": "T", "body": "b"})
    edited = text.replace("pinned: false\n", "pinned: false\naliases:\n  - Tee\n")
    parsed = parse_note(edited)
    assert parsed.fields["extra"] == ["aliases:\n  - Tee"]
    assert "aliases:\n  - Tee\n---\nb" in render_note("n1", {**parsed.fields, "body": "b"})


def test_a_note_beginning_with_a_horizontal_rule_is_all_body():
    unclosed = "---\nA thought after a rule.\n"
    assert parse_note(unclosed, "f") == ParsedNote(
        None,
        {"title": "f", "tags": [], "pinned": False, "extra": []},
        unclosed,
        frozenset({"title", "tags", "pinned", "extra"}),
    )
    two_rules = "---\n\nA paragraph between rules.\n\n---\nmore\n"
    assert parse_note(two_rules, "f").body == two_rules


@pytest.mark.parametrize(
    "front",
    [
        # Jekyll
        'layout: post\ntitle: "Welcome to Jekyll!"\ndate: 2026-05-01 10:00:00 +0200\n'
        "categories: jekyll update\ntags: [a, b]\n",
        # Hugo (YAML)
        "title: 'My First Post'\ndate: 2026-05-01T10:00:00+02:00\ndraft: true\n"
        "tags:\n- one\n- two\nparams:\n  math: true\n",
        # Obsidian properties
        "title: yes\naliases: [Lisboa, Lissabon]\ncssclasses:\n  - wide\nrating: 4.5\n",
    ],
)
def test_what_jekyll_hugo_and_obsidian_write_round_trips(front: str):
    text = "---\n" + front + "---\nBody"
    parsed = parse_note(text)
    assert parsed.body == "Body"
    again = parse_note(render_note("n", {**parsed.fields, "body": parsed.body}))
    assert again.fields == parsed.fields
    assert parsed.fields["extra"]  # every tool's own keys are kept


def test_yes_and_decimal_numbers_stay_text():
    parsed = parse_note("---\ntitle: yes\ntags: [1.10, on]\n---\n")
    assert parsed.fields["title"] == "yes"
    assert parsed.fields["tags"] == ["1.10", "on"]


def test_hostile_kept_keys_from_a_peer_cannot_change_the_note():
    extra = [
        "title: evil",  # a key the app writes itself
        "a: 1\nb: 2",  # two keys in one element
        "x: 1\n---\nid: evil",  # closes the front matter
        "y: [unterminated",  # not YAML
        "ok: fine",
        "  indented: no",
    ]
    text = render_note("n", {"title": "T", "extra": extra, "body": "b"})
    parsed = parse_note(text)
    assert parsed.id == "n"
    assert parsed.fields["title"] == "T"
    assert parsed.fields["extra"] == ["ok: fine"]
    assert parsed.body == "b"
