"""The main window: composes the registered tabs (ui/tabs.py), the menus (shortcuts shown), the status
line, the log panel.

It does no I/O of its own: drops and menu commands are forwarded to the tabs (which hand work to
workers), and layout is saved to / restored from the typed settings.
"""

from __future__ import annotations

import logging
from typing import Optional

from PySide6.QtCore import QByteArray, Qt
from PySide6.QtGui import QAction, QIcon, QKeySequence
from PySide6.QtWidgets import (
    QDockWidget, QLabel, QMainWindow, QMessageBox, QPlainTextEdit, QTabWidget, QWidget,
)

from songsim_desktop import paths
from songsim_desktop.settings import Settings
from songsim_desktop.ui import actions
from songsim_desktop.ui.context import AppContext
from songsim_desktop.ui.library_tab import LibraryTab
from songsim_desktop.ui.search_tab import SearchTab
from songsim_desktop.ui import tabs as tab_registry
from songsim_desktop.ui.training_tab import TrainingTab

LEVEL_PREFIX = {logging.WARNING: "warning: ", logging.ERROR: "error: ", logging.CRITICAL: "error: "}


class MainWindow(QMainWindow):
    def __init__(self, ctx: AppContext, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.setWindowTitle("songsim — find songs that sound alike")
        icon = paths.resources_dir() / "songsim.svg"
        if icon.exists():
            self.setWindowIcon(QIcon(str(icon)))
        self.resize(1280, 820)
        self.setMinimumSize(900, 600)
        self.setAcceptDrops(True)
        self.tab_specs = tab_registry.TABS
        self.pages: dict[str, QWidget] = {}  # tab key -> the tab's widget, in registry order
        self.tabs = QTabWidget()
        for position, spec in enumerate(self.tab_specs, start=1):
            page = self.pages[spec.key] = spec.factory(ctx)
            index = self.tabs.addTab(page, spec.plain_title)
            self.tabs.setTabToolTip(index, f"{spec.tooltip} (Ctrl+{position})")
        self.setCentralWidget(self.tabs)
        self._build_log_panel()
        self.status_label = QLabel("")
        self.statusBar().addWidget(self.status_label, 1)
        self._build_menus()
        ctx.message.connect(self.show_message)
        ctx.showTabRequested.connect(self.show_tab)
        ctx.findSimilarRequested.connect(lambda *_: self.show_tab("search"))
        ctx.queryFileRequested.connect(lambda *_: self.show_tab("search"))
        if not ctx.player.available:
            ctx.notify(ctx.player.reason, logging.WARNING)
        self.restore_layout(ctx.settings)

    # --- building -------------------------------------------------------------------------------
    def _build_log_panel(self) -> None:
        self.log_view = QPlainTextEdit()
        self.log_view.setReadOnly(True)
        self.log_view.setMaximumBlockCount(5000)
        self.log_dock = QDockWidget("Log", self)
        self.log_dock.setObjectName("log_dock")
        self.log_dock.setWidget(self.log_view)
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.log_dock)
        self.log_dock.hide()

    def _action(self, menu, text: str, slot, shortcut=None, tip: str = "") -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
            action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        if tip:
            action.setStatusTip(tip)
            action.setToolTip(tip)
        action.triggered.connect(slot)
        menu.addAction(action)
        self.addAction(action)  # shortcuts work even while the menu bar is hidden
        return action

    def _build_menus(self) -> None:
        bar = self.menuBar()
        s, lib, audition = self.search_tab, self.library_tab, self.search_tab.audition
        file_menu = bar.addMenu("&File")
        self.open_action = self._action(file_menu, "&Open reference…", s.choose_reference,
                                        QKeySequence.StandardKey.Open,
                                        "Search the library for tracks that sound like an audio file")
        self._action(file_menu, "&Add music folder…", lib.choose_folder, "Ctrl+Shift+O", "Add and scan a folder")
        self._action(file_menu, "&Rescan library", lambda: lib.start_scan(None), "F5", "Scan for new or changed files")
        self._action(file_menu, "&Export results as M3U…", s.choose_export_path, "Ctrl+E", "Save the result list")
        file_menu.addSeparator()
        self._action(file_menu, "&Quit", self.close, QKeySequence.StandardKey.Quit)
        edit_menu = bar.addMenu("&Edit")
        self._action(edit_menu, "&Copy result paths", s.copy_selected_paths, "Ctrl+Shift+C")
        self._action(edit_menu, "&Filter library", self._focus_filter, QKeySequence.StandardKey.Find)
        play = bar.addMenu("&Playback")
        self.play_action = self._action(play, "&Play / Pause", audition.play_pause, "Space")
        self._action(play, "&Stop", audition.stop, "Ctrl+.")
        self.toggle_action = self._action(play, "&Toggle reference / result", audition.toggle_reference_result, "T",
                                          "A/B: switch at the same position (Tab in the results list too)")
        self.loop_action = self._action(play, "&Loop", lambda: s.loop_box.toggle(), "L")
        self._action(play, "&Next result", lambda: s.move_result(1), "Ctrl+Down", "Down also works in the list")
        self._action(play, "P&revious result", lambda: s.move_result(-1), "Ctrl+Up", "Up also works in the list")
        self._action(play, "Seek &back 5 s", lambda: audition.nudge(-5.0), "Left")
        self._action(play, "Seek &forward 5 s", lambda: audition.nudge(5.0), "Right")
        view = bar.addMenu("&View")
        for position, spec in enumerate(self.tab_specs, start=1):
            self._action(view, spec.title, lambda _=False, key=spec.key: self.show_tab(key), f"Ctrl+{position}")
        log_toggle = self.log_dock.toggleViewAction()
        log_toggle.setShortcut(QKeySequence("Ctrl+L"))
        view.addAction(log_toggle)
        self.addAction(log_toggle)
        help_menu = bar.addMenu("&Help")
        self._action(help_menu, "&About songsim", self._about)

    # --- the tabs, by key -----------------------------------------------------------------------
    @property
    def library_tab(self) -> LibraryTab:
        return self.pages["library"]

    @property
    def search_tab(self) -> SearchTab:
        return self.pages["search"]

    @property
    def training_tab(self) -> TrainingTab:
        return self.pages["training"]

    def show_tab(self, key: str) -> None:
        """Bring the tab ``key`` to the front; an unknown key (a tab since removed) is ignored."""
        page = self.pages.get(key)
        if page is not None:
            self.tabs.setCurrentWidget(page)

    def current_tab_key(self) -> str:
        current = self.tabs.currentWidget()
        return next(key for key, page in self.pages.items() if page is current)

    def start_fetches(self) -> None:
        """Each tab's first data, fetched by workers, so the window shows at once and fills in."""
        for spec in self.tab_specs:
            if spec.first_fetch is not None:
                spec.first_fetch(self.pages[spec.key])

    # --- behaviour ------------------------------------------------------------------------------
    def show_message(self, text: str, level: int = logging.INFO) -> None:
        """The status line shows the latest message; the log panel keeps them all."""
        if level < logging.INFO:
            self.statusBar().showMessage(text, 3000)
            return
        line = LEVEL_PREFIX.get(level, "") + text
        self.status_label.setText(line)
        self.status_label.setToolTip(line)
        self.log_view.appendPlainText(line)

    def _focus_filter(self) -> None:
        self.show_tab("library")
        self.library_tab.filter_edit.setFocus()
        self.library_tab.filter_edit.selectAll()

    def _about(self) -> None:
        QMessageBox.about(self, "About songsim",
                          "songsim finds the songs in your own library that sound alike.\n"
                          f"Data folder: {paths.data_dir()}")

    def dragEnterEvent(self, event) -> None:  # noqa: N802 - Qt's name
        if event.mimeData().hasUrls():
            folders, files = actions.classify_drop(event.mimeData().urls())
            if folders or files:
                event.acceptProposedAction()
                return
        event.ignore()

    def dropEvent(self, event) -> None:  # noqa: N802
        if self.handle_drop(event.mimeData().urls()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def handle_drop(self, urls) -> bool:
        """A dropped folder joins the library; a dropped audio file becomes the reference."""
        folders, files = actions.classify_drop(urls)
        for folder in folders:
            self.show_tab("library")
            self.ctx.addFolderRequested.emit(folder)
        if files:
            self.ctx.queryFileRequested.emit(files[0])
        if not folders and not files:
            self.show_message("drop a music folder or an audio file", logging.WARNING)
        return bool(folders or files)

    # --- layout persistence ---------------------------------------------------------------------
    def restore_layout(self, settings: Settings) -> None:
        self.geometry_restored = False
        if settings.window_geometry:
            self.geometry_restored = self.restoreGeometry(QByteArray.fromBase64(settings.window_geometry.encode()))
        for name, splitter in self._splitters().items():
            state = settings.splitter_states.get(name)
            if state:
                splitter.restoreState(QByteArray.fromBase64(state.encode()))
        self.show_tab(settings.current_tab)

    def store_layout(self, settings: Settings) -> None:
        settings.window_geometry = bytes(self.saveGeometry().toBase64()).decode()
        settings.splitter_states = {name: bytes(sp.saveState().toBase64()).decode()
                                    for name, sp in self._splitters().items()}
        settings.current_tab = self.current_tab_key()

    def _splitters(self) -> dict:
        """Every tab's splitter, saved under the tab's key: a new tab with a splitter needs no line here."""
        return {key: page.splitter for key, page in self.pages.items() if hasattr(page, "splitter")}

    def closeEvent(self, event) -> None:  # noqa: N802
        self.store_layout(self.ctx.settings)
        self.ctx.pool.abort_all()
        self.ctx.player.shutdown()
        super().closeEvent(event)
