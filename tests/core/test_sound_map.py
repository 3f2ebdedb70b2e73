"""The sound map: an instant PCA layout, a cancellable cached t-SNE job, "find more like these"."""

from __future__ import annotations

import numpy as np
import pytest

from songsim_desktop.core import sound_map, synth
from songsim_desktop.core.progress import CancelToken, drive
from songsim_desktop.core.service import SongsimService
from songsim_desktop.errors import Cancelled


def _clusters(n_per: int = 40, dim: int = 16, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((3, dim)) * 3
    labels = np.repeat(np.arange(3), n_per)
    x = centres[labels] + rng.standard_normal((len(labels), dim)) * 0.3
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32), labels


def _separated(xy: np.ndarray, labels: np.ndarray) -> bool:
    """Every point's nearest other point on the map belongs to its own cluster."""
    d = ((xy[:, None, :] - xy[None, :, :]) ** 2).sum(axis=2)
    np.fill_diagonal(d, np.inf)
    return bool(np.all(labels[d.argmin(axis=1)] == labels))


def test_pca_and_tsne_keep_clusters_together():
    x, labels = _clusters()
    pca = sound_map.pca_layout(x)
    assert pca.shape == (len(x), 2) and np.abs(pca).max() <= 1.0 + 1e-6
    assert _separated(pca, labels)
    steps = []
    tsne = drive(sound_map.tsne_layout(x), steps.append)
    assert tsne.shape == (len(x), 2) and _separated(tsne, labels)
    assert steps[-1].done == steps[-1].total and len(steps) > 10


def test_layout_is_cached_per_library_state_and_recomputed_after_a_change(tmp_path):
    with SongsimService() as svc:
        model = svc.active_model()
        synth.fill_library(svc.library, str(tmp_path / "lib"), 60, model.id, dim=model.dim)
        calls = []

        def counting_layout(vectors, cancel=None):
            calls.append(len(vectors))
            return (yield from sound_map.tsne_layout(vectors, cancel))

        first = drive(sound_map.layout_job(svc.library, svc.data_dir, model.id, layout=counting_layout))
        again = drive(sound_map.layout_job(svc.library, svc.data_dir, model.id, layout=counting_layout))
        assert calls == [60] and first.method == "tsne" and np.allclose(first.xy, again.xy)
        assert svc.cached_sound_map() is not None
        synth.fill_library(svc.library, str(tmp_path / "more"), 5, model.id, dim=model.dim, seed=1)
        assert svc.cached_sound_map() is None  # the library changed: the old layout is stale
        third = drive(sound_map.layout_job(svc.library, svc.data_dir, model.id, layout=counting_layout))
        assert calls == [60, 65] and len(third) == 65
        assert len(list((svc.data_dir / sound_map.MAPS_DIR).glob("*.npz"))) == 1
        quick = svc.quick_map()
        assert quick.method == "pca" and len(quick) == 65


def test_the_layout_job_stops_when_cancelled():
    x, _ = _clusters()
    cancel = CancelToken()
    job = sound_map.tsne_layout(x, cancel)
    next(job)
    cancel.cancel()
    with pytest.raises(Cancelled):
        drive(job, cancel=cancel)


def test_find_more_like_these_uses_the_mean_and_never_returns_the_selection(tmp_path):
    with SongsimService() as svc:
        model = svc.active_model()
        synth.fill_library(svc.library, str(tmp_path / "lib"), 50, model.id, dim=model.dim)
        ids, vectors = svc.library.vectors(model.id)
        chosen = [int(ids[0]), int(ids[1])]
        result = svc.query_tracks(chosen, k=5)
        assert len(result.matches) == 5 and not set(chosen) & {m.track_id for m in result.matches}
        mean = vectors[:2].mean(axis=0)
        expected = np.argsort(np.linalg.norm(vectors[2:] - mean / np.linalg.norm(mean), axis=1))[:5]
        assert [m.track_id for m in result.matches] == [int(ids[2 + i]) for i in expected]
        labels = sound_map.colour_labels(svc.library.tracks(), "folder")
        assert set(labels.values()) <= {f"artist-{i:02d}" for i in range(97)}
