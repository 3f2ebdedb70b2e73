"""The Training tab's "Learn from listening" panel (issue 11).

Shows how many judgements, odd-one-out answers and training triplets there are, chooses whether
fine-tuning learns from judgements, tags or both, shows the held-out judgement accuracy before and
after the last fine-tune, and runs odd-one-out rounds: three tracks where the model is least sure,
each playable, and the listener picks the one that does not belong.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QCheckBox, QGridLayout, QGroupBox, QHBoxLayout, QLabel, QVBoxLayout

from songsim_desktop import training
from songsim_desktop.core.preview import load_preview
from songsim_desktop.ui.widgets import push_button


def feedback_counts(service) -> dict:
    """Judgements, odd-one-out answers and the triplets fine-tuning would learn from (a worker's job)."""
    judged = [(j.reference.track_id, j.result_track_id, j.sign) for j in service.library.judgements()]
    odd = [(a.anchor_id, a.positive_id, a.odd_id) for a in service.library.odd_one_out_answers()]
    triplets = training.JudgementTripletMiner().mine(judged, odd)  # torch-free strategy object
    return {"liked": sum(s > 0 for *_, s in judged), "disliked": sum(s < 0 for *_, s in judged),
            "odd": len(odd), "triplets": len(triplets)}


class FeedbackPanel(QGroupBox):
    roundShown = Signal()  # an odd-one-out round is on screen
    countsShown = Signal()

    def __init__(self, ctx, parent=None) -> None:
        super().__init__("Learn from listening", parent)
        self.ctx = ctx
        self.round = None
        self.counts: dict = {}
        self.round_worker = self.counts_worker = None
        layout = QVBoxLayout(self)
        self.counts_label = QLabel("judgements: —")
        self.counts_label.setToolTip("Judge results in the Search tab (+ / −) or answer odd-one-out rounds")
        layout.addWidget(self.counts_label)
        sources = QHBoxLayout()
        self.judgements_box = QCheckBox("judgements (triplet loss)")
        self.judgements_box.setToolTip("Fine-tune on your judgements and odd-one-out answers")
        self.tags_box = QCheckBox("tags (contrastive loss)")
        self.tags_box.setToolTip("Fine-tune on your tags too (with judgements: both at once)")
        self.tags_box.setChecked(True)
        for w in (QLabel("Fine-tune on"), self.judgements_box, self.tags_box):
            sources.addWidget(w)
        sources.addStretch(1)
        layout.addLayout(sources)
        self.accuracy_label = QLabel("held-out judgements ordered as you did: —")
        layout.addWidget(self.accuracy_label)
        odd_row = QHBoxLayout()
        self.new_round_button = push_button("Odd one out…", "Three tracks the model is least sure about: "
                                            "play them and pick the one that does not belong", self.new_round)
        self.round_label = QLabel("")
        odd_row.addWidget(self.new_round_button)
        odd_row.addWidget(self.round_label, 1)
        layout.addLayout(odd_row)
        self.choices = QGridLayout()
        self.track_labels, self.play_buttons, self.odd_buttons = [], [], []
        for i in range(3):
            label = QLabel("")
            play = push_button("Play", "Listen to this track", lambda _=False, i=i: self.play(i))
            odd = push_button("Odd one", "This one does not belong with the other two", lambda _=False, i=i: self.answer(i))
            for col, w in enumerate((label, play, odd)):
                self.choices.addWidget(w, i, col)
            self.track_labels.append(label)
            self.play_buttons.append(play)
            self.odd_buttons.append(odd)
        layout.addLayout(self.choices)
        self._show_round(None)

    def showEvent(self, event) -> None:  # noqa: N802 - Qt's name; the counts are fresh whenever seen
        super().showEvent(event)
        self.refresh_counts()

    # --- what fine-tuning learns from -------------------------------------------------------------
    def config_options(self) -> dict:
        return {"use_judgements": self.judgements_box.isChecked(), "use_tags": self.tags_box.isChecked()}

    def show_report(self, report) -> None:
        metrics = dict(getattr(report, "metrics", {}) or {})
        before, after = metrics.get("judgement_accuracy_before"), metrics.get("judgement_accuracy_after")
        if before is not None or after is not None:
            fmt = lambda v: "—" if v is None else f"{100 * v:.0f} %"  # noqa: E731
            self.accuracy_label.setText(f"held-out judgements ordered as you did: before {fmt(before)} → after "
                                        f"{fmt(after)} ({metrics.get('judgement_triplets', 0)} training triplets)")

    def refresh_counts(self):
        self.counts_worker = self.ctx.pool.run(feedback_counts, self.ctx.service, name="judgement counts",
                                               on_result=self._counts_arrived,
                                               on_error=lambda e: self.ctx.report_error(e, "counting judgements"))
        return self.counts_worker

    def _counts_arrived(self, counts: dict) -> None:
        self.counts = counts
        self.counts_label.setText(f"judgements: {counts['liked']} more like this, {counts['disliked']} not like "
                                  f"this; {counts['odd']} odd-one-out answers → {counts['triplets']} triplets")
        self.countsShown.emit()

    # --- odd one out ------------------------------------------------------------------------------
    def new_round(self):
        self.new_round_button.setEnabled(False)
        self.round_label.setText("choosing three tracks…")
        self.round_worker = self.ctx.pool.run(self._round_with_paths, name="odd one out",
                                              on_result=self._show_round,
                                              on_error=lambda e: self.ctx.report_error(e, "choosing an odd-one-out round"),
                                              on_finished=lambda: self.new_round_button.setEnabled(True))
        return self.round_worker

    def _round_with_paths(self):
        rnd = self.ctx.service.odd_one_out_round()
        return rnd, [self.ctx.service.track(t).path for t in rnd.track_ids]

    def _show_round(self, found) -> None:
        self.round, paths = found if found else (None, [""] * 3)
        for label, path in zip(self.track_labels, paths):
            label.setText(Path(path).stem if path else "")
            label.setToolTip(path)
        for b in self.play_buttons + self.odd_buttons:
            b.setEnabled(self.round is not None)
        self.paths = paths
        if self.round is not None:
            self.round_label.setText("Which one does not belong?")
            self.roundShown.emit()

    def play(self, i: int):
        if not self.ctx.player.available:
            self.ctx.notify(self.ctx.player.reason)
            return None
        path = self.paths[i]
        return self.ctx.pool.run(load_preview, path, name="preview",
                                 on_result=lambda p: self.ctx.player.load(p.audio, p.sample_rate, Path(path).stem,
                                                                          start_s=0.0, play=True),
                                 on_error=lambda e: self.ctx.report_error(e, f"loading {path}"))

    def answer(self, i: int) -> Optional[object]:
        if self.round is None:
            return None
        rnd, odd = self.round, self.round.track_ids[i]
        self._show_round(None)
        self.round_label.setText(f"noted: {Path(self.paths[i]).stem if self.paths[i] else odd} is the odd one")
        return self.ctx.pool.run(self.ctx.service.answer_odd_one_out, rnd, odd, name="odd one out answer",
                                 on_error=lambda e: self.ctx.report_error(e, "saving the odd-one-out answer"),
                                 on_finished=self.refresh_counts)
