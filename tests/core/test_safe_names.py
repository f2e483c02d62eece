"""File names from untrusted titles (localfirst.safe_names)."""

from __future__ import annotations

import os

import pytest
from hypothesis import given
from hypothesis import strategies as st

from localfirst.safe_names import MAX_NAME_BYTES, assign_names, is_reserved, is_safe_name, safe_stem


@pytest.mark.parametrize(
    ("title", "stem"),
    [
        ("Groceries", "Groceries"),
        ("../../x", "_.._x"),
        ("..", "untitled"),
        ("/etc/passwd", "_etc_passwd"),
        ("C:\\Windows\\system32", "C__Windows_system32"),
        ("a\x00b", "a_b"),
        ("line\nbreak\ttab", "line_break_tab"),
        ("CON", "_CON"),
        ("con.txt", "_con.txt"),
        ("Lpt9", "_Lpt9"),
        ("COM1 ", "_COM1"),
        ("nul.tar.gz", "_nul.tar.gz"),
        ("trailing dots...", "trailing dots"),
        ("  spaced   out  ", "spaced out"),
        (".hidden", "hidden"),
        ("", "untitled"),
        ("   ", "untitled"),
        ('what? <b>"x"</b> | * :', "what_ _b__x___b_ _ _ _"),
        ("Ünïcödé e\u0301", "Ünïcödé é"),
        ("CONSOLE", "CONSOLE"),
    ],
)
def test_safe_stem(title: str, stem: str):
    assert safe_stem(title) == stem
    assert is_safe_name(stem + ".md")


def test_reserved_names():
    assert is_reserved("aux")
    assert is_reserved("AUX.md")
    assert is_reserved("com¹")
    assert not is_reserved("auxiliary")
    assert not is_reserved("com10")


def test_length_is_capped_in_bytes_without_splitting_characters():
    stem = safe_stem("é" * 500)
    assert stem == "é" * 60
    names = assign_names([("a", "€" * 300), ("b", "€" * 300)], ".md")
    assert all(len(n.encode()) <= MAX_NAME_BYTES for n in names.values())


@given(st.text(max_size=400))
def test_any_title_gives_one_plain_component(title: str):
    stem = safe_stem(title)
    assert stem
    assert is_safe_name(stem)
    assert os.path.basename(stem) == stem
    assert stem not in (".", "..")
    assert not os.path.isabs(stem)
    assert "/" not in stem
    assert "\\" not in stem
    assert "\x00" not in stem


def test_clashes_get_distinct_stable_names():
    items = [("bbbb2222", "Notes"), ("aaaa1111", "Notes"), ("cccc3333", "notes"), ("d", "Other")]
    names = assign_names(items, ".md")
    assert names == {
        "aaaa1111": "Notes.md",
        "bbbb2222": "Notes (bbbb2222).md",
        "cccc3333": "notes (cccc3333).md",  # case-insensitive file systems would merge them
        "d": "Other.md",
    }
    assert assign_names(reversed(items), ".md") == names
    # A new note with the same title (and a smaller id) does not take an existing name.
    again = assign_names([*items, ("0000", "Notes")], ".md", previous=names)
    assert {k: again[k] for k in names} == names
    assert again["0000"] == "Notes (0000).md"
    # A renamed note gets a name from its new title; names taken by other files are avoided.
    renamed = assign_names([("d", "Renamed")], ".md", previous=names, taken=["Renamed.md"])
    assert renamed == {"d": "Renamed (d).md"}


def test_previous_names_that_are_unsafe_are_not_kept():
    assert assign_names([("a", "x")], ".md", previous={"a": "../x.md"}) == {"a": "x.md"}
