"""The Duplicates tab: groups of files holding one recording, why, and which copy to keep.

The search runs as a core job on a worker (progress, Cancel).  Each group is a row with its reason
(share of aligned sections matching, offsets, bit error rate, the suggested keeper); its copies are
child rows (format, bit rate, sample rate, duration; the keeper marked).  The user may export the
list (CSV/JSON), reveal a file, or mark a group "not duplicates" (remembered in the library).
Nothing is ever deleted or moved.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from PySide6.QtWidgets import (QFileDialog, QHBoxLayout, QLabel, QProgressBar, QTreeWidget, QTreeWidgetItem,
                               QVBoxLayout, QWidget)

from songsim_desktop.core.duplicates import DuplicateGroup, DuplicatesReport
from songsim_desktop.ui import actions
from songsim_desktop.ui.context import AppContext
from songsim_desktop.ui.models import format_duration
from songsim_desktop.ui.widgets import push_button
from songsim_desktop.ui.workers import Worker

COLUMNS = ("Group / file", "Keep", "Format", "Bit rate", "Sample rate", "Duration")


class DuplicatesTab(QWidget):
    def __init__(self, ctx: AppContext, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.report: Optional[DuplicatesReport] = None
        self.worker: Optional[Worker] = None
        self._build()

    def _build(self) -> None:
        self.find_button = push_button("Find duplicates", "Search the library for copies of one recording",
                                       self.find_duplicates)
        self.cancel_button = push_button("Cancel", "Stop the search", self.cancel)
        self.cancel_button.setEnabled(False)
        self.progress = QProgressBar()
        self.summary = QLabel("Nothing is deleted or moved: export the list, or reveal the files.")
        top = QHBoxLayout()
        for widget in (self.find_button, self.cancel_button, self.progress):
            top.addWidget(widget)
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(list(COLUMNS))
        self.tree.setColumnWidth(0, 520)
        self.tree.setAlternatingRowColors(True)
        self.tree.currentItemChanged.connect(lambda *_: self._enable())
        self.reveal_button = push_button("Reveal file", "Open the selected file's folder", self.reveal_selected)
        self.not_dup_button = push_button("Not duplicates", "These files are different recordings: never group "
                                          "them again", self.mark_selected_not_duplicates)
        self.export_button = push_button("Export…", "Save the list as CSV or JSON", self.choose_export_path)
        bottom = QHBoxLayout()
        bottom.addWidget(self.summary, 1)
        for widget in (self.reveal_button, self.not_dup_button, self.export_button):
            bottom.addWidget(widget)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.tree, 1)
        layout.addLayout(bottom)
        self._enable()

    # --- searching ------------------------------------------------------------------------------------
    def find_duplicates(self) -> Worker:
        self.find_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.summary.setText("searching…")
        self.worker = self.ctx.pool.run(self.ctx.service.duplicates_job, name="duplicates",
                                        on_progress=self._progress, on_result=self.show_report,
                                        on_error=lambda e: self.ctx.report_error(e, "finding duplicates"),
                                        on_cancelled=lambda: self.summary.setText("search cancelled"),
                                        on_finished=self._finished)
        return self.worker

    def cancel(self) -> None:
        if self.worker is not None:
            self.worker.abort()

    def _progress(self, progress) -> None:
        self.progress.setMaximum(max(progress.total, 0))
        self.progress.setValue(progress.done)
        self.progress.setFormat(progress.line())

    def _finished(self) -> None:
        self.find_button.setEnabled(True)
        self.cancel_button.setEnabled(False)

    def show_report(self, report: DuplicatesReport) -> None:
        self.report = report
        self.tree.clear()
        for group in report.groups:
            item = self._group_item(group)
            self.tree.addTopLevelItem(item)
            item.setFirstColumnSpanned(True)  # the reason is a sentence: it gets the whole row
        self.tree.expandAll()
        self.summary.setText(f"{len(report.groups)} groups of duplicates ({report.candidates} candidate pairs "
                             f"checked, {report.ignored} marked not duplicates, {len(report.failed)} files "
                             "unreadable)")
        self._enable()

    @staticmethod
    def _group_item(group: DuplicateGroup) -> QTreeWidgetItem:
        item = QTreeWidgetItem([group.reason()])
        item.setToolTip(0, group.reason())
        item.group = group
        for copy in group.copies:
            keep = copy.track_id == group.keeper_id
            child = QTreeWidgetItem([copy.path, "keep" if keep else "", copy.format,
                                     "lossless" if copy.lossless else f"{copy.bitrate_kbps:.0f} kb/s",
                                     f"{copy.sample_rate} Hz", format_duration(copy.duration_s)])
            child.copy = copy
            item.addChild(child)
        return item

    # --- acting on the list -----------------------------------------------------------------------------
    def _enable(self) -> None:
        current = self.tree.currentItem()
        self.reveal_button.setEnabled(current is not None and hasattr(current, "copy"))
        self.not_dup_button.setEnabled(current is not None)
        self.export_button.setEnabled(bool(self.report and self.report.groups))

    def _current_group_item(self) -> Optional[QTreeWidgetItem]:
        item = self.tree.currentItem()
        return item.parent() if item is not None and item.parent() is not None else item

    def reveal_selected(self) -> None:
        item = self.tree.currentItem()
        if item is not None and hasattr(item, "copy"):
            actions.reveal_in_folder(item.copy.path)

    def mark_selected_not_duplicates(self) -> Optional[Worker]:
        item = self._current_group_item()
        if item is None:
            return None
        paths = item.group.paths
        self.tree.takeTopLevelItem(self.tree.indexOfTopLevelItem(item))
        self.report.groups.remove(item.group)
        self._enable()
        return self.ctx.pool.run(self.ctx.service.mark_not_duplicates, paths, name="not duplicates",
                                 on_result=lambda _n: self.ctx.notify(f"remembered: these {len(paths)} files are "
                                                                      "not duplicates"),
                                 on_error=lambda e: self.ctx.report_error(e, "marking not duplicates"))

    def choose_export_path(self) -> None:
        start = str(Path(self.ctx.settings.last_open_dir or Path.home()) / "duplicates.csv")
        path, _ = QFileDialog.getSaveFileName(self, "Export the duplicates", start, "CSV (*.csv);;JSON (*.json)")
        if path:
            self.export(path)

    def export(self, path: str) -> bool:
        try:
            self.report.export(path)
        except Exception as err:  # noqa: BLE001 - shown, not raised into Qt
            self.ctx.report_error(err, f"exporting the duplicates to {path}")
            return False
        self.ctx.notify(f"exported {len(self.report.groups)} groups to {path}")
        return True
