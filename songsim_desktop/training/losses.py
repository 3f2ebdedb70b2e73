"""The two losses of the method, one small class each (checked against hand computations in tests).

Both take Euclidean distances between L2-normalised embeddings (so d is in [0, 2]) and a margin per
example, which comes from the metadata: the less two tracks share, the larger the margin.
"""

from __future__ import annotations

import torch
from torch import nn


class ContrastiveLoss(nn.Module):
    """mean( y * d^2 + (1 - y) * max(0, m - d)^2 ).

    y = 1 pulls a similar pair together; y = 0 pushes a dissimilar pair apart until it is at least
    its margin m away, and then stops caring (no reward for pushing further).
    """

    def forward(self, distance: torch.Tensor, label: torch.Tensor, margin: torch.Tensor,
                weight: torch.Tensor | None = None) -> torch.Tensor:
        label = label.to(distance.dtype)
        margin = torch.as_tensor(margin, dtype=distance.dtype, device=distance.device)
        pull = label * distance.pow(2)
        push = (1 - label) * torch.clamp(margin - distance, min=0).pow(2)
        if weight is None:
            return (pull + push).mean()
        weight = torch.as_tensor(weight, dtype=distance.dtype, device=distance.device)
        return ((pull + push) * weight).sum() / weight.sum()  # weighted mean


class TripletLoss(nn.Module):
    """mean( max(0, d(a, p) - d(a, n) + m) ): the positive must be closer than the negative by m."""

    def forward(self, d_pos: torch.Tensor, d_neg: torch.Tensor, margin: torch.Tensor) -> torch.Tensor:
        margin = torch.as_tensor(margin, dtype=d_pos.dtype, device=d_pos.device)
        return torch.clamp(d_pos - d_neg + margin, min=0).mean()


class InfoNCELoss(nn.Module):
    """Same-track contrast over a batch (NT-Xent): rows i of ``a`` and ``b`` are two crops of one track.

    Every crop's positive is its partner; the other 2n - 2 crops of the batch are its negatives:
    loss = mean over the 2n crops of  -log( exp(s_pos / t) / sum_{k != self} exp(s_k / t) ),
    s = cosine similarity (the embeddings are unit vectors, so s = 1 - d^2 / 2), t the temperature.
    """

    def __init__(self, temperature: float = 0.1):
        super().__init__()
        self.temperature = temperature

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        z = torch.cat([a, b])
        n = len(a)
        logits = (z @ z.T) / self.temperature
        logits = logits.masked_fill(torch.eye(2 * n, dtype=torch.bool, device=z.device), float("-inf"))
        partner = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)]).to(z.device)
        return nn.functional.cross_entropy(logits, partner)


class CosineDistillationLoss(nn.Module):
    """mean( 1 - cos(prediction, target) ): the student's head output points where the teacher's does."""

    def forward(self, prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        cos = (prediction * target).sum(1) / (prediction.norm(dim=1) * target.norm(dim=1)).clamp_min(1e-8)
        return (1.0 - cos).mean()
