"""The one definition of the audio front end: samples -> log-mel spectrogram.

Inference (core.embedder), training (training.data) and the spectrogram view all call
:func:`logmel` with a :class:`FrontEndConfig`; the config travels inside every exported model, so
a model is always fed exactly the numbers it was trained on.  Pure numpy on purpose: the core must
not need torch, and one implementation cannot drift from itself.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, fields
from functools import lru_cache

import numpy as np


@dataclass(frozen=True)
class FrontEndConfig:
    sample_rate: int = 22050
    n_fft: int = 1024
    hop_length: int = 512
    n_mels: int = 64
    fmin: float = 30.0
    fmax: float = 11025.0
    # Floor of the power spectrum before the log, in power units (-100 dB).  No per-clip
    # normalisation here: a gain change is a constant shift in dB, which training augments for.
    amin: float = 1e-10
    # Model input: crops of this many frames (256 frames * 512 hop / 22050 Hz = 5.9 s).
    crop_frames: int = 256
    # A track's vector is the mean of this many crops spread evenly over it.
    n_crops: int = 8

    @property
    def crop_samples(self) -> int:
        """Samples that yield exactly ``crop_frames`` frames (no centre padding)."""
        return self.n_fft + (self.crop_frames - 1) * self.hop_length

    @property
    def crop_seconds(self) -> float:
        return self.crop_samples / self.sample_rate

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "FrontEndConfig":
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    def key(self) -> str:
        """Short stable hash: cached model inputs are valid only for the same front end."""
        blob = json.dumps(self.to_dict(), sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:12]


def hz_to_mel(hz):
    """Slaney's mel scale (linear below 1 kHz, logarithmic above), as librosa's default."""
    hz = np.asarray(hz, dtype=np.float64)
    f_sp = 200.0 / 3
    mels = hz / f_sp
    min_log_hz = 1000.0
    min_log_mel = min_log_hz / f_sp
    logstep = np.log(6.4) / 27.0
    return np.where(hz >= min_log_hz, min_log_mel + np.log(np.maximum(hz, 1e-9) / min_log_hz) / logstep, mels)


def mel_to_hz(mels):
    mels = np.asarray(mels, dtype=np.float64)
    f_sp = 200.0 / 3
    freqs = f_sp * mels
    min_log_hz = 1000.0
    min_log_mel = min_log_hz / f_sp
    logstep = np.log(6.4) / 27.0
    return np.where(mels >= min_log_mel, min_log_hz * np.exp(logstep * (mels - min_log_mel)), freqs)


@lru_cache(maxsize=8)
def mel_filterbank(cfg: FrontEndConfig) -> np.ndarray:
    """Triangular, area-normalised (Slaney) filters: shape (n_mels, n_fft // 2 + 1), float32."""
    n_bins = cfg.n_fft // 2 + 1
    fft_freqs = np.linspace(0.0, cfg.sample_rate / 2, n_bins)
    mel_points = mel_to_hz(np.linspace(hz_to_mel(cfg.fmin), hz_to_mel(cfg.fmax), cfg.n_mels + 2))
    fdiff = np.diff(mel_points)
    ramps = mel_points[:, None] - fft_freqs[None, :]
    lower = -ramps[:-2] / fdiff[:-1, None]
    upper = ramps[2:] / fdiff[1:, None]
    weights = np.maximum(0.0, np.minimum(lower, upper))
    weights *= (2.0 / (mel_points[2:] - mel_points[:-2]))[:, None]
    weights.setflags(write=False)
    return weights.astype(np.float32)


@lru_cache(maxsize=8)
def _window(n_fft: int) -> np.ndarray:
    return (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft)).astype(np.float32)  # periodic Hann


def n_frames(n_samples: int, cfg: FrontEndConfig) -> int:
    if n_samples < cfg.n_fft:
        return 0
    return 1 + (n_samples - cfg.n_fft) // cfg.hop_length


def power_spectrogram(samples: np.ndarray, cfg: FrontEndConfig) -> np.ndarray:
    """|STFT|^2 of mono float32 samples, frames not centred: shape (n_fft//2+1, n_frames)."""
    x = np.ascontiguousarray(samples, dtype=np.float32)
    count = n_frames(len(x), cfg)
    if count == 0:
        return np.zeros((cfg.n_fft // 2 + 1, 0), dtype=np.float32)
    frames = np.lib.stride_tricks.sliding_window_view(x, cfg.n_fft)[:: cfg.hop_length][:count]
    spectrum = np.fft.rfft(frames * _window(cfg.n_fft), axis=1)
    return (spectrum.real**2 + spectrum.imag**2).astype(np.float32).T


def logmel(samples: np.ndarray, cfg: FrontEndConfig) -> np.ndarray:
    """Log-mel spectrogram in dB: shape (n_mels, n_frames), float32."""
    mel = mel_filterbank(cfg) @ power_spectrogram(samples, cfg)
    return (10.0 * np.log10(np.maximum(mel, cfg.amin))).astype(np.float32)


def logmel_batch(crops: np.ndarray, cfg: FrontEndConfig) -> np.ndarray:
    """Model input for crops of shape (n, crop_samples): shape (n, 1, n_mels, crop_frames)."""
    out = np.empty((len(crops), 1, cfg.n_mels, cfg.crop_frames), dtype=np.float32)
    for i, crop in enumerate(crops):
        spec = logmel(crop, cfg)
        if spec.shape[1] != cfg.crop_frames:
            raise ValueError(f"crop gives {spec.shape[1]} frames, expected {cfg.crop_frames}")
        out[i, 0] = spec
    return out


def mel_band_edges_hz(cfg: FrontEndConfig) -> np.ndarray:
    """Centre frequencies of the mel bands in Hz (for a spectrogram's frequency axis)."""
    return mel_to_hz(np.linspace(hz_to_mel(cfg.fmin), hz_to_mel(cfg.fmax), cfg.n_mels + 2))[1:-1]
