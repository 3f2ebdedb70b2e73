"""Instant re-ranking from the listener's judgements, without training (issue 11).

Two re-rankers over the same inputs -- the query vector, the candidates' vectors, and which
candidates were liked (+1) or disliked (-1) -- each returning a distance per candidate (smaller =
nearer):

- :class:`Rocchio`: the query moves toward the mean of what was liked and away from the mean of
  what was disliked (q' = q + beta * mean(liked) - gamma * mean(disliked), renormalised), then
  plain Euclidean distance.  Nothing is fitted.
- :class:`FittedMetric`: a diagonal metric fitted on the spot: each dimension is weighted by how
  well it separates liked from disliked (Fisher ratio), around the centre of query + liked.

bench/bench_feedback.py measures both with a simulated listener on held-out real music (beta,
gamma and the metric's strength chosen on the validation split); :data:`DEFAULT` is the one that
won there (docs/benchmarks.md, "Issue 11").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def _unit(v: np.ndarray) -> np.ndarray:
    return v / max(float(np.linalg.norm(v)), 1e-12)


def _split(vectors: np.ndarray, signs: dict[int, int]) -> tuple[np.ndarray, np.ndarray]:
    liked = [i for i, s in signs.items() if s > 0]
    disliked = [i for i, s in signs.items() if s < 0]
    return vectors[liked], vectors[disliked]


@dataclass(frozen=True)
class Rocchio:
    # Chosen on the validation split (bench_feedback.py --grid): a strong push away from what was
    # disliked helps most, because the wrong results near a query are usually one other collection.
    beta: float = 0.5
    gamma: float = 1.0
    name: str = "rocchio"

    def moved_query(self, query: np.ndarray, liked: np.ndarray, disliked: np.ndarray) -> np.ndarray:
        moved = np.asarray(query, dtype=np.float64).copy()
        if len(liked):
            moved += self.beta * liked.mean(axis=0)
        if len(disliked):
            moved -= self.gamma * disliked.mean(axis=0)
        return _unit(moved)

    def distances(self, query: np.ndarray, vectors: np.ndarray, signs: dict[int, int]) -> np.ndarray:
        """Distance of every candidate (row of ``vectors``) to the moved query; ``signs``: row -> +-1."""
        liked, disliked = _split(vectors, signs)
        moved = self.moved_query(query, liked, disliked)
        return np.linalg.norm(vectors - moved, axis=1)


@dataclass(frozen=True)
class FittedMetric:
    strength: float = 4.0  # how far the weights may stray from the plain (uniform) metric
    name: str = "fitted-metric"

    def weights(self, liked: np.ndarray, disliked: np.ndarray, dim: int) -> np.ndarray:
        """Per-dimension weights, mean 1: 1 + strength * Fisher ratio (normalised).  Uniform (the
        plain metric) until there is at least one liked and one disliked vector."""
        if len(liked) == 0 or len(disliked) == 0:
            return np.ones(dim)
        gap = (liked.mean(axis=0) - disliked.mean(axis=0)) ** 2
        spread = liked.var(axis=0) + disliked.var(axis=0) + 1e-3 * float(gap.mean() + 1e-12)
        fisher = gap / spread
        w = 1.0 + self.strength * fisher / max(float(fisher.mean()), 1e-12)
        return w / w.mean()

    def distances(self, query: np.ndarray, vectors: np.ndarray, signs: dict[int, int]) -> np.ndarray:
        liked, disliked = _split(vectors, signs)
        centre = _unit(np.vstack([np.asarray(query, dtype=np.float64)[None, :], liked]).mean(axis=0))
        w = self.weights(liked, disliked, vectors.shape[1])
        return np.sqrt(((vectors - centre) ** 2 * w).sum(axis=1))


DEFAULT = Rocchio()
RERANKERS = {"rocchio": Rocchio, "fitted-metric": FittedMetric}
