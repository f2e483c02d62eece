"""The read-only tables the Devices tab shows (its members, its relays): one row selected at a
time, the first column taking the spare width."""

from __future__ import annotations

from collections.abc import Sequence

from ui.qt import QAbstractItemView, QHeaderView, QTableWidget


def read_only_table(columns: Sequence[str]) -> QTableWidget:
    """A table with these column headings, rows selected whole, one at a time, never edited."""
    table = QTableWidget(0, len(columns))
    table.setHorizontalHeaderLabels(list(columns))
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
    table.verticalHeader().hide()
    return table
