"""Track vectors per model, and the change counter that stamps the search index."""

from __future__ import annotations

import sqlite3
from typing import Iterable

import numpy as np

from songsim_desktop.core.library.records import as_f32, placeholders



def _vectors_query(columns: str, model_id: str, states: Iterable[str] | None) -> tuple[str, list]:
    """SELECT ``columns`` over one model's vectors, joined to tracks in ``states`` (None = all)."""
    sql = f"SELECT {columns} FROM vectors v JOIN tracks t ON t.id = v.track_id WHERE v.model_id = ?"
    params: list = [model_id]
    if states is not None:
        wanted = list(states)
        sql += f" AND t.state IN ({placeholders(len(wanted))})"
        params += wanted
    return sql, params


class VectorsMixin:
    """The ``vectors`` table (mixed into :class:`Library`)."""

    # -- vectors -----------------------------------------------------------------------------
    def put_vectors(
        self, conn: sqlite3.Connection, track_id: int, model_id: str, vector, crop_vectors=None
    ) -> None:
        """Store a track's search vector (dim,) and its crop vectors (n, dim), float32."""
        vec = as_f32(vector, "a track vector", 1)
        crops = None if crop_vectors is None else as_f32(crop_vectors, "crop vectors", 2)
        if crops is not None and crops.shape[1] != vec.shape[0]:
            raise ValueError(f"crop vectors have dim {crops.shape[1]}, the track vector has {vec.shape[0]}")
        conn.execute(
            "INSERT INTO vectors(track_id, model_id, vector, crop_vectors, n_crops) VALUES (?,?,?,?,?)"
            " ON CONFLICT(track_id, model_id) DO UPDATE SET vector=excluded.vector,"
            " crop_vectors=excluded.crop_vectors, n_crops=excluded.n_crops",
            (
                int(track_id), model_id, vec.tobytes(),
                None if crops is None else crops.tobytes(), 0 if crops is None else crops.shape[0],
            ),
        )

    def vectors(self, model_id: str, states: Iterable[str] | None = ("ok",)) -> tuple[np.ndarray, np.ndarray]:
        """(track ids int64 (n,), matrix float32 (n, dim)) of one model, ordered by track id.

        Only tracks in ``states`` (None = all).  With no vectors the matrix is (0, dim) where dim is
        the registered model's, else (0, 0).
        """
        sql, params = _vectors_query("v.track_id, v.vector", model_id, states)
        with self.read() as conn:
            rows = conn.execute(sql + " ORDER BY v.track_id", params).fetchall()
            dim_row = conn.execute("SELECT dim FROM models WHERE id = ?", (model_id,)).fetchone()
        ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        if not rows:
            return ids, np.zeros((0, dim_row[0] if dim_row else 0), dtype=np.float32)
        matrix = np.frombuffer(b"".join(r[1] for r in rows), dtype="<f4").reshape(len(rows), -1)
        return ids, matrix.astype(np.float32, copy=True)

    def vector(self, track_id: int, model_id: str) -> np.ndarray | None:
        with self.read() as conn:
            row = conn.execute(
                "SELECT vector FROM vectors WHERE track_id = ? AND model_id = ?", (int(track_id), model_id)
            ).fetchone()
        return None if row is None else np.frombuffer(row[0], dtype="<f4").astype(np.float32)

    def crop_vectors(self, track_id: int, model_id: str) -> np.ndarray | None:
        """(n_crops, dim) float32, or None when the track has no vectors for that model."""
        with self.read() as conn:
            row = conn.execute(
                "SELECT crop_vectors, n_crops FROM vectors WHERE track_id = ? AND model_id = ?",
                (int(track_id), model_id),
            ).fetchone()
        if row is None or row[0] is None:
            return None
        return np.frombuffer(row[0], dtype="<f4").reshape(row[1], -1).astype(np.float32)

    def tracks_without_vectors(self, model_id: str, states: Iterable[str] = ("ok",)) -> list[tuple[int, str]]:
        """(id, path) of tracks in ``states`` that have no vector for ``model_id`` yet (what to embed)."""
        wanted = list(states)
        with self.read() as conn:
            rows = conn.execute(
                f"SELECT id, path FROM tracks WHERE state IN ({placeholders(len(wanted))}) AND NOT EXISTS"
                " (SELECT 1 FROM vectors v WHERE v.track_id = tracks.id AND v.model_id = ?) ORDER BY id",
                [*wanted, model_id],
            )
            return [(int(r[0]), r[1]) for r in rows]

    def vector_count(self, model_id: str, states: Iterable[str] | None = ("ok",)) -> int:
        sql, params = _vectors_query("COUNT(*)", model_id, states)
        with self.read() as conn:
            return conn.execute(sql, params).fetchone()[0]

    def vectors_fingerprint(self, model_id: str) -> str:
        """Changes whenever what the model's search index must hold changes; one indexed lookup.

        Made of this database's random id (a recreated library never matches an old index file)
        and the model's change counter, which triggers bump on every vector write or delete and on
        every state change of a track that has a vector.  The counter only ever grows, even across
        remove_model, so a fingerprint is never reused.
        """
        with self.read() as conn:
            uid = conn.execute("SELECT value FROM meta WHERE key = 'library_uid'").fetchone()
            row = conn.execute("SELECT counter FROM vector_changes WHERE model_id = ?", (model_id,)).fetchone()
        return f"{uid[0] if uid else 'library'}:{model_id}:{row[0] if row else 0}"

