"""The library's schema, one migration per version (docs/architecture.md, "Database"), and the
features cache's.  A migration runs inside the transaction that bumps ``schema_version``."""

from __future__ import annotations

import secrets
import sqlite3

from songsim_desktop.core.library.store import Migration, _run_script


def _change_counter(table: str, counters: str) -> str:
    """Triggers that bump ``counters``' per-model counter at every insert, update and delete of a row
    of ``table`` (a table with a ``model_id`` column): what stamps an index built from that table."""
    return "".join(f"""
        CREATE TRIGGER {table}_{verb} AFTER {event} ON {table} BEGIN
            INSERT INTO {counters}(model_id, counter) VALUES ({row}.model_id, 1)
            ON CONFLICT(model_id) DO UPDATE SET counter = counter + 1;
        END;""" for verb, event, row in (("inserted", "INSERT", "NEW"), ("updated", "UPDATE", "NEW"),
                                          ("deleted", "DELETE", "OLD")))


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
        """ + _change_counter("vectors", "vector_changes") + """
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


def library_sections(conn: sqlite3.Connection) -> None:
    """Section vectors (issue 10): per (track, model) the vectors of the track's windows at a regular
    hop, 8-bit quantised with a per-vector scale (float16), and each window's start in tenths of a
    second (uint16).  A track's sections go with its vector: a trigger drops them whenever the
    vector row goes (a rescan's forget_content, remove_model, a track's deletion), so the vectors'
    change counter, which stamps the section index too, covers them."""
    _run_script(
        conn,
        """
        CREATE TABLE sections(
            track_id INTEGER NOT NULL REFERENCES tracks(id) ON DELETE CASCADE,
            model_id TEXT NOT NULL,
            n INTEGER NOT NULL,
            starts BLOB NOT NULL,
            scales BLOB NOT NULL,
            codes BLOB NOT NULL,
            PRIMARY KEY (track_id, model_id));
        CREATE INDEX sections_by_model ON sections(model_id);
        CREATE TRIGGER vectors_deleted_sections AFTER DELETE ON vectors BEGIN
            DELETE FROM sections WHERE track_id = OLD.track_id AND model_id = OLD.model_id;
        END;
        """
    )


def library_duplicates(conn: sqlite3.Connection) -> None:
    """The duplicate finder (issue 13): pairs the user marked "not duplicates", by path (a rescan
    keeps paths), and the audio fingerprints of its strict check (a cache, stamped with the file's
    size and mtime)."""
    _run_script(
        conn,
        """
        CREATE TABLE duplicate_marks(
            path_a TEXT NOT NULL, path_b TEXT NOT NULL, marked_at TEXT NOT NULL,
            PRIMARY KEY (path_a, path_b));
        CREATE TABLE fingerprints(
            track_id INTEGER PRIMARY KEY REFERENCES tracks(id) ON DELETE CASCADE,
            size INTEGER, mtime_ns INTEGER, data BLOB NOT NULL);
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


def library_judgements(conn: sqlite3.Connection) -> None:
    """Issue 11: the listener's judgements of search results ("more like this" / "not like this")
    and odd-one-out answers.  They name tracks, not vectors, so they survive model changes; the
    model id they were made under is kept only to tell later which model the listener was steering.
    A reference outside the library is kept by its path (and section, when a section was queried)."""
    _run_script(
        conn,
        """
        CREATE TABLE judgements(
            id INTEGER PRIMARY KEY,
            reference_track_id INTEGER REFERENCES tracks(id) ON DELETE CASCADE,
            reference_path TEXT,
            section_start REAL, section_end REAL,
            result_track_id INTEGER NOT NULL REFERENCES tracks(id) ON DELETE CASCADE,
            sign INTEGER NOT NULL CHECK (sign IN (-1, 1)),
            made_at TEXT NOT NULL,
            model_id TEXT NOT NULL,
            CHECK (reference_track_id IS NOT NULL OR reference_path IS NOT NULL));
        CREATE INDEX judgements_by_reference ON judgements(reference_track_id, result_track_id);
        CREATE INDEX judgements_by_path ON judgements(reference_path, result_track_id);
        CREATE INDEX judgements_by_result ON judgements(result_track_id);
        CREATE TABLE odd_one_out(
            id INTEGER PRIMARY KEY,
            anchor_id INTEGER NOT NULL REFERENCES tracks(id) ON DELETE CASCADE,
            positive_id INTEGER NOT NULL REFERENCES tracks(id) ON DELETE CASCADE,
            odd_id INTEGER NOT NULL REFERENCES tracks(id) ON DELETE CASCADE,
            made_at TEXT NOT NULL,
            model_id TEXT NOT NULL);
        CREATE INDEX odd_one_out_by_anchor ON odd_one_out(anchor_id);
        CREATE INDEX odd_one_out_by_positive ON odd_one_out(positive_id);
        CREATE INDEX odd_one_out_by_odd ON odd_one_out(odd_id);
        """
    )


def library_backfill(conn: sqlite3.Connection) -> None:
    """What the backfill (core/backfill.py) needs to complete libraries scanned by an older songsim.

    ``undescribed``: tracks whose audio was described and gave no tempo or key (too short, silent),
    so neither a scan nor the backfill decodes them again for it; a changed file loses the mark with
    its other content (forget_content).  ``section_changes``: a per-model counter bumped by every
    section write or delete, so the section index notices sections added to tracks whose vectors
    did not change (it is stamped with the vectors' fingerprint plus this counter)."""
    _run_script(
        conn,
        """
        CREATE TABLE undescribed(
            track_id INTEGER PRIMARY KEY REFERENCES tracks(id) ON DELETE CASCADE);
        CREATE TABLE section_changes(model_id TEXT PRIMARY KEY, counter INTEGER NOT NULL);
        """ + _change_counter("sections", "section_changes"))


LIBRARY_MIGRATIONS: list[Migration] = [library_v1, library_v2, library_sections, library_judgements, library_duplicates,
                                        library_descriptors, library_backfill]


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


def features_sections(conn: sqlite3.Connection) -> None:
    """The whole track's log-mel (issue 10), 8-bit with an offset and step (dB), so a re-embed
    recomputes section vectors without decoding (a float16 copy would be twice the size)."""
    _run_script(
        conn,
        """
        CREATE TABLE full_logmel(
            track_id INTEGER NOT NULL,
            frontend_key TEXT NOT NULL,
            n_mels INTEGER NOT NULL,
            low REAL NOT NULL,
            step REAL NOT NULL,
            data BLOB NOT NULL,
            PRIMARY KEY (track_id, frontend_key));
        """
    )


FEATURES_MIGRATIONS: list[Migration] = [features_v1, features_sections]
