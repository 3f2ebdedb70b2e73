"""Tempo (BPM) from onset envelopes: the autocorrelation's strongest periodicity, then the metrical
level a listener taps.

An onset envelope repeats at every metrical level at once (the bar, the beat, the eighth notes), so
its strongest periodicity is often half or double the tempo a person would name: the classic
"octave error".  Two envelopes are used: the whole spectrum's finds the periodicities; the low band's
(below ``LOW_BAND_HZ``: kick drum, bass, the snare's body; hi-hats and shakers hardly reach it)
picks the level: the fastest periodicity that the low band still supports almost as strongly
(``LEVEL_SUPPORT``) as its best.  Hi-hat eighths thus do not double a slow groove, and a bar-long
kick pattern does not halve a fast one.

The thresholds were chosen on synthesised drum loops (core/synth_music.py); bench/bench_descriptors.py
measures the result on a fresh set and on real tracks.
"""

from __future__ import annotations

import numpy as np

LOW_BAND_HZ = 700.0
RANGE_BPM = (55.0, 190.0)  # where the beat is looked for
PEAK_FLOOR = 0.3  # a candidate periodicity is at least this share of the strongest one in range
LEVEL_SUPPORT = 0.7


def autocorrelation(envelope: np.ndarray) -> np.ndarray:
    """Autocorrelation of an envelope (mean removed), 1 at lag 0 (all zeros for a flat one)."""
    x = np.asarray(envelope, dtype=np.float64)
    x = x - x.mean()
    n = len(x)
    spectrum = np.fft.rfft(x, 2 * n)
    ac = np.fft.irfft(spectrum * np.conj(spectrum))[:n]
    return ac / ac[0] if ac[0] > 1e-12 else np.zeros(n)


def _peak_near(ac: np.ndarray, lag: float, tolerance: float = 0.04) -> float | None:
    """The autocorrelation's maximum within ``tolerance`` of ``lag``, refined between frames."""
    lo, hi = max(1, int(lag * (1 - tolerance))), min(len(ac) - 1, int(np.ceil(lag * (1 + tolerance))) + 1)
    if lo >= hi:
        return None
    i = lo + int(np.argmax(ac[lo:hi]))
    if i <= 0 or i >= len(ac) - 1:
        return float(i)
    a, b, c = ac[i - 1], ac[i], ac[i + 1]
    curvature = a - 2 * b + c
    return float(i + (0.5 * (a - c) / curvature if curvature < 0 else 0.0))


def estimate(full_envelope: np.ndarray, low_envelope: np.ndarray, frame_rate: float) -> tuple[float, float]:
    """(BPM, confidence 0..1) from two onset envelopes sampled at ``frame_rate`` Hz.

    The candidates are the whole-spectrum autocorrelation's peaks within ``RANGE_BPM`` at least
    ``PEAK_FLOOR`` as high as the highest; the beat is the fastest of them that the low band supports
    at ``LEVEL_SUPPORT`` of its best.  The confidence is the whole-spectrum autocorrelation at the
    chosen period: near 1 for a steady drum loop, near 0 for rubato or beatless audio.  (0.0, 0.0)
    when there is no periodicity in range.
    """
    full, low = autocorrelation(full_envelope), autocorrelation(low_envelope)
    first, last = int(60.0 * frame_rate / RANGE_BPM[1]), int(np.ceil(60.0 * frame_rate / RANGE_BPM[0]))
    peaks = [lag for lag in range(max(first, 1), min(last, len(full) - 1))
             if full[lag] > full[lag - 1] and full[lag] >= full[lag + 1] and full[lag] > 0]
    if not peaks:
        return 0.0, 0.0
    highest = max(full[lag] for lag in peaks)
    peaks = [lag for lag in peaks if full[lag] >= PEAK_FLOOR * highest]
    best = max(low[lag] for lag in peaks)
    if best <= 0:  # the low band says nothing (no bass or kick): the whole spectrum's periodicity stands
        chosen = max(peaks, key=lambda lag: full[lag])
    else:
        chosen = min(lag for lag in peaks if low[lag] >= LEVEL_SUPPORT * best)
    lag = _peak_near(full, chosen) or float(chosen)
    return float(60.0 * frame_rate / lag), float(np.clip(full[chosen], 0.0, 1.0))


def octave_distance(bpm_a: float, bpm_b: float) -> float:
    """How far apart two tempi are in octaves, half and double tempo counting as the same: 0..0.5."""
    d = abs(np.log2(bpm_a / bpm_b))
    return float(abs(d - round(d)))


def within(bpm: float, lo: float, hi: float, octave_aware: bool = False) -> bool:
    """Is ``bpm`` in [lo, hi] (with ``octave_aware``: or half or double of it)?"""
    candidates = (bpm, bpm * 2, bpm / 2) if octave_aware else (bpm,)
    return any(lo <= b <= hi for b in candidates)
