"""Small widget constructors the tabs share, so equal controls are built (and behave) alike."""

from __future__ import annotations

from typing import Callable

from PySide6.QtCore import QSortFilterProxyModel, Qt
from PySide6.QtWidgets import QAbstractItemView, QPushButton, QTableView


def push_button(text: str, tooltip: str, on_click: Callable[[], object]) -> QPushButton:
    """A button with its tooltip (every button has one) and its action."""
    button = QPushButton(text)
    button.setToolTip(tooltip)
    button.clicked.connect(on_click)
    return button


def record_table(proxy: QSortFilterProxyModel, *, draggable: bool = True) -> QTableView:
    """A sortable, multi-select table of tracks or results, rows dragged out as files.

    One constructor for the library, search and training tables so they behave alike.
    """
    table = QTableView()
    table.setModel(proxy)
    table.setSortingEnabled(True)
    table.sortByColumn(0, Qt.SortOrder.AscendingOrder)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
    if draggable:
        table.setDragEnabled(True)
        table.setDragDropMode(QAbstractItemView.DragDropMode.DragOnly)
    table.verticalHeader().setVisible(False)
    return table
