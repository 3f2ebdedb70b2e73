"""One streamed whole-file decode per track: the full log-mel for section vectors, and the crops.

Section search needs the spectrogram of the whole track, so the scan's worker decodes each file
once from start to end (``audio.load``: blocks + a streaming resampler) and computes:
- the log-mel of the whole track (chunked, so the STFT never holds more than a few MB), from which
  the section windows are sliced without computing the spectrum twice;
- the model's ``n_crops`` crops at exactly ``audio.crop_starts``'s positions, cut from the same
  samples, so the track vector is the one ``audio.read_crops`` gives;
- the middle minute of samples for the sample hooks (tempo, key...), at no extra decode.

A file whose decode ends early (a truncated download, a damaged tail) falls back to
``audio.read_crops`` (which measures the readable part and notes it) and keeps the log-mel of what
decoded.  Files longer than ``SECTION_LIMIT_S`` get sections for their first ``SECTION_LIMIT_S``
only (memory and time stay bounded on a 2-hour DJ mix); their crops still span the whole file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Optional

import numpy as np

from songsim_desktop.core import audio
from songsim_desktop.core.analysis import sample_hooks
from songsim_desktop.core.features import FrontEndConfig, logmel, n_frames
from songsim_desktop.errors import DecodeError

# Sections cover at most this much of a file (15 min: 39 MB of samples at 22.05 kHz while decoding).
SECTION_LIMIT_S = 900.0
# Frames per log-mel chunk.  256 frames keep the STFT's temporaries (~1 MB framed + 1 MB complex)
# in the CPU's cache: the whole-track log-mel of a 4-minute track takes half the CPU time it took
# with 2048-frame chunks, with the same numbers (docs/benchmarks.md, "Model quality").
_MEL_CHUNK_FRAMES = 256
# A decode that ends this much before the header's length is a truncated file.
_TRUNCATION_SLACK_S = 0.5


@dataclass
class FullDecode:
    crops: np.ndarray  # (n_crops, crop_samples) float32, at audio.crop_starts' positions
    info: audio.AudioInfo
    full_logmel: Optional[np.ndarray]  # (n_mels, frames) float32 of the first SECTION_LIMIT_S, or None
    descriptors: dict


def chunked_logmel(samples: np.ndarray, cfg: FrontEndConfig) -> np.ndarray:
    """``features.logmel(samples)`` computed in chunks of frames (same numbers, bounded memory)."""
    total = n_frames(len(samples), cfg)
    out = np.empty((cfg.n_mels, total), dtype=np.float32)
    for first in range(0, total, _MEL_CHUNK_FRAMES):
        count = min(_MEL_CHUNK_FRAMES, total - first)
        start = first * cfg.hop_length
        piece = samples[start: start + cfg.n_fft + (count - 1) * cfg.hop_length]
        out[:, first: first + count] = logmel(piece, cfg)
    return out


def crops_from_samples(samples: np.ndarray, total: int, cfg: FrontEndConfig) -> np.ndarray:
    """The model's crops of a track of ``total`` samples (at the model rate), cut from ``samples``."""
    length = cfg.crop_samples
    if total <= length:  # short track: tiled to a crop, as read_crops does
        return np.broadcast_to(np.resize(samples[:total], length), (cfg.n_crops, length)).astype(np.float32)
    out = np.zeros((cfg.n_crops, length), dtype=np.float32)
    for i, start in enumerate(audio.crop_starts(total, cfg)):
        window = samples[int(start): int(start) + length]
        out[i, : len(window)] = window
    return out


def _middle_minute(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    half = int(sample_rate * sample_hooks.EXCERPT_S / 2)
    mid = len(samples) // 2
    return samples[max(0, mid - half): mid + half]


def decode_full(path: str | os.PathLike, cfg: FrontEndConfig, limit_s: float = SECTION_LIMIT_S) -> FullDecode:
    """Decode ``path`` once: its crops, info, full log-mel and sample descriptors (DecodeError on failure)."""
    header = audio.probe(path)
    sr = cfg.sample_rate
    frames = int(round(header.duration_s * header.sample_rate))
    total = int(frames * sr / header.sample_rate)  # the header's length at the model rate, as read_crops
    samples = audio.load(path, sr, 0.0, max_seconds=limit_s)
    expected = min(total, int(limit_s * sr))
    if total <= 0 or len(samples) < expected - _TRUNCATION_SLACK_S * sr or header.duration_s > limit_s:
        # Truncated (or header-less): read_crops measures what decodes and notes it.  Too long:
        # read_crops seeks to the crops beyond the limit.  Either way the log-mel of what we have stays.
        crops, info = audio.read_crops(path, cfg)
    else:
        if len(samples) / sr < audio.MIN_DURATION_S:
            raise DecodeError(f"too short: {len(samples) / sr:.1f} s (songsim needs at least "
                              f"{audio.MIN_DURATION_S:.1f} s)", path=path)
        crops = crops_from_samples(samples, min(total, len(samples)), cfg)
        audio.check_samples(path, crops)
        info = header
    full = chunked_logmel(samples, cfg) if len(samples) >= cfg.n_fft else None
    descriptors = sample_hooks.describe(_middle_minute(samples, sr), sr) if sample_hooks.HOOKS else {}
    return FullDecode(crops, info, full, descriptors)
