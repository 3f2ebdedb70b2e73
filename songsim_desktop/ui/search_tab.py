"""Reference search: the reference above, the ranked results, two mel spectrograms, and audition.

A query (dropped file, File > Open, or "Find similar" on a library track) runs in a worker.  What
plays and when (previews, A/B, auto-preview from the anchor) is decided by the AuditionController
(ui/audition.py); this tab lays out the widgets, wires them to it and draws what it reports.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Optional

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox, QFileDialog, QHBoxLayout, QHeaderView, QLabel, QSlider, QSplitter,
    QVBoxLayout, QWidget,
)

from songsim_desktop.core.preview import Preview
from songsim_desktop.ui import actions
from songsim_desktop.ui.aspects_panel import AspectsPanel
from songsim_desktop.ui.audition import REFERENCE, RESULT, AuditionController
from songsim_desktop.ui.context import AppContext
from songsim_desktop.ui.judgements import JudgementController
from songsim_desktop.ui.models import RecordFilterProxy, ResultTableModel, display_title, format_duration
from songsim_desktop.ui.section_select import SectionBar, SectionSelector, highlight, match_text
from songsim_desktop.ui.spectrogram_view import SpectrogramView
from songsim_desktop.ui.widgets import bind_key, push_button, record_table


class SearchTab(QWidget):
    def __init__(self, ctx: AppContext, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.player = ctx.player
        self.reference_path: Optional[str] = None
        self.reference_arg = None  # what the service knows the reference by: a path or a track id
        self.section_range: Optional[tuple[float, float]] = None  # of the last section search
        self.audition = AuditionController(ctx, self)
        self.query_worker = None
        self._query_serial = 0
        self._build()
        self.views = {REFERENCE: self.reference_view, RESULT: self.result_view}
        self.audition.previewLoading.connect(
            lambda role, path: self.views[role].clear(f"loading {Path(path).name}…"))
        self.audition.previewFailed.connect(lambda role, _path: self.views[role].clear("cannot load this file"))
        self.audition.previewCleared.connect(lambda role: self.views[role].clear("select a result"))
        self.audition.previewShown.connect(self._draw_preview)
        self.audition.playheadMoved.connect(self._playhead_moved)
        self.player.stateChanged.connect(self._state_changed)
        ctx.findSimilarRequested.connect(self.query_track)
        ctx.queryFileRequested.connect(self.query_file)
        ctx.queryTracksRequested.connect(self.query_tracks)

    # --- building -------------------------------------------------------------------------------
    def _build(self) -> None:
        s = self.ctx.settings
        self.reference_title = QLabel("<b>No reference yet</b>")
        self.reference_detail = QLabel("Drop an audio file on the window, use File > Open (Ctrl+O), or pick "
                                       "“Find similar” on a library track.")
        self.reference_detail.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.open_button = push_button(
            "Open reference…", "Choose any audio file as the reference (Ctrl+O)",
            self.choose_reference)
        header = QHBoxLayout()
        text = QVBoxLayout()
        text.addWidget(self.reference_title)
        text.addWidget(self.reference_detail)
        header.addLayout(text, 1)
        header.addWidget(self.open_button)

        self.aspects = AspectsPanel(self.ctx.service, lambda: self.ctx.settings.result_count, self)
        self.aspects.reranked.connect(self.results_model_set)
        self.results_model = ResultTableModel(self)
        self.results_proxy = RecordFilterProxy(self.results_model, self)
        self.table = record_table(self.results_proxy)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.table.setColumnWidth(0, 36)
        self.table.setColumnWidth(1, 220)
        self.table.setToolTip("Up/Down: next result (auto-preview plays it from the reference's position). "
                              "Tab: A/B reference ⇄ result. Drag rows into a DAW or file manager.")
        self.table.selectionModel().currentRowChanged.connect(self._current_result_changed)
        bind_key(self.table, Qt.Key.Key_Tab, self.audition.toggle_reference_result)

        buttons = QHBoxLayout()
        self.copy_button = push_button(
            "Copy paths", "Copy the selected results' paths (Ctrl+Shift+C)",
            self.copy_selected_paths)
        self.reveal_button = push_button(
            "Reveal in folder", "Show the selected result in the file manager",
            self.reveal_selected)
        self.export_button = push_button(
            "Export M3U…", "Save the result list as a playlist (Ctrl+E)",
            self.choose_export_path)
        for b in (self.copy_button, self.reveal_button, self.export_button):
            buttons.addWidget(b)
        buttons.addStretch(1)
        self.judging = JudgementController(self, buttons)  # more / not like this, undo, reset (issue 11)

        self.reference_view = SpectrogramView("reference")
        self.result_view = SpectrogramView("selected result")
        self.reference_view.seekRequested.connect(lambda t: self.audition.seek_in(REFERENCE, t))
        self.result_view.seekRequested.connect(lambda t: self.audition.seek_in(RESULT, t))
        self.section_selector = SectionSelector(self.reference_view, self)
        self.section_bar = SectionBar(self.section_selector)
        self.section_bar.findRequested.connect(self.query_section)
        reference_box = QWidget()
        reference_layout = QVBoxLayout(reference_box)
        reference_layout.setContentsMargins(0, 0, 0, 0)
        reference_layout.addWidget(self.reference_view, 1)
        reference_layout.addWidget(self.section_bar)

        transport = QHBoxLayout()
        self.play_button = push_button("Play", "Play / pause (Space)", self.audition.play_pause)
        self.stop_button = push_button("Stop", "Stop and rewind (Ctrl+.)", self.audition.stop)
        self.ab_button = push_button(
            "A/B: reference ⇄ result", "Switch between the reference and the selected result at the same position (T)",
            self.audition.toggle_reference_result)
        self.loop_box = QCheckBox("Loop")
        self.loop_box.setToolTip("Loop playback (L)")
        self.loop_box.setChecked(s.loop)
        self.loop_box.toggled.connect(self.audition.set_loop)
        self.auto_box = QCheckBox("Auto-preview")
        self.auto_box.setToolTip("Play each selected result from the reference's position")
        self.auto_box.setChecked(s.auto_preview)
        self.auto_box.toggled.connect(self.audition.set_auto_preview)
        self.volume_slider = QSlider(Qt.Orientation.Horizontal)
        self.volume_slider.setRange(0, 100)
        self.volume_slider.setValue(int(round(s.volume * 100)))
        self.volume_slider.setMaximumWidth(140)
        self.volume_slider.setToolTip("Volume")
        self.volume_slider.valueChanged.connect(lambda value: self.audition.set_volume(value / 100))
        self.position_label = QLabel("0:00")
        self.audition_label = QLabel("")
        self.audition_label.setWordWrap(True)
        for w in (self.play_button, self.stop_button, self.ab_button, self.loop_box, self.auto_box,
                  QLabel("Volume"), self.volume_slider, self.position_label):
            transport.addWidget(w)
        transport.addWidget(self.audition_label, 1)

        top = QWidget()
        top_layout = QVBoxLayout(top)
        top_layout.setContentsMargins(0, 0, 0, 0)
        top_layout.addLayout(header)
        top_layout.addWidget(self.aspects)
        top_layout.addWidget(self.table, 1)
        top_layout.addLayout(buttons)
        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.addWidget(top)
        self.splitter.addWidget(reference_box)
        self.splitter.addWidget(self.result_view)
        self.splitter.setStretchFactor(0, 3)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.splitter, 1)
        layout.addLayout(transport)
        self._set_audition_enabled()

    def _set_audition_enabled(self) -> None:
        on = self.player.available
        for w in (self.play_button, self.stop_button, self.ab_button, self.loop_box, self.volume_slider):
            w.setEnabled(on)
        self.audition_label.setText("" if on else self.player.reason)

    # --- queries --------------------------------------------------------------------------------
    def choose_reference(self) -> None:
        start = self.ctx.settings.last_open_dir or str(Path.home())
        path, _ = QFileDialog.getOpenFileName(self, "Open a reference track", start, actions.AUDIO_FILTER)
        if path:
            self.ctx.settings.last_open_dir = str(Path(path).parent)
            self.query_file(path)

    def query_file(self, path: str):
        self.reference_arg = str(path)
        return self._query(path, self.aspects.query, path)

    def query_track(self, track_id: int, path: str):
        self.reference_arg = int(track_id)
        return self._query(path, self.aspects.query, track_id)

    def query_tracks(self, track_ids: list):
        """Several tracks as one reference (the sound map's selection); the first one auditions."""
        first = self.ctx.tracks_model.row_of(track_ids[0])
        path = self.ctx.tracks_model.record(first).path if first is not None else str(track_ids[0])
        return self._query(path, self.ctx.service.query_tracks, track_ids)

    def query_section(self, selected: Optional[tuple[float, float]], include_self: bool = False):
        """Find the tracks with a part like ``selected`` (None: the whole track) of the reference."""
        if self.reference_arg is None:
            self.ctx.notify("open a reference first", logging.WARNING)
            return None
        self.section_range = selected or (0.0, self.reference_view.duration_s)
        start, end = selected if selected else (None, None)
        return self._query(self.reference_path, lambda ref, k: self.ctx.service.query_section(
            ref, start, end, k, include_self), self.reference_arg, new_reference=False)

    def _query(self, path: str, fn, arg, new_reference: bool = True):
        self.reference_path = str(path)
        self.reference_title.setText(f"<b>{Path(path).stem}</b>")
        self.reference_detail.setText(f"{path} — searching…")
        self.results_model.set_matches([])
        self.judging.clear()
        if new_reference:
            self.section_range = None
            self.audition.set_reference(str(path))
        self._query_serial += 1
        serial = self._query_serial  # a slow earlier query must not overwrite a newer one's results
        self.query_worker = self.ctx.pool.run(
            fn, arg, self.ctx.settings.result_count, name="query",
            on_result=lambda r: self._results_arrived(r) if serial == self._query_serial else None,
            on_error=lambda e: self._query_failed(path, e) if serial == self._query_serial else None)
        return self.query_worker

    def results_model_set(self, matches) -> None:
        self.results_model.set_matches(matches)

    def _results_arrived(self, result) -> None:
        result = self.aspects.ranked(result)  # the sliders' and filters' ranking of its candidates
        self.results_model.set_matches(result.matches)
        if self.section_range is not None:  # results play from their match, aligned to the range's start
            self.audition.anchor_s = self.section_range[0]
        self.ctx.searchAnswered.emit(result)
        self.reference_detail.setText(f"{self.reference_path} — {len(result.matches)} similar tracks "
                                      f"(model {result.model_id})")
        self.table.setFocus()
        self.judging.results_arrived(self.reference_path)
        self.ctx.notify(f"found {len(result.matches)} tracks similar to {Path(self.reference_path).name}")

    def _query_failed(self, path, err) -> None:
        self.reference_detail.setText(f"{path} — search failed")
        self.ctx.report_error(err, f"searching for tracks like {path}")

    # --- what the audition controller reports ---------------------------------------------------
    def _draw_preview(self, role: str, preview: Preview) -> None:
        title = f"{role}: {Path(preview.path).name} ({format_duration(preview.duration_s)})"
        match = self.current_match() if role == RESULT else None
        if match is not None and match_text(match):
            title += f" — {match_text(match)}"
        self.views[role].show_spectrogram(preview.mel_db, preview.hop_s, preview.band_hz, title)
        if role == REFERENCE:
            self.section_selector.attach()
        elif match is not None and match.offset is not None:
            highlight(self.result_view, match.offset, match.offset + (match.section_length or 0.0))

    def current_match(self):
        index = self.table.currentIndex()
        return self.results_proxy.record(index.row()) if index.isValid() else None

    def _playhead_moved(self, source: str, seconds: float) -> None:
        self.position_label.setText(format_duration(seconds))
        for role, view in self.views.items():
            view.set_playhead(seconds if source == role else None)

    def _state_changed(self, state: str) -> None:
        self.play_button.setText("Pause" if state == self.player.PLAYING else "Play")

    # --- walking the results ---------------------------------------------------------------------
    def _current_result_changed(self, current, _previous) -> None:
        if not current.isValid():
            return
        m = self.results_proxy.record(current.row())
        match = None if m.offset is None or self.section_range is None else (
            self.section_range[0], m.offset, m.section_length or 0.0)
        self.audition.show_result(m.path, match)

    def select_result(self, row: int) -> None:
        self.table.selectRow(row)
        self.table.setCurrentIndex(self.results_proxy.index(row, 0))

    def move_result(self, step: int) -> None:
        count = self.results_proxy.rowCount()
        if count:
            row = self.table.currentIndex().row()
            self.select_result(min(max(0, (row if row >= 0 else -1) + step), count - 1))

    # --- taking results out ---------------------------------------------------------------------
    def selected_matches(self) -> list:
        rows = sorted({i.row() for i in self.table.selectionModel().selectedRows()})
        return [self.results_proxy.record(r) for r in rows]

    def copy_selected_paths(self) -> None:
        matches = self.selected_matches() or self.results_model.rows
        if matches:
            actions.copy_paths([m.path for m in matches])
            self.ctx.notify(f"copied {len(matches)} path(s)")

    def reveal_selected(self) -> None:
        matches = self.selected_matches()
        if matches:
            actions.reveal_in_folder(matches[0].path)

    def choose_export_path(self) -> None:
        if not self.results_model.rows:
            self.ctx.notify("nothing to export yet: search first", logging.WARNING)
            return
        stem = Path(self.reference_path or "results").stem
        start = str(Path(self.ctx.settings.last_open_dir or Path.home()) / f"similar-to-{stem}.m3u")
        path, _ = QFileDialog.getSaveFileName(self, "Export results as M3U", start, "Playlists (*.m3u *.m3u8)")
        if path:
            self.export_m3u(path)

    def export_m3u(self, path: str) -> Optional[Path]:
        model = self.ctx.tracks_model
        entries = []
        for m in self.results_model.rows:
            row = model.row_of(m.track_id)
            duration = model.record(row).duration_s if row is not None else None
            entries.append((m.path, display_title(m.title, m.path), m.artist, duration))
        try:
            out = actions.export_m3u(path, entries)
        except Exception as err:  # noqa: BLE001 - reported, never a dialog
            self.ctx.report_error(err, f"exporting the playlist to {path}")
            return None
        self.ctx.notify(f"exported {len(entries)} tracks to {out}")
        return out
