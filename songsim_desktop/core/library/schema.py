"""The library's schema, one migration per version (docs/architecture.md, "Database"), and the
features cache's.  A migration runs inside the transaction that bumps ``schema_version``."""

from __future__ import annotations

import secrets
import sqlite3

from songsim_desktop.core.library.store import Migration, _run_script


def library_v1(conn: sqlite3.Connection) -> None:
    """The first schema (docs/architecture.md, "Database")."""
    _run_script(
        conn,
        """
        CREATE TABLE roots(
            id INTEGER PRIMARY KEY,
            path TEXT NOT NULL UNIQUE,
            added_at TEXT NOT NULL);
        CREATE TABLE tracks(
            id INTEGER PRIMARY KEY,
            path TEXT NOT NULL UNIQUE,
            root_id INTEGER REFERENCES roots(id) ON DELETE CASCADE,
            size INTEGER, mtime_ns INTEGER, duration_s REAL, format TEXT,
            title TEXT, artist TEXT, album TEXT, genre TEXT,
            state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'ok', 'error', 'missing')),
            error TEXT,
            scanned_at TEXT);
        CREATE INDEX tracks_by_root ON tracks(root_id);
        CREATE INDEX tracks_by_state ON tracks(state);
        CREATE TABLE vectors(
            track_id INTEGER NOT NULL REFERENCES tracks(id) ON DELETE CASCADE,
            model_id TEXT NOT NULL,
            vector BLOB NOT NULL,
            crop_vectors BLOB,
            n_crops INTEGER NOT NULL,
            PRIMARY KEY (track_id, model_id));
        CREATE INDEX vectors_by_model ON vectors(model_id);
        CREATE TABLE tags(
            track_id INTEGER NOT NULL REFERENCES tracks(id) ON DELETE CASCADE,
            tag TEXT NOT NULL,
            source TEXT NOT NULL CHECK (source IN ('user', 'file', 'folder')),
            PRIMARY KEY (track_id, tag, source));
        CREATE INDEX tags_by_tag ON tags(tag);
        CREATE TABLE models(
            id TEXT PRIMARY KEY, name TEXT NOT NULL, path TEXT NOT NULL, dim INTEGER NOT NULL,
            parent_id TEXT, created_at TEXT NOT NULL, metrics TEXT NOT NULL DEFAULT '{}',
            builtin INTEGER NOT NULL DEFAULT 0);
        CREATE TABLE settings(key TEXT PRIMARY KEY, value TEXT);

        -- A per-model change counter: the on-disk vector index is stamped with it, and any
        -- change to what that index must contain (a vector written or deleted, a track's state
        -- changing) bumps it, so a stale index is detected without reading the vectors.
        CREATE TABLE vector_changes(model_id TEXT PRIMARY KEY, counter INTEGER NOT NULL);
        CREATE TRIGGER vectors_inserted AFTER INSERT ON vectors BEGIN
            INSERT INTO vector_changes(model_id, counter) VALUES (NEW.model_id, 1)
            ON CONFLICT(model_id) DO UPDATE SET counter = counter + 1;
        END;
        CREATE TRIGGER vectors_updated AFTER UPDATE ON vectors BEGIN
            INSERT INTO vector_changes(model_id, counter) VALUES (NEW.model_id, 1)
            ON CONFLICT(model_id) DO UPDATE SET counter = counter + 1;
        END;
        CREATE TRIGGER vectors_deleted AFTER DELETE ON vectors BEGIN
            INSERT INTO vector_changes(model_id, counter) VALUES (OLD.model_id, 1)
            ON CONFLICT(model_id) DO UPDATE SET counter = counter + 1;
        END;
        CREATE TRIGGER track_state_changed AFTER UPDATE OF state ON tracks
        WHEN OLD.state IS NOT NEW.state BEGIN
            UPDATE vector_changes SET counter = counter + 1
            WHERE model_id IN (SELECT model_id FROM vectors WHERE track_id = NEW.id);
        END;
        """
    )


    # Identifies this database in index stamps: an index file left over from a deleted library
    # must not match a new one whose change counters happen to be equal.
    conn.execute("INSERT INTO meta(key, value) VALUES ('library_uid', ?)", (secrets.token_hex(8),))


def library_v2(conn: sqlite3.Connection) -> None:
    """Index tracks by (state, path): a rescan asks for the ok-or-missing tracks below one folder
    lacking a vector, and with only ``tracks_by_state`` SQLite walked every ok track of every root.
    (state, path) answers it with two range seeks, and serves every by-state query the old index
    did, so that one goes (one index fewer to update on each track write)."""
    _run_script(
        conn,
        """
        CREATE INDEX tracks_by_state_path ON tracks(state, path);
        DROP INDEX tracks_by_state;
        """
    )


def library_descriptors(conn: sqlite3.Connection) -> None:
    """Tempo, key and the aspect vectors of each track (issue 12; core/library/descriptors.py).  Tempo
    is indexed: a BPM-range filter is a range seek.  Descriptors come from the audio, not a model."""
    _run_script(
        conn,
        """
        CREATE TABLE descriptors(
            track_id INTEGER PRIMARY KEY REFERENCES tracks(id) ON DELETE CASCADE,
            tempo REAL, tempo_confidence REAL,
            key_tonic INTEGER CHECK (key_tonic BETWEEN 0 AND 11),
            key_mode TEXT CHECK (key_mode IN ('major', 'minor')),
            key_confidence REAL,
            rhythm BLOB, harmony BLOB);
        CREATE INDEX descriptors_by_tempo ON descriptors(tempo);
        """
    )


LIBRARY_MIGRATIONS: list[Migration] = [library_v1, library_v2, library_descriptors]


def features_v1(conn: sqlite3.Connection) -> None:
    _run_script(
        conn,
        """
        CREATE TABLE features(
            track_id INTEGER NOT NULL,
            frontend_key TEXT NOT NULL,
            shape TEXT NOT NULL,
            data BLOB NOT NULL,
            PRIMARY KEY (track_id, frontend_key));
        """
    )


FEATURES_MIGRATIONS: list[Migration] = [features_v1]
