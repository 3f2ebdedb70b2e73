"""Each training objective (draw + loss, chosen by name) against numbers worked by hand."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from songsim_desktop.training.config import LOSSES, TrainConfig
from songsim_desktop.training.data import Pairs, Triplets
from songsim_desktop.training.objectives import OBJECTIVES, ContrastiveObjective, TripletObjective
from songsim_desktop.training.objectives import objective_for

# Track row -> its embedding; the "branch" below passes inputs through, so distances are easy by hand.
VECTORS = {0: [0.0, 0.0], 1: [3.0, 4.0], 2: [0.0, 1.0]}


class FixedBatches:
    """The loop's batch_of, with one fixed 2-d "crop" per track; records the crops it was told to avoid."""

    def __init__(self):
        self.avoided = []

    def __call__(self, rows, rng, avoid=None):
        self.avoided.append(None if avoid is None else list(avoid))
        x = torch.tensor([VECTORS[int(r)] for r in rows]).reshape(len(rows), 1, 1, 2)
        return x, np.zeros(len(rows), dtype=np.int64)


def test_every_offered_loss_name_has_exactly_one_objective():
    assert set(OBJECTIVES) == set(LOSSES)
    for name in LOSSES:
        assert objective_for(TrainConfig(loss=name)).name == name
    with pytest.raises(ValueError, match="contrastive"):
        objective_for(TrainConfig(loss="hinge"))


def test_examples_per_reference_follow_the_method():
    config = TrainConfig(n_positives=4, n_negatives=5)
    assert ContrastiveObjective(config).examples_per_reference() == 1 + 4 + 5  # itself, 4 positives, 5 negatives
    assert TripletObjective(config).examples_per_reference() == 5  # positives matched one to one with negatives
    assert TripletObjective(TrainConfig(n_positives=1, n_negatives=6)).examples_per_reference() == 6


def test_contrastive_pairs_loss_matches_hand_computation():
    config = TrainConfig(margin_min=0.5, margin_max=1.5, self_positive_weight=2.0)
    draw = Pairs(reference=np.array([0, 0, 0]), other=np.array([0, 1, 2]),
                 label=np.array([1.0, 1.0, 0.0], dtype=np.float32), similarity=np.array([1.0, 0.5, 0.0], np.float32))
    batches = FixedBatches()
    loss = ContrastiveObjective(config).loss(torch.nn.Flatten(), draw, np.arange(3), batches, np.random.default_rng(0))
    # distances 0, 5, 1; margins 0.5 + 1.0 * (1 - similarity) = 0.5, 1.0, 1.5
    # self-pair (weight 2): 0^2 = 0;  positive: 5^2 = 25;  negative: max(0, 1.5 - 1)^2 = 0.25
    assert loss.item() == pytest.approx((2 * 0 + 25 + 0.25) / (2 + 1 + 1), rel=1e-5)
    assert batches.avoided == [None, [0, -1, -1]]  # the self-pair takes another crop of the track


def test_triplet_loss_matches_hand_computation():
    config = TrainConfig(margin_min=0.5, margin_max=1.5)
    draw = Triplets(anchor=np.array([0, 0]), positive=np.array([0, 2]), negative=np.array([1, 2]),
                    similarity_neg=np.array([0.0, 0.5], np.float32))
    loss = TripletObjective(config).loss(torch.nn.Flatten(), draw, np.arange(2), FixedBatches(),
                                         np.random.default_rng(0))
    # d(a, p) = 0, 1;  d(a, n) = 5, 1;  margins 1.5, 1.0
    # max(0, 0 - 5 + 1.5) = 0;  max(0, 1 - 1 + 1.0) = 1
    assert loss.item() == pytest.approx((0 + 1.0) / 2, rel=1e-5)


def test_each_objective_draws_its_own_kind_of_examples():
    from songsim_desktop.training.data import PairSampler, jaccard_similarity

    sampler = PairSampler(jaccard_similarity([{"a"}, {"a"}, {"b"}, {"b"}]), neighbours=2, n_positives=1,
                          n_negatives=1)
    assert isinstance(ContrastiveObjective(TrainConfig()).draw(sampler, 0), Pairs)
    assert isinstance(TripletObjective(TrainConfig()).draw(sampler, 0), Triplets)
