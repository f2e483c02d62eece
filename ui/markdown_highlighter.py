"""Markdown highlighting for the plain-text note editor: formats only, the text is never parsed
as HTML or rich text, so nothing in a note can run or load anything."""

from __future__ import annotations

from ui.qt import (
    QColor,
    QFont,
    QPalette,
    QRegularExpression,
    QSyntaxHighlighter,
    QTextCharFormat,
    QTextDocument,
)
from ui.theme import markdown_colours

#: A fenced code block is open at the end of this block.
_IN_FENCE = 1


def _format(
    colour: QColor | None, *, bold: bool = False, italic: bool = False, mono: bool = False
) -> QTextCharFormat:
    """A format; ``colour`` None keeps the palette's text colour (readable in either theme)."""
    fmt = QTextCharFormat()
    if colour is not None:
        fmt.setForeground(colour)
    if bold:
        fmt.setFontWeight(QFont.Weight.Bold)
    if italic:
        fmt.setFontItalic(True)
    if mono:
        fmt.setFontFamilies(["monospace"])
    return fmt


class MarkdownHighlighter(QSyntaxHighlighter):
    """Headings, emphasis, inline and fenced code, links, lists and quotes, in colours derived
    from the palette (``set_palette`` when the theme changes)."""

    def __init__(self, document: QTextDocument, palette: QPalette | None = None) -> None:
        super().__init__(document)
        self._rules: list[tuple[QRegularExpression, QTextCharFormat]] = []
        self._fence = QRegularExpression(r"^\s*```")
        self._code = QTextCharFormat()
        self.set_palette(palette if palette is not None else QPalette())

    def set_palette(self, palette: QPalette) -> None:
        """Take the colours of this palette and highlight again."""
        c = markdown_colours(palette)
        self._rules = [
            (QRegularExpression(r"^#{1,6}\s.*$"), _format(c.heading, bold=True)),
            (QRegularExpression(r"^\s*([-*+]|\d+\.)\s(\[[ xX]\]\s)?"), _format(c.list_marker, bold=True)),
            (QRegularExpression(r"^>.*$"), _format(c.quote, italic=True)),
            (QRegularExpression(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1"), _format(None, bold=True)),
            (
                # One marker, not two: "**bold**" is not italic around "*bold*".
                QRegularExpression(r"(?<![*_\w])([*_])(?![*_\s])(.+?)(?<![\s*_])\1(?![*_\w])"),
                _format(None, italic=True),
            ),
            (QRegularExpression(r"`[^`]+`"), _format(c.code, mono=True)),
            (QRegularExpression(r"\[[^\]]*\]\([^)\s]*\)"), _format(c.link)),
            (QRegularExpression(r"<?\b(https?://|mailto:)[^\s>]+>?"), _format(c.link)),
            (QRegularExpression(r"\[\[[^\[\]\n]+\]\]"), _format(c.link)),  # a link to a note
        ]
        self._code = _format(c.code, mono=True)
        self.rehighlight()

    def formats(self) -> list[QTextCharFormat]:
        """The formats in use (tests check their colours against the palette)."""
        return [fmt for _pattern, fmt in self._rules]

    def highlightBlock(self, text: str) -> None:
        in_fence = self.previousBlockState() == _IN_FENCE
        fence_line = self._fence.match(text).hasMatch()
        if in_fence or fence_line:
            self.setFormat(0, len(text), self._code)
            self.setCurrentBlockState(_IN_FENCE if in_fence != fence_line else 0)
            return
        self.setCurrentBlockState(0)
        for pattern, fmt in self._rules:
            it = pattern.globalMatch(text)
            while it.hasNext():
                match = it.next()
                self.setFormat(match.capturedStart(), match.capturedLength(), fmt)
