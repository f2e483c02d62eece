"""The note preview: Markdown rendered with task boxes, [[links]] to notes, web links that
open only on click, and the note's HTML shown as text (never interpreted), nothing loaded."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QUrl
from PySide6.QtGui import QTextBlockFormat

from ui.backend import Backend
from ui.notes import NotesPane
from ui.notes.preview import NotePreview, to_markdown
from ui.qt import Qt

from .test_notes import make_note, open_in_editor, pane

__all__ = ["pane"]

TEXT = """# Trip

Pack **warm** clothes.

- [ ] tent
- [x] stove

See [[Groceries]] and [the map](https://example.com/map), not [this](file:///etc/passwd).

<script>alert('x')</script><b>raw</b>

![photo](https://example.com/photo.png)
"""


def hrefs(preview: NotePreview) -> list[str]:
    out: list[str] = []
    block = preview.document().begin()
    while block.isValid():
        it = block.begin()
        while not it.atEnd():
            href = it.fragment().charFormat().anchorHref()
            if href and href not in out:
                out.append(href)
            it += 1
        block = block.next()
    return out


def markers(preview: NotePreview) -> list[QTextBlockFormat.MarkerType]:
    """The task boxes drawn: the markers of list items (other blocks draw none)."""
    out: list[QTextBlockFormat.MarkerType] = []
    block = preview.document().begin()
    while block.isValid():
        if block.textList() is not None:
            out.append(block.blockFormat().marker())
        block = block.next()
    return out


def test_wiki_links_become_note_links():
    assert to_markdown("see [[Q3 plan]]!") == "see [Q3 plan](note:Q3%20plan)!"
    assert to_markdown("[[]] and [[a\nb]]") == "[[]] and [[a\nb]]"


def test_preview_renders_markdown_and_no_html(qtbot: Any) -> None:
    preview = NotePreview()
    qtbot.addWidget(preview)
    preview.show_text(TEXT)
    text = preview.toPlainText()
    assert text.startswith("Trip\nPack warm clothes.")
    # HTML in a note is shown as the text it is: not interpreted, nothing run.
    assert "<script>alert('x')</script><b>raw</b>" in text
    assert markers(preview) == [QTextBlockFormat.MarkerType.Unchecked, QTextBlockFormat.MarkerType.Checked]
    assert hrefs(preview) == [
        "note:Groceries",
        "https://example.com/map",
        "file:///etc/passwd",
    ]
    assert preview.loadResource(2, QUrl("https://example.com/photo.png")) is None


def test_links_act_only_on_click_and_only_when_safe(qtbot: Any) -> None:
    preview = NotePreview()
    qtbot.addWidget(preview)
    notes: list[str] = []
    web: list[QUrl] = []
    preview.note_link_clicked.connect(notes.append)
    preview.link_was_clicked.connect(web.append)
    preview.show_text(TEXT)
    assert (notes, web) == ([], [])
    for href in hrefs(preview):
        preview.anchorClicked.emit(QUrl(href))
    assert notes == ["Groceries"]
    assert [u.toString() for u in web] == ["https://example.com/map"]
    assert preview.source().isEmpty()  # never navigated


def test_preview_button_shows_the_rendered_note_and_a_note_link_opens_it(
    qtbot: Any, pane: NotesPane, backend: Backend
) -> None:
    groceries = make_note(backend, title="Groceries", body="milk")
    trip = make_note(backend, title="Trip", body="# Trip\nsee [[groceries]]")
    open_in_editor(qtbot, pane, trip)
    editor = pane.editor
    qtbot.mouseClick(editor.preview_button, Qt.MouseButton.LeftButton)
    assert editor.pages.currentWidget() is editor.preview
    assert editor.preview.toPlainText() == "Trip\nsee groceries"
    editor.preview.anchorClicked.emit(QUrl("note:groceries"))
    qtbot.waitUntil(lambda: editor.note == groceries)
    assert not pane.open_titled("Nowhere")
    assert editor.status.text() == "No note is titled “Nowhere”."
