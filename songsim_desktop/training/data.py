"""Training data: the tag similarity matrix, the pair and triplet samplers, the split, augmentation.

Inputs are the cached log-mel crops of the shared front end (core.features via the features
cache): ``{track_id: (n_crops, 1, n_mels, crop_frames)}``, so an epoch never decodes audio.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Hashable, Sequence

import numpy as np
import torch
import torchaudio.transforms as T
from torch import nn


def jaccard_similarity(tag_sets: Sequence[set]) -> np.ndarray:
    """|A ∩ B| / |A ∪ B| for every pair of tracks: (n, n) float32 in [0, 1].

    Jaccard rather than raw overlap because it is normalised by what the two tracks have in total:
    a track tagged with ten things is not "similar" to everything that shares one of them, and the
    value is directly usable as a similarity in the margin formula.  Two untagged tracks get 0 (we
    know nothing about them, so they are not evidence of similarity).  The diagonal is 1; callers
    exclude self-similarity from neighbour lists.
    """
    vocabulary = sorted({tag for tags in tag_sets for tag in tags})
    column = {tag: j for j, tag in enumerate(vocabulary)}
    onehot = np.zeros((len(tag_sets), max(1, len(vocabulary))), dtype=np.float32)
    for i, tags in enumerate(tag_sets):
        for tag in tags:
            onehot[i, column[tag]] = 1.0
    shared = onehot @ onehot.T
    counts = onehot.sum(axis=1)
    union = counts[:, None] + counts[None, :] - shared
    sim = np.divide(shared, union, out=np.zeros_like(shared), where=union > 0)
    np.fill_diagonal(sim, 1.0)
    return sim.astype(np.float32)


def margin_for(similarity, margin_min: float, margin_max: float):
    """The less two tracks share, the larger the margin: linear in (1 - similarity)."""
    similarity = np.clip(np.asarray(similarity, dtype=np.float32), 0.0, 1.0)
    return (margin_min + (margin_max - margin_min) * (1.0 - similarity)).astype(np.float32)


def neighbour_lists(similarity: np.ndarray, k: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Per track: indices of its k most similar and its k least similar other tracks.

    Self is excluded from both.  Ties (common with few tags: many tracks share exactly one tag, many
    share none) are broken by a seeded random permutation, not by index order, so the lists do
    not favour tracks that happen to come first.  k is capped at n - 1.
    """
    n = len(similarity)
    k = min(k, n - 1)
    rng = np.random.default_rng(seed)
    top = np.empty((n, k), dtype=np.int64)
    bottom = np.empty((n, k), dtype=np.int64)
    for i in range(n):
        others = rng.permutation(np.delete(np.arange(n), i))
        order = others[np.argsort(-similarity[i, others], kind="stable")]
        top[i], bottom[i] = order[:k], order[::-1][:k]
    return top, bottom


@dataclass
class Pairs:
    """One epoch of Siamese pairs (indices into the track list)."""

    reference: np.ndarray  # (P,) int
    other: np.ndarray  # (P,) int
    label: np.ndarray  # (P,) float32: 1 similar, 0 dissimilar
    similarity: np.ndarray  # (P,) float32 tag similarity of the two tracks (1 for self-pairs)

    def __len__(self) -> int:
        return len(self.reference)


@dataclass
class Triplets:
    anchor: np.ndarray
    positive: np.ndarray
    negative: np.ndarray
    similarity_neg: np.ndarray  # tag similarity of anchor and negative (sets the margin)

    def __len__(self) -> int:
        return len(self.anchor)


class PairSampler:
    """The method's pairs: per reference, itself + n_positives of its top-k as positives, and
    n_negatives of its bottom-k as negatives.  Redrawn every epoch; the same seed and epoch give
    the same draw.  Draws are without replacement unless a list is shorter than the draw."""

    def __init__(self, similarity: np.ndarray, neighbours: int = 10, n_positives: int = 4,
                 n_negatives: int = 5, seed: int = 0):
        if len(similarity) < 2:
            raise ValueError("pair sampling needs at least two tracks")
        self.similarity = np.asarray(similarity, dtype=np.float32)
        self.n_positives, self.n_negatives, self.seed = n_positives, n_negatives, seed
        self.top, self.bottom = neighbour_lists(self.similarity, neighbours, seed)

    def _rng(self, epoch: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, epoch, 7919])

    @staticmethod
    def _draw(rng: np.random.Generator, pool: np.ndarray, count: int) -> np.ndarray:
        return rng.choice(pool, size=count, replace=len(pool) < count)

    def pairs(self, epoch: int) -> Pairs:
        rng = self._rng(epoch)
        refs, others, labels = [], [], []
        for i in range(len(self.similarity)):
            positives = np.concatenate([[i], self._draw(rng, self.top[i], self.n_positives)])
            negatives = self._draw(rng, self.bottom[i], self.n_negatives)
            refs.append(np.full(len(positives) + len(negatives), i))
            others.append(np.concatenate([positives, negatives]))
            labels.append(np.r_[np.ones(len(positives)), np.zeros(len(negatives))])
        ref, other = np.concatenate(refs), np.concatenate(others)
        return Pairs(ref, other, np.concatenate(labels).astype(np.float32), self.similarity[ref, other])

    def triplets(self, epoch: int) -> Triplets:
        """Anchor = each reference; its positives (self + top-k draws) matched one to one with its
        negatives (bottom-k draws), so each reference gives max(1 + n_positives, n_negatives)."""
        rng = self._rng(epoch)
        anchors, positives, negatives = [], [], []
        count = max(1 + self.n_positives, self.n_negatives)
        for i in range(len(self.similarity)):
            pos = np.concatenate([[i], self._draw(rng, self.top[i], self.n_positives)])
            neg = self._draw(rng, self.bottom[i], self.n_negatives)
            anchors.append(np.full(count, i))
            positives.append(np.resize(pos, count))
            negatives.append(np.resize(neg, count))
        a, n = np.concatenate(anchors), np.concatenate(negatives)
        return Triplets(a, np.concatenate(positives), n, self.similarity[a, n])


def split_by_track(track_ids: Sequence[Hashable], val_fraction: float, seed: int = 0):
    """(train_ids, val_ids): whole tracks go to one side, never crops of one track to both."""
    ids = list(track_ids)
    order = np.random.default_rng([seed, 104729]).permutation(len(ids))
    n_val = int(round(val_fraction * len(ids)))
    n_val = min(max(n_val, 2 if len(ids) >= 6 else 1), len(ids) - 2)
    val = sorted((ids[i] for i in order[:n_val]), key=str)
    train = sorted((ids[i] for i in order[n_val:]), key=str)
    return train, val


class CropPicker:
    """Chooses which cached crop of a track an example uses (with the caller's seeded rng)."""

    def __init__(self, inputs: Sequence[np.ndarray]):
        self.inputs = [np.asarray(x) for x in inputs]

    def batch(self, rows: np.ndarray, rng: np.random.Generator, avoid: np.ndarray | None = None):
        """(len(rows), 1, n_mels, frames) float32; ``avoid`` gives crop indices not to reuse (so a
        self-positive is a *different* crop of the same track whenever the track has two)."""
        chosen = np.empty(len(rows), dtype=np.int64)
        out = []
        for j, row in enumerate(rows):
            n = len(self.inputs[row])
            crop = int(rng.integers(n))
            if avoid is not None and n > 1 and crop == avoid[j]:
                crop = (crop + 1 + int(rng.integers(n - 1))) % n
            chosen[j] = crop
            out.append(self.inputs[row][crop])
        return np.stack(out).astype(np.float32).reshape(len(rows), 1, *out[0].shape[-2:]), chosen


class Augment(nn.Module):
    """Training-time augmentation of log-mel crops in dB (batch, 1, n_mels, frames).

    - random circular time shift (a different start inside the cached window),
    - gain: a constant dB shift, floored at the front end's -100 dB like real quiet audio,
    - SpecAugment time and frequency masks (torchaudio), one independent mask per example.
    Masks fill with each example's mean level, not torchaudio's default 0: in dB, 0 is loud.
    """

    def __init__(self, gain_db: float = 6.0, time_mask: int = 32, freq_mask: int = 8, roll: bool = True,
                 floor_db: float = -100.0):
        super().__init__()
        self.gain_db, self.roll, self.floor_db = gain_db, roll, floor_db
        self.time_masking = T.TimeMasking(time_mask, iid_masks=True) if time_mask > 0 else None
        self.freq_masking = T.FrequencyMasking(freq_mask, iid_masks=True) if freq_mask > 0 else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Draws come from torch's global RNG (torchaudio's masks offer no generator); the training
        # loop seeds it, so a run is reproducible.
        batch, frames = x.shape[0], x.shape[-1]
        if self.roll:
            shifts = torch.randint(0, frames, (batch,))
            index = (torch.arange(frames)[None, :] + shifts[:, None]) % frames
            x = torch.gather(x, 3, index[:, None, None, :].expand_as(x).to(x.device))
        if self.gain_db > 0:
            gain = (torch.rand(batch, 1, 1, 1) * 2 - 1) * self.gain_db
            x = torch.clamp(x + gain.to(x.device), min=self.floor_db)
        if self.time_masking is not None or self.freq_masking is not None:
            mean = x.mean(dim=(1, 2, 3), keepdim=True)
            centred = x - mean
            if self.time_masking is not None:
                centred = self.time_masking(centred)
            if self.freq_masking is not None:
                centred = self.freq_masking(centred)
            x = centred + mean
        return x
