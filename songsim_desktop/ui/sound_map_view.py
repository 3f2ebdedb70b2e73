"""The sound map's canvas: a pyqtgraph scatter of every track, fluid at 50,000 points.

pyqtgraph draws all points of one ``ScatterPlotItem`` from a cached symbol atlas, so panning and
zooming repaint 50,000 points in a few milliseconds (bench/bench_map.py measures it); matplotlib
(kept for the spectrograms) redraws far slower.  Hover and click find the nearest point with one
numpy pass in screen pixels, not pyqtgraph's per-point hover machinery.

Mouse: drag pans, wheel zooms, hover shows the title, click auditions, Shift+drag selects a
rectangle, Ctrl+drag draws a lasso.  Arrays only: the tab decides what the points mean.
"""

from __future__ import annotations

from typing import Optional, Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QPainterPath, QPen
from PySide6.QtWidgets import QGraphicsPathItem, QVBoxLayout, QWidget

pg.setConfigOptions(antialias=False, background="w", foreground="k")

HOVER_PIXELS = 8  # how near (screen pixels) the pointer must be to a point to hover or click it
MAX_LEGEND = 16  # the most labels coloured apart; the rest share "other"
PALETTE = [QColor.fromHsvF((i * 0.61803) % 1.0, 0.65, 0.85) for i in range(MAX_LEGEND)]
OTHER_COLOUR = QColor(170, 170, 170)


def points_in_polygon(xy: np.ndarray, polygon: np.ndarray) -> np.ndarray:
    """Boolean mask of the points of ``xy`` (n, 2) inside ``polygon`` (m, 2): even-odd ray casting."""
    inside = np.zeros(len(xy), dtype=bool)
    x, y = xy[:, 0], xy[:, 1]
    for (x0, y0), (x1, y1) in zip(polygon, np.roll(polygon, -1, axis=0)):
        crosses = (y0 > y) != (y1 > y)
        with np.errstate(divide="ignore", invalid="ignore"):
            at = x0 + (y - y0) * (x1 - x0) / (y1 - y0)
        inside ^= crosses & (x < at)
    return inside


class _MapViewBox(pg.ViewBox):
    """A ViewBox whose Shift/Ctrl drags select instead of panning."""

    def __init__(self, view: "SoundMapView") -> None:
        super().__init__()
        self.view = view
        self._path: list[QPointF] = []
        self._outline = QGraphicsPathItem()
        self._outline.setPen(QPen(QColor(30, 30, 30), 0, Qt.PenStyle.DashLine))
        self.addItem(self._outline, ignoreBounds=True)

    def mouseDragEvent(self, ev, axis=None):  # noqa: N802 - pyqtgraph's name
        mods = ev.modifiers()
        lasso = bool(mods & Qt.KeyboardModifier.ControlModifier)
        rect = bool(mods & Qt.KeyboardModifier.ShiftModifier)
        if ev.button() != Qt.MouseButton.LeftButton or not (lasso or rect):
            return super().mouseDragEvent(ev, axis)
        ev.accept()
        start, here = self.mapSceneToView(ev.buttonDownScenePos()), self.mapSceneToView(ev.scenePos())
        if ev.isStart():
            self._path = [start]
        self._path = [start, QPointF(here.x(), start.y()), here, QPointF(start.x(), here.y())] if rect \
            else self._path + [here]
        outline = QPainterPath(self._path[0])
        for point in self._path[1:]:
            outline.lineTo(point)
        outline.closeSubpath()
        self._outline.setPath(outline)
        if ev.isFinish():
            self._outline.setPath(QPainterPath())
            self.view.select_in_polygon(np.array([[p.x(), p.y()] for p in self._path]))


class SoundMapView(QWidget):
    hovered = Signal(int)  # track id under the pointer (-1: none)
    clicked = Signal(int)  # track id clicked
    selectionChanged = Signal(list)  # track ids selected by rectangle or lasso

    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.box = _MapViewBox(self)
        self.plot = pg.PlotWidget(viewBox=self.box)
        self.plot.hideAxis("left")
        self.plot.hideAxis("bottom")
        self.plot.setMenuEnabled(False)
        self.points = pg.ScatterPlotItem(size=6, pen=None, pxMode=True)
        self.highlight = pg.ScatterPlotItem(size=14, pen=pg.mkPen("k", width=2), brush=None, pxMode=True)
        self.reference = pg.ScatterPlotItem(size=20, symbol="star", pen=pg.mkPen("k"), brush=pg.mkBrush("y"))
        self.selected = pg.ScatterPlotItem(size=9, pen=pg.mkPen(QColor(0, 90, 255), width=2), brush=None)
        for item in (self.points, self.selected, self.highlight, self.reference):
            self.plot.addItem(item)
        self.legend = self.plot.addLegend(offset=(10, 10))
        self.hover_label = pg.TextItem("", anchor=(0, 1), color="k", fill=pg.mkBrush(255, 255, 220, 230))
        self.hover_label.setZValue(10)
        self.hover_label.hide()
        self.plot.addItem(self.hover_label, ignoreBounds=True)
        self.plot.scene().sigMouseMoved.connect(self._mouse_moved)
        self.plot.scene().sigMouseClicked.connect(self._mouse_clicked)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.plot)
        self.track_ids = np.zeros(0, dtype=np.int64)
        self.xy = np.zeros((0, 2), dtype=np.float32)
        self.titles: list[str] = []
        self.selection: list[int] = []
        self.hovered_id = -1
        self._row_of: dict[int, int] = {}

    # --- what is drawn -----------------------------------------------------------------------------
    def set_points(self, track_ids: np.ndarray, xy: np.ndarray, titles: Sequence[str], labels: Sequence[str]) -> None:
        """Draw the tracks: ``labels[i]`` picks point i's colour (the legend lists the labels)."""
        keep_view = len(self.track_ids) > 0
        self.track_ids = np.asarray(track_ids, dtype=np.int64)
        self.xy = np.asarray(xy, dtype=np.float32).reshape(-1, 2)
        self.titles = list(titles)
        self._row_of = {int(t): i for i, t in enumerate(self.track_ids)}
        counts: dict[str, int] = {}
        for label in labels:
            counts[label] = counts.get(label, 0) + 1
        shown = sorted(counts, key=lambda k: (-counts[k], k))[:MAX_LEGEND]
        colour_of = {label: PALETTE[i] for i, label in enumerate(shown)}
        brushes = {label: pg.mkBrush(colour_of.get(label, OTHER_COLOUR)) for label in counts}
        self.points.setData(pos=self.xy, brush=[brushes[label] for label in labels],
                            data=self.track_ids)
        self.legend.clear()
        for label in shown:
            self.legend.addItem(pg.ScatterPlotItem(size=8, pen=None, brush=brushes[label]), f"{label} ({counts[label]})")
        if len(counts) > len(shown):
            self.legend.addItem(pg.ScatterPlotItem(size=8, pen=None, brush=pg.mkBrush(OTHER_COLOUR)), "other")
        self.set_selection([t for t in self.selection if t in self._row_of], emit=False)
        if not keep_view:
            self.box.autoRange(padding=0.05)

    def set_highlight(self, reference_id: Optional[int], result_ids: Sequence[int]) -> None:
        """Mark the current search's reference (a star) and its results (rings)."""
        rows = [self._row_of[t] for t in result_ids if t in self._row_of]
        self.highlight.setData(pos=self.xy[rows] if rows else np.zeros((0, 2)))
        ref = [self._row_of[reference_id]] if reference_id in self._row_of else []
        self.reference.setData(pos=self.xy[ref] if ref else np.zeros((0, 2)))

    def set_selection(self, track_ids: Sequence[int], emit: bool = True) -> None:
        self.selection = [int(t) for t in track_ids if int(t) in self._row_of]
        rows = [self._row_of[t] for t in self.selection]
        self.selected.setData(pos=self.xy[rows] if rows else np.zeros((0, 2)))
        if emit:
            self.selectionChanged.emit(list(self.selection))

    def select_in_polygon(self, polygon: np.ndarray) -> list[int]:
        """Select the tracks inside ``polygon`` (map coordinates); returns their ids."""
        mask = points_in_polygon(self.xy, np.asarray(polygon, dtype=np.float64)) if len(polygon) >= 3 \
            else np.zeros(len(self.xy), dtype=bool)
        self.set_selection(self.track_ids[mask].tolist())
        return self.selection

    def select_in_rect(self, rect: QRectF) -> list[int]:
        corners = [(rect.left(), rect.top()), (rect.right(), rect.top()), (rect.right(), rect.bottom()),
                   (rect.left(), rect.bottom())]
        return self.select_in_polygon(np.array(corners))

    # --- the pointer ----------------------------------------------------------------------------------
    def track_at(self, scene_pos: QPointF) -> int:
        """The track drawn nearest ``scene_pos`` within ``HOVER_PIXELS``, or -1."""
        if not len(self.xy):
            return -1
        here = self.box.mapSceneToView(scene_pos)
        px_w, px_h = self.box.viewPixelSize()
        dx = (self.xy[:, 0] - here.x()) / (px_w or 1.0)
        dy = (self.xy[:, 1] - here.y()) / (px_h or 1.0)
        d2 = dx * dx + dy * dy
        row = int(np.argmin(d2))
        return int(self.track_ids[row]) if d2[row] <= HOVER_PIXELS ** 2 else -1

    def scene_pos_of(self, track_id: int) -> QPointF:
        """Where a track is drawn, in scene coordinates (tests point the mouse there)."""
        x, y = self.xy[self._row_of[int(track_id)]]
        return self.box.mapViewToScene(QPointF(float(x), float(y)))

    def _mouse_moved(self, scene_pos: QPointF) -> None:
        track_id = self.track_at(scene_pos)
        if track_id == self.hovered_id:
            return
        self.hovered_id = track_id
        if track_id < 0:
            self.hover_label.hide()
        else:
            x, y = self.xy[self._row_of[track_id]]
            self.hover_label.setText(self.titles[self._row_of[track_id]])
            self.hover_label.setPos(float(x), float(y))
            self.hover_label.show()
        self.hovered.emit(track_id)

    def _mouse_clicked(self, ev) -> None:
        if ev.button() != Qt.MouseButton.LeftButton or ev.modifiers() != Qt.KeyboardModifier.NoModifier:
            return
        track_id = self.track_at(ev.scenePos())
        if track_id >= 0:
            self.clicked.emit(track_id)
