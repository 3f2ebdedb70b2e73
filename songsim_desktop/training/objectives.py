"""Training objectives, chosen by name: how an epoch's examples are drawn and how a batch is scored.

One small class per objective (the loop has no ``if loss == ...`` branches).  Each pairs a draw of
the PairSampler (pairs or triplets) with its loss from losses.py.  The names offered to users are
``config.LOSSES`` (torch-free, so the GUI and the CLI list them without importing torch);
``OBJECTIVES`` maps each of those names to its class, and a test keeps the two equal.

``batch_of(rows, rng, avoid=None) -> (tensor, chosen crops)`` is the loop's: it picks one cached
crop per row (``avoid``: a crop index not to reuse, so a self-positive is another crop of the same
track), augments it and puts it on the device.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch

from songsim_desktop.training.config import LOSSES, TrainConfig
from songsim_desktop.training.data import PairSampler, margin_for
from songsim_desktop.training.losses import ContrastiveLoss, TripletLoss
from songsim_desktop.training.model import SiameseNet, euclidean

BatchOf = Callable[..., tuple[torch.Tensor, np.ndarray]]


class ContrastiveObjective:
    """The method's Siamese pairs (self + top-k positives, bottom-k negatives) with the contrastive
    loss; the margin comes from the pair's tag similarity, self-pairs weigh ``self_positive_weight``."""

    name = "contrastive"

    def __init__(self, config: TrainConfig):
        self.config = config
        self.loss_fn = ContrastiveLoss()

    def examples_per_reference(self) -> int:
        return 1 + self.config.n_positives + self.config.n_negatives

    def draw(self, sampler: PairSampler, epoch: int):
        return sampler.pairs(epoch)

    def loss(self, branch, draw, rows: np.ndarray, batch_of: BatchOf, rng: np.random.Generator) -> torch.Tensor:
        ref, crop_r = batch_of(draw.reference[rows], rng)
        same = draw.other[rows] == draw.reference[rows]  # self-pair: use another crop
        other, _ = batch_of(draw.other[rows], rng, avoid=np.where(same, crop_r, -1))
        _, _, distance = SiameseNet(branch)(ref, other)
        margin = margin_for(draw.similarity[rows], self.config.margin_min, self.config.margin_max)
        weight = np.where(same, self.config.self_positive_weight, 1.0).astype(np.float32)
        device = distance.device
        return self.loss_fn(distance, torch.from_numpy(draw.label[rows]).to(device),
                            torch.from_numpy(margin).to(device), torch.from_numpy(weight).to(device))


class TripletObjective:
    """Anchor / positive / negative triplets with the triplet loss; the margin comes from the tag
    similarity of anchor and negative."""

    name = "triplet"

    def __init__(self, config: TrainConfig):
        self.config = config
        self.loss_fn = TripletLoss()

    def examples_per_reference(self) -> int:
        return max(1 + self.config.n_positives, self.config.n_negatives)

    def draw(self, sampler: PairSampler, epoch: int):
        return sampler.triplets(epoch)

    def loss(self, branch, draw, rows: np.ndarray, batch_of: BatchOf, rng: np.random.Generator) -> torch.Tensor:
        anchor, crop_a = batch_of(draw.anchor[rows], rng)
        same = draw.positive[rows] == draw.anchor[rows]
        positive, _ = batch_of(draw.positive[rows], rng, avoid=np.where(same, crop_a, -1))
        negative, _ = batch_of(draw.negative[rows], rng)
        e_a, e_p, e_n = branch(torch.cat([anchor, positive, negative])).split(len(rows))
        margin = margin_for(draw.similarity_neg[rows], self.config.margin_min, self.config.margin_max)
        return self.loss_fn(euclidean(e_a, e_p), euclidean(e_a, e_n), torch.from_numpy(margin).to(e_a.device))


OBJECTIVES = {cls.name: cls for cls in (ContrastiveObjective, TripletObjective)}


def objective_for(config: TrainConfig):
    """The objective named by ``config.loss`` (one of config.LOSSES)."""
    try:
        return OBJECTIVES[config.loss](config)
    except KeyError:
        raise ValueError(f"loss must be one of {LOSSES}, not {config.loss!r}") from None
