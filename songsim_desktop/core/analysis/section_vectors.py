"""Section vectors as a scan analyser: one vector per window of the whole track, with its position.

Windows are the model's own input (``crop_frames`` frames, ~5.9 s) sliced from the track's whole
log-mel (``PreparedTrack.full_logmel``, core.full_decode) every ``SECTION_HOP_S``: the spectrum is
computed once per track, never per window.  Why 3 s: a query window is then never more than 1.5 s
from a stored window's start, which keeps a clip's best section within 3 s of the truth, and each
window overlaps its neighbours by half, so no moment of the track is covered by only the edge of a
window; a 1.5 s hop doubled storage and index memory for no measurable gain in clip identification
on the validation split (docs/benchmarks.md, "Issue 10").
"""

from __future__ import annotations

from typing import Optional, Sequence

import numpy as np

from songsim_desktop.core.features import FrontEndConfig

SECTION_HOP_S = 3.0


def hop_frames(cfg: FrontEndConfig, hop_s: float = SECTION_HOP_S) -> int:
    return max(1, int(round(hop_s * cfg.sample_rate / cfg.hop_length)))


def frames_to_seconds(frames, cfg: FrontEndConfig):
    return np.asarray(frames, dtype=np.float64) * cfg.hop_length / cfg.sample_rate


def windows_at(full: np.ndarray, starts: np.ndarray, cfg: FrontEndConfig) -> np.ndarray:
    """Model inputs (n, 1, n_mels, crop_frames) of ``full`` (n_mels, frames) at frame ``starts``; a
    track shorter than one window is tiled to it (as its crops are)."""
    width = cfg.crop_frames
    if full.shape[1] < width:
        full = np.tile(full, (1, int(np.ceil(width / max(1, full.shape[1])))))
    out = np.empty((len(starts), 1, full.shape[0], width), dtype=np.float32)
    for i, start in enumerate(starts):
        out[i, 0] = full[:, int(start): int(start) + width]
    return out


def section_starts(n_frames: int, cfg: FrontEndConfig, hop: Optional[int] = None) -> np.ndarray:
    """Frame starts of the stored windows: every ``hop`` frames, the last one ending at the end."""
    hop = hop or hop_frames(cfg)
    last = max(0, n_frames - cfg.crop_frames)
    starts = np.arange(0, last + 1, hop, dtype=np.int64)
    if last - starts[-1] > hop // 2:  # the tail would be covered by only the edge of a window
        starts = np.append(starts, last)
    return starts


def section_inputs(track, cfg: FrontEndConfig) -> tuple[np.ndarray, np.ndarray]:
    """(model inputs, start seconds) of a prepared track's sections.  Without a whole log-mel (a
    file whose audio past the crops was damaged), its crops are its sections, at their positions."""
    if track.full_logmel is not None:
        starts = section_starts(track.full_logmel.shape[1], cfg)
        return windows_at(track.full_logmel, starts, cfg), frames_to_seconds(starts, cfg)
    from songsim_desktop.core.audio import crop_starts  # the crops' positions, as read_crops placed them

    duration = float(getattr(track.info, "duration_s", 0.0) or 0.0)
    return track.logmel, crop_starts(int(duration * cfg.sample_rate), cfg) / cfg.sample_rate


class SectionVectors:
    """(start seconds, section vectors) of each track under the scan's model."""

    name = "section vectors"
    uses_model = True

    def __init__(self, embedder) -> None:
        self.embedder = embedder
        self.model_id = embedder.info.id
        self.cfg = embedder.info.frontend

    def analyse(self, tracks: Sequence) -> list[tuple[np.ndarray, np.ndarray]]:
        parts = [section_inputs(t, self.cfg) for t in tracks]
        # One onnxruntime run over the batch's windows (it batches internally).
        vectors = np.asarray(self.embedder.embed_inputs(np.concatenate([x for x, _ in parts], axis=0)),
                             dtype=np.float32)
        out, first = [], 0
        for x, starts in parts:
            out.append((np.asarray(starts, dtype=np.float64), vectors[first: first + len(x)]))
            first += len(x)
        return out

    def store(self, library, conn, track_id: int, result) -> None:
        starts, vectors = result
        library.put_sections(conn, track_id, self.model_id, starts, vectors)
