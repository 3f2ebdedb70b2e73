"""Retrieval metrics for bench/eval_retrieval.py, per query, with bootstrap intervals over collections.

Per-query values (not only means) are kept so that the intervals can resample whole collections:
tracks of one soundtrack are not independent queries, so resampling tracks would overstate certainty.
"""

from __future__ import annotations

import numpy as np


def distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.sqrt(np.maximum(((a[:, None, :] - b[None, :, :]) ** 2).sum(-1), 0.0))


def average_precision(relevant_in_rank_order: np.ndarray) -> float:
    hits = np.cumsum(relevant_in_rank_order)
    if hits[-1] == 0:
        return 0.0
    ranks = np.arange(1, len(relevant_in_rank_order) + 1)
    return float((relevant_in_rank_order * hits / ranks).sum() / hits[-1])


def retrieval_per_query(vectors: np.ndarray, labels: list[str]) -> dict[str, np.ndarray]:
    """Leave-one-out same-label retrieval by Euclidean distance: P@5, P@10 and AP of each query."""
    labels_arr = np.array(labels)
    dist = distances(vectors, vectors)
    out = {"p@5": [], "p@10": [], "map": []}
    for i in range(len(vectors)):
        order = [j for j in np.argsort(dist[i], kind="stable") if j != i]
        relevant = (labels_arr[order] == labels_arr[i]).astype(float)
        out["p@5"].append(relevant[:5].mean())
        out["p@10"].append(relevant[:10].mean())
        out["map"].append(average_precision(relevant))
    return {k: np.array(v) for k, v in out.items()}


def excerpt_per_query(queries: np.ndarray, library: np.ndarray) -> dict[str, np.ndarray]:
    """Excerpt i's own track is library row i: found first (0/1) and reciprocal rank, per excerpt."""
    dist = distances(queries, library)
    ranks = np.array([1 + int((dist[i] < dist[i, i]).sum()) for i in range(len(queries))])
    return {"excerpt@1": (ranks == 1).astype(float), "mrr": 1.0 / ranks}


def chance_per_query(labels: list[str], trials: int = 2000, seed: int = 0) -> dict[str, np.ndarray]:
    """Expected values of a random ranking, per query: P@k in closed form, AP by simulation."""
    labels_arr = np.array(labels)
    n = len(labels)
    same = np.array([(labels_arr == label).sum() - 1 for label in labels_arr], dtype=float)
    rng = np.random.default_rng(seed)
    ap = np.zeros(n)
    for i in range(n):
        others = np.delete(np.arange(n), i)
        ap[i] = np.mean([average_precision((labels_arr[rng.permutation(others)] == labels_arr[i]).astype(float))
                         for _ in range(max(1, trials // n))])
    return {"p@5": same / (n - 1), "p@10": same / (n - 1), "map": ap,
            "excerpt@1": np.full(n, 1.0 / n), "mrr": np.full(n, float(np.mean(1.0 / np.arange(1, n + 1))))}


def bootstrap_intervals(per_query: dict[str, np.ndarray], labels: list[str], resamples: int = 2000,
                        seed: int = 0, level: float = 0.95) -> dict[str, tuple[float, float]]:
    """Percentile intervals of each mean when whole collections are resampled with replacement."""
    labels_arr = np.array(labels)
    collections = sorted(set(labels))
    members = [np.flatnonzero(labels_arr == c) for c in collections]
    rng = np.random.default_rng(seed)
    draws = {k: np.empty(resamples) for k in per_query}
    for r in range(resamples):
        chosen = np.concatenate([members[i] for i in rng.integers(len(collections), size=len(collections))])
        for k, values in per_query.items():
            draws[k][r] = values[chosen].mean()
    tail = (1.0 - level) / 2 * 100
    return {k: (float(np.percentile(v, tail)), float(np.percentile(v, 100 - tail))) for k, v in draws.items()}
