"""The embedder as a scan analyser: each track's search vector and its crop vectors."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from songsim_desktop.core.embedder import track_vector


class TrackVectors:
    """(track vector, crop vectors) of each track under the scan's model (core/embedder.py).

    The crop vectors are kept for section search; the track vector is their re-normalised mean.
    """

    name = "track vectors"
    uses_model = True

    def __init__(self, embedder) -> None:
        self.embedder = embedder
        self.model_id = embedder.info.id

    def analyse(self, tracks: Sequence) -> list[tuple[np.ndarray, np.ndarray]]:
        # One onnxruntime call for the whole batch: much faster than one per track.
        x = np.concatenate([t.logmel for t in tracks], axis=0)
        crops = np.asarray(self.embedder.embed_inputs(x), dtype=np.float32)
        out, start = [], 0
        for t in tracks:
            part = crops[start:start + len(t.logmel)]
            out.append((np.asarray(track_vector(part), dtype=np.float32), part))
            start += len(t.logmel)
        return out

    def store(self, library, conn, track_id: int, result) -> None:
        vector, crop_vectors = result
        library.put_vectors(conn, track_id, self.model_id, vector, crop_vectors)
