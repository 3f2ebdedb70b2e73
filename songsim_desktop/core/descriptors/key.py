"""Key (tonic + major/minor) from a chroma profile against Temperley's key profiles.

The mean chroma of the excerpt is correlated with each of the 24 rotated profiles (Krumhansl's
method); the best is the key.  Temperley's profiles (Music and Probability, 2007) beat
Krumhansl-Kessler's on the synthesised progressions in all 24 keys (96/96 against 94/96 with
librosa's STFT chroma), so they are the ones used.
"""

from __future__ import annotations

import numpy as np

MAJOR_PROFILE = np.array([5.0, 2.0, 3.5, 2.0, 4.5, 4.0, 2.0, 4.5, 2.0, 3.5, 1.5, 4.0])
MINOR_PROFILE = np.array([5.0, 2.0, 3.5, 4.5, 2.0, 4.0, 2.0, 4.5, 3.5, 2.0, 1.5, 4.0])
# Order of key_scores: the 12 major keys from C, then the 12 minor keys from C.
KEYS = [(t, "major") for t in range(12)] + [(t, "minor") for t in range(12)]


def _unit(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    x = x - x.mean()
    norm = np.linalg.norm(x)
    return x / norm if norm > 1e-12 else x


_TEMPLATES = np.stack([_unit(np.roll(MAJOR_PROFILE if mode == "major" else MINOR_PROFILE, tonic))
                       for tonic, mode in KEYS])


def key_scores(chroma_mean: np.ndarray) -> np.ndarray:
    """Correlation (-1..1) of a 12-bin chroma profile with each key of ``KEYS``."""
    return _TEMPLATES @ _unit(chroma_mean)


def estimate(chroma_mean: np.ndarray) -> tuple[int, str, float]:
    """(tonic 0..11 with C = 0, 'major' | 'minor', confidence 0..1).

    The confidence is the margin of the best correlation over the runner-up that is neither its
    relative nor a fifth away (those share most notes, so being close to them is no doubt about
    the key's neighbourhood), scaled so a clear progression gives about 1.
    """
    scores = key_scores(chroma_mean)
    order = np.argsort(scores)[::-1]
    tonic, mode = KEYS[int(order[0])]
    close = {(tonic, mode), ((tonic + 9) % 12 if mode == "major" else (tonic + 3) % 12,
                             "minor" if mode == "major" else "major"),
             ((tonic + 7) % 12, mode), ((tonic + 5) % 12, mode)}
    rival = next((scores[i] for i in order[1:] if KEYS[int(i)] not in close), scores[order[1]])
    return tonic, mode, float(np.clip((scores[order[0]] - rival) * 2.0, 0.0, 1.0))
