"""The vector index: exact and graph search agree with brute force, persistence, staleness, threads."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from songsim_desktop.core.search import VectorIndex, exact_search, load_or_rebuild
from songsim_desktop.core.library import Library, ModelRecord
from songsim_desktop.errors import IndexCorruptError

DIM = 16


def unit_vectors(n, seed=0, dim=DIM):
    x = np.random.default_rng(seed).normal(size=(n, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def brute_force(ids, matrix, query, k):
    d = np.linalg.norm(matrix.astype(np.float64) - query.astype(np.float64), axis=1)
    order = np.argsort(d, kind="stable")[:k]
    return [int(i) for i in np.asarray(ids)[order]], d[order]


@pytest.fixture
def library_with_vectors(tmp_path):
    lib = Library(tmp_path / "library.sqlite3")
    lib.add_model(ModelRecord("m1", "test", "m1.onnx", DIM, builtin=True))
    root = lib.add_root(tmp_path)
    vecs = unit_vectors(60, seed=3)
    ids = []
    with lib.transaction() as conn:
        for i, vec in enumerate(vecs):
            tid = lib.upsert_track(conn, path=str(tmp_path / f"{i}.wav"), root_id=root, state="ok")
            lib.put_vectors(conn, tid, "m1", vec)
            ids.append(tid)
    yield lib, np.array(ids), vecs
    lib.close()


def test_exact_mode_returns_euclidean_distances_best_first(tmp_path):
    ids, vecs = np.arange(100, 400), unit_vectors(300)
    index = VectorIndex(tmp_path, "m1", DIM)
    index.build(ids, vecs)
    query = unit_vectors(1, seed=9)[0]
    found = index.query(query, 10)
    want_ids, want_d = brute_force(ids, vecs, query, 10)
    assert [t for t, _ in found] == want_ids
    np.testing.assert_allclose([d for _, d in found], want_d, rtol=1e-5)
    assert all(0.0 <= d <= 2.0 for _, d in found)  # unit vectors: Euclidean, not squared


def test_graph_search_agrees_with_brute_force(tmp_path):
    ids, vecs = np.arange(1, 1501), unit_vectors(1500, seed=1)
    index = VectorIndex(tmp_path, "m1", DIM, exact_limit=0)  # force hnswlib
    index.build(ids, vecs)
    hits = total = 0
    for query in unit_vectors(20, seed=2):
        found = index.query(query, 10)
        want_ids, want_d = brute_force(ids, vecs, query, 10)
        hits += len({t for t, _ in found} & set(want_ids))
        total += 10
        by_id = dict(found)
        for tid, d in zip(want_ids, want_d):
            if tid in by_id:
                assert by_id[tid] == pytest.approx(d, abs=1e-5)
    assert hits / total >= 0.95


@pytest.mark.parametrize("exact_limit", [0, 1000])
def test_k_larger_than_the_index_exclusions_and_empty(tmp_path, exact_limit):
    index = VectorIndex(tmp_path, "m1", DIM, exact_limit=exact_limit)
    assert index.query(unit_vectors(1)[0], 5) == []
    vecs = unit_vectors(5)
    index.build([10, 11, 12, 13, 14], vecs)
    found = index.query(vecs[0], 50)
    assert len(found) == 5 and found[0] == (10, pytest.approx(0.0, abs=1e-6))
    assert [d for _, d in found] == sorted(d for _, d in found)
    without_self = index.query(vecs[0], 50, exclude_ids=[10, 999])
    assert [t for t, _ in without_self] == [t for t, _ in found[1:]]
    assert index.query(vecs[0], 0) == []
    with pytest.raises(ValueError, match="dim"):
        index.query(np.ones(DIM + 1), 3)
    with pytest.raises(ValueError, match="vectors of dim"):
        index.add([1], np.ones((1, DIM + 1)))


@pytest.mark.parametrize("exact_limit", [0, 1000])
def test_add_grows_replaces_and_remove_hides(tmp_path, exact_limit):
    index = VectorIndex(tmp_path, "m1", DIM, exact_limit=exact_limit)
    vecs = unit_vectors(200, seed=4)
    for start in range(0, 200, 7):  # many small adds: the capacity must grow
        index.add(np.arange(start, min(start + 7, 200)), vecs[start : start + 7])
    assert len(index) == 200
    assert index.query(vecs[42], 1)[0][0] == 42

    index.add([42], vecs[7])  # new vector for an existing track
    assert {t for t, _ in index.query(vecs[7], 2)} == {7, 42}

    assert index.remove([7, 42, 12345]) == 2
    assert len(index) == 198 and 7 not in index
    assert all(t not in (7, 42) for t, _ in index.query(vecs[7], 198))
    index.add([7], vecs[7])  # a removed track comes back
    assert index.query(vecs[7], 1)[0][0] == 7


def test_save_then_load_gives_the_same_answers(tmp_path):
    vecs = unit_vectors(300, seed=5)
    index = VectorIndex(tmp_path, "m1", DIM)
    index.build(np.arange(300), vecs)
    index.remove([3, 4])
    index.save("fp-1")
    assert index.path.exists() and index.read_stamp()["count"] == 298

    loaded = VectorIndex(tmp_path, "m1", DIM)
    loaded.load(expected_fingerprint="fp-1")
    assert len(loaded) == 298 and 3 not in loaded and loaded.fingerprint == "fp-1"
    assert loaded.query(vecs[10], 5) == index.query(vecs[10], 5)
    with pytest.raises(IndexCorruptError, match="older than the library"):
        VectorIndex(tmp_path, "m1", DIM).load(expected_fingerprint="fp-2")
    with pytest.raises(IndexCorruptError, match="another model or dimension"):
        VectorIndex(tmp_path, "m1", DIM * 2).load()


def test_load_or_rebuild_loads_a_fresh_file_without_reading_vectors(library_with_vectors, tmp_path, monkeypatch):
    lib, ids, vecs = library_with_vectors
    index_dir = tmp_path / "index"
    first = load_or_rebuild(lib, index_dir, "m1")
    assert len(first) == 60 and first.read_stamp()["fingerprint"] == lib.vectors_fingerprint("m1")

    def must_not_rebuild(*a, **kw):
        raise AssertionError("a fresh index file must be loaded, not rebuilt")

    monkeypatch.setattr(lib, "vectors", must_not_rebuild)
    second = VectorIndex(index_dir, "m1", DIM).load_or_rebuild(lib)
    assert second.query(vecs[5], 3) == first.query(vecs[5], 3)


def test_load_or_rebuild_rebuilds_when_the_library_changed(library_with_vectors, tmp_path):
    lib, ids, vecs = library_with_vectors
    index_dir = tmp_path / "index"
    load_or_rebuild(lib, index_dir, "m1")
    with lib.transaction() as conn:
        lib.mark_missing(conn, [int(ids[0])])
    fresh = load_or_rebuild(lib, index_dir, "m1")
    assert len(fresh) == 59 and int(ids[0]) not in fresh
    assert fresh.read_stamp()["fingerprint"] == lib.vectors_fingerprint("m1")


@pytest.mark.parametrize("damage", ["truncate", "garbage", "delete_stamp", "delete_index"])
def test_a_damaged_index_file_is_rebuilt(library_with_vectors, tmp_path, damage):
    lib, ids, vecs = library_with_vectors
    index_dir = tmp_path / "index"
    saved = load_or_rebuild(lib, index_dir, "m1")
    data = saved.path.read_bytes()
    if damage == "truncate":
        saved.path.write_bytes(data[: len(data) // 2])
    elif damage == "garbage":
        saved.path.write_bytes(bytes(reversed(data)))
    elif damage == "delete_stamp":
        saved.stamp_path.unlink()
    else:
        saved.path.unlink()
    with pytest.raises(IndexCorruptError):
        VectorIndex(index_dir, "m1", DIM).load()
    rebuilt = load_or_rebuild(lib, index_dir, "m1")
    assert len(rebuilt) == 60
    assert rebuilt.query(vecs[7], 1)[0][0] == int(ids[7])
    VectorIndex(index_dir, "m1", DIM).load(expected_fingerprint=lib.vectors_fingerprint("m1"))  # sound again


def test_concurrent_add_and_query_stay_consistent(tmp_path):
    vecs = unit_vectors(1200, seed=6)
    index = VectorIndex(tmp_path, "m1", DIM, exact_limit=0)
    index.build(np.arange(100), vecs[:100])
    failures, added = [], set(range(100))

    def adder(start):
        try:
            for s in range(start, 1200, 400):
                batch = np.arange(s, s + 50)
                index.add(batch, vecs[batch])
                added.update(int(i) for i in batch)
        except Exception as exc:  # pragma: no cover - reported below
            failures.append(exc)

    def querier(seed):
        try:
            for q in np.random.default_rng(seed).integers(0, 100, size=40):
                found = index.query(vecs[q], 5)
                dists = [d for _, d in found]
                assert found[0][0] == q and dists == sorted(dists)
                assert {t for t, _ in found} <= set(range(1200))
        except Exception as exc:
            failures.append(exc)

    threads = [threading.Thread(target=adder, args=(s,)) for s in (100, 150, 200, 250)]
    threads += [threading.Thread(target=querier, args=(s,)) for s in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    assert len(index) == len(added) == 100 + 4 * 3 * 50
    for q in (120, 650, 1099):  # one from each round of batches
        assert index.query(vecs[q], 1)[0][0] == q


def test_exact_search_breaks_ties_by_smaller_id():
    ids = np.array([5, 3, 9])
    matrix = np.zeros((3, 2), dtype=np.float32)
    got_ids, dists = exact_search(ids, matrix, np.ones(2, dtype=np.float32), 2)
    assert got_ids.tolist() == [3, 5] and dists == pytest.approx([np.sqrt(2)] * 2)


def test_typical_distances_are_the_library_pairs_and_follow_its_growth(tmp_path, monkeypatch):
    ids, vecs = np.arange(1, 41), unit_vectors(40, seed=7)
    index = VectorIndex(tmp_path, "m1", DIM)
    assert len(index.typical_distances()) == 0  # an empty library has no scale
    index.build(ids[:20], vecs[:20])
    pairs = [np.linalg.norm(vecs[i] - vecs[j]) for i in range(20) for j in range(i + 1, 20)]
    np.testing.assert_allclose(index.typical_distances(), sorted(pairs), atol=1e-5)
    index.add(ids[20:21], vecs[20:21])  # within a tenth: the cached scale serves
    assert len(index.typical_distances()) == 20 * 19 // 2
    index.add(ids[21:], vecs[21:])  # doubled: sampled again
    assert len(index.typical_distances()) == 40 * 39 // 2
    monkeypatch.setattr("songsim_desktop.core.search.index.TYPICAL_SAMPLE", 10)
    index.build(ids, vecs)  # a big library is sampled, not squared
    assert len(index.typical_distances()) == 10 * 9 // 2
