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


def test_hooks_ride_on_the_one_whole_file_decode(tmp_path, monkeypatch):
    """Section vectors decode each file once from start to end; hooks get their samples from that
    decode (issue 10), so with or without hooks a file is decoded exactly once."""
    real_load, loads = decoding.audio.load, []
    monkeypatch.setattr(decoding.audio, "load", lambda *a, **k: loads.append(a[0]) or real_load(*a, **k))
    for hooks in ([], [loudest_bin_hz]):
        monkeypatch.setattr(sample_hooks, "HOOKS", hooks)
        loads.clear()
        prepared = decoding.prepare_track(str(write_sine(tmp_path / f"c{len(hooks)}.wav", seconds=5.0)), CFG)
        assert prepared.error is None and len(loads) == 1
        assert prepared.full_logmel is not None and ("peak_hz" in prepared.descriptors) == bool(hooks)
