"""Musical descriptors of a track's audio: tempo, key, and the rhythm and harmony aspect vectors.

:func:`describe` is the sample hook (core/analysis/sample_hooks.py) that computes them in the decode
worker from the middle 30 s it already decoded (sample_hooks.EXCERPT_S); core/analysis/descriptors.py stores them.

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

# The analysis runs at 11.025 kHz on at most the middle ANALYSIS_S of what the hook is given: tempo
# needs onsets (below 5.5 kHz they are all there) and key needs pitches (all below), and it costs a
# fraction of a full-rate analysis (measured by bench/bench_descriptors.py: scan cost).
ANALYSIS_SR = 11025
ANALYSIS_S = 30.0
HOP = 128  # onset frames of 11.6 ms: 180 BPM is 29 frames, refined between frames
ONSET_FFT = 512
CHROMA_FFT = 2048  # 5.4 Hz bins: a semitone apart from 130 Hz up
N_MELS = 64
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
    keep = int(ANALYSIS_S * sample_rate)
    if len(y) > keep:
        start = (len(y) - keep) // 2
        y = y[start:start + keep]
    if sample_rate != ANALYSIS_SR:
        import soxr

        y = soxr.resample(y, sample_rate, ANALYSIS_SR).astype(np.float32)
    librosa = _librosa()
    cut = int(np.searchsorted(librosa.mel_frequencies(n_mels=N_MELS, fmax=ANALYSIS_SR / 2), tempo.LOW_BAND_HZ))
    bands = librosa.onset.onset_strength_multi(y=y, sr=ANALYSIS_SR, n_fft=ONSET_FFT, hop_length=HOP, n_mels=N_MELS,
                                               channels=[0, cut, N_MELS])
    frame_rate = ANALYSIS_SR / HOP
    full = bands.sum(axis=0)
    bpm, bpm_confidence = tempo.estimate(full, bands[0], frame_rate)
    chroma = librosa.feature.chroma_stft(y=y, sr=ANALYSIS_SR, n_fft=CHROMA_FFT, hop_length=CHROMA_FFT // 4).mean(axis=1)
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
