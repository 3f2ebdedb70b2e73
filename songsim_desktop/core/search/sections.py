"""Section search: which tracks have a part that sounds like this part, and where.

The reference range (a time range of a library track, or a whole short clip) is cut into query
windows every ``QUERY_HOP_S``; each window's nearest sections come from the section index
(core/search/section_index.py) and are aggregated per track:
- a track's distance to one query window is that of its nearest section among the window's
  neighbours (or, if none made the list, the list's farthest distance: a bound);
- ``mean`` (the default) ranks tracks by the mean of those over the query windows: a match must
  hold over the whole range, so one lucky window of another track does not outrank the source
  (``best``, the smallest single distance, is kept for comparison: docs/benchmarks.md, "Issue 10");
- the first ``RERANK`` tracks are then scored exactly over all their sections (the neighbour lists
  only bound a track they barely reached), which keeps the ranking within a hair of exact search;
- the reported offset is where the query's windows agree the range starts in the track: each of
  the closest (window, section) pairs proposes one (the section's start minus the window's place in
  the range) and the proposal under which all windows lie closest wins (``aligned_offset``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

import numpy as np

from songsim_desktop.core.analysis.section_vectors import frames_to_seconds, windows_at
from songsim_desktop.core.features import FrontEndConfig
from songsim_desktop.core.reports import Match, QueryResult
from songsim_desktop.core.search.index_cache import ActiveIndexCache
from songsim_desktop.core.search.section_index import SectionIndex
from songsim_desktop.core.search.similarity import similarity_percent
from songsim_desktop.errors import DecodeError, LibraryError

QUERY_HOP_S = 1.0
MAX_QUERY_WINDOWS = 32  # a whole-track query: windows spread evenly over it
NEIGHBOURS_PER_WINDOW = 920  # + 8k: 1,000 per window for k=10 (recall 0.97 vs 0.95 with 280 on 2,000 synthetic tracks)
AGGREGATIONS = ("mean", "best")
DEFAULT_AGGREGATION = "mean"
RERANK = 128  # candidate tracks scored exactly (see rerank)
ALIGN_TRIES = 8  # offsets proposed per track by its closest pairs (see aligned_offset)


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
    m, k = labels.shape
    own, at = owners[labels], starts[labels]
    keep = np.ones((m, k), dtype=bool) if skip is None else ~skip(own, at)
    bound = dists[:, -1].astype(np.float64) if k else np.full(m, 2.0)
    rows = np.broadcast_to(np.arange(m)[:, None], (m, k))[keep]
    tracks, column = np.unique(own[keep], return_inverse=True)
    if not len(tracks):
        return []
    flat = dists[keep].astype(np.float64)
    table = np.full((m, len(tracks)), np.inf)
    np.minimum.at(table, (rows, column), flat)
    # The closest (window, section) pair of each track places its offset.
    order = np.argsort(flat, kind="stable")
    _, first = np.unique(column[order], return_index=True)
    pair = order[first]
    pair_offset = at[keep][pair] - offsets[rows[pair]]
    return _ranked(tracks, np.where(np.isinf(table), bound[:, None], table), flat[pair], pair_offset, how)


def _ranked(tracks, table: np.ndarray, best: np.ndarray, offset: np.ndarray, how: str) -> list[TrackHit]:
    scores = table.mean(axis=0) if how == "mean" else table.min(axis=0)
    hits = [TrackHit(int(t), float(sc), float(b), max(0.0, float(o)))
            for t, sc, b, o in zip(tracks, scores, best, offset)]
    hits.sort(key=lambda h: (h.score, h.track_id))
    return hits


def rerank(index: SectionIndex, queries: np.ndarray, hits: list[TrackHit], offsets: np.ndarray,
           how: str = DEFAULT_AGGREGATION, skip=None, count: int = RERANK, align: bool = True) -> list[TrackHit]:
    """The first ``count`` hits scored exactly: every section of each candidate track against every
    query window (the neighbour lists only bound a track they barely reached).  Tracks' sections
    are contiguous labels (the index is built ordered by track)."""
    head, tail = hits[:count], hits[count:]
    if not head:
        return hits
    ids = np.sort(np.array([h.track_id for h in head], dtype=np.int64))
    lo, hi = np.searchsorted(index.owners, ids, "left"), np.searchsorted(index.owners, ids, "right")
    labels = np.concatenate([np.arange(a, b) for a, b in zip(lo, hi)])
    own, at = index.owners[labels], index.starts[labels]
    keep = np.ones(len(labels), dtype=bool) if skip is None else ~skip(own, at)
    labels, own, at = labels[keep], own[keep], at[keep]
    if not len(labels):
        return tail
    diff = np.maximum(2.0 - 2.0 * (queries @ index.vectors(labels).T), 0.0)  # unit vectors: |a-b|^2
    dists = np.sqrt(diff).astype(np.float64)  # (m, sections)
    tracks, first_of, column = np.unique(own, return_index=True, return_inverse=True)  # own is sorted
    table = np.minimum.reduceat(dists, first_of, axis=1)
    # The closest (window, section) pair of each track: per section its best window, then per track
    # the first section reaching the track's minimum.
    window_of = dists.argmin(axis=0)
    section_best = dists[window_of, np.arange(dists.shape[1])]
    best = np.minimum.reduceat(section_best, first_of)
    reaching = np.flatnonzero(section_best == best[column])
    _, first = np.unique(column[reaching], return_index=True)
    pair = reaching[first]
    offset = at[pair] - offsets[window_of[pair]]
    if align:  # the offset the query's windows agree on, not that of one lucky pair
        ends = np.append(first_of[1:], len(own))
        for i in range(len(tracks)):
            offset[i] = aligned_offset(dists[:, first_of[i]:ends[i]], at[first_of[i]:ends[i]], offsets)
    return _ranked(tracks, table, best, offset, how) + tail


def aligned_offset(dists: np.ndarray, starts: np.ndarray, offsets: np.ndarray, tries: int = ALIGN_TRIES) -> float:
    """The offset of one track that the query's windows agree on best.

    ``dists`` (windows, sections of the track), ``starts`` their start times, ``offsets`` each
    window's place in the query range.  Each of the ``tries`` closest (window, section) pairs
    proposes an offset; a proposal is scored by the mean, over windows, of the distance to the
    track's section nearest to where that window falls.  On degraded clips of held-out music this
    puts more offsets within 3 s of the truth than the single closest pair (docs/benchmarks.md)."""
    flat = np.argsort(dists, axis=None)[:tries]
    rows, cols = np.unravel_index(flat, dists.shape)
    proposals = np.unique(np.round(starts[cols] - offsets[rows], 1))
    targets = proposals[:, None] + offsets[None, :]  # (proposals, windows)
    nearest = np.abs(starts[None, None, :] - targets[:, :, None]).argmin(axis=2)
    scores = dists[np.arange(len(offsets))[None, :], nearest].mean(axis=1)
    return float(proposals[int(np.argmin(scores))])


class SectionSearch:
    """``SectionSearch(library, index_dir, active_model_id, embedder)``: the section index of the
    active model (loaded or rebuilt by the library's ``sections_fingerprint``) and section queries over it."""

    def __init__(self, library, index_dir: str | Path, active_model_id: Callable[[], str],
                 embedder: Callable[[str], object]) -> None:
        self.library = library
        self.index_dir = Path(index_dir)
        self._active_model_id = active_model_id
        self._embedder = embedder
        self._cache: ActiveIndexCache[SectionIndex] = ActiveIndexCache(
            active_model_id, library.sections_fingerprint, self._load)

    def _load(self, model_id: str) -> SectionIndex:
        dim = self._embedder(model_id).info.dim
        return SectionIndex(self.index_dir, model_id, dim).load_or_rebuild(self.library)

    def index(self) -> SectionIndex:
        return self._cache.get()

    def invalidate(self) -> None:
        self._cache.invalidate()

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
        hits = rerank(index, vectors, hits, query.offsets, how, skip, max(RERANK, 4 * k))
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
    if full is None:  # only a file whose audio past its crops is damaged
        raise DecodeError("its whole spectrogram could not be computed (damaged audio data)", path=path,
                          action="searching by section")
    return str(path), full, None if track is None else track.id
