"""Scan analysers: what a scan computes per track from its prepared audio, each storing its own result.

A scan decodes each file once (in a worker process: the model's log-mel crops, its tags) and then
runs every analyser of :func:`for_scan` over each committed batch, in the main process.  Each
analyser stores its results through the Library inside the batch's transaction, so a track's row
and everything derived from it land together or not at all.  Re-embedding with another model runs
only the analysers whose results depend on the model (``uses_model``), from the features cache.

A new descriptor (section vectors, aspect descriptors, ...) is a small module here with a class
following :class:`Analyser`, plus one line in ``REGISTERED``.
"""

from __future__ import annotations

from typing import Any, Callable, Protocol, Sequence

from songsim_desktop.core.analysis.section_vectors import SectionVectors
from songsim_desktop.core.analysis.descriptors import MusicalDescriptors
from songsim_desktop.core.analysis.track_vectors import TrackVectors


class Analyser(Protocol):
    #: what it computes, for messages
    name: str
    #: True when its results come from the model: re-run by a re-embed, dropped with the model
    uses_model: bool

    def analyse(self, tracks: Sequence[Any]) -> list[Any]:
        """One result per prepared track (``core.decoding.PreparedTrack``: ``logmel``, ``info``,
        ``tags``), in order; batched so a model runs once per batch."""

    def store(self, library, conn, track_id: int, result: Any) -> None:
        """Write one track's result through Library methods inside the open transaction ``conn``."""


# Every scan runs these, in this order.  Each entry makes an analyser for the scan's embedder.
REGISTERED: list[Callable[[Any], Analyser]] = [
    TrackVectors,
    SectionVectors,
    MusicalDescriptors,
]


def for_scan(embedder) -> list[Analyser]:
    """The analysers a scan with ``embedder``'s model runs."""
    return [make(embedder) for make in REGISTERED]


def for_reembed(embedder) -> list[Analyser]:
    """The analysers whose results a model switch makes stale: a re-embed runs only these."""
    return [a for a in for_scan(embedder) if a.uses_model]


def analyse(analysers: Sequence[Analyser], tracks: Sequence[Any]) -> list[tuple[Analyser, list[Any]]]:
    """Run each analyser over ``tracks``: [(analyser, its results in the order of ``tracks``)]."""
    return [(a, a.analyse(tracks) if tracks else []) for a in analysers]


__all__ = ["Analyser", "MusicalDescriptors", "REGISTERED", "SectionVectors", "TrackVectors", "analyse", "for_reembed",
           "for_scan"]
