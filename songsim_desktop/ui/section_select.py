"""Section search in the GUI (issue 10): select a time range on the reference's spectrogram, find
the tracks with a part like it, and see (and hear) where each result matches.

- :class:`SectionSelector` lets the user drag across a :class:`SpectrogramView` (matplotlib's
  SpanSelector, re-attached whenever the view draws a new spectrogram) and reports the range.
- :class:`SectionBar` is the row under the reference: the selected range, "Find this section",
  "Also inside this track" (where does the track repeat itself?) and "Whole track".
- :func:`highlight` shades a result's best-matching part on its spectrogram.
The search itself is ``service.query_section`` on a worker; the search tab wires these together.
"""

from __future__ import annotations

from typing import Optional

from matplotlib.widgets import SpanSelector
from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QWidget

from songsim_desktop.ui.models import format_duration
from songsim_desktop.ui.spectrogram_view import SpectrogramView
from songsim_desktop.ui.widgets import push_button

MIN_SPAN_S = 0.5  # a shorter drag is a click (seek), not a selection
SELECTION_COLOUR = "#7CFC00"
MATCH_COLOUR = "#00e5ff"


def span_text(start_s: float, end_s: float) -> str:
    """'1:24–1:36'."""
    return f"{format_duration(start_s)}–{format_duration(end_s)}"


def match_text(match) -> str:
    """'best match 1:24–1:36' for a section match, '' for a whole-track one."""
    if getattr(match, "offset", None) is None:
        return ""
    return "best match " + span_text(match.offset, match.offset + (match.section_length or 0.0))


def highlight(view: SpectrogramView, start_s: float, end_s: float, colour: str = MATCH_COLOUR):
    """Shade [start_s, end_s] on ``view``'s current spectrogram (gone with its next drawing)."""
    if view.image is None:
        return None
    patch = view.axes.axvspan(start_s, end_s, color=colour, alpha=0.25, linewidth=0)
    view.canvas.draw_idle()
    return patch


class SectionSelector(QObject):
    """The selected time range of a spectrogram view; ``None`` = the whole track."""

    rangeChanged = Signal(object)  # (start_s, end_s) or None

    def __init__(self, view: SpectrogramView, parent: Optional[QObject] = None) -> None:
        super().__init__(parent)
        self.view = view
        self.range: Optional[tuple[float, float]] = None
        self._selector: Optional[SpanSelector] = None
        self._patch = None

    def attach(self) -> None:
        """After the view drew a new spectrogram: a fresh selector on its fresh axes, no selection."""
        self.range, self._patch = None, None
        self._selector = None
        if self.view.image is not None:
            self._selector = SpanSelector(self.view.axes, self._selected, "horizontal", useblit=False,
                                          minspan=MIN_SPAN_S, interactive=False,
                                          props={"facecolor": SELECTION_COLOUR, "alpha": 0.25})
        self.rangeChanged.emit(None)

    def select(self, start_s: float, end_s: float) -> None:
        """Select [start_s, end_s] (clamped to the track), as a drag does."""
        self._selected(start_s, end_s)

    def clear(self) -> None:
        if self._patch is not None:
            self._patch.remove()
            self._patch = None
            self.view.canvas.draw_idle()
        self.range = None
        self.rangeChanged.emit(None)

    def _selected(self, start_s: float, end_s: float) -> None:
        duration = self.view.duration_s
        start, end = sorted((min(max(0.0, float(start_s)), duration), min(max(0.0, float(end_s)), duration)))
        if end - start < MIN_SPAN_S:
            return
        if self._patch is not None:
            self._patch.remove()
        self._patch = highlight(self.view, start, end, SELECTION_COLOUR)
        self.range = (start, end)
        self.rangeChanged.emit(self.range)


class SectionBar(QWidget):
    """The selected range and the section-search buttons; ``findRequested(range or None, include_self)``."""

    findRequested = Signal(object, bool)

    def __init__(self, selector: SectionSelector, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.selector = selector
        self.label = QLabel("")
        self.find_button = push_button(
            "Find this section", "Rank the library by its tracks' best part against the selected range "
            "(drag across the reference's spectrogram to select; no selection = the whole track)",
            lambda: self.findRequested.emit(self.selector.range, self.include_self_box.isChecked()))
        self.include_self_box = QCheckBox("Also inside this track")
        self.include_self_box.setToolTip("Also list where the reference's own track sounds like the selection")
        self.whole_button = push_button("Whole track", "Forget the selection", selector.clear)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        for w in (self.label, self.find_button, self.include_self_box, self.whole_button):
            layout.addWidget(w)
        layout.addStretch(1)
        selector.rangeChanged.connect(self._range_changed)
        self._range_changed(None)

    def _range_changed(self, selected) -> None:
        self.label.setText("Selection: whole track (drag across the spectrogram to pick a part)" if selected is None
                           else f"Selection: {span_text(*selected)}")
        self.whole_button.setEnabled(selected is not None)
