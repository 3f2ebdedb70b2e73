"""A mel spectrogram drawn with matplotlib inside the window, with a playhead and click-to-seek.

It receives finished arrays (computed by a worker, see core/preview.py) and only draws them: time in
seconds on x, mel bands on y labelled in Hz (so the axis is mel-scaled), a dB colour bar.  The
playhead moves by blitting one line over a cached background, so a 30 Hz position update costs a
fraction of a full redraw.
"""

from __future__ import annotations

from typing import Optional

import numpy as np
from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
from matplotlib.figure import Figure
from PySide6.QtCore import Signal
from PySide6.QtWidgets import QSizePolicy, QVBoxLayout, QWidget

HZ_TICKS = (100, 500, 1000, 2000, 4000, 8000, 16000)  # spaced so that labels never overlap on a mel axis


def hz_ticks(band_hz: np.ndarray) -> tuple[list[float], list[str]]:
    """Positions (in band index units) and labels of round Hz values inside the bands' range."""
    positions, labels = [], []
    bands = np.arange(len(band_hz))
    for hz in HZ_TICKS:
        if band_hz[0] <= hz <= band_hz[-1]:
            positions.append(float(np.interp(hz, band_hz, bands)))
            labels.append(f"{hz // 1000}k" if hz >= 1000 else str(hz))
    return positions, labels


class SpectrogramView(QWidget):
    seekRequested = Signal(float)  # seconds, from a click on the plot

    def __init__(self, title: str = "", parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.title = title
        self.figure = Figure(figsize=(6, 2.2), dpi=90, layout="constrained")
        self.canvas = FigureCanvasQTAgg(self.figure)
        self.canvas.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.canvas.setMinimumHeight(140)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.canvas)
        self.axes = self.figure.add_subplot(111)
        self.image = None
        self.colorbar = None
        self.playhead = None
        self.duration_s = 0.0
        self._background = None
        self.canvas.mpl_connect("button_press_event", self._on_click)
        self.canvas.mpl_connect("draw_event", self._on_draw)
        self.clear(title or "no audio")
        self.setToolTip("Mel spectrogram. Click to seek.")

    def _fresh_axes(self) -> None:
        # A new figure layout each time: removing a colorbar from a cleared axes is fragile in matplotlib.
        self.figure.clear()
        self.axes = self.figure.add_subplot(111)
        self.colorbar = None
        self._background = None

    def clear(self, message: str = "") -> None:
        self._fresh_axes()
        self.image = None
        self.playhead = None
        self.duration_s = 0.0
        self.axes.set_xticks([])
        self.axes.set_yticks([])
        self.axes.text(0.5, 0.5, message, ha="center", va="center", transform=self.axes.transAxes, color="0.5")
        self.canvas.draw_idle()

    def show_spectrogram(self, mel_db: np.ndarray, hop_s: float, band_hz: np.ndarray, title: str = "") -> None:
        """Draw (n_mels, n_frames) dB values; x in seconds, y in mel bands labelled in Hz."""
        self._fresh_axes()
        n_mels, frames = mel_db.shape
        self.duration_s = frames * hop_s
        top = float(np.max(mel_db)) if mel_db.size else 0.0
        self.image = self.axes.imshow(mel_db, origin="lower", aspect="auto", cmap="magma", interpolation="nearest",
                                      extent=(0.0, max(self.duration_s, hop_s), -0.5, n_mels - 0.5),
                                      vmin=top - 80.0, vmax=top)
        positions, labels = hz_ticks(np.asarray(band_hz))
        self.axes.set_yticks(positions, labels)
        self.axes.set_ylabel("Hz (mel scale)")
        self.axes.set_xlabel("time (s)")
        self.axes.set_title(title or self.title, fontsize=9, loc="left")
        self.colorbar = self.figure.colorbar(self.image, ax=self.axes, pad=0.01, fraction=0.04)
        self.colorbar.set_label("dB")
        self.playhead = self.axes.axvline(0.0, color="#00e5ff", linewidth=1.2, animated=True)
        self.canvas.draw_idle()

    @property
    def has_data(self) -> bool:
        return self.image is not None and self.image.get_array().size > 0

    def set_playhead(self, seconds: Optional[float]) -> None:
        """Move the playhead; None hides it (this view is not the one playing)."""
        if self.playhead is None:
            return
        self.playhead.set_visible(seconds is not None)
        if seconds is not None:
            self.playhead.set_xdata([seconds, seconds])
        if self._background is None:
            self.canvas.draw_idle()
            return
        self.canvas.restore_region(self._background)
        self.axes.draw_artist(self.playhead)
        self.canvas.blit(self.axes.bbox)

    @property
    def playhead_s(self) -> Optional[float]:
        if self.playhead is None or not self.playhead.get_visible():
            return None
        return float(self.playhead.get_xdata()[0])

    def _on_draw(self, _event) -> None:
        # A full redraw happened (resize, new data): re-cache the background under the playhead.
        self._background = self.canvas.copy_from_bbox(self.axes.bbox)
        if self.playhead is not None and self.playhead.get_visible():
            self.axes.draw_artist(self.playhead)

    def _on_click(self, event) -> None:
        if event.inaxes is self.axes and event.xdata is not None and self.image is not None:
            self.seekRequested.emit(float(min(max(event.xdata, 0.0), self.duration_s)))
