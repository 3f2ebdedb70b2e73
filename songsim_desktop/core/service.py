"""SongsimService: the one facade the CLI and the GUI call (docs/architecture.md, "Service API").

It owns the library database, the features cache, one cached Embedder per model and the vector
index of the active model.  Long work is handed out as generators (jobs.py) that the caller drives;
the service only wraps them to keep its index in step with what they committed.
"""

from __future__ import annotations

import os
import tempfile
import threading
from pathlib import Path
from typing import Generator, Iterable, Optional

import numpy as np

from songsim_desktop import paths
from songsim_desktop.core import fine_tune, jobs, model_lifecycle
from songsim_desktop.core.embedder import Embedder, ModelInfo
from songsim_desktop.core.index import VectorIndex, load_or_rebuild
from songsim_desktop.core.job_store import folder_tag
from songsim_desktop.core.library import FeatureCache, Library
from songsim_desktop.core.progress import CancelToken, Progress
from songsim_desktop.core.reports import (  # noqa: F401  (re-exported for callers)
    Match,
    ModelRecord,
    QueryResult,
    ReembedReport,
    ScanReport,
    TrackRow,
    TrainReport,
    similarity_percent,
)
from songsim_desktop.core.scan import identity_of, normalise_root
from songsim_desktop.errors import LibraryError, ModelError, SongsimError

FEATURES_FILENAME = "features.sqlite3"
FOLDER_TAGS_SETTING = "folder_tags"  # "1": scans tag each track with its folder's name


class SongsimService:
    def __init__(self, data_dir: str | Path | None = None) -> None:
        self.data_dir = paths.data_dir(data_dir)
        self.library = Library(paths.database_path(self.data_dir))
        try:
            self.features = FeatureCache(self.data_dir / FEATURES_FILENAME)
        except Exception:
            self.library.close()
            raise
        self._lock = threading.RLock()
        self._embedders: dict[str, Embedder] = {}
        self._index: Optional[VectorIndex] = None
        # default_upgrade_from: an older shipped default still active until upgrade_default_job() ran
        self.default_model_id, self.default_upgrade_from = model_lifecycle.register_shipped_default(
            self.library, paths.default_model_path())

    def close(self) -> None:
        self.features.close()
        self.library.close()

    def __enter__(self) -> "SongsimService":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # --- models -------------------------------------------------------------------------------
    def register_model(self, path: str | Path, metrics: Optional[dict] = None) -> ModelRecord:
        """Register a model file (not active: switch_model_job makes it active)."""
        model_id = model_lifecycle.register_model_file(self.library, path, metrics)
        return next(m for m in self.models() if m.id == model_id)

    def models(self) -> list[ModelRecord]:
        active = self.library.active_model_id()
        return [ModelRecord(m.id, m.name, m.path, m.dim, m.parent_id, m.created_at, dict(m.metrics),
                            bool(m.builtin), m.id == active) for m in self.library.models()]

    def active_model_id(self) -> str:
        return self.library.active_model_id() or self.default_model_id

    def active_model(self) -> ModelInfo:
        return self.embedder().info

    def switch_model_job(self, model_id: str, cancel: Optional[CancelToken] = None
                         ) -> Generator[Progress, None, ReembedReport]:
        """Re-embed with ``model_id``, then activate it (model_lifecycle.switch_model_job: the one way
        the active model changes).  Fails at once if the model is unknown or its file is broken."""
        embedder = self.embedder(model_id)  # raises ModelError now, before any work
        return model_lifecycle.switch_model_job(self.library, self.features, embedder, cancel or CancelToken())

    def upgrade_default_job(self, cancel: Optional[CancelToken] = None
                            ) -> Generator[Progress, None, Optional[ReembedReport]]:
        """After an app update shipped a new default model: re-embed with it, activate it, forget the
        old one.  Queries use the old default's vectors until then.  Returns None when nothing to do."""
        old = self.default_upgrade_from
        report = None
        if old is not None and self.library.active_model_id() == old:
            report = yield from self.switch_model_job(self.default_model_id, cancel)
        model_lifecycle.retire_old_defaults(self.library, self.default_model_id)
        self.default_upgrade_from = None
        return report

    def embedder(self, model_id: Optional[str] = None) -> Embedder:
        """The cached onnxruntime embedder of a model (default: the active one)."""
        model_id = model_id or self.active_model_id()
        with self._lock:
            if model_id not in self._embedders:
                record = self.library.model(model_id)
                if record is None:
                    raise ModelError("no such model is registered", path=model_id, action="loading model")
                embedder = Embedder(record.path)
                if embedder.info.id != model_id:
                    reason = (f"this version ships a new default model ({embedder.info.id}); the library is "
                              "being re-embedded with it: try again when that is done"
                              if model_id == self.default_upgrade_from else
                              f"the file changed: its id is now {embedder.info.id}")
                    raise ModelError(reason, path=record.path, action="loading model")
                self._embedders[model_id] = embedder
            return self._embedders[model_id]

    # --- the index of the active model -----------------------------------------------------------
    def index(self) -> VectorIndex:
        """The active model's index, reloaded/rebuilt when the library changed behind our back."""
        model_id = self.active_model_id()
        with self._lock:
            idx = self._index
            if idx is None or idx.model_id != model_id or idx.fingerprint != self.library.vectors_fingerprint(model_id):
                idx = load_or_rebuild(self.library, paths.index_dir(self.data_dir), model_id)
                self._index = idx
            return idx

    def _follow_commit(self, touched: Iterable[int]) -> None:
        """Keep a loaded index in step with each batch a scan commits.

        So a query while a scan runs (the GUI allows it) finds the index current instead of
        rebuilding it from the whole library.  Only the touched tracks are read.  The fingerprint is
        read first: a change by another writer in between only leaves the index stale (rebuilt at
        the next query), never wrongly marked current.
        """
        model_id = self.active_model_id()
        touched = {int(t) for t in touched}
        with self._lock:
            idx = self._index
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

    def _save_index(self) -> None:
        with self._lock:
            if self._index is not None:
                self._index.save()

    # --- long jobs ----------------------------------------------------------------------------------
    def scan_job(self, root: str | Path | None = None, cancel: Optional[CancelToken] = None,
                 workers: Optional[int] = None, **job_options) -> Generator[Progress, None, ScanReport]:
        """Scan one folder (added as a root) or, with ``root=None``, every known root."""
        if root is not None:
            if not os.path.isdir(root):
                raise SongsimError("not a folder (or it cannot be reached)", path=root, action="adding music folder")
            roots = [normalise_root(root)]
        else:
            roots = self.roots()
        embedder = self.embedder()
        return self._scan(roots, embedder, cancel or CancelToken(), workers, job_options)

    def _scan(self, roots, embedder, cancel, workers, job_options) -> Generator[Progress, None, ScanReport]:
        total = ScanReport()
        folder_tags = self.library.setting(FOLDER_TAGS_SETTING) == "1"
        try:
            for root in roots:
                report = yield from jobs.scan_job(self.library, self.features, embedder, root, cancel, workers,
                                                  folder_tags=folder_tags, on_commit=self._follow_commit,
                                                  decoder_log=str(paths.decoder_log_path(self.data_dir)),
                                                  **job_options)
                for name in ("added", "updated", "unchanged", "missing"):
                    setattr(total, name, getattr(total, name) + getattr(report, name))
                total.failed.extend(report.failed)
                if report.cancelled:
                    total.cancelled = True
                    break
        finally:  # also when the driver stops us at a yield: the saved index matches what was committed
            self._save_index()
        return total

    def reembed_job(self, model_id: Optional[str] = None, cancel: Optional[CancelToken] = None
                    ) -> Generator[Progress, None, ReembedReport]:
        embedder = self.embedder(model_id)
        return self._reembed(embedder, cancel)

    def _reembed(self, embedder, cancel) -> Generator[Progress, None, ReembedReport]:
        try:
            return (yield from jobs.reembed_job(self.library, self.features, embedder, cancel))
        finally:
            with self._lock:
                self._index = None  # rebuilt from the library (by fingerprint) at the next query

    def train_job(self, config, trainer: fine_tune.Trainer, cancel: Optional[CancelToken] = None
                  ) -> Generator[Progress, None, TrainReport]:
        """Fine-tune the active model with ``trainer`` (``songsim_desktop.training.fine_tune``, handed
        in by the CLI or the GUI: core never imports training), then re-embed and activate the result."""
        return fine_tune.fine_tune_job(self.library, self.features, paths.user_models_dir(self.data_dir),
                                       self.active_model(), self.embedder, trainer, config,
                                       cancel or CancelToken())

    # --- queries --------------------------------------------------------------------------------------
    def query_file(self, path: str | Path, k: int = 10) -> QueryResult:
        """Library tracks that sound like the file at ``path`` (inside the library or not)."""
        real = os.path.realpath(path)
        model_id = self.active_model_id()
        track = self.library.track_by_path(real) or self.library.track_by_path(os.path.abspath(path))
        vector, exclude = None, set()
        if track is not None:
            exclude.add(track.id)
            if track.state == "ok" and _same_identity(real, track):
                vector = self.library.vector(track.id, model_id)
        if vector is None:
            vector = self.embedder(model_id).embed_file(real).vector
        return self._matches(str(path), model_id, vector, k, exclude, real)

    def query_track(self, track_id: int, k: int = 10) -> QueryResult:
        model_id = self.active_model_id()
        track = self.track(track_id)
        vector = self.library.vector(track.id, model_id)
        if vector is None:
            raise LibraryError(f"it has no vector for the active model {model_id} (state {track.state}); "
                               "scan or re-embed first", path=track.path, action="querying track")
        return self._matches(track.path, model_id, vector, k, {track.id}, os.path.realpath(track.path))

    def _matches(self, reference: str, model_id: str, vector, k: int, exclude: set, real_ref: str) -> QueryResult:
        index = self.index()
        found = index.query(vector, k + 1, exclude_ids=exclude)
        typical = index.typical_distances()
        matches = []
        for tid, dist in found:
            track = self.library.track(tid)
            # The same file reached through another path (a symlinked folder) is still itself.
            if track is None or os.path.realpath(track.path) == real_ref:
                continue
            matches.append(Match(tid, track.path, dist, similarity_percent(dist, typical), track.title, track.artist,
                                 list(track.tags)))
        return QueryResult(reference, model_id, matches[:k])

    # --- library ----------------------------------------------------------------------------------------
    def tracks(self) -> list[TrackRow]:
        return [_row(t) for t in self.library.tracks()]

    def track(self, track_id: int) -> TrackRow:
        found = self.library.track(track_id)
        if found is None:
            raise LibraryError("no such track in the library", path=str(track_id), action="reading track")
        return _row(found)

    def roots(self) -> list[str]:
        return [r.path for r in self.library.roots()]

    def remove_root(self, path: str | Path) -> None:
        key = normalise_root(path)
        root = next((r for r in self.library.roots() if r.path == key), None)
        if root is None:
            return
        ids = [t.id for t in self.library.tracks() if t.root_id == root.id]
        self.library.remove_root(key)
        # SQLite may hand a deleted id to a new track: its cached features must not outlive it.
        self.features.delete(ids)
        with self._lock:
            self._index = None

    # --- tags -----------------------------------------------------------------------------------------
    def add_tags(self, track_ids: Iterable[int], tags: Iterable[str], source: str = "user") -> None:
        self.library.add_tags(list(track_ids), list(tags), source)

    def remove_tags(self, track_ids: Iterable[int], tags: Iterable[str], source: str = "user") -> None:
        self.library.remove_tags(list(track_ids), list(tags), source)

    def tag_counts(self) -> dict[str, int]:
        return self.library.tag_counts()

    def track_tags(self) -> dict[int, set[str]]:
        return self.library.tags_by_track()

    def import_folder_tags(self) -> int:
        """Tag every track with its folder's name (source 'folder'); later scans keep doing it."""
        self.library.set_setting(FOLDER_TAGS_SETTING, "1")
        roots = {r.id: r.path for r in self.library.roots()}
        tagged = 0
        with self.library.transaction() as conn:
            for t in self.library.tracks(states=("ok",)):
                name = folder_tag(t.path, roots.get(t.root_id, os.path.dirname(t.path)))
                if name:
                    self.library.replace_tags(conn, t.id, [name], "folder")
                    tagged += 1
        return tagged

    # --- reporting ----------------------------------------------------------------------------------------
    def status(self) -> dict:
        model_id = self.active_model_id()
        record = self.library.model(model_id)
        return {
            "data_dir": str(self.data_dir),
            "model_id": model_id,
            "model_name": record.name if record else "",
            "roots": self.roots(),
            "counts": self.library.state_counts(),
            "vectors": self.library.vector_count(model_id),
            "errors": self.library.errors(),
        }

    def export_vectors(self, out_path: str | Path) -> int:
        """Write ``paths``, ``vectors``, ``track_ids`` and ``model_id`` to an .npz; returns the count."""
        model_id = self.active_model_id()
        ids, matrix = self.library.vectors(model_id)
        by_id = {t.id: t.path for t in self.library.tracks(states=("ok",))}
        track_paths = np.array([by_id[int(i)] for i in ids], dtype=str)
        out = Path(out_path)
        fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent or ".")
        try:
            with os.fdopen(fd, "wb") as fh:
                np.savez(fh, paths=track_paths, vectors=matrix, track_ids=ids, model_id=np.array(model_id))
            os.replace(tmp, out)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        return int(len(ids))


def _same_identity(path: str, track) -> bool:
    try:
        now = identity_of(path)
    except OSError:
        return False
    return (now.size, now.mtime_ns) == (track.size, track.mtime_ns)


def _row(t) -> TrackRow:
    return TrackRow(t.id, t.path, t.title, t.artist, t.album, t.genre, t.duration_s, t.format, t.state,
                    t.error, list(t.tags))
