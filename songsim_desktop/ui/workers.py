"""Background workers: run core jobs on a QThreadPool and report back through Qt signals.

napari style.  A job is either a generator that yields ``core.progress.Progress`` and returns its
result (scan, re-embed, train) or a plain function (a query, a tracks() fetch, a spectrogram).  The
GUI thread only ever receives signals; it never decodes, embeds, computes a spectrogram or trains.

``Worker.abort()`` stops a generator at its next yield and also sets the ``CancelToken`` handed to
the job, so code deep inside the job (a decode pool, a training step) can stop early too.
"""

from __future__ import annotations

import inspect
import logging
import time
from typing import Any, Callable, Optional

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

from songsim_desktop.core.progress import CancelToken, Progress
from songsim_desktop.errors import Cancelled

log = logging.getLogger(__name__)

# Progress faster than this is coalesced: the GUI repaints a bar, it need not see every track.
PROGRESS_INTERVAL_S = 0.05
# Not the CPU count (Qt's default): long jobs (scan, training) would then hold every thread on a 2-core
# machine and a query or a preview would wait for them.  The threads mostly wait (decode processes,
# onnxruntime and numpy release the GIL), so a few more than cores is cheap.
MAX_THREADS = 8


class WorkerSignals(QObject):
    started = Signal()
    progress = Signal(object)  # Progress
    result = Signal(object)  # the job's return value
    error = Signal(object)  # the exception
    cancelled = Signal()
    finished = Signal()  # always last, after result / error / cancelled


class Worker(QRunnable):
    """Runs ``fn(*args, cancel=token, **kwargs)`` (``cancel`` only if fn accepts it) off the GUI thread."""

    def __init__(self, fn: Callable[..., Any], *args, name: str = "", **kwargs) -> None:
        super().__init__()
        self.setAutoDelete(False)  # the pool keeps a Python reference; Qt must not delete it under us
        self.fn = fn
        self.args = args
        self.kwargs = kwargs
        self.name = name or getattr(fn, "__name__", "job")
        self.token = CancelToken()
        self.signals = WorkerSignals()
        self.is_running = False
        self.is_done = False
        self.delivered = False  # set on the GUI thread once `finished` (the last signal) was handled
        if _accepts_cancel(fn):
            self.kwargs.setdefault("cancel", self.token)

    def abort(self) -> None:
        """Ask the job to stop; it stops at its next yield (or when it checks the token)."""
        self.token.cancel()

    @property
    def abort_requested(self) -> bool:
        return self.token.cancelled

    def run(self) -> None:  # called on a pool thread
        self.is_running = True
        self.signals.started.emit()
        try:
            value = self.fn(*self.args, **self.kwargs)
            if inspect.isgenerator(value):
                value = self._drive(value)
            if self.token.cancelled and _looks_cancelled(value):
                self.signals.cancelled.emit()
            else:
                self.signals.result.emit(value)
        except Cancelled:
            self.signals.cancelled.emit()
        except Exception as err:  # noqa: BLE001 - every failure goes to the GUI as a message
            log.debug("worker %s failed", self.name, exc_info=True)
            self.signals.error.emit(err)
        finally:
            self.is_running = False
            self.is_done = True
            self.signals.finished.emit()

    def _drive(self, job) -> Any:
        last_emit = 0.0
        pending: Optional[Progress] = None
        try:
            while True:
                report = next(job)
                now = time.monotonic()
                is_last = isinstance(report, Progress) and report.total and report.done >= report.total
                if is_last or now - last_emit >= PROGRESS_INTERVAL_S or not isinstance(report, Progress):
                    self.signals.progress.emit(report)
                    last_emit, pending = now, None
                else:
                    pending = report
                if self.token.cancelled:
                    job.close()  # runs the job's finally blocks: nothing half-written survives
                    raise Cancelled()
        except StopIteration as stop:
            if pending is not None:
                self.signals.progress.emit(pending)
            return stop.value


def _accepts_cancel(fn: Callable) -> bool:
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False
    return "cancel" in params


def _looks_cancelled(value: Any) -> bool:
    """Reports carry ``cancelled=True`` when the job itself noticed the token and stopped early."""
    return bool(getattr(value, "cancelled", False))


class WorkerPool(QObject):
    """Owns the running workers (so Python keeps them alive) and the QThreadPool they run on."""

    def __init__(self, parent: Optional[QObject] = None, max_threads: int = MAX_THREADS) -> None:
        super().__init__(parent)
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(max_threads)
        self._workers: set[Worker] = set()

    def start(self, worker: Worker, *, on_result=None, on_error=None, on_progress=None,
              on_cancelled=None, on_finished=None) -> Worker:
        for signal, slot in ((worker.signals.result, on_result), (worker.signals.error, on_error),
                             (worker.signals.progress, on_progress), (worker.signals.cancelled, on_cancelled),
                             (worker.signals.finished, on_finished)):
            if slot is not None:
                signal.connect(slot)
        self._workers.add(worker)
        # Connected last, so it runs after every handler above: "delivered" means the GUI has seen it all.
        worker.signals.finished.connect(lambda w=worker: self._delivered(w))
        self.pool.start(worker)
        return worker

    def run(self, fn: Callable, *args, name: str = "", **handlers_and_kwargs) -> Worker:
        handlers = {k: handlers_and_kwargs.pop(k) for k in list(handlers_and_kwargs) if k.startswith("on_")}
        return self.start(Worker(fn, *args, name=name, **handlers_and_kwargs), **handlers)

    def _delivered(self, worker: Worker) -> None:
        worker.delivered = True
        self._workers.discard(worker)

    @property
    def idle(self) -> bool:
        """No worker running, and every signal of the finished ones handled on the GUI thread."""
        return not self._workers

    @property
    def active(self) -> list[Worker]:
        return [w for w in self._workers if not w.is_done]

    def abort_all(self) -> None:
        for worker in list(self._workers):
            worker.abort()

    def wait(self, msecs: int = 30000) -> bool:
        """Block until every worker has finished (used at shutdown and in tests)."""
        return self.pool.waitForDone(msecs)
