"""The backfill: complete the tracks an older songsim scanned, without scanning them again.

A library scanned before section search (issue 10) has track vectors but no section vectors, and
one scanned before tempo and key (issue 12) has no descriptors; a rescan skips those files because
they did not change.  :func:`backfill_job` finds the ok tracks lacking section vectors for the active
model (``Library.tracks_without_sections``) or never described (``tracks_without_descriptors``) and
computes only what each lacks, with the scan's own analysers (core/analysis):

- section vectors from the features cache's whole log-mel when it is there (no decoding);
- otherwise, and always for tempo and key (they need the audio), one decode of the file
  (core.decoding.prepare_track: core/full_decode.py) in the scan's process pool.

It follows the scan's rules: a generator yielding Progress per track and stoppable at every yield,
``COMMIT_EVERY`` tracks per transaction (a crash loses at most one batch; the next run skips what was
committed), a file that fails is reported and the others go on.  A file that changed since its scan
is left alone (its vector is stale too: a rescan handles it).  The GUI runs it after start-up, the
CLI as ``songsim backfill``; it holds the writer lock, giving way to any other writer (service.py).
"""

from __future__ import annotations

from typing import Callable, Generator, Optional

from songsim_desktop.core import decoding
from songsim_desktop.core import job_store as store
from songsim_desktop.core.analysis import MusicalDescriptors, SectionVectors
from songsim_desktop.core.decoding import PreparedTrack
from songsim_desktop.core.job_store import Incomplete
from songsim_desktop.core.jobs import COMMIT_EVERY, NON_FINITE_RESULT, drop_non_finite
from songsim_desktop.core.progress import CancelToken, Progress, RateMeter
from songsim_desktop.core.reports import BackfillReport
from songsim_desktop.core.scan import identity_of

STAGE = "backfill"
CHANGED_SINCE_SCAN = "it changed since it was scanned (scan again to update it)"


def backfill_job(library, features_cache, embedder, cancel: Optional[CancelToken] = None,
                 workers: Optional[int] = None, decoder_log: Optional[str] = None
                 ) -> Generator[Progress, None, BackfillReport]:
    """Give every ok track the section vectors of ``embedder``'s model and the tempo and key it lacks."""
    cancel = cancel or CancelToken()
    workers = decoding.default_workers() if workers is None else workers
    cfg, model_id = embedder.info.frontend, embedder.info.id
    todo = store.incomplete_tracks(library, model_id)
    report = BackfillReport(model_id=model_id, to_do=len(todo))
    describer = MusicalDescriptors()
    wanted = [(SectionVectors(embedder), lambda item: item.sections), (describer, lambda item: item.descriptors)]
    meter = RateMeter()
    total = len(todo)
    yield meter.progress(STAGE, 0, total, f"{total} tracks to complete (section vectors, tempo and key)")
    batch: list[tuple[Incomplete, PreparedTrack, bool]] = []  # (what it lacks, its input, decoded now)

    def commit() -> None:
        if batch:
            bad, analysed = drop_non_finite([(a, _analyse_wanted(a, wants, batch)) for a, wants in wanted])
            report.failed.extend((batch[i][1].path, f"while completing {batch[i][1].path}: {NON_FINITE_RESULT}")
                                 for i in sorted(bad))
            kept = [entry for i, entry in enumerate(batch) if i not in bad]
            store.commit_analysed(library, features_cache, cfg, [(item.track_id, p, fresh) for item, p, fresh in kept],
                                  analysed)
            _count(report, kept, dict(analysed)[describer])
            batch.clear()

    def add(item: Incomplete, prepared: PreparedTrack, fresh: bool) -> None:
        batch.append((item, prepared, fresh))
        if len(batch) >= COMMIT_EVERY:
            commit()

    to_decode: list[Incomplete] = []
    done = 0
    try:
        # Section vectors alone, from the cached whole log-mel: no decoding, in this process.
        for item in todo:
            full = None if item.descriptors else store.cached_full_logmel(features_cache, item.track_id, cfg)
            reason = None if full is not None else _changed_since_scan(library, item)
            if full is not None:
                report.from_cache += 1
                add(item, PreparedTrack(item.path, None, None, None, full_logmel=full), False)
            elif reason is not None:
                report.failed.append((item.path, reason))
            else:
                to_decode.append(item)  # counted done when its decode comes back
            done += full is not None or reason is not None
            yield meter.progress(STAGE, done, total, item.path)
            if cancel.cancelled:
                break
        # The rest: one decode each (crops, whole log-mel, tempo and key), in the scan's process pool.
        if not cancel.cancelled and to_decode:
            by_path = {item.path: item for item in to_decode}
            stream = decoding.prepared_stream(list(by_path), cfg, workers, cancel, decoder_log=decoder_log)
            try:
                for prepared in stream:
                    item = by_path[prepared.path]
                    reason = prepared.error or _changed_since_scan(library, item, prepared)
                    if reason is None:
                        report.decoded += 1
                        add(item, prepared, True)
                    else:
                        report.failed.append((item.path, reason))
                    done += 1
                    yield meter.progress(STAGE, done, total, item.path)
                    if cancel.cancelled:
                        break
            finally:
                stream.close()  # shuts the pool down, also when the driver closes this generator
    finally:
        commit()  # what was already computed is kept, whether we finish, break or are closed
    report.cancelled = cancel.cancelled or done < total
    return report


def _analyse_wanted(analyser, wants: Callable[[Incomplete], bool], batch: list) -> list:
    """``analyser``'s results in the order of ``batch``, None for the tracks that do not lack them."""
    chosen = [i for i, (item, _p, _fresh) in enumerate(batch) if wants(item)]
    results = analyser.analyse([batch[i][1] for i in chosen]) if chosen else []
    out: list = [None] * len(batch)
    for i, result in zip(chosen, results):
        out[i] = result
    return out


def _count(report: BackfillReport, kept: list, descriptor_results: list) -> None:
    for (item, _p, _fresh), described in zip(kept, descriptor_results):
        report.sections += item.sections
        if item.descriptors:
            if described:
                report.described += 1
            else:
                report.undescribable += 1


def _changed_since_scan(library, item: Incomplete, prepared: Optional[PreparedTrack] = None) -> Optional[str]:
    """Why ``item``'s file cannot be used for its stored vector, or None: it must be the file that
    was scanned (``prepared``'s identity, or the file's now), else its results would not match."""
    record = library.track(item.track_id)
    if prepared is not None:
        now = (prepared.size, prepared.mtime_ns)
    else:
        try:
            found = identity_of(item.path)
        except OSError as err:
            return f"while completing {item.path}: {err.strerror or err}"
        now = (found.size, found.mtime_ns)
    if record is None or record.state != "ok" or now != (record.size, record.mtime_ns):
        return f"while completing {item.path}: {CHANGED_SINCE_SCAN}"
    return None
