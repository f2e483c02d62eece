"""The app's one source of colours: everything is derived from the application palette.

Views never name a colour: they ask ``grid_colours(palette)`` for the calendar grid's colours,
``item_colours`` for an event chip, ``markdown_colours`` for the note highlighter. The few
accents kept here (the now-line, a rejected booking) read on light and dark backgrounds alike.
``apply_theme(app, "light" | "dark" | "system")`` switches the palette at run time.
"""

from __future__ import annotations

from dataclasses import dataclass

from ui.qt import QApplication, QBrush, QColor, QPalette, Qt, QWidget

THEMES = ("system", "light", "dark")
#: The colour of a calendar that names none (a mid blue that reads on white and on black).
DEFAULT_EVENT_COLOUR = "#4a7fd4"
#: Accents that carry a meaning (now, today, a rejected booking), the same in either theme.
ACCENT_RED = "#e0483e"


def is_dark(palette: QPalette) -> bool:
    """Whether the palette draws light text on a dark window."""
    return palette.color(QPalette.ColorRole.Window).lightness() < 128


def mix(a: QColor, b: QColor, amount: float) -> QColor:
    """``a`` moved ``amount`` (0..1) of the way towards ``b``."""
    return QColor(
        round(a.red() + (b.red() - a.red()) * amount),
        round(a.green() + (b.green() - a.green()) * amount),
        round(a.blue() + (b.blue() - a.blue()) * amount),
    )


def luminance(colour: QColor) -> float:
    """Relative luminance (WCAG), 0 for black to 1 for white."""

    def channel(value: int) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.03928 else float(((c + 0.055) / 1.055) ** 2.4)

    return 0.2126 * channel(colour.red()) + 0.7152 * channel(colour.green()) + 0.0722 * channel(colour.blue())


def text_on(fill: QColor) -> QColor:
    """Black or white, whichever reads better on ``fill``."""
    return QColor("#000000") if luminance(fill) > 0.22 else QColor("#ffffff")


@dataclass(frozen=True, slots=True)
class GridColours:
    """Colours of the month and time-grid views, for one palette."""

    background: QColor  # a day in the period shown
    outside: QColor  # a day outside the month shown
    header: QColor  # the day names, the all-day band
    line: QColor  # hour and day lines
    strong_line: QColor  # under the all-day band
    text: QColor  # day names, event text on the background
    dim_text: QColor  # hour labels, days of other months
    today: QColor  # today's column and cell
    today_text: QColor  # today's digit and header label
    now: QColor  # the current-time line
    working: QColor  # working hours in the time grid
    ghost: QColor  # the outline of an event being dragged
    conflict: QColor  # the outline of a rejected booking


_GRID: dict[int, GridColours] = {}
_ITEMS: dict[tuple[int, str, str, bool], ItemColours] = {}


def grid_colours(palette: QPalette) -> GridColours:
    """The calendar grid's colours for this palette (light or dark alike); worked out once per
    palette (a view asks for them at every paint)."""
    key = palette.cacheKey()
    found = _GRID.get(key)
    if found is None:
        if len(_GRID) > 64:
            _GRID.clear()
        found = _GRID[key] = _grid_colours(palette)
    return found


def _grid_colours(palette: QPalette) -> GridColours:
    role = QPalette.ColorRole
    base, window = palette.color(role.Base), palette.color(role.Window)
    text, highlight = palette.color(role.Text), palette.color(role.Highlight)
    dark = is_dark(palette)
    return GridColours(
        background=base,
        outside=mix(base, window, 0.6) if base != window else mix(base, text, 0.05),
        header=mix(window, base, 0.3),
        line=mix(base, text, 0.16),
        strong_line=mix(base, text, 0.35),
        text=text,
        dim_text=mix(text, base, 0.4),
        today=mix(base, highlight, 0.22 if dark else 0.12),
        today_text=mix(highlight, text, 0.35) if dark else highlight.darker(115),
        now=QColor(ACCENT_RED),
        working=mix(base, text, 0.03),
        ghost=text,
        conflict=QColor(ACCENT_RED),
    )


@dataclass(frozen=True, slots=True)
class ItemColours:
    """How an event chip is drawn: its fill, outline, text and (tentative/rejected) hatch."""

    fill: QColor
    outline: QColor
    text: QColor
    hatch: QBrush | None


def item_colours(palette: QPalette, colour: str, status: str = "", selected: bool = False) -> ItemColours:
    """An event chip in its calendar's ``colour``; a tentative booking is hatched, a rejected
    one is hatched across; the fill is blended with the background so that it suits the theme.
    Worked out once per palette and calendar colour (a month paints hundreds of chips)."""
    key = (palette.cacheKey(), colour, status, selected)
    found = _ITEMS.get(key)
    if found is None:
        if len(_ITEMS) > 1024:
            _ITEMS.clear()
        found = _ITEMS[key] = _item_colours(palette, colour, status, selected)
    return found


def _item_colours(palette: QPalette, colour: str, status: str, selected: bool) -> ItemColours:
    base = palette.color(QPalette.ColorRole.Base)
    own = QColor(colour) if QColor.isValidColorName(colour) else QColor(DEFAULT_EVENT_COLOUR)
    faint = status in ("tentative", "conflict")
    fill = mix(own, base, 0.65 if faint else (0.15 if is_dark(palette) else 0.1))
    outline = own.lighter(140) if is_dark(palette) else own.darker(140)
    if selected:
        outline = palette.color(QPalette.ColorRole.Text)
    if status == "conflict":
        outline = QColor(ACCENT_RED)
    hatch = None
    if faint:
        style = Qt.BrushStyle.BDiagPattern if status == "tentative" else Qt.BrushStyle.DiagCrossPattern
        hatch = QBrush(mix(own, base, 0.25), style)
    return ItemColours(fill, outline, text_on(fill), hatch)


@dataclass(frozen=True, slots=True)
class MarkdownColours:
    """Foregrounds of the note highlighter (emphasis keeps the palette's text colour)."""

    heading: QColor
    list_marker: QColor
    quote: QColor
    code: QColor
    link: QColor


def markdown_colours(palette: QPalette) -> MarkdownColours:
    role = QPalette.ColorRole
    text, base = palette.color(role.Text), palette.color(role.Base)
    if is_dark(palette):
        return MarkdownColours(
            heading=QColor("#8ab4f8"),
            list_marker=QColor("#f0a35e"),
            quote=mix(text, base, 0.35),
            code=QColor("#e38bb5"),
            link=palette.color(role.Link).lighter(130),
        )
    return MarkdownColours(
        heading=QColor("#1d4f91"),
        list_marker=QColor("#a05a00"),
        quote=mix(text, base, 0.4),
        code=QColor("#8a2b5c"),
        link=palette.color(role.Link),
    )


def mark_error(widget: QWidget) -> None:
    """Draw a widget's text (an inline validation message) in the error accent."""
    palette = widget.palette()
    palette.setColor(QPalette.ColorRole.WindowText, QColor(ACCENT_RED))
    widget.setPalette(palette)


def dark_palette() -> QPalette:
    """A neutral dark palette (used when the user picks "dark" whatever the system shows)."""
    p = QPalette()
    role, group = QPalette.ColorRole, QPalette.ColorGroup
    colours = {
        role.Window: "#2b2b2b",
        role.WindowText: "#e6e6e6",
        role.Base: "#1f1f1f",
        role.AlternateBase: "#2a2a2a",
        role.ToolTipBase: "#353535",
        role.ToolTipText: "#e6e6e6",
        role.PlaceholderText: "#8c8c8c",
        role.Text: "#e6e6e6",
        role.Button: "#353535",
        role.ButtonText: "#e6e6e6",
        role.BrightText: "#ff6b6b",
        role.Light: "#4a4a4a",
        role.Midlight: "#3c3c3c",
        role.Mid: "#2f2f2f",
        role.Dark: "#1a1a1a",
        role.Shadow: "#000000",
        role.Highlight: "#3d7bd9",
        role.HighlightedText: "#ffffff",
        role.Link: "#6ea8fe",
        role.LinkVisited: "#b58cf2",
    }
    for r, value in colours.items():
        p.setColor(r, QColor(value))
    for r in (role.Text, role.WindowText, role.ButtonText):
        p.setColor(group.Disabled, r, QColor("#7a7a7a"))
    return p


def light_palette() -> QPalette:
    """A neutral light palette (the "light" choice)."""
    p = QPalette()
    role = QPalette.ColorRole
    colours = {
        role.Window: "#efefef",
        role.WindowText: "#1e1e1e",
        role.Base: "#ffffff",
        role.AlternateBase: "#f5f5f5",
        role.ToolTipBase: "#ffffdc",
        role.ToolTipText: "#1e1e1e",
        role.PlaceholderText: "#808080",
        role.Text: "#1e1e1e",
        role.Button: "#efefef",
        role.ButtonText: "#1e1e1e",
        role.Highlight: "#3d7bd9",
        role.HighlightedText: "#ffffff",
        role.Link: "#0b62c4",
    }
    for r, value in colours.items():
        p.setColor(r, QColor(value))
    return p


_SYSTEM: dict[str, object] = {}


def apply_theme(app: QApplication, choice: str) -> None:
    """Follow the system palette ("system"), or force "light" or "dark"; every view repaints."""
    if choice not in THEMES:
        raise ValueError(f"unknown theme {choice!r}: choose one of {', '.join(THEMES)}")
    if "palette" not in _SYSTEM:
        _SYSTEM["palette"] = QPalette(app.palette())
        _SYSTEM["style"] = app.style().name()
    if choice == "system":
        app.setStyle(str(_SYSTEM["style"]))
        palette = _SYSTEM["palette"]
        assert isinstance(palette, QPalette)
        app.setPalette(palette)
    else:
        app.setStyle("Fusion")  # the platform styles may ignore a custom palette
        app.setPalette(dark_palette() if choice == "dark" else light_palette())
    for widget in app.allWidgets():
        widget.update()
