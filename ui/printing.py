"""Print, or save as PDF, what the window shows: the calendar view on screen (month, week, day
or agenda, scaled to fit one page) or the open note (its text, over as many pages as it takes).

Qt's print support does the work; this module only decides what to paint and how it fits.
"""

from __future__ import annotations

from pathlib import Path

from ui.qt import QPageLayout, QPainter, QPlainTextEdit, QPoint, QPrintDialog, QPrinter, Qt, QWidget, qconnect


def pdf_printer(path: Path) -> QPrinter:
    """A printer that writes a PDF file at ``path``."""
    printer = QPrinter(QPrinter.PrinterMode.HighResolution)
    printer.setOutputFormat(QPrinter.OutputFormat.PdfFormat)
    printer.setOutputFileName(str(path))
    return printer


def paint(target: QWidget, printer: QPrinter) -> None:
    """Paint ``target`` on ``printer``: a note's text flows over pages; a view is scaled to fit
    one page, in landscape when it is wider than tall (as a calendar on screen is)."""
    if isinstance(target, QPlainTextEdit):
        target.document().print_(printer)
        return
    if target.width() > target.height():
        printer.setPageOrientation(QPageLayout.Orientation.Landscape)
    painter = QPainter()
    if not painter.begin(printer):
        raise OSError("the printer could not be opened")
    try:
        page = printer.pageRect(QPrinter.Unit.DevicePixel)
        scale = min(page.width() / max(1, target.width()), page.height() / max(1, target.height()))
        painter.scale(scale, scale)
        target.render(painter, QPoint())
    finally:
        painter.end()


def save_pdf(target: QWidget, path: Path) -> None:
    """Write ``target`` as a PDF file at ``path``."""
    paint(target, pdf_printer(path))


def print_with_dialog(target: QWidget, parent: QWidget) -> QPrintDialog:
    """Ask which printer (not modal to the event loop); printing starts when the user accepts."""
    printer = QPrinter(QPrinter.PrinterMode.HighResolution)
    dialog = QPrintDialog(printer, parent)
    qconnect(dialog.accepted, lambda: paint(target, printer))
    dialog.setWindowModality(Qt.WindowModality.WindowModal)
    dialog.show()
    return dialog
