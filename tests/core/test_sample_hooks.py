"""Sample hooks: descriptors a decode worker computes from the audio it already has."""

from __future__ import annotations

import numpy as np

from core.audio_factory import write_sine
from songsim_desktop.core import decoding
from songsim_desktop.core.analysis import sample_hooks
from songsim_desktop.core.features import FrontEndConfig

CFG = FrontEndConfig()


def loudest_bin_hz(samples: np.ndarray, sr: int) -> dict:
    spectrum = np.abs(np.fft.rfft(samples))
    return {"peak_hz": float(np.argmax(spectrum) * sr / len(samples)), "seconds": len(samples) / sr}


def broken(samples: np.ndarray, sr: int) -> dict:
    raise ValueError("no beat here")


def test_prepare_track_runs_every_hook_on_the_middle_of_the_file(tmp_path, monkeypatch):
    monkeypatch.setattr(sample_hooks, "HOOKS", [loudest_bin_hz])
    path = write_sine(tmp_path / "a.wav", seconds=90.0, freq=440.0)
    prepared = decoding.prepare_track(str(path), CFG)
    assert prepared.error is None
    assert abs(prepared.descriptors["peak_hz"] - 440.0) < 2.0
    assert abs(prepared.descriptors["seconds"] - sample_hooks.EXCERPT_S) < 0.5  # the middle minute only


def test_a_failing_hook_loses_only_its_own_keys(tmp_path, monkeypatch):
    monkeypatch.setattr(sample_hooks, "HOOKS", [broken, loudest_bin_hz])
    prepared = decoding.prepare_track(str(write_sine(tmp_path / "b.wav", seconds=5.0, freq=880.0)), CFG)
    assert prepared.error is None and prepared.logmel is not None
    assert abs(prepared.descriptors["peak_hz"] - 880.0) < 2.0
    assert prepared.descriptors["errors"] == ["broken: ValueError: no beat here"]


def test_without_hooks_nothing_extra_is_decoded(tmp_path, monkeypatch):
    monkeypatch.setattr(sample_hooks, "HOOKS", [])
    monkeypatch.setattr(decoding.audio, "load", lambda *a, **k: (_ for _ in ()).throw(AssertionError("decoded")))
    prepared = decoding.prepare_track(str(write_sine(tmp_path / "c.wav", seconds=5.0)), CFG)
    assert prepared.error is None and prepared.descriptors == {}
