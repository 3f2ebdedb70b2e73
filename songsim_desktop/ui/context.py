"""What the tabs share: the service, the worker pool, the player, the settings, the track list, the
background backfill, and one way to tell the user something (status line + log panel).

Tabs talk to each other only through this object's signals, so no tab holds another tab.
"""

from __future__ import annotations

import logging
from typing import Any, Optional

from PySide6.QtCore import QObject, Signal

from songsim_desktop.settings import Settings
from songsim_desktop.ui.backfill import BackfillRunner
from songsim_desktop.ui.models import TrackTableModel
from songsim_desktop.ui.player import Player
from songsim_desktop.ui.workers import Worker, WorkerPool

log = logging.getLogger("songsim.ui")


class AppContext(QObject):
    message = Signal(str, int)  # text, logging level: the status line and the log panel show it
    tracksChanged = Signal()  # tracks_model was refreshed
    modelsChanged = Signal()  # a model was trained or activated
    findSimilarRequested = Signal(int, str)  # track id, path (library -> search tab)
    queryFileRequested = Signal(str)  # path of a reference outside (or inside) the library
    addFolderRequested = Signal(str)  # a folder dropped on the window
    showTabRequested = Signal(str)  # a tab key (ui/tabs.py): bring that tab to the front
    searchAnswered = Signal(object)  # the QueryResult the search tab shows (the map highlights it)
    queryTracksRequested = Signal(list)  # track ids: search with them as one reference (map -> search tab)

    def __init__(self, service: Any, settings: Settings, player: Player, pool: Optional[WorkerPool] = None,
                 parent: Optional[QObject] = None) -> None:
        super().__init__(parent)
        self.service = service
        self.settings = settings
        self.player = player
        self.pool = pool or WorkerPool(self)
        self.tracks_model = TrackTableModel(self)
        # Decode processes for scans; None = the core's default pool.  Tests use 0 (in-process), because
        # spawning decoders costs seconds that a 6-track library does not repay.
        self.scan_workers: Optional[int] = None
        self._refresh_worker: Optional[Worker] = None
        self._refresh_again = False
        # Completes, after start-up, the tracks an older songsim scanned (started by the models panel).
        self.backfill = BackfillRunner(self)

    # --- telling the user -------------------------------------------------------------------
    def notify(self, text: str, level: int = logging.INFO) -> None:
        log.log(level, text)
        self.message.emit(text, level)

    def report_error(self, err: BaseException, doing: str = "") -> None:
        """Errors carry their own 'while <action> <path>' text; add context only when they do not."""
        text = str(err) or type(err).__name__
        if doing and not text.startswith("while "):
            text = f"while {doing}: {text}"
        self.notify(text, logging.ERROR)

    # --- the track list, fetched off the GUI thread ---------------------------------------------
    def refresh_tracks(self) -> Worker | None:
        """Fetch svc.tracks() in a worker and merge it into tracks_model; coalesces repeated calls."""
        if self._refresh_worker is not None and not self._refresh_worker.is_done:
            self._refresh_again = True
            return self._refresh_worker
        self._refresh_again = False
        self._refresh_worker = self.pool.run(self.service.tracks, name="tracks",
                                             on_result=self._tracks_arrived,
                                             on_error=lambda e: self.report_error(e, "reading the library"),
                                             on_finished=self._refresh_finished)
        return self._refresh_worker

    def _tracks_arrived(self, tracks) -> None:
        self.tracks_model.update(tracks)
        self.tracksChanged.emit()

    def _refresh_finished(self) -> None:
        if self._refresh_again:
            self.refresh_tracks()
