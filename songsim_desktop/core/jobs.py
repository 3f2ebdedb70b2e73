"""The long jobs on the library: scanning a folder and re-embedding with another model.

Both are generators that yield :class:`Progress` after every file and return a report, so the CLI
and the GUI drive them the same way and can stop them at any yield.  Work is committed in batches,
each batch in ONE transaction (track row + vectors + tags), so a killed run loses at most one batch
and the next run skips everything committed (nothing is embedded twice).

Decoding and the log-mel front end run in a process pool ("spawn": safe beside Qt's threads and in
a PyInstaller bundle); the main process embeds in batches with onnxruntime and owns the database.
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import multiprocessing.connection
import os
import signal
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Generator, Iterator, Optional

import numpy as np

from songsim_desktop.core import analysis, audio, metadata
from songsim_desktop.core import job_store as store
from songsim_desktop.core.features import FrontEndConfig, logmel_batch
from songsim_desktop.core.library import normalise_root
from songsim_desktop.core.progress import CancelToken, Progress, RateMeter
from songsim_desktop.core.reports import ReembedReport, ScanReport
from songsim_desktop.core.scan import identity_of, plan
from songsim_desktop.errors import DecodeError

COMMIT_EVERY = 16
CHANGED_WHILE_SCANNING = "changed while scanning (it was rewritten while songsim read it; scan again)"
DELETED_WHILE_SCANNING = "deleted while scanning (it was removed or moved after the folder was listed)"


@dataclass
class PreparedTrack:
    """What a worker made of one file: everything the main process needs except the embedding."""
    path: str
    size: Optional[int]
    mtime_ns: Optional[int]
    info: Optional[audio.AudioInfo]
    tags: dict = field(default_factory=dict)
    logmel: Optional[np.ndarray] = None  # (n_crops, 1, n_mels, crop_frames) float32
    error: Optional[str] = None


def prepare_track(path: str, cfg: FrontEndConfig) -> PreparedTrack:
    """Decode one file's crops and compute its model input (runs in a worker process).

    Never raises: every failure comes back as ``error`` so one bad file cannot stop a scan.  The
    file is stat'ed before and after decoding; if it changed in between, the samples may mix two
    versions, so the result is an error rather than a vector stamped with the wrong identity.
    """
    try:
        before = identity_of(path)
    except FileNotFoundError:
        return PreparedTrack(path, None, None, None, error=f"while reading {path}: {DELETED_WHILE_SCANNING}")
    except OSError as err:
        return PreparedTrack(path, None, None, None, error=f"while reading {path}: {err.strerror or err}")
    info = logmel = error = None
    tags: dict = {}
    try:
        crops, info = audio.read_crops(path, cfg)
        logmel = logmel_batch(crops, cfg)
        if not np.isfinite(logmel).all():  # the embedder must never see NaN (it poisons the index)
            raise DecodeError("the spectrogram has NaN or infinite values (damaged audio data)", path=path)
    except DecodeError as err:
        error = str(err)
    except MemoryError:
        error = f"while decoding {path}: out of memory"
    except Exception as err:  # noqa: BLE001 - a decoder bug on one file must not end the scan
        error = f"while decoding {path}: {type(err).__name__}: {err}"
    if error is None:
        try:
            tags = metadata.read_tags(path)
        except Exception:  # noqa: BLE001 - tags are a bonus; a broken tag block keeps the audio
            tags = {}
    try:
        after = identity_of(path)
    except FileNotFoundError:
        return PreparedTrack(path, before.size, before.mtime_ns, None,
                             error=f"while decoding {path}: {DELETED_WHILE_SCANNING}")
    except OSError:
        after = None
    if after != before:
        return PreparedTrack(path, before.size, before.mtime_ns, None, error=f"while decoding {path}: "
                             + CHANGED_WHILE_SCANNING)
    return PreparedTrack(path, before.size, before.mtime_ns, info, tags, logmel, error)


def recheck(prepared: PreparedTrack, cfg: FrontEndConfig) -> PreparedTrack:
    """Just before commit: if the file changed since it was prepared, prepare it once more.

    A file replaced while the scan runs thus ends either indexed with its new identity and new
    content, or as an error "changed while scanning" -- never old content under the new identity.
    """
    try:
        now = identity_of(prepared.path)
    except FileNotFoundError:
        return PreparedTrack(prepared.path, prepared.size, prepared.mtime_ns, None,
                             error=f"while decoding {prepared.path}: {DELETED_WHILE_SCANNING}")
    except OSError:
        now = None
    if now is not None and (now.size, now.mtime_ns) == (prepared.size, prepared.mtime_ns):
        return prepared
    again = prepare_track(prepared.path, cfg)
    try:
        stable = identity_of(prepared.path)
    except OSError:
        stable = None
    if again.error is None and stable is not None and (stable.size, stable.mtime_ns) == (again.size, again.mtime_ns):
        return again
    if again.error is not None and again.size is not None:
        return again  # the new file is genuinely bad: report its own reason
    return PreparedTrack(prepared.path, prepared.size, prepared.mtime_ns, None,
                         error=f"while decoding {prepared.path}: {CHANGED_WHILE_SCANNING}")


def _worker_init(decoder_log: Optional[str] = None) -> None:
    """Set up a decode worker process.

    Decoders print to the C-level stderr (libmpg123 reports every MP3 seek that lands without its
    bit reservoir as an "error", though the samples are fine): in a worker that noise would flood
    the CLI's progress and the GUI's terminal, so the worker's fd 2 goes to ``decoder_log`` (kept
    for diagnosing a real decoder crash).  Per-file failures come back as values, not on stderr.

    Ctrl-C in a terminal reaches the whole process group: only the main process may act on it (it
    cancels cleanly and keeps committed work); a worker dying of it would fail its file.  And if
    the main process is killed outright (SIGKILL, a crash), nothing tells a pool worker: it would
    wait on its task queue forever, so a thread watches the parent and ends the worker with it.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if decoder_log:
        try:
            fd = audio.open_decoder_log(decoder_log)
            os.dup2(fd, 2)
            os.close(fd)
        except OSError:
            pass  # an unwritable log only means the noise stays on the terminal
    parent = multiprocessing.parent_process()
    if parent is not None:
        threading.Thread(target=_exit_with_parent, args=(parent.sentinel,), daemon=True,
                         name="songsim-parent-watch").start()


def _exit_with_parent(sentinel: int) -> None:
    multiprocessing.connection.wait([sentinel])
    os._exit(1)


# A decoder that hangs (a damaged or hostile file) must not hang the scan.  Each file gets a limit
# scaled to its duration, estimated from its size at the lowest bitrate a music file has (so a
# duration is never underestimated); crops decode many times faster than real time.
DECODE_LIMIT_BASE_S = 60.0
DECODE_LIMIT_PER_AUDIO_S = 0.05  # 20x slower than needed on a typical machine is still "hung"
_LOWEST_BYTES_PER_S = 4000  # 32 kbit/s


def decode_time_limit(path: str) -> float:
    """Seconds a worker may spend on ``path`` before it is deemed hung and replaced."""
    try:
        size = os.stat(path).st_size
    except OSError:
        size = 0
    return float(round(DECODE_LIMIT_BASE_S + DECODE_LIMIT_PER_AUDIO_S * size / _LOWEST_BYTES_PER_S))


def _kill_workers(pool: cf.ProcessPoolExecutor) -> None:
    """End a pool whose worker hangs: shutdown() alone would wait for the hung task forever."""
    for process in list((getattr(pool, "_processes", None) or {}).values()):
        try:
            process.kill()
        except (OSError, AttributeError):
            pass  # already gone
    pool.shutdown(wait=False, cancel_futures=True)


def default_workers() -> int:
    return max(1, min(4, (os.cpu_count() or 2) - 1))


def prepared_stream(paths: list[str], cfg: FrontEndConfig, workers: int, cancel: CancelToken,
                    work: Optional[Callable[[str, FrontEndConfig], PreparedTrack]] = None,
                    decoder_log: Optional[str] = None,
                    time_limit: Callable[[str], float] = decode_time_limit) -> Iterator[PreparedTrack]:
    """PreparedTracks for ``paths`` (in completion order); ``workers=0`` works in this process.

    At most ``2 * workers`` files are in flight, so memory stays bounded however big the library.
    A worker that dies (a decoder crashing on a malicious file) breaks the whole pool: it is
    rebuilt, and the files that were in flight are retried one at a time, so only the file that
    crashes on its own is reported -- never its innocent neighbours.  A file not done within
    ``time_limit(path)`` seconds of its submission is treated alike: its pool is killed and
    rebuilt, the others in flight go back to the queue, and the file is retried alone; if it
    overruns alone too, it fails ("decoding took longer than N s").  (``workers=0`` has no
    limit: a hung decoder in this very process cannot be stopped.)
    """
    work = work or prepare_track  # looked up now, so a test can stand in for the decoder
    if workers <= 0:
        for path in paths:
            if cancel.cancelled:
                return
            yield work(path, cfg)
        return
    queue = list(reversed(paths))
    suspects: list[str] = []  # were in flight when the pool broke, or overran: retried alone
    context = multiprocessing.get_context("spawn")

    def new_pool() -> cf.ProcessPoolExecutor:
        return cf.ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_worker_init,
                                      initargs=(decoder_log,))

    pool = new_pool()
    in_flight: dict[cf.Future, tuple[str, bool, float]] = {}  # future -> (path, ran alone, limit)
    deadlines: dict[cf.Future, float] = {}

    def submit(path: str, alone: bool) -> None:
        limit = time_limit(path)
        future = pool.submit(work, path, cfg)
        in_flight[future] = (path, alone, limit)
        deadlines[future] = time.monotonic() + limit

    try:
        while queue or suspects or in_flight:
            if not cancel.cancelled:
                if suspects and not in_flight:
                    submit(suspects.pop(), True)
                while not suspects and queue and len(in_flight) < 2 * workers:
                    submit(queue.pop(), False)
            if cancel.cancelled or not in_flight:
                return
            wait_s = max(0.0, min(deadlines.values()) - time.monotonic())
            finished, _ = cf.wait(in_flight, timeout=wait_s, return_when=cf.FIRST_COMPLETED)
            broken = False
            for future in finished:
                path, alone, _limit = in_flight.pop(future)
                deadlines.pop(future)
                try:
                    result = future.result()
                except cf.process.BrokenProcessPool:
                    broken = True
                    if alone:
                        yield PreparedTrack(path, None, None, None,
                                            error=f"while decoding {path}: the decoder crashed on this file")
                    else:
                        suspects.append(path)
                    continue
                except Exception as err:  # noqa: BLE001 - e.g. a result that failed to pickle
                    result = PreparedTrack(path, None, None, None,
                                           error=f"while decoding {path}: {type(err).__name__}: {err}")
                yield result
            if broken:
                suspects.extend(path for path, _alone, _limit in in_flight.values())
            elif not finished:  # a deadline passed
                now = time.monotonic()
                for future, (path, alone, limit) in in_flight.items():
                    if deadlines[future] > now:
                        queue.append(path)  # innocent: only its worker pool dies with the hung one
                    elif alone:
                        yield PreparedTrack(path, None, None, None, error=(
                            f"while decoding {path}: decoding took longer than {limit:.0f} s "
                            "(the decoder hung on this file; its worker was replaced)"))
                    else:
                        suspects.append(path)
            if broken or not finished:
                in_flight.clear()
                deadlines.clear()
                _kill_workers(pool)
                pool = new_pool()
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


NON_FINITE_RESULT = "the model gave NaN or infinity for this file, so it is not indexed"


def _drop_non_finite(analysed: list) -> tuple[set[int], list]:
    """A model that gives NaN or infinity for one file (a diverged fine-tune) fails that file, not its
    whole batch: (indexes of the tracks with such a result, ``analysed`` without their results)."""
    def finite(result) -> bool:
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
    workers = default_workers() if workers is None else workers
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
            bad, analysed = _drop_non_finite(analysis.analyse(analysers, ok))
            for i in bad:
                ok[i].error, ok[i].logmel = f"while embedding {ok[i].path}: {NON_FINITE_RESULT}", None
            notify(store.commit_prepared(library, features_cache, cfg, root_id, root_path, batch, analysed,
                                         folder_tags=folder_tags, report=report, known_paths=known))
            batch.clear()

    stream = prepared_stream([f.path for f in todo.to_process], cfg, workers, cancel, decoder_log=decoder_log)
    done = 0
    try:
        for prepared in stream:
            batch.append(recheck(prepared, cfg))
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
            bad, analysed = _drop_non_finite(analysis.analyse(analysers, [p for _, p in batch]))
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
            if x is None:
                prepared = prepare_track(path, cfg)
                if prepared.error is not None:
                    report.failed.append((path, prepared.error))
                else:
                    fresh.add(track_id)
                    report.decoded += 1
                    batch.append((track_id, prepared))
            else:
                report.from_cache += 1
                batch.append((track_id, PreparedTrack(path, None, None, None, logmel=x)))
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

