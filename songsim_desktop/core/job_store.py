"""What the scan and re-embed jobs read from and write to the library, through Library methods.

Each batch goes in ONE transaction: a track row, its vectors and its tags land together or not at
all, so a scan killed at any moment leaves the database consistent and resumable.  The features
cache is a separate SQLite file; its entry of a changed track is dropped BEFORE the library commit
and written after it, so it can be missing (decoded again later) but never stale.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Optional

import numpy as np

from songsim_desktop.core.features import FrontEndConfig
from songsim_desktop.core.metadata import file_tags


def ensure_root(library, root: str) -> int:
    return int(library.add_root(root))


def mark_missing(library, paths: list[str]) -> list[int]:
    """Vanished files keep their row, vectors and tags (they may come back); queries skip them.

    Returns the ids marked."""
    if not paths:
        return []
    ids = list(library.track_ids(paths).values())
    with library.transaction() as conn:
        library.mark_missing(conn, ids)
    return ids


def restore(library, paths: list[str]) -> list[int]:
    """Missing tracks that came back unchanged: ok again, with the vectors and tags they kept."""
    if not paths:
        return []
    ids = list(library.track_ids(paths).values())
    with library.transaction() as conn:
        library.restore_missing(conn, ids)
    return ids


def folder_tag(path: str, root: str) -> Optional[str]:
    """The name of the folder holding ``path`` below ``root`` (None for files at the root)."""
    parent = os.path.dirname(path)
    if os.path.normpath(parent) == os.path.normpath(root):
        return None
    return os.path.basename(parent).strip().lower() or None


def _upsert_track(library, conn, root_id: int, p, title_fallback: str) -> int:
    info, tags = p.info, p.tags or {}
    ok = p.error is None
    return int(library.upsert_track(
        conn, path=p.path, root_id=root_id, size=p.size, mtime_ns=p.mtime_ns,
        duration_s=info.duration_s if info else None, format=info.format if info else None,
        title=tags.get("title") or (title_fallback if ok else None), artist=tags.get("artist"),
        album=tags.get("album"), genre=tags.get("genre"), state="ok" if ok else "error", error=p.error))


def commit_prepared(library, cache, cfg: FrontEndConfig, root_id: int, root: str, batch: list, analysed: list,
                    *, folder_tags: bool, report, known_paths: set) -> list[int]:
    """Write one batch of prepared tracks atomically: each row, its file/folder tags, and for the ok
    ones the results of every scan analyser (``analysed``: [(analyser, results in the order of the
    batch's ok tracks)], from ``core.analysis.analyse``).

    Returns the ids of the tracks written (ok and error)."""
    stale = library.track_ids(p.path for p in batch if p.path in known_paths)
    cache_delete(cache, stale.values())
    written: list[tuple[int, object]] = []
    all_ids: list[int] = []
    ok_done = 0  # analyser results are per ok track, in batch order
    with library.transaction() as conn:
        for p in batch:
            stem = os.path.splitext(os.path.basename(p.path))[0]
            tid = _upsert_track(library, conn, root_id, p, stem)
            all_ids.append(tid)
            library.forget_content(conn, tid)
            if p.error is not None:
                continue
            for analyser, results in analysed:
                analyser.store(library, conn, tid, results[ok_done])
            ok_done += 1
            library.replace_tags(conn, tid, file_tags(p.tags or {}), "file")
            name = folder_tag(p.path, root) if folder_tags else None
            if name:
                library.replace_tags(conn, tid, [name], "folder")
            written.append((tid, p))
    for tid, p in written:
        cache_put(cache, tid, cfg, p.logmel, p.full_logmel)
    for p in batch:
        if p.error is not None:
            report.failed.append((p.path, p.error))
        elif p.path in known_paths:
            report.updated += 1
        else:
            report.added += 1
    return all_ids


def tracks_without_vector(library, model_id: str) -> tuple[list[tuple[int, str]], int]:
    """(id, path) of ok tracks lacking a vector (or, scanned before section search, the section
    vectors) for ``model_id``, and how many are complete."""
    without_vector = library.tracks_without_vectors(model_id)
    without_sections = library.tracks_without_sections(model_id)  # these have a vector
    todo = sorted(dict(without_vector + without_sections).items())
    return todo, library.vector_count(model_id) - len(without_sections)


@dataclass(frozen=True)
class Incomplete:
    """An ok track that lacks what an older songsim's scan did not compute (core/backfill.py)."""
    track_id: int
    path: str
    sections: bool  # no section vectors for the model
    descriptors: bool  # never described (no tempo and key, and not known to have none)


def incomplete_tracks(library, model_id: str) -> list[Incomplete]:
    """The ok tracks lacking section vectors for ``model_id`` (among those with its vector) or tempo
    and key, by id."""
    sections = dict(library.tracks_without_sections(model_id))
    descriptors = dict(library.tracks_without_descriptors())
    return [Incomplete(tid, sections.get(tid) or descriptors[tid], tid in sections, tid in descriptors)
            for tid in sorted(sections.keys() | descriptors.keys())]


def commit_analysed(library, cache, cfg: FrontEndConfig, items: list, analysed: list) -> None:
    """A re-embed's (or a backfill's) batch in one transaction.  items: (track_id, prepared,
    decoded_now); ``analysed``: [(analyser, results in the order of items)], a None result meaning
    nothing to store for that track; the decoded tracks' log-mels go to the features cache after."""
    with library.transaction() as conn:
        for i, (tid, _p, _fresh) in enumerate(items):
            for analyser, results in analysed:
                if results[i] is not None:
                    analyser.store(library, conn, tid, results[i])
    for tid, p, fresh in items:
        if fresh:
            cache_put(cache, tid, cfg, p.logmel, p.full_logmel)


# -- the features cache: model inputs stored as (n_crops, n_mels, frames), float16, and the whole
# track's log-mel (n_mels, frames), 8-bit, for section vectors ------------------------------------
def cached_features(cache, track_id: int, cfg: FrontEndConfig) -> Optional[np.ndarray]:
    """Model input (n_crops, 1, n_mels, crop_frames) float32 from the cache, or None."""
    if cache is None:
        return None
    x = cache.get(track_id, cfg.key())
    if x is None or x.ndim != 3 or x.shape[1:] != (cfg.n_mels, cfg.crop_frames):
        return None
    return np.asarray(x, dtype=np.float32)[:, None]


def cached_full_logmel(cache, track_id: int, cfg: FrontEndConfig) -> Optional[np.ndarray]:
    """The track's whole log-mel (n_mels, frames) float32 from the cache, or None."""
    if cache is None:
        return None
    spec = cache.get_full_logmel(track_id, cfg.key())
    return spec if spec is not None and spec.shape[0] == cfg.n_mels else None


def cache_put(cache, track_id: int, cfg: FrontEndConfig, logmel: np.ndarray,
              full_logmel: Optional[np.ndarray] = None) -> None:
    if cache is not None and logmel is not None:
        cache.put(track_id, cfg.key(), np.asarray(logmel)[:, 0])
        if full_logmel is not None:
            cache.put_full_logmel(track_id, cfg.key(), full_logmel)


def cache_delete(cache, track_ids) -> None:
    ids = list(track_ids)
    if cache is not None and ids:
        cache.delete(ids)
