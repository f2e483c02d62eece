"""The three-way merge of a plain file's edit (localfirst.filemerge): base, file, library."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from localfirst.filemerge import changed_fields, closest, merge_set, merge_text

HEAD = '---\nid: "n"\nmodified: 1\n---\n'


def test_changes_on_different_lines_both_land() -> None:
    assert merge_text("a\nb\nc\n", "a\nb\nc\nfile\n", "lib\na\nb\nc\n") == "lib\na\nb\nc\nfile\n"
    assert merge_text("a\nb\nc\n", "a\nB\nc\n", "a\nb\nC\n") == "a\nB\nC\n"


def test_the_same_line_changed_on_both_sides_keeps_both() -> None:
    merged = merge_text("meet at noon\n", "meet at one\n", "meet at two\n")
    assert "two" in merged
    assert "one" in merged


def test_one_side_unchanged_takes_the_other() -> None:
    assert merge_text("x", "y", "x") == "y"
    assert merge_text("x", "x", "z") == "z"


def test_sets_merge_additions_and_removals_from_both_sides() -> None:
    assert merge_set(["a", "b"], ["a", "c"], ["a", "b", "d"]) == ["a", "d", "c"]


def test_changed_fields_are_those_the_file_states_differently() -> None:
    assert changed_fields({"t": 1, "p": False}, {"t": 2, "p": False, "n": 3}, skip={"n"}) == {"t": 2}


def test_an_edit_of_the_newest_base_is_not_taken_for_an_old_buffer() -> None:
    # Regression: an older base whose body was still empty scored better line by line.
    bases = [HEAD + "first thought", HEAD + "first thou", HEAD]
    assert closest(bases, HEAD + "first thought, edited elsewhere") == 0


def test_an_old_buffer_is_recognised() -> None:
    bases = [HEAD + "peer line\nfirst\nsecond\n", HEAD + "first\nsecond\n"]
    assert closest(bases, HEAD + "first\nsecond\nfrom the editor\n") == 1


lines = st.lists(st.sampled_from(["a\n", "b\n", "c\n", "d\n", "e\n"]), max_size=8)


@given(lines, lines, lines)
def test_nothing_either_side_added_is_lost(base: list[str], file: list[str], library: list[str]) -> None:
    merged = merge_text("".join(base), "".join(file), "".join(library)).splitlines(keepends=True)
    for side in (file, library):
        for line in set(side) - set(base):
            assert line in merged
