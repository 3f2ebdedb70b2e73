"""Each loss against numbers worked by hand."""

from __future__ import annotations

import pytest
import torch

from songsim_desktop.training.losses import ContrastiveLoss, TripletLoss


def test_contrastive_loss_matches_hand_computation():
    d = torch.tensor([0.5, 1.0, 0.2, 0.0])
    y = torch.tensor([1.0, 0.0, 0.0, 0.0])
    m = torch.tensor([1.0, 1.5, 0.1, 0.8])
    # similar:       0.5^2                = 0.25
    # dissimilar:    max(0, 1.5 - 1.0)^2  = 0.25
    # beyond margin: max(0, 0.1 - 0.2)^2  = 0
    # collapsed:     max(0, 0.8 - 0.0)^2  = 0.64
    assert ContrastiveLoss()(d, y, m).item() == pytest.approx((0.25 + 0.25 + 0 + 0.64) / 4)


def test_contrastive_gradient_pulls_positives_and_pushes_negatives_inside_the_margin():
    d = torch.tensor([0.5, 0.5, 1.2], requires_grad=True)
    ContrastiveLoss()(d, torch.tensor([1.0, 0.0, 0.0]), torch.tensor([1.0, 1.0, 1.0])).backward()
    # d/dd of (1/3) d^2 = 2d/3 ; of (1/3)(m-d)^2 = -2(m-d)/3 ; beyond the margin: 0
    assert d.grad.tolist() == pytest.approx([2 * 0.5 / 3, -2 * 0.5 / 3, 0.0])


def test_triplet_loss_matches_hand_computation():
    d_pos = torch.tensor([0.3, 1.0, 0.1])
    d_neg = torch.tensor([0.5, 0.2, 1.0])
    m = torch.tensor([0.5, 0.1, 0.5])
    # 0.3 - 0.5 + 0.5 = 0.3 ; 1.0 - 0.2 + 0.1 = 0.9 ; 0.1 - 1.0 + 0.5 < 0 -> 0
    assert TripletLoss()(d_pos, d_neg, m).item() == pytest.approx((0.3 + 0.9 + 0.0) / 3)


def test_scalar_margin_is_accepted():
    d = torch.tensor([0.2, 0.4])
    assert ContrastiveLoss()(d, torch.tensor([0.0, 0.0]), 0.5).item() == pytest.approx((0.09 + 0.01) / 2)
    assert TripletLoss()(d, d, 0.25).item() == pytest.approx(0.25)
