"""The Sound map tab: the whole library laid out by sound, to wander through by ear.

It shows the instant PCA layout at once and asks a worker for the t-SNE one (core/sound_map.py),
which is cached per model and library state: after a scan or a model switch (``tracksChanged``)
the map is fetched again and recomputed in the background only when the library changed.
Clicking a point auditions it; the Search tab's reference and results are highlighted; a
rectangle (Shift+drag) or lasso (Ctrl+drag) selection can be tagged, exported as M3U, dragged
out to a DAW, or used as a multi-track reference ("find more like these").
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Optional

from PySide6.QtCore import QMimeData, Qt, QUrl
from PySide6.QtGui import QDrag
from PySide6.QtWidgets import (QComboBox, QFileDialog, QHBoxLayout, QLabel, QLineEdit, QPushButton,
                               QVBoxLayout, QWidget)

from songsim_desktop.core import sound_map
from songsim_desktop.ui import actions
from songsim_desktop.ui.audition import AuditionController
from songsim_desktop.ui.context import AppContext
from songsim_desktop.ui.models import display_title
from songsim_desktop.ui.sound_map_view import SoundMapView
from songsim_desktop.ui.widgets import push_button
from songsim_desktop.ui.workers import Worker


class DragOutButton(QPushButton):
    """Press and drag: hands the selected files to a DAW or a file manager (as the tables do)."""

    def __init__(self, tab: "MapTab") -> None:
        super().__init__("Drag out")
        self.tab = tab
        self.setToolTip("Drag this onto a DAW or a folder to hand over the selected tracks' files")

    def mime_data(self) -> QMimeData:
        paths = self.tab.selected_paths()
        mime = QMimeData()
        mime.setUrls([QUrl.fromLocalFile(p) for p in paths])
        mime.setText("\n".join(paths))
        return mime

    def mouseMoveEvent(self, event) -> None:  # noqa: N802 - Qt's name
        if event.buttons() & Qt.MouseButton.LeftButton and self.tab.selected_paths():
            drag = QDrag(self)
            drag.setMimeData(self.mime_data())
            drag.exec(Qt.DropAction.CopyAction)


class MapTab(QWidget):
    def __init__(self, ctx: AppContext, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.audition = AuditionController(ctx, self)
        self.map: Optional[sound_map.SoundMap] = None
        self.layout_worker: Optional[Worker] = None
        self.fetch_worker: Optional[Worker] = None
        self.highlighted: tuple[Optional[int], list[int]] = (None, [])
        self._build()
        ctx.tracksChanged.connect(self.refresh_map)
        ctx.modelsChanged.connect(self.refresh_map)
        ctx.searchAnswered.connect(self.show_search)

    def _build(self) -> None:
        self.view = SoundMapView(self)
        self.view.clicked.connect(self.audition_track)
        self.view.selectionChanged.connect(self._selection_changed)
        self.colour_by = QComboBox()
        self.colour_by.addItems(list(sound_map.COLOUR_BY))
        self.colour_by.currentTextChanged.connect(lambda _text: self._draw())
        self.status = QLabel("")
        top = QHBoxLayout()
        top.addWidget(QLabel("Colour by"))
        top.addWidget(self.colour_by)
        top.addWidget(self.status, 1)
        top.addWidget(QLabel("Shift+drag: rectangle · Ctrl+drag: lasso · click: listen"))
        self.selection_label = QLabel("nothing selected")
        self.tag_edit = QLineEdit()
        self.tag_edit.setPlaceholderText("tag for the selection")
        self.tag_edit.returnPressed.connect(self.tag_selection)
        self.tag_button = push_button("Tag", "Add this tag to every selected track", self.tag_selection)
        self.export_button = push_button("Export M3U…", "Save the selection as a playlist", self.choose_export_path)
        self.more_button = push_button("Find more like these", "Search with the selection as one reference",
                                       self.find_more_like_these)
        self.drag_button = DragOutButton(self)
        bottom = QHBoxLayout()
        for widget in (self.selection_label, self.tag_edit, self.tag_button, self.export_button, self.drag_button,
                       self.more_button):
            bottom.addWidget(widget)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.view, 1)
        layout.addLayout(bottom)
        self._selection_changed([])

    # --- the layout ----------------------------------------------------------------------------------
    def refresh_map(self) -> Worker:
        """Show the cached t-SNE map, else PCA now and t-SNE when its job is done."""
        self.fetch_worker = self.ctx.pool.run(_current_maps, self.ctx.service, name="map",
                                              on_result=self._maps_arrived,
                                              on_error=lambda e: self.ctx.report_error(e, "reading the map"))
        return self.fetch_worker

    def _maps_arrived(self, maps) -> None:
        quick, cached = maps
        self._set_map(cached or quick)
        if cached is None and len(quick) and (self.layout_worker is None or self.layout_worker.is_done):
            self.status.setText("laying out by sound (t-SNE)…")
            self.layout_worker = self.ctx.pool.run(self.ctx.service.sound_map_job, name="map layout",
                                                   on_progress=lambda p: self.status.setText(p.line()),
                                                   on_result=self._set_map,
                                                   on_error=lambda e: self.ctx.report_error(e, "laying out the map"))

    def _set_map(self, found: sound_map.SoundMap) -> None:
        if self.map is not None and self.map.method == "tsne" and found.method == "pca" and found.key == self.map.key:
            return  # a late PCA answer must not replace the finished layout of the same library
        self.map = found
        self.status.setText(f"{len(found)} tracks · {'t-SNE' if found.method == 'tsne' else 'PCA (t-SNE computing)'}")
        self._draw()

    def _draw(self) -> None:
        if self.map is None:
            return
        rows = {t.id: t for t in self.ctx.tracks_model.rows}
        label_of = sound_map.COLOUR_BY[self.colour_by.currentText()]
        titles, labels = [], []
        for track_id in self.map.track_ids.tolist():
            track = rows.get(track_id)
            titles.append(display_title(track.title, track.path) if track else str(track_id))
            labels.append(label_of(track) if track else "?")
        self.view.set_points(self.map.track_ids, self.map.xy, titles, labels)
        self.view.set_highlight(*self.highlighted)

    # --- the search tab's reference and results ---------------------------------------------------------
    def show_search(self, result) -> None:
        by_path = {t.path: t.id for t in self.ctx.tracks_model.rows}
        self.highlighted = (by_path.get(result.reference), [m.track_id for m in result.matches])
        self.view.set_highlight(*self.highlighted)

    # --- listening -----------------------------------------------------------------------------------------
    def audition_track(self, track_id: int) -> Optional[Worker]:
        track = self._track(track_id)
        if track is None:
            return None
        self.ctx.notify(f"listening to {display_title(track.title, track.path)}")
        return self.audition.show_result(track.path)

    def _track(self, track_id: int):
        row = self.ctx.tracks_model.row_of(track_id)
        return None if row is None else self.ctx.tracks_model.record(row)

    # --- the selection ---------------------------------------------------------------------------------------
    def _selection_changed(self, ids: list) -> None:
        self.selection_label.setText(f"{len(ids)} selected" if ids else "nothing selected")
        for widget in (self.tag_button, self.export_button, self.drag_button, self.more_button):
            widget.setEnabled(bool(ids))

    def selected_paths(self) -> list[str]:
        return [t.path for t in (self._track(i) for i in self.view.selection) if t is not None]

    def tag_selection(self) -> Optional[Worker]:
        tag, ids = self.tag_edit.text().strip(), list(self.view.selection)
        if not tag or not ids:
            return None
        return self.ctx.pool.run(self.ctx.service.add_tags, ids, [tag], name="tag",
                                 on_result=lambda _r: self._tagged(tag, len(ids)),
                                 on_error=lambda e: self.ctx.report_error(e, "tagging the selection"))

    def _tagged(self, tag: str, count: int) -> None:
        self.ctx.notify(f"tagged {count} tracks '{tag}'")
        self.ctx.refresh_tracks()

    def choose_export_path(self) -> None:
        start = str(Path(self.ctx.settings.last_open_dir or Path.home()) / "sound-map-selection.m3u8")
        path, _ = QFileDialog.getSaveFileName(self, "Export the selection", start, "Playlists (*.m3u8 *.m3u)")
        if path:
            self.export_m3u(path)

    def export_m3u(self, path: str) -> Optional[Path]:
        tracks = [t for t in (self._track(i) for i in self.view.selection) if t is not None]
        try:
            out = actions.export_m3u(path, [(t.path, t.title, t.artist, t.duration_s) for t in tracks])
        except Exception as err:  # noqa: BLE001 - shown, not raised into Qt
            self.ctx.report_error(err, "exporting the selection")
            return None
        self.ctx.notify(f"exported {len(tracks)} tracks to {out}")
        return out

    def find_more_like_these(self) -> None:
        if not self.view.selection:
            self.ctx.notify("select tracks on the map first", logging.WARNING)
            return
        self.ctx.queryTracksRequested.emit(list(self.view.selection))
        self.ctx.showTabRequested.emit("search")


def _current_maps(service) -> tuple[sound_map.SoundMap, Optional[sound_map.SoundMap]]:
    """(the PCA map, the cached t-SNE map or None), read off the GUI thread."""
    return service.quick_map(), service.cached_sound_map()
