"""Section vectors per model (issue 10): the ``sections`` table, stored compactly.

Each track's section vectors (unit vectors, one per window at a regular hop) are kept 8-bit: a
vector is divided by its own scale (its largest magnitude / 127) and rounded to int8; the scale is
float16 and each window's start is uint16 tenths of a second (enough for the 15 minutes that
sections cover).  128-d vectors thus take 132 bytes each instead of 512, and the round trip moves
a unit vector by ~0.005 (Euclidean), a tenth of the distance between neighbouring sections.
"""

from __future__ import annotations

import sqlite3
from typing import Iterable

import numpy as np

from songsim_desktop.core.library.records import as_f32, placeholders

_START_UNIT_S = 0.1
_MAX_START_S = 65535 * _START_UNIT_S


def quantise(vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(int8 codes (n, dim), float16 scales (n,)) of float vectors; ``dequantise`` inverts it."""
    peak = np.abs(vectors).max(axis=1) if len(vectors) else np.zeros(0, dtype=np.float32)
    scales = np.maximum(peak / 127.0, 1e-12).astype(np.float16)
    safe = np.maximum(scales.astype(np.float32), np.float32(1e-12))
    codes = np.clip(np.round(vectors / safe[:, None]), -127, 127).astype(np.int8)
    return codes, scales


def dequantise(codes: np.ndarray, scales: np.ndarray) -> np.ndarray:
    """Float32 unit vectors back from ``quantise``'s output (re-normalised: the scale is rounded)."""
    out = codes.astype(np.float32) * scales.astype(np.float32)[:, None]
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    return out / np.maximum(norms, 1e-12)


def _decode_row(n: int, starts: bytes, scales: bytes, codes: bytes) -> tuple[np.ndarray, np.ndarray]:
    starts_s = np.frombuffer(starts, dtype="<u2").astype(np.float32) * _START_UNIT_S
    vectors = dequantise(np.frombuffer(codes, dtype=np.int8).reshape(n, -1), np.frombuffer(scales, dtype="<f2"))
    return starts_s, vectors


class SectionsMixin:
    """The ``sections`` table (mixed into :class:`Library`)."""

    def put_sections(self, conn: sqlite3.Connection, track_id: int, model_id: str, starts_s, vectors) -> None:
        """Store (replace) a track's section vectors (n, dim) and their start times (n,) in seconds."""
        vecs = as_f32(vectors, "section vectors", 2)
        starts = np.asarray(starts_s, dtype=np.float64).reshape(-1)
        if len(starts) != len(vecs) or not len(vecs):
            raise ValueError(f"{len(vecs)} section vectors need as many start times, got {len(starts)}")
        if starts.min() < 0 or starts.max() > _MAX_START_S:
            raise ValueError(f"section starts must lie within 0..{_MAX_START_S:.0f} s")
        codes, scales = quantise(vecs)
        conn.execute(
            "INSERT INTO sections(track_id, model_id, n, starts, scales, codes) VALUES (?,?,?,?,?,?)"
            " ON CONFLICT(track_id, model_id) DO UPDATE SET n=excluded.n, starts=excluded.starts,"
            " scales=excluded.scales, codes=excluded.codes",
            (int(track_id), model_id, len(vecs), np.round(starts / _START_UNIT_S).astype("<u2").tobytes(),
             scales.astype("<f2").tobytes(), codes.tobytes()),
        )

    def track_sections(self, track_id: int, model_id: str) -> tuple[np.ndarray, np.ndarray] | None:
        """(starts in s (n,), unit vectors (n, dim) float32) of one track, or None."""
        with self.read() as conn:
            row = conn.execute("SELECT n, starts, scales, codes FROM sections WHERE track_id = ? AND model_id = ?",
                               (int(track_id), model_id)).fetchone()
        return None if row is None else _decode_row(*row)

    def sections(self, model_id: str, states: Iterable[str] = ("ok",)) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every section of one model's tracks in ``states``, ordered by track: (track id per section
        int64 (n,), start s float32 (n,), unit vectors float32 (n, dim))."""
        wanted = list(states)
        with self.read() as conn:
            rows = conn.execute(
                "SELECT s.track_id, s.n, s.starts, s.scales, s.codes FROM sections s JOIN tracks t ON t.id = s.track_id"
                f" WHERE s.model_id = ? AND t.state IN ({placeholders(len(wanted))}) ORDER BY s.track_id",
                [model_id, *wanted]).fetchall()
        if not rows:
            return np.zeros(0, np.int64), np.zeros(0, np.float32), np.zeros((0, 0), np.float32)
        decoded = [_decode_row(n, starts, scales, codes) for _tid, n, starts, scales, codes in rows]
        owners = np.repeat(np.array([r[0] for r in rows], dtype=np.int64), [r[1] for r in rows])
        return owners, np.concatenate([d[0] for d in decoded]), np.concatenate([d[1] for d in decoded])

    def tracks_without_sections(self, model_id: str) -> list[tuple[int, str]]:
        """(id, path) of ok tracks with a vector but no sections for ``model_id`` (scanned before
        section search existed): a re-embed or the backfill (core/backfill.py) gives them sections."""
        with self.read() as conn:
            rows = conn.execute(
                "SELECT t.id, t.path FROM vectors v JOIN tracks t ON t.id = v.track_id WHERE v.model_id = ?"
                " AND t.state = 'ok' AND NOT EXISTS (SELECT 1 FROM sections s WHERE s.track_id = v.track_id"
                " AND s.model_id = v.model_id) ORDER BY t.id", (model_id,))
            return [(int(r[0]), r[1]) for r in rows]

    def sections_fingerprint(self, model_id: str) -> str:
        """Changes whenever what the model's section index must hold changes: the vectors'
        fingerprint (sections come and go with vectors and track states) plus the model's section
        counter, which triggers bump on every section write or delete (a backfill adds sections to
        tracks whose vectors stay as they were)."""
        with self.read() as conn:
            row = conn.execute("SELECT counter FROM section_changes WHERE model_id = ?", (model_id,)).fetchone()
            return f"{self.vectors_fingerprint(model_id)}:{row[0] if row else 0}"

    def section_storage(self, model_id: str) -> tuple[int, int, float]:
        """(bytes of section data, sections, seconds of audio of the tracks that have them) of a model."""
        with self.read() as conn:
            row = conn.execute(
                "SELECT COALESCE(SUM(LENGTH(s.starts) + LENGTH(s.scales) + LENGTH(s.codes) + 8), 0),"
                " COALESCE(SUM(s.n), 0), COALESCE(SUM(t.duration_s), 0) FROM sections s"
                " JOIN tracks t ON t.id = s.track_id WHERE s.model_id = ?", (model_id,)).fetchone()
        return int(row[0]), int(row[1]), float(row[2])
