"""Note highlighting follows the palette: bold and italic keep the palette's text colour (they
were a fixed #202020, invisible on a dark background), and "**bold**" is bold, not italic."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from PySide6.QtGui import QFont, QTextCharFormat

from ui.markdown_highlighter import MarkdownHighlighter
from ui.qt import QApplication, QPalette, QPlainTextEdit
from ui.theme import apply_theme, luminance


@pytest.fixture(params=["light", "dark"])
def editor(request: pytest.FixtureRequest, qapp: QApplication, qtbot: object) -> Iterator[QPlainTextEdit]:
    apply_theme(qapp, request.param)
    edit = QPlainTextEdit()
    edit.setPlainText("Pack **warm clothes**, the _good_ stove.\n# Heading")
    edit.highlighter = MarkdownHighlighter(edit.document(), edit.palette())  # type: ignore[attr-defined]
    yield edit
    apply_theme(qapp, "system")


def format_at(edit: QPlainTextEdit, block: int, column: int) -> QTextCharFormat:
    layout = edit.document().findBlockByNumber(block).layout()
    ranges = layout.formats()  # kept alive while their formats are read
    for rng in ranges:
        if rng.start <= column < rng.start + rng.length:
            return QTextCharFormat(rng.format)
    return QTextCharFormat()


def contrast(a: float, b: float) -> float:
    return (max(a, b) + 0.05) / (min(a, b) + 0.05)


def test_bold_and_italic_are_drawn_in_the_palettes_text_colour(editor):
    bold = format_at(editor, 0, len("Pack **w"))
    assert bold.fontWeight() == QFont.Weight.Bold
    assert not bold.fontItalic()
    assert not bold.hasProperty(QTextCharFormat.Property.ForegroundBrush)  # the palette's Text
    italic = format_at(editor, 0, len("Pack **warm clothes**, the _g"))
    assert italic.fontItalic()
    assert not italic.hasProperty(QTextCharFormat.Property.ForegroundBrush)


def test_headings_contrast_with_the_background(editor):
    heading = format_at(editor, 1, 3)
    base = editor.palette().color(QPalette.ColorRole.Base)
    assert contrast(luminance(heading.foreground().color()), luminance(base)) >= 4.5


def test_task_boxes_and_note_links_are_highlighted(editor):
    editor.setPlainText("- [ ] buy food, see [[Groceries]]")
    box = format_at(editor, 0, 3)
    link = format_at(editor, 0, len("- [ ] buy food, see [[G"))
    assert box.fontWeight() == QFont.Weight.Bold
    assert link.foreground().color() == editor.highlighter.formats()[-1].foreground().color()
    assert link.hasProperty(QTextCharFormat.Property.ForegroundBrush)
