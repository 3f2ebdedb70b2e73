"""Musical descriptors of a track's audio: tempo, key, and the rhythm and harmony aspect vectors.

:func:`describe` is the sample hook (core/analysis/sample_hooks.py) that computes them in the decode
worker from the middle minute it already decoded; core/analysis/descriptors.py stores them.

The signal processing is librosa's (ISC licence, like songsim's MIT one; essentia would be AGPL):
its onset envelopes (spectral flux on a mel spectrogram) and STFT chroma.  librosa is imported here
on first use only: it costs about 2 s of imports (scipy.signal, numba) per decode worker, which the
GUI's start and the CLI's query must not pay.  numba caches what it compiles under the app's data
cache folder (``NUMBA_CACHE_DIR``), not next to librosa in site-packages, which an installed app cannot
write; one folder per user, not per library, so a second library (or a test's) reuses what the first
compiled (about 30 s of compiling on first use, 2 s per process after).
"""

from __future__ import annotations

import os

import numpy as np

from songsim_desktop.core.descriptors import camelot, key, rhythm, tempo

HOP = 256  # onset frames of 11.6 ms at 22.05 kHz: 180 BPM is 29 frames, refined between frames
MIN_SECONDS = 4.0  # shorter excerpts hold too few beats to say anything


def _librosa():
    if "NUMBA_CACHE_DIR" not in os.environ:
        import platformdirs

        from songsim_desktop import paths

        os.environ["NUMBA_CACHE_DIR"] = os.path.join(platformdirs.user_cache_dir(paths.APP_NAME, appauthor=False),
                                                     "numba")
    import librosa

    return librosa


def describe(samples: np.ndarray, sample_rate: int) -> dict:
    """Tempo, key and the aspect vectors of mono ``samples``; {} for audio too short or silent.

    Keys: ``tempo`` (BPM), ``tempo_confidence``, ``key_tonic`` (0..11, C = 0), ``key_mode``
    ('major' | 'minor'), ``key_confidence``, ``rhythm`` (rhythm.pattern) and ``harmony`` (the 24 key
    correlations of key.key_scores), vectors as float32 arrays.
    """
    y = np.asarray(samples, dtype=np.float32)
    if len(y) < MIN_SECONDS * sample_rate or not np.any(np.abs(y) > 1e-4):
        return {}
    librosa = _librosa()
    n_mels = 128
    cut = int(np.searchsorted(librosa.mel_frequencies(n_mels=n_mels, fmax=sample_rate / 2), tempo.LOW_BAND_HZ))
    bands = librosa.onset.onset_strength_multi(y=y, sr=sample_rate, hop_length=HOP, n_mels=n_mels,
                                               channels=[0, cut, n_mels])
    frame_rate = sample_rate / HOP
    full = bands.sum(axis=0)
    bpm, bpm_confidence = tempo.estimate(full, bands[0], frame_rate)
    chroma = librosa.feature.chroma_stft(y=y, sr=sample_rate).mean(axis=1)
    tonic, mode, key_confidence = key.estimate(chroma)
    return {
        "tempo": bpm,
        "tempo_confidence": bpm_confidence,
        "key_tonic": tonic,
        "key_mode": mode,
        "key_confidence": key_confidence,
        "rhythm": rhythm.pattern(tempo.autocorrelation(full), frame_rate),
        "harmony": key.key_scores(chroma).astype(np.float32),
    }


__all__ = ["camelot", "describe", "key", "rhythm", "tempo"]
