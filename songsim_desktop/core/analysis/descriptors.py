"""Tempo, key and the aspect vectors as a scan analyser: stores what the decode worker's sample hook
(core/descriptors.describe) computed, so nothing is decoded twice and nothing here needs the model."""

from __future__ import annotations

from typing import Sequence

import numpy as np

# The scalar keys of core.descriptors.describe, in the order of an analysed result's first array.
SCALARS = ("tempo", "tempo_confidence", "key_tonic", "key_confidence")
MODES = ("major", "minor")


class MusicalDescriptors:
    """Each track's descriptors from ``PreparedTrack.descriptors``; () for a track that has none
    (too short, silent, or its hook failed: the track is still indexed, just without tempo and key).

    A result is a tuple of float arrays (the scan drops a track whose results hold NaN, as it does
    for vectors): (tempo, tempo confidence, key tonic, key confidence, mode index), rhythm, harmony.
    """

    name = "tempo and key"
    uses_model = False  # a re-embed with another model keeps them

    def __init__(self, embedder=None) -> None:
        pass

    def analyse(self, tracks: Sequence) -> list[tuple]:
        out = []
        for t in tracks:
            d = getattr(t, "descriptors", None) or {}
            if "tempo" not in d or d.get("key_mode") not in MODES:
                out.append(())
                continue
            scalars = np.array([float(d[k]) for k in SCALARS] + [float(MODES.index(d["key_mode"]))])
            out.append((scalars, np.asarray(d["rhythm"], dtype=np.float32), np.asarray(d["harmony"], dtype=np.float32)))
        return out

    def store(self, library, conn, track_id: int, result) -> None:
        if not result:  # described, and nothing to keep: not worth decoding again (core/backfill.py)
            library.mark_undescribed(conn, track_id)
            return
        scalars, rhythm, harmony = result
        values = dict(zip(SCALARS, (float(v) for v in scalars[:4])))
        values.update(key_tonic=int(round(scalars[2])), key_mode=MODES[int(round(scalars[4]))],
                      rhythm=rhythm, harmony=harmony)
        library.put_descriptors(conn, track_id, values)
