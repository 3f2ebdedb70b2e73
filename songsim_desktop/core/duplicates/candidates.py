"""The candidate stage: pairs of tracks some of whose sections lie close (cheap, loose, high recall).

Every section vector of every track goes into one hnswlib graph; each section asks for its
``k`` nearest sections, and two tracks become a candidate pair when any of their sections lie
within ``max_distance``.  A re-encode's sections sit almost on top of the original's; a trimmed
or contained copy's sections are shifted, so the threshold is loose (chosen on the validation split
in bench/bench_duplicates.py): the strict check (confirm.py) decides, this stage only must not
miss.  :func:`brute_force_pairs` is the exact reference the bench compares against.
"""

from __future__ import annotations

from typing import Iterable

import numpy as np

from songsim_desktop.core.duplicates.sources import Sections

# Euclidean distance between unit section vectors under which two sections make a candidate.
MAX_DISTANCE = 0.35
NEIGHBOURS = 16  # sections asked per section: a track and its few copies fit many times over
EXACT_LIMIT = 2000  # up to this many sections, a brute-force scan is exact and as fast
# A sparse, cheaply built graph: copies lie far closer to each other than anything else does, so
# they are found without the recall a similarity search needs (M=16/ef 100 took 4x longer to build
# at 40,000 sections and found the same pairs; bench/bench_duplicates.py compares with brute force).
GRAPH_M = 8
GRAPH_EF_CONSTRUCTION = 32


def _stack(sections: dict[int, Sections]) -> tuple[np.ndarray, np.ndarray]:
    owners = np.concatenate([np.full(len(s.vectors), tid, dtype=np.int64) for tid, s in sections.items()]) \
        if sections else np.zeros(0, dtype=np.int64)
    matrix = np.concatenate([s.vectors for s in sections.values()]).astype(np.float32) \
        if sections else np.zeros((0, 0), dtype=np.float32)
    return owners, matrix


def _pairs_from(owners: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> set[tuple[int, int]]:
    a, b = owners[rows], owners[cols]
    keep = a != b
    lo, hi = np.minimum(a[keep], b[keep]), np.maximum(a[keep], b[keep])
    return set(zip(lo.tolist(), hi.tolist()))


def candidate_pairs(sections: dict[int, Sections], max_distance: float = MAX_DISTANCE,
                    neighbours: int = NEIGHBOURS) -> set[tuple[int, int]]:
    """(lower id, higher id) of every track pair with two sections within ``max_distance``."""
    owners, matrix = _stack(sections)
    if len(matrix) < 2:
        return set()
    if len(matrix) <= EXACT_LIMIT:
        return brute_force_pairs(sections, max_distance)
    import hnswlib

    index = hnswlib.Index(space="l2", dim=matrix.shape[1])
    index.init_index(max_elements=len(matrix), ef_construction=GRAPH_EF_CONSTRUCTION, M=GRAPH_M)
    index.set_num_threads(1)  # a background job on a busy machine: leave the other cores alone
    index.add_items(matrix, np.arange(len(matrix)))
    k = min(neighbours + 1, len(matrix))
    index.set_ef(max(2 * k, 32))
    labels, squared = index.knn_query(matrix, k=k)
    close = squared <= max_distance ** 2
    rows = np.repeat(np.arange(len(matrix)), k).reshape(len(matrix), k)[close]
    return _pairs_from(owners, rows, labels[close].astype(np.int64))


def brute_force_pairs(sections: dict[int, Sections], max_distance: float = MAX_DISTANCE,
                      block: int = 2048) -> set[tuple[int, int]]:
    """The exact answer (every section against every section), in blocks of rows."""
    owners, matrix = _stack(sections)
    found: set[tuple[int, int]] = set()
    norms = (matrix ** 2).sum(axis=1)
    for start in range(0, len(matrix), block):
        part = matrix[start:start + block]
        squared = norms[start:start + block, None] + norms[None, :] - 2 * part @ matrix.T
        rows, cols = np.nonzero(squared <= max_distance ** 2)
        found |= _pairs_from(owners, rows + start, cols)
    return found


def closest_sections(a: Sections, b: Sections) -> float:
    """The smallest distance between a section of ``a`` and one of ``b`` (a reason shown per pair)."""
    diff = a.vectors[:, None, :] - b.vectors[None, :, :]
    return float(np.sqrt((diff ** 2).sum(axis=2)).min())


def tracks_in(pairs: Iterable[tuple[int, int]]) -> set[int]:
    return {t for pair in pairs for t in pair}
