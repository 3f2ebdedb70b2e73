"""The similarity a person reads, from a Euclidean distance and the library's own scale."""

from __future__ import annotations

from typing import Optional

import numpy as np

# Below this many track pairs a library says too little about its own spread: use the absolute scale.
MIN_TYPICAL_PAIRS = 3


def similarity_percent(distance: float, typical: Optional[np.ndarray] = None) -> float:
    """A similarity a person can read, 0..100, from the Euclidean distance of two unit vectors.

    With ``typical`` (sorted distances between tracks of the library: ``VectorIndex.typical_distances``)
    it is the share of those pairs that lie farther apart, so "97 %" reads "closer than 97 % of the
    pairs of tracks in your library".  That stays informative whatever the model's own scale: the
    shipped model puts a whole synthetic demo library within 0.1 of itself, where the absolute scale
    would show 97-99 % for everything.  Without enough pairs: the absolute ``100 * (1 - d/2)``.
    """
    d = float(distance)
    if typical is not None and len(typical) >= MIN_TYPICAL_PAIRS:
        not_farther = int(np.searchsorted(typical, d, side="right"))
        return float(100.0 * (1.0 - not_farther / len(typical)))
    return float(min(100.0, max(0.0, 100.0 * (1.0 - d / 2.0))))
