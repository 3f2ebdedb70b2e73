"""Triplets from the listener's judgements and odd-one-out answers (issue 11), next to the pair sampler.

A small strategy object, torch-free (the GUI counts triplets with it without importing torch):

- a reference track R with a liked result L and a disliked result D gives (R, L, D): the listener
  said L is more like R than D is;
- a disliked result with no liked result of the same reference gives (R, R, D): R itself (another
  crop of it, as the method's self-positive) is nearer to R than D;
- an odd-one-out answer (anchor, positive, odd) is a triplet as it stands.

Judgements of references outside the library (a file path) have no cached input to anchor on and
are left out (counted in ``skipped``).  Each reference gives at most ``max_per_reference`` triplets
(a seeded draw) so one heavily judged query does not drown the others.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Optional

import numpy as np


@dataclass
class JudgementTriplets:
    """Triplets of track ids; ``source`` says where each came from ('judgement' or 'odd-one-out')."""

    anchor: np.ndarray
    positive: np.ndarray
    negative: np.ndarray
    source: list = field(default_factory=list)
    skipped: int = 0  # judgements that could not become triplets (reference outside the library)

    def __len__(self) -> int:
        return len(self.anchor)

    def track_ids(self) -> set[int]:
        return {int(t) for t in np.concatenate([self.anchor, self.positive, self.negative])}

    def subset(self, rows) -> "JudgementTriplets":
        rows = np.asarray(rows, dtype=np.int64)
        return JudgementTriplets(self.anchor[rows], self.positive[rows], self.negative[rows],
                                 [self.source[i] for i in rows])


class JudgementTripletMiner:
    """``mine(judgements, odd_answers)``: judgements are (reference track id or None, result track id,
    sign) and odd answers (anchor, positive, odd) -- plain tuples, as core hands them over."""

    def __init__(self, max_per_reference: int = 64, seed: int = 0):
        self.max_per_reference, self.seed = max_per_reference, seed

    def mine(self, judgements: Iterable[tuple[Optional[int], int, int]],
             odd_answers: Iterable[tuple[int, int, int]] = ()) -> JudgementTriplets:
        liked: dict[int, list[int]] = {}
        disliked: dict[int, list[int]] = {}
        skipped = 0
        for reference, result, sign in judgements:
            if reference is None:
                skipped += 1
                continue
            if int(result) == int(reference):
                continue
            (liked if sign > 0 else disliked).setdefault(int(reference), []).append(int(result))
        rng = np.random.default_rng([self.seed, 5081])
        rows: list[tuple[int, int, int, str]] = []
        for reference in sorted(set(liked) | set(disliked)):
            positives = sorted(set(liked.get(reference, [])))
            negatives = sorted(set(disliked.get(reference, [])) - set(positives))
            if not negatives:
                continue  # nothing to contrast with
            pool = [(reference, p, n) for p in (positives or [reference]) for n in negatives]
            if len(pool) > self.max_per_reference:
                pool = [pool[i] for i in sorted(rng.choice(len(pool), self.max_per_reference, replace=False))]
            rows += [(a, p, n, "judgement") for a, p, n in pool]
        for anchor, positive, odd in odd_answers:
            rows.append((int(anchor), int(positive), int(odd), "odd-one-out"))
        if not rows:
            empty = np.zeros(0, dtype=np.int64)
            return JudgementTriplets(empty, empty.copy(), empty.copy(), [], skipped)
        a, p, n, source = zip(*rows)
        as_ids = lambda v: np.asarray(v, dtype=np.int64)  # noqa: E731
        return JudgementTriplets(as_ids(a), as_ids(p), as_ids(n), list(source), skipped)

    def split(self, triplets: JudgementTriplets, val_fraction: float) -> tuple[JudgementTriplets, JudgementTriplets]:
        """(training, held out) by anchor, so no query's judgements land on both sides."""
        anchors = sorted({int(a) for a in triplets.anchor})
        order = np.random.default_rng([self.seed, 7127]).permutation(len(anchors))
        n_val = int(round(val_fraction * len(anchors)))
        n_val = min(max(n_val, 1), len(anchors) - 1) if len(anchors) >= 2 else 0
        held = {anchors[i] for i in order[:n_val]}
        is_held = np.array([int(a) in held for a in triplets.anchor], dtype=bool)
        return triplets.subset(np.flatnonzero(~is_held)), triplets.subset(np.flatnonzero(is_held))
