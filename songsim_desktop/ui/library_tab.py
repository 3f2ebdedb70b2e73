"""Library tab: music folders, the background scan (progress, tracks/s, ETA, Cancel), the track table.

First run (no folder yet) shows two big choices instead: pick a music folder, or open the demo
library the app generates in its own data folder.  The table fills while the scan runs (a
throttled refresh, fetched by a worker), sorts by any column and filters as you type.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Optional

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QComboBox, QFileDialog, QHBoxLayout, QHeaderView, QLabel, QLineEdit, QMenu, QProgressBar,
    QStackedWidget, QVBoxLayout, QWidget,
)

from songsim_desktop.core.library import normalise_root
from songsim_desktop.core.demo_library import demo_library_job
from songsim_desktop.ui import actions
from songsim_desktop.ui.context import AppContext
from songsim_desktop.ui.models import RecordFilterProxy
from songsim_desktop.ui.tempo_key import TempoKeyFilter, code_of
from songsim_desktop.ui.workers import Worker
from songsim_desktop.ui.widgets import push_button, record_table

TABLE_REFRESH_MS = 600  # while a scan runs: often enough to see rows arrive, rarely enough to be free


def describe_progress(p) -> str:
    text = f"{p.stage}: {p.done}/{p.total}"
    if p.rate:
        text += f" · {p.rate:.1f} tracks/s"
    if p.eta_s is not None:
        text += f" · ETA {int(p.eta_s) // 60}:{int(p.eta_s) % 60:02d}"
    return text


class LibraryTab(QWidget):
    scanFinished = Signal(object)  # ScanReport (or None when it failed)

    def __init__(self, ctx: AppContext, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.scan_worker: Optional[Worker] = None
        self.demo_worker: Optional[Worker] = None
        self._queued_roots: list[Optional[str]] = []
        self.stack = QStackedWidget()
        self.stack.addWidget(self._build_first_run())
        self.stack.addWidget(self._build_library())
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.stack)
        self._refresh_timer = QTimer(self)
        self._refresh_timer.setInterval(TABLE_REFRESH_MS)
        self._refresh_timer.timeout.connect(ctx.refresh_tracks)
        ctx.tracksChanged.connect(self._update_page)
        ctx.addFolderRequested.connect(self.add_folder)

    # --- building -------------------------------------------------------------------------------
    def _tempo_key_filter_changed(self) -> None:
        chosen = self.tempo_key_filter.track_filter()
        self.proxy.set_row_filter((lambda t: chosen.accepts(t.tempo, code_of(t.key))) if chosen.active else None)

    def _build_first_run(self) -> QWidget:
        page = QWidget()
        layout = QVBoxLayout(page)
        layout.addStretch(1)
        hello = QLabel("<h2>Find the songs in your library that sound alike</h2>"
                       "<p>Pick your music folder to scan it, or try a small demo library that songsim "
                       "generates in its own data folder (your music folders are never written to).</p>")
        hello.setWordWrap(True)
        hello.setAlignment(Qt.AlignmentFlag.AlignCenter)
        layout.addWidget(hello)
        row = QHBoxLayout()
        row.addStretch(1)
        self.first_run_folder_button = push_button(
            "Choose music folder…", "Scan a folder of your music (nothing is written into it)",
            self.choose_folder)
        self.demo_button = push_button(
            "Open demo library", "Generate 24 short synthesised tracks in songsim's data folder and scan them",
            self.open_demo_library)
        for button in (self.first_run_folder_button, self.demo_button):
            button.setMinimumHeight(40)
            row.addWidget(button)
        row.addStretch(1)
        layout.addLayout(row)
        self.first_run_status = QLabel("")
        self.first_run_status.setAlignment(Qt.AlignmentFlag.AlignCenter)
        layout.addWidget(self.first_run_status)
        layout.addStretch(2)
        return page

    def _build_library(self) -> QWidget:
        page = QWidget()
        layout = QVBoxLayout(page)
        layout.setContentsMargins(0, 0, 0, 0)
        top = QHBoxLayout()
        self.add_button = push_button(
            "Add folder…", "Add a music folder and scan it (Ctrl+Shift+O); or drop a folder on the window",
            self.choose_folder)
        self.rescan_button = push_button(
            "Rescan", "Scan every folder again; only new or changed files are decoded (F5)",
            lambda: self.start_scan(None))
        self.folder_combo = QComboBox()
        self.folder_combo.setToolTip("Music folders in the library")
        self.folder_combo.setMinimumContentsLength(24)
        self.remove_button = push_button(
            "Remove folder", "Forget the chosen folder's tracks (the files are not touched)",
            self.remove_current_folder)
        self.filter_edit = QLineEdit()
        self.filter_edit.setPlaceholderText("Filter: title, artist, album, genre, tags…")
        self.filter_edit.setClearButtonEnabled(True)
        self.filter_edit.setToolTip("Type to filter the table (Ctrl+F)")
        for widget in (self.add_button, self.rescan_button, self.folder_combo, self.remove_button):
            top.addWidget(widget)
        top.addWidget(self.filter_edit, 1)
        layout.addLayout(top)

        progress_row = QHBoxLayout()
        self.progress_bar = QProgressBar()
        self.progress_bar.setTextVisible(True)
        self.progress_label = QLabel("")
        self.cancel_button = push_button("Cancel", "Stop the scan; everything scanned so far is kept", self.cancel_scan)
        progress_row.addWidget(self.progress_bar, 1)
        progress_row.addWidget(self.progress_label)
        progress_row.addWidget(self.cancel_button)
        layout.addLayout(progress_row)
        self._show_progress(False)

        self.proxy = RecordFilterProxy(self.ctx.tracks_model, self)
        self.filter_edit.textChanged.connect(self.proxy.set_filter_text)
        self.tempo_key_filter = TempoKeyFilter()
        self.tempo_key_filter.changed.connect(self._tempo_key_filter_changed)
        layout.addWidget(self.tempo_key_filter)
        self.table = record_table(self.proxy)
        self.table.setAlternatingRowColors(True)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.setColumnWidth(0, 240)
        self.table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.table.customContextMenuRequested.connect(self._context_menu)
        self.table.doubleClicked.connect(lambda _i: self.find_similar_selected())
        self.table.setToolTip("Double-click a track to find similar ones; drag rows out as files")
        layout.addWidget(self.table, 1)
        return page

    # --- folders and scanning -------------------------------------------------------------------
    def choose_folder(self) -> None:
        start = self.ctx.settings.last_open_dir or str(Path.home())
        folder = QFileDialog.getExistingDirectory(self, "Add a music folder", start)
        if folder:
            self.add_folder(folder)

    def add_folder(self, folder: str) -> None:
        folder = normalise_root(folder)
        self.ctx.settings.last_open_dir = folder
        self.stack.setCurrentIndex(1)
        self.start_scan(folder)

    def start_scan(self, root: Optional[str]) -> Optional[Worker]:
        """Scan ``root`` (None: every known folder); a request during a scan waits its turn."""
        if self.scanning:
            if root not in self._queued_roots:
                self._queued_roots.append(root)
            self.ctx.notify(f"queued scan of {root or 'all folders'}")
            return None
        self.stack.setCurrentIndex(1)
        self._show_progress(True)
        self.progress_bar.setRange(0, 0)  # busy until the job knows its total
        self.progress_label.setText(f"scanning {root or 'all folders'}…")
        self.ctx.notify(f"scanning {root or 'all folders'}")
        self.scan_worker = self.ctx.pool.run(self.ctx.service.scan_job, root, workers=self.ctx.scan_workers,
                                             name="scan",
                                             on_progress=self._scan_progress, on_result=self._scan_done,
                                             on_error=self._scan_failed, on_cancelled=self._scan_cancelled,
                                             on_finished=self._scan_finished)
        self._refresh_timer.start()
        return self.scan_worker

    @property
    def scanning(self) -> bool:
        return self.scan_worker is not None and not self.scan_worker.is_done

    def cancel_scan(self) -> None:
        self._queued_roots.clear()
        if self.scan_worker is not None:
            self.scan_worker.abort()
            self.progress_label.setText("cancelling…")

    def _scan_progress(self, p) -> None:
        if p.total:
            self.progress_bar.setRange(0, p.total)
            self.progress_bar.setValue(p.done)
        self.progress_label.setText(describe_progress(p))

    def _scan_done(self, report) -> None:
        failed = list(getattr(report, "failed", []) or [])
        for path, reason in failed:
            self.ctx.notify(reason if str(path) in reason else f"{path}: {reason}", logging.WARNING)
        summary = (f"scan {'cancelled' if report.cancelled else 'done'}: {report.added} added, "
                   f"{report.updated} updated, {report.unchanged} unchanged, {report.missing} missing, "
                   f"{len(failed)} failed")
        self.ctx.notify(summary, logging.WARNING if failed else logging.INFO)
        self.scanFinished.emit(report)

    def _scan_failed(self, err) -> None:
        self.ctx.report_error(err, "scanning the library")
        self.scanFinished.emit(None)

    def _scan_cancelled(self) -> None:
        self.ctx.notify("scan cancelled; tracks scanned so far are kept")
        self.scanFinished.emit(None)

    def _scan_finished(self) -> None:
        self._refresh_timer.stop()
        self._show_progress(False)
        self.ctx.refresh_tracks()
        self.refresh_folders()
        if self._queued_roots:
            self.start_scan(self._queued_roots.pop(0))

    def _show_progress(self, visible: bool) -> None:
        for widget in (self.progress_bar, self.progress_label, self.cancel_button):
            widget.setVisible(visible)
        self.rescan_button.setEnabled(not visible)

    def remove_current_folder(self) -> None:
        folder = self.folder_combo.currentText()
        if not folder or self.scanning:
            return
        self.ctx.pool.run(self.ctx.service.remove_root, folder, name="remove_root",
                          on_error=lambda e: self.ctx.report_error(e, f"removing folder {folder}"),
                          on_finished=lambda: (self.ctx.refresh_tracks(), self.refresh_folders()))
        self.ctx.notify(f"removed folder {folder} from the library (files untouched)")

    def refresh_folders(self) -> None:
        self.ctx.pool.run(self.ctx.service.roots, name="roots", on_result=self._set_folders,
                          on_error=lambda e: self.ctx.report_error(e, "listing music folders"))

    def _set_folders(self, roots) -> None:
        self.folder_combo.clear()
        self.folder_combo.addItems([str(r) for r in roots])
        self._update_page()

    def _update_page(self) -> None:
        has_library = self.ctx.tracks_model.rowCount() > 0 or self.folder_combo.count() > 0 or self.scanning
        busy_demo = self.demo_worker is not None and not self.demo_worker.is_done
        self.stack.setCurrentIndex(1 if has_library and not busy_demo else 0)

    # --- first run ------------------------------------------------------------------------------
    def open_demo_library(self) -> Worker:
        self.demo_button.setEnabled(False)
        self.first_run_folder_button.setEnabled(False)
        self.demo_worker = self.ctx.pool.run(
            demo_library_job, name="demo",
            on_progress=lambda p: self.first_run_status.setText(f"generating demo tracks {p.done}/{p.total}…"),
            on_result=lambda folder: self.add_folder(str(folder)),
            on_error=lambda e: self.ctx.report_error(e, "generating the demo library"),
            on_finished=self._demo_finished)
        return self.demo_worker

    def _demo_finished(self) -> None:
        self.demo_button.setEnabled(True)
        self.first_run_folder_button.setEnabled(True)
        self.first_run_status.setText("")

    # --- selected tracks ------------------------------------------------------------------------
    def selected_tracks(self) -> list:
        rows = sorted({i.row() for i in self.table.selectionModel().selectedRows()})
        return [self.proxy.record(r) for r in rows]

    def find_similar_selected(self) -> None:
        tracks = self.selected_tracks()
        if tracks:
            self.ctx.findSimilarRequested.emit(tracks[0].id, tracks[0].path)

    def _context_menu(self, pos) -> None:
        tracks = self.selected_tracks()
        if not tracks:
            return
        menu = QMenu(self)
        menu.addAction("Find similar", self.find_similar_selected)
        menu.addAction("Copy path", lambda: actions.copy_paths([t.path for t in tracks]))
        menu.addAction("Reveal in folder", lambda: actions.reveal_in_folder(tracks[0].path))
        menu.exec(self.table.viewport().mapToGlobal(pos))
