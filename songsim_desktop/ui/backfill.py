"""The backfill in the background: tracks an older songsim scanned get their section vectors, tempo and
key after start-up (core/backfill.py via service.backfill_job), without the user asking.

It runs once the start-up re-embed (a newly shipped default model) is done, on a worker, reporting
through the status line.  It never stands in the user's way: a scan, model switch or fine-tune
started meanwhile makes it stop at its next track (the writer lock's give-way, core/writer_lock.py),
and it tries again ``RETRY_MS`` later, resuming where it stopped, until nothing is left.
"""

from __future__ import annotations

import logging
from typing import Optional

from PySide6.QtCore import QObject, QTimer

from songsim_desktop.core.writer_lock import WriterBusy
from songsim_desktop.ui.workers import Worker

RETRY_MS = 60_000  # after giving way to another writer, or finding one at work


class BackfillRunner(QObject):
    """``ctx.backfill``: ``start()`` once at start-up; it retries by itself after giving way."""

    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        self.ctx = ctx
        self.worker: Optional[Worker] = None
        self.retry_timer = QTimer(self)
        self.retry_timer.setSingleShot(True)
        self.retry_timer.setInterval(RETRY_MS)
        self.retry_timer.timeout.connect(self.start)

    @property
    def running(self) -> bool:
        return self.worker is not None and not self.worker.is_done

    def start(self) -> Optional[Worker]:
        """Complete what older scans left out, in a worker (None: running already, or a read-only library)."""
        if self.running or getattr(self.ctx.service.library, "read_only", False):
            return None
        self.worker = self.ctx.pool.run(
            self.ctx.service.backfill_job, workers=self.ctx.scan_workers, name="backfill",
            on_progress=lambda p: self.ctx.message.emit(f"completing older tracks: {p.line()}", logging.DEBUG),
            on_result=self._done, on_error=self._failed)
        return self.worker

    def _done(self, report) -> None:
        for path, reason in report.failed:
            self.ctx.notify(reason if path in reason else f"{path}: {reason}", logging.WARNING)
        if report.sections or report.described or report.undescribable:
            self.ctx.notify(f"completed tracks scanned by an older songsim: {report.sections} got section vectors, "
                            f"{report.described} tempo and key" + (" (more after the current task)" if report.gave_way
                                                                   else ""))
            self.ctx.refresh_tracks()  # the Tempo and Key columns fill in
        if report.gave_way:
            self.retry_timer.start()

    def _failed(self, err) -> None:
        if isinstance(err, WriterBusy):  # another writer (another songsim, a task of this window) is at work
            self.retry_timer.start()
            return
        self.ctx.report_error(err, "completing tracks scanned by an older songsim")
