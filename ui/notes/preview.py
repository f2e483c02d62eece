"""Markdown preview of a note, rendered safely.

Qt's own Markdown reader (GitHub dialect: tables, task lists) turns the text into a document;
raw HTML in the note is not interpreted, nothing is ever loaded (no images, no remote or local
resources), nothing runs (Qt has no scripting), and a link does nothing until it is clicked:
``[[Note title]]`` opens that note, an http(s)/mailto link opens in the browser, anything else
stays inert.
"""

from __future__ import annotations

import re
from urllib.parse import quote, unquote

from ui.qt import QTextBrowser, QTextDocument, QUrl, QWidget, Signal

#: URL schemes a Ctrl+click may open; anything else in a note stays text.
SAFE_SCHEMES = frozenset({"http", "https", "mailto"})

NOTE_SCHEME = "note"
_WIKI_LINK = re.compile(r"\[\[([^\[\]\n|]{1,200})\]\]")


def to_markdown(text: str) -> str:
    """The note's text with ``[[Title]]`` turned into links of the ``note:`` scheme."""

    def link(match: re.Match[str]) -> str:
        title = match.group(1).strip()
        shown = title.replace("[", "").replace("]", "")
        return f"[{shown}]({NOTE_SCHEME}:{quote(title, safe='')})"

    return _WIKI_LINK.sub(link, text)


def safe_url(text: str) -> QUrl | None:
    """The URL a click on ``text`` may open, or None unless it is http(s) or mailto."""
    url = QUrl(text, QUrl.ParsingMode.StrictMode)
    if not url.isValid() or url.scheme().lower() not in SAFE_SCHEMES:
        return None
    if url.scheme().lower() != "mailto" and not url.host():
        return None
    return url


class NotePreview(QTextBrowser):
    """The rendered note, read-only; see the module's docstring for what is (not) allowed."""

    #: A ``[[Title]]`` link was clicked (the title).
    note_link_clicked = Signal(str)
    #: A safe web or mail link was clicked.
    link_was_clicked = Signal(QUrl)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setOpenLinks(False)  # a click is handled below, never followed by the widget
        self.setOpenExternalLinks(False)
        self.anchorClicked.connect(self._clicked)

    def show_text(self, text: str) -> None:
        features = (
            QTextDocument.MarkdownFeature.MarkdownDialectGitHub | QTextDocument.MarkdownFeature.MarkdownNoHTML
        )
        self.document().setMarkdown(to_markdown(text), features)

    def loadResource(self, kind: int, name: QUrl | str) -> object:
        return None  # no image or style sheet is ever fetched, local or remote

    def _clicked(self, url: QUrl) -> None:
        if url.scheme() == NOTE_SCHEME:
            self.note_link_clicked.emit(unquote(url.path()))
            return
        safe = safe_url(url.toString())
        if safe is not None:
            self.link_was_clicked.emit(safe)
