"""Synthesised music with a known tempo or a known key: the ground truth of the tempo and key tests
and of ``bench/bench_descriptors.py``.

``drums(bpm, pattern, kit)`` is a drum loop at an exact tempo; ``chords(tonic, mode, voice)`` a
chord progression that establishes one key (I-IV-V-I in major, i-iv-V-i with the raised leading
tone in minor).  Several patterns, kits and voices, so an estimator that only works for one sound
does not pass.
"""

from __future__ import annotations

import numpy as np

# Onsets per bar of 4 beats, in beats: (instrument, position).  All make the beat the bar's pulse.
PATTERNS: dict[str, list[tuple[str, float]]] = {
    "four-on-floor": [("kick", b) for b in range(4)] + [("hat", b + 0.5) for b in range(4)],
    "backbeat": [("kick", 0), ("kick", 2), ("snare", 1), ("snare", 3)] + [("hat", b / 2) for b in range(8)],
    "breakbeat": [("kick", 0), ("kick", 1.5), ("kick", 2.5), ("snare", 1), ("snare", 3)]
    + [("hat", b / 2) for b in range(8)],
    "shuffle": [("kick", 0), ("kick", 2), ("snare", 1), ("snare", 3)]
    + [("hat", b + s) for b in range(4) for s in (0.0, 2 / 3)],
}
KITS = ("acoustic", "electronic", "lofi")
VOICES = ("organ", "saw", "pluck", "piano")

PITCH_CLASSES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
_MAJOR_SCALE = (0, 2, 4, 5, 7, 9, 11)
_MINOR_SCALE = (0, 2, 3, 5, 7, 8, 11)  # harmonic minor: its V chord is major, as in most minor music


def _drum(kind: str, kit: str, sr: int, rng: np.random.Generator) -> np.ndarray:
    n = int(0.25 * sr)
    t = np.arange(n) / sr
    if kind == "kick":
        low = {"acoustic": 55.0, "electronic": 45.0, "lofi": 65.0}[kit]
        freq = low + 100.0 * np.exp(-t * 30)
        return np.sin(2 * np.pi * np.cumsum(freq) / sr) * np.exp(-t * (12 if kit == "electronic" else 20))
    if kind == "snare":
        noise = rng.standard_normal(n) * np.exp(-t * (25 if kit != "lofi" else 15))
        return 0.6 * noise + 0.4 * np.sin(2 * np.pi * 190 * t) * np.exp(-t * 30)
    noise = rng.standard_normal(n)
    noise = np.diff(noise, prepend=0.0)  # a crude high-pass: hats are bright
    return 0.25 * noise * np.exp(-t * (80 if kit != "lofi" else 50))


def drums(bpm: float, pattern: str = "backbeat", kit: str = "acoustic", seconds: float = 20.0,
          sr: int = 22050, seed: int = 0) -> np.ndarray:
    """A drum loop at exactly ``bpm`` (mono float32, peak 0.9)."""
    rng = np.random.default_rng(seed)
    n = int(seconds * sr)
    out = np.zeros(n + sr, dtype=np.float64)
    beat = 60.0 * sr / bpm
    sounds = {k: _drum(k, kit, sr, rng) for k in ("kick", "snare", "hat")}
    bar = 0
    while bar * 4 * beat < n:
        for kind, pos in PATTERNS[pattern]:
            start = int(round((bar * 4 + pos) * beat))
            if start < n:
                s = sounds[kind]
                out[start:start + len(s)] += s * (0.8 + 0.2 * rng.random())
        bar += 1
    out = out[:n]
    return (0.9 * out / max(1e-9, np.abs(out).max())).astype(np.float32)


def _note(voice: str, freq: float, n: int, sr: int) -> np.ndarray:
    t = np.arange(n) / sr
    if voice == "organ":
        partials = [(1, 1.0), (2, 0.5), (3, 0.25), (4, 0.12)]
        env = np.minimum(1.0, t * 50)
    elif voice == "saw":
        partials = [(k, 1.0 / k) for k in range(1, 12)]
        env = np.minimum(1.0, t * 30) * np.exp(-t * 0.5)
    elif voice == "pluck":
        partials = [(k, 1.0 / k ** 1.5) for k in range(1, 8)]
        env = np.exp(-t * 3.0)
    else:  # piano-like: slightly inharmonic partials, fast decay of the upper ones
        partials = [(k * (1 + 0.0004 * k * k), 1.0 / k) for k in range(1, 8)]
        env = np.exp(-t * 1.5)
    wave = sum(a * np.sin(2 * np.pi * freq * k * t) for k, a in partials if freq * k < sr / 2)
    return wave * env


def chords(tonic: int, mode: str = "major", voice: str = "organ", seconds: float = 16.0,
           sr: int = 22050, chord_s: float = 2.0) -> np.ndarray:
    """A progression in ``PITCH_CLASSES[tonic]`` ``mode`` ('major' | 'minor'), repeated for ``seconds``."""
    scale = _MAJOR_SCALE if mode == "major" else _MINOR_SCALE
    degrees = (0, 3, 4, 0)  # I IV V I (i iv V i)
    n_chord = int(chord_s * sr)
    n = int(seconds * sr)
    out = np.zeros(n, dtype=np.float64)
    for i in range(int(np.ceil(n / n_chord))):
        degree = degrees[i % len(degrees)]
        notes = [scale[(degree + step) % 7] + 12 * ((degree + step) // 7) for step in (0, 2, 4)]
        midi = [48 + tonic + (m % 24) for m in notes] + [36 + tonic + scale[degree]]  # triad + bass root
        seg = sum(_note(voice, 440.0 * 2 ** ((m - 69) / 12), n_chord, sr) for m in midi)
        start = i * n_chord
        out[start:start + n_chord] += seg[: n - start]
    return (0.9 * out / max(1e-9, np.abs(out).max())).astype(np.float32)


def mix(bpm: float, tonic: int, mode: str = "major", pattern: str = "backbeat", kit: str = "acoustic",
        voice: str = "organ", seconds: float = 16.0, sr: int = 22050, seed: int = 0) -> np.ndarray:
    """A drum loop at ``bpm`` under a progression in ``tonic`` ``mode``: a track whose tempo, key and
    sound (kit and voice) can each be varied alone."""
    out = drums(bpm, pattern, kit, seconds, sr, seed) + 0.8 * chords(tonic, mode, voice, seconds, sr)
    return (0.9 * out / max(1e-9, float(np.abs(out).max()))).astype(np.float32)
