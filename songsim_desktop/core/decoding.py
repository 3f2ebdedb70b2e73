"""Decoding for the long jobs: one file -> its model input, in a pool of worker processes.

``prepare_track`` decodes a file once, whole, and computes the log-mel of its crops and of the whole
track (never raising: a failure is the file's ``error``); ``recheck`` makes sure the file did not change while it was read; and
``prepared_stream`` runs ``prepare_track`` in a "spawn" process pool (safe beside Qt's threads and in
a PyInstaller bundle) with a time limit per file, replacing a crashed or hung worker and retrying its
file alone.  core.jobs drives these and owns the database.
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
from typing import Callable, Iterator, Optional

import numpy as np
from threadpoolctl import threadpool_limits

from songsim_desktop.core import audio, full_decode, metadata
from songsim_desktop.core.features import FrontEndConfig, logmel_batch
from songsim_desktop.core.progress import CancelToken
from songsim_desktop.core.scan import identity_of
from songsim_desktop.errors import DecodeError

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
    #: per-file descriptors from the decoded samples (core.analysis.sample_hooks), e.g. tempo and key
    descriptors: dict = field(default_factory=dict)
    #: log-mel of the whole track (n_mels, frames) float32, for section vectors (core.full_decode)
    full_logmel: Optional[np.ndarray] = None


def prepare_track(path: str, cfg: FrontEndConfig) -> PreparedTrack:
    """Decode one file once, whole (core.full_decode): its model input (the crops' log-mel), its
    whole log-mel for section vectors and its sample descriptors (runs in a worker process).

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
    info = logmel = full = error = None
    tags: dict = {}
    descriptors: dict = {}
    try:
        decoded = full_decode.decode_full(path, cfg)  # one decode: crops, whole log-mel, descriptors
        info, full, descriptors = decoded.info, decoded.full_logmel, decoded.descriptors
        logmel = logmel_batch(decoded.crops, cfg)
        if not np.isfinite(logmel).all():  # the embedder must never see NaN (it poisons the index)
            raise DecodeError("the spectrogram has NaN or infinite values (damaged audio data)", path=path)
        if full is not None and not np.isfinite(full).all():
            full = None  # a damaged stretch outside the crops costs the file its sections, not its vector
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
    return PreparedTrack(path, before.size, before.mtime_ns, info, tags, logmel, error, descriptors,
                         None if error else full)


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
    # The pool's processes are the parallelism: BLAS threads inside each (the log-mel's mel matrix
    # product) would only contend for the same cores, and their spinning doubled the one-core cost
    # of a track's log-mel (docs/benchmarks.md, "Model quality").
    threadpool_limits(1)
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
