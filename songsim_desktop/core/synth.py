"""Synthesised music: the demo library, the tests and the benchmarks make their own audio here.

A track belongs to a *family* (a timbre and a rhythm); tracks of one family sound alike and
differ in melody, key and tempo, so "sounds like" has a right answer without any real recordings.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

TIMBRES = ("sine", "saw", "square", "bell", "pluck", "noise")
RHYTHMS = ("straight", "swing", "sparse", "drone")
WRITE_BLOCK = 1 << 16


@dataclass(frozen=True)
class Family:
    timbre: str
    rhythm: str

    @property
    def name(self) -> str:
        return f"{self.timbre}-{self.rhythm}"


def all_families() -> list[Family]:
    return [Family(t, r) for t in TIMBRES for r in RHYTHMS]


def _tone(timbre: str, freq: float, n: int, sr: int, rng: np.random.Generator) -> np.ndarray:
    t = np.arange(n) / sr
    phase = 2 * np.pi * freq * t
    if timbre == "sine":
        wave = np.sin(phase) + 0.2 * np.sin(2 * phase)
    elif timbre == "saw":
        wave = 2 * ((freq * t) % 1.0) - 1
    elif timbre == "square":
        wave = np.sign(np.sin(phase)) * 0.7
    elif timbre == "bell":
        wave = np.sin(phase + 3.0 * np.exp(-3 * t) * np.sin(3.5 * phase))
    elif timbre == "pluck":
        wave = np.sin(phase) * np.exp(-6 * t) + 0.5 * np.sin(3 * phase) * np.exp(-12 * t)
    elif timbre == "noise":
        wave = rng.standard_normal(n) * 0.5
        wave = np.convolve(wave, np.ones(8) / 8, mode="same") * np.sin(phase) ** 2
    else:
        raise ValueError(f"unknown timbre {timbre!r}")
    attack = min(n, int(0.01 * sr))
    env = np.ones(n)
    env[:attack] = np.linspace(0, 1, attack)
    env *= np.exp(-1.5 * t)
    return (wave * env).astype(np.float32)


def _onsets(rhythm: str, beats: int, beat_len: int) -> list[tuple[int, float]]:
    """(sample offset, note length in beats) for the notes of one rhythm."""
    if rhythm == "straight":
        return [(b * beat_len, 1.0) for b in range(beats)]
    if rhythm == "swing":
        out = []
        for b in range(beats):
            out.append((b * beat_len, 0.66))
            out.append((b * beat_len + int(0.66 * beat_len), 0.34))
        return out
    if rhythm == "sparse":
        return [(b * beat_len, 3.0) for b in range(0, beats, 3)]
    if rhythm == "drone":
        return [(b * beat_len, 8.0) for b in range(0, beats, 8)]
    raise ValueError(f"unknown rhythm {rhythm!r}")


def render(family: Family, seconds: float, sr: int = 22050, seed: int = 0) -> np.ndarray:
    """Mono float32 audio of one track of ``family``; ``seed`` varies melody, key and tempo."""
    rng = np.random.default_rng(seed)
    n = int(seconds * sr)
    out = np.zeros(n + sr * 4, dtype=np.float32)
    tempo = rng.uniform(90, 140)
    beat_len = int(sr * 60 / tempo)
    root = 110.0 * 2 ** (rng.integers(0, 12) / 12)
    scale = np.array([0, 2, 4, 5, 7, 9, 11, 12])
    beats = n // beat_len + 1
    for offset, length in _onsets(family.rhythm, beats, beat_len):
        degree = scale[rng.integers(0, len(scale))] + 12 * rng.integers(0, 2)
        note_len = int(length * beat_len)
        note = _tone(family.timbre, root * 2 ** (degree / 12), note_len, sr, rng)
        out[offset: offset + note_len] += note[: len(out) - offset]
    if family.rhythm in ("straight", "swing"):  # a kick on every other beat
        kick_len = int(0.12 * sr)
        kt = np.arange(kick_len) / sr
        kick = (np.sin(2 * np.pi * 55 * kt * (1 + 2 * np.exp(-30 * kt))) * np.exp(-25 * kt)).astype(np.float32)
        for b in range(0, beats, 2):
            o = b * beat_len
            out[o: o + kick_len] += kick[: max(0, min(kick_len, len(out) - o))]
    out = out[:n]
    peak = float(np.max(np.abs(out))) or 1.0
    return (0.8 * out / peak).astype(np.float32)


def write_track(path: Path, family: Family, seconds: float, sr: int = 22050, seed: int = 0,
                channels: int = 1) -> Path:
    """Write one synthesised track; the format follows the suffix (.wav, .flac, .ogg, .mp3, .aiff)."""
    audio = render(family, seconds, sr, seed)
    if channels == 2:
        audio = np.stack([audio, audio * 0.9], axis=1)
    path.parent.mkdir(parents=True, exist_ok=True)
    # In blocks: libsndfile's Vorbis encoder crashes on one write of more than ~2.6 M samples.
    with sf.SoundFile(str(path), "w", sr, channels) as out:
        for start in range(0, len(audio), WRITE_BLOCK):
            out.write(audio[start: start + WRITE_BLOCK])
    return path


def write_library(folder: Path, families: list[Family], per_family: int, seconds: float,
                  suffixes=(".wav", ".flac", ".mp3"), sr: int = 22050) -> dict[Path, Family]:
    """A folder of ``per_family`` tracks for each family, one sub-folder per family, mixed formats."""
    made: dict[Path, Family] = {}
    for fi, family in enumerate(families):
        for i in range(per_family):
            suffix = suffixes[(fi + i) % len(suffixes)]
            path = folder / family.name / f"{family.name}-{i:02d}{suffix}"
            write_track(path, family, seconds, sr=sr, seed=1000 * fi + i)
            made[path] = family
    return made


def fill_library(library, root: str, n: int, model_id: str, dim: int = 8, seed: int = 0,
                 per_commit: int = 5000) -> list[str]:
    """Add ``n`` synthetic ok tracks under folder ``root`` straight into ``library`` (no audio), each
    with a vector of ``model_id`` and a file tag: a big library in seconds, for the tests and the
    benchmarks of the database's per-batch and per-query costs.  Returns the paths, sorted."""
    from songsim_desktop.core.library import normalise_root

    root = normalise_root(root)
    rng = np.random.default_rng(seed)
    root_id = library.add_root(root)
    paths = [os.path.join(root, f"artist-{i % 97:02d}", f"track-{i:06d}.flac") for i in range(n)]
    for start in range(0, n, per_commit):
        part = paths[start:start + per_commit]
        vectors = rng.standard_normal((len(part), dim)).astype(np.float32)
        with library.transaction() as conn:
            for i, (path, vector) in enumerate(zip(part, vectors)):
                tid = library.upsert_track(conn, path=path, root_id=root_id, size=1000 + start + i, mtime_ns=1,
                                           state="ok", title=f"track {start + i}")
                library.put_vectors(conn, tid, model_id, vector / np.linalg.norm(vector))
                library.replace_tags(conn, tid, [TIMBRES[(start + i) % len(TIMBRES)]], "file")
    return sorted(paths)
