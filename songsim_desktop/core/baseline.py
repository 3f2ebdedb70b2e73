"""The MFCC-statistics baseline the trained model must beat (numpy only).

A track is described by the mean and the standard deviation over time of 20 MFCCs and of their
deltas (80 numbers).  The MFCCs come from the same log-mel front end as the model
(:func:`songsim_desktop.core.features.logmel`) followed by an orthonormal DCT-II over the mel axis,
so the baseline and the model see exactly the same spectrogram and differ only in what they learn
from it.  Dimensions have very different scales (MFCC 0 is loudness in dB, the deltas are tiny),
so the vectors are standardised (z-scored per dimension over the tracks being compared) before
Euclidean distances are taken; otherwise loudness alone would decide every ranking.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from songsim_desktop.core.features import FrontEndConfig, logmel

N_MFCC = 20
DELTA_WIDTH = 2  # frames on each side of the regression delta (the HTK/librosa convention)


@lru_cache(maxsize=4)
def dct_matrix(n_mels: int, n_mfcc: int = N_MFCC) -> np.ndarray:
    """Orthonormal DCT-II basis, shape (n_mfcc, n_mels): ``mfcc = D @ logmel``."""
    k = np.arange(n_mfcc)[:, None]
    n = np.arange(n_mels)[None, :]
    basis = np.cos(np.pi * k * (2 * n + 1) / (2 * n_mels)) * np.sqrt(2.0 / n_mels)
    basis[0] /= np.sqrt(2.0)
    basis.setflags(write=False)
    return basis.astype(np.float32)


def mfcc(logmel_db: np.ndarray, n_mfcc: int = N_MFCC) -> np.ndarray:
    """MFCCs of a log-mel spectrogram in dB, shape (n_mels, frames) -> (n_mfcc, frames)."""
    spec = np.asarray(logmel_db, dtype=np.float32)
    if spec.ndim != 2:
        raise ValueError(f"expected a (n_mels, frames) log-mel spectrogram, got shape {spec.shape}")
    return dct_matrix(spec.shape[0], n_mfcc) @ spec


def deltas(features: np.ndarray, width: int = DELTA_WIDTH) -> np.ndarray:
    """Regression deltas over time (edges repeated), same shape as ``features`` (dims, frames)."""
    if features.shape[1] == 0:
        return features.copy()
    padded = np.pad(features, ((0, 0), (width, width)), mode="edge")
    frames = features.shape[1]
    num = np.zeros_like(features, dtype=np.float32)
    for n in range(1, width + 1):
        num += n * (padded[:, width + n: width + n + frames] - padded[:, width - n: width - n + frames])
    return num / (2 * sum(n * n for n in range(1, width + 1)))


def mfcc_statistics(logmel_db: np.ndarray, n_mfcc: int = N_MFCC) -> np.ndarray:
    """The unstandardised 4*n_mfcc description: [mean(mfcc), std(mfcc), mean(delta), std(delta)]."""
    coeffs = mfcc(logmel_db, n_mfcc)
    if coeffs.shape[1] < 2:
        raise ValueError("need at least 2 frames of audio for MFCC statistics")
    d = deltas(coeffs)
    return np.concatenate([coeffs.mean(1), coeffs.std(1), d.mean(1), d.std(1)]).astype(np.float32)


def mfcc_statistics_of_samples(samples: np.ndarray, cfg: FrontEndConfig) -> np.ndarray:
    """Convenience: mono samples at ``cfg.sample_rate`` -> :func:`mfcc_statistics`."""
    return mfcc_statistics(logmel(samples, cfg))


@dataclass(frozen=True)
class Standardiser:
    """Per-dimension z-scoring fitted on a set of description vectors (the tracks compared)."""

    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def fit(cls, vectors: np.ndarray) -> "Standardiser":
        data = np.asarray(vectors, dtype=np.float64)
        if data.ndim != 2 or len(data) < 2:
            raise ValueError(f"need at least 2 vectors of shape (n, dims) to standardise, got {data.shape}")
        std = data.std(0)
        # A constant dimension carries no information; dividing by 1 keeps it at zero, not NaN.
        std[std < 1e-9] = 1.0
        return cls(data.mean(0).astype(np.float32), std.astype(np.float32))

    def transform(self, vectors: np.ndarray) -> np.ndarray:
        return ((np.asarray(vectors, dtype=np.float32) - self.mean) / self.std).astype(np.float32)


def standardise(vectors: np.ndarray) -> np.ndarray:
    """z-score each dimension over the given vectors (shape (n, dims))."""
    return Standardiser.fit(vectors).transform(vectors)
