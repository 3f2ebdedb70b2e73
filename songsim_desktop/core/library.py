"""The library database: the source of truth for roots, tracks, tags, vectors and models.

One SQLite file (WAL) in the data folder, schema in docs/architecture.md ("Database") and
core/library_schema.py.  Every statement runs inside ``with lib.transaction() as conn:`` (or
``lib.read()``); methods that take a ``conn`` argument are meant to be batched by the caller inside
one transaction (a scan writes a few hundred tracks per commit), the others open their own.

The hnswlib index (core/index.py) and the features cache (:class:`FeatureCache`) are caches:
everything in them can be rebuilt from this file or from the audio.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from songsim_desktop.core.feature_cache import FeatureCache
from songsim_desktop.core.library_records import (
    ACTIVE_MODEL_KEY,
    TAG_SOURCES,
    TRACK_COLUMNS,
    TRACK_STATES,
    ModelRecord,
    Root,
    TrackIdentity,
    TrackRecord,
    as_f32,
    chunks,
    normalise_tag,
    normalise_tags,
    now_iso,
    placeholders,
)
from songsim_desktop.core.library_schema import LIBRARY_MIGRATIONS, SqliteStore
from songsim_desktop.errors import LibraryError

__all__ = [
    "FeatureCache",
    "Library",
    "ModelRecord",
    "Root",
    "TRACK_STATES",
    "TAG_SOURCES",
    "TrackIdentity",
    "TrackRecord",
    "normalise_tag",
    "normalise_tags",
    "now_iso",
]



def _vectors_query(columns: str, model_id: str, states: Iterable[str] | None) -> tuple[str, list]:
    """SELECT ``columns`` over one model's vectors, joined to tracks in ``states`` (None = all)."""
    sql = f"SELECT {columns} FROM vectors v JOIN tracks t ON t.id = v.track_id WHERE v.model_id = ?"
    params: list = [model_id]
    if states is not None:
        wanted = list(states)
        sql += f" AND t.state IN ({placeholders(len(wanted))})"
        params += wanted
    return sql, params

class Library(SqliteStore):
    """``Library(path)`` opens (creating and migrating) the library database at ``path``."""

    kind = "library database"

    def __init__(self, path: str | Path):
        super().__init__(path, LIBRARY_MIGRATIONS)

    # -- roots -------------------------------------------------------------------------------
    @staticmethod
    def _root_key(path: str | Path) -> str:
        # Absolute and symlink-resolved, so the same folder typed two ways is one root.
        return str(Path(path).expanduser().resolve())

    def add_root(self, path: str | Path) -> int:
        """Register a music folder (idempotent); returns its id.  The stored path is resolved."""
        key = self._root_key(path)
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
        key = self._root_key(path)
        with self.transaction() as conn:
            row = conn.execute("SELECT id FROM roots WHERE path = ?", (key,)).fetchone()
            if row is None:
                return 0
            removed = conn.execute("DELETE FROM tracks WHERE root_id = ?", (row[0],)).rowcount
            conn.execute("DELETE FROM roots WHERE id = ?", (row[0],))
            return removed

    # -- tracks ------------------------------------------------------------------------------
    def track_identities(self, root_id: int) -> dict[str, TrackIdentity]:
        """path -> (id, size, mtime_ns, state) for every track under a root: a rescan's baseline."""
        with self.read() as conn:
            rows = conn.execute("SELECT path, id, size, mtime_ns, state FROM tracks WHERE root_id = ?", (root_id,))
            return {path: TrackIdentity(tid, size, mtime, state) for path, tid, size, mtime, state in rows}

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
        ids = [int(t) for t in track_ids]
        changed = 0
        for part in chunks(ids):
            changed += conn.execute(
                f"UPDATE tracks SET state = 'missing' WHERE id IN ({placeholders(len(part))})", part
            ).rowcount
        return changed

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

    def tracks_without_vectors(self, model_id: str, states: Iterable[str] = ("ok",)) -> list[int]:
        """Ids of tracks in ``states`` that have no vector for ``model_id`` yet (what to embed)."""
        wanted = list(states)
        with self.read() as conn:
            rows = conn.execute(
                f"SELECT id FROM tracks WHERE state IN ({placeholders(len(wanted))}) AND NOT EXISTS"
                " (SELECT 1 FROM vectors v WHERE v.track_id = tracks.id AND v.model_id = ?) ORDER BY id",
                [*wanted, model_id],
            )
            return [r[0] for r in rows]

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

    def tags_by_track(self, states: Iterable[str] | None = None) -> dict[int, set[str]]:
        """track id -> its tags (all sources); tracks without tags are absent."""
        sql = "SELECT DISTINCT g.track_id, g.tag FROM tags g JOIN tracks t ON t.id = g.track_id"
        params: list = []
        if states is not None:
            params = list(states)
            sql += f" WHERE t.state IN ({placeholders(len(params))})"
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

    # -- models ------------------------------------------------------------------------------
    def add_model(self, model: ModelRecord) -> None:
        """Register (or update the record of) a model."""
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO models(id, name, path, dim, parent_id, created_at, metrics, builtin)"
                " VALUES (?,?,?,?,?,?,?,?) ON CONFLICT(id) DO UPDATE SET name=excluded.name,"
                " path=excluded.path, dim=excluded.dim, parent_id=excluded.parent_id,"
                " created_at=excluded.created_at, metrics=excluded.metrics, builtin=excluded.builtin",
                (
                    model.id, model.name, str(model.path), int(model.dim), model.parent_id,
                    model.created_at, json.dumps(model.metrics), int(bool(model.builtin)),
                ),
            )

    @staticmethod
    def _model_from_row(row) -> ModelRecord:
        mid, name, path, dim, parent, created, metrics, builtin = row
        return ModelRecord(mid, name, path, dim, parent, created, json.loads(metrics or "{}"), bool(builtin))

    def models(self) -> list[ModelRecord]:
        """Every registered model, oldest first (the built-in default first among equals)."""
        with self.read() as conn:
            rows = conn.execute(
                "SELECT id, name, path, dim, parent_id, created_at, metrics, builtin FROM models"
                " ORDER BY builtin DESC, created_at, id"
            ).fetchall()
        return [self._model_from_row(r) for r in rows]

    def model(self, model_id: str) -> ModelRecord | None:
        with self.read() as conn:
            row = conn.execute(
                "SELECT id, name, path, dim, parent_id, created_at, metrics, builtin FROM models WHERE id = ?",
                (model_id,),
            ).fetchone()
        return None if row is None else self._model_from_row(row)

    def remove_model(self, model_id: str) -> None:
        """Forget a fine-tuned model and its vectors; the active model falls back to the built-in.

        The model file itself is left for the caller (service) to delete.
        """
        with self.transaction() as conn:
            row = conn.execute("SELECT builtin FROM models WHERE id = ?", (model_id,)).fetchone()
            if row is None:
                raise LibraryError("no such model", path=model_id, action="removing the model")
            if row[0]:
                raise LibraryError("the built-in model cannot be removed", path=model_id, action="removing the model")
            conn.execute("DELETE FROM vectors WHERE model_id = ?", (model_id,))
            conn.execute("DELETE FROM models WHERE id = ?", (model_id,))
            if self._setting(conn, ACTIVE_MODEL_KEY) == model_id:
                builtin = conn.execute("SELECT id FROM models WHERE builtin = 1 ORDER BY created_at LIMIT 1").fetchone()
                self._set_setting(conn, ACTIVE_MODEL_KEY, builtin[0] if builtin else None)

    def active_model_id(self) -> str | None:
        with self.read() as conn:
            return self._setting(conn, ACTIVE_MODEL_KEY)

    def set_active_model_id(self, model_id: str) -> None:
        with self.transaction() as conn:
            if conn.execute("SELECT 1 FROM models WHERE id = ?", (model_id,)).fetchone() is None:
                raise LibraryError("no such model is registered", path=model_id, action="activating the model")
            self._set_setting(conn, ACTIVE_MODEL_KEY, model_id)

    # -- settings ----------------------------------------------------------------------------
    def setting(self, key: str, default: str | None = None) -> str | None:
        with self.read() as conn:
            value = self._setting(conn, key)
        return default if value is None else value

    def set_setting(self, key: str, value: str | None) -> None:
        with self.transaction() as conn:
            self._set_setting(conn, key, value)

    @staticmethod
    def _setting(conn: sqlite3.Connection, key: str) -> str | None:
        row = conn.execute("SELECT value FROM settings WHERE key = ?", (key,)).fetchone()
        return None if row is None else row[0]

    @staticmethod
    def _set_setting(conn: sqlite3.Connection, key: str, value: str | None) -> None:
        conn.execute(
            "INSERT INTO settings(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    # -- added for the model lifecycle (issue 9, 9B); 9A's package split may move these ------------
    def retire_builtin_model(self, model_id: str) -> None:
        """Forget a built-in model that is no longer shipped (its file was replaced) and its vectors."""
        with self.transaction() as conn:
            if self._setting(conn, ACTIVE_MODEL_KEY) == model_id:
                raise LibraryError("it is still the active model", path=model_id, action="retiring the model")
            conn.execute("DELETE FROM vectors WHERE model_id = ?", (model_id,))
            conn.execute("DELETE FROM models WHERE id = ? AND builtin = 1", (model_id,))

    def tags_from_sources(self, sources: Iterable[str], states: Iterable[str] = ("ok",)) -> dict[int, set[str]]:
        """track id -> tags of the given sources, for tracks in ``states`` (what fine-tuning learns from)."""
        sources, states = list(sources), list(states)
        for source in sources:
            self._check_source(source)
        with self.read() as conn:
            rows = conn.execute(
                "SELECT g.track_id, g.tag FROM tags g JOIN tracks t ON t.id = g.track_id"
                f" WHERE t.state IN ({','.join('?' * len(states))})"
                f" AND g.source IN ({','.join('?' * len(sources))})", [*states, *sources]).fetchall()
        out: dict[int, set[str]] = {}
        for track_id, tag in rows:
            out.setdefault(track_id, set()).add(tag)
        return out
