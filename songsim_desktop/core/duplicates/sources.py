"""Where the duplicate finder gets each track's vectors with their positions: the ``SectionSource`` seam.

Today every track has ``n_crops`` crop vectors spread evenly over it (``audio.crop_starts``), so
:class:`CropSectionSource` serves those.  When full-length section vectors land (issue 10), a
``SectionSource`` over them replaces it in :data:`SECTION_SOURCES` (first usable one wins) and
nothing else changes: the candidate stage only needs vectors that say "this part of the track
sounds like that part of the other one".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Protocol

import numpy as np

from songsim_desktop.core.audio import crop_starts
from songsim_desktop.core.features import FrontEndConfig


@dataclass(frozen=True)
class Sections:
    """One track's section vectors (n, dim) float32, unit length, and where each starts (seconds)."""

    vectors: np.ndarray
    starts_s: np.ndarray


class SectionSource(Protocol):
    name: str

    def usable(self) -> bool:
        """True when the library holds this kind of vector for the model."""

    def sections(self) -> dict[int, Sections]:
        """Every ok track's sections, by track id."""


class CropSectionSource:
    """The stored crop vectors of the model (8 a track), placed as the scan placed them."""

    name = "crop vectors"

    def __init__(self, library, model_id: str, cfg: FrontEndConfig) -> None:
        self.library, self.model_id, self.cfg = library, model_id, cfg

    def usable(self) -> bool:
        return self.library.vector_count(self.model_id) > 0

    def sections(self) -> dict[int, Sections]:
        durations = self.library.durations()
        out: dict[int, Sections] = {}
        for track_id, crops in self.library.crop_vectors_of(self.model_id).items():
            seconds = durations.get(track_id) or 0.0
            total = int(seconds * self.cfg.sample_rate)
            starts = crop_starts(total, self.cfg)[: len(crops)] / self.cfg.sample_rate
            out[track_id] = Sections(crops, starts.astype(np.float32))
        return out


# Factories (library, model_id, front-end config) -> SectionSource, best first.  Issue 10 puts its
# full-length section source in front of the crops here.
SECTION_SOURCES: list[Callable[..., SectionSource]] = [
    CropSectionSource,
]


def section_source(library, model_id: str, cfg: FrontEndConfig) -> SectionSource:
    """The first usable source (the crop vectors when none is)."""
    sources = [make(library, model_id, cfg) for make in SECTION_SOURCES]
    return next((s for s in sources if s.usable()), sources[-1])
