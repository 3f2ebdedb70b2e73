"""core.search.TrackSearch on a synthetic library: ranking checked against a hand computation."""

from __future__ import annotations

import numpy as np
import pytest

from songsim_desktop.core import synth
from songsim_desktop.core.library import Library, ModelRecord
from songsim_desktop.core.search import TrackSearch, similarity_percent
from songsim_desktop.errors import LibraryError


@pytest.fixture
def search(tmp_path):
    lib = Library(tmp_path / "library.sqlite3")
    for model_id in ("m1", "m2"):
        lib.add_model(ModelRecord(model_id, model_id, str(tmp_path / f"{model_id}.onnx"), 8))
    synth.fill_library(lib, str(tmp_path / "music"), 60, "m1")
    active = ["m1"]
    no_embedding = lambda model_id: pytest.fail("a library track must not be embedded again")  # noqa: E731
    yield TrackSearch(lib, tmp_path / "index", lambda: active[0], no_embedding), lib, active
    lib.close()


def test_query_track_ranks_by_euclidean_distance_and_never_returns_itself(search):
    ranker, lib, _active = search
    ids, matrix = lib.vectors("m1")
    ref = lib.track(int(ids[7]))
    result = ranker.query_track(ref, k=5)
    by_hand = np.linalg.norm(matrix - matrix[7], axis=1)
    by_hand[7] = np.inf
    expected = ids[np.argsort(by_hand)[:5]]
    assert [m.track_id for m in result.matches] == expected.tolist()
    assert [m.distance for m in result.matches] == pytest.approx(np.sort(by_hand)[:5].tolist(), abs=1e-5)
    typical = ranker.index().typical_distances()
    assert [m.similarity for m in result.matches] == pytest.approx(
        [similarity_percent(m.distance, typical) for m in result.matches])
    assert result.model_id == "m1" and result.reference == ref.path


def test_a_model_switch_searches_the_new_models_vectors(search):
    ranker, lib, active = search
    ref = lib.track(1)
    assert len(ranker.query_track(ref, k=100).matches) == 59
    active[0] = "m2"  # no vectors for it yet: the reference cannot be searched, and says why
    with pytest.raises(LibraryError, match="no vector for the active model m2"):
        ranker.query_track(ref, k=5)
    with lib.transaction() as conn:
        for tid in (1, 2, 3):
            lib.put_vectors(conn, tid, "m2", np.eye(8, dtype=np.float32)[tid])
    assert [m.track_id for m in ranker.query_track(ref, k=5).matches] == [2, 3]
