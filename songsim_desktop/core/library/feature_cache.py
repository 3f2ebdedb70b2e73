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
    """``FeatureCache(path)``: log-mel crops (n_crops, n_mels, frames) keyed by (track id, front end)."""

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
        """Drop the crops of these tracks (every front end); returns how many rows went."""
        ids = [int(t) for t in track_ids]
        removed = 0
        with self.transaction() as conn:
            for start in range(0, len(ids), _CHUNK):
                part = ids[start : start + _CHUNK]
                removed += conn.execute(
                    f"DELETE FROM features WHERE track_id IN ({','.join('?' * len(part))})", part
                ).rowcount
        return removed
