"""Previews: what the search tab plays and draws, computed without Qt; and the small cache of them."""

from __future__ import annotations

import numpy as np
import pytest

from core.audio_factory import write_sine
from songsim_desktop.core import audio
from songsim_desktop.core.features import FrontEndConfig, logmel
from songsim_desktop.core.preview import PLAYBACK_RATE, Preview, PreviewCache, load_preview
from songsim_desktop.errors import DecodeError


def test_preview_holds_full_rate_audio_and_the_models_own_log_mel(tmp_path):
    cfg = FrontEndConfig()
    path = write_sine(tmp_path / "täst.wav", seconds=3.0, sr=22050, freq=1000.0)
    preview = load_preview(path)
    assert preview.path == str(path) and preview.sample_rate == PLAYBACK_RATE == 44100
    assert preview.duration_s == pytest.approx(3.0, abs=0.01)
    assert preview.mel_db.shape[0] == cfg.n_mels and preview.band_hz.shape == (cfg.n_mels,)
    assert preview.hop_s == pytest.approx(cfg.hop_length / cfg.sample_rate)
    # The picture is the model's front end: the same numbers logmel() gives on the model-rate audio.
    direct = logmel(audio.load(path, cfg.sample_rate, 0.0, 60.0), cfg)
    assert preview.mel_db.shape == direct.shape
    audible = direct > direct.max() - 40.0  # below that, the two resampling paths differ only in their noise
    assert audible.sum() > 100 and np.allclose(preview.mel_db[audible], direct[audible], atol=1.0)
    loudest = int(np.argmax(preview.mel_db.mean(axis=1)))
    assert abs(preview.band_hz[loudest] - 1000.0) < 150.0  # the 1 kHz tone is where the bands say


def test_long_files_are_cut_so_memory_stays_bounded(tmp_path):
    path = write_sine(tmp_path / "long.flac", seconds=6.0)
    assert load_preview(path, max_seconds=2.0).duration_s == pytest.approx(2.0, abs=0.01)


def test_a_file_without_audio_says_so(tmp_path):
    path = write_sine(tmp_path / "empty.wav", seconds=0.0)
    with pytest.raises(DecodeError, match="empty.wav"):
        load_preview(path)


def test_cache_keeps_the_most_recently_used_few():
    def preview(name):
        return Preview(name, np.zeros(4, np.float32), 44100, np.zeros((2, 2)), np.zeros(2), 0.01)

    cache = PreviewCache(size=2)
    a, b, c = preview("a"), preview("b"), preview("c")
    cache.put(a)
    cache.put(b)
    assert cache.get("a") is a  # a is now the most recent ...
    cache.put(c)  # ... so b, the least recent, goes
    assert "b" not in cache and cache.get("a") is a and cache.get("c") is c
    assert cache.get("b") is None
