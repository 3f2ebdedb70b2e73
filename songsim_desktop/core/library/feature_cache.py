"""The features cache: each track's log-mel crops, so training and re-embedding never decode again.

A separate SQLite file (``features.sqlite3`` in the data folder) because it is only a cache: it
can be deleted at any time and is rebuilt by decoding the audio again.  For the same reason a
damaged cache file is moved aside and recreated instead of stopping the app.  Arrays are stored
as float16 (half the space; log-mel dB values need no more precision) and come back as float32.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Iterable

import numpy as np

from songsim_desktop.core.library.schema import FEATURES_MIGRATIONS
from songsim_desktop.core.library.store import SqliteStore, is_damaged_file_error
from songsim_desktop.errors import LibraryError

log = logging.getLogger(__name__)

_CHUNK = 500


class FeatureCache(SqliteStore):
    """``FeatureCache(path)``: log-mel crops (n_crops, n_mels, frames) keyed by (track id, front end),
    and each track's whole log-mel (``full_logmel``, for section vectors)."""

    kind = "features cache"

    def __init__(self, path: str | Path):
        try:
            super().__init__(path, FEATURES_MIGRATIONS)
        except LibraryError as exc:
            if not is_damaged_file_error(exc):
                raise  # a permission problem or a newer schema: moving the file aside would not help
            # A cache is disposable: keep the damaged file for inspection, start an empty one.
            damaged = Path(f"{path}.damaged")
            log.warning("%s; moving it to %s and starting an empty cache", exc, damaged)
            try:
                for suffix in ("-wal", "-shm"):
                    Path(f"{path}{suffix}").unlink(missing_ok=True)
                os.replace(path, damaged)
            except OSError:
                raise exc from None
            super().__init__(path, FEATURES_MIGRATIONS)

    def put(self, track_id: int, frontend_key: str, array) -> None:
        """Store (replace) one track's crops; any shape, kept as float16."""
        data = np.ascontiguousarray(array, dtype="<f2")
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO features(track_id, frontend_key, shape, data) VALUES (?,?,?,?)"
                " ON CONFLICT(track_id, frontend_key) DO UPDATE SET shape=excluded.shape, data=excluded.data",
                (int(track_id), frontend_key, json.dumps(list(data.shape)), data.tobytes()),
            )

    def get_many(self, track_ids: Iterable[int], frontend_key: str) -> dict[int, np.ndarray]:
        """track id -> float32 array for the ids that are cached (missing ids are simply absent)."""
        ids = [int(t) for t in track_ids]
        out: dict[int, np.ndarray] = {}
        with self.read() as conn:
            for start in range(0, len(ids), _CHUNK):
                part = ids[start : start + _CHUNK]
                rows = conn.execute(
                    f"SELECT track_id, shape, data FROM features WHERE frontend_key = ?"
                    f" AND track_id IN ({','.join('?' * len(part))})",
                    [frontend_key, *part],
                )
                for track_id, shape, data in rows:
                    out[track_id] = np.frombuffer(data, dtype="<f2").reshape(json.loads(shape)).astype(np.float32)
        return out

    def get(self, track_id: int, frontend_key: str) -> np.ndarray | None:
        return self.get_many([track_id], frontend_key).get(int(track_id))

    def delete(self, track_ids: Iterable[int]) -> int:
        """Drop the crops (and whole log-mel) of these tracks (every front end); returns how many
        crop rows went."""
        ids = [int(t) for t in track_ids]
        removed = 0
        with self.transaction() as conn:
            for start in range(0, len(ids), _CHUNK):
                part = ids[start : start + _CHUNK]
                marks = ','.join('?' * len(part))
                removed += conn.execute(f"DELETE FROM features WHERE track_id IN ({marks})", part).rowcount
                conn.execute(f"DELETE FROM full_logmel WHERE track_id IN ({marks})", part)
        return removed

    # -- the whole track's log-mel (section vectors), 8-bit: dB = low + step * code ---------------
    def put_full_logmel(self, track_id: int, frontend_key: str, spec) -> None:
        """Store (replace) one track's log-mel (n_mels, frames) in 8 bits (~0.5 dB steps over its range)."""
        spec = np.asarray(spec, dtype=np.float32)
        low, high = (float(spec.min()), float(spec.max())) if spec.size else (0.0, 0.0)
        step = max((high - low) / 255.0, 1e-6)
        codes = np.clip(np.round((spec - low) / step), 0, 255).astype(np.uint8)
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO full_logmel(track_id, frontend_key, n_mels, low, step, data) VALUES (?,?,?,?,?,?)"
                " ON CONFLICT(track_id, frontend_key) DO UPDATE SET n_mels=excluded.n_mels, low=excluded.low,"
                " step=excluded.step, data=excluded.data",
                (int(track_id), frontend_key, int(spec.shape[0]), low, step, codes.tobytes()),
            )

    def get_full_logmel(self, track_id: int, frontend_key: str) -> np.ndarray | None:
        """One track's log-mel (n_mels, frames) float32, or None when it is not cached."""
        with self.read() as conn:
            row = conn.execute("SELECT n_mels, low, step, data FROM full_logmel WHERE track_id = ?"
                               " AND frontend_key = ?", (int(track_id), frontend_key)).fetchone()
        if row is None:
            return None
        n_mels, low, step, data = row
        return (np.frombuffer(data, dtype=np.uint8).reshape(n_mels, -1).astype(np.float32) * np.float32(step)
                + np.float32(low))
