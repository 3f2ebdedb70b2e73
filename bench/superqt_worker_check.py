"""Would superqt's thread_worker serve songsim as well as ui/workers.py?  Six facts, measured.

superqt is not a songsim dependency; to re-run this (issue 9, docs/architecture.md "ui"):

    pip install --target /tmp/superqt superqt
    PYTHONPATH=/tmp/superqt QT_QPA_PLATFORM=offscreen .venv/bin/python bench/superqt_worker_check.py

Each line states what songsim's Worker guarantees (tests/ui/test_workers.py) and what superqt did.
"""

from __future__ import annotations

import inspect
import os
import threading
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QThreadPool  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

import superqt  # noqa: E402
from superqt.utils import create_worker, thread_worker  # noqa: E402

app = QApplication([])
# PySide6 6.12.0 drops a reference to True on every Python emit() (bench/qt_signal_refcount.py); the
# ballast keeps this script alive through the 20,000 signals of check 5, whichever worker sends them.
_BALLAST = [True] * 10_000_000


def spin(done, seconds: float = 10.0) -> None:
    end = time.monotonic() + seconds
    while not done() and time.monotonic() < end:
        app.processEvents()
        time.sleep(0.002)
    app.processEvents()


def abort_runs_the_jobs_finally() -> str:
    log, gate = [], threading.Event()

    @thread_worker(ignore_errors=True)
    def job():
        try:
            for i in range(100):
                gate.wait(5)
                log.append(i)
                yield i
        finally:
            log.append("finally")

    worker, signals = job(), []
    for name in ("returned", "aborted", "finished"):
        getattr(worker, name).connect(lambda *_a, name=name: signals.append(name))
    worker.start()
    worker.quit()
    gate.set()
    spin(lambda: "finished" in signals)
    return f"signals {signals}; job's finally block ran: {'finally' in log}"


def terminal_signal_when_quit_races_the_end(runs: int = 200) -> str:
    counts = {"returned": 0, "aborted": 0, "neither": 0}
    for _ in range(runs):
        last_step = threading.Event()

        @thread_worker(ignore_errors=True)
        def short():
            yield 1
            last_step.set()
            time.sleep(0.001)
            return "report"

        worker, got, done = short(), [], []
        worker.returned.connect(lambda *_: got.append("returned"))
        worker.aborted.connect(lambda: got.append("aborted"))
        worker.finished.connect(lambda: done.append(1))
        worker.start()
        last_step.wait(5)
        worker.quit()
        spin(lambda: done)
        counts[got[0] if got else "neither"] += 1
    return f"{runs} runs: {counts}"


def short_job_beside_three_long_ones() -> str:
    pool = QThreadPool.globalInstance()
    release, answer = threading.Event(), []

    @thread_worker(ignore_errors=True)
    def long_job():
        while not release.is_set():
            yield 0
            release.wait(0.05)

    longs = [long_job() for _ in range(3)]
    for worker in longs:
        worker.start()
    quick = create_worker(lambda: "answer", _ignore_errors=True)
    quick.returned.connect(answer.append)
    quick.start()
    spin(lambda: answer, 3.0)
    result = f"global pool of {pool.maxThreadCount()} threads; answered within 3 s: {bool(answer)}"
    release.set()
    spin(lambda: answer)
    pool.waitForDone(10000)
    return result


def signals_for_fast_progress(n: int = 20_000) -> str:
    @thread_worker(ignore_errors=True)
    def fast():
        yield from range(n)

    worker, count, done = fast(), [0], []
    worker.yielded.connect(lambda _v: count.__setitem__(0, count[0] + 1))
    worker.finished.connect(lambda: done.append(1))
    worker.start()
    spin(lambda: done, 60.0)
    return f"{n} yields -> {count[0]} signals queued to the GUI thread"


def function_returning_a_generator() -> str:
    def scan_job():
        yield 1
        return "report"

    worker, out = create_worker(lambda: scan_job(), _ignore_errors=True), []
    worker.returned.connect(out.append)
    worker.start()
    spin(lambda: out)
    return f"result delivered: {type(out[0]).__name__ if out else None} (not driven)"


def main() -> None:
    print(f"superqt {superqt.__version__}, {os.cpu_count()} cores")
    print("1 abort (songsim: job.close() runs the job's finally before `cancelled`):", abort_runs_the_jobs_finally())
    print("2 quit during the last step (songsim: always result or cancelled):",
          terminal_signal_when_quit_races_the_end())
    params = inspect.signature(create_worker).parameters
    print("3 a cancel token for code deep in the job (songsim: cancel=CancelToken):",
          "none" if "cancel" not in params else "yes")
    print("4 short query beside 3 long jobs (songsim: own pool of 8):", short_job_beside_three_long_ones())
    print("5 progress (songsim: coalesced to one per 50 ms):", signals_for_fast_progress())
    print("6 a plain callable that returns a generator (songsim: drives it):", function_returning_a_generator())
    os._exit(0)  # the ballast above must not be torn down by a binding that miscounts it


if __name__ == "__main__":
    main()
