"""Musical descriptors per track (tempo, key, the rhythm and harmony aspect vectors).

They come from the audio, not from a model, so a model switch keeps them; a changed file loses
them with its other content (``TracksMixin.forget_content``) until it is described again.  A track
whose audio gave none (too short, silent) is marked ``undescribed``, so it is not decoded again
for them (core/backfill.py completes only tracks that were never described).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Iterable, Optional

import numpy as np

from songsim_desktop.core.library.records import CHUNK, as_f32, placeholders

_COLUMNS = "track_id, tempo, tempo_confidence, key_tonic, key_mode, key_confidence, rhythm, harmony"


@dataclass(frozen=True)
class TrackDescriptors:
    track_id: int
    tempo: Optional[float]  # BPM
    tempo_confidence: Optional[float]
    key_tonic: Optional[int]  # 0..11, C = 0
    key_mode: Optional[str]  # 'major' | 'minor'
    key_confidence: Optional[float]
    rhythm: Optional[np.ndarray]  # float32 pattern vector (core/descriptors/rhythm.py)
    harmony: Optional[np.ndarray]  # float32 key correlations (core/descriptors/key.py)


def _record(row) -> TrackDescriptors:
    rhythm = None if row[6] is None else np.frombuffer(row[6], dtype="<f4")
    harmony = None if row[7] is None else np.frombuffer(row[7], dtype="<f4")
    return TrackDescriptors(row[0], row[1], row[2], row[3], row[4], row[5], rhythm, harmony)


class DescriptorsMixin:
    """The ``descriptors`` table (mixed into :class:`Library`)."""

    def put_descriptors(self, conn: sqlite3.Connection, track_id: int, values: dict) -> None:
        """Store one track's descriptors (the keys of ``core.descriptors.describe``), replacing any."""
        def blob(name: str):
            return None if values.get(name) is None else as_f32(values[name], f"the {name} vector", 1).tobytes()

        conn.execute(
            f"INSERT OR REPLACE INTO descriptors({_COLUMNS}) VALUES (?,?,?,?,?,?,?,?)",
            (int(track_id), values.get("tempo"), values.get("tempo_confidence"), values.get("key_tonic"),
             values.get("key_mode"), values.get("key_confidence"), blob("rhythm"), blob("harmony")),
        )

    def mark_undescribed(self, conn: sqlite3.Connection, track_id: int) -> None:
        """Remember that this track's audio was described and gave no tempo or key."""
        conn.execute("INSERT OR IGNORE INTO undescribed(track_id) VALUES (?)", (int(track_id),))

    def tracks_without_descriptors(self) -> list[tuple[int, str]]:
        """(id, path) of ok tracks never described: no descriptors and no ``undescribed`` mark (scanned
        before tempo and key existed, or by a scan cut short); core/backfill.py describes them."""
        with self.read() as conn:
            rows = conn.execute(
                "SELECT id, path FROM tracks WHERE state = 'ok'"
                " AND NOT EXISTS (SELECT 1 FROM descriptors d WHERE d.track_id = tracks.id)"
                " AND NOT EXISTS (SELECT 1 FROM undescribed u WHERE u.track_id = tracks.id) ORDER BY id")
            return [(int(r[0]), r[1]) for r in rows]

    def descriptors(self, track_ids: Optional[Iterable[int]] = None) -> dict[int, TrackDescriptors]:
        """{track id: its descriptors} of ``track_ids`` (None: every described track)."""
        with self.read() as conn:
            if track_ids is None:
                rows = conn.execute(f"SELECT {_COLUMNS} FROM descriptors").fetchall()
            else:
                ids, rows = [int(t) for t in track_ids], []
                for i in range(0, len(ids), CHUNK):
                    part = ids[i:i + CHUNK]
                    rows += conn.execute(f"SELECT {_COLUMNS} FROM descriptors WHERE track_id IN "
                                         f"({placeholders(len(part))})", part).fetchall()
        return {row[0]: _record(row) for row in rows}

    def tempo_and_key(self, track_ids: Optional[Iterable[int]] = None) -> dict[int, tuple[Optional[float], Optional[str]]]:
        """{track id: (BPM, "A minor")} of the described tracks among ``track_ids`` (None: all); no vectors read."""
        from songsim_desktop.core.descriptors.camelot import key_name

        sql = "SELECT track_id, tempo, key_tonic, key_mode FROM descriptors"
        with self.read() as conn:
            if track_ids is None:
                rows = conn.execute(sql).fetchall()
            else:
                ids, rows = [int(t) for t in track_ids], []
                for i in range(0, len(ids), CHUNK):
                    part = ids[i:i + CHUNK]
                    rows += conn.execute(f"{sql} WHERE track_id IN ({placeholders(len(part))})", part).fetchall()
        return {r[0]: (r[1], key_name(r[2], r[3]) if r[2] is not None and r[3] else None) for r in rows}

    def track_ids_by_tempo(self, lo: float, hi: float) -> list[int]:
        """Tracks whose tempo is within [lo, hi] BPM (a range seek on ``descriptors_by_tempo``)."""
        with self.read() as conn:
            rows = conn.execute("SELECT track_id FROM descriptors WHERE tempo BETWEEN ? AND ? ORDER BY tempo",
                                (float(lo), float(hi))).fetchall()
        return [r[0] for r in rows]

    def described_count(self) -> int:
        with self.read() as conn:
            return int(conn.execute("SELECT COUNT(*) FROM descriptors").fetchone()[0])
