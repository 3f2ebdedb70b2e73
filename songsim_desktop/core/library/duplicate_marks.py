"""What the duplicate finder keeps: "not duplicates" marks and cached audio fingerprints.

Marks are kept by path pair, not by track id: a rescan keeps a file's path (and an id may be
handed to another file after a removal), so a pair the user judged stays judged across rescans,
and even after a folder is removed and added again.  Fingerprints are a cache keyed by track and
stamped with the file's size and mtime: a changed file is fingerprinted again.
"""

from __future__ import annotations

import itertools
from typing import Iterable

import numpy as np

from songsim_desktop.core.library.records import chunks, now_iso, placeholders
from songsim_desktop.core.stored_text import from_stored, to_stored


class DuplicateMarksMixin:
    """The ``duplicate_marks`` and ``fingerprints`` tables (mixed into :class:`Library`)."""

    def mark_not_duplicates(self, paths: Iterable[str]) -> int:
        """Remember that no two of ``paths`` are duplicates; returns how many pairs were new."""
        pairs = [tuple(sorted(p)) for p in itertools.combinations(sorted(set(map(str, paths))), 2)]
        with self.transaction() as conn:
            before = conn.total_changes
            conn.executemany("INSERT OR IGNORE INTO duplicate_marks(path_a, path_b, marked_at) VALUES (?,?,?)",
                             [(to_stored(a), to_stored(b), now_iso()) for a, b in pairs])
            return conn.total_changes - before

    def unmark_not_duplicates(self, paths: Iterable[str]) -> int:
        pairs = [tuple(sorted(p)) for p in itertools.combinations(sorted(set(map(str, paths))), 2)]
        with self.transaction() as conn:
            before = conn.total_changes
            conn.executemany("DELETE FROM duplicate_marks WHERE path_a = ? AND path_b = ?",
                             [(to_stored(a), to_stored(b)) for a, b in pairs])
            return conn.total_changes - before

    def not_duplicate_pairs(self) -> set[tuple[str, str]]:
        """Every remembered (path, path) pair, the lower path first."""
        with self.read() as conn:
            rows = conn.execute("SELECT path_a, path_b FROM duplicate_marks").fetchall()
        return {(from_stored(a), from_stored(b)) for a, b in rows}

    def stored_fingerprint(self, track_id: int, size: int | None, mtime_ns: int | None) -> bytes | None:
        """The cached fingerprint of a track, if it was made from the file as it is now."""
        with self.read() as conn:
            row = conn.execute("SELECT size, mtime_ns, data FROM fingerprints WHERE track_id = ?",
                               (int(track_id),)).fetchone()
        if row is None or row[0] != size or row[1] != mtime_ns:
            return None
        return bytes(row[2])

    def put_fingerprint(self, track_id: int, size: int | None, mtime_ns: int | None, data: bytes) -> None:
        with self.transaction() as conn:
            conn.execute("INSERT INTO fingerprints(track_id, size, mtime_ns, data) VALUES (?,?,?,?)"
                         " ON CONFLICT(track_id) DO UPDATE SET size=excluded.size,"
                         " mtime_ns=excluded.mtime_ns, data=excluded.data",
                         (int(track_id), size, mtime_ns, data))

    # The duplicate finder's bulk reads of existing tables (one query each, not one per track).
    def crop_vectors_of(self, model_id: str, track_ids: Iterable[int] | None = None) -> dict[int, np.ndarray]:
        """{track id: (n_crops, dim) float32} of ok tracks with vectors of ``model_id``."""
        sql = ("SELECT v.track_id, v.crop_vectors, v.n_crops FROM vectors v JOIN tracks t ON t.id = v.track_id"
               " WHERE v.model_id = ? AND t.state = 'ok' AND v.crop_vectors IS NOT NULL")
        out: dict[int, np.ndarray] = {}
        with self.read() as conn:
            if track_ids is None:
                rows = conn.execute(sql, (model_id,)).fetchall()
            else:
                rows = []
                for part in chunks(list(map(int, track_ids))):
                    rows += conn.execute(sql + f" AND v.track_id IN ({placeholders(len(part))})",
                                         [model_id, *part]).fetchall()
        for track_id, blob, n in rows:
            out[int(track_id)] = np.frombuffer(blob, dtype="<f4").reshape(n, -1).astype(np.float32)
        return out

    def durations(self) -> dict[int, float]:
        """{track id: duration in seconds} of ok tracks."""
        with self.read() as conn:
            rows = conn.execute("SELECT id, duration_s FROM tracks WHERE state = 'ok'").fetchall()
        return {int(i): float(d or 0.0) for i, d in rows}
