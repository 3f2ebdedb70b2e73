"""Similarity matrix, margins, pair/triplet sampling rules and the split by track."""

from __future__ import annotations

import numpy as np
import pytest

from songsim_desktop.training.data import (PairSampler, jaccard_similarity, margin_for,
                                           neighbour_lists, split_by_track)

TAG_POOL = ["rock", "jazz", "calm", "dark", "piano", "drums", "synth", "live"]


def random_tags(n: int, seed: int = 0) -> list[set]:
    rng = np.random.default_rng(seed)
    return [set(rng.choice(TAG_POOL, size=rng.integers(1, 4), replace=False)) for _ in range(n)]


def test_jaccard_by_hand():
    sim = jaccard_similarity([{"a", "b"}, {"b", "c"}, {"d"}, set()])
    assert sim[0, 1] == pytest.approx(1 / 3) and sim[1, 0] == pytest.approx(1 / 3)
    assert sim[0, 2] == 0 and sim[2, 3] == 0 and sim[3, 3] == 1
    assert np.allclose(np.diag(sim), 1)


def test_margin_is_monotone_decreasing_in_similarity():
    sims = np.linspace(0, 1, 11)
    margins = margin_for(sims, 0.5, 1.5)
    assert margins[0] == pytest.approx(1.5) and margins[-1] == pytest.approx(0.5)
    assert np.all(np.diff(margins) < 0)


def test_neighbour_lists_are_the_true_top_and_bottom_and_exclude_self():
    sim = jaccard_similarity(random_tags(40, seed=1))
    top, bottom = neighbour_lists(sim, 10, seed=0)
    assert top.shape == bottom.shape == (40, 10)
    for i in range(40):
        others = np.delete(np.arange(40), i)
        assert i not in top[i] and i not in bottom[i]
        rest_top = np.setdiff1d(others, top[i])
        rest_bottom = np.setdiff1d(others, bottom[i])
        assert sim[i, top[i]].min() >= sim[i, rest_top].max()
        assert sim[i, bottom[i]].max() <= sim[i, rest_bottom].min()


def test_pair_sampler_follows_the_method():
    n = 40
    sim = jaccard_similarity(random_tags(n, seed=2))
    sampler = PairSampler(sim, neighbours=10, n_positives=4, n_negatives=5, seed=3)
    pairs = sampler.pairs(epoch=0)
    assert len(pairs) == n * 10
    for i in range(n):
        mine = pairs.reference == i
        others, labels = pairs.other[mine], pairs.label[mine]
        positives, negatives = others[labels == 1], others[labels == 0]
        assert len(positives) == 5 and len(negatives) == 5
        assert positives[0] == i  # the self-positive: another crop of the same track
        assert set(positives[1:]) <= set(sampler.top[i]) and i not in positives[1:]
        assert len(set(positives[1:])) == 4  # drawn without replacement from 10
        assert set(negatives) <= set(sampler.bottom[i]) and len(set(negatives)) == 5
    assert np.allclose(pairs.similarity, sim[pairs.reference, pairs.other])


def test_pairs_are_redrawn_each_epoch_and_reproducible_with_a_seed():
    sim = jaccard_similarity(random_tags(30, seed=4))
    a = PairSampler(sim, seed=5)
    b = PairSampler(sim, seed=5)
    assert np.array_equal(a.pairs(0).other, b.pairs(0).other)
    assert np.array_equal(a.pairs(3).other, b.pairs(3).other)
    assert not np.array_equal(a.pairs(0).other, a.pairs(1).other)
    assert not np.array_equal(a.pairs(0).other, PairSampler(sim, seed=6).pairs(0).other)


def test_small_libraries_draw_with_replacement_from_what_there_is():
    sim = jaccard_similarity([{"a"}, {"a"}, {"b"}, {"b", "a"}])
    pairs = PairSampler(sim, neighbours=10, seed=0).pairs(0)
    assert len(pairs) == 4 * 10 and set(pairs.other) <= {0, 1, 2, 3}
    for i in range(4):
        mine = pairs.other[(pairs.reference == i) & (pairs.label == 0)]
        assert i not in mine


def test_triplets_come_from_the_same_lists():
    sim = jaccard_similarity(random_tags(30, seed=7))
    sampler = PairSampler(sim, seed=1)
    trip = sampler.triplets(0)
    assert len(trip) == 30 * 5
    for a, p, n in zip(trip.anchor, trip.positive, trip.negative):
        assert p == a or p in sampler.top[a]
        assert n in sampler.bottom[a]
    assert np.allclose(trip.similarity_neg, sim[trip.anchor, trip.negative])
    assert not np.array_equal(trip.negative, sampler.triplets(1).negative)


def test_split_is_by_track_disjoint_and_seeded():
    ids = list(range(50))
    train, val = split_by_track(ids, 0.2, seed=0)
    assert len(val) == 10 and not set(train) & set(val) and set(train) | set(val) == set(ids)
    assert split_by_track(ids, 0.2, seed=0) == (train, val)
    assert split_by_track(ids, 0.2, seed=1) != (train, val)
