"""core.features: the one front end, checked against torchaudio as an independent implementation."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch
import torchaudio

from songsim_desktop.core import features, synth
from songsim_desktop.core.features import FrontEndConfig

CFG = FrontEndConfig()


def music(seconds: float = 3.0, seed: int = 0) -> np.ndarray:
    """Synth music with a little noise so that every mel band carries energy."""
    x = synth.render(synth.Family("saw", "swing"), seconds, CFG.sample_rate, seed=seed)
    noise = 0.01 * np.random.default_rng(seed).standard_normal(len(x))
    return (x + noise).astype(np.float32)


def torchaudio_logmel(x: np.ndarray, cfg: FrontEndConfig) -> np.ndarray:
    transform = torchaudio.transforms.MelSpectrogram(
        sample_rate=cfg.sample_rate, n_fft=cfg.n_fft, hop_length=cfg.hop_length, f_min=cfg.fmin,
        f_max=cfg.fmax, n_mels=cfg.n_mels, window_fn=torch.hann_window, center=False, power=2.0,
        norm="slaney", mel_scale="slaney",
    ).double()
    mel = transform(torch.from_numpy(x.astype(np.float64)))
    return (10 * torch.log10(torch.clamp(mel, min=cfg.amin))).numpy()


@pytest.mark.parametrize("cfg", [CFG, FrontEndConfig(sample_rate=16000, n_fft=512, hop_length=160,
                                                     n_mels=40, fmin=0.0, fmax=8000.0)])
def test_logmel_matches_torchaudio(cfg):
    x = music(3.0)
    ours = features.logmel(x, cfg)
    ref = torchaudio_logmel(x, cfg)
    assert ours.shape == ref.shape == (cfg.n_mels, features.n_frames(len(x), cfg))
    assert ours.dtype == np.float32
    # where the signal is far above float32 rounding (> -90 dB) the two agree to a thousandth of a dB
    audible = ref > -90
    assert audible.mean() > 0.95
    np.testing.assert_allclose(ours[audible], ref[audible], atol=1e-3)


def test_silence_hits_the_floor_exactly():
    spec = features.logmel(np.zeros(CFG.crop_samples, np.float32), CFG)
    # Not exact: numpy's float32 log10 takes other SIMD paths on other CPUs (AVX-512 gives -100.00001).
    np.testing.assert_allclose(spec, 10 * np.log10(CFG.amin), rtol=0, atol=1e-3)


@pytest.mark.parametrize("gain_db", [-12.0, 6.0])
def test_a_gain_change_shifts_logmel_by_the_same_db(gain_db):
    x = music(2.0, seed=3)
    base = features.logmel(x, CFG)
    shifted = features.logmel((x * 10 ** (gain_db / 20)).astype(np.float32), CFG)
    floor = 10 * np.log10(CFG.amin)
    unfloored = (base > floor + 30) & (shifted > floor + 30)
    assert unfloored.mean() > 0.95
    np.testing.assert_allclose(shifted[unfloored] - base[unfloored], gain_db, atol=0.01)


def test_logmel_batch_shape_and_rows_equal_logmel():
    crops = np.stack([music(CFG.crop_seconds + 0.01, seed=s)[: CFG.crop_samples] for s in range(3)])
    batch = features.logmel_batch(crops, CFG)
    assert batch.shape == (3, 1, CFG.n_mels, CFG.crop_frames) and batch.dtype == np.float32
    # a batched matmul may sum in another order than a single one: equal to rounding, not bit for bit
    np.testing.assert_allclose(batch[1, 0], features.logmel(crops[1], CFG), rtol=0, atol=1e-3)
    with pytest.raises(ValueError, match="frames, expected"):
        features.logmel_batch(crops[:, :-1], CFG)


def test_crop_samples_give_exactly_crop_frames():
    for cfg in (CFG, FrontEndConfig(crop_frames=32), FrontEndConfig(n_fft=2048, hop_length=256)):
        assert features.n_frames(cfg.crop_samples, cfg) == cfg.crop_frames
        assert features.n_frames(cfg.crop_samples - 1, cfg) == cfg.crop_frames - 1


def test_config_round_trips_through_json_and_ignores_unknown_keys():
    cfg = FrontEndConfig(n_mels=96, fmin=20.0, crop_frames=128)
    data = json.loads(json.dumps(cfg.to_dict()))
    assert FrontEndConfig.from_dict(data) == cfg
    assert FrontEndConfig.from_dict({**data, "added_in_a_later_version": 1}) == cfg


def test_key_is_stable_and_changes_with_any_field():
    # The features cache is keyed by this: it must not change between runs or releases.
    assert CFG.key() == FrontEndConfig().key()
    assert len(CFG.key()) == 12 and all(c in "0123456789abcdef" for c in CFG.key())
    changed = {"sample_rate": 16000, "n_fft": 2048, "hop_length": 256, "n_mels": 128, "fmin": 0.0,
               "fmax": 8000.0, "amin": 1e-8, "crop_frames": 128, "n_crops": 4}
    assert set(changed) == {f.name for f in dataclasses.fields(FrontEndConfig)}
    keys = {dataclasses.replace(CFG, **{name: value}).key() for name, value in changed.items()}
    assert len(keys) == len(changed) and CFG.key() not in keys


def test_mel_filterbank_has_no_empty_band_and_ordered_centres():
    fb = features.mel_filterbank(CFG)
    assert fb.shape == (CFG.n_mels, CFG.n_fft // 2 + 1)
    assert np.all(fb >= 0) and np.all(fb.max(axis=1) > 0)  # no empty band
    centres = features.mel_band_edges_hz(CFG)
    assert np.all(np.diff(centres) > 0) and CFG.fmin < centres[0] and centres[-1] < CFG.fmax
