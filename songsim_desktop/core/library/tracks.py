"""Roots and tracks: the music folders and the files found in them, with their state."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Iterable, Sequence

from songsim_desktop.core.library.records import (
    TRACK_COLUMNS, TRACK_STATES, KnownTrack, Root, TrackRecord, chunks, now_iso, placeholders,
)


def normalise_root(root: str | os.PathLike) -> str:
    """The absolute, symlink-resolved form under which a root is stored and compared, so the same
    folder typed two ways is one root."""
    return str(Path(os.path.expanduser(os.fspath(root))).resolve())


def under_root(root: str) -> tuple[str, tuple[str, str]]:
    """A WHERE clause (and its parameters) for the tracks whose path lies below folder ``root``.

    A range on the unique path index, not a prefix LIKE or a Python filter over every row: a
    rescan of one root reads only that root's rows, however big the rest of the library.  SQLite
    compares TEXT as UTF-8 bytes, which orders like code points, so the range is exact.
    """
    prefix = root.rstrip(os.sep) + os.sep
    return "path >= ? AND path < ?", (prefix, prefix[:-1] + chr(ord(os.sep) + 1))


class TracksMixin:
    """The ``roots`` and ``tracks`` tables (mixed into :class:`Library`)."""

    # -- roots -------------------------------------------------------------------------------
    def add_root(self, path: str | Path) -> int:
        """Register a music folder (idempotent); returns its id.  The stored path is resolved."""
        key = normalise_root(path)
        with self.transaction() as conn:
            conn.execute("INSERT INTO roots(path, added_at) VALUES (?, ?) ON CONFLICT(path) DO NOTHING", (key, now_iso()))
            return conn.execute("SELECT id FROM roots WHERE path = ?", (key,)).fetchone()[0]

    def roots(self) -> list[Root]:
        with self.read() as conn:
            rows = conn.execute("SELECT id, path, added_at FROM roots ORDER BY id").fetchall()
        return [Root(*row) for row in rows]

    def remove_root(self, path: str | Path) -> int:
        """Forget a folder: its tracks (with their vectors and tags) leave the library.

        Returns the number of tracks removed; an unknown folder removes nothing.
        """
        key = normalise_root(path)
        with self.transaction() as conn:
            row = conn.execute("SELECT id FROM roots WHERE path = ?", (key,)).fetchone()
            if row is None:
                return 0
            removed = conn.execute("DELETE FROM tracks WHERE root_id = ?", (row[0],)).rowcount
            conn.execute("DELETE FROM roots WHERE id = ?", (row[0],))
            return removed

    # -- tracks ------------------------------------------------------------------------------
    def tracks_under(self, root: str) -> list[KnownTrack]:
        """What the library remembers of every track below folder ``root``: a rescan's baseline."""
        where, params = under_root(root)
        with self.read() as conn:
            rows = conn.execute(f"SELECT path, size, mtime_ns, state, id FROM tracks WHERE {where}", params)
            return [KnownTrack(*row) for row in rows]

    def paths_without_vectors(self, root: str, model_id: str) -> set[str]:
        """Paths of ok or missing tracks below ``root`` with no vector for ``model_id``.

        Missing ones too: a track unplugged while the model changed must be embedded when it comes
        back, not merely restored (issue 9, bug 1).
        """
        where, params = under_root(root)
        with self.read() as conn:
            rows = conn.execute(
                f"SELECT path FROM tracks WHERE {where} AND state IN ('ok', 'missing') AND NOT EXISTS"
                " (SELECT 1 FROM vectors v WHERE v.track_id = tracks.id AND v.model_id = ?)", (*params, model_id))
            return {r[0] for r in rows}

    def track_ids(self, paths: Iterable[str]) -> dict[str, int]:
        """path -> id for those of ``paths`` the library knows (one path-index lookup each)."""
        wanted = sorted({str(p) for p in paths})
        out: dict[str, int] = {}
        with self.read() as conn:
            for part in chunks(wanted):
                rows = conn.execute(f"SELECT path, id FROM tracks WHERE path IN ({placeholders(len(part))})", part)
                out.update((path, int(tid)) for path, tid in rows)
        return out

    def upsert_track(
        self,
        conn: sqlite3.Connection,
        *,
        path: str | Path,
        root_id: int | None,
        size: int | None = None,
        mtime_ns: int | None = None,
        duration_s: float | None = None,
        format: str | None = None,
        title: str | None = None,
        artist: str | None = None,
        album: str | None = None,
        genre: str | None = None,
        state: str = "pending",
        error: str | None = None,
        scanned_at: str | None = None,
    ) -> int:
        """Insert the track at ``path`` or overwrite every column of it; returns its id.

        Run inside ``with lib.transaction() as conn``.  The id of an existing path never changes,
        so its vectors and tags survive a rescan.
        """
        if state not in TRACK_STATES:
            raise ValueError(f"unknown track state {state!r}; expected one of {TRACK_STATES}")
        values = (
            str(path), root_id, size, mtime_ns, duration_s, format, title, artist, album, genre,
            state, error, scanned_at or now_iso(),
        )
        row = conn.execute(
            "INSERT INTO tracks(path, root_id, size, mtime_ns, duration_s, format, title, artist, album,"
            " genre, state, error, scanned_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)"
            " ON CONFLICT(path) DO UPDATE SET root_id=excluded.root_id, size=excluded.size,"
            " mtime_ns=excluded.mtime_ns, duration_s=excluded.duration_s, format=excluded.format,"
            " title=excluded.title, artist=excluded.artist, album=excluded.album, genre=excluded.genre,"
            " state=excluded.state, error=excluded.error, scanned_at=excluded.scanned_at"
            " RETURNING id",
            values,
        ).fetchone()
        return row[0]

    def mark_missing(self, conn: sqlite3.Connection, track_ids: Iterable[int]) -> int:
        """Tracks whose file vanished: kept (tags, vectors) but out of search; returns how many."""
        return self._set_state(conn, track_ids, "missing")

    def restore_missing(self, conn: sqlite3.Connection, track_ids: Iterable[int]) -> int:
        """Missing tracks whose file came back unchanged: ok again, with the vectors and tags they
        kept; returns how many."""
        return self._set_state(conn, track_ids, "ok", only_from="missing")

    @staticmethod
    def _set_state(conn: sqlite3.Connection, track_ids: Iterable[int], state: str, only_from: str | None = None) -> int:
        ids = [int(t) for t in track_ids]
        guard = "" if only_from is None else "state = ? AND "
        changed = 0
        for part in chunks(ids):
            params = [state, *([only_from] if only_from else []), *part]
            changed += conn.execute(
                f"UPDATE tracks SET state = ? WHERE {guard}id IN ({placeholders(len(part))})", params
            ).rowcount
        return changed

    def forget_content(self, conn: sqlite3.Connection, track_id: int) -> None:
        """Drop what was derived from a file's old content: every model's vectors (not only the
        active one's), its musical descriptors and the tags read from the file or its folder; user tags stay."""
        conn.execute("DELETE FROM vectors WHERE track_id = ?", (int(track_id),))
        conn.execute("DELETE FROM descriptors WHERE track_id = ?", (int(track_id),))
        conn.execute("DELETE FROM undescribed WHERE track_id = ?", (int(track_id),))
        conn.execute("DELETE FROM tags WHERE track_id = ? AND source IN ('file', 'folder')", (int(track_id),))

    def _records(self, conn: sqlite3.Connection, where: str = "", params: Sequence = ()) -> list[TrackRecord]:
        rows = conn.execute(f"SELECT {TRACK_COLUMNS} FROM tracks {where} ORDER BY id", params).fetchall()
        records = [TrackRecord(*row) for row in rows]
        if records:
            by_id = {r.id: r for r in records}
            tag_rows = conn.execute(
                f"SELECT DISTINCT t.track_id, t.tag FROM tags t JOIN tracks ON tracks.id = t.track_id {where}"
                " ORDER BY t.tag",
                params,
            )
            for track_id, tag in tag_rows:
                by_id[track_id].tags.append(tag)
        return records

    def tracks(self, states: Iterable[str] | None = None) -> list[TrackRecord]:
        """All tracks (or those in ``states``), ordered by id, each with its tags."""
        with self.read() as conn:
            if states is None:
                return self._records(conn)
            wanted = list(states)
            return self._records(conn, f"WHERE tracks.state IN ({placeholders(len(wanted))})", wanted)

    def track(self, track_id: int) -> TrackRecord | None:
        with self.read() as conn:
            found = self._records(conn, "WHERE tracks.id = ?", (int(track_id),))
        return found[0] if found else None

    def track_by_path(self, path: str | Path) -> TrackRecord | None:
        with self.read() as conn:
            found = self._records(conn, "WHERE tracks.path = ?", (str(path),))
        return found[0] if found else None

    def state_counts(self) -> dict[str, int]:
        """Number of tracks in each state; every state is present (0 when none)."""
        counts = dict.fromkeys(TRACK_STATES, 0)
        with self.read() as conn:
            counts.update(conn.execute("SELECT state, COUNT(*) FROM tracks GROUP BY state").fetchall())
        return counts

    def errors(self) -> list[tuple[str, str]]:
        """(path, reason) of every track in the 'error' state, by path."""
        with self.read() as conn:
            rows = conn.execute("SELECT path, COALESCE(error, '') FROM tracks WHERE state = 'error' ORDER BY path")
            return [tuple(row) for row in rows]

