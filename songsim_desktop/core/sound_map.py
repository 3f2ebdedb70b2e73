"""The sound map (issue 13): every track as a point of a 2-D layout of its vector.

Two layouts: :func:`pca_layout` (instant, numpy: the map shows at once) and :func:`layout_job`, a
cancellable job running openTSNE (FFT-accelerated t-SNE: neighbourhoods survive, so similar tracks
sit together, which PCA's two axes do not keep), in chunks of iterations so it yields progress and
stops at a yield.  openTSNE over UMAP: it installs from wheels without numba/llvmlite, is deterministic
with a seed, and its chunked ``optimize`` is exactly the cancellable job the app needs.

A t-SNE layout is cached in ``<data>/maps/`` under the model id and the library's vector
fingerprint (``Library.vectors_fingerprint``: it changes whenever a vector is written or a track's
state changes), so a rescan or a model switch makes it stale and the GUI recomputes it in the
background, showing PCA (or the stale layout's points that still exist) meanwhile.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Generator, Optional

import numpy as np

from songsim_desktop import atomic
from songsim_desktop.core.progress import CancelToken, Progress, RateMeter

MAPS_DIR = "maps"
PERPLEXITY = 30.0
EARLY_ITERATIONS = 250  # exaggerated phase (clusters form), then the plain phase (they settle)
LATE_ITERATIONS = 500
CHUNK_ITERATIONS = 25  # one progress report (and chance to cancel) every this many iterations
MIN_TSNE_TRACKS = 10  # fewer points than this: PCA says all there is


@dataclass
class SoundMap:
    """``xy`` (n, 2) float32 in [-1, 1], row i placing ``track_ids[i]``; ``method`` 'pca' or 'tsne'."""

    track_ids: np.ndarray
    xy: np.ndarray
    method: str
    key: str = ""

    def __len__(self) -> int:
        return int(len(self.track_ids))


def _normalised(xy: np.ndarray) -> np.ndarray:
    xy = xy - xy.mean(axis=0) if len(xy) else xy
    scale = float(np.abs(xy).max()) if len(xy) else 0.0
    return (xy / scale if scale > 0 else xy).astype(np.float32)


def pca_layout(vectors: np.ndarray) -> np.ndarray:
    """The two principal axes of ``vectors`` (n, dim): an instant layout, (n, 2) in [-1, 1]."""
    x = np.asarray(vectors, dtype=np.float32)
    if len(x) < 2:
        return np.zeros((len(x), 2), dtype=np.float32)
    x = x - x.mean(axis=0)
    # The eigenvectors of the (dim, dim) covariance, not an SVD of the (n, dim) matrix: 5-30x faster
    # at 50,000 tracks (bench/bench_map.py), and exact enough for a picture.
    _, vecs = np.linalg.eigh((x.T @ x).astype(np.float64))
    axes = vecs[:, ::-1][:, :2].astype(np.float32)
    if axes.shape[1] < 2:
        axes = np.pad(axes, ((0, 0), (0, 2 - axes.shape[1])))
    return _normalised(x @ axes)


def tsne_layout(vectors: np.ndarray, cancel: Optional[CancelToken] = None, n_jobs: int = 1,
                seed: int = 0) -> Generator[Progress, None, np.ndarray]:
    """openTSNE of ``vectors``, as a job: yields progress every ``CHUNK_ITERATIONS`` iterations."""
    cancel = cancel or CancelToken()
    x = np.asarray(vectors, dtype=np.float32)
    if len(x) < MIN_TSNE_TRACKS:
        return pca_layout(x)
    from openTSNE import TSNEEmbedding, affinity  # here: a heavy import (2 s) only a real layout needs
    meter = RateMeter()
    total = EARLY_ITERATIONS + LATE_ITERATIONS
    yield meter.progress("map", 0, total, "finding each track's neighbours")
    perplexity = min(PERPLEXITY, (len(x) - 1) / 3)
    neighbours = affinity.PerplexityBasedNN(x, perplexity=perplexity, n_jobs=n_jobs, random_state=seed,
                                            method="exact" if len(x) < 1000 else "annoy", verbose=False)
    cancel.check()
    start = pca_layout(x).astype(np.float64) * 1e-4 * len(x) ** 0.5  # openTSNE's scaled PCA start
    # Barnes-Hut below 10,000 points, FFT interpolation above (openTSNE's own rule: FFT's fixed cost
    # per iteration only pays off on big maps).
    gradient = "bh" if len(x) < 10_000 else "fft"
    embedding = TSNEEmbedding(start, neighbours, negative_gradient_method=gradient, n_jobs=n_jobs,
                              random_state=seed, verbose=False)
    done = 0
    for phase, iterations, exaggeration, momentum in (("early", EARLY_ITERATIONS, 12.0, 0.5),
                                                       ("late", LATE_ITERATIONS, None, 0.8)):
        for _ in range(0, iterations, CHUNK_ITERATIONS):
            cancel.check()
            embedding.optimize(CHUNK_ITERATIONS, exaggeration=exaggeration, momentum=momentum, inplace=True)
            done += CHUNK_ITERATIONS
            yield meter.progress("map", done, total, f"t-SNE ({phase} phase)")
    return _normalised(np.asarray(embedding))


def map_key(library, model_id: str) -> str:
    """What a cached layout must match: the model and the library state of its vectors."""
    return library.vectors_fingerprint(model_id).replace(":", "-")


def _cache_path(data_dir: str | Path, key: str) -> Path:
    return Path(data_dir) / MAPS_DIR / f"{key}.npz"


def cached_map(data_dir: str | Path, key: str) -> Optional[SoundMap]:
    """The t-SNE layout saved for exactly this model and library state, if there is one."""
    path = _cache_path(data_dir, key)
    try:
        with np.load(path) as data:
            return SoundMap(data["track_ids"].astype(np.int64), data["xy"].astype(np.float32), "tsne", key)
    except (OSError, KeyError, ValueError):
        return None


def quick_map(library, model_id: str) -> SoundMap:
    """The PCA layout of the active model's vectors: shown at once, while the t-SNE one computes."""
    ids, vectors = library.vectors(model_id)
    return SoundMap(ids, pca_layout(vectors), "pca", map_key(library, model_id))


def layout_job(library, data_dir: str | Path, model_id: str, cancel: Optional[CancelToken] = None,
               layout: Callable = tsne_layout) -> Generator[Progress, None, SoundMap]:
    """The t-SNE map of the library (from the cache when current), saved for next time."""
    key = map_key(library, model_id)
    found = cached_map(data_dir, key)
    if found is not None:
        return found
    ids, vectors = library.vectors(model_id)
    xy = yield from layout(vectors, cancel)
    path = _cache_path(data_dir, key)
    os.makedirs(path.parent, exist_ok=True)
    for old in path.parent.glob(f"*-{model_id}-*.npz"):  # older states of this model: never read again
        old.unlink(missing_ok=True)
    with atomic.atomic_path(path) as tmp, open(tmp, "wb") as fh:
        np.savez(fh, track_ids=ids, xy=xy)
    return SoundMap(ids, xy, "tsne", key)


# How the map colours its points: name -> (track record -> its label).  A label is a string; the
# view gives each distinct one a colour and a legend entry.  Issue 12 adds "tempo" and "key" here.
def _folder(track) -> str:
    return os.path.basename(os.path.dirname(track.path)) or "/"


def _first_tag(track) -> str:
    return track.tags[0] if track.tags else "(untagged)"


COLOUR_BY: dict[str, Callable] = {
    "folder": _folder,
    "tag": _first_tag,
}


def colour_labels(tracks, by: str) -> dict[int, str]:
    """{track id: label} for colouring the map by ``by`` (a key of COLOUR_BY)."""
    label_of = COLOUR_BY[by]
    return {t.id: label_of(t) for t in tracks}
