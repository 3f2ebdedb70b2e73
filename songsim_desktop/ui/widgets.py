"""Small widget constructors the tabs share, so equal controls are built (and behave) alike."""

from __future__ import annotations

from typing import Callable

from PySide6.QtCore import QEvent, QObject, QSortFilterProxyModel, Qt
from PySide6.QtWidgets import QAbstractItemView, QPushButton, QTableView, QWidget


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


class _KeyBinding(QObject):
    def __init__(self, widget: QWidget, key: Qt.Key, on_press: Callable[[], object]) -> None:
        super().__init__(widget)
        self.key, self.on_press = key, on_press
        widget.installEventFilter(self)

    def eventFilter(self, _watched, event) -> bool:  # noqa: N802 - Qt's name
        if (event.type() == QEvent.Type.KeyPress and event.key() == self.key
                and event.modifiers() == Qt.KeyboardModifier.NoModifier):
            self.on_press()
            return True
        return False


def bind_key(widget: QWidget, key: Qt.Key, on_press: Callable[[], object]) -> QObject:
    """``key`` pressed while ``widget`` has focus calls ``on_press`` instead of the key's default.

    An event filter, not a window shortcut: Tab in the results table means A/B, but everywhere else
    it must still move the focus (keyboard users rely on it).
    """
    return _KeyBinding(widget, key, on_press)
