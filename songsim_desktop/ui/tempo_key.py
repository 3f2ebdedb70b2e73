"""Tempo and key in the tables (issue 12): how the columns show and sort them, and the filter bar
(a BPM range, keys compatible with a Camelot code) that the Library and Search tabs share."""

from __future__ import annotations

from typing import Optional

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QCheckBox, QComboBox, QDoubleSpinBox, QHBoxLayout, QLabel, QWidget

from songsim_desktop.core.descriptors import camelot
from songsim_desktop.core.search.aspects import TrackFilter

ANY_KEY = "any key"
QUERY_KEY = "compatible with the reference"
ALL_CODES = [f"{n}{letter}" for letter in "AB" for n in range(1, 13)]


def format_tempo(tempo: Optional[float]) -> str:
    return f"{tempo:.1f}" if tempo else ""


def code_of(key: Optional[str]) -> Optional[str]:
    """'A minor' -> '8A' (None for no key)."""
    if not key:
        return None
    tonic, mode = key.split(" ")
    return camelot.camelot(camelot.PITCH_CLASSES.index(tonic), mode)


def format_key(key: Optional[str]) -> str:
    """'A minor' -> 'A minor (8A)'."""
    return f"{key} ({code_of(key)})" if key else ""


def key_sort_value(key: Optional[str]) -> int:
    """Sort along the Camelot wheel (1A, 1B, 2A, ...), so neighbours in the table mix well; no key last.
    An int: Qt's sort compares plain numbers, not Python tuples."""
    code = code_of(key)
    if code is None:
        return 1000
    number, letter = camelot.parse_code(code)
    return 2 * number + (letter == "B")


class TempoKeyFilter(QWidget):
    """'BPM [lo]-[hi] (half/double too)  Key [any | compatible with ...]'; ``changed`` on every edit.

    ``track_filter(reference_code)`` is what it selects; ``reference_code`` stands in for "compatible
    with the reference" (the Search tab's query; the Library tab leaves that choice out).
    """

    changed = Signal()

    def __init__(self, with_reference: bool = False, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.bpm_box = QCheckBox("BPM")
        self.bpm_box.setToolTip("Only tracks with a tempo in this range")
        self.bpm_low, self.bpm_high = QDoubleSpinBox(), QDoubleSpinBox()
        for spin, value in ((self.bpm_low, 118.0), (self.bpm_high, 126.0)):
            spin.setRange(20.0, 300.0)
            spin.setDecimals(1)
            spin.setValue(value)
            spin.valueChanged.connect(lambda _v: self.changed.emit())
        self.octave_box = QCheckBox("half/double too")
        self.octave_box.setToolTip("A track at half or double a tempo in the range passes too")
        self.key_combo = QComboBox()
        self.key_combo.setToolTip("Only keys that mix with this one: the same Camelot code, +-1, or the "
                                  "relative major/minor")
        self.key_combo.addItem(ANY_KEY)
        if with_reference:
            self.key_combo.addItem(QUERY_KEY)
        for code in ALL_CODES:
            tonic, mode = camelot.key_of_code(code)
            self.key_combo.addItem(f"compatible with {code} ({camelot.key_name(tonic, mode)})", code)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        for w in (self.bpm_box, self.bpm_low, QLabel("–"), self.bpm_high, self.octave_box, QLabel("Key"),
                  self.key_combo):
            layout.addWidget(w)
        layout.addStretch(1)
        self.bpm_box.toggled.connect(lambda _on: self.changed.emit())
        self.octave_box.toggled.connect(lambda _on: self.changed.emit())
        self.key_combo.currentIndexChanged.connect(lambda _i: self.changed.emit())

    def set_bpm(self, low: float, high: float, octave_aware: bool = False) -> None:
        self.bpm_low.setValue(low)
        self.bpm_high.setValue(high)
        self.octave_box.setChecked(octave_aware)
        self.bpm_box.setChecked(True)

    def set_compatible(self, code: Optional[str]) -> None:
        """A Camelot code, QUERY_KEY, or None for any key."""
        if code is None:
            self.key_combo.setCurrentIndex(0)
        elif code == QUERY_KEY:
            self.key_combo.setCurrentText(QUERY_KEY)
        else:
            self.key_combo.setCurrentIndex(self.key_combo.findData(camelot.camelot(*camelot.key_of_code(code))))

    def track_filter(self, reference_code: Optional[str] = None) -> TrackFilter:
        bpm = None
        if self.bpm_box.isChecked():
            low, high = sorted((self.bpm_low.value(), self.bpm_high.value()))
            bpm = (low, high)
        text = self.key_combo.currentText()
        code = reference_code if text == QUERY_KEY else self.key_combo.currentData()
        return TrackFilter(bpm, self.octave_box.isChecked(), code)
