"""Tags of tracks, by source (user, file metadata, folder name)."""

from __future__ import annotations

import sqlite3
from typing import Iterable

from songsim_desktop.core.library.records import TAG_SOURCES, normalise_tags, placeholders


class TagsMixin:
    """The ``tags`` table (mixed into :class:`Library`)."""

    # -- tags --------------------------------------------------------------------------------
    @staticmethod
    def _check_source(source: str) -> None:
        if source not in TAG_SOURCES:
            raise ValueError(f"unknown tag source {source!r}; expected one of {TAG_SOURCES}")

    def add_tags(self, track_ids: Iterable[int], tags: Iterable[str], source: str = "user") -> int:
        """Tag tracks (tags normalised); returns how many (track, tag) pairs were new."""
        return self._change_tags("INSERT OR IGNORE INTO tags(track_id, tag, source) VALUES (?,?,?)",
                                 track_ids, tags, source)

    def remove_tags(self, track_ids: Iterable[int], tags: Iterable[str], source: str = "user") -> int:
        """Untag tracks (only tags of that source); returns how many pairs were removed."""
        return self._change_tags("DELETE FROM tags WHERE track_id = ? AND tag = ? AND source = ?",
                                 track_ids, tags, source)

    def _change_tags(self, sql: str, track_ids: Iterable[int], tags: Iterable[str], source: str) -> int:
        """Run ``sql`` for every (track, normalised tag, source) in one transaction; rows changed."""
        self._check_source(source)
        rows = [(int(t), tag, source) for t in track_ids for tag in normalise_tags(tags)]
        with self.transaction() as conn:
            before = conn.total_changes
            conn.executemany(sql, rows)
            return conn.total_changes - before

    def replace_tags(self, conn: sqlite3.Connection, track_id: int, tags: Iterable[str], source: str) -> None:
        """Set exactly these tags of one source (file/folder tags re-read at scan); others stay."""
        self._check_source(source)
        conn.execute("DELETE FROM tags WHERE track_id = ? AND source = ?", (int(track_id), source))
        conn.executemany(
            "INSERT OR IGNORE INTO tags(track_id, tag, source) VALUES (?,?,?)",
            [(int(track_id), tag, source) for tag in normalise_tags(tags)],
        )

    def set_tags(self, tags_of: dict[int, Iterable[str]], source: str = "user") -> None:
        """Replace each listed track's tags of ``source`` by the given ones, all in one transaction
        (an imported tag file lands whole or not at all)."""
        with self.transaction() as conn:
            for track_id, tags in tags_of.items():
                self.replace_tags(conn, track_id, tags, source)

    def tags_by_track(self, states: Iterable[str] | None = None,
                      sources: Iterable[str] | None = None) -> dict[int, set[str]]:
        """track id -> its tags (of ``sources``, None = all), for tracks in ``states`` (None = all);
        tracks without such tags are absent.  What training learns from: ``tags_by_track(("ok",),
        ("user", "file"))``."""
        sql = "SELECT DISTINCT g.track_id, g.tag FROM tags g JOIN tracks t ON t.id = g.track_id WHERE 1"
        params: list = []
        for column, values in (("t.state", states), ("g.source", sources)):
            if values is not None:
                values = list(values)
                sql += f" AND {column} IN ({placeholders(len(values))})"
                params += values
        out: dict[int, set[str]] = {}
        with self.read() as conn:
            for track_id, tag in conn.execute(sql, params):
                out.setdefault(track_id, set()).add(tag)
        return out

    def tag_counts(self, states: Iterable[str] | None = None) -> dict[str, int]:
        """tag -> number of distinct tracks carrying it (any source), most used first."""
        sql = "SELECT g.tag, COUNT(DISTINCT g.track_id) AS n FROM tags g JOIN tracks t ON t.id = g.track_id"
        params: list = []
        if states is not None:
            params = list(states)
            sql += f" WHERE t.state IN ({placeholders(len(params))})"
        with self.read() as conn:
            return dict(conn.execute(sql + " GROUP BY g.tag ORDER BY n DESC, g.tag", params).fetchall())

