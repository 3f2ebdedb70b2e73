"""Section search: which tracks have a part that sounds like this part, and where.

The reference range (a time range of a library track, or a whole short clip) is cut into query
windows every ``QUERY_HOP_S``; each window's nearest sections come from the section index
(core/search/section_index.py) and are aggregated per track:
- a track's distance to one query window is that of its nearest section among the window's
  neighbours (or, if none made the list, the list's farthest distance: a bound);
- ``mean`` (the default) ranks tracks by the mean of those over the query windows: a match must
  hold over the whole range, so one lucky window of another track does not outrank the source
  (``best``, the smallest single distance, is kept for comparison: docs/benchmarks.md, "Issue 10");
- the reported offset is where the track's closest (window, section) pair puts the range's start:
  the section's start minus the window's offset within the range.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

import numpy as np

from songsim_desktop.core.analysis.section_vectors import frames_to_seconds, windows_at
from songsim_desktop.core.features import FrontEndConfig
from songsim_desktop.core.reports import Match, QueryResult
from songsim_desktop.core.search.section_index import SectionIndex
from songsim_desktop.core.search.similarity import similarity_percent
from songsim_desktop.errors import LibraryError

QUERY_HOP_S = 1.0
MAX_QUERY_WINDOWS = 32  # a whole-track query: windows spread evenly over it
NEIGHBOURS_PER_WINDOW = 200
AGGREGATIONS = ("mean", "best")
DEFAULT_AGGREGATION = "mean"


@dataclass
class SectionQuery:
    """The query windows of a reference range: inputs, where each starts relative to the range's
    start (s), and the range itself (s)."""
    inputs: np.ndarray
    offsets: np.ndarray
    start_s: float
    end_s: float


def query_windows(full: np.ndarray, cfg: FrontEndConfig, start_s: Optional[float] = None,
                  end_s: Optional[float] = None) -> SectionQuery:
    """Windows of ``full`` (n_mels, frames) every QUERY_HOP_S over [start_s, end_s] (None: the
    track's start / end).  A range shorter than a window is widened to one window around it."""
    duration = float(frames_to_seconds(full.shape[1], cfg))
    start = 0.0 if start_s is None else min(max(0.0, float(start_s)), duration)
    end = duration if end_s is None else min(max(start, float(end_s)), duration)
    width_s = cfg.crop_seconds
    frames_per_s = cfg.sample_rate / cfg.hop_length
    last_start = max(0.0, duration - width_s)
    if end - start <= width_s:
        centred = min(max(0.0, (start + end) / 2 - width_s / 2), last_start)
        window_starts = np.array([centred])
    else:
        window_starts = np.arange(start, end - width_s + 1e-6, QUERY_HOP_S)
        if len(window_starts) > MAX_QUERY_WINDOWS:
            window_starts = np.linspace(start, end - width_s, MAX_QUERY_WINDOWS)
    frames = np.minimum(np.round(window_starts * frames_per_s).astype(np.int64),
                        max(0, full.shape[1] - cfg.crop_frames))
    return SectionQuery(windows_at(full, frames, cfg), frames_to_seconds(frames, cfg) - start, start, end)


@dataclass
class TrackHit:
    track_id: int
    score: float  # the aggregated distance (smaller = more alike)
    best_distance: float  # distance of the closest (window, section) pair
    offset: float  # where that pair puts the range's start in the track (s)


def aggregate(labels: np.ndarray, dists: np.ndarray, owners: np.ndarray, starts: np.ndarray,
              offsets: np.ndarray, how: str = DEFAULT_AGGREGATION,
              skip: Optional[Callable[[np.ndarray, np.ndarray], np.ndarray]] = None) -> list[TrackHit]:
    """Per-track hits from each query window's neighbours (labels/dists (m, k)), best first.

    ``skip(owners, starts) -> bool mask`` drops sections (the reference's own range)."""
    m = len(labels)
    per_track: dict[int, np.ndarray] = {}
    best: dict[int, tuple[float, float]] = {}
    bound = np.empty(m)
    for j in range(m):
        keep = np.ones(labels.shape[1], dtype=bool) if skip is None else ~skip(owners[labels[j]], starts[labels[j]])
        row_labels, row_dists = labels[j][keep], dists[j][keep]
        bound[j] = float(dists[j][-1]) if dists.shape[1] else 2.0
        for label, dist in zip(row_labels, row_dists):
            tid = int(owners[label])
            slot = per_track.get(tid)
            if slot is None:
                slot = per_track[tid] = np.full(m, np.nan)
            if np.isnan(slot[j]) or dist < slot[j]:
                slot[j] = dist
            if tid not in best or dist < best[tid][0]:
                best[tid] = (float(dist), float(starts[label] - offsets[j]))
    hits = []
    for tid, slot in per_track.items():
        filled = np.where(np.isnan(slot), bound, slot)
        score = float(filled.mean()) if how == "mean" else float(filled.min())
        hits.append(TrackHit(tid, score, best[tid][0], max(0.0, best[tid][1])))
    hits.sort(key=lambda h: (h.score, h.track_id))
    return hits


class SectionSearch:
    """``SectionSearch(library, index_dir, active_model_id, embedder)``: the section index of the
    active model (loaded or rebuilt by the library's fingerprint) and section queries over it."""

    def __init__(self, library, index_dir: str | Path, active_model_id: Callable[[], str],
                 embedder: Callable[[str], object]) -> None:
        self.library = library
        self.index_dir = Path(index_dir)
        self._active_model_id = active_model_id
        self._embedder = embedder
        self._lock = threading.RLock()
        self._index: Optional[SectionIndex] = None

    def index(self) -> SectionIndex:
        model_id = self._active_model_id()
        with self._lock:
            idx = self._index
            if idx is None or idx.model_id != model_id or idx.fingerprint != self.library.vectors_fingerprint(model_id):
                dim = self._embedder(model_id).info.dim
                idx = self._index = SectionIndex(self.index_dir, model_id, dim).load_or_rebuild(self.library)
            return idx

    def invalidate(self) -> None:
        with self._lock:
            self._index = None

    def query(self, reference: str, full: np.ndarray, start_s: Optional[float], end_s: Optional[float],
              k: int = 10, own_track: Optional[int] = None, include_self: bool = False,
              how: str = DEFAULT_AGGREGATION) -> QueryResult:
        """The ``k`` tracks with a section most like [start_s, end_s] of ``full`` (the reference's
        log-mel).  ``own_track``: the reference's library id, left out unless ``include_self`` (then
        only its sections overlapping the range itself are left out)."""
        if how not in AGGREGATIONS:
            raise ValueError(f"aggregation must be one of {AGGREGATIONS}, not {how!r}")
        model_id = self._active_model_id()
        embedder = self._embedder(model_id)
        cfg = embedder.info.frontend
        query = query_windows(full, cfg, start_s, end_s)
        vectors = embedder.embed_inputs(query.inputs)
        index = self.index()
        labels, dists = index.knn(vectors, NEIGHBOURS_PER_WINDOW + 8 * k)
        skip = None
        if own_track is not None:
            width = cfg.crop_seconds
            if include_self:
                def skip(owners, starts):  # the range itself is no repeat of itself
                    return (owners == own_track) & (starts > query.start_s - width) & (starts < query.end_s)
            else:
                def skip(owners, starts):
                    return owners == own_track
        hits = aggregate(labels, dists, index.owners, index.starts, query.offsets, how, skip)
        typical = index.typical_distances()
        length = max(query.end_s - query.start_s, cfg.crop_seconds)
        matches = []
        for hit in hits:
            track = self.library.track(hit.track_id)
            if track is None or track.state != "ok":
                continue
            matches.append(Match(hit.track_id, track.path, hit.score, similarity_percent(hit.score, typical),
                                 track.title, track.artist, list(track.tags), offset=round(hit.offset, 2),
                                 section_distance=hit.best_distance, section_length=round(length, 2)))
            if len(matches) == k:
                break
        return QueryResult(reference, model_id, matches)


def reference_logmel(library, features, cfg: FrontEndConfig, reference) -> tuple[str, np.ndarray, Optional[int]]:
    """(name, whole log-mel, library id or None) of a reference: a library track id, or a file
    path (in the library or not).  A library track unchanged since its scan comes from the features
    cache; anything else is decoded once (core.full_decode)."""
    from songsim_desktop.core.full_decode import decode_full  # decoders load only when needed
    from songsim_desktop.core.scan import identity_of

    if isinstance(reference, (int, np.integer)):
        track = library.track(int(reference))
        if track is None:
            raise LibraryError("no such track in the library", path=str(reference), action="searching by section")
        path = track.path
    else:
        path = os.fspath(reference)
        real = os.path.realpath(path)
        track = library.track_by_path(real) or library.track_by_path(os.path.abspath(path))
    full = None
    if track is not None and track.state == "ok" and features is not None:
        try:
            now = identity_of(track.path)
            unchanged = (now.size, now.mtime_ns) == (track.size, track.mtime_ns)
        except OSError:
            unchanged = isinstance(reference, (int, np.integer))  # a missing file: its cached spectrum still holds
        if unchanged:
            full = features.get_full_logmel(track.id, cfg.key())
    if full is None:
        full = decode_full(path, cfg).full_logmel
    return str(path), full, None if track is None else track.id
