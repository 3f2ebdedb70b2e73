"""The teacher's outputs, as bench/musicnn_teacher.py cached them: read, align to crops, summarise.

musicnn (MSD_musicnn, ISC) runs at build time only, in its own virtualenv; this module only reads the
``.npz`` files it wrote (one per audio file: per 3-second patch its 753-d ``max_pool`` layer and its 50
tag probabilities).  Torch-free: the evaluation bench uses it too.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

PATCH_SECONDS = 3.0  # musicnn's input: 187 frames of 256 samples at 16 kHz, patches without overlap
PEER_PATCHES = 10  # the peer vector averages up to this many patches spread over the track


def cache_name(path: str | os.PathLike) -> str:
    """The file name of an audio file's outputs in the teacher's cache (bench/musicnn_teacher.py uses it)."""
    return hashlib.sha256(os.path.abspath(str(path)).encode()).hexdigest()[:16] + ".npz"


@dataclass(frozen=True)
class TeacherOutputs:
    max_pool: np.ndarray  # (patches, 753) float32
    taggram: np.ndarray  # (patches, 50) float32, tag probabilities
    starts_s: np.ndarray  # (patches,) patch start times in seconds
    labels: tuple  # the 50 tag names
    seconds_model: float  # the teacher network's CPU time for the whole file (decoding excluded)

    def patch_at(self, seconds: np.ndarray) -> np.ndarray:
        """Index of the computed patch whose start is nearest to each time."""
        t = np.asarray(seconds, dtype=np.float64)[..., None]
        return np.abs(t - self.starts_s[None, :]).argmin(-1)

    def peer_vector(self, n: int = PEER_PATCHES) -> np.ndarray:
        """The issue's musicnn peer: max_pool averaged over up to n patches spread evenly over the file."""
        count = len(self.max_pool)
        chosen = np.unique(np.round((np.arange(min(n, count)) + 0.5) * count / min(n, count) - 0.5).astype(int))
        return self.max_pool[chosen].mean(0)

    def track_tags(self) -> np.ndarray:
        """Tag probabilities averaged over the whole file (50,)."""
        return self.taggram.mean(0)


def load_teacher(cache_dir: str | os.PathLike, audio_path: str | os.PathLike) -> TeacherOutputs | None:
    """The cached outputs for one audio file, or None when the teacher has not seen it."""
    path = Path(cache_dir) / cache_name(audio_path)
    if not path.exists():
        return None
    with np.load(path) as data:
        return TeacherOutputs(max_pool=data["max_pool"].astype(np.float32),
                              taggram=data["taggram"].astype(np.float32),
                              starts_s=data["starts_s"].astype(np.float32),
                              labels=tuple(str(x) for x in data["labels"]),
                              seconds_model=float(data["seconds_model"]))


def top_tags(probabilities: np.ndarray, labels: tuple, k: int = 5) -> set[str]:
    """A track's descriptive tags for the method's similarity matrix: its k most probable teacher tags."""
    order = np.argsort(-np.asarray(probabilities), kind="stable")[:k]
    return {f"teacher:{labels[i]}" for i in order}
