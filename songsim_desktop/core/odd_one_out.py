"""Odd one out (issue 11): three tracks the current model is least sure about; which does not belong?

The model is least sure when the three pairwise distances of a triple are nearly equal: then it
cannot say which one is odd, and the listener's answer teaches it the most.  Triples are drawn among
near neighbours (a seed track and two of its nearest tracks), because a triple of unrelated tracks
is easy for both the model and the listener and teaches nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations

import numpy as np

SEEDS = 24  # seed tracks looked at per round
NEIGHBOURS = 8  # nearest tracks of each seed that may join it


@dataclass(frozen=True)
class OddOneOutRound:
    track_ids: tuple[int, int, int]
    uncertainty: float  # 1 = the three pairwise distances are equal (the model cannot tell)

    def answer(self, odd_id: int) -> tuple[int, int, int]:
        """(anchor, positive, odd) once the listener picked ``odd_id``: the other two belong together."""
        odd_id = int(odd_id)
        if odd_id not in self.track_ids:
            raise ValueError(f"track {odd_id} is not one of this round's three tracks {self.track_ids}")
        anchor, positive = (t for t in self.track_ids if t != odd_id)
        return anchor, positive, odd_id


def uncertainty(vectors: np.ndarray) -> float:
    """1 - (max - min) / max of the three pairwise distances of a (3, dim) triple: 1 when equal."""
    d = [float(np.linalg.norm(vectors[i] - vectors[j])) for i, j in ((0, 1), (0, 2), (1, 2))]
    return 1.0 - (max(d) - min(d)) / max(max(d), 1e-12)


def pick_round(ids: np.ndarray, vectors: np.ndarray, rng: np.random.Generator,
               asked: frozenset = frozenset()) -> OddOneOutRound:
    """The least certain triple among SEEDS random seeds and their NEIGHBOURS nearest tracks.

    ``asked``: triples (frozensets of ids) already answered, never asked again.  Needs >= 3 tracks.
    """
    ids = np.asarray(ids, dtype=np.int64)
    vectors = np.asarray(vectors, dtype=np.float64)
    if len(ids) < 3:
        raise ValueError("odd one out needs at least three tracks with vectors")
    best: OddOneOutRound | None = None
    for seed in rng.choice(len(ids), size=min(SEEDS, len(ids)), replace=False):
        near = np.argsort(np.linalg.norm(vectors - vectors[seed], axis=1), kind="stable")
        near = [int(i) for i in near if i != seed][:NEIGHBOURS]
        for i, j in combinations(near, 2):
            rows = [int(seed), i, j]
            triple = tuple(int(ids[r]) for r in rows)
            if frozenset(triple) in asked:
                continue
            u = uncertainty(vectors[rows])
            if best is None or u > best.uncertainty:
                best = OddOneOutRound(triple, u)
    if best is None:
        raise ValueError("every nearby triple has been asked already")
    return best
