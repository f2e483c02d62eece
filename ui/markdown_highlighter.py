"""Markdown highlighting for the plain-text note editor: formats only, the text is never parsed
as HTML or rich text, so nothing in a note can run or load anything."""

from __future__ import annotations

from ui.qt import QColor, QFont, QRegularExpression, QSyntaxHighlighter, QTextCharFormat, QTextDocument

#: A fenced code block is open at the end of this block.
_IN_FENCE = 1


def _format(
    colour: str, *, bold: bool = False, italic: bool = False, mono: bool = False, size: float = 0
) -> QTextCharFormat:
    fmt = QTextCharFormat()
    fmt.setForeground(QColor(colour))
    if bold:
        fmt.setFontWeight(QFont.Weight.Bold)
    if italic:
        fmt.setFontItalic(True)
    if mono:
        fmt.setFontFamilies(["monospace"])
    if size:
        fmt.setFontPointSize(size)
    return fmt


class MarkdownHighlighter(QSyntaxHighlighter):
    """Headings, emphasis, inline and fenced code, links, lists and quotes."""

    def __init__(self, document: QTextDocument) -> None:
        super().__init__(document)
        heading = _format("#1d4f91", bold=True)
        self._rules: list[tuple[QRegularExpression, QTextCharFormat]] = [
            (QRegularExpression(r"^#{1,6}\s.*$"), heading),
            (QRegularExpression(r"^\s*([-*+]|\d+\.)\s"), _format("#a05a00", bold=True)),
            (QRegularExpression(r"^>.*$"), _format("#5f6b7a", italic=True)),
            (QRegularExpression(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1"), _format("#202020", bold=True)),
            (
                QRegularExpression(r"(?<![*\w])([*_])(?=\S)(.+?)(?<=\S)\1(?![*\w])"),
                _format("#202020", italic=True),
            ),
            (QRegularExpression(r"`[^`]+`"), _format("#8a2b5c", mono=True)),
            (QRegularExpression(r"\[[^\]]*\]\([^)\s]*\)"), _format("#0b62c4")),
            (QRegularExpression(r"<?\b(https?://|mailto:)[^\s>]+>?"), _format("#0b62c4")),
        ]
        self._fence = QRegularExpression(r"^\s*```")
        self._code = _format("#8a2b5c", mono=True)

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
