"""Workers: progress, result, errors and abort-at-the-next-yield, as the GUI relies on them."""

from __future__ import annotations

import threading

from songsim_desktop.core.progress import Progress
from songsim_desktop.errors import DecodeError
from songsim_desktop.ui.workers import Worker, WorkerPool


def counting_job(n, log, cancel=None, gate=None):
    try:
        for i in range(n):
            if gate is not None:
                gate.wait(5)
            log.append(i)
            yield Progress("count", i + 1, n)
        return f"counted {n}"
    finally:
        log.append("closed")


def test_generator_reports_progress_and_result(qtbot):
    pool, log, seen = WorkerPool(), [], []
    worker = Worker(counting_job, 5, log)
    order = []
    worker.signals.progress.connect(seen.append)
    worker.signals.result.connect(lambda value: order.append(value))
    worker.signals.finished.connect(lambda: order.append("finished"))
    with qtbot.waitSignals([worker.signals.result, worker.signals.finished], order="strict"):
        pool.start(worker)
    assert order == ["counted 5", "finished"]
    assert log == [0, 1, 2, 3, 4, "closed"]
    # Fast progress is coalesced, but the last one always arrives.
    assert seen and seen[-1].done == 5
    assert worker.kwargs["cancel"] is worker.token  # the job got the worker's CancelToken


def test_abort_stops_at_the_next_yield_and_closes_the_job(qtbot):
    pool, log = WorkerPool(), []
    gate = threading.Event()
    worker = Worker(counting_job, 100, log, gate=gate)
    results = []
    worker.signals.result.connect(results.append)
    with qtbot.waitSignal(worker.signals.cancelled, timeout=10000):
        pool.start(worker)
        worker.abort()  # before the first item is released
        assert worker.token.cancelled
        gate.set()
    qtbot.waitUntil(lambda: worker.delivered)
    assert results == []
    assert log[-1] == "closed" and len(log) <= 2  # at most the one item in flight, then the finally block


def test_errors_arrive_as_exceptions_not_crashes(qtbot):
    pool = WorkerPool()

    def failing():
        raise DecodeError("file is empty (0 bytes)", path="/music/a.mp3")

    worker = Worker(failing)
    with qtbot.waitSignal(worker.signals.error) as blocker:
        pool.start(worker)
    err = blocker.args[0]
    assert isinstance(err, DecodeError)
    assert str(err) == "while decoding /music/a.mp3: file is empty (0 bytes)"


def test_plain_functions_and_pool_bookkeeping(qtbot):
    pool = WorkerPool()
    got = []
    worker = pool.run(lambda a, b: a + b, 2, 3, on_result=got.append)
    assert "cancel" not in worker.kwargs  # only given to jobs that accept it
    qtbot.waitUntil(lambda: pool.idle)
    assert got == [5] and worker.delivered


def test_job_that_notices_the_token_itself_reports_cancelled(qtbot):
    class Report:
        cancelled = True

    def cooperative(cancel=None):
        yield Progress("x", 0, 1)
        cancel.cancel()  # e.g. a decode pool noticed the request and returned early
        return Report()

    pool = WorkerPool()
    worker = Worker(cooperative)
    with qtbot.waitSignal(worker.signals.cancelled):
        pool.start(worker)


def test_short_jobs_are_not_starved_by_long_ones(qtbot):
    pool = WorkerPool()
    release = threading.Event()

    def long_job(cancel=None):
        while not release.is_set() and not cancel.cancelled:
            yield Progress("long", 0, 1)
            release.wait(0.01)

    longs = [pool.run(long_job) for _ in range(3)]  # more than this machine's 2 cores
    got = []
    pool.run(lambda: "answer", on_result=got.append)
    try:
        qtbot.waitUntil(lambda: got == ["answer"], timeout=10000)
    finally:
        release.set()
        qtbot.waitUntil(lambda: all(w.delivered for w in longs))
