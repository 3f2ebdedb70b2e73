"""The list of models: the shipped default and every fine-tuned one; switch between them at any time.

Switching runs core's one switch job (service.switch_model_job) in a worker: it re-embeds the library
with the chosen model (from the features cache, so no audio is decoded again) and only then makes it
active, so search keeps working meanwhile.  The library database alone remembers the active model.
"""

from __future__ import annotations

import logging
from typing import Optional

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QGroupBox, QHBoxLayout, QListWidget, QListWidgetItem, QVBoxLayout

from songsim_desktop.ui.context import AppContext
from songsim_desktop.ui.workers import Worker
from songsim_desktop.ui.widgets import push_button


class ModelsPanel(QGroupBox):
    def __init__(self, ctx: AppContext, parent=None) -> None:
        super().__init__("Models", parent)
        self.ctx = ctx
        self.model_records: list = []
        self.reembed_worker: Optional[Worker] = None
        self._upgrade_checked = False
        layout = QVBoxLayout(self)
        self.models_list = QListWidget()
        self.models_list.setToolTip("The active model is marked ●; the shipped default is always kept")
        row = QHBoxLayout()
        self.activate_button = push_button(
            "Use selected model", "Make the selected model active and re-embed the library with it",
            self.activate_selected_model)
        self.default_button = push_button(
            "Back to default", "Switch back to the model shipped with songsim",
            self.activate_default_model)
        row.addWidget(self.activate_button)
        row.addWidget(self.default_button)
        layout.addWidget(self.models_list, 1)
        layout.addLayout(row)
        ctx.modelsChanged.connect(self.refresh_models)

    def refresh_models(self) -> Worker:
        return self.ctx.pool.run(self.ctx.service.models, name="models", on_result=self._show_models,
                                 on_error=lambda e: self.ctx.report_error(e, "listing models"))

    def _show_models(self, records) -> None:
        self.models_list.clear()
        self.model_records = list(records)
        self._upgrade_default_once()
        for rec in self.model_records:
            mark = "●" if rec.active else "  "
            kind = "default" if rec.builtin else (rec.created_at or "")[:16]
            score = (rec.metrics or {}).get("val_map")
            text = f"{mark} {rec.name}  [{rec.id}]  {kind}" + (f"  mAP {score:.3f}" if score is not None else "")
            item = QListWidgetItem(text)
            item.setData(Qt.ItemDataRole.UserRole, rec.id)
            self.models_list.addItem(item)

    def _upgrade_default_once(self) -> Optional[Worker]:
        """At start-up, after an update that ships a new default model: re-embed with it in the
        background (queries keep using the old vectors until it is done).  Then (or at once) the
        backfill completes the tracks an older songsim scanned, for the model now active (ui/backfill.py)."""
        if self._upgrade_checked:
            return None
        self._upgrade_checked = True
        svc = self.ctx.service
        if svc.default_upgrade_from is None:
            self.ctx.backfill.start()
            return None
        self.ctx.notify(f"the default model changed; re-embedding the library with {svc.default_model_id}")
        worker = self._run_switch(svc.upgrade_default_job, svc.default_model_id)
        worker.signals.finished.connect(self.ctx.backfill.start)  # done, failed or cancelled alike
        return worker

    def activate_selected_model(self) -> Optional[Worker]:
        item = self.models_list.currentItem()
        return self.activate_model(item.data(Qt.ItemDataRole.UserRole)) if item is not None else None

    def activate_default_model(self) -> Optional[Worker]:
        builtin = [r for r in self.model_records if r.builtin]
        return self.activate_model(builtin[0].id) if builtin else None

    def activate_model(self, model_id: str) -> Worker:
        """Switch models: re-embed with it (resumable, from the features cache), then activate it."""
        self.ctx.notify(f"switching to model {model_id}; re-embedding the library")
        return self._run_switch(self.ctx.service.switch_model_job, model_id, model_id)

    def _run_switch(self, job, model_id: str, *args) -> Worker:
        self.reembed_worker = self.ctx.pool.run(
            job, *args, name="switch model",
            on_progress=lambda p: self.ctx.message.emit(p.line(), logging.DEBUG),
            on_result=lambda _r: self._model_switched(model_id),
            on_error=lambda e: self.ctx.report_error(e, f"switching to model {model_id}"),
            on_cancelled=lambda: self.ctx.notify("model switch cancelled; the active model is unchanged"))
        return self.reembed_worker

    def _model_switched(self, model_id: str) -> None:
        self.ctx.notify(f"model {model_id} is active")
        self.ctx.modelsChanged.emit()
