"""Audition of a search: the reference and the selected result, loaded by workers, compared by ear.

The controller owns what the search tab plays and why; the tab only lays out widgets and draws what
the signals below say.  The rules a producer relies on:

- The reference's play position is the *anchor*.  With auto-preview on, each result selected while
  walking the list (Up/Down) starts playing from the anchor, so every result is heard at the same
  place of the reference, not from its own start.
- A/B (``toggle_reference_result``) swaps reference and result at the current position, bar for bar.
- Previews are decoded + turned into a log-mel by a worker (``core.preview.load_preview``); an answer
  for a path no longer wanted (the user moved on) is cached but not shown.  The last few previews are
  cached, so walking back and forth is instant.
"""

from __future__ import annotations

import logging
from typing import Optional

from PySide6.QtCore import QObject, Signal

from songsim_desktop.core.preview import Preview, PreviewCache, load_preview
from songsim_desktop.ui.context import AppContext
from songsim_desktop.ui.workers import Worker

REFERENCE, RESULT = "reference", "result"


class AuditionController(QObject):
    previewLoading = Signal(str, str)  # role, path: a worker is decoding it
    previewShown = Signal(str, object)  # role, Preview: draw it (and it is what plays for that role)
    previewFailed = Signal(str, str)  # role, path: cannot be loaded (the reason went to the status line)
    previewCleared = Signal(str)  # role: nothing to show for it any more (a new search began)
    playheadMoved = Signal(str, float)  # role that is loaded in the player ("" none), seconds

    def __init__(self, ctx: AppContext, parent: Optional[QObject] = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.player = ctx.player
        self.previews: dict[str, Optional[Preview]] = {REFERENCE: None, RESULT: None}
        self.wanted: dict[str, Optional[str]] = {REFERENCE: None, RESULT: None}  # stale answers are dropped
        self.source: Optional[str] = None  # what the player holds: REFERENCE, RESULT or None
        self.anchor_s = 0.0  # the reference's play position: results start from here
        # A section search's selected result: (reference range start, result offset, length) in s.
        # The result then plays from its matching moment, and A/B maps positions between the two.
        self.match: Optional[tuple[float, float, float]] = None
        self.cache = PreviewCache()
        self.auto_preview = ctx.settings.auto_preview
        self.player.set_loop(ctx.settings.loop)
        self.player.set_volume(ctx.settings.volume)
        self.player.positionChanged.connect(self._position_changed)

    # --- what to audition ------------------------------------------------------------------------
    def set_reference(self, path: str) -> Optional[Worker]:
        """A new search: its reference goes into the player (paused); the old result is forgotten."""
        self.previews[RESULT] = self.wanted[RESULT] = self.match = None
        self.previewCleared.emit(RESULT)
        if self.source == RESULT:
            self.player.stop()
            self.source = None  # so the new reference goes into the player when its preview is ready
        self.anchor_s = 0.0
        return self.request_preview(REFERENCE, str(path))

    def show_result(self, path: str, match: Optional[tuple[float, float, float]] = None) -> Optional[Worker]:
        """The selected result: drawn, and with auto-preview played from the anchor (for a section
        match, ``(range start, offset, length)``: from the matching moment)."""
        self.match = match
        return self.request_preview(RESULT, str(path))

    def result_position(self, reference_s: float) -> float:
        """Where in the result the reference's position ``reference_s`` falls (section matches)."""
        if self.match is None:
            return reference_s
        start, offset, length = self.match
        return _across_match(reference_s, start, offset, length)

    def reference_position(self, result_s: float) -> float:
        """The inverse of :meth:`result_position`, for A/B back to the reference."""
        if self.match is None:
            return result_s
        start, offset, length = self.match
        return _across_match(result_s, offset, start, length)

    def request_preview(self, role: str, path: str) -> Optional[Worker]:
        """Show ``path`` for ``role``: at once from the cache, else from a worker (which is returned)."""
        self.wanted[role] = path
        cached = self.cache.get(path)
        if cached is not None:
            self._preview_ready(role, cached)
            return None
        self.previewLoading.emit(role, path)
        return self.ctx.pool.run(load_preview, path, name="preview",
                                 on_result=lambda p, r=role: self._preview_arrived(r, p),
                                 on_error=lambda e, r=role, q=path: self._preview_failed(r, q, e))

    def _preview_arrived(self, role: str, preview: Preview) -> None:
        self.cache.put(preview)
        if self.wanted[role] == preview.path:
            self._preview_ready(role, preview)

    def _preview_failed(self, role: str, path: str, err: BaseException) -> None:
        if self.wanted[role] == path:
            self.previewFailed.emit(role, path)
        self.ctx.report_error(err, f"loading a preview of {path}")

    def _preview_ready(self, role: str, preview: Preview) -> None:
        self.previews[role] = preview
        self.previewShown.emit(role, preview)
        if role == REFERENCE and self.source != RESULT:
            self._load_into_player(REFERENCE, 0.0, play=False)
        elif role == RESULT and self.auto_preview and self.player.available:
            self._load_into_player(RESULT, self.result_position(self.anchor_s), play=True)

    def _load_into_player(self, role: str, start_s: float, play: Optional[bool]) -> None:
        preview = self.previews[role]
        if preview is None:
            return
        self.source = role
        self.player.load(preview.audio, preview.sample_rate, role, start_s=min(start_s, preview.duration_s),
                         play=play)

    # --- transport -------------------------------------------------------------------------------
    def play_pause(self) -> None:
        if not self.player.available:
            self.ctx.notify(self.player.reason, logging.WARNING)
            return
        if not self.player.has_audio:
            self._load_into_player(REFERENCE if self.previews[REFERENCE] else RESULT, 0.0, play=False)
        self.player.toggle()

    def toggle_reference_result(self) -> None:
        """A/B: swap what plays, keeping the position, so the two can be compared bar for bar."""
        other = RESULT if self.source == REFERENCE else REFERENCE
        if self.previews[other] is None:
            return
        position = self.player.position_s
        if self.source == REFERENCE:
            self.anchor_s = position
        mapped = self.result_position(position) if other == RESULT else self.reference_position(position)
        self._load_into_player(other, mapped, play=None)

    def seek_in(self, role: str, seconds: float) -> None:
        """A click on ``role``'s spectrogram: play that one from there (a reference click moves the anchor)."""
        if role == REFERENCE:
            self.anchor_s = seconds
        if self.source == role:
            self.player.seek(seconds)
        else:
            self._load_into_player(role, seconds, play=None)

    def nudge(self, seconds: float) -> None:
        """Seek relative to the current position (Left/Right)."""
        if self.player.has_audio:
            self.player.seek(self.player.position_s + seconds)

    def stop(self) -> None:
        self.player.stop()

    # --- preferences (remembered in the settings) ------------------------------------------------
    def set_auto_preview(self, on: bool) -> None:
        self.auto_preview = bool(on)
        self.ctx.settings.auto_preview = self.auto_preview

    def set_loop(self, on: bool) -> None:
        self.player.set_loop(on)
        self.ctx.settings.loop = bool(on)

    def set_volume(self, volume: float) -> None:
        self.player.set_volume(volume)
        self.ctx.settings.volume = self.player.volume

    def _position_changed(self, seconds: float) -> None:
        if self.source == REFERENCE:
            self.anchor_s = seconds
        self.playheadMoved.emit(self.source or "", seconds)


def _across_match(seconds: float, from_start: float, to_start: float, length: float) -> float:
    """``seconds`` carried from one side of a section match to the other: as far into the matching
    range, or the range's start when it lies outside it."""
    into = seconds - from_start
    return to_start + (into if 0.0 <= into <= length else 0.0)
