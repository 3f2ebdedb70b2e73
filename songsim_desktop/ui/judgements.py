"""Judging search results in the Search tab (issue 11): "more like this" / "not like this", undo, reset.

:class:`JudgementController` owns the buttons, the keys (``+`` / ``-`` on the results table, Ctrl+Z
undo) and the table's context menu.  After each query it opens a steering session for the same
reference on a worker (core.steering: the candidates and their vectors); a judgement then re-orders
the shown list at once on the GUI thread (a few hundred dot products), and the library write runs on
a worker (``session.store()``), so a scan holding the database never freezes the window.
"""

from __future__ import annotations

from typing import Optional

from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtGui import QAction, QKeySequence, QShortcut
from PySide6.QtWidgets import QHBoxLayout, QMenu

from songsim_desktop.ui.widgets import push_button

class _JudgeKeys(QObject):
    """``+`` and ``-`` on the results table (main keyboard with or without Shift, or keypad)."""

    def __init__(self, table, on_sign) -> None:
        super().__init__(table)
        self.on_sign = on_sign
        table.installEventFilter(self)

    def eventFilter(self, _watched, event) -> bool:  # noqa: N802 - Qt's name
        if event.type() != QEvent.Type.KeyPress:
            return False
        allowed = Qt.KeyboardModifier.ShiftModifier | Qt.KeyboardModifier.KeypadModifier
        if event.modifiers() & ~allowed:
            return False
        sign = {Qt.Key.Key_Plus: 1, Qt.Key.Key_Equal: 1, Qt.Key.Key_Minus: -1}.get(event.key())
        if sign is None:
            return False
        self.on_sign(sign)
        return True


class JudgementController(QObject):
    rankingChanged = Signal()  # the shown list was re-ordered (a judgement, an undo, a reset)
    sessionReady = Signal()  # the current query can be judged

    def __init__(self, tab, buttons: QHBoxLayout) -> None:
        super().__init__(tab)
        self.tab, self.ctx = tab, tab.ctx
        self.session = None
        self._serial = 0
        self.open_worker = self.store_worker = None
        self.like_button = push_button("More like this (+)", "The selected result is what you are after: "
                                       "the list re-orders toward it (+)", lambda: self.judge_selected(1))
        self.dislike_button = push_button("Not like this (−)", "The selected result is not what you are after: "
                                          "the list re-orders away from it (−)", lambda: self.judge_selected(-1))
        self.undo_button = push_button("Undo judgement", "Take back the last judgement (Ctrl+Z)", self.undo)
        self.reset_button = push_button("Reset ranking", "Back to the plain ranking (what you said stays "
                                        "stored: fine-tuning learns from it)", self.reset)
        row = QHBoxLayout()
        for b in (self.like_button, self.dislike_button, self.undo_button, self.reset_button):
            row.addWidget(b)
        buttons.insertLayout(0, row)
        table = tab.table
        self._keys = _JudgeKeys(table, self.judge_selected)
        self._undo_shortcut = QShortcut(QKeySequence.StandardKey.Undo, table, self.undo,
                                        context=Qt.ShortcutContext.WidgetWithChildrenShortcut)
        table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        table.customContextMenuRequested.connect(self._context_menu)
        self._update_buttons()

    # --- the session of the current query -----------------------------------------------------
    def clear(self) -> None:
        """A new query started: nothing to judge until its session is open."""
        self._serial += 1
        self.session = None
        self._update_buttons()

    def results_arrived(self, reference_path: str) -> None:
        """The plain results are shown; open the steering session for the same reference."""
        serial = self._serial
        self.open_worker = self.ctx.pool.run(
            self.ctx.service.steer_file, reference_path, False, name="steer",
            on_result=lambda s: self._session_opened(s) if serial == self._serial else None,
            on_error=lambda e: self.ctx.report_error(e, f"preparing to steer the search for {reference_path}"))
        return self.open_worker

    def _session_opened(self, session) -> None:
        self.session = session
        self._update_buttons()
        self.sessionReady.emit()

    # --- judging --------------------------------------------------------------------------------
    def selected_match(self):
        index = self.tab.table.currentIndex()
        return self.tab.results_proxy.record(index.row()) if index.isValid() else None

    def judge_selected(self, sign: int) -> bool:
        match = self.selected_match()
        if self.session is None or match is None:
            self.ctx.notify("select a result of a finished search to judge it")
            return False
        try:
            self.session.judge(match.track_id, sign)
        except KeyError:
            self.ctx.notify("this result is outside the steerable candidates of the query")
            return False
        self._show(match.track_id)
        self.ctx.notify(f"{'more' if sign > 0 else 'not'} like this: {match.path}")
        return True

    def undo(self) -> None:
        if self.session is not None and self.session.can_undo:
            self._show(self.session.undo())

    def reset(self) -> None:
        if self.session is not None:
            self.session.reset()
            self._show(None)

    def _show(self, keep_track_id: Optional[int]) -> None:
        """Show the steered list, keep the judged track selected, write in the background."""
        self.tab.results_model.set_matches(self.session.result(self.ctx.settings.result_count).matches)
        rows = [m.track_id for m in self.tab.results_model.rows]
        if keep_track_id in rows:
            proxy_row = self.tab.results_proxy.mapFromSource(
                self.tab.results_model.index(rows.index(keep_track_id), 0)).row()
            self.tab.table.selectRow(proxy_row)
        self._update_buttons()
        self.store_worker = self.ctx.pool.run(self.session.store, name="judgements",
                                              on_error=lambda e: self.ctx.report_error(e, "saving a judgement"))
        self.rankingChanged.emit()

    def _update_buttons(self) -> None:
        ready = self.session is not None
        for b in (self.like_button, self.dislike_button):
            b.setEnabled(ready)
        self.undo_button.setEnabled(ready and self.session.can_undo)
        self.reset_button.setEnabled(ready and bool(self.session.steered.signs))

    def _context_menu(self, pos) -> None:
        menu = self.context_menu()
        menu.exec(self.tab.table.viewport().mapToGlobal(pos))

    def context_menu(self) -> QMenu:
        menu = QMenu(self.tab.table)
        for text, slot, enabled in (
                ("More like this", lambda: self.judge_selected(1), self.like_button.isEnabled()),
                ("Not like this", lambda: self.judge_selected(-1), self.dislike_button.isEnabled()),
                ("Undo judgement", self.undo, self.undo_button.isEnabled()),
                ("Reset ranking", self.reset, self.reset_button.isEnabled())):
            action = QAction(text, menu)
            action.triggered.connect(slot)
            action.setEnabled(enabled)
            menu.addAction(action)
        return menu
