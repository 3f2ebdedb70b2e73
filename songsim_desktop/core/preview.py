"""What a track needs before it can be seen and heard: audio for playback + its log-mel spectrogram.

``load_preview`` decodes and computes (the GUI runs it on a worker thread, see ui/audition.py);
the GUI receives the finished ``Preview`` and only hands arrays to the player and the spectrogram
view.  The spectrogram is the model's own front end (``core.features.logmel`` with the default
FrontEndConfig), so what a user sees is what the model hears.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np
import soxr

from songsim_desktop.core import audio as core_audio
from songsim_desktop.core.features import FrontEndConfig, logmel, mel_band_edges_hz
from songsim_desktop.core.progress import CancelToken
from songsim_desktop.errors import DecodeError

PLAYBACK_RATE = 44100  # producers audition at full bandwidth; the spectrogram is resampled down
PREVIEW_MAX_S = 360.0  # bounds memory (~63 MB of float32 mono) on very long files


@dataclass
class Preview:
    path: str
    audio: np.ndarray  # mono float32 at sample_rate, for the player
    sample_rate: int
    mel_db: np.ndarray  # (n_mels, n_frames) dB, from core.features.logmel
    band_hz: np.ndarray  # centre frequency of each mel band
    hop_s: float  # seconds per spectrogram frame

    @property
    def duration_s(self) -> float:
        return len(self.audio) / self.sample_rate


def load_preview(path: str | Path, cfg: Optional[FrontEndConfig] = None, max_seconds: float = PREVIEW_MAX_S,
                 cancel: Optional[CancelToken] = None) -> Preview:
    """Decode up to ``max_seconds`` of ``path`` and compute its log-mel spectrogram (worker thread)."""
    cfg = cfg or FrontEndConfig()
    audio = core_audio.load(path, PLAYBACK_RATE, 0.0, max_seconds)
    if cancel is not None:
        cancel.check()
    if len(audio) == 0:
        raise DecodeError("no audio could be decoded", path=path, action="loading a preview of")
    model_rate = audio if cfg.sample_rate == PLAYBACK_RATE else \
        soxr.resample(audio, PLAYBACK_RATE, cfg.sample_rate).astype(np.float32, copy=False)
    mel = logmel(model_rate, cfg)
    return Preview(str(path), audio, PLAYBACK_RATE, mel, mel_band_edges_hz(cfg), cfg.hop_length / cfg.sample_rate)


class PreviewCache:
    """The last few previews, so Up/Down back and forth through results is instant."""

    def __init__(self, size: int = 6) -> None:
        self.size = size
        self._items: OrderedDict[str, Preview] = OrderedDict()

    def get(self, path: str) -> Optional[Preview]:
        item = self._items.get(str(path))
        if item is not None:
            self._items.move_to_end(str(path))
        return item

    def put(self, preview: Preview) -> None:
        self._items[preview.path] = preview
        self._items.move_to_end(preview.path)
        while len(self._items) > self.size:
            self._items.popitem(last=False)

    def __contains__(self, path: str) -> bool:
        return str(path) in self._items
