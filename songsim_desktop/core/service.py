"""SongsimService: the one facade the CLI and the GUI call (docs/architecture.md, "Service API").

It wires the parts together and adds no logic of its own: the library database and the features
cache (core/library), one cached Embedder per model, and track search with the active model's
vector index (core/search).  Long work is handed out as generators (jobs.py) that the caller
drives; the service only wraps them to keep the search index in step with what they committed.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Generator, Iterable, Optional

import numpy as np

from songsim_desktop import atomic, paths
from songsim_desktop.core import (audio, backfill, duplicates, fine_tune, jobs, model_lifecycle, odd_one_out,
                                  sound_map, steering)
from songsim_desktop.core.embedder import Embedder, ModelInfo, read_model_info
from songsim_desktop.core.job_store import folder_tag, incomplete_tracks
from songsim_desktop.core.library import FeatureCache, Library, normalise_root
from songsim_desktop.core.progress import CancelToken, Progress
from songsim_desktop.core.reports import (  # noqa: F401  (re-exported for callers)
    BackfillReport,
    Match,
    ModelRecord,
    QueryResult,
    ReembedReport,
    ScanReport,
    TrackRow,
    TrainReport,
)
from songsim_desktop.core.search import TrackSearch, VectorIndex, aspects
from songsim_desktop.core.search.sections import SectionSearch, reference_logmel
from songsim_desktop.core.writer_lock import WriterLock
from songsim_desktop.errors import LibraryError, ModelError, SongsimError

FEATURES_FILENAME = "features.sqlite3"
FOLDER_TAGS_SETTING = "folder_tags"  # "1": scans tag each track with its folder's name


class SongsimService:
    def __init__(self, data_dir: str | Path | None = None) -> None:
        self.data_dir = paths.data_dir(data_dir)
        self.library = Library(paths.database_path(self.data_dir))
        features = self.data_dir / FEATURES_FILENAME
        try:
            # A read-only library without a features cache can still be searched: only writers need it.
            self.features = None if self.library.read_only and not features.exists() else FeatureCache(features)
        except Exception:
            self.library.close()
            raise
        self._lock = threading.RLock()
        self._embedders: dict[str, Embedder] = {}
        self.writer = WriterLock(self.data_dir)  # one scan/re-embed/model switch/fine-tune per data folder
        # default_upgrade_from: an older shipped default still active until upgrade_default_job() ran
        if self.library.read_only:  # a backup or a shared folder is used as it is: nothing registered
            self.default_model_id, self.default_upgrade_from = read_model_info(paths.default_model_path()).id, None
        else:
            self.default_model_id, self.default_upgrade_from = model_lifecycle.register_shipped_default(
                self.library, paths.default_model_path())
        self.search = TrackSearch(self.library, paths.index_dir(self.data_dir), self.active_model_id, self.embedder)
        self.sections = SectionSearch(self.library, paths.index_dir(self.data_dir), self.active_model_id, self.embedder)

    def close(self) -> None:
        if self.features is not None:
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
        return self._then_invalidate(
            model_lifecycle.switch_model_job(self.library, self.features, embedder, cancel or CancelToken()))

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

    def _then_invalidate(self, job: Generator, task: str = "a model switch or fine-tune") -> Generator:
        """Run a job that may change the active model or its vectors, under the writer lock; the
        search index is rebuilt from the library (by fingerprint) at the next query."""
        try:
            return (yield from self._locked(job, task))
        finally:
            self.search.invalidate()

    def _locked(self, job: Generator, task: str = "a model switch or fine-tune") -> Generator:
        """``job`` run under the writer lock, taken when the job starts (not when it is made)."""
        with self.writer.hold(task):
            return (yield from job)

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

    # --- the search index of the active model ------------------------------------------------------------
    def index(self) -> VectorIndex:
        """The active model's index, reloaded/rebuilt when the library changed behind our back."""
        return self.search.index()

    # --- long jobs ----------------------------------------------------------------------------------
    def scan_job(self, root: str | Path | None = None, cancel: Optional[CancelToken] = None,
                 workers: Optional[int] = None) -> Generator[Progress, None, ScanReport]:
        """Scan one folder (added as a root) or, with ``root=None``, every known root."""
        if root is not None:
            if not os.path.isdir(root):
                raise SongsimError("not a folder (or it cannot be reached)", path=root, action="adding music folder")
            roots = [normalise_root(root)]
        else:
            roots = self.roots()
        embedder = self.embedder()
        return self._locked(self._scan(roots, embedder, cancel or CancelToken(), workers), "a scan")

    def _scan(self, roots, embedder, cancel, workers) -> Generator[Progress, None, ScanReport]:
        total = ScanReport()
        folder_tags = self.library.setting(FOLDER_TAGS_SETTING) == "1"
        try:
            for root in roots:
                report = yield from jobs.scan_job(self.library, self.features, embedder, root, cancel, workers,
                                                  folder_tags=folder_tags, on_commit=self.search.follow_commit,
                                                  decoder_log=str(paths.decoder_log_path(self.data_dir)))
                for name in ("added", "updated", "unchanged", "missing"):
                    setattr(total, name, getattr(total, name) + getattr(report, name))
                total.failed.extend(report.failed)
                total.notes.extend(report.notes)
                if report.cancelled:
                    total.cancelled = True
                    break
        finally:  # also when the driver stops us at a yield: the saved index matches what was committed
            self.search.save_index()
        return total

    def reembed_job(self, model_id: Optional[str] = None, cancel: Optional[CancelToken] = None
                    ) -> Generator[Progress, None, ReembedReport]:
        embedder = self.embedder(model_id)
        return self._then_invalidate(jobs.reembed_job(self.library, self.features, embedder, cancel), "a re-embed")

    def backfill_job(self, cancel: Optional[CancelToken] = None, workers: Optional[int] = None
                     ) -> Generator[Progress, None, BackfillReport]:
        """Give tracks scanned by an older songsim the active model's section vectors and their tempo
        and key (core/backfill.py), under the writer lock but giving way to any other writer of this
        process: it then stops at its next track with ``gave_way`` set (run it again to resume)."""
        return self._backfill(self.embedder(), cancel or CancelToken(), workers)

    def _backfill(self, embedder, cancel: CancelToken, workers) -> Generator[Progress, None, BackfillReport]:
        stop = CancelToken(cancel)  # also cancelled by a writer that wants the lock
        with self.writer.hold("filling in section vectors, tempo and key", give_way=stop):
            report = yield from backfill.backfill_job(self.library, self.features, embedder, stop, workers,
                                                      decoder_log=str(paths.decoder_log_path(self.data_dir)))
        report.gave_way = stop.cancelled and not cancel.cancelled
        return report

    def train_job(self, config, trainer: fine_tune.Trainer, cancel: Optional[CancelToken] = None
                  ) -> Generator[Progress, None, TrainReport]:
        """Fine-tune the active model with ``trainer`` (``songsim_desktop.training.fine_tune``, handed
        in by the CLI or the GUI: core never imports training), then re-embed and activate the result."""
        return self._then_invalidate(fine_tune.fine_tune_job(
            self.library, self.features, paths.user_models_dir(self.data_dir), self.active_model(),
            self.embedder, trainer, config, cancel or CancelToken()))

    # --- queries (core/search ranks) -------------------------------------------------------------------
    def query_file(self, path: str | Path, k: int = 10) -> QueryResult:
        """Library tracks that sound like the file at ``path`` (inside the library or not)."""
        with audio.decoder_chatter_to(paths.decoder_log_path(self.data_dir)):  # it may decode here
            result = self.search.query_file(path, k)
        result.matches = aspects.with_descriptors(result.matches, self.library)  # tempo and key
        return result

    def query_track(self, track_id: int, k: int = 10) -> QueryResult:
        """Library tracks that sound like a library track; never the track itself."""
        result = self.search.query_track(self.track(track_id), k)
        result.matches = aspects.with_descriptors(result.matches, self.library)
        return result

    def aspect_candidates(self, reference: str | Path | int, n: int = aspects.CANDIDATES) -> aspects.CandidateSet:
        """The ``n`` nearest tracks to a file (or a library track's id) with their tempo, key and aspect
        vectors, for the aspect sliders and tempo/key filters to re-rank (core/search/aspects.py)."""
        if isinstance(reference, int):
            found = self.query_track(reference, n).matches
            query = aspects.Described.of(self.library.descriptors([reference]).get(reference))
        else:
            found = self.query_file(reference, n).matches
            with audio.decoder_chatter_to(paths.decoder_log_path(self.data_dir)):
                query = aspects.reference_described(self.library, str(reference),
                                                    self.active_model().frontend.sample_rate)
        return aspects.candidate_set(found, self.library, query)

    def query_section(self, reference: "str | Path | int", start_s: Optional[float] = None,
                      end_s: Optional[float] = None, k: int = 10, include_self: bool = False) -> QueryResult:
        """Tracks with a part that sounds like [start_s, end_s] of ``reference`` (a file path or a
        library track id; None = its start/end), each with the offset of its best-matching part.
        The reference's own track is left out unless ``include_self`` (core/search/sections.py)."""
        with audio.decoder_chatter_to(paths.decoder_log_path(self.data_dir)):  # it may decode here
            name, full, own = reference_logmel(self.library, self.features, self.active_model().frontend, reference)
            return self.sections.query(name, full, start_s, end_s, k, own, include_self)

    # --- feedback: steer by listening (core/steering.py, core/odd_one_out.py) -----------------------------
    def steer_file(self, path: str | Path, autostore: bool = True) -> steering.SteeringSession:
        """A steerable query for a file (in the library or not): judge, undo, reset, result(k).
        ``autostore=False``: judgements are written when ``session.store()`` runs (the GUI's worker)."""
        model_id = self.active_model_id()
        track = self.library.track_by_path(os.path.realpath(path))
        with audio.decoder_chatter_to(paths.decoder_log_path(self.data_dir)):
            vector, exclude, real = self.search.file_vector(path, model_id)
        reference = steering.JudgementReference(track.id if track else None, None if track else real)
        return steering.open_session(self.library, self.search, reference, vector, exclude, model_id, real,
                                     autostore=autostore)

    def steer_track(self, track_id: int, autostore: bool = True) -> steering.SteeringSession:
        return self.steer_file(self.track(track_id).path, autostore)

    def judge(self, reference: steering.JudgementReference, result_track_id: int, sign: int) -> int:
        """Store one judgement outside a steered query (the CLI's ``songsim judge``)."""
        return self.library.judge(reference, result_track_id, sign, self.active_model_id())

    def odd_one_out_round(self, rng: Optional[np.random.Generator] = None) -> odd_one_out.OddOneOutRound:
        """Three tracks where the active model is least sure which one does not belong."""
        ids, vectors = self.library.vectors(self.active_model_id())
        asked = frozenset(frozenset((a.anchor_id, a.positive_id, a.odd_id)) for a in self.library.odd_one_out_answers())
        return odd_one_out.pick_round(ids, vectors, rng or np.random.default_rng(), asked)

    def answer_odd_one_out(self, round_: odd_one_out.OddOneOutRound, odd_id: int) -> int:
        return self.library.record_odd_one_out(*round_.answer(odd_id), self.active_model_id())

    # --- library ----------------------------------------------------------------------------------------
    def tracks(self) -> list[TrackRow]:
        tempo_and_key = self.library.tempo_and_key()
        return [_row(t, *tempo_and_key.get(t.id, (None, None))) for t in self.library.tracks()]

    def track(self, track_id: int) -> TrackRow:
        found = self.library.track(track_id)
        if found is None:
            raise LibraryError("no such track in the library", path=str(track_id), action="reading track")
        return _row(found, *self.library.tempo_and_key([found.id]).get(found.id, (None, None)))

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
        self.search.invalidate()

    # --- tags -----------------------------------------------------------------------------------------
    def add_tags(self, track_ids: Iterable[int], tags: Iterable[str], source: str = "user") -> None:
        self.library.add_tags(list(track_ids), list(tags), source)

    def remove_tags(self, track_ids: Iterable[int], tags: Iterable[str], source: str = "user") -> None:
        self.library.remove_tags(list(track_ids), list(tags), source)

    def tag_counts(self) -> dict[str, int]:
        return self.library.tag_counts()

    def import_folder_tags(self) -> int:
        """Tag every track with its folder's name (source 'folder'); later scans keep doing it."""
        self.library.set_setting(FOLDER_TAGS_SETTING, "1")
        roots = {r.id: r.path for r in self.library.roots()}
        named = {t.id: folder_tag(t.path, roots.get(t.root_id, os.path.dirname(t.path)))
                 for t in self.library.tracks(states=("ok",))}
        tagged = {tid: [name] for tid, name in named.items() if name}
        self.library.set_tags(tagged, "folder")
        return len(tagged)

    # --- duplicates and the sound map (issue 13: core/duplicates, core/sound_map.py) -----------------
    def duplicates_job(self, cancel: Optional[CancelToken] = None, **thresholds):
        """Groups of files holding one recording (read-only towards the music)."""
        model = self.active_model()
        source = duplicates.section_source(self.library, model.id, model.frontend)
        return duplicates.duplicates_job(self.library, source, cancel, **thresholds)

    def mark_not_duplicates(self, paths: Iterable[str], marked: bool = True) -> int:
        """Remember (or forget) that these files are not copies of one another."""
        paths = list(paths)
        return self.library.mark_not_duplicates(paths) if marked else self.library.unmark_not_duplicates(paths)

    def quick_map(self) -> sound_map.SoundMap:
        """The instant (PCA) sound map; ``sound_map_job`` computes the t-SNE one."""
        return sound_map.quick_map(self.library, self.active_model_id())

    def cached_sound_map(self) -> Optional[sound_map.SoundMap]:
        return sound_map.cached_map(self.data_dir, sound_map.map_key(self.library, self.active_model_id()))

    def sound_map_job(self, cancel: Optional[CancelToken] = None):
        return sound_map.layout_job(self.library, self.data_dir, self.active_model_id(), cancel)

    def query_tracks(self, track_ids: Iterable[int], k: int = 10) -> QueryResult:
        """"Find more like these": the mean of the tracks' vectors as the reference (never them)."""
        ids = [int(t) for t in track_ids]
        model_id = self.active_model_id()
        vectors = [v for v in (self.library.vector(t, model_id) for t in ids) if v is not None]
        if not vectors:
            raise LibraryError("none of them has a vector for the active model", path=str(ids), action="querying")
        mean = np.mean(vectors, axis=0)
        return self.search.matches(f"{len(ids)} tracks", model_id, mean / (np.linalg.norm(mean) or 1.0), k,
                                   set(ids), "")

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
            "tempo_and_key": self.library.described_count(),  # tracks with a tempo and a key (issue 12)
            "to_complete": len(incomplete_tracks(self.library, model_id)),  # what backfill_job would do
            "errors": self.library.errors() + self._unsearchable(),
        }

    def _unsearchable(self) -> list[tuple[str, str]]:
        """Tracks the index left out because their stored vector holds NaN or infinity."""
        try:
            skipped = sorted(self.index().skipped)
        except SongsimError:
            return []  # no index to speak of: the failure shows at the next query
        tracks = [t for t in (self.library.track(i) for i in skipped) if t is not None]
        return [(t.path, f"while indexing {t.path}: its stored vector holds NaN or infinity, so it cannot be "
                         "searched (fix or remove the file, then scan again)") for t in tracks]

    def export_vectors(self, out_path: str | Path) -> int:
        """Write ``paths``, ``vectors``, ``track_ids``, ``model_id``, ``tempo`` (BPM, NaN when unknown)
        and ``key`` ("A minor (8A)", "" when unknown) to an .npz; returns the count."""
        model_id = self.active_model_id()
        ids, matrix = self.library.vectors(model_id)
        by_id = {t.id: t.path for t in self.library.tracks(states=("ok",))}
        track_paths = np.array([by_id[int(i)] for i in ids], dtype=str)
        with atomic.atomic_path(out_path) as tmp, open(tmp, "wb") as fh:
            np.savez(fh, paths=track_paths, vectors=matrix, track_ids=ids, model_id=np.array(model_id),
                     **aspects.descriptor_columns(self.library, ids))
        return int(len(ids))


def _row(t, tempo: Optional[float] = None, key: Optional[str] = None) -> TrackRow:
    return TrackRow(t.id, t.path, t.title, t.artist, t.album, t.genre, t.duration_s, t.format, t.state,
                    t.error, list(t.tags), tempo, key)
