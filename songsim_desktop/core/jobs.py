"""The long jobs on the library: scanning a folder and re-embedding with another model.

Both are generators that yield :class:`Progress` after every file and return a report, so the CLI
and the GUI drive them the same way and can stop them at any yield.  Work is committed in batches,
each batch in ONE transaction (track row + vectors + tags), so a killed run loses at most one batch
and the next run skips everything committed (nothing is embedded twice).

Decoding and the log-mel front end run in core.decoding's process pool; the main process embeds in
batches with onnxruntime and owns the database.
"""

from __future__ import annotations

from typing import Callable, Generator, Optional

import numpy as np

from songsim_desktop.core import analysis, decoding
from songsim_desktop.core import job_store as store
from songsim_desktop.core.decoding import PreparedTrack
from songsim_desktop.core.library import normalise_root
from songsim_desktop.core.progress import CancelToken, Progress, RateMeter
from songsim_desktop.core.reports import ReembedReport, ScanReport
from songsim_desktop.core.scan import plan

COMMIT_EVERY = 16


NON_FINITE_RESULT = "the model gave NaN or infinity for this file, so it is not indexed"


def drop_non_finite(analysed: list) -> tuple[set[int], list]:
    """A model that gives NaN or infinity for one file (a diverged fine-tune) fails that file, not its
    whole batch: (indexes of the tracks with such a result, ``analysed`` without their results).
    A None result (nothing asked of that analyser for that track) counts as finite."""
    def finite(result) -> bool:
        if result is None:
            return True
        parts = result if isinstance(result, tuple) else (result,)
        return all(np.isfinite(np.asarray(part, dtype=np.float64)).all() for part in parts)

    bad = {i for _analyser, results in analysed for i, r in enumerate(results) if not finite(r)}
    return bad, [(a, [r for i, r in enumerate(results) if i not in bad]) for a, results in analysed]


def scan_job(library, features_cache, embedder, root, cancel: Optional[CancelToken] = None,
             workers: Optional[int] = None, *, folder_tags: bool = False,
             on_commit: Optional[Callable[[list[int]], None]] = None,
             decoder_log: Optional[str] = None,
             ) -> Generator[Progress, None, ScanReport]:
    """Scan ``root`` incrementally: new and changed files are decoded, embedded and committed,
    ``COMMIT_EVERY`` files per transaction.

    ``on_commit`` receives the ids of the tracks each committed batch wrote or marked missing (the
    service updates its index from them).
    """
    notify = on_commit or (lambda ids: None)
    cancel = cancel or CancelToken()
    workers = decoding.default_workers() if workers is None else workers
    cfg, model_id = embedder.info.frontend, embedder.info.id
    analysers = analysis.for_scan(embedder)
    root_path = normalise_root(root)
    root_id = store.ensure_root(library, root_path)
    todo = plan(library, root_path, model_id)
    report = ScanReport(unchanged=len(todo.unchanged), missing=len(todo.vanished))
    report.failed.extend(todo.errors)
    notify(store.mark_missing(library, todo.vanished))
    notify(store.restore(library, [f.path for f in todo.restored]))
    report.updated += len(todo.restored)
    known = {f.path for f in todo.changed}
    total = len(todo.to_process)
    meter = RateMeter()
    yield meter.progress("scan", 0, total, f"{total} files to read in {root_path}")
    batch: list[PreparedTrack] = []

    def commit() -> None:
        if batch:
            ok = [p for p in batch if p.error is None]
            bad, analysed = drop_non_finite(analysis.analyse(analysers, ok))
            for i in bad:
                ok[i].error, ok[i].logmel = f"while embedding {ok[i].path}: {NON_FINITE_RESULT}", None
            notify(store.commit_prepared(library, features_cache, cfg, root_id, root_path, batch, analysed,
                                         folder_tags=folder_tags, report=report, known_paths=known))
            batch.clear()

    stream = decoding.prepared_stream([f.path for f in todo.to_process], cfg, workers, cancel, decoder_log=decoder_log)
    done = 0
    try:
        for prepared in stream:
            batch.append(decoding.recheck(prepared, cfg))
            if batch[-1].error is None and batch[-1].info is not None and batch[-1].info.note:
                report.notes.append((prepared.path, f"{prepared.path}: {batch[-1].info.note}"))
            done += 1
            if len(batch) >= COMMIT_EVERY:
                commit()
            yield meter.progress("scan", done, total, prepared.path)
            if cancel.cancelled:
                break
    finally:
        stream.close()  # shuts the pool down, also when the driver closes this generator
        commit()  # what was already decoded is kept, whether we finish, break or are closed
    report.cancelled = cancel.cancelled or done < total
    return report


def reembed_job(library, features_cache, embedder, cancel: Optional[CancelToken] = None
                ) -> Generator[Progress, None, ReembedReport]:
    """Give every ok track a vector for ``embedder``'s model, from the features cache.

    No decoding unless a track's cache entry is missing.  Resumable: tracks that already have a
    vector for this model are skipped.
    """
    cancel = cancel or CancelToken()
    cfg, model_id = embedder.info.frontend, embedder.info.id
    analysers = analysis.for_reembed(embedder)
    # Every model-dependent result of a track is committed in one transaction with its vector, so
    # "has a vector for this model" is "is done".
    todo, skipped = store.tracks_without_vector(library, model_id)
    report = ReembedReport(model_id=model_id, skipped=skipped)
    meter = RateMeter()
    total = len(todo)
    yield meter.progress("reembed", 0, total, f"{total} tracks to embed with model {model_id}")
    batch: list[tuple[int, PreparedTrack]] = []
    fresh: set[int] = set()

    def commit() -> None:
        if batch:
            bad, analysed = drop_non_finite(analysis.analyse(analysers, [p for _, p in batch]))
            report.failed.extend((batch[i][1].path, f"while embedding {batch[i][1].path}: {NON_FINITE_RESULT}")
                                 for i in sorted(bad))
            kept = [item for i, item in enumerate(batch) if i not in bad]
            store.commit_analysed(library, features_cache, cfg, [(tid, p, tid in fresh) for tid, p in kept],
                                  analysed)
            report.embedded += len(kept)
            batch.clear()

    done = 0
    try:
        for track_id, path in todo:
            x = store.cached_features(features_cache, track_id, cfg)
            full = None if x is None else store.cached_full_logmel(features_cache, track_id, cfg)
            if full is None:  # sections need the whole log-mel: without it, decode once more
                prepared = decoding.prepare_track(path, cfg)
                if prepared.error is not None:
                    report.failed.append((path, prepared.error))
                else:
                    fresh.add(track_id)
                    report.decoded += 1
                    batch.append((track_id, prepared))
            else:
                report.from_cache += 1
                batch.append((track_id, PreparedTrack(path, None, None, None, logmel=x, full_logmel=full)))
            done += 1
            if len(batch) >= COMMIT_EVERY:
                commit()
            yield meter.progress("reembed", done, total, path)
            if cancel.cancelled:
                break
    finally:
        commit()
    report.cancelled = cancel.cancelled or done < total
    return report

