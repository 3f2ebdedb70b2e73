"""Training tab: tag editor, fine-tuning with a live loss curve, and the list of models (ui/models_panel.py).

Tag edits, imports, training and re-embedding all run in workers.  Without torch the tag editor
still works and the training panel explains how to install the extra, instead of crashing; the
check is ``songsim_desktop.training.available()``, which does not import torch.
"""

from __future__ import annotations

import logging
from typing import Optional

from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox, QComboBox, QFormLayout, QGroupBox, QHBoxLayout, QHeaderView, QLabel, QLineEdit,
    QListWidget, QProgressBar, QSpinBox, QSplitter, QVBoxLayout, QWidget,
)

from songsim_desktop import training
from songsim_desktop.core.metadata import split_tags
from songsim_desktop.ui.context import AppContext
from songsim_desktop.ui.models import RecordFilterProxy
from songsim_desktop.ui.feedback_panel import FeedbackPanel
from songsim_desktop.ui.models_panel import ModelsPanel
from songsim_desktop.ui.workers import Worker
from songsim_desktop.ui.widgets import push_button, record_table

INSTALL_HINT = ("Fine-tuning needs PyTorch, which is not installed.\n"
                "Install the training extra, then restart songsim:\n\n    pip install 'songsim-desktop[train]'\n\n"
                "Tags can still be edited here; search and audition work without it.")
VAL_BEFORE_KEYS = ("val_map_before", "parent_val_map", "baseline_val_map")
VAL_AFTER_KEYS = ("val_map_after", "val_map")


def import_file_tags(service) -> int:
    """File metadata -> tags: each track's genre becomes a 'file' tag (worker thread)."""
    by_genre: dict[str, list[int]] = {}
    for track in service.tracks():
        for genre in split_tags(track.genre):
            by_genre.setdefault(genre.lower(), []).append(track.id)
    for genre, ids in by_genre.items():
        service.add_tags(ids, [genre], source="file")
    return sum(len(ids) for ids in by_genre.values())


def _first(mapping: dict, keys) -> Optional[float]:
    for key in keys:
        if mapping.get(key) is not None:
            return float(mapping[key])
    return None


class TrainingTab(QWidget):
    def __init__(self, ctx: AppContext, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.train_worker: Optional[Worker] = None
        self.last_report = None  # the latest TrainReport
        self.losses: list[float] = []
        self.val_before: Optional[float] = None
        self.val_after: Optional[float] = None
        self.can_train = training.available()
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(self._build_tag_editor())
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        right_layout.addWidget(self._build_training() if self.can_train else self._build_install_hint())
        self.feedback_panel = FeedbackPanel(ctx)  # judgements, odd one out (issue 11)
        right_layout.addWidget(self.feedback_panel)
        self.models_panel = ModelsPanel(ctx)
        right_layout.addWidget(self.models_panel)
        self.splitter.addWidget(right)
        self.splitter.setSizes([640, 640])  # until the user's own layout is restored from the settings
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.splitter)
        ctx.tracksChanged.connect(self.refresh_tag_counts)

    # --- building -------------------------------------------------------------------------------
    def _build_tag_editor(self) -> QWidget:
        box = QGroupBox("Tags")
        layout = QVBoxLayout(box)
        self.filter_edit = QLineEdit()
        self.filter_edit.setPlaceholderText("Filter tracks…")
        self.filter_edit.setClearButtonEnabled(True)
        self.proxy = RecordFilterProxy(self.ctx.tracks_model, self)
        self.filter_edit.textChanged.connect(self.proxy.set_filter_text)
        self.table = record_table(self.proxy, draggable=False)
        for hidden in (2, 3, 6):  # album, duration, state: not needed to tag
            self.table.setColumnHidden(hidden, True)
        self.table.setWordWrap(False)
        self.table.setColumnWidth(0, 160)
        self.table.setColumnWidth(1, 80)
        self.table.setColumnWidth(4, 70)
        self.table.horizontalHeader().setSectionResizeMode(5, QHeaderView.ResizeMode.Stretch)  # the tags
        edit_row = QHBoxLayout()
        self.tag_edit = QLineEdit()
        self.tag_edit.setPlaceholderText("tag, e.g. dark, pads, 90s-house")
        self.tag_edit.setToolTip("Tags to add or remove on the selected tracks (comma separated)")
        self.tag_edit.returnPressed.connect(self.add_tags_to_selected)
        self.add_tag_button = push_button("Add tag", "Add the tag(s) to the selected tracks", self.add_tags_to_selected)
        self.remove_tag_button = push_button(
            "Remove tag", "Remove the tag(s) from the selected tracks",
            self.remove_tags_from_selected)
        for w in (self.tag_edit, self.add_tag_button, self.remove_tag_button):
            edit_row.addWidget(w)
        import_row = QHBoxLayout()
        self.import_folders_button = push_button(
            "Import from folder names", "Each track gets its parent folder's name as a tag",
            self.import_folder_tags)
        self.import_meta_button = push_button(
            "Import from file metadata", "Each track's genre tag becomes a tag",
            self.import_metadata_tags)
        import_row.addWidget(self.import_folders_button)
        import_row.addWidget(self.import_meta_button)
        self.tag_counts_list = QListWidget()
        self.tag_counts_list.setMaximumHeight(140)
        self.tag_counts_list.setToolTip("Tags in the library and how many tracks carry each")
        layout.addWidget(self.filter_edit)
        layout.addWidget(self.table, 1)
        layout.addLayout(edit_row)
        layout.addLayout(import_row)
        layout.addWidget(QLabel("Tag counts"))
        layout.addWidget(self.tag_counts_list)
        return box

    def _build_install_hint(self) -> QWidget:
        box = QGroupBox("Fine-tuning")
        layout = QVBoxLayout(box)
        self.install_hint = QLabel(INSTALL_HINT)
        self.install_hint.setWordWrap(True)
        self.install_hint.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.install_hint)
        layout.addStretch(1)
        self.start_button = None
        return box

    def _build_training(self) -> QWidget:
        box = QGroupBox("Fine-tuning")
        layout = QVBoxLayout(box)
        form = QFormLayout()
        self.epochs_spin = QSpinBox()
        self.epochs_spin.setRange(1, 1000)
        self.epochs_spin.setValue(self.ctx.settings.train_epochs)
        self.epochs_spin.setToolTip("Passes over the tagged tracks")
        self.epochs_spin.valueChanged.connect(lambda v: setattr(self.ctx.settings, "train_epochs", int(v)))
        self.loss_combo = QComboBox()
        self.loss_combo.addItems(list(training.LOSSES))
        self.loss_combo.setCurrentText(self.ctx.settings.train_loss)
        self.loss_combo.setToolTip("Contrastive: pairs with a tag-derived margin. Triplet: anchor/positive/negative")
        self.loss_combo.currentTextChanged.connect(lambda t: setattr(self.ctx.settings, "train_loss", t))
        self.folder_tags_box = QCheckBox("folder-name tags")
        self.folder_tags_box.setToolTip("Learn from tags imported from folder names too")
        self.folder_tags_box.setChecked(self.ctx.settings.train_folder_tags)
        self.folder_tags_box.toggled.connect(lambda on: setattr(self.ctx.settings, "train_folder_tags", bool(on)))
        self.file_tags_box = QCheckBox("file-metadata tags")
        self.file_tags_box.setToolTip("Learn from tags imported from file metadata (genre) too")
        self.file_tags_box.setChecked(self.ctx.settings.train_file_tags)
        self.file_tags_box.toggled.connect(lambda on: setattr(self.ctx.settings, "train_file_tags", bool(on)))
        sources = QHBoxLayout()
        sources.addWidget(QLabel("your tags +"))
        sources.addWidget(self.folder_tags_box)
        sources.addWidget(self.file_tags_box)
        sources.addStretch(1)
        form.addRow("Epochs", self.epochs_spin)
        form.addRow("Loss", self.loss_combo)
        form.addRow("Learn from", sources)
        layout.addLayout(form)
        row = QHBoxLayout()
        self.start_button = push_button(
            "Start fine-tuning", "Fine-tune on your tags in the background; the new model becomes active",
            self.start_training)
        self.cancel_button = push_button(
            "Cancel", "Stop training now; the active model stays as it was",
            self.cancel_training)
        self.cancel_button.setEnabled(False)
        row.addWidget(self.start_button)
        row.addWidget(self.cancel_button)
        layout.addLayout(row)
        self.train_progress = QProgressBar()
        self.train_label = QLabel("")
        self.val_label = QLabel("validation mAP: —")
        layout.addWidget(self.train_progress)
        layout.addWidget(self.train_label)
        layout.addWidget(self.val_label)
        self.loss_figure = Figure(figsize=(4, 2), dpi=90, layout="constrained")
        self.loss_canvas = FigureCanvasQTAgg(self.loss_figure)
        self.loss_canvas.setMinimumHeight(150)
        self.loss_axes = self.loss_figure.add_subplot(111)
        self.loss_line, = self.loss_axes.plot([], [], color="#2a7ab0")
        self.loss_axes.set_xlabel("step")
        self.loss_axes.xaxis.set_major_locator(MaxNLocator(integer=True))
        self.loss_axes.set_ylabel("loss")
        layout.addWidget(self.loss_canvas, 1)
        return box

    # --- tags -----------------------------------------------------------------------------------
    def selected_track_ids(self) -> list[int]:
        rows = sorted({i.row() for i in self.table.selectionModel().selectedRows()})
        return [self.proxy.record(r).id for r in rows]

    def _typed_tags(self) -> list[str]:
        return split_tags(self.tag_edit.text())

    def add_tags_to_selected(self) -> Optional[Worker]:
        return self._edit_tags(self.ctx.service.add_tags, "added")

    def remove_tags_from_selected(self) -> Optional[Worker]:
        return self._edit_tags(self.ctx.service.remove_tags, "removed")

    def _edit_tags(self, fn, verb: str) -> Optional[Worker]:
        ids, tags = self.selected_track_ids(), self._typed_tags()
        if not ids or not tags:
            self.ctx.notify("select tracks and type a tag first", logging.WARNING)
            return None
        done = f"{verb} {', '.join(tags)} on {len(ids)} track(s)"
        return self.ctx.pool.run(fn, ids, tags, name="tags", on_result=lambda _r: self.ctx.notify(done),
                                 on_error=lambda e: self.ctx.report_error(e, "editing tags"),
                                 on_finished=self.ctx.refresh_tracks)

    def import_folder_tags(self) -> Worker:
        return self.ctx.pool.run(self.ctx.service.import_folder_tags, name="folder tags",
                                 on_result=lambda n: self.ctx.notify(f"imported {n} tag(s) from folder names"),
                                 on_error=lambda e: self.ctx.report_error(e, "importing tags from folder names"),
                                 on_finished=self.ctx.refresh_tracks)

    def import_metadata_tags(self) -> Worker:
        return self.ctx.pool.run(import_file_tags, self.ctx.service, name="file tags",
                                 on_result=lambda n: self.ctx.notify(f"imported {n} tag(s) from file metadata"),
                                 on_error=lambda e: self.ctx.report_error(e, "importing tags from file metadata"),
                                 on_finished=self.ctx.refresh_tracks)

    def refresh_tag_counts(self) -> Worker:
        return self.ctx.pool.run(self.ctx.service.tag_counts, name="tag counts", on_result=self._show_tag_counts,
                                 on_error=lambda e: self.ctx.report_error(e, "counting tags"))

    def _show_tag_counts(self, counts: dict) -> None:
        self.tag_counts_list.clear()
        for tag, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
            self.tag_counts_list.addItem(f"{tag}  ({n})")

    # --- training -------------------------------------------------------------------------------
    def start_training(self) -> Optional[Worker]:
        if self.train_worker is not None and not self.train_worker.is_done:
            return self.train_worker
        config = training.TrainConfig(epochs=self.epochs_spin.value(), loss=self.loss_combo.currentText(),
                                      use_folder_tags=self.folder_tags_box.isChecked(),
                                      use_file_tags=self.file_tags_box.isChecked(),
                                      **self.feedback_panel.config_options())
        self.losses, self.val_before, self.val_after = [], None, None
        self._draw_losses()
        self.val_label.setText("validation mAP: measuring…")
        self.start_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.train_progress.setRange(0, 0)
        self.ctx.notify(f"fine-tuning: {config.epochs} epoch(s), {config.loss} loss")
        # training.fine_tune: the trainer core's job calls (the lazy entry point; torch loads only now)
        self.train_worker = self.ctx.pool.run(self.ctx.service.train_job, config, training.fine_tune,
                                              name="train", on_progress=self._train_progress,
                                              on_result=self._train_done,
                                              on_error=lambda e: self.ctx.report_error(e, "fine-tuning"),
                                              on_cancelled=lambda: self.ctx.notify("fine-tuning cancelled; the "
                                                                                   "active model is unchanged"),
                                              on_finished=self._train_finished)
        return self.train_worker

    def cancel_training(self) -> None:
        if self.train_worker is not None:
            self.train_worker.abort()
            self.train_label.setText("cancelling…")

    def _train_progress(self, p) -> None:
        if p.total:
            self.train_progress.setRange(0, p.total)
            self.train_progress.setValue(p.done)
        self.train_label.setText(p.line())
        extra = p.extra or {}
        if extra.get("loss") is not None:
            self.losses.append(float(extra["loss"]))
            self._draw_losses()
        before = _first(extra, VAL_BEFORE_KEYS)
        if before is None and self.val_before is None and extra.get("val_map") is not None:
            before = float(extra["val_map"])  # the first validation, before any step, is "before"
        if before is not None and self.val_before is None:
            self.val_before = before
        elif extra.get("val_map") is not None:
            self.val_after = float(extra["val_map"])
        self._show_val()

    def _draw_losses(self) -> None:
        self.loss_line.set_data(range(1, len(self.losses) + 1), self.losses)
        self.loss_axes.relim()
        self.loss_axes.autoscale_view()
        self.loss_canvas.draw_idle()

    def _show_val(self) -> None:
        fmt = lambda v: "—" if v is None else f"{v:.3f}"  # noqa: E731
        self.val_label.setText(f"validation mAP: before {fmt(self.val_before)} → after {fmt(self.val_after)}")

    def _train_done(self, report) -> None:
        self.last_report = report
        metrics = dict(getattr(report, "metrics", {}) or {})
        self.val_before = _first(metrics, VAL_BEFORE_KEYS) if _first(metrics, VAL_BEFORE_KEYS) is not None \
            else self.val_before
        self.val_after = _first(metrics, VAL_AFTER_KEYS) if _first(metrics, VAL_AFTER_KEYS) is not None \
            else self.val_after
        self._show_val()
        self.feedback_panel.show_report(report)
        if getattr(report, "cancelled", False) or not getattr(report, "model_id", None):
            self.ctx.notify("fine-tuning stopped before a model was made")
            return
        self.ctx.notify(f"new model {report.model_id} is active; library re-embedded")
        self.ctx.modelsChanged.emit()

    def _train_finished(self) -> None:
        self.start_button.setEnabled(True)
        self.cancel_button.setEnabled(False)
        self.train_progress.setRange(0, 1)
        self.train_progress.setValue(1)
