"""The list of models: the shipped default and every fine-tuned one; switch between them at any time.

Switching re-embeds the library with the chosen model in a worker (from the features cache, so no
audio is decoded again) and only then makes it active, so search keeps working meanwhile.
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
        self._saved_model_applied = False
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
        self._apply_saved_model_once()
        for rec in self.model_records:
            mark = "●" if rec.active else "  "
            kind = "default" if rec.builtin else (rec.created_at or "")[:16]
            score = (rec.metrics or {}).get("val_map")
            text = f"{mark} {rec.name}  [{rec.id}]  {kind}" + (f"  mAP {score:.3f}" if score is not None else "")
            item = QListWidgetItem(text)
            item.setData(Qt.ItemDataRole.UserRole, rec.id)
            self.models_list.addItem(item)

    def _apply_saved_model_once(self) -> None:
        """At start-up: the settings' model wins if the library still has it; else remember the library's."""
        if self._saved_model_applied:
            return
        self._saved_model_applied = True
        active = next((r.id for r in self.model_records if r.active), None)
        wanted = self.ctx.settings.active_model
        if wanted and wanted != active and any(r.id == wanted for r in self.model_records):
            self.activate_model(wanted)
        elif active:
            self.ctx.settings.active_model = active

    def activate_selected_model(self) -> Optional[Worker]:
        item = self.models_list.currentItem()
        return self.activate_model(item.data(Qt.ItemDataRole.UserRole)) if item is not None else None

    def activate_default_model(self) -> Optional[Worker]:
        builtin = [r for r in self.model_records if r.builtin]
        return self.activate_model(builtin[0].id) if builtin else None

    def activate_model(self, model_id: str) -> Worker:
        """Switch models: re-embed with it (resumable, from the features cache), then activate it."""
        svc = self.ctx.service

        def switch(cancel=None):
            # Embed first, activate after: search keeps working with the old model meanwhile.
            report = yield from svc.reembed_job(model_id, cancel=cancel)
            svc.set_active_model(model_id)
            return report

        self.ctx.notify(f"switching to model {model_id}; re-embedding the library")
        self.reembed_worker = self.ctx.pool.run(
            switch, name="switch model",
            on_progress=lambda p: self.ctx.message.emit(p.line(), logging.DEBUG),
            on_result=lambda _r: self._model_switched(model_id),
            on_error=lambda e: self.ctx.report_error(e, f"switching to model {model_id}"))
        return self.reembed_worker

    def _model_switched(self, model_id: str) -> None:
        self.ctx.settings.active_model = model_id
        self.ctx.notify(f"model {model_id} is active")
        self.ctx.modelsChanged.emit()
