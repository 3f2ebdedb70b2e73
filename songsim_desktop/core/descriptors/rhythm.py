"""The rhythm aspect's pattern vector: how strongly the onsets repeat at each lag from a sixteenth
note at a fast tempo (0.1 s) to a bar at a slow one (2 s), on a log scale.

Two tracks with the same groove at the same tempo have the same peaks (beat, subdivisions, bar)
at the same lags; the same groove at another tempo has them shifted along the log axis; a steady
four-on-the-floor and a syncopated break differ in which subdivisions are strong.  Being read off
the autocorrelation, it does not depend on where in the bar the excerpt starts.
"""

from __future__ import annotations

import numpy as np

PATTERN_LAGS_S = np.geomspace(0.1, 2.0, 32)


def pattern(autocorrelation: np.ndarray, frame_rate: float) -> np.ndarray:
    """The autocorrelation (1 at lag 0) read at ``PATTERN_LAGS_S``, negative values as 0 (float32, 32)."""
    lags = PATTERN_LAGS_S * frame_rate
    values = np.interp(lags, np.arange(len(autocorrelation)), autocorrelation, right=0.0)
    return np.clip(values, 0.0, 1.0).astype(np.float32)
