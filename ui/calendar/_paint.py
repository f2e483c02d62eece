"""Drawing an event chip: its theme colours, hatch, and a title that fits (elided, never cut
mid-line); shared by the month and time-grid views."""

from __future__ import annotations

from dataclasses import dataclass

from localfirst.recurrence import Occurrence
from ui.qt import QColor, QFont, QFontMetricsF, QPainter, QPalette, QPen, QRectF, Qt, SignalInstance
from ui.theme import ACCENT_RED, DEFAULT_EVENT_COLOUR, item_colours

DEFAULT_COLOUR = DEFAULT_EVENT_COLOUR
#: What a booking's status adds to its title.
#: Drawn before the title, so a short chip cuts the title rather than the status.
STATUS_LABEL = {"tentative": "Tentative: ", "conflict": "Rejected: "}
#: The smallest text drawn in a chip (pixels); a lower chip shows its colour only.
MIN_TEXT_PX = 7


@dataclass(frozen=True, slots=True)
class Shown:
    """An occurrence as a view draws it: its calendar's colour and its booking status."""

    occ: Occurrence
    colour: str = DEFAULT_COLOUR
    status: str = ""  # "", "tentative", "confirmed" or "conflict"
    #: Two devices changed the event at once (the user has versions to choose from).
    conflicted: bool = False
    #: Why a booking is not at the time asked for (rejected, or moved to an alternative).
    note: str = ""

    @property
    def key(self) -> str:
        return self.occ.key


_METRICS: dict[str, QFontMetricsF] = {}


def metrics_of(font: QFont) -> QFontMetricsF:
    """The font's metrics, made once per font (a view paints hundreds of chips)."""
    key = font.key()
    found = _METRICS.get(key)
    if found is None:
        found = _METRICS[key] = QFontMetricsF(font)
    return found


def wrap_lines(metrics: QFontMetricsF, text: str, width: float, lines: int) -> list[str]:
    """``text`` greedily wrapped at words into at most ``lines`` lines of ``width``; the last
    line shown ends in an ellipsis when text is left over, and a word too long for a line is
    elided there."""
    if lines == 1:  # the usual chip: one elided line, all in Qt
        return [metrics.elidedText(" ".join(text.split()), Qt.TextElideMode.ElideRight, width)]
    out: list[str] = []
    words = text.split()
    while words and len(out) < lines:
        line = words.pop(0)
        while words and metrics.horizontalAdvance(f"{line} {words[0]}") <= width:
            line = f"{line} {words.pop(0)}"
        if len(out) == lines - 1 and words:
            line = f"{line} {' '.join(words)}"
            words = []
        out.append(metrics.elidedText(line, Qt.TextElideMode.ElideRight, width))
    return out


def chip_lines(font: QFont, rect: QRectF, text: str) -> tuple[QFont, list[str]]:
    """The font and lines a chip of this size shows: one elided line in a smaller font when the
    chip is lower than a line, else as many whole lines as fit."""
    inner = rect.adjusted(3, 1, -2, -2)
    metrics = metrics_of(font)
    if inner.height() < metrics.height():
        small = QFont(font)
        # A font's line is about 1.2 times its pixel size: keep the descenders inside.
        small.setPixelSize(max(MIN_TEXT_PX, int((inner.height() + 1) / 1.2)))
        if inner.height() + 2 < MIN_TEXT_PX:
            return small, []
        return small, wrap_lines(metrics_of(small), text, inner.width(), 1)
    lines = max(1, int(inner.height() // metrics.lineSpacing()))
    return font, wrap_lines(metrics, text, inner.width(), lines)


#: What marks an event with concurrent versions, in every view.
CONFLICT_MARK = "⚠ "


def chip_text(shown: Shown, text: str) -> str:
    mark = CONFLICT_MARK if shown.conflicted else ""
    return mark + STATUS_LABEL.get(shown.status, "") + text


def paint_item(
    painter: QPainter, palette: QPalette, rect: QRectF, shown: Shown, text: str, selected: bool
) -> None:
    """One event chip: fill, outline (dashed for a booking not yet held), hatch, title."""
    colours = item_colours(palette, shown.colour, shown.status, selected)
    pen = QPen(
        QColor(ACCENT_RED) if shown.conflicted else colours.outline, 2 if selected or shown.conflicted else 1
    )
    if colours.hatch is not None:
        pen.setStyle(Qt.PenStyle.DashLine)
    painter.setPen(pen)
    painter.setBrush(colours.fill)
    painter.drawRoundedRect(rect.adjusted(0.5, 0.5, -0.5, -1.5), 3, 3)  # a gap to the next
    if colours.hatch is not None:
        painter.setBrush(colours.hatch)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.drawRoundedRect(rect.adjusted(1, 1, -1, -2), 3, 3)
    font, lines = chip_lines(painter.font(), rect, chip_text(shown, text))
    if not lines:
        return
    saved = painter.font()
    painter.setFont(font)
    painter.setPen(colours.text)
    metrics = metrics_of(font)
    inner = rect.adjusted(3, 1, -2, -2)
    if len(lines) == 1:  # one line: centred in a low chip, at the top of a tall one
        height = min(inner.height(), metrics.lineSpacing())
        row = QRectF(inner.left(), inner.top(), inner.width(), height)
        painter.drawText(row, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, lines[0])
    else:
        y = inner.top()
        for line in lines:
            row = QRectF(inner.left(), y, inner.width(), metrics.height())
            painter.drawText(row, Qt.AlignmentFlag.AlignLeft, line)
            y += metrics.lineSpacing()
    painter.setFont(saved)


def tooltip_text(occ: Occurrence, shown: Shown, when: str, calendar: str) -> str:
    """What hovering an event shows: title, time, place, calendar, status (plain text)."""
    lines = [occ.title or "(untitled)", when]
    location = occ.values.get("location")
    if isinstance(location, str) and location.strip():
        lines.append(f"at {location.strip()}")
    if calendar:
        lines.append(calendar)
    status = {"tentative": "tentative (waiting for the primary)", "conflict": "rejected: the slot is taken"}
    if shown.note:
        lines.append(shown.note)
    elif shown.status in status:
        lines.append(status[shown.status])
    if shown.conflicted:
        lines.append("changed on two devices at once: open it to choose")
    return "\n".join(lines)


def occurrence_key(occ: Occurrence | None, key: int, edit: SignalInstance, delete: SignalInstance) -> bool:
    """The keys every view gives a selected event: Delete or Backspace deletes it, Return or
    Enter opens it. True when the key was one of those (and acted on)."""
    if occ is None:
        return False
    if key in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace):
        delete.emit(occ)
        return True
    if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
        edit.emit(occ)  # (a list would also pass the key on to the pane)
        return True
    return False
