"""The Search tab's "similar in what way" panel (issue 12): sound, rhythm and harmony sliders, the
"match tempo and key" preset and the tempo/key filter bar.

A search fetches the reference's candidate set once, in a worker (``query``); every slider or
filter change re-ranks that set here, on the GUI thread, with numpy (core/search/aspects.py: well
under a millisecond for 500 candidates), and ``reranked`` hands the new result list to the tab.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QCheckBox, QGridLayout, QLabel, QSlider, QVBoxLayout, QWidget

from songsim_desktop.core.reports import QueryResult
from songsim_desktop.core.search import aspects
from songsim_desktop.ui.tempo_key import TempoKeyFilter

SLIDER_TIPS = {
    "sound": "Timbre, instrumentation, production (the learned embedding)",
    "rhythm": "Tempo, groove, onset pattern",
    "harmony": "Key, chords, pitch content",
}


@dataclass
class AspectQueryResult(QueryResult):
    """A query's first ranking plus the candidate set the sliders re-rank."""

    candidates: Optional[aspects.CandidateSet] = None


class AspectsPanel(QWidget):
    reranked = Signal(object)  # list[Match]

    def __init__(self, service, result_count, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.service = service
        self.result_count = result_count  # callable: how many results to show
        self.candidates: Optional[aspects.CandidateSet] = None
        self.sliders: dict[str, QSlider] = {}
        grid = QGridLayout()
        grid.setContentsMargins(0, 0, 0, 0)
        grid.addWidget(QLabel("<b>Similar in:</b>"), 0, 0)
        for column, name in enumerate(aspects.ASPECTS):
            slider = QSlider(Qt.Orientation.Horizontal)
            slider.setRange(0, 100)
            slider.setValue(100 if name == "sound" else 0)
            slider.setToolTip(SLIDER_TIPS[name])
            slider.setMaximumWidth(160)
            slider.valueChanged.connect(lambda _v: self.rerank())
            self.sliders[name] = slider
            grid.addWidget(QLabel(name), 0, 1 + 2 * column)
            grid.addWidget(slider, 0, 2 + 2 * column)
        self.preset_box = QCheckBox("Match tempo and key")
        self.preset_box.setToolTip("Only results within 6 % of the reference's tempo (half/double counts) "
                                   "and in a key that mixes with its key")
        self.preset_box.toggled.connect(lambda _on: self.rerank())
        grid.addWidget(self.preset_box, 0, 2 + 2 * len(aspects.ASPECTS))
        grid.setColumnStretch(3 + 2 * len(aspects.ASPECTS), 1)
        self.filter_bar = TempoKeyFilter(with_reference=True)
        self.filter_bar.changed.connect(self.rerank)
        self.reference_label = QLabel("")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(grid)
        layout.addWidget(self.filter_bar)
        layout.addWidget(self.reference_label)

    # --- the worker's part --------------------------------------------------------------------
    def query(self, reference, k: int) -> AspectQueryResult:
        """Runs in a worker: the candidate set of ``reference`` (a path or a track id).  It is ranked
        by :meth:`ranked` on the GUI thread, which alone may read the sliders."""
        candidates = self.service.aspect_candidates(reference)
        return AspectQueryResult(str(reference), self.service.active_model_id(), [], candidates)

    def ranked(self, result: AspectQueryResult) -> AspectQueryResult:
        """Keep ``result``'s candidate set for the sliders and fill its matches with their ranking.
        A section or multi-track query brings no candidate set: its ranking stays as it came."""
        candidates = getattr(result, "candidates", None)
        self.set_candidates(candidates)
        if candidates is not None:
            result.matches = candidates.rank(self.weights(), self.track_filter(candidates.query),
                                             self.result_count())
        return result

    # --- the GUI thread's part ----------------------------------------------------------------
    def weights(self) -> aspects.AspectWeights:
        values = {name: slider.value() / 100 for name, slider in self.sliders.items()}
        return aspects.AspectWeights(**values) if any(values.values()) else aspects.AspectWeights()

    def set_weights(self, **weights: float) -> None:
        for name, slider in self.sliders.items():
            slider.blockSignals(True)
            slider.setValue(int(round(100 * weights.get(name, 0.0))))
            slider.blockSignals(False)
        self.rerank()

    def track_filter(self, query: aspects.Described) -> aspects.TrackFilter:
        if self.preset_box.isChecked():
            return aspects.match_tempo_and_key(query.tempo, query.code)
        return self.filter_bar.track_filter(query.code)

    def set_candidates(self, candidates: Optional[aspects.CandidateSet]) -> None:
        self.candidates = candidates
        q = candidates.query if candidates is not None else None
        parts = [] if q is None else [f"{q.tempo:.1f} BPM" if q.tempo else "", f"{q.key} ({q.code})" if q.key else ""]
        self.reference_label.setText(("Reference: " + "  ".join(p for p in parts if p)) if any(parts) else "")

    def rerank(self) -> None:
        if self.candidates is not None:
            self.reranked.emit(self.candidates.rank(self.weights(), self.track_filter(self.candidates.query),
                                                    self.result_count()))
