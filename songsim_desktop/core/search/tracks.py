"""Track search: the active model's vector index, kept in step with the library, and ranking.

The index is a cache of the library's vectors (core/search/index.py): loaded or rebuilt lazily at
the first query after the library changed (by its ``vectors_fingerprint``), and followed batch by
batch while a scan commits, so a query during a scan never rebuilds it from the whole library.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from songsim_desktop.core.reports import Match, QueryResult
from songsim_desktop.core.scan import identity_of
from songsim_desktop.core.search.index import VectorIndex, load_or_rebuild
from songsim_desktop.core.search.index_cache import ActiveIndexCache
from songsim_desktop.core.search.similarity import similarity_percent
from songsim_desktop.errors import LibraryError


class TrackSearch:
    """``TrackSearch(library, index_dir, active_model_id, embedder)``: nearest tracks of the active model.

    ``active_model_id()`` names the model to search with (read at every call, so a model switch
    takes effect at once); ``embedder(model_id)`` embeds a reference file that is not in the library.
    Safe to share between the GUI thread and workers.
    """

    def __init__(self, library, index_dir: str | Path, active_model_id: Callable[[], str],
                 embedder: Callable[[str], object]) -> None:
        self.library = library
        self.index_dir = Path(index_dir)
        self._active_model_id = active_model_id
        self._embedder = embedder
        self._cache: ActiveIndexCache[VectorIndex] = ActiveIndexCache(
            active_model_id, library.vectors_fingerprint,
            lambda model_id: load_or_rebuild(library, self.index_dir, model_id))

    # --- the index of the active model -----------------------------------------------------------
    def index(self) -> VectorIndex:
        """The active model's index, reloaded/rebuilt when the library changed behind our back."""
        return self._cache.get()

    def invalidate(self) -> None:
        """Forget the loaded index (the model or the library changed wholesale); the next query
        loads or rebuilds it from the library."""
        self._cache.invalidate()

    def follow_commit(self, touched: Iterable[int]) -> None:
        """Keep a loaded index in step with each batch a scan commits.

        So a query while a scan runs (the GUI allows it) finds the index current instead of
        rebuilding it from the whole library.  Only the touched tracks are read.  The fingerprint is
        read first: a change by another writer in between only leaves the index stale (rebuilt at
        the next query), never wrongly marked current.
        """
        model_id = self._active_model_id()
        touched = {int(t) for t in touched}
        with self._cache.lock:
            idx = self._cache.loaded
            if idx is None or idx.model_id != model_id or not touched:
                return  # built lazily, from the library, at the next query
            fingerprint = self.library.vectors_fingerprint(model_id)
            gone, ids, vectors = set(), [], []
            for track_id in sorted(touched):
                record = self.library.track(track_id)
                vector = self.library.vector(track_id, model_id) if record and record.state == "ok" else None
                if vector is None:
                    gone.add(track_id)
                else:
                    ids.append(track_id)
                    vectors.append(vector)
            idx.remove(gone)
            if ids:
                idx.add(np.asarray(ids, dtype=np.int64), np.stack(vectors))
            idx.fingerprint = fingerprint

    def save_index(self) -> None:
        with self._cache.lock:
            if self._cache.loaded is not None:
                self._cache.loaded.save()

    # --- queries ---------------------------------------------------------------------------------
    def query_file(self, path: str | Path, k: int = 10) -> QueryResult:
        """Library tracks that sound like the file at ``path`` (inside the library or not)."""
        model_id = self._active_model_id()
        vector, exclude, real = self.file_vector(path, model_id)
        return self.matches(str(path), model_id, vector, k, exclude, real)

    def file_vector(self, path: str | Path, model_id: str) -> tuple[np.ndarray, set, str]:
        """(query vector of the file, track ids to leave out of its results, its real path): the
        library's stored vector when the file is an unchanged library track, else embedded now."""
        real = os.path.realpath(path)
        track = self.library.track_by_path(real) or self.library.track_by_path(os.path.abspath(path))
        vector, exclude = None, set()
        if track is not None:
            exclude.add(track.id)
            if track.state == "ok" and _same_identity(real, track):
                vector = self.library.vector(track.id, model_id)
        if vector is None:
            vector = self._embedder(model_id).embed_file(real).vector
        return vector, exclude, real

    def query_track(self, track, k: int = 10) -> QueryResult:
        """Library tracks that sound like ``track`` (a library record: id, path, state), never itself."""
        model_id = self._active_model_id()
        vector = self.library.vector(track.id, model_id)
        if vector is None:
            raise LibraryError(f"it has no vector for the active model {model_id} (state {track.state}); "
                               "scan or re-embed first", path=track.path, action="querying track")
        return self.matches(track.path, model_id, vector, k, {track.id}, os.path.realpath(track.path))

    def matches(self, reference: str, model_id: str, vector, k: int, exclude: set, real_ref: str) -> QueryResult:
        """The ``k`` nearest tracks to ``vector``, but not those in ``exclude`` nor the file ``real_ref``."""
        index = self.index()
        found = index.query(vector, k + 1, exclude_ids=exclude)
        return QueryResult(reference, model_id, self.to_matches(found, real_ref)[:k])

    def to_matches(self, found: Iterable[tuple[int, float]], real_ref: str) -> list[Match]:
        """(track id, distance) pairs, in order, as Matches (the reference file itself left out)."""
        typical = self.index().typical_distances()
        matches = []
        for tid, dist in found:
            track = self.library.track(tid)
            # The same file reached through another path (a symlinked folder) is still itself.
            if track is None or os.path.realpath(track.path) == real_ref:
                continue
            matches.append(Match(tid, track.path, dist, similarity_percent(dist, typical), track.title, track.artist,
                                 list(track.tags)))
        return matches


def _same_identity(path: str, track) -> bool:
    try:
        now = identity_of(path)
    except OSError:
        return False
    return (now.size, now.mtime_ns) == (track.size, track.mtime_ns)
